"""The Makefile's own map: ``make help`` lists every target, one line each, and ``test`` runs lint first.

A target a maintainer cannot find in ``make help`` is one nobody runs; a target listed but not phony would be
skipped by make whenever a file of that name exists.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from tools_support import ROOT

MAKEFILE = ROOT / "Makefile"


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=60
    )


def phony_targets() -> list[str]:
    """The targets of the Makefile's one ``.PHONY`` list."""
    lists = re.findall(r"^\.PHONY:(.*)$", MAKEFILE.read_text(), re.MULTILINE)
    assert len(lists) == 1, f"one .PHONY list, not {len(lists)}"
    return lists[0].split()


def test_help_lists_every_phony_target_once_with_a_line_that_says_what_it_does() -> None:
    done = make("-s", "help")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    listed = [line.split()[0] for line in lines]
    assert sorted(listed) == sorted(phony_targets())
    assert len(listed) == len(set(listed))
    for line in lines:
        name, _, text = line.partition(" ")
        assert len(text.strip()) > 8, f"{name}: no description"
        assert "$" not in text, line  # a description shows as written, not as make syntax


def test_every_target_defined_with_a_recipe_or_prerequisites_is_phony_or_a_file() -> None:
    """Any named target (not a variable's file path, not a special target) is in the .PHONY list."""
    named = set(re.findall(r"^([a-zA-Z][a-zA-Z_-]*):(?!=)", MAKEFILE.read_text(), re.MULTILINE))
    assert named == set(phony_targets())


def test_lint_is_a_prerequisite_of_test_not_a_nested_make(tmp_path: Path) -> None:
    text = MAKEFILE.read_text()
    assert "$(MAKE) lint" not in text
    for target in ("test", "test-fast"):
        prerequisites = re.search(rf"^{target}:([^#\n]*)", text, re.MULTILINE)
        assert prerequisites and "lint" in prerequisites[1].split(), target
    # make -n prints what test would run, in order: every lint command comes before the suite. The venv stamp and
    # the zip are stand-ins newer than every source, so nothing is to be built (never the Makefile itself: make
    # remakes its own makefile even under -n, and would write the layer over it).
    built = []
    for name in ("stamp", "layer.zip"):
        path = tmp_path / name
        path.write_text("")
        os.utime(path, (time.time() + 3600, time.time() + 3600))
        built.append(path)
    done = make("-n", "test", f"STAMP={built[0]}", f"LAYER_ZIP={built[1]}")
    assert done.returncode == 0, done.stderr
    commands = done.stdout.splitlines()
    suite = next(i for i, line in enumerate(commands) if "-m pytest" in line)
    for tool in ("ruff check", "ruff format --check", "mypy", "shellcheck"):
        assert any(tool in line for line in commands[:suite]), (tool, commands)
