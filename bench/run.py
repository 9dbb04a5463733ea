"""`make bench`: cold start, warm cost, memory and size of lambda-tracer side by side with the reference.

Every configuration runs through the local Lambda runtime (real awslambdaric, the exec wrapper,
layers unpacked as /opt) on an interpreter that has only what the managed runtime has (awslambdaric,
boto3). Configurations are interleaved run by run, so machine noise hits them all alike; we report
medians and ratios measured in this one run, never absolute thresholds.

    cold start = process start -> first response received by the Runtime API
    warm       = /next reply sent -> response received, new trace id each time, response capture on
    CPU        = user + system time of the runtime process (its POSIX CPU clock, what os.wait4 reports at
                 exit): cold = init + first invocation, until the runtime asks for the next event (where
                 Lambda stops billing); warm = the rest of the sandbox's life divided by its invocations

Wall and CPU time move from run to run; instruction counts do not. The runtime's interpreter runs under
valgrind (cachegrind, instructions only, PYTHONHASHSEED=0), once with 1 invocation and once with 1+K, each
twice: init + first invocation = the 1-invocation count (plus the exec wrapper's shell for zero-code), per
warm invocation = the difference / K. The Runtime API server, the X-Ray daemon stand-in and the S3 stub run
in this process, so they are never counted. valgrind comes from Debian's package, installed when missing.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import platform
import random
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "local"), str(ROOT / "layer")]

from lambda_tracer_local.daemon import XRayDaemon  # noqa: E402
from lambda_tracer_local.runtime import LocalLambda  # noqa: E402

BUILD = ROOT / "build" / "bench"
LAYER_ZIP = ROOT / "dist" / "lambda-tracer-layer.zip"

# Instruction counts: who is counted, with how many invocations (1 and 1+K), and how often each count is taken.
COUNTED = ("bare", "ours-zero-code", "ours-in-code", "reference")
COUNT_WARM, COUNT_WARM_QUICK = 4, 1
COUNT_REPEATS = 2
#: A valgrind run's time limit per invocation (the slowest, the reference's boto3 cold start, takes ~15 s).
COUNT_TIMEOUT_S = 600.0
#: Where the launcher finds the output file (and unsets it, so the function never sees it).
COUNT_OUT_ENV = "LAMBDA_TRACER_BENCH_COUNT_OUT"
VALGRIND = ["--tool=cachegrind", "--cache-sim=no"]

# Targets, each against the reference's overhead in the same run (reported, never failing the bench).
TARGET_COLD_INSTRUCTIONS = 0.05  # init + first invocation, every function
TARGET_WARM_INSTRUCTIONS = 0.4  # per warm invocation, every function
TARGET_HANDLER_PATH_US = 10.0  # our handler path, in process

# Function code per (configuration kind, workload). {init} and {call} are filled per workload.
# boto3: a client made at init and one AWS call (S3 ListBuckets, against the local stub) per invocation;
# boto3-idle: the same client, no call (what tracing costs a boto3 function that calls nothing this time).
WORKLOADS = {
    "empty": ("", "None"),
    "boto3": ('import boto3\ns3 = boto3.client("s3")\n', 's3.list_buckets()["Buckets"]'),
    "boto3-idle": ('import boto3\ns3 = boto3.client("s3")\n', "None"),
}
#: Workloads whose every invocation makes an AWS call a tracer must record.
AWS_CALLS = ("boto3",)
BARE = '{init}\ndef handler(event, context):\n    return {{"ok": 1, "calls": {call}}}\n'
IN_CODE = (
    "from {package} import Tracer\n{init}\ntracer = Tracer()\n\n"
    "@tracer.capture_lambda_handler\n"
    'def handler(event, context):\n    return {{"ok": 1, "calls": {call}}}\n'
)


# OpenTelemetry: X-Ray ids and propagation, botocore spans, OTLP export; the Lambda instrumentation wraps the
# handler named by _HANDLER once it exists, so it is instrumented at the end of the module.
OTEL = (
    "import os\n"
    "from opentelemetry import trace\n"
    "from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter\n"
    "from opentelemetry.instrumentation.aws_lambda import AwsLambdaInstrumentor\n"
    "from opentelemetry.instrumentation.botocore import BotocoreInstrumentor\n"
    "from opentelemetry.propagate import set_global_textmap\n"
    "from opentelemetry.propagators.aws import AwsXRayPropagator\n"
    "from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator\n"
    "from opentelemetry.sdk.trace import TracerProvider\n"
    "from opentelemetry.sdk.trace.export import BatchSpanProcessor\n"
    "provider = TracerProvider(id_generator=AwsXRayIdGenerator())\n"
    'provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=os.environ["OTLP_ENDPOINT"])))\n'
    "trace.set_tracer_provider(provider)\n"
    "set_global_textmap(AwsXRayPropagator())\n"
    "BotocoreInstrumentor().instrument()\n"
    "{init}\n"
    'def handler(event, context):\n    return {{"ok": 1, "calls": {call}}}\n\n'
    "AwsLambdaInstrumentor().instrument()\n"
)


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


@dataclass
class Sandbox:
    """What one sandbox measured (CPU times are None where the process's CPU clock cannot be read)."""

    cold_ms: float
    warm_ms: list[float]
    cold_cpu_ms: float | None
    warm_cpu_ms: float | None
    rss_kb: int
    traced: bool


class _S3Stub(http.server.BaseHTTPRequestHandler):
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


def _venv(path: Path, requirements: Path) -> Path:
    """A cached venv with exactly ``requirements`` (rebuilt when the file changes)."""
    python = path / "bin" / "python"
    stamp = path / ".requirements"
    wanted = requirements.read_text()
    if not python.exists() or not stamp.exists() or stamp.read_text() != wanted:
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements)], check=True)
        stamp.write_text(wanted)
    return python


