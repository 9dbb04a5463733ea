"""The OTLP counterpart of xray_rules.py: what an ``otlp`` exporter's datagrams must hold to reach X-Ray whole.

Rules (``error`` unless said):

* O1: a datagram is the header line, ``T1S`` or ``T1U``, then base64 of an ``ExportTraceServiceRequest`` that
  decodes (strings in UTF-8).
* O2: a datagram fits UDP (65,507 bytes); O2w (warn): it stays under 64,000 bytes, the limit kept for documents.
* O3: ids: a 16-byte trace id and an 8-byte span id, neither all zero; a parent span id empty or 8 bytes.
* O4: a span name is set; start and end are epoch nanoseconds, end not before start.
* O5: a known kind (1..5) and status code (0..2); attribute keys set and not repeated in one span.
* O6: ``aws.xray.annotations`` lists strings naming attributes with a string, bool, int or double value;
  ``aws.xray.metadata.<namespace>`` values are JSON objects (the translator drops anything else to "default").
* O7: what X-Ray makes of each span (otlp.span_document) keeps xray_rules' error-level document rules.
* Invocation (given its trace header): every span in the header's trace (O8); each parent span id is the
  header's Parent or a span of this trace (O9); no span id twice, nor one an earlier invocation sent, nor
  Parent's (O10); ``T1S`` only with a sampled header and ``T1U`` only with an unsampled one, and nothing at all
  without a usable header or, unless ``unsampled`` is allowed, for an unsampled one (O11); the sampled flag of
  each span matches its datagram's marker (O12).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import replace
from typing import Any

from . import otlp, xray_rules
from .xray_rules import Violation

MAX_DATAGRAM_BYTES = xray_rules.MAX_DATAGRAM_BYTES
MAX_KEPT_DATAGRAM_BYTES = 64_000
EARLIEST_NANOS = int(xray_rules.EARLIEST_TIME * 1e9)
LATEST_NANOS = int(xray_rules.LATEST_TIME * 1e9)
LEVELS = {f"O{n}": "error" for n in range(1, 13)} | {"O2w": "warn"}
_SCALARS = (str, bool, int, float)


def violation(rule: str, path: str, message: str) -> Violation:
    return Violation(rule, LEVELS[rule], path, message)


def check_datagram(data: bytes) -> tuple[list[Violation], bool | None, list[dict[str, Any]]]:
    """O1..O7 on one datagram: (violations, sampled marker or None, its spans decoded)."""
    found: list[Violation] = []
    if len(data) > MAX_DATAGRAM_BYTES:
        found.append(violation("O2", "$", f"datagram of {len(data)} bytes > {MAX_DATAGRAM_BYTES}"))
    elif len(data) > MAX_KEPT_DATAGRAM_BYTES:
        found.append(violation("O2w", "$", f"datagram of {len(data)} bytes > {MAX_KEPT_DATAGRAM_BYTES}"))
    try:
        sampled, request = otlp.decode_datagram(data)
    except ValueError as error:
        found.append(violation("O1", "$", str(error)))
        return found, None, []
    spans = [span for _, span in otlp.spans_of(request)]
    for index, span in enumerate(spans):
        found += check_span(span, f"$.spans[{index}]", sampled)
    return found, sampled, spans


def check_span(span: dict[str, Any], path: str, sampled: bool = True) -> list[Violation]:
    found = list(_ids(span, path))
    found += _times(span, path)
    found += _kind_status_keys(span, path)
    found += _xray_attributes(span, path)
    document = otlp.span_document(span, sampled)
    document.pop("otlp")
    found += [
        violation("O7", path + item.path.removeprefix("$"), f"as X-Ray: {item}")
        for item in xray_rules.errors(xray_rules.check_document(document))
    ]
    return found


def _ids(span: dict[str, Any], path: str) -> Iterator[Violation]:
    trace_id, span_id, parent = span["trace_id"], span["span_id"], span["parent_span_id"]
    if len(trace_id) != 16 or not any(trace_id):
        yield violation("O3", f"{path}.trace_id", f"{trace_id.hex()!r} is not a 16-byte non-zero trace id")
    if len(span_id) != 8 or not any(span_id):
        yield violation("O3", f"{path}.span_id", f"{span_id.hex()!r} is not an 8-byte non-zero span id")
    if parent and (len(parent) != 8 or not any(parent)):
        yield violation("O3", f"{path}.parent_span_id", f"{parent.hex()!r} is not an 8-byte non-zero span id")


def _times(span: dict[str, Any], path: str) -> Iterator[Violation]:
    if not span["name"]:
        yield violation("O4", f"{path}.name", "no name")
    start, end = span["start_time_unix_nano"], span["end_time_unix_nano"]
    if not EARLIEST_NANOS <= start < LATEST_NANOS:
        yield violation("O4", f"{path}.start_time_unix_nano", f"{start} is not epoch nanoseconds")
    if end < start:
        yield violation("O4", f"{path}.end_time_unix_nano", f"{end} is before the start, {start}")


def _kind_status_keys(span: dict[str, Any], path: str) -> Iterator[Violation]:
    if span["kind"] not in range(1, 6):
        yield violation("O5", f"{path}.kind", f"kind {span['kind']} is not one of 1..5")
    if span["status"]["code"] not in range(3):
        yield violation("O5", f"{path}.status", f"status code {span['status']['code']} is not one of 0..2")
    seen: set[str] = set()
    for key, _ in span["attributes"]:
        if not key or key in seen:
            yield violation("O5", f"{path}.attributes", f"attribute key {key!r} empty or repeated")
        seen.add(key)


def _xray_attributes(span: dict[str, Any], path: str) -> Iterator[Violation]:
    attributes = dict(span["attributes"])
    listed = attributes.get(otlp.ANNOTATIONS)
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(key, str) for key in listed):
            yield violation("O6", f"{path}.{otlp.ANNOTATIONS}", "not a list of strings")
        else:
            for key in listed:
                if not isinstance(attributes.get(key), _SCALARS):
                    yield violation("O6", f"{path}.{otlp.ANNOTATIONS}", f"{key!r} names no scalar attribute")
    for key, value in attributes.items():
        if key.startswith(otlp.METADATA_PREFIX):
            try:
                parsed = json.loads(value) if isinstance(value, str) else None
            except ValueError:
                parsed = None
            except RecursionError:
                yield violation("O6", f"{path}.{key}", "metadata nested deeper than JSON readers go")
                continue
            if not isinstance(parsed, dict):
                yield violation("O6", f"{path}.{key}", "metadata is not a JSON object")


def check_trace(
    datagrams: Sequence[bytes],
    header: str | None,
    *,
    earlier_ids: Collection[str] = (),
    invocation: bool = True,
    unsampled: bool = True,
) -> tuple[list[Violation], list[dict[str, Any]]]:
    """Every rule on one invocation's OTLP datagrams, for the trace header it was invoked with (None: none).

    Returns the violations and the spans as X-Ray documents (otlp.span_document), for a report.
    ``unsampled``: whether ``T1U`` datagrams are allowed for an unsampled header (LAMBDA_TRACER_OTLP_UNSAMPLED).
    """
    found: list[Violation] = []
    documents: list[dict[str, Any]] = []
    markers: list[bool | None] = []
    spans: list[tuple[str, dict[str, Any], bool | None]] = []
    for index, data in enumerate(datagrams):
        violations, sampled, decoded = check_datagram(data)
        found += [replace(item, path=f"datagrams[{index}]" + item.path.removeprefix("$")) for item in violations]
        markers.append(sampled)
        for number, span in enumerate(decoded):
            spans.append((f"datagrams[{index}].spans[{number}]", span, sampled))
            documents.append(otlp.span_document(span, bool(sampled)))
    if invocation:
        found += list(_invocation(spans, markers, header, earlier_ids, unsampled))
    return found, documents


def _invocation(
    spans: list[tuple[str, dict[str, Any], bool | None]],
    markers: list[bool | None],
    header: str | None,
    earlier_ids: Collection[str],
    unsampled: bool,
) -> Iterator[Violation]:
    fields = _header_fields(header)
    root, parent, sampled = fields.get("Root", ""), fields.get("Parent", ""), fields.get("Sampled")
    usable = bool(xray_rules.trace_header(header).root and xray_rules.trace_header(header).parent)
    for index, marker in enumerate(markers):
        if marker is None:
            continue
        if not usable:
            yield violation("O11", f"datagrams[{index}]", "spans sent without a usable trace header")
        elif marker and sampled != "1":
            yield violation("O11", f"datagrams[{index}]", f"T1S for a header with Sampled={sampled}")
        elif not marker and (sampled == "1" or not unsampled):
            yield violation("O11", f"datagrams[{index}]", f"T1U for a header with Sampled={sampled}")
    if not usable:
        return
    ids = [span["span_id"].hex() for _, span, _ in spans]
    wanted_trace = root[2:].replace("-", "").lower()
    counted: dict[str, int] = {}
    for ident in ids:
        counted[ident] = counted.get(ident, 0) + 1
    for path, span, marker in spans:
        if span["trace_id"].hex() != wanted_trace:
            yield violation("O8", f"{path}.trace_id", f"{span['trace_id'].hex()} is not Root={root}")
        own = span["span_id"].hex()
        link = span["parent_span_id"].hex()
        if link != parent.lower() and link not in ids:
            yield violation("O9", f"{path}.parent_span_id", f"{link!r} is neither Parent= nor a span sent")
        if counted[own] > 1:
            yield violation("O10", f"{path}.span_id", f"span id {own} sent {counted[own]} times")
        if own in earlier_ids or own == parent.lower():
            yield violation("O10", f"{path}.span_id", f"span id {own} is Parent= or an earlier invocation's")
        if marker is not None and bool(span["flags"] & 1) != marker:
            yield violation(
                "O12", f"{path}.flags", f"sampled flag {span['flags'] & 1} under a T1{'S' if marker else 'U'}"
            )


def _header_fields(header: str | None) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in (header or "").split(";"):
        key, _, value = part.partition("=")
        fields.setdefault(key.strip(), value.strip())
    return fields


def ids_of(documents: Sequence[dict[str, Any]]) -> set[str]:
    return {str(document["id"]) for document in documents}


def describe(violations: Sequence[Violation], documents: Sequence[dict[str, Any]], width: int = 400) -> str:
    lines = [str(found) for found in violations]
    for index, document in enumerate(documents[:20]):
        text = json.dumps(document, default=str, separators=(",", ":"))
        lines.append(f"spans[{index}] = {text if len(text) <= width else text[: width - 3] + '...'}")
    return "\n".join(lines)
