"""Wall time, CPU time and memory of real sandboxes, and the per-call cost of our decorators in process.

Every configuration runs through the local Lambda runtime (real awslambdaric, the exec wrapper, layers unpacked
as /opt) on an interpreter that has only what the managed runtime has; what cold, warm and CPU mean is in
bench/run.py's docstring (`bench/run.py --help`). Configurations are interleaved run by run, so machine noise
hits them all alike (bench/report.py takes medians and ratios of this one run).
"""

from __future__ import annotations

import http.server
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layers import BUILD, ROOT
from workloads import TIMED, TIMED_AWS_CALLS

sys.path[:0] = [str(ROOT / "local"), str(ROOT / "layer")]

from lambda_tracer_local.daemon import XRayDaemon  # noqa: E402
from lambda_tracer_local.runtime import LocalLambda  # noqa: E402


@dataclass
class Config:
    name: str
    source: str
    package: str = ""
    layer: Path | None = None
    wrapper: bool = False


@dataclass
class Sample:
    cold_ms: list[float] = field(default_factory=list)
    warm_ms: list[float] = field(default_factory=list)
    cold_cpu_ms: list[float] = field(default_factory=list)
    warm_cpu_ms: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    traced: list[bool] = field(default_factory=list)

    def add(self, sandbox: Sandbox) -> None:
        self.cold_ms.append(sandbox.cold_ms)
        self.warm_ms.extend(sandbox.warm_ms)
        if sandbox.cold_cpu_ms is not None and sandbox.warm_cpu_ms is not None:
            self.cold_cpu_ms.append(sandbox.cold_cpu_ms)
            self.warm_cpu_ms.append(sandbox.warm_cpu_ms)
        self.rss_kb.append(sandbox.rss_kb)
        self.traced.append(sandbox.traced)


@dataclass
class Sandbox:
    """What one sandbox measured (CPU times are None where the process's CPU clock cannot be read)."""

    cold_ms: float
    warm_ms: list[float]
    cold_cpu_ms: float | None
    warm_cpu_ms: float | None
    rss_kb: int
    traced: bool


class S3Stub(http.server.BaseHTTPRequestHandler):
    """Answers ListBuckets, so the boto3 workload makes a real HTTP call that a tracer can record."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    BODY = b'<?xml version="1.0"?><ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>'

    #: OTLP/HTTP export requests received (the OpenTelemetry configuration's "collector").
    otlp_posts = 0

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(self.BODY)))
        self.end_headers()
        self.wfile.write(self.BODY)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/v1/traces":
            type(self).otlp_posts += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def start_stub() -> tuple[http.server.ThreadingHTTPServer, str]:
    """The S3 stub (and OTLP collector) on a thread: (server, its endpoint URL)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), S3Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _function_dir(config: Config, workload: str) -> Path:
    init, call = TIMED[workload]
    directory = BUILD / "functions" / f"{config.name}-{workload}"
    directory.mkdir(parents=True, exist_ok=True)
    # Written only when it changes: the .pyc the first sandbox caches stays valid, so every later cold start
    # (and every instruction count) finds the same state, whatever second the file was written in.
    app, source = directory / "app.py", config.source.format(init=init, call=call, package=config.package)
    if not app.is_file() or app.read_text() != source:
        app.write_text(source)
    return directory


def _function_env(endpoint: str) -> dict[str, str]:
    return {"POWERTOOLS_SERVICE_NAME": "bench", "AWS_ENDPOINT_URL": endpoint, "OTLP_ENDPOINT": f"{endpoint}/v1/traces"}


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_ms(pid: int) -> float | None:
    """User + system time the process has used so far, all its threads, in ms; None if it cannot be read.

    Its POSIX CPU clock (the clock id clock_getcpuclockid() returns: ~pid << 3 | CPUCLOCK_SCHED): the same
    total os.wait4 reports as ru_utime + ru_stime at exit, but readable while it runs, so cold and warm
    can be told apart. Exact (scheduler nanoseconds), where /proc's utime/stime count 10 ms ticks.
    """
    try:
        return time.clock_gettime((~pid << 3) | 2) * 1000
    except (OSError, OverflowError, AttributeError):
        return None


def _wait_for_next(fn: LocalLambda, count: int, timeout: float) -> None:
    """Until the runtime has asked for event number ``count``: it is then idle, blocked on the Runtime API."""
    deadline = time.monotonic() + timeout
    while sum(1 for r in fn.requests if r.method == "GET" and r.path.endswith("/invocation/next")) < count:
        if fn.exit_code is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the runtime never asked for event {count} (exit {fn.exit_code}):\n{fn.output}")
        time.sleep(0.0005)


