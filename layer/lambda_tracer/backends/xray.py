"""Our own X-Ray backend: subsegments recorded in plain Python objects and sent as documents over UDP.

* **The trace** comes from the invocation's header, ``_X_AMZN_TRACE_ID``, which the runtime sets before
  each invocation. Root and Parent are kept only when valid (cut to a valid prefix), so every document has
  ids X-Ray accepts; without a sampled trace nothing is recorded.
* **The current span** is the top of a stack kept in a ``contextvars.ContextVar`` as an immutable tuple:
  each asyncio task sees its own stack, and a span ends exactly itself, never "the top". The SDK backend
  puts its own subsegments on the same stack, so spans and SDK subsegments nest under one another.
* **Each span is sent complete, as its own document, when it ends**, with a new id from ``os.urandom``
  (unique after a fork or a SnapStart restore). A span whose parent already ended is still sent.
"""

from __future__ import annotations

import _contextvars as contextvars  # what contextvars.py re-exports, without its import at a cold start
import contextlib
import os
import time
from collections.abc import Iterator

from .. import config, redaction
from . import Backend, BackendSpan, udp, xray_documents

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

    from . import Finished

TRACE_HEADER_ENV = "_X_AMZN_TRACE_ID"
SDK_ENABLED_ENV = "AWS_XRAY_SDK_ENABLED"
_HEADER_KEY = config.environ_key(TRACE_HEADER_ENV)
_SDK_ENABLED_KEY = config.environ_key(SDK_ENABLED_ENV)

#: Lambda's own header, ``Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>`` (lowercase hex), is recognised
#: by its shape: each hex digit translated to a 0 byte (and a 0 byte to 1, so nothing else becomes one), the
#: rest kept, then compared with the shape of one such header. A few C calls, no regex to compile at a cold start.
_SHAPE = bytes.maketrans(b"0123456789abcdef\0", bytes(16) + b"\1")
_LAMBDA_SHAPE = b"Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0".translate(_SHAPE)
#: Exceptions remembered per trace, so a parent span can point at the child's record of the same one.
_MAX_CAUSES = 64


class Trace:
    """One invocation's trace, from its header: what documents are sent under, and whether they are. No
    ``__slots__``: what most invocations never set (``causes``, ``sdk_facade``, ``batch``) stays a class default."""

    #: id(exception) -> (exception, the id of its record): a parent span's cause points at the child's.
    causes: dict[int, tuple[BaseException, str]] | None = None
    #: The SDK's view of this trace, made by the SDK backend when it is in use.
    sdk_facade: Any = None
    #: Spans ended but not yet sent, kept by an exporter that sends per invocation (otlp.py).
    batch: Any = None

    def __init__(self, root: str | None, parent: str | None, sampled: str | None, data: dict[str, str]) -> None:
        self.root, self.parent, self.sampled, self.data = root, parent, sampled, data
        #: Sampled, with a Root and Parent X-Ray accepts, and X-Ray not switched off.
        self.recording = bool(root and parent and (sampled == "1" or (sampled == "0" and RECORD_UNSAMPLED))) and (
            config.ENVIRON.get(_SDK_ENABLED_KEY) is None or config.get_bool(SDK_ENABLED_ENV, True)
        )


def parse_header(raw: str | None) -> Trace:
    """The invocation's trace header, keeping only what X-Ray can use (xray_header.py: a Root or Parent X-Ray would
    reject left out, a few short, plain extra fields kept); Lambda's own form read by its shape (``_lambda_trace``)."""
    if raw is not None and len(raw) == 74 and raw.isascii():
        exact = _lambda_trace(raw.encode())
        if exact is not None:
            return exact
    from .xray_header import parsed  # any other form: its regexes compiled when the first comes

    return Trace(*parsed(raw))


