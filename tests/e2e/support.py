"""Helpers shared by the e2e tests: writing function directories and comparing outcomes."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from lambda_tracer_local.daemon import subsegments
from lambda_tracer_local.runtime import Invocation

#: First lines of a scenario module: one line appended to $COUNTER_FILE each time the module body runs.
COUNT_EXECUTION = 'import os\nwith open(os.environ["COUNTER_FILE"], "a") as _counter:\n    _counter.write("ran\\n")\n'


def write_function(directory: Path, files: dict[str, str]) -> Path:
    """Create a function directory from ``{relative path: source}`` (sources are dedented)."""
    for name, source in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def executions(counter: Path) -> int:
    """How many times a scenario module's body ran (0 if never)."""
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def outcome(inv: Invocation) -> dict[str, Any]:
    """What a caller can observe of one invocation, for with/without-layer comparisons."""
    phase = {"init_error": "init", "response": "invoke", "error": "invoke"}.get(inv.status, inv.status)
    return {
        "phase": phase,
        "status": inv.status,
        "errorType": inv.error_type,
        "errorMessage": inv.error_message,
        "payload": inv.payload if inv.status == "response" else None,
    }


def names(documents: list[dict[str, Any]]) -> list[str]:
    """Names of every subsegment received, nested ones included, sorted."""
    return sorted(str(doc.get("name")) for doc in subsegments(documents))
