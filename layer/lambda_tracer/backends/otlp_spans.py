"""OTLP's protobuf messages, written by hand (no protobuf or opentelemetry import; field numbers from
opentelemetry-proto, which the tests decode with), and our own spans' common shapes as ``Span`` messages (the
handler, a ``capture_method``, a call), written from the span itself with their repeating parts from caches; any
other shape is otlp_documents.from_span's, the calls' attributes and failures otlp_calls.py's. Kinds: SERVER for
the handler, CLIENT for calls, INTERNAL otherwise. Attributes: the semantic conventions, the annotations (listed
in ``aws.xray.annotations``) and each metadata namespace as JSON in ``aws.xray.metadata.<namespace>``, where the
collector's X-Ray translator reads them; the handler's invocation from ``backends.invocation``. Imported with
otlp.py at a cold start in otlp mode (never in xray mode): one module, not two, since each costs its import.
"""

from __future__ import annotations

import sys
from math import copysign

from .. import backends, config
from . import xray, xray_documents

_seam = backends

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

#: Annotation keys of the handler span that are ours (not the user's): all are listed in aws.xray.annotations.
HANDLER_ANNOTATION = "ColdStart"
#: otlp_calls.py once loaded (by otlp.py, for the first span with a call block or a failure; it sets this itself, as
#: otlp.install sets xray.EXPORTER: it imports this module): a cold start without one does not load it.
_calls: Any = None
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
            return field(0x32, b"".join(_pair(str(key), item, depth + 1) for key, item in value.items()))
    return field(0x0A, text(str(value)))


def double(value: float) -> bytes:
    """IEEE 754 binary64, little-endian: ``struct.pack("<d", value)``'s bytes, read from ``float.hex`` (exact),
    without importing struct at a cold start (init's ``InitImportsMs``)."""
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


def _pair(key: str, value: Any, depth: int = 0) -> bytes:
    """A repeated ``KeyValue`` entry, field 1 of its container (attributes, kvlist values) included."""
    return field(0x0A, field(0x0A, text(key)) + field(0x12, any_value(value, depth)))


def attributes(tag: int, values: dict[str, Any]) -> bytes:
    """Each attribute as a repeated ``KeyValue`` field ``tag`` of the message holding them: strings, short ints,
    lists of strings and floats framed here, each key's framing remembered; any other value by ``any_value``."""
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
        elif value.__class__ is list:  # aws.xray.annotations, a log group: short strings, most likely
            inner = _strings(value) or any_value(value)
        elif value.__class__ is float:  # InitImportsMs
            inner = b"\x21" + double(value)
        else:
            inner = any_value(value)
        size = len(inner)
        pair = framed_key + (b"\x12" + _LENGTHS[size] if size < 0x80 else b"\x12" + varint(size)) + inner
        size = len(pair)
        parts.append(bytes((tag, size)) + pair if size < 0x80 else bytes((tag,)) + varint(size) + pair)
    return b"".join(parts)


def _strings(values: list[Any]) -> bytes:
    """``any_value``'s bytes for a list of short ASCII strings, without its four calls an item; b"" for another."""
    parts: list[bytes] = []
    for item in values:
        if item.__class__ is not str or not item.isascii() or len(item) > 0x7D:
            return b""
        parts += (bytes((0x0A, len(item) + 2, 0x0A, len(item))), item.encode())
    array = b"".join(parts)
    return b"\x2a" + _LENGTHS[len(array)] + array if len(array) < 0x80 else b""


def _table(pattern: bytes, count: int, *columns: tuple[int, bytes]) -> list[bytes]:
    """``count`` copies of ``pattern`` (bytes below 0x80), in copy ``n`` the byte at each column's place set to
    its values' ``n``-th: written as one byte string, with 0xFF after each copy, and split, all in C."""
    raw = bytearray((pattern + b"\xff") * count)
    for place, values in columns:
        raw[place :: len(pattern) + 1] = values
    return bytes(raw).split(b"\xff")[:-1]


