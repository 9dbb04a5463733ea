"""The public Tracer: decorators, annotations, metadata, patching, and the X-Ray escape hatch.

Every decorator follows one rule: the user's function runs exactly once, and its return value or
exception reaches the caller untouched, whatever happens inside the tracer. All tracer work is
done in ``_Span`` methods that never raise (failures are logged once at WARNING).

When tracing is off (``POWERTOOLS_TRACE_DISABLED``, outside Lambda, SAM local, Chalice local) the
X-Ray SDK is never imported and a decorated call is one attribute check away from a plain call.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import math
import os
import re
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar, cast, overload

from . import capture, coldstart, config, endpoints
from .noop import NOOP_PROVIDER

logger = logging.getLogger("lambda_tracer")

AnyCallableT = TypeVar("AnyCallableT", bound=Callable[..., Any])

_INVALID_NAME_CHARACTERS = re.compile(r"[?;*()!$~^<>]")
_ANNOTATION_KEY = re.compile(r"[A-Za-z0-9_]+")
_ANNOTATION_TYPES = (str, int, float, bool)
#: Set on the handler wrappers we return, so the zero-code redirect never traces a handler twice.
HANDLER_MARKER = "__lambda_tracer_handler__"

# True while a handler subsegment of ours is open in this context (zero-code + in-code must not nest).
_handler_active: contextvars.ContextVar[bool] = contextvars.ContextVar("lambda_tracer_handler_active", default=False)


def _code_of(factory: Callable[..., Any]) -> Any:
    def sample() -> Iterator[None]:
        yield

    return getattr(factory(sample), "__code__", None)


# contextlib.contextmanager/asynccontextmanager return a `helper` whose code object is shared by all
# uses; comparing code objects recognises them exactly (the reference guesses from `__wrapped__`).
_CONTEXTMANAGER_CODE = _code_of(contextlib.contextmanager)
_ASYNCCONTEXTMANAGER_CODE = _code_of(contextlib.asynccontextmanager)

_reported: set[tuple[str, str]] = set()


def _report(phase: str, error: BaseException) -> None:
    """Log a failure inside the tracer once per (phase, error type); it never reaches user code.

    Only the exception's type and where it was raised are logged, never its message: a message can quote
    the value being recorded, i.e. the event or the response.
    """
    key = (phase, type(error).__name__)
    if key not in _reported:
        _reported.add(key)
        where = ""
        frames = traceback.extract_tb(error.__traceback__)
        if frames:
            where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}"
        logger.warning(
            "lambda_tracer: tracing failed while %s (the function is unaffected): %s%s",
            phase,
            type(error).__name__,
            where,
        )


def write_metadata(entity: Any, key: str, data: Any, namespace: str) -> None:
    """Store JSON-ready metadata on an X-Ray entity, with the SDK's one rule (no ``AWS.`` namespaces)."""
    if namespace.startswith("AWS."):
        config.report_once(("namespace", namespace), f"metadata namespace {namespace!r} dropped (AWS. is reserved)")
        return
    entity.metadata.setdefault(namespace, {})[key] = data


def sanitize_name(name: str) -> str:
    """X-Ray rejects these characters in subsegment names (so ``<locals>`` becomes ``locals``)."""
    return _INVALID_NAME_CHARACTERS.sub("", name)


