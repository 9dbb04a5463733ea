"""OTLP datagrams as the local daemon receives them, decoded without protobuf packages.

A tracer in ``otlp`` mode (lambda_tracer, or ADOT's layer) sends ``{"format":"json","version":1}\\n`` + ``T1S``
(sampled) or ``T1U`` (unsampled) + base64 of an ``ExportTraceServiceRequest``. ``decode_datagram`` reads one into
plain dicts (the field names of opentelemetry-proto); ``span_document`` shows each span the way the collector's
X-Ray translator would, so the tree, ``--json`` and ``--html`` outputs show OTLP spans as they show segments.
The local tools depend on nothing but the standard library, hence this small decoder of the messages concerned.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
from typing import Any

HEADER = b'{"format":"json","version":1}\n'
MARKERS = {b"T1S": True, b"T1U": False}
KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}
ANNOTATIONS = "aws.xray.annotations"
METADATA_PREFIX = "aws.xray.metadata."


class DecodeError(ValueError):
    """Bytes that are not the protobuf message expected."""


def is_otlp(data: bytes) -> bool:
    """Whether a datagram carries OTLP spans (``T1S``/``T1U`` after the header), rather than an X-Ray document."""
    return data.startswith(HEADER) and data[len(HEADER) : len(HEADER) + 3] in MARKERS


def decode_datagram(data: bytes) -> tuple[bool, dict[str, Any]]:
    """(sampled, request) of one OTLP datagram; DecodeError when it is not one."""
    if not is_otlp(data):
        raise DecodeError("not an OTLP datagram (header + T1S/T1U)")
    body = data[len(HEADER) :]
    try:
        raw = base64.b64decode(body[3:], validate=True)
    except (binascii.Error, ValueError) as error:
        raise DecodeError(f"bad base64: {error}") from None
    try:
        return MARKERS[body[:3]], decode_request(raw)
    except RecursionError:  # values nested deeper than this decoder goes (protobuf's own stop at 100 messages)
        raise DecodeError("values nested deeper than protobuf decoders go") from None


# -- protobuf wire format --------------------------------------------------------------------------------------


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise DecodeError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) of each field: an int for varints and fixed, bytes for length-delimited."""
    found: list[tuple[int, int, Any]] = []
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        value: Any
        if number == 0:
            raise DecodeError("field number 0")
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 1:
            if position + 8 > len(data):
                raise DecodeError("truncated fixed64")
            value, position = struct.unpack_from("<Q", data, position)[0], position + 8
        elif wire == 2:
            length, position = _varint(data, position)
            if position + length > len(data):
                raise DecodeError("truncated length-delimited field")
            value, position = data[position : position + length], position + length
        elif wire == 5:
            if position + 4 > len(data):
                raise DecodeError("truncated fixed32")
            value, position = struct.unpack_from("<I", data, position)[0], position + 4
        else:
            raise DecodeError(f"unsupported wire type {wire}")
        found.append((number, wire, value))
    return found


def _text(value: Any) -> str:
    if not isinstance(value, bytes):
        raise DecodeError("expected a string")
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise DecodeError("string is not UTF-8") from None


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def any_value(data: bytes) -> Any:
    """An ``AnyValue``: str, bool, int, float, list, dict (kvlist) or bytes; None when empty."""
    value: Any = None
    for number, wire, raw in fields(data):
        if number == 1 and wire == 2:
            value = _text(raw)
        elif number == 2 and wire == 0:
            value = bool(raw)
        elif number == 3 and wire == 0:
            value = _signed(raw)
        elif number == 4 and wire == 1:
            value = struct.unpack("<d", struct.pack("<Q", raw))[0]
        elif number == 5 and wire == 2:
            value = [any_value(item) for n, w, item in fields(raw) if n == 1 and w == 2]
        elif number == 6 and wire == 2:
            value = dict(key_values(raw, 1))
        elif number == 7 and wire == 2:
            value = bytes(raw)
    return value


def key_values(data: bytes, number: int) -> list[tuple[str, Any]]:
    """The repeated ``KeyValue`` field ``number`` of a message, in order (duplicates kept)."""
    found: list[tuple[str, Any]] = []
    for field_number, wire, raw in fields(data):
        if field_number == number and wire == 2:
            key, value = "", None
            for n, w, item in fields(raw):
                if n == 1 and w == 2:
                    key = _text(item)
                elif n == 2 and w == 2:
                    value = any_value(item)
            found.append((key, value))
    return found


def decode_span(data: bytes) -> dict[str, Any]:
    span: dict[str, Any] = {
        "trace_id": b"",
        "span_id": b"",
        "parent_span_id": b"",
        "name": "",
        "kind": 0,
        "start_time_unix_nano": 0,
        "end_time_unix_nano": 0,
        "attributes": [],
        "events": [],
        "status": {"code": 0, "message": ""},
        "flags": 0,
    }
    for number, wire, raw in fields(data):
        if number in (1, 2, 4) and wire == 2:
            span[{1: "trace_id", 2: "span_id", 4: "parent_span_id"}[number]] = bytes(raw)
        elif number == 5 and wire == 2:
            span["name"] = _text(raw)
        elif number == 6 and wire == 0:
            span["kind"] = raw
        elif number in (7, 8) and wire == 1:
            span["start_time_unix_nano" if number == 7 else "end_time_unix_nano"] = raw
        elif number == 11 and wire == 2:
            event: dict[str, Any] = {"time_unix_nano": 0, "name": "", "attributes": key_values(raw, 3)}
            for n, w, item in fields(raw):
                if n == 1 and w == 1:
                    event["time_unix_nano"] = item
                elif n == 2 and w == 2:
                    event["name"] = _text(item)
            span["events"].append(event)
        elif number == 15 and wire == 2:
            for n, w, item in fields(raw):
                if n == 2 and w == 2:
                    span["status"]["message"] = _text(item)
                elif n == 3 and w == 0:
                    span["status"]["code"] = item
        elif number == 16 and wire == 5:
            span["flags"] = raw
    span["attributes"] = key_values(data, 9)
    return span


