"""Our own spans as OTLP ``Span`` messages, for otlp.py: the common shapes (the handler, a ``capture_method``, an
AWS or HTTP call that succeeded) written out from the span itself, their repeating parts from caches; any other
shape is otlp_documents.from_span's.

* **Kinds**: SERVER for the handler (the span with ``ColdStart``), CLIENT for calls (namespace ``aws`` or
  ``remote``, or SQL), INTERNAL otherwise.
* **Attributes**: the semantic conventions (``faas.*``, ``cloud.*``, ``rpc.*``, ``http.*``, ``url.full``), the
  annotations, listed in ``aws.xray.annotations`` so X-Ray indexes them, and each metadata namespace as a JSON
  object in ``aws.xray.metadata.<namespace>``: where the collector's X-Ray translator reads them.
* **The invocation**: the handler span's ``cloud.resource_id`` and ``faas.trigger`` come from the LambdaContext
  and the event the handler got (``backends.invocation``, set by the handler's wrapper: no call of ours around
  awslambdaric's factories, which cost ~8 K instructions a warm invocation).

Imported with otlp.py at a cold start in otlp mode (never in xray mode).
"""

from __future__ import annotations

import math
import sys

from .. import backends, config
from . import otlp_proto, xray, xray_documents

# Two import statements, not four: each costs a pass through the import system's Python code at a cold start.
_seam, proto = backends, otlp_proto

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

#: Annotation keys of the handler span that are ours (not the user's): all are listed in aws.xray.annotations.
HANDLER_ANNOTATION = "ColdStart"
_LENGTHS = proto._LENGTHS
varint = proto.varint
# A failure's part (init's imports that raised are such spans), written in otlp_proto.py.
failure, exception_events, MAX_STATUS_MESSAGE = proto.failure, proto.exception_events, proto.MAX_STATUS_MESSAGE


def _own(span: xray.XRaySpan, trace: xray.Trace, end_us: int) -> bytes | None:
    """One of our spans as a ``Span`` message, the common shapes (the handler, a ``capture_method``, a call that
    succeeded) from caches (a failure's part: ``failure``); None for any other (otlp_documents.from_span's)."""
    root, parent_id, annotations = trace.root, span.parent_id, span.annotations
    if span.sql or (span.__class__ is not _XRaySpan and span.__class__ is not _PastSpan):
        return None
    if root.__class__ is not str or len(root) != 35 or parent_id.__class__ is not str or len(parent_id) != 16:
        return None
    name = span.name
    # Span.trace_id, span_id and parent_span_id (16, 8 and 8 bytes) in one call; kind and times below.
    parts = [bytes.fromhex("0a10" + root[2:10] + root[11:] + "1208" + span.id + "2208" + parent_id), b""]
    kind, tail = _CLIENT_KIND if span.namespace in _CALL_NAMESPACES else _INTERNAL_KIND, None
    if annotations and HANDLER_ANNOTATION in annotations:  # the handler's span: its repeating tail remembered
        if (cold := annotations[HANDLER_ANNOTATION]) is not True and cold is not False:  # a user's, of that name
            return None
        parts.append(_COLD_ATTRIBUTES[cold])
        kind = _SERVER_KIND
        arn = getattr(_seam.invocation[1], "invoked_function_arn", None)
        trigger = _invocation(parts)
        key, last = (annotations, tuple(map(type, annotations.values())), arn, name, trigger), _last_handler
        tail = last[1] if key == last[0] else _handler_block(annotations, name, arn, trigger)
    else:
        parts.append(proto._names.get(name) or proto.framed_name(name))
        if annotations:
            parts.append(_annotation_attributes(annotations))
    start, end = span.start_us * 1000 & _U64, end_us * 1000 & _U64
    parts[1] = (kind | start << 24 | _END_TAG | end << 96).to_bytes(20, "little")
    values: dict[str, Any] | None = None
    aws, http = span.aws, span.http
    if aws:
        values = {}
        parts.append(_aws_attributes(values, aws, name))
    if http:
        response = http.get("response")
        if http.get("request") is not None or response.__class__ is not dict:
            values = _http_attributes({} if values is None else values, http)
        else:  # a call's response alone (botocore's): its status, a few values, from a cache; its size
            status, size = response.get("status"), response.get("content_length")
            if status.__class__ is int:
                if status >= 400:
                    return None
                parts.append(_status_attributes.get(status) or _int_attribute(_status_attributes, _STATUS, status))
            if size.__class__ is int and 0 <= size < 0x4000:  # the varint inline (a call: ~1 K instructions)
                low = _LENGTHS[size] if size < 0x80 else (size & 0x7F | 0x80 | size >> 7 << 8).to_bytes(2, "little")
                parts += (_BODY_SIZE_HEADS[size >= 0x80], low)
            elif size.__class__ is int:
                parts.append(proto.attributes(0x4A, {"http.response.body.size": size}))
    if values:
        if "error.type" in values:  # an HTTP status of 4xx without the error flag (never ours): the general path
            return None
        parts.append(proto.attributes(0x4A, values))
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
                parts.append(proto.string_attribute("aws.xray.metadata." + str(namespace_name), text))
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
    """What otlp.py's warm path checks a handler span against (``warm``), from one ``_own`` wrote: the
    annotations' text of a warm invocation (``ColdStart`` false: a cold one's is remembered with it), its name, ARN
    and trigger, and the tail written from them."""
    global warm
    text = span.annotations_text
    if text is not None and cold:
        text = text.replace(_COLD_TEXT, _WARM_TEXT, 1)
    if text is not None and text.startswith(_WARM_TEXT_START):
        warm = (text, span.name, arn, trigger, tail)


