"""The public Tracer: decorators, annotations, metadata, patching, and the X-Ray escape hatch.

Every decorator follows one rule: the user's function runs exactly once, and its return value or
exception reaches the caller untouched, whatever happens inside the tracer. All tracer work is
done in ``GuardedSpan`` methods that never raise (failures are logged once at WARNING).

When tracing is off (``POWERTOOLS_TRACE_DISABLED``, outside Lambda, SAM local, Chalice local) the
X-Ray SDK is never imported and a decorated call is one attribute check away from a plain call.
"""

from __future__ import annotations

import _contextvars as contextvars  # what contextvars.py re-exports, without its import at a cold start
import functools
import types
from collections.abc import Callable

from . import backends, capture, coldstart, config, redaction
from .backends import Backend
from .backends.xray_documents import MAX_NAME_CHARS
from .span import GuardedSpan, metadata_namespace, report, response_key

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any, TypeVar, overload

    AnyCallableT = TypeVar("AnyCallableT", bound=Callable[..., Any])


#: Set on the handler wrappers we return, so the zero-code redirect never traces a handler twice.
HANDLER_MARKER = "__lambda_tracer_handler__"

#: Whose handler subsegment is open here, if any: zero-code + in-code must not nest, two in-code ones do (reference).
ZERO_CODE, IN_CODE = "zero-code", "in code"
_handler_active: contextvars.ContextVar[str] = contextvars.ContextVar("lambda_tracer_handler_active", default="")


def sanitize_name(name: str) -> str:
    """A name that X-Ray accepts once ``## `` is put before it (capture.clean_name)."""
    return capture.clean_name(name)[: MAX_NAME_CHARS - 3]


# Code flags (Include/cpython/code.h; the same in every Python 3): what calling a function returns.
_CO_GENERATOR, _CO_COROUTINE, _CO_ASYNC_GENERATOR = 0x20, 0x80, 0x200
_KINDS = {_CO_COROUTINE: "coroutine", _CO_ASYNC_GENERATOR: "async generator", _CO_GENERATOR: "generator"}
#: What makes inspect look past a function's own code: markcoroutinefunction (3.12+), a partialmethod's (3.13+).
_ASK_INSPECT = frozenset({"_is_coroutine_marker", "__partialmethod__"})


def kind_of(function: Callable[..., Any]) -> str:
    """``coroutine``, ``async generator``, ``generator`` or ``plain``: what calling ``function`` returns, as
    ``inspect.iscoroutinefunction`` and its siblings say. A plain ``def`` is read from its code flags, as ``inspect``
    itself does; anything else (methods, partials, ``inspect.markcoroutinefunction``, a partialmethod's function)
    asks ``inspect``, imported only then: it would be the largest import of a cold start."""
    if type(function) is types.FunctionType and _ASK_INSPECT.isdisjoint(function.__dict__):
        flags = function.__code__.co_flags
        for flag, kind in _KINDS.items():
            if flags & flag:
                return kind
        return "plain"
    import inspect

    if inspect.iscoroutinefunction(function):
        return "coroutine"
    if inspect.isasyncgenfunction(function):
        return "async generator"
    return "generator" if inspect.isgeneratorfunction(function) else "plain"


class SharedSettings:
    """The settings shared by every Tracer in the process ("Reusing Tracer across your code"): what an instance was
    given explicitly, None where none was. Replaced, never changed: each Tracer remembers the one its settings were
    resolved from, and resolves them again (environment variables included) once it is not the current one, so an
    existing Tracer (the zero-code one, made before the user's module gives its own service) follows on next use."""

    __slots__ = ("auto_patch", "disabled", "patch_modules", "provider", "service")
    service: str | None
    disabled: bool | None
    auto_patch: bool | None
    patch_modules: list[str] | tuple[str, ...] | None
    provider: Any

    def __init__(self, values: tuple[Any, ...] = (None, None, None, None, None)) -> None:
        """``values``: the service, disabled, auto_patch, patch_modules and provider given, in that order."""
        self.service, self.disabled, self.auto_patch, self.patch_modules, self.provider = values

    def given(
        self,
        service: str | None,
        disabled: bool | None,
        auto_patch: bool | None,
        patch_modules: list[str] | tuple[str, ...] | None,
        provider: Any,
    ) -> SharedSettings:
        """These settings, with those a new Tracer was given (not None) in place: a new object when any was."""
        if service is None and disabled is None and auto_patch is None and patch_modules is None and provider is None:
            return self
        return SharedSettings(
            (
                _first(service, self.service),
                _first(disabled, self.disabled),
                _first(auto_patch, self.auto_patch),
                _first(patch_modules, self.patch_modules),
                _first(provider, self.provider),
            )
        )


