"""The ``otlp`` exporter on functions that call out: boto3 and HTTP calls as CLIENT spans, secrets redacted,
unsampled invocations, OTLP/HTTP to a collector, the 64 KB split, and an exporter name not understood."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from http_stub import QuietHandler, serving
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from lambda_tracer_local.runtime import LocalLambda

from .otlp_support import HEADER, OTLP_ENV, attributes, by_name, decode, invoke, spans_of, trace_bytes
from .support import write_function

SECRET = "hunter2-s3cr3t-value"
CALLS = """
import boto3
import requests

s3 = boto3.client("s3")

def handler(event, context):
    buckets = s3.list_buckets()["Buckets"]
    page = requests.get(event["url"] + "/page?token=SECRET").json()
    if event.get("missing"):
        requests.get(event["url"] + "/missing")
    return {"buckets": buckets, "page": page, "password": "SECRET", "note": "api_key=SECRET"}
""".replace("SECRET", SECRET)
IN_CODE_CALLS = """
import boto3
import requests
from lambda_tracer import Tracer

tracer = Tracer(service="orders")
s3 = boto3.client("s3")

@tracer.capture_method
def fetch(url):
    return requests.get(url + "/page").json()

@tracer.capture_lambda_handler
def handler(event, context):
    return {"buckets": s3.list_buckets()["Buckets"], "page": fetch(event["url"])}
"""


class _Stub(QuietHandler):
    """S3 ListBuckets, JSON pages, a 404; the trace headers of each request kept by path."""

    headers_seen: ClassVar[dict[str, dict[str, str]]] = {}

    def do_GET(self) -> None:
        type(self).headers_seen[self.path.split("?")[0]] = dict(self.headers)
        if self.path.startswith("/page"):
            self.reply(200, b'{"ok": true}')
        elif self.path.startswith("/missing"):
            self.reply(404, b'{"error": "no"}')
        else:
            body = b"<ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>"
            self.reply(200, body, "application/xml")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with serving(_Stub) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("mode", ["zero-code", "in-code"])
def test_aws_and_http_calls_are_client_spans_with_the_conventions(
    mode: str, layer_dir: Path, tmp_path: Path, endpoint: str
) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": CALLS if mode == "zero-code" else IN_CODE_CALLS})
    env = {**OTLP_ENV, "AWS_ENDPOINT_URL": endpoint, "LAMBDA_TRACER_PROPAGATORS": "xray"}
    with LocalLambda(fn_dir, opt_dirs=[layer_dir], wrapper=mode == "zero-code", env=env) as fn:
        inv, datagrams = invoke(fn, {"url": endpoint, "missing": True})
    assert inv.status == "response", inv.output
    assert len(datagrams) == 1
    spans = spans_of(datagrams)
    handler = by_name(spans, "## handler")
    s3 = by_name(spans, "s3")
    [page] = [span for _, _, span in spans if attributes(span).get("url.full", "").endswith("/page")]
    assert s3.kind == page.kind == Span.SPAN_KIND_CLIENT
    parent = by_name(spans, "## app.fetch") if mode == "in-code" else handler
    assert s3.parent_span_id == handler.span_id and page.parent_span_id == parent.span_id
    aws = attributes(s3)
    assert {key: aws[key] for key in ("rpc.system", "rpc.service", "rpc.method", "aws.operation")} == {
        "rpc.system": "aws-api",
        "rpc.service": "s3",
        "rpc.method": "ListBuckets",
        "aws.operation": "ListBuckets",
    }
    assert aws["cloud.region"] == aws["aws.region"] == "us-east-1"
    assert aws["http.response.status_code"] == 200 and aws["aws.xray.retries"] == 0
    assert s3.status.code == Status.STATUS_CODE_UNSET
    http = attributes(page)
    host, port = endpoint.removeprefix("http://").split(":")
    assert http["http.request.method"] == "GET"
    assert http["url.full"] == f"{endpoint}/page"  # the query string (a token) is never recorded
    assert (http["server.address"], http["server.port"]) == (host, int(port))
    assert http["http.response.status_code"] == 200
    assert page.name == host
    # The outgoing header names the CLIENT span, so the callee joins the trace under it.
    seen = _Stub.headers_seen["/page"]
    assert seen["X-Amzn-Trace-Id"] == f"Root={inv.trace_id};Parent={page.span_id.hex()};Sampled=1"
    if mode == "zero-code":
        [missing] = [span for _, _, span in spans if attributes(span).get("url.full", "").endswith("/missing")]
        found = attributes(missing)
        assert missing.status.code == Status.STATUS_CODE_ERROR
        assert (found["http.response.status_code"], found["error.type"]) == (404, "404")


def test_a_secret_in_the_response_is_redacted_in_the_otlp_span(layer_dir: Path, tmp_path: Path, endpoint: str) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": CALLS})
    env = {**OTLP_ENV, "AWS_ENDPOINT_URL": endpoint, "POWERTOOLS_SERVICE_NAME": "svc"}
    with LocalLambda(fn_dir, opt_dirs=[layer_dir], env=env) as fn:
        inv, datagrams = invoke(fn, {"url": endpoint})
    assert inv.payload["password"] == SECRET  # the caller gets it; the trace does not
    response = json.loads(attributes(by_name(spans_of(datagrams), "## handler"))["aws.xray.metadata.svc"])
    recorded = response["handler response"]
    assert recorded["password"] != SECRET and SECRET not in recorded["note"]
    for datagram in datagrams:
        raw = base64.b64decode(datagram[len(HEADER) + 3 :])
        assert SECRET.encode() not in raw and SECRET.encode() not in datagram


def test_an_unsampled_invocation_sends_nothing_by_default_and_t1u_when_asked(
    layer_dir: Path, tmp_path: Path, endpoint: str
) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": CALLS})
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
    env = {**OTLP_ENV, "AWS_ENDPOINT_URL": endpoint}
    with LocalLambda(fn_dir, opt_dirs=[layer_dir], env=env) as fn:
        inv, datagrams = invoke(fn, {"url": endpoint}, trace_header=header)
    assert inv.status == "response" and datagrams == []
    assert "X-Amzn-Trace-Id" not in _Stub.headers_seen["/page"]

    header = header.replace("bd86", "cd86")
    with LocalLambda(fn_dir, opt_dirs=[layer_dir], env={**env, "LAMBDA_TRACER_OTLP_UNSAMPLED": "true"}) as fn:
        inv, datagrams = invoke(fn, {"url": endpoint}, trace_header=header)
    assert inv.status == "response"
    assert [decode(datagram)[0] for datagram in datagrams] == ["T1U"]
    spans = spans_of(datagrams)
    assert {span.name for _, _, span in spans} >= {"## handler", "s3"}
    for _, _, span in spans:
        assert span.flags & 1 == 0 and span.trace_id == trace_bytes("1-5759e988-cd862e3fe1be46a994272793")
    # Recorded for Transaction Search, but no header goes out without a sampled trace.
    seen = _Stub.headers_seen["/page"]
    assert "X-Amzn-Trace-Id" not in seen and "traceparent" not in seen


def test_otlp_http_to_a_local_collector_instead_of_udp(layer_dir: Path, tmp_path: Path, endpoint: str) -> None:
    posted: list[tuple[str, str, bytes]] = []
    arrived = threading.Event()

    class Collector(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            posted.append((self.path, self.headers["Content-Type"], body))
            self.reply(200, b"", "application/x-protobuf")
            arrived.set()

    fn_dir = write_function(tmp_path / "fn", {"app.py": CALLS})
    with serving(Collector) as port:
        env = {**OTLP_ENV, "AWS_ENDPOINT_URL": endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"}
        with LocalLambda(fn_dir, opt_dirs=[layer_dir], env=env) as fn:
            inv, datagrams = invoke(fn, {"url": endpoint})
    assert inv.status == "response" and datagrams == []
    assert arrived.is_set()  # posted before the function answered
    [(path, content_type, body)] = posted
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    spans = ExportTraceServiceRequest.FromString(body).resource_spans[0].scope_spans[0].spans
    assert sorted(span.name for span in spans) == sorted(["## handler", "s3", "127.0.0.1"])
    assert all(span.trace_id == trace_bytes(str(inv.trace_id)) for span in spans)


MANY_SPANS = """
import os
from lambda_tracer import Tracer

