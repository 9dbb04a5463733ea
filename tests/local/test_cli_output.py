"""``lambda-tracer-local`` shows each invocation's log as ``sam local invoke`` does, before its trace tree.

    init output (cold start only)
    START RequestId: … Version: $LATEST
    what the function printed and logged, the tracer's warnings included
    END RequestId: …
    REPORT RequestId: …	Duration: … ms	Billed Duration: … ms	Memory Size: … MB	Max Memory Used: … MB
    (REPORT goes on, after a tab:) Init Duration: … ms   (on the cold start only)

``--quiet`` hides it; ``--json`` has it in each invocation's record.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

from tools_support import ROOT, local_cli

APP = """
import logging
import sys

from lambda_tracer import Tracer

print("init: importing app")
logging.getLogger().setLevel(logging.INFO)
tracer = Tracer()


def handler(event, context):
    print(f"handler got {event['n']}")
    print(f"to stderr {event['n']}", file=sys.stderr)
    logging.info("info record %s", event["n"])
    if event.get("bad"):
        tracer.put_annotation("bad key!", 1)
    return {"n": event["n"]}
"""
REPORT = re.compile(
    r"^REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: \d+\.\d\d ms\tBilled Duration: (?P<billed>\d+) ms"
    r"\tMemory Size: 128 MB\tMax Memory Used: (?P<max>\d+) MB(?:\tInit Duration: (?P<init>\d+\.\d\d) ms)?"
    r"(?:\tRestore Duration: (?P<restore>\d+\.\d\d) ms\tBilled Restore Duration: (?P<billed_restore>\d+) ms)?$"
)
#: Managed Instances: each handler waits until the other invocation of its pair has started too (a file each in
#: RENDEZVOUS), so two invocations sent at once are in two workers at once, whatever the scheduling.
CONCURRENT_APP = """
import os
import time
from pathlib import Path

print(f"init: worker {os.getpid()}")
RENDEZVOUS = Path(os.environ["RENDEZVOUS"])


def handler(event, context):
    n = event["n"]
    pair = (n - 1) // 2
    (RENDEZVOUS / f"{pair}-{n}").touch()
    deadline = time.monotonic() + 30
    while len(list(RENDEZVOUS.glob(f"{pair}-*"))) < 2:
        if time.monotonic() > deadline:
            raise TimeoutError(f"invocation {n} ran alone")
        time.sleep(0.005)
    print(f"handler got {n} in {os.getpid()}")
    return {"n": n, "pid": os.getpid()}
"""
SNAP_START_APP = """
import os

from snapshot_restore_py import register_after_restore

print(f"init: before the snapshot in {os.getpid()}")
register_after_restore(lambda: print(f"after restore in {os.getpid()}"))


def handler(event, context):
    print(f"handler got {event['n']} in {os.getpid()}")
    return {"n": event["n"], "pid": os.getpid()}
"""


def blocks(stdout: str) -> list[list[str]]:
    """Each invocation's lines (after ``--- invocation``), unindented."""
    found: list[list[str]] = []
    for line in stdout.splitlines():
        if line.startswith("--- invocation "):
            found.append([])
        elif found and line.startswith("    "):
            found[-1].append(line[4:])
    return found


