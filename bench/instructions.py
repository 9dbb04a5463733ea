"""In-process instruction counts: what each tracer adds to a cold start and to a warm invocation.

Each count runs bench/harness.py on the runtime's interpreter under valgrind (cachegrind,
``--cache-sim=no``, ``PYTHONHASHSEED=0``): the runtime's own modules are imported first, as in Lambda,
then the function is initialised and invoked N times through awslambdaric's own loop, and the process
ends with ``os._exit`` (no teardown, which Lambda never runs). For each configuration and workload:

    prefix                = the interpreter and the runtime's imports only (N = 0), bare environment
    init + 1st invocation = count(N = 1) - prefix  (+ the exec wrapper's shell, counted on its own)
    per warm invocation   = (count(N = 1 + K) - count(N = 1)) / K
    overhead              = the configuration's figure - the bare function's, same workload, same run

Cold is also counted with ``gc.freeze()`` made a no-op (``--no-freeze`` in the harness), so the tracer's own
cost shows apart from the collector's saving the freeze brings.

The X-Ray daemon stand-in is a UDP socket in this process (never counted), read after each count to prove the
configuration really traced (and recorded the AWS call where there is one). Counts repeat to the instruction
(bar a few hundred from timestamps and ids): the quick CI check takes each twice and compares them.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import statistics
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
#: A valgrind run's time limit (the reference's boto3 cold start takes ~30 s on a quiet machine).
TIMEOUT_S = 1200.0
OTLP_HEADER = b'{"format":"json","version":1}\n'

# Targets (ratios of overheads in the same run; reported, never failing the bench).
ISSUE18 = [
    # (what, workload, cold or warm, goal): ours / the reference's overhead
    ("cold, empty function", "empty", "cold", 0.03),
    ("cold, boto3 function", "boto3", "cold", 0.03),
    ("warm, small response (empty function)", "empty", "warm", 0.2),
    ("warm, small response (boto3 function)", "boto3", "warm", 0.2),
    ("warm, 2 KB API Gateway proxy response", "apigw-2k", "warm", 1.0),
    ("warm, 10 KB API Gateway proxy response", "apigw-10k", "warm", 1.0),
    ("warm, 1 MB body", "body-1m", "warm", 0.05),
]
SHAPE_GOAL = 3.0  # issue 17: added warm cost <= 3x json.loads of the body
ADOT_COLD_GOAL, ADOT_WARM_GOAL, OTLP_VS_XRAY_GOAL = 0.05, 0.25, 1.2  # issue 19


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


def traced(config: CountConfig, workload: Workload, datagrams: list[bytes], invocations: int) -> bool:
    """Did the daemon receive what this configuration must send: something per invocation, of its format, and
    the AWS call where the workload makes one?"""
    if config.sends is None:
        return not datagrams
    texts = []
    for datagram in datagrams:
        if config.sends == "otlp":
            if not datagram.startswith(OTLP_HEADER + b"T1"):
                return False
            texts.append(base64.b64decode(datagram[len(OTLP_HEADER) + 3 :]))
        else:
            if not datagram.startswith(b'{"format": "json", "version": 1}\n') and not datagram.startswith(
                b'{"format":"json","version":1}\n{'
            ):
                return False
            texts.append(datagram)
    if len(texts) < invocations:
        return False
    return not workload.aws_call or sum(b"ListBuckets" in text for text in texts) >= invocations


def measure(
    counter: Counter,
    groups: Iterable[str],
    quick: bool,
    repeats: int,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> dict[str, Any]:
    """Count every (configuration, workload) of ``groups``; the rows, ratios and targets of one run."""
    groups = list(groups)
    configs = list(counter.configs.values())
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
        for n in (1, 1 + warm_of[w.name]):
            jobs += [Job(c.name, w.name, n, r) for r in range(repeats if quick else 1)]
        if c.no_freeze and w.group == "main" and not quick:
            jobs.append(Job(c.name, w.name, 1, 0, no_freeze=True))
    if not quick:
        jobs.append(Job("bare", "empty", 1, 1))  # one repeat, to show the counts repeat
    shells = {c.name: c for c, _ in pairs if c.wrapper is not None}
    shapes = sorted({w.name for _, w in pairs if w.body is not None})

    log(f"instruction counts: {len(jobs)} runs under valgrind (each ~50x slower than natively)...")
    started = time.monotonic()
    done: dict[Job, tuple[int, list[bytes]]] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        # The slowest first, so the two workers finish together.
        slow = ("reference", "adot-standard")
        order = sorted(jobs, key=lambda j: (j.config in slow, j.workload == "boto3"), reverse=True)
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

    save_raw(counter.build / "counts-last.json", done, shell, extra, loads)
    summary_ = summarize(pairs, configs, warm_of, done, shell, extra, loads, repeats, quick)
    return {
        "status": "measured",
        "tool": f"{_version(counter.valgrind)} {' '.join(VALGRIND)}, PYTHONHASHSEED=0, in process (bench/harness.py)",
        "seconds": round(time.monotonic() - started),
        **summary_,
    }


def save_raw(
    path: Path,
    done: dict[Job, tuple[int, list[bytes]]],
    shell: dict[str, list[int]],
    extra: dict[str, int],
    loads: dict[tuple[str, int], int],
) -> None:
    """The raw counts, before any arithmetic (kept in build/ for a look after a run)."""
    raw = {
        "jobs": [[*_key(job), job.repeat, count, len(datagrams)] for job, (count, datagrams) in done.items()],
        "shells": shell,
        "extra": extra,
        "loads": [[name, n, count] for (name, n), count in loads.items()],
    }
    path.write_text(json.dumps(raw, indent=1))


def summarize(
    pairs: list[tuple[CountConfig, Workload]],
    configs: list[CountConfig],
    warm_of: dict[str, int],
    done: dict[Job, tuple[int, list[bytes]]],
    shell: dict[str, list[int]],
    extra: dict[str, int],
    loads: dict[tuple[str, int], int],
    repeats: int,
    quick: bool,
) -> dict[str, Any]:
    """Rows, cost shapes and targets from the counts: see the module's docstring for the arithmetic."""
    shapes = sorted({w.name for _, w in pairs if w.body is not None})

    prefix_runs = [done[Job("bare", "empty", 0, r)][0] for r in range(repeats)]
    prefix = statistics.mean(prefix_runs)

    def runs(c: str, w: str, n: int, no_freeze: bool = False) -> list[int]:
        key = (c, w, n, no_freeze)
        return [count for job, (count, _) in done.items() if _key(job) == key]

    rows: dict[str, Any] = {}
    for c, w in pairs:
        k = warm_of[w.name]
        first_runs, last_runs = runs(c.name, w.name, 1), runs(c.name, w.name, 1 + k)
        before = (statistics.mean(shell[c.name]) if c.name in shell else 0) + extra.get(c.name, 0)
        first = statistics.mean(first_runs) - prefix + before
        per_warm = (statistics.mean(last_runs) - statistics.mean(first_runs)) / k
        no_freeze_runs = runs(c.name, w.name, 1, True)
        ok = all(
            traced(c, w, datagrams, job.invocations)
            for job, (_, datagrams) in done.items()
            if (job.config, job.workload) == (c.name, w.name)
        )
        rows[f"{c.name}/{w.name}"] = {
            "config": c.name,
            "workload": w.name,
            "group": w.group,
            "init_first": round(first),
            "init_first_no_freeze": (
                round(statistics.mean(no_freeze_runs) - prefix + before) if no_freeze_runs else None
            ),
            "per_warm": round(per_warm),
            "warm_invocations": k,
            "counts": {"1": first_runs, str(1 + k): last_runs},
            "before_interpreter": round(before),
            "traced": ok if c.sends is not None else None,
        }
    for row in rows.values():
        bare = rows[f"bare/{row['workload']}"]
        row["init_first_overhead"] = row["init_first"] - bare["init_first"]
        row["per_warm_overhead"] = row["per_warm"] - bare["per_warm"]
        row["init_first_no_freeze_overhead"] = (
            None if row["init_first_no_freeze"] is None else row["init_first_no_freeze"] - bare["init_first"]
        )
    for row in rows.values():  # once every overhead is known
        ref = rows.get(f"reference/{row['workload']}")
        for key in ("init_first_overhead", "per_warm_overhead", "init_first_no_freeze_overhead"):
            base = None if ref is None else ref[key.replace("_no_freeze", "")]
            row[f"{key}_vs_reference"] = _ratio(row[key], base, row["config"])
    shape_rows = {}
    for name in shapes:
        unit = (loads[(name, 3)] - loads[(name, 1)]) / 2
        for c in configs:
            row = rows.get(f"{c.name}/{name}")
            if row is None or c.name == "bare":
                continue
            ratio = row["per_warm_overhead"] / unit
            shape_rows[f"{c.name}/{name}"] = {
                "config": c.name,
                "workload": name,
                "json_loads": round(unit),
                "added_warm": row["per_warm_overhead"],
                "ratio": round(ratio, 2),
                "goal": SHAPE_GOAL,
                "met": ratio <= SHAPE_GOAL,
            }
    repeat_pairs = [prefix_runs] + [v for row in rows.values() for v in row["counts"].values() if len(v) > 1]
    if not quick:
        repeat_pairs.append(runs("bare", "empty", 1))
    spreads = [(max(v) - min(v)) / min(v) * 100 for v in repeat_pairs if len(v) > 1]
    spread = max(spreads) if spreads else None
    return {
        "prefix": round(prefix),
        "prefix_runs": prefix_runs,
        "wrapper_shells": shell,
        "before_interpreter": extra,
        "max_spread_pct": None if spread is None else round(spread, 5),
        "rows": rows,
        "shapes": shape_rows,
        "targets": targets(rows, shape_rows),
    }