class _Span:
    """One open subsegment, whatever the provider; every method is safe to call and never raises."""

    def __init__(self, tracer: Tracer, name: str) -> None:
        self.tracer = tracer
        self.entity: Any = None
        self._exit: Callable[..., Any] | None = None
        try:
            if tracer._custom_provider is None:
                from . import xray

                self.entity = xray.begin(name)
            else:
                manager = tracer._custom_provider.in_subsegment(name=name)
                self.entity = manager.__enter__()
                self._exit = manager.__exit__
        except Exception as error:
            _report("opening a subsegment", error)

    def annotate(self, key: str, value: Any) -> None:
        """``key`` and ``value`` are already valid (the tracer's own, or checked by put_annotation)."""
        if self.entity is None:
            return
        try:
            if self._exit is None:
                self.entity.annotations[key] = value
            else:
                self.entity.put_annotation(key=key, value=value)
        except Exception as error:
            _report("annotating", error)

    def metadata(self, key: str, data: Any, namespace: str) -> None:
        """``data`` is already JSON-ready, bounded and redacted (capture.py)."""
        if self._exit is None:
            write_metadata(self.entity, key, data, namespace)
        else:
            self.entity.put_metadata(key=key, value=data, namespace=namespace)

    def response(self, name: str, value: Any) -> None:
        if self.entity is None or value is None:
            return
        try:
            data = capture.to_metadata(value, config.redact_keys(), config.max_capture_bytes())
            self.metadata(f"{name} response", data, self.tracer.service)
        except Exception as error:
            _report("serializing the response", error)

    def error(self, name: str, error: BaseException, record_metadata: bool) -> None:
        if self.entity is None:
            return
        try:
            if record_metadata:
                data = capture.error_metadata(error, config.redact_keys(), config.max_capture_bytes())
                self.metadata(f"{name} error", data, self.tracer.service)
            if self._exit is None:
                from . import xray

                xray.add_exception(self.entity, error)
        except Exception as failure:
            _report("recording an exception", failure)

    def finish(self, error: BaseException | None = None) -> None:
        try:
            if self._exit is not None:
                self._exit(type(error) if error else None, error, error.__traceback__ if error else None)
            elif self.entity is not None:
                from . import xray

                xray.end(self.entity)
        except Exception as failure:
            _report("closing a subsegment", failure)
            self._detach()

    def suspend(self) -> None:
        """No longer the current subsegment (a traced generator yields to its consumer)."""
        self._move("detach")

    def resume(self) -> None:
        """The current subsegment again (the generator resumes)."""
        self._move("attach")

    def _detach(self) -> None:
        """Whatever failed, never leave our subsegment open as the parent of the next one."""
        self._move("detach")

    def _move(self, action: str) -> None:
        try:
            if self._exit is None and self.entity is not None:
                from . import xray

                getattr(xray, action)(self.entity)
        except Exception as failure:
            _report(f"{action}ing a subsegment", failure)

    def close(self, name: str, result: Any, error: BaseException | None, responses: bool, errors: bool) -> None:
        """Record the outcome (response or error, as configured) and end the subsegment."""
        if error is not None:
            self.error(name, error, errors)
        elif responses:
            self.response(name, result)
        self.finish(error)


# Configuration shared by every Tracer in the process ("Reusing Tracer across your code").
# Only what an instance set explicitly is kept here; environment variables are read again whenever
# it changes. Each change bumps the generation, so that every existing Tracer (e.g. the zero-code one,
# created before the user's module sets its own service) re-resolves its settings on next use.
_shared: dict[str, Any] = {
    "service": None,
    "disabled": None,
    "auto_patch": None,
    "patch_modules": None,
    "provider": None,
}
_generation = 0


