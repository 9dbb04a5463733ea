"""``lambda-tracer-local --html`` as a person sees it: the page opened in a real headless Chromium.

The documents are real: a function with nested ``capture_method`` calls, annotations, metadata (one value
is a ``</script>`` injection attempt), an error and a throttle flag, and an exception, run by the CLI under
the real runtime with the built layer. The page must load offline without a console error, show one row
per subsegment in order and nesting with its bar inside its parent's, colour faults, errors and throttles,
and show a subsegment's metadata and exception when its bar is clicked. A screenshot lands in build/.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import Browser, Page
from test_html_page import HOSTILE_KEY, QUOTED_NAME, SCRIPT_BREAK, hostile_documents
from tools_support import ROOT

from lambda_tracer_local.html import write_page

SCREENSHOT = ROOT / "build" / "trace-timeline.png"
HOSTILE = "</script><script>alert(1)</script>"
APP = """
from lambda_tracer import Tracer

tracer = Tracer(service="checkout")


@tracer.capture_method
def load_cart(cart_id):
    tracer.put_annotation(key="CartId", value=cart_id)
    return price(cart_id)


@tracer.capture_method
def price(cart_id):
    tracer.put_metadata(key="note", value=HOSTILE)
    return 42


@tracer.capture_method
def charge(amount):
    raise RuntimeError(f"card declined for {amount}")


def handler(event, context):
    total = load_cart(event.get("cart", "c-1"))
    with tracer.provider.in_subsegment('## inventory "404"') as sub:
        sub.add_error_flag()
    with tracer.provider.in_subsegment("## payments 429") as sub:
        sub.add_throttle_flag()
        sub.add_error_flag()
    if event.get("fail"):
        charge(total)
    return {"total": total}
"""
#: (name, depth, status) of each row, in page order.
OK_ROWS = [
    ("## handler", 0, "ok"),
    ("## app.load_cart", 1, "ok"),
    ("## app.price", 2, "ok"),
    ('## inventory "404"', 1, "error"),
    ("## payments 429", 1, "throttle"),
]
FAILED_ROWS = [("## handler", 0, "fault"), *OK_ROWS[1:], ("## app.charge", 1, "fault")]
#: The page's CSS colours (html.py STYLE) as the browser computes them.
COLOURS = {
    "ok": "rgb(49, 132, 194)",
    "error": "rgb(224, 123, 0)",
    "fault": "rgb(209, 50, 18)",
    "throttle": "rgb(138, 79, 214)",
}
ROWS_JS = """
[...document.querySelectorAll("section.invocation")].map(section => [...section.querySelectorAll(".row.span")]
  .map(row => {
    const bar = row.querySelector(".bar").getBoundingClientRect();
    return {id: row.dataset.id, parent: row.dataset.parent, depth: Number(row.dataset.depth),
            status: row.dataset.status, name: row.querySelector(".name").firstChild.textContent,
            left: bar.left, right: bar.right, top: bar.top, height: bar.height,
            colour: getComputedStyle(row.querySelector(".bar")).backgroundColor,
            row_colour: getComputedStyle(row).backgroundColor};
  }))
