"""Zero-code mode end to end: an unchanged handler, the built layer and its exec wrapper, the real runtime."""

from __future__ import annotations

from pathlib import Path

from lambda_tracer_local.daemon import by_name
from lambda_tracer_local.runtime import LocalLambda

from .support import names, write_function

SERVICE = "payment"
APP = """
import os

def handler(event, context):
    if "fail" in event:
        raise ValueError(f"boom {event['fail']}")
    return {"ok": event["n"], "request_id": context.aws_request_id, "handler": os.environ["_HANDLER"]}
"""


def test_cold_then_warm_invocations_are_traced(layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": APP})
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], env={"POWERTOOLS_SERVICE_NAME": SERVICE}) as fn:
        first, second = fn.invoke({"n": 1}), fn.invoke({"n": 2})
        assert fn.cold_start_ms is not None and fn.cold_start_ms > 0

    assert first.trace_id != second.trace_id
    for inv, n, cold in ((first, 1, True), (second, 2, False)):
        assert inv.status == "response", fn.output
        # The wrapper really redirected the runtime, and the response is the user's, untouched.
        assert inv.payload == {"ok": n, "request_id": inv.request_id, "handler": "lambda_tracer.handler.handler"}
        assert names(inv.documents) == ["## handler"]
        doc = by_name(inv.documents, "## handler")
        assert doc["type"] == "subsegment"
        assert doc["trace_id"] == inv.trace_id
        assert doc["parent_id"] == inv.parent_id
        annotations = doc["annotations"]
        assert {key: annotations.get(key) for key in ("ColdStart", "Service", "InitType")} == {
            "ColdStart": cold,
            "Service": SERVICE,
            "InitType": "on-demand",
        }
        assert doc["metadata"] == {SERVICE: {"handler response": inv.payload}}
        assert not doc.get("fault") and not doc.get("error") and not doc.get("in_progress")
        assert doc["end_time"] >= doc["start_time"]


def test_error_reaches_the_caller_unchanged_and_is_recorded(layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": APP})
    env = {"POWERTOOLS_SERVICE_NAME": SERVICE}
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], env=env) as fn:
        traced = fn.invoke({"fail": "x1"})
        after = fn.invoke({"n": 3})  # the sandbox keeps serving after an error
    with LocalLambda(fn_dir, "app.handler", wrapper=False, env=env) as bare_fn:
        bare = bare_fn.invoke({"fail": "x1"})

    assert bare.status == traced.status == "error"
    assert (
        (traced.error_type, traced.error_message) == (bare.error_type, bare.error_message) == ("ValueError", "boom x1")
    )
    assert traced.stack_trace and bare.stack_trace
    assert traced.stack_trace[-1] == bare.stack_trace[-1]  # the user's raising frame, identical
    # The runtime's own X-Ray cause header names the user's exception, not one of ours.
    for inv in (traced, bare):
        cause = inv.error_cause
        assert cause is not None
        assert cause["exceptions"][0]["type"] == "ValueError"
        assert cause["exceptions"][0]["message"] == "boom x1"

    doc = by_name(traced.documents, "## handler")
    assert doc["fault"] is True
    assert doc["annotations"]["ColdStart"] is True
    error = doc["metadata"][SERVICE]["handler error"]
    assert error["type"] == "ValueError"
    assert error["message"] == "boom x1"
    exception = doc["cause"]["exceptions"][0]
    assert (exception["type"], exception["message"]) == ("ValueError", "boom x1")
    assert "handler response" not in doc["metadata"][SERVICE]

    assert after.status == "response"
    assert by_name(after.documents, "## handler")["annotations"]["ColdStart"] is False


def test_without_a_sampled_trace_header_nothing_is_sent_and_the_handler_still_runs(
    layer_dir: Path, tmp_path: Path
) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": APP})
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir]) as fn:
        absent = fn.invoke({"n": 1}, trace_header=None)
        unsampled = fn.invoke(
            {"n": 2}, trace_header="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
        )
        sampled = fn.invoke({"n": 3})
        everything = list(fn.daemon.documents)

    assert [absent.payload["ok"], unsampled.payload["ok"], sampled.payload["ok"]] == [1, 2, 3]
    assert unsampled.documents == []
    # Only the sampled invocation produced documents, and only its own.
    assert everything == sampled.documents
    assert names(everything) == ["## handler"]


def test_provisioned_concurrency_is_never_a_cold_start(layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": APP})
    env = {"AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency", "POWERTOOLS_SERVICE_NAME": SERVICE}
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], env=env) as fn:
        inv = fn.invoke({"n": 1})
    annotations = by_name(inv.documents, "## handler")["annotations"]
    assert (annotations["ColdStart"], annotations["InitType"]) == (False, "provisioned-concurrency")
