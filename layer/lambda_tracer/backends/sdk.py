"""The aws-xray-sdk backend: ``tracer.provider`` and the SDK's library patches, recording into our trace.

Loaded only when needed: when the code touches ``tracer.provider``, when the SDK patches a library we
trace through it, or when user code imports ``aws_xray_sdk.core`` itself. Whoever imports the SDK, its
global ``xray_recorder`` is configured at once (an import hook) with:

* ``BridgeContext``: the SDK's "current entity" is our current one. Under one of our spans it is that
  span's ``SpanView``, an SDK subsegment sharing the span's id, whose annotations, metadata, exceptions
  and ``http``/``aws`` blocks are merged into the span's document when it ends. The SDK's own
  subsegments go on our stack, so they nest under our spans and ours under them, and each is sent,
  redacted and checked, as its own document when it ends.
* ``BridgeEmitter``: anything the SDK still sends goes through the same checks and socket.

This module and instrumentation/sdk_patches.py are the only ones that import ``aws_xray_sdk``. It and xray.py
import each other (the one import cycle of the package): the SDK bridge is a plug-in of
the X-Ray backend, imported by it only when the escape hatch is used.
"""

from __future__ import annotations

from .. import capture, config, endpoints, redaction
from . import xray

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any


#: Set on the SDK's recorder once it records into our trace, so that it is configured once.
_CONFIGURED = "_lambda_tracer_configured"


def recorder() -> Any:
    """The SDK's global ``xray_recorder``, configured to record into our trace (imported on first use)."""
    from aws_xray_sdk.core import xray_recorder

    _configure(xray_recorder)  # done already when the SDK was imported after the Tracer started (the import hook)
    return xray_recorder


def configure(package: Any) -> None:
    """Make the SDK, just imported, record into our trace (instrumentation.watch_sdk calls this)."""
    _configure(package.xray_recorder)


def _configure(recorder: Any) -> None:
    """Once per recorder: configured again, it would wrap its methods again, a level deeper at every
    ``tracer.provider`` (a RecursionError in the user's code after a thousand)."""
    if getattr(recorder, _CONFIGURED, False):
        return
    recorder.configure(context=_bridge_context(), emitter=BridgeEmitter(), streaming_threshold=0)
    for method in ("begin_segment", "begin_subsegment", "begin_subsegment_without_sampling"):
        begin = getattr(recorder, method, None)
        if begin is not None:  # begin_subsegment_without_sampling: the SDK's since 2.11 (a function may bundle older)
            setattr(recorder, method, _masking_names(begin))
    import logging

    entity_log = logging.getLogger("aws_xray_sdk.core.models.entity")
    if not any(isinstance(found, _QuotedAsOurs) for found in entity_log.filters):
        entity_log.addFilter(_QuotedAsOurs())
    setattr(recorder, _CONFIGURED, True)


#: The SDK's warnings that quote what the escape hatch was given (an annotation key or ``http`` key it refuses, a
#: metadata namespace it drops), and each as logged instead (``config.shown`` with the policy's mask).
_QUOTING = {
    "ignoring annnotation with unsupported characters in key: '%s'.": "ignoring annotation with key %s (unsupported)",
    "Prefix 'AWS.' is reserved, drop metadata with namespace %s": "Prefix 'AWS.' is reserved, drop metadata (%s)",
    "ignoring unsupported key %s in http meta.": "ignoring unsupported key %s in http meta.",
}


class _QuotedAsOurs:
    """A filter of the SDK's entity logger: what those warnings quote is quoted as our own warnings quote a key
    (``config.shown`` with the policy's mask: short printable ASCII holding nothing secret, else its length)."""

    def filter(self, record: Any) -> bool:
        ours = _QUOTING.get(record.msg) if isinstance(record.msg, str) else None
        if ours is not None and isinstance(record.args, tuple):
            mask = redaction.current().mask_text
            record.msg, record.args = ours, tuple(config.shown(str(arg), mask=mask) for arg in record.args)
        return True


