"""Calls whose subsegment opens in one call of the library and ends in a later one (http.client's request, from
``putrequest`` to ``getresponse``): whatever happens in between, the subsegment ends once, in the invocation that
opened it, with the error that stopped it; a connection used again in the next invocation sends nothing of the
earlier one there. Real http.client against a local server; the daemon stand-in receives real datagrams."""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from http_stub import QuietHandler, serving

from lambda_env import XRayDaemon, invoke
from lambda_tracer import Tracer
from lambda_tracer_local.daemon import decode


class _Handler(QuietHandler):
    def do_GET(self) -> None:
        self.reply(200, b"{}")

    def do_POST(self) -> None:
        if self.path == "/too-large":  # answered early, the body left unread (as a server refusing an upload)
            self.close_connection = True
            self.reply(413, b"{}")
            return
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.reply(200, b"{}")


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with serving(_Handler) as port:
        yield port


def _remote(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in documents if d.get("namespace") == "remote"]


def _put_a_refused_header(connection: http.client.HTTPConnection) -> None:
    connection.putrequest("GET", "/first")
    connection.putheader("X-Key", "bad\nvalue")  # refused: ValueError


def _request_with_a_refused_header(connection: http.client.HTTPConnection) -> None:
    connection.request("GET", "/first", headers={"X-Key": "bad\nvalue"})


def _send_a_body_it_cannot(connection: http.client.HTTPConnection) -> None:
    connection.putrequest("POST", "/first")
    connection.putheader("Content-Length", "5")
    connection.endheaders()
    connection.send(12345)  # type: ignore[arg-type]  # not bytes nor an iterable: TypeError


WRITING_FAILS: dict[str, tuple[Callable[[http.client.HTTPConnection], None], type[Exception]]] = {
    "putheader refuses a header": (_put_a_refused_header, ValueError),
    "request() with a refused header": (_request_with_a_refused_header, ValueError),
    "send refuses the body": (_send_a_body_it_cannot, TypeError),
}


def _reuse(connection: http.client.HTTPConnection) -> int:
    """The next invocation's use of the connection: closed (http.client refuses a new request otherwise), then a
    request read to its end."""
    connection.close()
    connection.request("GET", "/second")
    response = connection.getresponse()
    response.read()
    return response.status


def _sent_since(daemon: XRayDaemon, first: int) -> list[dict[str, Any]]:
    daemon.sync()
    return [document for data in daemon.datagrams(first) for document in decode(data)]


def _next_invocation(daemon: XRayDaemon, port: int, handler: Any, expect: int, urls: list[str]) -> None:
    """The next invocation, running ``handler``: it gets its answer (200) and sends documents of its own trace only,
    its calls to ``urls`` (paths) and nothing of the earlier invocation's."""
    first = len(daemon.datagrams())
    later = invoke(handler, expect=expect)
    assert later.result == 200
    sent = _sent_since(daemon, first)
    assert {d["trace_id"] for d in sent} == {later.trace_id}
    assert [d["http"]["request"]["url"] for d in _remote(sent)] == [f"http://127.0.0.1:{port}{url}" for url in urls]


@pytest.mark.parametrize("case", list(WRITING_FAILS))
def test_a_request_that_fails_while_written_ends_in_its_invocation(daemon: XRayDaemon, port: int, case: str) -> None:
    """http.client refusing what the caller writes after ``putrequest`` (a header value with a line break, a body
    that is not bytes): the call's subsegment ends there, with the exception as its cause (as the SDK records a
    failed send), under the handler and in its trace; the caller gets the exception as without tracing. It used to
    stay on the connection: lost, or sent when the connection was next used, in a later invocation's trace."""
    write, raised = WRITING_FAILS[case]
    tracer = Tracer(service="svc", patch_modules=["httplib"])
    connection = http.client.HTTPConnection("127.0.0.1", port)

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        write(connection)

    failed = invoke(handler, expect=2)
    assert type(failed.error) is raised
    [call] = _remote(failed.documents)
    [handler_doc] = [d for d in failed.documents if d["name"] == "## handler"]
    assert call["parent_id"] == handler_doc["id"]
    assert call["http"]["request"]["url"] == f"http://127.0.0.1:{port}/first"
    assert call["fault"] is True
    assert [e["type"] for e in call["cause"]["exceptions"]] == [raised.__name__]

    @tracer.capture_lambda_handler
    def reuse(event: Any, context: Any) -> int:
        return _reuse(connection)

    _next_invocation(daemon, port, reuse, 2, ["/second"])
    connection.close()


