"""Our own instrumentation (instrumentation/): every client traced, and beyond what the SDK does: ignore_endpoint
across clients and layers, aiohttp sessions without code changes, faults of our own never reaching
the call, one subsegment per call whoever else patched the library, and no SDK for aiohttp_trace_config()."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from http_stub import QuietHandler, serving

from lambda_env import invoke
from lambda_tracer import Tracer, aiohttp_trace_config
from lambda_tracer.backends import xray
from lambda_tracer.instrumentation import common
from lambda_tracer.redaction_text import REDACTED as R
from lambda_tracer_local.daemon import subsegments

pytestmark = pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)

ROOT = Path(__file__).resolve().parents[2]


class _Handler(QuietHandler):
    """``/redirect`` -> 302 to ``/inner``; anything else: JSON with the path and the trace header received."""

    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/inner")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        trace_headers = {name: self.headers.get_all(name) for name in ("X-Amzn-Trace-Id", "traceparent")}
        reply = {"path": self.path, "header": self.headers.get("X-Amzn-Trace-Id"), "all": trace_headers}
        self.reply(200, json.dumps(reply).encode())

    def do_PUT(self) -> None:  # S3 PutObject
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.reply(200)


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serving(_Handler) as port:
        yield f"http://127.0.0.1:{port}"


def _remote(documents: list[dict[str, Any]]) -> list[str]:
    return [d["http"]["request"]["url"] for d in subsegments(documents) if d.get("namespace") == "remote"]


def test_an_ignored_call_records_nothing_in_the_layers_below(base: str) -> None:
    """requests to an ignored URL that redirects elsewhere: the hop and http.client under it record nothing."""
    import requests

    tracer = Tracer(service="svc", patch_modules=["requests", "httplib"])
    tracer.ignore_endpoint(urls=["/redirect"])

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> Any:
        followed = requests.get(f"{base}/redirect").json()
        return [followed, requests.get(f"{base}/traced").json()]

    call = invoke(handler, expect=2)
    assert call.error is None
    followed, traced = call.result
    assert followed["path"] == "/inner" and followed["header"] is None  # no trace header from an ignored call
    assert _remote(call.documents) == [f"{base}/traced"]
    [doc] = [d for d in subsegments(call.documents) if d.get("namespace") == "remote"]
    assert traced["header"] == f"Root={call.trace_id};Parent={doc['id']};Sampled=1"


def test_requests_over_http_client_is_one_subsegment(base: str) -> None:
    """With httplib on too, a requests call (and its redirect) is one subsegment: the layers below record nothing."""
    import requests

    tracer = Tracer(service="svc", patch_modules=["requests", "httplib"])

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]))
        connection.request("GET", "/raw")
        raw = json.loads(connection.getresponse().read())
        return [requests.get(f"{base}/redirect").json(), raw]

    call = invoke(handler, expect=3)
    assert call.error is None
    assert sorted(_remote(call.documents)) == [f"{base}/raw", f"{base}/redirect"]
    followed, raw = call.result
    documents = {d["http"]["request"]["url"]: d for d in subsegments(call.documents) if d.get("namespace") == "remote"}
    assert documents[f"{base}/redirect"]["http"]["response"]["status"] == 200  # the final response, after the hop
    assert followed["header"] == f"Root={call.trace_id};Parent={documents[base + '/redirect']['id']};Sampled=1"
    assert raw["header"] == f"Root={call.trace_id};Parent={documents[base + '/raw']['id']};Sampled=1"


@pytest.mark.parametrize("propagators", [None, "xray,tracecontext"])
def test_http_client_sends_one_trace_header_when_the_caller_sets_its_own(
    base: str, monkeypatch: pytest.MonkeyPatch, propagators: str | None
) -> None:
    """A request whose caller already sets X-Amzn-Trace-Id (or traceparent), through http.client, urllib.request
    or urllib3: the server gets one of each, this call's, as requests, httpx and the SDK's patch send it (the
    caller's is replaced, not sent beside ours)."""
    import urllib.request

    import urllib3

    if propagators is not None:
        monkeypatch.setenv("LAMBDA_TRACER_PROPAGATORS", propagators)
    tracer = Tracer(service="svc", patch_modules=["httplib"])
    theirs = {"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}
    theirs["traceparent"] = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]))
        connection.request("GET", "/raw", headers=theirs)
        raw = json.loads(connection.getresponse().read())
        lower = {name.lower(): value for name, value in theirs.items()}
        opened = json.loads(urllib.request.urlopen(urllib.request.Request(f"{base}/urllib", headers=lower)).read())
        pooled = json.loads(urllib3.PoolManager().request("GET", f"{base}/urllib3", headers=theirs).data)
        return [raw, opened, pooled]

    call = invoke(handler, expect=4)
    assert call.error is None, call.error
    documents = {d["http"]["request"]["url"]: d for d in subsegments(call.documents) if d.get("namespace") == "remote"}
    for reply in call.result:
        ours = f"Root={call.trace_id};Parent={documents[base + reply['path']]['id']};Sampled=1"
        assert reply["all"]["X-Amzn-Trace-Id"] == [ours], reply
        if propagators is None:
            assert reply["all"]["traceparent"] == [theirs["traceparent"]], reply
        else:
            assert len(reply["all"]["traceparent"]) == 1 and reply["all"]["traceparent"] != [theirs["traceparent"]]


