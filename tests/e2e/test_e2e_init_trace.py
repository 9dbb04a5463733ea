"""Cold-start anatomy through the built layer and the real runtime: ``## init`` and its imports on the first
invocation, nothing after, the limits, init errors as without the layer, SnapStart and provisioned concurrency.

The function imports a module of its own that sleeps 30 ms at import, boto3 (a client made at init) and an
optional module that fails to import, which it catches. Every invocation is held against X-Ray's rules
(conftest). Times are compared with each other and with the runtime's own init (the local Runtime API's
``Init Duration``), never with fixed thresholds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambda_tracer_local.render import init_line, render_invocation
from lambda_tracer_local.runtime import Invocation, LocalLambda

from .support import assert_each_trace_valid, outcome, write_function

APP = """
import slowmod

try:
    import optional_feature
except ImportError:
    optional_feature = None

import boto3

s3 = boto3.client("s3", region_name="us-east-1")


def handler(event, context):
    return {"ok": event.get("n"), "optional": optional_feature is not None}
"""
FILES = {
    "app.py": APP,
    "slowmod.py": "import time\n\ntime.sleep(0.03)\n",
    "optional_feature.py": "import lambda_tracer_test_not_installed\n",
}
SLEPT_MS = 30
ON = {"LAMBDA_TRACER_INIT_TRACE": "true"}


def flat(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every subsegment, embedded ones as their own (with the parent_id their nesting implies)."""
    found: list[dict[str, Any]] = []

    def walk(doc: dict[str, Any], parent: str | None) -> None:
        found.append({key: value for key, value in doc.items() if key != "subsegments"} | {"parent_id": parent})
        for child in doc.get("subsegments") or []:
            walk(child, doc["id"])

    for doc in documents:
        walk(doc, doc.get("parent_id"))
    return found


def by_name(documents: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (found,) = [doc for doc in flat(documents) if doc.get("name") == name]
    return found


def run(fn_dir: Path, layer_dir: Path, invocations: int = 2, **env: str) -> tuple[list[Invocation], str]:
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], env={**ON, **env}) as fn:
        done = [fn.invoke({"n": n}) for n in range(invocations)]
        return done, fn.output


def ms(doc: dict[str, Any]) -> float:
    return (doc["end_time"] - doc["start_time"]) * 1000


def imports(inv: Invocation) -> list[dict[str, Any]]:
    return [doc for doc in flat(inv.documents) if str(doc.get("name")).startswith("import ")]


