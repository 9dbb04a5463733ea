"""Import the X-Ray SDK's models and emitter without building its global recorder.

``aws_xray_sdk/core/__init__.py`` creates ``xray_recorder`` at import, pulling the recorder, the
samplers, the patcher and the plugins (about 6 ms of a cold start) although one traced invocation
needs only the segment models and the UDP emitter. ``defer_recorder()`` registers the
``aws_xray_sdk.core`` package without running its ``__init__``; the first time anything reads an
attribute of the package itself (``from aws_xray_sdk.core import xray_recorder``, which our
``xray.recorder()``, the SDK's library patches and user code all do), the real ``__init__`` runs
in place, so everyone still gets the one global recorder.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable
from types import ModuleType

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

PACKAGE = "aws_xray_sdk.core"
_lock = threading.RLock()
_callbacks: list[Callable[[ModuleType], None]] = []


def when_complete(callback: Callable[[ModuleType], None]) -> None:
    """Call ``callback(package)`` once the package's ``__init__`` has run (now, if it already has)."""
    with _lock:
        module = sys.modules.get(PACKAGE)
        if module is not None and "__getattr__" not in module.__dict__ and hasattr(module, "xray_recorder"):
            callback(module)
        else:
            _callbacks.append(callback)


def defer_recorder() -> None:
    """Register ``aws_xray_sdk.core`` uninitialised (no-op if it is already imported)."""
    with _lock:
        if PACKAGE in sys.modules:
            return
        import aws_xray_sdk

        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or spec.loader is None:
            return  # let the normal import report the problem
        module = importlib.util.module_from_spec(spec)

        def __getattr__(name: str) -> Any:  # PEP 562: an attribute the package does not have yet
            if name.startswith("__"):
                raise AttributeError(name)
            if importlib.util.find_spec(f"{PACKAGE}.{name}") is not None:
                return importlib.import_module(f"{PACKAGE}.{name}")  # `from ...core import <submodule>`
            complete(module)
            return getattr(module, name)

        module.__dict__["__getattr__"] = __getattr__
        sys.modules[PACKAGE] = module
        aws_xray_sdk.__dict__["core"] = module  # as the import system binds a submodule on its package


def complete(module: ModuleType | None = None) -> ModuleType:
    """Run the package's real ``__init__`` once (builds ``xray_recorder``); returns the package."""
    with _lock:
        module = module or sys.modules[PACKAGE]
        if module.__dict__.pop("__getattr__", None) is not None and module.__spec__ is not None:
            loader = module.__spec__.loader
            assert loader is not None
            loader.exec_module(module)
            for callback in _callbacks:
                callback(module)
            _callbacks.clear()
        return module
