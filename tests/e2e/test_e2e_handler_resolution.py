"""Error parity: every way a handler string can resolve (or fail to) looks the same with and without the layer.

Each scenario runs twice through the real runtime, once bare and once with the built layer and its exec
wrapper, and the two are compared field by field: phase (init or invoke), errorType, errorMessage, the
payload, and how many times the user's module body ran (the redirect must not import it twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from lambda_tracer_local.daemon import by_name
from lambda_tracer_local.runtime import Invocation, LocalLambda

from .support import COUNT_EXECUTION, executions, outcome, write_function

HANDLER = "\ndef handler(event, context):\n    return {'module': __name__, 'event': event}\n"


@dataclass(frozen=True)
class Scenario:
    handler: str
    files: dict[str, str]
    phase: str  # "init" or "invoke"
    error_type: str | None  # None: the invocations succeed
    message: str | None  # expected errorMessage (exact) for init errors
    executions: int  # how many times the user's module body runs in one sandbox


SCENARIOS = {
    "missing module": Scenario(
        "nosuch.handler",
        {"app.py": COUNT_EXECUTION + HANDLER},
        "init",
        "Runtime.ImportModuleError",
        "Unable to import module 'nosuch': No module named 'nosuch'",
        0,
    ),
    "syntax error": Scenario(
        "broken.handler",
        {"broken.py": COUNT_EXECUTION + "\ndef handler(event, context)\n    return 1\n"},
        "init",
        "Runtime.UserCodeSyntaxError",
        None,  # the wording of SyntaxError differs between Python versions; compared with the bare run only
        0,
    ),
    "missing function": Scenario(
        "app.handler",
        {"app.py": COUNT_EXECUTION + "\ndef other(event, context):\n    return 1\n"},
        "init",
        "Runtime.HandlerNotFound",
        "Handler 'handler' missing on module 'app'",
        1,
    ),
    "malformed handler": Scenario(
        "nohandler",
        {"app.py": COUNT_EXECUTION + HANDLER},
        "init",
        "Runtime.MalformedHandlerName",
        "Bad handler 'nohandler': not enough values to unpack (expected 2, got 1)",
        0,
    ),
    "built-in module name": Scenario(
        "time.handler",
        {"time.py": COUNT_EXECUTION + HANDLER},
        "init",
        "Runtime.BuiltInModuleConflict",
        "Cannot use built-in module time as a handler module",
        0,
    ),
    "exception at import": Scenario(
        "app.handler",
        {"app.py": COUNT_EXECUTION + "\nraise ValueError('config missing')\n" + HANDLER},
        "init",
        "ValueError",
        "config missing",
        1,
    ),
    "AttributeError at import": Scenario(
        "app.handler",
        {"app.py": COUNT_EXECUTION + "\nimport os\nos.no_such_attribute\n" + HANDLER},
        "init",
        "AttributeError",
        "module 'os' has no attribute 'no_such_attribute'",
        1,
    ),
    "missing dependency": Scenario(
        "app.handler",
        {"app.py": COUNT_EXECUTION + "\nimport definitely_not_installed_dep\n" + HANDLER},
        "init",
        "Runtime.ImportModuleError",
        "Unable to import module 'app': No module named 'definitely_not_installed_dep'",
        1,
    ),
    "dir/module handler": Scenario(
        "sub/mod.handler",
        {"sub/mod.py": COUNT_EXECUTION + HANDLER},
        "invoke",
        None,
        None,
        1,
    ),
    "dotted package with relative import": Scenario(
        "pkg.mod.handler",
        {
            "pkg/__init__.py": "",
            "pkg/helper.py": "VALUE = 'helped'\n",
            "pkg/mod.py": COUNT_EXECUTION
            + "\nfrom . import helper\n"
            + "\ndef handler(event, context):\n    return {'module': __name__, 'value': helper.VALUE}\n",
        },
        "invoke",
        None,
        None,
        1,
    ),
}


def _run(
    scenario: Scenario, fn_dir: Path, counter: Path, layer_dir: Path | None
) -> tuple[list[Invocation], int, int | None, str]:
    """Two invocations in one sandbox; returns them, the module's execution count, the exit code, the output."""
    opt = {"opt_dirs": [layer_dir], "wrapper": True} if layer_dir else {"wrapper": False}
    with LocalLambda(fn_dir, scenario.handler, env={"COUNTER_FILE": str(counter)}, **opt) as fn:
        invocations = [fn.invoke({"n": 1}), fn.invoke({"n": 2})]
        exit_code = fn.exit_code
        output = fn.output
    return invocations, executions(counter), exit_code, output


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_same_outcome_with_and_without_the_layer(name: str, layer_dir: Path, tmp_path: Path) -> None:
    scenario = SCENARIOS[name]
    fn_dir = write_function(tmp_path / "fn", scenario.files)  # one directory: paths in messages are comparable
    bare, bare_runs, bare_exit, bare_output = _run(scenario, fn_dir, tmp_path / "bare.count", None)
    traced, traced_runs, traced_exit, traced_output = _run(scenario, fn_dir, tmp_path / "traced.count", layer_dir)

    # Field by field, invocation by invocation.
    for without, with_layer in zip(bare, traced, strict=True):
        assert outcome(with_layer) == outcome(without), f"bare output:\n{bare_output}\ntraced output:\n{traced_output}"
    assert traced_runs == bare_runs == scenario.executions
    assert traced_exit == bare_exit

    first = traced[0]
    assert outcome(first)["phase"] == scenario.phase, traced_output
    if scenario.error_type is None:
        assert [inv.status for inv in traced] == ["response", "response"]
        for inv in traced:  # and the layer really traced them
            assert by_name(inv.documents, "## handler")["annotations"]["ColdStart"] is (inv is first)
        return
    assert first.error_type == scenario.error_type
    if scenario.message is not None:
        assert first.error_message == scenario.message
    assert traced_exit == 1  # awslambdaric exits after reporting an init error
    if scenario.error_type.startswith("Runtime."):
        # The runtime's own fault reports carry a deterministic stack trace: identical too.
        assert first.stack_trace == bare[0].stack_trace
    elif bare[0].stack_trace:
        # The user's module raised: two frames more than without the layer (the redirect's __getattr__, which
        # resolves the handler when the runtime reads it, and the runtime's resolver it calls), no more.
        ours = [frame for frame in first.stack_trace or [] if "lambda_tracer" in frame]
        assert len(ours) == 1 and "in __getattr__" in ours[0], first.stack_trace
        assert len(first.stack_trace or []) == len(bare[0].stack_trace) + 2, (first.stack_trace, bare[0].stack_trace)
    # Init never reached a handler: nothing to trace, and the error names the user's module, not ours.
    assert first.documents == []
    assert "lambda_tracer" not in (first.error_message or "")
