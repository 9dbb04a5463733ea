"""Exit statuses of ``tools/publish.py`` and what ``make publish`` shows of them.

The command exits 1 when a region failed and 2 when nothing was attempted (bad arguments, refused zip, no
credentials). make exits 2 whenever a command fails, whatever its status; it names the command's status on its
last line (``Error 1`` / ``Error 2``). The command is echoed on one line, without the backslashes of the recipe.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tools_support import ROOT, Proxy, fake_venv

PUBLISH = ROOT / "tools" / "publish.py"


def make_publish(tmp_path: Path, zip_path: Path, *variables: str) -> subprocess.CompletedProcess[str]:
    venv = fake_venv(tmp_path)
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "publish", f"VENV={venv}", f"LAYER_ZIP={zip_path}",
         *variables],
        capture_output=True, text=True, timeout=120, env=os.environ,
    )  # fmt: skip


def make_status(stderr: str) -> str:
    """The command's status as make reports it on its last line."""
    match = re.search(r"^make(?:\[\d+\])?: \*\*\* \[\S*Makefile:\d+: publish\] (Error \d+)$", stderr, re.MULTILINE)
    assert match, stderr
    return match[1]


def test_a_failed_region_is_status_1_of_the_command(aws_env: Proxy, layer_zip: Path, tmp_path: Path) -> None:
    zip_copy = shutil.copy(layer_zip, tmp_path / "layer.zip")
    done = make_publish(
        tmp_path, Path(zip_copy), "REGIONS=us_east_1", "PUBLISH_ARGS=--allow-source-only --max-attempts 1"
    )
    assert done.returncode == 2, done.stdout + done.stderr  # make's own status for any failed command
    assert make_status(done.stderr) == "Error 1"
    assert "publish: failed in 1 of 1 region(s): us_east_1" in done.stderr
    python = tmp_path / "venv" / "bin" / "python"
    command = f"{python} tools/publish.py --zip {zip_copy} --region us_east_1 --allow-source-only --max-attempts 1"
    assert done.stdout.splitlines()[0] == command
    assert "\\" not in done.stdout  # the recipe's line continuations are not echoed
    assert aws_env.requests == []  # a malformed region name is never sent


def test_the_command_is_one_line_whatever_is_left_empty(aws_env: Proxy, tmp_path: Path) -> None:
    """No REGIONS, PUBLIC, LAYER_NAME nor PUBLISH_ARGS: the echo is still one line, and no line is a lone ``\\``."""
    not_a_zip = tmp_path / "layer.zip"
    not_a_zip.write_text("not a zip")  # newer than the layer's sources: make does not rebuild it
    done = make_publish(tmp_path, not_a_zip)
    lines = done.stdout.splitlines()
    assert lines == [f"{tmp_path / 'venv' / 'bin' / 'python'} tools/publish.py --zip {not_a_zip}"]
    assert make_status(done.stderr) == "Error 2"  # refused: nothing attempted
    assert f"publish: refused: {not_a_zip} is not a zip file" in done.stderr
    assert aws_env.requests == []


def test_the_script_exit_statuses(aws_env: Proxy, layer_zip: Path, tmp_path: Path) -> None:
    """Run as make runs it (a script of tools/, outside the wheel): 2 for usage and refusals, 1 for a failed region."""

    def publish(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(PUBLISH), *args, "--json", str(tmp_path / "out.json")],
            capture_output=True, text=True, timeout=120, env=os.environ, cwd=tmp_path,
        )  # fmt: skip

    usage = publish("--max-attempts", "0")
    assert usage.returncode == 2 and "--max-attempts must be at least 1" in usage.stderr
    refused = publish("--zip", str(tmp_path / "nowhere.zip"), "--region", "us-east-1")
    assert refused.returncode == 2 and refused.stderr.startswith("publish: refused: ")
    failed = publish("--zip", str(layer_zip), "--region", "us_east_1", "--allow-source-only")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "| us_east_1 | - | - | no | FAILED: 'us_east_1' is not a region name" in failed.stdout
    assert aws_env.requests == []
