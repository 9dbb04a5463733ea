"""The registry of library tracing: which libraries are traced, and by whom, the moment user code imports them.

The reference calls the SDK's ``patch_all()``, which *imports* botocore, requests, sqlite3, ...
whether or not the function uses them (about 90 ms of cold start). We wait for each library instead
(``when_imported``, at the end of this module): it is patched the moment user code imports it, and a library
the user never imports is never loaded, nor is the SDK or wrapt. Libraries already imported are patched at once.
The name tables below can be read for free: nothing is imported until a library is.

botocore, requests, http.client, httpx, aiohttp and sqlite3 are traced by our own instrumentation (the modules of
this package, MODULES below), with no X-Ray SDK and no wrapt: botocore through a wrapper of
``BaseClient._make_api_call`` and its clients' own ``before-send`` event, the HTTP clients by wrapping the one
method every request goes through (functools.wraps) or, for aiohttp, with a ``TraceConfig``, sqlite3 with
subclasses of its own connection and cursor classes (never a proxy). propagation.py says which trace headers
outgoing calls carry. Each call is one subsegment with the fields the X-Ray SDK writes for it
(tests/unit/test_instrumentation_parity.py holds every client and outcome to the SDK's document, field by field),
minus the SDK's quirks listed there.

The other database clients and aiobotocore keep the SDK's patches (sdk_patches.py, loaded with the first one);
LAMBDA_TRACER_OTEL_INSTRUMENTATIONS runs OpenTelemetry's contrib instrumentations instead (otel.py): a library it
lists (sqlite3, pymysql, sqlalchemy, ...) is left to its contrib instrumentation, without the SDK's patch.

This package sits above backends/ and imports it, never the reverse: the Tracer asks this registry to patch
when its backend does not patch in its own way (``Backend.instrument``; a user's provider does).
"""

from __future__ import annotations

import _frozen_importlib as _bootstrap  # the import system's own: always loaded
import sys
import threading
from collections.abc import Callable
from types import ModuleType

from .. import config

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any


#: Our name -> (SDK patch name, module whose import triggers the patch).
SUPPORTED: dict[str, tuple[str, str]] = {
    "botocore": ("botocore", "botocore.client"),
    "boto3": ("botocore", "botocore.client"),
    "aiobotocore": ("aiobotocore", "aiobotocore.client"),
    "aioboto3": ("aiobotocore", "aiobotocore.client"),
    "requests": ("requests", "requests"),
    "httpx": ("httpx", "httpx"),
    "httplib": ("httplib", "http.client"),
    "sqlite3": ("sqlite3", "sqlite3"),
    "pynamodb": ("pynamodb", "pynamodb"),
    "pymongo": ("pymongo", "pymongo"),
    "pymysql": ("pymysql", "pymysql"),
    "mysql": ("mysql", "mysql.connector"),
    "psycopg2": ("psycopg2", "psycopg2"),
    "psycopg": ("psycopg", "psycopg"),
    "pg8000": ("pg8000", "pg8000"),
    "sqlalchemy_core": ("sqlalchemy_core", "sqlalchemy"),
    # Not an SDK patch: every ClientSession gets a trace config (ours: instrumentation/aiohttp.py).
    "aiohttp": ("aiohttp", "aiohttp"),
}
#: What ``auto_patch`` covers: every library that does not double-trace another (httplib would
#: add a second subsegment under every botocore/requests call, as in the SDK's patch_all()).
DEFAULT_MODULES = (
    "aiohttp",
    "botocore",
    "aiobotocore",
    "requests",
    "httpx",
    "sqlite3",
    "pynamodb",
    "pymongo",
    "pymysql",
    "mysql",
    "psycopg2",
    "psycopg",
    "pg8000",
    "sqlalchemy_core",
)

