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
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from tools_support import ROOT

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
    r"\tMemory Size: 128 MB\tMax Memory Used: (?P<max>\d+) MB(?:\tInit Duration: (?P<init>\d+\.\d\d) ms)?$"
)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMBDA_", "AWS_", "POWERTOOLS_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "local"), str(ROOT / "layer")])
    return subprocess.run(
        [sys.executable, "-m", "lambda_tracer_local.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


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
    done = cli(
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
    done = cli(str(tmp_path), "--layer", str(layer_zip), "--event", '{"n": 1}', "--quiet", "--json", str(out_json))
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
    done = cli(str(function), "--layer", str(layer))
    assert done.returncode == 0, done.stdout + done.stderr
    (lines,) = blocks(done.stdout)
    start = next(i for i, line in enumerate(lines) if line.startswith("START RequestId: "))
    assert re.fullmatch(r"lambda-tracer: \S+/python/lambda_tracer not found; running untraced", lines[start - 1])
    assert "(no X-Ray documents)" in done.stdout
