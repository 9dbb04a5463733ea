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

    first = len(daemon.datagrams())
    reused = invoke(reuse, expect=2)
    assert reused.result == 200
    sent = _sent_since(daemon, first)
    assert {d["trace_id"] for d in sent} == {reused.trace_id}
    assert [d["http"]["request"]["url"] for d in _remote(sent)] == [f"http://127.0.0.1:{port}/second"]
    connection.close()