def _lambda_trace(raw: bytes) -> Trace | None:
    """The trace of a header in Lambda's own form (what ``parse_header`` gives for it, at a fifth of the cost);
    None for any other header."""
    if (
        raw.translate(_SHAPE) == _LAMBDA_SHAPE  # 74 bytes: hex digits where the ids are, the separators elsewhere
        and raw.startswith(b"Root=1-")  # and the separators' own hex letters and digit, exactly
        and raw.startswith(b";Parent=", 40)
        and raw.endswith((b";Sampled=1", b";Sampled=0"))
    ):
        text = raw.decode()
        trace = _new_object(Trace)  # Trace(text[5:40], text[48:64], text[73], {}), without the call to __init__
        trace.root = text[5:40]
        trace.parent = text[48:64]
        trace.sampled = sampled = text[73]
        trace.data = {}
        trace.recording = (sampled == "1" or RECORD_UNSAMPLED) and (  # __init__'s, with a Root and a Parent
            config.ENVIRON.get(_SDK_ENABLED_KEY) is None or config.get_bool(SDK_ENABLED_ENV, True)
        )
        return trace
    return None


_NO_TRACE = Trace(None, None, None, {})
#: The header a task's state was built from, before it looked at any.
_UNSEEN = "\0unseen"

# (trace, open entries innermost last, the header it was built from) of the current task. Entries are our
# spans, the SDK's subsegments, and Suppressed markers.
_state: contextvars.ContextVar[tuple[Trace, tuple[Any, ...], Any]] = contextvars.ContextVar(
    "lambda_tracer_xray_state", default=(_NO_TRACE, (), _UNSEEN)
)


class Suppressed:
    """A stack entry under which nothing is recorded (``ignore_endpoint``)."""

    __slots__ = ("id",)
    sampled = False

    def __init__(self, parent_id: str | None) -> None:
        self.id = parent_id


def current() -> tuple[Trace, tuple[Any, ...]]:
    """(trace, open entries) for the invocation now running: a new trace whenever the header changes. Unlike the
    X-Ray SDK's, never the old one when the Root repeats or the header is gone (it would mix the invocations)."""
    trace, stack, seen = _state.get()
    raw = config.ENVIRON.get(_HEADER_KEY)  # compared as os.environ keeps it: decoded only when it changed
    if raw == seen:
        return trace, stack
    _state.set((trace := _trace_of(raw), (), raw))
    return trace, ()


def _trace_of(raw: Any) -> Trace:
    """The trace of a header as ``ENVIRON`` holds it (None when unset)."""
    return _NO_TRACE if not raw else (type(raw) is bytes and _lambda_trace(raw)) or parse_header(config.decoded(raw))


def clear() -> None:
    """Forget this task's trace and open entries."""
    _state.set((_NO_TRACE, (), _UNSEEN))


def push(entry: Any) -> None:
    trace, stack, seen = _state.get()
    _state.set((trace, (*stack, entry), seen))


def detach(entry: Any, marked: str | None = None) -> None:
    """Drop ``entry`` from this task's stack, with what above it descends from it (with ``marked``, only descendants
    with that attribute set: otel.py's OTel API spans). The rest stays: e.g. a span the caller opened while a traced
    generator was suspended, which must not be closed by the generator finishing."""
    trace, stack, seen = _state.get()
    if stack and stack[-1] is entry:  # the common case: the innermost ends
        _state.set((trace, stack[:-1], seen))
        return
    if entry not in stack:
        return
    position = stack.index(entry)
    dropped = {entry.id}
    kept = list(stack[:position])
    for above in stack[position + 1 :]:
        if getattr(above, "parent_id", None) in dropped and (marked is None or getattr(above, marked, False)):
            dropped.add(above.id)
        else:
            kept.append(above)
    _state.set((trace, tuple(kept), seen))


