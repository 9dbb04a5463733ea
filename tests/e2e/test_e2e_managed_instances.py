"""Lambda Managed Instances: several invocations in flight at once, one per worker process.

The local runtime runs awslambdaric 4.2.2's own multi-concurrency mode (``AWS_LAMBDA_MAX_CONCURRENCY``): it forks
the workers with ``multiprocessing``'s fork context before any handler is imported, each worker imports the
handler, polls ``/next`` and sends its stdout and stderr to the log socket. What the real service adds and
cannot run here (the instance fleet, VPC egress to X-Ray) does not change what the tracer sees.

Each test sends WORKERS invocations at once, with distinct trace headers, to a handler that waits at a barrier
until all of them have arrived: they can only all answer if WORKERS workers run them at the same time.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lambda_tracer_local.daemon import by_name, subsegments
from lambda_tracer_local.runtime import Invocation, LocalLambda

from .support import assert_each_trace_valid, write_function

WORKERS = 3
ROUNDS = 2
SERVICE = "fleet"
#: The barrier: each invocation drops a file named after its request id, then waits (polling the directory, with
#: a deadline) until WORKERS files are there. It reports what it saw, so a barrier that timed out fails the test.
BARRIER = """
import gc
import os
import time
from pathlib import Path

print("init in", os.getpid())


def meet(event, request_id):
    folder = Path(event["barrier"])
    (folder / request_id).touch()
    deadline = time.monotonic() + 20
    while len(os.listdir(folder)) < event["size"] and time.monotonic() < deadline:
        time.sleep(0.002)
    print("handling", event["n"], "in", os.getpid())
    return {
        "pid": os.getpid(),
        "n": event["n"],
        "met": len(os.listdir(folder)),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "gc_frozen": gc.get_freeze_count(),
        "gc_enabled": gc.isenabled(),
    }
"""
ZERO_CODE = (
    BARRIER
    + """

def handler(event, context):
    return meet(event, context.aws_request_id)
"""
)
IN_CODE = (
    BARRIER
    + """
from lambda_tracer import Tracer

tracer = Tracer()


@tracer.capture_method
def work(event, request_id):
    tracer.put_annotation(key="Round", value=event["n"])
    return meet(event, request_id)


@tracer.capture_lambda_handler
def handler(event, context):
    return work(event, context.aws_request_id)
