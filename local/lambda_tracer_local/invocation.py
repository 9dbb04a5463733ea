"""What one invoke of a local sandbox produced, and the errors the local runtime raises.

Kept apart from the runtime that makes them: the renderers (``render``, ``html``, ``logs``) and the tests read
an ``Invocation`` without needing the process machinery behind it.
"""

from __future__ import annotations

import contextlib
import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime_api import Request


class _Fresh(enum.Enum):
    TRACE_HEADER = "fresh"


#: Default of ``invoke(trace_header=...)``: a new sampled ``Root=...;Parent=...;Sampled=1`` per invocation.
FRESH = _Fresh.TRACE_HEADER


class LocalLambdaError(RuntimeError):
    """The local runtime could not do what was asked (the message says why and shows the output)."""


class InvocationTimeout(LocalLambdaError):
    """No reply within the timeout; the runtime process has been killed."""


@dataclass
class Invocation:
    """What one invoke produced, as received over the Runtime API and by the X-Ray daemon stand-in.

    ``status`` is ``response`` (the handler returned), ``error`` (it raised, or the runtime failed the
    invoke), ``init_error`` (init failed: the handler never ran), ``restore_error`` (SnapStart: an after-restore
    hook failed) or ``exited`` (the process died without answering). ``payload`` is the parsed JSON body (raw
    bytes when it is not JSON); for ``error``, ``init_error`` and ``restore_error`` it is the runtime's error
    document.
    """

    status: str
    request_id: str | None = None
    payload: Any = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error_type: str | None = None
    error_message: str | None = None
    stack_trace: list[str] | None = None
    trace_header: str | None = None
    trace_id: str | None = None
    parent_id: str | None = None
    documents: list[dict[str, Any]] = field(default_factory=list)
    #: invoke() called -> reply received (includes init on a cold start).
    round_trip_ms: float | None = None
    #: ``/next`` reply sent -> reply received: the time the runtime spent on this event.
    duration_ms: float | None = None
    exit_code: int | None = None
    #: What the runtime process wrote (stdout and stderr, in order) while it handled this event: from the
    #: previous answer (or the end of init) to this answer. Log records and the tracer's warnings included.
    output: str = ""
    #: On the invocation that started the process (cold start): what it wrote during init (before its first
    #: ``/next``; everything, for an init error). None on a warm invocation.
    init_output: str | None = None
    #: On the cold start: process start -> first ``/next`` (or -> ``/init/error``). None when warm.
    init_duration_ms: float | None = None
    memory_size_mb: int | None = None
    #: Peak resident memory of the runtime's processes so far (Linux ``VmHWM``), in MB; None where unknown.
    max_memory_used_mb: int | None = None
    #: The process that handled it, when the runtime runs several (Managed Instances workers, restored
    #: SnapStart sandboxes); None for a single-process runtime.
    worker: int | None = None
    #: SnapStart, on the first invocation of a restored sandbox: restore asked -> its first ``/next`` (the
    #: after-restore hooks included). Lambda reports it instead of ``Init Duration``.
    restore_duration_ms: float | None = None

    @property
    def billed_duration_ms(self) -> int | None:
        """Duration rounded up to the millisecond, plus the init duration on a cold start (Lambda bills the
        INIT phase of on-demand functions since August 2025)."""
        if self.duration_ms is None:
            return None
        return math.ceil(self.duration_ms + (self.init_duration_ms or 0.0))

    @property
    def error_cause(self) -> dict[str, Any] | None:
        """The X-Ray cause the runtime sent with an invoke error (``Lambda-Runtime-Function-XRay-Error-Cause``)."""
        for key, value in self.headers.items():
            if key.lower() == "lambda-runtime-function-xray-error-cause" and value:
                with contextlib.suppress(ValueError):
                    parsed = json.loads(value)
                    return parsed if isinstance(parsed, dict) else None
        return None


def parse_body(body: bytes) -> Any:
    """A body as JSON when it is JSON, else the bytes as they came."""
    try:
        return json.loads(body)
    except ValueError:
        return body


def fill_error(inv: Invocation, document: Mapping[str, Any]) -> None:
    """Copy a runtime error document's type, message and stack trace onto ``inv``."""
    inv.error_type = document.get("errorType")
    inv.error_message = document.get("errorMessage")
    trace = document.get("stackTrace")
    inv.stack_trace = list(trace) if isinstance(trace, list) else None


def posted(
    status: str, request_id: str | None, request: Request, header: str | None, called_at: float | None, **fields: Any
) -> Invocation:
    """An Invocation for what the runtime posted to the Runtime API (its answer, or an error document), with
    ``fields`` for the rest."""
    return Invocation(
        status=status,
        request_id=request_id,
        payload=parse_body(request.body),
        body=request.body,
        headers=request.headers,
        trace_header=header,
        round_trip_ms=None if called_at is None else (request.at - called_at) * 1000,
        **fields,
    )
