"""The OTLP exporter (``LAMBDA_TRACER_EXPORTER=otlp``): the same finished spans, sent as OpenTelemetry spans.

The span model is xray.py's: this module only turns a finished span's document into an OTLP ``Span`` and sends
it. Names are the ones X-Ray mode sends, so filters and dashboards carry over; ids are the trace header's, so
the spans join the Lambda service's own segment.

* **Encoding**: the messages and our spans' common shapes in otlp_spans.py (kinds, attributes), calls' attributes
  and failures in otlp_calls.py (exceptions: status ERROR and an ``exception`` event), any other shape and the SDK's
  documents in otlp_documents.py. This module holds the settings, the resource, the batching and the transport.
* **Batching**: a span is kept on its trace until nothing of the task that ends it is open any more (the
  handler, or a top-level ``capture_method`` ended), then the trace's spans go together: one datagram when they
  fit. A span ending with nothing open (a thread's, a late one) goes at once.
* **Where**: UDP to ``AWS_XRAY_DAEMON_ADDRESS`` in ADOT's format (``T1S``/``T1U`` + base64 of an
  ``ExportTraceServiceRequest``), or, when ``OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`` is set, OTLP/HTTP protobuf
  there instead, with a short timeout (otlp_http.py).

Documents reach this module already redacted and bounded (capture.py, xray_documents.check_foreign). A span too
big for one datagram loses its metadata first, then exception detail, then the rest, and says so; none is
dropped silently. Settings are read once, when the exporter is chosen (init): the Tracer calls ``install`` then.
"""

from __future__ import annotations

import binascii
import os
import sys
import threading

from .. import __version__, coldstart, config
from . import otlp_spans, udp, xray

# Names read as attributes, not ``from .otlp_spans import``: each such statement costs the import system's Python.
_LENGTHS, _own, varint = otlp_spans._LENGTHS, otlp_spans._own, otlp_spans.varint
HANDLER_ANNOTATION = otlp_spans.HANDLER_ANNOTATION  # public names, where they were
resource_id = otlp_spans.resource_id

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

    from . import Finished

TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVICE_NAME = "OTEL_SERVICE_NAME"
RESOURCE_ATTRIBUTES = "OTEL_RESOURCE_ATTRIBUTES"

SAMPLED_MARKER = b"T1S"
UNSAMPLED_MARKER = b"T1U"
#: The longest datagram sent (header, marker and base64 included), as for X-Ray documents.
MAX_DATAGRAM_BYTES = 64_000
#: The largest ExportTraceServiceRequest that fits one datagram once base64-encoded.
MAX_UDP_REQUEST_BYTES = (MAX_DATAGRAM_BYTES - len(udp.HEADER) - len(SAMPLED_MARKER)) // 4 * 3
#: Requests to an OTLP/HTTP endpoint are split at this size (collectors refuse very large bodies).
MAX_HTTP_REQUEST_BYTES = 1024 * 1024
SCOPE_NAME = "lambda_tracer"

_lock = threading.Lock()
_prefix: tuple[bytes, bytes] | None = None


class Settings:
    """What the environment asked for, read at init: OTLP/HTTP's settings (otlp_http.py) with an endpoint, else UDP."""

    __slots__ = ("endpoint", "headers", "timeout")

    def __init__(self) -> None:
        self.endpoint: str | None = None
        self.headers: dict[str, str] = {}
        self.timeout = 0.5
        if config.get_raw(TRACES_ENDPOINT) is not None or config.get_raw(ENDPOINT) is not None:
            from . import otlp_http  # the HTTP transport and its settings, only then

            self.endpoint, self.headers, self.timeout = otlp_http.settings()


SETTINGS = Settings()


def configure() -> None:
    """Read the settings again (tests; the process reads them once at init)."""
    global SETTINGS, _prefix
    SETTINGS, _prefix = Settings(), None


# -- sending -----------------------------------------------------------------------------------------------


def install() -> None:
    """Make this the exporter of our X-Ray backend's spans (xray.py sends X-Ray documents while none is set).
    Called when ``LAMBDA_TRACER_EXPORTER=otlp`` by the Tracer, above both backends: xray.py never imports this
    module, and unsampled invocations are recorded too when ``LAMBDA_TRACER_OTLP_UNSAMPLED`` asks for ``T1U``."""
    xray.RECORD_UNSAMPLED = config.get_bool(config.OTLP_UNSAMPLED, False)
    xray.EXPORTER = sys.modules[__name__]


