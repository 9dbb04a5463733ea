"""The public Tracer (tracer.py): what the X-Ray daemon receives for traced handlers and methods, its settings, and
when it installs its backend (``install``)."""

from __future__ import annotations

import os

import pytest

from lambda_env import in_a_fresh_process, invoke
from lambda_tracer import Tracer
from lambda_tracer import tracer as tracer_module
from lambda_tracer.backends import xray
from lambda_tracer_local.daemon import by_name, subsegments

pytestmark = pytest.mark.usefixtures("memory_sender")  # read what was sent in memory (tests/memory_sender.py)


def test_handler_subsegment_shape() -> None:
    tracer = Tracer(service="payment")

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> dict:
        return {"ok": 1}

    call = invoke(handler)
    assert call.error is None and call.result == {"ok": 1}
    doc = by_name(call.documents, "## handler")
    assert doc["type"] == "subsegment"
    assert doc["trace_id"] == call.trace_id
    assert doc["parent_id"] == call.parent_id
    assert doc["annotations"] == {"ColdStart": True, "Service": "payment", "InitType": "on-demand"}
    assert doc["metadata"] == {"payment": {"handler response": {"ok": 1}}}
    assert doc["end_time"] >= doc["start_time"]
    assert "in_progress" not in doc or doc["in_progress"] is False


def test_cold_start_only_on_first_invocation() -> None:
    tracer = Tracer(service="payment")

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> str:
        return "x"

    first, second = invoke(handler), invoke(handler)
    assert by_name(first.documents, "## handler")["annotations"]["ColdStart"] is True
    assert by_name(second.documents, "## handler")["annotations"]["ColdStart"] is False


@pytest.mark.parametrize(
    ("init_type", "cold"), [("provisioned-concurrency", False), ("snap-start", False), ("on-demand", True)]
)
def test_cold_start_by_init_type(monkeypatch: pytest.MonkeyPatch, init_type: str, cold: bool) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", init_type)
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> str:
        return "x"

    annotations = by_name(invoke(handler).documents, "## handler")["annotations"]
    assert annotations["ColdStart"] is cold
    assert annotations["InitType"] == init_type


def helper_method(value: int) -> int:
    return value * 2


def test_method_subsegment_is_child_of_handler() -> None:
    tracer = Tracer(service="svc")
    traced = tracer.capture_method(helper_method)

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> int:
        return traced(21)

    call = invoke(handler, expect=2)
    handler_doc = by_name(call.documents, "## handler")
    method_doc = by_name(call.documents, "## test_tracer.helper_method")
    assert method_doc["parent_id"] == handler_doc["id"]
    assert method_doc["metadata"] == {"svc": {"test_tracer.helper_method response": 42}}


def test_locals_in_method_name_are_sanitized() -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_method
    def inner() -> str:
        return "v"

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> str:
        return inner()

    call = invoke(handler, expect=2)
    names = {doc["name"] for doc in subsegments(call.documents)}
    assert "## test_tracer.test_locals_in_method_name_are_sanitized.locals.inner" in names


class PaymentError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def test_error_is_recorded_and_reraised_unchanged() -> None:
    tracer = Tracer(service="svc")
    raised = PaymentError("card declined", code=402)

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> None:
        raise raised

    call = invoke(handler)
    assert call.error is raised
    assert call.error.__traceback__ is not None
    doc = by_name(call.documents, "## handler")
    error = doc["metadata"]["svc"]["handler error"]
    assert error["type"] == "PaymentError"
    assert error["message"] == "card declined"
    assert error["attributes"] == {"code": 402}
    assert doc["fault"] is True
    [exception] = doc["cause"]["exceptions"]
    assert exception["type"] == "PaymentError"
    assert exception["message"] == "card declined"
    assert any(frame["label"] == "handler" for frame in exception["stack"])
    # Annotations are there on failed invocations too.
    assert doc["annotations"]["ColdStart"] is True


def test_capture_flags_from_arguments_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "false")
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def by_env(event: dict, context: object) -> str:
        return "secret"

    @tracer.capture_lambda_handler(capture_response=True, capture_error=False)
    def by_argument(event: dict, context: object) -> str:
        if event.get("fail"):
            raise ValueError("no")
        return "shown"

    assert "metadata" not in by_name(invoke(by_env).documents, "## by_env")
    assert by_name(invoke(by_argument).documents, "## by_argument")["metadata"] == {
        "svc": {"by_argument response": "shown"}
    }
    failed = by_name(invoke(by_argument, {"fail": 1}).documents, "## by_argument")
    assert "metadata" not in failed and failed["fault"] is True


def test_none_response_adds_no_metadata() -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> None:
        return None

    assert "metadata" not in by_name(invoke(handler).documents, "## handler")


def test_extra_kwargs_pass_through() -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object, extra: str = "") -> str:
        return extra

    assert invoke(handler, extra="injected").result == "injected"


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_a_handler_decorated_in_code_and_called_by_another_gets_its_own_subsegment(asynchronous: bool) -> None:
    """A router decorated with capture_lambda_handler calling handlers decorated the same way: the reference records
    each as its own ``## name`` subsegment, with its response and annotations. Ours recorded the inner one not at all
    (its annotations landed on the router's subsegment, its response nowhere): the guard against a zero-code handler
    nesting over one traced in code applied to two handlers traced in code as well."""
    import asyncio

    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def route(event: dict, context: object) -> str:
        tracer.put_annotation("routed", True)
        return "routed"

    @tracer.capture_lambda_handler
    async def route_async(event: dict, context: object) -> str:
        tracer.put_annotation("routed", True)
        return "routed"

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> str:
        return asyncio.run(route_async(event, context)) if asynchronous else route(event, context)

    call = invoke(handler, expect=2)
    assert call.result == "routed"
    outer = by_name(call.documents, "## handler")
    inner = by_name(call.documents, "## route_async" if asynchronous else "## route")
    assert inner["parent_id"] == outer["id"]
    assert inner["annotations"]["routed"] is True and inner["annotations"]["Service"] == "svc"
    assert inner["metadata"] == {"svc": {f"{inner['name'][3:]} response": "routed"}}
    assert "routed" not in outer["annotations"]