def decode_request(data: bytes) -> dict[str, Any]:
    """An ``ExportTraceServiceRequest``: ``{"resource_spans": [{"resource", "scope_spans": [{"scope",
    "spans"}]}]}``, attributes as lists of (key, value) pairs."""
    resource_spans = []
    for number, wire, raw in fields(data):
        if number != 1 or wire != 2:
            continue
        resource: list[tuple[str, Any]] = []
        scopes = []
        for n, w, item in fields(raw):
            if n == 1 and w == 2:
                resource = key_values(item, 1)
            elif n == 2 and w == 2:
                scope: dict[str, Any] = {"name": "", "version": ""}
                spans = []
                for sn, sw, part in fields(item):
                    if sn == 1 and sw == 2:
                        for cn, cw, value in fields(part):
                            if cn in (1, 2) and cw == 2:
                                scope["name" if cn == 1 else "version"] = _text(value)
                    elif sn == 2 and sw == 2:
                        spans.append(decode_span(part))
                scopes.append({"scope": scope, "spans": spans})
        resource_spans.append({"resource": resource, "scope_spans": scopes})
    return {"resource_spans": resource_spans}


def spans_of(request: dict[str, Any]) -> list[tuple[list[tuple[str, Any]], dict[str, Any]]]:
    """(resource attributes, span) for every span of a decoded request."""
    return [
        (resource_spans["resource"], span)
        for resource_spans in request["resource_spans"]
        for scope in resource_spans["scope_spans"]
        for span in scope["spans"]
    ]


# -- as X-Ray shows it ---------------------------------------------------------------------------------------


def xray_trace_id(trace_id: bytes) -> str:
    """``1-<8 hex>-<24 hex>``: the X-Ray form of a 16-byte trace id."""
    text = trace_id.hex()
    return f"1-{text[:8]}-{text[8:]}"


def span_document(span: dict[str, Any], sampled: bool = True) -> dict[str, Any]:
    """One span as an X-Ray subsegment document, as the collector's X-Ray translator reads its attributes
    (annotations listed in ``aws.xray.annotations``, metadata from ``aws.xray.metadata.<namespace>``), plus an
    ``otlp`` entry with what X-Ray has no field for: kind, sampled, every attribute, events, status."""
    attributes = dict(span["attributes"])
    listed = attributes.get(ANNOTATIONS)
    annotation_keys = [key for key in listed if isinstance(key, str)] if isinstance(listed, list) else []
    annotations = {key: attributes[key] for key in annotation_keys if key in attributes}
    metadata: dict[str, Any] = {}
    for key, value in attributes.items():
        if key.startswith(METADATA_PREFIX) and isinstance(value, str):
            try:
                metadata[key[len(METADATA_PREFIX) :]] = json.loads(value)
            except (ValueError, RecursionError):  # not JSON, or nested deeper than JSON readers go
                metadata.setdefault("default", {})[key] = value
    kind = KINDS.get(span["kind"], str(span["kind"]))
    document: dict[str, Any] = {
        "id": span["span_id"].hex(),
        "name": span["name"],
        "start_time": span["start_time_unix_nano"] / 1e9,
        "end_time": span["end_time_unix_nano"] / 1e9,
        "type": "subsegment",
        "trace_id": xray_trace_id(span["trace_id"]),
        "parent_id": span["parent_span_id"].hex() or None,
    }
    if attributes.get("rpc.system") == "aws-api":
        document["namespace"] = "aws"
    elif kind == "CLIENT":
        document["namespace"] = "remote"
    if annotations:
        document["annotations"] = annotations
    if metadata:
        document["metadata"] = metadata
    status = span["status"]
    if status["code"] == 2:
        code = attributes.get("http.response.status_code")
        document["error" if isinstance(code, int) and 400 <= code < 500 else "fault"] = True
    exceptions = [dict(event["attributes"]) for event in span["events"] if event["name"] == "exception"]
    if exceptions:
        document["cause"] = {
            "exceptions": [
                # ids are made up, as the translator makes them (cause.go)
                {
                    "id": os.urandom(8).hex(),
                    "type": item.get("exception.type"),
                    "message": item.get("exception.message"),
                }
                for item in exceptions
            ]
        }
    document["otlp"] = {
        "kind": kind,
        "sampled": sampled,
        "flags": span["flags"],
        "attributes": {key: value for key, value in attributes.items() if not key.startswith(METADATA_PREFIX)},
        "events": [{"name": event["name"], "attributes": dict(event["attributes"])} for event in span["events"]],
        "status": {"code": STATUS.get(status["code"], str(status["code"])), "message": status["message"]},
    }
    return document


def documents_of(data: bytes) -> list[dict[str, Any]]:
    """Every span of one OTLP datagram as ``span_document`` shows it (DecodeError when it is not one)."""
    sampled, request = decode_datagram(data)
    return [span_document(span, sampled) for _, span in spans_of(request)]
