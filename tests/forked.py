"""A function run in a forked child of the test process: for what a fork must change (ids, sockets, the cold start)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable


def in_forked_child(report: Callable[[], bytes]) -> bytes:
    """What ``report()`` returns in a forked child, which writes it to a pipe and exits at once, whatever happens
    (an exception in the child gives the bytes written so far: none)."""
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork() in a process with threads
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.write(write, report())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    return child
