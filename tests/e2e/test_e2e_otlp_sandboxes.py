"""The ``otlp`` exporter in sandboxes that share a parent's state: restored SnapStart snapshots and Managed
Instances workers, each sending spans with ids of its own, from a socket of its own, in its invocation's trace."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from lambda_tracer_local.runtime import Invocation, LocalLambda

from . import test_e2e_managed_instances as managed
from . import test_e2e_snapstart as snapstart
from .otlp_support import OTLP_ENV, attributes, spans_of, trace_bytes
from .support import assert_each_trace_valid, write_function


@pytest.fixture(autouse=True)
def _xray_rules_on_every_invocation() -> None:
    """Invocations overlap or send outside an invocation (a priming call): ``assert_each_trace_valid`` holds each
    trace's own datagrams to the rules instead of conftest's per-invocation check."""


def _by_trace(fn: LocalLambda) -> dict[bytes, list[tuple[bytes, tuple[str, int]]]]:
    """Each trace's datagrams (a datagram holds one invocation's spans) with their sender addresses."""
    fn.daemon.sync()
    found: dict[bytes, list[tuple[bytes, tuple[str, int]]]] = {}
    for datagram, source in fn.daemon.datagrams_with_sources():
        traces = {span.trace_id for _, _, span in spans_of([datagram])}
        assert len(traces) == 1
        found.setdefault(traces.pop(), []).append((datagram, source))
    return found


def _handler(inv: Invocation, sent: dict[bytes, list[tuple[bytes, tuple[str, int]]]]) -> Span:
    spans = spans_of([datagram for datagram, _ in sent[trace_bytes(str(inv.trace_id))]])
    [handler] = [span for _, _, span in spans if span.name == "## handler"]
    assert handler.kind == Span.SPAN_KIND_SERVER
    assert handler.parent_span_id == bytes.fromhex(str(inv.parent_id))
    assert attributes(handler)["faas.invocation_id"] == inv.request_id
    return handler


@pytest.mark.parametrize("mode", ["zero-code", "in-code"])
def test_each_restored_snapstart_sandbox_sends_its_own_ids_from_its_own_socket(
    mode: str, venv_python: Callable[[str], Path], layer_dir: Path, tmp_path: Path
) -> None:
    source = snapstart.ZERO_CODE if mode == "zero-code" else snapstart.IN_CODE
    fn_dir = write_function(tmp_path / "fn", {"app.py": source})
    env = {**OTLP_ENV, "POWERTOOLS_SERVICE_NAME": snapstart.SERVICE}
    sandboxes: list[list[Invocation]] = []
    with LocalLambda(
        fn_dir, opt_dirs=[layer_dir], wrapper=mode == "zero-code", python=venv_python("3.14"), env=env, snap_start=True
    ) as fn:
        for number in range(snapstart.RESTORES):
            if number:
                fn.restore()
            sandboxes.append([fn.invoke({"n": number}), fn.invoke({"n": number})])
        invocations = [inv for sandbox in sandboxes for inv in sandbox]
        assert_each_trace_valid(fn, invocations, (snapstart.PRIMING_HEADER,) * (mode == "in-code"))
        sent = _by_trace(fn)

    assert [inv.status for inv in invocations] == ["response"] * len(invocations)
    span_ids: list[bytes] = []
    sockets: list[set[tuple[str, int]]] = []
    for sandbox in sandboxes:
        ports: set[tuple[str, int]] = set()
        for position, inv in enumerate(sandbox):
            handler = _handler(inv, sent)
            found = attributes(handler)
            assert found["faas.coldstart"] is False and found["InitType"] == "snap-start"
            assert found.get("Restored") is (True if position == 0 else None)
            span_ids += [span.span_id for _, _, span in spans_of([d for d, _ in sent[handler.trace_id]])]
            ports |= {address for _, address in sent[handler.trace_id]}
        sockets.append(ports)
    assert len(span_ids) == len(set(span_ids))  # the snapshot's random state did not repeat our ids
    assert all(len(ports) == 1 for ports in sockets) and sockets[0] != sockets[1]
    if mode == "in-code":  # the priming call was exported from the snapshot, through a socket no sandbox reuses
        priming = {address for _, address in sent[trace_bytes(snapstart.PRIMING_TRACE)]}
        assert len(priming) == 1 and not priming & (sockets[0] | sockets[1])


def test_managed_instances_workers_each_send_their_own_spans(
    venv_python: Callable[[str], Path], layer_dir: Path, tmp_path: Path
) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": managed.IN_CODE})
    env = {**OTLP_ENV, "POWERTOOLS_SERVICE_NAME": managed.SERVICE}
    with LocalLambda(
        fn_dir,
        opt_dirs=[layer_dir],
        wrapper=False,
        python=venv_python("3.13"),
        env=env,
        max_concurrency=managed.WORKERS,
    ) as fn:
        invocations = managed.run_rounds(fn, tmp_path)
        assert_each_trace_valid(fn, invocations)
        sent = _by_trace(fn)

    assert [inv.status for inv in invocations] == ["response"] * len(invocations)
    assert all(inv.payload["met"] >= managed.WORKERS for inv in invocations)
    colds: Counter[int | None] = Counter()
    ports_by_worker: dict[int | None, set[tuple[str, int]]] = {}
    span_ids: list[bytes] = []
    for inv in invocations:
        assert len(sent[trace_bytes(str(inv.trace_id))]) == 1  # one datagram per invocation
        handler = _handler(inv, sent)
        spans = spans_of([datagram for datagram, _ in sent[handler.trace_id]])
        [work] = [span for _, _, span in spans if span.name == "## app.work"]
        assert work.parent_span_id == handler.span_id
        assert attributes(work)["Round"] == inv.payload["n"]
        found = attributes(handler)
        assert found["InitType"] == "lambda-managed-instances"
        colds[inv.worker] += found["faas.coldstart"] is True
        ports_by_worker.setdefault(inv.worker, set()).update(address for _, address in sent[handler.trace_id])
        span_ids += [span.span_id for _, _, span in spans]
    assert colds == Counter({worker: 1 for worker in colds})  # one cold start per worker
    assert len(span_ids) == len(set(span_ids))
    assert all(len(ports) == 1 for ports in ports_by_worker.values())
    assert len(set().union(*ports_by_worker.values())) == managed.WORKERS