def descendants(doc: dict[str, Any], docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found, frontier = [], [doc["id"]]
    while frontier:
        kids = [other for other in docs if other.get("parent_id") in frontier]
        found += kids
        frontier = [kid["id"] for kid in kids]
    return found


@pytest.fixture
def fn_dir(tmp_path: Path) -> Path:
    return write_function(tmp_path / "fn", FILES)


def test_the_first_invocation_shows_init_import_by_import(fn_dir: Path, layer_dir: Path) -> None:
    (first, second), output = run(fn_dir, layer_dir)
    assert [first.status, second.status] == ["response", "response"], output
    assert first.payload == {"ok": 0, "optional": False}  # the function caught its failing import, as without us

    init, handler = by_name(first.documents, "## init"), by_name(first.documents, "## handler")
    # Same trace, same parent as the handler; init ended before the handler started, within the runtime's init.
    assert init["trace_id"] == handler["trace_id"] == first.trace_id
    assert init["parent_id"] == handler["parent_id"] == first.parent_id
    assert init["end_time"] <= handler["start_time"]
    assert first.init_duration_ms is not None and ms(init) <= first.init_duration_ms

    docs = imports(first)
    ids = {doc["id"]: doc for doc in docs}
    app = by_name(first.documents, "import app")
    assert app["parent_id"] == init["id"]
    for doc in docs:  # nested as the imports nested: every import under ## init or another import, within it
        parent = init if doc["parent_id"] == init["id"] else ids[doc["parent_id"]]
        assert parent["start_time"] <= doc["start_time"] <= doc["end_time"] <= parent["end_time"], doc["name"]
    slow, boto3 = by_name(first.documents, "import slowmod"), by_name(first.documents, "import boto3")
    assert slow["parent_id"] == boto3["parent_id"] == app["id"]
    assert ms(slow) >= SLEPT_MS
    assert any(doc["name"].startswith("import botocore.") for doc in descendants(boto3, docs))
    failed = by_name(first.documents, "import optional_feature")
    assert failed["parent_id"] == app["id"] and failed["fault"] is True
    (exception,) = failed["cause"]["exceptions"]
    assert exception["type"] == "ModuleNotFoundError"
    assert "fault" not in app and "fault" not in init  # the failure was caught inside app

    # What init spent, on ## init: annotation and metadata.
    assert init["annotations"] == {"InitImportsMs": pytest.approx(ms(app), abs=0.01)}
    meta = init["metadata"]["init"]["init"]
    assert meta["init_ms"] == pytest.approx(ms(init), abs=0.01)
    assert meta["imports_ms"] == init["annotations"]["InitImportsMs"]
    assert meta["min_ms"] == 1.0 and meta["init_type"] == "on-demand"
    assert meta["modules_imported"] == len(docs) + meta["too_small"] + meta["over_limit"]
    assert len(docs) + 1 <= 100
    # Only what took 1 ms or more (or failed), and what leads to it.
    for doc in docs:
        assert (
            ms(doc) >= 1.0
            or doc.get("fault")
            or any(ms(kid) >= 1.0 or kid.get("fault") for kid in descendants(doc, docs))
        )

    # Later invocations send nothing more.
    assert [doc["name"] for doc in flat(second.documents)] == ["## handler"]
    assert by_name(first.documents, "## handler")["annotations"]["ColdStart"] is True


def test_the_local_runtime_prints_the_init_line(fn_dir: Path, layer_dir: Path) -> None:
    (first, second), _ = run(fn_dir, layer_dir)
    line = init_line(first.documents)
    assert line is not None
    init, app = by_name(first.documents, "## init"), by_name(first.documents, "import app")
    direct = sorted(
        (doc for doc in imports(first) if doc["parent_id"] == app["id"]), key=lambda doc: ms(doc), reverse=True
    )
    named = [doc["name"].removeprefix("import ") for doc in direct]
    assert (
        line.startswith(f"init: {ms(init):.0f} ms, ")
        and line.split(", ")[1:][: len(named)]
        == [f"{name} {ms(doc):.0f} ms" for name, doc in zip(named, direct, strict=True)][:4]
    )
    assert {"boto3", "slowmod"} <= {part.split()[0] for part in line.split(", ")[1:]}
    assert f"\n  {line}\n" in render_invocation(first)
    assert init_line(second.documents) is None and "init:" not in render_invocation(second)


def test_the_minimum_time(fn_dir: Path, layer_dir: Path) -> None:
    (first, _), _ = run(fn_dir, layer_dir, LAMBDA_TRACER_INIT_MIN_MS=str(SLEPT_MS - 5))
    docs = imports(first)
    names = [doc["name"] for doc in docs]
    assert "import slowmod" in names and "import optional_feature" in names  # slept; failed
    for doc in docs:
        assert (
            ms(doc) >= SLEPT_MS - 5
            or doc.get("fault")
            or any(ms(kid) >= SLEPT_MS - 5 or kid.get("fault") for kid in descendants(doc, docs))
        )
    meta = by_name(first.documents, "## init")["metadata"]["init"]["init"]
    assert meta["min_ms"] == SLEPT_MS - 5 and meta["too_small"] > 0


def test_at_most_100_subsegments_the_slowest(fn_dir: Path, layer_dir: Path) -> None:
    (first, _), _ = run(fn_dir, layer_dir, LAMBDA_TRACER_INIT_MIN_MS="0")
    docs = imports(first)
    assert len(docs) + 1 == 100  # boto3 imports hundreds of modules: ## init and the 99 slowest
    meta = by_name(first.documents, "## init")["metadata"]["init"]["init"]
    assert meta["too_small"] == 0 and meta["over_limit"] == meta["modules_imported"] - 99 > 0
    names = [doc["name"] for doc in docs]
    assert "import slowmod" in names and "import optional_feature" in names  # among the slowest; failed
    ids = {doc["id"] for doc in docs} | {by_name(first.documents, "## init")["id"]}
    assert all(doc["parent_id"] in ids for doc in docs)  # every kept import's ancestors are kept


@pytest.mark.parametrize("value", ["false", "0", "off"])
def test_off(fn_dir: Path, layer_dir: Path, value: str) -> None:
    (first,), output = run(fn_dir, layer_dir, invocations=1, LAMBDA_TRACER_INIT_TRACE=value)
    assert [doc["name"] for doc in flat(first.documents)] == ["## handler"]
    assert "LAMBDA_TRACER_INIT_TRACE" not in output


def test_bad_settings_warn_once_and_use_the_defaults(fn_dir: Path, layer_dir: Path) -> None:
    (first, _), output = run(fn_dir, layer_dir, LAMBDA_TRACER_INIT_MIN_MS="fast")
    assert by_name(first.documents, "## init")["metadata"]["init"]["init"]["min_ms"] == 1.0
    assert output.count("ignoring LAMBDA_TRACER_INIT_MIN_MS='fast' (not understood); using the default, 1") == 1

    (first, _), output = run(fn_dir, layer_dir, LAMBDA_TRACER_INIT_TRACE="maybe")
    warning = "ignoring LAMBDA_TRACER_INIT_TRACE='maybe' (not understood); using "
    assert output.count(warning) == 1
    default = output.split(warning, 1)[1].split()[0]
    assert default in ("True", "False")
    assert ("## init" in [doc["name"] for doc in flat(first.documents)]) is (default == "True")


INIT_ERRORS = {
    "a module the handler imports raises": {
        **FILES,
        "app.py": "import config_loader\n\ndef handler(event, context):\n    return 1\n",
        "config_loader.py": "import slowmod\n\nraise ValueError('CONFIG_URL is not set')\n",
    },
    "a dependency is missing": {
        **FILES,
        "app.py": "import slowmod\nimport lambda_tracer_test_not_installed\n",
    },
    "the handler's module raises after its imports": {
        **FILES,
        "app.py": "import slowmod\nimport boto3\n\nraise RuntimeError('no table name')\n",
    },
}


@pytest.mark.parametrize("name", list(INIT_ERRORS))
def test_an_init_error_is_reported_as_without_the_layer(name: str, layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", INIT_ERRORS[name])
    with LocalLambda(fn_dir, "app.handler", wrapper=False) as bare_fn:
        bare = bare_fn.invoke({})
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], env=ON) as traced_fn:
        traced = traced_fn.invoke({})
        exit_code = traced_fn.exit_code
    assert traced.status == bare.status == "init_error"
    assert outcome(traced) == outcome(bare)
    assert exit_code == 1
    if not bare.stack_trace:  # the runtime's own fault report (Runtime.ImportModuleError): no frames either way
        assert traced.stack_trace == bare.stack_trace
    else:  # the same frames, plus the redirect's two (its __getattr__, the runtime's resolver): the hook's are cut
        ours = [frame for frame in traced.stack_trace or [] if "lambda_tracer" in frame]
        assert len(ours) == 1 and "in __getattr__" in ours[0], traced.stack_trace
        assert len(traced.stack_trace or []) == len(bare.stack_trace) + 2
        tail = len(bare.stack_trace) - 1  # the user's frames (the first is the runtime's resolver, on another line)
        assert (traced.stack_trace or [])[len(traced.stack_trace or []) - tail :] == bare.stack_trace[1:]
    assert traced.documents == []  # init never reached an invocation: nothing to attach ## init to