def export(document: dict[str, Any], trace: xray.Trace | None = None) -> None:
    """One finished span as its X-Ray document (an SDK subsegment, a span the escape hatch wrote on), recorded in
    ``trace`` (None: the current one), encoded by otlp_documents.py and sent as ours are. A document that cannot be
    read as a span is reported once and dropped: it never raises into the code that ended it."""
    try:
        from . import otlp_documents

        if trace is None:
            trace = xray.current()[0]
        for encoded in otlp_documents.spans(document, trace, _room()):
            _queue(encoded, trace)
    except Exception as error:
        config.report_once(
            ("otlp document", type(error).__name__),
            f"a document could not be sent as an OTLP span (the function is unaffected): {config.error_place(error)}",
        )


def encode(document: dict[str, Any], trace: xray.Trace, span: xray.XRaySpan | None = None) -> bytes:
    """The document (of ``span``, ours) as an OTLP ``Span`` small enough for one datagram: otlp_documents.encode."""
    from . import otlp_documents

    return otlp_documents.encode(document, trace, _room(), span)


def _room() -> int:
    """The most a span may take to fit one datagram beside the resource and the scope."""
    prefix = _prefix or request_prefix()
    return MAX_UDP_REQUEST_BYTES - len(prefix[0]) - len(prefix[1]) - 32


def _other(span: xray.XRaySpan, trace: xray.Trace, end_us: int, encoded: bytes | None) -> bytes:
    """One of our spans that ``_own`` left (None: a failure, or a rarer shape) or wrote too big to be sure it fits a
    datagram. A failure of a common shape is ``_own``'s with ``failure``'s part; the rest is written by
    otlp_documents.py, which handles any shape and shrinks what does not fit."""
    calls = otlp_spans._calls
    if calls is None:  # the first span with a call block or a failure: the module that writes them, then _own again
        from . import otlp_calls as calls

        if encoded is None and span.cause is None and not span.fault and not span.error:
            encoded = _own(span, trace, end_us)
    if encoded is None and (span.cause is not None or span.fault or span.error):  # a failure: of a common shape?
        encoded = _own(span, trace, end_us)
        if encoded is not None:
            encoded += calls.failure(span.cause, end_us * 1000, bool(span.fault or span.error))
    if encoded is None:
        from . import otlp_documents

        encoded = otlp_documents.from_span(span, trace, end_us)
    return encoded if len(encoded) <= _MAX_PLAIN_SPAN else encode(span.document(end_us), trace, span)


_XRaySpan, _PastSpan = xray.XRaySpan, xray.PastSpan
#: A span this small fits a datagram beside any resource (whose attributes are bounded): no need to look.
_MAX_PLAIN_SPAN = MAX_UDP_REQUEST_BYTES // 2


def _export(span: xray.XRaySpan, trace: xray.Trace, end_us: int) -> None:
    """``export_span`` for any span but a warm handler's like the last one: encoded from the span itself (no
    document is built), kept on its trace while something of the ending task is still open (it ends later and sends
    them all), else sent with those kept before it. This runs for every span, so the common case is written out in
    one function: the per-call cost of a Python function is a good part of a span's."""
    if (
        span.__class__ is _PastSpan
        and span.into is not None
        and span.cause is None
        and not span.fault
        and not span.error
        and span.sdk_view is None
    ):  # one of init's imports, up to a hundred at a cold start: kept for its root, which sends them all
        encoded = _own(span, trace, end_us)
        if encoded is not None and len(encoded) <= _MAX_PLAIN_SPAN:  # else the general path below
            with _lock:  # _ship's keeping, written out
                if trace.batch is None:
                    trace.batch = [encoded]
                else:
                    trace.batch.append(encoded)
            return
    if span.sdk_view is not None:  # the escape hatch wrote on it: its document merges what it wrote
        export(span.document(end_us), trace)
        return
    encoded = _own(span, trace, end_us) if span.cause is None and not span.fault and not span.error else None
    if encoded is None or len(encoded) > _MAX_PLAIN_SPAN:
        encoded = _other(span, trace, end_us, encoded)
    current, stack, _ = xray._state.get()  # the ending task's (no new header read: the trace is the span's)
    # A past span (init's imports) whose parent has not ended waits for it: a tree of a hundred imports goes in
    # one or two datagrams, not a hundred.
    keep = span.__class__ is _PastSpan and span.into is not None
    opener: Any = None
    if not keep and trace is current:
        for entry in stack:
            if (not entry.ended) if entry.__class__ is _XRaySpan else _open(entry):
                keep, opener = True, entry
                break
    if keep:  # kept on its trace, which the task's last span sends (``_ship``'s keeping, written out)
        with _lock:
            if trace.batch is None:
                trace.batch = [encoded]
            else:
                trace.batch.append(encoded)
        if opener is not None and (opener.ended if opener.__class__ is _XRaySpan else not _open(opener)):
            _send_kept(trace)
        return
    if trace.batch is not None or SETTINGS.endpoint:
        _ship(encoded, trace, False)
        return
    try:  # alone, over UDP: the common case (a handler without children)
        sender = udp._sender or udp.sender()
        if sender is not None:
            marker = SAMPLED_MARKER if trace.sampled == "1" else UNSAMPLED_MARKER
            sender.send(marker + udp_body(_prefix or request_prefix(), [encoded]))
    except Exception as error:
        _send_failed(error)


