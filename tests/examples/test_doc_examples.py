"""Every Python block of the README and docs/*.md is checked: the docs' own examples (``<!-- example:PATH -->``
before the block) are files under examples/docs, identical to the block and run here; the others are run or
compared by the test their marker names (README's quick start: tests/layer/test_quickstart.py; the redaction
example: tests/unit/test_readme_redaction.py).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import lambda_env
from lambda_env import invoke
from lambda_tracer import Tracer
from lambda_tracer_local.daemon import new_trace_header, subsegments

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:^(<!-- [a-z-]+:[^>]* -->)\n)?^```python\n(.*?)^```", re.M | re.S)
#: Markers of blocks that another test runs or compares (its name in this module's docstring).
CHECKED_ELSEWHERE = {"<!-- quickstart:in-code -->", "<!-- redaction-example:input -->"}

pytestmark = pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)


def python_blocks() -> list[tuple[str, str | None, str]]:
    """(page, marker or None, code) of every ```python block of the README and docs/*.md."""
    return [
        (page.relative_to(ROOT).as_posix(), found.group(1), found.group(2))
        for page in PAGES
        for found in BLOCK.finditer(page.read_text())
    ]


def test_every_python_block_of_the_docs_is_an_example_file_or_checked_elsewhere() -> None:
    """A block without a marker has drifted from nothing, because nothing runs it: the OpenTelemetry API example
    called a function it never defined, and neither it nor the durable one was run."""
    blocks = python_blocks()
    assert len(blocks) >= 4
    for page, marker, code in blocks:
        assert marker is not None, f"{page}: a python block without an example marker:\n{code}"
        if marker in CHECKED_ELSEWHERE:
            continue
        found = re.fullmatch(r"<!-- example:(examples/docs/[a-z_]+\.py) -->", marker)
        assert found, f"{page}: unknown marker {marker}"
        assert (ROOT / found.group(1)).read_text() == code, f"{page}: the block has drifted from {found.group(1)}"


@pytest.fixture
def load(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def _load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(f"docs_example_{name}", ROOT / "examples" / "docs" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, module)
        spec.loader.exec_module(module)
        return module

    yield _load


def test_otel_api_example(load: Any) -> None:
    """docs/opentelemetry.md: the OpenTelemetry span is a child of the handler's, indexed by its annotation, and
    the capture_method called inside it is its child. The handler is traced as zero-code mode traces it."""
    pytest.importorskip("opentelemetry.trace")
    example = load("otel_api")
    handler = Tracer(service="orders").capture_lambda_handler(example.handler)
    call = invoke(handler, {"id": "o-1"}, expect=3)
    assert call.result == {"order_id": "o-1", "total": 12}, call.error
    docs = {doc["name"]: doc for doc in subsegments(call.documents)}
    handler_doc, span = docs["## handler"], docs["load order"]
    [method] = [doc for name, doc in docs.items() if name.endswith(".load")]
    assert span["parent_id"] == handler_doc["id"] and method["parent_id"] == span["id"]
    assert span["annotations"] == {"order_id": "o-1"}


def test_durable_in_code_example(load: Any) -> None:
    """docs/durable-functions.md: the plugin passed in code records the step under the handler's subsegment."""
    runner = pytest.importorskip("aws_durable_execution_sdk_python_testing.runner")
    example = load("durable_in_code")
    trace_ids: list[str] = []

    def handler(event: Any, context: Any) -> Any:
        value, trace_id, _ = new_trace_header()
        trace_ids.append(trace_id)
        os.environ["_X_AMZN_TRACE_ID"] = value
        try:
            return example.handler(event, context)
        finally:
            del os.environ["_X_AMZN_TRACE_ID"]

    with runner.DurableFunctionTestRunner(handler=handler) as test_runner:
        result = test_runner.run(input="{}", execution_timeout=30)
    assert result.result == "42", result
    [trace_id] = trace_ids
    docs = {doc["name"]: doc for doc in lambda_env.sink().wait_for(trace_id, 2)}
    assert docs["Step answer"]["parent_id"] == docs["## handler"]["id"]
    assert "DurableExecution" in docs["## handler"]["annotations"]
