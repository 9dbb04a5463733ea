"""SnapStart: one initialised snapshot, several sandboxes restored from it, each traced as a sandbox of its own.

The local runtime simulates the snapshot (lambda_tracer_local.runtime, ``snap_start=True``): awslambdaric runs
init and the before-snapshot hooks, the process waits where Lambda takes the snapshot, and each ``restore()``
makes a sandbox from that state with a bare fork(2). Like a restored microVM, that runs none of Python's
at-fork hooks: only the after-restore hooks (``snapshot_restore_py``) can renew state, which is what the tracer
must do. What cannot run here: a real restore keeps the process id, and Lambda may restore many sandboxes at
once; here one restored sandbox serves at a time, with a new process id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lambda_tracer_local.daemon import by_name
from lambda_tracer_local.runtime import Invocation, LocalLambda

from .support import assert_each_trace_valid, write_function

SERVICE = "snappy"
RESTORES = 2
PRIMING_TRACE = "1-5f000000-0123456789abcdef01234567"
PRIMING_HEADER = f"Root={PRIMING_TRACE};Parent=0123456789abcdef;Sampled=1"
COMMON = """
import os
import random

from snapshot_restore_py import register_after_restore, register_before_snapshot

print("init in", os.getpid())


def report(event):
    print("handling in", os.getpid())
    return {
        "pid": os.getpid(),
        "random": random.random(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "log_stream": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
    }


@register_before_snapshot
def before_snapshot():
    print("before snapshot in", os.getpid())


@register_after_restore
def after_restore():
    print("after restore in", os.getpid())
"""
ZERO_CODE = (
    COMMON
    + """

def handler(event, context):
    return report(event)
"""
)
#: In code, a before-snapshot hook primes the handler (AWS's advice for SnapStart): the tracer sends a document
#: from the snapshot, so its UDP socket exists there. Each restored sandbox must use a socket of its own.
IN_CODE = (
    COMMON
    + f"""
import types

from lambda_tracer import Tracer

tracer = Tracer()


@tracer.capture_lambda_handler
def handler(event, context):
    return report(event)


@register_before_snapshot
def prime():
    os.environ["_X_AMZN_TRACE_ID"] = "{PRIMING_HEADER}"
    try:
        handler({{"priming": True}}, types.SimpleNamespace(aws_request_id="priming", function_name="fn"))
    finally:
        del os.environ["_X_AMZN_TRACE_ID"]
"""
)


@pytest.fixture(autouse=True)
def _xray_rules_on_every_invocation() -> None:
    """The priming call sends outside any invocation, so conftest's per-invocation check (datagrams from a start
    index on) would count it in the next one: ``assert_each_trace_valid`` checks each trace on its own instead."""


def source_of(fn: LocalLambda, trace_id: str) -> set[tuple[str, int]]:
    """The sender addresses of every datagram of ``trace_id``."""
    fn.daemon.sync()
    pairs = fn.daemon.datagrams_with_sources()
    return {source for data, source in pairs if json.loads(data.split(b"\n", 1)[1])["trace_id"] == trace_id}


@pytest.mark.parametrize(("version", "mode"), [("3.12", "zero-code"), ("3.14", "in-code"), ("3.14", "zero-code")])
def test_each_restored_sandbox_is_a_new_sandbox(
    version: str, mode: str, venv_python: Callable[[str], Path], layer_dir: Path, tmp_path: Path
) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": ZERO_CODE if mode == "zero-code" else IN_CODE})
    env = {"POWERTOOLS_SERVICE_NAME": SERVICE}
    python = venv_python(version)
    sandboxes: list[list[Invocation]] = []
    with LocalLambda(
        fn_dir, opt_dirs=[layer_dir], wrapper=mode == "zero-code", python=python, env=env, snap_start=True
    ) as fn:
        for number in range(RESTORES):
            if number:
                fn.restore()
            sandboxes.append([fn.invoke({"n": number}), fn.invoke({"n": number})])
        assert_each_trace_valid(
            fn, [inv for sandbox in sandboxes for inv in sandbox], (PRIMING_HEADER,) * (mode == "in-code")
        )
        snapshot_output = fn.output
        snapshot_pid = fn.process.pid if fn.process else None
        priming_sources = source_of(fn, PRIMING_TRACE)
        sources = [source_of(fn, str(inv.trace_id)) for sandbox in sandboxes for inv in sandbox]
        tail = fn._tail()

    invocations = [inv for sandbox in sandboxes for inv in sandbox]
    assert [inv.status for inv in invocations] == ["response"] * len(invocations), tail
    # Init and the before-snapshot hooks ran once, in the snapshot; the after-restore hooks in every sandbox.
    assert snapshot_output.count("before snapshot in") == 1 and f"init in {snapshot_pid}\n" in snapshot_output
    workers = [sandbox[0].worker for sandbox in sandboxes]
    assert len(set(workers)) == RESTORES and snapshot_pid not in workers
    for sandbox in sandboxes:
        first, second = sandbox
        assert first.worker == second.worker == first.payload["pid"]
        assert first.init_output is not None and f"after restore in {first.worker}\n" in first.init_output
        assert "before snapshot" not in first.init_output.split(f"after restore in {first.worker}")[1]
        assert second.init_output is None
        assert f"handling in {first.worker}\n" in first.output
        # Lambda's REPORT: Restore Duration on the restored sandbox's first invocation; Init Duration is not there.
        assert first.restore_duration_ms is not None and second.restore_duration_ms is None
        assert first.init_duration_ms is None and second.init_duration_ms is None

    for sandbox in sandboxes:
        for position, inv in enumerate(sandbox):
            handler = by_name(inv.documents, "## handler")
            assert (handler["trace_id"], handler["parent_id"]) == (inv.trace_id, inv.parent_id)
            annotations = handler["annotations"]
            # The first invocation of each restored sandbox paid for the restore; ColdStart stays false.
            expected = {"ColdStart": False, "Service": SERVICE, "InitType": "snap-start"}
            assert annotations == ({**expected, "Restored": True} if position == 0 else expected)
            assert inv.payload["trace"] == inv.trace_header  # nothing of init's trace context
            assert inv.payload["log_stream"] is None  # SnapStart functions get no log stream name

    # The snapshot's state comes back unchanged in every sandbox (random repeats: no at-fork hook ran), yet the
    # tracer's ids differ and each sandbox sends from a socket of its own, never the snapshot's.
    assert sandboxes[0][0].payload["random"] == sandboxes[1][0].payload["random"]
    ids = [doc["id"] for inv in invocations for doc in inv.documents]
    assert len(ids) == len(set(ids))
    per_sandbox = [set().union(*sources[i : i + 2]) for i in range(0, len(sources), 2)]
    assert all(len(ports) == 1 for ports in per_sandbox), per_sandbox
    assert per_sandbox[0] != per_sandbox[1]
    if mode == "in-code":
        assert len(priming_sources) == 1  # the priming invocation was traced, from the snapshot's socket
        assert not priming_sources & (per_sandbox[0] | per_sandbox[1])


FAILING_RESTORE = """
import os

