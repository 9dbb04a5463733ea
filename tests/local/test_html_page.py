"""The timeline page builder (``lambda_tracer_local.html``) without a browser: the tree it draws from the
documents, and that values from traced functions can only ever be text on the page."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from lambda_tracer_local import html
from lambda_tracer_local.runtime import Invocation

TRACE = "1-6b0626bb-0d4596acf66ef069ef2a0b75"
SCRIPT_BREAK = "</script><script>alert(1)</script>"
QUOTED_NAME = """## it's "quoted" <b onmouseover='alert(2)'>&amp;"""
HOSTILE_KEY = '"><img src=x onerror=alert(3)>'


def data_block(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="trace-data">(.*?)</script>', page, re.S)
    assert match, "no data block"
    loaded: dict[str, Any] = json.loads(match.group(1))
    return loaded


def hostile_documents() -> list[dict[str, Any]]:
    return [
        {
            "id": "c1",
            "parent_id": "h1",
            "trace_id": TRACE,
            "name": QUOTED_NAME,
            "start_time": 10.001,
            "end_time": 10.002,
            "metadata": {"svc": {"note": SCRIPT_BREAK, HOSTILE_KEY: "<!-- x -->\u2028\u2029&", "nan": float("nan")}},
            "annotations": {HOSTILE_KEY: "</SCRIPT >"},
        },
        {"id": "h1", "parent_id": "facade", "trace_id": TRACE, "name": "## handler", "start_time": 10.0,
         "end_time": 10.004},
    ]  # fmt: skip


def test_hostile_values_are_data_never_markup_or_script() -> None:
    page = html.build_page(
        [{"label": SCRIPT_BREAK, "status": "response", "outcome": "</script>", "documents": hostile_documents()}],
        title='<title>" & </script>',
    )
    # Exactly the page's own two script elements, and nothing from the documents can close or open one.
    assert len(re.findall(r"<script", page, re.I)) == 2 and len(re.findall(r"</script", page, re.I)) == 2
    assert "<!--" not in page and "\u2028" not in page and "\u2029" not in page
    assert "<img" not in page and "<b " not in page and "onerror=alert" in page  # there only as escaped JSON text
    assert "&lt;title&gt;&quot; &amp; &lt;/script&gt;" in page  # the title, HTML-escaped
    assert page.isascii()

    # The values survive the trip exactly: JSON.parse gets them back as strings for textContent.
    data = data_block(page)
    invocation = data["invocations"][0]
    assert invocation["label"] == SCRIPT_BREAK and invocation["outcome"] == "</script>"
    child = next(span for span in invocation["spans"] if span["id"] == "c1")
    assert child["name"] == QUOTED_NAME
    assert child["document"]["metadata"]["svc"]["note"] == SCRIPT_BREAK
    assert child["document"]["metadata"]["svc"][HOSTILE_KEY] == "<!-- x -->\u2028\u2029&"
    assert child["document"]["metadata"]["svc"]["nan"] == "nan"  # JSON.parse refuses NaN
    assert child["document"]["annotations"] == {HOSTILE_KEY: "</SCRIPT >"}


def test_the_script_puts_values_on_the_page_as_text_only() -> None:
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function(", "srcdoc"):
        assert sink not in html.SCRIPT, sink
    assert "textContent" in html.SCRIPT


def test_the_policy_allows_only_the_pages_own_style_and_script_and_no_connection() -> None:
    page = html.build_page([])
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert policy
    rules = dict(rule.strip().split(" ", 1) for rule in policy.group(1).split(";"))
    assert rules["default-src"] == "'none'" and "unsafe" not in policy.group(1)

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    script = re.findall(r"<script>(.*?)</script>", page, re.S)
    style = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert [digest(text) for text in script] == [rules["script-src"]]
    assert [digest(text) for text in style] == [rules["style-src"]]
    assert not re.search(r"""(src|href)\s*=|url\(|@import|//[a-z]""", page, re.I)
    assert data_block(page) == {"title": "lambda-tracer traces", "invocations": []}


def test_tree_nests_streamed_and_inline_children_in_start_order_with_offsets() -> None:
    documents = [
        {"id": "b", "parent_id": "h", "name": "second", "start_time": 100.003, "end_time": 100.004, "error": True,
         "throttle": True},
        {"id": "a", "parent_id": "h", "name": "first", "start_time": 100.001, "end_time": 100.002, "fault": True,
         "cause": {"exceptions": [{"id": "e1", "type": "KeyError", "message": "'x'",
                                   "stack": [{"path": "app.py", "line": 7, "label": "first"}]}]}},
        {"id": "h", "parent_id": "facade", "name": "## handler", "start_time": 100.0, "end_time": 100.005,
         "fault": True, "cause": "e1",
         "subsegments": [{"id": "s3", "name": "s3", "namespace": "aws", "start_time": 100.0015,
                          "end_time": 100.0025, "subsegments": [{"name": "anonymous", "start_time": 100.002}]}]},
        {"id": "h", "name": "duplicate of h, ignored", "start_time": 0},
        {"id": "loop1", "parent_id": "loop2", "name": "loop1", "start_time": 100.0045},
        {"id": "loop2", "parent_id": "loop1", "name": "loop2", "start_time": 100.0046, "in_progress": True},
        "not a document",
    ]  # fmt: skip
    trace = html.timeline(documents)
    rows = [(span["name"], span["depth"], span["status"]) for span in trace["spans"]]
    assert rows == [
        ("## handler", 0, "fault"),
        ("first", 1, "fault"),
        ("s3", 1, "ok"),
        ("anonymous", 2, "ok"),
        ("second", 1, "throttle"),
        ("loop1", 0, "ok"),  # a parent loop is cut, nothing is lost
        ("loop2", 1, "ok"),
    ]
    spans = {span["name"]: span for span in trace["spans"]}
    assert trace["origin"] == 100.0 and trace["total_ms"] == pytest.approx(5.0)
    assert spans["first"]["offset_ms"] == pytest.approx(1.0) and spans["first"]["duration_ms"] == pytest.approx(1.0)
    assert spans["s3"]["parent"] == "h" and spans["anonymous"]["parent"] == "s3" and spans["anonymous"]["id"] is None
    assert spans["anonymous"]["in_progress"] and spans["anonymous"]["duration_ms"] is None
    assert spans["loop2"]["in_progress"]
    assert "subsegments" not in spans["## handler"]["document"]
    assert spans["first"]["exceptions"] == [
        {"id": "e1", "type": "KeyError", "message": "'x'", "remote": False, "stack": ["first  (app.py:7)"]}
    ]
    assert spans["## handler"]["exceptions"][0]["in"] == "first"  # a cause that is an id is looked up
    assert html.timeline([]) == {"origin": None, "total_ms": 0.0, "spans": []}


def test_invocation_entry_and_write_page(tmp_path: Path) -> None:
    ok = Invocation(status="response", payload={"total": 1}, trace_id=TRACE, round_trip_ms=3.5, documents=[{"id": "x"}])
    failed = Invocation(status="error", error_type="ValueError", error_message="boom", trace_id=TRACE)
    entries = [html.invocation_entry(ok, "cold"), html.invocation_entry(failed, "failing")]
    assert entries[0]["outcome"] == '{"total":1}' and entries[0]["documents"] == [{"id": "x"}]
    assert entries[1]["outcome"] == "ValueError: boom"
    page = html.write_page(tmp_path / "nested" / "trace.html", entries, title="t")
    data = data_block(page.read_text(encoding="utf-8"))
    assert [inv["label"] for inv in data["invocations"]] == ["cold", "failing"]
    assert data["invocations"][0]["round_trip_ms"] == 3.5 and data["invocations"][1]["spans"] == []
