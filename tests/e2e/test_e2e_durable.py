"""Durable functions, zero-code (docs/durable-functions.md): every invocation of a durable execution, from the
exec wrapper to the UDP documents, with the real runtime, the built layer and aws-durable-execution-sdk-python.

What runs where:

* The function runs in ``LocalLambda`` (our runtime, the exec wrapper, the layer under a private /opt), with the
  durable SDK 3.0.0 of this venv. Nothing in the function names lambda_tracer: the wrapper puts ``lambda_tracer``
  in ``DURABLE_EXECUTION_PLUGINS`` and the SDK finds the layer's entry point through importlib.metadata.
* The durable service is aws-durable-execution-sdk-python-testing's ``WebRunner``: it keeps the execution's
  checkpoints, answers the SDK's ``CheckpointDurableExecution`` and ``GetDurableExecutionState`` calls (the
  function's boto3 reaches it through ``AWS_ENDPOINT_URL_LAMBDA``) and invokes the function again after a wait
  or a retry delay, with ``skip_time``: timers complete on the scheduler's next turn instead of after their
  duration. Lambda's Invoke API in front of ``LocalLambda`` is a small HTTP server here.

What cannot run here: the real service's invocation input is the same document (``DurableExecutionArn``,
``CheckpointToken``, ``InitialExecutionState``), but its execution ARN, timing and trace header are Lambda's:
there each invocation gets the trace header Lambda gives it (a new trace per invocation, as ``LocalLambda`` does);
whether Lambda links those traces is not something a plugin can see or change.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lambda_tracer_local.daemon import subsegments
from lambda_tracer_local.runtime import Invocation, LocalLambda

from .support import names, write_function

pytest.importorskip("aws_durable_execution_sdk_python_testing")

from aws_durable_execution_sdk_python_testing.runner import WebRunner, WebRunnerConfig
from aws_durable_execution_sdk_python_testing.web.server import WebServiceConfig

FUNCTION_NAME = "orders"

APP = """
import os

from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution, durable_step
from aws_durable_execution_sdk_python.config import Duration, StepConfig
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

from lambda_tracer import Tracer

tracer = Tracer()
ONCE = StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=1)))
TWICE = StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=2)))


class PaymentDeclined(Exception):
    pass


@tracer.capture_method
def price(order_id):
    return 42


@durable_step
def fetch(step_context: StepContext, order_id):
    return {"order": order_id, "price": price(order_id)}


@durable_step
def reserve(step_context: StepContext):
    if step_context.attempt < 2:
        raise ConnectionError("stock service unavailable")
    return "reserved"


@durable_step
def charge(step_context: StepContext, amount):
    raise PaymentDeclined(f"card declined for {amount}")


@durable_execution
def handler(event, context: DurableContext):
    order = context.step(fetch(event["order_id"]), name="fetch")
    context.wait(Duration.from_seconds(30), name="cool-down")
    reservation = context.step(reserve(), name="reserve", config=TWICE)
    if event.get("decline"):
        context.step(charge(order["price"]), name="charge", config=ONCE)
    return {"order": order, "reservation": reservation, "plugins": os.environ.get("DURABLE_EXECUTION_PLUGINS")}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LambdaInvokeAPI:
    """Lambda's ``Invoke`` (``POST /2015-03-31/functions/<name>/invocations``) in front of one LocalLambda: the
    WebRunner invokes the function through it, as the durable service invokes a function in Lambda."""

    def __init__(self, fn: LocalLambda) -> None:
        self.fn = fn
        self.invocations: list[Invocation] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                event = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"null")
                inv = api.fn.invoke(event)
                api.invocations.append(inv)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Amzn-RequestId", inv.request_id or "local")
                if inv.status != "response":
                    self.send_header("X-Amz-Function-Error", "Unhandled")
                self.send_header("Content-Length", str(len(inv.body)))
                self.end_headers()
                self.wfile.write(inv.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class DurableService:
    """The testing SDK's WebRunner as the durable service, driving one function in LocalLambda."""

    def __init__(self, function_dir: Path, layer_dir: Path, env: dict[str, str | None] | None = None) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.fn = LocalLambda(
            function_dir,
            "app.handler",
            opt_dirs=[layer_dir],
            function_name=FUNCTION_NAME,
            timeout=60,
            env={"AWS_ENDPOINT_URL_LAMBDA": self.url, **(env or {})},
        )
        self.invoke_api = LambdaInvokeAPI(self.fn)
        config = WebRunnerConfig(
            web_service=WebServiceConfig(host="127.0.0.1", port=port, log_level=30),
            lambda_endpoint=self.invoke_api.url,
            local_runner_region="us-east-1",
            skip_time=True,
            invocation_timeout_seconds=60,
        )
        self.runner = WebRunner(config)
        self.runner.start()
        self.thread = threading.Thread(target=self.runner.serve_forever, daemon=True)
        self.thread.start()

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            return dict(json.loads(response.read() or b"{}"))

    def run(self, event: dict[str, Any], name: str, timeout: float = 90) -> tuple[dict[str, Any], list[Invocation]]:
        """Start one execution, wait until it ends; (its description, the invocations it took)."""
        first = len(self.invoke_api.invocations)
        started = self._request(
            "POST",
            "/start-durable-execution",
            {
                "AccountId": "123456789012",
                "FunctionName": FUNCTION_NAME,
                "FunctionQualifier": "$LATEST",
                "ExecutionName": name,
                "ExecutionTimeoutSeconds": 300,
                "ExecutionRetentionPeriodDays": 1,
                "Input": json.dumps(event),
            },
        )
        arn = started["ExecutionArn"]
        deadline = time.monotonic() + timeout
        while True:
            described = self._request("GET", "/2025-12-01/durable-executions/" + urllib.parse.quote(arn, safe=""))
            if described.get("Status") not in (None, "RUNNING"):
                return described, self.invoke_api.invocations[first:]
            assert time.monotonic() < deadline, f"execution {arn} still {described.get('Status')}: {self.fn.output}"
            time.sleep(0.05)

    def __enter__(self) -> DurableService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        server = getattr(self.runner, "_server", None)
        if server is not None:
            server.shutdown()
        self.runner.stop()
        self.invoke_api.close()
        self.fn.close()


@pytest.fixture(autouse=True)
def _runner_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The WebRunner invokes the function with boto3 (signed: any credentials do)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDDURABLERUNNER000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "durable-runner-secret-not-real")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def service(layer_dir: Path, tmp_path: Path) -> Iterator[DurableService]:
    with DurableService(write_function(tmp_path / "fn", {"app.py": APP}), layer_dir) as durable:
        yield durable


