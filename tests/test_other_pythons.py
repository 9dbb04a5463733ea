"""The unit and end-to-end suites on every other local Python (3.10, 3.12, 3.13 here).

The decorators lean on asyncio, contextvars and generator semantics, and the runtime client and our boot
path on the interpreter, all of which change between versions. Each suite runs in a venv of that Python
(so the local Lambda runtime runs on it too). Missing interpreters are skipped with a message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import _find_interpreter, _locked

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements" / "unit.txt"
OTHERS = [v for v in ("3.10", "3.12", "3.13", "3.14") if v != f"{sys.version_info[0]}.{sys.version_info[1]}"]


def _venv(version: str) -> Path:
    interpreter = _find_interpreter(version)
    if interpreter is None:
        pytest.skip(f"no Python {version} under $(pyenv root)/versions: the suites are not run on it here")
    venv = ROOT / "build" / "venvs" / f"unit-py{version}"
    python = venv / "bin" / "python"
    stamp = venv / ".requirements"
    with _locked(ROOT / "build" / "venvs" / f"unit-py{version}.lock"):
        if not stamp.is_file() or stamp.read_text() != REQUIREMENTS.read_text():
            for step in (
                [str(interpreter), "-m", "venv", "--clear", str(venv)],
                [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
            ):
                done = subprocess.run(step, capture_output=True, text=True, timeout=900)
                assert done.returncode == 0, f"{' '.join(step)}:\n{done.stdout}\n{done.stderr}"
            stamp.write_text(REQUIREMENTS.read_text())
    return python


@pytest.mark.parametrize("version", OTHERS)
def test_unit_and_e2e_suites(version: str) -> None:
    python = _venv(version)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    done = subprocess.run(
        [str(python), "-m", "pytest", "tests/unit", "tests/e2e", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1]