def attach(entry: Any) -> None:
    """Put an open entry back on top of this task's stack (a traced generator resuming, a context attached)."""
    trace, stack = current()  # read first: in another thread, the first read of the header would empty the stack
    own = getattr(entry, "trace", trace)  # the same invocation's: its trace, whose batch otlp.py sends; never another's
    if entry not in stack and own.root == trace.root:  # (a generator kept from an earlier invocation: not its parent)
        _state.set((own, (*stack, entry), _state.get()[2]))


def send(document: dict[str, Any], trace: Trace | None = None) -> None:
    """Encode and send one document (nothing if the daemon address is unusable). The export seam: in ``otlp``
    mode the OTLP exporter takes the document instead (``trace``: the one it was recorded in, if known)."""
    if EXPORTER is not None:
        EXPORTER.export(document, trace)
    elif (sender := udp.sender()) is not None:
        sender.send(xray_documents.encode(document))


def send_foreign(document: dict[str, Any]) -> None:
    """Send a document someone else wrote (an SDK subsegment): redacted and checked first."""
    xray_documents.check_foreign(document, redaction.current(), config.max_capture_bytes())
    send(document)


_urandom, _ids, _new_object, _time_ns = os.urandom, xray_documents.ids, object.__new__, time.time_ns
_json_string, _dumps = xray_documents.json_string, xray_documents.dumps


def _after_fork() -> None:
    """A forked child never ends nor sends the spans open at the fork: the parent does (docs/execution-models.md)."""
    for entry in _state.get()[1]:
        if isinstance(entry, XRaySpan):
            entry.ended = True
            entry.trace.batch = None  # what an exporter kept on the trace: the parent's too


os.register_at_fork(after_in_child=_after_fork)


def new_id() -> str:
    return _urandom(8).hex()


