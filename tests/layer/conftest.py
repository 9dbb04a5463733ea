"""Fixtures for the layer build tests: a layer built from the working tree, and AWS SAM CLI.

The layer is built into a temporary directory with the shared download cache (build/layer-cache), never
into dist/, so these tests check the current sources and do not race ``make layer``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from layer_support import ROOT, build_layer, extract, locked, run_build

SAM_REQUIREMENTS = ROOT / "requirements" / "sam.txt"
SAM_VENV = ROOT / "build" / "sam-venv"


@pytest.fixture(scope="session")
def layer_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A layer zip built from the working tree (cached downloads; the first run on a machine needs PyPI)."""
    output = tmp_path_factory.mktemp("layer") / "lambda-tracer-layer.zip"
    done = run_build(output)
    assert done.returncode == 0, f"build failed:\n{done.stdout}\n{done.stderr}"
    return output


@pytest.fixture(scope="session")
def layer_dir(layer_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The layer as Lambda puts it under /opt (tests must not write into it)."""
    return extract(layer_zip, tmp_path_factory.mktemp("opt"))


@pytest.fixture(scope="session")
def manifest(layer_zip: Path) -> dict[str, object]:
    with zipfile.ZipFile(layer_zip) as zf:
        data: dict[str, object] = json.loads(zf.read(build_layer.MANIFEST_NAME))
    return data


def _sam_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAM_", "PYTHON"))}
    env.update(HOME=str(home), SAM_CLI_TELEMETRY="0", LANG="C.UTF-8", LC_ALL="C.UTF-8")
    return env


@pytest.fixture(scope="session")
def sam(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """AWS SAM CLI from requirements/sam.txt in its own venv (build/sam-venv, reused while the pins match).

    Its own venv because its boto3/botocore pins differ from the dev venv's. HOME is a temporary directory so
    SAM's metadata file and telemetry banner stay out of the developer's home.
    """
    digest = hashlib.sha256(SAM_REQUIREMENTS.read_bytes()).hexdigest()
    stamp = SAM_VENV / ".requirements.sha256"
    with locked(ROOT / "build" / ".sam-venv.lock"):
        if not stamp.is_file() or stamp.read_text().strip() != digest:
            shutil.rmtree(SAM_VENV, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(SAM_VENV)], check=True, timeout=120)
            install = [str(SAM_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
            done = subprocess.run(
                [*install, "-r", str(SAM_REQUIREMENTS)], capture_output=True, text=True, timeout=600, check=False
            )
            assert done.returncode == 0, f"installing {SAM_REQUIREMENTS} failed:\n{done.stderr[-3000:]}"
            stamp.write_text(digest + "\n")
    sam_exe = SAM_VENV / "bin" / "sam"
    assert sam_exe.is_file() and sam_exe.stat().st_mode & stat.S_IXUSR
    return sam_exe, _sam_env(tmp_path_factory.mktemp("sam-home"))
