"""The runtime process's output, split per invocation as ``sam local`` shows it, through the built layer.

The split is exact, not timed: the pipe is read continuously and cut when the runtime's request reaches the
Runtime API (first ``/next``: end of init; a response or error post: end of that invocation), so everything the
function wrote before answering belongs to its invocation however fast the invocations follow each other.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from lambda_tracer_local.logs import log_lines, report_line
from lambda_tracer_local.runtime import LocalLambda

from .support import write_function

APP = """
import logging
import os
import sys

from lambda_tracer import Tracer

print("init: importing app", flush=True)
logging.getLogger().setLevel(logging.INFO)
tracer = Tracer(service="output")
_ballast = []


def handler(event, context):
    n = event.get("n")
    print(f"stdout {n}")
    sys.stderr.write(f"stderr {n}\\n")
    logging.info("log %s", n)
    if event.get("big"):
        sys.stdout.write(("big %s " % n) * 40_000 + "\\n")  # ~300 KB: more than a pipe holds
    if event.get("bad_annotation"):
        tracer.put_annotation("bad key!", 1)
    if event.get("allocate_mb"):
        _ballast.append(b"x" * (event["allocate_mb"] * 1024 * 1024))  # touched: resident
    if event.get("exit"):
        print(f"exiting {n}", flush=True)
        os._exit(3)
    if event.get("fail"):
        raise ValueError(f"failed {n}\\nsecond line")
    return {"n": n}
"""

MARKERS = re.compile(r"(?:stdout|stderr|log|big|exiting|failed) (\d+)")


@pytest.fixture
def fn_dir(tmp_path: Path) -> Path:
    return write_function(tmp_path / "fn", {"app.py": APP})


def own_numbers(text: str) -> set[int]:
    return {int(n) for n in MARKERS.findall(text)}


def test_each_invocation_gets_exactly_its_own_output(fn_dir: Path, layer_dir: Path) -> None:
    """Back-to-back invocations, one of them writing more than the pipe holds: no line lands in a neighbour."""
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir]) as fn:
        invocations = [fn.invoke({"n": n, "big": n == 7, "fail": n == 11}) for n in range(20)]
        everything = fn.output
    first, *warm = invocations
    assert first.init_output is not None and "init: importing app" in first.init_output
    assert own_numbers(first.init_output) == set()
    assert all(inv.init_output is None for inv in warm)
    for n, inv in enumerate(invocations):
        assert own_numbers(inv.output) == {n}, (n, inv.output[:500])
        for stream in ("stdout", "stderr"):
            assert f"{stream} {n}\n" in inv.output
        assert re.search(rf"^\[INFO\]\t\S+\t{inv.request_id}\tlog {n}$", inv.output, re.MULTILINE), inv.output[:500]
    assert invocations[7].output.count("big 7 ") == 40_000
    assert invocations[11].status == "error" and "[ERROR] ValueError: failed 11" in invocations[11].output
    # Nothing lost, nothing counted twice: the pieces are the whole output, in order.
    assert first.init_output + "".join(inv.output for inv in invocations) == everything


def test_report_values_cold_then_warm(fn_dir: Path, layer_dir: Path) -> None:
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], memory_mb=256) as fn:
        cold = fn.invoke({"n": 1})
        warm = fn.invoke({"n": 2, "allocate_mb": 80})
        init_ms = fn.init_ms
    assert cold.init_duration_ms is not None and cold.init_duration_ms == init_ms
    assert warm.init_duration_ms is None
    assert cold.duration_ms is not None and warm.duration_ms is not None
    assert cold.billed_duration_ms == math.ceil(cold.duration_ms + cold.init_duration_ms)  # INIT is billed
    assert warm.billed_duration_ms == math.ceil(warm.duration_ms)
    assert cold.memory_size_mb == warm.memory_size_mb == 256
    assert cold.max_memory_used_mb is not None and warm.max_memory_used_mb is not None
    assert 5 < cold.max_memory_used_mb < 200
    assert warm.max_memory_used_mb >= cold.max_memory_used_mb + 75  # the 80 MB the handler keeps

    report = report_line(cold).split("\t")
    assert report[0] == f"REPORT RequestId: {cold.request_id}"
    assert report[1:] == [
        f"Duration: {cold.duration_ms:.2f} ms",
        f"Billed Duration: {cold.billed_duration_ms} ms",
        "Memory Size: 256 MB",
        f"Max Memory Used: {cold.max_memory_used_mb} MB",
        f"Init Duration: {cold.init_duration_ms:.2f} ms",
    ]
    assert "Init Duration" not in report_line(warm)


def test_log_lines_are_sam_locals(fn_dir: Path, layer_dir: Path) -> None:
    """Init output before the first START; the tracer's own warnings inside the invocation that caused them."""
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir]) as fn:
        cold, warm = fn.invoke({"n": 1}), fn.invoke({"n": 2, "bad_annotation": True, "fail": True})
    lines = log_lines(cold)
    start = lines.index(f"START RequestId: {cold.request_id} Version: $LATEST")
    assert "init: importing app" in lines[:start]
    assert lines[-2:] == [f"END RequestId: {cold.request_id}", report_line(cold)]
    assert "stdout 1" in lines[start:-2]

    lines = log_lines(warm)
    assert lines[0] == f"START RequestId: {warm.request_id} Version: $LATEST"
    assert not any("init: importing app" in line for line in lines)
    warning = next(line for line in lines if "annotation 'bad key!' dropped" in line)
    assert warning.startswith("[WARNING]") and "lambda_tracer" in warning
    # awslambdaric ends the lines of one error record with \r: shown as lines, like CloudWatch does.
    assert "second line" in lines and any(line.startswith("Traceback") for line in lines)