def test_a_request_sent_again_carries_no_header_of_an_earlier_trace(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A requests PreparedRequest or an httpx Request made once (at init) and sent by each invocation: a sampled
    invocation's trace header stays out of the caller's object, so an unsampled invocation (or a call outside any)
    sends none, as without the layer, rather than the earlier trace's Root and Parent with Sampled=1."""
    import httpx
    import requests

    tracer = Tracer(service="svc", patch_modules=["requests", "httpx"])
    session, client = requests.Session(), httpx.Client()
    prepared = requests.Request("GET", f"{base}/prepared", headers={"Accept": "application/json"}).prepare()
    built = client.build_request("GET", f"{base}/built")
    before = [dict(prepared.headers), dict(built.headers)]

    def send() -> list[Any]:
        return [session.send(prepared).json(), client.send(built).json()]

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> Any:
        return send()

    call = invoke(handler, expect=3)
    assert call.error is None, call.error
    documents = {d["http"]["request"]["url"]: d for d in subsegments(call.documents) if d.get("namespace") == "remote"}
    for reply in call.result:  # the sampled invocation: this call's header
        assert reply["header"] == f"Root={call.trace_id};Parent={documents[base + reply['path']]['id']};Sampled=1"
    assert [dict(prepared.headers), dict(built.headers)] == before
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0")
    assert [reply["header"] for reply in send()] == [None, None]
    monkeypatch.delenv("_X_AMZN_TRACE_ID")
    assert [reply["header"] for reply in send()] == [None, None]


def test_ignore_endpoint_covers_aiohttp_and_async_httpx(base: str) -> None:
    import aiohttp
    import httpx

    tracer = Tracer(service="svc", patch_modules=["aiohttp", "httpx"])
    tracer.ignore_endpoint(urls=["/health"])

    async def calls() -> list[Any]:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/health") as first, session.get(f"{base}/aio") as second:
                aio = [await first.json(), await second.json()]
        async with httpx.AsyncClient() as client:
            return [*aio, (await client.get(f"{base}/health")).json(), (await client.get(f"{base}/httpx")).json()]

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> Any:
        return asyncio.run(calls())

    call = invoke(handler, expect=3)
    assert call.error is None
    assert sorted(_remote(call.documents)) == [f"{base}/aio", f"{base}/httpx"]
    assert [reply["header"] is None for reply in call.result] == [True, False, True, False]


def test_concurrent_requests_are_siblings(base: str) -> None:
    """Requests run side by side in tasks each get their own subsegment under the handler, none nested."""
    import aiohttp
    import httpx

    tracer = Tracer(service="svc", patch_modules=["aiohttp", "httpx"])

    async def calls() -> None:
        async with aiohttp.ClientSession() as session, httpx.AsyncClient() as client:

            async def aio(n: int) -> Any:
                async with session.get(f"{base}/aio/{n}") as response:
                    return await response.json()

            await asyncio.gather(*(aio(n) for n in range(3)), *(client.get(f"{base}/httpx/{n}") for n in range(3)))

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> None:
        asyncio.run(calls())

    call = invoke(handler, expect=7)
    handler_id = next(d["id"] for d in call.documents if d["name"] == "## handler")
    remote = [d for d in subsegments(call.documents) if d.get("namespace") == "remote"]
    assert len(remote) == 6 and all(d["parent_id"] == handler_id for d in remote)


BROKEN = [
    (xray.BACKEND, "start_span"),
    (common, "host_name"),
    (common, "set_request"),
    (xray.XRaySpan, "outgoing_header"),
    (common, "set_response"),
    (common, "set_exception"),
    (xray.XRaySpan, "end"),
]


@pytest.mark.parametrize(("owner", "broken"), BROKEN, ids=[name for _, name in BROKEN])
def test_a_fault_of_ours_never_reaches_the_call(
    base: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, owner: Any, broken: str
) -> None:
    import httpx
    import requests

    injected = type(f"Injected_{broken}", (RuntimeError,), {})  # its own type: each is reported once

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise injected("injected")

    tracer = Tracer(service="svc", patch_modules=["requests", "httpx", "httplib"])
    monkeypatch.setattr(owner, broken, fail)

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]))
        connection.request("GET", "/raw")
        raw = json.loads(connection.getresponse().read())["path"]
        try:
            requests.get("http://127.0.0.1:1/refused")
        except requests.ConnectionError as error:
            refused = type(error).__name__
        return [requests.get(f"{base}/a").json()["path"], httpx.get(f"{base}/b").json()["path"], raw, refused]

    with caplog.at_level(logging.WARNING, logger="lambda_tracer"):
        call = invoke(handler, expect=0)
    assert call.error is None
    assert call.result == ["/a", "/b", "/raw", "ConnectionError"]
    assert any("tracing" in record.getMessage() for record in caplog.records)


