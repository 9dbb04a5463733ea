"""The OTLP exporter in process: the hand-written encoder against opentelemetry-proto's decoder, the
document-to-span mapping, batching per invocation, the 64 KB split and the exporter's settings."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import math
import os
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from http_stub import QuietHandler, serving
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status

import lambda_env
from forked import in_forked_child
from lambda_tracer import Tracer, backends, config
from lambda_tracer.backends import otlp, otlp_calls, otlp_documents, otlp_spans, otlp_split, udp, xray
from lambda_tracer.backends import otlp_spans as proto
from lambda_tracer_local import otlp as local_otlp
from lambda_tracer_local import otlp_rules
from lambda_tracer_local.daemon import subsegments

pytestmark = pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)

HEADER = b'{"format":"json","version":1}\n'


def value(any_value: AnyValue) -> Any:
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value(item) for item in any_value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: value(item.value) for item in any_value.kvlist_value.values}
    return getattr(any_value, kind)


def attributes(message: Any) -> dict[str, Any]:
    return {item.key: value(item.value) for item in message.attributes}


def decode(datagram: bytes) -> tuple[bytes, ExportTraceServiceRequest]:
    assert datagram.startswith(HEADER)
    body = datagram[len(HEADER) :]
    return body[:3], ExportTraceServiceRequest.FromString(base64.b64decode(body[3:], validate=True))


def spans_in(datagrams: list[bytes]) -> list[Span]:
    return [
        span
        for datagram in datagrams
        for resource_spans in decode(datagram)[1].resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]


def _span(
    trace_id: bytes,
    span_id: bytes,
    parent_span_id: bytes,
    name: str,
    kind: int,
    start: int,
    end: int,
    values: dict[str, Any],
    events: list[bytes],
    *rest: Any,
    **options: Any,
) -> bytes:
    """A whole ``Span`` message, from its ids, kind and times as otlp_documents.span_from_head's head."""
    head = proto.field(0x0A, trace_id) + proto.field(0x12, span_id)
    head += (proto.field(0x22, parent_span_id) if parent_span_id else b"") + otlp_documents.kind_and_times(
        kind, start, end
    )
    return otlp_documents.span_from_head(head, name, values, events, *rest, **options)


# -- the encoder -----------------------------------------------------------------------------------------------

EVERY_TYPE: dict[str, Any] = {
    "string": "héllo ✓",
    "empty": "",
    "true": True,
    "false": False,
    "zero": 0,
    "small": 5,
    "negative": -1,
    "int64 max": (1 << 63) - 1,
    "int64 min": -(1 << 63),
    "double": 2.5,
    "negative double": -1e-300,
    "array": ["a", 1, 2.0, False, None, b"\x00\xff"],
    "kvlist": {"k": "v", "nested": {"deeper": [1, {"x": True}]}, "n": -7},
    "bytes": b"\x00\x01\xfe\xff",
    "none": None,
}


def test_every_any_value_type_decodes_as_opentelemetry_proto_reads_it() -> None:
    data = _span(
        b"\x01" * 16, b"\x02" * 8, b"\x03" * 8, "name", proto.CLIENT, 1, 2, EVERY_TYPE, [], flags=proto.FLAG_SAMPLED
    )
    span = Span.FromString(data)
    assert attributes(span) == EVERY_TYPE
    assert [item.key for item in span.attributes] == list(EVERY_TYPE)  # order kept
    kinds = {item.key: item.value.WhichOneof("value") for item in span.attributes}
    assert kinds == {
        "string": "string_value",
        "empty": "string_value",
        "true": "bool_value",
        "false": "bool_value",
        "zero": "int_value",
        "small": "int_value",
        "negative": "int_value",
        "int64 max": "int_value",
        "int64 min": "int_value",
        "double": "double_value",
        "negative double": "double_value",
        "array": "array_value",
        "kvlist": "kvlist_value",
        "bytes": "bytes_value",
        "none": None,
    }


def test_odd_values_stay_valid_protobuf() -> None:
    odd = {
        "beyond int64": 1 << 70,
        "nan": math.nan,
        "infinity": math.inf,
        "lone surrogate": "a\ud800b",
        "object": object,
        "deep": [[[[[[[[[[[[[[[[[["bottom"]]]]]]]]]]]]]]]]]],
    }
    span = Span.FromString(_span(b"\x01" * 16, b"\x02" * 8, b"", "n", proto.INTERNAL, 1, 2, odd, []))
    found = attributes(span)
    assert found["beyond int64"] == str(1 << 70)
    assert math.isnan(found["nan"]) and found["infinity"] == math.inf
    assert found["lone surrogate"] == "a\ufffdb"
    assert found["object"] == str(object)
    depth, item = 0, found["deep"]
    while isinstance(item, list):
        depth, item = depth + 1, item[0]
    assert depth == proto.MAX_DEPTH and isinstance(item, str)  # cut, as text, not lost


@pytest.mark.parametrize(
    "number",
    [
        0.0,
        -0.0,
        1.0,
        -2.5,
        0.1,
        17.41,
        5e-324,
        -5e-324,
        2.225073858507201e-308,
        2.2250738585072014e-308,
        1.7976931348623157e308,
        -1e-300,
        math.inf,
        -math.inf,
        math.nan,
        -math.nan,
    ],
)
def test_doubles_are_written_as_struct_writes_them_without_importing_it(number: float) -> None:
    found = proto.double(number)
    if math.isnan(number):  # a NaN: its sign kept (its payload need not be)
        decoded = AnyValue.FromString(b"\x21" + found).double_value
        assert math.isnan(decoded) and math.copysign(1, decoded) == math.copysign(1, number)
    else:
        import struct

        assert found == struct.pack("<d", number)
        assert AnyValue.FromString(proto.any_value(number)).double_value == number


def test_doubles_of_every_bit_pattern_match_struct() -> None:
    import random
    import struct

    rng = random.Random(19)
    for _ in range(20_000):
        raw = rng.getrandbits(64).to_bytes(8, "little")
        number = struct.unpack("<d", raw)[0]
        if not math.isnan(number):
            assert proto.double(number) == raw


def test_every_span_field_events_status_resource_and_scope() -> None:
    event = otlp_calls.event(1_700_000_000_123_456_789, "exception", {"exception.type": "ValueError", "n": 3})
    data = _span(
        bytes(range(16)),
        bytes(range(8, 16)),
        bytes(range(16, 24)),
        "## handler",
        proto.SERVER,
        1_700_000_000_000_000_001,
        1_700_000_000_999_999_999,
        {"a": "b"},
        [event, otlp_calls.event(5, "second", {})],
        proto.STATUS_ERROR,
        "ValueError: boom",
        proto.FLAG_SAMPLED | proto.FLAG_HAS_IS_REMOTE | proto.FLAG_IS_REMOTE,
    )
    prefix = proto.request_prefix(proto.resource({"service.name": "svc", "n": 1}), proto.scope("lambda_tracer", "1.2"))
    request = ExportTraceServiceRequest.FromString(otlp_split.request(prefix, [data, data]))
    [resource_spans] = request.resource_spans
    assert attributes(resource_spans.resource) == {"service.name": "svc", "n": 1}
    [scope_spans] = resource_spans.scope_spans
    assert (scope_spans.scope.name, scope_spans.scope.version) == ("lambda_tracer", "1.2")
    assert len(scope_spans.spans) == 2
    span = scope_spans.spans[0]
    assert span.trace_id == bytes(range(16))
    assert span.span_id == bytes(range(8, 16))
    assert span.parent_span_id == bytes(range(16, 24))
    assert span.name == "## handler"
    assert span.kind == Span.SPAN_KIND_SERVER
    assert span.start_time_unix_nano == 1_700_000_000_000_000_001
    assert span.end_time_unix_nano == 1_700_000_000_999_999_999
    assert span.flags == 0x301
    assert (span.status.code, span.status.message) == (Status.STATUS_CODE_ERROR, "ValueError: boom")
    assert [(item.name, item.time_unix_nano) for item in span.events] == [
        ("exception", 1_700_000_000_123_456_789),
        ("second", 5),
    ]
    assert attributes(span.events[0]) == {"exception.type": "ValueError", "n": 3}
    # Our own decoder (the local tools') reads the same.
    decoded = local_otlp.decode_request(otlp_split.request(prefix, [data]))
    [(resource, mine)] = local_otlp.spans_of(decoded)
    assert dict(resource) == {"service.name": "svc", "n": 1}
    assert mine["flags"] == 0x301 and mine["status"] == {"code": 2, "message": "ValueError: boom"}
    assert dict(proto_attributes := mine["attributes"]) == {"a": "b"} and proto_attributes


def test_our_decoder_reads_every_any_value_type() -> None:
    data = _span(b"\x01" * 16, b"\x02" * 8, b"", "n", proto.INTERNAL, 1, 2, EVERY_TYPE, [])
    assert dict(local_otlp.decode_span(data)["attributes"]) == EVERY_TYPE


@pytest.mark.parametrize("count, size", [(1, 10), (40, 3_000), (7, 40_000), (300, 500)])
def test_requests_are_split_below_the_limit_and_keep_every_span_in_order(count: int, size: int) -> None:
    prefix = proto.request_prefix(proto.resource({"service.name": "svc"}), proto.scope("s", "1"))
    spans = [
        _span(b"\x01" * 16, (n + 1).to_bytes(8, "big"), b"", "x" * size, proto.INTERNAL, 1, 2, {}, [])
        for n in range(count)
    ]
    bodies = otlp_split.requests(prefix, spans, otlp.MAX_UDP_REQUEST_BYTES)
    assert all(len(body) <= otlp.MAX_UDP_REQUEST_BYTES for body in bodies)
    names = [
        span.span_id
        for body in bodies
        for span in ExportTraceServiceRequest.FromString(body).resource_spans[0].scope_spans[0].spans
    ]
    assert names == [(n + 1).to_bytes(8, "big") for n in range(count)]
    total = sum(len(span) for span in spans)
    assert len(bodies) <= total // (otlp.MAX_UDP_REQUEST_BYTES // 2) + 1  # packed, not one per span


