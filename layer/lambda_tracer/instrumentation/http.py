"""The synchronous HTTP stack: requests, and http.client (with it urllib3 and urllib.request, which use it).

Each request is one ``remote`` subsegment named after the host, with ``http.request`` method and URL (no query
string, masked) and ``http.response`` status and content_length, and the ``X-Amzn-Trace-Id`` of that
subsegment in the request.

* **requests** (``requests``): ``Session.send`` is wrapped (functools.wraps). A redirect hop, sent from inside
  the first ``send``, and the urllib3/http.client calls below it are the same call: not recorded again.
* **http.client** (``httplib``): a request is ``putrequest`` ... ``getresponse`` on one connection, whoever
  drives it (``HTTPConnection.request``, urllib3, urllib.request): the subsegment opens at ``putrequest`` (the
  header goes in there; a trace header the caller puts after it is left out, so ours is the only one), is
  detached from the current task until the response (code run in between is not nested in it), and ends at
  ``getresponse``, or with the exception when writing the request fails (``putheader`` refusing a header,
  ``endheaders`` or ``send`` failing), as the SDK records a failed send; not after a broken pipe or a reset,
  when the server may have answered early and urllib3 reads that answer. A request whose response is never read
  ends as a fault (no response), with the exception being raised then as its cause if any (not one handled
  already when the request began): when its connection is closed or given a new request, at the latest when the
  handler returns (``backends.held``; the handler's exception is the cause); never in a later invocation (with no
  handler of ours to end it, it is dropped unsent). It records nothing under a call already recorded (botocore,
  requests, httpx), so turning it on never doubles a subsegment.

Differences from the SDK's patches, on purpose: the method is upper case (the SDK's requests patch records
``get`` for ``requests.get``); http.client gives one subsegment per request (the SDK's gives two or three:
sending, ``getresponse`` and each ``read``), and its URL keeps a non-default port (the SDK's drops it).
"""

from __future__ import annotations

import errno
import functools
import sys
from types import ModuleType

from .. import backends
from ..backends import xray
from . import common

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

MARKER = "__lambda_tracer_instrumented__"
#: Where a connection keeps the subsegment of its request in flight (in its ``__dict__``).
_SPAN = "_lambda_tracer_span"
#: Where a connection keeps the (lower-case) names of the trace headers we put in its request being written: the
#: caller's own header of that name is then left out (one header, ours, as requests, httpx and the SDK send it).
_PUT = "_lambda_tracer_headers"
#: Where a connection keeps the exception being handled when its request in flight began (if any): it did not stop
#: the request, so it is never that request's cause (``_cause``).
_HANDLED = "_lambda_tracer_handled"


def instrument(name: str, module: ModuleType) -> None:
    if name == "requests":
        _instrument_requests(module)
    else:
        _instrument_http_client(module)


def _wrapped_by_sdk(function: Any) -> bool:
    """Whether the SDK's patch (wrapt) already wraps it: it records into our trace; we do not add a second."""
    return type(function).__module__.split(".")[0] == "wrapt"


# -- requests ----------------------------------------------------------------------------------------------------


def _instrument_requests(requests: ModuleType) -> None:
    session = requests.Session
    original = session.send
    if getattr(original, MARKER, False) or _wrapped_by_sdk(session.__dict__.get("request")):
        return

    @functools.wraps(original)
    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        span = common.start(_url_of(request))
        if span is None:
            return original(self, request, **kwargs)
        if span is common.IGNORED:
            with common.BACKEND.suppressed():
                return original(self, request, **kwargs)
        saved = _prepare(span, request)
        try:
            response = original(self, request, **kwargs)
        except BaseException as error:
            common.restore_headers(request.headers, saved)
            common.fail(span, error)
            raise
        common.restore_headers(request.headers, saved)
        common.finish(span, getattr(response, "status_code", None), _content_length(response))
        return response

    setattr(send, MARKER, True)
    session.send = send


def _url_of(request: Any) -> str:
    url = getattr(request, "url", None)
    return url if isinstance(url, str) else str(url or "")


