"""AWS and HTTP call spans' attributes, and a failure's part of a span (its ``exception`` events and status), for
otlp_spans.py and otlp_documents.py: loaded by otlp.py for the first span with a call block or a failure, so that a
cold start without one does not load it (init's imports that raised are such spans, and a boto3 function's first
call another).
"""

from __future__ import annotations

import math
import sys

from . import otlp_spans, xray_documents
from .otlp_spans import MAX_BLOCKS, STATUS_ERROR, attributes, field, text

_RETRIES = "aws.xray.retries"
#: Encoded ``aws.xray.retries`` attributes, by value.
_retries_attributes: dict[int, bytes] = {}

_STATUS = "http.response.status_code"
#: Encoded ``http.response.status_code`` attributes, by value (a status repeats from call to call).
_status_attributes: dict[int, bytes] = {}
#: ``http.response.body.size`` up to its varint value, for a value of one byte and of two.
_BODY_SIZE_HEADS = [
    b"J\x1d\n\x17http.response.body.size\x12\x02\x18",
    b"J\x1e\n\x17http.response.body.size\x12\x03\x18",
]


def _int_attribute(key: str, value: int) -> bytes:
    """One attribute with an int value, encoded and remembered (at most MAX_BLOCKS values per key)."""
    cache = _retries_attributes if key == _RETRIES else _status_attributes
    encoded = attributes(0x4A, {key: value})
    if len(cache) >= MAX_BLOCKS:
        cache.clear()
    cache[value] = encoded
    return encoded


TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

#: The X-Ray ``aws`` fields with a semantic-convention name (besides ``aws.<field>``, which the translator reads).
_AWS_CONVENTIONS = {
    "region": "cloud.region",
    "queue_url": "aws.sqs.queue.url",
    "bucket_name": "aws.s3.bucket",
    "key": "aws.s3.key",
}


def _aws_attributes(values: dict[str, Any], aws: dict[str, Any], name: str) -> bytes:
    """An AWS SDK call: ``rpc.*`` as the conventions name it, and each ``aws`` field as ``aws.<field>``. What
    repeats from call to call (service, operation, region) is returned encoded, once per distinct value; the rest
    goes in ``values``."""
    operation, region = aws.get("operation"), aws.get("region")
    key: Any = None  # remembered for text only (the escape hatch lets anything in: True and 1, -0.0 and 0.0 are equal)
    if name.__class__ is str and operation.__class__ is str and (region.__class__ is str or region is None):
        key = (name, operation, region)
    block = None if key is None else _aws_blocks.get(key)
    if block is None:
        fixed: dict[str, Any] = {"rpc.system": "aws-api", "rpc.service": name}
        if isinstance(operation, str):
            fixed["rpc.method"] = operation
        for field_name, value in (("operation", operation), ("region", region)):
            attribute = _attribute_value(value)
            if attribute is not None:
                fixed["aws." + field_name] = attribute
                if field_name in _AWS_CONVENTIONS:
                    fixed[_AWS_CONVENTIONS[field_name]] = attribute
        block = attributes(0x4A, fixed)
        if key is not None:
            if len(_aws_blocks) >= MAX_BLOCKS:
                _aws_blocks.clear()
            _aws_blocks[key] = block
    retries = aws.get("retries")
    if retries.__class__ is int:
        block += _retries_attributes.get(retries) or _int_attribute(_RETRIES, retries)
    skipped = _FIXED_AWS_FIELDS_AND_RETRIES if retries.__class__ is int else _FIXED_AWS_FIELDS
    for field_name, value in aws.items():
        if field_name in skipped:
            continue
        attribute = value if value.__class__ is str else _attribute_value(value)
        if attribute is None:
            continue
        values[_AWS_NAMES.get(field_name) or "aws." + str(field_name)] = attribute
        if field_name in _AWS_CONVENTIONS:
            values[_AWS_CONVENTIONS[field_name]] = attribute
    table = aws.get("table_name")
    if isinstance(table, str):
        values["aws.dynamodb.table_names"] = [table]
    return block


#: Encoded ``rpc.*``/``aws.operation``/region attributes, by (service, operation, region), when all are text.
_aws_blocks: dict[Any, bytes] = {}
_FIXED_AWS_FIELDS = frozenset(("operation", "region"))
_FIXED_AWS_FIELDS_AND_RETRIES = frozenset(("operation", "region", "retries"))
#: Attribute names of the ``aws`` fields our instrumentation always writes (others are ``aws.<field>``).
_AWS_NAMES = {
    "request_id": "aws.request_id",
    "retries": "aws.xray.retries",
    "id_2": "aws.id_2",
    "bucket_name": "aws.bucket_name",
    "key": "aws.key",
    "queue_url": "aws.queue_url",
    "table_name": "aws.table_name",
}


def _http_attributes(values: dict[str, Any], http: dict[str, Any]) -> dict[str, Any]:
    """An HTTP call's request and response as the conventions name them, into ``values`` (returned)."""
    request = http.get("request")
    if isinstance(request, dict):
        method = request.get("method")
        if isinstance(method, str):
            values["http.request.method"] = method
        url = request.get("url")
        if isinstance(url, str):
            values["url.full"] = url
            from urllib.parse import urlsplit

            try:
                parts = urlsplit(url)
                if parts.hostname:
                    values["server.address"] = parts.hostname
                port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
                if port:
                    values["server.port"] = port
            except ValueError:
                pass
    response = http.get("response")
    if isinstance(response, dict):
        status = response.get("status")
        if isinstance(status, int) and not isinstance(status, bool):
            values["http.response.status_code"] = status
            if status >= 400:
                values["error.type"] = str(status)
        length = response.get("content_length")
        if isinstance(length, int) and not isinstance(length, bool):
            values["http.response.body.size"] = length
    return values


def _attribute_value(value: Any) -> Any:
    """A scalar, or a list of strings, as it is; anything else as JSON text."""
    if value is None:
        return None
    if isinstance(value, (str, bool, int)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return xray_documents.dumps(value)  # strict JSON, as the translator parses it


def event(time_unix_nano: int, name: str, values: dict[str, Any]) -> bytes:
    """A ``Span.Event``: time 1 (fixed64), name 2, attributes 3."""
    return b"\x09" + time_unix_nano.to_bytes(8, "little") + field(0x12, text(name)) + attributes(0x1A, values)


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


otlp_spans._calls = sys.modules[__name__]  # handed down to the span writer (it cannot import this module)
