"""What every instrumented client shares: when a call is recorded, and how its outcome is written down.

A call is recorded as one subsegment of our X-Ray backend (``namespace`` ``aws`` or ``remote``), with the
fields the X-Ray SDK writes for it, already valid for X-Ray and redacted (URLs masked by the redaction policy,
``aws`` values converted as metadata). Nothing here raises into the caller: a failure is reported once and the
call goes on, untraced if need be.

* **Not recorded**: no sampled trace (then no trace header is sent either), or a lower layer of a call
  already recorded, ours or the SDK's (requests over urllib3 over http.client, a redirect hop): the innermost
  open subsegment records a call (namespace ``aws`` or ``remote``).
* **Ignored** (``Tracer.ignore_endpoint``): decided before the call, from its URL; the call then runs under
  ``BACKEND.suppressed()``, so that no client it uses records anything either.
"""

from __future__ import annotations

import os
import sys
from types import FrameType

from .. import capture, config, redaction
from ..backends import xray
from ..backends.xray_documents import MAX_STACK_FRAMES, PACKAGE_DIR
from ..backends.xray_documents import MAX_URL_CHARS as MAX_URL_CHARS  # otel.py reads it here
from ..redaction_text import MASK_MARGIN

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

BACKEND = xray.BACKEND
#: Namespaces of subsegments that record a call to another service: a call made under one is a lower layer of it.
CALL_NAMESPACES = frozenset({"aws", "remote"})
#: What ``start`` returns for a call to an endpoint ``ignore_endpoint`` named.
IGNORED: Any = object()
#: The SDK's name for a call whose URL has no host.
UNKNOWN_HOST = "UNKNOWN HOST"
#: endpoints.py, the rules of ``ignore_endpoint``: whoever adds one imports it, so while it is not imported there is
#: none, and a call's first trace (a cold start) does not load it.
ENDPOINTS = __name__.rsplit(".", 2)[0] + ".endpoints"
#: propagation.py's settings and header: while neither setting is given, the default is the X-Ray header alone, written
#: here without loading propagation.py (tests/unit/test_instrumentation.py holds the names to propagation.py's).
PROPAGATORS_KEY = config.environ_key("LAMBDA_TRACER_PROPAGATORS")
_EXPORTER_KEY = config.environ_key(config.EXPORTER)
XRAY_HEADER = "X-Amzn-Trace-Id"


def report(what: str, error: BaseException) -> None:
    """A failure of our own while tracing a call: logged once per kind, never raised."""
    config.report_once(
        ("instrumentation", what, type(error).__name__),
        f"tracing {what} failed (the call is unaffected): {config.error_place(error)}",
    )


def ignored(url: str) -> bool:
    """``endpoints.is_ignored(url)``: never, while endpoints.py is not imported (``ENDPOINTS``)."""
    rules = sys.modules.get(ENDPOINTS)
    return rules is not None and bool(rules.is_ignored(url))


def recording() -> bool:
    """Whether this invocation has a sampled trace that we record (cheap: no span is made)."""
    trace, _ = xray.current()
    return trace.recording


def inside_call() -> bool:
    """Whether the innermost open subsegment records a call (ours or an SDK patch's): what runs now is a lower layer
    of that call, not a call of its own."""
    _, stack = xray.current()
    return bool(stack) and getattr(stack[-1], "namespace", None) in CALL_NAMESPACES


def start(url: str, namespace: str = "remote", name: str | None = None) -> Any:
    """The span for a call to ``url`` (named after its host unless ``name`` is given); ``IGNORED`` for an
    ignored endpoint; None when nothing is recorded: no sampled trace, inside a suppressed call, or a lower layer
    of a call already recorded (``busy``)."""
    try:
        trace, stack = xray.current()
        if not trace.recording or (stack and getattr(stack[-1], "namespace", None) in CALL_NAMESPACES):
            return None
        if ignored(url):
            return IGNORED
        return BACKEND.start_span(name if name is not None else host_name(url), namespace=namespace)
    except Exception as error:
        report("starting a call", error)
        return None


def start_request(request: Any, client: str, saved: list[tuple[str, Any]] | None = None) -> Any:
    """The span of one request of an HTTP client whose request has a ``url``, a ``method`` and ``headers`` to add
    to (httpx's request, aiohttp's trace parameters): method, URL and trace headers set; ``IGNORED``; or None.
    ``saved``: filled for ``restore_headers``, to leave a request the caller may send again as it was."""
    if not recording():
        return None
    try:
        url = str(request.url)
    except Exception as error:
        report(f"reading an {client} request", error)
        return None
    span = start(url)
    if span is None or span is IGNORED:
        return span
    try:
        set_request(span, str(request.method), url)
        put_headers(request.headers, trace_headers(span), saved)
    except Exception as error:
        report("recording a request", error)
    return span


def put_headers(headers: Any, pairs: list[tuple[str, str]], saved: list[tuple[str, Any]] | None = None) -> None:
    """Set ``pairs`` in a case-insensitive headers mapping; ``saved`` gets what each header held (None: absent)."""
    for header, value in pairs:
        if saved is not None:
            saved.append((header, headers.get(header)))
        headers[header] = value


def restore_headers(headers: Any, saved: list[tuple[str, Any]]) -> None:
    """Put back what ``put_headers`` replaced: a request object the caller keeps (a requests PreparedRequest, an
    httpx Request, sent again later) must not carry this call's trace header into a later, unsampled one."""
    try:
        for header, previous in reversed(saved):
            if previous is None:
                if header in headers:
                    del headers[header]
            else:
                headers[header] = previous
    except Exception as error:
        report("restoring a request's headers", error)