def _key(job: Job) -> tuple[str, str, int, bool]:
    return job.config, job.workload, job.invocations, job.no_freeze


def _version(valgrind: str) -> str:
    return subprocess.run([valgrind, "--version"], capture_output=True, text=True).stdout.strip()


def _ratio(value: float | None, base: float | None, name: str) -> float | None:
    if value is None or base is None or name in ("bare", "reference") or base <= 0:
        return None
    return round(max(value, 0.0) / base, 3)


def targets(rows: dict[str, Any], shapes: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 18's (vs the reference), issue 17's (vs json.loads) and issue 19's (vs ADOT, otlp vs xray) targets."""
    out: list[dict[str, Any]] = []

    def add(issue: str, what: str, config: str, value: float | None, goal: float, note: str = "") -> None:
        out.append(
            {
                "issue": issue,
                "target": what,
                "config": config,
                "value": value,
                "goal": goal,
                "met": None if value is None else value <= goal,
                "note": note,
            }
        )

    ours = [c for c in ("ours-zero-code", "ours-in-code", "ours-otlp") if any(r["config"] == c for r in rows.values())]
    for what, workload, phase, goal in ISSUE18:
        for config in ours:
            row = rows.get(f"{config}/{workload}")
            if row is None and config != "ours-zero-code":
                continue  # a configuration not counted on this workload (ours in-code: main only)
            key = "init_first_overhead_vs_reference" if phase == "cold" else "per_warm_overhead_vs_reference"
            add("18", what, config, None if row is None else row[key], goal)
    for row in shapes.values():
        add("17", f"warm, {row['workload']} (1 MB JSON body) / json.loads", row["config"], row["ratio"], SHAPE_GOAL)
    for workload in ("empty", "boto3"):
        otlp, xray, adot = (rows.get(f"{c}/{workload}") for c in ("ours-otlp", "ours-zero-code", "adot-fast"))
        phases = (("cold", "init_first_overhead", ADOT_COLD_GOAL), ("warm", "per_warm_overhead", ADOT_WARM_GOAL))
        for phase, key, goal in phases:
            for name, row in (("ours-otlp", otlp), ("ours-zero-code", xray)):
                value = None if row is None or adot is None else _ratio(row[key], adot[key], "")
                add(
                    "19",
                    f"{phase}, {workload}: overhead / ADOT fast start's",
                    name,
                    value,
                    goal,
                    "" if name == "ours-otlp" else "xray mode, for comparison",
                )
            value = None if otlp is None or xray is None else _ratio(otlp[key], xray[key], "")
            add("19", f"{phase}, {workload}: otlp overhead / xray overhead", "ours-otlp", value, OTLP_VS_XRAY_GOAL)
    return out


# -- rendering ----------------------------------------------------------------------------------------------


def render(counted: dict[str, Any]) -> list[str]:
    if counted.get("status") != "measured":
        return [f"instructions: {counted.get('status')}"]
    spread = counted["max_spread_pct"]
    lines = [
        f"instructions ({counted['tool']}): prefix (interpreter + awslambdaric) {counted['prefix'] / 1e6:.1f} M "
        f"subtracted; exec wrapper shells counted on their own and added to cold"
        + (f"; repeated counts within {spread:.4f} %" if spread is not None else "")
        + f"; {counted['seconds']} s",
        "",
        "| config | function | init + 1st invocation M | overhead M | vs reference | overhead without gc.freeze M "
        "| vs reference | per warm invocation k | overhead k | vs reference | traced |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in counted["rows"].values():
        nf = row["init_first_no_freeze_overhead"]
        lines.append(
            f"| {row['config']} | {row['workload']} | {row['init_first'] / 1e6:.1f} | "
            f"{row['init_first_overhead'] / 1e6:+.1f} | {_fmt(row['init_first_overhead_vs_reference'])} | "
            f"{'-' if nf is None else f'{nf / 1e6:+.1f}'} | "
            f"{_fmt(row['init_first_no_freeze_overhead_vs_reference'])} | "
            f"{row['per_warm'] / 1e3:,.0f} | {row['per_warm_overhead'] / 1e3:+,.0f} | "
            f"{_fmt(row['per_warm_overhead_vs_reference'])} | {_fmt(row['traced'])} |"
        )
    lines += [
        "",
        "traced: the daemon stand-in received a document (xray) or spans (otlp) for every invocation, and the AWS "
        "call where there is one; NO: it did not (the reference never sends a document over 64 KB).",
    ]
    if counted["shapes"]:
        lines += [
            "",
            "Cost shapes (issue 17): the tracer's added warm cost against json.loads of the same body:",
            "",
            "| config | body | json.loads k | added per warm invocation k | ratio | goal | status |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        for row in counted["shapes"].values():
            lines.append(
                f"| {row['config']} | {row['workload']} | {row['json_loads'] / 1e3:,.0f} | "
                f"{row['added_warm'] / 1e3:,.0f} | "
                f"{row['ratio']:.2f}x | <= {row['goal']}x | {'met' if row['met'] else 'not met'} |"
            )
    lines += [
        "",
        "Targets (ratios of overheads, this run; reported, never failing the bench):",
        "",
        "| issue | target | config | measured | goal | status |",
        "|---|---|---|---:|---:|---|",
    ]
    for t in counted["targets"]:
        value = "-" if t["value"] is None else f"{t['value']:.3f}x"
        status = {True: "met", False: "not met", None: "not measured"}[t["met"]]
        note = f" ({t['note']})" if t["note"] else ""
        lines.append(f"| {t['issue']} | {t['target']} | {t['config']}{note} | {value} | <= {t['goal']}x | {status} |")
    return lines


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return f"{value:.3f}x" if isinstance(value, float) else str(value)
