"""The README stays a user's guide: short (issue: at most 15 KB; the rest lives in docs/), and every link in it
to a file of this repository points at one that exists."""

from __future__ import annotations

import re

from layer_support import ROOT

README = ROOT / "README.md"
MAX_BYTES = 15_000
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_readme_is_at_most_15_kb() -> None:
    assert len(README.read_bytes()) <= MAX_BYTES


def test_every_relative_link_of_the_readme_and_docs_exists() -> None:
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_every_setting_the_layer_reads_is_in_the_readmes_table() -> None:
    """DESIGN.md: our own settings (prefix LAMBDA_TRACER_) are every one documented in the README's table. The names
    are those the package reads (quoted in its code) and those the exec wrapper reads (``${NAME…}``);
    LAMBDA_TRACER_DURABLE, read by the wrapper only, was missing from it."""
    read = {
        name
        for path in sorted((ROOT / "layer" / "lambda_tracer").rglob("*.py"))
        for name in re.findall(r"[\"'](LAMBDA_TRACER_[A-Z0-9_]+)[\"']", path.read_text())
    }
    read |= set(re.findall(r"\$\{(LAMBDA_TRACER_[A-Z0-9_]+)", (ROOT / "wrapper" / "lambda-tracer").read_text()))
    table = set(re.findall(r"^\| `(LAMBDA_TRACER_[A-Z0-9_]+)` \|", README.read_text(), re.M))
    assert {"LAMBDA_TRACER_OFF", "LAMBDA_TRACER_DURABLE", "LAMBDA_TRACER_EXPORTER"} <= read
    assert sorted(read - table) == []
