"""Any span as OTLP: X-Ray documents others wrote (an SDK subsegment, a span the escape hatch wrote on), spans too
big for a datagram (shrunk as X-Ray mode shrinks them), and our spans of the rarer shapes (an exception, SQL, an
OpenTelemetry API span's own kind).

otlp_spans.py writes the common shapes itself; this module is imported the first time one of these comes, so that a cold
start without one does not load it.
"""

from __future__ import annotations

import sys

from .. import backends as _seam
from . import otlp_calls, otlp_spans, xray, xray_documents
from . import otlp_spans as proto

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any


def spans(document: dict[str, Any], trace: xray.Trace, room: int) -> list[bytes]:
    """One finished span as its X-Ray document (an SDK subsegment, a span the escape hatch wrote on), recorded in
    ``trace``, as ``Span`` messages of at most ``room`` bytes: subsegments held inline become spans of their own."""
    return [encode(item, trace, room) for item in _flattened(document)]


def from_span(span: xray.XRaySpan, trace: xray.Trace, end_us: int) -> bytes:
    """One of our spans of any shape (an exception, SQL, an OpenTelemetry API span's own kind) as a ``Span``
    message: otlp_spans._own writes the common ones."""
    return _build(
        trace,
        span.id,
        span.parent_id,
        span.name,
        span.namespace,
        span.start_us * 1000,
        end_us * 1000,
        span.annotations,
        span.metadata,
        span.aws,
        span.http,
        span.sql,
        span.fault or span.error,
        span.cause,
        kind=getattr(span, "otlp_kind", 0),
        otel_api=getattr(span, "otel_api", False),
        otel_events=span.__dict__.get("otel_events"),
    )


