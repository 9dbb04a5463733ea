"""The arithmetic on one run's instruction counts (bench/instructions.py takes them): cold and warm figures,
overheads against the bare function, ratios to the reference and to ADOT, the cost shapes against json.loads,
the targets' verdicts, whether each configuration really traced, and the tables they print as.

    prefix                = the interpreter and the runtime's imports only (N = 0), bare environment
    init + 1st invocation = count(N = 1) - prefix  (+ the exec wrapper's shell, counted on its own)
    per warm invocation   = (count(N = 1 + K) - count(N = 1)) / K              invocations 2 .. 1 + K
    steady warm           = (count(N = 1 + S + Ks) - count(N = 1 + S)) / Ks    invocations S + 2 .. S + Ks + 1
    overhead              = the configuration's figure - the bare function's, same workload, same run

The first warm window is the issues' headline measure: a sandbox's first warm invocations, which on CPython 3.11
run every per-invocation function unspecialised. The steady one (S = instructions.STEADY_SKIP) is what a
long-lived sandbox pays (Ks = instructions.STEADY_K); each warm target is reported in both.
"""

from __future__ import annotations

import base64
import statistics
from typing import Any

from instructions import CountConfig, Counts, Job
from workloads import WORKLOADS, Workload

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
            counts.steady_skip,
            counts.steady_k,
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
    steady_skip: int = 0,
    steady_k: int = 0,
) -> dict[str, Any]:
    """Rows, cost shapes and targets from the counts: see the module's docstring for the arithmetic."""
    prefix_runs = [done[Job("bare", "empty", 0, r)][0] for r in range(repeats)]
    prefix = statistics.mean(prefix_runs)
    rows = {
        f"{c.name}/{w.name}": _row(c, w, warm_of[w.name], done, prefix, shell, extra, (steady_skip, steady_k))
        for c, w in pairs
    }
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
        "steady_skip": steady_skip,
        "steady_invocations": steady_k,
        "wrapper_shells": shell,
        "before_interpreter": extra,
        "max_spread_pct": None if spread is None else round(spread, 5),
        "rows": rows,
        "shapes": shape_rows,
        "targets": targets(rows, shape_rows, steady_skip, steady_k),
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
    steady_window: tuple[int, int] = (0, 0),
) -> dict[str, Any]:
    """One configuration on one workload: its cold and warm figures (overheads come once every row is known)."""
    first_runs, last_runs = _runs(done, c.name, w.name, 1), _runs(done, c.name, w.name, 1 + k)
    counts = {"1": first_runs, str(1 + k): last_runs}
    steady = None
    skip, ks = steady_window
    if skip > 0 and ks > 0:  # the steady window, where it was counted
        settled, steady_runs = _runs(done, c.name, w.name, 1 + skip), _runs(done, c.name, w.name, 1 + skip + ks)
        if settled and steady_runs:
            steady = (statistics.mean(steady_runs) - statistics.mean(settled)) / ks
            counts.update({str(1 + skip): settled, str(1 + skip + ks): steady_runs})
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
        "per_warm_steady": None if steady is None else round(steady),
        "steady_skip": skip if steady is not None else None,
        "steady_invocations": ks if steady is not None else None,
        "counts": counts,
        "before_interpreter": round(before),
        "traced": ok if c.sends is not None else None,
    }


def _add_overheads(rows: dict[str, Any]) -> None:
    """Each row's overheads over the bare function, then their ratios to the reference's (once all are known)."""
    for row in rows.values():
        bare = rows[f"bare/{row['workload']}"]
        row["init_first_overhead"] = row["init_first"] - bare["init_first"]
        row["per_warm_overhead"] = row["per_warm"] - bare["per_warm"]
        steady, bare_steady = row["per_warm_steady"], bare["per_warm_steady"]
        row["per_warm_steady_overhead"] = None if steady is None or bare_steady is None else steady - bare_steady
        row["init_first_no_freeze_overhead"] = (
            None if row["init_first_no_freeze"] is None else row["init_first_no_freeze"] - bare["init_first"]
        )
    for row in rows.values():  # once every overhead is known
        ref = rows.get(f"reference/{row['workload']}")
        keys = ("init_first_overhead", "per_warm_overhead", "init_first_no_freeze_overhead", "per_warm_steady_overhead")
        for key in keys:
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


