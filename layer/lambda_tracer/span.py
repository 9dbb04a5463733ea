"""One open span, whatever the backend: the tracer's one error boundary around recording.

Every method is safe to call in any state and never raises. A failure is reported once per phase and
kind (the exception's type and place, never its message, which could quote the event; config.py bounds
how many are kept), and recording degrades, nothing more: the user's function always runs once and gets
its own result or exception back.
"""

from __future__ import annotations

from . import capture, config, redaction
from .backends import BackendSpan
from .backends.xray_documents import MAX_NAME_CHARS, RESERVED_NAMESPACE

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

    from .tracer import Tracer

    Annotations = tuple[dict[str, str | int | float | bool], str] | None


def report(phase: str, error: BaseException) -> None:
    """Log a failure inside the tracer once per (phase, error type); it never reaches user code."""
    config.report_once(
        ("failure", phase, type(error).__name__),
        f"tracing failed while {phase} (the function is unaffected): {config.error_place(error)}",
    )


_LIMIT_KEY = config.environ_key(config.MAX_CAPTURE_BYTES)


DEFAULT_LIMIT = config.DEFAULT_MAX_CAPTURE_BYTES


def capture_limit() -> int:
    """``config.max_capture_bytes()``; when the variable is unset (nearly always), without parsing anything (what
    ``GuardedSpan.response`` does inline: every invocation's path)."""
    if config.ENVIRON.get(_LIMIT_KEY) is None:
        return DEFAULT_LIMIT
    return config.max_capture_bytes()


def response_key(name: str) -> str:
    """The metadata key a function's response is recorded under (``GuardedSpan.close``'s)."""
    return (name + " response")[:MAX_NAME_CHARS]


def metadata_namespace(namespace: str) -> str | None:
    """The namespace as X-Ray takes it (cut to 250), or None for one it rejects (``AWS.``), reported once."""
    if namespace.startswith(RESERVED_NAMESPACE):
        config.report_once(("namespace",), "metadata in a namespace starting with 'AWS.' dropped (reserved by X-Ray)")
        return None
    return namespace[:MAX_NAME_CHARS]