_shared = SharedSettings()


def _setting(name: str, doc: str) -> Any:
    """A Tracer setting read and written as an attribute (``service``, ``disabled``), resolved by ``Tracer._refresh``
    from the explicit value, the environment and the shared settings, and again once the shared ones changed."""
    resolved, explicit = f"_{name}", f"_explicit_{name}"

    def read(tracer: Tracer) -> Any:
        if tracer._shared is not _shared:
            tracer._refresh()
        return getattr(tracer, resolved)

    def write(tracer: Tracer, value: Any) -> None:
        setattr(tracer, explicit, value)  # "" means "not given" for the service: _resolve_service says so
        tracer._refresh()

    return property(read, write, doc=doc)


class Tracer:
    """Trace a Lambda function with AWS X-Ray (API-compatible with the Powertools Tracer).

    Precedence for every setting: explicit argument > environment variable > what an earlier
    Tracer in the process was explicitly given > default. Nothing else carries over."""

    def __init__(
        self,
        service: str | None = None,
        disabled: bool | None = None,
        auto_patch: bool | None = None,
        patch_modules: list[str] | tuple[str, ...] | None = None,
        provider: Any = None,
    ) -> None:
        global _shared
        service = service or None  # "" means "not given", as for the environment variable
        _shared = _shared.given(service, disabled, auto_patch, patch_modules, provider)
        self._explicit_service = service
        self._explicit_disabled = disabled
        self._explicit_provider = provider
        self._refresh()  # installs the backend when this Tracer traces
        self.auto_patch: bool = _first(auto_patch, _shared.auto_patch, True)
        self._patch_modules: list[str] | tuple[str, ...] | None = _first(patch_modules, _shared.patch_modules)
        if self._disabled:
            return
        if self.auto_patch:
            self.patch(self._patch_modules)

    def _refresh(self) -> None:
        """Resolve the settings (explicit value > environment variable > shared > default) and, when they make this
        Tracer trace, ``install`` the backend they choose: at construction, and whenever a setting changed (this
        one's, or the shared ones). The one place a Tracer's setup happens; the getters only read its result."""
        self._shared: SharedSettings = _shared
        self._service: str = _resolve_service(self._explicit_service)
        self._disabled: bool = _resolve_disabled(self._explicit_disabled)
        self._custom_provider: Any = _first(self._explicit_provider, _shared.provider)
        self._backend: Backend = _UNTRACED
        if not self._disabled or self._custom_provider is not None:
            try:
                self._backend = install(self._custom_provider)
            except Exception as error:
                report("installing the tracer", error)

    if TYPE_CHECKING:  # what mypy reads; the properties below carry the docs
        service: str
        disabled: bool
    else:
        service = _setting("service", "The ``Service`` annotation and default metadata namespace.")
        disabled = _setting(
            "disabled", "Whether this Tracer records nothing (then decorated calls go straight through)."
        )

    # -- escape hatch -------------------------------------------------------------------------

    @property
    def provider(self) -> Any:
        """The X-Ray SDK's ``xray_recorder`` (recording into our trace), or a custom provider.

        While this Tracer is disabled: a provider of the same shape that records nothing.
        """
        if self._custom_provider is not None:
            return self._custom_provider
        if self.disabled:
            from .noop import NOOP_PROVIDER  # imported when asked for: most functions never touch the provider

            return NOOP_PROVIDER
        return self.backend.escape_hatch()

    @provider.setter
    def provider(self, value: Any) -> None:
        self._explicit_provider = value
        self._refresh()

    @property
    def backend(self) -> Backend:
        """Where this Tracer records, as ``install`` set it up: the user's provider, else our own X-Ray backend (one
        that records nothing while this Tracer does not trace)."""
        if self._shared is not _shared:
            self._refresh()
        return self._backend

    def _traces(self) -> bool:
        """Whether decorated calls open spans: when enabled, and always with a custom provider (as the
        reference: disabled only stops X-Ray emission)."""
        if self._shared is not _shared:
            self._refresh()
        return not self._disabled or self._custom_provider is not None

    # -- annotations and metadata ---------------------------------------------------------------

    def put_annotation(self, key: str, value: str | int | float | bool) -> None:
        """Add a searchable annotation to the current subsegment; invalid input is reported, not raised."""
        if self.disabled:
            return
        try:
            checked = capture.annotation_value(key, value, redaction.current())
            if checked is not capture.DROPPED and not self.backend.annotate_current(key, checked):
                _outside_a_span()
        except Exception as error:
            report("adding an annotation", error)

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        """Add metadata to the current subsegment under ``namespace`` (default: the service)."""
        if self.disabled:
            return
        try:
            key = str(key)
            policy = redaction.current()
            checked = metadata_namespace(policy.mask_cut(str(namespace), MAX_NAME_CHARS) if namespace else self.service)
            if checked is None:
                return
            named = namespace if namespace != self.service else None  # the service's own is never judged
            data = capture.to_metadata(value, policy, config.max_capture_bytes(), key=key, namespace=named)
            if not self.backend.add_metadata_current(checked, policy.mask_cut(key, MAX_NAME_CHARS), data):
                _outside_a_span()
        except Exception as error:
            report("adding metadata", error)

    # -- patching -------------------------------------------------------------------------------

    def patch(self, modules: list[str] | tuple[str, ...] | None = None) -> None:
        """Trace these libraries (default: all supported) as soon as user code imports them."""
        if self.disabled:
            return
        try:
            if not self.backend.instrument(modules):
                from . import instrumentation

                instrumentation.patch(modules)
        except Exception as error:
            report("patching libraries", error)

    def ignore_endpoint(self, hostname: str | None = None, urls: list[str] | None = None) -> None:
        """Do not trace calls to ``hostname`` or ``urls`` (``*`` globs), whichever client makes them."""
        from . import endpoints  # imported when a rule is added: most functions have none

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
        traced = capture_handler(self, lambda_handler, capture_response, capture_error, IN_CODE)
        coldstart.freeze_init_objects()  # the module's init objects made so far (a boto3 client): see its docstring
        return traced

    if TYPE_CHECKING:  # the overloads exist for type checkers only (typing is not imported at run time)

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
        from .wrappers import wrap_method  # imported with the first capture_method: zero-code functions need none

        return wrap_method(self, method, kind_of(method), f"## {name}", name, response_on, error_on)


