"""X-Ray's rules for what reaches the daemon, checked on the datagrams a function sent.

The rules, their ids (D1..X8) and levels are those of ``xray-document-rules.md`` (the project's spec, gathered
from X-Ray's Developer Guide "AWS X-Ray segment documents", the PutTraceSegments reference, X-Ray's published
segment-document JSON schema v1.0.0, the daemon's source and the SDKs). ``error``: X-Ray rejects or loses data;
``warn``: renders badly or sits at the edge of what the docs promise.

* ``check_datagram(bytes)``: one UDP datagram (D1, D1w, D2, D3).
* ``check_document(dict)``: one segment document and its embedded subsegments (F1..F17, E1..E3).
* ``check_invocation(documents, root, parent, sampled)``: the documents of one invocation together (X1..X8, F10w,
  and F2 for a function: Lambda sends the function's segment, so everything the function sends is a subsegment).
* ``check_trace(datagrams, header)``: all three, on the raw datagrams of one invocation.

Not checked here: H1..H3 (about the ``X-Amzn-Trace-Id`` headers of outgoing calls, not about datagrams) and M1
(moto's X-Ray model; importing it imports aws_xray_sdk, so tests/local/test_xray_rules.py runs it in a subprocess
and checks that every document moto refuses breaks an error-level rule here).

Hex case: ids (F3), exception ids (F14, F15) and trace ids (F4) accept upper- and lowercase hex digits. The
Developer Guide says "16 hexadecimal digits" / "8 hexadecimal digits" without a case, the schema checks ids by
length only (16) and writes its trace_id pattern as ``[A-Fa-f0-9]``; the SDKs happen to produce lowercase, but
nothing published says X-Ray refuses uppercase. Ids are compared as they are written (X2, X3, X8): X-Ray does not
document folding their case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .xray_document_rules import (
    _HEX16,
    _TRACE_ID,
    EARLIEST_TIME,
    ERROR_RULES,
    HEADER_LINE,
    LATEST_TIME,
    LEVELS,
    MAX_ANNOTATION_CHARS,
    MAX_DATAGRAM_BYTES,
    MAX_DOCUMENT_BYTES,
    MAX_EMBEDDED_DEPTH,
    MAX_HTTP_REQUEST_CHARS,
    MAX_INDEXED_ANNOTATIONS,
    MAX_NAME_CHARS,
    MAX_SEGMENT_NAME_CHARS,
    SEGMENT_FIELDS,
    SUBSEGMENT_FIELDS,
    WARN_RULES,
    Violation,
    _is_number,
    _shown,
    check_datagram,
    check_document,
    document_of,
    errors,
    violation,
)

#: The checker's whole public surface: the document rules (xray_document_rules) and the invocation rules here.
__all__ = [
    "EARLIEST_TIME",
    "ERROR_RULES",
    "HEADER_LINE",
    "LATEST_TIME",
    "LEVELS",
    "MAX_ANNOTATION_CHARS",
    "MAX_DATAGRAM_BYTES",
    "MAX_DOCUMENT_BYTES",
    "MAX_EMBEDDED_DEPTH",
    "MAX_HTTP_REQUEST_CHARS",
    "MAX_INDEXED_ANNOTATIONS",
    "MAX_NAME_CHARS",
    "MAX_SEGMENT_NAME_CHARS",
    "SEGMENT_FIELDS",
    "SUBSEGMENT_FIELDS",
    "WARN_RULES",
    "TraceHeader",
    "Violation",
    "check_datagram",
    "check_document",
    "check_invocation",
    "check_trace",
    "describe",
    "document_of",
    "errors",
    "ids_of",
    "trace_header",
    "violation",
]


# -- the documents of one invocation --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entity:
    """A (sub)segment as found in the documents: its path, content and the id of the document holding it."""

    path: str
    doc: Mapping[str, Any]
    container: str | None

    @property
    def id(self) -> Any:
        return self.doc.get("id")

    @property
    def complete(self) -> bool:
        return self.doc.get("in_progress") is not True

    @property
    def parent(self) -> Any:
        """parent_id, or for an embedded subsegment without one, the subsegment it is embedded in."""
        return self.doc.get("parent_id", self.container)


def _entities(documents: Sequence[Mapping[str, Any]]) -> list[_Entity]:
    """Every (sub)segment, embedded ones in document order, walked with a stack (no depth recurses) down to
    ``MAX_EMBEDDED_DEPTH``, where ``check_document`` stops too (F16)."""
    found: list[_Entity] = []
    pending = [(doc, f"documents[{index}]", None, 0) for index, doc in enumerate(documents) if isinstance(doc, Mapping)]
    pending.reverse()
    while pending:
        doc, path, container, depth = pending.pop()
        found.append(_Entity(path, doc, container))
        children = doc.get("subsegments")
        if isinstance(children, list) and depth < MAX_EMBEDDED_DEPTH:
            below = [
                (child, f"{path}.subsegments[{index}]", doc.get("id"), depth + 1)
                for index, child in enumerate(children)
                if isinstance(child, Mapping)
            ]
            pending += reversed(below)
    return found


def check_invocation(
    documents: Sequence[Mapping[str, Any]],
    root: str,
    parent: str,
    sampled: bool,
    *,
    earlier_ids: Collection[str] = (),
) -> list[Violation]:
    """X1..X8 (and F10w) on every document one invocation sent, given its trace header's Root, Parent and decision.

    ``root`` or ``parent`` empty, or ``sampled`` false: the invocation had no usable, sampled header (X7).
    ``earlier_ids``: ids sent by earlier invocations, none of which may come back (X3 across invocations).
    """
    if not (root and parent and sampled):
        return list(_nothing_sent(documents))
    entities = _entities(documents)
    found = list(_only_subsegments(documents))
    found += _trace_ids(entities, root)
    found += _parents_resolve(entities, parent)
    found += _ids_unique(entities, parent, earlier_ids)
    found += _sent_complete_once(entities)
    found += _nothing_left_in_progress(entities)
    found += _children_within_parents(entities)
    found += _cause_ids_resolve(entities)
    found += _indexed_annotations(entities)
    return found


def _nothing_sent(documents: Sequence[Mapping[str, Any]]) -> Iterator[Violation]:
    """X7: an unsampled invocation, or one without a usable header, sends no document at all."""
    for index, doc in enumerate(documents):
        name = doc.get("name") if isinstance(doc, Mapping) else None
        yield violation("X7", f"documents[{index}]", f"{_shown(name)} sent without a sampled trace header")


def _only_subsegments(documents: Sequence[Mapping[str, Any]]) -> Iterator[Violation]:
    """F2 in Lambda: the function's segment is Lambda's own, so everything a function sends is a subsegment."""
    for index, doc in enumerate(documents):
        if isinstance(doc, Mapping) and "type" not in doc:
            yield violation("F2", f"documents[{index}]", "a segment (no type 'subsegment') sent from a function")


def _trace_ids(entities: Sequence[_Entity], root: str) -> Iterator[Violation]:
    """X1: every document is in the invocation's trace (embedded subsegments too, when they name one)."""
    for entity in entities:
        if (entity.container is None or "trace_id" in entity.doc) and entity.doc.get("trace_id") != root:
            yield violation("X1", entity.path, f"trace_id {_shown(entity.doc.get('trace_id'))} is not Root={root}")