#: 0 to 127, the tables' columns: ``maketrans`` with nothing to map is the identity table, written in C.
_BYTES = bytes.maketrans(b"", b"")[:0x80]
#: One-byte lengths, made once; a span attribute's field header; a short string's ``KeyValue.value`` header.
_LENGTHS = _table(b"\x00", 0x80, (0, _BYTES))
_SPAN_ATTRIBUTES = _table(b"\x4a\x00", 0x80, (1, _BYTES))
_STRING_VALUES = _table(b"\x12\x00\x0a\x00", 0x7E, (1, _BYTES[2:]), (3, _BYTES[:0x7E]))
#: Attribute keys as ``KeyValue.key`` fields, remembered (at most MAX_KEYS); those every cold start writes (the
#: resource's, init's, the handler's) written out framed: a literal costs no code (tests frame each again).
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


def framed_name(name: str, remembered: dict[str, bytes] = _names, tag: bytes = b"\x2a") -> bytes:
    """``Span.name`` as a field (5), remembered: names repeat (``## handler``, a host, a method). Also any text
    field remembered the same way: an attribute key as ``KeyValue.key`` (``_keys``, field 1). A cache is emptied
    when it holds MAX_KEYS."""
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


def _own(span: xray.XRaySpan, trace: xray.Trace, end_us: int) -> bytes | None:
    """One of our spans as a ``Span`` message, the common shapes (the handler, a ``capture_method``, a call that
    succeeded) from caches (a failure's part: ``failure``); None for any other (otlp_documents.from_span's)."""
    root, parent_id, annotations = trace.root, span.parent_id, span.annotations
    if span.sql or (span.__class__ is not _XRaySpan and span.__class__ is not _PastSpan):
        return None
    if root.__class__ is not str or len(root) != 35 or parent_id.__class__ is not str or len(parent_id) != 16:
        return None
    name = span.name
    parts = [_fromhex("".join(("0a10", root[2:10], root[11:], "1208", span.id, "2208", parent_id))), b""]
    kind, tail = _CLIENT_KIND if span.namespace in _CALL_NAMESPACES else _INTERNAL_KIND, None
    if annotations and HANDLER_ANNOTATION in annotations:  # the handler's span: its repeating tail remembered
        if (cold := annotations[HANDLER_ANNOTATION]) is not True and cold is not False:  # a user's, of that name
            return None
        parts.append(_COLD_ATTRIBUTES[cold])
        kind = _SERVER_KIND
        arn = getattr(_seam.invocation[1], "invoked_function_arn", None)
        trigger = _invocation(parts)
        key, last = (annotations, tuple(map(repr, annotations.values())), arn, name, trigger), _last_handler
        tail = last[1] if key == last[0] else _handler_block(annotations, name, arn, trigger)
    else:
        parts.append(_names.get(name) or framed_name(name))
        if annotations:
            parts.append(_annotation_attributes(annotations))
    start, end = span.start_us * 1000 & 0xFFFFFFFFFFFFFFFF, end_us * 1000 & 0xFFFFFFFFFFFFFFFF  # _U64, _END_TAG
    parts[1] = (kind | start << 24 | 0x41 << 88 | end << 96).to_bytes(20, "little")
    values: dict[str, Any] | None = None
    aws, http, calls = span.aws, span.http, _calls
    if (aws or http) and calls is None:  # otlp_calls.py not loaded yet: otlp.py loads it, then asks again
        return None
    if aws:
        values = {}
        parts.append(calls._aws_attributes(values, aws, name))
    if http:
        response = http.get("response")
        if http.get("request") is not None or response.__class__ is not dict:
            values = calls._http_attributes({} if values is None else values, http)
        else:  # a call's response alone (botocore's): its status, a few values, from a cache; its size
            status, size = response.get("status"), response.get("content_length")
            if status.__class__ is int:
                if status >= 400:
                    return None
                parts.append(calls._status_attributes.get(status) or calls._int_attribute(calls._STATUS, status))
            if size.__class__ is int and 0 <= size < 0x4000:  # the varint inline (a call: ~1 K instructions)
                low = _LENGTHS[size] if size < 0x80 else (size & 0x7F | 0x80 | size >> 7 << 8).to_bytes(2, "little")
                parts += (calls._BODY_SIZE_HEADS[size >= 0x80], low)
            elif size.__class__ is int:
                parts.append(attributes(0x4A, {"http.response.body.size": size}))
    if values:
        if "error.type" in values:  # an HTTP status of 4xx without the error flag (never ours): the general path
            return None
        parts.append(attributes(0x4A, values))
    metadata = span.metadata
    if metadata:  # each namespace as strict JSON in aws.xray.metadata.<namespace>, where X-Ray's translator reads it
        spliced = span.spliced  # a response recorded with its JSON text (capture.response_metadata)
        for namespace_name, data in metadata.items():
            framed_key = _metadata_keys.get(namespace_name) or _metadata_key(namespace_name)
            if (
                spliced is not None
                and spliced[0] == namespace_name
                and len(data) == 1
                and (data.get(spliced[1], data) is spliced[2])
            ):  # that text put in as it is, as xray mode does (the last one's bytes when it is the same)
                parts.append(response_attribute(spliced))
                continue
            text = xray_documents.dumps(data)
            size = len(text)
            if size + len(framed_key) < 0x7B and text.isascii():  # all lengths one byte: from tables
                parts += (_SPAN_ATTRIBUTES[size + len(framed_key) + 4], framed_key, _STRING_VALUES[size], text.encode())
            else:
                parts.append(string_attribute("aws.xray.metadata." + str(namespace_name), text))
    parts.append(_FLAG_FIELDS[trace.sampled == "1"][parent_id == trace.parent])
    if tail is None:
        return b"".join(parts)
    global _handler_tail
    head = b"".join(parts)
    _handler_tail = (head + tail, head, tail)
    if span.annotations_text is not None:  # the shape the next warm invocation may have
        _remember_warm(span, cold, arn, trigger, tail)
    return _handler_tail[0]


