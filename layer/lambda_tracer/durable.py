"""Durable functions: the operations each invocation of a durable execution ran, as subsegments of ``## handler``.

aws-durable-execution-sdk-python (3.x) runs a durable execution as a series of invocations: each one replays the
handler from the top, takes the result of every operation already checkpointed (step, wait, callback, chained
invoke, child context) instead of running it again, and runs what comes next until the execution ends or has
to wait (a wait, a step retry's delay, a callback). Without help every invocation is an unrelated trace with
one opaque ``## handler``. This module is an instrumentation plugin of the SDK (its ``plugin.py`` API); the
layer registers it without the user's code (docs/durable-functions.md):

* the exec wrapper adds ``lambda_tracer`` to ``DURABLE_EXECUTION_PLUGINS``, and the layer ships an entry point of
  that name in the SDK's group ``aws_durable_execution.plugins`` (``_lambda_tracer_durable.py``, next to the
  package under /opt/python, resolves it to ``FACTORY``);
* in code, without the layer: ``@durable_execution(plugins=[lambda_tracer.durable.FACTORY])``.

What one invocation's trace gets:

* On the span the invocation runs in (``## handler``): the annotations ``DurableExecution`` (the execution ARN,
  or for an ARN over X-Ray's 1,000 characters its first 935 characters, ``#`` and the SHA-256 of the whole ARN)
  and ``Replay`` (true when an earlier invocation of the execution checkpointed something), and at the end
  ``DurableStatus`` (``SUCCEEDED``, ``FAILED``, ``PENDING`` when the execution waits, ``RETRY`` when the
  invocation failed and Lambda retries it), plus metadata ``durable.invocation``: what was replayed from
  checkpoints, what completed while the execution was suspended, what is still pending. A failed execution
  is recorded on that span as its exception (``fault`` and ``cause``).
* One subsegment per operation that did work in this invocation (``Step charge``, ``Wait cool-down``,
  ``Map items``, ...) with metadata ``durable.operation``: id, name, type, subtype, attempt, status and outcome,
  and its error (the step's own exception, with its stack, when it ran here). Steps and child contexts are the
  current subsegment while they run, so what a step calls (AWS SDK, HTTP, ``capture_method``) nests under it.
  Replayed operations get no subsegment. Operation subsegments carry no annotations: X-Ray indexes 50 per
  trace, and the execution's own must never be crowded out by an execution with many steps.

The plugin records only when the invocation is traced by us: ``on_invocation_start`` must find our span (the
SDK runs every hook of an invocation in a copy of the context its handler was called in, which our
``## handler`` wrapper opened). Otherwise, and for every hook that fails, nothing is recorded and nothing is
raised: the SDK logs what a hook raises, and we never give it anything to log (failures are reported once, like
every tracer failure). The module imports nothing at import time but the tracer's own light modules; the SDK
is taken from ``sys.modules``, where the SDK that calls us has put it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping

from . import capture, config, redaction
from .backends import BackendSpan
from .span import report

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    _Hook = Callable[["Recorder", Any], None]

#: Metadata namespace of everything recorded here.
NAMESPACE = "durable"
EXECUTION_ANNOTATION = "DurableExecution"
REPLAY_ANNOTATION = "Replay"
STATUS_ANNOTATION = "DurableStatus"
#: Operations listed per list in the handler's metadata (the count of the rest is recorded).
MAX_LISTED = 50
#: Characters of the ARN kept in front of ``#`` and its SHA-256 (64 hex) when the ARN is too long to annotate.
_ARN_PREFIX = capture.MAX_ANNOTATION_CHARS - 65

_SDK_PLUGIN_MODULE = "aws_durable_execution_sdk_python.plugin"
_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "STOPPED"})
_FAILED = frozenset({"FAILED", "CANCELLED", "TIMED_OUT", "STOPPED"})
#: Operations that run no code of the function: nothing can nest under them, and they may end on another thread.
_WAITING_KINDS = frozenset({"WAIT", "CALLBACK", "CHAINED_INVOKE"})
#: Subsegment name prefix per SDK subtype (kind when there is none, or a caller-defined one).
_LABELS = {
    "Step": "Step",
    "Wait": "Wait",
    "Callback": "Callback",
    "RunInChildContext": "Context",
    "Map": "Map",
    "MapIteration": "MapIteration",
    "Parallel": "Parallel",
    "ParallelBranch": "ParallelBranch",
    "WaitForCallback": "WaitForCallback",
    "WaitForCondition": "WaitForCondition",
    "ChainedInvoke": "Invoke",
}
_KIND_LABELS = {
    "STEP": "Step",
    "WAIT": "Wait",
    "CALLBACK": "Callback",
    "CHAINED_INVOKE": "Invoke",
    "CONTEXT": "Context",
}


def execution_key(arn: str) -> str:
    """The ``DurableExecution`` annotation for an execution ARN: the ARN itself when X-Ray can index it (at most
    1,000 characters, which every ARN Lambda makes is), else its first 935 characters, ``#`` and the SHA-256 of
    the whole ARN: stable across invocations, and still distinct for two executions with a long common prefix."""
    if len(arn) <= capture.MAX_ANNOTATION_CHARS:
        return arn
    import hashlib

    digest = hashlib.sha256(arn.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{arn[:_ARN_PREFIX]}#{digest}"


def _text(value: Any) -> str | None:
    """An SDK enum's value (``OperationType.STEP`` -> ``"STEP"``), a plain string as is; None stays None."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _name(info: Any) -> Any:
    """The operation's name as every copy of it is recorded: masked as its subsegment's name is (``masked_name``:
    masked, cleaned of what X-Ray rejects in names, masked again). Masked as text only, ``(api_key)=K`` is no
    name/value pair: a copy would show K beside the subsegment's name that masked it."""
    name = getattr(info, "name", None)
    return capture.masked_name(name, redaction.current()) if isinstance(name, str) and name else name


