"""The local runtime itself: Lambda's contract as awslambdaric sees it, and never hanging a test."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from lambda_tracer_local.runtime import InvocationTimeout, LocalLambda

from .support import names, write_function

APP = """
import json
import os
import sys
import time

def handler(event, context):
    action = event.get("action") if isinstance(event, dict) else None
    if action == "hang":
        time.sleep(60)
    if action == "exit":
        os._exit(3)
    if action == "deep":
        def down(n):
            if n == 0:
                raise RecursionError("deep " + "x" * 200)
            return down(n - 1)
        down(700)
    return {
        "event": event,
        "env": {k: v for k, v in os.environ.items() if not k.startswith("AWS_SECRET")},
        "deadline_ms": time.time() * 1000 + context.get_remaining_time_in_millis(),
        "arn": context.invoked_function_arn,
        "client_context": context.client_context.custom if context.client_context else None,
        "cwd": os.getcwd(),
        "sys_path_0": sys.path[0],
    }
"""


@pytest.fixture
def fn_dir(tmp_path: Path) -> Path:
    return write_function(tmp_path / "fn", {"app.py": APP})


def test_environment_is_lambdas_and_nothing_of_the_callers(fn_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "leaked-from-the-test-process")
    monkeypatch.setenv("PYTHONPATH", "/leaked")
    with LocalLambda(fn_dir, "app.handler", wrapper=False, function_name="envcheck", env={"EXTRA": "1"}) as fn:
        called_ms = time.time() * 1000
        inv = fn.invoke({"n": 1}, headers={"Lambda-Runtime-Client-Context": json.dumps({"custom": {"k": "v"}})})
        answered_ms = time.time() * 1000
        runtime_dir, api = str(fn.runtime_dir), fn.api.address
    env = inv.payload["env"]
    assert "POWERTOOLS_SERVICE_NAME" not in env
    assert env["PYTHONPATH"] == runtime_dir  # set by bootstrap.py, as the managed runtime does
    assert env["EXTRA"] == "1"
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_LAMBDA_RUNTIME_API"] == api
    assert env["LAMBDA_TASK_ROOT"] == str(fn_dir) == inv.payload["cwd"] == inv.payload["sys_path_0"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "envcheck"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_EXECUTION_ENV"].startswith("AWS_Lambda_python3.")
    assert env["_X_AMZN_TRACE_ID"] == inv.trace_header
    assert not any(name.startswith("LAMBDA_TRACER_LOCAL_") for name in env)  # our plumbing stays invisible
    # The deadline the handler's context counts down to: the default 30 s timeout from when it was invoked.
    assert called_ms + 30_000 - 1 <= inv.payload["deadline_ms"] <= answered_ms + 30_000 + 1
    assert inv.payload["arn"].endswith(":function:envcheck")
    assert inv.payload["client_context"] == {"k": "v"}


def test_trace_header_is_fresh_per_invocation_or_absent_when_asked(fn_dir: Path) -> None:
    with LocalLambda(fn_dir, "app.handler", wrapper=False) as fn:
        first, second, none = fn.invoke({}), fn.invoke({}), fn.invoke({}, trace_header=None)
    assert first.trace_id and second.trace_id and first.trace_id != second.trace_id
    assert first.trace_header == first.payload["env"]["_X_AMZN_TRACE_ID"]
    assert "_X_AMZN_TRACE_ID" not in none.payload["env"]  # awslambdaric removes it when the header is absent


def test_bytes_event_and_huge_error_cause_header(fn_dir: Path) -> None:
    with LocalLambda(fn_dir, "app.handler", wrapper=False) as fn:
        raw = fn.invoke(b'"just a string"')
        deep = fn.invoke({"action": "deep"})
        after = fn.invoke({"n": 2})
    assert raw.payload["event"] == "just a string"
    assert deep.status == "error" and deep.error_type == "RecursionError"
    # The runtime sent the X-Ray cause in one header far above http.server's 64 KiB line limit.
    header = next(value for key, value in deep.headers.items() if key.lower().endswith("xray-error-cause"))
    assert len(header) > 65_536
    assert deep.error_cause is not None and deep.error_cause["exceptions"][0]["type"] == "RecursionError"
    assert after.status == "response"


def test_a_hung_handler_times_out_and_the_process_is_killed(fn_dir: Path) -> None:
    with LocalLambda(fn_dir, "app.handler", wrapper=False) as fn:
        fn.invoke({"n": 0})
        with pytest.raises(InvocationTimeout, match=r"no reply within 1\.0s: the handler never answered"):
            fn.invoke({"action": "hang"}, timeout=1.0)
        assert fn.exit_code is not None and fn.exit_code < 0  # killed by a signal
        assert fn.process is not None
        pid = fn.process.pid
        gone = fn.invoke({"n": 1})
    assert gone.status == "exited"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_process_that_dies_is_reported_not_waited_for(fn_dir: Path) -> None:
    with LocalLambda(fn_dir, "app.handler", wrapper=False) as fn:
        inv = fn.invoke({"action": "exit"})
    assert (inv.status, inv.exit_code, inv.error_type) == ("exited", 3, "Runtime.ExitError")


CRASH_AFTER_A_TRACED_CALL = """
import os

