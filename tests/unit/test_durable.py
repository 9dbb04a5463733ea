"""lambda_tracer.durable, in process: the durable SDK 3.0.0 and its testing runner (aws-durable-execution-sdk-python-
testing 1.4.0) drive a traced handler; the documents are what it sent (the memory sender, tests/memory_sender.py).

The zero-code path (wrapper, entry point, runtime) is tests/e2e/test_e2e_durable.py; here the plugin is passed in
code (``plugins=[FACTORY]``), which is the same factory the entry point resolves to. The runner's in-process mode
stands in for the durable service: it invokes the handler again after a wait, a retry delay or a callback, with the
execution's checkpoints, as Lambda does (``skip_time``: timers complete at once).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import lambda_env
from lambda_tracer import Tracer, durable
from lambda_tracer_local.daemon import new_trace_header

pytest.importorskip("aws_durable_execution_sdk_python_testing")

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

pytestmark = pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)


@dataclass
class Traced:
    """One invocation the runner made: its trace id and the documents of that trace."""

    trace_id: str
    documents: list[dict[str, Any]]

    def named(self, name: str) -> dict[str, Any]:
        [doc] = [doc for doc in self.documents if doc["name"] == name]
        return doc

    def parent_of(self, name: str) -> str:
        by_id = {doc["id"]: doc["name"] for doc in self.documents}
        return by_id.get(self.named(name)["parent_id"], "(segment)")

    def operations(self) -> list[str]:
        return sorted(
            doc["name"] for doc in self.documents if "operation" in doc.get("metadata", {}).get("durable", {})
        )

    def invocation(self) -> dict[str, Any]:
        return dict(self.named("## app")["metadata"]["durable"]["invocation"])


def run(app: Callable[..., Any], *, header: Callable[[], str] | None = None, **runner: Any) -> tuple[Any, list[Traced]]:
    """Run one durable execution of ``app`` (traced by ``capture_lambda_handler``, with our plugin), each invocation
    with a fresh sampled trace header as the runtime sets it; (the runner's result, the invocations' traces)."""
    daemon = lambda_env.sink()
    trace_ids: list[str] = []
    handler = traced_handler(app, trace_ids, header)
    with DurableFunctionTestRunner(handler=handler, **runner) as test_runner:
        result = test_runner.run(input="{}", execution_timeout=30)
    return result, [Traced(trace_id, daemon.wait_for(trace_id, 0)) for trace_id in trace_ids if trace_id]


def traced_handler(
    app: Callable[..., Any], trace_ids: list[str], header: Callable[[], str] | None = None
) -> Callable[[Any, Any], Any]:
    """``app`` traced by ``capture_lambda_handler`` with our plugin, each invocation under a fresh sampled trace
    header (or ``header()``) in the environment as the runtime sets it; its trace id appended to ``trace_ids``."""
    traced = Tracer().capture_lambda_handler(durable_execution(app, plugins=[durable.FACTORY]))

    def handler(event: Any, context: Any) -> Any:
        value, trace_id, _ = new_trace_header() if header is None else (header(), "", "")
        trace_ids.append(trace_id)
        os.environ["_X_AMZN_TRACE_ID"] = value
        try:
            return traced(event, context)
        finally:
            del os.environ["_X_AMZN_TRACE_ID"]

    return handler


def app(event: Any, context: DurableContext) -> Any:
    """Parallel branches, a map and a callback the execution waits for."""

    def branch(n: int) -> Callable[[DurableContext], int]:
        def body(ctx: DurableContext) -> int:
            return int(ctx.step(lambda _: n, name=f"work-{n}")) + 1

        return body

    fanned = context.parallel([branch(0), branch(1)], name="fan-out").get_results()
    mapped = context.map([1, 2], lambda ctx, item, index, items: ctx.step(lambda _: item * 10, name=f"x{item}"))
    callback = context.create_callback(name="approval")
    return {"fanned": fanned, "mapped": mapped.get_results(), "approved": callback.result()}


def test_parallel_map_and_a_callback_nest_like_the_operations() -> None:
    """A callback is sent while the execution waits for it (the runner plays the external system): the next
    invocation replays everything and shows the callback among what completed while suspended.

    Simulated: the service lists a delivered callback in the next invocation's ``UpdatedOperationIds`` (the SDK's
    ``InvocationStartInfo.updated_operations``: "a callback that was delivered"); the testing runner 1.4.0 lists
    elapsed waits there but not callbacks, so the handler adds it as the service would."""
    daemon = lambda_env.sink()
    trace_ids: list[str] = []
    traced = traced_handler(app, trace_ids)

    def handler(event: Any, context: Any) -> Any:
        for operation in event.initial_execution_state.operations:
            delivered = operation.operation_type.value == "CALLBACK" and operation.status.value == "SUCCEEDED"
            if delivered and operation.operation_id not in event.updated_operation_ids:
                event.updated_operation_ids.append(operation.operation_id)
        return traced(event, context)

    with DurableFunctionTestRunner(handler=handler) as runner:
        arn = runner.run_async(input="{}", execution_timeout=30)
        callback_id = runner.wait_for_callback(arn, name="approval", timeout=30)
        runner.send_callback_success(callback_id, b"yes")
        result = runner.wait_for_result(arn, timeout=30)
    assert result.result == '{"fanned": [1, 2], "mapped": [10, 20], "approved": "yes"}'
    first, second = (Traced(trace_id, daemon.wait_for(trace_id, 0)) for trace_id in trace_ids)

    assert first.operations() == [
        "Callback approval",
        "Map",
        "MapIteration map-item-0",
        "MapIteration map-item-1",
        "Parallel fan-out",
        "ParallelBranch parallel-branch-0",
        "ParallelBranch parallel-branch-1",
        "Step work-0",
        "Step work-1",
        "Step x1",
        "Step x2",
    ]
    assert first.parent_of("Step work-1") == "ParallelBranch parallel-branch-1"
    assert first.parent_of("ParallelBranch parallel-branch-1") == "Parallel fan-out"
    assert first.parent_of("Parallel fan-out") == "## app"
    assert first.parent_of("Step x2") == "MapIteration map-item-1"
    callback = first.named("Callback approval")["metadata"]["durable"]["operation"]
    assert (callback["type"], callback["status"], callback["outcome"]) == ("CALLBACK", "STARTED", "SUSPENDED")
    assert first.named("## app")["annotations"]["DurableStatus"] == "PENDING"

    assert second.operations() == []  # everything was done before: replayed, not done again
    invocation = second.invocation()
    assert invocation["replayed"]["count"] == 10
    assert [op["name"] for op in invocation["completed_while_suspended"]["operations"]] == ["approval"]
    annotations = second.named("## app")["annotations"]
    assert annotations["Replay"] is True and annotations["DurableStatus"] == "SUCCEEDED"
    assert annotations["DurableExecution"] == first.named("## app")["annotations"]["DurableExecution"] == arn


def test_a_branch_resumed_in_the_same_invocation_stays_under_its_branch() -> None:
    """A parallel branch whose wait ends while another branch still runs resumes in this invocation, in a new
    context (the SDK copies the coordinator's): its next step still nests under its branch. Real time (1 s wait);
    the other branch's step runs until that next step has (a barrier, not a longer sleep)."""
    after_ran = threading.Event()

    def slow_step(_: Any) -> None:
        assert after_ran.wait(30), "the waiting branch did not resume while the other one ran"

    def after_step(_: Any) -> str:
        after_ran.set()
        return "after"

    def slow_and_waiting(event: Any, context: DurableContext) -> Any:
        def slow(ctx: DurableContext) -> Any:
            return ctx.step(slow_step, name="slow")

        def waiting(ctx: DurableContext) -> Any:
            ctx.wait(Duration.from_seconds(1), name="pause")
            return ctx.step(after_step, name="after")

        return context.parallel([slow, waiting], name="both").get_results()

    result, [only] = run(slow_and_waiting, skip_time=False)
    assert result.result == '[null, "after"]'
    assert only.parent_of("Step after") == only.parent_of("Wait pause") == "ParallelBranch parallel-branch-1"


def test_untraced_invocations_record_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unsampled, or tracing off: the plugin finds no span of ours and sends nothing; the execution is unchanged."""
    daemon = lambda_env.sink()
    first = len(daemon.datagrams())
    result, _ = run(
        app_with_a_wait, header=lambda: "Root=1-6b0f2f7d-3ed862529d375a7ebba3eb94;Parent=1bc5755f0b8225c7;Sampled=0"
    )
    assert result.result == '"done"'
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    result, _ = run(app_with_a_wait)
    assert result.result == '"done"'
    daemon.sync()
    assert daemon.datagrams(first) == []


def app_with_a_wait(event: Any, context: DurableContext) -> Any:
    context.step(lambda _: 1, name="one")
    context.wait(Duration.from_seconds(5), name="pause")
    return "done"


@pytest.mark.parametrize(
    ("part", "phase"),
    [
        ("execution_key", "starting a durable invocation"),
        ("_start_span", "starting a durable operation"),
        ("_listed", "ending a durable invocation"),
    ],
)
def test_a_failing_hook_never_reaches_the_sdk(
    part: str, phase: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever breaks inside the plugin is reported once, as every tracer failure, and the SDK never sees it (it
    would log each one as ``Plugin ... exception ignored``); the handler is still traced."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("broken")

    monkeypatch.setattr(durable, part, broken)
    with caplog.at_level(logging.WARNING):
        result, invocations = run(app_with_a_wait)
    assert result.result == '"done"'
    assert len(invocations) == 2
    assert not [r for r in caplog.records if r.name.startswith("aws_durable_execution_sdk_python")]
    warnings = [r.getMessage() for r in caplog.records if r.name == "lambda_tracer"]
    assert [w for w in warnings if f"while {phase}" in w and "RuntimeError at test_durable.py" in w], warnings
    assert "broken" not in " ".join(warnings)  # type and place, never the message
    for invocation in invocations:
        assert "## app_with_a_wait" in [doc["name"] for doc in invocation.documents]


def test_execution_key() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST/durable-execution/order-1/4f0c8c2e"
    assert durable.execution_key(arn) == arn
    long_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + "x" * 2000
    key = durable.execution_key(long_arn)
    assert len(key) == 1000
    assert key == long_arn[:935] + "#" + hashlib.sha256(long_arn.encode()).hexdigest()
    assert durable.execution_key(long_arn + "y") != key  # the execution id is at the end


def test_rebuilt_exception_is_named_like_the_original() -> None:
    error = types.SimpleNamespace(type="billing.errors.PaymentDeclined", message="declined")
    rebuilt = durable.rebuilt_exception(error)
    assert (type(rebuilt).__name__, type(rebuilt).__module__, str(rebuilt)) == (
        "PaymentDeclined",
        "billing.errors",
        "declined",
    )
    assert (
        type(durable.rebuilt_exception(types.SimpleNamespace(type="ValueError", message="x"))).__name__ == "ValueError"
    )
    assert type(durable.rebuilt_exception(types.SimpleNamespace(type=None, message=None))).__name__ == "Error"


# -- the layer's entry point module (layer/_lambda_tracer_durable.py) --------------------------------------------


@pytest.fixture
def entry_point() -> Iterator[types.ModuleType]:
    """A fresh import of the entry point module (it caches what ``plugin`` resolved to)."""
    sys.modules.pop("_lambda_tracer_durable", None)
    import _lambda_tracer_durable

    yield _lambda_tracer_durable
    sys.modules.pop("_lambda_tracer_durable", None)


def test_entry_point_is_the_factory_with_sdk_3(entry_point: types.ModuleType) -> None:
    from aws_durable_execution_sdk_python.plugin_discovery import _is_plugin_factory

    assert entry_point.plugin is durable.FACTORY
    assert _is_plugin_factory(entry_point.plugin)  # the SDK's own check at registration


def test_entry_point_with_sdk_2_is_a_provider_of_a_plugin_that_records_nothing(
    entry_point: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aws-durable-execution-sdk-python 2.x reads DURABLE_EXECUTION_PLUGINS too, and takes a provider: checked here
    as its loader (2.1.0's plugin_discovery._load_provider and _create_plugin) checks it."""

    class DurableInstrumentationPlugin:
        pass

    @dataclass(frozen=True)
    class DurableInstrumentationPluginProvider:
        plugin_type: type
        factory: Callable[[], Any]
        plugin_api_version: int

    sdk2 = types.SimpleNamespace(
        DurableInstrumentationPlugin=DurableInstrumentationPlugin,
        DurableInstrumentationPluginProvider=DurableInstrumentationPluginProvider,
        DURABLE_INSTRUMENTATION_PLUGIN_API_VERSION=1,
    )
    monkeypatch.setitem(sys.modules, "aws_durable_execution_sdk_python.plugin", sdk2)
    provider = entry_point.plugin
    assert isinstance(provider, DurableInstrumentationPluginProvider)
    assert provider.plugin_api_version == 1
    assert issubclass(provider.plugin_type, DurableInstrumentationPlugin)
    assert type(provider.factory()) is provider.plugin_type
    assert set(vars(provider.plugin_type)) <= {"__module__", "__doc__", "__dict__", "__weakref__", "__qualname__"}


def test_entry_point_survives_a_lambda_tracer_without_durable(
    entry_point: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An older lambda_tracer bundled in the function hides the layer's: the entry point still loads, and its
    plugins record nothing."""
    monkeypatch.setitem(sys.modules, "lambda_tracer.durable", None)  # import fails: ModuleNotFoundError
    factory = entry_point.plugin
    assert factory is not durable.FACTORY
    plugin = factory.create_plugin(None)
    from aws_durable_execution_sdk_python.plugin import DurableInstrumentationPlugin

    assert type(plugin) is DurableInstrumentationPlugin


@pytest.fixture(params=["xray", "otlp"])
def exporter(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each exporter in turn: X-Ray documents, or OTLP spans (as LAMBDA_TRACER_EXPORTER=otlp makes it at init)."""
    from lambda_tracer.backends import otlp, xray

    if request.param == "otlp":
        monkeypatch.setattr(xray, "EXPORTER", otlp)
        monkeypatch.setenv("LAMBDA_TRACER_EXPORTER", "otlp")
        otlp.configure()
    yield request.param
    monkeypatch.undo()
    otlp.configure()


def test_operation_names_are_masked_wherever_they_are_recorded(exporter: str) -> None:
    """A step named ``fetch (api_key)=K`` would read ``fetch api_key=K`` once ``(`` and ``)`` are cut: its
    subsegment's name is masked as the escape hatch's names are (masked, cleaned, masked again), and so is every
    other copy of the name (``durable.operation``'s ``name``, the next invocation's ``replayed`` and
    ``completed_while_suspended`` lists). Those copies were masked as text only, where ``(api_key)=K`` is no
    name/value pair: K was sent there, beside the subsegment name that masked it."""

    def named_app(event: Any, context: DurableContext) -> Any:
        context.step(lambda _: 1, name="fetch (api_key)=k-durable-77")
        context.wait(Duration.from_seconds(5), name="pause (token)=k-durable-78")
        return "done"

    result, [first, second] = run(named_app)
    assert result.result == '"done"'
    for invocation in (first, second):
        assert invocation.documents and all(("otlp" in doc) == (exporter == "otlp") for doc in invocation.documents)
    assert first.operations() == ["Step fetch api_key=[REDACTED]", "Wait pause token=[REDACTED]"]
    step = first.named("Step fetch api_key=[REDACTED]")["metadata"]["durable"]["operation"]
    assert step["name"] == "fetch api_key=[REDACTED]"
    invocation = second.named("## named_app")["metadata"]["durable"]["invocation"]
    assert [op["name"] for op in invocation["replayed"]["operations"]] == ["fetch api_key=[REDACTED]"]
    assert [op["name"] for op in invocation["completed_while_suspended"]["operations"]] == ["pause token=[REDACTED]"]
    sent = json.dumps([first.documents, second.documents])
    assert "k-durable-7" not in sent
