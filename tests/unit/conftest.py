"""Scenarios the unit tests of more than one exporter share (xray mode's documents, otlp mode's spans): each fixture
gives a builder of the handler, and each test reads what its exporter sent. Imports are made in the builders, not
here, so that collecting the tests imports nothing more than before."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import socket
    import subprocess

    from lambda_tracer import Tracer

Handler = Callable[[Any, Any], None]
ROOT = Path(__file__).resolve().parents[2]


def _generator_resumed_in_another_thread(tracer: Tracer) -> Handler:
    """A handler that starts a traced generator (``rows``, a ``step`` inside each item), takes its first item and
    has a thread consume the rest (as a pool's worker would): both ``step`` spans belong under ``rows``."""
    import threading

    @tracer.capture_method
    def step() -> int:
        return 1

    @tracer.capture_method
    def rows() -> Iterator[int]:
        yield step()
        yield step()

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        source = rows()
        next(source)
        worker = threading.Thread(target=list, args=(source,))
        worker.start()
        worker.join()

    return handler


@pytest.fixture
def generator_resumed_in_another_thread() -> Callable[[Tracer], Handler]:
    return _generator_resumed_in_another_thread


def _annotation_listed_in_another_call(tracer: Tracer, api: Any, span_kind: str, list_first: bool) -> Handler:
    """A handler that sets ``aws.xray.annotations`` (listing ``order_id``), ``order_id`` and ``other`` in three
    ``set_attribute`` calls, in that order or its reverse, on one span: the handler's (``span_kind`` "handler"), a
    ``capture_method``'s ("method") or one ``api`` (an OpenTelemetry tracer) starts, named "api"."""
    from opentelemetry import trace

    def annotate(span: Any) -> None:
        calls: list[tuple[str, Any]] = [("aws.xray.annotations", ["order_id"]), ("order_id", "o-1"), ("other", 2)]
        for key, value in calls if list_first else calls[::-1]:
            span.set_attribute(key, value)

    @tracer.capture_method
    def method() -> None:
        annotate(trace.get_current_span())

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        if span_kind == "handler":
            annotate(trace.get_current_span())
        elif span_kind == "method":
            method()
        else:
            with api.start_as_current_span("api") as span:
                annotate(span)

    return handler


@pytest.fixture
def annotation_listed_in_another_call() -> Callable[[Tracer, Any, str, bool], Handler]:
    return _annotation_listed_in_another_call


@pytest.fixture
def zero_code_cold_start(
    tmp_path: Path,
) -> Callable[..., contextlib.AbstractContextManager[tuple[subprocess.CompletedProcess[str], socket.socket]]]:
    """``zero_code_cold_start(program, app, **env)``: ``app`` written as tmp_path/app.py, then ``program`` run in a
    fresh Python with the layer on its path, a zero-code Lambda environment (``app.handler`` behind our handler, a
    sampled trace header, ``env`` added) and a UDP socket of its own as the daemon; it must exit 0. Gives (the run,
    the daemon socket, still open to read what was sent)."""

    @contextlib.contextmanager
    def run(program: str, app: str, **env: str) -> Iterator[tuple[subprocess.CompletedProcess[str], socket.socket]]:
        import os
        import socket
        import subprocess
        import sys

        (tmp_path / "app.py").write_text(app)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
            daemon.bind(("127.0.0.1", 0))
            daemon.settimeout(10)
            lambda_env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "PYTHONPATH": os.pathsep.join([str(ROOT / "layer"), str(tmp_path)]),
                "LAMBDA_TRACER_ORIGINAL_HANDLER": "app.handler",
                "LAMBDA_TASK_ROOT": str(tmp_path),  # the tracer is on only in Lambda
                "_X_AMZN_TRACE_ID": "Root=1-5f000000-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1",
                "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
                **env,
            }
            done = subprocess.run(
                [sys.executable, "-c", program], env=lambda_env, capture_output=True, text=True, timeout=60, check=False
            )
            assert done.returncode == 0, done.stderr
            yield done, daemon

    return run
