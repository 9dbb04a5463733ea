"""`make bench` must never rot: run it in quick mode and check the table it produces (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
        (config, workload) for config in configs for workload in ("empty", "boto3")
    }
    for row in results["rows"].values():
        assert row["runs"] == 3 and row["cold_ms"] > 0 and row["rss_mb"] > 0
        if row["config"] != "bare":
            assert row["traced"] is True, row  # every traced configuration really sent its documents (and s3 calls)
        if row["config"].startswith("ours"):
            assert row["cold_overhead_vs_reference"] is not None
    assert results["layer"]["ours_zip_bytes"] == layer_zip.stat().st_size
    assert results["micro"]["disabled_us"] > 0
    assert "| ours-zero-code | empty |" in done.stdout
