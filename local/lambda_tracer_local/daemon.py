"""A stand-in for the X-Ray daemon: a UDP socket on 127.0.0.1 that keeps every segment document it receives.

OTLP datagrams (``T1S``/``T1U``, lambda_tracer's ``otlp`` exporter or ADOT's) are decoded too (otlp.py): each span
becomes a document as X-Ray would show it, with an ``otlp`` entry holding its kind, attributes and events."""

from __future__ import annotations

import functools
import json
import os
import select
import socket
import threading
import time
from typing import Any

from . import otlp

HEADER = {"format": "json", "version": 1}
#: A datagram starting with this is a barrier sent by ``sync()``, never a document.
SYNC_PREFIX = b"lambda_tracer_local.sync "


class XRayDaemon:
    """Collects X-Ray segment documents sent over UDP (``AWS_XRAY_DAEMON_ADDRESS``).

    Each datagram is ``{"format":"json","version":1}\\n{document}``; malformed ones are kept in
    ``rejected`` so a test can see them instead of losing them silently. Datagrams are parsed when
    someone looks at them, not on arrival: the receiving thread only stores bytes, so it barely
    competes with the Runtime API server in the same process (that would distort warm timings).
    """

    def __init__(self, background: bool = True) -> None:
        """``background=False``: no receiving thread at all; datagrams wait in the kernel's buffer (8 MB)
        until someone looks (``sync``, ``documents``, ``for_trace``). The benchmark uses that so that
        nothing in its process wakes up while a timed invocation runs, as with Lambda's own daemon."""
        self._background = background
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self._socket.bind(("127.0.0.1", 0))
        # With a thread: wake up every 50 ms to notice close(). Without one: never wait in recv.
        self._socket.settimeout(0.05 if background else 0.0)
        self.port: int = self._socket.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._documents: list[dict[str, Any]] = []
        self._pending: list[bytes] = []
        #: Every datagram kept, raw, in arrival order (``datagrams()``: what a rule checker reads).
        self._received: list[bytes] = []
        #: The sender's (host, port) of each datagram in ``_received``: which socket a process sent from.
        self._sources: list[tuple[str, int]] = []
        self.datagram_sizes: list[int] = []
        self._rejected: list[bytes] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._synced: set[bytes] = set()
        self._synced_changed = threading.Condition(self._lock)
        #: Datagrams kept so far (documents and rejected): ``wait_for`` waits for it to change.
        self._arrivals = 0
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._serve, name="xray-daemon", daemon=True)
            self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self._socket.recvfrom(70_000)
            except OSError:
                continue
            self._receive(data, source)

    def _receive(self, data: bytes, source: tuple[str, int]) -> None:
        if data.startswith(SYNC_PREFIX):
            with self._synced_changed:
                self._synced.add(data)
                self._synced_changed.notify_all()
            return
        self._keep(data, source)

    def _drain(self) -> None:
        """Without a background thread: read everything waiting in the socket now."""
        if self._background:
            return
        while True:
            try:
                data, source = self._socket.recvfrom(70_000)
            except (BlockingIOError, InterruptedError, TimeoutError):
                return
            self._receive(data, source)

    def _keep(self, data: bytes, source: tuple[str, int]) -> None:
        with self._lock:
            self.datagram_sizes.append(len(data))
            self._pending.append(data)
            self._received.append(data)
            self._sources.append((source[0], source[1]))
            self._arrivals += 1
            self._synced_changed.notify_all()

    def _parse_pending(self) -> None:
        """Parse what arrived since the last look (the caller holds the lock)."""
        for data in self._pending:
            try:
                self._documents.extend(decode(data))
            except ValueError:
                self._rejected.append(data)
        self._pending.clear()

    @property
    def documents(self) -> list[dict[str, Any]]:
        """Every document received so far, in arrival order."""
        self._drain()
        with self._lock:
            self._parse_pending()
            return list(self._documents)

    @property
    def rejected(self) -> list[bytes]:
        """Datagrams that were not ``header\\ndocument`` JSON."""
        self._drain()
        with self._lock:
            self._parse_pending()
            return list(self._rejected)

    def datagrams(self, start: int = 0) -> list[bytes]:
        """The datagrams received so far from the ``start``-th on, raw and in arrival order, documents and rejected
        alike: the bytes X-Ray's rules are about (``documents`` hides them, e.g. a NaN that ``json`` accepted)."""
        self._drain()
        with self._lock:
            return self._received[start:]

    def datagrams_with_sources(self, start: int = 0) -> list[tuple[bytes, tuple[str, int]]]:
        """``datagrams(start)``, each with its sender's address: datagrams from one socket share it, so a test can
        tell whether two processes (forked workers, restored snapshots) sent through the same socket."""
        self._drain()
        with self._lock:
            return list(zip(self._received[start:], self._sources[start:], strict=True))

    def for_trace(self, trace_id: str) -> list[dict[str, Any]]:
        self._drain()
        with self._lock:
            self._parse_pending()
            return [doc for doc in self._documents if doc.get("trace_id") == trace_id]

    def wait_for(self, trace_id: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Documents of ``trace_id``: every one sent before this call (``sync()``), and, while fewer than
        ``count`` are in, whatever arrives until there are ``count`` or ``timeout`` passed.

        No fixed wait: with everything already sent (a handler that returned has sent its documents),
        it returns after one barrier round trip, ``count=0`` included.
        """
        deadline = time.monotonic() + timeout
        self.sync(timeout)
        while True:
            with self._lock:
                seen = self._arrivals
            found = self.for_trace(trace_id)
            remaining = deadline - time.monotonic()
            if len(found) >= count or remaining <= 0:
                return found
            if self._background:
                with self._synced_changed:
                    self._synced_changed.wait_for(functools.partial(self._arrived_since, seen), timeout=remaining)
            else:
                poller = select.poll()
                poller.register(self._socket, select.POLLIN)
                poller.poll(remaining * 1000)

    def _arrived_since(self, seen: int) -> bool:
        return self._arrivals != seen

    def sync(self, timeout: float = 2.0) -> bool:
        """Wait until every datagram sent to us before this call has been parsed.

        A barrier datagram is queued behind them on the same socket: once it is read, all earlier
        ones are in ``documents``. Works because the tracer's ``send`` on loopback has delivered its
        datagrams before the function's response reached the Runtime API. False on timeout.
        """
        token = SYNC_PREFIX + os.urandom(8).hex().encode()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(token, ("127.0.0.1", self.port))
        deadline = time.monotonic() + timeout
        while not self._background and token not in self._synced and time.monotonic() < deadline:
            self._drain()  # no thread to wait for: read until the barrier shows up
        with self._synced_changed:
            arrived = self._synced_changed.wait_for(lambda: token in self._synced, timeout=timeout)
            self._synced.discard(token)
        return arrived

    def clear(self) -> None:
        with self._lock:
            self._documents.clear()
            self._pending.clear()
            self._received.clear()
            self._sources.clear()
            self.datagram_sizes.clear()
            self._rejected.clear()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            # Wake the receiving thread now rather than at its next 50 ms timeout (a barrier token: ignored).
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                sender.sendto(SYNC_PREFIX + b"close", ("127.0.0.1", self.port))
            self._thread.join(timeout=1)
        self._socket.close()

    def __enter__(self) -> XRayDaemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decode(data: bytes) -> list[dict[str, Any]]:
    """The documents of one datagram: an X-Ray document after the header, or one per OTLP span (``T1S``/``T1U``), as
    X-Ray would show it. ValueError when it is neither (the daemon keeps it in ``rejected``)."""
    try:
        if otlp.is_otlp(data):
            return otlp.documents_of(data)
        header, body = data.split(b"\n", 1)
        if json.loads(header) != HEADER:
            raise ValueError("bad header")
        document = json.loads(body)
    except RecursionError:  # nested deeper than the decoders go: a few bytes a level fit in a datagram
        raise ValueError("nested too deep") from None
    if not isinstance(document, dict):
        raise ValueError("the document is not a JSON object")
    return [document]


def new_trace_header() -> tuple[str, str, str]:
    """(header, trace id, parent id): a fresh, sampled ``Lambda-Runtime-Trace-Id`` value."""
    import os

    trace_id = f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    parent = os.urandom(8).hex()
    return f"Root={trace_id};Parent={parent};Sampled=1", trace_id, parent


def subsegments(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every subsegment in ``documents``, including ones nested inside a parent's document."""
    found: list[dict[str, Any]] = []

    def walk(doc: dict[str, Any]) -> None:
        found.append(doc)
        for child in doc.get("subsegments", []) or []:
            walk(child)

    for doc in documents:
        walk(doc)
    return found


def by_name(documents: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The one subsegment called ``name`` (AssertionError listing what arrived otherwise)."""
    matches = [doc for doc in subsegments(documents) if doc.get("name") == name]
    assert len(matches) == 1, (
        f"expected one {name!r}, got {len(matches)} among {[d.get('name') for d in subsegments(documents)]}"
    )
    return matches[0]
