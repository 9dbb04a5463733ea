"""The trace tree renderer, and ``make demo`` (the examples through the built layer) as a smoke test."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_tracer_local import demo
from lambda_tracer_local.render import render_trace

TRACE = "1-6b0626bb-0d4596acf66ef069ef2a0b75"


def test_tree_nests_streamed_and_inline_children_and_resolves_causes() -> None:
    documents = [
        # Streamed first (children before parents), as the SDK sends them in Lambda.
        {
            "id": "c1",
            "name": "## app.reserve",
            "parent_id": "h1",
            "trace_id": TRACE,
            "start_time": 2.0,
            "end_time": 2.0015,
            "fault": True,
            "annotations": {"Total": 1998},
            "metadata": {"payments": {"app.reserve error": {"type": "RuntimeError", "message": "over"}}},
            "cause": {"exceptions": [{"id": "e1", "type": "RuntimeError", "message": "over"}]},
        },
        {
            "id": "h1",
            "name": "## handler",
            "parent_id": "facade",
            "trace_id": TRACE,
            "start_time": 1.0,
            "end_time": 3.0,
            "fault": True,
            "annotations": {"ColdStart": True},
            "metadata": {"payments": {"handler response": {"blob": "x" * 500}}},
            "cause": "e1",
            "subsegments": [
                {
                    "id": "c0",
                    "name": "s3",
                    "namespace": "aws",
                    "start_time": 1.5,
                    "end_time": 1.6,
                    "aws": {"operation": "GetObject"},
                }
            ],
        },
    ]
    lines = render_trace(documents, metadata_width=40).splitlines()
    assert lines[0] == "## handler  2000.0 ms  FAULT"
    assert "│ cause        RuntimeError: over (in ## app.reserve)" in lines
    assert any(line.startswith("│ metadata     payments.handler response = ") and line.endswith("…") for line in lines)
    assert max(len(line) for line in lines if "handler response" in line) < 100  # truncated, not dumped
    children = [line for line in lines if line.startswith(("├── ", "└── "))]
    assert children == ["├── s3  100.0 ms  [aws]", "└── ## app.reserve  1.5 ms  FAULT"]  # by start time
    assert "      cause        RuntimeError: over" in lines
    assert render_trace([]) == "(no X-Ray documents)"


def test_demo_runs_both_examples_through_the_layer(layer_zip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["--layer", str(layer_zip)]) == 0
    out = capsys.readouterr().out
    assert out.count("ColdStart=true") == 3 and out.count("ColdStart=false") == 5  # the OTLP demo: cold, error
    assert out.count("## handler  ") == 8 and out.count("otlp:SERVER") == 2 and out.count("otlp:INTERNAL") >= 2
    assert "orders.handler error = " in out and "ValueError: order_id is required" in out
    assert "├── ## app.price" in out and "└── ## app.reserve" in out
    assert 'OrderId="o-1001"' in out
    assert "WITH UNEXPECTED RESULTS" not in out
