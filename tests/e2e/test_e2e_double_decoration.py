"""Zero-code and in-code together: a handler already traced in code gets exactly one ``## handler``."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_tracer_local.daemon import by_name
from lambda_tracer_local.runtime import LocalLambda

from .support import names, write_function

APP = """
import os
from {module} import Tracer

tracer = Tracer()

@tracer.capture_method
def work(n):
    return n * 2

@tracer.capture_lambda_handler
def handler(event, context):
    return {{"n": work(event["n"]), "handler": os.environ["_HANDLER"]}}
"""
TRACERS = {"lambda_tracer": "lambda_tracer", "Powertools": "aws_lambda_powertools"}


# A handler decorated in code (by us or by Powertools, whose functools.wraps hides everything but its code
# object) must get exactly one handler subsegment, with the exec wrapper or without.
@pytest.mark.parametrize(
    ("tracer", "wrapper"),
    [
        pytest.param("lambda_tracer", True, id="lambda_tracer with wrapper"),
        pytest.param("lambda_tracer", False, id="lambda_tracer in code only"),
        pytest.param("Powertools", True, id="Powertools with wrapper"),
        pytest.param("Powertools", False, id="Powertools in code only"),
    ],
)
def test_one_handler_subsegment_per_invocation(tracer: str, wrapper: bool, layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": APP.format(module=TRACERS[tracer])})
    env = {"POWERTOOLS_SERVICE_NAME": "double"}
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], wrapper=wrapper, env=env) as fn:
        invocations = [fn.invoke({"n": 1}), fn.invoke({"n": 2})]
    expected_handler = "lambda_tracer.handler.handler" if wrapper else "app.handler"
    for inv, n, cold in zip(invocations, (1, 2), (True, False), strict=True):
        assert inv.status == "response", f"{inv.error_type}: {inv.error_message}"
        assert inv.payload == {"n": n * 2, "handler": expected_handler}  # the wrapper really was in play (or not)
        assert names(inv.documents) == ["## app.work", "## handler"]
        handler = by_name(inv.documents, "## handler")
        assert handler["annotations"]["ColdStart"] is cold
        assert handler["annotations"]["Service"] == "double"
        assert handler["parent_id"] == inv.parent_id
        assert by_name(inv.documents, "## app.work")["parent_id"] == handler["id"]
