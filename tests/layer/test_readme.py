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