class GuardedSpan:
    """One open span of a backend, bound when it starts to what its outcome records: the function's ``name`` (its
    metadata keys), whether its response and its error are recorded, and the metadata ``namespace`` (the
    Tracer's service when it started). ``inner`` is None when there is nothing to record into. Ending it is
    ``close(result, error)``: the outcome, then ``end``."""

    __slots__ = ("errors", "inner", "name", "namespace", "responses")

    def __init__(
        self,
        inner: BackendSpan | None,
        name: str,
        responses: bool,
        errors: bool,
        namespace: str,
        annotations: tuple[dict[str, str | int | float | bool], str] | None = None,
    ) -> None:
        self.inner = inner
        self.name = name
        self.responses = responses
        self.errors = errors
        self.namespace = namespace
        if inner is not None and annotations is not None:
            try:
                inner.annotate_all(annotations[0], annotations[1])
            except Exception as error:
                report("annotating", error)

    @classmethod
    def start(
        cls, tracer: Tracer, title: str, name: str, responses: bool, errors: bool, annotations: Annotations = None
    ) -> GuardedSpan:
        """Open the span ``title`` (``## name``) under the current one in ``tracer``'s backend, ``annotations`` (the
        handler's own) recorded on it. The backend is asked first: once it is, reading the service cannot fail."""
        try:
            return cls(tracer.backend.start_span(title), name, responses, errors, tracer.service, annotations)
        except Exception as error:
            report("opening a subsegment", error)
            return cls(None, name, responses, errors, "")

    @classmethod
    async def start_async(
        cls, tracer: Tracer, title: str, name: str, responses: bool, errors: bool, annotations: Annotations = None
    ) -> GuardedSpan:
        try:
            inner = await tracer.backend.start_span_async(title)
            return cls(inner, name, responses, errors, tracer.service, annotations)
        except Exception as error:
            report("opening a subsegment", error)
            return cls(None, name, responses, errors, "")

    def annotate(self, key: str, value: Any) -> None:
        """``key`` and ``value`` are already valid (the tracer's own)."""
        if self.inner is None:
            return
        try:
            self.inner.annotate(key, value)
        except Exception as error:
            report("annotating", error)

    def _metadata(self, key: str, data: Any, text: str | None = None) -> None:
        """``data`` is already JSON-ready, bounded and redacted (capture.py); ``text``: its JSON, when known."""
        namespace = self.namespace
        if namespace.startswith(RESERVED_NAMESPACE):  # metadata_namespace's check, without the call
            metadata_namespace(namespace)  # reported there
            return
        if self.inner is not None:
            if text is None:
                self.inner.add_metadata(namespace[:MAX_NAME_CHARS], key[:MAX_NAME_CHARS], data)
            else:
                self.inner.add_encoded_metadata(namespace[:MAX_NAME_CHARS], key[:MAX_NAME_CHARS], data, text)

    def error(self, error: BaseException) -> None:
        if self.inner is None:
            return
        if self.errors:
            try:
                from .capture_convert import error_metadata  # loaded with the first error

                data = error_metadata(error, redaction.current(), capture_limit())
                self._metadata(self.name + " error", data)
            except Exception as failure:
                report("recording an exception", failure)
        try:  # the fault and its cause, even when the metadata failed
            self.inner.record_exception(error)
        except Exception as failure:
            report("recording an exception", failure)

    def suspend(self) -> None:
        """No longer the current span (a traced generator yields to its consumer)."""
        self._switch("suspend", "detaching a subsegment")

    def resume(self) -> None:
        """The current span again (the generator resumes)."""
        self._switch("resume", "attaching a subsegment")

    def _switch(self, method: str, phase: str) -> None:
        if self.inner is not None:
            try:
                getattr(self.inner, method)()
            except Exception as failure:
                report(phase, failure)

    def close(self, result: Any, error: BaseException | None, end: bool = True) -> BackendSpan | None:
        """Record the outcome (response or error, as configured) and end the span (in one method: this is every
        traced call's path). ``end=False`` leaves the ending to the caller (``close_async``): the span to end is
        returned then."""
        inner = self.inner
        if inner is None:
            return None
        if error is not None:
            self.error(error)
        elif self.responses and result is not None:
            try:  # the response recorded here, not in a method of its own: every traced call's path
                # Never judged by the function's name: a function named ``get_secret`` has its response recorded,
                # redacted inside like any other (the name is the tracer's key, not the user's).
                data, text = capture.recorded_response(result)
                namespace = self.namespace  # _metadata, without the call
                if namespace.startswith(RESERVED_NAMESPACE):
                    metadata_namespace(namespace)  # reported there
                elif text is None:
                    inner.add_metadata(namespace[:MAX_NAME_CHARS], (self.name + " response")[:MAX_NAME_CHARS], data)
                else:
                    inner.add_encoded_metadata(
                        namespace[:MAX_NAME_CHARS], (self.name + " response")[:MAX_NAME_CHARS], data, text
                    )
            except Exception as failure:
                report("serializing the response", failure)
        if not end:
            return inner
        try:
            inner.end(error)
        except Exception as failure:
            report("closing a subsegment", failure)
        return None

    @staticmethod
    def finish(inner: BackendSpan | None, key: str, responses: bool, namespace: str, result: Any) -> None:
        """``GuardedSpan(inner, name, responses, errors, namespace).close(result, None)``, the same steps without making
        the GuardedSpan (``key``: ``response_key(name)``): the sync handler's return (tracer.py), every invocation's."""
        if inner is None:
            return
        if responses and result is not None:
            try:  # close's, as it is there
                data, text = capture.recorded_response(result)
                if namespace.startswith(RESERVED_NAMESPACE):
                    metadata_namespace(namespace)  # reported there
                elif text is None:
                    inner.add_metadata(namespace[:MAX_NAME_CHARS], key, data)
                else:
                    inner.add_encoded_metadata(namespace[:MAX_NAME_CHARS], key, data, text)
            except Exception as failure:
                report("serializing the response", failure)
        try:
            inner.end(None)
        except Exception as failure:
            report("closing a subsegment", failure)

    async def close_async(self, result: Any, error: BaseException | None) -> None:
        inner = self.close(result, error, end=False)
        if inner is not None:
            try:
                await inner.end_async(error)
            except Exception as failure:
                report("closing a subsegment", failure)
