"""The unit and end-to-end suites on every other local Python (3.10, 3.12, 3.13 from pyenv, 3.14 here).

The decorators lean on asyncio, contextvars and generator semantics, and the runtime client and our boot
path on the interpreter, all of which change between versions. Each suite runs in a venv of that Python
(so the local Lambda runtime runs on it too). Missing interpreters are skipped with a message, except 3.14:
without one in pyenv, Debian's is fetched into build/python3.14 (tools/python314.py; see
tests/e2e/conftest.py ``interpreter_for``), and a failed fetch fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from file_lock import locked

from tests.e2e.conftest import create_venv, interpreter_for, interpreter_id

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements" / "unit.txt"
OTHERS = [v for v in ("3.10", "3.12", "3.13", "3.14") if v != f"{sys.version_info[0]}.{sys.version_info[1]}"]


def _venv(version: str) -> Path:
    interpreter = interpreter_for(version)  # skips a missing pyenv version; fetches 3.14 if needed
    venv = ROOT / "build" / "venvs" / f"unit-py{version}"
    python = venv / "bin" / "python"
    stamp = venv / ".requirements"
    # Debian's 3.14 is named in the stamp: a newer 3.14.x fetched later gets a fresh venv. pyenv ones are not
    # (their venvs predate this; a new pyenv version is a new directory the venv does not point to anyway).
    wanted = REQUIREMENTS.read_text()
    if interpreter_id(interpreter).startswith("debian-"):
        wanted += f"# {interpreter_id(interpreter)}\n"
    with locked(ROOT / "build" / "venvs" / f"unit-py{version}.lock"):
        if not stamp.is_file() or stamp.read_text() != wanted:
            create_venv(interpreter, venv)
            step = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(REQUIREMENTS)]
            done = subprocess.run(step, capture_output=True, text=True, timeout=900)
            assert done.returncode == 0, f"{' '.join(step)}:\n{done.stdout}\n{done.stderr}"
            stamp.write_text(wanted)
    return python


# The suite's own subprocess limits (a venv's install, then the run) bound it, not pytest-timeout's 300 s default:
# on a loaded 2-vCPU machine a whole suite on one Python can take longer than that while still passing.
@pytest.mark.timeout(900 + 1200 + 60)
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