tracer = Tracer(service="big")

@tracer.capture_method
def step(n):
    return f"{n}:" + os.urandom(8000).hex()

@tracer.capture_lambda_handler
def handler(event, context):
    return [len(step(n)) for n in range(event["n"])]
"""


def test_a_batch_beyond_64_kb_is_split_across_datagrams(layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": MANY_SPANS})
    with LocalLambda(fn_dir, env=OTLP_ENV, opt_dirs=[layer_dir], wrapper=False) as fn:
        inv, datagrams = invoke(fn, {"n": 12})
    assert inv.status == "response"
    assert len(datagrams) >= 3 and all(len(datagram) <= 64_000 for datagram in datagrams)
    spans = spans_of(datagrams)
    assert len(spans) == 13 and len({span.span_id for _, _, span in spans}) == 13
    steps = [span for _, _, span in spans if span.name == "## app.step"]
    numbers = [json.loads(attributes(span)["aws.xray.metadata.big"])["app.step response"] for span in steps]
    assert sorted(int(text.split(":")[0]) for text in numbers) == list(range(12))


def test_an_exporter_not_understood_warns_once_and_sends_xray_documents(layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": "def handler(event, context):\n    return 1\n"})
    env = {"LAMBDA_TRACER_EXPORTER": "zipkin", "LAMBDA_TRACER_INIT_TRACE": "false"}  # one document: ## handler
    with LocalLambda(fn_dir, opt_dirs=[layer_dir], env=env) as fn:
        first, first_datagrams = invoke(fn, {})
        second, _ = invoke(fn, {})
    output = (first.init_output or "") + first.output + second.output
    assert output.count("ignoring LAMBDA_TRACER_EXPORTER='zipkin' (not understood); using 'xray'") == 1
    assert [datagram[len(HEADER) : len(HEADER) + 1] for datagram in first_datagrams] == [b"{"]
    assert first.documents[0]["name"] == "## handler"
