"""The X-Ray SDK backend (with patching.py and sdk_import.py, the only code that touches ``aws_xray_sdk``).

Imported only when tracing is on. It gives the SDK's global ``xray_recorder`` (which stays
``tracer.provider``, the escape hatch) two replacements, as soon as that recorder exists:

* ``TaskLocalContext``: the SDK's Lambda context keeps one stack of open subsegments per *thread*
  and ends "the top of the stack", so concurrent asyncio tasks end each other's subsegments
  (``AlreadyEndedException``, wrong parents). Ours keeps the stack in a ``contextvars.ContextVar``
  as an immutable tuple: each asyncio task sees its own stack, ``end(subsegment)`` ends exactly the
  subsegment it opened, and every new trace header starts a new trace.
* ``BoundedUDPEmitter``: the SDK drops a whole subsegment whose document exceeds one UDP datagram
  (65,507 bytes). Ours strips metadata, then the stack trace, and says so in the document.

Our own subsegments (``begin``/``end``) take a direct path: no recorder lookups, JSON-ready metadata,
sent as soon as they end. Library patches and the escape hatch go through the recorder as usual.
"""

from __future__ import annotations

import contextvars
import json
import logging
import math
import os
import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import sdk_import

sdk_import.defer_recorder()  # before any aws_xray_sdk.core import below
# isort: split
from aws_xray_sdk import global_sdk_config  # noqa: E402
from aws_xray_sdk.core import lambda_launcher  # noqa: E402
from aws_xray_sdk.core.emitters.udp_emitter import PROTOCOL_DELIMITER, PROTOCOL_HEADER, UDPEmitter  # noqa: E402
from aws_xray_sdk.core.models.dummy_entities import DummySegment, DummySubsegment  # noqa: E402
from aws_xray_sdk.core.models.facade_segment import FacadeSegment  # noqa: E402
from aws_xray_sdk.core.models.subsegment import Subsegment  # noqa: E402
from aws_xray_sdk.core.models.trace_header import TraceHeader  # noqa: E402

from . import capture, config, endpoints, redaction  # noqa: E402

logger = logging.getLogger("lambda_tracer")

TRACE_HEADER_ENV = "_X_AMZN_TRACE_ID"
_OWN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
#: Largest payload a UDP datagram can carry over IPv4; the SDK sends one datagram per document.
MAX_DATAGRAM_BYTES = 65_507
#: X-Ray documents "up to 64 kB": the body of each datagram stays under this.
MAX_DOCUMENT_BYTES = 64_000
#: X-Ray's limit on names and metadata keys; the longest URL or name looked into before masking.
MAX_NAME_CHARS = 250
MAX_URL_CHARS = 2048

# (facade segment, open subsegments, trace header it was built from) of the current task; tuples, so
# a task's copy never changes under it.
_state: contextvars.ContextVar[tuple[Any, tuple[Any, ...], str | None]] = contextvars.ContextVar(
    "lambda_tracer_xray_state", default=(None, (), None)
)


class TaskLocalContext(lambda_launcher.LambdaContext):  # type: ignore[misc]
    """A Lambda context whose open-subsegment stack lives in the current ``contextvars`` context."""

    def __init__(self) -> None:  # the parent's thread-local is not used
        pass

    def _current(self) -> tuple[Any, tuple[Any, ...]]:
        """(segment, stack) for the invocation now running: a new facade whenever the trace id changes."""
        segment, stack, seen = _state.get()
        raw = os.environ.get(TRACE_HEADER_ENV)
        if segment is not None and raw == seen:
            return segment, stack  # the common case: parsed already for this invocation
        # Any other header is another invocation (the runtime sets it before each one): start afresh. Unlike
        # the SDK we do not keep the old context when the Root repeats (a new Parent) or the header is gone
        # (PassThrough): that would record this invocation into the previous one's trace.
        segment = _facade_for(parse_header(raw))
        _state.set((segment, (), raw))
        return segment, ()

    def get_trace_entity(self) -> Any:
        segment, stack = self._current()
        return stack[-1] if stack else segment

    def put_subsegment(self, subsegment: Any) -> None:
        segment, stack = self._current()
        parent = stack[-1] if stack else segment
        if not stack and (getattr(segment, "initializing", None) or isinstance(segment, DummySegment)):
            return  # no sampled invocation to attach to (init phase, unsampled or malformed header)
        parent.add_subsegment(subsegment)
        _state.set((segment, (*stack, subsegment), _state.get()[2]))

    def end_subsegment(self, end_time: float | None = None) -> bool:
        _, stack = self._current()
        if not stack:
            return False
        return close_in_context(stack[-1], end_time)

    def set_trace_entity(self, trace_entity: Any) -> None:
        raw = os.environ.get(TRACE_HEADER_ENV)
        if self._is_subsegment(trace_entity):
            _state.set((trace_entity.parent_segment, (trace_entity,), raw))
        else:
            _state.set((trace_entity, (), raw))

    def clear_trace_entities(self) -> None:
        _state.set((None, (), None))