"""
)


@pytest.fixture(autouse=True)
def _xray_rules_on_every_invocation() -> None:
    """Invocations overlap, so conftest's per-invocation check (datagrams from a start index on) cannot tell them
    apart: ``assert_each_trace_valid`` holds each trace's own datagrams against X-Ray's rules instead."""


def run_rounds(fn: LocalLambda, tmp_path: Path) -> list[Invocation]:
    """ROUNDS rounds of WORKERS simultaneous invocations; in invocation order."""
    invocations: list[Invocation] = []
    with ThreadPoolExecutor(WORKERS) as pool:
        for round_number in range(ROUNDS):
            barrier = tmp_path / f"barrier-{round_number}"
            barrier.mkdir()
            events = [{"n": round_number, "barrier": str(barrier), "size": WORKERS} for _ in range(WORKERS)]
            invocations += pool.map(fn.invoke, events)
    return invocations


@pytest.fixture(params=["3.13", "3.14"])
def python(request: pytest.FixtureRequest, venv_python: Callable[[str], Path]) -> Iterator[Path]:
    yield venv_python(request.param)


@pytest.mark.parametrize("mode", ["zero-code", "in-code"])
def test_concurrent_invocations_each_traced_in_their_own_worker(
    mode: str, python: Path, layer_dir: Path, tmp_path: Path
) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": ZERO_CODE if mode == "zero-code" else IN_CODE})
    env = {"POWERTOOLS_SERVICE_NAME": SERVICE}
    with LocalLambda(
        fn_dir, opt_dirs=[layer_dir], wrapper=mode == "zero-code", python=python, env=env, max_concurrency=WORKERS
    ) as fn:
        invocations = run_rounds(fn, tmp_path)
        assert_each_trace_valid(fn, invocations)
        sources = dict(fn.daemon.datagrams_with_sources())
        tail = fn._tail()

    assert [inv.status for inv in invocations] == ["response"] * len(invocations), tail
    # All of a round were in flight at once, each in a different worker, which is the process that answered.
    for inv in invocations:
        assert inv.payload["met"] >= WORKERS, tail
        assert inv.worker == inv.payload["pid"]
        assert inv.payload["trace"] == inv.trace_header  # the worker's _X_AMZN_TRACE_ID is this invocation's
    for first in range(0, len(invocations), WORKERS):
        assert len({inv.worker for inv in invocations[first : first + WORKERS]}) == WORKERS

    # Every subsegment lands in its own invocation's trace, under the right parent.
    assert len({inv.trace_id for inv in invocations}) == len(invocations)
    for inv in invocations:
        handler = by_name(inv.documents, "## handler")
        assert (handler["trace_id"], handler["parent_id"]) == (inv.trace_id, inv.parent_id)
        assert handler["annotations"]["InitType"] == "lambda-managed-instances"
        assert handler["annotations"]["Service"] == SERVICE
        assert handler["metadata"][SERVICE]["handler response"] == inv.payload
        if mode == "in-code":
            work = by_name(inv.documents, "## app.work")
            assert work["parent_id"] == handler["id"] and work["trace_id"] == inv.trace_id
            assert work["annotations"]["Round"] == inv.payload["n"]
        assert all(doc["trace_id"] == inv.trace_id for doc in subsegments(inv.documents))

    # ColdStart is true exactly once per worker: on the first invocation that worker ran.
    colds = Counter(
        inv.worker for inv in invocations if by_name(inv.documents, "## handler")["annotations"]["ColdStart"]
    )
    assert colds == Counter({worker: 1 for worker in {inv.worker for inv in invocations}})
    seen: set[int | None] = set()
    for inv in invocations:
        cold = by_name(inv.documents, "## handler")["annotations"]["ColdStart"]
        assert cold is (inv.worker not in seen)
        assert (inv.init_output is not None) is cold  # the worker's init output comes with its first invocation
        seen.add(inv.worker)

    # Nothing shared across workers: each worker sends from its own socket.
    ports_by_worker: dict[int | None, set[tuple[str, int]]] = {}
    for inv in invocations:
        for datagram, source in sources.items():
            if json.loads(datagram.split(b"\n", 1)[1])["trace_id"] == inv.trace_id:
                ports_by_worker.setdefault(inv.worker, set()).add(source)
    assert all(len(ports) == 1 for ports in ports_by_worker.values()), ports_by_worker
    assert len(set().union(*ports_by_worker.values())) == WORKERS
    # The tracer gc.freeze()s at init (the zero-code redirect, or the package's import in code): in each worker, at
    # its own init after the fork (awslambdaric's parent imports no handler), so every worker froze its own objects.
    assert all(inv.payload["gc_enabled"] for inv in invocations)
    frozen = {inv.worker: inv.payload["gc_frozen"] for inv in invocations}
    assert all(count > 1000 for count in frozen.values()), frozen

    # Each invocation shows its own worker's output, as the log socket carried it.
    for inv in invocations:
        assert f"handling {inv.payload['n']} in {inv.worker}\n" in inv.output
        others = {other.worker for other in invocations} - {inv.worker}
        assert not any(f"in {other}\n" in inv.output for other in others), inv.output
        if inv.init_output is not None:
            assert f"init in {inv.worker}\n" in inv.init_output


BOTH_STREAMS = """
import sys


def handler(event, context):
    for n in range(50):
        print("out", n)
        print("err", n, file=sys.stderr)
    return {}
"""


def test_stdout_and_stderr_lines_stay_whole(layer_dir: Path, tmp_path: Path) -> None:
    """Each stream is its own connection of the log socket: lines may interleave, never break."""
    fn_dir = write_function(tmp_path / "fn", {"app.py": BOTH_STREAMS})
    with LocalLambda(fn_dir, opt_dirs=[layer_dir], max_concurrency=1) as fn:
        invocation = fn.invoke({})
        assert_each_trace_valid(fn, [invocation])
    lines = invocation.output.splitlines()
    assert sorted(lines) == sorted([f"out {n}" for n in range(50)] + [f"err {n}" for n in range(50)])
    assert [line for line in lines if line.startswith("out")] == [f"out {n}" for n in range(50)]
