"""Cold-start bookkeeping (coldstart.py): the first-invocation flag, AWS_LAMBDA_INITIALIZATION_TYPE, and
SnapStart restores (the runtime's after-restore hooks of snapshot_restore_py, run by awslambdaric).

The annotations on the wire are checked in test_tracer.py and, after a restore, at the end of this file; the rest pin
the rules themselves. The root conftest makes each test start with a first invocation pending and no restore.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import snapshot_restore_py
from awslambdaric import lambda_runtime_hooks_runner

from forked import in_forked_child
from lambda_env import invoke
from lambda_tracer import Tracer, coldstart, config
from lambda_tracer.backends import udp

INIT_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"


@pytest.fixture
def warnings_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """WARNINGs of lambda_tracer, with the report-once memory emptied so a value warned about earlier warns again."""
    config._reported.clear()
    with caplog.at_level(logging.WARNING, logger="lambda_tracer"):
        yield caplog
    config._reported.clear()


def _init_type_warnings(log: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in log.records if INIT_TYPE in r.getMessage()]


def test_only_the_first_invocation_is_a_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INIT_TYPE, raising=False)
    assert coldstart.take() == (True, "on-demand")
    assert coldstart.take() == (False, "on-demand")
    assert coldstart.take() == (False, "on-demand")


def test_reset_makes_the_next_invocation_the_first_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INIT_TYPE, "on-demand")
    assert coldstart.take()[0] is True
    assert coldstart.take()[0] is False
    coldstart.reset()
    assert coldstart.take()[0] is True
    assert coldstart.take()[0] is False


@pytest.mark.parametrize("init_type", ["provisioned-concurrency", "snap-start"])
def test_init_ahead_of_time_is_never_a_cold_start_but_uses_up_the_first_call(
    monkeypatch: pytest.MonkeyPatch, init_type: str
) -> None:
    monkeypatch.setenv(INIT_TYPE, init_type)
    assert coldstart.take() == (False, init_type)
    assert coldstart.take() == (False, init_type)
    monkeypatch.setenv(INIT_TYPE, "on-demand")
    assert coldstart.take() == (False, "on-demand")  # the first invocation has been


@pytest.mark.parametrize("init_type", ["on-demand", "lambda-managed-instances", "a" * 40, "x"])
def test_on_demand_and_new_init_types_are_kept_and_cold(
    monkeypatch: pytest.MonkeyPatch, warnings_log: pytest.LogCaptureFixture, init_type: str
) -> None:
    """Init types Lambda may add later are reported as they are; only ahead-of-time ones are never cold."""
    monkeypatch.setenv(INIT_TYPE, init_type)
    assert coldstart.init_type() == init_type
    assert coldstart.take() == (True, init_type)
    assert _init_type_warnings(warnings_log) == []


@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n"])
def test_unset_or_blank_is_on_demand_without_a_warning(
    monkeypatch: pytest.MonkeyPatch, warnings_log: pytest.LogCaptureFixture, raw: str | None
) -> None:
    if raw is None:
        monkeypatch.delenv(INIT_TYPE, raising=False)
    else:
        monkeypatch.setenv(INIT_TYPE, raw)
    assert coldstart.init_type() == "on-demand"
    assert coldstart.take() == (True, "on-demand")
    assert warnings_log.records == []


def test_surrounding_blanks_are_ignored(
    monkeypatch: pytest.MonkeyPatch, warnings_log: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(INIT_TYPE, "  snap-start\n")
    assert coldstart.take() == (False, "snap-start")
    assert warnings_log.records == []


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param("a" * 41, id="longer than 40"),
        pytest.param("snap-start" * 5, id="a known type repeated, 50 long"),
        pytest.param("SNAP-START", id="upper case"),
        pytest.param("Snap-Start", id="mixed case"),
        pytest.param("snap_start", id="underscore"),
        pytest.param("snap start", id="inner space"),
        pytest.param("on-demand2", id="digit"),
        pytest.param("---", id="dashes only"),
    ],
)
def test_values_that_are_not_an_init_type_are_on_demand_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, warnings_log: pytest.LogCaptureFixture, garbage: str
) -> None:
    monkeypatch.setenv(INIT_TYPE, garbage)
    assert coldstart.take() == (True, "on-demand")
    assert coldstart.init_type() == "on-demand"
    assert coldstart.init_type() == "on-demand"
    messages = _init_type_warnings(warnings_log)
    assert len(messages) == 1, messages  # one per value, however often it is read
    assert messages[0].startswith(f"lambda_tracer: ignoring {INIT_TYPE}=")
    assert messages[0].endswith("using on-demand")


def test_the_warning_quotes_a_short_value_and_only_the_length_of_a_long_one(
    monkeypatch: pytest.MonkeyPatch, warnings_log: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(INIT_TYPE, "Snap-Start")
    coldstart.init_type()
    monkeypatch.setenv(INIT_TYPE, "x" * 100)
    coldstart.init_type()
    assert _init_type_warnings(warnings_log) == [
        f"lambda_tracer: ignoring {INIT_TYPE}='Snap-Start' (not understood); using on-demand",
        f"lambda_tracer: ignoring {INIT_TYPE}=<100 characters> (not understood); using on-demand",
    ]


def test_only_one_of_concurrent_first_invocations_is_cold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INIT_TYPE, raising=False)
    start = threading.Barrier(8)
    results: list[bool] = []

    def invocation() -> None:
        start.wait()
        results.append(coldstart.take()[0])

    threads = [threading.Thread(target=invocation) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork")
def test_a_forked_child_starts_with_a_cold_start_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INIT_TYPE, raising=False)
    assert coldstart.take()[0] is True
    child = in_forked_child(lambda: b"%d%d" % (coldstart.take()[0], coldstart.take()[0]))
    assert child == b"10"  # cold in the child, once
    assert coldstart.take()[0] is False  # the parent's flag is untouched


@pytest.fixture
def restore_hooks() -> Iterator[list[tuple[object, ...]]]:
    """The runtime's after-restore registry and coldstart's own hooks, empty for the test (earlier tests' Tracers
    registered theirs) and put back as they were afterwards."""
    registry = snapshot_restore_py.get_after_restore()
    saved, saved_hooks = list(registry), list(coldstart._restore_hooks)
    registry.clear()
    coldstart._restore_hooks.clear()
    yield registry
    registry[:] = saved
    coldstart._restore_hooks[:] = saved_hooks


def test_only_the_first_invocation_after_a_restore_is_restored() -> None:
    assert coldstart.take_restored() is False
    coldstart.restored()
    assert coldstart.take_restored() is True
    assert coldstart.take_restored() is False
    coldstart.restored()  # the same snapshot restored again: another new sandbox
    assert coldstart.take_restored() is True
    assert coldstart.take_restored() is False


def test_a_restore_does_not_make_a_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INIT_TYPE, "snap-start")
    coldstart.restored()
    assert coldstart.take() == (False, "snap-start")
    assert coldstart.take_restored() is True


def test_reset_forgets_a_pending_restore() -> None:
    coldstart.restored()
    coldstart.reset()
    assert coldstart.take_restored() is False


def test_restore_hooks_run_at_each_restore_once_each(restore_hooks: list[tuple[object, ...]]) -> None:
    calls: list[str] = []

    def first() -> None:
        calls.append("first")

    def second() -> None:
        calls.append("second")

    coldstart.on_restore(first)
    coldstart.on_restore(second)
    coldstart.on_restore(first)  # already there
    coldstart.restored()
    assert calls == ["first", "second"]
    coldstart.restored()
    assert calls == ["first", "second", "first", "second"]


@pytest.mark.parametrize("init_type", [None, "on-demand", "provisioned-concurrency", "Snap-Start"])
def test_restores_are_watched_only_in_a_snapstart_sandbox(
    monkeypatch: pytest.MonkeyPatch, restore_hooks: list[tuple[object, ...]], init_type: str | None
) -> None:
    if init_type is None:
        monkeypatch.delenv(INIT_TYPE, raising=False)
    else:
        monkeypatch.setenv(INIT_TYPE, init_type)
    before = list(restore_hooks)
    coldstart.watch_restores()
    assert restore_hooks == before
    lambda_runtime_hooks_runner.run_after_restore()
    assert coldstart.take_restored() is False


def test_in_a_snapstart_sandbox_the_runtime_restore_arms_restored(
    monkeypatch: pytest.MonkeyPatch, restore_hooks: list[tuple[object, ...]]
) -> None:
    monkeypatch.setenv(INIT_TYPE, "snap-start")
    calls: list[str] = []
    coldstart.on_restore(lambda: calls.append("hook"))
    coldstart.watch_restores()
    assert [entry[0] for entry in restore_hooks].count(coldstart.restored) == 1
    assert coldstart.take_restored() is False  # registered, not run: the snapshot is not restored yet
    lambda_runtime_hooks_runner.run_after_restore()  # what awslambdaric does once restored
    assert coldstart.take_restored() is True
    assert calls == ["hook"]


def test_watching_restores_twice_registers_the_hook_once(
    monkeypatch: pytest.MonkeyPatch, restore_hooks: list[tuple[object, ...]]
) -> None:
    monkeypatch.setenv(INIT_TYPE, "snap-start")
    coldstart.watch_restores()
    coldstart.watch_restores()
    assert [entry[0] for entry in restore_hooks].count(coldstart.restored) == 1


def test_the_init_type_is_parsed_once_per_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lambda sets it once per sandbox: each invocation after the first reads it without parsing it again."""
    monkeypatch.setenv(INIT_TYPE, "snap-start")
    assert coldstart.init_type() == "snap-start"

    def no_parsing(value: object) -> str:
        raise AssertionError("parsed again")

    monkeypatch.setattr(config, "decoded", no_parsing)
    assert coldstart.init_type() == "snap-start"
    assert coldstart.take() == (False, "snap-start")