#: The SDK's patch name -> our module that instruments that library instead (``instrument(name, module)``).
MODULES: dict[str, str] = {
    "botocore": "botocore",
    "requests": "http",
    "httplib": "http",
    "httpx": "httpx",
    "aiohttp": "aiohttp",
    "sqlite3": "sqlite3",
}
#: SDK patch names traced by our own instrumentation rather than the SDK's patch: every one of MODULES.
#: Only read when a library is imported: a test (tests/unit/test_instrumentation_parity.py) empties it in a
#: subprocess to get the SDK's documents for the same calls.
OWN_INSTRUMENTATION: set[str] = set(MODULES)
#: OpenTelemetry contrib instrumentations to run (otel_instrumentations.py): a library listed is left to its own.
OTEL_INSTRUMENTATIONS = "LAMBDA_TRACER_OTEL_INSTRUMENTATIONS"
#: The module whose import means user code uses the SDK itself (sdk.py is imported only then).
SDK_PACKAGE = "aws_xray_sdk.core"

_lock = threading.Lock()
_registered: set[str] = set()


def patch(modules: list[str] | tuple[str, ...] | None) -> None:
    """Trace ``modules`` (None: the default set) as soon as they are, or if they already are, imported."""
    names = DEFAULT_MODULES if modules is None else tuple(modules)
    for name in names:
        if name not in SUPPORTED:
            shown = config.shown(str(name))
            config.report_once(("patch", shown), f"cannot patch {shown}: supported are {', '.join(sorted(SUPPORTED))}")
            continue
        sdk_name, trigger = SUPPORTED[name]
        with _lock:
            if sdk_name in _registered:
                continue
            _registered.add(sdk_name)
        if modules is not None and trigger not in sys.modules and not _installed(trigger):
            config.report_once(
                ("not installed", name), f"{name!r} is not installed; it will be traced if it appears later"
            )
        when_imported(trigger, _hook(sdk_name))


def watch_sdk() -> None:
    """Configure the SDK's recorder as soon as anyone imports the SDK (neither it nor sdk.py is imported here)."""
    when_imported(SDK_PACKAGE, _sdk_imported)


def _sdk_imported(package: Any) -> None:
    from ..backends import sdk

    sdk.configure(package)


def _installed(module: str) -> bool:
    import importlib.util  # only for modules named explicitly: kept off the cold-start path

    try:
        return importlib.util.find_spec(module.split(".")[0]) is not None
    except Exception:
        return False


def _hook(sdk_name: str) -> Any:
    def apply(module: Any) -> None:
        try:
            if _listed_for_opentelemetry(sdk_name):
                return  # its contrib instrumentation traces it instead: ours or the SDK's would record every call again
            if sdk_name in OWN_INSTRUMENTATION:
                instrument(sdk_name, module)  # ours: no SDK, no wrapt
                return
            from . import sdk_patches

            sdk_patches.apply(sdk_name, module)
        except Exception as error:  # a failed patch leaves the library untraced, never broken
            config.report_once(("patch failed", sdk_name), f"could not trace {sdk_name}: {config.error_place(error)}")

    return apply


#: An SDK patch name -> the name of the OpenTelemetry contrib instrumentation of the same library, where they differ.
OTEL_NAMES = {"sqlalchemy_core": "sqlalchemy", "aiohttp": "aiohttp_client"}


def _listed_for_opentelemetry(sdk_name: str) -> bool:
    """Whether ``LAMBDA_TRACER_OTEL_INSTRUMENTATIONS`` names the contrib instrumentation of this library."""
    listed = config.get_list(OTEL_INSTRUMENTATIONS) or ()
    return OTEL_NAMES.get(sdk_name, sdk_name) in [item.lower().replace("-", "_") for item in listed]


def instrument(name: str, module: ModuleType) -> None:
    """Trace ``module``, just imported, the library the SDK calls ``name`` (one of MODULES)."""
    import importlib  # with the first library we trace: kept off the cold-start path

    ours = importlib.import_module(f"{__name__}.{MODULES[name]}")
    ours.instrument(name, module)


def aiohttp_trace_config() -> Any:
    """Our aiohttp TraceConfig (the SDK's, marked as ours, when aiohttp is left to the SDK's patch)."""
    if "aiohttp" in OWN_INSTRUMENTATION:
        from . import aiohttp

        return aiohttp.trace_config()
    from . import sdk_patches

    return sdk_patches.aiohttp_trace_config()


