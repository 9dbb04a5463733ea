"""``lambda-tracer-local`` as a user runs it: a subprocess on the example functions with the built layer.

Every run is the real thing (awslambdaric, the exec wrapper, UDP to the daemon stand-in); the assertions
read what the user reads (stdout, stderr, exit status) and the ``--json`` file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from tools_support import ROOT, local_cli

from lambda_tracer_local.cli import build_parser

EXAMPLES = ROOT / "examples" / "functions"
ORDER = {"order_id": "o-1", "items": [{"sku": "tea", "price": 4, "qty": 3}]}
TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")


def handler_lines(stdout: str) -> list[str]:
    """The annotations line under each ``## handler`` title, in order."""
    lines = stdout.splitlines()
    return [lines[i + 1] for i, line in enumerate(lines) if line.strip().startswith("## handler")]


def test_zero_code_shows_responses_and_traces_cold_then_warm(layer_zip: Path, tmp_path: Path) -> None:
    out_json = tmp_path / "traces.json"
    done = local_cli(
        str(EXAMPLES / "zero_code"), "--layer", str(layer_zip), "--event", json.dumps(ORDER), "--invocations", "2",
        "--env", "POWERTOOLS_SERVICE_NAME=orders", "--json", str(out_json),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("response") >= 2 and '-> {"order_id":"o-1","total":12,' in done.stdout
    annotations = handler_lines(done.stdout)
    assert len(annotations) == 2, done.stdout
    assert "ColdStart=true" in annotations[0] and 'Service="orders"' in annotations[0]
    assert "ColdStart=false" in annotations[1]
    assert "metadata     orders.handler response = " in done.stdout

    written = json.loads(out_json.read_text())
    assert written["zero_code"] is True
    records = written["invocations"]
    assert [r["status"] for r in records] == ["response", "response"]
    assert records[0]["response"]["order_id"] == "o-1" and records[0]["event"] == ORDER
    assert records[0]["trace_id"] != records[1]["trace_id"]
    for record, cold in zip(records, (True, False), strict=True):
        assert TRACE_ID.match(record["trace_id"])
        assert record["documents"] and all(doc["trace_id"] == record["trace_id"] for doc in record["documents"])
        handler = next(doc for doc in record["documents"] if doc["name"] == "## handler")
        assert handler["annotations"]["ColdStart"] is cold
        assert handler["parent_id"] == record["parent_id"]


def test_in_code_traces_the_decorated_functions_without_the_wrapper(layer_zip: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps(ORDER))
    second.write_text(json.dumps({"order_id": "o-2", "items": [{"price": 999, "qty": 2}]}))
    done = local_cli(
        str(EXAMPLES / "in_code"), "--in-code", "--layer", str(layer_zip),
        "--event-file", str(first), "--event-file", str(second),
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr  # the second event exceeds the credit limit
    assert "in-code (no exec wrapper)" in done.stdout
    assert f"event --event-file {first}: " in done.stdout
    assert '-> {"order_id":"o-1","reserved":12}' in done.stdout
    assert "error  " in done.stdout and "RuntimeError: credit limit exceeded: 1998 > 1000" in done.stdout
    annotations = handler_lines(done.stdout)
    assert len(annotations) == 2 and "ColdStart=true" in annotations[0] and "ColdStart=false" in annotations[1]
    titles = re.findall(r"[├└]── (## app\.\w+)", done.stdout)
    assert titles == ["## app.price", "## app.reserve"] * 2, done.stdout
    assert 'raise RuntimeError(f"credit limit exceeded' in done.stdout  # the stack trace of the error


def test_in_code_on_an_undecorated_function_traces_nothing_and_says_why(layer_zip: Path) -> None:
    """The control for zero-code: the same function without the wrapper sends no document."""
    done = local_cli(str(EXAMPLES / "zero_code"), "--in-code", "--layer", str(layer_zip), "--event", json.dumps(ORDER))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "## handler" not in done.stdout and "(no X-Ray documents)" in done.stdout
    assert "no traces: in-code mode traces only what your code decorates" in done.stdout


def test_a_handler_error_is_shown_with_its_trace_and_exit_1(layer_zip: Path) -> None:
    done = local_cli(str(EXAMPLES / "zero_code"), "--layer", str(layer_zip))  # default event {}: no order_id
    assert done.returncode == 1
    assert "error  " in done.stdout and "-> ValueError: order_id is required" in done.stdout
    assert "## handler" in done.stdout and "FAULT" in done.stdout
    assert "cause        ValueError: order_id is required" in done.stdout


def test_an_init_error_is_shown_as_lambda_shows_it(layer_zip: Path, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import not_a_module_anywhere\n\ndef handler(event, context):\n    return 1\n")
    done = local_cli(str(tmp_path), "--layer", str(layer_zip), "--invocations", "3")
    assert done.returncode == 1, done.stdout + done.stderr
    shown = done.stdout.split("the handler never ran; Lambda reports:", 1)[1]
    document = json.loads(shown[: shown.rindex("}") + 1])
    assert document["errorType"] == "Runtime.ImportModuleError"
    assert document["errorMessage"] == "Unable to import module 'app': No module named 'not_a_module_anywhere'"
    assert "init_error" in done.stdout and "invocation 2/3" not in done.stdout  # it stops at the init error
    assert "Traceback" not in done.stderr


def _errors(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """Case name -> (arguments, what stderr must say)."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"order_id": "o-1",\n  "items": [1, 2,]}')
    function = str(EXAMPLES / "zero_code")
    cases = [
        ([str(tmp_path / "nowhere")], f"function directory {tmp_path / 'nowhere'} does not exist"),
        ([function, "--handler", "apphandler"], "bad --handler 'apphandler': expected MODULE.FUNCTION"),
        ([function, "--handler", "app."], "bad --handler 'app.': expected MODULE.FUNCTION"),
        ([function, "--event-file", str(tmp_path / "no.json")], f"--event-file {tmp_path / 'no.json'}: no such file"),
        ([function, "--event-file", str(bad)], f"--event-file {bad}: not JSON: "),
        ([function, "--event", "{}", "--event", "{'a': 1}"], "--event #2: not JSON: Expecting property name"),
        ([function, "--env", "NOEQUALS"], "bad --env 'NOEQUALS': expected KEY=VALUE"),
        ([function, "--env", "1X=2"], "bad --env '1X=2': expected KEY=VALUE"),
        ([function, "--layer", str(tmp_path / "none.zip")], f"--layer {tmp_path / 'none.zip'}: no such file"),
        ([function, "--layer", str(bad)], f"--layer {bad}: not a zip file"),
        ([function, "--python", str(tmp_path / "nopython")], f"--python {tmp_path / 'nopython'}: cannot run it"),
        ([function, "--max-concurrency", "0"], "bad --max-concurrency '0': a number of workers from 1 to 1600"),
        ([function, "--max-concurrency", "two"], "bad --max-concurrency 'two': a number of workers from 1 to 1600"),
        ([function, "--snap-start", "--restores", "0"], "bad --restores '0': a number of restored sandboxes"),
        ([function, "--restores", "2"], "--restores 2: only with --snap-start"),
        (
            [function, "--max-concurrency", "2", "--snap-start"],
            "--max-concurrency and --snap-start cannot be combined: Managed Instances do not support SnapStart",
        ),
        ([function, "--event", '{"n": NaN}'], "--event #1: not JSON: NaN is not a JSON value"),
        ([function, "--timeout", "nan"], "bad --timeout nan: a positive number of seconds"),
        ([function, "--timeout", "inf"], "bad --timeout inf: a positive number of seconds"),
        ([function, "--json", str(tmp_path)], f"--json {tmp_path} is a directory: give a file name, like traces.json"),
    ]  # fmt: skip
    return dict(zip(ERROR_CASES, cases, strict=True))


ERROR_CASES = [
    "missing-dir", "handler-no-dot", "handler-no-function", "event-file-missing", "event-file-not-json",
    "event-not-json", "env-no-equals", "env-bad-key", "layer-missing", "layer-not-zip", "python-missing",
    "max-concurrency-zero", "max-concurrency-not-a-number", "restores-zero", "restores-without-snap-start",
    "managed-instances-with-snap-start", "event-nan", "timeout-nan", "timeout-inf", "json-is-a-directory",
]  # fmt: skip


@pytest.mark.parametrize("case", ERROR_CASES)
def test_command_line_mistakes_are_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    args, message = _errors(tmp_path)[case]
    done = local_cli(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == f"lambda-tracer-local: error: {message}" + done.stderr.split(message, 1)[1]
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    if case == "event-file-not-json":
        assert "at line 2 column " in done.stderr  # where the mistake is
    assert done.stdout == ""  # refused before anything started


def test_json_records_errors_with_their_documents(layer_zip: Path, tmp_path: Path) -> None:
    out_json = tmp_path / "out.json"
    done = local_cli(str(EXAMPLES / "zero_code"), "--layer", str(layer_zip), "--event", "{}", "--json", str(out_json))
    assert done.returncode == 1
    (record,) = json.loads(out_json.read_text())["invocations"]
    error: dict[str, Any] = record["error"]
    assert record["status"] == "error" and "response" not in record
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "order_id is required")
    handler = next(doc for doc in record["documents"] if doc["name"] == "## handler")
    assert handler["fault"] is True and handler["trace_id"] == record["trace_id"]


def test_a_failed_after_restore_hook_is_a_restore_error_of_each_sandbox_and_exit_1(
    layer_zip: Path, tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text(
        "from snapshot_restore_py import register_after_restore\n\n\n"
        "def reconnect():\n    raise ConnectionError('database unreachable after restore')\n\n\n"
        "register_after_restore(reconnect)\n\n\ndef handler(event, context):\n    return 1\n"
    )
    out_json = tmp_path / "out.json"
    done = local_cli(
        str(tmp_path), "--layer", str(layer_zip), "--snap-start", "--restores", "2", "--invocations", "2",
        "--json", str(out_json),
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert len(re.findall(r"^--- restored sandbox \d/2 \(process \d+\)$", done.stdout, re.M)) == 2
    shown = "restore_error  "
    assert done.stdout.count(shown) == 2 and "-> ConnectionError: database unreachable after restore" in done.stdout
    assert "Status: error\tError Type: ConnectionError" in done.stdout
    assert "raise ConnectionError('database unreachable after restore')" in done.stdout  # its stack trace
    assert done.stdout.count("this sandbox's other invocations were not sent") == 2
    records = json.loads(out_json.read_text())["invocations"]
    assert [(r["restored_sandbox"], r["status"]) for r in records] == [(1, "restore_error"), (2, "restore_error")]
    assert records[0]["error"]["errorType"] == "ConnectionError"


def test_a_json_file_that_cannot_be_written_is_one_line_not_a_traceback(layer_zip: Path, tmp_path: Path) -> None:
    """Found out after the invocations ran (its folder cannot be made: a file is in the way); it was a traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    target = blocker / "traces.json"
    done = local_cli(
        str(EXAMPLES / "zero_code"), "--layer", str(layer_zip), "--event", json.dumps(ORDER), "--json", str(target)
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"lambda-tracer-local: error: --json {target}: cannot write it (")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert '-> {"order_id":"o-1","total":12,' in done.stdout  # what ran is shown


def test_every_option_is_in_the_options_table_of_the_docs() -> None:
    """docs/local-traces.md's table is where the docs send a user for the command's options; --exporter, --quiet
    and --html were missing from it."""
    table = [line for line in (ROOT / "docs" / "local-traces.md").read_text().splitlines() if line.startswith("| `")]
    documented = {option for line in table for option in re.findall(r"`(--[a-z-]+)", line.split(" | ")[0])}
    options = {flag for action in build_parser()._actions for flag in action.option_strings if flag.startswith("--")}
    assert options - {"--help"} <= documented, sorted(options - {"--help"} - documented)