def export_span(span: xray.XRaySpan, end_us: int) -> None:
    """The seam's entry for our own spans. A warm handler span like the last one ``otlp_spans._own`` wrote
    (``warm``), with no failure or call block, is written here in one call: ``_own``'s bytes, sent alone or after the
    one span kept before it (an AWS call) with the last datagram's heads. Any other, or on any doubt: ``_export``."""
    trace, warm = span.trace, otlp_spans.warm
    if (
        span.annotations_text != warm[0]
        or span.cause is not None
        or span.fault
        or span.error
        or span.aws
        or span.http
        or span.sql
        or span.sdk_view is not None
    ):
        return _export(span, trace, end_us)
    event, context = _seam.invocation
    root: Any = trace.root
    parent_id = span.parent_id
    try:
        arn, request_id = context.invoked_function_arn, otlp_spans._runtime._GLOBAL_AWS_REQUEST_ID
        ids = _fromhex("".join(("0a10", root[2:10], root[11:], "1208", span.id, "2208", parent_id)))
        raw_id = request_id.encode()  # framed by its length in bytes, as string_attribute frames any text
    except (AttributeError, TypeError, ValueError):  # no context or runtime, ids not text: the general path decides
        return _export(span, trace, end_us)
    trigger, http = ("other", b"") if event.__class__ is dict and _TRIGGER_KEYS.isdisjoint(event) else _trigger(event)
    # The class, name, ARN and trigger the tail was written from, a request id of the length of warm's (its head:
    # ``warm[3]``), a Root of 35 characters and a Parent of 16 (xray.py keeps no other), in one comparison.
    if (span.__class__, span.name, arn, trigger, request_id.__class__, len(raw_id), len(ids)) != warm[1]:
        return _export(span, trace, end_us)
    invocation, metadata, spliced = warm[3], span.metadata, span.spliced
    if spliced is None:
        response = b""
        if metadata:
            return _export(span, trace, end_us)
    else:  # the response alone, the very value it was written from (``_own``'s check, with no call)
        namespace, key, value, text = spliced
        if metadata != {namespace: {key: value}} or metadata[namespace][key] is not value:
            return _export(span, trace, end_us)
        last = otlp_spans._response
        response = last[1] if (namespace, key, text) == last[0] else otlp_spans.response_attribute(spliced)
    # Literals, not globals (tests compare them): ``_own``'s kind SERVER and times' tags, ``_U64``, ``ColdStart`` false.
    start, end = span.start_us * 1000 & 0xFFFFFFFFFFFFFFFF, end_us * 1000 & 0xFFFFFFFFFFFFFFFF
    times = 0x41 << 88 | 0x390230 | start << 24 | end << 96
    sampled = trace.sampled == "1"
    flags = _FLAG_FIELDS[sampled][parent_id == trace.parent]
    cold = b"J\x0f\n\tColdStart\x12\x02\x10\x00J\x14\n\x0efaas.coldstart\x12\x02\x10\x00"
    head = b"".join((ids, times.to_bytes(20, "little"), cold, http, invocation, raw_id, response, flags))
    current, stack, _ = _state.get()
    batch, tail, lone, pair = trace.batch, warm[2], _lone, _pair
    if (stack and trace is current) or SETTINGS.endpoint:  # something may still be open, or HTTP: the general path
        return _export(span, trace, end_us)
    if batch is None and lone[0] is _prefix and lone[1] is tail and lone[2] == len(head):
        body = binascii.b2a_base64(lone[3] + head, newline=False) + lone[4]
    elif batch is not None and len(batch) == 1 and pair[0] is _prefix and pair[1] is tail:
        if pair[2] != (len(batch[0]), len(head)):
            return _export(span, trace, end_us)
        body = binascii.b2a_base64(b"".join((pair[3], batch[0], pair[4], head)), newline=False) + pair[5]
        with _lock:
            taken = trace.batch is batch and len(batch) == 1
            if taken:
                trace.batch = None
        if not taken:
            return _export(span, trace, end_us)
    else:
        return _export(span, trace, end_us)
    try:
        sender = udp._sender or udp.sender()
        if sender is not None:
            if (sock := sender.socket) is None:  # the first datagram of the process (or since a fork): made there
                sender.send((SAMPLED_MARKER if sampled else UNSAMPLED_MARKER) + body)
            else:  # Sender.send, without the call (as xray.py sends; a send that failed is made again)
                try:
                    sock.send(data := _HEADED_MARKERS[sampled] + body)
                except OSError as error:
                    sender.resend(sock, data, error)
    except Exception as error:
        _send_failed(error)


