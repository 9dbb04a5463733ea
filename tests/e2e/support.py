"""Helpers shared by the e2e tests: writing function directories and comparing outcomes."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambda_env import assert_follows_xray_rules
from lambda_tracer_local.daemon import subsegments
from lambda_tracer_local.runtime import FRESH, Invocation, LocalLambda

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


def checked_invoke(fn: LocalLambda, invoke: Callable[..., Invocation], event: Any, **options: Any) -> Invocation:
    """``invoke(fn, event, **options)`` (LocalLambda.invoke), then ``assert_valid`` on what it sent."""
    first, rejected = len(fn.daemon.datagrams()), len(fn.daemon.rejected)
    inv = invoke(fn, event, **options)
    assert_valid(fn, inv, first, rejected, options.get("trace_header", FRESH))
    return inv


def assert_valid(fn: LocalLambda, inv: Invocation, first: int, rejected: int, requested: Any = FRESH) -> None:
    """Fail unless what ``fn``'s daemon received for ``inv`` (from its ``first``-th datagram on) keeps every
    error-level rule of X-Ray, for the trace header the invocation got (``requested``: the ``trace_header`` asked
    for, used when the runtime died before the invocation could say which header it sent)."""
    header, known = inv.trace_header, True
    if header is None and inv.status == "exited" and requested is not None:
        header, known = (requested, True) if isinstance(requested, str) else (None, False)
    assert_follows_xray_rules(fn.daemon, first, rejected, header, known_header=known)