def test_recorded_parameters_are_redacted(base: str) -> None:
    """The SDK's whitelisted parameters are the caller's data: redacted like metadata (an S3 key quoting a token)."""
    import boto3

    tracer = Tracer(service="svc", patch_modules=["botocore"])
    s3 = boto3.client(
        "s3", endpoint_url=base, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> None:
        s3.put_object(Bucket="reports", Key="export?api_key=hunter2", Body=b"data")

    call = invoke(handler, expect=2)
    [put] = [d for d in subsegments(call.documents) if d["name"] == "s3"]
    assert put["aws"]["key"] == "export?api_key=[REDACTED]" and put["aws"]["bucket_name"] == "reports"
    assert "hunter2" not in json.dumps(call.documents)


#: A header value each client refuses, and quotes in its message: an API key (no name beside it there to be known by).
_KEY, _NUMERIC_KEY = "k-hdr-51f0c3a9e7", 918273645


def _requests_prepared_then_changed(base: str) -> Any:
    """A header set on a prepared request, after requests checked them: http.client refuses it under ``send``."""
    import requests

    session = requests.Session()
    prepared = session.prepare_request(requests.Request("GET", f"{base}/a"))
    prepared.headers["X-Api-Key"] = f"{_KEY}\n"
    return session.send(prepared)


def _http_client(base: str) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]))
    try:
        connection.request("GET", "/a", headers={"X-Api-Key": f"{_KEY}\n"})
        return connection.getresponse().status
    finally:
        connection.close()


def _aiohttp_not_a_string(base: str) -> Any:
    import aiohttp

    async def fetch() -> int:
        async with aiohttp.ClientSession() as session, session.get(base, headers={"X-Api-Key": _NUMERIC_KEY}) as got:
            return got.status

    return asyncio.run(fetch())


def _requests_get(headers: dict[str, Any]) -> Callable[[str], Any]:
    def get(base: str) -> Any:
        import requests

        return requests.get(f"{base}/a", headers=headers)

    return get


def _httpx_get(base: str) -> Any:
    import httpx

    return httpx.get(f"{base}/a", headers={"X-Api-Key": f"{_KEY}\n"})


REFUSED_HEADERS = {
    # client: (the call, how many documents, the message as recorded)
    "requests, prepared then changed": (_requests_prepared_then_changed, 2, f"Invalid header value {R}"),
    "requests": (
        _requests_get({"X-Api-Key": f"{_KEY}\n"}),
        1,  # refused while the request is prepared, before it is sent: no call subsegment
        f"Invalid leading whitespace, reserved character(s), or return character(s) in header value: {R}",
    ),
    "requests, not a string": (
        _requests_get({"X-Api-Key": _NUMERIC_KEY}),
        1,
        f"Header part {R} must be of type str or bytes, not <class 'int'>",
    ),
    "httpx": (_httpx_get, 2, f"Illegal header value {R}"),
    "http.client": (_http_client, 2, f"Invalid header value {R}"),  # refused after putrequest: the call failed
    "aiohttp, not a string": (_aiohttp_not_a_string, 2, f"Cannot serialize non-str key {R}"),
}


