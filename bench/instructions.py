"""In-process instruction counts: what each tracer adds to a cold start and to a warm invocation.

Each count runs bench/harness.py on the runtime's interpreter under valgrind (cachegrind,
``--cache-sim=no``, ``PYTHONHASHSEED=0``): the runtime's own modules are imported first, as in Lambda,
then the function is initialised and invoked N times through awslambdaric's own loop, and the process
ends with ``os._exit`` (no teardown, which Lambda never runs). For each configuration and workload it counts
N = 1 and N = 1 + K invocations, and once per run the interpreter and the runtime's imports alone (N = 0, the
prefix); bench/instructions_report.py turns those counts into cold and warm figures, overheads and ratios.

The warm window 2..1 + K is a sandbox's first warm invocations: on CPython 3.11 they run every function called
once per invocation unspecialised (see ``STEADY_SKIP``). A second window, counted beside it on the workloads the
warm targets are stated on (``STEADY_WORKLOADS``), starts after S = ``STEADY_SKIP`` invocations: N = 1 + S and
N = 1 + S + ``STEADY_K``, what a long-lived sandbox pays per invocation.

Cold is also counted with ``gc.freeze()`` made a no-op (``--no-freeze`` in the harness), so the tracer's own
cost shows apart from the collector's saving the freeze brings.

The X-Ray daemon stand-in is a UDP socket in this process (never counted), read after each count to prove the
configuration really traced (and recorded the AWS call where there is one). Counts repeat to the instruction
(bar a few hundred from timestamps and ids): the quick CI check takes each twice and compares them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workloads import BARE, WORKLOADS, Workload, write_event, write_files

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "harness.py"
VALGRIND = ["--tool=cachegrind", "--cache-sim=no"]
#: Invocations left out before the steady warm window: CPython 3.11 quickens a function at its eighth call and
#: specialises at the next execution, so by invocation 9 every per-invocation function runs specialised; 16
#: leaves room for what re-specialises (bench/warmup.py shows each configuration's count flat from there).
STEADY_SKIP = 16
#: Invocations in the steady window: more than the first window's 4, so that a pass of the cyclic collector (a
#: few hundred k in one invocation, every so many) weighs what it weighs over a sandbox's life. Each costs only
#: its own instructions, where every count pays the cold start.
STEADY_K = 16
#: Workloads counted in the steady window too: those issue 18's and 19's warm targets are stated on, but the
#: 1 MB body. Each costs two more counts per configuration, each paying the cold start again (~+35 % of the
#: counting time with these four); the 1 MB body, the other responses and the cost shapes would add as much again.
STEADY_WORKLOADS = ("empty", "boto3", "apigw-2k", "apigw-10k")
#: Configurations left out of the steady window: ADOT's standard mode, the dearest count and no target's base.
NO_STEADY = ("adot-standard",)
#: A valgrind run's time limit (the reference's boto3 cold start takes ~30 s on a quiet machine).
TIMEOUT_S = 1200.0


@dataclass
class CountConfig:
    """One way of running the function: its code template, the layer it gets, the environment it runs with."""

    name: str
    template: str = BARE
    package: str = ""
    #: The unpacked layer (Lambda's /opt), or None.
    opt: Path | None = None
    #: The layer's exec wrapper (AWS_LAMBDA_EXEC_WRAPPER), run natively once to learn the environment it hands
    #: to the interpreter; its own shell is counted on its own and added to the cold figure.
    wrapper: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    #: What the daemon must receive: "xray" documents, "otlp" spans, or None (not traced).
    sends: str | None = "xray"
    #: Groups this configuration is counted in ("main", "responses", "shapes").
    groups: tuple[str, ...] = ("main",)
    #: Counted again with gc.freeze() a no-op (the tracer's own cost apart from the freeze).
    no_freeze: bool = False
    #: Environment added when the wrapper's shell is counted on its own (so that it ends instead of exec'ing).
    shell_env: dict[str, str] = field(default_factory=dict)
    #: Count of what the wrapper runs before the runtime's interpreter (ADOT's standard mode starts one more
    #: interpreter for its opentelemetry-instrument script): called with (valgrind, scratch dir, the Counter).
    extra: Callable[[str, Path, Any], int] | None = None


@dataclass(frozen=True)
class Job:
    config: str
    workload: str
    invocations: int
    repeat: int = 0
    no_freeze: bool = False

    @property
    def key(self) -> tuple[str, str, int, bool]:
        """The job but its repeat: repeats of one key are the same count taken again."""
        return self.config, self.workload, self.invocations, self.no_freeze


def ensure_valgrind() -> tuple[str | None, str]:
    """valgrind's path, installing Debian's package when it is missing; (None, why) when it cannot be had."""
    found = shutil.which("valgrind")
    if found:
        return found, ""
    if shutil.which("apt-get") is None:
        return None, "valgrind is not installed, and there is no apt-get to install it with (Debian's valgrind)"
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if sudo and shutil.which("sudo") is None:
        return None, "valgrind is not installed, and installing it needs root: apt-get install valgrind"
    print("valgrind is missing: installing it (apt-get install -y valgrind)", file=sys.stderr)
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


def summary(out: Path) -> int:
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


def count_shell(valgrind: str, wrapper: Path, env: dict[str, str], out: Path) -> int:
    """An exec wrapper's shell on its own: with no arguments its final ``exec "$@"`` has nothing to exec and the
    script ends, so it runs everything it runs before the interpreter in Lambda (valgrind counts only the last
    image of an exec chain, so the shell cannot be counted inside the real chain). Subshells it forks are
    counted too (one output file per process); programs it execs in them are not."""
    pattern = f"{out}.%p"
    cmd = [valgrind, *VALGRIND, f"--cachegrind-out-file={pattern}", f"--log-file={out}.log", str(wrapper)]
    cwd = env["LAMBDA_TASK_ROOT"]
    subprocess.run(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    files = sorted(out.parent.glob(f"{out.name}.*[0-9]"))
    if not files:
        return summary(out)  # raises, with valgrind's log
    return sum(summary(path) for path in files)


def lambda_env(function_dir: Path, runtime_dir: Path, daemon_port: int, endpoint: str) -> dict[str, str]:
    """The environment Lambda gives the runtime (as lambda_tracer_local.runtime sets it), for one count."""
    return {
        "PATH": os.environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "HOME": str(runtime_dir),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python{}.{}".format(*sys.version_info[:2]),
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
        "LAMBDA_TASK_ROOT": str(function_dir),
        "LAMBDA_RUNTIME_DIR": str(runtime_dir),
        "_HANDLER": "app.handler",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/06/[$LATEST]0123456789abcdef0123456789abcdef",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon_port}",
        "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
        "_AWS_XRAY_DAEMON_PORT": str(daemon_port),
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_ACCESS_KEY_ID": "AKIDLOCALLAMBDA00000",
        "AWS_SECRET_ACCESS_KEY": "local-lambda-secret-access-key-not-real",
        "AWS_SESSION_TOKEN": "local-lambda-session-token-not-real",
        "POWERTOOLS_SERVICE_NAME": "bench",
        "AWS_ENDPOINT_URL": endpoint,
        "PYTHONHASHSEED": "0",  # str hashes decide dict and set layouts, so how much work lookups do
        "PYTHONDONTWRITEBYTECODE": "1",  # a count never changes what the next one reads
    }


def wrapped_env(wrapper: Path, env: dict[str, str]) -> dict[str, str]:
    """The environment the exec wrapper hands to the interpreter: run it natively on ``env -0``."""
    done = subprocess.run(
        [str(wrapper), "/usr/bin/env", "-0"],
        env=env,
        cwd=env["LAMBDA_TASK_ROOT"],  # Lambda's working directory (a wrapper may put it on PYTHONPATH)
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{wrapper} failed (exit {done.returncode}): {done.stderr.decode()[-1500:]}")
    pairs = (item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)
    return dict(pairs)


class Counter:
    """Runs the jobs of one bench run: function directories, environments, valgrind, the daemon sockets."""

    def __init__(self, valgrind: str, python: Path, build: Path, endpoint: str, configs: list[CountConfig]) -> None:
        self.valgrind, self.python, self.build, self.endpoint = valgrind, python, build, endpoint
        self.configs = {c.name: c for c in configs}
        self.scratch = Path(tempfile.mkdtemp(prefix="counts-", dir=build))
        self.runtime_dir = build / "count-runtime"
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        #: Wall seconds of each harness run (where the bench's time goes: build/bench/counts-last.json).
        self.seconds: dict[Job, float] = {}

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    def function_dir(self, config: CountConfig, workload: Workload) -> Path:
        """The function's code for this configuration: bare code for bare and zero-code, in-code otherwise."""
        kind = "bare" if config.template == BARE else f"in-code-{config.package}"
        directory = self.build / "count-functions" / f"{kind}-{workload.name}"
        directory.mkdir(parents=True, exist_ok=True)
        source = workload.source(config.template, config.package)
        app = directory / "app.py"
        if not app.is_file() or app.read_text() != source:
            app.write_text(source)
        write_files(workload, directory)
        return directory

    def event_file(self, workload: Workload) -> Path:
        path = self.build / "count-events" / f"{workload.name}.json"
        write_event(workload, path)
        return path

    def environment(
        self, config: CountConfig, workload: Workload, port: int, wrapped: bool = True, **extra: str
    ) -> dict[str, str]:
        """The environment the runtime's interpreter gets (``wrapped=False``: the one the wrapper gets)."""
        env = lambda_env(self.function_dir(config, workload), self.runtime_dir, port, self.endpoint)
        env.update(config.env)
        env.update(extra)
        if config.wrapper is not None and wrapped:
            env = wrapped_env(config.wrapper, env)
        if config.opt is not None:
            env["LAMBDA_TRACER_BENCH_OPT"] = str(config.opt)
        else:
            env["LAMBDA_TRACER_BENCH_OPT"] = str(self.build / "no-layer")
        # The runtime's interpreter is the one Lambda runs: whatever a wrapper's PATH says, this venv's python.
        return env

    def run(self, job: Job) -> tuple[int, list[bytes]]:
        """(instructions, datagrams received) of one harness run under cachegrind."""
        config, workload = self.configs[job.config], WORKLOADS[job.workload]
        daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            daemon.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            daemon.bind(("127.0.0.1", 0))
            env = self.environment(config, workload, daemon.getsockname()[1])
            out = self.scratch / f"{job.config}-{job.workload}-{job.invocations}-{job.repeat}-{int(job.no_freeze)}.out"
            cmd = [
                self.valgrind,
                *VALGRIND,
                f"--cachegrind-out-file={out}",
                f"--log-file={out}.log",
                str(self.python),
                str(HARNESS),
                str(job.invocations),
                str(self.event_file(workload)),
                *(["--no-freeze"] if job.no_freeze else []),
            ]
            started = time.monotonic()
            done = subprocess.run(
                cmd,
                env=env,
                cwd=env["LAMBDA_TASK_ROOT"],
                capture_output=True,
                timeout=TIMEOUT_S,
                stdin=subprocess.DEVNULL,
            )
            if done.returncode != 0:
                raise RuntimeError(
                    f"{job}: exit {done.returncode}\n{done.stdout.decode()[-1500:]}\n{done.stderr.decode()[-3000:]}"
                )
            count = summary(out)
            self.seconds[job] = time.monotonic() - started
            datagrams = []
            daemon.setblocking(False)
            while True:
                try:
                    datagrams.append(daemon.recv(1 << 16))
                except BlockingIOError:
                    break
            return count, datagrams
        finally:
            daemon.close()

    def loads(self, workload: Workload, n: int) -> int:
        """Instructions of a process that json.loads the workload's body n times (the shape's unit)."""
        assert workload.body is not None
        path = self.build / "count-bodies" / f"{workload.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = workload.body()
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        out = self.scratch / f"loads-{workload.name}-{n}.out"
        cmd = [self.valgrind, *VALGRIND, f"--cachegrind-out-file={out}", f"--log-file={out}.log"]
        cmd += [str(self.python), str(HARNESS), "--loads", str(n), str(path)]
        subprocess.run(
            cmd,
            env={"PYTHONHASHSEED": "0", "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            check=True,
            capture_output=True,
            timeout=TIMEOUT_S,
        )
        return summary(out)


@dataclass
class Counts:
    """One run's raw counts, before any arithmetic (bench/instructions_report.py does that)."""

    pairs: list[tuple[CountConfig, Workload]]
    configs: list[CountConfig]
    #: Warm invocations counted per workload (K).
    warm_of: dict[str, int]
    #: (instructions, datagrams received) per harness run.
    done: dict[Job, tuple[int, list[bytes]]]
    #: The exec wrappers' shells counted on their own, per configuration.
    shell: dict[str, list[int]]
    #: What a configuration runs before the runtime's interpreter (CountConfig.extra).
    extra: dict[str, int]
    #: json.loads of a cost shape's body, (workload, n) -> instructions.
    loads: dict[tuple[str, int], int]
    repeats: int
    quick: bool
    tool: str
    seconds: int
    #: Invocations left out before the steady window (S), and counted in it: 0 when it was not counted.
    steady_skip: int = 0
    steady_k: int = 0


def plan(
    configs: list[CountConfig], groups: list[str], quick: bool, repeats: int
) -> tuple[list[tuple[CountConfig, Workload]], dict[str, int], list[Job]]:
    """(pairs, warm_of, jobs): every (configuration, workload) of ``groups``, and the harness runs they need."""
    pairs = [
        (c, w)
        for w in WORKLOADS.values()
        if w.group in groups and (not quick or w.name == "empty")
        for c in configs
        if w.group in c.groups or c.name == "bare"
    ]
    warm_of = {w.name: (1 if quick else w.warm) for _, w in pairs}
    jobs: list[Job] = [Job("bare", "empty", 0, r) for r in range(repeats)]
    for c, w in pairs:
        k = warm_of[w.name]
        for n in (1, 1 + k):
            jobs += [Job(c.name, w.name, n, r) for r in range(repeats if quick else 1)]
        if w.name in STEADY_WORKLOADS and c.name not in NO_STEADY:  # once (--quick: proves it runs)
            jobs += [Job(c.name, w.name, n) for n in (1 + STEADY_SKIP, 1 + STEADY_SKIP + (1 if quick else STEADY_K))]
        if c.no_freeze and w.group == "main" and not quick:
            jobs.append(Job(c.name, w.name, 1, 0, no_freeze=True))
    if not quick:
        jobs.append(Job("bare", "empty", 1, 1))  # one repeat, to show the counts repeat
    return pairs, warm_of, jobs


def measure(
    counter: Counter,
    groups: Iterable[str],
    quick: bool,
    repeats: int,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> Counts:
    """Count every (configuration, workload) of ``groups``, two valgrind runs at a time."""
    configs = list(counter.configs.values())
    pairs, warm_of, jobs = plan(configs, list(groups), quick, repeats)
    shells = {c.name: c for c, _ in pairs if c.wrapper is not None}
    shapes = sorted({w.name for _, w in pairs if w.body is not None})

    log(f"instruction counts: {len(jobs)} runs under valgrind (each ~50x slower than natively)...")
    started = time.monotonic()
    done: dict[Job, tuple[int, list[bytes]]] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        # The slowest first, so the two workers finish together.
        slow = ("reference", "adot-standard")
        order = sorted(jobs, key=lambda j: (j.config in slow, j.workload == "boto3", j.invocations), reverse=True)
        futures = {job: pool.submit(counter.run, job) for job in order}
        shell_futures = {
            name: [
                pool.submit(
                    count_shell,
                    counter.valgrind,
                    c.wrapper,
                    counter.environment(c, WORKLOADS["empty"], 9, wrapped=False, **c.shell_env),
                    counter.scratch / f"shell-{name}-{r}.out",
                )
                for r in range(repeats)
            ]
            for name, c in shells.items()
            if c.wrapper is not None
        }
        extra_futures = {
            name: pool.submit(c.extra, counter.valgrind, counter.scratch, counter)
            for name, c in counter.configs.items()
            if c.extra is not None and name in {c.name for c, _ in pairs}
        }
        loads_futures = {(name, n): pool.submit(counter.loads, WORKLOADS[name], n) for name in shapes for n in (1, 3)}
        for job, future in futures.items():
            done[job] = future.result()
            log(
                f"  {job.config} / {job.workload} x{job.invocations}{' no-freeze' if job.no_freeze else ''}: "
                f"{done[job][0] / 1e6:.1f} M ({time.monotonic() - started:.0f} s)"
            )
        shell = {name: [f.result() for f in fs] for name, fs in shell_futures.items()}
        extra = {name: f.result() for name, f in extra_futures.items()}
        loads = {key: f.result() for key, f in loads_futures.items()}
    log(f"instruction counts done ({time.monotonic() - started:.0f} s)")

    steady = [s for job, s in counter.seconds.items() if job.invocations >= 1 + STEADY_SKIP]
    log(
        f"  of which the steady window: {len(steady)} runs, {sum(steady):.0f} of "
        f"{sum(counter.seconds.values()):.0f} valgrind-seconds"
    )
    save_raw(counter.build / "counts-last.json", done, shell, extra, loads, counter.seconds)
    tool = f"{_version(counter.valgrind)} {' '.join(VALGRIND)}, PYTHONHASHSEED=0, in process (bench/harness.py)"
    seconds = round(time.monotonic() - started)
    window = (STEADY_SKIP, 1 if quick else STEADY_K)
    return Counts(pairs, configs, warm_of, done, shell, extra, loads, repeats, quick, tool, seconds, *window)


def save_raw(
    path: Path,
    done: dict[Job, tuple[int, list[bytes]]],
    shell: dict[str, list[int]],
    extra: dict[str, int],
    loads: dict[tuple[str, int], int],
    seconds: dict[Job, float],
) -> None:
    """The raw counts, before any arithmetic (kept in build/ for a look after a run), and each run's seconds."""
    raw = {
        "jobs": [
            [*job.key, job.repeat, count, len(datagrams), round(seconds.get(job, 0.0), 1)]
            for job, (count, datagrams) in done.items()
        ],
        "shells": shell,
        "extra": extra,
        "loads": [[name, n, count] for (name, n), count in loads.items()],
    }
    path.write_text(json.dumps(raw, indent=1))


def _version(valgrind: str) -> str:
    return subprocess.run([valgrind, "--version"], capture_output=True, text=True).stdout.strip()