def response_attribute(spliced: tuple[str, str, Any, str]) -> bytes:
    """A response recorded with its text (``span.spliced``) as the handler's attribute, remembered by its namespace,
    key and text (``_response``: a warm invocation's response is often the last one's)."""
    global _response
    namespace_name = spliced[0]
    said = (_metadata_keys.get(namespace_name) or _metadata_key(namespace_name), spliced[1], spliced[3])
    attribute = _spliced[1] if _spliced[0] == said else _spliced_attribute(said, namespace_name)
    _response = ((namespace_name, spliced[1], spliced[3]), attribute)
    return attribute


def _remember_warm(span: xray.XRaySpan, cold: bool, arn: Any, trigger: str | None, tail: bytes) -> None:
    """What otlp.py's warm path checks a handler span against (``warm``), from one ``_own`` wrote: a warm
    invocation's annotations' text (a cold one's turned warm), name, ARN, trigger, and the tail written from them."""
    global warm
    text = span.annotations_text
    if text is not None and cold:
        text = text.replace(_COLD_TEXT, _WARM_TEXT, 1)
    request_id = getattr(_runtime or _runtime_module(), "_GLOBAL_AWS_REQUEST_ID", None)
    size = len(request_id.encode()) if request_id.__class__ is str and request_id.isascii() else 0
    if text is not None and text.startswith(_WARM_TEXT_START) and 0 < size < 0x60:
        head = _invocation_heads.get(size) or _invocation_head(size)
        warm = (text, (_XRaySpan, span.name, arn, trigger, str, size, 38), tail, head)


#: ``warm``: (annotations' text, (the span's class, name, invoked ARN, trigger, the request id's class and length in
#: bytes, the ids' length), tail, the ``faas.invocation_id`` head for that length); nothing matches the first.
warm: tuple[Any, ...] = (object(), (), b"", b"")
#: The last response attribute ``response_attribute`` gave: ((namespace, key, text), its bytes).
_response: tuple[tuple[Any, ...] | None, bytes] = (None, b"")
_COLD_TEXT, _WARM_TEXT = '"ColdStart":true', '"ColdStart":false'
_WARM_TEXT_START = ',"annotations":{"ColdStart":false'


