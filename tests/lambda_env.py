"""In-process Lambda environment for library tests: the real X-Ray SDK sending real UDP datagrams.

The SDK reads ``LAMBDA_TASK_ROOT`` and ``AWS_XRAY_DAEMON_ADDRESS`` once, when ``aws_xray_sdk.core``
is first imported, so ``install()`` runs from the root conftest before any test module imports it.
Each invocation gets a fresh sampled ``_X_AMZN_TRACE_ID``, as the runtime sets it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambda_tracer_local import otlp, otlp_rules, xray_rules
from lambda_tracer_local.daemon import XRayDaemon, new_trace_header

TYPE_CHECKING = False
if TYPE_CHECKING:
    from memory_sender import MemorySender

DAEMON: XRayDaemon | None = None
#: Where invoke() reads what was sent: the in-memory sender while a test uses one (memory_sender.py), else DAEMON.
SINK: XRayDaemon | MemorySender | None = None
#: Every (sub)segment id that a checked invocation of this process sent: no later invocation may reuse one (X3).
SENT_IDS: set[str] = set()
#: Indexes of the DAEMON datagrams that invoke() took as one invocation's (checked there, or deliberately not).
_INVOKED: set[int] = set()
#: The same for each in-memory sender.
_INVOKED_IN: dict[object, set[int]] = {}


def install() -> XRayDaemon:
    """Start the daemon stand-in and make this process look like a Lambda sandbox."""
    global DAEMON
    if DAEMON is None:
        DAEMON = XRayDaemon()
        os.environ["LAMBDA_TASK_ROOT"] = os.getcwd()
        os.environ["AWS_XRAY_DAEMON_ADDRESS"] = DAEMON.address
        os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "test-function"
        os.environ.setdefault("AWS_REGION", "us-east-1")
        for name in list(os.environ):
            if name.startswith(("POWERTOOLS_", "LAMBDA_TRACER_")) or name in ("AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE"):
                del os.environ[name]
    return DAEMON


def sink() -> XRayDaemon | MemorySender:
    """What this test's datagrams reach: the in-memory sender if the test installed one, else the daemon stand-in."""
    return SINK if SINK is not None else install()


@dataclass
class FakeContext:
    """The attributes of awslambdaric's LambdaContext that handlers read."""

    function_name: str = "test-function"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    memory_limit_in_mb: str = "128"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/11/24/[$LATEST]abc"
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass
class Invocation:
    result: Any = None
    error: BaseException | None = None
    trace_id: str = ""
    parent_id: str = ""
    documents: list[dict[str, Any]] = field(default_factory=list)


def invoke(
    handler: Callable[..., Any], event: Any = None, expect: int = 1, *, check_rules: bool = True, **kwargs: Any
) -> Invocation:
    """Call ``handler`` as the runtime would (fresh trace header), then collect the documents sent.

    Every datagram sent meanwhile is held against X-Ray's rules (``assert_follows_xray_rules``);
    ``check_rules=False`` is for a test that expects the tracer to break them.
    """
    daemon = sink()
    header, trace_id, parent = new_trace_header()
    first, rejected = len(daemon.datagrams()), len(daemon.rejected)
    os.environ["_X_AMZN_TRACE_ID"] = header
    outcome = Invocation(trace_id=trace_id, parent_id=parent)
    try:
        outcome.result = handler({} if event is None else event, FakeContext(), **kwargs)
    except BaseException as error:
        outcome.error = error
    finally:
        del os.environ["_X_AMZN_TRACE_ID"]
    # The handler has returned, so everything it sent is on its way: wait_for's barrier makes it arrive.
    outcome.documents = daemon.wait_for(trace_id, count=expect, timeout=2.0)
    sent = daemon.datagrams(first)
    _invoked(daemon).update(range(first, first + len(sent)))
    if check_rules:
        assert_datagrams_follow_xray_rules(sent, daemon.rejected[rejected:], header)
    return outcome


