"""What is set on an OpenTelemetry API span, recorded as X-Ray reads it from OTLP (otel.py's spans; loaded with it).

Keys listed in ``aws.xray.annotations`` become annotations, ``db.*`` the ``sql`` block, ``http.*``/``url.full`` the
``http`` block, everything else metadata in the ``default`` namespace; events the ``default`` namespace's ``events``
(in ``otlp`` mode a span started through the API keeps them apart, sent as its own events). All of it redacted and
bounded as ``put_annotation``/``put_metadata`` are. On a span of ours each ``set_attribute`` is recorded at once: the
keys listed and the values set so far are kept on the span, so a key and the list naming it may come in either order.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

from opentelemetry.trace import SpanKind
from opentelemetry.util import types

from . import capture, config, redaction
from .backends import xray
from .instrumentation import common

#: The metadata namespace of OTel attributes and events, as X-Ray's OTLP translator writes them.
NAMESPACE = "default"
#: Attribute naming the attributes that become annotations (X-Ray's OTLP translator reads the same).
ANNOTATIONS_KEY = "aws.xray.annotations"
#: Bounds per span, OpenTelemetry's defaults.
MAX_ATTRIBUTES = 128
MAX_EVENTS = 128
_NOT_ANNOTATION_CHARS = re.compile(r"[^A-Za-z0-9_]")
_REMOTE_KINDS = (SpanKind.CLIENT, SpanKind.PRODUCER)


def report(what: str, error: BaseException) -> None:
    config.report_once(
        ("opentelemetry", what, type(error).__name__),
        f"recording an OpenTelemetry span failed while {what} (your code is unaffected): {config.error_place(error)}",
    )


def _valid_value(value: object) -> bool:
    if isinstance(value, (str, bool, int, float)):
        return True
    listing = isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and len(value) <= 1000
    return listing and all(item is None or isinstance(item, (str, bool, int, float)) for item in cast(Any, value))


def _metadata(entry: Any, key: str, value: object) -> None:
    """An attribute as metadata, as ``put_metadata`` records it: its key masked too (a URL with credentials), and
    the query string of ``http.target`` as ``url.query``'s, every value masked (``rawQueryString``'s rule)."""
    policy, limit = redaction.current(), config.max_capture_bytes()
    if key == "http.target" and isinstance(value, str) and "?" in value and policy.enabled:
        path, _, query = value.partition("?")
        value = f"{path}?{policy.mask_under(redaction.QUERY, query, limit)}"
    data = capture.to_metadata(value, policy, limit, key=key)
    if isinstance(entry, xray.XRaySpan):
        if key == "events" and _are_events(entry.metadata.get(NAMESPACE, {}).get("events")):
            return  # the span's events keep ``default.events`` (docs/opentelemetry.md)
        target: xray.XRaySpan | xray.EntrySpan = entry
    else:  # an X-Ray SDK subsegment on our stack
        target = xray.EntrySpan(entry)
    target.add_metadata(NAMESPACE, policy.mask_cut(key, capture.MAX_NAME_CHARS), data)


def _annotation(entry: Any, key: str, value: object) -> None:
    """Recorded under its key made valid for X-Ray, its value judged by the key as given too: ``password`` in
    fullwidth letters becomes ``________``, which names no secret."""
    policy, given = redaction.current(), key
    key = _NOT_ANNOTATION_CHARS.sub("_", key)[:500]
    if key != given and policy.verdict(given) != redaction.PLAIN:
        value = capture.to_metadata(value, policy, config.max_capture_bytes(), key=given)  # as metadata masks it
    checked = capture.annotation_value(key, value, policy)
    if checked is not capture.DROPPED:
        if isinstance(entry, xray.XRaySpan):
            entry.annotate(key, checked)  # (drops the handler's annotations text, which no longer says it all)
        else:  # an X-Ray SDK subsegment on our stack
            entry.annotations[key] = checked


def _sql(entry: xray.XRaySpan, attributes: Mapping[str, Any]) -> bool:
    """``db.*`` attributes as X-Ray's ``sql`` block (masked); whether there were any."""
    system = attributes.get("db.system.name", attributes.get("db.system"))
    if not isinstance(system, str):
        return False
    sql: dict[str, Any] = {"database_type": system[: capture.MAX_NAME_CHARS]}
    policy = redaction.current()
    fields = (("db.user", "user"), ("db.query.text", "sanitized_query"), ("db.statement", "sanitized_query"))
    for source, target in fields:
        value = attributes.get(source)
        if isinstance(value, str) and target not in sql:
            sql[target] = policy.mask_cut(value, common.MAX_URL_CHARS)
    name = attributes.get("db.namespace", attributes.get("db.name"))
    if isinstance(name, str):
        sql["url"] = policy.mask_cut(name, common.MAX_URL_CHARS)
    entry.sql = sql
    return True


def _http(entry: xray.XRaySpan, attributes: Mapping[str, Any]) -> bool:
    """The ``http`` block; whether it holds the request (its URL without query string and fragment)."""
    method = attributes.get("http.request.method", attributes.get("http.method"))
    url = attributes.get("url.full", attributes.get("http.url"))
    request = isinstance(method, str) and isinstance(url, str)
    if request:
        common.set_request(entry, method, url)
    status = attributes.get("http.response.status_code", attributes.get("http.status_code"))
    if isinstance(status, int):
        common.set_response(entry, status)
    return request


