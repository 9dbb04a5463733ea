"""The registry (instrumentation/__init__.py): only the libraries user code imports are loaded and patched, as
``patch_modules`` limits; and its import hook (``when_imported``): a callback runs once its module is imported, right
after the module's own code and before the importer gets it, without the registry importing anything itself; a
failing callback never breaks the import."""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from lambda_tracer import Tracer, config, instrumentation

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def modules(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh package ``<prefix>pkg`` with a submodule ``child`` (recording its import), on sys.path."""
    prefix = f"lt_hook_{request.node.name.replace('[', '_').replace(']', '_')}_"
    package = tmp_path / f"{prefix}pkg"
    package.mkdir()
    (package / "__init__.py").write_text("EVENTS = []\n")
    (package / "child.py").write_text("import sys\nsys.modules[__name__.rpartition('.')[0]].EVENTS.append('ran')\n")
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    try:
        yield f"{prefix}pkg"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.startswith(prefix)]:
            del sys.modules[name]
        for name in [name for name in instrumentation._waiting if name.startswith(prefix)]:
            del instrumentation._waiting[name]


def test_a_module_already_imported_gets_its_callback_at_once(modules: str) -> None:
    package = importlib.import_module(modules)
    seen: list[ModuleType] = []
    instrumentation.when_imported(modules, seen.append)
    assert seen == [package]


def test_the_callback_runs_after_the_module_code_and_before_the_importer_gets_it(modules: str) -> None:
    seen: list[tuple[str, list[str], bool]] = []

    def callback(module: ModuleType) -> None:
        package = sys.modules[modules]
        seen.append((module.__name__, list(package.EVENTS), getattr(package, "child", None) is module))

    instrumentation.when_imported(f"{modules}.child", callback)
    assert f"{modules}.child" not in sys.modules  # waiting: nothing imported by the registry
    child = importlib.import_module(f"{modules}.child")
    # After its own code ran, and already bound on its package (patches read it from there).
    assert seen == [(f"{modules}.child", ["ran"], True)]
    assert type(child.__loader__).__module__ != instrumentation.__name__  # it keeps its own loader
    assert child.__spec__ is not None and child.__spec__.loader is child.__loader__


def test_a_failing_callback_is_reported_once_and_the_import_goes_on(
    modules: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config, "_reported", set())  # earlier tests' warnings may have reached the limit

    def broken(module: ModuleType) -> None:
        raise RuntimeError("secret-value-from-the-event")

    instrumentation.when_imported(modules, broken)
    with caplog.at_level(logging.WARNING, logger="lambda_tracer"):
        package = importlib.import_module(modules)
    assert package.EVENTS == []
    [record] = [record for record in caplog.records if modules in record.getMessage()]
    assert f"could not trace {modules}: RuntimeError at " in record.getMessage()
    assert "secret-value" not in caplog.text  # the type and place, never the message


def test_the_same_callback_asked_for_twice_runs_once(modules: str) -> None:
    seen: list[str] = []

    def callback(module: ModuleType) -> None:
        seen.append(module.__name__)

    instrumentation.when_imported(modules, callback)
    instrumentation.when_imported(modules, callback)
    importlib.import_module(modules)
    assert seen == [modules]


def test_a_module_that_does_not_exist_is_not_found_through_the_hook(modules: str) -> None:
    seen: list[ModuleType] = []
    instrumentation.when_imported(f"{modules}.missing", seen.append)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"{modules}.missing")
    assert seen == []


def test_the_hook_leaves_the_finders_as_they_are(modules: str) -> None:
    """No finder is added to ``sys.meta_path`` (code that looks for one there finds the very same ones): the hook
    stands in for the import system's ``_find_spec``, the function that asks them."""
    import _frozen_importlib

    before = [id(finder) for finder in sys.meta_path]
    instrumentation.when_imported(f"{modules}.child", lambda module: None)
    assert [id(finder) for finder in sys.meta_path] == before
    assert _frozen_importlib._find_spec is instrumentation._find_spec  # type: ignore[attr-defined]
    assert importlib.import_module(f"{modules}.child").__spec__ is not None


@contextlib.contextmanager
def _first_on_meta_path(finder: object) -> Iterator[None]:
    """``finder`` first on ``sys.meta_path`` for the block, as another package's finder would be."""
    sys.meta_path.insert(0, finder)  # type: ignore[arg-type]
    try:
        yield
    finally:
        sys.meta_path.remove(finder)  # type: ignore[arg-type]


class _BrokenFinder:
    """A finder that raises for one name, as a broken one installed by some other package would."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname == self.name:
            raise ValueError("broken finder")


def _frames_of_a_failing_find(name: str) -> list[tuple[str, str]]:
    try:
        importlib.import_module(name)
    except ValueError as error:
        import traceback

        return [(frame.filename, frame.name) for frame in traceback.extract_tb(error.__traceback__)]
    raise AssertionError("the finder did not raise")


def test_a_finders_error_has_the_traceback_it_has_without_the_hook(modules: str) -> None:
    import _frozen_importlib

    name = f"{modules}.child"
    instrumentation.when_imported(name, lambda module: None)
    with _first_on_meta_path(_BrokenFinder(name)):
        with_hook = _frames_of_a_failing_find(name)
        _frozen_importlib._find_spec = instrumentation._import_system_find_spec  # type: ignore[attr-defined]
        try:
            without = _frames_of_a_failing_find(name)
        finally:
            _frozen_importlib._find_spec = instrumentation._find_spec  # type: ignore[attr-defined]
    if sys.version_info < (3, 11):  # a re-raise there keeps the frame it leaves: the stand-in's, named as the real one
        at = [frame[1] for frame in without].index("_find_spec")
        without.insert(at, without[at])
    assert with_hook == without and with_hook[-1][1] == "find_spec"


RELOAD_PROBE = """
import importlib, json
from lambda_tracer import instrumentation
instrumentation.when_imported("colorsys", lambda module: None)
importlib.reload(instrumentation)
seen = []
instrumentation.when_imported("colorsys", lambda module: seen.append(module.__name__))
import colorsys, fractions
print(json.dumps(seen))
"""


def test_a_reloaded_registry_still_asks_the_import_system() -> None:
    """A reload keeps the import system's function it saved (the module's own name holds the stand-in by then)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layer")}
    done = subprocess.run([sys.executable, "-c", RELOAD_PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == ["colorsys"]


def test_a_module_loaded_through_importlib_util_gets_its_callback(modules: str) -> None:
    """``importlib.util`` keeps its own reference to the import system's ``_find_spec``: the stand-in is put there
    too, so a module made from ``importlib.util.find_spec``'s spec gets its callback as an imported one does."""
    import importlib.util

    seen: list[str] = []
    instrumentation.when_imported(f"{modules}.child", lambda module: seen.append(module.__name__))
    importlib.import_module(modules)
    spec = importlib.util.find_spec(f"{modules}.child")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    assert seen == [f"{modules}.child"]


class _OldLoader:
    """A loader with only the old ``load_module`` (no ``exec_module``), which the import system still falls back to."""

    def load_module(self, fullname: str) -> ModuleType:
        module = ModuleType(fullname)
        sys.modules[fullname] = module
        return module


class _OldFinder:
    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> object:
        import importlib.util

        return importlib.util.spec_from_loader(fullname, _OldLoader()) if fullname == self.name else None


def test_a_module_with_an_old_loader_imports_as_without_the_hook(modules: str) -> None:
    import warnings

    name = f"{modules}_old"
    instrumentation.when_imported(name, lambda module: None)
    try:
        with _first_on_meta_path(_OldFinder(name)), warnings.catch_warnings():
            warnings.simplefilter("ignore", ImportWarning)  # the import system's own, about load_module
            module = importlib.import_module(name)
    finally:
        sys.modules.pop(name, None)
    assert module.__name__ == name


LAZY_PROBE = """
import json, sys
from lambda_tracer import Tracer
tracer = Tracer()
before = sorted(m for m in ("botocore", "requests", "httpx", "sqlite3", "aiohttp") if m in sys.modules)
import requests
print(json.dumps({"before": before, "traced": getattr(requests.Session.send, "__lambda_tracer_instrumented__", False),
                  "sdk": sorted(m for m in sys.modules if m.split(".")[0] in ("aws_xray_sdk", "wrapt")),
                  "after": sorted(m for m in ("botocore", "requests", "httpx", "sqlite3") if m in sys.modules)}))
"""


def test_only_imported_libraries_are_loaded_and_patched() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "LAMBDA_TRACER"))}
    env.update(LAMBDA_TASK_ROOT="/tmp", PYTHONPATH=str(ROOT / "layer"))
    out = subprocess.run([sys.executable, "-c", LAZY_PROBE], env=env, capture_output=True, text=True, check=True)
    probe = json.loads(out.stdout.splitlines()[-1])
    assert probe["before"] == []
    assert probe["traced"] is True  # our own instrumentation: neither the SDK nor wrapt is loaded for it
    assert probe["sdk"] == []
    assert "botocore" not in probe["after"] and "sqlite3" not in probe["after"]


def test_patch_modules_limits_patching_and_unknown_names_warn(caplog: pytest.LogCaptureFixture) -> None:
    tracer = Tracer(service="svc", patch_modules=["requests", "not_a_library"])
    assert tracer.auto_patch is True
    assert any("not_a_library" in r.getMessage() for r in caplog.records)