class XRaySpan(BackendSpan):
    """One of our subsegments, while it is open. No ``__slots__`` (``BackendSpan`` has none, so there is an instance
    dict anyway): what most spans never set is a class default, and opening one is six stores."""

    sampled = True
    #: X-Ray's ``http``, ``aws`` and ``sql`` blocks (``sql``: sqlite3, OTel's ``db.*``), already valid and masked.
    http: dict[str, Any] | None = None
    aws: dict[str, Any] | None = None
    sql: dict[str, Any] | None = None
    cause: dict[str, Any] | str | None = None
    error = fault = throttle = False
    #: The SDK's view of this span, made when the escape hatch asks for the current subsegment.
    sdk_view: Any = None
    ended = False
    #: namespace -> key -> value: the class's empty dict (never written to) until the first (``add_metadata``).
    metadata: dict[str, dict[str, Any]] = {}  # noqa: RUF012
    #: (namespace, key, value, its JSON text) of metadata recorded with its text (a response) while the only metadata.
    spliced: tuple[str, str, Any, str] | None = None
    #: ``,"annotations":{...}`` while the annotations are only the handler's own, whose text was written once
    #: (``annotate_all``); every write through ``annotate`` and ``annotate_all`` drops it.
    annotations_text: str | None = None

    def __init__(
        self,
        name: str,
        trace: Trace,
        parent_id: str,
        namespace: str = "local",
        annotations: tuple[dict[str, Any], str] | None = None,
    ) -> None:
        self.name = name
        try:
            self.id = _ids.pop()  # drawn ahead (xray_documents.ids), not one os.urandom call each
        except IndexError:
            self.id = xray_documents.more_ids()
        self.parent_id = parent_id
        self.trace = trace
        #: Microseconds since the epoch: X-Ray's recommended resolution, and written as text without a float repr.
        self.start_us = _time_ns() // 1000
        #: ``local`` for our functions; ``aws`` and ``remote`` for calls to AWS and to HTTP services.
        self.namespace = namespace
        self.annotations: dict[str, Any]
        if annotations is None:
            self.annotations = {}
        else:  # the handler's (XRayBackend.start_span): annotate_all(*annotations), without the call
            self.annotations, self.annotations_text = annotations

    def annotate(self, key: str, value: str | int | float | bool) -> None:
        if self.annotations_text is not None:  # the handler's, shared with other invocations (handler_annotations)
            # One copy for the span, whichever thread writes first (threads with a copied context may write at once):
            # the first copy set in the instance dict is the one all keep (dict.setdefault is atomic).
            self.annotations = self.__dict__.setdefault("own_annotations", self.annotations.copy())
            self.annotations_text = None
        self.annotations[key] = value

    def annotate_all(self, annotations: dict[str, str | int | float | bool], text: str | None = None) -> None:
        """``text`` (``,"annotations":{...}``, the handler's, written once for all warm invocations) is kept while
        these are the span's only annotations; ``annotations`` is then shared, and copied before a write."""
        if text is not None and not self.annotations:
            self.annotations = annotations
            self.annotations_text = text
        else:
            self.annotations = {**self.annotations, **annotations}
            self.annotations_text = None

    def add_metadata(self, namespace: str, key: str, value: Any) -> None:
        if not self.metadata:  # the class's empty one, never written to: one dict for threads writing at once
            self.metadata = self.__dict__.setdefault("metadata", {})
        self.metadata.setdefault(namespace, {})[key] = value
        self.spliced = None  # no longer the only metadata

    def add_encoded_metadata(self, namespace: str, key: str, value: Any, text: str) -> None:
        """Kept as ``spliced`` while it is the span's only metadata (every write goes through these two methods)."""
        if self.metadata:
            self.spliced = None
            self.metadata.setdefault(namespace, {})[key] = value
        else:  # the first: the span's own dict, instead of the class's empty one
            self.spliced = (namespace, key, value, text)
            self.metadata = {namespace: {key: value}}

    def record_exception(self, error: BaseException) -> None:
        """X-Ray's ``fault`` and ``cause``; the same exception seen by an inner span is pointed at by id."""
        self.fault = True
        causes = self.trace.causes
        if causes is None:
            causes = self.trace.causes = {}
        recorded = causes.get(id(error))
        if recorded is not None and recorded[0] is error:
            self.cause = recorded[1]
            return
        exception_id = new_id()
        entry = xray_documents.exception_entry(error, exception_id)
        self.cause = {"working_directory": os.getcwd(), "exceptions": [entry]}
        if len(causes) < _MAX_CAUSES:
            causes[id(error)] = (error, exception_id)

    def end(self, error: BaseException | None = None) -> None:
        if self.ended:  # twice, or in a forked child, one open at the fork (_after_fork): out of the way, not sent
            detach(self)
            return
        self.ended = True
        end_us = _time_ns() // 1000
        trace, stack, seen = _state.get()
        if stack and stack[-1] is self:  # detach(self), the common case inlined: the innermost ends
            _state.set((trace, stack[:-1], seen))
        else:
            detach(self)
        # The one place a finished span of ours leaves: its document in one datagram, or to the OTLP exporter.
        if EXPORTER is not None:
            EXPORTER.export_span(self, end_us)
        elif (sender := udp._sender or udp.sender()) is not None:  # the sender once made, else made now
            if (sock := sender.socket) is None:  # the process's first datagram (or since a fork): the socket made
                sender.send(self.encoded(end_us))
            else:  # Sender.send, without the call (a send that failed is made again: see udp.Sender)
                try:
                    sock.send(data := udp.HEADER + self.encoded(end_us))
                except OSError as error:
                    sender.resend(sock, data, error)

    @property
    def start_time(self) -> float:
        """Seconds since the epoch, as X-Ray's documents give times."""
        return self.start_us / 1_000_000

    def encoded(self, end_us: int) -> bytes:
        """``xray_documents.encode(self.document(end_us))``, the same bytes for less than half the cost: the fixed
        part written as text (our id is hex, the times are written as the encoder writes them), each optional part
        by the prebuilt encoder, and a response recorded with its text (``spliced``) put in as that text rather than
        encoded again. A span the SDK wrote on, or one too large, takes the general path (merging, shrinking)."""
        if self.sdk_view is not None or self.trace.root.__class__ is not str:  # the SDK wrote on it, or no Root
            return xray_documents.encode(self.document(end_us))
        string: Any = _json_string  # raises TypeError for a None
        start_us = self.start_us
        if 1_000_000 <= start_us <= end_us < 8_589_934_592_000_000:  # times(start_us, end_us), without the call
            start, end = str(start_us), str(end_us)
            written = (
                f'"start_time":{start[:-6]}.{start[-6:].rstrip("0") or "0"},'
                f'"end_time":{end[:-6]}.{end[-6:].rstrip("0") or "0"}'
            )
        else:
            written = xray_documents.times(start_us, end_us)
        try:
            text = (
                f'{{"id":"{self.id}","name":{string(self.name)},{written},'
                f'"type":"subsegment","trace_id":"{self.trace.root}",'  # an X-Ray id (parse_header): no escapes
                f'"parent_id":{string(self.parent_id)},"namespace":{string(self.namespace)}'
            )
        except TypeError:  # not a str where ours always are: the encoder decides
            return xray_documents.encode(self.document(end_us))
        dumps = _dumps
        if self.annotations_text is not None:
            text += self.annotations_text
        elif self.annotations:
            text += ',"annotations":' + dumps(self.annotations)
        spliced = self.spliced
        if spliced is not None:  # only a response recorded with its text: put in as it is, not encoded again
            text += f',"metadata":{{{string(spliced[0])}:{{{string(spliced[1])}:{spliced[3]}}}}}'
        elif self.metadata:
            text += ',"metadata":' + dumps(self.metadata)
        if self.sql or self.error or self.fault or self.throttle or self.cause is not None:
            text += "," + dumps(xray_documents.blocks(self, {}))[1:]
        elif self.http and self.aws:  # an AWS call that answered: blocks() without its call
            text += "," + dumps({"http": self.http, "aws": self.aws})[1:]
        elif self.http or self.aws:
            text += "," + dumps(xray_documents.blocks(self, {}))[1:]
        else:
            text += "}"
        if len(text) > xray_documents.MAX_DOCUMENT_BYTES:  # ASCII: as many bytes as characters
            return xray_documents.encode(self.document(end_us))
        return text.encode()

    def document(self, end_us: int) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "start_time": self.start_us / 1_000_000,
            "end_time": end_us / 1_000_000,
            "type": "subsegment",
            "trace_id": self.trace.root,
            "parent_id": self.parent_id,
            "namespace": self.namespace,
        }
        if self.annotations:
            document["annotations"] = self.annotations.copy()  # merge_foreign writes in it, and it may be shared
        if self.metadata:
            document["metadata"] = self.metadata
        xray_documents.blocks(self, document)
        if self.sdk_view is not None:
            xray_documents.merge_foreign(document, self.sdk_view.to_dict())
        return document

    def outgoing_header(self) -> str:
        """The ``X-Amzn-Trace-Id`` for a call made inside this span: the invocation's Root, this span as
        Parent, the same sampling decision, and the fields Lambda passed on (``Lineage``)."""
        data = self.trace.data
        extra = "".join([f";{key}={value}" for key, value in data.items()]) if data else ""  # Lambda's: none
        return f"Root={self.trace.root};Parent={self.id};Sampled=1{extra}"

    def suspend(self) -> None:
        detach(self)

    def resume(self) -> None:
        if not self.ended:
            attach(self)