_fromhex, _FLAG_FIELDS = bytes.fromhex, otlp_spans._FLAG_FIELDS
#: The datagram header and the marker, by whether the trace is sampled.
_HEADED_MARKERS = (udp.HEADER + UNSAMPLED_MARKER, udp.HEADER + SAMPLED_MARKER)
_seam, _state, _trigger, _TRIGGER_KEYS = otlp_spans._seam, xray._state, otlp_spans._trigger, otlp_spans.TRIGGER_KEYS


def add_finished(span: xray.PastSpan, spans: list[Finished]) -> None:
    """``PastSpan.add_finished`` in otlp mode (init's imports, up to a hundred at a cold start): each plain span
    written straight from its tuple, as ``child_at`` then ``end_at`` would write it (``_own``'s bytes, each span
    after its children), with no span object; kept on the trace's batch, which ``span``'s end sends. A span that
    raised, or one too long to be sure it fits, goes through a past span (the general path), in its place."""
    trace, root = span.trace, span.trace.root
    if root.__class__ is not str or len(root) != 35 or span.ended:
        xray.XRaySpan.add_finished(span, spans)  # BackendSpan's: child_at, record_exception and end_at
        return
    pending: list[bytes] = []
    head = bytes.fromhex("0a10" + root[2:10] + root[11:] + "1208")
    _write(span, spans, bytes.fromhex(span.id), pending, head)
    if pending:
        _keep(trace, pending)


def _write(span: xray.PastSpan, spans: list[Finished], parent: bytes, pending: list[bytes], head: bytes) -> None:
    """``spans`` under the span whose id is ``parent`` (8 bytes) into ``pending`` (``head``: the trace id's field
    and the span id's tag), each after its own; the ids of a level drawn in one call, each span's bytes put together
    in one ``join``."""
    trace = span.trace
    ids = _urandom(8 * len(spans))
    tail = b"\x22\x08" + parent
    parent_id = parent.hex()
    flags = otlp_spans._FLAG_FIELDS[trace.sampled == "1"][parent_id == trace.parent]
    at = 0
    for name, start_time, end_time, error, children in spans:
        span_id = ids[at : at + 8]
        at += 8
        if children:
            _write(span, children, span_id, pending, head)
        start_us = round(start_time * 1_000_000)
        end_us = max(round(end_time * 1_000_000), start_us)
        if error is None:
            times = (
                _INTERNAL_KIND | (start_us * 1000 & _U64) << 24 | _END_TAG | (end_us * 1000 & _U64) << 96
            ).to_bytes(20, "little")
            raw = name.encode() if name.isascii() else b""  # framed here: names are new, and a call costs ~1 K
            if 0 < len(raw) < 0x80:
                encoded = b"".join((head, span_id, tail, times, b"\x2a", _LENGTHS[len(raw)], raw, flags))
            else:
                encoded = b"".join((head, span_id, tail, times, otlp_spans.framed_name(name), flags))
            if len(encoded) <= _MAX_PLAIN_SPAN:
                pending.append(encoded)
                continue
        if pending:  # what came before it goes first: the batch keeps the order the spans ended in
            _keep(trace, pending)
            pending.clear()
        child = xray.PastSpan(name, trace, parent_id, start_time, span.children)
        child.id = span_id.hex()
        if error is not None:
            child.record_exception(error)
        child.end_at(end_time, error)