def _spliced_attribute(key: tuple[bytes, str, str], namespace: Any) -> bytes:
    """A response recorded with its JSON text (``span.spliced``) as its metadata attribute, that text put in as it
    is; remembered (``key``: the framed attribute key, the response's key, its JSON text)."""
    global _spliced
    framed_key, text = key[0], "{" + _json_string(key[1]) + ":" + key[2] + "}"
    size = len(text)
    if size + len(framed_key) < 0x7B and text.isascii():  # all lengths one byte: from tables
        attribute = _SPAN_ATTRIBUTES[size + len(framed_key) + 4] + framed_key + _STRING_VALUES[size] + text.encode()
    else:
        attribute = string_attribute("aws.xray.metadata." + str(namespace), text)
    _spliced = (key, attribute)
    return attribute


#: The last response attribute ``_spliced_attribute`` made: (its key, its bytes).
_spliced: tuple[tuple[bytes, str, str] | None, bytes] = (None, b"")
#: The last handler span: (its bytes, all but its tail, the tail: its name and the attributes that repeat, the
#: same bytes from one invocation to the next), for udp_body to base64 the tail once.
_handler_tail: tuple[bytes, bytes, bytes] = (b"", b"", b"")
_XRaySpan, _PastSpan, _fromhex = xray.XRaySpan, xray.PastSpan, bytes.fromhex
_U64 = (1 << 64) - 1
#: Span.kind (field 6) and the tag of start_time_unix_nano (field 7, fixed64) as the low bytes of one integer; the
#: tag of end_time_unix_nano (field 8) at its place: ``_own`` adds the times and writes the 20 bytes at once.
_INTERNAL_KIND, _SERVER_KIND, _CLIENT_KIND = (
    0x30 | 1 << 8 | 0x39 << 16,
    0x30 | 2 << 8 | 0x39 << 16,
    0x30 | 3 << 8 | 0x39 << 16,
)
_END_TAG = 0x41 << 88
#: Span.flags fields (16, fixed32), by [sampled][parent is the Lambda service's segment]: FLAG_HAS_IS_REMOTE, with
#: FLAG_IS_REMOTE, FLAG_SAMPLED or both; bytes, not encoded at import (tests compare them with the encoder's).
_FLAG_FIELDS = [
    [b"\x85\x01\x00\x01\x00\x00", b"\x85\x01\x00\x03\x00\x00"],
    [b"\x85\x01\x01\x01\x00\x00", b"\x85\x01\x01\x03\x00\x00"],
]
#: The ``faas.invocation_id`` attribute up to its value, by the value's length (request ids are 36 characters).
_INVOCATION_KEY = b"\x0a\x12faas.invocation_id"
_invocation_heads: dict[int, bytes] = {}


def _invocation_head(size: int) -> bytes:
    head = bytes((0x4A, len(_INVOCATION_KEY) + size + 4)) + _INVOCATION_KEY + bytes((0x12, size + 2, 0x0A, size))
    _invocation_heads[size] = head
    return head


_json_string = xray_documents.json_string
#: ``aws.xray.metadata.<namespace>`` as ``KeyValue.key`` fields, by namespace.
_metadata_keys: dict[str, bytes] = {}


def _metadata_key(namespace: Any) -> bytes:
    raw = text("aws.xray.metadata." + str(namespace))
    size = len(raw)
    framed = (b"\x0a" + _LENGTHS[size] if size < 0x80 else b"\x0a" + varint(size)) + raw  # field(0x0A, raw)
    if len(_metadata_keys) >= MAX_KEYS:
        _metadata_keys.clear()
    _metadata_keys[namespace] = framed
    return framed


#: The last handler's name and attributes, encoded: ((its annotations, their types, the invoked ARN, its name, its
#: trigger), the bytes).
_last_handler: tuple[tuple[Any, ...], bytes] = ((), b"")


