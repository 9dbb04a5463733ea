"""Helpers for the layer tests (a module of its own: ``conftest`` is ambiguous with tests/conftest.py)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

from file_lock import locked

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "build_layer.py"


def load_tool() -> ModuleType:
    """tools/build_layer.py as a module, for its constants (the supported versions, architectures...)."""
    spec = importlib.util.spec_from_file_location("build_layer", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_layer", module)
    spec.loader.exec_module(module)
    return module


build_layer = load_tool()


def tool_venv(requirements: Path, venv: Path) -> Path:
    """A venv at ``venv`` with exactly ``requirements`` installed; returns its ``bin`` directory.

    For tools whose pins clash with the dev venv's (SAM, the AWS CLI). Built once, then reused while the
    requirements file is unchanged (its sha256 is stamped in the venv); rebuilt from scratch when it changes.
    """
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = venv / ".requirements.sha256"
    with locked(venv.parent / f".{venv.name}.lock"):
        if not stamp.is_file() or stamp.read_text().strip() != digest:
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
            install = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
            done = subprocess.run(
                [*install, "-r", str(requirements)], capture_output=True, text=True, timeout=600, check=False
            )
            assert done.returncode == 0, f"installing {requirements} failed:\n{done.stderr[-3000:]}"
            stamp.write_text(digest + "\n")
    return venv / "bin"


def run_build(output: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The build tool in a subprocess, as make runs it (``env``: added to this process's environment)."""
    return subprocess.run(
        [sys.executable, str(TOOL), "--output", str(output), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **(env or {})},
    )


def extract(archive: Path, dest: Path) -> Path:
    """Unpack with the modes stored in the zip (independent of the tool's own --unpack, which SAM uses)."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            zf.extract(info, dest)
            os.chmod(dest / info.filename, (info.external_attr >> 16) & 0o777)
    return dest