def test_provisioned_concurrency_records_init_with_its_own_times(fn_dir: Path, layer_dir: Path) -> None:
    (first, second), _ = run(fn_dir, layer_dir, AWS_LAMBDA_INITIALIZATION_TYPE="provisioned-concurrency")
    init, handler = by_name(first.documents, "## init"), by_name(first.documents, "## handler")
    assert handler["annotations"]["ColdStart"] is False  # nobody waited for init...
    assert init["metadata"]["init"]["init"]["init_type"] == "provisioned-concurrency"  # ...but it is shown
    assert init["end_time"] <= handler["start_time"] and "import slowmod" in [d["name"] for d in imports(first)]
    assert "## init" not in [doc["name"] for doc in flat(second.documents)]


#: The SnapStart interpreters have the runtime client only (no boto3).
SNAP_APP = APP.replace('import boto3\n\ns3 = boto3.client("s3", region_name="us-east-1")\n', "")


class TestSnapStart:
    @pytest.fixture(autouse=True)
    def _xray_rules_on_every_invocation(self) -> None:
        """A restored sandbox's datagrams cannot be told apart by arrival here: assert_each_trace_valid checks each
        trace on its own instead (as test_e2e_snapstart.py does)."""

    def test_each_restored_sandbox_shows_the_one_init(
        self, venv_python: Callable[[str], Path], layer_dir: Path, tmp_path: Path
    ) -> None:
        assert "boto3" not in SNAP_APP
        fn_dir = write_function(tmp_path / "fn", {**FILES, "app.py": SNAP_APP})
        python = venv_python("3.12")
        sandboxes: list[list[Invocation]] = []
        with LocalLambda(fn_dir, opt_dirs=[layer_dir], python=python, snap_start=True, env=ON) as fn:
            for number in range(2):
                if number:
                    fn.restore()
                sandboxes.append([fn.invoke({"n": number}), fn.invoke({"n": number})])
            assert_each_trace_valid(fn, [inv for sandbox in sandboxes for inv in sandbox])
        inits = []
        for first, second in sandboxes:
            assert first.status == second.status == "response"
            init = by_name(first.documents, "## init")
            assert by_name(first.documents, "## handler")["annotations"]["Restored"] is True
            assert init["metadata"]["init"]["init"]["init_type"] == "snap-start"
            assert "## init" not in [doc["name"] for doc in flat(second.documents)]
            inits.append(init)
        # Init ran once, before the snapshot: both sandboxes show it, with its real times, under ids of their own.
        assert (inits[0]["start_time"], inits[0]["end_time"]) == (inits[1]["start_time"], inits[1]["end_time"])
        assert inits[0]["id"] != inits[1]["id"] and inits[0]["trace_id"] != inits[1]["trace_id"]
        first_ids = {doc["id"] for doc in imports(sandboxes[0][0])}
        assert first_ids and first_ids.isdisjoint({doc["id"] for doc in imports(sandboxes[1][0])})