def host_name(url: str) -> str:
    """The subsegment name of a call: the URL's host as the SDK names it, redacted and valid for X-Ray."""
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url[:MAX_URL_CHARS]).hostname
    except ValueError:
        host = None
    return capture.clean_name(redaction.current().mask_cut(host or UNKNOWN_HOST, MAX_URL_CHARS))


def recorded_url(url: str) -> str:
    """A URL as recorded: without query string and fragment (they hold parameters and tokens), masked, cut.

    Cut at a ``?`` or ``#`` inside the authority (``mysql://app:p?w@h/db``, a generated password put into a DSN
    unencoded), the URL's credentials would lose their ``@`` and keep the password's start: masked first, as far as
    the cut and the mask's margin reach (the rest is cut anyway, and a megabyte of query would cost seconds)."""
    if "?" in url or "#" in url:
        head = url.split("?", 1)[0].split("#", 1)[0]
        if "@" in url[len(head) :] and "/" not in head.partition("//")[2]:
            window = url[: MAX_URL_CHARS + MASK_MARGIN]
            head = redaction.current().mask_text(window).split("?", 1)[0].split("#", 1)[0]
        url = head
    return redaction.current().mask_cut(url, MAX_URL_CHARS)


def set_request(span: xray.XRaySpan, method: str, url: str) -> None:
    span.http = {"request": {"method": method.upper(), "url": recorded_url(url)}}


def set_response(span: xray.XRaySpan, status: Any, content_length: Any = None) -> None:
    """``http.response`` and the flags its status means: 5xx fault, 429 throttle and error, other 4xx error."""
    if not isinstance(status, int) or isinstance(status, bool):
        return
    response: dict[str, Any] = {"status": status}
    length = as_length(content_length)
    if length is not None:
        response["content_length"] = length
    http = span.http if span.http is not None else {}
    http["response"] = response
    span.http = http
    if status >= 500:
        span.fault = True
    elif status == 429:
        span.throttle = True
        span.error = True
    elif status >= 400:
        span.error = True


def as_length(value: Any) -> int | None:
    """A Content-Length header (or number) as X-Ray's ``content_length``; None when absent or malformed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, (str, bytes)) and 0 < len(value) <= 20 and value.isdigit():
        return int(value)
    return None


def set_exception(span: xray.XRaySpan, error: BaseException, remote: bool = False, fault: bool = True) -> None:
    """X-Ray's ``cause`` for the exception a call raised, with the stack of the call (where the caller made
    it, then where it failed), as the SDK records it; ``fault`` unless told otherwise (a 4xx is an error)."""
    span.record_exception(error)
    if not fault:
        span.fault = False
    cause = span.cause
    if isinstance(cause, dict):
        frames = stack_of(error)
        for entry in cause.get("exceptions") or ():
            entry["remote"] = remote
            entry["stack"] = frames


def stack_of(error: BaseException) -> list[dict[str, Any]]:
    """The innermost MAX_STACK_FRAMES frames of a failed call, as the SDK's ``get_stacktrace`` gathers them: the
    stack from the caller down to here, then the exception's traceback, without the tracer's own frames."""
    frames: list[tuple[Any, int]] = []
    traceback = error.__traceback__
    while traceback is not None:
        if not _ours(traceback.tb_frame):
            frames.append((traceback.tb_frame.f_code, traceback.tb_lineno))
        traceback = traceback.tb_next
    outer: list[tuple[Any, int]] = []
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and len(frames) + len(outer) < MAX_STACK_FRAMES:
        if not _ours(frame):
            outer.append((frame.f_code, frame.f_lineno))
        frame = frame.f_back
    outer.reverse()
    return [
        {"path": os.path.basename(code.co_filename), "line": line or 0, "label": code.co_name}
        for code, line in (outer + frames)[-MAX_STACK_FRAMES:]
    ]


def _ours(frame: FrameType) -> bool:
    return bool(frame.f_code.co_filename.startswith(PACKAGE_DIR))


def end(span: xray.XRaySpan) -> None:
    try:
        span.end()
    except Exception as error:
        report("ending a call", error)


def finish(span: xray.XRaySpan, status: Any, content_length: Any = None) -> None:
    """A call that got a response: its status, then the span ends (never raises)."""
    try:
        set_response(span, status, content_length)
    except Exception as error:
        report("recording a response", error)
    end(span)


def fail(span: xray.XRaySpan, error: BaseException) -> None:
    """A call that raised: fault and cause (an exception that is not an Exception only ends the span)."""
    try:
        if isinstance(error, Exception):
            set_exception(span, error)
    except Exception as failure:
        report("recording an exception", failure)
    end(span)


def trace_headers(span: xray.XRaySpan, aws: bool = False) -> list[tuple[str, str]]:
    """The trace headers a call recorded as ``span`` carries (``LAMBDA_TRACER_PROPAGATORS``: propagation.py;
    ``aws``: a call to an AWS service)."""
    try:
        environ = config.ENVIRON
        # propagation.headers' default, without loading it: an AWS call's in either exporter (AWS services read the
        # X-Ray header alone), any call's in xray mode.
        if (
            environ.get(PROPAGATORS_KEY) is None
            and (aws or environ.get(_EXPORTER_KEY) is None)
            and span.trace.sampled == "1"
        ):
            return [(XRAY_HEADER, span.outgoing_header())]
        from . import propagation

        return propagation.headers(span, aws)
    except Exception as error:
        report("making the trace header", error)
        return []