"""


@pytest.fixture
def page(chromium: str, tmp_path: Path) -> Iterator[Page]:
    with Browser(chromium, tmp_path / "profile") as browser:
        yield browser.new_page(1400, 860)


def run_cli(layer_zip: Path, function_dir: Path, out: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMBDA_", "AWS_", "POWERTOOLS_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "local"), str(ROOT / "layer")])
    return subprocess.run(
        [sys.executable, "-m", "lambda_tracer_local.cli", str(function_dir), "--layer", str(layer_zip),
         "--event", "{}", "--event", '{"fail": true}', "--html", str(out),
         "--env", "LAMBDA_TRACER_INIT_TRACE=false"],  # ## init on the page: test_html_init_timeline.py
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def click_row(page: Page, invocation: int, name: str) -> dict[str, Any]:
    """Click the middle of ``name``'s bar in the ``invocation``-th timeline; the panel's text afterwards."""
    box = page.evaluate(
        f"""(() => {{
          const section = document.querySelectorAll("section.invocation")[{invocation}];
          const row = [...section.querySelectorAll(".row.span")]
            .find(row => row.querySelector(".name").firstChild.textContent === {json.dumps(name)});
          row.scrollIntoView({{block: "center"}});
          const bar = row.querySelector(".bar").getBoundingClientRect();
          return {{x: bar.left + bar.width / 2, y: bar.top + bar.height / 2}};
        }})()"""
    )
    page.click(box["x"], box["y"])
    panel: dict[str, Any] = page.evaluate(
        """(() => {
          const panel = document.getElementById("details");
          return {text: panel.textContent, html: panel.innerHTML, scripts: panel.querySelectorAll("script").length,
                  title: panel.querySelector("h3") && panel.querySelector("h3").textContent,
                  selected: [...document.querySelectorAll(".row.selected")].map(r => r.dataset.id)};
        })()"""
    )
    return panel


@pytest.mark.timeout(1500)  # the first run on a new machine installs Chromium (apt-get), a minute or two
def test_page_shows_each_invocation_as_a_timeline_and_details_on_click(
    layer_zip: Path, page: Page, tmp_path: Path
) -> None:
    function_dir = tmp_path / "fn"
    function_dir.mkdir()
    (function_dir / "app.py").write_text(APP.replace("HOSTILE)", f"{HOSTILE!r})"))
    out = tmp_path / "trace.html"
    done = run_cli(layer_zip, function_dir, out)
    assert done.returncode == 1, done.stdout + done.stderr  # the second invocation raised, as it should
    assert f"trace timeline written to {out}" in done.stdout
    html = out.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=|url\(|@import|https?://(?!www\.w3\.org)""", html), "fetches something"

    started = time.monotonic()
    page.goto(out.as_uri())
    assert page.evaluate("document.body.dataset.ready") == "true"
    assert page.problems() == []
    requests = [event["params"]["request"]["url"] for event in page.events("Network.requestWillBeSent")]
    assert requests == [out.as_uri()], f"the page asked for more than itself: {requests}"

    # One row per subsegment, depth first by start time, each under its parent (data-parent -> data-id).
    sections = page.evaluate(ROWS_JS)
    assert [[(r["name"], r["depth"], r["status"]) for r in rows] for rows in sections] == [OK_ROWS, FAILED_ROWS]
    for rows in sections:
        assert len({row["id"] for row in rows}) == len(rows) and all(
            re.fullmatch("[0-9a-f]{16}", r["id"]) for r in rows
        )
        for index, row in enumerate(rows):
            if row["depth"] == 0:
                continue
            parent = next(r for r in reversed(rows[:index]) if r["depth"] == row["depth"] - 1)
            assert row["parent"] == parent["id"], (row, parent)
            # On the time axis a child lies within its parent (1 px for rounding and the 2 px minimum width).
            assert parent["left"] - 1 <= row["left"] and row["right"] <= parent["right"] + 2, (row, parent)
        for row in rows:  # the bar has the status's colour, the row around it none
            assert row["colour"] == COLOURS[row["status"]] and row["row_colour"] == "rgba(0, 0, 0, 0)", row
        lefts = [row["left"] for row in rows if row["depth"] == 1]
        assert lefts == sorted(lefts)
        assert rows[0]["left"] == min(row["left"] for row in rows)

    # A click on a bar shows that subsegment's metadata, as text: the injection attempt did nothing.
    panel = click_row(page, 0, "## app.price")
    assert panel["title"] == "## app.price"
    assert "Metadata · checkout" in panel["text"] and HOSTILE in panel["text"]
    assert panel["scripts"] == 0 and "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in panel["html"]
    assert panel["selected"] == [sections[0][2]["id"]]

    panel = click_row(page, 0, "## app.load_cart")
    assert "Annotations" in panel["text"] and "CartId" in panel["text"] and "c-1" in panel["text"]

    # The exception: type, message and stack where it was raised; the handler points at it.
    panel = click_row(page, 1, "## app.charge")
    assert "RuntimeError: card declined for 42" in panel["text"]
    assert re.search(r"charge\s+\(app\.py:\d+\)", panel["text"]), panel["text"]
    panel = click_row(page, 1, "## handler")
    assert "RuntimeError: card declined for 42" in panel["text"] and "recorded in ## app.charge" in panel["text"]
    assert "ColdStart" in panel["text"] and "false" in panel["text"]

    panel = click_row(page, 1, "## app.charge")  # the screenshot shows the exception
    assert page.problems() == []
    page.screenshot(SCREENSHOT)
    print(f"browser part: {time.monotonic() - started:.2f} s; screenshot {SCREENSHOT}")


def test_hostile_names_and_values_are_shown_as_text(page: Page, tmp_path: Path) -> None:
    out = write_page(tmp_path / "hostile.html", [{"label": SCRIPT_BREAK, "documents": hostile_documents()}], title="x")
    page.goto(out.as_uri())
    assert page.evaluate("document.body.dataset.ready") == "true"
    names = page.evaluate("""[...document.querySelectorAll(".row.span .name")].map(n => n.firstChild.textContent)""")
    assert names == ["## handler", QUOTED_NAME]
    assert page.evaluate("document.querySelectorAll('img, b, script').length") == 2  # the page's own scripts
    panel = click_row(page, 0, QUOTED_NAME)
    assert panel["title"] == QUOTED_NAME and SCRIPT_BREAK in panel["text"] and HOSTILE_KEY in panel["text"]
    assert panel["scripts"] == 0 and "<img" not in panel["html"]
    assert page.evaluate("document.querySelector('section.invocation h2 .label').textContent") == SCRIPT_BREAK
    assert page.problems() == []  # no alert() dialog, no error