def test_a_crash_and_an_init_error_keep_their_output(fn_dir: Path, layer_dir: Path, tmp_path: Path) -> None:
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir]) as fn:
        fine, crashed = fn.invoke({"n": 1}), fn.invoke({"n": 2, "exit": True})
    assert fine.status == "response" and own_numbers(fine.output) == {1}
    assert crashed.status == "exited" and crashed.exit_code == 3
    assert "exiting 2" in crashed.output and own_numbers(crashed.output) == {2}
    lines = log_lines(crashed)
    assert f"RequestId: {crashed.request_id} Error: Runtime exited with error: exit status 3" in lines
    assert lines[-1].endswith("\tStatus: error\tError Type: Runtime.ExitError")

    broken = write_function(tmp_path / "broken", {"app.py": "print('before the failure')\nimport no_such_module\n"})
    with LocalLambda(broken, "app.handler", opt_dirs=[layer_dir]) as fn:
        failed = fn.invoke({})
    assert failed.status == "init_error" and failed.output == ""
    assert failed.init_output is not None and "before the failure" in failed.init_output
    assert "[ERROR] Runtime.ImportModuleError" in failed.init_output
    assert failed.init_duration_ms is not None
    assert log_lines(failed)[-1].endswith("\tStatus: error\tError Type: Runtime.ImportModuleError")


def test_a_layer_without_the_package_says_so_in_the_init_output(tmp_path: Path) -> None:
    """The wrapper alone: its warning is what the user sees instead of a silent "(no X-Ray documents)"."""
    opt = tmp_path / "opt"
    opt.mkdir()
    wrapper = opt / "lambda-tracer"
    wrapper.write_text((Path(__file__).resolve().parents[2] / "wrapper" / "lambda-tracer").read_text())
    wrapper.chmod(0o755)
    plain = write_function(tmp_path / "plain", {"app.py": "def handler(event, context):\n    return 1\n"})
    with LocalLambda(plain, "app.handler", opt_dirs=[opt], wrapper=True) as fn:
        inv = fn.invoke({})
    assert inv.status == "response" and inv.documents == []
    assert inv.init_output is not None
    assert f"lambda-tracer: {opt}/python/lambda_tracer not found; running untraced" in inv.init_output
