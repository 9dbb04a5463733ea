"""Fixtures for the end-to-end tests: the built layer zip, unpacked once per session, and per-version venvs.

The e2e tests run the real runtime against what ships (``dist/lambda-tracer-layer.zip``), never the
source tree: a packaging mistake must fail here.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lambda_tracer_local.layers import unpack_layer

ROOT = Path(__file__).resolve().parents[2]
LAYER_ZIP = ROOT / "dist" / "lambda-tracer-layer.zip"
VENVS = ROOT / "build" / "venvs"
#: What the runtime needs in each interpreter; the layer brings lambda_tracer and its dependencies.
RUNTIME_REQUIREMENT = "awslambdaric==4.2.2"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock shared by the pytest-xdist workers (and any other process)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stale(zip_path: Path) -> bool:
    """Whether a source of the layer changed after the zip was built (``make layer`` would rebuild)."""
    built = zip_path.stat().st_mtime
    sources = [*(ROOT / "layer").rglob("*"), *(ROOT / "wrapper").rglob("*"), ROOT / "requirements" / "layer.txt"]
    sources.append(ROOT / "tools" / "build_layer.py")
    return any(path.stat().st_mtime > built for path in sources if path.is_file() and "__pycache__" not in path.parts)


@pytest.fixture(scope="session")
def layer_zip() -> Path:
    """The built layer zip (``$E2E_LAYER_ZIP`` or ``dist/``), made with ``make layer`` if missing or stale."""
    override = os.environ.get("E2E_LAYER_ZIP")
    if override:
        return Path(override).resolve()
    with _locked(ROOT / "build" / "e2e-layer.lock"):
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


@pytest.fixture(scope="session")
def venv_python() -> Callable[[str], Path]:
    """``venv_python("3.12")``: a venv of that pyenv interpreter with awslambdaric, cached in build/venvs."""

    def make(version: str) -> Path:
        if version == f"{sys.version_info[0]}.{sys.version_info[1]}":
            return Path(sys.executable)
        interpreter = _find_interpreter(version)
        if interpreter is None:
            pytest.skip(f"no Python {version} under $(pyenv root)/versions/{version}.*: cannot test that runtime here")
        venv = VENVS / f"py{version}"
        python = venv / "bin" / "python"
        stamp = venv / f".installed-{RUNTIME_REQUIREMENT}-{interpreter.parts[-3]}"
        with _locked(VENVS / f"py{version}.lock"):
            if not stamp.is_file():
                for step in (
                    [str(interpreter), "-m", "venv", "--clear", str(venv)],
                    [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", RUNTIME_REQUIREMENT],
                ):
                    done = subprocess.run(step, capture_output=True, text=True, timeout=600)
                    if done.returncode != 0:
                        pytest.fail(f"{' '.join(step)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
                stamp.touch()
        return python

    return make