def test_under_otlp_the_same_tree_goes_out_as_spans(fn_dir: Path, layer_dir: Path) -> None:
    from .otlp_support import invoke, spans_of

    env = {**ON, "LAMBDA_TRACER_EXPORTER": "otlp"}
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], env=env) as fn:
        first, datagrams = invoke(fn, {"n": 0})
        second, later = invoke(fn, {"n": 1})
    assert first.status == second.status == "response"
    spans = {span.name: span for _, _, span in spans_of(datagrams)}
    init, handler, app = spans["## init"], spans["## handler"], spans["import app"]
    assert init.parent_span_id == handler.parent_span_id and init.trace_id == handler.trace_id
    assert app.parent_span_id == init.span_id
    assert spans["import slowmod"].parent_span_id == app.span_id
    assert spans["import optional_feature"].status.code == 2  # ERROR: it raised
    assert init.start_time_unix_nano <= app.start_time_unix_nano <= app.end_time_unix_nano <= init.end_time_unix_nano
    assert init.end_time_unix_nano <= handler.start_time_unix_nano
    assert [span.name for _, _, span in spans_of(later)] == ["## handler"]


PYTHONS = ["3.10", "3.12", "3.13", "3.14"]
ON_PYTHON = {
    "app.py": "import slowmod\nimport config_loader\n\ndef handler(event, context):\n    return 1\n",
    "slowmod.py": "import time\n\ntime.sleep(0.03)\n",
    "config_loader.py": "import json\n",
}


@pytest.mark.parametrize("version", PYTHONS)
def test_the_hook_on_each_python(
    version: str, venv_python: Callable[[str], Path], layer_dir: Path, tmp_path: Path
) -> None:
    """The hook stands in for a function of the import system's (``importlib._bootstrap._load_unlocked``): on each
    supported Python the imports are timed and nested, and an init error's frames are the runtime's own."""
    python = venv_python(version)
    fn_dir = write_function(tmp_path / "fn", ON_PYTHON)
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], python=python, env=ON) as fn:
        first = fn.invoke({})
    assert first.status == "response"
    init, app, slow = (by_name(first.documents, name) for name in ("## init", "import app", "import slowmod"))
    assert app["parent_id"] == init["id"] and slow["parent_id"] == app["id"] and ms(slow) >= SLEPT_MS

    (fn_dir / "config_loader.py").write_text("import slowmod\n\nraise ValueError('CONFIG_URL is not set')\n")
    with LocalLambda(fn_dir, "app.handler", wrapper=False, python=python) as bare_fn:
        bare = bare_fn.invoke({})
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], python=python, env=ON) as traced_fn:
        traced = traced_fn.invoke({})
    assert traced.status == bare.status == "init_error" and outcome(traced) == outcome(bare)
    assert len(traced.stack_trace or []) == len(bare.stack_trace or []) + 2  # the redirect's two, no frame of the hook
    assert (traced.stack_trace or [])[-(len(bare.stack_trace or []) - 1) :] == (bare.stack_trace or [])[1:]
