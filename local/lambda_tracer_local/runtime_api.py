"""A Lambda Runtime API server on 127.0.0.1, enough for the real ``awslambdaric`` to run a function.

It speaks the endpoints awslambdaric calls (``/next``, ``/response``, ``/error``, ``/init/error``,
SnapStart's ``/restore/next`` and ``/restore/error``) and records everything that arrives, so tests can
assert on what the runtime actually sent. Details that matter, each learnt the hard way:

* ``/next`` always carries ``Content-Type: application/json``: without it awslambdaric's C client
  dereferences NULL and the runtime dies with SIGSEGV.
* Nagle is off on every connection, or each keep-alive round trip stalls ~40 ms on delayed ACKs.
* Header lines may be huge: on a handler error the runtime sends the X-Ray cause in one header
  (150 KB seen), more than ``http.server`` accepts by default (it would answer 431 and the
  runtime would exit).
* Posts are answered 202: awslambdaric treats anything else as fatal.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import queue
import re
import select
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

PREFIX = "/2018-06-01/runtime"
# http.server reads headers with http.client's line limit (64 KiB by default).
MAX_HEADER_LINE = 1 << 22
if http.client._MAXLINE < MAX_HEADER_LINE:  # type: ignore[attr-defined]
    http.client._MAXLINE = MAX_HEADER_LINE  # type: ignore[attr-defined]

_INVOCATION_POST = re.compile(rf"^{PREFIX}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")


@dataclass
class Request:
    """One HTTP request the runtime made, as received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when fully read


@dataclass
class Pending:
    """One invocation: the event handed out on ``/next`` and what the runtime answered."""

    request_id: str
    body: bytes
    headers: dict[str, str]
    queued_at: float
    delivered_at: float | None = None
    kind: str | None = None  # "response" | "error" once answered
    reply: Request | None = None
    #: ``RuntimeAPI.mark()`` when the reply arrived: how much the runtime process had written by then.
    output_at: int | None = None
    #: The client port of the connection it was handed out on: which process took it (several may poll).
    client_port: int | None = None
    #: When the ``/next`` request that got it arrived, and ``worker_mark()`` then and at the reply.
    next_at: float | None = None
    next_marks: dict[int, int] = field(default_factory=dict)
    reply_marks: dict[int, int] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)