def reference_layer() -> Path:
    """aws-lambda-powertools[all] in python/, as its publishers build their layer (see requirements/bench.txt)."""
    return _published_layer("reference-layer", ROOT / "requirements" / "bench.txt")


def otel_layer() -> Path:
    """OpenTelemetry's Lambda instrumentation and an X-Ray-compatible SDK setup, laid out the same way."""
    return _published_layer("otel-layer", ROOT / "requirements" / "bench-otel.txt")


def _published_layer(name: str, requirements: Path) -> Path:
    """``requirements`` in python/, without what the runtime provides and without bytecode.

    That is how the reference's publishers build their layer (they delete boto*, urllib3, dateutil, six,
    jmespath, s3transfer, tests, __pycache__ and .pyc files), so a cold start compiles it, as in Lambda.
    """
    layer = BUILD / name
    stamp = layer / ".requirements"
    if stamp.exists() and stamp.read_text() == requirements.read_text():
        return layer
    shutil.rmtree(layer, ignore_errors=True)
    target = layer / "python"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--target", str(target), "--no-compile"]
    subprocess.run([*pip, "-r", str(requirements)], check=True)
    for pattern in ("boto3*", "botocore*", "s3transfer*", "urllib3*", "*dateutil*", "six*", "jmespath*", "bin"):
        for path in target.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for junk in [*target.rglob("__pycache__"), *target.rglob("tests")]:
        if junk.is_dir():
            shutil.rmtree(junk, ignore_errors=True)
    stamp.write_text(requirements.read_text())
    return layer


def _zip_size(directory: Path) -> tuple[int, int]:
    """(zipped, unzipped) bytes of ``directory`` as a deflated layer zip."""
    unzipped = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file() and p.name != ".requirements")
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "layer.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
            for path in sorted(directory.rglob("*")):
                if path.is_file() and path.name != ".requirements":
                    out.write(path, path.relative_to(directory))
        return archive.stat().st_size, unzipped


