"""100,000 traced invocations in one warm process (run by test_soak.py in a fresh interpreter).

Prints one JSON line: Python heap blocks and RSS over time, the largest datagram the emitter ever
sent, how many were sent, and whether any subsegment or context was left behind between invocations.
RSS also grows with glibc's setenv, which never frees the previous value of ``_X_AMZN_TRACE_ID`` (the
runtime sets it on every invocation, as we do here): heap blocks are what shows a leak of ours.
"""

from __future__ import annotations

import gc
import json
import os
import socket
import sys
from typing import Any

INVOCATIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000

sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(("127.0.0.1", 0))
os.environ.update(LAMBDA_TASK_ROOT="/tmp", AWS_XRAY_DAEMON_ADDRESS=f"127.0.0.1:{sink.getsockname()[1]}")

from lambda_tracer import Tracer  # noqa: E402
from lambda_tracer.backends import udp, xray  # noqa: E402

tracer = Tracer(service="soak", auto_patch=False)
sent = {"count": 0, "max": 0}


class CountingSocket:
    """Stands between the emitter and its real socket: records every datagram's size, then sends it."""

    def __init__(self, real: socket.socket) -> None:
        self.real = real

    def send(self, data: bytes) -> int:
        sent["count"] += 1
        sent["max"] = max(sent["max"], len(data))
        try:
            return self.real.send(data)
        except BlockingIOError:  # nobody reads the sink: the kernel buffer is full, as a slow daemon would be
            return 0


@tracer.capture_method
def work(n: int) -> dict[str, Any]:
    tracer.put_annotation("n", n)
    return {"n": n, "items": list(range(n % 7))}


@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: object) -> Any:
    n = event["n"]
    if n % 10 == 3:
        raise ValueError(f"failure {n}")
    if n % 1000 == 7:
        return "x" * 1_000_000  # far over one datagram: must be truncated, not dropped
    return work(n)


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


sender = udp.sender()
assert sender is not None
family, kind, protocol, address = sender._target
real = socket.socket(family, kind, protocol)
real.connect(address)  # as Sender connects its own
sender.socket = CountingSocket(real)  # type: ignore[assignment]
leftovers = 0
rss: dict[int, int] = {}
blocks: dict[int, int] = {}
for n in range(INVOCATIONS):
    os.environ["_X_AMZN_TRACE_ID"] = f"Root=1-5759e988-{n:024x};Parent=53995c3f42cd8ad8;Sampled=1"
    try:
        handler({"n": n}, None)
    except ValueError:
        pass
    _, stack, _ = xray._state.get()
    if stack:
        leftovers += 1
    if n in (1_000, INVOCATIONS // 2, INVOCATIONS - 1):
        gc.collect()
        rss[n] = rss_kb()
        blocks[n] = sys.getallocatedblocks()
result = {"rss_kb": rss, "heap_blocks": blocks, "max_datagram": sent["max"], "datagrams": sent["count"]}
print(json.dumps({**result, "leftovers": leftovers}))
