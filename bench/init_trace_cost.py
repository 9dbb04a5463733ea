"""What the init trace costs, in instructions: `python bench/init_trace_cost.py` (after `make layer`).

The boto3 function of `make bench` (a client made at init, one S3 call per invocation against a local stub),
init and first invocation, counted in process exactly as `make bench` counts (bench/instructions.py: cachegrind,
PYTHONHASHSEED=0, awslambdaric loaded first, no teardown): bare, and zero-code with ``LAMBDA_TRACER_INIT_TRACE``
off and on. The init trace's cost is on - off; its default is on only while that is at most 2 % of the bare
function's init (docs/cold-start-anatomy.md).

Under valgrind every import is ~50 times slower than natively, so nearly every one of boto3's ~300 imports passes
the 1 ms minimum and the tree is always full (a hundred spans), which a real sandbox's seldom is. So the cost is also
counted with the minimum scaled by that slowdown (``--slowdown``, default 50: ``LAMBDA_TRACER_INIT_MIN_MS=50``),
what the default sends for this function natively (``scaled``, beside the default's ``init_trace_cost``). The
product's default is never changed to please this count.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

import instructions  # bench/ is on sys.path (this script's directory)
import layers
import timing  # puts local/ and layer/ on sys.path

LIMIT = 0.02


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2, help="counts per configuration (default 2)")
    parser.add_argument("--workload", default="boto3", choices=["boto3", "empty"])
    parser.add_argument("--on-env", action="append", default=[], metavar="KEY=VALUE", help="more env for init-trace-on")
    parser.add_argument(
        "--slowdown", type=float, default=50.0, help="valgrind's slowdown of an import, for the scaled count (50)"
    )
    args = parser.parse_args()
    valgrind, why = instructions.ensure_valgrind()
    if valgrind is None:
        print(f"no valgrind: {why}", file=sys.stderr)
        return 2
    python = layers.runtime_python()
    ours = layers.ours(layers.LAYER_ZIP, "init-trace-layer")
    on_env = dict(pair.split("=", 1) for pair in args.on_env)
    configs = [
        instructions.CountConfig("bare", sends=None),
        instructions.CountConfig(
            "init-trace-off", opt=ours, wrapper=ours / "lambda-tracer", env={"LAMBDA_TRACER_INIT_TRACE": "false"}
        ),
        instructions.CountConfig(
            "init-trace-on",
            opt=ours,
            wrapper=ours / "lambda-tracer",
            env={"LAMBDA_TRACER_INIT_TRACE": "true", **on_env},
        ),
        instructions.CountConfig(
            "init-trace-on-scaled",
            opt=ours,
            wrapper=ours / "lambda-tracer",
            env={"LAMBDA_TRACER_INIT_TRACE": "true", **on_env, "LAMBDA_TRACER_INIT_MIN_MS": f"{args.slowdown:g}"},
        ),
    ]
    server, endpoint = timing.start_stub()
    counter = instructions.Counter(valgrind, python, layers.BUILD, endpoint, configs)
    counts: dict[str, list[int]] = {"prefix": []} | {config.name: [] for config in configs}
    spans: dict[str, int] = {}  # import spans sent, in the last repeat
    try:
        for repeat in range(args.repeats):
            counts["prefix"].append(counter.run(instructions.Job("bare", "empty", 0, repeat))[0])
            for config in configs:
                count, datagrams = counter.run(instructions.Job(config.name, args.workload, 1, repeat))
                counts[config.name].append(count)
                spans[config.name] = sum(datagram.count(b'"name":"import ') for datagram in datagrams)
                print(f"{config.name}: {count:,} ({len(datagrams)} datagrams)", file=sys.stderr)
    finally:
        counter.close()
        server.shutdown()
    mean = {name: statistics.mean(values) for name, values in counts.items()}
    cost = mean["init-trace-on"] - mean["init-trace-off"]
    bare_init = mean["bare"] - mean["prefix"]  # the function's own init and first invocation
    result = {
        "workload": args.workload,
        "counts": counts,
        "init_trace_cost": round(cost),
        "bare_init_and_first_invocation": round(bare_init),
        "share_of_bare_init": round(cost / bare_init, 5),
        "share_of_bare_process": round(cost / mean["bare"], 5),
        "default_on": cost / bare_init <= LIMIT,
        "import_spans_sent": spans["init-trace-on"],
        "scaled": {
            "min_ms": args.slowdown,
            "init_trace_cost": round(mean["init-trace-on-scaled"] - mean["init-trace-off"]),
            "import_spans_sent": spans["init-trace-on-scaled"],
        },
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
