"""Every example of the reference documentation (examples/tracer), run as Lambda would run it.

Each test imports the example fresh, by file path and under its own module name (as Lambda imports
``<module>.lambda_handler``), invokes ``lambda_handler`` with a sampled trace header, and asserts on
the documents the real aws-xray-sdk sent over UDP to the daemon stand-in. HTTP examples call a
local server on 127.0.0.1; the S3 example calls a local moto server.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lambda_env import Invocation, invoke
from lambda_tracer_local.daemon import by_name, subsegments

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tracer"
SERVICE = "payment"
CHARGE = "ch_42"
RECEIPT = f"dummy payment collected for charge: {CHARGE}"

Loader = Callable[[str], ModuleType]


# -- fixtures ---------------------------------------------------------------------------------


def _forget_examples() -> None:
    for path in EXAMPLES.glob("*.py"):
        sys.modules.pop(path.stem, None)


@pytest.fixture
def load(monkeypatch: pytest.MonkeyPatch) -> Iterator[Loader]:
    """Import an example fresh under its plain name, with examples/tracer on sys.path (tracer_reuse)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    _forget_examples()

    def _load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    yield _load
    _forget_examples()


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> str:
    """POWERTOOLS_SERVICE_NAME=payment, set before the example (and its Tracer) is imported."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", SERVICE)
    return SERVICE


class _PaymentApi(BaseHTTPRequestHandler):
    """``/collect`` (GET or form POST; charge ``declined`` gets a 402) and ``/get``; JSON replies."""

    disable_nagle_algorithm = True
    server: _ApiServer

    def do_GET(self) -> None:
        self._reply()

    def do_POST(self) -> None:
        self._reply()

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode()) if length else {}
        charge_id = form.get("charge_id", [""])[0]
        path = urlsplit(self.path).path
        self.server.hits.append((self.command, self.headers.get("Host", ""), path))
        if path == "/collect" and charge_id == "declined":
            status, body = 402, {"message": "card declined"}
        elif path == "/collect":
            status, body = 200, {"receipt_id": f"receipt-{charge_id or 'anonymous'}"}
        elif path == "/get":
            status, body = 200, {"url": f"http://{self.headers.get('Host')}{self.path}", "args": {}}
        else:
            status, body = 404, {"message": "not found"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    hits: list[tuple[str, str, str]]


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[_ApiServer]:
    """A local payment API; PAYMENT_API and HTTPBIN_URL point at it."""
    server = _ApiServer(("127.0.0.1", 0), _PaymentApi)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("PAYMENT_API", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("HTTPBIN_URL", f"http://127.0.0.1:{server.server_port}/get")
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# -- helpers ----------------------------------------------------------------------------------


def handler_doc(call: Invocation) -> dict[str, Any]:
    """The ``## lambda_handler`` subsegment, checked to hang from the invocation's facade segment."""
    doc = by_name(call.documents, "## lambda_handler")
    assert doc["type"] == "subsegment"
    assert doc["trace_id"] == call.trace_id
    assert doc["parent_id"] == call.parent_id
    assert doc["annotations"]["ColdStart"] is True
    assert doc["annotations"]["Service"] == SERVICE
    return doc


def child_of(call: Invocation, name: str, parent: dict[str, Any]) -> dict[str, Any]:
    doc = by_name(call.documents, name)
    assert doc["parent_id"] == parent["id"], f"{name} should be a child of {parent['name']}"
    return doc


def remote_children(call: Invocation, parent: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        doc
        for doc in subsegments(call.documents)
        if doc.get("namespace") == "remote" and doc.get("parent_id") == parent["id"]
    ]


def remote_calls(call: Invocation) -> list[dict[str, Any]]:
    return [doc for doc in subsegments(call.documents) if doc.get("namespace") == "remote"]


def request_of(doc: dict[str, Any]) -> tuple[str, str]:
    """(METHOD, url) of an HTTP subsegment (the SDK's requests patch records requests' lowercase method)."""
    request = doc["http"]["request"]
    return request["method"].upper(), request["url"]


def has_error_metadata(doc: dict[str, Any]) -> bool:
    return any(key.endswith(" error") for values in doc.get("metadata", {}).values() for key in values)