# -- the exporter in process -------------------------------------------------------------------------------------


@pytest.fixture
def otlp_mode(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's X-Ray backend exporting OTLP, as LAMBDA_TRACER_EXPORTER=otlp makes it at init."""
    monkeypatch.setattr(xray, "EXPORTER", otlp)
    monkeypatch.setenv("LAMBDA_TRACER_EXPORTER", "otlp")
    otlp.configure()
    yield
    monkeypatch.undo()
    otlp.configure()


def _invoke(handler: Any, event: Any = None, header: str | None = None) -> tuple[list[bytes], str, str]:
    """Call a handler under a fresh trace header; (datagrams it sent, trace id, parent id)."""
    daemon = lambda_env.sink()
    fresh, trace_id, parent = lambda_env.new_trace_header()
    first, rejected = len(daemon.datagrams()), len(daemon.rejected)
    os.environ["_X_AMZN_TRACE_ID"] = header or fresh
    try:
        handler({} if event is None else event, lambda_env.FakeContext())
    finally:
        del os.environ["_X_AMZN_TRACE_ID"]
    daemon.sync()
    sent = daemon.datagrams(first)
    lambda_env._invoked(daemon).update(range(first, first + len(sent)))
    lambda_env.assert_datagrams_follow_xray_rules(sent, daemon.rejected[rejected:], header or fresh)
    return sent, trace_id, parent


def test_one_invocation_is_one_datagram_with_kinds_and_parents(otlp_mode: None) -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_method
    def inner() -> int:
        return 1

    @tracer.capture_method
    def outer() -> int:
        return inner() + inner()

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> dict[str, int]:
        return {"n": outer()}

    sent, trace_id, parent = _invoke(handler)
    assert len(sent) == 1
    spans = spans_in(sent)
    names = [span.name.rsplit(".", 1)[-1] for span in spans]
    assert sorted(names) == ["## handler", "inner", "inner", "outer"]
    assert names[-1] == "## handler"  # sent when the handler ended, the others kept until then
    by_id = {span.span_id: span for span in spans}
    handler_span = spans[-1]
    assert handler_span.kind == Span.SPAN_KIND_SERVER
    assert handler_span.parent_span_id == bytes.fromhex(parent)
    for span in spans[:-1]:
        assert span.kind == Span.SPAN_KIND_INTERNAL
        assert span.parent_span_id in by_id
        assert span.trace_id == bytes.fromhex(trace_id[2:].replace("-", ""))
    handler_attributes = attributes(handler_span)
    assert handler_attributes["faas.coldstart"] is True


def test_a_thread_span_ending_with_nothing_open_is_sent_at_once(otlp_mode: None) -> None:
    tracer = Tracer(service="svc")
    sent_before_handler_end: list[int] = []

    @tracer.capture_method
    def background() -> None:
        return None

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        daemon = lambda_env.sink()
        first = len(daemon.datagrams())
        worker = threading.Thread(target=background)
        worker.start()
        worker.join()
        daemon.sync()
        sent_before_handler_end.append(len(daemon.datagrams()) - first)

    sent, _, _ = _invoke(handler)
    assert sent_before_handler_end == [1]  # the thread's span did not wait for the handler
    assert [span.name.rsplit(".", 1)[-1] for span in spans_in(sent)] == ["background", "## handler"]
    assert len(sent) == 2


def test_a_batch_beyond_64_kb_is_split_and_no_span_is_lost(otlp_mode: None) -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_method
    def step(n: int) -> str:
        return f"{n}:" + os.urandom(6_000).hex()  # 12 KB of response metadata each (incompressible)

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        for n in range(20):
            step(n)

    sent, _, _ = _invoke(handler)
    assert len(sent) >= 4
    assert all(len(datagram) <= otlp.MAX_DATAGRAM_BYTES for datagram in sent)
    spans = spans_in(sent)
    assert len(spans) == 21 and len({span.span_id for span in spans}) == 21
    responses = [json.loads(attributes(span)["aws.xray.metadata.svc"]) for span in spans[:-1]]
    assert [next(iter(item.values())).split(":")[0] for item in responses] == [str(n) for n in range(20)]


def test_a_span_too_big_for_a_datagram_loses_its_metadata_and_says_so(
    otlp_mode: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.MAX_CAPTURE_BYTES, str(config.LIMIT_MAX_CAPTURE_BYTES))
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> str:
        tracer.put_metadata("big", os.urandom(25_000).hex())
        return os.urandom(25_000).hex()

    sent, _, _ = _invoke(handler)
    [span] = spans_in(sent)
    assert len(sent) == 1 and len(sent[0]) <= otlp.MAX_DATAGRAM_BYTES
    found = attributes(span)
    assert json.loads(found["aws.xray.metadata.lambda_tracer"])["truncated"] is True
    assert "aws.xray.metadata.svc" not in found
    assert found["ColdStart"] is True  # the span itself is kept whole otherwise


def test_an_unsampled_invocation_sends_nothing_unless_asked_then_t1u(
    otlp_mode: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> int:
        return 1

    unsampled = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
    sent, _, _ = _invoke(handler, header=unsampled)
    assert sent == []
    monkeypatch.setattr(xray, "RECORD_UNSAMPLED", True)
    sent, _, _ = _invoke(handler, header=unsampled.replace("bd86", "cd86"))
    assert [decode(datagram)[0] for datagram in sent] == [b"T1U"]
    [span] = spans_in(sent)
    assert span.flags & 1 == 0 and span.name == "## handler"


def test_otlp_http_posts_protobuf_instead_of_udp(otlp_mode: None, monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[tuple[str, dict[str, str], bytes]] = []

    class Collector(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, dict(self.headers), body))
            self.reply(200, b"", "application/x-protobuf")

    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> int:
        return 1

    with serving(Collector) as port:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}/")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=abc%20def,bad")
        otlp.configure()
        sent, trace_id, _ = _invoke(handler)
    assert sent == []  # not over UDP as well
    [(path, headers, body)] = received
    assert path == "/v1/traces"
    assert headers["Content-Type"] == "application/x-protobuf"
    assert headers["x-api-key"] == "abc def"
    assert "X-Amzn-Trace-Id" not in headers and "traceparent" not in headers  # our own call is not traced
    [span] = ExportTraceServiceRequest.FromString(body).resource_spans[0].scope_spans[0].spans
    assert span.name == "## handler" and span.trace_id == bytes.fromhex(trace_id[2:].replace("-", ""))


def test_otlp_http_headers_take_http_token_names_and_drop_values_http_cannot_send(
    otlp_mode: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Names as OpenTelemetry's SDK takes them (HTTP tokens: ``x_api_key``, ``dd.tenant``); a value HTTP cannot carry
    (``€`` is not Latin-1, a newline would split the header) is one malformed entry, not every batch lost."""
    received: list[dict[str, str]] = []

    class Collector(QuietHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append(dict(self.headers))
            self.reply(200, b"", "application/x-protobuf")

    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> int:
        return 1

    with serving(Collector) as port, caplog.at_level(logging.WARNING, "lambda_tracer"):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x_api_key=k1,dd.tenant=t1,euro=%E2%82%AC,nl=a%0Ab")
        otlp.configure()
        _invoke(handler)
    [headers] = received
    assert (headers.get("x_api_key"), headers.get("dd.tenant")) == ("k1", "t1")
    assert "euro" not in headers and "nl" not in headers
    assert [record.getMessage() for record in caplog.records] == [
        "lambda_tracer: ignoring a malformed entry of the OTLP headers setting"
    ]


def _counted_handler() -> tuple[Any, list[int]]:
    """A traced handler returning 7, and the list it appends to at each run (it runs exactly once per invocation)."""
    calls: list[int] = []
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> int:
        calls.append(1)
        return 7

    return handler, calls


def test_an_unreachable_collector_is_reported_once_and_the_function_is_unaffected(
    otlp_mode: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"http://127.0.0.1:{port}/custom")
    otlp.configure()
    assert otlp.SETTINGS.endpoint == f"http://127.0.0.1:{port}/custom"
    handler, calls = _counted_handler()
    with caplog.at_level(logging.WARNING, "lambda_tracer"):
        for _ in range(2):
            assert _invoke(handler)[0] == []
    warnings = [record.getMessage() for record in caplog.records if "OTLP" in record.getMessage()]
    assert len(warnings) == 1 and "ConnectionRefusedError" in warnings[0]
    assert calls == [1, 1]


def test_a_collector_answering_a_byte_at_a_time_holds_the_function_no_longer_than_the_timeout(
    otlp_mode: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The timeout bounds the whole wait for the collector's answer, not each read of it: a collector that sends its
    status line a byte every quarter of the timeout (a slow proxy, an overloaded collector) would otherwise hold the
    function until it finished, however long that took. The function returns, once, before the answer is complete."""
    answered = threading.Event()

    class Collector(QuietHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            try:
                for byte in b"HTTP/1.1 200 OK" + b" " * 40 + b"\r\nContent-Length: 0\r\n\r":
                    self.wfile.write(bytes((byte,)))
                    threading.Event().wait(0.05)  # the collector's pace: a byte every quarter of the timeout
                answered.set()  # before the last byte: a function that read it finds this set
                self.wfile.write(b"\n")
            except OSError:
                pass  # the function gave up waiting

    handler, calls = _counted_handler()
    with serving(Collector) as port, caplog.at_level(logging.WARNING, "lambda_tracer"):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "200")
        otlp.configure()
        assert _invoke(handler)[0] == []
        assert not answered.is_set()  # returned before the collector's answer was complete
    assert calls == [1]
    warnings = [record.getMessage() for record in caplog.records if "OTLP" in record.getMessage()]
    assert len(warnings) == 1 and "TimeoutError" in warnings[0]


@pytest.mark.parametrize(
    ("answer", "status"),
    [(b"HTTP/1.1 200 OK\r\n\r\n", 200), (b"HTTP/1.1 204\r\n\r\n", 204), (b"HTTP/1.0 503 Busy\r\n", 503)],
)
def test_the_collectors_status_is_read_with_or_without_a_reason_phrase(answer: bytes, status: int) -> None:
    from lambda_tracer.backends import otlp_http

    ours, collector = socket.socketpair()
    with ours, collector:
        collector.sendall(answer)
        assert otlp_http._status(ours, otlp_http.monotonic() + 10) == status


@pytest.mark.parametrize(
    "raw, expected",
    [(None, "xray"), ("", "xray"), ("xray", "xray"), ("otlp", "otlp"), (" OTLP ", "otlp"), ("zipkin", "xray")],
)
def test_the_exporter_setting(
    raw: str | None, expected: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if raw is None:
        monkeypatch.delenv(config.EXPORTER, raising=False)
    else:
        monkeypatch.setenv(config.EXPORTER, raw)
    with caplog.at_level(logging.WARNING, "lambda_tracer"):
        assert config.exporter() == expected
        assert config.exporter() == expected
    warned = [record.getMessage() for record in caplog.records]
    assert warned == (
        ["lambda_tracer: ignoring LAMBDA_TRACER_EXPORTER='zipkin' (not understood); using 'xray'"]
        if raw == "zipkin"
        else []
    )


def test_settings_the_otel_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "250")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-otel")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,team=a%2Cb, bad")
    settings = otlp.Settings()
    assert (settings.endpoint, settings.timeout) == ("http://localhost:4318/v1/traces", 0.25)
    resource = otlp.resource()
    assert resource["service.name"] == "from-otel"
    assert resource["deployment.environment"] == "prod" and resource["team"] == "a,b"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318")  # no scheme: not a URL, UDP instead
    assert otlp.Settings().endpoint is None


