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

The parts: workloads.py (the functions), layers.py (what is compared), timing.py (wall and CPU time, memory),
instructions.py (the counts), instructions_report.py and report.py (the arithmetic, results.json and tables).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import instructions
import instructions_report
import layers
import report
import timing
from layers import BUILD, LAYER_ZIP, ROOT
from workloads import IN_CODE, TIMED_BARE, TIMED_IN_CODE, TIMED_OTEL

#: Instruction-count groups (bench/workloads.py), and ADOT's layer as a peer on the main workloads.
GROUPS = ("main", "responses", "shapes", "adot")


def parse_args() -> argparse.Namespace:
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
    return args


def main() -> int:
    args = parse_args()
    if not args.layer.exists():
        print(f"{args.layer} is missing: run `make layer` first", file=sys.stderr)
        return 2
    python = layers.runtime_python()
    ours = layers.ours(args.layer)
    reference = layers.reference_layer()
    configs = timed_configs(ours, reference)
    server, endpoint = timing.start_stub()
    samples = timing.measure(configs, python, endpoint, args.runs, args.warm) if args.timing else {}
    micro = timing.micro_benchmark(str(python), ours / "python")
    # After the timed runs, so that valgrind never competes with them.
    failed = None
    counted: dict[str, Any] = {"status": "skipped: --no-instructions"}
    if args.instructions:
        try:
            counted = count_instructions(args, python, endpoint, ours, reference)
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:
            failed = f"instruction counts failed: {error}"
            print(failed, file=sys.stderr)
            counted = {"status": failed}
    server.shutdown()

    results = report.summarize(configs, samples, micro, ours, reference, args)
    results["instructions"] = counted
    results["targets"] = report.targets(results)
    write(results, args, docs=not failed)
    return 1 if failed else 0


def timed_configs(ours: Path, reference: Path) -> list[timing.Config]:
    """The configurations timed in sandboxes: bare, ours both ways, the reference and OpenTelemetry."""
    return [
        timing.Config("bare", TIMED_BARE),
        timing.Config("ours-zero-code", TIMED_BARE, layer=ours, wrapper=True),
        timing.Config("ours-in-code", TIMED_IN_CODE, package="lambda_tracer", layer=ours),
        timing.Config("reference", TIMED_IN_CODE, package="aws_lambda_powertools", layer=reference),
        timing.Config("otel", TIMED_OTEL, layer=layers.otel_layer()),
    ]


def write(results: dict[str, Any], args: argparse.Namespace, docs: bool) -> None:
    """results.json, the tables on stdout, and (--docs, when nothing failed) the tables in the docs page."""
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    text = report.render(results)
    print(text)
    print(f"\nJSON: {args.json}")
    if args.docs is not None and docs:
        import docs_tables

        command = "make bench" + (f' BENCH_ARGS="{" ".join(sys.argv[1:])}"' if sys.argv[1:] else "")
        docs_tables.update(args.docs, results, text, command)
        print(f"tables written to {args.docs}")


def supports_otlp(ours: Path) -> bool:
    """Whether the layer has the OTLP exporter (LAMBDA_TRACER_EXPORTER=otlp): its row appears once it does."""
    package = ours / "python" / "lambda_tracer"
    return any(package.rglob("*otlp*"))


def count_configs(
    args: argparse.Namespace, python: Path, ours: Path, reference: Path
) -> list[instructions.CountConfig]:
    """The configurations counted in process: --quick counts bare and ours zero-code only."""

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
        CountConfig("ours-in-code", IN_CODE, "lambda_tracer", opt=ours, no_freeze=True),
        CountConfig("reference", IN_CODE, "aws_lambda_powertools", opt=reference, groups=("main", "responses")),
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
        counts = instructions.measure(counter, ["main"] if args.quick else groups, args.quick, 2 if args.quick else 1)
    finally:
        counter.close()
    return instructions_report.report(counts)


if __name__ == "__main__":
    sys.exit(main())