# -- Lambda handler, annotations and metadata -------------------------------------------------


def test_capture_lambda_handler(load: Loader, service: str) -> None:
    module = load("capture_lambda_handler")
    assert module.tracer.service == SERVICE

    first = invoke(module.lambda_handler, {"charge_id": CHARGE})
    assert first.error is None and first.result == RECEIPT
    doc = handler_doc(first)
    assert doc["metadata"] == {SERVICE: {"lambda_handler response": RECEIPT}}
    assert "fault" not in doc and "error" not in doc
    # collect_payment is not decorated: the handler is the only subsegment.
    assert [d["name"] for d in subsegments(first.documents)] == ["## lambda_handler"]

    second = invoke(module.lambda_handler, {"charge_id": CHARGE})
    assert by_name(second.documents, "## lambda_handler")["annotations"]["ColdStart"] is False


def test_capture_lambda_handler_service_defaults_to_function_name(load: Loader) -> None:
    module = load("capture_lambda_handler")

    call = invoke(module.lambda_handler, {"charge_id": CHARGE})
    doc = by_name(call.documents, "## lambda_handler")
    assert doc["annotations"]["Service"] == "test-function"
    assert doc["metadata"] == {"test-function": {"lambda_handler response": RECEIPT}}


def test_put_trace_annotations(load: Loader, service: str) -> None:
    module = load("put_trace_annotations")

    call = invoke(module.lambda_handler, {"charge_id": CHARGE})
    assert call.error is None and call.result == RECEIPT
    doc = handler_doc(call)
    # collect_payment is not traced, so the annotation lands on the handler's subsegment.
    assert doc["annotations"]["PaymentId"] == CHARGE
    assert doc["metadata"] == {SERVICE: {"lambda_handler response": RECEIPT}}


def test_put_trace_metadata(load: Loader, service: str) -> None:
    module = load("put_trace_metadata")

    call = invoke(module.lambda_handler, {"charge_id": CHARGE, "merchant_id": "m_7"})
    assert call.error is None and call.result == RECEIPT
    doc = handler_doc(call)
    assert doc["metadata"] == {
        SERVICE: {
            "payment_response": {
                "charge_id": CHARGE,
                "merchant_id": "m_7",
                "request_id": "c6af9ac6-7b61-11e6-9a41-93e812345678",  # lambda_env's FakeContext
                "receipt_id": RECEIPT,
            },
            "lambda_handler response": RECEIPT,
        }
    }


# -- capture_method: functions, coroutines, generators, context managers ----------------------


def test_capture_method(load: Loader, service: str) -> None:
    module = load("capture_method")

    call = invoke(module.lambda_handler, {"charge_id": CHARGE}, expect=2)
    assert call.error is None and call.result == RECEIPT
    handler = handler_doc(call)
    method = child_of(call, "## capture_method.collect_payment", handler)
    assert method["trace_id"] == call.trace_id
    assert method["annotations"] == {"PaymentId": CHARGE}
    assert "PaymentId" not in handler["annotations"]
    assert method["metadata"] == {SERVICE: {"capture_method.collect_payment response": RECEIPT}}
    assert handler["metadata"] == {SERVICE: {"lambda_handler response": RECEIPT}}
    assert method["start_time"] >= handler["start_time"] and method["end_time"] <= handler["end_time"]


def test_capture_method_async(load: Loader, service: str) -> None:
    module = load("capture_method_async")

    call = invoke(module.lambda_handler, {"charge_id": CHARGE}, expect=2)
    assert call.error is None and call.result == RECEIPT
    handler = handler_doc(call)
    method = child_of(call, "## capture_method_async.collect_payment", handler)
    assert method["annotations"] == {"PaymentId": CHARGE}
    assert method["metadata"] == {SERVICE: {"capture_method_async.collect_payment response": RECEIPT}}
    assert method["end_time"] - method["start_time"] >= 0.45  # the awaited asyncio.sleep(0.5) is inside it
    assert handler["metadata"] == {SERVICE: {"lambda_handler response": RECEIPT}}