def _parents_resolve(entities: Sequence[_Entity], parent: str) -> Iterator[Violation]:
    """X2: parent_id is the Lambda Parent= or the id of another (sub)segment sent in this trace."""
    ids = [entity.id for entity in entities]
    for entity in entities:
        if "parent_id" not in entity.doc:
            continue  # F2 says whether it needed one
        wanted = entity.doc["parent_id"]
        others = ids.count(wanted) - (1 if entity.id == wanted else 0)
        if wanted != parent and others == 0:
            yield violation("X2", f"{entity.path}.parent_id", f"{_shown(wanted)} is neither Parent= nor a sent id")


def _ids_unique(entities: Sequence[_Entity], parent: str, earlier_ids: Collection[str]) -> Iterator[Violation]:
    """X3: one id, one subsegment: not Lambda's segment (Parent=), not an earlier invocation's, not two different
    subsegments here (different name, start_time or parent: not an in-progress and a complete copy of one)."""
    by_id: dict[Any, list[_Entity]] = {}
    for entity in entities:
        if isinstance(entity.id, str):
            by_id.setdefault(entity.id, []).append(entity)
    for ident, same in by_id.items():
        first = same[0]
        if ident == parent:
            yield violation("X3", first.path, f"id {ident} is the Lambda segment's (Parent=)")
        if ident in earlier_ids:
            yield violation("X3", first.path, f"id {ident} was sent by an earlier invocation")
        shapes = {(_shown(e.doc.get("name")), _shown(e.doc.get("start_time")), _shown(e.parent)) for e in same}
        if len(shapes) > 1:
            paths = ", ".join(entity.path for entity in same)
            yield violation("X3", first.path, f"id {ident} names {len(shapes)} different subsegments: {paths}")


def _sent_complete_once(entities: Sequence[_Entity]) -> Iterator[Violation]:
    """X4: at most one complete and one in-progress document per subsegment."""
    counts: dict[tuple[Any, bool], list[str]] = {}
    for entity in entities:
        if isinstance(entity.id, str):
            counts.setdefault((entity.id, entity.complete), []).append(entity.path)
    for (ident, complete), paths in counts.items():
        if len(paths) > 1:
            state = "complete" if complete else "in progress"
            yield violation("X4", paths[1], f"id {ident} sent {state} {len(paths)} times: {', '.join(paths)}")


def _nothing_left_in_progress(entities: Sequence[_Entity]) -> Iterator[Violation]:
    """X5: every subsegment sent in progress was also sent complete before the invocation returned."""
    completed = {entity.id for entity in entities if entity.complete}
    for entity in entities:
        if not entity.complete and entity.id not in completed:
            name = _shown(entity.doc.get("name"))
            yield violation("X5", entity.path, f"{name} ({_shown(entity.id)}) left in progress")


