"""One open subsegment, whatever the provider: the tracer's only door to recording.

Every method is safe to call in any state and never raises: a failure is logged once per phase (type
and place only, never the message, which could quote the event) and recording degrades, nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import capture, config, redaction

if TYPE_CHECKING:
    from .tracer import Tracer

logger = config.logger


def report(phase: str, error: BaseException) -> None:
    """Log a failure inside the tracer once per (phase, error type); it never reaches user code."""
    config.report_once(
        ("failure", phase, type(error).__name__),
        f"tracing failed while {phase} (the function is unaffected): {config.error_place(error)}",
    )


def write_metadata(entity: Any, key: str, data: Any, namespace: str) -> None:
    """Store JSON-ready metadata on an X-Ray entity, with X-Ray's rules: no ``AWS.`` namespaces, and
    namespaces and keys of at most 250 characters."""
    if namespace.startswith("AWS."):
        config.report_once(("namespace",), "metadata in a namespace starting with 'AWS.' dropped (reserved by X-Ray)")
        return
    entity.metadata.setdefault(namespace[:250], {})[key[:250]] = data


class Span:
    """One open subsegment, whatever the provider; every method is safe to call and never raises."""

    def __init__(self, tracer: Tracer, name: str) -> None:
        self.tracer = tracer
        self.entity: Any = None
        self._exit: Callable[..., Any] | None = None
        try:
            if tracer._custom_provider is None:
                from . import xray

                self.entity = xray.begin(name)
            else:
                manager = tracer._custom_provider.in_subsegment(name=name)
                self.entity = manager.__enter__()
                self._exit = manager.__exit__
        except Exception as error:
            report("opening a subsegment", error)

    def annotate(self, key: str, value: Any) -> None:
        """``key`` and ``value`` are already valid (the tracer's own, or checked by put_annotation)."""
        if self.entity is None:
            return
        try:
            if self._exit is None:
                self.entity.annotations[key] = value
            else:
                self.entity.put_annotation(key=key, value=value)
        except Exception as error:
            report("annotating", error)

    def metadata(self, key: str, data: Any, namespace: str) -> None:
        """``data`` is already JSON-ready, bounded and redacted (capture.py)."""
        if self._exit is None:
            write_metadata(self.entity, key, data, namespace)
        else:
            self.entity.put_metadata(key=key, value=data, namespace=namespace)

    def response(self, name: str, value: Any) -> None:
        if self.entity is None or value is None:
            return
        try:
            # Judged by the function's own name too: ``get_db_password`` returns a password.
            own_name = name.rsplit(".", 1)[-1]
            data = capture.to_metadata(value, redaction.current(), config.max_capture_bytes(), key=own_name)
            self.metadata(f"{name} response", data, self.tracer.service)
        except Exception as error:
            report("serializing the response", error)

    def error(self, name: str, error: BaseException, record_metadata: bool) -> None:
        if self.entity is None:
            return
        try:
            if record_metadata:
                data = capture.error_metadata(error, redaction.current(), config.max_capture_bytes())
                self.metadata(f"{name} error", data, self.tracer.service)
            if self._exit is None:
                from . import xray

                xray.add_exception(self.entity, error)
        except Exception as failure:
            report("recording an exception", failure)

    def finish(self, error: BaseException | None = None) -> None:
        try:
            if self._exit is not None:
                self._exit(type(error) if error else None, error, error.__traceback__ if error else None)
            elif self.entity is not None:
                from . import xray

                xray.end(self.entity)
        except Exception as failure:
            report("closing a subsegment", failure)
            self._detach()

    def suspend(self) -> None:
        """No longer the current subsegment (a traced generator yields to its consumer)."""
        self._move("detach")

    def resume(self) -> None:
        """The current subsegment again (the generator resumes)."""
        self._move("attach")

    def _detach(self) -> None:
        """Whatever failed, never leave our subsegment open as the parent of the next one."""
        self._move("detach")

    def _move(self, action: str) -> None:
        try:
            if self._exit is None and self.entity is not None:
                from . import xray

                getattr(xray, action)(self.entity)
        except Exception as failure:
            report(f"{action}ing a subsegment", failure)

    def close(self, name: str, result: Any, error: BaseException | None, responses: bool, errors: bool) -> None:
        """Record the outcome (response or error, as configured) and end the subsegment."""
        if error is not None:
            self.error(name, error, errors)
        elif responses:
            self.response(name, result)
        self.finish(error)
