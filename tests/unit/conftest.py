"""Scenarios the unit tests of more than one exporter share (xray mode's documents, otlp mode's spans): each fixture
gives a builder of the handler, and each test reads what its exporter sent. Imports are made in the builders, not
here, so that collecting the tests imports nothing more than before."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from lambda_tracer import Tracer

Handler = Callable[[Any, Any], None]


def _generator_resumed_in_another_thread(tracer: Tracer) -> Handler:
    """A handler that starts a traced generator (``rows``, a ``step`` inside each item), takes its first item and
    has a thread consume the rest (as a pool's worker would): both ``step`` spans belong under ``rows``."""
    import threading
    from collections.abc import Iterator

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