def test_a_handler_traced_in_code_under_the_zero_code_wrapper_is_not_nested() -> None:
    """Zero-code's wrapper around an undecorated ``_HANDLER`` that calls a handler decorated in code: one
    ``## main`` subsegment, the inner handler's work recorded in it (both modes together never trace twice)."""
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def decorated(event: dict, context: object) -> str:
        tracer.put_annotation("inner", 1)
        return "ok"

    def main(event: dict, context: object) -> str:
        return decorated(event, context)

    call = invoke(tracer_module.capture_handler(Tracer(), main, None, None, tracer_module.ZERO_CODE))
    assert call.result == "ok"
    [doc] = call.documents
    assert doc["name"] == "## main" and doc["annotations"]["inner"] == 1


def test_annotations_and_metadata_land_on_current_subsegment() -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_method
    def collect(charge_id: str) -> str:
        tracer.put_annotation(key="PaymentId", value=charge_id)
        tracer.put_metadata(key="detail", value={"charge": charge_id}, namespace="billing")
        return "ok"

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> str:
        tracer.put_metadata("payment_response", {"a": 1})
        return collect("ch_1")

    call = invoke(handler, expect=2)
    method_doc = by_name(
        call.documents, "## test_tracer.test_annotations_and_metadata_land_on_current_subsegment.locals.collect"
    )
    assert method_doc["annotations"] == {"PaymentId": "ch_1"}
    assert method_doc["metadata"]["billing"] == {"detail": {"charge": "ch_1"}}
    handler_doc = by_name(call.documents, "## handler")
    assert handler_doc["metadata"]["svc"]["payment_response"] == {"a": 1}


def test_default_service_is_the_function_name() -> None:
    tracer = Tracer()

    @tracer.capture_lambda_handler
    def handler(event: dict, context: object) -> int:
        return 1

    doc = by_name(invoke(handler).documents, "## handler")
    assert doc["annotations"]["Service"] == os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    assert doc["metadata"] == {os.environ["AWS_LAMBDA_FUNCTION_NAME"]: {"handler response": 1}}


def test_tracers_made_per_invocation_wait_for_the_sdk_and_opentelemetry_once() -> None:
    """Each Tracer given its own settings asks for the import hooks of the SDK and the OpenTelemetry API again;
    they are waiting once, whatever the number of Tracers (a function that makes one per invocation)."""
    code = (
        "from lambda_tracer import Tracer, instrumentation\n"
        "for n in range(20):\n"
        "    tracer = Tracer(service=f'svc{n}')\n"
        "    tracer.capture_lambda_handler(lambda event, context: event)(n, None)\n"
        "names = ('aws_xray_sdk.core', 'opentelemetry.trace', 'opentelemetry.propagate')\n"
        "print([len(instrumentation._waiting[name]) for name in names])\n"
    )
    assert in_a_fresh_process(code).strip() == "[1, 1, 1]"


def test_a_tracer_is_installed_when_made_not_when_first_read() -> None:
    """``install`` runs when a Tracer is made that traces, patching or not: the import hooks and SnapStart's restore
    hook are in place before user code imports anything or a snapshot is taken; a disabled Tracer installs nothing."""
    code = (
        "import sys\n"
        "from lambda_tracer import Tracer\n"
        "Tracer(disabled=True)\n"
        "before = 'lambda_tracer.instrumentation' in sys.modules\n"
        "Tracer(service='svc', disabled=False, auto_patch=False)\n"
        "from lambda_tracer import coldstart, instrumentation\n"
        "from lambda_tracer.backends import udp\n"
        "names = ('aws_xray_sdk.core', 'opentelemetry.trace', 'opentelemetry.propagate')\n"
        "print(before, [len(instrumentation._waiting.get(name, ())) for name in names], "
        "udp.reset in coldstart._restore_hooks)\n"
    )
    assert in_a_fresh_process(code).strip() == "False [1, 1, 1] True"


def test_a_tracer_enabled_later_is_installed_then(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real ``install`` runs (watched, not replaced): once, when the Tracer is enabled; then it traces."""
    installed: list[object] = []
    real_install = tracer_module.install
    monkeypatch.setattr(
        tracer_module, "install", lambda provider=None: installed.append(provider) or real_install(provider)
    )
    tracer = Tracer(service="svc", disabled=True)
    assert installed == [] and tracer.backend is not xray.BACKEND
    tracer.disabled = False
    assert installed == [None]
    assert tracer.backend is xray.BACKEND and installed == [None]  # the getter reads what was installed
    call = invoke(tracer.capture_lambda_handler(lambda event, context: "ran"))
    assert call.result == "ran" and by_name(call.documents, "## lambda")["annotations"]["Service"] == "svc"


def test_a_failing_install_is_reported_and_the_function_runs_untraced(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(provider: object = None) -> None:
        raise RuntimeError("injected install fault")

    monkeypatch.setattr(tracer_module, "install", broken)
    tracer = Tracer(service="svc")  # auto_patch: patching goes through the untraced backend, nothing raises
    handler = tracer.capture_lambda_handler(lambda event, context: "ran")
    call = invoke(handler, expect=0)
    assert call.result == "ran" and call.documents == []
    assert "tracing failed while installing the tracer (the function is unaffected): RuntimeError" in caplog.text