from lambda_tracer import Tracer

tracer = Tracer(service="crash")


@tracer.capture_method
def save(order_id):
    return {"saved": order_id}


def handler(event, context):
    save(event["order_id"])
    os._exit(3)
"""


def test_a_crash_keeps_its_trace_header_and_the_documents_sent_before_it(layer_dir: Path, tmp_path: Path) -> None:
    """The runtime died after it got the event (and its trace header): what the tracer sent until then is that
    invocation's trace. It was reported as "(no trace header sent)", with no documents, in the CLI and --json."""
    crash_dir = write_function(tmp_path / "crash", {"app.py": CRASH_AFTER_A_TRACED_CALL})
    with LocalLambda(crash_dir, "app.handler", opt_dirs=[layer_dir]) as fn:
        crashed = fn.invoke({"order_id": "o-1"})
    assert (crashed.status, crashed.exit_code) == ("exited", 3)
    assert crashed.trace_header is not None and crashed.trace_id is not None
    assert crashed.trace_header.startswith(f"Root={crashed.trace_id};Parent={crashed.parent_id};")
    assert names(crashed.documents) == ["## app.save"]  # ## handler never ended: never sent


def test_init_error_is_returned_for_every_invocation(fn_dir: Path) -> None:
    with LocalLambda(fn_dir, "app.nothere", wrapper=False) as fn:
        first, again = fn.invoke({}), fn.invoke({})
        assert fn.init_error is not None and fn.init_error["errorType"] == "Runtime.HandlerNotFound"
        assert fn.exit_code == 1
        assert "[ERROR] Runtime.HandlerNotFound" in fn.output
        init_posts = [r for r in fn.requests if r.path.endswith("/runtime/init/error")]
    assert [first.status, again.status] == ["init_error", "init_error"]
    assert first.error_message == again.error_message == "Handler 'nothere' missing on module 'app'"
    assert len(init_posts) == 1
    assert init_posts[0].headers.get("Lambda-Runtime-Function-Error-Type") == "Runtime.HandlerNotFound"


def test_exec_wrapper_problems_fail_like_the_managed_bootstrap(fn_dir: Path, tmp_path: Path) -> None:
    not_executable = tmp_path / "wrapper.sh"
    not_executable.write_text('#!/bin/sh\nexec "$@"\n')
    results = {}
    for name, wrapper in (("missing", tmp_path / "nope"), ("not executable", not_executable)):
        with LocalLambda(fn_dir, "app.handler", wrapper=wrapper) as fn:
            inv = fn.invoke({})
            results[name] = (inv.status, inv.exit_code, fn.output.strip())
    assert results["missing"] == ("exited", 127, f"{tmp_path / 'nope'}: does not exist")
    assert results["not executable"] == ("exited", 126, f"{not_executable}: is not an executable")


def test_cold_start_and_close_leave_nothing_behind(fn_dir: Path) -> None:
    fn = LocalLambda(fn_dir, "app.handler", wrapper=False)
    with fn:
        fn.invoke({})
        assert fn.cold_start_ms is not None and fn.init_ms is not None
        assert 0 < fn.init_ms <= fn.cold_start_ms
        workdir = fn.runtime_dir.parent
        assert fn.process is not None
        pid = fn.process.pid
    assert not workdir.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
