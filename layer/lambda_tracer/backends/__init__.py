"""The recording seam: what the Tracer needs from a tracing backend.

The Tracer, its wrappers and the zero-code redirect speak only to these two small interfaces. Three
backends implement them:

* ``xray`` (xray.py): ours, the default. X-Ray segment documents sent over UDP to the daemon; no SDK.
* ``sdk`` (sdk.py): aws-xray-sdk, imported only when the code touches ``tracer.provider`` or a library
  we trace through one of its patches. It records into our trace, under our current span.
* ``provider`` (provider.py): a user's ``provider=``, called exactly as the reference calls it.

As in OpenTelemetry's API, every method has a default that does nothing, so a backend implements only
what it records. Values reach a backend already checked and redacted (capture.py), and failures are
caught one level up, in span.py: a backend may raise. Nothing in backends/ imports the Tracer, its
wrappers or instrumentation/: they sit above it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

    #: A span that already ended, for ``BackendSpan.add_finished``.
    Finished = tuple[str, float, float, BaseException | None, list["Finished"]]

#: The running invocation's (event, context) as the handler got them (the last set: awslambdaric runs one at a
#: time), written by the handler's wrapper (tracer.py): the otlp exporter's handler span reads ``faas.trigger``
#: and ``cloud.resource_id`` from them. Here, in the seam, so that no backend imports the Tracer's module.
invocation: tuple[Any, Any] = (None, None)
#: Spans an instrumentation keeps open past the call that opened them (http.client's request, from ``putrequest`` to
#: ``getresponse``), each with the function that ends it as abandoned, given the cause (never raises). The handler's
#: wrapper calls ``end_held`` before its own span ends, so such a span ends in its own invocation: a response never
#: read is never left to a later one. awslambdaric runs one invocation at a time, so every entry is the running
#: invocation's.
held: dict[Any, Callable[[Any, BaseException | None], None]] = {}


def end_held(handler_token: Any, error: BaseException | None = None) -> None:
    """End each span still held, as abandoned: the invocation is ending. ``handler_token``: the handler wrapper's
    token of the context variable that says a handler span is open; only the outermost handler's end is the
    invocation's (one traced inside another's returns while the outer one's calls are still in flight). ``error``:
    the handler's exception, their cause; given, not read from ``sys.exc_info()``, which may hold an exception
    the user's code handles around the handler (the handler called from an ``except``)."""
    if handler_token.old_value is not handler_token.MISSING:
        return
    for span, abandon in list(held.items()):
        if held.pop(span, None) is not None:  # not taken meanwhile (another thread read the response)
            abandon(span, error)


class BackendSpan:
    """One open span (an X-Ray subsegment): what can be recorded on it while it is open."""

    def annotate(self, key: str, value: str | int | float | bool) -> None:
        """A searchable annotation (already valid for X-Ray)."""

    def annotate_all(self, annotations: dict[str, str | int | float | bool], text: str | None = None) -> None:
        """Several annotations at once, in order (the handler's own; ``text``: how a document writes them, for a
        backend that writes documents)."""
        for key, value in annotations.items():
            self.annotate(key, value)

    def add_metadata(self, namespace: str, key: str, value: Any) -> None:
        """JSON-ready metadata (already bounded and redacted)."""

    def add_encoded_metadata(self, namespace: str, key: str, value: Any, text: str) -> None:
        """``add_metadata``, with ``text``: ``value`` as the X-Ray document's encoder writes it (a backend that
        writes documents may use it instead of encoding ``value`` again; ``value`` does not change before the
        span ends)."""
        self.add_metadata(namespace, key, value)

    def record_exception(self, error: BaseException) -> None:
        """The exception that ends this span, as X-Ray's ``fault`` and ``cause``."""

    def end(self, error: BaseException | None = None) -> None:
        """Close the span and send it. ``error`` is the exception it ends with, if any."""

    async def end_async(self, error: BaseException | None = None) -> None:
        """``end`` for spans opened with ``Backend.start_span_async``."""
        self.end(error)

    def child_at(self, name: str, start_time: float) -> BackendSpan | None:
        """A span under this one (itself opened with ``Backend.start_span_at`` or ``child_at``) that began at
        ``start_time`` (epoch seconds): recorded after the fact, never the current span."""
        return None

    def end_at(self, end_time: float, error: BaseException | None = None) -> None:
        """``end`` for spans recorded after the fact: closed at ``end_time`` (epoch seconds)."""
        self.end(error)

    def add_finished(self, spans: list[Finished]) -> None:
        """Spans under this one (itself from ``Backend.start_span_at`` or ``child_at``, not ended) that have ended
        already: each ``(name, start_time, end_time, the exception it ended with or None, its own such spans)``,
        times in epoch seconds. Recorded as ``child_at``, ``record_exception`` and ``end_at`` would record them
        (each span's children before its exception); a backend may write them all in one pass instead."""
        for name, start_time, end_time, error, children in spans:
            child = self.child_at(name, start_time)
            if child is not None:
                if children:
                    child.add_finished(children)
                if error is not None:
                    child.record_exception(error)
                child.end_at(end_time, error)

    def suspend(self) -> None:
        """No longer the current span: a traced generator yields to its consumer."""

    def resume(self) -> None:
        """The current span again: the generator resumes."""


class Backend:
    """A tracing backend: starts spans, knows the current one, and owns the escape hatch."""

    #: Whether the Tracer's automatic annotations beyond the reference's (``InitType``) are recorded.
    records_extras = True
    #: Whether ``start_span`` takes the handler's annotations itself (``start_span(name, "local", annotations)``,
    #: what ``annotate_all`` on the new span would record), saving the handler's wrapper a call per invocation.
    annotates_on_start = False

    def start_span(self, name: str) -> BackendSpan | None:
        """Open a span under the current one; None when there is nothing to record into."""
        return None

    def start_span_at(self, name: str, start_time: float) -> BackendSpan | None:
        """A span under the current one that began at ``start_time`` (epoch seconds): work recorded after the
        fact, like init's imports (init_trace.py), so never the current span; its children come from its
        ``child_at``. None when this backend cannot place a span in the past."""
        return None

    async def start_span_async(self, name: str) -> BackendSpan | None:
        """``start_span`` for coroutines (a provider may need its async context manager)."""
        return self.start_span(name)

    def current_span(self) -> BackendSpan | None:
        """The innermost open span of this task (thread or asyncio task)."""
        return None

    def annotate_current(self, key: str, value: str | int | float | bool) -> bool:
        """Annotate the current span; False when there is none."""
        span = self.current_span()
        if span is None:
            return False
        span.annotate(key, value)
        return True

    def add_metadata_current(self, namespace: str, key: str, value: Any) -> bool:
        """Add metadata to the current span; False when there is none."""
        span = self.current_span()
        if span is None:
            return False
        span.add_metadata(namespace, key, value)
        return True

    @contextlib.contextmanager
    def suppressed(self) -> Iterator[None]:
        """Run a block whose calls must not be traced (``ignore_endpoint``)."""
        yield

    def instrument(self, modules: list[str] | tuple[str, ...] | None) -> bool:
        """Trace these libraries (None: every supported one) in this backend's own way, and say so; False (the
        default) leaves them to the registry (instrumentation/), which traces them for our X-Ray backend."""
        return False

    def escape_hatch(self) -> Any:
        """What ``tracer.provider`` returns."""
        return None
