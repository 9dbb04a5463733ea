"""How many warm invocations the interpreter needs before a sandbox's per-invocation cost stops moving.

Why: CPython 3.11 (the bench's runtime) quickens a function's bytecode at its eighth call (``co_warmup`` starts at
-8 and each RESUME or backward jump adds one), and its adaptive instructions specialise at their next
execution; 3.12 and later quicken at creation and specialise an instruction at its second execution. On 3.11 the
bench's headline warm window (invocations 2 to 1 + K) runs every function called once per invocation in the
generic interpreter; bench/instructions.py's steady window starts after ``STEADY_SKIP`` invocations. This script
shows where that number comes from: each sandbox runs under callgrind with ``--dump-before=getppid`` and the
harness's ``--mark`` (one ``getppid()`` as each event is asked for), so every invocation is counted on its own.

    python bench/warmup.py [--workloads empty,boto3] [--configs bare,ours-zero-code,...] [--invocations 40]

Prints, per workload, each invocation's instructions over the bare function's (k), and the mean of each window.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import instructions
import layers
import run
import timing
from layers import BUILD, LAYER_ZIP
from workloads import WORKLOADS

MAIN = ("bare", "ours-zero-code", "ours-in-code", "ours-otlp", "reference", "adot-fast", "adot-standard")


def per_invocation(counter: instructions.Counter, config: str, workload: str, n: int) -> list[int]:
    """Instructions of invocations 1..n of one sandbox (callgrind: one part per ``getppid()`` mark)."""
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        daemon.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        daemon.bind(("127.0.0.1", 0))
        env = counter.environment(counter.configs[config], WORKLOADS[workload], daemon.getsockname()[1])
        out = counter.scratch / f"warmup-{config}-{workload}"
        cmd = [counter.valgrind, "--tool=callgrind", "--dump-before=getppid", f"--callgrind-out-file={out}"]
        cmd += [f"--log-file={out}.log", str(counter.python), str(instructions.HARNESS), str(n)]
        cmd += [str(counter.event_file(WORKLOADS[workload])), "--mark"]
        subprocess.run(cmd, env=env, cwd=env["LAMBDA_TASK_ROOT"], check=True, capture_output=True, timeout=3600)
        # Part 1 is everything before the first event (prefix and init); part j + 1 is invocation j.
        return [instructions.summary(Path(f"{out}.{j + 1}")) for j in range(1, n + 1)]
    finally:
        daemon.close()


def windows(overheads: list[float], k: int, skip: int, ks: int) -> dict[str, float]:
    """Mean overhead of the headline window (invocations 2..1+K), of the steady one (skip+2..skip+ks+1) and of the
    last ks invocations."""
    return {
        "warm": statistics.mean(overheads[1 : 1 + k]),
        "steady": statistics.mean(overheads[1 + skip : 1 + skip + ks]),
        "last": statistics.mean(overheads[-ks:]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", default="empty,boto3")
    parser.add_argument("--configs", default=",".join(MAIN))
    parser.add_argument("--invocations", type=int, default=48)
    parser.add_argument("--layer", type=Path, default=LAYER_ZIP)
    parser.add_argument("--json", type=Path, default=BUILD / "warmup.json")
    args = parser.parse_args()
    names = ["bare", *(c for c in args.configs.split(",") if c and c != "bare")]
    valgrind, why = instructions.ensure_valgrind()
    if valgrind is None:
        print(why, file=sys.stderr)
        return 2
    python, ours = layers.runtime_python(), layers.ours(args.layer)
    options = argparse.Namespace(quick=False, groups="main,adot" if any("adot" in c for c in names) else "main")
    configs = [c for c in run.count_configs(options, python, ours, layers.reference_layer()) if c.name in names]
    server, endpoint = timing.start_stub()
    counter = instructions.Counter(valgrind, python, BUILD, endpoint, configs)
    jobs = [(c.name, w) for w in args.workloads.split(",") for c in configs]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {job: pool.submit(per_invocation, counter, *job, args.invocations) for job in jobs}
            counts = {job: future.result() for job, future in futures.items()}
    finally:
        counter.close()
        server.shutdown()
    result: dict[str, Any] = {}
    for workload in args.workloads.split(","):
        bare = counts[("bare", workload)]
        shown = [c.name for c in configs]
        print(f"\n{workload}: instructions per invocation, k (bare) and overhead over bare (k, the others)\n")
        print("| invocation | " + " | ".join(shown) + " |")
        print("|---:|" + "---:|" * len(shown))
        for i in range(args.invocations):
            cells = [f"{bare[i] / 1e3:,.1f}"]
            cells += [f"{(counts[(c, workload)][i] - bare[i]) / 1e3:+,.1f}" for c in shown[1:]]
            print(f"| {i + 1} | " + " | ".join(cells) + " |")
        k = WORKLOADS[workload].warm
        skip, ks = instructions.STEADY_SKIP, instructions.STEADY_K
        for c in shown:
            series = counts[(c, workload)]
            if c != "bare":
                series = [a - b for a, b in zip(series, bare, strict=True)]
            spans = windows(series, k, skip, ks)
            figures = {name: round(value) for name, value in spans.items()}
            result[f"{c}/{workload}"] = {"per_invocation": counts[(c, workload)], **figures}
            sign = "" if c == "bare" else "+"
            print(
                f"{c}{' (instructions)' if c == 'bare' else ' (overhead)'}: warm (2-{1 + k}) "
                f"{spans['warm'] / 1e3:{sign},.1f} k, steady ({skip + 2}-{skip + ks + 1}) "
                f"{spans['steady'] / 1e3:{sign},.1f} k, last {ks} {spans['last'] / 1e3:{sign},.1f} k"
            )
    args.json.write_text(json.dumps(result, indent=1))
    print(f"\nJSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