def test_each_invocation_shows_its_output_between_start_and_end_then_report(layer_zip: Path, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    out_json = tmp_path / "out.json"
    done = local_cli(
        str(tmp_path), "--layer", str(layer_zip), "--event", '{"n": 1}', "--event", '{"n": 2, "bad": true}',
        "--json", str(out_json),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    cold, warm = blocks(done.stdout)
    ids = []
    for n, lines in ((1, cold), (2, warm)):
        start = next(i for i, line in enumerate(lines) if line.startswith("START RequestId: "))
        request_id = lines[start].split()[2]
        assert lines[start] == f"START RequestId: {request_id} Version: $LATEST"
        end = lines.index(f"END RequestId: {request_id}")
        report = REPORT.match(lines[end + 1])
        assert report is not None and report["id"] == request_id, lines[end + 1]
        assert (report["init"] is not None) is (n == 1)  # Init Duration only on the cold start
        own = lines[start + 1 : end]
        assert f"handler got {n}" in own and f"to stderr {n}" in own
        assert any(line.startswith("[INFO]\t") and line.endswith(f"\t{request_id}\tinfo record {n}") for line in own)
        assert lines[end + 2].startswith("response  ")  # then what the caller got, and the trace tree
        assert lines[end + 3].lstrip().startswith("trace 1-")
        ids.append(request_id)
        if n == 1:
            assert lines[:start] == ["init: importing app"]  # init output: before the first START
        else:
            assert start == 0 and not any("init: importing app" in line for line in lines)
            warning = next(line for line in own if "annotation 'bad key!' dropped" in line)
            assert warning.startswith("[WARNING]")

    records = json.loads(out_json.read_text())["invocations"]
    assert [r["request_id"] for r in records] == ids
    assert records[0]["init_output"] == "init: importing app\n" and records[1]["init_output"] is None
    assert "handler got 1\n" in records[0]["output"] and "handler got 2" not in records[0]["output"]
    assert records[0]["log"] == cold[: cold.index(next(line for line in cold if line.startswith("response  ")))]
    report = records[0]["report"]
    assert report["memory_size_mb"] == 128 and report["max_memory_used_mb"] > 0
    assert report["init_duration_ms"] > 0 and records[1]["report"]["init_duration_ms"] is None
    assert report["billed_duration_ms"] >= report["duration_ms"] + report["init_duration_ms"]


def test_quiet_hides_the_log_but_not_the_trace(layer_zip: Path, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    out_json = tmp_path / "out.json"
    done = local_cli(
        str(tmp_path), "--layer", str(layer_zip), "--event", '{"n": 1}', "--quiet", "--json", str(out_json)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for hidden in ("START RequestId", "END RequestId", "REPORT RequestId", "handler got 1", "init: importing app"):
        assert hidden not in done.stdout
    assert "## handler" in done.stdout
    (record,) = json.loads(out_json.read_text())["invocations"]
    assert "handler got 1\n" in record["output"]  # --json keeps it


def test_a_layer_without_the_package_says_why_there_is_no_trace(tmp_path: Path) -> None:
    """The wrapper alone (a broken build): its warning shows, not only "(no X-Ray documents)"."""
    layer = tmp_path / "wrapper-only.zip"
    with zipfile.ZipFile(layer, "w") as archive:
        info = zipfile.ZipInfo("lambda-tracer")
        info.external_attr = 0o100755 << 16
        archive.writestr(info, (ROOT / "wrapper" / "lambda-tracer").read_bytes())
    function = tmp_path / "fn"
    function.mkdir()
    (function / "app.py").write_text("def handler(event, context):\n    return 1\n")
    done = local_cli(str(function), "--layer", str(layer))
    assert done.returncode == 0, done.stdout + done.stderr
    (lines,) = blocks(done.stdout)
    start = next(i for i, line in enumerate(lines) if line.startswith("START RequestId: "))
    assert re.fullmatch(r"lambda-tracer: \S+/python/lambda_tracer not found; running untraced", lines[start - 1])
    assert "(no X-Ray documents)" in done.stdout


def log_parts(lines: list[str]) -> tuple[list[str], list[str], re.Match[str]]:
    """(the lines before START, those between START and END, the REPORT match) of one invocation's block."""
    start = next(i for i, line in enumerate(lines) if line.startswith("START RequestId: "))
    request_id = lines[start].split()[2]
    end = lines.index(f"END RequestId: {request_id}")
    report = REPORT.match(lines[end + 1])
    assert report is not None and report["id"] == request_id, lines[end + 1]
    return lines[:start], lines[start + 1 : end], report


def test_managed_instances_run_invocations_in_two_workers_each_with_its_own_output(
    layer_zip: Path, tmp_path: Path
) -> None:
    function, rendezvous = tmp_path / "fn", tmp_path / "rendezvous"
    function.mkdir()
    rendezvous.mkdir()
    (function / "app.py").write_text(CONCURRENT_APP)
    out_json = tmp_path / "out.json"
    events = [arg for n in range(1, 5) for arg in ("--event", json.dumps({"n": n}))]
    done = local_cli(
        str(function), "--layer", str(layer_zip), "--max-concurrency", "2", *events,
        "--env", f"RENDEZVOUS={rendezvous}", "--json", str(out_json),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Managed Instances (2 workers)" in done.stdout.splitlines()[0]
    headers = re.findall(r"^--- invocation (\d)/4 \(worker (\d+)\): event \{\"n\":(\d)\}$", done.stdout, re.M)
    assert [(int(i), int(n)) for i, _, n in headers] == [(n, n) for n in range(1, 5)], done.stdout
    workers = [int(pid) for _, pid, _ in headers]
    assert workers[0] != workers[1] and {workers[2], workers[3]} == set(workers[:2]), workers  # two at a time

    seen: set[int] = set()
    for n, (worker, lines) in enumerate(zip(workers, blocks(done.stdout), strict=True), 1):
        before, own, report = log_parts(lines)
        assert [line for line in own if line.startswith("handler got")] == [f"handler got {n} in {worker}"]
        if worker not in seen:  # the worker's first invocation: its own init, before START
            assert before == [f"init: worker {worker}"] and report["init"] is not None
        else:
            assert before == [] and report["init"] is None
        seen.add(worker)
        assert report["restore"] is None

    records = json.loads(out_json.read_text())["invocations"]
    assert [(r["invocation"], r["worker"], r["response"]) for r in records] == [
        (n, worker, {"n": n, "pid": worker}) for n, worker in enumerate(workers, 1)
    ]


def test_snap_start_restores_sandboxes_from_one_init_with_restore_duration(layer_zip: Path, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(SNAP_START_APP)
    out_json = tmp_path / "out.json"
    done = local_cli(
        str(tmp_path), "--layer", str(layer_zip), "--snap-start", "--restores", "2",
        "--event", '{"n": 1}', "--event", '{"n": 2}', "--json", str(out_json),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    sandboxes = re.findall(r"^--- restored sandbox (\d)/2 \(process (\d+)\)$", done.stdout, re.M)
    assert [k for k, _ in sandboxes] == ["1", "2"], done.stdout
    pids = [int(pid) for _, pid in sandboxes]
    assert pids[0] != pids[1]
    assert done.stdout.count("init: before the snapshot in ") == 1  # initialised once, for both sandboxes
    assert "Init Duration" not in done.stdout

    found = blocks(done.stdout)
    assert len(found) == 4
    for position, lines in enumerate(found):
        pid, n, first = pids[position // 2], position % 2 + 1, position % 2 == 0
        before, own, report = log_parts(lines)
        assert own == [f"handler got {n} in {pid}"]
        assert (report["restore"] is not None) is first, lines  # on each restored sandbox's first invocation
        if first:  # what the sandbox wrote before its first event: the after-restore hook
            assert before[-1] == f"after restore in {pid}"
            assert int(report["billed_restore"]) >= float(report["restore"])
        else:
            assert before == []

    records = json.loads(out_json.read_text())["invocations"]
    assert [(r["restored_sandbox"], r["invocation"], r["worker"]) for r in records] == [
        (1, 1, pids[0]), (1, 2, pids[0]), (2, 1, pids[1]), (2, 2, pids[1])
    ]  # fmt: skip
    for record, first in zip(records, (True, False, True, False), strict=True):
        assert record["response"]["pid"] == record["worker"]
        assert record["report"]["init_duration_ms"] is None
        assert (record["restore_duration_ms"] is not None and record["restore_duration_ms"] > 0) is first
        assert record["report"]["restore_duration_ms"] == (
            None if record["restore_duration_ms"] is None else round(record["restore_duration_ms"], 2)
        )