#: ``warm``: (annotations' text, name, invoked ARN, trigger, tail); nothing matches the first.
warm: tuple[Any, ...] = (object(), None, None, None, b"")
#: The last response attribute ``response_attribute`` gave: ((namespace, key, text), its bytes).
_response: tuple[tuple[Any, ...] | None, bytes] = (None, b"")
_COLD_TEXT, _WARM_TEXT = '"ColdStart":true', '"ColdStart":false'
_WARM_TEXT_START = ',"annotations":{"ColdStart":false'


def _spliced_attribute(key: tuple[bytes, str, str], namespace: Any) -> bytes:
    """A response recorded with its JSON text (``span.spliced``) as its metadata attribute, that text put in as it
    is (the same JSON as xray mode's, not encoded again); remembered, for a handler's response is often the same
    from one invocation to the next. ``key``: the framed attribute key, the response's key, its JSON text."""
    global _spliced
    framed_key, text = key[0], "{" + _json_string(key[1]) + ":" + key[2] + "}"
    size = len(text)
    if size + len(framed_key) < 0x7B and text.isascii():  # all lengths one byte: from tables
        attribute = _SPAN_ATTRIBUTES[size + len(framed_key) + 4] + framed_key + _STRING_VALUES[size] + text.encode()
    else:
        attribute = proto.string_attribute("aws.xray.metadata." + str(namespace), text)
    _spliced = (key, attribute)
    return attribute


#: The last response attribute ``_spliced_attribute`` made: (its key, its bytes).
_spliced: tuple[tuple[bytes, str, str] | None, bytes] = (None, b"")
#: The last handler span: (its bytes, all but its tail, the tail: its name and the attributes that repeat, the
#: same bytes from one invocation to the next), for udp_body to base64 the tail once.
_handler_tail: tuple[bytes, bytes, bytes] = (b"", b"", b"")
_XRaySpan, _PastSpan = xray.XRaySpan, xray.PastSpan
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
#: FLAG_IS_REMOTE, FLAG_SAMPLED or both. Constants are bytes, not encoded at import (thousands of instructions a
#: call at a cold start; tests compare them with the encoder's).
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


_SPAN_ATTRIBUTES, _STRING_VALUES = proto._SPAN_ATTRIBUTES, proto._STRING_VALUES
_json_string = xray_documents.json_string
_STATUS, _RETRIES = "http.response.status_code", "aws.xray.retries"
#: Encoded attributes whose values repeat from call to call (a status, a retry count), by value.
_status_attributes: dict[int, bytes] = {}
_retries_attributes: dict[int, bytes] = {}
#: ``http.response.body.size`` up to its varint value, for a value of one byte and of two.
_BODY_SIZE_HEADS = [
    b"J\x1d\n\x17http.response.body.size\x12\x02\x18",
    b"J\x1e\n\x17http.response.body.size\x12\x03\x18",
]