def test_capture_method_context_manager(load: Loader, service: str) -> None:
    module = load("capture_method_context_manager")

    call = invoke(module.lambda_handler, {"charge_id": CHARGE}, expect=2)
    assert call.error is None and call.result == RECEIPT
    handler = handler_doc(call)
    method = child_of(call, "## capture_method_context_manager.collect_payment", handler)
    # The annotation is put in the generator's `finally`, while the method subsegment is still open.
    assert method["annotations"] == {"PaymentId": CHARGE}
    assert "PaymentId" not in handler["annotations"]
    assert "fault" not in method and not has_error_metadata(method)
    assert handler["metadata"] == {SERVICE: {"lambda_handler response": RECEIPT}}


def test_capture_method_generators(load: Loader, service: str) -> None:
    module = load("capture_method_generators")

    call = invoke(module.lambda_handler, {"charge_id": CHARGE}, expect=2)
    assert call.error is None and call.result == RECEIPT
    handler = handler_doc(call)
    method = child_of(call, "## capture_method_generators.collect_payment", handler)
    # `next(gen)` then dropping the generator closes it early: that is not an error.
    assert "fault" not in method and "cause" not in method and not has_error_metadata(method)
    assert handler["metadata"] == {SERVICE: {"lambda_handler response": RECEIPT}}
    assert "fault" not in handler


# -- patching, capture_response / capture_error -----------------------------------------------


def test_patch_modules(load: Loader, service: str, api: _ApiServer) -> None:
    module = load("patch_modules")
    url = f"http://127.0.0.1:{api.server_port}/get"

    call = invoke(module.lambda_handler, expect=2)
    assert call.error is None
    assert call.result == {"url": url, "args": {}}
    handler = handler_doc(call)
    [remote] = remote_children(call, handler)
    assert remote["name"] == "127.0.0.1"
    assert request_of(remote) == ("GET", url)
    assert remote["http"]["response"]["status"] == 200
    assert handler["metadata"] == {SERVICE: {"lambda_handler response": call.result}}


def test_disable_capture_response(load: Loader, service: str) -> None:
    module = load("disable_capture_response")

    call = invoke(module.lambda_handler, {"charge_id": CHARGE}, expect=2)
    assert call.error is None and call.result == RECEIPT
    handler = handler_doc(call)
    method = child_of(call, "## disable_capture_response.collect_payment", handler)
    assert method["annotations"] == {"PaymentId": CHARGE}
    assert "metadata" not in handler
    assert "metadata" not in method
    assert RECEIPT not in json.dumps(call.documents)


@pytest.fixture
def moto_s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A moto server on 127.0.0.1 that boto3 reaches through AWS_ENDPOINT_URL, with dummy credentials."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    yield endpoint
    server.stop()