def _handler_block(annotations: dict[str, Any], name: str, arn: Any, trigger: str | None) -> bytes:
    """The handler's name and attributes but ``ColdStart``/``faas.coldstart`` (``_COLD_ATTRIBUTES``), encoded and
    remembered with what they were made from (``_own`` compares them by value and repr: True and 1, 0.0 and -0.0 are
    equal, not the same attribute), as a warm invocation's annotations are, so the first warm invocation finds them."""
    global _last_handler
    checked = _plain(arn) if _invoked(_seam.invocation[1]) else None
    values = {key: value for key, value in annotations.items() if key != HANDLER_ANNOTATION}
    values["aws.xray.annotations"] = list(annotations)
    _cloud_attributes(values, checked)
    if trigger is not None:
        values["faas.trigger"] = trigger
    block = (_names.get(name) or framed_name(name)) + attributes(0x4A, values)
    kept = dict(annotations)
    kept[HANDLER_ANNOTATION] = False
    _last_handler = ((kept, tuple(map(repr, kept.values())), arn, name, trigger), block)
    return block


#: ``ColdStart`` (an annotation: listed in aws.xray.annotations) and ``faas.coldstart``, by the value of both.
_COLD_ATTRIBUTES = {
    False: b"J\x0f\n\tColdStart\x12\x02\x10\x00J\x14\n\x0efaas.coldstart\x12\x02\x10\x00",
    True: b"J\x0f\n\tColdStart\x12\x02\x10\x01J\x14\n\x0efaas.coldstart\x12\x02\x10\x01",
}


def _invoked(context: Any) -> bool:
    """Whether the runtime's last context is the running invocation's."""
    request_id = getattr(sys.modules.get(RUNTIME_MODULE), "_GLOBAL_AWS_REQUEST_ID", None)
    return context is not None and getattr(context, "aws_request_id", None) == request_id


_CALL_NAMESPACES = frozenset(("aws", "remote"))


#: Encoded attribute blocks that repeat from one invocation to the next (the handler's annotations, its
#: ``faas``/``cloud`` attributes), by what they encode; at most MAX_BLOCKS. Encoding is most of a span's cost.
MAX_BLOCKS = 64
_blocks: dict[Any, bytes] = {}


def _annotation_attributes(annotations: dict[str, Any], arn: str | None = None, handler: bool = False) -> bytes:
    """The annotations as attributes, and their keys in ``aws.xray.annotations`` (X-Ray indexes those); for the
    handler, its ``faas.coldstart`` and ``cloud.*`` attributes too. Encoded once per distinct content."""
    try:  # by value and repr: True and 1, 0.0 and -0.0 are equal, but not the same attribute
        key: Any = (tuple(annotations.items()), tuple(map(repr, annotations.values())), arn, handler)
        block = _blocks.get(key)
    except TypeError:  # an unhashable value (the escape hatch lets anything in)
        key = block = None
    if block is not None:
        return block
    values = dict(annotations)
    values["aws.xray.annotations"] = list(annotations)
    if handler:
        values["faas.coldstart"] = annotations.get(HANDLER_ANNOTATION) is True
        _cloud_attributes(values, arn)
    block = attributes(0x4A, values)
    if key is not None:
        if len(_blocks) >= MAX_BLOCKS:
            _blocks.clear()
        _blocks[key] = block
    return block


def _cloud_attributes(values: dict[str, Any], arn: str | None) -> None:
    """The handler's ``cloud.resource_id``, ``aws.lambda.invoked_arn`` and ``cloud.account.id``, from the invoked
    ARN (checked: short, printable ASCII)."""
    if arn:
        values["cloud.resource_id"] = resource_id(arn)
        values["aws.lambda.invoked_arn"] = arn
        fields = arn.split(":")
        if len(fields) > 4 and fields[4].isdigit():
            values["cloud.account.id"] = fields[4]


def resource_id(arn: str) -> str:
    """``cloud.resource_id`` as the conventions want it for Lambda: the invoked ARN with an alias replaced by the
    version it resolved to (``AWS_LAMBDA_FUNCTION_VERSION``), since one sandbox serves several aliases."""
    fields = arn.split(":")
    version = config.get_str("AWS_LAMBDA_FUNCTION_VERSION")
    if len(fields) == 8 and version and version != fields[7]:
        fields[7] = version
        return ":".join(fields)
    return arn