# -- Running a function when a module is imported (at once, if it already is), without importing it ourselves.
# The import system's own ``_find_spec`` (``importlib._bootstrap``, which ``_find_and_load_unlocked`` calls by its
# global name for every module not imported yet) is stood in for by ``_find_spec`` below: it asks the real one, and
# gives the modules we wait for a loader that runs the callbacks right after the module's code, before the importer
# gets it. Not a finder on ``sys.meta_path``: every import asks every finder there, and one more Python finder cost
# several times what this one call costs, on each of the hundreds of modules a function's init imports. The finders
# and ``sys.meta_path`` are left as they are. A callback that raises is reported once and never breaks the import.

Callback = Callable[[ModuleType], None]

_hooks_lock = threading.RLock()
_waiting: dict[str, list[Callback]] = {}


def when_imported(name: str, callback: Callback) -> None:
    """Call ``callback(module)`` once ``name`` is imported: now if it already is, else right after.

    A callback already waiting for ``name`` is not added again: every Tracer given its own settings asks for the
    SDK's and the OpenTelemetry API's hooks anew, and a sandbox that makes one per invocation must not pile up
    callbacks for a module that may never come."""
    with _hooks_lock:
        module = sys.modules.get(name)
        if module is None:
            waiting = _waiting.setdefault(name, [])
            if callback not in waiting:
                waiting.append(callback)
            if _bootstrap._find_spec is not _find_spec:  # type: ignore[attr-defined]
                _install_hook()
            return
    _run(callback, module)


def _run(callback: Callback, module: ModuleType) -> None:
    # The import system binds a submodule on its package only after its code ran; callbacks (and the
    # patches they apply) read it from there, so bind it now, as importlib is about to.
    parent, _, child = module.__name__.rpartition(".")
    if parent in sys.modules:
        setattr(sys.modules[parent], child, module)
    try:
        callback(module)
    except Exception as error:
        config.report_once(
            ("import hook", module.__name__), f"could not trace {module.__name__}: {config.error_place(error)}"
        )


def _find_spec(name: str, path: Any, target: Any = None) -> Any:
    """The import system's ``_find_spec``, then, for a module we wait for, its loader wrapped (``_Loader``)."""
    try:
        spec = _import_system_find_spec(name, path, target)
    except BaseException as error:  # a finder's error, as without us: this frame taken out of its traceback
        if error.__traceback__ is not None and error.__traceback__.tb_frame.f_code is _find_spec.__code__:
            error.__traceback__ = error.__traceback__.tb_next
        raise
    if name in _waiting and spec is not None and name not in sys.modules and hasattr(spec.loader, "exec_module"):
        spec.loader = _Loader(spec.loader, name)  # (a loader with only the old load_module is left to itself)
    return spec


def _install_hook() -> None:
    """Put the stand-in in place; also where ``importlib.util`` (already imported) keeps its own reference to the
    import system's function, for a module loaded through ``importlib.util.find_spec``."""
    _bootstrap._find_spec = _find_spec  # type: ignore[attr-defined]
    util = sys.modules.get("importlib.util")
    if util is not None and getattr(util, "_find_spec", None) is _import_system_find_spec:
        util._find_spec = _find_spec  # type: ignore[attr-defined]


class _Loader:
    """A module's own loader, followed by the callbacks waiting for it."""

    def __init__(self, loader: Any, name: str) -> None:
        self._loader = loader
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._loader, attribute)

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        module.__loader__ = self._loader  # the module keeps its own loader, as without us
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        with _hooks_lock:
            callbacks = _waiting.pop(self._name, [])
        for callback in callbacks:
            _run(callback, module)


#: The import system's own (``_frozen_importlib`` is ``importlib._bootstrap``, always loaded), and the frame of its
#: stand-in named as the import system's own frames are: the import system cuts those out of the tracebacks it cuts.
_import_system_find_spec: Any = globals().get(
    "_import_system_find_spec",
    _bootstrap._find_spec,  # type: ignore[attr-defined]
)  # a reload keeps the one it saved: the module's own would be the stand-in by then
_find_spec.__code__ = _find_spec.__code__.replace(co_filename="<frozen importlib._bootstrap>")
