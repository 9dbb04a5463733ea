"""OTLP's protobuf messages, written by hand: the few that an ``ExportTraceServiceRequest`` needs.

No protobuf or opentelemetry package is imported (they cost more than the whole tracer at a cold start, and
the function may pin other versions). The field numbers are those of opentelemetry-proto's
``trace/v1/trace.proto``, ``common/v1/common.proto`` and ``resource/v1/resource.proto``; the tests decode
every message with opentelemetry-proto itself. Each function returns a message's bytes, so a caller can encode a
span once, when it ends, and put it in as many requests as it likes. A failure's part of a span (its ``exception``
events and status) is written here too (``failure``), for otlp_spans.py and otlp_documents.py alike.
"""

from __future__ import annotations

from math import copysign

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

# Span.kind
INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER = 1, 2, 3, 4, 5
# Status.code
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
# Span.flags: the W3C trace flags (bit 0: sampled), and whether the parent is remote (bits 8 and 9).
FLAG_SAMPLED = 0x01
FLAG_HAS_IS_REMOTE = 0x100
FLAG_IS_REMOTE = 0x200
#: Nesting kept in an attribute value (arrays and key-value lists); deeper values become strings.
MAX_DEPTH = 16
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_U64 = (1 << 64) - 1
#: Span names as ``Span.name`` fields, remembered (names repeat: ``## handler``, a host, a method).
_names: dict[str, bytes] = {}


def varint(value: int) -> bytes:
    """An unsigned varint; a negative value as its 64-bit two's complement (protobuf's int64)."""
    if 0 <= value < 0x80:
        return bytes((value,))
    if 0 < value < 0x4000:
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    value &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field(tag: int, payload: bytes) -> bytes:
    """A length-delimited field (``tag`` is the field number shifted, with wire type 2)."""
    size = len(payload)
    if size < 0x80:
        return bytes((tag, size)) + payload
    if size < 0x4000:
        return bytes((tag, (size & 0x7F) | 0x80, size >> 7)) + payload
    return bytes((tag,)) + varint(size) + payload


def text(value: str) -> bytes:
    """UTF-8, as protobuf requires: a lone surrogate becomes U+FFFD rather than invalid bytes."""
    try:
        return value.encode()
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in value).encode()


def any_value(value: Any, depth: int = 0) -> bytes:
    """An ``AnyValue``: string 1, bool 2, int 3, double 4, array 5, kvlist 6, bytes 7 (None: empty)."""
    if isinstance(value, str):
        return field(0x0A, text(value))
    if value is True or value is False:
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return b"\x18" + varint(value)
        return field(0x0A, str(value).encode())  # beyond int64: exact, as text
    if isinstance(value, float):
        return b"\x21" + double(value)
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray)):
        return field(0x3A, bytes(value))
    if depth < MAX_DEPTH:
        if isinstance(value, (list, tuple)):
            return field(0x2A, b"".join(field(0x0A, any_value(item, depth + 1)) for item in value))
        if isinstance(value, dict):
            return field(0x32, b"".join(key_value(str(key), item, depth + 1) for key, item in value.items()))
    return field(0x0A, text(str(value)))


def double(value: float) -> bytes:
    """IEEE 754 binary64, little-endian: what ``struct.pack("<d", value)`` writes, read from ``float.hex`` (exact)
    without importing struct, which costs ~1 M instructions at a cold start for the first double (init's
    ``InitImportsMs``)."""
    digits = value.hex()  # "-0x1.8000000000000p+1", "0x0.0000000000001p-1022", "0x0.0p+0", "inf", "nan"
    sign = 1 << 63 if copysign(1.0, value) < 0 else 0
    if digits[-1] == "n":  # nan (its sign kept; a payload other than the usual one is not)
        return (sign | 0x7FF8000000000000).to_bytes(8, "little")
    if digits[-1] == "f":  # inf
        return (sign | 0x7FF0000000000000).to_bytes(8, "little")
    head, _, exponent = digits.lstrip("-").partition("p")
    fraction = head[4:]
    bits = int(fraction, 16) << 4 * (13 - len(fraction))
    if head[2] == "1":  # normal; else zero or subnormal (exponent field 0)
        bits |= (int(exponent) + 1023) << 52
    return (sign | bits).to_bytes(8, "little")


def key_value(key: str, value: Any, depth: int = 0) -> bytes:
    """A repeated ``KeyValue`` entry, field 1 of its container (attributes, kvlist values) included."""
    return field(0x0A, field(0x0A, text(key)) + field(0x12, any_value(value, depth)))


