"""Soak: long-running warm processes stay bounded and leave nothing behind between invocations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lambda_tracer_local.runtime import LocalLambda

ROOT = Path(__file__).resolve().parents[2]


def test_100k_invocations_in_one_process() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "LAMBDA_TRACER", "_X_AMZN"))}
    env["PYTHONPATH"] = str(ROOT / "layer")
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("soak_worker.py")), "100000"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    rss = {int(k): v for k, v in result["rss_kb"].items()}
    blocks = {int(k): v for k, v in result["heap_blocks"].items()}
    print(f"soak: heap blocks {blocks}, RSS kB {rss}; {result['datagrams']} datagrams, max {result['max_datagram']} B")
    assert result["leftovers"] == 0
    assert result["max_datagram"] <= 65_507
    # One handler subsegment each, plus a method subsegment except where the handler fails or returns early.
    assert result["datagrams"] == 100_000 + 90_000 - 100
    # No per-invocation growth of Python objects: one leaked object per invocation would be 99,000 blocks.
    assert blocks[99_999] - blocks[1_000] < 2_000, blocks


def test_warm_runtime_process_memory_is_bounded(layer_dir: Path, tmp_path: Path) -> None:
    """Through the real runtime: RSS growth over 2,000 invocations, with the layer and without.

    The runtime itself grows a little per invocation (glibc keeps every old ``_X_AMZN_TRACE_ID``), so
    the layer's own share is the difference between the two sandboxes.
    """
    (tmp_path / "app.py").write_text('def handler(event, context):\n    return {"n": event["n"], "pad": "y" * 2000}\n')
    growth = {}
    for layer in (None, layer_dir):
        with LocalLambda(tmp_path, opt_dirs=[layer] if layer else [], wrapper=layer is not None) as fn:
            readings = {}
            for n in range(2_000):
                assert fn.invoke({"n": n}, timeout=30).status == "response"
                if n in (199, 1_999):
                    readings[n] = _rss_kb(fn.process.pid if fn.process else 0)
            if layer:
                assert len(fn.daemon.datagram_sizes) >= 2_000
                assert max(fn.daemon.datagram_sizes) <= 65_507
        growth["with" if layer else "without"] = readings[1_999] - readings[199]
    print(f"runtime soak: RSS growth over 1,800 invocations (kB): {growth}")
    assert growth["with"] - growth["without"] < 1024, growth


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")