def handler_doc(inv: Invocation) -> dict[str, Any]:
    [doc] = [doc for doc in inv.documents if doc["name"] == "## handler"]
    return doc


def operation_docs(inv: Invocation) -> dict[str, dict[str, Any]]:
    """The durable operations' subsegments of one invocation, by name."""
    docs = [
        doc
        for doc in subsegments(inv.documents)
        if doc["name"] != "## handler" and "durable" in doc.get("metadata", {})
    ]
    named = {doc["name"]: doc for doc in docs}
    assert len(named) == len(docs), [doc["name"] for doc in docs]
    return named


def invocation_metadata(inv: Invocation) -> dict[str, Any]:
    return dict(handler_doc(inv)["metadata"]["durable"]["invocation"])


def listed(metadata: dict[str, Any], key: str) -> list[str]:
    return [f"{op['type']} {op['name']} {op['status']}" for op in metadata[key]["operations"]]


def test_a_step_a_wait_and_a_retried_step_one_trace_per_invocation(service: DurableService) -> None:
    """Invocation 1 runs ``fetch`` and starts the wait (the execution suspends); invocation 2 is woken by the
    elapsed wait, replays ``fetch``, runs ``reserve``'s first attempt, which fails, and suspends for the retry
    delay; invocation 3 replays both and runs attempt 2. Each trace shows only its own work."""
    described, invocations = service.run({"order_id": "o-1"}, "order-o-1")
    assert described["Status"] == "SUCCEEDED", described
    assert [inv.status for inv in invocations] == ["response"] * 3, service.fn.output
    arn = described["DurableExecutionArn"]
    assert json.loads(described["Result"])["plugins"] == "lambda_tracer"  # set by the wrapper, nothing else

    first, second, third = invocations
    assert len({inv.trace_id for inv in invocations}) == 3
    for inv, replay, status in ((first, False, "PENDING"), (second, True, "PENDING"), (third, True, "SUCCEEDED")):
        annotations = handler_doc(inv)["annotations"]
        assert annotations["DurableExecution"] == arn  # one filter expression finds all three
        assert annotations["Replay"] is replay
        assert annotations["DurableStatus"] == status
        assert "fault" not in handler_doc(inv)

    # 1: the step's work (and what it called, nested under it), then the wait that suspends the execution.
    ops = operation_docs(first)
    assert sorted(ops) == ["Step fetch", "Wait cool-down"]
    fetch = ops["Step fetch"]
    assert fetch["parent_id"] == handler_doc(first)["id"]
    assert fetch["metadata"]["durable"]["operation"] | {"id": None} == {
        "id": None,
        "name": "fetch",
        "type": "STEP",
        "subtype": "Step",
        "parent_id": None,
        "resumed": False,
        "attempt": 1,
        "outcome": "SUCCEEDED",
        "status": "SUCCEEDED",
    }
    [price] = [doc for doc in first.documents if doc["name"] == "## app.price"]
    assert price["parent_id"] == fetch["id"]
    wait = ops["Wait cool-down"]["metadata"]["durable"]["operation"]
    assert (wait["type"], wait["status"], wait["outcome"]) == ("WAIT", "STARTED", "SUSPENDED")
    assert listed(invocation_metadata(first), "replayed") == []

    # 2: fetch replayed (no subsegment), the wait completed while suspended, reserve's first attempt failed.
    ops = operation_docs(second)
    assert sorted(ops) == ["Step reserve"]
    reserve = ops["Step reserve"]
    record = reserve["metadata"]["durable"]["operation"]
    assert (record["attempt"], record["outcome"], record["status"]) == (1, "RETRY_SCHEDULED", "PENDING")
    assert record["error"] == {"type": "ConnectionError", "message": "stock service unavailable"}
    assert reserve["fault"] is True
    [exception] = reserve["cause"]["exceptions"]
    assert exception["type"] == "ConnectionError"
    assert exception["message"] == "stock service unavailable"
    assert {"path": "app.py", "label": "reserve"} in [{k: f[k] for k in ("path", "label")} for f in exception["stack"]]
    metadata = invocation_metadata(second)
    assert listed(metadata, "replayed") == ["STEP fetch SUCCEEDED"]
    assert listed(metadata, "completed_while_suspended") == ["WAIT cool-down SUCCEEDED"]

    # 3: attempt 2 succeeds; everything before it is replayed.
    ops = operation_docs(third)
    assert sorted(ops) == ["Step reserve"]
    record = ops["Step reserve"]["metadata"]["durable"]["operation"]
    assert (record["attempt"], record["outcome"], record["resumed"]) == (2, "SUCCEEDED", True)
    assert "fault" not in ops["Step reserve"]
    assert listed(invocation_metadata(third), "replayed") == ["STEP fetch SUCCEEDED", "WAIT cool-down SUCCEEDED"]