def _masking_names(begin: Any) -> Any:
    """``begin`` given a name that is masked, then made valid, before the SDK sees it.

    The SDK cuts the characters X-Ray rejects out of a name and logs the raw name when it does: given
    ``GET https://h/x?api_key=S``, it would record ``…xapi_key=S``, past any mask, and print the secret.
    """

    def begin_with_masked_name(name: Any = None, *args: Any, **kwargs: Any) -> Any:
        if isinstance(name, str):
            name = capture.masked_name(name, redaction.current())
        return begin(name, *args, **kwargs)

    return begin_with_masked_name


def _bridge_context() -> Any:
    """The context class is built on first use: it subclasses the SDK's, which must not load before."""
    from aws_xray_sdk.core import lambda_launcher
    from aws_xray_sdk.core.models.dummy_entities import DummySegment, DummySubsegment
    from aws_xray_sdk.core.models.facade_segment import FacadeSegment
    from aws_xray_sdk.core.models.subsegment import Subsegment
    from aws_xray_sdk.core.models.trace_header import TraceHeader

    class SpanView(Subsegment):  # type: ignore[misc]
        """The SDK's view of one of our spans: what the escape hatch writes on it joins the span's document."""

        def __init__(self, span: xray.XRaySpan, facade: Any) -> None:
            super().__init__(span.name, "local", facade)
            self.id = span.id
            self.parent_id = span.parent_id
            self.start_time = span.start_time

        def close(self, end_time: float | None = None) -> None:
            """Our span ends itself."""

    def facade_for(trace: xray.Trace) -> Any:
        """The SDK's segment for the invocation: Lambda's, as the SDK would see it (never sent)."""
        if trace.sdk_facade is None:
            if trace.root and trace.parent:
                facade: Any = FacadeSegment(
                    name="facade", traceid=trace.root, entityid=trace.parent, sampled=trace.recording
                )
            else:
                facade = DummySegment()
            header = TraceHeader(root=trace.root, parent=trace.parent, sampled=trace.sampled, data=trace.data)
            facade.save_origin_trace_header(header)
            trace.sdk_facade = facade
        return trace.sdk_facade

    def sdk_entity(entry: Any, trace: xray.Trace) -> Any:
        if isinstance(entry, xray.XRaySpan):
            if entry.sdk_view is None:
                entry.sdk_view = SpanView(entry, facade_for(trace))
            return entry.sdk_view
        if isinstance(entry, xray.Suppressed):
            return DummySubsegment(facade_for(trace), "lambda_tracer.ignored")
        return entry

    class BridgeContext(lambda_launcher.LambdaContext):  # type: ignore[misc]
        """The SDK's context, kept on our stack (see the module docstring)."""

        def __init__(self) -> None:  # the parent's thread-local is not used
            pass

        def get_trace_entity(self) -> Any:
            trace, stack = xray.current()
            return sdk_entity(stack[-1], trace) if stack else facade_for(trace)

        def put_subsegment(self, subsegment: Any) -> None:
            trace, stack = xray.current()
            parent_id = stack[-1].id if stack else None
            subsegment.parent_id = parent_id or trace.parent
            facade_for(trace).increment()
            xray.push(subsegment)

        def end_subsegment(self, end_time: float | None = None) -> bool:
            """End the SDK subsegment on top and send it on its own; False: the recorder sends nothing."""
            _, stack = xray.current()
            top = stack[-1] if stack else None
            if top is None or isinstance(top, (xray.XRaySpan, xray.Suppressed)):
                return False
            xray.detach(top)
            top.close(end_time)
            if top.sampled and not isinstance(top, DummySubsegment) and not endpoints.is_ignored_entity(top):
                xray.send_foreign(top.to_dict())
            return False

        def set_trace_entity(self, trace_entity: Any) -> None:  # the SDK's way to carry an entity into a thread
            if getattr(trace_entity, "type", None) == "subsegment":
                xray.attach(trace_entity)  # after the thread's first read of the header, which empties its stack

        def clear_trace_entities(self) -> None:
            xray.clear()

    return BridgeContext()


class BridgeEmitter:
    """What the SDK's recorder would send itself (segments it ends on its own) goes through our checks."""

    def send_entity(self, entity: Any) -> None:
        if getattr(entity, "sampled", False) and not endpoints.is_ignored_entity(entity):
            xray.send_foreign(entity.to_dict())

    def set_daemon_address(self, address: Any) -> None:
        """The address is ours to read (AWS_XRAY_DAEMON_ADDRESS)."""

    @property
    def ip(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return 2000