class _Stop(Exception):
    """The handler's own exception, raised between the request and its response."""


def _raise_before_the_response(connection: http.client.HTTPConnection) -> None:
    connection.request("GET", "/first")
    raise _Stop


def _return_before_the_response(connection: http.client.HTTPConnection) -> None:
    connection.request("GET", "/first")


def _read_the_response(connection: http.client.HTTPConnection) -> int:
    """The next invocation reads the response of the request the earlier one sent."""
    response = connection.getresponse()
    response.read()
    return response.status


LEFT_OPEN: dict[str, tuple[Callable[[http.client.HTTPConnection], None], type[Exception] | None]] = {
    "the handler raises before the response": (_raise_before_the_response, _Stop),
    "the handler returns before the response": (_return_before_the_response, None),
}
NEXT_USE: dict[str, tuple[Callable[[http.client.HTTPConnection], int], list[str]]] = {
    "closed and used again": (_reuse, ["/second"]),
    "its response read": (_read_the_response, []),
}


@pytest.mark.parametrize("next_use", list(NEXT_USE))
@pytest.mark.parametrize("case", list(LEFT_OPEN))
def test_a_request_whose_response_is_never_read_ends_with_its_invocation(
    daemon: XRayDaemon, port: int, case: str, next_use: str
) -> None:
    """A request sent, and the invocation over before its response is read (the handler raised, or returned): the
    call's subsegment ends as the handler does, a fault (no response), with the handler's exception as its cause
    when it raised, under the handler and in its trace. The next invocation using the connection (closing it for a
    request of its own, or reading that response) sends nothing of the earlier one: its own calls only."""
    leave_open, raised = LEFT_OPEN[case]
    use_again, urls = NEXT_USE[next_use]
    tracer = Tracer(service="svc", patch_modules=["httplib"])
    connection = http.client.HTTPConnection("127.0.0.1", port)

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        leave_open(connection)

    left = invoke(handler, expect=2)
    assert type(left.error) is (raised or type(None))
    [call] = _remote(left.documents)
    [handler_doc] = [d for d in left.documents if d["name"] == "## handler"]
    assert call["parent_id"] == handler_doc["id"]
    assert call["http"]["request"]["url"] == f"http://127.0.0.1:{port}/first"
    assert "response" not in call["http"]
    assert call["fault"] is True
    if raised is None:
        assert "cause" not in call
    else:
        assert [e["type"] for e in call["cause"]["exceptions"]] == [raised.__name__]

    @tracer.capture_lambda_handler
    def next_handler(event: Any, context: Any) -> int:
        return use_again(connection)

    _next_invocation(daemon, port, next_handler, 1 + len(urls), urls)
    connection.close()


def test_a_connection_urllib3_gives_up_on_ends_its_request_with_the_exception(daemon: XRayDaemon, port: int) -> None:
    """urllib3 refusing a body after ``putrequest`` (not bytes, nor a file or an iterable) closes the connection while
    its TypeError goes up: the request's subsegment ends then, with that exception, in its invocation."""
    import urllib3

    tracer = Tracer(service="svc", patch_modules=["httplib"])
    pool = urllib3.HTTPConnectionPool("127.0.0.1", port, retries=False)

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        pool.request("POST", "/first", body=12345)

    failed = invoke(handler, expect=2)
    assert type(failed.error) is TypeError
    [call] = _remote(failed.documents)
    assert call["http"]["request"]["url"] == f"http://127.0.0.1:{port}/first"
    assert call["fault"] is True
    assert [e["type"] for e in call["cause"]["exceptions"]] == ["TypeError"]
    pool.close()