def _summary(info: Any) -> dict[str, Any]:
    """One operation in a list of the handler's metadata."""
    return {
        "id": getattr(info, "operation_id", None),
        "name": _name(info),
        "type": _text(getattr(info, "operation_type", None)),
        "subtype": _text(getattr(info, "sub_type", None)),
        "status": _text(getattr(info, "status", None)),
    }


def _listed(infos: list[Any]) -> dict[str, Any]:
    listed: dict[str, Any] = {"count": len(infos), "operations": [_summary(info) for info in infos[:MAX_LISTED]]}
    return listed


def _error_summary(error: Any) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"type": _text(getattr(error, "type", None)), "message": _text(getattr(error, "message", None))}


_rebuilt_types: dict[str, type[Exception]] = {}


def rebuilt_exception(error: Any) -> Exception:
    """The SDK's ``ErrorObject`` (type, message) as an exception X-Ray's ``cause`` can record: its type is named
    like the original (``mymodule.PaymentDeclined`` -> ``PaymentDeclined``), its message is the original's."""
    wire_type = str(getattr(error, "type", None) or "Error")[:200]
    module, _, name = wire_type.rpartition(".")
    cls = _rebuilt_types.get(wire_type)
    if cls is None:
        cls = type(name or "Error", (Exception,), {"__module__": module or "builtins"})
        if len(_rebuilt_types) < 64:
            _rebuilt_types[wire_type] = cls
    return cls(str(getattr(error, "message", None) or ""))


def _live_exception(error: Any) -> BaseException | None:
    """The exception a user function is failing with, when the hook runs while it propagates (the SDK calls
    ``on_user_function_end`` in a ``finally`` on the same thread) and it is the one the SDK recorded."""
    live = sys.exc_info()[1]
    if live is None or error is None:
        return None
    wire_type = str(getattr(error, "type", None) or "")
    return live if wire_type.rpartition(".")[2] == type(live).__name__ else None


class _Operation:
    """One operation's subsegment while it is open, and what its metadata will say."""

    __slots__ = ("error_recorded", "kind", "record", "span")

    def __init__(self, span: BackendSpan, kind: str, record: dict[str, Any]) -> None:
        self.span = span
        self.kind = kind
        self.record = record
        self.error_recorded = False


def _hook(doing: str) -> Callable[[_Hook], _Hook]:
    """A plugin hook that does nothing unless the invocation is traced by us, and never raises: a failure inside
    is reported (``span.report``) as ``doing``, the function and the SDK unaffected."""

    def guard(method: _Hook) -> _Hook:
        def hook(self: Recorder, info: Any) -> None:
            if self._handler is None:
                return
            try:
                method(self, info)
            except Exception as error:
                report(doing, error)

        hook.__name__, hook.__qualname__, hook.__doc__ = method.__name__, method.__qualname__, method.__doc__
        return hook

    return guard


