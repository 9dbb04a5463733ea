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

Wall and CPU time move from run to run; instruction counts do not. They are taken in process by
bench/instructions.py (valgrind cachegrind, PYTHONHASHSEED=0, the runtime's modules loaded first, no teardown),
for the empty and boto3 functions, the responses users return, the cost shapes of the secrets issue and ADOT's
layer as a peer; see that module. valgrind comes from Debian's package, installed when missing.

    make bench BENCH_ARGS="--no-timing --groups main"        # a subset: instruction counts of main only
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "local"), str(ROOT / "layer")]

import instructions  # noqa: E402  (bench/, next to this file)

from lambda_tracer_local.daemon import XRayDaemon  # noqa: E402
from lambda_tracer_local.runtime import LocalLambda  # noqa: E402

BUILD = ROOT / "build" / "bench"
LAYER_ZIP = ROOT / "dist" / "lambda-tracer-layer.zip"

# Targets, each against the reference's overhead in the same run (reported, never failing the bench).
TARGET_HANDLER_PATH_US = 10.0  # our handler path, in process
#: Instruction-count groups (bench/workloads.py), and ADOT's layer as a peer on the main workloads.
GROUPS = ("main", "responses", "shapes", "adot")

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
    """(zipped, unzipped) bytes of ``directory`` as a deflated layer zip, as published: without the bytecode the
    runs write there (the published layer has none)."""
    files = [
        p
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != ".requirements" and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]
    unzipped = sum(p.stat().st_size for p in files)
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "layer.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
            for path in files:
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


def supports_otlp(ours: Path) -> bool:
    """Whether the layer has the OTLP exporter (LAMBDA_TRACER_EXPORTER=otlp): its row appears once it does."""
    package = ours / "python" / "lambda_tracer"
    return any(package.rglob("*otlp*"))


def count_configs(
    args: argparse.Namespace, python: Path, ours: Path, reference: Path
) -> list[instructions.CountConfig]:
    """The configurations counted in process: --quick counts bare and ours zero-code only."""
    from workloads import IN_CODE as COUNT_IN_CODE

    CountConfig = instructions.CountConfig
    wrapper = ours / "lambda-tracer"
    configs = [
        CountConfig("bare", sends=None, groups=("main", "responses", "shapes")),
        CountConfig(
            "ours-zero-code", opt=ours, wrapper=wrapper, groups=("main", "responses", "shapes"), no_freeze=True
        ),
    ]
    if args.quick:
        return configs
    # Every layer counted with its bytecode, for the runtime's Python: ours ships it, ADOT's Dockerfile compiles
    # its layer, and the reference gets it here although its published layer has none (/opt is read-only in
    # Lambda, so it compiles at every cold start there): the conservative comparison.
    subprocess.run([str(python), "-m", "compileall", "-q", str(reference / "python")], check=True, capture_output=True)
    configs += [
        CountConfig("ours-in-code", COUNT_IN_CODE, "lambda_tracer", opt=ours, no_freeze=True),
        CountConfig("reference", COUNT_IN_CODE, "aws_lambda_powertools", opt=reference, groups=("main", "responses")),
    ]
    if supports_otlp(ours):
        configs.append(
            CountConfig(
                "ours-otlp",
                opt=ours,
                wrapper=wrapper,
                env={"LAMBDA_TRACER_EXPORTER": "otlp"},
                sends="otlp",
                groups=("main", "responses"),
                no_freeze=True,
            )
        )
    if "adot" in args.groups.split(","):
        import adot_layer

        configs += adot_layer.configs(adot_layer.build(BUILD, python), python)
    return configs


def count_instructions(
    args: argparse.Namespace, python: Path, endpoint: str, ours: Path, reference: Path
) -> dict[str, Any]:
    """The in-process instruction counts (bench/instructions.py) of the groups asked for."""
    valgrind, why = instructions.ensure_valgrind()
    if valgrind is None:
        print(f"instruction counts skipped: {why}", file=sys.stderr)
        return {"status": f"skipped: {why}"}
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise RuntimeError(f"unknown --groups {sorted(unknown)}: choose from {','.join(GROUPS)}")
    configs = count_configs(args, python, ours, reference)
    counter = instructions.Counter(valgrind, python, BUILD, endpoint, configs)
    try:
        return instructions.measure(counter, ["main"] if args.quick else groups, args.quick, 2 if args.quick else 1)
    finally:
        counter.close()


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
    parser.add_argument(
        "--docs",
        nargs="?",
        const=ROOT / "docs" / "performance.md",
        type=Path,
        help="rewrite the generated block of this page (default docs/performance.md) with this run's tables",
    )
    parser.add_argument(
        "--no-timing", dest="timing", action="store_false", help="skip the wall and CPU time runs (instructions only)"
    )
    parser.add_argument(
        "--groups",
        default=",".join(GROUPS),
        help=f"instruction-count groups, comma-separated (default: all of {','.join(GROUPS)})",
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
    for config in configs if args.timing else []:
        for workload in WORKLOADS:
            measure_once(config, workload, python, 1, endpoint)
    started = time.monotonic()
    for run in range(args.runs if args.timing else 0):
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
            instructions = count_instructions(args, python, endpoint, ours, reference)
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:
            failed = f"instruction counts failed: {error}"
            print(failed, file=sys.stderr)
            instructions = {"status": failed}
    server.shutdown()

    results = summarize(configs, samples if args.timing else {}, micro, ours, reference, args)
    results["instructions"] = instructions
    results["targets"] = targets(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    text = render(results)
    print(text)
    print(f"\nJSON: {args.json}")
    if args.docs is not None and not failed:
        import docs_tables

        command = "make bench" + (f' BENCH_ARGS="{" ".join(sys.argv[1:])}"' if sys.argv[1:] else "")
        docs_tables.update(args.docs, results, text, command)
        print(f"tables written to {args.docs}")
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
    for workload in WORKLOADS if samples else []:
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
    """The targets: the instruction counts' (issues 17, 18, 19) and our handler path in process (None: not measured)."""
    measured = [{**t, "unit": "x"} for t in results["instructions"].get("targets", [])]
    handler_path = results["micro"].get("handler_path_us")
    measured.append(
        {
            "issue": "18",
            "target": "our handler path, in process",
            "config": "ours",
            "value": handler_path,
            "goal": TARGET_HANDLER_PATH_US,
            "met": None if handler_path is None else handler_path <= TARGET_HANDLER_PATH_US,
            "note": "",
            "unit": "us",
        }
    )
    return measured


def render(results: dict[str, Any]) -> str:
    lines = []
    if results["rows"]:
        lines += [
            f"machine: {results['machine']}; {results['python']}; {results['runs']} runs x "
            f"{results['warm_invocations_per_run']} warm invocations, medians; "
            "CPU = the runtime process's user + system",
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
    lines += ["", *instructions.render(results["instructions"])]
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
        f"(capture_lambda_handler around the empty handler, new trace header each time) {micro['handler_path_us']} us "
        f"(target <= {TARGET_HANDLER_PATH_US} us: "
        f"{'met' if micro['handler_path_us'] <= TARGET_HANDLER_PATH_US else 'not met'})",
    ]
    return "\n".join(lines)


def _fmt(value: Any, ratio: bool = True) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return f"{value:.2f}x" if isinstance(value, float) and ratio else str(value)


if __name__ == "__main__":
    sys.exit(main())