# -- the handler's wrappers (capture_lambda_handler): kept here, not in wrappers.py, because every zero-code
# function needs them at its cold start, and wrappers.py is imported only with the first capture_method.

if TYPE_CHECKING:
    HandlerTrace = tuple[GuardedSpan, contextvars.Token[str]]


def capture_handler(
    tracer: Tracer, handler: Callable[..., Any], capture_response: bool | None, capture_error: bool | None, opens: str
) -> Callable[..., Any]:
    """``capture_lambda_handler``'s wrapper, marked; ``opens``: ZERO_CODE (the redirect's) or IN_CODE."""
    response_on = _first(capture_response, config.capture_response_default())
    error_on = _first(capture_error, config.capture_error_default())
    name = sanitize_name(getattr(handler, "__name__", "handler"))
    wrap = _wrap_async_handler if kind_of(handler) == "coroutine" else _wrap_handler
    wrapped = wrap(tracer, handler, name, response_on, error_on, opens)
    setattr(wrapped, HANDLER_MARKER, True)
    return wrapped


def _wrap_handler(
    tracer: Tracer, handler: Callable[..., Any], name: str, response_on: bool, error_on: bool, opens: str
) -> Callable[..., Any]:
    title, key = f"## {name}", response_key(name)

    @functools.wraps(handler)
    def decorate(event: Any, context: Any, **kwargs: Any) -> Any:
        backends.invocation = event, context
        # _open_handler_async's work without its calls (every invocation's path): the handler subsegment opens here,
        # or the handler runs untraced (off, or already inside our handler subsegment: zero-code + in-code).
        span = inner = token = None  # span: a GuardedSpan; X-Ray's own (inner) is closed by GuardedSpan.finish
        try:
            if _handler_active.get() != ZERO_CODE:
                if tracer._shared is not _shared:
                    tracer._refresh()
                if not tracer._disabled or tracer._custom_provider is not None:
                    backend = tracer._backend
                    if coldstart.pending:  # the first invocation: init's own spans first
                        coldstart.send_pending_init(backend)
                    # The annotations before the span (the cold start's ticket is taken whatever opening does).
                    annotations = coldstart.handler_annotations(tracer._service, backend.records_extras)
                    namespace = tracer._service
                    if backend.annotates_on_start:  # X-Ray's: the span made with them, no annotate_all call
                        inner = backend.start_span(title, "local", annotations)  # type: ignore[call-arg]
                    else:
                        span = GuardedSpan(
                            backend.start_span(title), name, response_on, error_on, namespace, annotations
                        )
                    token = _handler_active.set(opens)
        except Exception as error:
            report("starting the handler subsegment", error)
            token = None
        if token is None:
            return handler(event, context, **kwargs) if kwargs else handler(event, context)
        try:
            result = handler(event, context, **kwargs) if kwargs else handler(event, context)
        except BaseException as error:
            _close_handler((span or GuardedSpan(inner, name, response_on, error_on, namespace), token), None, error)
            raise
        if backends.held:  # calls left open (a response never read) end with the invocation, before its span
            backends.end_held(token)
        if span is None:
            GuardedSpan.finish(inner, key, response_on, namespace, result)
        else:
            span.close(result, None)  # _close_handler((span, token), result, None), without the call
        try:
            _handler_active.reset(token)
        except Exception as failure:
            report("ending the handler subsegment", failure)
        return result

    return decorate