class Recorder:
    """The plugin's hooks: one instance per invocation (``FACTORY.create_plugin``), its state that invocation's.

    The SDK calls the hooks on several threads (operation threads, parallel branches, its change thread): the
    state is guarded by a lock, and no hook ever raises.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handler: BackendSpan | None = None
        self._open: dict[str, _Operation] = {}
        self._replayed: list[Any] = []
        self._elsewhere: list[Any] = []
        self._pending: list[Any] = []
        self._invocation: dict[str, Any] = {}

    # -- the invocation --------------------------------------------------------------------------

    def on_invocation_start(self, info: Any) -> None:
        try:
            from .backends import xray

            handler = xray.BACKEND.current_span()
            if handler is None:
                return  # not traced by us (tracing off, unsampled, another tracer): record nothing
            self._handler = handler
            arn = getattr(info, "execution_arn", None)
            replay = not getattr(info, "is_first_invocation", True)
            if isinstance(arn, str) and arn:
                handler.annotate(EXECUTION_ANNOTATION, execution_key(arn))
            handler.annotate(REPLAY_ANNOTATION, replay)
            isoformat = getattr(getattr(info, "execution_start_time", None), "isoformat", None)
            self._invocation = {
                "execution_arn": arn,
                "replay": replay,
                "execution_start_time": isoformat() if callable(isoformat) else None,
            }
            updated = getattr(info, "updated_operations", None) or {}
            operations: Mapping[str, Any] = getattr(info, "operations", None) or {}
            self._replayed = [
                operation
                for operation_id, operation in operations.items()
                if _text(getattr(operation, "operation_type", None)) != "EXECUTION"
                and _text(getattr(operation, "status", None)) in _TERMINAL
                and operation_id not in updated
            ]
        except Exception as error:
            self._handler = None
            report("starting a durable invocation", error)

    def on_invocation_end(self, info: Any) -> None:
        handler = self._handler
        if handler is None:
            return
        try:
            with self._lock:
                left = list(self._open.items())
                self._open.clear()
            operations: Mapping[str, Any] = getattr(info, "operations", None) or {}
            status = _text(getattr(info, "status", None))
            for operation_id, operation in reversed(left):
                # Still open when the invocation ends: the execution waits for it (a wait, a callback, a step's
                # retry delay), or the handler returned without waiting for it.
                now = operations.get(operation_id)
                now_status = _text(getattr(now, "status", None)) if now is not None else None
                operation.record["status"] = now_status
                if now_status in _TERMINAL:
                    operation.record.setdefault("outcome", now_status)
                else:
                    operation.record["outcome"] = "SUSPENDED" if status == "PENDING" else "INCOMPLETE"
                self._end(operation)
            if status:
                handler.annotate(STATUS_ANNOTATION, status)
            error = getattr(info, "error", None)
            if status == "FAILED" and error is not None:
                handler.record_exception(rebuilt_exception(error))
            invocation = {
                **self._invocation,
                "status": status,
                "error": _error_summary(error),
                "replayed": _listed(self._replayed),
                "completed_while_suspended": _listed(self._elsewhere),
                "still_pending": _listed(self._pending),
            }
            handler.add_metadata(NAMESPACE, "invocation", self._metadata(invocation, "invocation"))
        except Exception as failure:
            report("ending a durable invocation", failure)

    # -- operations ------------------------------------------------------------------------------

    @_hook("starting a durable operation")
    def on_operation_start(self, info: Any) -> None:
        operation_id = str(getattr(info, "operation_id", ""))
        kind = _text(getattr(info, "operation_type", None)) or "OPERATION"
        status = _text(getattr(info, "status", None))
        replayed = bool(getattr(info, "is_replayed", False))
        if kind == "EXECUTION":
            return
        if replayed and (kind in _WAITING_KINDS or status == "PENDING"):
            # Seen again while it still waits (a timer, a callback, a step's retry delay): no work here.
            with self._lock:
                self._pending.append(info)
            return
        with self._lock:
            if operation_id in self._open:
                return
            parent = self._open.get(str(getattr(info, "parent_id", None)))
        span = _start_span(_span_name(info, kind), parent.span if parent is not None else None)
        if span is None:
            return
        if kind in _WAITING_KINDS:
            span.suspend()  # nothing runs inside it, and its end may be observed by another thread
        record = {
            "id": operation_id,
            "name": _name(info),
            "type": kind,
            "subtype": _text(getattr(info, "sub_type", None)),
            "parent_id": getattr(info, "parent_id", None),
            "resumed": replayed,
        }
        with self._lock:
            self._open[operation_id] = _Operation(span, kind, record)

    @_hook("recording a durable attempt")
    def on_user_function_start(self, info: Any) -> None:
        operation = self._get(info)
        attempt = getattr(info, "attempt", None)
        if operation is not None and attempt is not None:
            operation.record["attempt"] = attempt

    @_hook("recording a durable attempt")
    def on_user_function_end(self, info: Any) -> None:
        operation = self._get(info)
        if operation is None:
            return
        outcome = _text(getattr(info, "outcome", None))
        operation.record["outcome"] = outcome
        error = getattr(info, "error", None)
        if outcome == "FAILED" and error is not None:
            operation.record["error"] = _error_summary(error)
            operation.span.record_exception(_live_exception(error) or rebuilt_exception(error))
            operation.error_recorded = True

    @_hook("ending a durable operation")
    def on_operation_end(self, info: Any) -> None:
        operation_id = str(getattr(info, "operation_id", ""))
        with self._lock:
            operation = self._open.pop(operation_id, None)
            if operation is None:
                kind = _text(getattr(info, "operation_type", None))
                if not getattr(info, "is_replayed", False) and kind in _WAITING_KINDS:
                    # Completed while the execution was suspended (a timer, a callback, a chained invoke).
                    self._elsewhere.append(info)
                return
        status = _text(getattr(info, "status", None))
        operation.record["status"] = status
        if status in _FAILED or "outcome" not in operation.record:
            operation.record["outcome"] = status
        attempt = getattr(info, "attempt", None)
        if attempt is not None:
            operation.record.setdefault("attempt", attempt)
        error = getattr(info, "error", None)
        if status in _FAILED and error is not None and not operation.error_recorded:
            operation.record["error"] = _error_summary(error)
            operation.span.record_exception(rebuilt_exception(error))
        self._end(operation)

    @_hook("recording a durable retry")
    def on_operation_change(self, info: Any) -> None:
        """A step whose attempt failed is ``PENDING`` once its retry is checkpointed: its work here is over."""
        updated: Mapping[str, Any] = getattr(info, "updated_operations", None) or {}
        ended: list[_Operation] = []
        with self._lock:
            for operation_id, now in updated.items():
                operation = self._open.get(operation_id)
                if operation is not None and operation.kind == "STEP" and _text(now.status) == "PENDING":
                    del self._open[operation_id]
                    ended.append(operation)
        for operation in ended:
            operation.record["status"] = "PENDING"
            operation.record["outcome"] = "RETRY_SCHEDULED"
            error = getattr(updated[str(operation.record["id"])], "error", None)
            if error is not None and not operation.error_recorded:
                # Not from the step's code (that was recorded as it failed): e.g. an interrupted attempt.
                operation.record["error"] = _error_summary(error)
                operation.span.record_exception(rebuilt_exception(error))
            self._end(operation)

    # -- helpers ---------------------------------------------------------------------------------

    def _get(self, info: Any) -> _Operation | None:
        with self._lock:
            return self._open.get(str(getattr(info, "operation_id", "")))

    def _end(self, operation: _Operation) -> None:
        operation.span.add_metadata(NAMESPACE, "operation", self._metadata(operation.record, "operation"))
        operation.span.end()

    @staticmethod
    def _metadata(value: dict[str, Any], key: str) -> Any:
        return capture.to_metadata(value, redaction.current(), config.max_capture_bytes(), key=key)


def _span_name(info: Any, kind: str) -> str:
    subtype = _text(getattr(info, "sub_type", None))
    label = _LABELS.get(subtype or "") or _KIND_LABELS.get(kind, "Operation")
    name = getattr(info, "name", None)
    if isinstance(name, str) and name:
        return capture.masked_name(f"{label} {name}", redaction.current())
    return label


def _start_span(name: str, parent: BackendSpan | None) -> BackendSpan | None:
    """A subsegment under the current one; under the operation's parent when that one is open but not on this
    context's stack (a parallel or map branch resumed in a new context by the SDK)."""
    from .backends import xray

    if parent is None or getattr(parent, "ended", False) or parent in xray.current()[1]:
        return xray.BACKEND.start_span(name)
    xray.attach(parent)
    span = xray.BACKEND.start_span(name)
    xray.detach(parent)  # and the new span with it: it is the parent's child
    if span is not None:
        xray.attach(span)
    return span


_plugin_types: dict[type, type] = {}


class PluginFactory:
    """The SDK's plugin factory (``DurableInstrumentationPluginFactory``): one ``Recorder`` per invocation."""

    def create_plugin(self, info: Any, /) -> Any:
        """A plugin instance of the SDK that is calling (its ``DurableInstrumentationPlugin`` with our hooks)."""
        base = sys.modules[_SDK_PLUGIN_MODULE].DurableInstrumentationPlugin
        plugin_type = _plugin_types.get(base)
        if plugin_type is None:
            plugin_type = _plugin_types[base] = type("LambdaTracerPlugin", (Recorder, base), {})
        return plugin_type()


#: What the entry point ``lambda_tracer`` resolves to, and what to pass in ``plugins=[...]`` in code.
FACTORY = PluginFactory()