def assert_follows_xray_rules(
    daemon: XRayDaemon, first: int, rejected: int, header: str | None, *, known_header: bool = True
) -> None:
    """``assert_datagrams_follow_xray_rules`` on what ``daemon`` received from its ``first``-th datagram on (one
    invocation's, invoked with ``header``), and on what it rejected beyond its first ``rejected``."""
    daemon.sync()
    assert_datagrams_follow_xray_rules(
        daemon.datagrams(first), daemon.rejected[rejected:], header, known_header=known_header
    )


def assert_other_datagrams_follow_xray_rules(first: int, daemon: XRayDaemon | MemorySender | None = None) -> None:
    """The datagrams of ``daemon`` (DAEMON by default) from the ``first``-th on that no invoke() took (a test calling
    a handler itself): their trace header is not known here, so the rules on each datagram and document apply."""
    daemon = daemon or install()
    daemon.sync()
    invoked = _invoked(daemon)
    others = [data for index, data in enumerate(daemon.datagrams(first), first) if index not in invoked]
    if others:
        assert_datagrams_follow_xray_rules(others, [], None, known_header=False)


def _invoked(daemon: XRayDaemon | MemorySender) -> set[int]:
    return _INVOKED if daemon is DAEMON else _INVOKED_IN.setdefault(daemon, set())


def assert_datagrams_follow_xray_rules(
    datagrams: list[bytes], refused: list[bytes], header: str | None, *, known_header: bool = True
) -> None:
    """Fail unless one invocation's ``datagrams`` (invoked with the trace header ``header``) keep every
    error-level rule of X-Ray (xray_rules), and the daemon ``refused`` none. ``known_header=False``: the header
    is unknown, so only the rules on each datagram and document apply. ``$XRAY_RULES_LOG``: every violation,
    warnings included, is appended there as a JSON line naming the test."""
    spans = [data for data in datagrams if otlp.is_otlp(data)]  # the otlp exporter's: OTLP's rules
    others = [data for data in datagrams if not otlp.is_otlp(data)]
    violations, documents = xray_rules.check_trace(others, header, earlier_ids=SENT_IDS, invocation=known_header)
    otlp_violations, otlp_documents = otlp_rules.check_trace(
        spans, header, earlier_ids=SENT_IDS, invocation=known_header
    )
    SENT_IDS.update(xray_rules.ids_of(documents) | otlp_rules.ids_of(otlp_documents))
    _log_violations(violations + otlp_violations, documents + otlp_documents)
    failed = xray_rules.errors(violations)
    failed_spans = xray_rules.errors(otlp_violations)
    if failed or failed_spans or refused:
        lines = [f"X-Ray would reject what this invocation sent (trace header {header!r}):"]
        lines.append(xray_rules.describe(failed, documents))
        if failed_spans:
            lines.append(otlp_rules.describe(failed_spans, otlp_documents))
        lines += [f"the daemon rejected: {data[:300]!r}" for data in refused]
        raise AssertionError("\n".join(lines))


def _log_violations(violations: list[xray_rules.Violation], documents: list[dict[str, Any]]) -> None:
    path = os.environ.get("XRAY_RULES_LOG")
    if not path or not violations:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "?")
    with open(path, "a") as log:
        for found in violations:
            log.write(json.dumps({"test": test, **vars(found), "report": xray_rules.describe([found], documents)}))
            log.write("\n")


def in_a_fresh_process(code: str) -> str:
    """Run ``code`` in a new interpreter with a sampled trace header and the layer's package importable (the SDK,
    wrapt and the import hooks as a cold start has them); its standard output."""
    import lambda_tracer

    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    layer = os.path.dirname(os.path.dirname(lambda_tracer.__file__))
    env = {
        **os.environ,
        "LAMBDA_TASK_ROOT": "/tmp",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",
        "PYTHONPATH": layer,
        "_X_AMZN_TRACE_ID": header,
    }
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
