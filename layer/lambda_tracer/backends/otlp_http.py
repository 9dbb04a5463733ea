"""OTLP/HTTP: one ``ExportTraceServiceRequest`` POSTed as protobuf, e.g. to a collector extension on :4318.

Imported only when an endpoint is set, at init (the settings are read then). The call runs under
``BACKEND.suppressed()``, so our own http.client instrumentation neither records it nor adds a trace header; it
has a short timeout (for the whole request and its answer's status line, not each read), and a failure raises to the
exporter, which reports it once and drops the request (the function is never failed by it).
"""

from __future__ import annotations

from time import monotonic
from urllib.parse import unquote, urlsplit

from .. import config
from . import xray

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

CONTENT_TYPE = "application/x-protobuf"
TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACES_HEADERS = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
HEADERS = "OTEL_EXPORTER_OTLP_HEADERS"
TRACES_TIMEOUT = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
TIMEOUT = "OTEL_EXPORTER_OTLP_TIMEOUT"
TRACES_PROTOCOL = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"
#: OTLP/HTTP timeout in milliseconds: short by default, because the function waits for it.
DEFAULT_TIMEOUT_MS = 500
MAX_TIMEOUT_MS = 10_000


def settings() -> tuple[str | None, dict[str, str], float]:
    """(the endpoint, the headers, the timeout in seconds) the environment asks for; no endpoint: UDP instead."""
    url = _endpoint()
    if not url:
        return None, {}, DEFAULT_TIMEOUT_MS / 1000
    return url, headers(config.get_raw(TRACES_HEADERS) or config.get_raw(HEADERS) or ""), _timeout_ms() / 1000


def _endpoint() -> str | None:
    """The OTLP/HTTP URL: the traces endpoint as given, or the base endpoint + ``/v1/traces`` (OTel's rules)."""
    name, url = TRACES_ENDPOINT, config.get_str(TRACES_ENDPOINT)
    if url is None:
        name, url = ENDPOINT, config.get_str(ENDPOINT)
    if url is None:
        return None
    if not url.startswith(("http://", "https://")) or len(url) > 2048:
        config.warn_once(name, config.get_raw(name) or "", "UDP to the daemon")  # quoted as set
        return None
    if name == ENDPOINT:
        url = url.rstrip("/") + "/v1/traces"
    protocol = config.get_str(TRACES_PROTOCOL) or config.get_str(PROTOCOL)
    if protocol is not None and protocol != "http/protobuf":
        config.report_once(
            ("otlp protocol",), f"OTLP protocol {config.shown(protocol)} is not supported; sending http/protobuf"
        )
    return url


def _timeout_ms() -> int:
    name = TRACES_TIMEOUT if config.get_str(TRACES_TIMEOUT) is not None else TIMEOUT  # blank: as unset (OTel's rule)
    return config.get_int(name, DEFAULT_TIMEOUT_MS, 1, MAX_TIMEOUT_MS)


#: The characters of an HTTP header name (RFC 9110's ``tchar``), as OpenTelemetry's SDK reads the setting.
_NAME_CHARACTERS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def headers(raw: str) -> dict[str, str]:
    """``OTEL_EXPORTER_OTLP_(TRACES_)HEADERS``' value: ``key=value`` pairs, comma-separated, values percent-decoded.

    An entry without ``=``, with a name that is not an HTTP token, or with a value HTTP cannot carry (not printable,
    not Latin-1: http.client would fail every request) is reported once and left out."""
    found: dict[str, str] = {}
    for pair in raw.split(","):
        key, equals, value = pair.partition("=")
        key, value = key.strip(), value.strip()
        if not pair.strip():
            continue
        if "%" in value:
            value = unquote(value)
        if not equals or not key or not _NAME_CHARACTERS.issuperset(key) or not _sendable(value):
            config.report_once(("otlp headers",), "ignoring a malformed entry of the OTLP headers setting")
            continue
        found[key] = value
    return found


def _sendable(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return value.isprintable()


class ExportError(OSError):
    """The collector answered with a status other than 2xx."""


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    import http.client  # at the first request, as before the headers were read here at init (instrumented then)

    deadline = monotonic() + timeout
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    with xray.BACKEND.suppressed():
        connection = connection_class(parts.hostname or "localhost", parts.port, timeout=timeout)
        try:
            connection.connect()
            connection.sock.settimeout(max(deadline - monotonic(), 0.001))  # sendall's: the whole request's
            connection.request("POST", path, body, {**headers, "Content-Type": CONTENT_TYPE})
            status = _status(connection.sock, deadline)
        finally:
            connection.close()
    if not 200 <= status < 300:
        raise ExportError(f"HTTP {status}")


def _status(sock: Any, deadline: float) -> int:
    """The answer's status code, read by ``deadline``; the rest of it is not needed. A socket's timeout bounds each
    read, so http.client's reader waits as long as a collector sending a byte at a time likes."""
    head = b""
    while b"\r\n" not in head and len(head) < 4096:
        remaining = deadline - monotonic()
        if remaining <= 0:
            raise TimeoutError("no answer from the collector in time")
        sock.settimeout(remaining)
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the collector closed the connection without an answer")
        head += chunk
    return int(head.split(b"\r\n", 1)[0].split(b" ", 2)[1])  # HTTP/1.1 200 OK, or without the reason phrase
