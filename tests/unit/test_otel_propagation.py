"""LAMBDA_TRACER_PROPAGATORS: which trace headers our instrumentation writes on outgoing calls.

Every client we instrument (requests, http.client, httpx sync and async, aiohttp, botocore) sends
``X-Amzn-Trace-Id`` and, when ``tracecontext`` is on, a W3C ``traceparent`` naming the same span; neither header
leaves without a sampled trace; a value not understood is reported once and the default used.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from http_stub import QuietHandler, serving

from lambda_env import invoke
from lambda_tracer import Tracer, config
from lambda_tracer.instrumentation import propagation
from lambda_tracer_local.daemon import subsegments

pytestmark = pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)

HTTP_CLIENTS = ("requests", "httpx", "httpx_async", "aiohttp", "httplib")
CLIENTS = (*HTTP_CLIENTS, "botocore")


class _Handler(QuietHandler):
    """Keeps the trace headers of each request by path; answers JSON (and S3's ListBuckets for botocore)."""

    seen: ClassVar[dict[str, dict[str, str | None]]] = {}

    def do_GET(self) -> None:
        type(self).seen[self.path] = {
            name: self.headers.get(name) for name in (propagation.XRAY_HEADER, propagation.TRACEPARENT_HEADER)
        }
        if self.path.startswith("/call/"):
            self.reply(200, b"{}")
        else:
            self.reply(200, b"<ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>", "application/xml")


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serving(_Handler) as port:
        yield f"http://127.0.0.1:{port}"


def _call(client: str, url: str, base: str) -> None:
    if client == "requests":
        import requests

        requests.get(url)
    elif client == "httpx":
        import httpx

        httpx.get(url)
    elif client == "httpx_async":
        import httpx

        async def fetch() -> None:
            async with httpx.AsyncClient() as session:
                await session.get(url)

        asyncio.run(fetch())
    elif client == "aiohttp":
        import aiohttp

        async def fetch_aiohttp() -> None:
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                await response.read()

        asyncio.run(fetch_aiohttp())
    elif client == "httplib":
        connection = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]))
        connection.request("GET", url[len(base) :])
        connection.getresponse().read()
        connection.close()
    else:
        import boto3

        boto3.client(
            "s3", endpoint_url=base, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
        ).list_buckets()


def _traced(base: str, tag: str) -> Any:
    tracer = Tracer(service="svc", patch_modules=["requests", "httpx", "aiohttp", "httplib", "botocore"])

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> None:
        for client in CLIENTS:
            _call(client, f"{base}/call/{tag}/{client}", base)

    return handler


def _span_of(call: Any, client: str, base: str, tag: str) -> dict[str, Any]:
    if client == "botocore":
        [doc] = [d for d in subsegments(call.documents) if d["name"] == "s3"]
        return doc
    url = f"{base}/call/{tag}/{client}"
    [doc] = [d for d in subsegments(call.documents) if d.get("http", {}).get("request", {}).get("url") == url]
    return doc


def _seen(client: str, tag: str) -> dict[str, str | None]:
    return _Handler.seen["/" if client == "botocore" else f"/call/{tag}/{client}"]


