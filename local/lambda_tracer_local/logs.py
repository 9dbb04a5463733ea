"""One invocation's log, the way ``sam local invoke`` and CloudWatch Logs show it.

    START RequestId: 6f0c… Version: $LATEST
    (what the function printed or logged, the tracer's warnings included)
    END RequestId: 6f0c…
    REPORT RequestId: 6f0c…\tDuration: 3.14 ms\tBilled Duration: 212 ms\tMemory Size: 128 MB\tMax Memory Used: 41 MB
    \tInit Duration: 208.52 ms   (same line; \t is a tab)

What the runtime process printed during init (module imports, the exec wrapper's warnings) comes first, on
the cold start only, as in Lambda. ``Init Duration`` is only on the cold start; ``Billed Duration`` is the
duration rounded up to the millisecond, plus the init duration on a cold start (Lambda bills the INIT phase of
on-demand functions since August 2025). ``Max Memory Used`` is the peak resident memory of the runtime's
processes so far (Linux ``VmHWM``); it is left out where it cannot be read. A crash, an init error or a
SnapStart restore error adds ``Status: error`` and ``Error Type``, as Lambda does.

Managed Instances: each worker process has its own init, so its first invocation has the init output and
``Init Duration``. SnapStart: a restored sandbox is not initialised, so its first invocation has no
``Init Duration`` but, as Lambda's REPORT line, ``Restore Duration`` (restore asked -> the sandbox's first
``/next``, the after-restore hooks included) and ``Billed Restore Duration`` (the same, rounded up to the
millisecond: locally there is no time spent outside the sandbox to leave out); what the sandbox wrote before its
first event (the after-restore hooks' output) comes first, where the init output would.
"""

from __future__ import annotations

import math
import signal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime import Invocation

VERSION = "$LATEST"


def lines(text: str | None) -> list[str]:
    """Output as lines: awslambdaric ends the lines of one error record with ``\\r`` (one CloudWatch event)."""
    if not text:
        return []
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")


def report_fields(inv: Invocation) -> dict[str, Any]:
    """The REPORT line's values (None: not known for this invocation)."""
    fields: dict[str, Any] = {
        "duration_ms": None if inv.duration_ms is None else round(inv.duration_ms, 2),
        "billed_duration_ms": inv.billed_duration_ms,
        "memory_size_mb": inv.memory_size_mb,
        "max_memory_used_mb": inv.max_memory_used_mb,
        "init_duration_ms": None if inv.init_duration_ms is None else round(inv.init_duration_ms, 2),
        "restore_duration_ms": None if inv.restore_duration_ms is None else round(inv.restore_duration_ms, 2),
        "billed_restore_duration_ms": None if inv.restore_duration_ms is None else math.ceil(inv.restore_duration_ms),
    }
    if inv.status in ("init_error", "restore_error", "exited"):
        fields["status"] = "error"
        fields["error_type"] = inv.error_type
    return fields


def report_line(inv: Invocation) -> str:
    fields = report_fields(inv)
    parts = [f"REPORT RequestId: {inv.request_id}"]
    if fields["duration_ms"] is not None:
        parts.append(f"Duration: {fields['duration_ms']:.2f} ms")
        parts.append(f"Billed Duration: {fields['billed_duration_ms']} ms")
    if fields["memory_size_mb"] is not None:
        parts.append(f"Memory Size: {fields['memory_size_mb']} MB")
    if fields["max_memory_used_mb"] is not None:
        parts.append(f"Max Memory Used: {fields['max_memory_used_mb']} MB")
    if fields["init_duration_ms"] is not None:
        parts.append(f"Init Duration: {fields['init_duration_ms']:.2f} ms")
    if fields["restore_duration_ms"] is not None:
        parts.append(f"Restore Duration: {fields['restore_duration_ms']:.2f} ms")
        parts.append(f"Billed Restore Duration: {fields['billed_restore_duration_ms']} ms")
    if "status" in fields:
        parts.append(f"Status: {fields['status']}")
        if fields["error_type"]:
            parts.append(f"Error Type: {fields['error_type']}")
    return "\t".join(parts)


def log_lines(inv: Invocation) -> list[str]:
    """Init output (cold start, or a worker's or restored sandbox's first invocation), START, the invocation's
    output, END, REPORT.

    Without a request id (the runtime had already died or failed init before this invocation was handed
    out) there is no START/END/REPORT, only whatever output is left.
    """
    found = lines(inv.init_output)
    if inv.request_id is None:
        return [*found, *lines(inv.output)]
    found.append(f"START RequestId: {inv.request_id} Version: {VERSION}")
    found.extend(lines(inv.output))
    if inv.status == "exited":
        found.append(f"RequestId: {inv.request_id} Error: Runtime exited with error: {_exit_reason(inv.exit_code)}")
        found.append(str(inv.error_type))
    found.append(f"END RequestId: {inv.request_id}")
    found.append(report_line(inv))
    return found


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "unknown"
    if code < 0:
        try:
            return f"signal: {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


def log_text(inv: Invocation) -> str:
    return "\n".join(log_lines(inv))


def log_record(inv: Invocation) -> dict[str, Any]:
    """The log as fields of an invocation's ``--json`` record."""
    return {
        "init_output": inv.init_output,
        "output": inv.output,
        "log": log_lines(inv),
        "report": report_fields(inv),
    }
