"""X-Ray's rules for one datagram and one segment document: D1..D3, F1..F17, E1..E3 (see ``xray_rules``).

The rules one document breaks on its own, whoever sent it; ``xray_rules`` adds those about all the documents of
an invocation together, and is the module to import (it re-exports these).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeGuard

#: The one header line the daemon accepts, then the document (aws-xray-daemon cmd/tracing/daemon.go).
HEADER_LINE = b'{"format":"json","version":1}\n'
#: Largest UDP payload over IPv4; a larger send fails and the document is lost.
MAX_DATAGRAM_BYTES = 65_507
#: "A segment document can be up to 64 kB".
MAX_DOCUMENT_BYTES = 64_000
MAX_NAME_CHARS = 250
MAX_SEGMENT_NAME_CHARS = 200
MAX_ANNOTATION_CHARS = 1_000
MAX_INDEXED_ANNOTATIONS = 50
MAX_HTTP_REQUEST_CHARS = 250
#: 2000-01-01T00:00:00Z: a start_time before this is not epoch seconds (or a clock at zero).
EARLIEST_TIME = 946_684_800.0
#: Epoch seconds stay below 1e11 until the year 5138; epoch milliseconds are above it since 1973.
LATEST_TIME = 1e11
#: Embedded subsegments are walked with a stack, not recursion, down to this depth: deeper than a document read from a
#: datagram nests (JSON readers stop near 1,000 levels, two a subsegment). One built deeper in memory is reported
#: (F16) where the walk stops, rather than walked on: its paths alone would grow with the square of its depth.
MAX_EMBEDDED_DEPTH = 1_000

# fmt: off
#: Every rule checked here, by level (the spec's ids; H1..H3 and M1 are not about one invocation's datagrams).
ERROR_RULES = (
    "D1", "D2", "D3", "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F9", "F10", "F10b", "F11", "F12", "F13", "F14",
    "F15", "F16", "X1", "X2", "X3", "X4", "X5", "X7", "X8",
)
WARN_RULES = ("D1w", "F7w", "F8", "F10w", "F12b", "F17", "E1", "E2", "E3", "X6")
# fmt: on
LEVELS: dict[str, str] = {**dict.fromkeys(ERROR_RULES, "error"), **dict.fromkeys(WARN_RULES, "warn")}

_HEX16 = re.compile(r"[0-9A-Fa-f]{16}")
_TRACE_ID = re.compile(r"1-[0-9A-Fa-f]{8}-[0-9A-Fa-f]{24}")
_ANNOTATION_KEY = re.compile(r"[A-Za-z0-9_]{1,500}")
#: Stripped from names by the SDKs (aws-xray-sdk-python core/models/entity.py): X-Ray does not take them.
_FORBIDDEN_NAME_CHARS = frozenset("?;*()!$~^<>")
#: Besides Unicode letters, digits and whitespace, what the schema's name pattern allows.
_NAME_SYMBOLS = frozenset("_.:/%&#=+\\-@")
_NAMESPACES = frozenset({"aws", "remote", "local"})
_FLAGS = ("error", "fault", "throttle", "in_progress", "traced")
_HTTP_REQUEST_STRINGS = ("method", "url", "user_agent", "client_ip")
_HTTP_REQUEST_BOOLEANS = ("traced", "x_forwarded_for")
_HTTP_RESPONSE_NUMBERS = ("status", "content_length")
_AWS_STRINGS = ("operation", "account_id", "region", "request_id", "queue_url", "table_name")

# The published document (xray-segmentdocument-schema-v1.0.0.json "properties"; the schema's subsegment definition
# leaves out id and trace_id, which the Developer Guide lists as required / required when sent separately).
# fmt: off
_COMMON_FIELDS = frozenset((
    "name", "id", "start_time", "end_time", "in_progress", "trace_id", "parent_id", "error", "fault", "throttle",
    "cause", "annotations", "metadata", "subsegments", "http", "aws",
))
# fmt: on
SEGMENT_FIELDS = _COMMON_FIELDS | {"service", "user", "origin", "resource_arn"}
SUBSEGMENT_FIELDS = _COMMON_FIELDS | {"type", "namespace", "precursor_ids", "traced", "sql"}


@dataclass(frozen=True)
class Violation:
    """One broken rule: its id (D1..X8), level (``error``/``warn``), where (``$`` = the document) and what."""

    rule: str
    level: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule} [{self.level}] {self.path}: {self.message}"


def violation(rule: str, path: str, message: str) -> Violation:
    return Violation(rule, LEVELS[rule], path, message)


def errors(violations: Iterable[Violation]) -> list[Violation]:
    """The violations X-Ray would reject or lose data for (level ``error``)."""
    return [found for found in violations if found.level == "error"]


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _member(
    doc: Mapping[str, Any], key: str, rule: str, path: str, kind: type = Mapping
) -> Generator[Violation, None, Any]:
    """``doc[key]`` when it is there and an object (``kind=list``: an array); None when it is absent, and None with
    a violation of ``rule`` when it is something else."""
    if key not in doc:
        return None
    value = doc[key]
    if not isinstance(value, kind):
        yield violation(rule, f"{path}.{key}", f"not {'an array' if kind is list else 'an object'}: {_shown(value)}")
        return None
    return value


def _is_number(value: Any) -> TypeGuard[float]:
    """A JSON number: int or finite float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_integer(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _is_boolean(value: Any) -> bool:
    return isinstance(value, bool)


def _typed(
    rule: str, where: str, holder: Mapping[str, Any], fields: Iterable[str], check: Callable[[Any], bool], kind: str
) -> Iterator[Violation]:
    """``rule`` broken by each of ``fields`` that ``holder`` has and ``check`` refuses (``kind``: what it should be)."""
    for field in fields:
        if field in holder and not check(holder[field]):
            yield violation(rule, f"{where}.{field}", f"not {kind}: {_shown(holder[field])}")


def _is_hex16(value: Any) -> bool:
    return isinstance(value, str) and _HEX16.fullmatch(value) is not None


# -- one datagram -----------------------------------------------------------------------------------------------


def check_datagram(data: bytes) -> list[Violation]:
    """D1, D1w, D2, D3 on one datagram as sent: size, header line, then a strict JSON object in UTF-8.

    D2 wants the header line byte for byte, as every SDK sends it. The daemon itself splits at the first newline
    and parses the header as JSON, so it would also take ``{"format": "json", "version": 1}``: that variant is
    refused here all the same, being nothing X-Ray documents.
    """
    found = list(_datagram_size(data))
    header, newline, body = data.partition(b"\n")
    if not newline or header + newline != HEADER_LINE:
        found.append(violation("D2", "$", f"does not start with the header line {HEADER_LINE!r}: {_shown(header)}"))
        return found
    found += _document_size(body)
    found += _strict_json_object(body)
    return found


def _datagram_size(data: bytes) -> Iterator[Violation]:
    if len(data) > MAX_DATAGRAM_BYTES:
        yield violation("D1", "$", f"datagram of {len(data)} bytes > {MAX_DATAGRAM_BYTES} (lost: no UDP/IPv4 send)")


def _document_size(body: bytes) -> Iterator[Violation]:
    if len(body) > MAX_DOCUMENT_BYTES:
        yield violation("D1w", "$", f"document of {len(body)} bytes > {MAX_DOCUMENT_BYTES} ('up to 64 kB')")


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


def _finite_float(token: str) -> float:
    number = float(token)
    if not math.isfinite(number):
        raise ValueError(f"{token} is out of range for a double")
    return number


def _strict_json_object(body: bytes) -> Iterator[Violation]:
    try:
        text = body.decode("utf-8")  # json.loads(bytes) would also take UTF-16 and UTF-32
        document = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except UnicodeDecodeError as error:
        yield violation("D3", "$", f"not UTF-8: {error}")
        return
    except ValueError as error:
        yield violation("D3", "$", f"not strict JSON: {error}")
        return
    except RecursionError:  # Python's reader, as others, stops near 1,000 levels: a verdict, not the checker's crash
        yield violation("D3", "$", "not JSON a reader takes: nested deeper than JSON readers go")
        return
    if not isinstance(document, dict):
        yield violation("D3", "$", f"not a JSON object: {type(document).__name__}")


def document_of(data: bytes) -> dict[str, Any] | None:
    """The document in a datagram, parsed as leniently as the daemon stand-in does (None if there is none)."""
    _, newline, body = data.partition(b"\n")
    try:
        document = json.loads(body) if newline else None
    except (ValueError, RecursionError):  # nested too deep: check_datagram says so (D3)
        return None
    return document if isinstance(document, dict) else None


# -- one document ---------------------------------------------------------------------------------------------


def check_document(doc: Mapping[str, Any]) -> list[Violation]:
    """F1..F17 and E1..E3 on one document sent to the daemon, and on every subsegment embedded in it.

    A document of ``type`` "subsegment" is an independently sent subsegment (F2); one without is a segment.
    Embedded subsegments need neither trace_id nor type.
    """
    if not isinstance(doc, Mapping):
        return [violation("D3", "$", f"a document is a JSON object, not {type(doc).__name__}")]
    found: list[Violation] = []
    # The entities being checked, outermost first: each yields its violations and the embedded ones to check next.
    walks = [_entity(doc, "$", segment="type" not in doc, embedded=False)]
    while walks:
        item = next(walks[-1], None)
        if item is None:
            walks.pop()
        elif isinstance(item, Violation):
            found.append(item)
        elif len(walks) > MAX_EMBEDDED_DEPTH:
            found.append(violation("F16", item.path, f"embedded deeper than {MAX_EMBEDDED_DEPTH} levels: not checked"))
        else:
            walks.append(_entity(item.doc, item.path, segment=False, embedded=True))
    return found


class _Embedded(NamedTuple):
    """An embedded subsegment to check next (``check_document`` walks them, so that no depth recurses)."""

    doc: Mapping[str, Any]
    path: str


def _entity(doc: Mapping[str, Any], path: str, segment: bool, embedded: bool) -> Iterator[Violation | _Embedded]:
    yield from _required_fields(doc, path, embedded)
    if not embedded and not segment:
        yield from _independent_subsegment(doc, path)
    yield from _ids(doc, path)
    yield from _trace_id(doc, path)
    yield from _times(doc, path)
    yield from _end_or_in_progress(doc, path)
    yield from _name(doc, path, segment)
    yield from _name_charset(doc, path)
    yield from _namespace(doc, path)
    yield from _flags(doc, path)
    yield from _annotations(doc, path)
    yield from _metadata(doc, path)
    yield from _http(doc, path)
    yield from _http_lengths(doc, path)
    yield from _aws(doc, path)
    yield from _cause(doc, path)
    yield from _precursor_ids(doc, path)
    yield from _published_fields(doc, path, segment)
    yield from _flags_match_status(doc, path)
    yield from _cause_has_flag(doc, path)
    yield from _subsegments(doc, path)


def _required_fields(doc: Mapping[str, Any], path: str, embedded: bool) -> Iterator[Violation]:
    """F1: name, id, start_time, trace_id (not for embedded subsegments), and end_time or in_progress."""
    required = ("name", "id", "start_time") if embedded else ("name", "id", "start_time", "trace_id")
    for field in required:
        if field not in doc:
            yield violation("F1", path, f"required field {field!r} missing")
    if "end_time" not in doc and "in_progress" not in doc:
        yield violation("F1", path, "neither end_time nor in_progress")


def _independent_subsegment(doc: Mapping[str, Any], path: str) -> Iterator[Violation]:
    """F2: a subsegment sent on its own says type "subsegment" and carries trace_id and parent_id."""
    if doc.get("type") != "subsegment":
        yield violation("F2", path, f"type is {_shown(doc.get('type'))}, not 'subsegment'")
    for field in ("trace_id", "parent_id"):
        if field not in doc:
            yield violation("F2", path, f"a subsegment sent on its own needs {field!r}")


def _ids(doc: Mapping[str, Any], path: str) -> Iterator[Violation]:
    """F3: id and parent_id are 16 hex digits."""
    for field in ("id", "parent_id"):
        if field in doc and not _is_hex16(doc[field]):
            yield violation("F3", f"{path}.{field}", f"not 16 hexadecimal digits: {_shown(doc[field])}")


def _trace_id(doc: Mapping[str, Any], path: str) -> Iterator[Violation]:
    """F4: 1-<8 hex: epoch seconds>-<24 hex>."""
    value = doc.get("trace_id")
    if "trace_id" in doc and not (isinstance(value, str) and _TRACE_ID.fullmatch(value)):
        yield violation("F4", f"{path}.trace_id", f"not 1-<8 hex>-<24 hex>: {_shown(value)}")


def _times(doc: Mapping[str, Any], path: str) -> Iterator[Violation]:
    """F5: start_time and end_time are numbers of epoch seconds, end_time >= start_time."""
    for field in ("start_time", "end_time"):
        if field in doc:
            yield from _epoch_seconds(doc[field], f"{path}.{field}")
    start, end = doc.get("start_time"), doc.get("end_time")
    if _is_number(start) and _is_number(end) and end < start:
        yield violation("F5", f"{path}.end_time", f"end_time {end!r} is before start_time {start!r}")


def _epoch_seconds(value: Any, path: str) -> Iterator[Violation]:
    if not _is_number(value):
        yield violation("F5", path, f"not a (finite) JSON number: {_shown(value)}")
    elif not EARLIEST_TIME <= value < LATEST_TIME:
        unit = "milliseconds?" if value >= LATEST_TIME else "before 2000"
        yield violation("F5", path, f"{value!r} is not epoch seconds ({unit})")


def _end_or_in_progress(doc: Mapping[str, Any], path: str) -> Iterator[Violation]:
    """F6: exactly one of end_time and in_progress: true (in_progress: false beside end_time is what SDKs send)."""
    ended, in_progress = "end_time" in doc, doc.get("in_progress") is True
    if ended and in_progress:
        yield violation("F6", path, "both end_time and in_progress: true")
    elif not ended and not in_progress and "in_progress" in doc:  # neither key at all is F1's
        yield violation("F6", path, f"no end_time, and in_progress is {_shown(doc['in_progress'])}")


def _name(doc: Mapping[str, Any], path: str, segment: bool) -> Iterator[Violation]:
    """F7: a non-empty string, at most 250 characters (200 for a segment), none of ?;*()!$~^<>."""
    if "name" not in doc:
        return
    name, limit = doc["name"], MAX_SEGMENT_NAME_CHARS if segment else MAX_NAME_CHARS
    if not isinstance(name, str) or not name:
        yield violation("F7", f"{path}.name", f"not a non-empty string: {_shown(name)}")
        return
    if len(name) > limit:
        yield violation("F7", f"{path}.name", f"{len(name)} characters > {limit}")
    forbidden = sorted(set(name) & _FORBIDDEN_NAME_CHARS)
    if forbidden:
        yield violation("F7", f"{path}.name", f"contains {''.join(forbidden)!r}: {_shown(name)}")


def _name_char_allowed(char: str) -> bool:
    return char in _NAME_SYMBOLS or char.isspace() or unicodedata.category(char)[0] in "LNZ"


def _name_charset(doc: Mapping[str, Any], path: str) -> Iterator[Violation]:
    """F7w: Unicode letters, digits, whitespace and _.:/%&#=+\\-@ only (the schema's name pattern)."""
    name = doc.get("name")
    if isinstance(name, str):
        others = sorted({char for char in name if not _name_char_allowed(char)} - _FORBIDDEN_NAME_CHARS)
        if others:
            yield violation("F7w", f"{path}.name", f"characters outside the name charset {''.join(others)!r}")


def _namespace(doc: Mapping[str, Any], path: str) -> Iterator[Violation]:
    """F8: aws, remote (documented) or local (what the SDKs send for local work)."""
    if "namespace" in doc and doc["namespace"] not in _NAMESPACES:
        yield violation("F8", f"{path}.namespace", f"{_shown(doc['namespace'])} is not aws, remote or local")


def _flags(doc: Mapping[str, Any], path: str) -> Iterator[Violation]:
    """F9: error, fault, throttle, in_progress (and a subsegment's traced) are booleans."""
    yield from _typed("F9", path, doc, _FLAGS, _is_boolean, "a boolean")


def _annotations(doc: Mapping[str, Any], path: str) -> Iterator[Violation]:
    """F10: an object of ^[A-Za-z0-9_]{1,500}$ keys to string|number|boolean; F10b: strings <= 1,000 chars."""
    annotations = yield from _member(doc, "annotations", "F10", path)
    if annotations is None:
        return
    for key, value in annotations.items():
        where = f"{path}.annotations.{key}"
        if not (isinstance(key, str) and _ANNOTATION_KEY.fullmatch(key)):
            yield violation("F10", where, f"key {_shown(key)} is not [A-Za-z0-9_]{{1,500}}")
        if not (isinstance(value, (str, bool)) or _is_number(value)):
            yield violation("F10", where, f"value is not a string, number or boolean: {_shown(value)}")
        elif isinstance(value, str) and len(value) > MAX_ANNOTATION_CHARS:
            yield violation("F10b", where, f"string of {len(value)} characters > {MAX_ANNOTATION_CHARS}")


def _metadata(doc: Mapping[str, Any], path: str) -> Iterator[Violation]:
    """F11: an object of namespace -> object, no namespace starting with 'AWS.' (reserved for AWS)."""
    metadata = yield from _member(doc, "metadata", "F11", path)
    if metadata is None:
        return
    for namespace, values in metadata.items():
        where = f"{path}.metadata.{namespace}"
        if not isinstance(values, Mapping):
            yield violation("F11", where, f"a namespace holds an object, not {_shown(values)}")
        if str(namespace).startswith("AWS."):
            yield violation("F11", where, "namespaces starting with 'AWS.' are reserved for AWS")


def _http(doc: Mapping[str, Any], path: str) -> Iterator[Violation]:
    """F12: http.request strings and booleans, http.response numbers."""
    http = yield from _member(doc, "http", "F12", path)
    if http is None:
        return
    request, response = http.get("request", {}), http.get("response", {})
    if not isinstance(request, Mapping):
        yield violation("F12", f"{path}.http.request", f"not an object: {_shown(request)}")
        request = {}
    if not isinstance(response, Mapping):
        yield violation("F12", f"{path}.http.response", f"not an object: {_shown(response)}")
        response = {}
    yield from _typed("F12", f"{path}.http.request", request, _HTTP_REQUEST_STRINGS, _is_string, "a string")
    yield from _typed("F12", f"{path}.http.request", request, _HTTP_REQUEST_BOOLEANS, _is_boolean, "a boolean")
    yield from _typed("F12", f"{path}.http.response", response, _HTTP_RESPONSE_NUMBERS, _is_number, "a number")


def _http_lengths(doc: Mapping[str, Any], path: str) -> Iterator[Violation]:
    """F12b: http.request url, method, user_agent, client_ip at most 250 characters."""
    http = doc.get("http")
    request = http.get("request") if isinstance(http, Mapping) else None
    if not isinstance(request, Mapping):
        return
    for field in _HTTP_REQUEST_STRINGS:
        value = request.get(field)
        if isinstance(value, str) and len(value) > MAX_HTTP_REQUEST_CHARS:
            yield violation("F12b", f"{path}.http.request.{field}", f"{len(value)} characters > 250")


def _aws(doc: Mapping[str, Any], path: str) -> Iterator[Violation]:
    """F13: an object; operation, account_id, region, request_id, queue_url, table_name are strings."""
    aws = yield from _member(doc, "aws", "F13", path)
    if aws is None:
        return
    yield from _typed("F13", f"{path}.aws", aws, _AWS_STRINGS, _is_string, "a string")


def _cause(doc: Mapping[str, Any], path: str) -> Iterator[Violation]:
    """F14: a 16-hex exception id, or {working_directory: str, paths: [str], exceptions: [exception]}."""
    if "cause" not in doc:
        return
    cause, where = doc["cause"], f"{path}.cause"
    if isinstance(cause, str):
        if not _is_hex16(cause):
            yield violation("F14", where, f"an exception id is 16 hexadecimal digits: {_shown(cause)}")
        return
    if not isinstance(cause, Mapping):
        yield violation("F14", where, f"neither an exception id nor an object: {_shown(cause)}")
        return
    if "working_directory" in cause and not isinstance(cause["working_directory"], str):
        yield violation("F14", f"{where}.working_directory", f"not a string: {_shown(cause['working_directory'])}")
    paths = cause.get("paths", [])
    if not (isinstance(paths, list) and all(isinstance(item, str) for item in paths)):
        yield violation("F14", f"{where}.paths", f"not an array of strings: {_shown(paths)}")
    exceptions = cause.get("exceptions", [])
    if not isinstance(exceptions, list):
        yield violation("F14", f"{where}.exceptions", f"not an array: {_shown(exceptions)}")
        return
    for index, exception in enumerate(exceptions):
        yield from _exception(exception, f"{where}.exceptions[{index}]")
        yield from _exception_detail(exception, f"{where}.exceptions[{index}]")


def _exception(exception: Any, path: str) -> Iterator[Violation]:
    """F15: id (16 hex) required; message/type/cause strings; remote boolean; truncated/skipped integers; stack."""
    if not isinstance(exception, Mapping):
        yield violation("F15", path, f"an exception is an object, not {_shown(exception)}")
        return
    if not _is_hex16(exception.get("id")):
        yield violation("F15", f"{path}.id", f"required, 16 hexadecimal digits: {_shown(exception.get('id'))}")
    for field in ("message", "type", "cause"):
        if field in exception and not isinstance(exception[field], str):
            yield violation("F15", f"{path}.{field}", f"not a string: {_shown(exception[field])}")
    if "remote" in exception and not isinstance(exception["remote"], bool):
        yield violation("F15", f"{path}.remote", f"not a boolean: {_shown(exception['remote'])}")
    for field in ("truncated", "skipped"):
        if field in exception and not _is_integer(exception[field]):
            yield violation("F15", f"{path}.{field}", f"not an integer: {_shown(exception[field])}")
    yield from _stack(exception.get("stack", []), f"{path}.stack")


def _stack(stack: Any, path: str) -> Iterator[Violation]:
    if not isinstance(stack, list):
        yield violation("F15", path, f"not an array of stack frames: {_shown(stack)}")
        return
    for index, frame in enumerate(stack):
        where = f"{path}[{index}]"
        if not isinstance(frame, Mapping):
            yield violation("F15", where, f"a stack frame is an object, not {_shown(frame)}")
            continue
        for field in ("path", "label"):
            if field in frame and not isinstance(frame[field], str):
                yield violation("F15", f"{where}.{field}", f"not a string: {_shown(frame[field])}")
        if "line" in frame and not _is_integer(frame["line"]):
            yield violation("F15", f"{where}.line", f"not an integer: {_shown(frame['line'])}")


def _exception_detail(exception: Any, path: str) -> Iterator[Violation]:
    """E3: an exception says its type and message and has at least one stack frame."""
    if not isinstance(exception, Mapping):
        return
    missing = [field for field in ("type", "message") if field not in exception]
    if not exception.get("stack"):
        missing.append("stack frames")
    if missing:
        yield violation("E3", path, f"exception without {', '.join(missing)}")


def _precursor_ids(doc: Mapping[str, Any], path: str) -> Iterator[Violation]:
    """F16: precursor_ids is an array of 16-hex ids."""
    if "precursor_ids" not in doc:
        return
    ids = doc["precursor_ids"]
    if not (isinstance(ids, list) and all(_is_hex16(item) for item in ids)):
        yield violation("F16", f"{path}.precursor_ids", f"not an array of 16-hex ids: {_shown(ids)}")


def _published_fields(doc: Mapping[str, Any], path: str, segment: bool) -> Iterator[Violation]:
    """F17: only the fields of the published document (the schema's properties)."""
    published = SEGMENT_FIELDS if segment else SUBSEGMENT_FIELDS
    extra = sorted(str(key) for key in doc if key not in published)
    if extra:
        kind = "segment" if segment else "subsegment"
        yield violation("F17", path, f"fields outside the published {kind} document: {', '.join(extra)}")


def _flags_match_status(doc: Mapping[str, Any], path: str) -> Iterator[Violation]:
    """E1: 5xx -> fault; 429 -> throttle and error; other 4xx -> error; no fault for a 4xx alone (no cause)."""
    http = doc.get("http")
    response = http.get("response") if isinstance(http, Mapping) else None
    status = response.get("status") if isinstance(response, Mapping) else None
    if not isinstance(status, int) or isinstance(status, bool):
        return
    expected: tuple[str, ...] = ()
    if 500 <= status <= 599:
        expected = ("fault",)
    elif status == 429:
        expected = ("throttle", "error")
    elif 400 <= status <= 499:
        expected = ("error",)
    missing = [flag for flag in expected if doc.get(flag) is not True]
    if missing:
        yield violation("E1", path, f"HTTP status {status} without {' and '.join(missing)}: true")
    if 400 <= status <= 499 and doc.get("fault") is True and "cause" not in doc:
        yield violation("E1", path, f"fault: true for HTTP status {status} and nothing else")


def _cause_has_flag(doc: Mapping[str, Any], path: str) -> Iterator[Violation]:
    """E2: a cause comes with error, fault or throttle set."""
    if "cause" in doc and not any(doc.get(flag) is True for flag in ("error", "fault", "throttle")):
        yield violation("E2", path, "a cause without error, fault or throttle: true")


def _subsegments(doc: Mapping[str, Any], path: str) -> Iterator[Violation | _Embedded]:
    """F16: an array of subsegment objects, each valid (embedded: no trace_id or type needed; ``check_document``
    checks each one it is handed)."""
    children = yield from _member(doc, "subsegments", "F16", path, list)
    if children is None:
        return
    for index, child in enumerate(children):
        where = f"{path}.subsegments[{index}]"
        if isinstance(child, Mapping):
            yield _Embedded(child, where)
        else:
            yield violation("F16", where, f"a subsegment is an object, not {_shown(child)}")
