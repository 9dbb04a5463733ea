"""The sender seam for tests, as OpenTelemetry's ``InMemorySpanExporter``: what the tracer sends is kept in memory.

Every datagram the layer sends goes through ``backends.udp``'s process sender (``udp._sender``, made on first use;
X-Ray documents, OTLP spans and the SDK bridge's alike). ``install()`` puts a ``MemorySender`` there, so a unit test of
spans and documents reads what was sent with no UDP daemon stand-in, no socket and no barrier. The layer is unchanged:
the module global is the seam it already reads on every send.

A test file opts in with the ``memory_sender`` fixture (tests/conftest.py), usually for all its tests::

    pytestmark = pytest.mark.usefixtures("memory_sender")

``lambda_env.invoke`` then collects each invocation's documents from it and holds them against X-Ray's rules, as it
does the daemon's. Tests of the UDP send itself (addresses, sockets, sizes, forks) and tests/e2e keep the real
daemon stand-in (``daemon`` fixture): a forked child's datagrams never reach the parent's memory.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

from lambda_tracer.backends import udp
from lambda_tracer_local.daemon import decode


class MemorySender:
    """Stands in for ``udp.Sender``: each datagram (header and body, the bytes the socket would send) is kept.

    Reads as ``XRayDaemon`` does (``datagrams``, ``documents``, ``rejected``, ``for_trace``, ``wait_for``,
    ``clear``), decoding the same way (``daemon.decode``), so the helpers written for the daemon read it too.
    """

    def __init__(self) -> None:
        self._datagrams: list[bytes] = []
        #: The process's sender before this one (``install``), put back by ``uninstall``.
        self.replaced: udp.Sender | None = None
        self._sent = threading.Condition()

    # The sender's side: what udp.Sender offers the layer (no socket: xray.py then sends through ``send``).
    socket = None

    def send(self, body: bytes) -> None:
        with self._sent:
            self._datagrams.append(udp.HEADER + body)
            self._sent.notify_all()

    def forget_socket(self) -> None:
        """Nothing to forget: a forked child keeps its copy of the list (its datagrams stay in the child)."""

    # The test's side, as InMemorySpanExporter's get_finished_spans / clear.
    def datagrams(self, start: int = 0) -> list[bytes]:
        """Every datagram sent so far from the ``start``-th on, raw, in sending order."""
        with self._sent:
            return self._datagrams[start:]

    @property
    def datagram_sizes(self) -> list[int]:
        """The size of each datagram sent, header included (what a UDP datagram's limit applies to)."""
        return [len(data) for data in self.datagrams()]

    def _decoded(self) -> tuple[list[dict[str, Any]], list[bytes]]:
        documents: list[dict[str, Any]] = []
        rejected: list[bytes] = []
        for data in self.datagrams():
            try:
                documents.extend(decode(data))
            except ValueError:
                rejected.append(data)
        return documents, rejected

    @property
    def documents(self) -> list[dict[str, Any]]:
        """Every document sent so far (one per X-Ray datagram, one per OTLP span), in sending order."""
        return self._decoded()[0]

    @property
    def rejected(self) -> list[bytes]:
        """Datagrams that the daemon would have rejected (neither ``header\\ndocument`` JSON nor OTLP)."""
        return self._decoded()[1]

    def for_trace(self, trace_id: str) -> list[dict[str, Any]]:
        return [doc for doc in self.documents if doc.get("trace_id") == trace_id]

    def wait_for(self, trace_id: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Documents of ``trace_id``; while fewer than ``count`` are in, whatever another thread still sends, until
        there are ``count`` or ``timeout`` passed. Sending is synchronous: a returned handler's are all in."""
        deadline = time.monotonic() + timeout
        while True:
            with self._sent:
                seen = len(self._datagrams)
            found = self.for_trace(trace_id)
            remaining = deadline - time.monotonic()
            if len(found) >= count or remaining <= 0:
                return found
            with self._sent:
                self._sent.wait_for(functools.partial(self._sent_since, seen), timeout=remaining)

    def _sent_since(self, seen: int) -> bool:
        return len(self._datagrams) != seen

    def sync(self, timeout: float = 2.0) -> bool:
        """Nothing is in flight (the daemon's barrier, for helpers that call it)."""
        return True

    def clear(self) -> None:
        with self._sent:
            self._datagrams.clear()


def install() -> MemorySender:
    """Make a fresh ``MemorySender`` the process's sender; ``uninstall(it)`` puts back the one it replaced."""
    sender = MemorySender()
    sender.replaced = udp._sender
    udp._sender = sender  # type: ignore[assignment]  # the seam: udp.sender() returns it, every send path uses it
    return sender


def uninstall(sender: MemorySender) -> None:
    """The UDP sender again: the same object as before (a test holding it, to break its socket, still has it)."""
    udp._sender = sender.replaced