class PastSpan(XRaySpan):
    """A span recorded after the fact (init's imports, init_trace.py): never the current span, since nothing runs
    inside it. Its children travel inside its document, as X-Ray's embedded subsegments, so a tree of a hundred
    imports is one datagram, not a hundred; each is sent on its own when together they would not fit."""

    __slots__ = ("children", "into")

    def __init__(self, name: str, trace: Trace, parent_id: str, start_time: float, into: list[Any] | None) -> None:
        super().__init__(name, trace, parent_id)
        self.start_us = round(start_time * 1_000_000)
        #: (document, its own children) of each child that ended, in the order they ended.
        self.children: list[tuple[bytes, list[Any]]] = []
        #: Where this one's document goes when it ends: its parent's children (None: sent then).
        self.into = into

    def child_at(self, name: str, start_time: float) -> PastSpan:
        return PastSpan(name, self.trace, self.id, start_time, None if self.ended else self.children)

    def add_finished(self, spans: list[Finished]) -> None:
        """The children's documents written straight from the tuples, the same bytes as ``child_at`` and
        ``end_at`` would make: no span object per child (a hundred on a cold start), the parts they share written
        once, the ids of a level drawn in one call. A child that raised goes through a span, for its ``cause``."""
        if EXPORTER is not None and not self.ended:  # otlp: its own one-pass writer (otlp.add_finished)
            EXPORTER.add_finished(self, spans)
            return
        if EXPORTER is not None or self.ended or self.trace.root.__class__ is not str:
            super().add_finished(spans)  # otlp, a tree already sent, a trace without a Root: the general path
            return
        _write_finished(self, spans, self.id, self.children, xray_documents.json_string(self.trace.root))

    def end(self, error: BaseException | None = None) -> None:
        self.end_at(time.time(), error)

    def end_at(self, end_time: float, error: BaseException | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        end_us = max(round(end_time * 1_000_000), self.start_us)
        if EXPORTER is not None:  # otlp: a span like any other
            EXPORTER.export_span(self, end_us)
            return
        node = (self.encoded(end_us), self.children)
        if self.into is not None:
            self.into.append(node)
            return
        sender = udp.sender()
        if sender is None:
            return
        whole = xray_documents.embedded(node)
        for body in [whole] if len(whole) <= xray_documents.MAX_DOCUMENT_BYTES else xray_documents.each_document(node):
            sender.send(body)


def _write_finished(span: PastSpan, spans: list[Finished], parent_id: str, into: list[Any], trace_id: str) -> None:
    """``spans`` under ``parent_id``, each as (document, its children's, or ``()``) appended to ``into``: the bytes
    ``child_at`` and ``end_at`` would make. Nothing is made per level but the children's list: a tree of imports is
    mostly one child per level, so the ids come from the pool every span draws from (``xray_documents.ids``, 64 per
    ``os.urandom`` call) and the fields the spans of a level share are written in each span's text. A leaf (most
    imports) gets no list. A child that raised goes through a span, for its ``cause``."""
    string = xray_documents.json_string
    for name, start_time, end_time, error, children in spans:
        try:
            span_id = _ids.pop()  # drawn ahead, as XRaySpan's
        except IndexError:
            span_id = xray_documents.more_ids()
        below: Any = ()
        if children:
            below = []
            _write_finished(span, children, span_id, below, trace_id)
        start_us = round(start_time * 1_000_000)
        end_us = round(end_time * 1_000_000)
        if error is None and 1_000_000 <= start_us <= end_us < 8_589_934_592_000_000:  # times(), inlined
            start, end = str(start_us), str(end_us)
            into.append(
                (
                    f'{{"id":"{span_id}","name":{string(name)},'
                    f'"start_time":{start[:-6]}.{start[-6:].rstrip("0") or "0"},'
                    f'"end_time":{end[:-6]}.{end[-6:].rstrip("0") or "0"},"type":"subsegment",'
                    f'"trace_id":{trace_id},"parent_id":"{parent_id}","namespace":"local"}}'.encode(),
                    below,
                )
            )
        else:
            child = PastSpan(name, span.trace, parent_id, start_time, None)
            child.id = span_id
            if error is not None:
                child.record_exception(error)
            into.append((child.encoded(max(end_us, start_us)), below))


class EntrySpan(BackendSpan):
    """An SDK subsegment on top of the stack, written to as the SDK would (its document is checked when sent)."""

    def __init__(self, entry: Any) -> None:
        self.entry = entry

    def annotate(self, key: str, value: str | int | float | bool) -> None:
        self.entry.annotations[key] = value

    def add_metadata(self, namespace: str, key: str, value: Any) -> None:
        self.entry.metadata.setdefault(namespace, {})[key] = value


class XRayBackend(Backend):
    """The default backend: our spans over UDP, and the SDK loaded only for what needs it."""

    annotates_on_start = True

    def start_span(
        self, name: str, namespace: str = "local", annotations: tuple[dict[str, Any], str] | None = None
    ) -> XRaySpan | None:
        """``annotations``: the handler's, and their text (``annotate_all``), the span's own."""
        trace, stack, seen = _state.get()
        raw = config.ENVIRON.get(_HEADER_KEY)
        if raw != seen:  # a new invocation: current() inlined, so the state is set once
            if (  # Lambda's own form: _lambda_trace(raw), without the call
                raw.__class__ is bytes
                and raw.translate(_SHAPE) == _LAMBDA_SHAPE
                and raw.startswith(b"Root=1-")
                and raw.startswith(b";Parent=", 40)
                and raw.endswith((b";Sampled=1", b";Sampled=0"))
            ):
                text = raw.decode()
                trace = _new_object(Trace)
                trace.root = text[5:40]
                trace.parent = text[48:64]
                trace.sampled = sampled = text[73]
                trace.data = {}
                trace.recording = (sampled == "1" or RECORD_UNSAMPLED) and (
                    config.ENVIRON.get(_SDK_ENABLED_KEY) is None or config.get_bool(SDK_ENABLED_ENV, True)
                )
            else:
                trace = _trace_of(raw)
            stack, seen = (), raw
            if not trace.recording:
                _state.set((trace, (), raw))
                return None
        elif not trace.recording:
            return None
        parent = stack[-1] if stack else None
        if parent is not None and not parent.sampled:
            return None  # under a suppressed call, or an unsampled SDK subsegment
        if (udp._sender or udp.sender()) is None:
            _state.set((trace, stack, seen))
            return None  # the daemon address is unusable (reported once)
        span = XRaySpan(name, trace, parent.id if parent is not None else trace.parent or "", namespace, annotations)
        _state.set((trace, stack + (span,), seen))  # noqa: RUF005 (one concatenation: cheaper than unpacking here)
        return span

    def start_span_at(self, name: str, start_time: float) -> PastSpan | None:
        trace, stack = current()
        if not trace.recording:
            return None
        parent = stack[-1] if stack else None
        if (parent is not None and not parent.sampled) or (EXPORTER is None and udp.sender() is None):
            return None
        return PastSpan(name, trace, parent.id if parent is not None else trace.parent or "", start_time, None)

    def current_span(self) -> BackendSpan | None:
        """Our innermost span, or an SDK subsegment opened inside it (through the escape hatch)."""
        _, stack = current()
        if not stack or not stack[-1].sampled:
            return None
        top = stack[-1]
        return top if isinstance(top, XRaySpan) else EntrySpan(top)

    @contextlib.contextmanager
    def suppressed(self) -> Iterator[None]:
        trace, stack, seen = _state.get()
        token = _state.set((trace, (*stack, Suppressed(stack[-1].id if stack else None)), seen))
        try:
            yield
        finally:
            _state.reset(token)

    def escape_hatch(self) -> Any:
        from . import sdk

        return sdk.recorder()


BACKEND = XRayBackend()


#: The exporter of our spans, set by otlp.install (the Tracer's choice: this module never imports otlp.py); None: X-Ray.
EXPORTER: Any = None
#: Unsampled invocations are recorded too, for the OTLP exporter to send as ``T1U`` (Transaction Search).
RECORD_UNSAMPLED: bool = False
