"""httpx, sync and async: one ``remote`` subsegment per request sent by an HTTP transport.

``HTTPTransport.handle_request`` and ``AsyncHTTPTransport.handle_async_request`` are wrapped (functools.wraps):
every ``Client``/``AsyncClient`` (and their mounts and proxies) sends each request through one of them, once
per redirect hop, as the SDK's transport wrapper records it. The subsegment has ``http.request`` method and URL
(no query string, masked) and ``http.response`` status and content_length, and the request carries its
``X-Amzn-Trace-Id``.

Difference from the SDK's patch, on purpose: without a sampled trace no ``X-Amzn-Trace-Id`` is sent (the SDK
sends one with an all-zero Root); clients made before the patch are traced too (the SDK swaps the classes
``httpx.Client``/``AsyncClient``, so ``from httpx import Client`` done earlier escapes it).
"""

from __future__ import annotations

import functools
from types import ModuleType

from . import common

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

MARKER = "__lambda_tracer_instrumented__"


def instrument(name: str, httpx: ModuleType) -> None:
    sync_transport, async_transport = httpx.HTTPTransport, httpx.AsyncHTTPTransport
    handle, handle_async = sync_transport.handle_request, async_transport.handle_async_request
    if getattr(handle, MARKER, False):
        return

    @functools.wraps(handle)
    def handle_request(self: Any, request: Any) -> Any:
        saved: list[tuple[str, Any]] = []
        span = common.start_request(request, "httpx", saved)
        if span is None:
            return handle(self, request)
        if span is common.IGNORED:
            with common.BACKEND.suppressed():
                return handle(self, request)
        try:
            response = handle(self, request)
        except BaseException as error:
            common.restore_headers(request.headers, saved)
            common.fail(span, error)
            raise
        common.restore_headers(request.headers, saved)
        common.finish(span, response.status_code, _content_length(response))
        return response

    @functools.wraps(handle_async)
    async def handle_async_request(self: Any, request: Any) -> Any:
        saved: list[tuple[str, Any]] = []
        span = common.start_request(request, "httpx", saved)
        if span is None:
            return await handle_async(self, request)
        if span is common.IGNORED:
            with common.BACKEND.suppressed():
                return await handle_async(self, request)
        try:
            response = await handle_async(self, request)
        except BaseException as error:
            common.restore_headers(request.headers, saved)
            common.fail(span, error)
            raise
        common.restore_headers(request.headers, saved)
        common.finish(span, response.status_code, _content_length(response))
        return response

    setattr(handle_request, MARKER, True)
    setattr(handle_async_request, MARKER, True)
    sync_transport.handle_request = handle_request
    async_transport.handle_async_request = handle_async_request


def _content_length(response: Any) -> Any:
    try:
        return response.headers.get("content-length")
    except Exception:
        return None
