"""The redaction example of docs/redaction.md is what the tracer records, character for character."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from lambda_env import invoke
from lambda_tracer import Tracer
from lambda_tracer_local.daemon import by_name

pytestmark = pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)

DOC = Path(__file__).resolve().parents[2] / "docs" / "redaction.md"


def _block(marker: str) -> str:
    found = re.search(rf"<!-- redaction-example:{marker} -->\n```\w+\n(.*?)```", DOC.read_text(), re.S)
    assert found, f"docs/redaction.md has no redaction-example:{marker} block"
    return found.group(1)


def test_readme_redaction_example_is_what_is_recorded() -> None:
    namespace: dict[str, Any] = {"json": json}
    source = _block("input").replace("return ", "response = ", 1)
    exec(source, namespace)  # the documented snippet, as written
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> Any:
        return namespace["response"]

    call = invoke(handler)
    assert call.result is namespace["response"]
    recorded = by_name(call.documents, "## handler")["metadata"]["svc"]["handler response"]
    assert recorded == json.loads(_block("recorded"))