def attributes(tag: int, values: dict[str, Any]) -> bytes:
    """Each attribute as a repeated ``KeyValue`` field ``tag`` of the message holding them.

    Strings, the most common value, are framed inline (the per-invocation cost of a span is mostly here), and
    each key's framing is remembered; every other type goes through ``any_value``."""
    parts: list[bytes] = []
    for key, value in values.items():
        framed_key = _keys.get(key)
        if framed_key is None:
            framed_key = framed_name(key, _keys, b"\x0a")
        if value.__class__ is str:
            try:
                raw = value.encode()
            except UnicodeEncodeError:
                raw = text(value)
            size = len(raw)
            if size + len(framed_key) < 0x7B:  # all lengths one byte: from tables (a span's header too)
                head = (
                    _SPAN_ATTRIBUTES[size + len(framed_key) + 4]
                    if tag == 0x4A
                    else bytes((tag, size + len(framed_key) + 4))
                )
                parts += (head, framed_key, _STRING_VALUES[size], raw)
                continue
            inner = (b"\x0a" + _LENGTHS[size] if size < 0x80 else b"\x0a" + varint(size)) + raw
        elif value.__class__ is int and 0 <= value < 0x4000:  # counts, statuses, sizes: a varint of one or two bytes
            inner = b"\x18" + (_LENGTHS[value] if value < 0x80 else bytes(((value & 0x7F) | 0x80, value >> 7)))
        else:
            inner = any_value(value)
        size = len(inner)
        pair = framed_key + (b"\x12" + _LENGTHS[size] if size < 0x80 else b"\x12" + varint(size)) + inner
        size = len(pair)
        parts.append(bytes((tag, size)) + pair if size < 0x80 else bytes((tag,)) + varint(size) + pair)
    return b"".join(parts)


def _table(pattern: bytes, count: int, *columns: tuple[int, bytes]) -> list[bytes]:
    """``count`` copies of ``pattern`` (bytes below 0x80), in copy ``n`` the byte at each column's place set to
    its values' ``n``-th: written as one byte string, with 0xFF after each copy, and split, all in C. Built with
    maps, the three tables below cost ~0.5 M instructions at a cold start; this way, ~0.15 M."""
    raw = bytearray((pattern + b"\xff") * count)
    for place, values in columns:
        raw[place :: len(pattern) + 1] = values
    return bytes(raw).split(b"\xff")[:-1]


#: 0 to 127, made once: the tables' columns are slices of it. ``maketrans`` with nothing to map is the identity
#: table (0 to 255), written in C; ``bytes(range(...))`` would take a Python object per byte.
_BYTES = bytes.maketrans(b"", b"")[:0x80]
#: One-byte lengths, made once; a span attribute's field header; a short string's ``KeyValue.value`` header.
_LENGTHS = _table(b"\x00", 0x80, (0, _BYTES))
_SPAN_ATTRIBUTES = _table(b"\x4a\x00", 0x80, (1, _BYTES))
_STRING_VALUES = _table(b"\x12\x00\x0a\x00", 0x7E, (1, _BYTES[2:]), (3, _BYTES[:0x7E]))
#: Attribute keys as ``KeyValue.key`` fields, remembered (at most MAX_KEYS: keys are few and fixed in practice).
#: Those every cold start writes (the resource's, init's and the handler's) are written out framed (field 1, its
#: one-byte length, the key): a literal is the cheapest to load, no code runs for it (tests frame each again).
MAX_KEYS = 256
_keys: dict[str, bytes] = {
    "service.name": b"\x0a\x0cservice.name",
    "cloud.provider": b"\x0a\x0ecloud.provider",
    "cloud.platform": b"\x0a\x0ecloud.platform",
    "telemetry.sdk.name": b"\x0a\x12telemetry.sdk.name",
    "telemetry.sdk.language": b"\x0a\x16telemetry.sdk.language",
    "telemetry.sdk.version": b"\x0a\x15telemetry.sdk.version",
    "cloud.region": b"\x0a\x0ccloud.region",
    "faas.name": b"\x0a\x09faas.name",
    "faas.version": b"\x0a\x0cfaas.version",
    "faas.instance": b"\x0a\x0dfaas.instance",
    "faas.max_memory": b"\x0a\x0ffaas.max_memory",
    "aws.log.group.names": b"\x0a\x13aws.log.group.names",
    "InitImportsMs": b"\x0a\x0dInitImportsMs",
    "aws.xray.annotations": b"\x0a\x14aws.xray.annotations",
    "Service": b"\x0a\x07Service",
    "InitType": b"\x0a\x08InitType",
    "cloud.resource_id": b"\x0a\x11cloud.resource_id",
    "aws.lambda.invoked_arn": b"\x0a\x16aws.lambda.invoked_arn",
    "cloud.account.id": b"\x0a\x10cloud.account.id",
    "faas.trigger": b"\x0a\x0cfaas.trigger",
}


