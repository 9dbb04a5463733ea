"""Fixtures for the layer build tests: a layer built from the working tree, AWS SAM CLI and the AWS CLI.

The layer is built into a temporary directory with the shared download cache (build/layer-cache), never
into dist/, so these tests check the current sources and do not race ``make layer``.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest
from layer_support import ROOT, build_layer, extract, run_build, tool_venv

SAM_REQUIREMENTS = ROOT / "requirements" / "sam.txt"
SAM_VENV = ROOT / "build" / "sam-venv"
AWSCLI_REQUIREMENTS = ROOT / "requirements" / "awscli.txt"
AWSCLI_VENV = ROOT / "build" / "awscli-venv"


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
    sam_exe = tool_venv(SAM_REQUIREMENTS, SAM_VENV) / "sam"
    assert sam_exe.is_file() and sam_exe.stat().st_mode & stat.S_IXUSR
    return sam_exe, _sam_env(tmp_path_factory.mktemp("sam-home"))


@pytest.fixture(scope="session")
def aws_cli() -> Path:
    """The AWS CLI (v1) from requirements/awscli.txt in its own venv (build/awscli-venv); returns its ``aws``.

    Its own venv because awscli pins docutils, rsa and colorama narrowly and carries its own botocore.
    """
    aws = tool_venv(AWSCLI_REQUIREMENTS, AWSCLI_VENV) / "aws"
    assert aws.is_file() and aws.stat().st_mode & stat.S_IXUSR
    return aws