def test_a_failing_execution(service: DurableService) -> None:
    """``charge`` raises and may not retry: the execution fails. Lambda's invocation itself succeeds (the SDK
    returns ``{"Status": "FAILED"}``), so the failure is recorded by the plugin: on the step, with the step's own
    exception and stack, and on ``## handler``, as the execution's error."""
    described, invocations = service.run({"order_id": "o-2", "decline": True}, "order-o-2")
    assert described["Status"] == "FAILED", described
    last = invocations[-1]
    assert last.status == "response" and last.payload["Status"] == "FAILED"
    charge = operation_docs(last)["Step charge"]
    assert charge["fault"] is True
    assert charge["cause"]["exceptions"][0]["type"] == "PaymentDeclined"
    assert charge["cause"]["exceptions"][0]["message"] == "card declined for 42"
    assert charge["metadata"]["durable"]["operation"]["status"] == "FAILED"
    handler = handler_doc(last)
    assert handler["annotations"]["DurableStatus"] == "FAILED"
    assert handler["annotations"]["DurableExecution"] == described["DurableExecutionArn"]
    assert handler["fault"] is True
    assert handler["cause"]["exceptions"][0]["message"] == "card declined for 42"
    assert invocation_metadata(last)["error"]["message"] == "card declined for 42"


def test_the_users_own_plugins_are_kept_and_ours_is_not_named_twice(layer_dir: Path, tmp_path: Path) -> None:
    """A user's value is kept (ours after it); naming ours already is not an error (the SDK rejects duplicates)."""
    fn_dir = write_function(tmp_path / "fn", {"app.py": APP})
    with DurableService(fn_dir, layer_dir, env={"DURABLE_EXECUTION_PLUGINS": " lambda_tracer "}) as durable:
        described, invocations = durable.run({"order_id": "o-3"}, "order-o-3")
    assert described["Status"] == "SUCCEEDED", described
    assert json.loads(described["Result"])["plugins"] == " lambda_tracer "
    assert all(handler_doc(inv)["annotations"]["DurableExecution"] for inv in invocations)