def _children_within_parents(entities: Sequence[_Entity]) -> Iterator[Violation]:
    """X6: a child starts and ends within its parent's [start_time, end_time]."""
    complete = {entity.id: entity.doc for entity in entities if entity.complete and isinstance(entity.id, str)}
    for entity in entities:
        parent = complete.get(entity.parent) if isinstance(entity.parent, str) else None
        if parent is None or not entity.complete:
            continue
        start, end = entity.doc.get("start_time"), entity.doc.get("end_time")
        low, high = parent.get("start_time"), parent.get("end_time")
        if not (_is_number(start) and _is_number(end) and _is_number(low) and _is_number(high)):
            continue
        if start < low or end > high:
            yield violation("X6", entity.path, f"[{start}, {end}] is outside its parent's [{low}, {high}]")


def _cause_ids_resolve(entities: Sequence[_Entity]) -> Iterator[Violation]:
    """X8: a cause given as an exception id names an exception recorded in this trace."""
    recorded = {
        exception.get("id")
        for entity in entities
        if isinstance(entity.doc.get("cause"), Mapping)
        for exception in entity.doc["cause"].get("exceptions") or ()
        if isinstance(exception, Mapping)
    }
    for entity in entities:
        cause = entity.doc.get("cause")
        if isinstance(cause, str) and cause not in recorded:
            yield violation("X8", f"{entity.path}.cause", f"exception {_shown(cause)} is not recorded in the trace")


def _indexed_annotations(entities: Sequence[_Entity]) -> Iterator[Violation]:
    """F10w: X-Ray indexes at most 50 annotations per trace (each subsegment counted once)."""
    keys = {
        (entity.id, key)
        for entity in entities
        if isinstance(entity.doc.get("annotations"), Mapping)
        for key in entity.doc["annotations"]
    }
    if len(keys) > MAX_INDEXED_ANNOTATIONS:
        yield violation("F10w", "documents", f"{len(keys)} annotations > {MAX_INDEXED_ANNOTATIONS} indexed per trace")


# -- the raw datagrams of one invocation ------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceHeader:
    """What the checks need of a ``Lambda-Runtime-Trace-Id``: "" for a Root or Parent that is not usable."""

    root: str
    parent: str
    sampled: bool


def trace_header(header: str | None) -> TraceHeader:
    """Root, Parent and Sampled=1 of a trace header (fields trimmed; a malformed id counts as absent)."""
    fields: dict[str, str] = {}
    for part in (header or "").split(";"):
        key, _, value = part.partition("=")
        fields.setdefault(key.strip(), value.strip())
    root, parent = fields.get("Root", ""), fields.get("Parent", "")
    return TraceHeader(
        root=root if _TRACE_ID.fullmatch(root) else "",
        parent=parent if _HEX16.fullmatch(parent) else "",
        sampled=fields.get("Sampled") == "1",
    )


def _under(prefix: str, found: Violation) -> Violation:
    return replace(found, path=prefix + found.path.removeprefix("$"))


def check_trace(
    datagrams: Sequence[bytes], header: str | None, *, earlier_ids: Collection[str] = (), invocation: bool = True
) -> tuple[list[Violation], list[dict[str, Any]]]:
    """Every rule on the datagrams one invocation sent, given the trace header it was invoked with (None: none).

    Returns the violations and the documents read from the datagrams (for a report). Datagram violations are
    under ``datagrams[i]``, document ones under ``documents[j]`` (the j-th datagram that held a document).
    ``invocation=False``: the header is not known (e.g. the runtime died first), only datagrams and documents.
    """
    found: list[Violation] = []
    documents: list[dict[str, Any]] = []
    for index, data in enumerate(datagrams):
        found += [_under(f"datagrams[{index}]", item) for item in check_datagram(data)]
        document = document_of(data)
        if document is not None:
            found += [_under(f"documents[{len(documents)}]", item) for item in check_document(document)]
            documents.append(document)
    if invocation:
        fields = trace_header(header)
        found += check_invocation(documents, fields.root, fields.parent, fields.sampled, earlier_ids=earlier_ids)
    return found, documents


def ids_of(documents: Sequence[Mapping[str, Any]]) -> set[str]:
    """Every (sub)segment id in ``documents``, embedded ones included."""
    return {entity.id for entity in _entities(documents) if isinstance(entity.id, str)}


def describe(violations: Sequence[Violation], documents: Sequence[Mapping[str, Any]], width: int = 400) -> str:
    """The violations, one a line, then each document they name, shortened to ``width`` characters."""
    lines = [str(found) for found in violations]
    named = sorted({int(m.group(1)) for found in violations if (m := re.match(r"documents\[(\d+)\]", found.path))})
    for index in named:
        try:
            text = json.dumps(documents[index], default=str, separators=(",", ":"))
        except RecursionError:  # a document built deeper than JSON nests (MAX_EMBEDDED_DEPTH)
            text = "(nested too deep to show)"
        lines.append(f"documents[{index}] = {text if len(text) <= width else text[: width - 3] + '...'}")
    return "\n".join(lines)