_ROOT = re.compile(r"1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}")
_PARENT = re.compile(r"[0-9a-fA-F]{16}")
_DATA_KEY = re.compile(r"[A-Za-z0-9_\-]{1,32}")
#: Extra header fields (e.g. ``Lineage``) are passed on to downstream calls: only a few short ones.
_MAX_DATA_FIELDS = 8


def _header_safe(value: str) -> bool:
    """Whether a header field can be passed on in an HTTP header as it is: short, visible ASCII, no ``;``."""
    return len(value) <= 256 and value.isascii() and value.isprintable() and " " not in value and ";" not in value


def parse_header(raw: str | None) -> Any:
    """The invocation's trace header, keeping only what X-Ray can use.

    A Root or Parent that starts with a valid id is cut to it; one that does not is left out, so the
    invocation is not recorded (X-Ray would reject every document of it). Extra fields are kept only when
    few and short, because they are propagated to every downstream call's headers.
    """
    fields: dict[str, str] = {}
    data: dict[str, str] = {}
    for part in (raw or "").split(";"):
        key, _, value = part.strip().partition("=")
        value = value.strip()
        if key in ("Root", "Parent", "Sampled"):
            fields.setdefault(key, value)
        elif key != "Self" and len(data) < _MAX_DATA_FIELDS and _DATA_KEY.fullmatch(key) and _header_safe(value):
            data[key] = value
    root = _ROOT.match(fields.get("Root", ""))
    parent = _PARENT.match(fields.get("Parent", ""))
    if fields.get("Root") and root is None:
        config.report_once(("trace header",), "the trace header's Root is not an X-Ray trace id: not recording")
    sampled = fields.get("Sampled", "")[:1] or None
    return TraceHeader(
        root=root.group(0).lower() if root else None,
        parent=parent.group(0).lower() if parent else None,
        sampled=sampled,
        data=data,
    )


def _facade_for(header: Any) -> Any:
    if not header.root or not header.parent or header.sampled is None:
        segment: Any = DummySegment()
    else:
        sampled = bool(header.sampled == 1) and global_sdk_config.sdk_enabled()
        segment = FacadeSegment(name="facade", traceid=header.root, entityid=header.parent, sampled=sampled)
    segment.save_origin_trace_header(header)
    return segment


def detach(subsegment: Any) -> None:
    """Drop ``subsegment`` from this task's stack, with anything above it that descends from it.

    Entries above it that are not its descendants stay: e.g. a subsegment the caller opened while a
    traced generator was suspended, which must not be closed by the generator finishing.
    """
    segment, stack, seen = _state.get()
    if subsegment not in stack:
        return
    dropped = {subsegment.id}
    kept = list(stack[: stack.index(subsegment)])
    for entity in stack[stack.index(subsegment) + 1 :]:
        if getattr(entity, "parent_id", None) in dropped:
            dropped.add(entity.id)
        else:
            kept.append(entity)
    _state.set((segment, tuple(kept), seen))


def attach(subsegment: Any) -> None:
    """Put an open subsegment back on top of this task's stack (a traced generator resuming)."""
    segment, stack, seen = _state.get()
    if subsegment not in stack:
        _state.set((segment, (*stack, subsegment), seen))