def test_switched_off_with_lambda_tracer_durable(layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": APP})
    with DurableService(fn_dir, layer_dir, env={"LAMBDA_TRACER_DURABLE": "false"}) as durable:
        described, invocations = durable.run({"order_id": "o-4"}, "order-o-4")
    assert described["Status"] == "SUCCEEDED", described
    assert json.loads(described["Result"])["plugins"] is None
    for inv in invocations:
        assert "DurableExecution" not in handler_doc(inv)["annotations"]  # still traced, as one ## handler
        assert operation_docs(inv) == {}


def test_an_older_lambda_tracer_bundled_in_the_function_breaks_nothing(layer_dir: Path, tmp_path: Path) -> None:
    """``pip install lambda-tracer`` into the function (a release without ``durable``) puts a lambda_tracer and its
    dist-info before the layer's on sys.path. The SDK must still load the plugin name the wrapper set (a name it
    cannot load fails the function's init): the layer's entry point is its own module and dist-info, and gives
    the SDK a plugin that records nothing."""
    fn_dir = write_function(tmp_path / "fn", {"app.py": APP})
    shutil.copytree(layer_dir / "python" / "lambda_tracer", fn_dir / "lambda_tracer")
    (fn_dir / "lambda_tracer" / "durable.py").unlink()
    for pyc in (fn_dir / "lambda_tracer" / "__pycache__").glob("durable.*"):
        pyc.unlink()
    write_function(fn_dir, {"lambda_tracer-0.0.9.dist-info/METADATA": "Metadata-Version: 2.1\nName: lambda-tracer\n"})
    with DurableService(fn_dir, layer_dir) as durable:
        described, invocations = durable.run({"order_id": "o-5"}, "order-o-5")
    assert described["Status"] == "SUCCEEDED", described
    assert "durable operations are not traced (ModuleNotFoundError)" in durable.fn.output
    assert "PluginLoadError" not in durable.fn.output
    for inv in invocations:
        assert "DurableExecution" not in handler_doc(inv)["annotations"]


def test_a_function_without_the_durable_sdk_ignores_the_variable(layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(
        tmp_path / "fn",
        {
            "app.py": "import os\n\n"
            "def handler(event, context):\n    return os.environ.get('DURABLE_EXECUTION_PLUGINS')\n"
        },
    )
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir]) as fn:
        inv = fn.invoke({})
    assert (inv.status, inv.payload) == ("response", "lambda_tracer")
    assert names(inv.documents) == ["## handler"]


# -- the pieces the zero-code path is made of, one at a time -----------------------------------------------------

UNSET = object()


@pytest.mark.parametrize(
    ("value", "extra", "expected"),
    [
        (UNSET, {}, "lambda_tracer"),
        ("", {}, "lambda_tracer"),
        ("  ", {}, "lambda_tracer"),  # blank: the SDK reads no name, so `  ,lambda_tracer` would be an empty name
        ("otel", {}, "otel,lambda_tracer"),
        ("otel, lambda_tracer ", {}, "otel, lambda_tracer "),  # the SDK strips names: ours is there already
        ("lambda_tracer", {}, "lambda_tracer"),
        ("a,*", {}, "a,*,lambda_tracer"),  # data, never a glob
        ("my_lambda_tracer", {}, "my_lambda_tracer,lambda_tracer"),
        (UNSET, {"LAMBDA_TRACER_DURABLE": "false"}, None),
        ("otel", {"LAMBDA_TRACER_DURABLE": "off"}, "otel"),
        # blanks around it dropped, as the package reads its own true/false values (config.get_bool)
        (UNSET, {"LAMBDA_TRACER_DURABLE": " false"}, None),
        ("otel", {"LAMBDA_TRACER_DURABLE": "OFF\n"}, "otel"),
        (UNSET, {"LAMBDA_TRACER_OFF": "true"}, None),
    ],
)
def test_the_wrapper_names_our_plugin(
    layer_dir: Path, value: object, extra: dict[str, str], expected: str | None
) -> None:
    env = {"PATH": "/usr/bin:/bin", "_HANDLER": "app.handler", **extra}
    if isinstance(value, str):
        env["DURABLE_EXECUTION_PLUGINS"] = value
    wrapper = str(layer_dir / "lambda-tracer")
    for command in ([wrapper], [wrapper, wrapper]):  # running twice names it once
        script = 'printf %s "${DURABLE_EXECUTION_PLUGINS-<unset>}"'
        done = subprocess.run(["sh", *command, "sh", "-c", script], env=env, capture_output=True, text=True, check=True)
        assert done.stdout == ("<unset>" if expected is None else expected), done.stderr


def test_the_layers_entry_point_is_found_by_the_sdk(layer_dir: Path) -> None:
    """What the SDK does at ``@durable_execution`` with ``DURABLE_EXECUTION_PLUGINS=lambda_tracer``: look the name up
    in the entry points of every distribution on sys.path (here: the layer's python/ and this venv) and load it."""
    probe = (
        "import json, sys\n"
        "from aws_durable_execution_sdk_python.plugin_discovery import load_configured_plugins\n"
        "import lambda_tracer.durable\n"
        "[factory] = load_configured_plugins(None, environment={'DURABLE_EXECUTION_PLUGINS': 'lambda_tracer'})\n"
        "print(json.dumps([factory is lambda_tracer.durable.FACTORY, lambda_tracer.durable.__file__]))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(layer_dir / "python")}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    same, where = json.loads(done.stdout)
    assert same and where.startswith(str(layer_dir / "python"))
