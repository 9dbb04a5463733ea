"""What Linux says about the runtime's processes: their tree, peak memory, who holds a socket, when one died.

The local runtime runs awslambdaric as a process tree (the interpreter; Managed Instances workers and restored
SnapStart sandboxes as its descendants). These helpers read ``/proc`` and pidfds; without ``/proc`` they answer
"unknown" (empty, None) rather than fail, so the runtime still works where they cannot look.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import signal
import socket
import subprocess
from pathlib import Path


def readable(source: socket.socket | int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``source`` to be readable (``poll``: any descriptor number)."""
    poller = select.poll()
    poller.register(source, select.POLLIN | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(timeout * 1000))


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (``/proc/<pid>/task/<tid>/children``); empty without /proc.

    After the bootstrap's and the wrapper's ``exec`` that is one process, the interpreter; a wrapper that forks,
    Managed Instances workers and restored SnapStart sandboxes add children.
    """
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        try:
            for task in (Path("/proc") / str(current) / "task").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    todo.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue  # gone meanwhile
        found.append(current)
    return found


def peak_rss_mb(pid: int) -> int | None:
    """Sum of ``VmHWM`` (peak resident set) of ``pid`` and its descendants, in MB; None without /proc."""
    total_kb = 0
    for current in process_tree(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in (Path("/proc") / str(current) / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kb += int(line.split()[1])
    return math.ceil(total_kb / 1024) if total_kb else None


def owner_of_client_port(port: int, server_port: int, root: int) -> int | None:
    """The process under ``root`` holding the 127.0.0.1 TCP connection from ``port`` to ``server_port``, found
    as ``ss -p`` finds it: the socket's inode in ``/proc/net/tcp``, then the process with a descriptor on it."""
    wanted = f":{port:04X}", f":{server_port:04X}"
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if (
                    len(fields) > 9
                    and fields[1].endswith(wanted[0])
                    and fields[2].endswith(wanted[1])
                    and fields[3] == "01"  # ESTABLISHED: not a closed connection's TIME_WAIT entry
                    and fields[9] != "0"
                ):
                    inode = fields[9]
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in process_tree(root):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
    return None


def end_process(pid: int, grace_s: float) -> None:
    """Kill one process (SIGKILL) and wait up to ``grace_s`` until it is gone (through a pidfd: it need not be
    our child); no-op when it is gone already."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return  # gone already
    try:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        readable(pidfd, grace_s)
    finally:
        os.close(pidfd)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill ``process``'s whole process group (the runtime and whatever its wrapper started) and reap it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