def _function_dir(config: Config, workload: str) -> Path:
    init, call = WORKLOADS[workload]
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
    exported_before = _S3Stub.otlp_posts
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
        traced = bool(first.documents) or _S3Stub.otlp_posts > exported_before
        for n in range(warm):
            invocation = fn.invoke({"n": n + 1})
            if invocation.duration_ms is not None:
                warm_ms.append(invocation.duration_ms)
        _wait_for_next(fn, warm + 2, 30)
        total_cpu = _cpu_ms(pid)
        if workload in AWS_CALLS and config.name not in ("bare", "otel"):
            traced = traced and any(doc.get("name") == "s3" for doc in first.documents)
        warm_cpu = None if cold_cpu is None or total_cpu is None or not warm else (total_cpu - cold_cpu) / warm
        return Sandbox(cold, warm_ms, cold_cpu, warm_cpu, rss, traced)


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


def ensure_valgrind() -> tuple[str | None, str]:
    """valgrind's path, installing Debian's package when it is missing; (None, why) when it cannot be had."""
    found = shutil.which("valgrind")
    if found:
        return found, ""
    if shutil.which("apt-get") is None:
        return (
            None,
            "valgrind is not installed, and there is no apt-get to install it with (Debian's package: valgrind)",
        )
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if sudo and shutil.which("sudo") is None:
        return None, "valgrind is not installed, and installing it needs root: apt-get install valgrind"
    print(
        "valgrind is missing: installing it for the instruction counts (apt-get install -y valgrind)", file=sys.stderr
    )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")

    def apt(*words: str) -> subprocess.CompletedProcess[str]:
        cmd = [*sudo, "apt-get", *words]
        return subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1800)

    try:
        done = apt("install", "-y", "valgrind")
        if done.returncode != 0:  # a machine that never ran apt-get update has no package lists yet
            apt("update")
            done = apt("install", "-y", "valgrind")
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"installing valgrind failed: {error}"
    found = shutil.which("valgrind")
    if done.returncode != 0 or found is None:
        output = (done.stdout + done.stderr).strip()[-600:]
        return None, f"`apt-get install -y valgrind` failed (exit {done.returncode}):\n{output}"
    return found, ""


def _count_launcher(valgrind: str, python: Path, directory: Path) -> Path:
    """What the bootstrap execs instead of the interpreter: the interpreter under cachegrind.

    Only the interpreter is counted: the bootstrap's and the wrapper's shells exec it, and valgrind drops
    what an image counted when it execs (the wrapper's shell is counted on its own, see count_wrapper).
    """
    launcher = directory / "count-python"
    launcher.write_text(
        "#!/bin/sh\n"
        "# Written by bench/run.py: the runtime's interpreter under cachegrind (instructions only).\n"
        f"out=${COUNT_OUT_ENV}\n"
        f"unset {COUNT_OUT_ENV}\n"
        f'exec {shlex.quote(valgrind)} {" ".join(VALGRIND)} --cachegrind-out-file="$out" --log-file="$out.log" '
        f'{shlex.quote(str(python))} "$@"\n'
    )
    launcher.chmod(0o755)
    return launcher


def _summary(out: Path) -> int:
    """The instruction count (I refs) of one cachegrind output file."""
    try:
        text = out.read_text()
    except OSError:
        log = Path(f"{out}.log")
        detail = log.read_text()[-2000:] if log.is_file() else "(no valgrind log either)"
        raise RuntimeError(f"valgrind wrote no counts to {out}:\n{detail}") from None
    for line in text.splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no summary line in {out}")