def test_disable_capture_response_streaming_body(
    load: Loader, service: str, moto_s3: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    report = "payment_id,amount\npay_1,42.00\n"
    client = boto3.client("s3")
    client.create_bucket(Bucket="payment-reports")
    client.put_object(Bucket="payment-reports", Key="reports/pay_1", Body=report.encode())
    monkeypatch.setenv("BUCKET_NAME", "payment-reports")
    monkeypatch.setenv("REPORT_KEY", "reports")
    module = load("disable_capture_response_streaming_body")
    assert module.s3.meta.endpoint_url == moto_s3

    call = invoke(module.lambda_handler, {"payment_id": "pay_1"}, expect=3)
    # The body reaches the handler unread: tracing did not consume the StreamingBody.
    assert call.error is None and call.result == report
    handler = handler_doc(call)
    method = child_of(call, "## disable_capture_response_streaming_body.fetch_payment_report", handler)
    s3 = child_of(call, "s3", method)
    assert s3["namespace"] == "aws"
    assert s3["aws"]["operation"] == "GetObject"
    assert s3["http"]["response"]["status"] == 200
    assert "metadata" not in handler
    assert "metadata" not in method


def test_disable_capture_error(load: Loader, service: str, api: _ApiServer) -> None:
    module = load("disable_capture_error")

    ok = invoke(module.lambda_handler, {"charge_id": CHARGE}, expect=3)
    assert ok.error is None and ok.result == f"receipt-{CHARGE}"
    handler = handler_doc(ok)
    method = child_of(ok, "## disable_capture_error.collect_payment", handler)
    [remote] = remote_children(ok, method)
    assert request_of(remote) == ("POST", f"http://127.0.0.1:{api.server_port}/collect")
    # capture_response keeps its default (on).
    receipt = {"receipt_id": f"receipt-{CHARGE}"}
    assert method["metadata"] == {SERVICE: {"disable_capture_error.collect_payment response": receipt}}
    assert handler["metadata"] == {SERVICE: {"lambda_handler response": f"receipt-{CHARGE}"}}

    failed = invoke(module.lambda_handler, {"charge_id": "declined"}, expect=3)
    assert isinstance(failed.error, module.PaymentError)
    assert str(failed.error) == "Unable to collect payment for charge declined"
    handler = by_name(failed.documents, "## lambda_handler")
    method = child_of(failed, "## disable_capture_error.collect_payment", handler)
    [remote] = remote_children(failed, method)
    assert remote["http"]["response"]["status"] == 402
    for doc in (handler, method):
        # No exception serialized as metadata; X-Ray's own fault/cause still records the failure.
        assert "metadata" not in doc
        assert doc["fault"] is True
    [exception] = method["cause"]["exceptions"]
    assert exception["type"] == "PaymentError"
    assert handler["cause"] == exception["id"]  # X-Ray refers to the exception its child recorded


# -- ignore_endpoint --------------------------------------------------------------------------


def test_ignore_endpoints(load: Loader, service: str, api: _ApiServer) -> None:
    import requests

    module = load("ignore_endpoints")
    port = api.server_port

    call = invoke(module.lambda_handler, {"charge_id": CHARGE}, expect=2)
    assert call.error is None and call.result == f"receipt-{CHARGE}"
    handler = handler_doc(call)
    method = child_of(call, "## ignore_endpoints.collect_payment", handler)
    receipt = {"receipt_id": f"receipt-{CHARGE}"}
    assert method["metadata"] == {SERVICE: {"ignore_endpoints.collect_payment response": receipt}}
    # The request was made, but no subsegment for it arrived.
    assert ("POST", f"127.0.0.1:{port}", "/collect") in api.hits
    assert remote_calls(call) == []
    assert sorted(doc["name"] for doc in subsegments(call.documents)) == [
        "## ignore_endpoints.collect_payment",
        "## lambda_handler",
    ]

    # Control, same process and rules: requests is traced, and the same server under a host that
    # is not ignored (localhost) shows up, while /collect on 127.0.0.1 still does not.
    @module.tracer.capture_lambda_handler
    def control(event: dict, context: object) -> dict:
        requests.get(f"http://localhost:{port}/get").raise_for_status()
        return module.collect_payment(charge_id="ctl")

    checked = invoke(control, expect=3)
    assert checked.error is None and checked.result == {"receipt_id": "receipt-ctl"}
    control_method = child_of(checked, "## ignore_endpoints.collect_payment", by_name(checked.documents, "## control"))
    [remote] = remote_calls(checked)
    assert remote["name"] == "localhost"
    assert request_of(remote) == ("GET", f"http://localhost:{port}/get")
    assert remote_children(checked, control_method) == []


def test_ignore_endpoint_urls_only_leaves_other_paths_traced(service: str, api: _ApiServer) -> None:
    import requests

    from lambda_tracer import Tracer

    tracer = Tracer()
    tracer.ignore_endpoint(urls=["/collect"])
    base = f"http://127.0.0.1:{api.server_port}"

    @tracer.capture_lambda_handler
    def lambda_handler(event: dict, context: object) -> int:
        requests.post(f"{base}/collect", data={"charge_id": CHARGE}).raise_for_status()
        requests.get(f"{base}/get").raise_for_status()
        return len(api.hits)

    call = invoke(lambda_handler, expect=2)
    assert call.error is None and call.result == 2
    [remote] = remote_children(call, handler_doc(call))
    assert request_of(remote) == ("GET", f"{base}/get")


def test_ignore_endpoint_hostname_with_urls_ignores_only_those_urls(service: str, api: _ApiServer) -> None:
    import requests

    from lambda_tracer import Tracer

    base = f"http://127.0.0.1:{api.server_port}"
    tracer = Tracer()
    tracer.ignore_endpoint(hostname=base, urls=["/collect", "/refund"])

    @tracer.capture_lambda_handler
    def lambda_handler(event: dict, context: object) -> int:
        requests.post(f"{base}/collect", data={"charge_id": CHARGE}).raise_for_status()
        requests.get(f"{base}/get").raise_for_status()
        return len(api.hits)

    call = invoke(lambda_handler, expect=2)
    assert call.error is None and call.result == 2
    assert [request_of(doc) for doc in remote_children(call, handler_doc(call))] == [("GET", f"{base}/get")]


# -- aiohttp, escape hatch, concurrency, reuse ------------------------------------------------


def test_tracing_aiohttp(load: Loader, service: str, api: _ApiServer) -> None:
    module = load("tracing_aiohttp")

    call = invoke(module.lambda_handler, {"charge_id": CHARGE}, expect=3)
    assert call.error is None and call.result == {"receipt_id": "receipt-anonymous"}
    handler = handler_doc(call)
    method = child_of(call, "## tracing_aiohttp.collect_payment", handler)
    [remote] = remote_children(call, method)
    assert remote["name"] == "127.0.0.1"
    assert request_of(remote) == ("GET", f"http://127.0.0.1:{api.server_port}/collect")
    assert remote["http"]["response"]["status"] == 200
    assert method["metadata"] == {SERVICE: {"tracing_aiohttp.collect_payment response": call.result}}


def test_sdk_escape_hatch(load: Loader, service: str) -> None:
    module = load("sdk_escape_hatch")

    call = invoke(module.lambda_handler, {"charge_id": CHARGE}, expect=2)
    assert call.error is None and call.result == RECEIPT
    handler = handler_doc(call)
    block = child_of(call, "## collect_payment", handler)
    assert block["annotations"] == {"PaymentId": CHARGE}
    assert block["metadata"] == {"default": {"payment_response": RECEIPT}}  # the SDK's default namespace
    assert "PaymentId" not in handler["annotations"]


def test_capture_method_async_concurrency(load: Loader, service: str) -> None:
    module = load("capture_method_async_concurrency")

    call = invoke(module.lambda_handler, {"charge_id": CHARGE}, expect=3)
    assert call.error is None and call.result == RECEIPT
    handler = handler_doc(call)
    for name in ("## another_async_task", "## another_async_task_2"):
        task = child_of(call, name, handler)
        assert task["annotations"] == {"key": "value"}
        assert task["metadata"] == {"namespace": {"key": "value"}}
        assert "fault" not in task and "cause" not in task
    assert "fault" not in handler and "cause" not in handler


def test_tracer_reuse(load: Loader, service: str) -> None:
    module = load("tracer_reuse")
    reused = sys.modules["tracer_reuse_module"]
    assert reused.__file__ == str(EXAMPLES / "tracer_reuse_module.py")
    assert reused.tracer.service == module.tracer.service == SERVICE

    call = invoke(module.lambda_handler, {"charge_id": CHARGE}, expect=2)
    assert call.error is None and call.result == RECEIPT
    handler = handler_doc(call)
    method = child_of(call, "## tracer_reuse_module.collect_payment", handler)
    assert method["metadata"] == {SERVICE: {"tracer_reuse_module.collect_payment response": RECEIPT}}


def test_sam_template() -> None:
    """The reference's SAM snippet, with our layer (by parameter) instead of the Powertools ARN."""
    import yaml

    class _CfnLoader(yaml.SafeLoader):
        pass

    _CfnLoader.add_multi_constructor("!", lambda loader, tag, node: {tag: loader.construct_scalar(node)})
    template = yaml.load((EXAMPLES / "template.yaml").read_text(), Loader=_CfnLoader)

    function = template["Globals"]["Function"]
    assert function["Tracing"] == "Active"
    assert function["Environment"]["Variables"] == {"POWERTOOLS_SERVICE_NAME": SERVICE}
    assert function["Layers"] == [{"Ref": "TracerLayerArn"}]
    assert "TracerLayerArn" in template["Parameters"]
    properties = template["Resources"]["CaptureLambdaHandlerExample"]["Properties"]
    module_name, function_name = properties["Handler"].rsplit(".", 1)
    assert (EXAMPLES / properties["CodeUri"] / f"{module_name}.py").is_file()
    source = (EXAMPLES / f"{module_name}.py").read_text()
    assert f"def {function_name}(" in source
