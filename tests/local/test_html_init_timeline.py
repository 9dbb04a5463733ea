"""The cold start's ``## init`` on the ``--html`` timeline, in a real headless Chromium: drawn like any subsegment.

A function that imports a module of its own that sleeps 30 ms, boto3 (a client made at init) and an optional
module that fails to import, run twice by ``lambda-tracer-local`` with the init trace on (imports of 10 ms and
more, so that the screenshot stays readable). The first timeline
starts with ``## init`` and its imports nested inside it (the documents embed them), before ``## handler``;
the failed import is red. The screenshot (build/init-timeline.png) is the one in docs/cold-start-anatomy.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import Browser, Page
from test_html_timeline import COLOURS, ROWS_JS
from tools_support import ROOT

SCREENSHOT = ROOT / "build" / "init-timeline.png"
FILES = {
    "app.py": (
        "import slowmod\n\ntry:\n    import optional_feature\nexcept ImportError:\n    optional_feature = None\n\n"
        'import boto3\n\ns3 = boto3.client("s3", region_name="us-east-1")\n\n\n'
        "def handler(event, context):\n    return {'ok': 1}\n"
    ),
    "slowmod.py": "import time\n\ntime.sleep(0.03)\n",
    "optional_feature.py": "import lambda_tracer_test_not_installed\n",
}


@pytest.fixture
def page(chromium: str, tmp_path: Path) -> Iterator[Page]:
    with Browser(chromium, tmp_path / "profile") as browser:
        yield browser.new_page(1400, 900)


@pytest.mark.timeout(1500)  # the first run on a new machine installs Chromium (apt-get)
def test_init_is_drawn_before_the_handler_with_its_imports_nested(layer_zip: Path, page: Page, tmp_path: Path) -> None:
    function_dir = tmp_path / "fn"
    function_dir.mkdir()
    for name, text in FILES.items():
        (function_dir / name).write_text(text)
    out = tmp_path / "trace.html"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMBDA_", "AWS_", "POWERTOOLS_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "local"), str(ROOT / "layer")])
    done = subprocess.run(
        [sys.executable, "-m", "lambda_tracer_local.cli", str(function_dir), "--layer", str(layer_zip),
         "--invocations", "2", "--env", "LAMBDA_TRACER_INIT_TRACE=true", "--env", "LAMBDA_TRACER_INIT_MIN_MS=10",
         "--html", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    init_lines = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("init: ")]
    assert len(init_lines) == 1, done.stdout  # the cold start only
    assert "boto3" in init_lines[0] and "slowmod" in init_lines[0]

    page.goto(out.as_uri())
    assert page.evaluate("document.body.dataset.ready") == "true"
    assert page.problems() == []
    first, second = page.evaluate(ROWS_JS)
    assert [row["name"] for row in second] == ["## handler"]
    depth0 = [row["name"] for row in first if row["depth"] == 0]
    assert depth0 == ["## init", "## handler"]  # by start time: init first
    by_name = {row["name"]: row for row in first}
    init, handler = by_name["## init"], by_name["## handler"]
    assert init["right"] <= handler["left"] + 1  # init ended before the handler began
    assert by_name["import app"]["depth"] == 1 and by_name["import app"]["parent"] == init["id"]
    for name in ("import slowmod", "import boto3", "import optional_feature"):
        assert by_name[name]["depth"] == 2 and by_name[name]["parent"] == by_name["import app"]["id"], name
    assert by_name["import optional_feature"]["colour"] == COLOURS["fault"]
    assert by_name["import slowmod"]["colour"] == COLOURS["ok"]
    for index, row in enumerate(first):  # every bar within its parent's (1 px rounding, 2 px minimum width)
        if row["depth"]:
            parent = next(r for r in reversed(first[:index]) if r["depth"] == row["depth"] - 1)
            assert row["parent"] == parent["id"]
            assert parent["left"] - 1 <= row["left"] and row["right"] <= parent["right"] + 2, (row, parent)
    page.screenshot(SCREENSHOT)