@pytest.mark.parametrize("client", list(REFUSED_HEADERS))
def test_a_header_value_an_http_client_refuses_is_not_recorded(base: str, client: str) -> None:
    """An HTTP client refusing a header value (a line break in it, not a string) quotes the value in its message,
    with no name beside it to be recognised by: recorded as it was, an API key reached the daemon in the call's cause,
    and in the handler's cause and error metadata. The value is replaced in every recorded copy; the caller gets the
    exception the client raised, as without tracing."""
    call_it, expect, recorded = REFUSED_HEADERS[client]
    try:
        call_it(base)  # not traced: no trace header
    except Exception as error:
        untraced: BaseException = error
    tracer = Tracer(service="svc", patch_modules=["requests", "httpx", "httplib", "aiohttp"])

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> Any:
        return call_it(base)

    call = invoke(handler, expect=expect)
    assert (type(call.error), str(call.error)) == (type(untraced), str(untraced))
    assert str(_NUMERIC_KEY if "not a string" in client else _KEY) in str(call.error)
    sent = json.dumps(call.documents)
    assert _KEY not in sent and str(_NUMERIC_KEY) not in sent
    [handler_doc] = [d for d in call.documents if d["name"] == "## handler"]
    assert handler_doc["metadata"]["svc"]["handler error"]["message"] == recorded
    remote = [d for d in call.documents if d.get("namespace") == "remote"]
    assert len(remote) == expect - 1
    # Each cause: its exceptions, or (the handler's, when a call subsegment recorded them) the id of one of those.
    causes = [d["cause"] for d in [*remote, handler_doc]]
    assert [[e["message"] for e in c["exceptions"]] for c in causes if isinstance(c, dict)] == [[recorded]]


BOTOCORE_BROKEN = [
    ("botocore", "_client"),
    ("botocore", "_name"),
    ("botocore.Call", "_recorded"),
    ("xray.XRaySpan", "outgoing_header"),
    ("xray.XRaySpan", "end"),
    ("xray.XRaySpan", "encoded"),
]


