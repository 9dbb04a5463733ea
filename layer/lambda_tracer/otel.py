"""The OpenTelemetry API, recorded as our spans: a function's (or a library's) OTel spans nest inside ours.

Loaded only once user code (or a library) has imported ``opentelemetry.trace`` (tracer.py waits for it with
``sdk_patches.when_imported``): the opentelemetry-api is the user's dependency, never imported on our cold path.

* **Provider.** Nothing is set with ``trace.set_tracer_provider``: the API's proxy tracers, which record nothing
  until a provider is set, fall back to ours instead. A provider the user sets (their SDK and exporter), before or
  after, is used as without us; their spans then join our trace as children of our current span.
* **One current span.** OpenTelemetry's runtime context is wrapped so that it and our span stack agree: an OTel
  span made current is pushed on our stack (our spans opened inside it are its children) and a span of ours opened
  since the context was attached is what ``trace.get_current_span()`` returns, with our ids: the trace id is the
  X-Ray Root, the span id our subsegment's id.
* **Spans are our backend's spans** (``xray.BACKEND.start_span``), sent by whichever exporter is active. Their
  attributes are recorded as X-Ray reads them from OTLP (the collector's translator): keys listed in
  ``aws.xray.annotations`` become annotations, ``db.*`` the ``sql`` block, ``http.*``/``url.full`` the ``http``
  block, everything else metadata in the ``default`` namespace; all of it redacted and bounded as ``put_metadata``
  is. CLIENT and PRODUCER spans are ``remote`` calls (our HTTP instrumentation records nothing under them).
* **Propagation** is otel_propagation.py's, loaded once ``opentelemetry.propagate`` is imported; the contrib
  instrumentations (``LAMBDA_TRACER_OTEL_INSTRUMENTATIONS``) are otel_instrumentations.py's.

Nothing here raises into user code: a failure is reported once and the span records less.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context.context import Context, _RuntimeContext
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.util import types

try:  # opentelemetry-api 1.24+: a context manager that also decorates coroutines
    from opentelemetry.util._decorator import _agnosticcontextmanager
except ImportError:  # pragma: no cover - older APIs decorate plain functions only, as their own SDK does
    from contextlib import contextmanager as _agnosticcontextmanager  # type: ignore[assignment]

from . import capture, config, redaction
from .backends import xray
from .otel_attributes import (
    _REMOTE_KINDS,
    ANNOTATIONS_KEY,
    MAX_ATTRIBUTES,
    MAX_EVENTS,
    NAMESPACE,
    _event,
    _record_events,
    _valid_value,
    record_attribute,
    record_attributes,
    report,
)

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_lock = threading.Lock()
_installed: set[str] = set()


# -- ids ------------------------------------------------------------------------------------------------------------


def _trace_id(root: str | None) -> int:
    """The OTel trace id of an X-Ray Root (``1-5759e988-bd86...`` -> ``0x5759e988bd86...``); 0 (invalid) if none."""
    if not root:
        return 0
    return int(root[2:10] + root[11:], 16)


def _root(trace_id: int) -> str:
    digits = f"{trace_id:032x}"
    return f"1-{digits[:8]}-{digits[8:]}"


def _span_context(entry: Any, root: str | None, sampled: bool = True) -> SpanContext:
    """Our ids; sampled unless the invocation is not (recorded anyway for OTLP's ``T1U``: no header propagates it)."""
    try:
        flags = _SAMPLED if sampled else TraceFlags(TraceFlags.DEFAULT)
        return SpanContext(_trace_id(root), int(entry.id, 16), is_remote=False, trace_flags=flags)
    except (TypeError, ValueError):
        return trace.INVALID_SPAN_CONTEXT


# -- recording attributes, events, status ------------------------------------------------------------------------


def _status_code(status: Status | StatusCode) -> StatusCode:
    return status.status_code if isinstance(status, Status) else status


# -- spans --------------------------------------------------------------------------------------------------------


class OurSpan(trace.Span):
    """A span of ours (the handler's, a ``capture_method``'s, an instrumented call's) seen through the OTel API.

    What is set on it is recorded at once on the open span; ending it is left to whoever opened it.
    """

    def __init__(self, entry: Any, root: str | None, sampled: bool = True) -> None:
        self.entry = entry
        self._context = _span_context(entry, root, sampled)

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return not getattr(self.entry, "ended", False)

    def end(self, end_time: int | None = None) -> None:
        """Ours end when the function they trace returns."""

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        try:
            items = list(attributes.items())
        except Exception as error:  # not a mapping: without a provider the call does nothing, nor raises
            report("recording an attribute", error)
            return
        for key, value in items:
            self.set_attribute(key, value)

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        if isinstance(key, str) and _valid_value(value):
            try:
                record_attribute(self.entry, key, value)
            except Exception as error:
                report("recording an attribute", error)

    def add_event(self, name: str, attributes: types.Attributes = None, timestamp: int | None = None) -> None:
        try:
            _record_events(self.entry, [_event(name, attributes, timestamp)])
        except Exception as error:
            report("recording an event", error)

    def update_name(self, name: str) -> None:
        if isinstance(self.entry, xray.XRaySpan) and isinstance(name, str):
            self.entry.name = capture.masked_name(name, redaction.current())

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """The SDK's rule (opentelemetry-sdk trace/__init__.py, ``Span.set_status``): UNSET is ignored and OK is final,
        so the subsegment is a fault while the last status set is ERROR. Kept in the entry's own dict (XRaySpan has no
        slots): each ``get_current_span()`` may be a new view of it."""
        entry, code = self.entry, _status_code(status)
        if (
            isinstance(entry, xray.XRaySpan)
            and not entry.ended
            and code in (StatusCode.OK, StatusCode.ERROR)
            and vars(entry).get("otel_status") is not StatusCode.OK
        ):
            vars(entry)["otel_status"] = code
            entry.fault = code is StatusCode.ERROR

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """The exception as the tracer records one (``cause``, its message masked); whether the span failed is its
        status's to say (``set_status``), as in OpenTelemetry and X-Ray's translator."""
        entry = self.entry
        if isinstance(entry, xray.XRaySpan) and isinstance(exception, BaseException) and not entry.ended:
            fault = entry.fault
            try:
                entry.record_exception(exception)
            except Exception as error:
                report("recording an exception", error)
            entry.fault = fault

    def __repr__(self) -> str:
        return f"OurSpan(name={getattr(self.entry, 'name', None)!r}, context={self._context!r})"


class OTelSpan(OurSpan):
    """A span started through the OTel API: one of our backend's spans, sent when it ends."""

    def __init__(self, entry: xray.XRaySpan, name: str, kind: SpanKind) -> None:
        super().__init__(entry, entry.trace.root, entry.trace.sampled == "1")
        self.name = name
        self.kind = kind
        self.attributes: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []
        self.status = StatusCode.UNSET
        self._span_lock = threading.Lock()

    def is_recording(self) -> bool:
        return not self.entry.ended

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        if not isinstance(key, str) or not key or not _valid_value(value) or self.entry.ended:
            return
        with self._span_lock:
            if key in self.attributes or len(self.attributes) < MAX_ATTRIBUTES:
                self.attributes[key] = value

    def add_event(self, name: str, attributes: types.Attributes = None, timestamp: int | None = None) -> None:
        if not self.entry.ended and len(self.events) < MAX_EVENTS:
            try:
                self.events.append(_event(name, attributes, timestamp))
            except Exception as error:  # attributes not a mapping: as OurSpan.add_event, never into user code
                report("recording an event", error)

    def update_name(self, name: str) -> None:
        if isinstance(name, str) and not self.entry.ended:
            self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """ERROR makes the span a fault; OK is final (OpenTelemetry's rule). The description is not kept: it
        quotes the exception's message, recorded (masked) with the exception itself."""
        code = _status_code(status)
        if self.status is not StatusCode.OK and isinstance(code, StatusCode) and code is not StatusCode.UNSET:
            self.status = code

    def end(self, end_time: int | None = None) -> None:
        entry = self.entry
        if entry.ended:
            return
        try:
            entry.name = capture.masked_name(self.name, redaction.current())
            record_attributes(entry, self.attributes, self.kind)
            _record_events(entry, self.events)
            if self.status is StatusCode.ERROR:
                if not (entry.error or entry.throttle):  # a 4xx already counts as the client's error
                    entry.fault = True
            elif self.status is StatusCode.OK:
                entry.fault = False
        except Exception as error:
            report("ending a span", error)
        state = xray._state.get()
        entry.end()
        if entry in state[1]:  # its context is still attached (ended inside its ``with``): as in the SDK, it stays
            xray._state.set(state)  # the current span, and the parent of what starts there, until that detaches

    def __repr__(self) -> str:
        return f"OTelSpan(name={self.name!r}, context={self._context!r})"


class _ApiSpan(xray.XRaySpan):
    """The record of a span started through the OTel API: an XRaySpan (the same slots, so an entry becomes one by
    its class), telling the OTLP exporter the kind it was started with and that its ``default`` metadata holds the
    span's own attributes and events (sent as such, not as X-Ray metadata)."""

    __slots__ = ()
    otlp_kind = 1  # INTERNAL
    otel_api = True


#: OTLP's Span.kind is the API's SpanKind + 1 (INTERNAL 1, SERVER 2, CLIENT 3, PRODUCER 4, CONSUMER 5).
_KIND_CLASSES: dict[SpanKind, type[xray.XRaySpan]] = {
    kind: type(f"_{kind.name.title()}ApiSpan", (_ApiSpan,), {"__slots__": (), "otlp_kind": kind.value + 1})
    for kind in SpanKind
}


def entry_of(span: object) -> Any:
    """The entry of our stack behind an OTel span (None for a span that is not ours)."""
    return span.entry if isinstance(span, OurSpan) else None


_last_view: tuple[Any, OurSpan | None] = (None, None)


def view(entry: Any, root: str | None) -> OurSpan:
    """The OTel view of one of our stack's entries (the same object while it stays the current one)."""
    global _last_view
    seen, made = _last_view
    if seen is entry and made is not None:
        return made
    made = OurSpan(entry, root, xray.current()[0].sampled == "1")
    _last_view = (entry, made)
    return made


class Tracer(trace.Tracer):
    """Starts OTel spans as our backend's spans, under the parent the OTel context names (ours by default)."""

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        parent = trace.get_current_span(context)
        parent_context = parent.get_span_context()
        try:
            span = self._start(str(name), parent, parent_context, kind, attributes, start_time)
        except Exception as error:
            report("starting a span", error)
            span = None
        if span is None and not parent_context.is_valid:  # the invocation's context (Root, Lambda's segment, not
            current, _ = xray.current()  # sampled) as the SDK's under a not-sampled parent (parse_header checked ids)
            if current.root and current.parent:
                parent_context = SpanContext(_trace_id(current.root), int(current.parent, 16), is_remote=True)
        return span if span is not None else NonRecordingSpan(parent_context)

    def _start(
        self,
        name: str,
        parent: trace.Span,
        parent_context: SpanContext,
        kind: SpanKind,
        attributes: types.Attributes,
        start_time: int | None,
    ) -> OTelSpan | None:
        current, _ = xray.current()
        if not current.recording:
            return None
        entry = xray.BACKEND.start_span(
            capture.masked_name(name, redaction.current()), namespace="remote" if kind in _REMOTE_KINDS else "local"
        )
        if entry is None:
            return None
        entry.suspend()  # started, not current: ``start_as_current_span``/``use_span`` make it current
        parent_entry = entry_of(parent)
        if (
            parent_entry is not None
            and getattr(parent_entry, "id", None)
            and _trace_id(current.root) == (parent_context.trace_id)
        ):
            entry.parent_id = parent_entry.id
        elif parent_context.is_valid and parent_context.trace_id == _trace_id(current.root):
            entry.parent_id = f"{parent_context.span_id:016x}"  # a span of the user's own SDK, in our trace
        if isinstance(start_time, (int, float)) and 946_684_800_000_000 <= start_time // 1000 <= entry.start_us:
            entry.start_us = int(start_time // 1000)  # nanoseconds (a float too) from 2000 on; else the span's start
        entry.__class__ = _KIND_CLASSES.get(kind, _ApiSpan)
        span = OTelSpan(entry, name, kind)
        if attributes:
            span.set_attributes(attributes)
        return span

    @_agnosticcontextmanager
    def start_as_current_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        span = self.start_span(
            name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception
        )
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


TRACER = Tracer()


class TracerProvider(trace.TracerProvider):
    """Ours: every tracer records into the invocation's trace (the instrumentation scope is not kept)."""

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: types.Attributes = None,
    ) -> trace.Tracer:
        return TRACER


PROVIDER = TracerProvider()


# -- one current span --------------------------------------------------------------------------------------------


class _Token:
    __slots__ = ("inner", "mark", "pushed")

    def __init__(self, inner: Any, pushed: Any, mark: contextvars.Token[Any] | None) -> None:
        self.inner = inner
        self.pushed = pushed
        self.mark = mark


#: Our stack's top when a context holding a span not ours (the user's SDK's) was attached: while it is still the
#: top, that span is the current one; a span of ours opened since is.
_foreign_top: contextvars.ContextVar[Any] = contextvars.ContextVar("lambda_tracer_otel_foreign_top", default=None)
_NOTHING = object()


class RuntimeContext(_RuntimeContext):
    """OpenTelemetry's runtime context (kept, and called for everything), agreeing with our span stack."""

    def __init__(self, inner: _RuntimeContext) -> None:
        self.inner = inner

    def attach(self, context: Context) -> Any:
        pushed, mark = None, None
        try:
            span = trace.get_current_span(context)
            entry = entry_of(span)
            if _SUPPRESS_KEY is not None and context.get(_SUPPRESS_KEY):  # OTel's own calls (an SDK's exporter)
                _, stack = xray.current()  # what runs under it is traced by no instrumentation, nor ours
                xray.push(pushed := cast(Any, xray.Suppressed(stack[-1].id if stack else None)))
            elif isinstance(entry, xray.XRaySpan):
                current, stack = xray.current()
                # Never into another invocation's trace (a context kept from an earlier one).
                if not entry.ended and entry.trace.root == current.root and entry not in stack:
                    xray.attach(entry)  # (another thread: into the entry's trace, whose batch is sent)
                    pushed = entry
            elif span.get_span_context().is_valid:
                _, stack = xray.current()
                mark = _foreign_top.set(stack[-1] if stack else None)
        except Exception as error:
            report("attaching a context", error)
        return _Token(self.inner.attach(context), pushed, mark)

    def detach(self, token: Any) -> None:
        if not isinstance(token, _Token):
            self.inner.detach(token)
            return
        try:
            self.inner.detach(token.inner)
        finally:
            try:
                if token.mark is not None:
                    _foreign_top.reset(token.mark)
                if token.pushed is not None:
                    # With the OTel API spans attached inside it (as OpenTelemetry restores the context from before
                    # it), not a span of ours still open above it (detached out of order, inside a capture_method):
                    # that one ends itself, and what it opens until then is its child.
                    xray.detach(token.pushed, "otel_api")
            except Exception as error:
                report("detaching a context", error)

    def get_current(self) -> Context:
        context = self.inner.get_current()
        try:
            current, stack = xray.current()
            if not stack:
                return context
            top = stack[-1]
            if not getattr(top, "sampled", False) or not getattr(top, "id", None):
                return context  # under an ignored call
            span = context.get(_SPAN_KEY)
            if span is not None and entry_of(span) is top:
                return context
            if (
                span is not None
                and entry_of(span) is None
                and isinstance(span, trace.Span)
                and span.get_span_context().is_valid
                and _foreign_top.get() is top
            ):
                return context
            return trace.set_span_in_context(view(top, current.root), context)
        except Exception as error:
            report("reading the current span", error)
            return context


_SPAN_KEY: str = getattr(trace.propagation, "_SPAN_KEY", "current-span")
_SUPPRESS_KEY: str | None = getattr(otel_context, "_SUPPRESS_INSTRUMENTATION_KEY", None)  # an SDK exports under it


# -- installing -----------------------------------------------------------------------------------------------------


def install(module: Any = None) -> None:
    """Make the OTel API record into our trace (once; ``opentelemetry.trace`` has just been imported)."""
    with _lock:
        if "trace" in _installed:
            return
        _installed.add("trace")
    _install_context()
    _install_fallback_provider()


def _install_context() -> None:
    current = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    if current is None:  # opentelemetry-api 1.24 and older load it at its first use: loaded now, to be wrapped
        otel_context.get_current()
        current = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    if current is None or isinstance(current, RuntimeContext):
        return
    otel_context._RUNTIME_CONTEXT = RuntimeContext(current)


def _install_fallback_provider() -> None:
    """The API's proxy tracers fall back to ours (not to a no-op) while no provider is set: also those made
    before we were installed. A provider set later is used from then on, as without us."""
    proxy = getattr(trace, "ProxyTracer", None)
    original = getattr(proxy, "__dict__", {}).get("_tracer")
    if not isinstance(original, property) or original.fget is None:
        config.report_once(("opentelemetry api",), "this opentelemetry-api is not supported: OTel spans not recorded")
        return
    getter = original.fget

    def _tracer(self: Any) -> trace.Tracer:
        found: trace.Tracer = getter(self)
        if found is getattr(self, "_noop_tracer", _NOTHING):
            return TRACER
        return found

    _tracer.__wrapped__ = getter  # type: ignore[attr-defined]
    proxy._tracer = property(_tracer)  # type: ignore[union-attr]


__all__ = [
    "ANNOTATIONS_KEY",
    "NAMESPACE",
    "PROVIDER",
    "TRACER",
    "OTelSpan",
    "OurSpan",
    "RuntimeContext",
    "TracerProvider",
    "install",
    "record_attributes",
]