def measure_once(config: Config, workload: str, python: Path, warm: int, endpoint: str) -> Sandbox:
    """One sandbox: cold invoke, then ``warm`` invokes."""
    exported_before = S3Stub.otlp_posts
    # A daemon with no thread: datagrams wait in the kernel until read after each invocation, so nothing
    # in this process competes with the timed invocation (Lambda's daemon is another process too).
    with (
        XRayDaemon(background=False) as daemon,
        LocalLambda(
            _function_dir(config, workload),
            opt_dirs=[config.layer] if config.layer else [],
            wrapper=config.wrapper,
            python=python,
            env=_function_env(endpoint),
            daemon=daemon,
        ) as fn,
    ):
        first = fn.invoke({"n": 0})
        if first.status != "response":
            raise RuntimeError(f"{config.name}/{workload}: {first.status} {first.payload}\n{fn.output}")
        cold = fn.cold_start_ms
        assert cold is not None and fn.process is not None
        pid = fn.process.pid
        _wait_for_next(fn, 2, 30)
        cold_cpu = _cpu_ms(pid)
        rss = _rss_kb(pid)
        warm_ms = []
        traced = bool(first.documents) or S3Stub.otlp_posts > exported_before
        for n in range(warm):
            invocation = fn.invoke({"n": n + 1})
            if invocation.duration_ms is not None:
                warm_ms.append(invocation.duration_ms)
        _wait_for_next(fn, warm + 2, 30)
        total_cpu = _cpu_ms(pid)
        if workload in TIMED_AWS_CALLS and config.name not in ("bare", "otel"):
            traced = traced and any(doc.get("name") == "s3" for doc in first.documents)
        warm_cpu = None if cold_cpu is None or total_cpu is None or not warm else (total_cpu - cold_cpu) / warm
        return Sandbox(cold, warm_ms, cold_cpu, warm_cpu, rss, traced)


def measure(
    configs: list[Config],
    python: Path,
    endpoint: str,
    runs: int,
    warm: int,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> dict[tuple[str, str], Sample]:
    """``runs`` sandboxes of every (configuration, timed workload), interleaved in a shuffled order per run."""
    samples = {(c.name, w): Sample() for c in configs for w in TIMED}
    # Warm-up: one untimed sandbox each, so file-system caches are equally hot for everyone.
    for config in configs:
        for workload in TIMED:
            measure_once(config, workload, python, 1, endpoint)
    started = time.monotonic()
    for run in range(runs):
        order = [(c, w) for c in configs for w in TIMED]
        random.Random(run).shuffle(order)
        for config, workload in order:
            samples[(config.name, workload)].add(measure_once(config, workload, python, warm, endpoint))
        log(f"run {run + 1}/{runs} done ({time.monotonic() - started:.0f} s)")
    return samples


def micro_benchmark(python: str, layer_python: Path) -> dict[str, float]:
    """µs per decorated call, tracing enabled (SDK + UDP send) and disabled, against a plain call; and our
    handler path: what ``capture_lambda_handler`` adds to one invocation of the bench's empty handler, each
    with a new trace header in the environment as awslambdaric sets it (set for the plain baseline too)."""
    code = r"""
import json, os, socket, sys, timeit, types
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); sock.bind(("127.0.0.1", 0))
os.environ.update(LAMBDA_TASK_ROOT="/tmp", AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:%d" % sock.getsockname()[1],
                  _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
from lambda_tracer import Tracer
def plain(x): return x
on = Tracer(service="bench", auto_patch=False, disabled=False)  # explicit: the next line disables by default
traced = on.capture_method(plain)
off_tracer = Tracer(disabled=True)
untraced = off_tracer.capture_method(plain)
@on.capture_lambda_handler
def handler(event, context): return traced(event)
def best(fn, n):
    return min(timeit.repeat(fn, number=n, repeat=5)) / n * 1e6
def app(event, context): return {"ok": 1, "calls": None}
traced_app = on.capture_lambda_handler(app)
headers = ["Root=1-5759e988-%024x;Parent=53995c3f42cd8ad8;Sampled=1" % i for i in range(2000)]
context = types.SimpleNamespace(
    aws_request_id="c6af9ac6-7b61-11e6-9a41-93e812345678", function_name="bench", function_version="$LATEST",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:bench", memory_limit_in_mb="128")
def per_invocation(fn):
    environ, event = os.environ, {"n": 1}
    def invocations():
        for header in headers:
            environ["_X_AMZN_TRACE_ID"] = header
            fn(event, context)
    return min(timeit.repeat(invocations, number=1, repeat=7)) / len(headers) * 1e6
result = {"plain_us": best(lambda: plain(1), 50000), "disabled_us": best(lambda: untraced(1), 50000),
          "enabled_method_us": best(lambda: handler(1, None), 2000) / 2,
          "handler_path_us": per_invocation(traced_app) - per_invocation(app)}
print(json.dumps(result))
"""
    env = dict(os.environ, PYTHONPATH=str(layer_python))
    out = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])