def count_instructions(
    config: Config, workload: str, invocations: int, python: Path, endpoint: str, launcher: Path, out: Path
) -> tuple[int, bool]:
    """Instructions the runtime's interpreter executes from its start through ``invocations`` invocations,
    up to where it asks for the next event. Returns (count, X-Ray documents received)."""
    env = {
        **_function_env(endpoint),
        "PYTHONHASHSEED": "0",  # str hashes decide dict and set layouts, so how much work lookups do
        "PYTHONDONTWRITEBYTECODE": "1",  # a count never changes what the next one reads (see instruction_counts)
        "LAMBDA_TRACER_LOCAL_PYTHON": str(launcher),
        COUNT_OUT_ENV: str(out),
    }
    traced = False
    with (
        XRayDaemon(background=False) as daemon,
        LocalLambda(
            _function_dir(config, workload),
            opt_dirs=[config.layer] if config.layer else [],
            wrapper=config.wrapper,
            python=python,
            env=env,
            daemon=daemon,
            timeout=COUNT_TIMEOUT_S,
        ) as fn,
    ):
        for n in range(invocations):
            invocation = fn.invoke({"n": n})
            if invocation.status != "response":
                raise RuntimeError(f"{config.name}/{workload} under valgrind: {invocation.status}\n{fn.output}")
            traced = traced or bool(invocation.documents)
        _wait_for_next(fn, invocations + 1, COUNT_TIMEOUT_S)
        # Its request is sent: let it reach the wait for the reply, and stop it there (SIGTERM: valgrind writes the
        # counts on its way out). Waiting there costs ~1 k instructions a second (the HTTP client's poll loop).
        time.sleep(0.2)
        assert fn.process is not None
        fn.process.send_signal(signal.SIGTERM)
        fn.process.wait(timeout=120)
    return _summary(out), traced


def count_wrapper(valgrind: str, wrapper: Path, out: Path) -> int:
    """The exec wrapper's shell (zero-code only), on its own: with no arguments its final ``exec "$@"`` has
    nothing to exec and the script ends, so it runs everything it runs before the interpreter in Lambda."""
    env = {"PATH": os.environ.get("PATH") or "/usr/bin:/bin", "LANG": "C.UTF-8", "_HANDLER": "app.handler"}
    cmd = [valgrind, *VALGRIND, f"--cachegrind-out-file={out}", f"--log-file={out}.log", str(wrapper)]
    subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=120)
    return _summary(out)


