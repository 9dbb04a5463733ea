"""SnapStart, simulated: the control socket to the snapshot process, and the restored sandbox of the moment.

With ``snap_start=True`` our bootstrap.py initialises once, runs the before-snapshot hooks, writes ``0`` on the
control socket where Lambda would take the snapshot, and then waits. Each ``r`` written back makes a restored
sandbox (a bare ``fork(2)``, which runs none of Python's at-fork hooks, as a restored microVM runs none); the
snapshot process answers with its process id. Numbers are 4-byte big-endian signed integers.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import NoReturn

from .procfs import readable


class Snapshot:
    """The snapshot process seen from the runtime: ask it for sandboxes, know when the current one died."""

    def __init__(self) -> None:
        #: Ours, and the end the runtime process inherits (closed here once it started).
        self.control, self.runtime_end = socket.socketpair()
        #: The current restored sandbox, and a pidfd of it: readable once it died (it is the snapshot's child,
        #: not ours).
        self.restored_pid: int | None = None
        self._pidfd: int | None = None
        #: When init and the before-snapshot hooks were over (where Lambda takes the snapshot).
        self.snapshot_at: float | None = None
        #: When each restored sandbox was asked for, by process id.
        self.restored_at: dict[int, float] = {}
        #: How many ``/restore/error`` requests have been given to an invocation.
        self.errors_seen = 0

    def handed_over(self) -> None:
        """The runtime process holds its end now: its exit reads as end of file here."""
        self.runtime_end.close()

    def restore(self, deadline: float, gone: Callable[[], bool], timed_out: Callable[[], NoReturn]) -> int | None:
        """Wait for the snapshot (the first time), ask for a restored sandbox and return its pid; None once the
        process is gone (``gone()``: init failed). ``timed_out`` is called (and must raise) past ``deadline``."""
        if self.snapshot_at is None:  # the first time: wait for the snapshot (init and the before-snapshot hooks)
            if self._read(deadline, gone, timed_out) != 0:
                return None
            self.snapshot_at = time.monotonic()
        asked_at = time.monotonic()
        with contextlib.suppress(OSError):
            self.control.sendall(b"r")
        pid = self._read(deadline, gone, timed_out)
        if pid is None:
            return None
        self.restored_pid = pid
        self.restored_at[pid] = asked_at
        with contextlib.suppress(OSError):
            self._pidfd = os.pidfd_open(pid)
        return pid

    def _read(self, deadline: float, gone: Callable[[], bool], timed_out: Callable[[], NoReturn]) -> int | None:
        """The next number the snapshot process sends (0: the snapshot is taken; else a restored sandbox's pid);
        None once the process is gone (init failed: invoke reports how)."""
        reply = b""
        while len(reply) < 4:
            if gone():
                return None
            if time.monotonic() > deadline:
                timed_out()
            if readable(self.control, 0.05):
                try:
                    chunk = self.control.recv(4 - len(reply))
                except ConnectionError:  # reset: the process exited with our request unread
                    chunk = b""
                if not chunk:
                    return None
                reply += chunk
        return int(struct.unpack("!i", reply)[0])

    def sandbox_died(self) -> bool:
        """True once the current restored sandbox has exited."""
        return self._pidfd is not None and readable(self._pidfd, 0)

    def forget(self, pid: int) -> None:
        """``pid`` is being ended: stop watching it if it is the current sandbox."""
        if pid == self.restored_pid and self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def close(self) -> None:
        for end in (self.control, self.runtime_end):
            with contextlib.suppress(Exception):
                end.close()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