@pytest.mark.parametrize("setting", ["xray,tracecontext", " TraceContext xray "])
def test_every_client_sends_traceparent_naming_its_own_span(
    base: str, setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(propagation.PROPAGATORS_ENV, setting)
    call = invoke(_traced(base, "both"), expect=1 + len(CLIENTS))
    assert call.error is None
    digits = call.trace_id.replace("-", "")[1:]
    for client in CLIENTS:
        span = _span_of(call, client, base, "both")
        seen = _seen(client, "both")
        assert seen[propagation.TRACEPARENT_HEADER] == f"00-{digits}-{span['id']}-01", client
        assert seen[propagation.XRAY_HEADER] == f"Root={call.trace_id};Parent={span['id']};Sampled=1", client


def test_by_default_only_the_xray_header(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(propagation.PROPAGATORS_ENV, raising=False)
    monkeypatch.delenv(config.EXPORTER, raising=False)
    call = invoke(_traced(base, "default"), expect=1 + len(CLIENTS))
    for client in CLIENTS:
        assert _seen(client, "default")[propagation.TRACEPARENT_HEADER] is None, client
        assert _seen(client, "default")[propagation.XRAY_HEADER] is not None, client
    assert call.error is None


def test_aws_calls_carry_only_the_xray_header_unless_tracecontext_is_named(
    base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """otlp mode's default (xray,tracecontext) puts ``traceparent`` on HTTP calls, not on AWS SDK calls: AWS
    services propagate only the X-Ray header (OpenTelemetry's compatibility/aws.md). Named, it goes on both."""
    monkeypatch.delenv(propagation.PROPAGATORS_ENV, raising=False)
    monkeypatch.setenv(config.EXPORTER, "otlp")
    call = invoke(_traced(base, "otlp"), expect=1 + len(CLIENTS))
    assert call.error is None
    s3 = _span_of(call, "botocore", base, "otlp")
    assert _seen("botocore", "otlp") == {
        propagation.XRAY_HEADER: f"Root={call.trace_id};Parent={s3['id']};Sampled=1",
        propagation.TRACEPARENT_HEADER: None,
    }
    for client in HTTP_CLIENTS:
        assert _seen(client, "otlp")[propagation.TRACEPARENT_HEADER] is not None, client
    monkeypatch.setenv(propagation.PROPAGATORS_ENV, "xray,tracecontext")
    call = invoke(_traced(base, "named"), expect=1 + len(CLIENTS))
    s3 = _span_of(call, "botocore", base, "named")
    digits = call.trace_id.replace("-", "")[1:]
    assert _seen("botocore", "named")[propagation.TRACEPARENT_HEADER] == f"00-{digits}-{s3['id']}-01"


def test_tracecontext_alone_and_none(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(propagation.PROPAGATORS_ENV, "tracecontext")
    invoke(_traced(base, "w3c"), expect=1 + len(CLIENTS))
    monkeypatch.setenv(propagation.PROPAGATORS_ENV, "none")
    invoke(_traced(base, "none"), expect=1 + len(CLIENTS))
    for client in HTTP_CLIENTS:
        assert _seen(client, "w3c")[propagation.XRAY_HEADER] is None, client
        assert _seen(client, "w3c")[propagation.TRACEPARENT_HEADER] is not None, client
        assert _seen(client, "none") == {propagation.XRAY_HEADER: None, propagation.TRACEPARENT_HEADER: None}


def test_no_header_without_a_sampled_trace(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(propagation.PROPAGATORS_ENV, "xray,tracecontext")
    handler = _traced(base, "unsampled")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5f000000-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=0")
    handler({}, None)
    for client in HTTP_CLIENTS:
        assert _seen(client, "unsampled") == {propagation.XRAY_HEADER: None, propagation.TRACEPARENT_HEADER: None}
    # botocore's own recursion detection passes the invocation's header on, as without the layer: nothing of ours.
    assert _seen("botocore", "unsampled")[propagation.TRACEPARENT_HEADER] is None


@pytest.mark.parametrize(
    ("propagators", "exporter", "expected"),
    [
        (None, None, {"xray"}),
        (None, "otlp", {"xray", "tracecontext"}),
        (None, " OTLP ", {"xray", "tracecontext"}),
        ("", "otlp", {"xray", "tracecontext"}),
        ("xray", "otlp", {"xray"}),
        ("none", None, set()),
        ("xray,b3", None, {"xray"}),  # not understood: the default, with a warning
        ("xray;tracecontext", "otlp", {"xray", "tracecontext"}),
        ("none,xray", None, {"xray"}),
    ],
)
def test_setting_and_its_default(
    propagators: str | None, exporter: str | None, expected: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ((propagation.PROPAGATORS_ENV, propagators), (config.EXPORTER, exporter)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert propagation.enabled() == expected


def test_a_bad_value_is_reported_once_naming_the_default(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(propagation.PROPAGATORS_ENV, "w3c,jaeger")
    monkeypatch.delenv(config.EXPORTER, raising=False)
    with caplog.at_level(logging.WARNING, logger="lambda_tracer"):
        for _ in range(3):
            assert propagation.enabled() == {"xray"}
    warnings = [r.getMessage() for r in caplog.records if propagation.PROPAGATORS_ENV in r.getMessage()]
    assert warnings == [
        "lambda_tracer: ignoring LAMBDA_TRACER_PROPAGATORS='w3c,jaeger' (not understood); using the default, xray"
    ]


def test_traceparent_layout() -> None:
    assert (
        propagation.traceparent("1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8")
        == "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
    )
    assert json.dumps(sorted(propagation.KNOWN)) == '["tracecontext", "xray"]'
