"""Run a function when a module is imported (at once, if it already is), without importing it ourselves.

This is how libraries are traced only if the function uses them: importing botocore to patch it would
cost a function that never calls AWS most of its cold start. One finder on ``sys.meta_path`` wraps the
loader of the modules we wait for; the callback runs right after the module's code, before the importer
gets it. A callback that raises is reported once and never breaks the import.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import ModuleType

from . import config

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

Callback = Callable[[ModuleType], None]

_lock = threading.RLock()
_waiting: dict[str, list[Callback]] = {}
#: Modules whose spec our finder is looking up right now (it asks the other finders, not itself).
_looking_up: set[str] = set()


def when_imported(name: str, callback: Callback) -> None:
    """Call ``callback(module)`` once ``name`` is imported: now if it already is, else right after."""
    with _lock:
        module = sys.modules.get(name)
        if module is None:
            _waiting.setdefault(name, []).append(callback)
            if _FINDER not in sys.meta_path:
                sys.meta_path.insert(0, _FINDER)
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


class _Finder:
    """Finds nothing itself: gives the modules we wait for a loader that runs the callbacks after them."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in _waiting or fullname in _looking_up:
            return None
        import importlib.util

        _looking_up.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            _looking_up.discard(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, fullname)  # type: ignore[assignment]
        return spec


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
        with _lock:
            callbacks = _waiting.pop(self._name, [])
        for callback in callbacks:
            _run(callback, module)


_FINDER = _Finder()
