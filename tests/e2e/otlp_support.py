"""Reading what the ``otlp`` exporter sent, with opentelemetry-proto (the reference decoder, not ours)."""

from __future__ import annotations

import base64
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from lambda_tracer_local.runtime import Invocation, LocalLambda

HEADER = b'{"format":"json","version":1}\n'
#: The cold start's init trace (its own spans, in the same batch) is tested in test_e2e_init_trace.py.
OTLP_ENV = {"LAMBDA_TRACER_EXPORTER": "otlp", "LAMBDA_TRACER_INIT_TRACE": "false"}


def decode(datagram: bytes) -> tuple[str, ExportTraceServiceRequest]:
    """(marker, request) of one datagram: the header, T1S/T1U, then base64 of the request."""
    assert datagram.startswith(HEADER), datagram[:80]
    body = datagram[len(HEADER) :]
    marker = body[:3].decode()
    assert marker in ("T1S", "T1U"), body[:10]
    return marker, ExportTraceServiceRequest.FromString(base64.b64decode(body[3:], validate=True))


def value(any_value: AnyValue) -> Any:
    """An AnyValue as Python: every type the proto has."""
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value(item) for item in any_value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: value(item.value) for item in any_value.kvlist_value.values}
    return getattr(any_value, kind)


def attributes(message: Any) -> dict[str, Any]:
    keys = [item.key for item in message.attributes]
    assert len(keys) == len(set(keys)), f"repeated attribute keys: {keys}"
    return {item.key: value(item.value) for item in message.attributes}


def datagrams_of(fn: LocalLambda, first: int) -> list[bytes]:
    fn.daemon.sync()
    return fn.daemon.datagrams(first)


def spans_of(datagrams: list[bytes]) -> list[tuple[str, ExportTraceServiceRequest, Span]]:
    """(marker, request, span) for every span of every datagram."""
    return [
        (marker, request, span)
        for marker, request in map(decode, datagrams)
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]


def invoke(fn: LocalLambda, event: Any = None, **options: Any) -> tuple[Invocation, list[bytes]]:
    """One invocation and the datagrams it sent (all of them OTLP)."""
    first = len(fn.daemon.datagrams())
    inv = fn.invoke(event, **options)
    return inv, datagrams_of(fn, first)


def by_name(spans: list[tuple[str, ExportTraceServiceRequest, Span]], name: str) -> Span:
    found = [span for _, _, span in spans if span.name == name]
    assert len(found) == 1, f"expected one {name!r} among {[span.name for _, _, span in spans]}"
    return found[0]


def trace_bytes(trace_id: str) -> bytes:
    """An X-Ray trace id as OTLP's 16 bytes."""
    return bytes.fromhex(trace_id[2:].replace("-", ""))
