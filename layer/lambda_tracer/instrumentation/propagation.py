"""Which trace headers an outgoing call carries: ``LAMBDA_TRACER_PROPAGATORS``.

* ``xray``: ``X-Amzn-Trace-Id`` (Root, this call's span as Parent, Sampled=1, the fields Lambda passed on).
* ``tracecontext``: W3C ``traceparent`` (``00-<trace id>-<span id>-01``), for services traced with
  OpenTelemetry outside AWS (a collector, another vendor) to join the same trace.

The default is ``xray,tracecontext`` with ``LAMBDA_TRACER_EXPORTER=otlp`` and ``xray`` otherwise; ``none`` sends
neither. AWS SDK calls carry ``X-Amzn-Trace-Id`` alone unless the setting names ``tracecontext`` itself: AWS services
propagate only the X-Ray header (OpenTelemetry's specification, compatibility/aws.md, and its botocore
instrumentation do the same), and a ``traceparent`` would be one more header for botocore to sign on every call.
A value not understood is reported once and the default used. Headers are only ever written for a call recorded
in a sampled trace: the span they name exists.

The same setting chooses what ``opentelemetry.propagate.inject`` writes when OTEL_PROPAGATORS is not set (otel.py).
"""

from __future__ import annotations

from .. import config

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from ..backends.xray import XRaySpan

PROPAGATORS_ENV = "LAMBDA_TRACER_PROPAGATORS"
XRAY = "xray"
TRACECONTEXT = "tracecontext"
KNOWN = (XRAY, TRACECONTEXT)
XRAY_HEADER = "X-Amzn-Trace-Id"
TRACEPARENT_HEADER = "traceparent"

#: (raw LAMBDA_TRACER_PROPAGATORS, raw LAMBDA_TRACER_EXPORTER) -> what they mean: parsed once per value.
_parsed: dict[tuple[object, object], frozenset[str]] = {}


_XRAY_ONLY = frozenset((XRAY,))
_BOTH = frozenset(KNOWN)


def default(exporter: str | None) -> frozenset[str]:
    """``xray,tracecontext`` when spans go out as OTLP (OpenTelemetry's world reads ``traceparent``), else ``xray``."""
    if exporter is not None and exporter.strip().lower() == "otlp":
        return _BOTH
    return _XRAY_ONLY


_PROPAGATORS_KEY = config.environ_key(PROPAGATORS_ENV)
_EXPORTER_KEY = config.environ_key(config.EXPORTER)


#: The last (raw propagators, raw exporter, what they mean): the values ``os.environ`` holds stay the same objects
#: while unchanged, so the common case is two lookups and two identity checks.
_last: tuple[object, object, frozenset[str]] = (None, None, _XRAY_ONLY)


def enabled() -> frozenset[str]:
    """The propagators in force now (the environment is read at every call; its parse is cached per value)."""
    global _last
    environ = config.ENVIRON
    raw, exporter = environ.get(_PROPAGATORS_KEY), environ.get(_EXPORTER_KEY)
    last = _last
    if raw is last[0] and exporter is last[1]:
        return last[2]
    found = _parsed.get((raw, exporter))
    if found is None:
        found = _parse(*(None if value is None else config.decoded(value) for value in (raw, exporter)))
        if len(_parsed) < 16:
            _parsed[(raw, exporter)] = found
    _last = (raw, exporter, found)
    return found


def _parse(raw: str | None, exporter: str | None) -> frozenset[str]:
    fallback = default(exporter)
    if raw is None or not raw.strip():
        return fallback
    names = [name.lower() for name in raw.replace(",", " ").split()]
    if names == ["none"]:
        return frozenset()
    if any(name not in KNOWN for name in names):
        config.warn_once(PROPAGATORS_ENV, raw, f"the default, {','.join(sorted(fallback, key=KNOWN.index))}")
        return fallback
    chosen = frozenset(names)
    return _XRAY_ONLY if chosen == _XRAY_ONLY else _BOTH if chosen == _BOTH else chosen


def _explicit(raw: object) -> bool:
    """Whether LAMBDA_TRACER_PROPAGATORS, as ``os.environ`` holds it, says something."""
    return isinstance(raw, (str, bytes)) and bool(raw.strip())


def traceparent(root: str, span_id: str) -> str:
    """W3C ``traceparent`` for a span of a sampled X-Ray trace: the X-Ray Root's 32 hex digits as trace id."""
    return f"00-{root[2:10]}{root[11:]}-{span_id}-01"


def headers(span: XRaySpan, aws: bool = False) -> list[tuple[str, str]]:
    """The headers a call recorded as ``span`` (one of our sampled spans) carries, in the order written (``aws``: a
    call to an AWS service, which gets ``traceparent`` only when LAMBDA_TRACER_PROPAGATORS asks for it)."""
    if span.trace.sampled != "1":
        return []  # an unsampled trace recorded for OTLP (LAMBDA_TRACER_OTLP_UNSAMPLED): no header, as always
    names = enabled()
    if aws and names is _BOTH and not _explicit(_last[0]):  # the otlp default, not the user's choice
        names = _XRAY_ONLY
    if names is _XRAY_ONLY:
        return [(XRAY_HEADER, span.outgoing_header())]
    found: list[tuple[str, str]] = []
    if XRAY in names:
        found.append((XRAY_HEADER, span.outgoing_header()))
    if TRACECONTEXT in names:
        found.append((TRACEPARENT_HEADER, traceparent(str(span.trace.root), span.id)))
    return found
