"""X-Ray segment documents: exceptions as X-Ray records them, and documents X-Ray accepts for any input.

Our own spans hold values capture.py already checked. Documents written by anyone else (the SDK's
library patches, the escape hatch) can hold anything: ``check_foreign`` redacts them and applies X-Ray's
rules before they leave. ``encode`` makes the final bytes: strict JSON (no NaN or Infinity), compact,
and under 64,000 bytes (metadata dropped first, then exception detail), so a document is never lost.
"""

from __future__ import annotations

import json
import math
import os
import traceback

from .. import capture, coldstart, config, redaction
from ..capture_json import MAX_ITEMS

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

# -- X-Ray's limits and rules, written once: the encoder here, span.py, and instrumentation/ read them from here
# (capture.py holds those of values: names, annotations, messages).

#: X-Ray documents "up to 64 kB": the body of each datagram stays under this.
MAX_DOCUMENT_BYTES = 64_000
#: X-Ray's limit on names and metadata keys; the longest URL looked into before masking.
MAX_NAME_CHARS = capture.MAX_NAME_CHARS
MAX_URL_CHARS = 2048
#: Stack frames recorded per exception, innermost first (the SDK's default).
MAX_STACK_FRAMES = 10
#: Metadata namespaces starting with this are X-Ray's own: X-Ray rejects a document that writes one.
RESERVED_NAMESPACE = "AWS."
#: Frames in files under this directory are the tracer's own, left out of recorded stacks.
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=str)
#: ``json_string(text)``: a str as the encoder writes one (quoted, escaped, ASCII).
json_string = json.encoder.encode_basestring_ascii


