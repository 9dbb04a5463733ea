"""The arithmetic on one run's instruction counts (bench/instructions.py takes them): cold and warm figures,
overheads against the bare function, ratios to the reference and to ADOT, the cost shapes against json.loads,
the targets' verdicts, whether each configuration really traced, and the tables they print as.

    prefix                = the interpreter and the runtime's imports only (N = 0), bare environment
    init + 1st invocation = count(N = 1) - prefix  (+ the exec wrapper's shell, counted on its own)
    per warm invocation   = (count(N = 1 + K) - count(N = 1)) / K
    overhead              = the configuration's figure - the bare function's, same workload, same run
"""

from __future__ import annotations

import base64
import statistics
from typing import Any

from instructions import CountConfig, Counts, Job
from workloads import Workload

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

Done = dict[Job, tuple[int, list[bytes]]]


def report(counts: Counts) -> dict[str, Any]:
    """What results.json holds under "instructions" for a run that counted."""
    return {
        "status": "measured",
        "tool": counts.tool,
        "seconds": counts.seconds,
        **summarize(
            counts.pairs,
            counts.configs,
            counts.warm_of,
            counts.done,
            counts.shell,
            counts.extra,
            counts.loads,
            counts.repeats,
            counts.quick,
        ),
    }


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


def summarize(
    pairs: list[tuple[CountConfig, Workload]],
    configs: list[CountConfig],
    warm_of: dict[str, int],
    done: Done,
    shell: dict[str, list[int]],
    extra: dict[str, int],
    loads: dict[tuple[str, int], int],
    repeats: int,
    quick: bool,
) -> dict[str, Any]:
    """Rows, cost shapes and targets from the counts: see the module's docstring for the arithmetic."""
    prefix_runs = [done[Job("bare", "empty", 0, r)][0] for r in range(repeats)]
    prefix = statistics.mean(prefix_runs)
    rows = {f"{c.name}/{w.name}": _row(c, w, warm_of[w.name], done, prefix, shell, extra) for c, w in pairs}
    _add_overheads(rows)
    shapes = sorted({w.name for _, w in pairs if w.body is not None})
    shape_rows = _shape_rows(shapes, configs, rows, loads)
    repeat_pairs = [prefix_runs] + [v for row in rows.values() for v in row["counts"].values() if len(v) > 1]
    if not quick:
        repeat_pairs.append(_runs(done, "bare", "empty", 1))
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


def _runs(done: Done, c: str, w: str, n: int, no_freeze: bool = False) -> list[int]:
    key = (c, w, n, no_freeze)
    return [count for job, (count, _) in done.items() if job.key == key]


def _row(
    c: CountConfig,
    w: Workload,
    k: int,
    done: Done,
    prefix: float,
    shell: dict[str, list[int]],
    extra: dict[str, int],
) -> dict[str, Any]:
    """One configuration on one workload: its cold and warm figures (overheads come once every row is known)."""
    first_runs, last_runs = _runs(done, c.name, w.name, 1), _runs(done, c.name, w.name, 1 + k)
    before = (statistics.mean(shell[c.name]) if c.name in shell else 0) + extra.get(c.name, 0)
    first = statistics.mean(first_runs) - prefix + before
    per_warm = (statistics.mean(last_runs) - statistics.mean(first_runs)) / k
    no_freeze_runs = _runs(done, c.name, w.name, 1, True)
    ok = all(
        traced(c, w, datagrams, job.invocations)
        for job, (_, datagrams) in done.items()
        if (job.config, job.workload) == (c.name, w.name)
    )
    return {
        "config": c.name,
        "workload": w.name,
        "group": w.group,
        "init_first": round(first),
        "init_first_no_freeze": (round(statistics.mean(no_freeze_runs) - prefix + before) if no_freeze_runs else None),
        "per_warm": round(per_warm),
        "warm_invocations": k,
        "counts": {"1": first_runs, str(1 + k): last_runs},
        "before_interpreter": round(before),
        "traced": ok if c.sends is not None else None,
    }


def _add_overheads(rows: dict[str, Any]) -> None:
    """Each row's overheads over the bare function, then their ratios to the reference's (once all are known)."""
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


def _shape_rows(
    shapes: list[str], configs: list[CountConfig], rows: dict[str, Any], loads: dict[tuple[str, int], int]
) -> dict[str, Any]:
    """Each traced configuration's added warm cost on a cost shape, against json.loads of its body."""
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
    return shape_rows


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