def _wrap_async_handler(
    tracer: Tracer, handler: Callable[..., Any], name: str, response_on: bool, error_on: bool, opens: str
) -> Callable[..., Any]:
    title = f"## {name}"

    @functools.wraps(handler)
    async def async_decorate(event: Any, context: Any, **kwargs: Any) -> Any:
        backends.invocation = event, context
        trace = await _open_handler_async(tracer, title, name, response_on, error_on, opens)
        if trace is None:
            return await handler(event, context, **kwargs)
        try:
            result = await handler(event, context, **kwargs)
        except BaseException as error:
            await _close_handler_async(trace, None, error)
            raise
        await _close_handler_async(trace, result, None)
        return result

    return async_decorate


async def _open_handler_async(
    tracer: Tracer, title: str, name: str, response_on: bool, error_on: bool, opens: str
) -> HandlerTrace | None:
    try:
        ready = _handler_ready(tracer)
        if ready is None:
            return None
        inner = await ready[0].start_span_async(title)
        return GuardedSpan(inner, name, response_on, error_on, tracer._service, ready[1]), _handler_active.set(opens)
    except Exception as error:
        report("starting the handler subsegment", error)
        return None


def _handler_ready(tracer: Tracer) -> tuple[Backend, tuple[dict[str, str | int | float | bool], str]] | None:
    """What opening the handler subsegment needs: the backend and the handler's annotations (ColdStart, Service,
    InitType, Restored); None when it is not traced. The Tracer's settings are read once, as its properties do."""
    if _handler_active.get() == ZERO_CODE:
        return None
    if tracer._shared is not _shared:
        tracer._refresh()
    if tracer._disabled and tracer._custom_provider is None:
        return None
    backend = tracer._backend
    if coldstart.pending:  # the first invocation: init's own spans first
        coldstart.send_pending_init(backend)
    return backend, coldstart.handler_annotations(tracer._service, backend.records_extras)


def _close_handler(trace: HandlerTrace, result: Any, error: BaseException | None) -> None:
    if backends.held:  # the handler's exception: the cause of a call it left open
        backends.end_held(trace[1], error)
    trace[0].close(result, error)
    try:
        _handler_active.reset(trace[1])
    except Exception as failure:
        report("ending the handler subsegment", failure)


async def _close_handler_async(trace: HandlerTrace, result: Any, error: BaseException | None) -> None:
    if backends.held:
        backends.end_held(trace[1], error)
    await trace[0].close_async(result, error)
    try:
        _handler_active.reset(trace[1])
    except Exception as failure:
        report("ending the handler subsegment", failure)


def _outside_a_span() -> None:
    if not _handler_active.get():  # inside our handler it is an unsampled invocation: nothing to say
        config.report_once(("outside",), "put_annotation/put_metadata outside a traced function: ignored")


#: A Tracer's backend while it does not trace (or when installing failed): the seam's defaults, which record nothing.
_UNTRACED = Backend()


