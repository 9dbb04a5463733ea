"""`make bench` must never rot: run it in quick mode and check the table it produces (no timing asserts).

Quick mode also takes the smallest instruction count (valgrind; the bench installs it when missing): the
empty function, bare and ours zero-code, 1 and 2 invocations, each twice, so the counting never rots either.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


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
    assert {target["target"] for target in results["targets"]} == {
        "cold start (instructions)",
        "warm invocation (instructions)",
        "our handler path, in process",
    }
    assert "| our handler path, in process | ours | empty |" in done.stdout


def _check_instruction_counts(counted: dict[str, Any]) -> None:
    """Counts were produced, are positive, and a repeat gives the same count within 1 % (determinism)."""
    assert counted["status"] == "measured", counted["status"]
    assert {(row["config"], row["workload"]) for row in counted["rows"].values()} == {
        ("bare", "empty"),
        ("ours-zero-code", "empty"),
    }
    assert counted["invocations"] == [1, 2]
    for row in counted["rows"].values():
        assert row["init_first"] > 0 and row["per_warm"] > 0, row
        assert set(row["counts"]) == {"1", "2"}
        for runs in row["counts"].values():
            assert len(runs) == 2 and min(runs) > 0, runs
            assert max(runs) <= min(runs) * 1.01, runs
    assert counted["rows"]["ours-zero-code/empty"]["traced"] is True  # it counted a traced invocation
    wrapper = counted["wrapper_shell"]
    assert min(wrapper) > 0 and max(wrapper) <= min(wrapper) * 1.01, wrapper