def _keep(trace: xray.Trace, spans: list[bytes]) -> None:
    """Spans kept on their trace's batch, sent with it."""
    with _lock:
        if trace.batch is None:
            trace.batch = list(spans)
        else:
            trace.batch += spans


_urandom, _INTERNAL_KIND, _END_TAG, _U64 = os.urandom, otlp_spans._INTERNAL_KIND, otlp_spans._END_TAG, otlp_spans._U64


def _queue(encoded: bytes, trace: xray.Trace) -> None:
    """``export_span``'s last steps for a span encoded elsewhere (a document)."""
    current, stack, _ = xray._state.get()
    opener = next((entry for entry in stack if _open(entry)), None) if trace is current else None
    _ship(encoded, trace, opener is not None)
    if opener is not None and not _open(opener):
        _send_kept(trace)


def _send_kept(trace: xray.Trace) -> None:
    """The batch kept for an open span that ended since (another thread), maybe before: its end found none."""
    with _lock:
        batch, trace.batch = trace.batch, None
    if batch:
        send(batch, trace.sampled == "1")


def _send_failed(error: Exception) -> None:
    config.report_once(
        ("otlp send", type(error).__name__),
        f"sending OTLP spans failed (the function is unaffected): {config.error_place(error)}",
    )


def _ship(encoded: bytes, trace: xray.Trace, keep: bool) -> None:
    """Add a span to its trace's batch; send the batch when nothing of the ending task is open any more."""
    with _lock:
        batch: list[bytes] = trace.batch if trace.batch is not None else []
        batch.append(encoded)
        trace.batch = batch if keep else None
    if not keep:
        send(batch, trace.sampled == "1")


def _open(entry: Any) -> bool:
    """Whether a stack entry is a span still open: ours, or an SDK subsegment in progress."""
    return not entry.ended if isinstance(entry, xray.XRaySpan) else bool(getattr(entry, "in_progress", False))


def send(spans: list[bytes], sampled: bool) -> None:
    """The spans in as few requests as fit, to the OTLP/HTTP endpoint when set, else to the daemon over UDP."""
    try:
        prefix = _prefix or request_prefix()
        endpoint = SETTINGS.endpoint
        if endpoint:
            from . import otlp_http, otlp_split

            for request in otlp_split.requests(prefix, spans, MAX_HTTP_REQUEST_BYTES):
                otlp_http.post(endpoint, request, SETTINGS.headers, SETTINGS.timeout)
            return
        sender = udp._sender or udp.sender()
        if sender is not None:
            marker = SAMPLED_MARKER if sampled else UNSAMPLED_MARKER
            # The common cases: a span alone always fits (``encode`` made sure), a few small ones too.
            if len(spans) == 1 or sum(map(len, spans)) + 6 * len(spans) <= _ROOM - len(prefix[0]) - len(prefix[1]):
                sender.send(marker + udp_body(prefix, spans))
                return
            from . import otlp_split

            for group in otlp_split.groups(prefix, spans, MAX_UDP_REQUEST_BYTES - len(_PADS[-1])):
                sender.send(marker + udp_body(prefix, group))
    except Exception as error:
        _send_failed(error)


#: Empty ``schema_url`` fields (ResourceSpans' 3, then ScopeSpans' 3) that may precede the spans: see udp_body.
_PADS = (b"", b"\x1a\x00", b"\x1a\x00\x1a\x00")
#: What ``groups`` leaves for the spans of one datagram, less the resource and scope.
_ROOM = MAX_UDP_REQUEST_BYTES - len(_PADS[-1]) - 16


