"""In-process Lambda environment for library tests: the real X-Ray SDK sending real UDP datagrams.

The SDK reads ``LAMBDA_TASK_ROOT`` and ``AWS_XRAY_DAEMON_ADDRESS`` once, when ``aws_xray_sdk.core``
is first imported, so ``install()`` runs from the root conftest before any test module imports it.
Each invocation gets a fresh sampled ``_X_AMZN_TRACE_ID``, as the runtime sets it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambda_tracer_local.daemon import XRayDaemon, new_trace_header

DAEMON: XRayDaemon | None = None


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


def invoke(handler: Callable[..., Any], event: Any = None, expect: int = 1, **kwargs: Any) -> Invocation:
    """Call ``handler`` as the runtime would (fresh trace header), then collect the documents sent."""
    daemon = install()
    header, trace_id, parent = new_trace_header()
    os.environ["_X_AMZN_TRACE_ID"] = header
    outcome = Invocation(trace_id=trace_id, parent_id=parent)
    try:
        outcome.result = handler({} if event is None else event, FakeContext(), **kwargs)
    except BaseException as error:
        outcome.error = error
    finally:
        del os.environ["_X_AMZN_TRACE_ID"]
    outcome.documents = daemon.wait_for(trace_id, count=expect, timeout=2.0 if expect else 0.2)
    return outcome
