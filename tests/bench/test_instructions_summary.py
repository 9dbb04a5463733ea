"""The bench's arithmetic on instruction counts (bench/instructions_report.py), on made-up counts: overheads against the
bare function, ratios to the reference and to ADOT, the cost shapes against json.loads, the targets' verdicts in
both warm windows (invocations 2..1+K and the steady one after S), and what counts as traced. The counting itself
is exercised by test_bench_quick.py."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import instructions_report  # noqa: E402
from instructions import STEADY_K, STEADY_SKIP, CountConfig, Job  # noqa: E402
from workloads import WORKLOADS  # noqa: E402

XRAY = b'{"format":"json","version":1}\n{"name":"bench","subsegments":[{"aws":{"operation":"ListBuckets"}}]}'
OTLP = b'{"format":"json","version":1}\nT1S' + base64.b64encode(b"\x0a\x05ListBuckets")

CONFIGS = [
    CountConfig("bare", sends=None, groups=("main", "shapes")),
    CountConfig("ours-zero-code", wrapper=Path("/opt/lambda-tracer"), groups=("main", "shapes"), no_freeze=True),
    CountConfig("reference"),
    CountConfig("ours-otlp", sends="otlp"),
    CountConfig("adot-fast", sends="otlp"),
]
BY_NAME = {c.name: c for c in CONFIGS}


def _done(boto3_xray: bytes = XRAY) -> dict[Job, tuple[int, list[bytes]]]:
    """Counts for: prefix 100 M; per config, cold (N=1) and N=1+K, as overheads over bare made up below."""
    cold = {"bare": 10e6, "ours-zero-code": 20e6, "reference": 510e6, "ours-otlp": 22e6, "adot-fast": 410e6}
    warm = {"bare": 100e3, "ours-zero-code": 200e3, "reference": 600e3, "ours-otlp": 220e3, "adot-fast": 1100e3}
    sent = {"bare": [], "ours-zero-code": [XRAY], "reference": [XRAY], "ours-otlp": [OTLP], "adot-fast": [OTLP]}
    done: dict[Job, tuple[int, list[bytes]]] = {Job("bare", "empty", 0, 0): (int(100e6), [])}
    for name in cold:
        for workload in ("empty", "boto3"):
            k = WORKLOADS[workload].warm
            extra = 1e6 if workload == "boto3" else 0  # boto3 costs everyone the same
            done[Job(name, workload, 1)] = (int(100e6 + cold[name] + extra), sent[name])
            done[Job(name, workload, 1 + k)] = (int(100e6 + cold[name] + extra + k * warm[name]), sent[name] * (1 + k))
    steady = {"bare": 90e3, "ours-zero-code": 150e3, "reference": 490e3, "ours-otlp": 170e3, "adot-fast": 690e3}
    for name in steady:  # the steady window: count(1 + S) and count(1 + S + Ks), on top of the first window's
        for workload in ("empty", "boto3"):
            k = WORKLOADS[workload].warm
            settled = done[Job(name, workload, 1 + k)][0] + (STEADY_SKIP - k) * warm[name]
            done[Job(name, workload, 1 + STEADY_SKIP)] = (int(settled), sent[name] * (1 + STEADY_SKIP))
            later = (int(settled + STEADY_K * steady[name]), sent[name] * (1 + STEADY_SKIP + STEADY_K))
            done[Job(name, workload, 1 + STEADY_SKIP + STEADY_K)] = later
    done[Job("ours-zero-code", "empty", 1, no_freeze=True)] = (int(100e6 + 35e6), [XRAY])
    done[Job("ours-zero-code", "boto3", 1, no_freeze=True)] = (int(100e6 + 36e6), [XRAY])
    k = WORKLOADS["uuid-keys"].warm
    done[Job("bare", "uuid-keys", 1)] = (int(150e6), [])
    done[Job("bare", "uuid-keys", 1 + k)] = (int(150e6 + k * 5e6), [])
    done[Job("ours-zero-code", "uuid-keys", 1)] = (int(160e6), [XRAY])
    done[Job("ours-zero-code", "uuid-keys", 1 + k)] = (int(160e6 + k * (5e6 + 40e6)), [XRAY] * (1 + k))
    return done


def _summarize(done: dict[Job, tuple[int, list[bytes]]], skip: int = STEADY_SKIP, ks: int = STEADY_K) -> dict:
    pairs = [(c, WORKLOADS[w]) for w in ("empty", "boto3") for c in CONFIGS]
    pairs += [(BY_NAME[c], WORKLOADS["uuid-keys"]) for c in ("bare", "ours-zero-code")]
    warm_of = {w.name: w.warm for _, w in pairs}
    shell = {"ours-zero-code": [1_000_000, 1_000_000]}
    loads = {("uuid-keys", 1): int(30e6), ("uuid-keys", 3): int(30e6 + 2 * 20e6)}  # json.loads: 20 M
    return instructions_report.summarize(pairs, CONFIGS, warm_of, done, shell, {}, loads, 1, False, skip, ks)


def test_overheads_and_ratios_against_the_bare_function_and_the_reference() -> None:
    result = _summarize(_done())
    assert result["prefix"] == 100e6
    ours = result["rows"]["ours-zero-code/empty"]
    assert ours["init_first"] == 20e6 + 1e6  # minus the prefix, plus the wrapper's shell
    assert ours["init_first_overhead"] == 11e6
    assert ours["init_first_overhead_vs_reference"] == pytest.approx(11e6 / 500e6, abs=1e-3)
    assert ours["init_first_no_freeze_overhead"] == 35e6 + 1e6 - 10e6
    assert ours["per_warm_overhead"] == 100e3
    assert ours["per_warm_overhead_vs_reference"] == pytest.approx(0.2)
    assert ours["traced"] is True and result["rows"]["bare/empty"]["traced"] is None
    assert result["rows"]["reference/empty"]["per_warm_overhead_vs_reference"] is None


def test_cost_shapes_are_divided_by_json_loads_of_the_body() -> None:
    shape = _summarize(_done())["shapes"]["ours-zero-code/uuid-keys"]
    assert shape["json_loads"] == 20e6 and shape["added_warm"] == 40e6
    assert shape["ratio"] == 2.0 and shape["met"] is True


def test_targets_report_met_and_not_met() -> None:
    verdicts = {(t["issue"], t["target"], t["config"]): t for t in _summarize(_done())["targets"]}
    cold = verdicts[("18", "cold, empty function", "ours-zero-code")]
    assert cold["value"] == pytest.approx(0.022) and cold["met"] is True  # 11 M / 500 M <= 0.03
    warm = verdicts[("18", "warm, small response (empty function)", "ours-zero-code")]
    assert warm["value"] == pytest.approx(0.2) and warm["met"] is True
    apigw = verdicts[("18", "warm, 2 KB API Gateway proxy response", "ours-zero-code")]
    assert apigw["value"] is None and apigw["met"] is None  # not counted in this run
    adot_cold = verdicts[("19", "cold, empty: overhead / ADOT fast start's", "ours-otlp")]
    assert adot_cold["value"] == pytest.approx(12e6 / 400e6, abs=1e-3) and adot_cold["met"] is True
    adot_warm = verdicts[("19", "warm, boto3: overhead / ADOT fast start's", "ours-otlp")]
    assert adot_warm["value"] == pytest.approx(0.12) and adot_warm["met"] is True
    otlp_vs_xray = verdicts[("19", "cold, empty: otlp overhead / xray overhead", "ours-otlp")]
    assert otlp_vs_xray["value"] == pytest.approx(12e6 / 11e6, abs=1e-3) and otlp_vs_xray["met"] is True
    assert verdicts[("17", "warm, uuid-keys (1 MB JSON body) / json.loads", "ours-zero-code")]["met"] is True


def test_a_configuration_that_did_not_send_or_missed_the_aws_call_is_not_traced() -> None:
    done = _done()
    k = WORKLOADS["boto3"].warm
    without_call = b'{"format":"json","version":1}\n{"name":"bench"}'
    done[Job("ours-zero-code", "boto3", 1 + k)] = (done[Job("ours-zero-code", "boto3", 1 + k)][0], [without_call])
    done[Job("ours-otlp", "empty", 1)] = (done[Job("ours-otlp", "empty", 1)][0], [XRAY])  # the wrong format
    rows = _summarize(done)["rows"]
    assert rows["ours-zero-code/boto3"]["traced"] is False
    assert rows["ours-otlp/empty"]["traced"] is False
    assert rows["reference/boto3"]["traced"] is True


def test_rendering_shows_every_row_and_verdict() -> None:
    result = {"status": "measured", "tool": "valgrind", "seconds": 1, **_summarize(_done())}
    text = "\n".join(instructions_report.render(result))
    assert "| ours-zero-code | empty | 21.0 | +11.0 | 0.022x | +26.0 |" in text
    assert "| ours-zero-code | uuid-keys | 20,000 | 40,000 | 2.00x | <= 3.0x | met |" in text
    cold = "| 19 | cold, empty: otlp overhead / xray overhead | init + 1st invocation | ours-otlp | 1.091x | <= 1.2x |"
    assert cold + " met |" in text
    # Both warm windows, labelled: the first (the issues' measure) and the steady one.
    first = "| ours-zero-code | empty | 21.0 | +11.0 | 0.022x | +26.0 | 0.052x | 200 | +100 | 0.200x |"
    assert first + " 150 | +60 | 0.150x |" in text
    warm = "| 18 | warm, small response (empty function) | invocations 2-5 | ours-zero-code | 0.200x | <= 0.2x | met |"
    steady = "| 18 | steady warm, small response (empty function) | invocations 18-33 | ours-zero-code | 0.150x |"
    assert warm in text and steady in text
    assert "| bare | uuid-keys |" in text and "| - | - | - | - |" in text  # no steady window for the cost shapes
    assert "steady warm: invocations 18 to 33" in text


def test_the_steady_window_is_its_own_arithmetic_beside_the_first() -> None:
    rows = _summarize(_done())["rows"]
    ours, bare = rows["ours-zero-code/empty"], rows["bare/empty"]
    assert ours["per_warm"] == 200e3 and ours["per_warm_overhead"] == 100e3  # the first window, unchanged
    assert ours["per_warm_steady"] == 150e3 and bare["per_warm_steady"] == 90e3
    assert ours["per_warm_steady_overhead"] == 60e3 and ours["steady_skip"] == STEADY_SKIP
    assert ours["per_warm_steady_overhead_vs_reference"] == pytest.approx(60e3 / 400e3)
    assert ours["steady_invocations"] == STEADY_K
    assert set(ours["counts"]) == {"1", "5", str(1 + STEADY_SKIP), str(1 + STEADY_SKIP + STEADY_K)}
    assert rows["ours-zero-code/uuid-keys"]["per_warm_steady"] is None  # not counted there: no figure, no ratio
    assert rows["ours-zero-code/uuid-keys"]["per_warm_steady_overhead_vs_reference"] is None


def test_warm_targets_are_reported_in_both_windows() -> None:
    verdicts = {(t["issue"], t["target"], t["config"]): t for t in _summarize(_done())["targets"]}
    steady = verdicts[("18", "steady warm, small response (empty function)", "ours-zero-code")]
    assert steady["value"] == pytest.approx(0.15) and steady["met"] is True and steady["window"] == "invocations 18-33"
    assert verdicts[("18", "warm, small response (empty function)", "ours-zero-code")]["window"] == "invocations 2-5"
    adot = verdicts[("19", "steady warm, boto3: overhead / ADOT fast start's", "ours-otlp")]
    assert adot["value"] == pytest.approx(80e3 / 600e3, abs=1e-3) and adot["met"] is True
    otlp = verdicts[("19", "steady warm, empty: otlp overhead / xray overhead", "ours-otlp")]
    assert otlp["value"] == pytest.approx(80e3 / 60e3, abs=1e-3) and otlp["met"] is False
    not_counted = verdicts[("18", "steady warm, 1 MB body", "ours-zero-code")]
    assert not_counted["value"] is None and not_counted["window"] == "not counted"


def test_without_a_steady_window_every_steady_figure_is_absent_not_zero() -> None:
    done = {job: value for job, value in _done().items() if job.invocations < 1 + STEADY_SKIP}
    result = _summarize(done, skip=0, ks=0)
    assert all(row["per_warm_steady"] is None for row in result["rows"].values())
    assert all(t["value"] is None for t in result["targets"] if t["target"].startswith("steady warm"))
    text = "\n".join(instructions_report.render({"status": "measured", "tool": "v", "seconds": 1, **result}))
    assert "steady warm: not counted in this run." in text