def instruction_counts(configs: list[Config], python: Path, endpoint: str, ours: Path, quick: bool) -> dict[str, Any]:
    """Each counted configuration with 1 and 1+K invocations, each count taken COUNT_REPEATS times."""
    valgrind, why = ensure_valgrind()
    if valgrind is None:
        print(f"instruction counts skipped: {why}", file=sys.stderr)
        return {"status": f"skipped: {why}"}
    version = subprocess.run([valgrind, "--version"], capture_output=True, text=True).stdout.strip()
    counted = [c for c in configs if c.name in (COUNTED[:2] if quick else COUNTED)]
    workloads = ["empty"] if quick else list(WORKLOADS)
    warm = COUNT_WARM_QUICK if quick else COUNT_WARM
    invocations = (1, 1 + warm)
    # Settle what the counted runs read: a sandbox each (as many invocations) caches the bytecode of app.py and
    # of the reference's layer (shipped without, like the published one) as the timed runs had it; the counted
    # runs write none, so they all read the same files.
    for config in counted:
        for workload in workloads:
            measure_once(config, workload, python, warm, endpoint)
    scratch = Path(tempfile.mkdtemp(prefix="counts-", dir=BUILD))
    launcher = _count_launcher(valgrind, python, scratch)
    jobs = [(c, w, n, r) for r in range(COUNT_REPEATS) for c in counted for w in workloads for n in invocations]
    print(f"instruction counts: {len(jobs)} runs under {version} (each ~50x slower)...", file=sys.stderr)
    started = time.monotonic()
    try:
        # valgrind runs one thread at a time: two runs side by side use the machine; counts do not care.
        with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
            futures = {
                (c.name, w, n, r): pool.submit(
                    count_instructions, c, w, n, python, endpoint, launcher, scratch / f"{c.name}-{w}-{n}-{r}.out"
                )
                for c, w, n, r in jobs
            }
            wrapper_futures = [
                pool.submit(count_wrapper, valgrind, ours / "lambda-tracer", scratch / f"wrapper-{r}.out")
                for r in range(COUNT_REPEATS)
            ]
            done = {key: future.result() for key, future in futures.items()}
            wrapper = [future.result() for future in wrapper_futures]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"instruction counts done ({time.monotonic() - started:.0f} s)", file=sys.stderr)

    counts = {
        (c.name, w): {n: [done[(c.name, w, n, r)][0] for r in range(COUNT_REPEATS)] for n in invocations}
        for c in counted
        for w in workloads
    }
    traced = {
        (c.name, w): all(done[(c.name, w, n, r)][1] for n in invocations for r in range(COUNT_REPEATS))
        for c in counted
        for w in workloads
    }
    wrapper_count = round(statistics.mean(wrapper))
    spreads = [_spread(runs) for per_n in counts.values() for runs in per_n.values()] + [_spread(wrapper)]

    def first_and_warm(name: str, workload: str) -> tuple[float, float]:
        runs = counts[(name, workload)]
        first, last = statistics.mean(runs[invocations[0]]), statistics.mean(runs[invocations[1]])
        shell = wrapper_count if name == "ours-zero-code" else 0
        return first + shell, (last - first) / warm

    rows: dict[str, Any] = {}
    for workload in workloads:
        bare_first, bare_warm = first_and_warm("bare", workload)
        has_reference = ("reference", workload) in counts
        ref_first, ref_warm = first_and_warm("reference", workload) if has_reference else (0.0, 0.0)
        for config in counted:
            first, per_warm = first_and_warm(config.name, workload)
            rows[f"{config.name}/{workload}"] = {
                "config": config.name,
                "workload": workload,
                "init_first": round(first),
                "init_first_overhead": round(first - bare_first),
                "init_first_overhead_vs_reference": (
                    _ratio(first - bare_first, ref_first - bare_first, config.name) if has_reference else None
                ),
                "per_warm": round(per_warm),
                "per_warm_overhead": round(per_warm - bare_warm),
                "per_warm_overhead_vs_reference": (
                    _ratio(per_warm - bare_warm, ref_warm - bare_warm, config.name) if has_reference else None
                ),
                "counts": {str(n): runs for n, runs in counts[(config.name, workload)].items()},
                "wrapper_shell": wrapper_count if config.name == "ours-zero-code" else 0,
                "spread_pct": round(max(_spread(runs) for runs in counts[(config.name, workload)].values()), 5),
                "traced": traced[(config.name, workload)] if config.name != "bare" else None,
            }
    return {
        "status": "measured",
        "tool": f"{version} {' '.join(VALGRIND)}, PYTHONHASHSEED=0",
        "invocations": list(invocations),
        "repeats": COUNT_REPEATS,
        "wrapper_shell": wrapper,
        "max_spread_pct": round(max(spreads), 5),
        "seconds": round(time.monotonic() - started),
        "rows": rows,
    }