def udp_body(prefix: tuple[bytes, bytes], spans: list[bytes]) -> bytes:
    """Base64 of a request holding ``spans``, with what is the same in every datagram last (the scope, then the
    resource: protobuf takes fields in any order), so that its base64, made once, is appended as it is: base64
    works on 3-byte groups, so what comes before it is made a multiple of 3 bytes long with up to two empty
    ``schema_url`` fields (the ResourceSpans' one, once or twice: the last one counts, and it is empty as without
    them). Base64 costs ~19 instructions a byte, and the resource is about half of a handler's datagram. The
    handler's span ends with its name and attributes that repeat (``_own``): when it is the last span, that tail
    goes in the base64 made once too. A lone span as long as the last one has the same heads (``_lone``); the
    heads of a lone span and of a pair (the handler's after an AWS call's) are kept for ``export_span``."""
    global _lone, _pair
    last = spans[-1]
    memo = otlp_spans._handler_tail
    if memo[0] is last:  # the handler's span: its repeating tail goes with the scope and the resource
        tail, last_part = memo[2], memo[1]
    else:
        tail, last_part = b"", last
    known = _constant_base64
    if known[0] is not prefix or known[1] is not tail:
        known = _base64_of(prefix, tail)
    size = len(last)
    lone = _lone
    if lone[0] is prefix and lone[1] is tail and lone[2] == len(last_part) and len(spans) == 1:
        encoded: bytes = binascii.b2a_base64(lone[3] + last_part, newline=False) + lone[4]
        return encoded
    if len(spans) == 1:  # the common case, once per invocation: lengths written inline (a call costs ~400)
        if size < 0x80:
            body = b"\x12" + _LENGTHS[size]
        elif size < 0x4000:  # the tag and a two-byte varint, in one to_bytes
            body = (0x8012 | (size & 0x7F) << 8 | size >> 7 << 16).to_bytes(3, "little")
        else:
            body = b"\x12" + varint(size)
    else:
        parts: list[bytes] = []
        for item in spans[:-1]:  # each span's tag and length in one piece (a call costs ~1 K unspecialized)
            length = len(item)
            if length < 0x80:
                parts += (b"\x12" + _LENGTHS[length], item)
            elif length < 0x4000:
                parts += ((0x8012 | (length & 0x7F) << 8 | length >> 7 << 16).to_bytes(3, "little"), item)
            else:
                parts += (b"\x12" + varint(length), item)
        if size < 0x80:
            parts.append(b"\x12" + _LENGTHS[size])
        elif size < 0x4000:
            parts.append((0x8012 | (size & 0x7F) << 8 | size >> 7 << 16).to_bytes(3, "little"))
        else:
            parts.append(b"\x12" + varint(size))
        body = b"".join(parts)
    # ``body`` is all the spans but the last one's part (``last_part``, put in as it is: no copy).
    size = len(body) + len(last_part) + known[3]  # the ScopeSpans: the spans, then the tail and the scope
    if size < 0x80:
        scope_head = b"\x12" + _LENGTHS[size]
    elif size < 0x4000:
        scope_head = (0x8012 | (size & 0x7F) << 8 | size >> 7 << 16).to_bytes(3, "little")
    else:
        scope_head = b"\x12" + varint(size)
    before = len(scope_head) + len(body) + len(last_part)  # what precedes the constant part in the ResourceSpans
    inner = before + known[4]
    if 0x80 <= inner < 0x4000 - 4:  # the ResourceSpans' length takes two bytes whatever the padding
        pad = _PADS[before % 3]
        total = inner + len(pad)
        resource_head = (0x800A | (total & 0x7F) << 8 | total >> 7 << 16).to_bytes(3, "little")
        if len(spans) == 1:
            _lone = (prefix, tail, len(last_part), resource_head + pad + scope_head + body, known[2])
        elif len(spans) == 2 and tail:  # parts: the first span's head, that span, the last one's head
            heads = resource_head + pad + scope_head + parts[0]
            _pair = (prefix, tail, (len(spans[0]), len(last_part)), heads, parts[2], known[2])
        head = b"".join((resource_head, pad, scope_head, body, last_part))
        return binascii.b2a_base64(head, newline=False) + known[2]
    for pad in _PADS:
        total = inner + len(pad)
        head_size = 2 if total < 0x80 else 3 if total < 0x4000 else 4 if total < 0x200000 else 5
        if (head_size + len(pad) + before) % 3 == 0:
            head = b"".join((b"\x0a", varint(total), pad, scope_head, body, last_part))
            return binascii.b2a_base64(head, newline=False) + known[2]
    # A total at a varint edge (rare): the whole in base64.
    resource_field, scope_field = prefix
    whole = b"\x0a" + varint(inner) + scope_head + body + last_part + tail + scope_field + resource_field
    return binascii.b2a_base64(whole, newline=False)