def record_attributes(entry: Any, attributes: Mapping[str, Any], kind: SpanKind | None = None) -> None:
    """A span's attributes on its X-Ray record: annotations (keys in ``aws.xray.annotations``), ``sql``, ``http``,
    the rest as metadata; every value checked and redacted as ``put_annotation``/``put_metadata`` do."""
    annotated = _listed(attributes.get(ANNOTATIONS_KEY))
    used: set[str] = {ANNOTATIONS_KEY}
    if isinstance(entry, xray.XRaySpan):
        if _sql(entry, attributes):
            used.update(("db.statement", "db.query.text"))  # recorded masked, in sql only
        if (kind in _REMOTE_KINDS or kind is SpanKind.SERVER) and _http(entry, attributes):
            used.update(("url.full", "http.url"))  # in http only: a query string and fragment hold tokens
    for key, value in attributes.items():
        if key in used:
            continue
        try:
            if key in annotated and isinstance(entry, xray.XRaySpan):
                _annotation(entry, key, value)
            else:
                listing = isinstance(value, Sequence) and not isinstance(value, str)
                _metadata(entry, key, list(value) if listing else value)
        except Exception as error:
            report("recording an attribute", error)


def _listed(value: object) -> set[str]:
    """The keys an ``aws.xray.annotations`` value lists."""
    if isinstance(value, str):
        return {value}
    return {key for key in value if isinstance(key, str)} if isinstance(value, Sequence) else set()


def record_attribute(entry: Any, key: str, value: Any) -> None:
    """One attribute set on a span of ours (``OurSpan.set_attribute``), recorded at once. The keys any call listed in
    ``aws.xray.annotations`` and the values set so far are kept on the span, so that a key is an annotation, not
    metadata, whether it is set before or after the list that names it (docs/opentelemetry.md)."""
    if not isinstance(entry, xray.XRaySpan):  # an X-Ray SDK subsegment on our stack: as record_attributes has it
        record_attributes(entry, {key: value})
        return
    values, listed = entry.__dict__.setdefault("otel_attributes", ({}, set()))  # (setdefault: atomic)
    if key == ANNOTATIONS_KEY:
        for name in sorted(_listed(value) - listed):
            listed.add(name)
            if name in values:  # set before the list named it: recorded as metadata then, an annotation now
                data = entry.metadata.get(NAMESPACE)
                if data is not None and data.pop(name[: capture.MAX_NAME_CHARS], _NONE) is not _NONE:
                    if not data:
                        del entry.metadata[NAMESPACE]
                    entry.spliced = None
                record_attributes(entry, {name: values[name], ANNOTATIONS_KEY: name})
        return
    if key not in values and len(values) >= MAX_ATTRIBUTES:
        return  # at most 128 attributes, as on a span started through the API
    values[key] = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else value
    record_attributes(entry, {key: value, ANNOTATIONS_KEY: key} if key in listed else {key: value})


_NONE = object()


def _are_events(value: object) -> bool:
    """Whether a ``default.events`` value holds a span's events (an attribute's list never holds a dict)."""
    return isinstance(value, list) and any(isinstance(item, dict) for item in value)


def _event(name: str, attributes: types.Attributes, timestamp: int | None) -> dict[str, Any]:
    """An event; its timestamp (nanoseconds, an int or a float) kept from 2000 on, any other (none, text, a datetime,
    seconds, negative, NaN, inf) the time it is added, as an explicit start time is."""
    valid = isinstance(timestamp, (int, float)) and 946_684_800_000_000_000 <= timestamp < 1 << 63
    at = cast(float, timestamp) / 1e9 if valid else time.time()
    event: dict[str, Any] = {"name": str(name), "timestamp": at}
    if attributes:
        event["attributes"] = dict(attributes)
    return event


def _record_events(entry: Any, events: list[dict[str, Any]]) -> None:
    """Events as ``default.events`` metadata (an attribute named ``events`` gives way to them), or in ``otlp`` mode,
    for a span started through the API, apart (``otel_events``): sent as its events, its attributes beside them."""
    if not events or not isinstance(entry, xray.XRaySpan):
        return
    policy, limit = redaction.current(), config.max_capture_bytes()
    if xray.EXPORTER is not None and getattr(entry, "otel_api", False) and entry.sdk_view is None:
        own = [_own_event(event, policy, limit) for event in events]  # each bounded: sent as events, not one value
        previous = entry.__dict__.get("otel_events")
        entry.__dict__["otel_events"] = (previous + own)[:MAX_EVENTS] if isinstance(previous, list) else own
        return  # (XRaySpan has an instance dict: what otlp_documents.py reads)
    converted = capture.to_metadata(events, policy, limit, key="events")
    previous = entry.metadata.get(NAMESPACE, {}).get("events")
    if isinstance(previous, list) and _are_events(previous) and isinstance(converted, list):
        converted = (previous + converted)[:MAX_EVENTS]
    entry.add_metadata(NAMESPACE, "events", converted)


def _own_event(event: dict[str, Any], policy: redaction.Policy, limit: int) -> dict[str, Any]:
    """One event of an API span in ``otlp`` mode, redacted and bounded as a metadata value on its own; one too big
    keeps its name and time, its attributes replaced by the truncation marker."""
    converted = capture.to_metadata(event, policy, limit, key="events")
    if isinstance(converted, dict) and isinstance(converted.get("name"), str):
        return cast(dict[str, Any], converted)
    own: dict[str, Any] = {"name": policy.mask_cut(event["name"], limit), "timestamp": event["timestamp"]}
    if "attributes" in event:
        own["attributes"] = capture.to_metadata(event["attributes"], policy, limit)
    return own