@pytest.mark.parametrize(("where", "broken"), BOTOCORE_BROKEN, ids=[f"{w}.{b}" for w, b in BOTOCORE_BROKEN])
def test_a_fault_of_ours_never_reaches_an_aws_call(
    base: str, monkeypatch: pytest.MonkeyPatch, where: str, broken: str
) -> None:
    """The inlined fast paths of the botocore hook (instrumentation/botocore.py): whatever of ours fails, each AWS
    call returns what it would have, sent once."""
    import boto3

    from lambda_tracer.instrumentation import botocore as hook

    owners = {"botocore": hook, "botocore.Call": hook.Call, "xray.XRaySpan": xray.XRaySpan}
    injected = type(f"Injected_{broken}", (RuntimeError,), {})

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise injected("injected")

    monkeypatch.setattr(owners[where], broken, fail)
    tracer = Tracer(service="svc", patch_modules=["botocore"])
    s3 = boto3.client(
        "s3", endpoint_url=base, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    sent: list[str] = []
    s3.meta.events.register("before-send", lambda request, **kwargs: sent.append(request.method))

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> Any:
        put = s3.put_object(Bucket="reports", Key="a.csv", Body=b"data")["ResponseMetadata"]["HTTPStatusCode"]
        return [put, s3.put_object(Bucket="reports", Key="b.csv", Body=b"data")["ResponseMetadata"]["HTTPStatusCode"]]

    call = invoke(handler, expect=0)
    assert call.error is None and call.result == [200, 200]
    assert sent == ["PUT", "PUT"]


def test_calls_nest_under_the_escape_hatchs_subsegments(base: str) -> None:
    import requests

    tracer = Tracer(service="svc", patch_modules=["requests"])

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> Any:
        with tracer.provider.in_subsegment("## block"):
            return requests.get(f"{base}/hatch").json()

    call = invoke(handler, expect=3)
    block = next(d for d in subsegments(call.documents) if d["name"] == "## block")
    [remote] = [d for d in subsegments(call.documents) if d.get("namespace") == "remote"]
    assert remote["parent_id"] == block["id"]
    assert call.result["header"] == f"Root={call.trace_id};Parent={remote['id']};Sampled=1"


def _run(code: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "LAMBDA_TRACER", "_X_AMZN"))}
    env.update(LAMBDA_TASK_ROOT="/tmp", PYTHONPATH=str(ROOT / "layer"), AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:9")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_aiohttp_trace_config_needs_no_sdk() -> None:
    probe = _run(
        "import json, sys\n"
        "from lambda_tracer import Tracer, aiohttp_trace_config\n"
        "Tracer(service='svc')\n"
        "config = aiohttp_trace_config()\n"
        "print(json.dumps({'ours': getattr(config, '_lambda_tracer_trace_config', False),\n"
        "    'sdk': sorted(m for m in sys.modules if m.split('.')[0] in ('aws_xray_sdk', 'wrapt'))}))\n"
    )
    assert probe == {"ours": True, "sdk": []}


COUNT_SUBSEGMENTS = """
import json, os, socket, sys, threading, http.server
receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
receiver.bind(("127.0.0.1", 0))
receiver.settimeout(0.5)
os.environ["AWS_XRAY_DAEMON_ADDRESS"] = "127.0.0.1:%d" % receiver.getsockname()[1]

class Reply(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b"<ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Reply)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = "http://127.0.0.1:%d" % server.server_address[1]

def sdk_patch():
    from aws_xray_sdk.core import patch
    patch(["botocore", "requests"])

if sys.argv[1] == "sdk first":
    sdk_patch()
from lambda_tracer import Tracer
Tracer(service="svc", patch_modules=["botocore", "requests"])
if sys.argv[1] == "sdk after":
    sdk_patch()
import boto3, requests
s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
os.environ["_X_AMZN_TRACE_ID"] = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
s3.list_buckets()
requests.get(url + "/page")
names = []
try:
    while True:
        names.append(json.loads(receiver.recv(65535).split(b"\\n", 1)[1])["name"])
except socket.timeout:
    pass
print(json.dumps(sorted(names)))
"""


@pytest.mark.parametrize("order", ["sdk first", "sdk after"])
def test_one_subsegment_per_call_when_user_code_also_applies_the_sdks_patches(order: str) -> None:
    """User code calling the SDK's patch() (migrating from it) before or after our Tracer: never two subsegments."""
    env_code = f"import sys; sys.argv[1:] = [{order!r}]\n" + COUNT_SUBSEGMENTS
    assert _run(env_code) == ["127.0.0.1", "s3"]


class _PathHandler(QuietHandler):
    def _reply(self) -> None:
        body = b'<?xml version="1.0"?><ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>'
        if not self.path.startswith("/?") and self.path != "/":
            body = json.dumps({"path": self.path}).encode()
        self.reply(200, body, "application/json" if body.startswith(b"{") else "application/xml")

    do_GET = do_POST = _reply


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    with serving(_PathHandler) as port:
        yield port


def _calls(port: int, host: str) -> dict[str, Any]:
    """One call per client to http://<host>:<port>; returns what each got back."""
    import boto3
    import httpx
    import requests

    base = f"http://{host}:{port}"
    s3 = boto3.client(
        "s3", endpoint_url=base, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    connection = http.client.HTTPConnection(host, port)
    connection.request("GET", "/raw")
    raw = connection.getresponse().read()
    return {
        "requests": requests.get(f"{base}/requests").json(),
        "httpx": httpx.get(f"{base}/httpx").json(),
        "botocore": s3.list_buckets()["Buckets"],
        "http.client": json.loads(raw),
    }


def test_clients_are_traced_and_ignore_endpoint_applies_to_all(server: int) -> None:
    tracer = Tracer(service="svc", patch_modules=["requests", "httpx", "botocore", "httplib"])
    tracer.ignore_endpoint(hostname="local*")  # "localhost" is ignored, "127.0.0.1" is not

    @tracer.capture_lambda_handler
    def handler(event: dict[str, str], context: object) -> dict[str, Any]:
        return _calls(server, event["host"])

    traced = invoke(handler, {"host": "127.0.0.1"}, expect=5)
    assert traced.error is None, traced.error
    names = [d["name"] for d in subsegments(traced.documents)]
    assert "s3" in names and names.count("127.0.0.1") >= 3, names

    ignored = invoke(handler, {"host": "localhost"}, expect=1)
    assert ignored.error is None and ignored.result == traced.result
    names = [d["name"] for d in subsegments(ignored.documents)]
    assert names == ["## handler"], names


def test_url_globs_are_ignored(server: int) -> None:
    import requests

    tracer = Tracer(service="svc", patch_modules=["requests"])
    tracer.ignore_endpoint(urls=["/health*"])

    @tracer.capture_lambda_handler
    def handler(event: dict[str, str], context: object) -> int:
        requests.get(f"http://127.0.0.1:{server}/healthcheck")
        requests.get(f"http://127.0.0.1:{server}/orders")
        return 2

    call = invoke(handler, expect=2)
    urls = [d.get("http", {}).get("request", {}).get("url", "") for d in subsegments(call.documents)]
    assert any(u.endswith("/orders") for u in urls)
    assert not any("health" in u for u in urls)


def test_aiohttp_trace_config(server: int) -> None:
    import aiohttp

    tracer = Tracer(service="svc")

    async def fetch() -> Any:
        async with aiohttp.ClientSession(trace_configs=[aiohttp_trace_config()]) as session:
            async with session.get(f"http://127.0.0.1:{server}/aio") as response:
                return await response.json()

    @tracer.capture_lambda_handler
    def handler(event: dict[str, str], context: object) -> Any:
        return asyncio.run(fetch())

    call = invoke(handler, expect=2)
    assert call.result == {"path": "/aio"}
    remote = [d for d in subsegments(call.documents) if d.get("namespace") == "remote"]
    assert len(remote) == 1 and remote[0]["parent_id"] == next(
        d["id"] for d in call.documents if d["name"] == "## handler"
    )


def test_boto3_calls_at_init_are_dropped_quietly(server: int) -> None:
    """No trace header during init: the SDK has nothing to attach to; the call still works."""
    tracer = Tracer(service="svc", patch_modules=["botocore"])
    import boto3

    os.environ.pop("_X_AMZN_TRACE_ID", None)
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{server}",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    assert s3.list_buckets()["Buckets"] == []
    assert tracer.provider.current_subsegment() is None


def test_aiohttp_sessions_are_traced_without_code_changes(server: int) -> None:
    import aiohttp

    tracer = Tracer(service="svc", patch_modules=["aiohttp"])

    async def fetch(configs: list[Any]) -> Any:
        async with aiohttp.ClientSession(trace_configs=configs) as session:
            async with session.get(f"http://127.0.0.1:{server}/zero") as response:
                return await response.json()

    @tracer.capture_lambda_handler
    def handler(event: dict[str, str], context: object) -> Any:
        # Once without any trace config, once with ours given explicitly: one subsegment each, never two.
        return [asyncio.run(fetch([])), asyncio.run(fetch([aiohttp_trace_config()]))]

    call = invoke(handler, expect=3)
    assert call.result == [{"path": "/zero"}, {"path": "/zero"}]
    remote = [d for d in subsegments(call.documents) if d.get("namespace") == "remote"]
    assert len(remote) == 2


def test_a_first_call_loads_neither_endpoints_nor_propagation_until_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """``common.ignored`` and ``common.trace_headers`` answer as endpoints.py and propagation.py do, without loading
    them while nothing asks for them (no ignore_endpoint rule, neither setting): two modules off every traced
    function's first AWS call. Once a setting is given, propagation.py decides."""
    from lambda_tracer import endpoints
    from lambda_tracer.instrumentation import propagation

    assert common.XRAY_HEADER == propagation.XRAY_HEADER
    assert common.config.environ_key(propagation.PROPAGATORS_ENV) == common.PROPAGATORS_KEY
    monkeypatch.delenv(propagation.PROPAGATORS_ENV, raising=False)
    monkeypatch.delenv("LAMBDA_TRACER_EXPORTER", raising=False)
    trace = xray.Trace("1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8a48", "1", {})
    span = xray.XRaySpan("s3", trace, "53995c3f42cd8a48", namespace="aws")
    monkeypatch.delitem(sys.modules, "lambda_tracer.instrumentation.propagation")
    monkeypatch.delitem(sys.modules, "lambda_tracer.endpoints")
    assert common.trace_headers(span, aws=True) == propagation.headers(span, aws=True)
    assert common.trace_headers(span) == [("X-Amzn-Trace-Id", span.outgoing_header())]
    assert not common.ignored("https://s3.amazonaws.com/")
    assert "lambda_tracer.instrumentation.propagation" not in sys.modules
    assert "lambda_tracer.endpoints" not in sys.modules
    monkeypatch.setenv(propagation.PROPAGATORS_ENV, "xray,tracecontext")
    headers = common.trace_headers(span)
    assert headers == propagation.headers(span) and [name for name, _ in headers] == ["X-Amzn-Trace-Id", "traceparent"]
    trace.sampled = "0"
    monkeypatch.delenv(propagation.PROPAGATORS_ENV)
    assert common.trace_headers(span) == propagation.headers(span) == []
    trace.sampled = "1"
    monkeypatch.setenv("LAMBDA_TRACER_EXPORTER", "otlp")  # otlp mode: an AWS call's default is the X-Ray header too
    monkeypatch.delitem(sys.modules, "lambda_tracer.instrumentation.propagation", raising=False)
    monkeypatch.delattr(sys.modules["lambda_tracer.instrumentation"], "propagation", raising=False)  # imports again
    assert common.trace_headers(span, aws=True) == [("X-Amzn-Trace-Id", span.outgoing_header())]
    assert "lambda_tracer.instrumentation.propagation" not in sys.modules
    assert common.trace_headers(span, aws=True) == propagation.headers(span, aws=True)
    assert [name for name, _ in common.trace_headers(span)] == ["X-Amzn-Trace-Id", "traceparent"]
    monkeypatch.setitem(sys.modules, "lambda_tracer.endpoints", endpoints)
    endpoints.add("s3.amazonaws.com")
    try:
        assert common.ignored("https://s3.amazonaws.com/")
    finally:
        endpoints.clear()


def test_a_traced_botocore_call_imports_neither_endpoints_nor_propagation() -> None:
    """In a fresh process: the first traced AWS call, with no rule and no setting, loads our botocore module alone."""
    program = """
import json, os, sys
os.environ["_X_AMZN_TRACE_ID"] = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8a48;Sampled=1"
os.environ["AWS_XRAY_DAEMON_ADDRESS"] = "127.0.0.1:9"
from lambda_tracer import Tracer
Tracer()
import botocore.config, botocore.exceptions, botocore.session
client = botocore.session.get_session().create_client(
    "s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9", aws_access_key_id="a",
    aws_secret_access_key="b", config=botocore.config.Config(retries={"total_max_attempts": 1}))
try:
    client.list_buckets()
except botocore.exceptions.EndpointConnectionError:  # nobody listens on port 9; any other error is the test's
    pass
names = ["lambda_tracer.endpoints", "lambda_tracer.instrumentation.propagation"]
names.append("lambda_tracer.instrumentation.botocore")
print(json.dumps([name for name in names if name in sys.modules]))
"""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LAMBDA_TRACER_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "layer")
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == ["lambda_tracer.instrumentation.botocore"]


def test_a_recorded_url_masks_a_window_of_its_text_however_long(monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL whose authority holds ``?`` (a DSN's unencoded password) is masked whole before it is cut at its query:
    that far and no farther than the recorded length and the mask's margin, however long the URL (a megabyte of
    query cost seconds to mask)."""
    from lambda_tracer import redaction
    from lambda_tracer.backends.xray_documents import MAX_URL_CHARS
    from lambda_tracer.redaction_text import MASK_MARGIN

    masked: list[int] = []
    mask_text = redaction.Policy.mask_text

    def measured(self: redaction.Policy, text: str, depth: int = 0) -> str:
        masked.append(len(text))
        return mask_text(self, text, depth)

    monkeypatch.setattr(redaction.Policy, "mask_text", measured)
    url = "mysql://app:p?w-1@db.internal/orders?" + "password%3Dx&token=y&" * 50_000
    assert common.recorded_url(url) == f"mysql://app:{R}@db.internal/orders"
    assert masked and max(masked) <= MAX_URL_CHARS + MASK_MARGIN
