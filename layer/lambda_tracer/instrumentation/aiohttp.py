"""aiohttp's client: one ``remote`` subsegment per request, through aiohttp's own tracing (``TraceConfig``).

``trace_config()`` is what ``lambda_tracer.aiohttp_trace_config()`` returns: its ``on_request_start`` opens the
subsegment (``http.request`` method and URL, no query string, masked) and adds its ``X-Amzn-Trace-Id`` to the
request, ``on_request_end`` records ``http.response`` status and content_length, ``on_request_exception`` the
fault and cause. Redirects are followed inside the one request, as in the SDK.

Zero code: ``ClientSession.__init__`` is wrapped (functools.wraps) to add our trace config to every session
that has none of ours yet (the marker), so a session given ``aiohttp_trace_config()`` explicitly is not traced
twice.

Difference from the SDK's trace config, on purpose: a connection error keeps the namespace ``remote`` (the SDK
switches it to ``local``), like every other client's; no header without a sampled trace.
"""

from __future__ import annotations

import functools
from types import ModuleType

from . import common

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

MARKER = "__lambda_tracer_instrumented__"
#: Marks the aiohttp trace configs made by us, so a session never gets two (in-code aiohttp_trace_config() +
#: zero-code), whichever made them: this module or, when aiohttp is left to the SDK, sdk_patches.py.
TRACE_CONFIG_MARKER = "_lambda_tracer_trace_config"


def instrument(name: str, aiohttp: ModuleType, make_config: Callable[[], Any] | None = None) -> None:
    """Every ClientSession gets our trace config (aiohttp has no global hook), or what ``make_config`` makes:
    sdk_patches passes the SDK's, marked as ours, when aiohttp is left to the SDK."""
    new_config = make_config or trace_config
    session = aiohttp.ClientSession
    original = session.__init__
    if getattr(original, MARKER, False):
        return

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            configs = list(kwargs.get("trace_configs") or ())
            if not any(getattr(config, TRACE_CONFIG_MARKER, False) for config in configs):
                kwargs["trace_configs"] = [*configs, new_config()]
        except Exception as error:  # the session works untraced rather than not at all
            common.report("an aiohttp session", error)
        original(self, *args, **kwargs)

    setattr(__init__, MARKER, True)
    session.__init__ = __init__


def trace_config() -> Any:
    """An ``aiohttp.TraceConfig`` recording each request of a session as a subsegment, marked as ours."""
    import aiohttp

    config = aiohttp.TraceConfig()
    config.on_request_start.append(_on_request_start)
    config.on_request_end.append(_on_request_end)
    config.on_request_exception.append(_on_request_exception)
    setattr(config, TRACE_CONFIG_MARKER, True)
    return config


async def _on_request_start(session: Any, context: Any, params: Any) -> None:
    context.lambda_tracer_span = None
    span = common.start_request(params, "aiohttp")
    if span is not None and span is not common.IGNORED:
        context.lambda_tracer_span = span


async def _on_request_end(session: Any, context: Any, params: Any) -> None:
    span = getattr(context, "lambda_tracer_span", None)
    if span is not None:
        context.lambda_tracer_span = None
        response = params.response
        common.finish(span, getattr(response, "status", None), getattr(response, "content_length", None))


async def _on_request_exception(session: Any, context: Any, params: Any) -> None:
    span = getattr(context, "lambda_tracer_span", None)
    if span is not None:
        context.lambda_tracer_span = None
        common.fail(span, params.exception)