def _c_encoder() -> Any:
    """The C encoder ``_ENCODER.encode`` builds on every call (json.encoder.iterencode), built once: the same
    bytes for ~10,000 instructions less per document. None where the C accelerator is missing."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    return make({}, str, json_string, None, ":", ",", False, False, False)


_fast = _c_encoder()


#: Span ids drawn ahead, in the order ``pop`` gives them (one ``os.urandom`` call for 64 spans rather than one each):
#: forgotten in a forked child and after a SnapStart restore, so that no two processes or sandboxes share one.
ids: list[str] = []
coldstart.on_restore(ids.clear)
os.register_at_fork(after_in_child=ids.clear)


def more_ids() -> str:
    """A new span id, and 63 more in ``ids`` for the next spans (``XRaySpan``: ``ids.pop()``, this when empty)."""
    hexes = os.urandom(512).hex()
    ids[:] = [hexes[at : at + 16] for at in range(1008, 0, -16)]
    return hexes[:16]


def dumps(value: Any) -> str:
    """``value`` as strict compact JSON text: exactly ``_dumps(value)``, through the prebuilt encoder.

    Anything the prebuilt encoder raises on (NaN or Infinity, a cycle, a failing ``str``) goes the whole way
    again through ``_dumps``, which gives what it always gave; the encoder is then built anew, because one that
    stopped half-way keeps the containers it was inside as markers (a later document holding one would be
    taken for a cycle).
    """
    global _fast
    if _fast is not None:
        try:
            return "".join(_fast(value, 0))
        except Exception:
            _fast = _c_encoder()
    return _dumps(value)


def exception_entry(error: BaseException, exception_id: str) -> dict[str, Any]:
    """One entry of ``cause.exceptions``: type, masked message, and where it was raised (our frames left out)."""
    # walk_tb, not extract_tb: no source line is read (extract_tb reads every frame's file through linecache).
    frames = [
        {"path": os.path.basename(code.co_filename), "line": line or 0, "label": code.co_name}
        for code, line in ((frame.f_code, line) for frame, line in traceback.walk_tb(error.__traceback__))
        if not code.co_filename.startswith(PACKAGE_DIR)
    ]
    message = redaction.exception_message(error, redaction.current())
    return {
        "id": exception_id,
        "message": message,
        "type": type(error).__name__,
        "remote": False,
        "stack": frames[-MAX_STACK_FRAMES:],
    }


def encode(document: dict[str, Any]) -> bytes:
    """The document as X-Ray accepts it: strict compact JSON, at most MAX_DOCUMENT_BYTES."""
    body = dumps(document).encode()
    if len(body) > MAX_DOCUMENT_BYTES:
        body = shrink(document, len(body)).encode()
    return body


def _dumps(document: dict[str, Any]) -> str:
    """Strict JSON: a NaN or Infinity that got in becomes null (X-Ray rejects the tokens)."""
    try:
        return _ENCODER.encode(document)
    except ValueError:
        return _ENCODER.encode(_finite(document))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def shrink(document: dict[str, Any], original: int) -> str:
    """Drop metadata, then exception detail, then the other optional parts until the document fits,
    saying what was dropped; the subsegment itself is always sent."""
    if "metadata" in document:
        document["metadata"] = {
            "lambda_tracer": {"truncated": True, "reason": "document too large", "original_bytes": original}
        }
    text = _dumps(document)
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        cause = document.get("cause")
        for exception in (cause.get("exceptions") or []) if isinstance(cause, dict) else []:
            exception["stack"] = exception.get("stack", [])[:5]
            exception["message"] = str(exception.get("message", ""))[:1000]
        text = _dumps(document)
    for optional in ("cause", "annotations", "subsegments", "http", "sql", "aws"):
        if len(text.encode()) <= MAX_DOCUMENT_BYTES:
            break
        document.pop(optional, None)
        text = _dumps(document)
    return text


def check_foreign(document: dict[str, Any], policy: redaction.Policy, max_bytes: int) -> None:
    """Redact a document someone else wrote and hold it to X-Ray's rules, in place (embedded ones too)."""
    name = document.get("name")
    if isinstance(name, str):
        document["name"] = capture.masked_name(name, policy)
    metadata = document.get("metadata")
    if isinstance(metadata, dict):
        document["metadata"] = {
            policy.mask_cut(str(namespace), MAX_NAME_CHARS): _metadata_namespace(
                str(namespace), values, policy, max_bytes
            )
            for namespace, values in metadata.items()
            if isinstance(values, dict) and not str(namespace).startswith(RESERVED_NAMESPACE)
        }
    annotations = document.get("annotations")
    if isinstance(annotations, dict):
        checked = {key: capture.annotation_value(key, value, policy) for key, value in annotations.items()}
        document["annotations"] = {key: value for key, value in checked.items() if value is not capture.DROPPED}
    http = document.get("http")
    if isinstance(http, dict):
        _mask_fields(http.get("request"), ("url",), policy)
        response = http.get("response")
        if isinstance(response, dict):  # X-Ray takes numbers only here
            for key in [key for key, value in response.items() if not _is_finite_number(value)]:
                del response[key]
    _mask_fields(document.get("sql"), ("url", "connection_string", "sanitized_query", "user"), policy)  # as db.user
    aws = document.get("aws")
    if isinstance(aws, dict):  # X-Ray wants strings where the SDK may leave a None (no request id)
        converted = capture.to_metadata(
            {key: value for key, value in aws.items() if value is not None}, policy, max_bytes
        )
        document["aws"] = converted if isinstance(converted, dict) else {}
    mask_messages(document.get("cause"), policy)
    for child in document.get("subsegments") or ():
        if isinstance(child, dict):
            check_foreign(child, policy, max_bytes)


def merge_foreign(document: dict[str, Any], written: dict[str, Any]) -> None:
    """Add what the escape hatch wrote on one of our spans (``written``: its SDK view's document) to ours."""
    check_foreign(written, redaction.current(), config.max_capture_bytes())
    for key, value in (written.get("annotations") or {}).items():
        document.setdefault("annotations", {})[key] = value
    for namespace, values in (written.get("metadata") or {}).items():
        document.setdefault("metadata", {}).setdefault(namespace, {}).update(values)
    for key in ("http", "aws", "sql"):
        if written.get(key):
            document[key] = written[key]
    for flag in ("error", "fault", "throttle"):
        if written.get(flag) is True:
            document[flag] = True
    cause = written.get("cause")
    if isinstance(cause, dict) and cause.get("exceptions"):
        ours = document.get("cause")
        if isinstance(ours, dict):
            ours.setdefault("exceptions", []).extend(cause["exceptions"])
        else:
            document["cause"] = cause