def _spread(counts: list[int]) -> float:
    """How far apart repeated counts are, in % of the smallest."""
    return (max(counts) - min(counts)) / min(counts) * 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="sandboxes per configuration and workload (default 15)")
    parser.add_argument("--warm", type=int, default=20, help="warm invocations per sandbox (default 20)")
    parser.add_argument(
        "--quick", action="store_true", help="3 runs of 3 warm invocations: proves it works, numbers are rough"
    )
    parser.add_argument(
        "--layer", type=Path, default=LAYER_ZIP, help="our layer zip (default: dist/, built by make layer)"
    )
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results.json", help="where to write the results")
    parser.add_argument(
        "--no-instructions",
        dest="instructions",
        action="store_false",
        help="skip the instruction counts (valgrind; --quick counts only bare and ours zero-code, empty function)",
    )
    args = parser.parse_args()
    if args.quick:
        args.runs, args.warm = 3, 3
    if not args.layer.exists():
        print(f"{args.layer} is missing: run `make layer` first", file=sys.stderr)
        return 2

    BUILD.mkdir(parents=True, exist_ok=True)
    python = _venv(BUILD / "runtime-venv", ROOT / "requirements" / "runtime.txt")
    ours = BUILD / "ours-layer"
    shutil.rmtree(ours, ignore_errors=True)
    from lambda_tracer_local.layers import unpack_layer

    unpack_layer(args.layer, ours)
    reference = reference_layer()

    configs = [
        Config("bare", BARE),
        Config("ours zero-code", BARE, layer=ours, wrapper=True),
        Config("ours in-code", IN_CODE, package="lambda_tracer", layer=ours),
        Config("reference", IN_CODE, package="aws_lambda_powertools", layer=reference),
        Config("otel", OTEL, layer=otel_layer()),
    ]
    for config in configs:
        config.name = config.name.replace(" ", "-")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _S3Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"

    samples = {(c.name, w): Sample() for c in configs for w in WORKLOADS}
    # Warm-up: one untimed sandbox each, so file-system caches are equally hot for everyone.
    for config in configs:
        for workload in WORKLOADS:
            measure_once(config, workload, python, 1, endpoint)
    started = time.monotonic()
    for run in range(args.runs):
        order = [(c, w) for c in configs for w in WORKLOADS]
        random.Random(run).shuffle(order)
        for config, workload in order:
            sandbox = measure_once(config, workload, python, args.warm, endpoint)
            sample = samples[(config.name, workload)]
            sample.cold_ms.append(sandbox.cold_ms)
            sample.warm_ms.extend(sandbox.warm_ms)
            if sandbox.cold_cpu_ms is not None and sandbox.warm_cpu_ms is not None:
                sample.cold_cpu_ms.append(sandbox.cold_cpu_ms)
                sample.warm_cpu_ms.append(sandbox.warm_cpu_ms)
            sample.rss_kb.append(sandbox.rss_kb)
            sample.traced.append(sandbox.traced)
        print(f"run {run + 1}/{args.runs} done ({time.monotonic() - started:.0f} s)", file=sys.stderr)

    micro = micro_benchmark(str(python), ours / "python")
    # After the timed runs, so that valgrind never competes with them.
    failed = None
    instructions: dict[str, Any] = {"status": "skipped: --no-instructions"}
    if args.instructions:
        try:
            instructions = instruction_counts(configs, python, endpoint, ours, args.quick)
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:
            failed = f"instruction counts failed: {error}"
            print(failed, file=sys.stderr)
            instructions = {"status": failed}
    server.shutdown()

    results = summarize(configs, samples, micro, ours, reference, args)
    results["instructions"] = instructions
    results["targets"] = targets(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(render(results))
    print(f"\nJSON: {args.json}")
    return 1 if failed else 0


def summarize(
    configs: list[Config],
    samples: dict[tuple[str, str], Sample],
    micro: dict[str, float],
    ours: Path,
    reference: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for workload in WORKLOADS:
        bare = samples[("bare", workload)]
        bare_cold, bare_warm = statistics.median(bare.cold_ms), statistics.median(bare.warm_ms)
        ref = samples[("reference", workload)]
        ref_cold_overhead = statistics.median(ref.cold_ms) - bare_cold
        ref_warm_overhead = statistics.median(ref.warm_ms) - bare_warm
        bare_cold_cpu, bare_warm_cpu = _median(bare.cold_cpu_ms), _median(bare.warm_cpu_ms)
        ref_cold_cpu, ref_warm_cpu = _median(ref.cold_cpu_ms), _median(ref.warm_cpu_ms)
        for config in configs:
            sample = samples[(config.name, workload)]
            cold, warm = statistics.median(sample.cold_ms), statistics.median(sample.warm_ms)
            cold_overhead, warm_overhead = cold - bare_cold, warm - bare_warm
            cold_cpu, warm_cpu = _median(sample.cold_cpu_ms), _median(sample.warm_cpu_ms)
            cold_cpu_overhead, cold_cpu_ratio = _overhead(cold_cpu, bare_cold_cpu, ref_cold_cpu, config.name)
            warm_cpu_overhead, warm_cpu_ratio = _overhead(warm_cpu, bare_warm_cpu, ref_warm_cpu, config.name)
            rows[f"{config.name}/{workload}"] = {
                "config": config.name,
                "workload": workload,
                "cold_ms": round(cold, 1),
                "cold_overhead_ms": round(cold_overhead, 1),
                "cold_overhead_vs_reference": _ratio(cold_overhead, ref_cold_overhead, config.name),
                "cold_cpu_ms": _round(cold_cpu, 1),
                "cold_cpu_overhead_ms": _round(cold_cpu_overhead, 1),
                "cold_cpu_overhead_vs_reference": cold_cpu_ratio,
                "warm_ms": round(warm, 3),
                "warm_overhead_ms": round(warm_overhead, 3),
                "warm_overhead_vs_reference": _ratio(warm_overhead, ref_warm_overhead, config.name),
                "warm_cpu_ms": _round(warm_cpu, 3),
                "warm_cpu_overhead_ms": _round(warm_cpu_overhead, 3),
                "warm_cpu_overhead_vs_reference": warm_cpu_ratio,
                "rss_mb": round(statistics.median(sample.rss_kb) / 1024, 1),
                "traced": all(sample.traced) if config.name != "bare" else None,
                "runs": len(sample.cold_ms),
            }
    ours_zip = args.layer.stat().st_size
    ours_unzipped = sum(p.stat().st_size for p in ours.rglob("*") if p.is_file())
    ref_zip, ref_unzipped = _zip_size(reference)
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "python": subprocess.run(
            [str(BUILD / "runtime-venv" / "bin" / "python"), "-V"], capture_output=True, text=True
        ).stdout.strip(),
        "runs": args.runs,
        "warm_invocations_per_run": args.warm,
        "rows": rows,
        "layer": {
            "ours_zip_bytes": ours_zip,
            "ours_unzipped_bytes": ours_unzipped,
            "ours_scope": "python 3.10-3.14, x86_64 + arm64",
            "reference_zip_bytes": ref_zip,
            "reference_unzipped_bytes": ref_unzipped,
            "reference_scope": "aws-lambda-powertools[all] as published: one runtime (the bench's), one architecture",
            "zip_ratio": round(ours_zip / ref_zip, 3),
        },
        "micro": {key: round(value, 3) for key, value in micro.items()},
    }


def _ratio(ours: float, reference: float, name: str) -> float | None:
    if name in ("bare", "reference") or reference <= 0:
        return None
    return round(max(ours, 0.0) / reference, 3)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _overhead(
    value: float | None, bare: float | None, reference: float | None, name: str
) -> tuple[float | None, float | None]:
    """(value - bare, that / (reference - bare)), None where something was not measured."""
    if value is None or bare is None:
        return None, None
    ratio = None if reference is None else _ratio(value - bare, reference - bare, name)
    return value - bare, ratio


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each met or not in this run (None: not measured in it)."""
    counted = results["instructions"].get("rows", {})
    ours = ("ours-zero-code", "ours-in-code")
    measured: list[tuple[str, str, str, float | None, float, str]] = [
        (
            "cold start (instructions)",
            config,
            workload,
            counted.get(f"{config}/{workload}", {}).get("init_first_overhead_vs_reference"),
            TARGET_COLD_INSTRUCTIONS,
            "x",
        )
        for workload in WORKLOADS
        for config in ours
    ]
    measured += [
        (
            "warm invocation (instructions)",
            config,
            workload,
            counted.get(f"{config}/{workload}", {}).get("per_warm_overhead_vs_reference"),
            TARGET_WARM_INSTRUCTIONS,
            "x",
        )
        for workload in WORKLOADS
        for config in ours
    ]
    handler_path = results["micro"].get("handler_path_us")
    measured.append(("our handler path, in process", "ours", "empty", handler_path, TARGET_HANDLER_PATH_US, "us"))
    keys = ("target", "config", "workload", "value", "goal", "unit")
    return [
        {**dict(zip(keys, row, strict=True)), "met": None if row[3] is None else row[3] <= row[4]} for row in measured
    ]


def render(results: dict[str, Any]) -> str:
    lines = [
        f"machine: {results['machine']}; {results['python']}; {results['runs']} runs x "
        f"{results['warm_invocations_per_run']} warm invocations, medians; CPU = the runtime process's user + system",
        "",
        "| config | function | cold ms | cold overhead ms | vs reference | cold CPU ms | CPU vs reference "
        "| warm ms | warm overhead ms | vs reference | warm CPU ms | CPU vs reference | RSS MB | traced |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in results["rows"].values():
        lines.append(
            f"| {row['config']} | {row['workload']} | {row['cold_ms']} | {row['cold_overhead_ms']} | "
            f"{_fmt(row['cold_overhead_vs_reference'])} | {_fmt(row['cold_cpu_ms'], ratio=False)} | "
            f"{_fmt(row['cold_cpu_overhead_vs_reference'])} | {row['warm_ms']} | {row['warm_overhead_ms']} | "
            f"{_fmt(row['warm_overhead_vs_reference'])} | {_fmt(row['warm_cpu_ms'], ratio=False)} | "
            f"{_fmt(row['warm_cpu_overhead_vs_reference'])} | {row['rss_mb']} | {_fmt(row['traced'])} |"
        )
    lines += ["", *_render_instructions(results["instructions"])]
    layer, micro = results["layer"], results["micro"]
    lines += [
        "",
        f"layer zip: ours {layer['ours_zip_bytes'] / 1e6:.2f} MB "
        f"({layer['ours_unzipped_bytes'] / 1e6:.2f} MB unzipped; "
        f"{layer['ours_scope']}) vs reference {layer['reference_zip_bytes'] / 1e6:.2f} MB "
        f"({layer['reference_unzipped_bytes'] / 1e6:.2f} MB unzipped; {layer['reference_scope']}): "
        f"ratio {layer['zip_ratio']}",
        f"per call: plain {micro['plain_us']} us, decorated+disabled {micro['disabled_us']} us, "
        f"decorated+enabled (subsegment + UDP send) {micro['enabled_method_us']} us; our handler path, in process "
        f"(capture_lambda_handler around the empty handler, new trace header each time) {micro['handler_path_us']} us",
        "",
        "targets (ours - bare, divided by reference - bare, in this run; reported, never failing the bench):",
        "",
        "| target | config | function | measured | goal | status |",
        "|---|---|---|---:|---:|---|",
    ]
    for target in results["targets"]:
        unit = target["unit"]
        value = "-" if target["value"] is None else f"{target['value']:.2f}{'x' if unit == 'x' else ' us'}"
        goal = f"<= {target['goal']}{'x' if unit == 'x' else ' us'}"
        status = {True: "met", False: "not met", None: "not measured"}[target["met"]]
        lines.append(
            f"| {target['target']} | {target['config']} | {target['workload']} | {value} | {goal} | {status} |"
        )
    return "\n".join(lines)


def _render_instructions(counted: dict[str, Any]) -> list[str]:
    if counted["status"] != "measured":
        return [f"instructions: {counted['status']}"]
    first, last = counted["invocations"]
    lines = [
        f"instructions ({counted['tool']}): the runtime's interpreter from its start until it asks for the next event "
        f"(+ the exec wrapper's shell, {counted['wrapper_shell'][0] / 1e3:.0f} k, for zero-code); per warm invocation "
        f"= ({last} invocations - {first}) / {last - first}; each count taken {counted['repeats']} times, "
        f"largest spread {counted['max_spread_pct']:.4f} %, {counted['seconds']} s",
        "",
        "| config | function | init + 1st invocation M | overhead M | vs reference "
        "| per warm invocation k | overhead k | vs reference | traced |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in counted["rows"].values():
        lines.append(
            f"| {row['config']} | {row['workload']} | {row['init_first'] / 1e6:.1f} | "
            f"{row['init_first_overhead'] / 1e6:.1f} | {_fmt(row['init_first_overhead_vs_reference'])} | "
            f"{row['per_warm'] / 1e3:.0f} | {row['per_warm_overhead'] / 1e3:.0f} | "
            f"{_fmt(row['per_warm_overhead_vs_reference'])} | {_fmt(row['traced'])} |"
        )
    return lines


def _fmt(value: Any, ratio: bool = True) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return f"{value:.2f}x" if isinstance(value, float) and ratio else str(value)


if __name__ == "__main__":
    sys.exit(main())