def close_in_context(subsegment: Any, end_time: float | None = None) -> bool:
    """End ``subsegment`` (not whatever is on top) and detach it; False if it had already ended."""
    detach(subsegment)
    if getattr(subsegment, "in_progress", False):
        subsegment.close(end_time)
        return True
    return False


class BoundedUDPEmitter(UDPEmitter):  # type: ignore[misc]
    """UDP emitter that sends only documents X-Ray accepts: redacted, within its rules, never too big."""

    def send_entity(self, entity: Any) -> None:
        try:
            if endpoints.is_ignored_entity(entity):
                return
            data = f"{PROTOCOL_HEADER}{PROTOCOL_DELIMITER}{document_body(entity)}".encode()
            self._socket.sendto(data, (self._ip, self._port))
        except Exception as error:  # the function never pays for a lost datagram
            config.report_once(
                ("send", type(error).__name__),
                f"could not send a subsegment to the X-Ray daemon: {config.error_place(error)}",
            )


def document_body(entity: Any) -> str:
    """The JSON document of an entity: redacted, within X-Ray's rules for any input, at most 64,000 bytes.

    The metadata of our own subsegments went through capture.py already. Everything else can hold
    anything: what the SDK's library patches recorded, and whatever the escape hatch put on any entity,
    ours included (annotations, exceptions, ``http`` and ``aws`` blocks written directly).
    """
    document = entity.to_dict()
    if not isinstance(entity, TracerSubsegment) or entity._raw:
        own_metadata = isinstance(entity, TracerSubsegment) and not entity._raw_metadata
        redact_document(document, redaction.current(), config.max_capture_bytes(), convert_metadata=not own_metadata)
    body = _dumps(document)
    if len(body) > MAX_DOCUMENT_BYTES // 4 and len(body.encode()) > MAX_DOCUMENT_BYTES:
        body = shrink(document, len(body.encode()))
    return body