def _metadata_namespace(namespace: str, values: dict[Any, Any], policy: redaction.Policy, max_bytes: int) -> Any:
    if policy.verdict(namespace) != redaction.PLAIN:  # each value judged under the namespace, unless its key is secret
        values = {
            key: capture.to_metadata(item, policy, max_bytes, key=str(key), namespace=namespace)
            for key, item in list(values.items())[: MAX_ITEMS + 1]  # the converter says what it left out
        }
    converted = capture.to_metadata(values, policy, max_bytes)
    if isinstance(converted, dict):
        return {str(key)[:MAX_NAME_CHARS]: item for key, item in converted.items()}
    return converted


def _mask_fields(section: Any, fields: tuple[str, ...], policy: redaction.Policy) -> None:
    if isinstance(section, dict):
        for key in fields:
            if isinstance(section.get(key), str):
                section[key] = policy.mask_cut(section[key], MAX_URL_CHARS)


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def mask_messages(cause: Any, policy: redaction.Policy) -> None:
    """Exception messages in a document's cause: without command lines, refused header values and a failed
    statement's bind values or row, masked, then cut."""
    if not isinstance(cause, dict):
        return
    for exception in cause.get("exceptions") or ():
        if isinstance(exception, dict) and isinstance(exception.get("message"), str):
            exception["message"] = redaction.recorded_message(
                str(exception.get("type", "")), exception["message"], policy
            )


def seconds(us: int) -> str:
    """``repr(us / 1_000_000)``, what the encoder writes for a time, for a tenth of the cost (a float's shortest repr
    is slow to find). Below 2**33 seconds (the year 2242) a float holds every microsecond with room to spare, so
    the shortest decimal that reads back as ``us / 1_000_000`` is its six decimals, trailing zeros cut; repr writes
    an exponent below 0.0001 (times under a second are left to it)."""
    if not 1_000_000 <= us < 8_589_934_592_000_000:
        return repr(us / 1_000_000)
    digits = str(us)
    return f"{digits[:-6]}.{digits[-6:].rstrip('0') or '0'}"


def times(start_us: int, end_us: int) -> str:
    """``"start_time":<seconds(start_us)>,"end_time":<seconds(end_us)>``, both written in one call."""
    if 1_000_000 <= start_us <= end_us < 8_589_934_592_000_000:
        start, end = str(start_us), str(end_us)
        return (
            f'"start_time":{start[:-6]}.{start[-6:].rstrip("0") or "0"},'
            f'"end_time":{end[:-6]}.{end[-6:].rstrip("0") or "0"}'
        )
    return f'"start_time":{seconds(start_us)},"end_time":{seconds(end_us)}'


def embedded(node: tuple[bytes, list[Any]]) -> bytes:
    """A past span's document with its children's inside it (``subsegments``); each child keeps the fields of an
    independent subsegment (X-Ray takes them embedded too), so the same bytes can be sent one by one. The pieces
    are joined once, at the top (joining at every level copied each document once per level above it)."""
    document, children = node
    if not children:
        return document
    parts: list[bytes] = []
    _embed(document, children, parts)
    return b"".join(parts)


def _embed(document: bytes, children: list[Any], parts: list[bytes]) -> None:
    """``document`` with ``children`` embedded, as pieces appended to ``parts``."""
    parts += (document[:-1], b',"subsegments":[')
    for child, below in children:
        if below:
            _embed(child, below, parts)
        else:
            parts.append(child)
        parts.append(b",")
    parts[-1] = b"]}"  # the last child's comma


def each_document(node: tuple[bytes, list[Any]]) -> list[bytes]:
    """Every document of a past span's tree, each on its own."""
    found, pending = [], [node]
    while pending:
        document, children = pending.pop()
        found.append(document)
        pending.extend(children)
    return found


def blocks(span: Any, document: dict[str, Any]) -> dict[str, Any]:
    """A span's X-Ray blocks that follow the metadata (``http``, ``aws``, ``sql``, the flags, ``cause``), added to
    ``document`` in the order X-Ray's documents give them."""
    if span.http:
        document["http"] = span.http
    if span.aws:
        document["aws"] = span.aws
    if span.sql:
        document["sql"] = span.sql
    if span.error:
        document["error"] = True
    if span.fault:
        document["fault"] = True
    if span.throttle:
        document["throttle"] = True
    if span.cause is not None:
        document["cause"] = span.cause
    return document