def targets(rows: dict[str, Any], shapes: dict[str, Any], skip: int = 0, ks: int = 0) -> list[dict[str, Any]]:
    """Issue 18's (vs the reference), issue 17's (vs json.loads) and issue 19's (vs ADOT, otlp vs xray) targets.

    Each warm target of issues 18 and 19 is reported twice: in the first warm window (the issues' measure) and,
    as "steady warm, ...", in the steady one (None where that window was not counted)."""
    out: list[dict[str, Any]] = []

    def add(issue: str, what: str, config: str, value: float | None, goal: float, window: str, note: str = "") -> None:
        out.append(
            {
                "issue": issue,
                "target": what,
                "window": window,
                "config": config,
                "value": value,
                "goal": goal,
                "met": None if value is None else value <= goal,
                "note": note,
            }
        )

    def phases(workload: str) -> list[tuple[str, str, str]]:
        """(phase, the row's overhead key, window) of a workload: cold, warm, steady warm."""
        k = next((r["warm_invocations"] for r in rows.values() if r["workload"] == workload), WORKLOADS[workload].warm)
        steady = any(r["per_warm_steady"] is not None for r in rows.values() if r["workload"] == workload)
        return [
            ("cold", "init_first_overhead", "init + 1st invocation"),
            ("warm", "per_warm_overhead", f"invocations 2-{1 + k}"),
            (
                "steady warm",
                "per_warm_steady_overhead",
                f"invocations {skip + 2}-{skip + ks + 1}" if steady else "not counted",
            ),
        ]

    ours = [c for c in ("ours-zero-code", "ours-in-code", "ours-otlp") if any(r["config"] == c for r in rows.values())]
    for what, workload, phase, goal in ISSUE18:
        for name, key, window in phases(workload):
            if (name == "cold") != (phase == "cold"):
                continue
            for config in ours:
                row = rows.get(f"{config}/{workload}")
                if row is None and config != "ours-zero-code":
                    continue  # a configuration not counted on this workload (ours in-code: main only)
                label = what if name != "steady warm" else what.replace("warm,", "steady warm,", 1)
                add("18", label, config, None if row is None else row[f"{key}_vs_reference"], goal, window)
    for row in shapes.values():
        k = rows[f"{row['config']}/{row['workload']}"]["warm_invocations"]
        window = f"invocations 2-{1 + k}"
        what = f"warm, {row['workload']} (1 MB JSON body) / json.loads"
        add("17", what, row["config"], row["ratio"], SHAPE_GOAL, window)
    for workload in ("empty", "boto3"):
        otlp, xray, adot = (rows.get(f"{c}/{workload}") for c in ("ours-otlp", "ours-zero-code", "adot-fast"))
        for phase, key, window in phases(workload):
            goal = ADOT_COLD_GOAL if phase == "cold" else ADOT_WARM_GOAL
            for name, row in (("ours-otlp", otlp), ("ours-zero-code", xray)):
                value = None if row is None or adot is None else _ratio(row[key], adot[key], "")
                note = "" if name == "ours-otlp" else "xray mode, for comparison"
                add("19", f"{phase}, {workload}: overhead / ADOT fast start's", name, value, goal, window, note)
            value = None if otlp is None or xray is None else _ratio(otlp[key], xray[key], "")
            what = f"{phase}, {workload}: otlp overhead / xray overhead"
            add("19", what, "ours-otlp", value, OTLP_VS_XRAY_GOAL, window)
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
        _windows(counted),
        "",
        "| config | function | init + 1st invocation M | overhead M | vs reference | overhead without gc.freeze M "
        "| vs reference | per warm invocation k | overhead k | vs reference "
        "| steady warm k | overhead k | vs reference | traced |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in counted["rows"].values():
        nf = row["init_first_no_freeze_overhead"]
        lines.append(
            f"| {row['config']} | {row['workload']} | {row['init_first'] / 1e6:.1f} | "
            f"{row['init_first_overhead'] / 1e6:+.1f} | {_fmt(row['init_first_overhead_vs_reference'])} | "
            f"{'-' if nf is None else f'{nf / 1e6:+.1f}'} | "
            f"{_fmt(row['init_first_no_freeze_overhead_vs_reference'])} | "
            f"{row['per_warm'] / 1e3:,.0f} | {row['per_warm_overhead'] / 1e3:+,.0f} | "
            f"{_fmt(row['per_warm_overhead_vs_reference'])} | {_steady(row)} | {_fmt(row['traced'])} |"
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
        "| issue | target | window | config | measured | goal | status |",
        "|---|---|---|---|---:|---:|---|",
    ]
    for t in counted["targets"]:
        value = "-" if t["value"] is None else f"{t['value']:.3f}x"
        status = {True: "met", False: "not met", None: "not measured"}[t["met"]]
        note = f" ({t['note']})" if t["note"] else ""
        lines.append(
            f"| {t['issue']} | {t['target']} | {t['window']} | {t['config']}{note} | {value} | <= {t['goal']}x "
            f"| {status} |"
        )
    return lines


def _windows(counted: dict[str, Any]) -> str:
    """The two warm windows, in words (the first is the issues' measure)."""
    ks = sorted({row["warm_invocations"] for row in counted["rows"].values()})
    k = " or ".join(str(n) for n in ks)
    text = (
        f"per warm invocation: invocations 2 to 1 + K (K = {k}), a sandbox's first warm invocations, which "
        "CPython 3.11 runs unspecialised (it quickens a function at its 8th call)"
    )
    skip, ks = counted.get("steady_skip"), counted.get("steady_invocations")
    if not skip or not ks:
        return text + "; steady warm: not counted in this run."
    rows = counted["rows"].values()
    counted_in = [row for row in rows if row["per_warm_steady"] is not None]
    workloads = sorted({row["workload"] for row in rows} - {row["workload"] for row in counted_in})
    configs = sorted({row["config"] for row in rows} - {row["config"] for row in counted_in})
    left_out = [*workloads, *configs]
    return (
        text + f"; steady warm: invocations {skip + 2} to {skip + ks + 1}, once every per-invocation function "
        "is specialised, what a long-lived sandbox pays"
        + (f" (not counted, to keep the bench's time: {', '.join(left_out)})." if left_out else ".")
    )


def _steady(row: dict[str, Any]) -> str:
    """The steady window's three cells of a row ("-" where it was not counted)."""
    if row["per_warm_steady"] is None:
        return "- | - | -"
    overhead = row["per_warm_steady_overhead"]
    return (
        f"{row['per_warm_steady'] / 1e3:,.0f} | {'-' if overhead is None else f'{overhead / 1e3:+,.0f}'} | "
        f"{_fmt(row['per_warm_steady_overhead_vs_reference'])}"
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return f"{value:.3f}x" if isinstance(value, float) else str(value)
