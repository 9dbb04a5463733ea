"""The zero-code handler redirect: ``_HANDLER=lambda_tracer.handler.handler``.

The exec wrapper stashes the user's handler string in ``LAMBDA_TRACER_ORIGINAL_HANDLER`` and points
``_HANDLER`` here. When the runtime imports this module (at init, once) we:

1. start the tracer from environment variables only, so supported libraries are patched as soon
   as the user's module imports them, and ``gc.freeze()`` what exists so far (see _freeze_init_objects);
2. resolve the user's handler with the runtime's own resolver (awslambdaric's
   ``bootstrap._get_handler``). Its ``FaultException`` is not an ImportError, so it passes through
   the runtime's import of *this* module unchanged and the runtime reports it exactly as it would
   without the layer: init phase, same ``errorType``, message naming the user's module. Any other
   exception raised by the user's module keeps its own type and traceback. The user's module runs once;
3. wrap the handler once with ``capture_lambda_handler`` (not if it is already traced in code).

Steps 2 and 3 run when the runtime reads ``handler`` from this module (``__getattr__``), right after
importing it, still during init.

If the tracer cannot start or wrap, the user's handler is served as is.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from . import STARTED, coldstart, config

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

    from .tracer import Tracer


REDIRECT = "lambda_tracer.handler.handler"
#: LAMBDA_TRACER_INIT_TRACE's default (docs/cold-start-anatomy.md: what it costs).
INIT_TRACE_DEFAULT = True


def _start_tracer() -> Tracer | None:
    """A Tracer configured by env vars; None (with a warning) if it cannot start."""
    try:
        from .tracer import Tracer

        modules = _patch_modules_from_env()
        if modules == []:
            return Tracer(auto_patch=False)
        return Tracer(patch_modules=modules)
    except Exception as error:
        config.report_once(
            ("init", "tracer"), f"tracer not started, serving the handler untraced: {config.error_place(error)}"
        )
        return None


def _patch_modules_from_env() -> list[str] | None:
    """``LAMBDA_TRACER_PATCH_MODULES``: None = all supported, [] = none. Names are our fixed, lower-case list, so in
    any case (as in the other list settings): ``Requests`` is requests. Unknown names get one warning naming them."""
    from .instrumentation import SUPPORTED

    listed = config.get_list(config.PATCH_MODULES)
    if not listed:
        return None
    modules = [m.lower() for m in listed]
    if modules in (["none"], ["off"], ["false"]):
        return []
    known = [m for m in modules if m in SUPPORTED]
    unknown = [m for m in listed if m.lower() not in SUPPORTED]
    if unknown:
        named = ", ".join(config.shown(m) for m in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        config.report_once(
            (config.PATCH_MODULES, ",".join(listed)[:64]),
            f"{config.PATCH_MODULES}: {named} not supported"
            f" (supported: {', '.join(sorted(SUPPORTED))}); tracing {', '.join(known) or 'all supported'}",
        )
    return known or None


def _runtime_resolver() -> Callable[[str], Any]:
    """awslambdaric's resolver when it is the running runtime; an equivalent otherwise (resolver.py, imported only
    then)."""
    runtime = sys.modules.get("awslambdaric.bootstrap")
    resolver = getattr(runtime, "_get_handler", None)
    if callable(resolver):
        return resolver  # type: ignore[no-any-return]
    from .resolver import resolve

    return resolve


def _wrap(tracer: Tracer | None, user_handler: Any) -> Any:
    if tracer is None or not callable(user_handler):
        return user_handler  # a fault handler from an older runtime is passed through as is
    try:
        from .tracer import ZERO_CODE, capture_handler, is_traced

        if is_traced(user_handler):
            return user_handler
        return capture_handler(tracer, user_handler, None, None, ZERO_CODE)  # capture_lambda_handler's, as zero-code
    except Exception as error:
        config.report_once(
            ("init", "wrap"), f"could not wrap the handler, serving it untraced: {config.error_place(error)}"
        )
        return user_handler


def _original_handler_name() -> str:
    name = os.environ.get(config.ORIGINAL_HANDLER, "")
    if not name or name == REDIRECT:
        # The wrapper guarantees this never happens; if it does, fail like a malformed handler would.
        return name or "LAMBDA_TRACER_ORIGINAL_HANDLER-is-not-set"
    return name


def _start_init_trace(handler_name: str) -> Any:
    """The init_trace module with its import hook in place (init_trace.py); None when it is off or fails."""
    try:
        if _tracer is None or _tracer.disabled or not config.get_bool(config.INIT_TRACE, INIT_TRACE_DEFAULT):
            return None
        from . import init_trace

        init_trace.start(*STARTED, handler_name)
        return init_trace
    except Exception as error:
        config.report_once(("init", "init trace"), f"init not traced: {config.error_place(error)}")
        return None


def _freeze_init_objects(tracer: Tracer | None) -> None:
    """``gc.freeze()`` the runtime's, the tracer's and the SDK's objects before your module is imported
    (``coldstart.freeze_init_objects``): about 5-10 ms of a boto3 function's cold start, measured here. Not again once
    it is: measured, that moves the collections of the first invocations and costs more than it saves
    (docs/performance.md, the garbage collector on a cold start)."""
    if tracer is not None and not tracer.disabled:
        coldstart.freeze_init_objects()


_tracer = _start_tracer()
_freeze_init_objects(_tracer)


class _PassedOn(Exception):
    """An AttributeError raised while the user's module was imported, as the runtime reports it without the layer
    (its type's name, its message, its traceback), but not an AttributeError: see ``__getattr__``."""

    @classmethod
    def of(cls, error: AttributeError) -> _PassedOn:
        kind = type(error)
        names = {"__module__": kind.__module__, "__qualname__": kind.__qualname__}
        stand_in: type[_PassedOn] = type(kind.__name__, (cls,), names)
        return stand_in(error)

    def __str__(self) -> str:
        return str(self.args[0])


def _next_frames(error: BaseException) -> Any:
    """The traceback of ``error`` below this module's frame (the raise puts that frame back once)."""
    frames = error.__traceback__
    return frames.tb_next if frames is not None else None


def __getattr__(name: str) -> Any:
    """``handler``: the user's handler, traced, resolved when the runtime asks for it.

    The runtime imports this module, then reads ``handler`` from it, still at init. Resolving the user's
    module here rather than while this module imports keeps the import of this module out of the traceback
    of an exception raised by the user's module: it carries two frames more than without the layer (this
    function and the runtime's resolver it calls), not the ten of a nested import.
    """
    if name != "handler":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    handler_name = _original_handler_name()
    init_trace = _start_init_trace(handler_name)
    try:
        user_handler = _runtime_resolver()(handler_name)
    except BaseException as error:
        if init_trace is not None:
            init_trace.stop(error)
        if isinstance(error, AttributeError):
            # The runtime reads ``handler`` with getattr and reports an AttributeError from it as its own
            # Runtime.HandlerNotFound about this module: the user's would be lost. Passed on as its stand-in.
            raise _PassedOn.of(error).with_traceback(_next_frames(error)) from None
        raise
    if init_trace is not None:
        init_trace.stop()
    traced = _wrap(_tracer, user_handler)
    globals()["handler"] = traced  # resolved once: the user's module runs once
    return traced