def string_attribute(key: str, value: str) -> bytes:
    """One string attribute of a span (field 9), its key's framing remembered."""
    framed_key = _keys.get(key) or framed_name(key, _keys, b"\x0a")
    raw = value.encode() if value.isascii() else text(value)
    size = len(raw)
    inner = (b"\x0a" + _LENGTHS[size] if size < 0x80 else b"\x0a" + varint(size)) + raw
    size = len(inner)
    pair = framed_key + (b"\x12" + _LENGTHS[size] if size < 0x80 else b"\x12" + varint(size)) + inner
    size = len(pair)
    return (b"\x4a" + _LENGTHS[size] if size < 0x80 else b"\x4a" + varint(size)) + pair


def event(time_unix_nano: int, name: str, values: dict[str, Any]) -> bytes:
    """A ``Span.Event``: time 1 (fixed64), name 2, attributes 3."""
    return b"\x09" + time_unix_nano.to_bytes(8, "little") + field(0x12, text(name)) + attributes(0x1A, values)


def framed_name(name: str, remembered: dict[str, bytes] = _names, tag: bytes = b"\x2a") -> bytes:
    """``Span.name`` as a field (5), remembered: names repeat (``## handler``, a host, a method). Also any text
    field remembered the same way: an attribute key as ``KeyValue.key`` (``_keys``, field 1). A cache is emptied
    when it holds MAX_KEYS. Written out: a cold start meets a few dozen keys and init's imports each have a new
    name, and each nested call would cost ~2 K instructions."""
    raw = name.encode() if name.isascii() else text(name)
    size = len(raw)
    framed = (tag + _LENGTHS[size] if size < 0x80 else tag + varint(size)) + raw
    if len(remembered) >= MAX_KEYS:
        remembered.clear()
    remembered[name] = framed
    return framed


def resource(values: dict[str, Any]) -> bytes:
    """A ``Resource``: attributes 1."""
    return attributes(0x0A, values)


def scope(name: str, version: str) -> bytes:
    """An ``InstrumentationScope``: name 1, version 2."""
    return field(0x0A, text(name)) + field(0x12, text(version))


def request_prefix(resource_bytes: bytes, scope_bytes: bytes) -> tuple[bytes, bytes]:
    """What ``request`` puts around the spans, encoded once: (ResourceSpans.resource, ScopeSpans.scope)."""
    return field(0x0A, resource_bytes), field(0x0A, scope_bytes)


#: Exception records remembered, so a parent span whose cause is a child's record id gets the same event.
MAX_EXCEPTIONS = 64
MAX_STATUS_MESSAGE = 1024
_exceptions: dict[str, dict[str, Any]] = {}


def failure(cause: Any, end_nano: int, failed: bool) -> bytes:
    """What a span with an exception or a fault adds to its common shape, as otlp_documents writes it: the
    ``exception`` events, and when it failed ``error.type`` and status ERROR (protobuf takes fields in any order).
    Init's imports that raised (optional modules a library tries) are such spans: written here, a cold start does
    not load otlp_documents.py for them."""
    events, message = exception_events(cause, end_nano) if cause is not None else ((), "")
    parts = [field(0x5A, encoded) for encoded in events]
    if failed:
        parts.append(attributes(0x4A, {"error.type": message.split(":", 1)[0] if message else "_OTHER"}))
        status = field(0x12, text(message[:MAX_STATUS_MESSAGE])) if message else b""
        parts.append(field(0x7A, status + bytes((0x18, STATUS_ERROR))))
    return b"".join(parts)


def exception_events(cause: Any, time_nano: int) -> tuple[list[bytes], str]:
    """The ``exception`` events of a document's cause, and the status message (``Type: message``).

    A cause that is a record id (the exception a child span recorded, seen again by its parent) gets the
    child's event again, as OpenTelemetry records an exception on every span it ends."""
    found: list[dict[str, Any]] = []
    if isinstance(cause, str):
        known = _exceptions.get(cause)
        if known is not None:
            found.append(known)
    elif isinstance(cause, dict):
        for entry in cause.get("exceptions") or ():
            if not isinstance(entry, dict):
                continue
            values = {
                "exception.type": str(entry.get("type") or "Exception"),
                "exception.message": str(entry.get("message") or ""),
                "exception.stacktrace": _stacktrace(entry),
            }
            found.append(values)
            record = entry.get("id")
            if isinstance(record, str):
                if len(_exceptions) >= MAX_EXCEPTIONS:
                    _exceptions.clear()
                _exceptions[record] = values
    events = [event(time_nano, "exception", values) for values in found]
    message = f"{found[0]['exception.type']}: {found[0]['exception.message']}" if found else ""
    return events, message


def _stacktrace(entry: dict[str, Any]) -> str:
    """A stack as Python prints one (frames as X-Ray records them: file name, line, function)."""
    lines = ["Traceback (most recent call last):"]
    for frame in entry.get("stack") or ():
        if isinstance(frame, dict):
            lines.append(f'  File "{frame.get("path", "")}", line {frame.get("line", 0)}, in {frame.get("label", "")}')
    message = entry.get("message")
    lines.append(f"{entry.get('type') or 'Exception'}: {message}" if message else str(entry.get("type") or ""))
    return "\n".join(lines)