def install(provider: Any = None) -> Backend:
    """Set up the backend a Tracer records into and return it: a new backend for a custom ``provider``, else our own
    X-Ray backend, after what it needs around it: the exporter (``LAMBDA_TRACER_EXPORTER``, chosen once per process),
    import hooks that bring user code's aws-xray-sdk and OpenTelemetry API into our trace, the listed OpenTelemetry
    instrumentations, and SnapStart's restore hooks (a new socket, ``Restored``).

    Called by ``Tracer._refresh`` whenever a Tracer's settings make it trace: the zero-code Tracer at init, yours when
    it is made, any Tracer after a setting changed. Each step is idempotent (a hook is registered once), and each is
    taken again then, so that what it reads (the init type, the listed instrumentations) is current."""
    if provider is not None:
        from .backends.provider import ProviderBackend

        return ProviderBackend(provider)  # the provider is its only state: kept by the Tracer, freed with it
    from . import instrumentation
    from .backends import udp, xray

    _choose_exporter()
    instrumentation.watch_sdk()  # user code importing the SDK itself records into our trace too
    _watch_opentelemetry()
    coldstart.on_restore(udp.reset)  # a restored sandbox opens its own socket
    coldstart.watch_restores()
    return xray.BACKEND


_exporter_chosen = False


def _choose_exporter() -> None:
    """``LAMBDA_TRACER_EXPORTER``, read once per process: chosen here, above both backends, so that xray.py and
    otlp.py never import each other."""
    global _exporter_chosen
    if _exporter_chosen:
        return
    if config.exporter() == "otlp":
        from .backends import otlp

        otlp.install()
    _exporter_chosen = True


def _watch_opentelemetry() -> None:
    """The OTel API records into our trace once user code imports it (otel.py); listed contrib instrumentations
    run now, before user code imports the libraries they patch."""
    from . import instrumentation

    instrumentation.when_imported("opentelemetry.trace", _bridge)
    instrumentation.when_imported("opentelemetry.propagate", _bridge)
    listed = config.get_list("LAMBDA_TRACER_OTEL_INSTRUMENTATIONS")
    if listed:
        import opentelemetry.trace  # noqa: F401  (installs ours, through the hook above, before any instrumentor)

        from . import otel_instrumentations

        otel_instrumentations.run_instrumentations(listed)


def _bridge(module: Any) -> None:
    if module.__name__ == "opentelemetry.propagate":
        from . import otel_propagation

        otel_propagation.install_propagator(module)
    else:
        from . import otel

        otel.install(module)


def is_traced(function: Any) -> bool:
    """Whether ``function`` (or anything it wraps) is a handler already traced in code, by us or by Powertools. Only
    handler decorators count: one decorated with ``capture_method`` alone still gets its ``## handler`` subsegment."""
    seen = 0
    while function is not None and seen < 32:
        if getattr(function, HANDLER_MARKER, False):
            return True
        # Powertools' wrapper has the user's name (functools.wraps), its own code, closing over `lambda_handler`.
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
    return next((value for value in values if value is not None), None)


def _resolve_service(explicit: str | None) -> str:
    service: str = _first(
        explicit or None,
        config.service_from_env(),
        _shared.service,
        config.get_str("AWS_LAMBDA_FUNCTION_NAME"),
        config.DEFAULT_SERVICE,
    )
    return service if service.__class__ is str else config.service_text(service)


def _resolve_disabled(explicit: bool | None) -> bool:
    if explicit is not None:
        return bool(explicit)
    from_env = config.get_explicit_bool(config.TRACE_DISABLED)
    if from_env is not None:  # false is "not disabled", as in the reference: never on outside Lambda or SAM local
        return from_env or config.auto_disabled_reason() is not None
    if _shared.disabled is not None:
        return bool(_shared.disabled)
    return config.auto_disabled_reason() is not None


def reset_shared_config() -> None:
    """Forget what earlier Tracers set (tests); every Tracer resolves its settings again on next use."""
    global _shared
    _shared = SharedSettings()


def aiohttp_trace_config() -> Any:
    """An ``aiohttp.TraceConfig`` that records each client request as a subsegment (with tracing off an empty one, so
    the SDK is not imported for nothing)."""
    import aiohttp

    if _resolve_disabled(None):
        return aiohttp.TraceConfig()
    from . import instrumentation

    return instrumentation.aiohttp_trace_config()
