"""Fixtures for the end-to-end tests: the built layer zip, unpacked once per session, and per-version venvs.

The e2e tests run the real runtime against what ships (``dist/lambda-tracer-layer.zip``), never the
source tree: a packaging mistake must fail here. Other Pythons come from pyenv; 3.14, when pyenv has none,
is Debian's, fetched once into build/python3.14 by tools/python314.py.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from file_lock import locked

from lambda_tracer_local.layers import unpack_layer
from lambda_tracer_local.runtime import Invocation, LocalLambda

from .support import checked_invoke

ROOT = Path(__file__).resolve().parents[2]
LAYER_ZIP = ROOT / "dist" / "lambda-tracer-layer.zip"
VENVS = ROOT / "build" / "venvs"
#: What the runtime needs in each interpreter; the layer brings lambda_tracer and its dependencies.
RUNTIME_REQUIREMENT = "awslambdaric==4.2.2"


@pytest.fixture(autouse=True)
def _xray_rules_on_every_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every LocalLambda invocation of these tests is held against X-Ray's rules (support.assert_valid)."""
    invoke = LocalLambda.invoke

    def checked(self: LocalLambda, event: Any = None, **options: Any) -> Invocation:
        return checked_invoke(self, invoke, event, **options)

    monkeypatch.setattr(LocalLambda, "invoke", checked)


def _stale(zip_path: Path) -> bool:
    """Whether a source of the layer changed after the zip was built (``make layer`` would rebuild)."""
    built = zip_path.stat().st_mtime
    sources = [*(ROOT / "layer").rglob("*"), *(ROOT / "wrapper").rglob("*"), ROOT / "requirements" / "layer.txt"]
    sources += [ROOT / "tools" / name for name in ("build_layer.py", "elf_debug.py", "layer_deps.py", "python314.py")]
    sources.append(ROOT / "build" / "python3.14" / "python314.json")  # fetched after the zip was built
    return any(path.stat().st_mtime > built for path in sources if path.is_file() and "__pycache__" not in path.parts)


@pytest.fixture(scope="session")
def layer_zip() -> Path:
    """The built layer zip (``$E2E_LAYER_ZIP`` or ``dist/``), made with ``make layer`` if missing or stale."""
    override = os.environ.get("E2E_LAYER_ZIP")
    if override:
        return Path(override).resolve()
    with locked(ROOT / "build" / "e2e-layer.lock"):
        if LAYER_ZIP.is_file() and not _stale(LAYER_ZIP):
            return LAYER_ZIP
        if not (ROOT / "tools" / "build_layer.py").is_file():
            pytest.skip("no dist/lambda-tracer-layer.zip and no tools/build_layer.py to build it with")
        done = subprocess.run(["make", "layer"], cwd=ROOT, capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not LAYER_ZIP.is_file():
            pytest.fail(f"`make layer` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return LAYER_ZIP


@pytest.fixture(scope="session")
def layer_dir(layer_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The layer as Lambda puts it under /opt (file modes kept)."""
    target = unpack_layer(layer_zip, tmp_path_factory.mktemp("opt"))
    wrapper = target / "lambda-tracer"
    assert wrapper.is_file() and os.access(wrapper, os.X_OK), f"{layer_zip}: no executable lambda-tracer at the root"
    assert (target / "python" / "lambda_tracer" / "handler.py").is_file(), f"{layer_zip}: no python/lambda_tracer"
    return target


def _pyenv_root() -> Path | None:
    root = os.environ.get("PYENV_ROOT")
    if root:
        return Path(root)
    try:
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        default = Path.home() / ".pyenv"
        return default if default.is_dir() else None
    return Path(out.strip())


def _find_interpreter(version: str) -> Path | None:
    """The newest ``$(pyenv root)/versions/<version>.*/bin/python`` (None if there is none)."""
    root = _pyenv_root()
    if root is None:
        return None
    found = [path for path in (root / "versions").glob(f"{version}.*/bin/python") if path.is_file()]
    if not found:
        return None
    return max(found, key=lambda path: tuple(int(part) for part in path.parts[-3].split(".") if part.isdigit()))


@functools.cache
def python314() -> ModuleType:
    """tools/python314.py, loaded by path (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("_lambda_tracer_python314", ROOT / "tools" / "python314.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def interpreter_for(version: str) -> Path:
    """pyenv's newest ``<version>.x``; for 3.14 without one, Debian's (tools/python314.py, cached in build/).

    Skips when there is none (3.14: when this machine cannot run Debian's, e.g. no apt-get); fails when 3.14
    could be fetched but was not (network, mirror): 3.14 is one of the runtimes the layer claims.
    """
    interpreter = _find_interpreter(version)
    if interpreter is not None:
        return interpreter
    tool = python314()
    if version != tool.MINOR:
        pytest.skip(f"no Python {version} under $(pyenv root)/versions/{version}.*: cannot test that runtime here")
    try:
        return Path(tool.ensure(retry_failed=False))
    except tool.Unavailable as error:
        if error.unsupported:
            pytest.skip(f"no Python {version} in pyenv, and Debian's cannot be used here: {error}")
        pytest.fail(f"no Python {version} in pyenv, and fetching Debian's (tools/python314.py) failed: {error}")


def interpreter_id(interpreter: Path) -> str:
    """What a venv's stamp records of its interpreter: pyenv's version directory, or Debian's 3.x.y."""
    tool = python314()
    if interpreter == tool.interpreter_path():
        stamp = tool.cached() or {}
        return f"debian-{stamp.get('python', 'unknown')}"
    return interpreter.parts[-3]


def create_venv(interpreter: Path, venv: Path) -> Path:
    """``venv`` (cleared) of ``interpreter`` with pip; returns its ``bin/python``. Debian's 3.14 has no usable
    ensurepip, so tools/python314.py installs pip from Debian's pip wheel instead."""
    tool = python314()
    if interpreter == tool.interpreter_path():
        try:
            return Path(tool.make_venv(venv))
        except tool.Unavailable as error:
            pytest.fail(str(error))
    step = [str(interpreter), "-m", "venv", "--clear", str(venv)]
    done = subprocess.run(step, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(step)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return venv / "bin" / "python"


@pytest.fixture(scope="session")
def venv_python() -> Callable[[str], Path]:
    """``venv_python("3.12")``: a venv of that interpreter (``interpreter_for``) with awslambdaric, cached in
    build/venvs."""

    def make(version: str) -> Path:
        if version == f"{sys.version_info[0]}.{sys.version_info[1]}":
            return Path(sys.executable)
        interpreter = interpreter_for(version)
        venv = VENVS / f"py{version}"
        python = venv / "bin" / "python"
        stamp = venv / f".installed-{RUNTIME_REQUIREMENT}-{interpreter_id(interpreter)}"
        with locked(VENVS / f"py{version}.lock"):
            if not stamp.is_file():
                create_venv(interpreter, venv)
                step = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", RUNTIME_REQUIREMENT]
                done = subprocess.run(step, capture_output=True, text=True, timeout=600)
                if done.returncode != 0:
                    pytest.fail(f"{' '.join(step)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
                stamp.touch()
        return python

    return make