def test_environment_values_are_read_as_os_environ_gives_them(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ["plain", "é ü 日本", "", " spaced "]:
        monkeypatch.setenv("LAMBDA_TRACER_TEST_VALUE", value)
        assert config.get_raw("LAMBDA_TRACER_TEST_VALUE") == os.environ["LAMBDA_TRACER_TEST_VALUE"] == value
    monkeypatch.delenv("LAMBDA_TRACER_TEST_VALUE")
    assert config.get_raw("LAMBDA_TRACER_TEST_VALUE") is None


def test_the_first_invocation_after_each_snapstart_restore_says_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """awslambdaric runs the after-restore hooks registered with snapshot_restore_py; ours arms Restored."""
    from awslambdaric import lambda_runtime_hooks_runner

    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        return "ok"

    before = udp.sender()
    lambda_runtime_hooks_runner.run_after_restore()  # what the runtime does once restored
    assert udp._sender is None  # the restored sandbox opens its own socket
    first, second = invoke(handler).documents[0], invoke(handler).documents[0]
    assert first["annotations"] == {"ColdStart": False, "Service": "svc", "InitType": "snap-start", "Restored": True}
    assert "Restored" not in second["annotations"]
    assert udp.sender() is not before
    lambda_runtime_hooks_runner.run_after_restore()  # another restore of the same snapshot: a new sandbox
    assert invoke(handler).documents[0]["annotations"]["Restored"] is True


def test_the_handler_annotations_text_is_the_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    """Written once per set of values (the first invocation writes the warm one's too), as the encoder writes them."""
    from lambda_tracer.backends import xray_documents

    monkeypatch.setattr(coldstart, "_annotations", {})
    monkeypatch.setattr(coldstart, "_warm", {})
    coldstart.reset()
    coldstart.restored()
    for service in ("svc", 'caf\u00e9 "q" \x7f'):
        for extras in (True, False):
            annotations, text = coldstart.handler_annotations(service, extras)
            assert text == ',"annotations":' + xray_documents.dumps(annotations)
    first = {key[0] for key in coldstart._annotations}
    assert first == {True, False} and len(coldstart._annotations) == 5  # cold+restored, warm, warm x3 services/extras
    shared = coldstart.handler_annotations("svc", True)
    assert coldstart.handler_annotations("svc", True) is shared  # warm invocations share one (a span copies it)
    assert shared[0] == {"ColdStart": False, "Service": "svc", "InitType": "on-demand"}
    coldstart.restored()  # a restore to tell: not the warm invocations' set
    assert coldstart.handler_annotations("svc", True)[0]["Restored"] is True
    assert coldstart.handler_annotations("svc", True) is shared
    monkeypatch.setattr(coldstart, "_annotations", {})
    for index in range(coldstart._MAX_ANNOTATION_SETS + 3):
        coldstart.handler_annotations(f"svc{index}", True)
    assert len(coldstart._annotations) == coldstart._MAX_ANNOTATION_SETS


def test_an_annotation_of_the_user_is_its_invocations_only() -> None:
    """Warm invocations share the handler's annotations (``handler_annotations``): the span writes on a copy."""
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        if event.get("annotate"):
            tracer.put_annotation("user", 1)
            tracer.put_annotation("ColdStart", "mine")
        if event.get("sdk"):  # through the escape hatch: merged into the document (xray_documents.merge_foreign)
            tracer.provider.current_subsegment().put_annotation("sdk", 1)
        return "ok"

    invoke(handler, {})
    events = [{}, {"annotate": True}, {}, {"sdk": True}, {}, {"annotate": True, "sdk": True}, {}]
    documents = [invoke(handler, event).documents[0] for event in events]
    handlers = {"ColdStart": False, "Service": "svc", "InitType": "on-demand"}
    assert [document["annotations"] for document in documents] == [
        handlers,
        {**handlers, "user": 1, "ColdStart": "mine"},
        handlers,
        {**handlers, "sdk": 1},
        handlers,
        {**handlers, "user": 1, "ColdStart": "mine", "sdk": 1},
        handlers,
    ]
    assert coldstart.handler_annotations("svc", True)[0] == handlers  # the warm invocations' own, never written


def test_threads_annotating_the_handler_span_at_once_write_into_one_copy() -> None:
    """The handler's shared annotations are copied at the span's first write: a thread that annotates it while
    another is copying them (threads with a copied context) writes into the copy the other keeps, not one it drops."""
    from lambda_tracer.backends import xray

    trace = xray.Trace("1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", "1", {})
    annotations, text = coldstart._written(False, "svc", True, "on-demand", False)
    during: list[threading.Thread] = []

    class Shared(dict):  # type: ignore[type-arg]
        """The warm invocations' dict: another thread annotates the span while the first write copies it."""

        def copy(self) -> dict[str, Any]:
            copied = dict(self)
            if not during:
                during.append(threading.Thread(target=span.annotate, args=("other", 2)))
                during[0].start()
                during[0].join()
            return copied

    shared = Shared(annotations)
    span = xray.XRaySpan("## handler", trace, "53995c3f42cd8ad8", "local", (shared, text))
    span.annotate("user", 1)
    assert during and span.annotations == {**annotations, "other": 2, "user": 1}
    assert shared == annotations and span.annotations_text is None


@pytest.mark.parametrize("service", [42, ["svc"]])
def test_a_service_that_is_not_text_is_recorded_as_its_text(
    service: Any, warnings_log: pytest.LogCaptureFixture
) -> None:
    """``service`` is typed str, but nothing checks it: the handler is still traced, its Service the value's text,
    its response recorded under that text (the namespace), and one warning says so, naming the type only."""
    tracer = Tracer(service=service)

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> dict[str, int]:
        return {"ok": 1}

    for _ in range(2):
        document = invoke(handler).documents[0]
        assert document["annotations"]["Service"] == str(service)
        assert document["metadata"] == {str(service): {"handler response": {"ok": 1}}}
    assert tracer.service == str(service)
    assert [r.getMessage() for r in warnings_log.records] == [
        f"lambda_tracer: the Tracer's service is not text ({type(service).__name__}): its str() is used"
    ]


def _assert_traced_as_orders(tracer: Tracer, invocations: int) -> None:
    """``invocations`` of a handler returning ``{"ok": 1}``, each recorded under the service ``orders``, which the
    Tracer holds as an exact str."""

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> dict[str, int]:
        return {"ok": 1}

    for _ in range(invocations):
        document = invoke(handler).documents[0]
        assert document["annotations"]["Service"] == "orders"
        assert document["metadata"] == {"orders": {"handler response": {"ok": 1}}}
    assert tracer.service.__class__ is str and tracer.service == "orders"


def test_a_service_of_a_str_subclass_is_its_text_with_no_warning(warnings_log: pytest.LogCaptureFixture) -> None:
    """A str subclass is text: recorded as it reads, as an exact str (its own ``__str__`` and ``__eq__`` never run
    per invocation), and no warning."""
    calls = []

    class Named(str):
        def __str__(self) -> str:
            calls.append("str")
            return "other"

        def __eq__(self, other: object) -> bool:
            calls.append("eq")
            return str.__eq__(self, other)

        __hash__ = str.__hash__

    tracer = Tracer(service=Named("orders"))

    _assert_traced_as_orders(tracer, 3)
    assert calls == [] and warnings_log.records == []


def test_a_service_whose_str_is_a_str_subclass_is_an_exact_str(warnings_log: pytest.LogCaptureFixture) -> None:
    """``str()`` returns what ``__str__`` returns, a str subclass too: the service is still taken as an exact str,
    so the subclass's own methods never run per invocation (its ``__hash__`` raising would leave every invocation
    untraced)."""

    class Unhashable(str):
        def __hash__(self) -> int:
            raise TypeError("unhashable")

        __eq__ = str.__eq__

    class Service:
        def __str__(self) -> str:
            return Unhashable("orders")

    tracer = Tracer(service=Service())  # type: ignore[arg-type]

    _assert_traced_as_orders(tracer, 2)
    assert [r.getMessage() for r in warnings_log.records] == [
        "lambda_tracer: the Tracer's service is not text (Service): its str() is used"
    ]


def test_a_service_whose_text_fails_is_the_default(warnings_log: pytest.LogCaptureFixture) -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise ValueError("a secret of the service")

    tracer = Tracer(service=Unprintable())

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> dict[str, int]:
        return {"ok": 1}

    document = invoke(handler).documents[0]
    assert document["annotations"]["Service"] == "service_undefined"
    assert document["metadata"] == {"service_undefined": {"handler response": {"ok": 1}}}
    (message,) = [r.getMessage() for r in warnings_log.records]
    assert "Unprintable" in message and "ValueError at test_coldstart.py:" in message and "secret" not in message


#: A handler's module that calls the freeze as it is imported (as the package's import does in code) and in its handler.
FREEZING_APP = """
from lambda_tracer import coldstart

coldstart.freeze_init_objects()


def handler(event, context):
    coldstart.freeze_init_objects()
"""


@pytest.fixture
def lambda_init(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[..., tuple[int, Any]]]:
    """This process as a Lambda runtime's, with the tracer on: what it gives imports a handler's module (written
    here, named by ``_HANDLER``, or ``_HANDLER`` set to ``named_by``) the way the runtime does at init, and returns
    how many times ``gc.freeze`` was called meanwhile, and the module. The calls are counted, not run: the test
    process's heap stays as it is (mutmut freezes its own before forking its workers; 3.12+ start with objects
    frozen). That a freeze really freezes, through the built layer and the runtime: test_e2e_libraries.py."""
    freezes: list[None] = []
    monkeypatch.setattr(gc, "freeze", lambda: freezes.append(None))
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
    for name in ("LAMBDA_TRACER_GC_FREEZE", "POWERTOOLS_TRACE_DISABLED", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))

    def import_handler_module(handler: str, named_by: str | None = None, source: str = FREEZING_APP) -> tuple[int, Any]:
        module_name = handler.rsplit(".", 1)[0].replace("/", ".")
        path = tmp_path.joinpath(*module_name.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
        monkeypatch.setenv("_HANDLER", handler if named_by is None else named_by)
        before = len(freezes)
        module = importlib.import_module(module_name)
        return len(freezes) - before, module

    try:
        yield import_handler_module
    finally:
        for name in [name for name in sys.modules if name.startswith(("freezing_app", "lt_"))]:
            del sys.modules[name]  # the handlers' modules and the packages made for them


def test_init_objects_are_frozen_while_the_handler_s_module_is_imported(lambda_init: Callable[..., Any]) -> None:
    assert lambda_init("freezing_app.handler")[0] == 1


@pytest.mark.parametrize(
    "handler", ["lt_functions/freezing_app_in_folder.handler", "lt_package.freezing_app_in_package.handler"]
)
def test_a_handler_in_a_folder_or_package_is_the_module_the_runtime_imports(
    lambda_init: Callable[..., Any], handler: str
) -> None:
    assert lambda_init(handler)[0] == 1  # lt_functions.freezing_app_in_folder, lt_package.freezing_app_in_package


def test_nothing_is_frozen_during_an_invocation(
    lambda_init: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lazy import of the tracer inside a handler: the event and whatever the invocation made stay collectable."""
    _, app = lambda_init("freezing_app_invoked.handler")
    freezes: list[None] = []
    monkeypatch.setattr(gc, "freeze", lambda: freezes.append(None))
    app.handler({}, None)
    assert freezes == []


#: In code: the package's import freezes, then the handler's decoration (a second time: what the module made in
#: between, a boto3 client); a decoration at an invocation freezes nothing.
DECORATING_APP = """
from lambda_tracer import Tracer

tracer = Tracer()


@tracer.capture_lambda_handler
def handler(event, context):
    return tracer.capture_lambda_handler(lambda e, c: None)


def decorated_later():
    return tracer.capture_lambda_handler(lambda e, c: None)
"""


def test_a_handler_decorated_at_init_freezes_what_the_module_made_and_one_decorated_later_nothing(
    lambda_init: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "lambda_tracer" in sys.modules  # imported by this process already: its import's freeze does not run again
    count, app = lambda_init("lt_decorating_app.handler", source=DECORATING_APP)
    assert count == 1  # the decoration's
    freezes: list[None] = []
    monkeypatch.setattr(gc, "freeze", lambda: freezes.append(None))
    assert callable(app.decorated_later())
    assert freezes == []


@pytest.mark.parametrize(
    "env",
    [
        {"LAMBDA_TRACER_GC_FREEZE": "false"},
        {"POWERTOOLS_TRACE_DISABLED": "true"},
        {"AWS_LAMBDA_RUNTIME_API": None},  # imported by a process no Lambda runtime started (tests, scripts)
        {"LAMBDA_TASK_ROOT": None},
        {"AWS_SAM_LOCAL": "true"},
    ],
    ids=["opted out", "tracing disabled", "no runtime", "not in Lambda", "SAM local"],
)
def test_nothing_is_frozen_when_opted_out_or_not_traced(
    lambda_init: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, env: dict[str, str | None]
) -> None:
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)
    assert lambda_init("freezing_app_off.handler")[0] == 0


@pytest.mark.parametrize("handler", ["another_module.handler", "nodots", "", "sys.handler"])
def test_nothing_is_frozen_while_another_module_is_imported(
    lambda_init: Callable[..., Any], warnings_log: pytest.LogCaptureFixture, handler: str
) -> None:
    """``_HANDLER`` names another module (or none, or one the runtime refuses: ``sys``, whose spec was never
    initialised by an import): the import running now is not the runtime's import of it. Nothing is reported."""
    assert lambda_init("freezing_app_not_named.handler", named_by=handler)[0] == 0
    assert warnings_log.records == []


def test_a_failing_freeze_is_reported_once_by_type_and_place_and_init_goes_on(
    lambda_init: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, warnings_log: pytest.LogCaptureFixture
) -> None:
    def refuse() -> None:
        raise MemoryError("secret-in-message")

    monkeypatch.setattr(gc, "freeze", refuse)
    assert lambda_init("freezing_app_refused.handler")[1].handler is not None  # the module was imported whole
    assert lambda_init("freezing_app_refused_again.handler")[1].handler is not None
    reported = [r.getMessage() for r in warnings_log.records]
    assert len(reported) == 1 and reported[0].startswith("lambda_tracer: gc.freeze() failed: MemoryError at "), reported
    assert "test_coldstart.py" in reported[0] and "secret-in-message" not in reported[0]
