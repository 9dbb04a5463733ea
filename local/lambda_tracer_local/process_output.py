"""The runtime process's stdout and stderr (one pipe), read as it is written and split between invocations.

Lambda attributes a function's output to the invocation that was running when it was written. Here the split is
exact: when a request reaches the Runtime API (first ``/next``, a response, an error), ``mark()`` reads what the
pipe holds at that moment, which is everything the runtime wrote before it sent that request.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import termios
import threading
from collections.abc import Callable
from typing import IO


def _available(fd: int) -> int | None:
    """Bytes waiting in a pipe (FIONREAD); None where that cannot be asked: then read until it is empty."""
    try:
        return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])
    except OSError:
        return None


class ProcessOutput:
    """Everything one process wrote to its pipe, with the offset up to which invocations have been given it."""

    def __init__(self) -> None:
        self._bytes = bytearray()
        self._lock = threading.Lock()
        self._stdout: IO[bytes] | None = None
        #: The pipe is at its end (or was closed under us): nothing more will come.
        self.eof = False
        #: Output before this offset has been given to an Invocation (``init_output`` or ``output``).
        self._attributed = 0
        #: The init output has been given (to the first invocation that asked).
        self.init_given = False
        self._reader: threading.Thread | None = None

    def follow(self, stdout: IO[bytes], on_end: Callable[[], None]) -> None:
        """Read ``stdout`` in a thread as it is written; call ``on_end`` once the process closed it."""
        self._stdout = stdout
        os.set_blocking(stdout.fileno(), False)
        self._reader = threading.Thread(target=self._read, args=(on_end,), name="local-lambda-output", daemon=True)
        self._reader.start()

    def _read(self, on_end: Callable[[], None]) -> None:
        assert self._stdout is not None
        poller = select.poll()
        poller.register(self._stdout.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
        while not self.eof:
            if any(event & select.POLLNVAL for _, event in poller.poll()):
                break  # closed under us
            self._drain(everything=True)
        on_end()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the reader to reach the end of the pipe (no-op before ``follow``)."""
        if self._reader is not None:
            self._reader.join(timeout=timeout)

    def close(self) -> None:
        """Close the pipe once it was read to the end (its finalizer would keep it open otherwise)."""
        if self._stdout is not None and self.eof:
            self._stdout.close()

    def mark(self) -> int:
        """How many bytes the process had written when this is called (the Runtime API calls it on a request).

        Whatever the runtime wrote before it sent that request (first ``/next``, a response, an error) is in
        the pipe by then: the bytes waiting in it are read now, and the offset returned splits the output
        exactly at that request, without waiting or guessing. Bytes written later (by another thread of the
        function, say) are left for the next mark.
        """
        return self._drain(everything=False)

    def _drain(self, everything: bool) -> int:
        """Read what the pipe holds (``everything``: until it is empty or closed) and return the total read."""
        stdout = self._stdout
        with self._lock:
            if stdout is None or stdout.closed or self.eof:
                return len(self._bytes)
            fd = stdout.fileno()
            left = None if everything else _available(fd)
            while left is None or left > 0:
                try:
                    chunk = os.read(fd, 65536 if left is None else min(left, 65536))
                except BlockingIOError:
                    break
                except OSError:  # closed
                    self.eof = True
                    break
                if not chunk:
                    self.eof = True
                    break
                self._bytes += chunk
                if left is not None:
                    left -= len(chunk)
            return len(self._bytes)

    @property
    def text(self) -> str:
        """Everything read so far."""
        with self._lock:
            return self._bytes.decode("utf-8", "replace")

    def between(self, start: int, end: int | None) -> str:
        with self._lock:
            return bytes(self._bytes[start:end]).decode("utf-8", "replace")

    def take(self, end: int | None, init_end: int | None) -> tuple[str | None, str]:
        """(init output, the first time only; this invocation's output up to offset ``end``, or up to what was
        read so far when None). ``init_end``: where init ended (the first ``/next``), None for all of it.
        Consecutive calls split the output without gaps or overlaps."""
        if end is None:
            end = self.mark()
        init: str | None = None
        if not self.init_given:
            self.init_given = True
            init_end = end if init_end is None else init_end  # no /next: all init
            init, self._attributed = self.between(0, init_end), init_end
        start = self._attributed
        self._attributed = max(start, end)
        return init, self.between(start, end)