def test_a_blank_traces_setting_is_unset_and_the_general_one_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    """As OpenTelemetry's specification has it (an empty value is as unset), and as the endpoint and headers were
    read: a blank ``OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`` left the timeout at 500 ms, not at
    ``OTEL_EXPORTER_OTLP_TIMEOUT``'s."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", " ")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", " ")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2000")
    settings = otlp.Settings()
    assert (settings.endpoint, settings.headers, settings.timeout) == (
        "http://localhost:4318/v1/traces",
        {"api-key": "1"},
        2.0,
    )


@pytest.mark.parametrize("name", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"])
def test_an_endpoint_not_understood_is_quoted_as_set(
    name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The warning quotes the value the user wrote, not the URL made from it (``/v1/traces`` appended)."""
    monkeypatch.setenv(name, "localhost:4318/")
    with caplog.at_level(logging.WARNING, "lambda_tracer"):
        assert otlp.Settings().endpoint is None
    assert [record.getMessage() for record in caplog.records] == [
        f"lambda_tracer: ignoring {name}='localhost:4318/' (not understood); using UDP to the daemon"
    ]


def test_a_malformed_resource_attribute_is_reported_once_without_its_text(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """As OpenTelemetry's SDK does: an entry without ``key=`` is left out with a warning (never quoted: it may be a
    secret pasted in the wrong place); blank entries are nothing."""
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=a, ,s3cr3t-token,=nokey,env=prod")
    with caplog.at_level(logging.WARNING, "lambda_tracer"):
        resource = otlp.resource()
        otlp.resource()
    assert (resource["team"], resource["env"]) == ("a", "prod")
    assert "s3cr3t-token" not in str(resource) and "nokey" not in str(resource)
    assert [record.getMessage() for record in caplog.records] == [
        "lambda_tracer: ignoring a malformed entry of OTEL_RESOURCE_ATTRIBUTES"
    ]


def test_decoded_spans_keep_the_otlp_rules(otlp_mode: None) -> None:
    """The rules checker itself: a good datagram passes, broken ones fail by rule."""
    good = (
        udp.HEADER
        + b"T1S"
        + base64.b64encode(
            otlp_split.request(
                proto.request_prefix(proto.resource({}), proto.scope("s", "1")),
                [
                    _span(
                        b"\x01" * 16,
                        b"\x02" * 8,
                        b"\x03" * 8,
                        "n",
                        proto.INTERNAL,
                        2 * 10**18,
                        2 * 10**18,
                        {},
                        [],
                        flags=1,
                    )
                ],
            )
        )
    )
    header = f"Root=1-{'01' * 4}-{'01' * 12};Parent={'03' * 8};Sampled=1"
    violations, _ = otlp_rules.check_trace([good], header)
    assert violations == []
    broken = good[:-8] + b"!!!!!!!!"
    assert [item.rule for item in otlp_rules.check_trace([broken], header)[0]] == ["O1"]
    assert {item.rule for item in otlp_rules.check_trace([good, good], header)[0]} == {"O10"}
    assert {item.rule for item in otlp_rules.check_trace([good], header.replace("Sampled=1", "Sampled=0"))[0]} == {
        "O11"
    }
    assert {item.rule for item in otlp_rules.check_trace([good], header.replace("0303", "0404"))[0]} == {"O9"}


def test_the_otlp_rules_give_a_verdict_on_values_nested_however_deep(otlp_mode: None) -> None:
    """An attribute nested 1,500 levels (4 bytes a level) or metadata JSON nested 20,000 levels, each in one datagram,
    raised RecursionError out of the checker. The first does not decode (O1: protobuf's own decoders stop far sooner);
    the second is no metadata object X-Ray reads (O6)."""

    def sent(values: dict[str, Any], attribute: bytes = b"") -> bytes:
        span = _span(
            b"\x01" * 16, b"\x02" * 8, b"\x03" * 8, "n", proto.INTERNAL, 2 * 10**18, 2 * 10**18, values, [], flags=1
        )
        prefix = proto.request_prefix(proto.resource({}), proto.scope("s", "1"))
        return udp.HEADER + b"T1S" + base64.b64encode(otlp_split.request(prefix, [span + attribute]))

    value = proto.field(0x0A, b"x")  # AnyValue{string_value}
    for _ in range(1_500):
        value = proto.field(0x2A, proto.field(0x0A, value))  # AnyValue{array_value: ArrayValue{values: [value]}}
    nested = sent({}, proto.field(0x4A, proto.field(0x0A, b"k") + proto.field(0x12, value)))
    deep_json = sent({"aws.xray.metadata.deep": "[" * 20_000 + "]" * 20_000})
    header = f"Root=1-{'01' * 4}-{'01' * 12};Parent={'03' * 8};Sampled=1"
    assert otlp_rules.check_trace([sent({})], header)[0] == []
    for data, rule in ((nested, "O1"), (deep_json, "O6")):
        assert len(data) < otlp_rules.MAX_DATAGRAM_BYTES
        violations, _ = otlp_rules.check_trace([data], header)
        # First the rule the input breaks; 3.14's json reads 20,000 levels, so there the metadata is a list, which X-Ray
        # makes no document of either (O6 "not a JSON object", then O7).
        assert violations and violations[0].rule == rule, violations


# -- cold start ----------------------------------------------------------------------------------------------------

PROGRAM = """
import json, sys
before = set(sys.modules)
import lambda_tracer.handler as redirect
context = type("Context", (), {"aws_request_id": "r-1", "function_name": "fn"})()
redirect.handler({}, context)
print(json.dumps(sorted(set(sys.modules) - before)))
"""


@pytest.mark.parametrize("exporter", ["xray", "otlp"])
def test_the_exporter_is_imported_only_when_chosen_and_never_protobuf(
    exporter: str, zero_code_cold_start: Callable[..., Any]
) -> None:
    app = "def handler(event, context):\n    return 1\n"
    with zero_code_cold_start(PROGRAM, app, LAMBDA_TRACER_EXPORTER=exporter) as (done, daemon):
        datagram = daemon.recv(70_000)
    imported = json.loads(done.stdout)
    ours = {name for name in imported if name.startswith("lambda_tracer.backends.otlp")}
    if exporter == "otlp":
        assert datagram.startswith(HEADER + b"T1S")
        assert ours == {"lambda_tracer.backends.otlp", "lambda_tracer.backends.otlp_spans"}  # no call, no failure
    else:
        assert datagram.startswith(HEADER + b"{")
        assert ours == set()
    assert [name for name in imported if name.split(".")[0] in ("google", "opentelemetry", "http")] == []


def test_the_constants_written_as_bytes_are_what_the_encoder_writes() -> None:
    """otlp_spans writes a few fields as bytes rather than encoding them at import (a cold start's cost): each is
    the encoder's output, byte for byte."""
    flags = [proto.FLAG_HAS_IS_REMOTE, proto.FLAG_HAS_IS_REMOTE | proto.FLAG_SAMPLED]
    assert [
        [b"\x85\x01" + (flag | remote).to_bytes(4, "little") for remote in (0, proto.FLAG_IS_REMOTE)] for flag in flags
    ] == otlp_spans._FLAG_FIELDS
    assert [
        proto.attributes(0x4A, {"http.response.body.size": size})[:-width] for size, width in ((0, 1), (0x80, 2))
    ] == otlp_calls._BODY_SIZE_HEADS
    for cold in (False, True):
        encoded = proto.attributes(0x4A, {otlp_spans.HANDLER_ANNOTATION: cold, "faas.coldstart": cold})
        assert otlp_spans._COLD_ATTRIBUTES[cold] == encoded
        decoded = Span.FromString(encoded)
        assert [(item.key, item.value.bool_value) for item in decoded.attributes] == [
            ("ColdStart", cold),
            ("faas.coldstart", cold),
        ]
    assert proto.field(0x0A, b"faas.invocation_id") == otlp_spans._INVOCATION_KEY
    assert [(0x30 | kind << 8 | 0x39 << 16) for kind in (proto.INTERNAL, proto.SERVER, proto.CLIENT)] == [
        otlp_spans._INTERNAL_KIND,
        otlp_spans._SERVER_KIND,
        otlp_spans._CLIENT_KIND,
    ]
    consts = otlp.export_span.__code__.co_consts  # the warm handler span's, written there as literals
    assert otlp_spans._COLD_ATTRIBUTES[False] in consts
    assert otlp_spans._SERVER_KIND | otlp_spans._END_TAG in consts and otlp_spans._U64 in consts
    assert (
        otlp_spans._END_TAG in otlp_spans._own.__code__.co_consts
        and otlp_spans._U64 in otlp_spans._own.__code__.co_consts
    )
    assert [bytes((size,)) for size in range(0x80)] == proto._LENGTHS
    assert [bytes((0x4A, size)) for size in range(0x80)] == proto._SPAN_ATTRIBUTES
    assert [bytes((0x12, size + 2, 0x0A, size)) for size in range(0x7E)] == proto._STRING_VALUES
    assert len(proto._keys) >= 20 and all(
        framed == proto.field(0x0A, key.encode()) for key, framed in proto._keys.items()
    )


@pytest.mark.parametrize(
    "value",
    [
        [],
        ["a"],
        ["ColdStart", "Service", "InitType"],
        ["x" * 0x7D],
        ["x" * 0x7E],
        ["\u00e9"],
        ["a" * 60, "b" * 60],
        [1, "a"],
        [True],
        0.0,
        -0.0,
        1.5,
        math.inf,
        -math.inf,
        5e-324,
        1 << 30,
    ],
)
def test_attributes_write_lists_and_floats_as_any_value_writes_them(value: Any) -> None:
    """``attributes`` frames lists of short ASCII strings and floats itself (a cold start's attributes): the bytes
    ``any_value`` writes, whatever the list holds."""
    framed_key = proto.field(0x0A, b"k")
    assert proto.attributes(0x4A, {"k": value}) == proto.field(
        0x4A, framed_key + proto.field(0x12, proto.any_value(value))
    )


def test_a_batch_beyond_one_datagram_is_split_by_the_module_loaded_then() -> None:
    """Splitting (otlp_split) is imported only for a batch beyond one datagram or for OTLP/HTTP: a cold start that
    sends a datagram does without it; a batch of 200 KB still goes whole, in requests that each fit."""
    prefix = otlp.request_prefix()
    spans = [bytes(3000) for _ in range(70)]
    groups = otlp_split.groups(prefix, spans, otlp.MAX_UDP_REQUEST_BYTES)
    assert [span for group in groups for span in group] == spans
    assert all(len(otlp_split.request(prefix, group)) <= otlp.MAX_UDP_REQUEST_BYTES for group in groups)
    assert len(groups) > 1


@pytest.mark.parametrize("size", [1, 50, 100, 120, 125, 126, 127, 128, 129, 130, 300, 16_250, 16_370, 16_380, 16_400])
def test_a_datagram_body_with_the_resource_last_decodes_whole(size: int) -> None:
    """The resource's base64 is made once and appended; whatever the spans' length, the request decodes."""
    mine = proto.request_prefix(proto.resource({"service.name": "svc", "n": 7}), proto.scope("s", "1"))
    for count in (1, 3):
        names = [str(n) + "x" * size for n in range(count)]
        spans = [_span(b"\x01" * 16, b"\x02" * 8, b"", name, proto.INTERNAL, 1, 2, {}, []) for name in names]
        for prefix, expected in ((otlp.request_prefix(), otlp.resource()), (mine, {"service.name": "svc", "n": 7})):
            body = base64.b64decode(otlp.udp_body(prefix, spans), validate=True)
            [resource_spans] = ExportTraceServiceRequest.FromString(body).resource_spans
            assert resource_spans.schema_url == ""
            assert [span.name for span in resource_spans.scope_spans[0].spans] == names
            assert attributes(resource_spans.resource) == expected
            assert resource_spans.scope_spans[0].scope.name == ("lambda_tracer" if prefix is not mine else "s")


@pytest.mark.parametrize("size", [10, 125, 300])
def test_lone_spans_of_one_length_reuse_the_heads_and_each_decodes_to_itself(size: int) -> None:
    """A lone span as long as the last one takes that one's heads (``_lone``): the bytes are its own request's."""
    prefix = otlp.request_prefix()
    for name in ("a" * size, "b" * size, "c" * (size + 1), "d" * (size + 1), "e" * size):
        span = _span(b"\x01" * 16, b"\x02" * 8, b"", name, proto.INTERNAL, 1, 2, {}, [])
        body = base64.b64decode(otlp.udp_body(prefix, [span]), validate=True)
        assert body == otlp_split.request(prefix, [span]) or ExportTraceServiceRequest.FromString(body) == (
            ExportTraceServiceRequest.FromString(otlp_split.request(prefix, [span]))
        )
        [resource_spans] = ExportTraceServiceRequest.FromString(body).resource_spans
        assert [span.name for span in resource_spans.scope_spans[0].spans] == [name]


def test_a_foreign_document_with_inline_children_becomes_one_span_each_and_a_bad_one_never_raises(
    otlp_mode: None, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = lambda_env.sink()
    header, trace_id, parent = lambda_env.new_trace_header()
    first = len(daemon.datagrams())
    os.environ["_X_AMZN_TRACE_ID"] = header
    try:
        trace = xray.current()[0]
        sql = {"url": "sqlite://", "database_type": "sqlite3", "sanitized_query": "SELECT 1"}
        child = {"id": "0000000000000002", "name": "db", "start_time": 1.7e9, "end_time": 1.7e9 + 1, "sql": sql}
        otlp.export(
            {
                "id": "0000000000000001",
                "name": "outer",
                "start_time": 1.7e9,
                "end_time": 1.7e9 + 2,
                "trace_id": trace_id,
                "parent_id": parent,
                "type": "subsegment",
                "subsegments": [child, "not a document"],
            },
            trace,
        )
        with caplog.at_level(logging.WARNING, "lambda_tracer"):
            otlp.export({"id": "zz", "name": "broken"}, trace)  # no times, no hex id
    finally:
        del os.environ["_X_AMZN_TRACE_ID"]
    daemon.sync()
    sent = daemon.datagrams(first)
    lambda_env._invoked(daemon).update(range(first, first + len(sent)))
    spans = spans_in(sent)
    assert [(span.name, span.kind) for span in spans] == [
        ("db", Span.SPAN_KIND_CLIENT),
        ("outer", Span.SPAN_KIND_INTERNAL),
    ]
    assert spans[0].parent_span_id == spans[1].span_id and spans[1].parent_span_id == bytes.fromhex(parent)
    assert attributes(spans[0])["db.system.name"] == "sqlite3" and attributes(spans[0])["db.query.text"] == "SELECT 1"
    assert [record.getMessage() for record in caplog.records if "OTLP span" in record.getMessage()] != []


def test_opentelemetry_api_spans_keep_their_kind_attributes_and_events(otlp_mode: None) -> None:
    """A span the user starts with the OpenTelemetry API is sent with the kind it was started with, its own
    attributes as attributes and its events as events (redacted as in xray mode), not as X-Ray metadata."""
    tracer = Tracer(service="svc")
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    from lambda_tracer import otel

    otel.install()
    api = trace.get_tracer("app")
    kinds = {
        SpanKind.INTERNAL: Span.SPAN_KIND_INTERNAL,
        SpanKind.SERVER: Span.SPAN_KIND_SERVER,
        SpanKind.CLIENT: Span.SPAN_KIND_CLIENT,
        SpanKind.PRODUCER: Span.SPAN_KIND_PRODUCER,
        SpanKind.CONSUMER: Span.SPAN_KIND_CONSUMER,
    }

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        for kind in kinds:
            with api.start_as_current_span(f"api.{kind.name.lower()}", kind=kind) as span:
                span.set_attributes({"order.id": 7, "tags": ["a", "b"], "ratio": 0.5, "password": "hunter2"})
                span.set_attributes({"url.query": "t=magic-77&lang=en", "http.target": "/login?t=magic-77&lang=en"})
                span.add_event("step", {"n": 1})

    sent, _, _ = _invoke(handler)
    spans = {span.name: span for span in spans_in(sent)}
    for kind, expected in kinds.items():
        span = spans[f"api.{kind.name.lower()}"]
        assert span.kind == expected, kind
        found = attributes(span)
        assert found["order.id"] == 7 and found["tags"] == ["a", "b"] and found["ratio"] == 0.5
        assert found["password"] != "hunter2" and "hunter2" not in str(found)
        assert found["url.query"] == "t=[REDACTED]&lang=[REDACTED]"  # every value, as rawQueryString's
        assert found["http.target"] == "/login?t=[REDACTED]&lang=[REDACTED]"
        assert not [key for key in found if key.startswith("aws.xray.metadata.")]
        [event] = span.events
        assert event.name == "step" and attributes(event) == {"n": 1}
        assert span.start_time_unix_nano <= event.time_unix_nano <= span.end_time_unix_nano


@pytest.mark.parametrize("api_span", [True, False])
def test_spans_in_a_thread_under_a_carried_context_are_sent(otlp_mode: None, api_span: bool) -> None:
    """A context carried to a thread (``context.attach``, as OpenTelemetry's threading instrumentation does): the
    thread's spans, kept for the open span they nest in, are sent with it. They were kept on a trace of the
    thread's own, which nothing ever sent: every such span was lost in otlp mode."""
    tracer = Tracer(service="svc")
    from opentelemetry import context as otel_context
    from opentelemetry import trace

    from lambda_tracer import otel

    otel.install()
    api = trace.get_tracer("app")

    @tracer.capture_method
    def in_thread_method() -> None:
        return None

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        with api.start_as_current_span("outer"):
            carried = otel_context.get_current()

            def work() -> None:
                token = otel_context.attach(carried)
                try:
                    if api_span:
                        with api.start_as_current_span("in thread"):
                            pass
                    else:
                        in_thread_method()
                finally:
                    otel_context.detach(token)

            worker = threading.Thread(target=work)
            worker.start()
            worker.join()

    sent, _, _ = _invoke(handler)
    spans = {span.name.rsplit(".", 1)[-1]: span for span in spans_in(sent)}
    inner = spans["in thread" if api_span else "in_thread_method"]
    assert inner.parent_span_id == spans["outer"].span_id
    assert sorted(spans) == sorted(["## handler", "outer", "in thread" if api_span else "in_thread_method"])


def test_a_generator_resumed_in_another_thread_sends_its_children(
    otlp_mode: None, generator_resumed_in_another_thread: Callable[[Tracer], Any]
) -> None:
    """A traced generator consumed by another thread: its children there are sent, under it (they hung under
    Lambda's segment: the thread's first read of the trace header emptied the stack the generator was put on)."""
    handler = generator_resumed_in_another_thread(Tracer(service="svc"))
    sent, _, _ = _invoke(handler)
    spans = spans_in(sent)
    [generator] = [span for span in spans if span.name.endswith(".rows")]
    steps = [span for span in spans if span.name.endswith(".step")]
    assert [span.parent_span_id for span in steps] == [generator.span_id] * 2


@pytest.mark.parametrize("list_first", [True, False])
@pytest.mark.parametrize("span_kind", ["handler", "method", "api"])
def test_a_key_listed_in_another_set_attribute_call_is_an_indexed_attribute(
    otlp_mode: None, list_first: bool, span_kind: str, annotation_listed_in_another_call: Callable[..., Any]
) -> None:
    """``aws.xray.annotations`` and the key it lists set in two ``set_attribute`` calls, in either order, on our own
    spans too: the key is an attribute listed in ``aws.xray.annotations``, which X-Ray's translator indexes. On ours
    the list, recorded alone, was dropped, and the key went into ``aws.xray.metadata.default``."""
    tracer = Tracer(service="svc")
    from opentelemetry import trace

    from lambda_tracer import otel

    otel.install()
    handler = annotation_listed_in_another_call(tracer, trace.get_tracer("app"), span_kind, list_first)
    for _ in range(2):  # the first invocation and a warm one
        sent, _, _ = _invoke(handler)
        spans = spans_in(sent)
        [span] = [span for span in spans if (span.name == "## handler") == (span_kind == "handler")]
        found = attributes(span)
        assert found["order_id"] == "o-1" and "order_id" in found["aws.xray.annotations"]
        assert "order_id" not in found.get("aws.xray.metadata.default", "")
        assert found.get("other", 2) == 2 and "order_id" not in found.get("aws.xray.metadata.default", "")


def test_an_attribute_named_events_and_the_spans_events_are_both_sent(otlp_mode: None) -> None:
    """A user attribute named ``events`` on a span started through the API, with events: the attribute is an
    attribute and the events are events. Both were recorded in ``default.events``: the events were merged into the
    attribute's list and sent as one JSON string attribute, with no event."""
    tracer = Tracer(service="svc")
    from opentelemetry import trace

    from lambda_tracer import otel

    otel.install()
    api = trace.get_tracer("app")

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        with api.start_as_current_span("listed") as span:
            span.set_attribute("events", ["a", "b"])
            span.add_event("step", {"n": 1})
        with api.start_as_current_span("text") as span:
            span.add_event("first", timestamp=float("inf"))  # no time: recorded when added (was 0)
            span.set_attribute("events", "some")
            span.add_event("second")

    sent, _, _ = _invoke(handler)
    spans = {span.name: span for span in spans_in(sent)}
    for span in spans.values():
        assert all(span.start_time_unix_nano <= at.time_unix_nano <= span.end_time_unix_nano for at in span.events)
    assert attributes(spans["listed"])["events"] == ["a", "b"]
    assert [(event.name, attributes(event)) for event in spans["listed"].events] == [("step", {"n": 1})]
    assert attributes(spans["text"])["events"] == "some"
    assert [event.name for event in spans["text"].events] == ["first", "second"]


@pytest.mark.parametrize("start_time", [1.7e18, 1.5, 10**30, float("inf")])
def test_an_odd_explicit_start_time_never_reaches_the_function(otlp_mode: None, start_time: Any) -> None:
    """A start time given to the OpenTelemetry API as a float (``time.time() * 1e9``) raised TypeError from the
    encoder into the function when the span ended; out of range, it made a span that ended before it started."""
    tracer = Tracer(service="svc")
    from opentelemetry import trace

    from lambda_tracer import otel

    otel.install()
    api = trace.get_tracer("app")

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> str:
        with api.start_as_current_span("timed", start_time=start_time):
            pass
        return "ok"

    sent, _, _ = _invoke(handler)  # raised before; every span kept to the OTLP rules
    [span] = [span for span in spans_in(sent) if span.name == "timed"]
    assert 946_684_800 * 10**9 <= span.start_time_unix_nano <= span.end_time_unix_nano


@pytest.mark.parametrize(
    ("event", "trigger"),
    [
        ({"httpMethod": "GET", "resource": "/x", "requestContext": {}}, "http"),
        ({"requestContext": {"http": {"method": "GET"}}, "routeKey": "GET /x"}, "http"),
        ({"requestContext": {"elb": {}}, "httpMethod": "GET"}, "http"),
        ({"Records": [{"eventSource": "aws:sqs"}]}, "pubsub"),
        ({"Records": [{"eventSource": "aws:dynamodb"}]}, "datasource"),
        ({"Records": [{"eventSource": "aws:unknown"}]}, "other"),
        ({"Records": [{"eventSource": None}]}, "other"),
        ({"source": "aws.scheduler", "detail-type": "x"}, "timer"),
        ({"source": "shop", "detail-type": "Paid"}, "pubsub"),
        # Kafka's and MQ's batches name their source once, at the top, with no Records (AWS's event examples).
        ({"eventSource": "aws:kafka", "bootstrapServers": "b-1:9092", "records": {"t-0": [{"topic": "t"}]}}, "pubsub"),
        ({"eventSource": "SelfManagedKafka", "bootstrapServers": "b-1:9092", "records": {}}, "pubsub"),
        ({"eventSource": "aws:mq", "eventSourceArn": "arn:aws:mq:us-east-1:1:broker:b", "messages": []}, "pubsub"),
        ({"eventSource": "aws:rmq", "rmqMessagesByQueue": {}}, "pubsub"),
        ({"eventSource": "aws:unknown"}, "other"),
        ({"eventSource": ["aws:kafka"]}, "other"),
        ({}, "other"),
        ("text", "other"),
        (None, None),
    ],
)
def test_the_trigger_of_an_event(event: Any, trigger: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "invocation", (event, None))
    assert otlp_spans._invocation([]) == trigger


def test_a_handler_span_carries_its_trigger_and_http_route(otlp_mode: None, monkeypatch: pytest.MonkeyPatch) -> None:
    tracer = Tracer(service="svc")
    event = {"httpMethod": "PUT", "resource": "/items/{id}", "path": "/items/secret-42", "requestContext": {}}

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        return None

    for _ in range(2):  # the cold invocation and a warm one (from the remembered block)
        sent, _, _ = _invoke(handler, event)
        found = attributes(spans_in(sent)[-1])
        assert (found["faas.trigger"], found["http.request.method"], found["http.route"]) == (
            "http",
            "PUT",
            "/items/{id}",
        )
        assert "secret-42" not in str(found)


def test_a_kafka_triggered_handler_span_is_pubsub_cold_and_warm(otlp_mode: None) -> None:
    """An MSK batch (``eventSource`` at the top, ``records`` by topic, no ``Records``) is ``pubsub``, as documented,
    on the cold invocation and on the warm ones (``export_span`` looks at no event without a key that may tell)."""
    tracer = Tracer(service="svc")
    event = {"eventSource": "aws:kafka", "eventSourceArn": "arn:aws:kafka:us-east-1:1:cluster/c/1", "records": {}}

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        return None

    for _ in range(3):
        sent, _, _ = _invoke(handler, event)
        assert attributes(spans_in(sent)[-1])["faas.trigger"] == "pubsub"


@pytest.mark.parametrize(
    "response",
    [
        {"a": "é ✓", "n": [1, 2.5, None, True], "nested": {"k": "v"}},
        'text with DEL \x7f and a quote "',
        {"statusCode": 200, "body": '{"items":[{"id":"a1"}]}', "headers": {"Content-Type": "application/json"}},
        list(range(300)),
    ],
)
def test_the_response_json_is_the_same_whether_spliced_or_encoded(otlp_mode: None, response: Any) -> None:
    """The handler's response, recorded with its JSON text (capture.response_metadata), is sent as that text:
    the same JSON xray mode's encoder writes for the namespace."""
    from lambda_tracer.backends import xray_documents

    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> Any:
        return response

    sent, _, _ = _invoke(handler)
    found = attributes(spans_in(sent)[-1])["aws.xray.metadata.svc"]
    assert found == xray_documents.dumps({"handler response": response})
    assert json.loads(found) == {"handler response": response}


def test_a_response_like_the_last_one_reuses_its_bytes_and_another_gets_its_own(otlp_mode: None) -> None:
    """The last response's attribute is remembered (``_spliced``): the same response again, then another one,
    another service's, and a long one (not from the tables) each decode to what that invocation returned."""
    responses = iter([{"ok": 1}, {"ok": 1}, {"ok": 2}, {"ok": 2}, "x" * 200, "x" * 200, {"ok": 1}])
    for service, count in (("svc", 3), ("other", 2), ("svc", 2)):
        tracer = Tracer(service=service)

        @tracer.capture_lambda_handler
        def handler(event: Any, context: Any) -> Any:
            return event  # the response: what this invocation was sent

        for _ in range(count):
            response = next(responses)
            sent, _, _ = _invoke(handler, response)
            found = attributes(spans_in(sent)[-1])
            assert json.loads(found[f"aws.xray.metadata.{service}"]) == {"handler response": response}


def test_a_warm_handler_span_is_sent_as_the_general_path_sends_it(
    otlp_mode: None, memory_sender: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``otlp.export_span``'s warm path (a handler span like the last one, written and sent in one pass) sends
    ``otlp._export``'s bytes: warm after cold, the same again, another response, request id (non-ASCII too),
    trigger, ARN, after a span kept on the trace (an AWS call: the pair's heads), a response beside other metadata,
    a span with a fault. Each sequence runs with the warm path and without it (every datagram compared), and the
    warm path is taken where it should be."""
    from types import SimpleNamespace

    from lambda_tracer import coldstart

    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    trace, _ = xray.current()
    arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    runtime = SimpleNamespace(_GLOBAL_AWS_REQUEST_ID="")
    monkeypatch.setattr(otlp_spans, "_runtime", runtime)
    request = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    trace_id, parent = bytes.fromhex("5759e988bd862e3fe1be46a994272793"), bytes.fromhex("53995c3f42cd8ad8")
    # (cold, ARN, event, response, request id, a span kept before it, other metadata, a fault), fast path expected
    cases = [
        ((True, arn, {}, {"ok": 1}, request, False, False, False), False),
        ((False, arn, {}, {"ok": 1}, request, False, False, False), True),
        ((False, arn, {"n": 1}, {"ok": 1}, request, False, False, False), True),
        ((False, arn, {}, {"ok": 2}, request[:-1] + "0", False, False, False), True),
        ((False, arn, {}, {"ok": 2}, request, True, False, False), False),  # the pair's heads made here
        ((False, arn, {}, {"ok": 2}, request, True, False, False), True),
        ((False, arn, {}, None, request, False, False, False), False),  # no response: other attributes
        ((False, arn, {}, None, request, False, False, False), True),
        ((False, arn, {}, {"ok": 3}, "short-id", False, False, False), False),
        ((False, arn, {"source": "aws.scheduler"}, {"ok": 3}, request, False, False, False), False),
        ((False, arn, {"source": "aws.scheduler"}, {"ok": 3}, request, False, False, False), True),
        ((False, arn + ":live", {"source": "aws.scheduler"}, {"ok": 3}, request, False, False, False), False),
        ((False, arn + ":live", {"source": "aws.scheduler"}, {"ok": 3}, request, False, True, False), False),
        ((False, arn + ":live", {"source": "aws.scheduler"}, {"ok": 3}, request, False, False, True), False),
        ((False, arn + ":live", {"source": "aws.scheduler"}, {"ok": 3}, request, False, False, False), False),  # heads
        ((False, arn + ":live", {"source": "aws.scheduler"}, {"ok": 3}, request, False, False, False), True),
        ((False, arn + ":live", {"source": "aws.scheduler"}, {"ok": 3}, request[:-2] + "é", False, False, False), True),
        (
            (
                False,
                arn + ":live",
                {"source": "aws.scheduler"},
                {"ok": 3},
                request[:-1] + "\ud800",
                False,
                False,
                False,
            ),
            False,
        ),
    ]
    taken: list[bool] = []
    general_path = otlp._export

    def counted(*args: Any) -> None:
        taken[-1] = False
        general_path(*args)

    def run(export: Any) -> list[bytes]:
        memory_sender.clear()
        taken.clear()
        for number, ((cold, invoked, event, response, request_id, kept, metadata, fault), _) in enumerate(cases):
            runtime._GLOBAL_AWS_REQUEST_ID = request_id
            context = SimpleNamespace(invoked_function_arn=invoked, aws_request_id=request_id)
            monkeypatch.setattr(backends, "invocation", (event, context))
            span = xray.XRaySpan("## handler", trace, str(trace.parent))
            span.id, span.start_us = f"{number + 1:016x}", 1_700_000_000_000_000 + number
            recorded, written = coldstart._written(cold, "svc", False, "on-demand", False)
            span.annotate_all(dict(recorded), written)
            if metadata:
                span.add_metadata("svc", "inputs", [1])
            if response is not None:
                span.add_encoded_metadata("svc", "handler response", response, json.dumps(response))
            if fault:
                span.fault = True
            if kept:  # an AWS call's span, kept on the trace until the handler's ends
                start = span.start_us * 1000 + 10
                call = _span(
                    trace_id,
                    bytes((0xC0, number, 1, 2, 3, 4, 5, 6)),
                    parent,
                    "s3",
                    proto.CLIENT,
                    start,
                    start + 5,
                    {},
                    [],
                )
                otlp._keep(trace, [call])
            span.ended = True
            taken.append(True)
            export(span, span.start_us + 1234)
        return memory_sender.datagrams()

    general = run(lambda span, end_us: general_path(span, span.trace, end_us))
    monkeypatch.setattr(otlp, "_export", counted)
    assert run(otlp.export_span) == general and len(general) == len(cases)
    assert taken == [expected for _, expected in cases]


@pytest.mark.parametrize("size", [10, 125, 300])
def test_a_span_then_the_handlers_reuse_the_heads_and_each_datagram_decodes_to_its_own(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler's span after one other (an AWS call) takes the last such pair's heads when both lengths are the
    same (``_pair``): each body is the request of its own spans, whatever the lengths did before."""
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    trace, _ = xray.current()
    prefix = otlp.request_prefix()
    for name, response in (("a", 1), ("b", 2), ("c", 3), ("d", 10), ("e", 20), ("f", 30)):
        span = xray.XRaySpan("## handler", trace, str(trace.parent))
        span.annotate_all({"ColdStart": False}, ',"annotations":{"ColdStart":false}')
        span.add_encoded_metadata("svc", "handler response", response, str(response))
        handler = otlp_spans._own(span, trace, span.start_us + 5)
        assert handler is not None
        for other in (name * size, name * size, name * (size + 1)):
            spans = [_span(b"\x01" * 16, b"\x02" * 8, b"", other, proto.INTERNAL, 1, 2, {}, []), handler]
            body = base64.b64decode(otlp.udp_body(prefix, spans), validate=True)
            assert ExportTraceServiceRequest.FromString(body) == ExportTraceServiceRequest.FromString(
                otlp_split.request(prefix, spans)
            )


def _fields(data: bytes) -> dict[str, Any]:
    """A span's fields as a reader sees them (attributes as a map: their order carries no meaning)."""
    span = Span.FromString(data)
    return {
        "ids": (span.trace_id, span.span_id, span.parent_span_id),
        "name": span.name,
        "kind": span.kind,
        "times": (span.start_time_unix_nano, span.end_time_unix_nano),
        "attributes": attributes(span),
        "events": [(event.time_unix_nano, event.name, attributes(event)) for event in span.events],
        "status": (span.status.code, span.status.message),
        "flags": span.flags,
    }


@pytest.mark.parametrize("namespace", ["local", "aws"])
def test_a_failure_of_a_common_shape_has_the_fields_otlp_documents_gives_it(
    namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written by ``_own`` and ``failure`` (no otlp_documents import at a cold start for init's failed imports),
    a failed span has exactly the fields of the general path: the child's exception, its parent's (the same
    exception, pointed at by record id), a fault without a cause."""
    from lambda_tracer.backends import otlp_documents

    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    trace, _ = xray.current()
    parent = xray.XRaySpan("parent", trace, str(trace.parent))
    child = xray.XRaySpan("child", trace, parent.id, namespace)
    if namespace == "aws":
        child.aws = {"operation": "GetItem", "region": "us-east-1", "request_id": "R1", "retries": 0}
        child.http = {"response": {"status": 200, "content_length": 12}}
    child.add_metadata("svc", "inputs", {"a": [1, "x"]})
    try:
        raise ValueError("boom ✓")
    except ValueError as error:
        child.record_exception(error)
        parent.record_exception(error)
    faulty = xray.XRaySpan("faulty", trace, parent.id)
    faulty.fault = True
    assert isinstance(parent.cause, str)  # the child's record, by id
    for span in (child, parent, faulty):
        end_us = span.start_us + 1234
        own = otlp_spans._own(span, trace, end_us)
        assert own is not None
        written = own + otlp_calls.failure(span.cause, end_us * 1000, True)
        general = otlp_documents.from_span(span, trace, end_us)
        assert _fields(written) == _fields(general), span.name
        assert _fields(written)["status"][0] == Status.STATUS_CODE_ERROR
    assert [name for _, name, _ in _fields(written)["events"]] == []  # a fault without a cause: no event


@pytest.mark.parametrize(("first", "second"), [(1, True), (True, 1), (0.0, -0.0), (-0.0, 0.0)])
def test_an_aws_call_block_is_remembered_only_for_the_same_value_and_type(
    first: Any, second: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ``rpc.*``/``aws.*`` block ``_aws_attributes`` remembers by service, operation and region is never
    another call's whose values compare equal (escape hatch values): True and 1, -0.0 and 0.0 are not the same
    attribute. Each call's ``aws.operation`` and ``cloud.region`` are its own value, with its type and sign."""
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272795;Parent=53995c3f42cd8ad8;Sampled=1")
    trace, _ = xray.current()
    for value in (first, second):
        span = xray.XRaySpan("s3", trace, str(trace.parent), "aws")
        span.aws = {"operation": value, "region": value, "retries": 0}
        encoded = otlp_spans._own(span, trace, span.start_us + 10)
        assert encoded is not None
        found = {item.key: item.value for item in Span.FromString(encoded).attributes}
        for key in ("aws.operation", "cloud.region"):
            kind = found[key].WhichOneof("value")
            assert kind == {bool: "bool_value", int: "int_value", float: "double_value"}[type(value)], (key, value)
            written = getattr(found[key], kind)
            assert written == value and math.copysign(1, written) == math.copysign(1, value), (key, value)


@pytest.mark.parametrize("values", [(0.0, -0.0), (-0.0, 0.0), (1, True, 1.0), (0, False, -0.0, 0.0)])
def test_annotations_equal_to_the_last_ones_but_of_another_sign_or_type_are_each_their_own(
    otlp_mode: None, values: tuple[Any, ...]
) -> None:
    """The handler's and a ``capture_method``'s encoded annotations are remembered by what they encode: a value that
    compares equal to the last one's (-0.0 and 0.0, True and 1 and 1.0) is sent as recorded, with its type and sign,
    as xray mode's JSON writes it."""
    tracer = Tracer(service="svc")
    given = iter(values)

    @tracer.capture_method
    def inner(value: Any) -> None:
        tracer.put_annotation("n", value)

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        value = next(given)
        tracer.put_annotation("n", value)
        inner(value)

    for value in values:
        sent, _, _ = _invoke(handler)
        spans = spans_in(sent)
        assert len(spans) == 2
        for span in spans:
            [found] = [item.value for item in span.attributes if item.key == "n"]
            kind = found.WhichOneof("value")
            assert kind == {bool: "bool_value", int: "int_value", float: "double_value"}[type(value)], span.name
            written = getattr(found, kind)
            assert written == value and math.copysign(1, written) == math.copysign(1, value), (span.name, value)


def test_init_spans_reach_the_datagram_in_the_order_they_ended(
    otlp_mode: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tree of past spans (init's imports: plain ones, one with metadata, one that failed, which takes the general
    path) is sent when its root ends, every span once, in the order they ended, children under their parents."""
    daemon = lambda_env.sink()
    first = len(daemon.datagrams())
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272794;Parent=53995c3f42cd8ad8;Sampled=1")
    trace, _ = xray.current()
    root = xray.PastSpan("## init", trace, str(trace.parent), 1_700_000_000.0, None)
    ended = []
    for index in range(3):
        parent = root.child_at(f"import pkg{index}", 1_700_000_000.1)
        for leaf in range(2):
            child = parent.child_at(f"import pkg{index}.m{leaf}", 1_700_000_000.2)
            if index == 1 and leaf == 0:
                try:
                    raise ImportError("no module")
                except ImportError as error:
                    child.record_exception(error)
                    child.end_at(1_700_000_000.3, error)
            else:
                if index == 2:
                    child.add_metadata("init", "size", leaf)
                child.end_at(1_700_000_000.3)
            ended.append(child)
        parent.end_at(1_700_000_000.4)
        ended.append(parent)
    assert daemon.datagrams(first) == []  # nothing sent before the root ends
    root.end_at(1_700_000_000.5)
    ended.append(root)
    daemon.sync()
    sent = spans_in(daemon.datagrams(first))
    assert [span.name for span in sent] == [span.name for span in ended]
    assert [span.span_id.hex() for span in sent] == [span.id for span in ended]
    failed = sent[3]
    assert failed.name == "import pkg1.m0" and failed.status.code == Status.STATUS_CODE_ERROR
    assert [span.parent_span_id.hex() for span in sent] == [span.parent_id for span in ended]
    assert json.loads(attributes(sent[6])["aws.xray.metadata.init"]) == {"size": 0}


def _init_tree(error: BaseException) -> list[Any]:
    """Finished spans as init_trace hands them to ``add_finished``: nested, one that raised (with a child), a long
    name and one that ends before it starts."""
    base = 1_700_000_000.0
    return [
        ("import a", base + 0.1, base + 0.2, None, [("import a.b", base + 0.11, base + 0.15, None, [])]),
        ("import bad", base + 0.3, base + 0.4, error, [("import bad.ok", base + 0.31, base + 0.32, None, [])]),
        ("import " + "z" * 200, base + 0.5, base + 0.5, None, []),
        ("import c", base + 0.6, base + 0.59, None, []),  # ends before it starts: ends at its start
    ]


@pytest.mark.parametrize("sampled", ["1", "0"])
def test_init_spans_written_in_one_pass_are_those_the_general_path_writes(
    otlp_mode: None, sampled: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``otlp.add_finished`` (PastSpan.add_finished in otlp mode) sends what ``child_at``, ``record_exception`` and
    ``end_at`` send for the same tree: the same spans, fields and order, ids aside (random, drawn otherwise)."""
    daemon = lambda_env.sink()
    found = []
    for one_pass in (True, False):
        first = len(daemon.datagrams())
        monkeypatch.setenv(
            "_X_AMZN_TRACE_ID",
            f"Root=1-5759e988-bd862e3fe1be46a99427279{int(one_pass)};Parent=53995c3f42cd8ad8;Sampled={sampled}",
        )
        trace, _ = xray.current()
        root = xray.PastSpan("## init", trace, str(trace.parent), 1_700_000_000.0, None)
        try:
            raise ImportError("no module named bad")
        except ImportError as error:
            tree = _init_tree(error)
        if one_pass:
            root.add_finished(tree)
        else:
            backends.BackendSpan.add_finished(root, tree)
        root.end_at(1_700_000_001.0)
        daemon.sync()
        sent = spans_in(daemon.datagrams(first))
        ids = {span.span_id: index for index, span in enumerate(sent)}
        found.append(
            [
                {**_fields(span.SerializeToString()), "ids": ids.get(span.parent_span_id, span.parent_span_id.hex())}
                for span in sent
            ]
        )
    assert found[0] == found[1]
    names = [span["name"] for span in found[0]]
    assert names == [
        "import a.b",
        "import a",
        "import bad.ok",
        "import bad",
        "import " + "z" * 200,
        "import c",
        "## init",
    ]
    assert found[0][3]["status"][0] == Status.STATUS_CODE_ERROR
    assert found[0][0]["ids"] == 1 and found[0][1]["ids"] == 6  # a.b under a, a under ## init


def _hold_first_keeping(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """otlp._lock replaced by one that holds the first worker thread to take it (its first keeping) until released:
    (waiting, set once that thread is held; released, to be set to let it go on)."""
    waiting, released = threading.Event(), threading.Event()
    real = otlp._lock

    class HeldLock:
        """otlp._lock, holding the worker at its first keeping until the handler has ended."""

        def __enter__(self) -> None:
            if threading.current_thread() is not threading.main_thread() and not waiting.is_set():
                waiting.set()
                released.wait(timeout=30)
            real.acquire()

        def __exit__(self, *exc: object) -> None:
            real.release()

    monkeypatch.setattr(otlp, "_lock", HeldLock())
    return waiting, released


def _sent_with_the_handler_ending_before_the_worker_keeps(
    tracer: Tracer, background: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> list[bytes]:
    """The datagrams sent when the handler starts ``background`` in a thread (in its context), which sees the handler
    open and is held just before it keeps what it ended (``_hold_first_keeping``) until the handler has ended; then it
    goes on and is joined."""
    import contextvars

    waiting, released = _hold_first_keeping(monkeypatch)
    workers: list[threading.Thread] = []

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        worker = threading.Thread(target=contextvars.copy_context().run, args=(background,))
        workers.append(worker)
        worker.start()
        assert waiting.wait(timeout=30)  # the worker saw the handler open and is about to keep what it ended

    daemon = lambda_env.sink()
    first = len(daemon.datagrams())
    _invoke(handler)
    released.set()
    workers[0].join()
    daemon.sync()
    return daemon.datagrams(first)


def test_a_span_kept_for_a_handler_ending_meanwhile_in_another_thread_is_sent(
    otlp_mode: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread's span ends while the handler it was started under is open, so it is kept for the handler's batch;
    the handler ends (in its own thread) before the span is put on the batch. The handler's end found no batch and
    sent its span alone: the thread's span stayed on the batch, never sent. (A barrier holds the thread between its
    look at the handler and its keeping, where a thread switch may fall.)"""
    tracer = Tracer(service="svc")

    @tracer.capture_method
    def background() -> None:
        return None

    sent = _sent_with_the_handler_ending_before_the_worker_keeps(tracer, background, monkeypatch)
    names = [span.name.rsplit(".", 1)[-1] for span in spans_in(sent)]
    assert sorted(names) == ["## handler", "background"]


def test_span_names_given_through_the_otel_api_are_masked_in_otlp_too(otlp_mode: None) -> None:
    from opentelemetry import trace

    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        with trace.get_tracer("tests.otlp").start_as_current_span("GET https://h/x?token=t-otlp-77") as span:
            span.update_name("GET https://ann:pw-otlp-77@h/x?sig=s-otlp-77")

    sent, _, _ = _invoke(handler)
    names = sorted(span.name for span in spans_in(sent))
    assert names == ["## handler", "GET https://ann:[REDACTED]@h/xsig=[REDACTED]"]
    assert b"otlp-77" not in b"".join(decode(datagram)[1].SerializeToString() for datagram in sent)


def test_sql_statements_that_set_a_password_are_masked_in_otlp_too(otlp_mode: None) -> None:
    from opentelemetry import trace

    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        attributes = {"db.system.name": "postgresql", "db.query.text": "CREATE USER app WITH PASSWORD 'pw-otlp-88'"}
        with trace.get_tracer("tests.otlp").start_as_current_span("db", kind=trace.SpanKind.CLIENT) as span:
            span.set_attributes(attributes)

    sent, _, _ = _invoke(handler)
    [db] = [span for span in spans_in(sent) if span.name == "db"]
    assert attributes(db)["db.query.text"] == "CREATE USER app WITH PASSWORD '[REDACTED]'"
    assert b"otlp-88" not in b"".join(decode(datagram)[1].SerializeToString() for datagram in sent)


def test_an_api_spans_url_is_sent_without_its_query_and_fragment(otlp_mode: None) -> None:
    """``url.full`` of a CLIENT span started through the API is the ``http`` block's URL, as for our own HTTP calls:
    the attribute recorded whole (query string and fragment: tokens) replaced it in the span sent."""
    from opentelemetry import trace

    tracer = Tracer(service="svc")
    url = "https://api.example.com/v1/login?t=magic-88&lang=en#state=st-88"

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        attributes = {"http.request.method": "GET", "url.full": url}
        api = trace.get_tracer("tests.otlp")
        with api.start_as_current_span("call", kind=trace.SpanKind.CLIENT, attributes=attributes):
            pass

    sent, _, _ = _invoke(handler)
    [call] = [span for span in spans_in(sent) if span.name == "call"]
    assert attributes(call)["url.full"] == "https://api.example.com/v1/login"
    assert attributes(call)["server.address"] == "api.example.com"
    assert b"-88" not in b"".join(decode(datagram)[1].SerializeToString() for datagram in sent)


def test_attribute_keys_are_masked_in_otlp_too(otlp_mode: None) -> None:
    from opentelemetry import trace

    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        with trace.get_tracer("tests.otlp").start_as_current_span("fetch") as span:
            span.set_attribute("https://ann:pw-key-88@h/x", 1)

    sent, _, _ = _invoke(handler)
    [fetch] = [span for span in spans_in(sent) if span.name == "fetch"]
    assert attributes(fetch) == {"https://ann:[REDACTED]@h/x": "[REDACTED]"}  # the key names a password
    assert b"pw-key-88" not in b"".join(decode(datagram)[1].SerializeToString() for datagram in sent)


def test_a_document_kept_for_a_handler_ending_meanwhile_in_another_thread_is_sent(
    otlp_mode: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``_queue``'s look-then-keep (an X-Ray SDK subsegment's document, through the escape hatch, in a thread): the
    thread sees the handler open, the handler ends before the document is put on the batch. The handler's end found
    no batch and sent its span alone; the document stayed on the batch, never sent. (The same barrier:
    ``_hold_first_keeping``.)"""
    tracer = Tracer(service="svc")

    def background() -> None:
        with tracer.provider.in_subsegment("## block"):
            pass

    sent = _sent_with_the_handler_ending_before_the_worker_keeps(tracer, background, monkeypatch)
    names = [span.name for span in spans_in(sent)]
    assert sorted(names) == ["## block", "## handler"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork")
def test_a_forked_child_builds_its_own_resource(otlp_mode: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The resource (``faas.instance``: the log stream) is encoded once per sandbox; a forked child is a sandbox of
    its own, as xray mode has it (its cold start, socket and ids are renewed at the fork): its resource is built from
    its environment, not kept from the parent's (as after a SnapStart restore)."""
    monkeypatch.setenv("AWS_LAMBDA_LOG_STREAM_NAME", "parent-stream")
    parent = otlp.request_prefix()

    def child() -> bytes:
        os.environ["AWS_LAMBDA_LOG_STREAM_NAME"] = "worker-stream"
        return otlp.request_prefix()[0]

    def instance(resource_field: bytes) -> Any:
        return attributes(ResourceSpans.FromString(resource_field).resource)["faas.instance"]

    assert instance(parent[0]) == "parent-stream"
    assert instance(in_forked_child(child)) == "worker-stream"
    assert otlp.request_prefix() is parent


def test_an_exception_recorded_without_an_error_status_is_an_event_on_a_span_not_failed(otlp_mode: None) -> None:
    """``set_status_on_exception=False``: the span keeps status UNSET with its ``exception`` event, as the SDK sends
    it (it was sent as ERROR, with ``error.type``)."""
    from opentelemetry import trace

    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        try:
            with trace.get_tracer("tests.otlp").start_as_current_span("lookup", set_status_on_exception=False):
                raise KeyError("missing")
        except KeyError:
            pass

    sent, _, _ = _invoke(handler)
    [lookup] = [span for span in spans_in(sent) if span.name == "lookup"]
    assert lookup.status.code == Status.STATUS_CODE_UNSET and "error.type" not in attributes(lookup)
    [event] = lookup.events
    assert event.name == "exception" and attributes(event)["exception.type"] == "KeyError"


def test_an_api_spans_events_beyond_the_capture_limit_together_are_each_sent(otlp_mode: None) -> None:
    """An OpenTelemetry API span's events were bounded together as one metadata value (16 KB by default): past it
    they became a truncation marker, which is no list of events, so none was sent and nothing said so (128 retries
    with a short detail each were enough). Each event is bounded on its own: every one is sent, one too big with
    its attributes replaced by the marker."""
    from opentelemetry import trace

    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        with trace.get_tracer("tests.otlp").start_as_current_span("send") as span:
            for attempt in range(128):
                span.add_event(f"retry {attempt}", {"attempt": attempt, "detail": "d" * 120})
        with trace.get_tracer("tests.otlp").start_as_current_span("huge") as span:
            span.add_event("page password=pw-ev-99", {"body": "b" * 100_000})

    sent, _, _ = _invoke(handler)
    spans = {span.name: span for span in spans_in(sent)}
    events = spans["send"].events
    assert [event.name for event in events] == [f"retry {attempt}" for attempt in range(128)]
    assert attributes(events[127]) == {"attempt": 127, "detail": "d" * 120}
    [page] = spans["huge"].events
    assert page.name == "page password=[REDACTED]" and attributes(page)["truncated"] is True
    assert b"pw-ev-99" not in b"".join(decode(datagram)[1].SerializeToString() for datagram in sent)


def test_a_large_api_span_keeps_its_kind_attributes_and_events_while_they_fit(otlp_mode: None) -> None:
    """An OpenTelemetry API span over half a datagram was written again from its X-Ray document: its attributes
    went as ``aws.xray.metadata.default`` JSON, its kind became INTERNAL (CONSUMER) or CLIENT (PRODUCER), its events
    were dropped, with no word of it when it had no attributes. It is sent as a smaller one is while it fits; one
    too big loses its attributes first (the marker says so), then its events, never its kind."""
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    tracer = Tracer(service="svc")
    api = trace.get_tracer("tests.otlp")

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        for name, count in (("large", 10), ("too large", 40)):
            with api.start_as_current_span(name, kind=SpanKind.CONSUMER) as span:
                span.add_event("received")
                span.set_attributes({f"part {index}": "p" * 4000 for index in range(count)})
        with api.start_as_current_span("many events", kind=SpanKind.PRODUCER) as span:
            for attempt in range(128):
                span.add_event(f"retry {attempt}", {"detail": "d" * 1000})

    sent, _, _ = _invoke(handler)
    spans = {span.name: span for span in spans_in(sent)}
    large, too_large, many = spans["large"], spans["too large"], spans["many events"]
    assert large.kind == too_large.kind == Span.SPAN_KIND_CONSUMER and many.kind == Span.SPAN_KIND_PRODUCER
    assert attributes(large) == {f"part {index}": "p" * 4000 for index in range(10)}
    assert [event.name for event in large.events] == [event.name for event in too_large.events] == ["received"]
    for span in (too_large, many):
        assert json.loads(attributes(span)["aws.xray.metadata.lambda_tracer"])["truncated"] is True
    assert list(many.events) == []


@pytest.mark.parametrize("exporter", ["xray", "otlp"])
@pytest.mark.parametrize(
    "codes", [("OK", "ERROR"), ("ERROR", "OK"), ("ERROR", "UNSET"), ("UNSET", "ERROR"), ("OK", "UNSET", "ERROR")]
)
def test_a_status_set_through_the_api_follows_the_sdks_rule_on_every_span(
    exporter: str, codes: tuple[str, ...], request: pytest.FixtureRequest
) -> None:
    """opentelemetry-sdk's ``Span.set_status`` ignores UNSET and anything after OK. On our own spans (the
    handler's and a ``capture_method``'s, through ``trace.get_current_span()``) every ERROR made a fault and OK
    changed nothing: OK then ERROR was a fault, ERROR then OK stayed one. The SDK's own span says what is expected;
    xray mode's fault and otlp mode's status (OK is sent as UNSET) both follow it."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import StatusCode

    if exporter == "otlp":
        request.getfixturevalue("otlp_mode")
    reference = TracerProvider().get_tracer("reference").start_span("reference", context=trace.Context())
    for code in codes:
        reference.set_status(StatusCode[code])
    failed = reference.status.status_code is StatusCode.ERROR
    tracer = Tracer(service="svc")

    def set_all(span: trace.Span) -> None:
        for code in codes:
            span.set_status(StatusCode[code])

    @tracer.capture_method
    def method() -> None:
        set_all(trace.get_current_span())

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        set_all(trace.get_current_span())
        method()
        with trace.get_tracer("tests.otlp").start_as_current_span("api") as span:
            set_all(span)

    call = lambda_env.invoke(handler, expect=3)
    assert call.error is None, call.error
    sent = {doc["name"].rsplit(".", 1)[-1]: doc for doc in subsegments(call.documents)}
    assert set(sent) == {"## handler", "method", "api"}
    for doc in sent.values():
        assert doc.get("fault", False) is failed, doc["name"]
        if exporter == "otlp":
            assert doc["otlp"]["status"]["code"] == ("ERROR" if failed else "UNSET"), doc["name"]


#: URLs whose credentials are longer than the URL mask used to look (256 characters of a password holding ``?``, of a
#: user before one, 512 of a user part without): each password holds ``pw-long`` at its start and its end.
LONG_CREDENTIALS = [
    "http://app:pw-long?" + "s" * 300 + "pw-long@{host}/x",
    "http://" + "u" * 300 + ":pw-long?spw-long@{host}/x",
    "http://app:pw-long" + "s" * 600 + "pw-long@{host}/x",
    "http://pw-long" + "s" * 600 + "pw-long@{host}/x",
]


@pytest.mark.parametrize("exporter", ["xray", "otlp"])
@pytest.mark.parametrize("template", LONG_CREDENTIALS)
def test_long_url_credentials_are_masked_whole_in_the_url_and_in_messages(
    request: pytest.FixtureRequest, exporter: str, template: str
) -> None:
    """A request line holding a whole URL (through a proxy) with long credentials, and an exception quoting it: the
    recorded URL (``http.request.url``, OTLP's ``url.full``) and the exception's message keep none of the password.
    The URL mask looked 256 characters into a password holding ``?`` (a generated one, unencoded in a DSN): past
    that, the URL cut at its ``?`` kept the user and the password's start, the message the whole password."""
    if exporter == "otlp":
        request.getfixturevalue("otlp_mode")
    with serving(QuietHandler) as port:
        url = template.format(host=f"127.0.0.1:{port}")
        tracer = Tracer(service="svc", patch_modules=["httplib"])

        @tracer.capture_lambda_handler
        def handler(event: Any, context: Any) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port)
            try:
                connection.request("GET", url)
                connection.getresponse().read()
            finally:
                connection.close()
            raise ConnectionError(f"no answer from {url}")

        if exporter == "otlp":
            with pytest.raises(ConnectionError):
                _invoke(handler)
            spans = spans_in(lambda_env.sink().datagrams())
            [call] = [span for span in spans if "url.full" in attributes(span)]
            recorded = attributes(call)["url.full"]
            [handler_span] = [span for span in spans if span.name.endswith("## handler")]
            message = attributes(handler_span.events[0])["exception.message"]
        else:
            documents = lambda_env.invoke(handler, expect=2).documents
            [call_doc] = [d for d in documents if d.get("namespace") == "remote"]
            recorded = call_doc["http"]["request"]["url"]
            [handler_doc] = [d for d in documents if d["name"] == "## handler"]
            message = handler_doc["cause"]["exceptions"][0]["message"]
    assert "pw-long" not in recorded and recorded.endswith(f"@127.0.0.1:{port}/x")
    assert "pw-long" not in message and message.endswith(f"@127.0.0.1:{port}/x")