def _int_attribute(cache: dict[int, bytes], key: str, value: int) -> bytes:
    """One attribute with an int value, encoded and remembered (at most MAX_BLOCKS values per cache)."""
    encoded = proto.attributes(0x4A, {key: value})
    if len(cache) >= MAX_BLOCKS:
        cache.clear()
    cache[value] = encoded
    return encoded


#: ``aws.xray.metadata.<namespace>`` as ``KeyValue.key`` fields, by namespace.
_metadata_keys: dict[str, bytes] = {}


def _metadata_key(namespace: Any) -> bytes:
    raw = proto.text("aws.xray.metadata." + str(namespace))
    size = len(raw)
    framed = (b"\x0a" + _LENGTHS[size] if size < 0x80 else b"\x0a" + varint(size)) + raw  # field(0x0A, raw)
    if len(_metadata_keys) >= proto.MAX_KEYS:
        _metadata_keys.clear()
    _metadata_keys[namespace] = framed
    return framed


#: The last handler's name and attributes, encoded: ((its annotations, their types, the invoked ARN, its name, its
#: trigger), the bytes).
_last_handler: tuple[tuple[Any, ...], bytes] = ((), b"")


def _handler_block(annotations: dict[str, Any], name: str, arn: Any, trigger: str | None) -> bytes:
    """The handler's name and attributes but ``ColdStart``/``faas.coldstart`` (``_COLD_ATTRIBUTES``), encoded and
    remembered with what they were made from: the same as the last invocation's, most of the time (``_own``
    compares them by value and type: True and 1 are equal, not the same attribute). Kept as a warm invocation's
    annotations are, so that the first warm invocation finds the cold one's."""
    global _last_handler
    checked = _plain(arn) if _invoked(_seam.invocation[1]) else None
    values = {key: value for key, value in annotations.items() if key != HANDLER_ANNOTATION}
    values["aws.xray.annotations"] = list(annotations)
    _cloud_attributes(values, checked)
    if trigger is not None:
        values["faas.trigger"] = trigger
    block = (proto._names.get(name) or proto.framed_name(name)) + proto.attributes(0x4A, values)
    kept = dict(annotations)
    kept[HANDLER_ANNOTATION] = False
    _last_handler = ((kept, tuple(map(type, kept.values())), arn, name, trigger), block)
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
    try:  # by value and type: True and 1 are equal, but not the same attribute
        key: Any = (tuple(annotations.items()), tuple(map(type, annotations.values())), arn, handler)
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
    block = proto.attributes(0x4A, values)
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


#: ``faas.trigger`` by a record's ``eventSource`` (the semantic conventions' values: a data source's change, a
#: message).
_RECORD_TRIGGERS = {
    "aws:s3": "datasource",
    "aws:dynamodb": "datasource",
    "aws:sqs": "pubsub",
    "aws:sns": "pubsub",
    "aws:kinesis": "pubsub",
    "aws:kafka": "pubsub",
    "aws:mq": "pubsub",
    "aws:rmq": "pubsub",
    "aws:ses": "pubsub",
}


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
        parts.append(proto.string_attribute("faas.invocation_id", request_id))
    return trigger


#: Keys of an event that may give another ``faas.trigger`` than ``other``: an event without any is ``other``.
TRIGGER_KEYS = frozenset(("requestContext", "Records", "source", "detail-type"))


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
        if records.__class__ is list and records and records[0].__class__ is dict:
            source = records[0].get("eventSource") or records[0].get("EventSource")
            return (_RECORD_TRIGGERS.get(source, "other") if source.__class__ is str else "other"), b""
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
    return proto.attributes(0x4A, values) if values else b""


def _plain(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= 256 and value.isascii() and value.isprintable():
        return value
    return None


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
    key: Any = (name, operation, region)
    try:
        block = _aws_blocks.get(key)
    except TypeError:  # an unhashable value (the escape hatch lets anything in)
        key, block = None, None
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
        block = proto.attributes(0x4A, fixed)
        if key is not None:
            if len(_aws_blocks) >= MAX_BLOCKS:
                _aws_blocks.clear()
            _aws_blocks[key] = block
    retries = aws.get("retries")
    if retries.__class__ is int:
        block += _retries_attributes.get(retries) or _int_attribute(_retries_attributes, _RETRIES, retries)
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


#: Encoded ``rpc.*``/``aws.operation``/region attributes, by (service, operation, region).
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