class RuntimeAPI:
    """Serves one runtime process; thread-safe. Use as a context manager or call ``close()``."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Pending] = queue.Queue()
        self._lock = threading.Lock()
        self._pending: dict[str, Pending] = {}
        self._closed = threading.Event()
        self.requests: list[Request] = []
        self.init_error: Request | None = None
        self.restore_error: Request | None = None
        #: Set whenever something the caller may be waiting for happened (a reply, an init error, close).
        self.changed = threading.Event()
        self.first_next_at: float | None = None
        #: Called by the server when the runtime asks for its first event and when it answers one, before
        #: anything else happens: returns how much output the runtime process has written so far (see
        #: ``ProcessOutput.mark``). What the runtime wrote before it sent a request is already in the pipe then.
        self.mark: Callable[[], int] = lambda: 0
        #: ``mark()`` at the first ``/next``: where init's output ends.
        self.init_output_at: int | None = None
        #: Like ``mark``, for runtimes of several processes whose output reaches a log socket (``WorkerLogs.mark``).
        self.worker_mark: Callable[[], dict[int, int]] | None = None
        #: The request id of the first event handed out on each client port: that process's first invocation.
        self.first_on_port: dict[int, str] = {}
        #: SnapStart: each ``/restore/next`` (a restored sandbox asking to go on) and ``/restore/error``, as received.
        self.restores: list[Request] = []
        self.restore_errors: list[Request] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self.port: int = self._server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        # A short poll interval: shutdown() waits for it, once per sandbox.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="runtime-api", daemon=True
        )
        self._thread.start()

    # -- caller side ---------------------------------------------------------------------------

    def enqueue(self, body: bytes, headers: Mapping[str, str]) -> Pending:
        """Queue an event; ``headers`` are extra ``/next`` reply headers (trace id, deadline, ...)."""
        pending = Pending(str(uuid.uuid4()), body, dict(headers), time.monotonic())
        with self._lock:
            self._pending[pending.request_id] = pending
        self._queue.put(pending)
        return pending

    def cancel(self, pending: Pending) -> None:
        """Withdraw a queued event nobody took (its invocation failed another way): ``/next`` skips it."""
        with self._lock:
            if pending.kind is None:
                pending.kind = "cancelled"

    def close(self) -> None:
        self._closed.set()
        self.changed.set()
        # shutdown() waits for serve_forever to notice, at its next poll (20 ms): a connection wakes it at once.
        stopper = threading.Thread(target=self._server.shutdown, name="runtime-api-stop", daemon=True)
        stopper.start()
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        stopper.join(timeout=2)
        self._server.server_close()
        self._thread.join(timeout=2)

    def __enter__(self) -> RuntimeAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- server side (called from handler threads) --------------------------------------------

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _next(self, connection: socket.socket, client_port: int) -> Pending | None:
        """Block until an event is queued; None once closed, or once the caller hung up (a killed process: the
        event stays queued for the next caller instead of going to a dead socket)."""
        arrived = time.monotonic()
        marks = self.worker_mark() if self.worker_mark is not None else {}
        with self._lock:
            if self.first_next_at is None:
                self.init_output_at = self.mark()
                self.first_next_at = arrived
        while not self._closed.is_set():
            try:
                pending = self._queue.get(timeout=0.05)
            except queue.Empty:
                if _hung_up(connection):
                    return None
                continue
            if pending.kind is not None:  # cancelled while queued
                continue
            if _hung_up(connection):
                self._queue.put(pending)
                return None
            pending.client_port, pending.next_at, pending.next_marks = client_port, arrived, marks
            with self._lock:
                self.first_on_port.setdefault(client_port, pending.request_id)
            return pending
        return None

    def _answer(self, request_id: str, kind: str, request: Request) -> bool:
        with self._lock:
            pending = self._pending.get(request_id)
            if pending is None or pending.kind is not None:
                return False
            pending.output_at = self.mark()
            if self.worker_mark is not None:
                pending.reply_marks = self.worker_mark()
            pending.kind = kind
            pending.reply = request
        pending.done.set()
        self.changed.set()
        return True

    def _init_failed(self, request: Request) -> None:
        self.init_error = request
        self.changed.set()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    api: RuntimeAPI

    def handle_error(self, request: object, client_address: object) -> None:
        """A runtime killed while blocked in ``/next`` resets its connection: that is not news."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the runtime's own output is what a test wants to see."""

    # -- plumbing ----------------------------------------------------------------------------

    def _read_request(self) -> Request:
        headers = {key: value for key, value in self.headers.items()}
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
        request = Request(self.command, self.path, headers, body, time.monotonic())
        self.server.api._record(request)
        return request

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, status: int, payload: object, headers: Mapping[str, str] | None = None) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # -- endpoints ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        request = self._read_request()
        api = self.server.api
        if self.path == f"{PREFIX}/invocation/next":
            pending = api._next(self.connection, self.client_address[1])
            if pending is None:  # shutting down or hung up: leave the runtime blocked, its process is being killed
                self.close_connection = True
                return
            headers = {"Lambda-Runtime-Aws-Request-Id": pending.request_id, **pending.headers}
            pending.delivered_at = time.monotonic()
            self._send(200, pending.body, headers)
        elif self.path == f"{PREFIX}/restore/next":
            api.restores.append(request)
            api.changed.set()
            self._send(200, b"")
        else:
            self._send(404, {"errorType": "NotFound", "errorMessage": f"no route for GET {self.path}"})

    def do_POST(self) -> None:
        request = self._read_request()
        api = self.server.api
        match = _INVOCATION_POST.match(self.path)
        if match:
            if api._answer(match["id"], match["kind"], request):
                self._send(202, {"status": "OK"})
            else:
                self._send(400, {"errorType": "InvalidRequestID", "errorMessage": f"unknown or answered {match['id']}"})
        elif self.path == f"{PREFIX}/init/error":
            if api.init_error is not None:  # another Managed Instances worker already did: Lambda answers 403
                self._send(403, {"errorType": "InitErrorAlreadyReported", "errorMessage": "init already failed"})
                return
            api._init_failed(request)
            self._send(202, {"status": "OK"})
        elif self.path == f"{PREFIX}/restore/error":
            api.restore_error = request
            api.restore_errors.append(request)
            api.changed.set()
            self._send(202, {"status": "OK"})
        else:
            self._send(404, {"errorType": "NotFound", "errorMessage": f"no route for POST {self.path}"})


def _hung_up(connection: socket.socket) -> bool:
    """True once the peer closed ``connection`` (a process blocked in ``/next`` sends nothing more: readable means
    end of file or a reset)."""
    try:
        poller = select.poll()  # not select.select: a descriptor number over 1023 is fine here
        poller.register(connection, select.POLLIN | select.POLLHUP | select.POLLERR)
        return bool(poller.poll(0)) and connection.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True