class Tracer:
    """Trace a Lambda function with AWS X-Ray (API-compatible with the Powertools Tracer).

    Precedence for every setting: explicit argument > environment variable > what an earlier
    Tracer in the process was explicitly given > default. Nothing else carries over.
    """

    def __init__(
        self,
        service: str | None = None,
        disabled: bool | None = None,
        auto_patch: bool | None = None,
        patch_modules: list[str] | tuple[str, ...] | None = None,
        provider: Any = None,
    ) -> None:
        global _generation
        service = service or None  # "" means "not given", as for the environment variable
        for key, value in (
            ("service", service),
            ("disabled", disabled),
            ("auto_patch", auto_patch),
            ("patch_modules", patch_modules),
            ("provider", provider),
        ):
            if value is not None:
                _shared[key] = value
                _generation += 1
        self._explicit_service = service
        self._explicit_disabled = disabled
        self._explicit_provider = provider
        self._refresh()
        self.auto_patch: bool = _first(auto_patch, _shared["auto_patch"], True)
        self._patch_modules: list[str] | tuple[str, ...] | None = _first(patch_modules, _shared["patch_modules"])
        if self.disabled:
            return
        if self.auto_patch:
            self.patch(self._patch_modules)

    def _refresh(self) -> None:
        self._service: str = _resolve_service(self._explicit_service)
        self._disabled: bool = _resolve_disabled(self._explicit_disabled)
        self._custom_provider: Any = _first(self._explicit_provider, _shared["provider"])
        self._generation = _generation

    @property
    def service(self) -> str:
        """The ``Service`` annotation and default metadata namespace."""
        if self._generation != _generation:
            self._refresh()
        return self._service

    @service.setter
    def service(self, value: str) -> None:
        self._explicit_service = value or None
        self._refresh()

    @property
    def disabled(self) -> bool:
        """Whether this Tracer records nothing (then decorated calls go straight through)."""
        if self._generation != _generation:
            self._refresh()
        return self._disabled

    @disabled.setter
    def disabled(self, value: bool) -> None:
        self._explicit_disabled = value
        self._refresh()

    # -- escape hatch -------------------------------------------------------------------------

    @property
    def provider(self) -> Any:
        """The X-Ray SDK's ``xray_recorder`` (configured for per-task context), or a custom provider.

        While this Tracer is disabled: a provider of the same shape that records nothing.
        """
        if self.disabled:
            return self._custom_provider or NOOP_PROVIDER
        if self._custom_provider is not None:
            return self._custom_provider
        from . import xray

        return xray.recorder()

    @provider.setter
    def provider(self, value: Any) -> None:
        self._explicit_provider = value
        self._refresh()

    # -- annotations and metadata ---------------------------------------------------------------

    def put_annotation(self, key: str, value: str | int | float | bool) -> None:
        """Add a searchable annotation to the current subsegment; invalid input is reported, not raised."""
        if self.disabled:
            return
        if not isinstance(key, str) or not _ANNOTATION_KEY.fullmatch(key):
            config.report_once(("annotation key", repr(key)), f"annotation {key!r} dropped (keys are [A-Za-z0-9_])")
            return
        if not isinstance(value, _ANNOTATION_TYPES) or (isinstance(value, float) and not math.isfinite(value)):
            shown = repr(value)[:40]
            message = f"annotation {key}={shown} dropped (str, int, bool or a finite float only)"
            config.report_once(("annotation value", shown), message)
            return
        try:
            target = self._current_entity()
            if target is None:
                return
            if self._custom_provider is not None:
                target.put_annotation(key=key, value=value)
            else:
                target.annotations[key] = value
        except Exception as error:
            _report("adding an annotation", error)

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        """Add metadata to the current subsegment under ``namespace`` (default: the service)."""
        if self.disabled:
            return
        try:
            target = self._current_entity()
            if target is None:
                return
            data = capture.to_metadata(value, config.redact_keys(), config.max_capture_bytes())
            if self._custom_provider is not None:
                target.put_metadata(key=key, value=data, namespace=namespace or self.service)
            else:
                write_metadata(target, key, data, namespace or self.service)
        except Exception as error:
            _report("adding metadata", error)

    def _current_entity(self) -> Any:
        if self._custom_provider is not None:
            return self._custom_provider
        from . import xray

        entity = xray.current_subsegment()
        if entity is None and not _handler_active.get():  # inside our handler it is an unsampled invocation
            config.report_once(("outside", ""), "put_annotation/put_metadata outside a traced function: ignored")
        return entity

    # -- patching -------------------------------------------------------------------------------

    def patch(self, modules: list[str] | tuple[str, ...] | None = None) -> None:
        """Trace these libraries (default: all supported) as soon as user code imports them."""
        if self.disabled or self._custom_provider is not None:
            return
        try:
            from . import patching

            patching.patch(modules)
        except Exception as error:
            _report("patching libraries", error)

    def ignore_endpoint(self, hostname: str | None = None, urls: list[str] | None = None) -> None:
        """Do not trace calls to ``hostname`` or ``urls`` (``*`` globs), whichever client makes them."""
        endpoints.add(hostname=hostname, urls=urls)

    # -- decorators -----------------------------------------------------------------------------

    def capture_lambda_handler(
        self,
        lambda_handler: Callable[..., Any] | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Callable[..., Any]:
        """Trace a Lambda handler as ``## <name>`` with ColdStart, Service and InitType annotations."""
        if lambda_handler is None:
            return functools.partial(
                self.capture_lambda_handler, capture_response=capture_response, capture_error=capture_error
            )
        response_on = _first(capture_response, config.capture_response_default())
        error_on = _first(capture_error, config.capture_error_default())
        name = sanitize_name(getattr(lambda_handler, "__name__", "handler"))
        tracer = self
        handler = lambda_handler

        def start() -> tuple[_Span, contextvars.Token[bool]] | None:
            """Open the handler subsegment; None means "call the handler untraced" (never raises)."""
            try:
                if tracer.disabled or _handler_active.get():
                    return None  # off, or already inside our handler subsegment (zero-code + in-code)
                span = _Span(tracer, f"## {name}")
                try:
                    cold, init_type = coldstart.take()
                except Exception as error:
                    _report("reading the cold start", error)
                else:
                    span.annotate("ColdStart", cold)
                    span.annotate("Service", tracer.service)
                    span.annotate("InitType", init_type)
                return span, _handler_active.set(True)
            except Exception as error:
                _report("starting the handler subsegment", error)
                return None

        def done(trace: tuple[_Span, contextvars.Token[bool]], result: Any, error: BaseException | None) -> None:
            span, token = trace
            span.close(name, result, error, response_on, error_on)
            try:
                _handler_active.reset(token)
            except Exception as failure:
                _report("ending the handler subsegment", failure)

        if inspect.iscoroutinefunction(handler):

            @functools.wraps(handler)
            async def async_decorate(event: Any, context: Any, **kwargs: Any) -> Any:
                trace = start()
                if trace is None:
                    return await handler(event, context, **kwargs)
                try:
                    result = await handler(event, context, **kwargs)
                except BaseException as error:
                    done(trace, None, error)
                    raise
                done(trace, result, None)
                return result

            return _mark_handler(async_decorate)

        @functools.wraps(handler)
        def decorate(event: Any, context: Any, **kwargs: Any) -> Any:
            trace = start()
            if trace is None:
                return handler(event, context, **kwargs)
            try:
                result = handler(event, context, **kwargs)
            except BaseException as error:
                done(trace, None, error)
                raise
            done(trace, result, None)
            return result

        return _mark_handler(decorate)

    @overload
    def capture_method(self, method: AnyCallableT) -> AnyCallableT: ...

    @overload
    def capture_method(
        self, method: None = None, capture_response: bool | None = None, capture_error: bool | None = None
    ) -> Callable[[AnyCallableT], AnyCallableT]: ...

    def capture_method(
        self,
        method: AnyCallableT | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Any:
        """Trace a function, coroutine, (async) generator or (async) context manager as ``## module.qualname``."""
        if method is None:
            return functools.partial(
                self.capture_method, capture_response=capture_response, capture_error=capture_error
            )
        response_on = _first(capture_response, config.capture_response_default())
        error_on = _first(capture_error, config.capture_error_default())
        module = getattr(method, "__module__", None) or "unknown"
        qualname = getattr(method, "__qualname__", None) or getattr(method, "__name__", "function")
        name = sanitize_name(f"{module}.{qualname}")
        return _decorate_method(self, method, f"## {name}", name, response_on, error_on)


def _decorate_method(
    tracer: Tracer, method: Callable[..., Any], title: str, name: str, response_on: bool, error_on: bool
) -> Callable[..., Any]:
    """Pick the wrapper that keeps the method's kind (coroutine, generator, context manager, ...)."""

    def finish(span: _Span, result: Any, error: BaseException | None) -> None:
        span.close(name, result, error, response_on, error_on)

    code = getattr(method, "__code__", None)
    if code is not None and code is _CONTEXTMANAGER_CODE:

        @functools.wraps(method)
        @contextlib.contextmanager
        def traced_cm(*args: Any, **kwargs: Any) -> Iterator[Any]:
            if tracer.disabled:
                with method(*args, **kwargs) as value:
                    yield value
                return
            span = _Span(tracer, title)
            try:
                with method(*args, **kwargs) as value:
                    yield value
            except BaseException as error:
                finish(span, None, error)
                raise
            finish(span, value, None)

        return traced_cm

    if code is not None and code is _ASYNCCONTEXTMANAGER_CODE:

        @functools.wraps(method)
        @contextlib.asynccontextmanager
        async def traced_acm(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            if tracer.disabled:
                async with method(*args, **kwargs) as value:
                    yield value
                return
            span = _Span(tracer, title)
            try:
                async with method(*args, **kwargs) as value:
                    yield value
            except BaseException as error:
                finish(span, None, error)
                raise
            finish(span, value, None)

        return traced_acm

    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def traced_async(*args: Any, **kwargs: Any) -> Any:
            if tracer.disabled:
                return await method(*args, **kwargs)
            span = _Span(tracer, title)
            try:
                result = await method(*args, **kwargs)
            except BaseException as error:
                finish(span, None, error)
                raise
            finish(span, result, None)
            return result

        return traced_async

    if inspect.isasyncgenfunction(method):

        @functools.wraps(method)
        async def traced_async_gen(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            # Delegate by hand (there is no `yield from` for async generators) so that asend(),
            # athrow() and aclose() reach the user's generator exactly as without tracing (also when
            # tracing is off), and so that our subsegment is the current one only while the
            # generator's own code runs.
            generator = method(*args, **kwargs)
            span = None if tracer.disabled else _Span(tracer, title)

            def done(error: BaseException | None) -> None:
                if span is not None:
                    finish(span, None, error)

            sent: Any = None
            thrown: BaseException | None = None
            while True:
                try:
                    if thrown is not None:
                        error, thrown = thrown, None
                        item = await generator.athrow(error)
                    else:
                        item = await generator.asend(sent)
                except StopAsyncIteration:
                    done(None)
                    return
                except BaseException as error:
                    done(error)
                    raise
                if span is not None:
                    span.suspend()
                try:
                    sent = yield item
                except GeneratorExit:
                    if span is not None:
                        span.resume()
                    try:
                        await generator.aclose()
                    except BaseException as error:
                        done(error)
                        raise
                    done(None)
                    raise
                except BaseException as error:
                    thrown, sent = error, None
                if span is not None:
                    span.resume()

        return traced_async_gen

    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def traced_gen(*args: Any, **kwargs: Any) -> Any:
            if tracer.disabled:
                return (yield from method(*args, **kwargs))
            # Like `yield from`, by hand: our subsegment is the current one only while the generator's own
            # code runs, not while its consumer runs between two items.
            generator = method(*args, **kwargs)
            span = _Span(tracer, title)
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                try:
                    if thrown is not None:
                        error, thrown = thrown, None
                        item = generator.throw(error)
                    else:
                        item = generator.send(sent)
                except StopIteration as stop:
                    finish(span, stop.value, None)
                    return stop.value
                except BaseException as error:
                    finish(span, None, error)
                    raise
                span.suspend()
                try:
                    sent = yield item
                except GeneratorExit:  # closed early by its consumer (e.g. `next(gen)` then dropped): not an error
                    span.resume()
                    try:
                        generator.close()
                    except BaseException as error:
                        finish(span, None, error)
                        raise
                    finish(span, None, None)
                    raise
                except BaseException as error:
                    thrown, sent = error, None
                span.resume()

        return traced_gen

    @functools.wraps(method)
    def traced(*args: Any, **kwargs: Any) -> Any:
        if tracer.disabled:
            return method(*args, **kwargs)
        span = _Span(tracer, title)
        try:
            result = method(*args, **kwargs)
        except BaseException as error:
            finish(span, None, error)
            raise
        finish(span, result, None)
        return result

    return traced


def _mark_handler(function: AnyCallableT) -> AnyCallableT:
    setattr(function, HANDLER_MARKER, True)
    return function


def is_traced(function: Any) -> bool:
    """Whether ``function`` (or anything it wraps) is a handler already traced in code, by us or by Powertools.

    Only handler decorators count: a handler decorated with ``capture_method`` alone still gets its
    ``## handler`` subsegment in zero-code mode.
    """
    seen = 0
    while function is not None and seen < 32:
        if getattr(function, HANDLER_MARKER, False):
            return True
        # functools.wraps gives Powertools' wrapper the user's name and module; its code object keeps its
        # own, and only capture_lambda_handler's wrapper closes over `lambda_handler`.
        code = getattr(function, "__code__", None)
        if (
            code is not None
            and code.co_name == "decorate"
            and "lambda_handler" in code.co_freevars
            and code.co_filename.replace("\\", "/").endswith("aws_lambda_powertools/tracing/tracer.py")
        ):
            return True
        function = getattr(function, "__wrapped__", None)
        seen += 1
    return False


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None:
            return value
    return None


def _resolve_service(explicit: str | None) -> str:
    return cast(
        str,
        _first(
            explicit or None,
            config.service_from_env(),
            _shared["service"],
            config.get_str("AWS_LAMBDA_FUNCTION_NAME"),
            config.DEFAULT_SERVICE,
        ),
    )


def _resolve_disabled(explicit: bool | None) -> bool:
    if explicit is not None:
        return bool(explicit)
    from_env = config.get_explicit_bool(config.TRACE_DISABLED)
    if from_env is not None:
        return from_env
    if _shared["disabled"] is not None:
        return bool(_shared["disabled"])
    return config.auto_disabled_reason() is not None


def reset_shared_config() -> None:
    """Forget what earlier Tracers set (tests)."""
    global _generation
    for key in _shared:
        _shared[key] = None
    _generation += 1


def aiohttp_trace_config() -> Any:
    """An ``aiohttp.TraceConfig`` that records each client request as a subsegment.

    With tracing off it is an empty TraceConfig, so the SDK is not imported for nothing.
    """
    import aiohttp

    if _resolve_disabled(None):
        return aiohttp.TraceConfig()
    from . import patching

    return patching.aiohttp_trace_config()