def test_without_our_handler_a_request_left_open_is_never_sent_into_the_next_invocation(
    daemon: XRayDaemon, port: int
) -> None:
    """A request left open by a handler we do not wrap (``Tracer(patch_modules=...)`` in code, no
    ``capture_lambda_handler``): nothing ends it with its invocation, so it is dropped; the next invocation using the
    connection never sends it in its own time."""
    Tracer(service="svc", patch_modules=["httplib"])
    connection = http.client.HTTPConnection("127.0.0.1", port)

    def handler(event: Any, context: Any) -> None:
        connection.request("GET", "/first")

    invoke(handler, expect=0)

    def next_handler(event: Any, context: Any) -> int:
        return _reuse(connection)

    _next_invocation(daemon, port, next_handler, 1, ["/second"])
    connection.close()


def test_an_async_handler_ends_a_request_it_left_open(daemon: XRayDaemon, port: int) -> None:
    """The same for an ``async def`` handler (its own wrapper): the request ends with the handler's exception."""
    import asyncio

    tracer = Tracer(service="svc", patch_modules=["httplib"])
    connection = http.client.HTTPConnection("127.0.0.1", port)

    @tracer.capture_lambda_handler
    async def handler(event: Any, context: Any) -> None:
        _raise_before_the_response(connection)

    left = invoke(lambda event, context: asyncio.run(handler(event, context)), expect=2)
    assert type(left.error) is _Stop
    [call] = _remote(left.documents)
    assert call["fault"] is True
    assert [e["type"] for e in call["cause"]["exceptions"]] == ["_Stop"]
    connection.close()


class _Unrelated(Exception):
    """An exception the user's code caught before the request began: it is being handled, but did not stop it."""


def _handled_around(call: Callable[[], Any]) -> Any:
    try:
        raise _Unrelated
    except _Unrelated:
        return call()


def _closed_while_handling(connection: http.client.HTTPConnection) -> None:
    def request_then_close() -> None:
        connection.request("GET", "/first")
        connection.close()

    _handled_around(request_then_close)


HANDLED_AROUND: dict[str, tuple[bool, Callable[[http.client.HTTPConnection], None], type[Exception] | None]] = {
    "the handler returns, called inside an except": (True, _return_before_the_response, None),
    "the handler raises, called inside an except": (True, _raise_before_the_response, _Stop),
    "the connection closed inside an except": (False, _closed_while_handling, None),
}


@pytest.mark.parametrize("case", list(HANDLED_AROUND))
def test_a_request_left_open_takes_no_cause_from_an_exception_handled_around_it(
    daemon: XRayDaemon, port: int, case: str
) -> None:
    """A request abandoned while the code handles an exception it caught before the request began (a traced handler
    called from an ``except``, a fallback request in one): that exception did not stop the request, so it is not its
    cause; the request ends a fault without one, or with the handler's own exception when the handler raised. It
    used to take whatever ``sys.exc_info()`` held then: the unrelated exception, as if the call had failed with it."""
    around_handler, leave_open, raised = HANDLED_AROUND[case]
    tracer = Tracer(service="svc", patch_modules=["httplib"])
    connection = http.client.HTTPConnection("127.0.0.1", port)

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        leave_open(connection)

    def entry(event: Any, context: Any) -> None:
        return _handled_around(lambda: handler(event, context)) if around_handler else handler(event, context)

    left = invoke(entry, expect=2)
    assert type(left.error) is (raised or type(None))
    [call] = _remote(left.documents)
    assert call["fault"] is True and "response" not in call["http"]
    if raised is None:
        assert "cause" not in call
    else:
        assert [e["type"] for e in call["cause"]["exceptions"]] == [raised.__name__]
    connection.close()