RUNTIME_MODULE = "awslambdaric.bootstrap"
_runtime: Any = None  # that module, once loaded (_runtime_module)


def _runtime_module() -> Any:
    global _runtime
    _runtime = sys.modules.get(RUNTIME_MODULE)
    return _runtime


#: ``eventSource`` values whose ``faas.trigger`` is ``datasource`` (a data source's change) and ``pubsub``.
_DATASOURCES = frozenset(("aws:s3", "aws:dynamodb"))
_PUBSUB = frozenset(("aws:sqs", "aws:sns", "aws:kinesis", "aws:kafka", "aws:mq", "aws:rmq", "aws:ses"))
_PUBSUB |= {"SelfManagedKafka"}  # Kafka's batches not from MSK


def _invocation(parts: list[bytes]) -> str | None:
    """The running invocation's parts of the handler's span, appended to ``parts``: its HTTP server attributes
    when an HTTP request triggered it, and ``faas.invocation_id``; and its ``faas.trigger``, returned (it is part
    of the handler's block, remembered from one invocation to the next)."""
    trigger, http = _trigger(_seam.invocation[0])
    if http:
        parts.append(http)
    request_id = getattr(_runtime or _runtime_module(), "_GLOBAL_AWS_REQUEST_ID", None)
    if request_id.__class__ is str and 0 < len(request_id) < 0x60 and request_id.isascii():
        parts += (_invocation_heads.get(len(request_id)) or _invocation_head(len(request_id)), request_id.encode())
    elif request_id.__class__ is str and 0 < len(request_id) <= 256:
        parts.append(string_attribute("faas.invocation_id", request_id))
    return trigger


#: Keys of an event that may give another ``faas.trigger`` than ``other``: an event without any is ``other``.
TRIGGER_KEYS = frozenset(("requestContext", "Records", "source", "detail-type", "eventSource"))


def _trigger(event: Any) -> tuple[str | None, bytes]:
    """The invocation's ``faas.trigger`` and, for an HTTP request, its HTTP server attributes (else empty), from the
    event the handler got: ``http`` (API Gateway, a function URL, an ALB), ``pubsub`` (SQS, SNS, Kinesis, Kafka,
    EventBridge), ``datasource`` (S3, DynamoDB streams), ``timer`` (a schedule) or ``other``; None for an event of
    None."""
    if event is None:
        return None, b""
    if event.__class__ is dict:
        context, records = event.get("requestContext"), event.get("Records")
        if context.__class__ is dict and ("httpMethod" in event or "http" in context or "elb" in context):
            return "http", _http_trigger_attributes(event)
        where = records[0] if records.__class__ is list and records and records[0].__class__ is dict else event
        source = where.get("eventSource") or where.get("EventSource")  # each record's; Kafka's and MQ's, at the top
        if source.__class__ is str and (where is not event or source in _PUBSUB):
            return ("datasource" if source in _DATASOURCES else "pubsub" if source in _PUBSUB else "other"), b""
        if event.get("source") == "aws.scheduler" or event.get("detail-type") == "Scheduled Event":
            return "timer", b""
        if "detail-type" in event and "source" in event:
            return "pubsub", b""
    return "other", b""


def _http_trigger_attributes(event: dict[str, Any]) -> bytes:
    """The HTTP server attributes of an HTTP-triggered invocation: its method and route (the route template,
    never the path: a path may hold ids and tokens)."""
    values: dict[str, Any] = {}
    context = event.get("requestContext")
    http = context.get("http") if context.__class__ is dict else None
    method = event.get("httpMethod") or (http.get("method") if http.__class__ is dict else None)
    if method.__class__ is str and 0 < len(method) <= 16 and method.isalpha():
        values["http.request.method"] = method.upper()
    route = event.get("resource")
    if route.__class__ is not str:
        key = event.get("routeKey")
        route = key.partition(" ")[2] if key.__class__ is str and " " in key else None
    if route.__class__ is str and route and len(route) <= 1024:
        values["http.route"] = route
    return attributes(0x4A, values) if values else b""


def _plain(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= 256 and value.isascii() and value.isprintable():
        return value
    return None
