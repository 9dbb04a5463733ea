"""The log socket of a sandbox whose runtime runs several processes: output kept per process.

Lambda Managed Instances: awslambdaric forks ``AWS_LAMBDA_MAX_CONCURRENCY`` workers, and each connects its stdout
and stderr to the Unix socket named by ``_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET`` (``lambda_multi_concurrent_utils``).
The local SnapStart simulation sends each restored sandbox's output here too. The kernel says which process
connected (``SO_PEERCRED``), so each process's output is kept apart, in the order it arrived.

``mark()`` is the pipe trick of ``ProcessOutput.mark`` for many sockets: called when a request reaches the Runtime
API, it reads what every process had written by then, so output splits exactly at that request.

stdout and stderr are two connections, so their relative order is known only per line: each connection's
bytes join the process's output a line at a time (a line not yet ended waits, until a mark or the end), so a
line of one stream is never cut by the other's.
"""

from __future__ import annotations

import contextlib
import fcntl
import selectors
import socket
import struct
import termios
import threading
from pathlib import Path

_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid
_READ_PER_WAKEUP = 1 << 20


class WorkerLogs:
    """A listening Unix socket at ``path``; every process that connects gets its own output buffer (by pid)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        self._listener.listen(64)
        self._listener.setblocking(False)
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._owners: dict[socket.socket, int] = {}
        #: Each connection's line not yet ended.
        self._partial: dict[socket.socket, bytearray] = {}
        self._output: dict[int, bytearray] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="worker-logs", daemon=True)
        self._thread.start()

    # -- reading ---------------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._closed:
            try:
                ready = self._selector.select(timeout=0.05)
            except (OSError, ValueError):  # closed under us
                return
            with self._lock:
                if self._closed:
                    return
                for key, _ in ready:
                    if key.fileobj is self._listener:
                        self._accept()
                    elif isinstance(key.fileobj, socket.socket) and key.fileobj in self._owners:
                        self._read(key.fileobj, _READ_PER_WAKEUP)  # bounded: mark() must get the lock

    def _accept(self) -> None:
        """Take every connection waiting (the caller holds the lock)."""
        while True:
            try:
                connection, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            pid = _PEERCRED.unpack(connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))[0]
            connection.setblocking(False)
            self._owners[connection] = pid
            self._partial[connection] = bytearray()
            self._output.setdefault(pid, bytearray())
            self._selector.register(connection, selectors.EVENT_READ)

    def _read(self, connection: socket.socket, limit: int) -> None:
        """Read what ``connection`` holds, at most ``limit`` bytes; complete lines join the process's output."""
        buffer, partial = self._output[self._owners[connection]], self._partial[connection]
        while limit > 0:
            try:
                chunk = connection.recv(min(limit, 65536))
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                chunk = b""
            if not chunk:  # the process closed it (or died): what is left of its last line too
                buffer += partial
                self._selector.unregister(connection)
                del self._owners[connection], self._partial[connection]
                connection.close()
                return
            partial += chunk
            limit -= len(chunk)
        cut = partial.rfind(b"\n") + 1
        if cut:
            buffer += partial[:cut]
            del partial[:cut]

    def mark(self) -> dict[int, int]:
        """How much each process had written when this is called: what is waiting is read first."""
        with self._lock:
            if not self._closed:
                self._accept()
                for connection in list(self._owners):
                    self._read(connection, _available(connection))
                    if connection in self._partial:  # written before the request: it belongs before the mark
                        self._output[self._owners[connection]] += self._partial[connection]
                        self._partial[connection].clear()
            return {pid: len(output) for pid, output in self._output.items()}

    def text(self, pid: int, start: int = 0, end: int | None = None) -> str:
        """What process ``pid`` wrote between two marks (all of it by default)."""
        with self._lock:
            return bytes(self._output.get(pid, b"")[start:end]).decode("utf-8", "replace")

    def pids(self) -> list[int]:
        """Every process that connected, in the order they first did."""
        with self._lock:
            return list(self._output)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for connection in list(self._owners):
                connection.close()
            self._owners.clear()
            self._listener.close()
        self._thread.join(timeout=1)
        with contextlib.suppress(OSError):
            self._selector.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


def _available(connection: socket.socket) -> int:
    """Bytes waiting in a stream socket (SIOCINQ, the same request as FIONREAD); 0 when that cannot be asked."""
    try:
        return int(struct.unpack("i", fcntl.ioctl(connection.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0])
    except OSError:
        return 0