from snapshot_restore_py import register_after_restore

RESTORES = 0


@register_after_restore
def reconnect():
    if os.path.exists(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "fail-restore")):
        raise ConnectionError("the database is unreachable")


def handler(event, context):
    return {"pid": os.getpid()}
"""


def test_a_failed_restore_fails_the_invocation_and_the_next_restore_works(layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": FAILING_RESTORE, "fail-restore": ""})
    with LocalLambda(fn_dir, opt_dirs=[layer_dir], snap_start=True) as fn:
        failed = fn.invoke({})
        (fn_dir / "fail-restore").unlink()
        fn.restore()
        restored = fn.invoke({})
        assert_each_trace_valid(fn, [failed, restored])
        tail = fn._tail()
    assert failed.status == "restore_error", tail
    assert failed.error_type is not None and "ConnectionError" in failed.error_type + str(failed.error_message)
    assert restored.status == "response", tail
    handler = by_name(restored.documents, "## handler")
    assert handler["annotations"]["Restored"] is True


CRASHING = """
import os


def handler(event, context):
    if event.get("crash"):
        os._exit(3)
    return {"pid": os.getpid()}
"""


def test_a_sandbox_that_crashes_fails_its_invocation_and_the_snapshot_survives(layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": CRASHING})
    # The crashed invocation would send the init trace (## init) under a trace no completed invocation names.
    env = {"LAMBDA_TRACER_INIT_TRACE": "false"}
    with LocalLambda(fn_dir, opt_dirs=[layer_dir], snap_start=True, timeout=60, env=env) as fn:
        crashed = fn.invoke({"crash": True})
        after = fn.invoke({})
        assert_each_trace_valid(fn, [crashed, after])
        tail = fn._tail()
    assert crashed.status == "exited" and crashed.error_type == "Runtime.ExitError", tail
    assert after.status == "response" and after.worker != crashed.worker, tail
    assert by_name(after.documents, "## handler")["annotations"]["Restored"] is True