def _prepare(span: Any, request: Any) -> list[tuple[str, Any]]:
    """The request's method and URL on the span, and the span's trace header in the request (until it is sent:
    what to give ``common.restore_headers``)."""
    saved: list[tuple[str, Any]] = []
    try:
        common.set_request(span, str(request.method or ""), _url_of(request))
        common.put_headers(request.headers, common.trace_headers(span), saved)
    except Exception as error:
        common.report("recording a request", error)
    return saved


def _content_length(response: Any) -> Any:
    try:
        return response.headers.get("Content-Length")
    except Exception:
        return None


# -- http.client ---------------------------------------------------------------------------------------------------


def _instrument_http_client(client: ModuleType) -> None:
    connection = client.HTTPConnection
    if getattr(connection.putrequest, MARKER, False) or _wrapped_by_sdk(connection.__dict__.get("getresponse")):
        return
    putrequest, getresponse, close = connection.putrequest, connection.getresponse, connection.close
    putheader, endheaders = _failure_ends(connection.putheader), _failure_ends(connection.endheaders)

    @functools.wraps(putrequest)
    def traced_putrequest(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        self.__dict__.pop(_PUT, None)
        if _SPAN in self.__dict__:  # the previous request on this connection never got to getresponse()
            cause = _cause(self)
            _abandoned(_taken(self), cause)
        full_url = _connection_url(self, url) if common.recording() else ""
        span = common.start(full_url) if full_url else None
        if span is None or span is common.IGNORED:
            return putrequest(self, method, url, *args, **kwargs)
        try:
            result = putrequest(self, method, url, *args, **kwargs)
        except BaseException as error:
            common.fail(span, error)
            raise
        try:
            common.set_request(span, str(method), full_url)
            headers = common.trace_headers(span)
            for header, value in headers:
                self.putheader(header, value)
            if headers:
                self.__dict__[_PUT] = frozenset(header.lower() for header, _ in headers)
        except Exception as error:
            common.report("recording a request", error)
        span.suspend()  # open until getresponse(), but not the current subsegment in between
        _hold(self, span)
        return result

    @functools.wraps(putheader)
    def traced_putheader(self: Any, header: Any, *values: Any) -> Any:
        put = self.__dict__.get(_PUT)
        if put is not None and _lower_name(header) in put:
            return None  # the caller's own trace header: this call's is in already
        return putheader(self, header, *values)

    @functools.wraps(endheaders)
    def traced_endheaders(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.__dict__.pop(_PUT, None)
        return endheaders(self, *args, **kwargs)

    @functools.wraps(getresponse)
    def traced_getresponse(self: Any, *args: Any, **kwargs: Any) -> Any:
        span = _taken(self) if _SPAN in self.__dict__ else None
        if span is None:
            return getresponse(self, *args, **kwargs)
        try:
            response = getresponse(self, *args, **kwargs)
        except BaseException as error:
            common.fail(span, error)
            raise
        common.finish(span, getattr(response, "status", None), _header(response, "Content-Length"))
        return response

    @functools.wraps(close)
    def traced_close(self: Any) -> Any:
        if _SPAN in self.__dict__:  # closed before the response was read (urllib3 giving up on a request)
            cause = _cause(self)
            _abandoned(_taken(self), cause)
        return close(self)

    send = _failure_ends(connection.send)
    for wrapper in (traced_putrequest, traced_putheader, traced_endheaders, send, traced_getresponse, traced_close):
        setattr(wrapper, MARKER, True)
    connection.putrequest = traced_putrequest
    connection.putheader = traced_putheader
    connection.endheaders = traced_endheaders
    connection.send = send
    connection.getresponse = traced_getresponse
    connection.close = traced_close


#: The errors of a write after which the server's answer may still be read (urllib3's connectionpool swallows them
#: for that): EPIPE, ECONNRESET, and EPROTOTYPE (macOS's).
_ANSWERED_EARLY = frozenset(
    code for code in (getattr(errno, name, None) for name in ("EPIPE", "ECONNRESET", "EPROTOTYPE")) if code is not None
)


def _failure_ends(write: Any) -> Any:
    """``write``, a connection's method that writes its request (``putheader``, ``endheaders``, ``send``), such that
    if it raises (a header value refused, a body that is not bytes, connecting or sending failed), the request in
    flight ends there with the exception, in the invocation that opened it: left on the connection, it was lost, or
    ended without a fault by the connection's next request, maybe in a later invocation. The caller may go on
    (http.client's own ``request`` never does): what follows is not recorded. Except after a broken pipe or a reset
    (``_ANSWERED_EARLY``): the server may have answered before reading the body (a 413 to an upload), and urllib3
    swallows those to read that response, so the request stays open for its ``getresponse`` (or, unread, ends as
    any request left open does)."""

    @functools.wraps(write)
    def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _SPAN not in self.__dict__:
            return write(self, *args, **kwargs)
        try:
            return write(self, *args, **kwargs)
        except BaseException as error:
            if isinstance(error, OSError) and error.errno in _ANSWERED_EARLY:
                raise
            span = _taken(self)
            if span is not None:
                common.fail(span, error)
            raise

    return traced


def _hold(connection: Any, span: Any) -> None:
    """Keep ``span`` open on ``connection`` until its response, and in ``backends.held`` so that the handler's
    wrapper ends it with its invocation if no response is read by then. Held spans of an earlier invocation (one
    whose handler we do not wrap, so nothing ended them) are dropped, unsent: the registry holds one invocation's."""
    held = backends.held
    if held:
        for earlier in list(held):  # a copy: another thread may take one meanwhile
            if earlier.trace.root != span.trace.root and held.pop(earlier, None) is not None:
                earlier.ended = True  # dropped: XRaySpan.end then sends nothing
    connection.__dict__[_SPAN] = span
    handled = sys.exc_info()[1]
    if handled is not None:
        connection.__dict__[_HANDLED] = handled
    held[span] = _abandoned


def _taken(connection: Any) -> Any:
    """The span of the request in flight on ``connection``, taken off it; None when there is none, when it ended
    already (its invocation ended first), or when it is an earlier invocation's: dropped, unsent, never ended in a
    later invocation's time (with a handler we do not wrap nothing ended it with its own)."""
    span = connection.__dict__.pop(_SPAN, None)
    connection.__dict__.pop(_HANDLED, None)
    if span is None or backends.held.pop(span, None) is None:  # whoever takes it from held ends it: once
        return None
    if span.ended:
        return None
    if span.trace.root != xray.current()[0].root:
        span.ended = True
        return None
    return span


def _cause(connection: Any) -> BaseException | None:
    """What abandons the request in flight on ``connection`` as it is closed or given a new request: the exception
    being raised then (urllib3 closing a connection it gives up on), unless it was handled already when the request
    began (a request made in an ``except``): that one did not stop it."""
    error = sys.exc_info()[1]
    return None if error is connection.__dict__.get(_HANDLED) else error


def _abandoned(span: Any, error: BaseException | None = None) -> None:
    """A request whose response was never read (its connection closed or given a new request, or its invocation
    over): a fault, since the call got no answer, with ``error`` (what abandoned it) as its cause, if any."""
    if span is None:
        return
    if isinstance(error, Exception):
        common.fail(span, error)
        return
    span.fault = True
    common.end(span)


def _lower_name(header: Any) -> str | None:
    """A header name as putheader takes it (str or bytes), in lower case; None if it is neither."""
    if isinstance(header, str):
        return header.lower()
    if isinstance(header, (bytes, bytearray)):
        return bytes(header).decode("latin-1").lower()
    return None


def _connection_url(connection: Any, url: str) -> str:
    """The full URL of a request on ``connection``: scheme, host, the port unless the scheme's default, path
    ("" if it cannot be told: the request is then not recorded)."""
    try:
        return _full_url(connection, url)
    except Exception as error:
        common.report("reading an http.client request", error)
        return ""


def _full_url(connection: Any, url: str) -> str:
    if "://" in url[:16]:
        return url  # through a proxy: the request line holds the whole URL
    host, port = connection.host, connection.port
    if getattr(connection, "_tunnel_host", None):
        host, port = connection._tunnel_host, connection._tunnel_port
    default = connection.default_port
    scheme = "https" if default == 443 else "http"
    netloc = f"[{host}]" if ":" in str(host) else str(host)
    if port is not None and port != default:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}{url if url.startswith('/') else '/' + url}"


def _header(response: Any, name: str) -> Any:
    try:
        return response.getheader(name)
    except Exception:
        return None
