"""Helpers shared by the e2e tests: writing function directories and comparing outcomes."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from secret_scan import assert_no_detected_secrets

from lambda_env import assert_datagrams_follow_xray_rules, assert_follows_xray_rules
from lambda_tracer_local import otlp
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
    """Names of every subsegment received, nested ones included, sorted; the cold start's init trace left out
    (``## init`` and the imports inside it: test_e2e_init_trace.py is about those)."""
    return sorted(str(doc.get("name")) for doc in subsegments(without_init(documents)))


def without_init(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documents but the cold start's ``## init`` (its imports travel inside it)."""
    return [doc for doc in documents if doc.get("name") != "## init"]


def checked_invoke(fn: LocalLambda, invoke: Callable[..., Invocation], event: Any, **options: Any) -> Invocation:
    """``invoke(fn, event, **options)`` (LocalLambda.invoke), then ``assert_valid`` on what it sent."""
    first, rejected = len(fn.daemon.datagrams()), len(fn.daemon.rejected)
    inv = invoke(fn, event, **options)
    assert_valid(fn, inv, first, rejected, options.get("trace_header", FRESH))
    return inv


def assert_valid(fn: LocalLambda, inv: Invocation, first: int, rejected: int, requested: Any = FRESH) -> None:
    """Fail unless what ``fn``'s daemon received for ``inv`` (from its ``first``-th datagram on) keeps every
    error-level rule of X-Ray, for the trace header the invocation got (``requested``: the ``trace_header`` asked
    for: the invocation-wide rules hold a runtime that died midway only to a header the test chose), and detect-secrets'
    plugins find no secret in it (tests/secret_scan.py)."""
    header, known = inv.trace_header, True
    if inv.status == "exited" and requested is not None:  # died midway: its ## handler (a parent) was never sent
        header, known = (requested, True) if isinstance(requested, str) else (None, False)
    assert_follows_xray_rules(fn.daemon, first, rejected, header, known_header=known)
    assert_no_detected_secrets(fn.daemon.datagrams(first))  # a second opinion, which knows nothing of our rules


def assert_each_trace_valid(
    fn: LocalLambda, invocations: list[Invocation], other_headers: tuple[str, ...] = ()
) -> None:
    """``assert_valid`` for runtimes whose invocations overlap or that send outside an invocation (Managed
    Instances workers, a SnapStart priming call), where datagrams cannot be told apart by arrival: each trace's
    own datagrams are held against X-Ray's rules, for the header of its invocation (or one of ``other_headers``).
    Datagrams of no known trace fail the test."""
    headers = {str(inv.trace_id): inv.trace_header for inv in invocations}
    for header in other_headers:
        headers[header.split("Root=", 1)[1].split(";", 1)[0]] = header
    fn.daemon.sync()
    by_trace: dict[str, list[bytes]] = {}
    for datagram in fn.daemon.datagrams():
        if otlp.is_otlp(datagram):  # OTLP spans: one trace per datagram (a batch is one invocation's)
            trace_ids = {document["trace_id"] for document in otlp.documents_of(datagram)}
            trace_id = trace_ids.pop() if len(trace_ids) == 1 else sorted(trace_ids)
        else:
            trace_id = json.loads(datagram.split(b"\n", 1)[1]).get("trace_id")
        by_trace.setdefault(str(trace_id), []).append(datagram)
    for trace_id, header in headers.items():
        assert_datagrams_follow_xray_rules(by_trace.pop(trace_id, []), fn.daemon.rejected, header)
    assert not by_trace, f"documents of no invocation's trace: {sorted(by_trace)}"
    assert_no_detected_secrets(fn.daemon.datagrams())
