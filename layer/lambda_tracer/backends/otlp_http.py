"""OTLP/HTTP: one ``ExportTraceServiceRequest`` POSTed as protobuf, e.g. to a collector extension on :4318.

Imported only when an endpoint is set, at init (the headers setting is read then). The call runs under
``BACKEND.suppressed()``, so our own http.client instrumentation neither records it nor adds a trace header; it
has a short timeout, and a failure raises to the exporter, which reports it once and drops the request (the
function is never failed by it).
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from .. import config
from . import xray

CONTENT_TYPE = "application/x-protobuf"


def headers(raw: str) -> dict[str, str]:
    """``OTEL_EXPORTER_OTLP_(TRACES_)HEADERS``' value: ``key=value`` pairs, comma-separated, values percent-decoded."""
    found: dict[str, str] = {}
    for pair in raw.split(","):
        key, equals, value = pair.partition("=")
        key, value = key.strip(), value.strip()
        if not pair.strip():
            continue
        if not equals or not key or not key.isascii() or not key.replace("-", "").isalnum():
            config.report_once(("otlp headers",), "ignoring a malformed entry of the OTLP headers setting")
            continue
        if "%" in value:
            value = unquote(value)
        if value.isprintable():
            found[key] = value
    return found


class ExportError(OSError):
    """The collector answered with a status other than 2xx."""


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    import http.client  # at the first request, as before the headers were read here at init (instrumented then)

    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    with xray.BACKEND.suppressed():
        connection = connection_class(parts.hostname or "localhost", parts.port, timeout=timeout)
        try:
            connection.request("POST", path, body, {**headers, "Content-Type": CONTENT_TYPE})
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
    if not 200 <= response.status < 300:
        raise ExportError(f"HTTP {response.status}")
