"""OpenTelemetry propagation (``opentelemetry.propagate``), our way: ``inject`` writes ``X-Amzn-Trace-Id`` and, when
``LAMBDA_TRACER_PROPAGATORS`` has it, ``traceparent`` (plus W3C baggage); ``extract`` reads both. Installed as the
global propagator unless OTEL_PROPAGATORS (or the user's code) chose another.

Loaded only once ``opentelemetry.propagate`` has been imported (tracer.py waits for it); the spans, the provider
and the current span are otel.py's.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.context.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from . import config
from .backends import xray
from .instrumentation import propagation
from .otel import _installed, _lock, _root, _trace_id, entry_of

OTEL_PROPAGATORS_ENV = "OTEL_PROPAGATORS"


def install_propagator(module: Any = None) -> None:
    """``opentelemetry.propagate`` has just been imported: inject/extract ours, unless OTEL_PROPAGATORS is set."""
    with _lock:
        if "propagate" in _installed:
            return
        _installed.add("propagate")
    if config.get_str(OTEL_PROPAGATORS_ENV) is not None:
        return  # the user chose their propagators
    from opentelemetry import propagate

    current = propagate.get_global_textmap()
    chosen = [type(each).__name__ for each in getattr(current, "_propagators", None) or ()]
    if type(current).__name__ != "CompositePropagator" or chosen != _DEFAULT_PROPAGATORS:
        return  # set by the user's code before ours was installed: theirs is kept
    propagate.set_global_textmap(_propagator())


#: What ``opentelemetry.propagate`` sets up without OTEL_PROPAGATORS (its default, ``tracecontext,baggage``).
_DEFAULT_PROPAGATORS = ["TraceContextTextMapPropagator", "W3CBaggagePropagator"]


def _xray_header(span: trace.Span) -> str | None:
    span_context = span.get_span_context()
    if not span_context.is_valid or not span_context.trace_flags.sampled:
        return None
    entry = entry_of(span)
    if isinstance(entry, xray.XRaySpan):
        return entry.outgoing_header()
    return f"Root={_root(span_context.trace_id)};Parent={span_context.span_id:016x};Sampled=1"


def _propagator() -> Any:
    """Our TextMapPropagator: X-Ray and W3C trace context as LAMBDA_TRACER_PROPAGATORS says, and W3C baggage."""
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagators import textmap
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    tracecontext = TraceContextTextMapPropagator()
    baggage = W3CBaggagePropagator()

    class Propagator(textmap.TextMapPropagator):
        def inject(
            self,
            carrier: textmap.CarrierT,
            context: Context | None = None,
            setter: textmap.Setter[textmap.CarrierT] = textmap.default_setter,
        ) -> None:
            enabled = propagation.enabled()
            span = trace.get_current_span(context)
            if span.get_span_context().trace_flags.sampled:  # never a header without a sampled trace
                if propagation.XRAY in enabled:
                    header = _xray_header(span)
                    if header is not None:
                        setter.set(carrier, propagation.XRAY_HEADER, header)
                if propagation.TRACECONTEXT in enabled:
                    tracecontext.inject(carrier, context, setter)
            baggage.inject(carrier, context, setter)

        def extract(
            self,
            carrier: textmap.CarrierT,
            context: Context | None = None,
            getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
        ) -> Context:
            context = _extract_xray(carrier, context, getter)
            context = tracecontext.extract(carrier, context, getter)
            return baggage.extract(carrier, context, getter)

        @property
        def fields(self) -> set[str]:
            return {propagation.XRAY_HEADER, *tracecontext.fields, *baggage.fields}

    return Propagator()


def _extract_xray(carrier: Any, context: Context | None, getter: Any) -> Context:
    """An incoming ``X-Amzn-Trace-Id`` as the remote parent (the context unchanged if there is none valid)."""
    if context is None:
        context = Context()
    values = getter.get(carrier, propagation.XRAY_HEADER) or getter.get(carrier, propagation.XRAY_HEADER.lower())
    if not values:
        return context
    parsed = xray.parse_header(str(values[0])[:1024])
    if not parsed.root or not parsed.parent:
        return context
    remote = SpanContext(
        _trace_id(parsed.root),
        int(parsed.parent, 16),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED if parsed.sampled == "1" else TraceFlags.DEFAULT),
    )
    return trace.set_span_in_context(NonRecordingSpan(remote), context) if remote.is_valid else context