def test_a_handler_traced_inside_another_leaves_the_outer_ones_request_open(daemon: XRayDaemon, port: int) -> None:
    """A traced handler called by another (a router): its end is not the invocation's, so the outer handler's request
    in flight keeps its subsegment and gets its response."""
    tracer = Tracer(service="svc", patch_modules=["httplib"])
    connection = http.client.HTTPConnection("127.0.0.1", port)

    @tracer.capture_lambda_handler
    def inner(event: Any, context: Any) -> None:
        return None

    @tracer.capture_lambda_handler
    def outer(event: Any, context: Any) -> int:
        connection.request("GET", "/first")
        inner(event, context)
        return _read_the_response(connection)

    call = invoke(outer, expect=3)
    assert call.result == 200
    [remote] = _remote(call.documents)
    assert remote["http"]["response"]["status"] == 200
    assert "fault" not in remote
    connection.close()


class _PipeBreaksOnTheBody:
    """A socket whose second ``sendall`` (the body, after the headers) raises BrokenPipeError without sending: the
    server closed its side after answering early (the kernel's EPIPE), made deterministic."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._sent = 0

    def sendall(self, data: Any) -> None:
        self._sent += 1
        if self._sent > 1:
            raise BrokenPipeError(32, "Broken pipe")
        self._sock.sendall(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def test_a_response_urllib3_reads_after_a_broken_pipe_is_recorded(daemon: XRayDaemon, port: int) -> None:
    """A server that answers before reading the body (413 to a large upload) and closes: sending the body raises
    BrokenPipeError, which urllib3 swallows to read the response the server sent (connectionpool._make_request). The
    call got an answer: its subsegment records the 413 (an error), not a fault of the broken pipe."""
    import urllib3

    class Connection(urllib3.connection.HTTPConnection):
        def connect(self) -> None:
            super().connect()
            self.sock = _PipeBreaksOnTheBody(self.sock)

    class Pool(urllib3.HTTPConnectionPool):
        ConnectionCls = Connection

    tracer = Tracer(service="svc", patch_modules=["httplib"])
    pool = Pool("127.0.0.1", port, retries=False)

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> int:
        return pool.request("POST", "/too-large", body=b"x" * 1000).status

    call = invoke(handler, expect=2)
    assert call.result == 413
    [remote] = _remote(call.documents)
    assert remote["http"]["response"]["status"] == 413
    assert remote.get("error") is True and "fault" not in remote and "cause" not in remote
    pool.close()


def test_a_response_read_while_its_invocation_abandons_the_request_is_ended_once(daemon: XRayDaemon, port: int) -> None:
    """Another thread reads the response just as the handler's end abandons the request (``backends.end_held`` has
    taken it, ``_abandoned`` not yet run): whoever took it from ``backends.held`` ends it, so it ends once, as the
    invocation's abandoned call, not a second time with the response."""
    from paused import changed_at_call

    from lambda_tracer.instrumentation import http as http_instrumentation

    tracer = Tracer(service="svc", patch_modules=["httplib"])
    connection = http.client.HTTPConnection("127.0.0.1", port)
    statuses: list[int] = []

    @tracer.capture_lambda_handler
    def handler(event: Any, context: Any) -> None:
        connection.request("GET", "/first")

    def read_elsewhere() -> None:
        statuses.append(connection.getresponse().status)

    first = len(daemon.datagrams())
    call = changed_at_call(http_instrumentation._abandoned.__code__, read_elsewhere, lambda: invoke(handler, expect=2))
    assert statuses == [200]  # the reader got its response, untouched
    [request] = _remote(call.documents)
    assert request["fault"] is True and "response" not in request["http"]
    assert len(_remote(_sent_since(daemon, first))) == 1  # not sent again by the reader
    connection.close()
