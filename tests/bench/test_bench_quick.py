"""`make bench` must never rot: run it in quick mode and check the table it produces (no timing asserts).

Quick mode also takes the smallest in-process instruction counts (valgrind; the bench installs it when missing):
the runtime's prefix, and the empty function, bare and ours zero-code, 1 and 2 invocations, each twice, so the
counting never rots either, and each count must repeat; and once each 1 + S and 2 + S invocations, the steady
warm window (S = instructions.STEADY_SKIP; one invocation in it in quick mode), so that it never rots.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STEADY_SKIP = 16  # bench/instructions.py's


def test_bench_quick_mode_produces_every_row(layer_zip: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--layer", str(layer_zip), "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    configs = {"bare", "ours-zero-code", "ours-in-code", "reference", "otel"}
    assert {(row["config"], row["workload"]) for row in results["rows"].values()} == {
        (config, workload) for config in configs for workload in ("empty", "boto3", "boto3-idle")
    }
    for row in results["rows"].values():
        assert row["runs"] == 3 and row["cold_ms"] > 0 and row["rss_mb"] > 0
        if row["config"] != "bare":
            assert row["traced"] is True, row  # every traced configuration really sent its documents (and s3 calls)
        if row["config"].startswith("ours"):  # a ratio, or None when wall-time noise leaves no overhead to divide by
            assert "cold_overhead_vs_reference" in row
        assert row["cold_cpu_ms"] > 0 and row["warm_cpu_ms"] > 0, row  # the runtime process's CPU clock was read
    assert results["layer"]["ours_zip_bytes"] == layer_zip.stat().st_size
    assert results["micro"]["disabled_us"] > 0 and "handler_path_us" in results["micro"]
    assert "| ours-zero-code | empty |" in done.stdout
    _check_instruction_counts(results["instructions"])
    names = {target["target"] for target in results["targets"]}
    assert {"our handler path, in process", "cold, empty function", "warm, small response (empty function)"} <= names
    cold = next(t for t in results["targets"] if t["target"] == "cold, empty function")
    assert cold["value"] is None and cold["met"] is None  # quick mode counts no reference: nothing to divide by
    assert "our handler path, in process" in done.stdout
    assert "| ours-zero-code | empty |" in done.stdout


def _check_instruction_counts(counted: dict[str, Any]) -> None:
    """Counts were produced, are positive, traced, and a repeat gives the same count (determinism)."""
    assert counted["status"] == "measured", counted["status"]
    assert {(row["config"], row["workload"]) for row in counted["rows"].values()} == {
        ("bare", "empty"),
        ("ours-zero-code", "empty"),
    }
    assert len(counted["prefix_runs"]) == 2 and _repeats(counted["prefix_runs"])
    steady = {str(1 + STEADY_SKIP), str(2 + STEADY_SKIP)}
    for row in counted["rows"].values():
        assert row["init_first"] > 0 and row["per_warm"] > 0, row
        assert set(row["counts"]) == {"1", "2"} | steady
        for n in ("1", "2"):
            assert len(row["counts"][n]) == 2 and min(row["counts"][n]) > 0, row["counts"]
            assert _repeats(row["counts"][n]), row["counts"]
        assert row["per_warm_steady"] > 0 and row["steady_skip"] == STEADY_SKIP, row  # the steady window counted
        assert row["steady_invocations"] == 1, row
    assert counted["steady_skip"] == STEADY_SKIP
    assert counted["rows"]["ours-zero-code/empty"]["per_warm_steady_overhead"] is not None
    assert counted["rows"]["ours-zero-code/empty"]["traced"] is True  # it counted traced invocations
    assert counted["rows"]["ours-zero-code/empty"]["init_first_overhead"] > 0
    shell = counted["wrapper_shells"]["ours-zero-code"]
    assert len(shell) == 2 and min(shell) > 0 and _repeats(shell, 0.01), shell
    assert counted["max_spread_pct"] < 0.1


def _repeats(counts: list[int], tolerance: float = 0.001) -> bool:
    """Repeated counts agree to ``tolerance`` (0.1 %: only timestamps and ids differ between runs)."""
    return max(counts) <= min(counts) * (1 + tolerance)