def _flattened(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document and the subsegments it holds inline (the SDK's shape), each with its parent's id and trace,
    children first: a span for each, as X-Ray would show them."""
    children = document.get("subsegments")
    if not isinstance(children, list):
        return [document]
    found: list[dict[str, Any]] = []
    for child in children:
        if isinstance(child, dict) and isinstance(child.get("id"), str):
            child = dict(child)
            child.setdefault("parent_id", document.get("id"))
            child.setdefault("trace_id", document.get("trace_id"))
            found += _flattened(child)
    return [*found, {key: value for key, value in document.items() if key != "subsegments"}]


def encode(document: dict[str, Any], trace: xray.Trace, room: int, span: xray.XRaySpan | None = None) -> bytes:
    """The document as an OTLP ``Span`` of at most ``room`` bytes (shrunk as X-Ray mode shrinks). ``span``: ours,
    whose document it is: an OpenTelemetry API span keeps its kind, own attributes and events (``from_span``)."""
    api = (
        (getattr(span, "otlp_kind", 0), span.__dict__.get("otel_events")) if getattr(span, "otel_api", False) else None
    )
    encoded = _span(document, trace, api)
    if len(encoded) > room:
        encoded = _shrunk(document, trace, len(encoded), room, api)
    return encoded


def _shrunk(document: dict[str, Any], trace: xray.Trace, original: int, room: int, api: Any = None) -> bytes:
    """Metadata dropped first (saying so), then an API span's events, then exception detail, then the other
    optional parts (an API span's kind is kept)."""
    document = dict(document)
    if "metadata" in document or (api is not None and api[1]):
        document["metadata"] = {
            "lambda_tracer": {"truncated": True, "reason": "span too large", "original_bytes": original}
        }
    encoded = _span(document, trace, api)
    if len(encoded) > room and api is not None:
        api = (api[0], None)
        encoded = _span(document, trace, api)
    cause = document.get("cause")
    if len(encoded) > room and isinstance(cause, dict):
        exceptions = [
            dict(item, stack=list(item.get("stack") or [])[:5], message=str(item.get("message", ""))[:1000])
            for item in cause.get("exceptions") or ()
            if isinstance(item, dict)
        ]
        document["cause"] = dict(cause, exceptions=exceptions)
        encoded = _span(document, trace, api)
    for optional in ("cause", "annotations", "http", "sql", "aws", "metadata"):
        if len(encoded) <= room:
            break
        document.pop(optional, None)
        encoded = _span(document, trace, api)
    return encoded


def _span(document: dict[str, Any], trace: xray.Trace, api: Any = None) -> bytes:
    """A document as an OTLP span (the general path: documents others wrote, or ours when large). ``api``: an
    OpenTelemetry API span's (kind, events), its ``default`` metadata being its own attributes."""
    end = document.get("end_time") or document["start_time"]
    aws, http, sql = document.get("aws"), document.get("http"), document.get("sql")
    return _build(
        trace,
        str(document["id"]),
        document.get("parent_id"),
        str(document.get("name", "")),
        document.get("namespace"),
        int(document["start_time"] * 1e9),
        int(end * 1e9),
        document.get("annotations"),
        document.get("metadata"),
        aws if isinstance(aws, dict) else None,
        http if isinstance(http, dict) else None,
        sql if isinstance(sql, dict) else None,
        document.get("fault") is True or document.get("error") is True,
        document.get("cause"),
        str(document["trace_id"]),
        *((api[0], True, api[1]) if api is not None else ()),
    )


def _build(
    trace: xray.Trace,
    span_id: str,
    parent_id: Any,
    name: str,
    namespace: Any,
    start_nano: int,
    end_nano: int,
    annotations: Any,
    metadata: Any,
    aws: dict[str, Any] | None,
    http: dict[str, Any] | None,
    sql: dict[str, Any] | None,
    failed: bool,
    cause: Any,
    root: str | None = None,
    kind: int = 0,
    otel_api: bool = False,
    otel_events: Any = None,
) -> bytes:
    """One span's ``Span`` message: kind, attributes, events and status from what X-Ray mode would record (``kind``:
    the one an OpenTelemetry API span was started with, else SERVER for the handler, CLIENT for calls).

    ``otel_api``: a span started through the OpenTelemetry API, whose own attributes otel.py recorded (redacted and
    bounded) in the ``default`` metadata namespace, where X-Ray's translator puts them, and its events apart
    (``otel_events``, the span's, as ``default.events`` holds them in ``xray`` mode): they are sent as the span's
    attributes and events again, as the user set them (an attribute named ``events`` too)."""
    root = root or str(trace.root)
    framed_trace = _trace_ids.get(root) or _trace_field(root)
    values: dict[str, Any] = {}
    encoded = b""
    inferred = proto.CLIENT if namespace in otlp_spans._CALL_NAMESPACES or sql else proto.INTERNAL
    if annotations and isinstance(annotations, dict):
        if otlp_spans.HANDLER_ANNOTATION in annotations:
            inferred = proto.SERVER
            encoded = _handler_attributes(values, annotations)
        else:
            encoded = otlp_spans._annotation_attributes(annotations)
    kind = kind or inferred
    if aws:
        encoded += otlp_calls._aws_attributes(values, aws, name)
    if http:
        otlp_calls._http_attributes(values, http)
    if sql:
        _sql_attributes(values, sql)
    own_events = _otel_events(otel_events) if otel_api and isinstance(otel_events, list) else _NO_EVENTS
    if metadata:
        for namespace_name, data in metadata.items():
            if otel_api and namespace_name == OTEL_NAMESPACE and isinstance(data, dict):
                for key, value in data.items():  # the span's own attributes, as otel.py recorded them
                    values[str(key)] = _otel_value(value)
                continue
            values["aws.xray.metadata." + str(namespace_name)] = xray_documents.dumps(data)  # strict JSON
    events, status_message = otlp_calls.exception_events(cause, end_nano) if cause is not None else (_NO_EVENTS, "")
    if own_events:
        events = own_events + events
    if failed and "error.type" not in values:
        values["error.type"] = status_message.split(":", 1)[0] if status_message else "_OTHER"
    flags = _FLAGS_SAMPLED if trace.sampled == "1" else proto.FLAG_HAS_IS_REMOTE
    if parent_id == trace.parent:
        flags |= proto.FLAG_IS_REMOTE  # the Lambda service's segment
    # Span.span_id and parent_span_id (8 bytes each, the parent left out when there is none) in one call.
    ids = "1208" + span_id + ("2208" + parent_id if isinstance(parent_id, str) and len(parent_id) == 16 else "")
    return span_from_head(
        framed_trace + bytes.fromhex(ids) + kind_and_times(kind, start_nano, end_nano),
        name,
        values,
        events,
        proto.STATUS_ERROR if failed else proto.STATUS_UNSET,
        status_message[: otlp_calls.MAX_STATUS_MESSAGE] if failed else "",
        flags,
        encoded,
    )


_NO_EVENTS: list[bytes] = []
#: otel.py's metadata namespace for an OTel API span's attributes and events (X-Ray's translator's ``default``).
OTEL_NAMESPACE = "default"


def _otel_events(recorded: list[Any]) -> list[bytes]:
    """An OTel API span's events (as otel.py recorded them: redacted), encoded."""
    events: list[bytes] = []
    for event in recorded:
        if isinstance(event, dict) and isinstance(event.get("name"), str):
            timestamp = event.get("timestamp")
            nanos = int(timestamp * 1e9) if isinstance(timestamp, (int, float)) and timestamp > 0 else 0
            attributes = event.get("attributes")
            found: dict[str, Any] = {}
            if isinstance(attributes, dict):
                for name, item in attributes.items():
                    found[str(name)] = _otel_value(item)
            events.append(otlp_calls.event(nanos & otlp_spans._U64, event["name"], found))
    return events


def _otel_value(value: Any) -> Any:
    """An attribute's value as OTel has it: a scalar, or a list of scalars; anything else (what redaction made of
    a value, a nested structure) as JSON text."""
    if isinstance(value, list) and all(isinstance(item, (str, bool, int, float)) for item in value):
        return value
    return otlp_calls._attribute_value(value)


_FLAGS_SAMPLED = proto.FLAG_HAS_IS_REMOTE | proto.FLAG_SAMPLED


def _handler_attributes(values: dict[str, Any], annotations: dict[str, Any]) -> bytes:
    """The handler's attributes: its annotations and ``faas``/``cloud`` ones, the invocation's own (its id, its HTTP
    request's) encoded; ``faas.trigger`` in ``values``."""
    parts: list[bytes] = []
    trigger = otlp_spans._invocation(parts)
    if trigger is not None:
        values["faas.trigger"] = trigger
    return otlp_spans._annotation_attributes(annotations, invocation()[1], True) + b"".join(parts)


def invocation() -> tuple[str | None, str | None]:
    """(request id, invoked function ARN) of the invocation running now: the id from the runtime client, the ARN
    from the context the handler got (``backends.invocation``) when it is this invocation's, else None."""
    request_id = getattr(sys.modules.get(otlp_spans.RUNTIME_MODULE), "_GLOBAL_AWS_REQUEST_ID", None)
    if request_id.__class__ is not str or not 0 < len(request_id) <= 256:
        return None, None
    context = _seam.invocation[1]
    if context is not None and getattr(context, "aws_request_id", None) == request_id:
        return request_id, otlp_spans._plain(getattr(context, "invoked_function_arn", None))
    return request_id, None


def _sql_attributes(values: dict[str, Any], sql: dict[str, Any]) -> None:
    """An SDK patch's ``sql`` block (a database call): the database conventions, under both the names the
    collector's X-Ray translator reads (``db.system``, ``db.statement``, ``db.connection_string``, ``db.user``)
    and the current ones (``db.system.name``, ``db.query.text``)."""
    for key, attributes in (
        ("database_type", ("db.system", "db.system.name")),
        ("sanitized_query", ("db.statement", "db.query.text")),
        ("url", ("db.connection_string",)),
        ("user", ("db.user",)),
        ("database_version", ("db.version",)),
    ):
        value = sql.get(key)
        if isinstance(value, str) and value:
            for attribute in attributes:
                values[attribute] = value.lower() if key == "database_type" else value


#: X-Ray trace id -> OTLP's 16 bytes as the Span.trace_id field, for the few traces alive at once.
_trace_ids: dict[str, bytes] = {}


def _trace_field(root: str) -> bytes:
    """``Span.trace_id`` (16 bytes) for an X-Ray Root, remembered for the few traces alive at once."""
    framed = b"\x0a\x10" + bytes.fromhex(root[2:10] + root[11:])
    if len(_trace_ids) >= 16:
        _trace_ids.clear()
    _trace_ids[root] = framed
    return framed


def kind_and_times(kind: int, start_unix_nano: int, end_unix_nano: int) -> bytes:
    """Fields 6 (kind, a one-byte varint), 7 and 8 (fixed64 times) in one ``int.to_bytes``: 20 bytes."""
    return (
        0x30
        | kind << 8
        | 0x39 << 16
        | (start_unix_nano & proto._U64) << 24
        | 0x41 << 88
        | (end_unix_nano & proto._U64) << 96
    ).to_bytes(20, "little")


def span_from_head(
    head: bytes,
    name: str,
    values: dict[str, Any],
    events: list[bytes],
    status_code: int = proto.STATUS_UNSET,
    status_message: str = "",
    flags: int = 0,
    encoded: bytes = b"",
) -> bytes:
    """A ``Span`` whose trace_id 1, span_id 2, parent_span_id 4, kind 6, start 7 and end 8 are already encoded
    (``head``: protobuf takes fields in any order), with name 5, attributes 9, events 11, status 15 and flags 16
    (fixed32). ``encoded``: attributes already encoded (``attributes(0x4A,…)``), put before ``values``."""
    parts = [head, proto._names.get(name) or proto.framed_name(name), encoded]
    if values:
        parts.append(proto.attributes(0x4A, values))
    for item in events:
        parts.append(proto.field(0x5A, item))
    if status_code != proto.STATUS_UNSET:
        status = (proto.field(0x12, proto.text(status_message)) if status_message else b"") + bytes((0x18, status_code))
        parts.append(proto.field(0x7A, status))
    if flags:
        parts.append(b"\x85\x01" + flags.to_bytes(4, "little"))  # field 16, wire type 5: tag 0x85 0x01
    return b"".join(parts)