def request_prefix() -> tuple[bytes, bytes]:
    """The resource and scope of every request, encoded once per sandbox (again after a restore, in a forked child)."""
    global _prefix
    if _prefix is None:
        spans = otlp_spans
        _prefix = spans.request_prefix(spans.resource(resource()), spans.scope(SCOPE_NAME, __version__))
    return _prefix


def _base64_of(prefix: tuple[bytes, bytes], tail: bytes) -> tuple[Any, bytes, bytes, int, int]:
    """(the prefix, the tail, the base64 of the tail, the scope and the resource, the size of the tail and the
    scope, the size of all three), remembered for the next datagram."""
    global _constant_base64
    resource_field, scope_field = prefix
    constant = tail + scope_field + resource_field
    _constant_base64 = (
        prefix,
        tail,
        binascii.b2a_base64(constant, newline=False),
        len(tail) + len(scope_field),
        len(constant),
    )
    return _constant_base64


_constant_base64: tuple[Any, bytes, bytes, int, int] = (None, b"", b"", 0, 0)
#: A lone span's datagram heads (what precedes its part) by the prefix, the tail and the part's length; the base64
#: of what follows it.
_lone: tuple[Any, bytes | None, int, bytes, bytes] = (None, None, 0, b"", b"")
#: Two spans' (the handler's last): by the prefix, the tail and both lengths, the heads before each and the base64.
_pair: tuple[Any, bytes | None, tuple[int, ...], bytes, bytes, bytes] = (None, None, (), b"", b"", b"")


def _forget_prefix(fork: bool = False) -> None:
    """A new sandbox: a restored one, or a forked child (as coldstart.py has it), where no thread holds ``_lock``."""
    global _prefix, _lock
    _prefix = None
    if fork:  # a thread of the parent's may have held it at the fork: nothing would release the child's copy
        _lock = threading.Lock()


coldstart.on_restore(_forget_prefix)
os.register_at_fork(after_in_child=lambda: _forget_prefix(fork=True))


def resource() -> dict[str, Any]:
    """The sandbox in OTel's Lambda conventions (as ADOT sets them) and ``OTEL_RESOURCE_ATTRIBUTES``; ``service.name``
    from ``OTEL_SERVICE_NAME``, the Powertools service or the function's name."""
    get = config.get_raw  # os.environ.get's value, without its Python-level mapping (~2 K instructions a read)
    function = get("AWS_LAMBDA_FUNCTION_NAME")
    values: dict[str, Any] = {
        "service.name": config.get_str(SERVICE_NAME) or config.service_from_env() or function or "unknown_service",
        "cloud.provider": "aws",
        "cloud.platform": "aws_lambda",
        "telemetry.sdk.name": "lambda-tracer",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.version": __version__,
    }
    for key, variable in (
        ("cloud.region", "AWS_REGION"),
        ("faas.name", "AWS_LAMBDA_FUNCTION_NAME"),
        ("faas.version", "AWS_LAMBDA_FUNCTION_VERSION"),
        ("faas.instance", "AWS_LAMBDA_LOG_STREAM_NAME"),
    ):
        value = get(variable)
        if value:
            values[key] = value
    memory = get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or ""
    if memory.isdigit() and len(memory) < 8:
        values["faas.max_memory"] = int(memory) * 1024 * 1024  # MB, in bytes as the convention wants
    group = get("AWS_LAMBDA_LOG_GROUP_NAME")
    if group:
        values["aws.log.group.names"] = [group]
    for pair in (config.get_raw(RESOURCE_ATTRIBUTES) or "").split(","):
        key, equals, value = pair.partition("=")
        if pair.strip() and not (equals and key.strip()):  # as OTel's SDK: reported, never quoted (it may be a secret)
            config.report_once(("otlp resource",), f"ignoring a malformed entry of {RESOURCE_ATTRIBUTES}")
        elif equals and key.strip() and len(values) < 128:
            if "%" in value:
                from urllib.parse import unquote

                value = unquote(value)
            values.setdefault(key.strip()[:256], value.strip()[:1024])
    return values
