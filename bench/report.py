"""One `make bench` run as results.json holds it and as it prints: the timed rows (medians, overheads against
the bare function, ratios to the reference's), the layers' sizes, the per-call figures, the instruction counts
(bench/instructions_report.py) and every target's verdict."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
from pathlib import Path
from typing import Any

import instructions_report
from layers import BUILD, zip_size
from timing import Config, Sample
from workloads import TIMED

# Targets, each against the reference's overhead in the same run (reported, never failing the bench).
TARGET_HANDLER_PATH_US = 10.0  # our handler path, in process


def summarize(
    configs: list[Config],
    samples: dict[tuple[str, str], Sample],
    micro: dict[str, float],
    ours: Path,
    reference: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """results.json but for its instruction counts and targets (bench/run.py adds them)."""
    rows: dict[str, Any] = {}
    for workload in TIMED if samples else []:
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
    ref_zip, ref_unzipped = zip_size(reference)
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
            "window": "in process",
            "note": "",
            "unit": "us",
        }
    )
    return measured


def render(results: dict[str, Any]) -> str:
    """The tables `make bench` prints (and --docs writes into docs/performance.md)."""
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
    lines += ["", *instructions_report.render(results["instructions"])]
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