def _dumps(document: dict[str, Any]) -> str:
    """Strict, compact JSON: a NaN or Infinity the SDK let through becomes null (X-Ray rejects the tokens)."""
    try:
        return json.dumps(document, default=str, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return json.dumps(_finite(document), default=str, separators=(",", ":"), allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def redact_document(
    document: dict[str, Any], policy: redaction.Policy, max_bytes: int, convert_metadata: bool = True
) -> None:
    """Apply the redaction policy and X-Ray's limits to a document and its embedded subsegments, in place."""
    name = document.get("name")
    if isinstance(name, str):
        document["name"] = capture.clean_name(policy.mask_text(name[:MAX_URL_CHARS]))
    metadata = document.get("metadata")
    if convert_metadata and isinstance(metadata, dict):
        document["metadata"] = {
            str(namespace)[:MAX_NAME_CHARS]: _metadata_namespace(values, policy, max_bytes)
            for namespace, values in metadata.items()
            if isinstance(values, dict) and not str(namespace).startswith("AWS.")
        }
    annotations = document.get("annotations")
    if isinstance(annotations, dict):
        checked = {key: capture.annotation_value(key, value, policy) for key, value in annotations.items()}
        document["annotations"] = {key: value for key, value in checked.items() if value is not capture.DROPPED}
    http = document.get("http")
    if isinstance(http, dict):
        _mask_fields(http.get("request"), ("url",), policy)
        response = http.get("response")
        if isinstance(response, dict):  # X-Ray takes numbers only here
            for key in [key for key, value in response.items() if not _is_finite_number(value)]:
                del response[key]
    _mask_fields(document.get("sql"), ("url", "connection_string", "sanitized_query"), policy)
    aws = document.get("aws")
    if isinstance(aws, dict):
        document["aws"] = capture.to_metadata(aws, policy, max_bytes)
    _mask_messages(document.get("cause"), policy)
    for child in document.get("subsegments") or ():
        if isinstance(child, dict):
            redact_document(child, policy, max_bytes)


def _metadata_namespace(values: dict[Any, Any], policy: redaction.Policy, max_bytes: int) -> Any:
    converted = capture.to_metadata(values, policy, max_bytes)
    if isinstance(converted, dict):
        return {str(key)[:MAX_NAME_CHARS]: item for key, item in converted.items()}
    return converted


def _mask_fields(section: Any, fields: tuple[str, ...], policy: redaction.Policy) -> None:
    if isinstance(section, dict):
        for key in fields:
            if isinstance(section.get(key), str):
                section[key] = policy.mask_text(section[key][:MAX_URL_CHARS])


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _mask_messages(cause: Any, policy: redaction.Policy) -> None:
    """Exception messages in a document's (or an entity's) cause: without command lines, cut and masked."""
    if not isinstance(cause, dict):
        return
    for exception in cause.get("exceptions") or ():
        holder = exception if isinstance(exception, dict) else getattr(exception, "__dict__", {})
        message = holder.get("message")
        if isinstance(message, str):
            message = capture.command_hidden(str(holder.get("type", "")), message)
            holder["message"] = policy.mask_text(message[: capture.MAX_MESSAGE_CHARS])


def shrink(document: dict[str, Any], original: int) -> str:
    """Drop metadata, then exception detail, then the rest of the optional parts until the document fits,
    recording what was dropped; the subsegment itself is always sent."""
    if "metadata" in document:
        document["metadata"] = {
            "lambda_tracer": {"truncated": True, "reason": "document too large", "original_bytes": original}
        }
    text = _dumps(document)
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        for exception in (document.get("cause") or {}).get("exceptions", []) or []:
            exception["stack"] = exception.get("stack", [])[:5]
            exception["message"] = str(exception.get("message", ""))[:1000]
        text = _dumps(document)
    for optional in ("cause", "annotations", "subsegments", "http", "sql", "aws"):
        if len(text.encode()) <= MAX_DOCUMENT_BYTES:
            break
        document.pop(optional, None)
        text = _dumps(document)
    return text


#: The one context and emitter, shared by our fast path and (once it exists) the SDK's recorder.
CONTEXT = TaskLocalContext()
_emitter: BoundedUDPEmitter | None = None
_emitter_failed = False
_configured = False
#: The SDK recorder's default, used until the recorder exists.
MAX_TRACE_BACK = 10


def emitter() -> BoundedUDPEmitter | None:
    """The UDP emitter (reads ``AWS_XRAY_DAEMON_ADDRESS``); None when that address cannot be used.

    The failure is reported once, naming the variable, and remembered: every later invocation skips
    tracing at once instead of retrying (and leaking a socket) each time.
    """
    global _emitter, _emitter_failed
    if _emitter is None and not _emitter_failed:
        try:
            lambda_launcher.check_in_lambda()  # the SDK's init marker file, as its recorder would write it
            _emitter = BoundedUDPEmitter()
        except Exception as error:
            _emitter_failed = True
            address = config.shown(os.environ.get("AWS_XRAY_DAEMON_ADDRESS", ""))
            config.report_once(
                ("daemon address",),
                f"cannot send to AWS_XRAY_DAEMON_ADDRESS={address} ({config.error_place(error)}); recording nothing",
            )
    return _emitter


def recorder() -> Any:
    """The SDK's global ``xray_recorder``, configured with our context and emitter (built on first use)."""
    return sdk_import.complete().xray_recorder


def _configure(package: Any) -> None:
    """Runs as soon as the SDK's recorder exists, whoever made it exist (us, a library patch, user code)."""
    global _configured
    _configured = True
    try:
        package.xray_recorder.configure(context=CONTEXT, streaming_threshold=0)
        sender = emitter()
        if sender is not None:
            package.xray_recorder.configure(emitter=sender)
    except Exception as error:  # e.g. a malformed daemon address: the SDK keeps its own emitter
        logger.warning("lambda_tracer: could not configure the X-Ray recorder: %s", config.error_place(error))


sdk_import.when_complete(_configure)


class TracerSubsegment(Subsegment):  # type: ignore[misc]
    """A subsegment opened by our decorators.

    The tracer writes its name, annotations and metadata already validated, redacted and JSON-ready
    (capture.py), so its document is sent as it is: unless the escape hatch wrote on it through one of
    the SDK's methods below (``_raw``), or an exception was recorded (its message must be masked).
    """

    _raw_metadata = False
    _raw = False
    _tree_parent: Any = None
    metadata: dict[str, Any]

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self._raw_metadata = self._raw = True
        super().put_metadata(key, value, namespace)

    def put_annotation(self, key: str, value: Any) -> None:
        self._raw = True
        super().put_annotation(key, value)

    def put_http_meta(self, key: str, value: Any) -> None:
        self._raw = True
        super().put_http_meta(key, value)

    def set_aws(self, aws_meta: Any) -> None:
        self._raw = True
        super().set_aws(aws_meta)

    def set_sql(self, sql: Any) -> None:
        self._raw = True
        super().set_sql(sql)

    def add_exception(self, exception: Any, stack: Any, remote: bool = False) -> None:
        self._raw = True
        super().add_exception(exception, stack, remote)

    def add_subsegment(self, subsegment: Any) -> None:
        self._raw = True  # a child still open when this one ends is sent inside it
        super().add_subsegment(subsegment)

    def to_dict(self) -> dict[str, Any]:
        if self._raw_metadata:
            document: dict[str, Any] = super().to_dict()
        else:
            metadata, self.metadata = self.metadata, {}
            try:
                document = super().to_dict()
            finally:
                self.metadata = metadata
            if metadata:
                document["metadata"] = metadata
        document.pop("_tree_parent", None)
        document.pop("_raw_metadata", None)
        document.pop("_raw", None)
        return document


def begin(name: str) -> Any:
    """Open a subsegment under the current one; None when there is nothing to record into.

    Same rules as the SDK's ``begin_subsegment`` (nothing without a sampled invocation), without
    going through the recorder's generic lookups.
    """
    segment, stack = CONTEXT._current()
    parent = stack[-1] if stack else segment
    if not parent.sampled or getattr(segment, "initializing", False) or not global_sdk_config.sdk_enabled():
        return None
    if emitter() is None:
        return None  # the daemon address is unusable (reported once)
    subsegment = TracerSubsegment(name, "local", segment)
    subsegment._tree_parent = parent
    parent.add_subsegment(subsegment)  # what put_subsegment does, without looking the context up again
    _state.set((segment, (*stack, subsegment), _state.get()[2]))
    return subsegment


def end(subsegment: Any) -> None:
    """Close exactly ``subsegment`` and send it (with anything still attached) as one document.

    With a streaming threshold of 0 the SDK sends every finished subsegment on its own once its
    parent is still open; we do the same directly, instead of walking the whole invocation tree.
    """
    if not close_in_context(subsegment):
        return
    parent = getattr(subsegment, "_tree_parent", None)
    if parent is None or not getattr(parent, "in_progress", False):
        recorder().stream_subsegments()  # the parent ended first (unusual nesting): let the SDK decide
        return
    try:
        parent.remove_subsegment(subsegment)  # keeps the facade's counters right, as the SDK's streaming does
    except ValueError:
        return  # already streamed by the SDK
    sender = emitter()
    if sender is not None:
        sender.send_entity(subsegment)


def current_subsegment() -> Any:
    """The innermost open subsegment of this task, or None (never the immutable facade)."""
    _, stack = CONTEXT._current()
    return stack[-1] if stack else None


def add_exception(subsegment: Any, error: BaseException) -> None:
    limit = recorder().max_trace_back if _configured else MAX_TRACE_BACK
    # The innermost frames (where it was raised), not the outermost (our own wrapper), as the SDK does.
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if not frame.filename.startswith(_OWN_DIR)]
    stack = frames[-limit:] if limit else []
    subsegment.add_exception(error, stack)


@contextmanager
def suppressed() -> Iterator[None]:
    """Run a block under an unsampled placeholder, so clients patched by the SDK record nothing."""
    segment, stack = CONTEXT._current()
    token = _state.set((segment, (*stack, DummySubsegment(segment, "lambda_tracer.ignored")), _state.get()[2]))
    try:
        yield
    finally:
        _state.reset(token)
