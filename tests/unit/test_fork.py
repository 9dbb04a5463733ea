"""A handler that forks in the middle of an invocation (``os.fork``, multiprocessing's ``fork`` start method), in
both export modes, through real UDP datagrams to the daemon stand-in: each process's socket is its own, so the
source port says which process sent what.

The parent's spans are sent once, by the parent; the child's own spans are sent by the child, in the invocation's
trace, under the span open at the fork; the child never sends a span it inherited open (docs/execution-models.md).
"""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import lambda_env
from forked import in_forked_child
from lambda_tracer import Tracer
from lambda_tracer.backends import otlp, xray

HEADER = b'{"format":"json","version":1}\n'


@pytest.fixture(params=["xray", "otlp"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "otlp":
        monkeypatch.setattr(xray, "EXPORTER", otlp)
        monkeypatch.setenv("LAMBDA_TRACER_EXPORTER", "otlp")
        otlp.configure()
    yield request.param
    monkeypatch.undo()
    otlp.configure()


def _sent(datagrams: list[tuple[bytes, tuple[str, int]]], mode: str) -> list[dict[str, Any]]:
    """Every span sent, as {name, id, parent, trace, source}: X-Ray documents, or OTLP spans decoded by
    opentelemetry-proto (trace ids written as X-Ray Roots)."""
    found = []
    for data, source in datagrams:
        assert data.startswith(HEADER)
        body = data[len(HEADER) :]
        if mode == "xray":
            document = json.loads(body)
            found.append(
                {
                    "name": document["name"],
                    "id": document["id"],
                    "parent": document.get("parent_id"),
                    "trace": document["trace_id"],
                    "source": source,
                }
            )
            continue
        request = ExportTraceServiceRequest.FromString(base64.b64decode(body[3:], validate=True))
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    trace = span.trace_id.hex()
                    found.append(
                        {
                            "name": span.name,
                            "id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex(),
                            "trace": f"1-{trace[:8]}-{trace[8:]}",
                            "source": source,
                        }
                    )
    return found


def _fork() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork() in a process with threads
        return os.fork()


@pytest.mark.parametrize("how", ["os._exit", "sys.exit", "returns", "multiprocessing"])
def test_a_fork_mid_invocation_sends_each_span_once_from_the_process_that_owns_it(mode: str, how: str) -> None:
    """The handler keeps a span (``before``, on the batch in otlp mode), then forks inside ``outer``; the child runs
    a traced function and an OTel API span, then exits: at once (``os._exit``), through the handler
    (``sys.exit``), by running the rest of the invocation (``returns``), or as a multiprocessing worker does."""
    from opentelemetry import trace

    from lambda_tracer import otel

    otel.install()
    api = trace.get_tracer("app")
    tracer = Tracer(service="svc")
    parent_pid = os.getpid()

    @tracer.capture_method
    def before() -> int:
        return 1

    @tracer.capture_method
    def in_child() -> int:
        with api.start_as_current_span("child.api"):
            return 2

    def work() -> None:
        in_child()

    @tracer.capture_method
    def outer() -> int:
        if how == "multiprocessing":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                process = multiprocessing.get_context("fork").Process(target=work)
                process.start()
            process.join()
            return process.exitcode or 0
        pid = _fork()
        if pid == 0:  # pragma: no cover - the child
            work()
            if how == "os._exit":
                os._exit(0)
            if how == "sys.exit":
                sys.exit(0)
            return 0  # "returns": the child goes on with the invocation, and exits after the handler
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)

    @tracer.capture_method
    def after() -> int:
        return 3

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> dict[str, int]:
        return {"before": before(), "child": outer(), "after": after()}

    daemon = lambda_env.install()
    first = len(daemon.datagrams())
    header, root, lambda_parent = lambda_env.new_trace_header()
    os.environ["_X_AMZN_TRACE_ID"] = header
    try:
        try:
            result = handler({}, lambda_env.FakeContext())
        except SystemExit:  # pragma: no cover - the child's sys.exit, through the handler
            os._exit(0 if os.getpid() != parent_pid else 1)
        if os.getpid() != parent_pid:  # pragma: no cover - the child that returned through the handler
            os._exit(0)
    finally:
        del os.environ["_X_AMZN_TRACE_ID"]
    assert result == {"before": 1, "child": 0, "after": 3}  # the function's outcome, and the child's exit status
    assert daemon.sync()
    datagrams = daemon.datagrams_with_sources(first)
    lambda_env._invoked(daemon).update(range(first, first + len(datagrams)))
    spans = _sent(datagrams, mode)
    for span in spans:  # "## test_fork.<test>.locals.before" -> "before"
        span["name"] = span["name"].rpartition(".")[2] if ".locals." in span["name"] else span["name"]
    names = sorted(span["name"] for span in spans)
    ids = [span["id"] for span in spans]
    assert len(ids) == len(set(ids)), f"a span sent twice: {names}"
    child_names = ["in_child", "child.api"] + (["after"] if how == "returns" else [])
    assert names == sorted(["## handler", "before", "outer", "after", *child_names]), names  # none lost
    handler_span = next(span for span in spans if span["name"] == "## handler")
    parent_source = handler_span["source"]
    by_name = {span["name"]: span for span in spans if span["source"] == parent_source}
    assert sorted(by_name) == ["## handler", "after", "before", "outer"], names  # the parent's, from its socket
    by_child = {span["name"]: span for span in spans if span["source"] != parent_source}
    assert sorted(by_child) == sorted(child_names), names  # the child's, from its own socket
    assert {span["trace"] for span in spans} == {root}
    assert handler_span["parent"] == lambda_parent
    assert by_name["outer"]["parent"] == handler_span["id"]
    assert by_child["in_child"]["parent"] == by_name["outer"]["id"]  # under the span open at the fork, which exists
    assert by_child["child.api"]["parent"] == by_child["in_child"]["id"]
    if how == "returns":  # the rest of the invocation, run again in the child: its own span under the parent's
        assert by_child["after"]["parent"] == handler_span["id"]


def test_the_otlp_lock_held_by_another_thread_at_a_fork_is_free_in_the_child() -> None:
    """A thread keeping a span on its trace's batch holds ``otlp._lock`` for an instant; a fork then gives a child
    whose copy is held by a thread that does not exist there: every span the child kept would wait on it forever."""
    holding, release = threading.Event(), threading.Event()

    def keeper() -> None:
        with otlp._lock:
            holding.set()
            release.wait()

    thread = threading.Thread(target=keeper)
    thread.start()
    holding.wait()
    try:
        assert in_forked_child(lambda: b"held" if otlp._lock.locked() else b"free") == b"free"
    finally:
        release.set()
        thread.join()
