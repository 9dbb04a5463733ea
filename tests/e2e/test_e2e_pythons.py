"""The same zip on every Lambda Python found here: each interpreter runs awslambdaric from its own venv,
and everything else (lambda_tracer, the X-Ray SDK, wrapt) comes from the layer, as in Lambda."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lambda_tracer_local.daemon import by_name
from lambda_tracer_local.runtime import Invocation, LocalLambda

from .support import names, outcome, write_function

VERSIONS = ["3.10", "3.12", "3.13", "3.14"]
SERVICE = "versions"
APP = """
import os
import sys

def handler(event, context):
    if "fail" in event:
        raise KeyError(event["fail"])
    return {
        "python": "%d.%d" % sys.version_info[:2],
        "execution_env": os.environ["AWS_EXECUTION_ENV"],
        "tracer_from": sys.modules["lambda_tracer"].__file__,
    }
"""


@pytest.mark.parametrize("version", VERSIONS)
def test_traced_on_python(version: str, venv_python: Callable[[str], Path], layer_dir: Path, tmp_path: Path) -> None:
    python = venv_python(version)
    fn_dir = write_function(tmp_path / "fn", {"app.py": APP})
    env = {"POWERTOOLS_SERVICE_NAME": SERVICE}

    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], python=python, env=env) as fn:
        cold, warm, failed = fn.invoke({}), fn.invoke({}), fn.invoke({"fail": "missing-key"})
        output = fn.output
    assert cold.status == warm.status == "response", output
    assert cold.payload["python"] == version
    assert cold.payload["execution_env"] == f"AWS_Lambda_python{version}"
    assert cold.payload["tracer_from"].startswith(str(layer_dir))
    for inv, is_cold in ((cold, True), (warm, False)):
        assert names(inv.documents) == ["## handler"], output
        doc = by_name(inv.documents, "## handler")
        assert (doc["trace_id"], doc["parent_id"]) == (inv.trace_id, inv.parent_id)
        assert doc["annotations"]["ColdStart"] is is_cold
        assert doc["annotations"]["Service"] == SERVICE
        assert doc["metadata"][SERVICE]["handler response"] == inv.payload

    doc = by_name(failed.documents, "## handler")
    assert doc["fault"] is True
    assert doc["metadata"][SERVICE]["handler error"]["type"] == "KeyError"

    with LocalLambda(fn_dir, "app.handler", wrapper=False, python=python) as bare_fn:
        bare = bare_fn.invoke({"fail": "missing-key"})
    assert outcome(failed) == outcome(bare)
    assert (failed.error_type, failed.error_message) == ("KeyError", "'missing-key'")


@pytest.mark.parametrize("version", VERSIONS)
def test_init_error_parity_on_python(
    version: str, venv_python: Callable[[str], Path], layer_dir: Path, tmp_path: Path
) -> None:
    traced, _ = _init_with_and_without_layer(
        venv_python(version), layer_dir, tmp_path, "import definitely_not_installed_dep\n"
    )
    assert traced.status == "init_error"
    assert traced.error_type == "Runtime.ImportModuleError"
    assert traced.error_message == "Unable to import module 'app': No module named 'definitely_not_installed_dep'"


@pytest.mark.parametrize("version", VERSIONS)
def test_attribute_error_at_import_parity_on_python(
    version: str, venv_python: Callable[[str], Path], layer_dir: Path, tmp_path: Path
) -> None:
    """An AttributeError raised by the user's module is reported as itself (the runtime reads the redirect's
    ``handler`` with getattr, which would turn it into Runtime.HandlerNotFound about lambda_tracer.handler)."""
    traced, bare = _init_with_and_without_layer(
        venv_python(version), layer_dir, tmp_path, "import os\nos.no_such_attribute\n"
    )
    assert (traced.error_type, traced.error_message) == (
        "AttributeError",
        "module 'os' has no attribute 'no_such_attribute'",
    )
    # The user's frames, and two more: the redirect's __getattr__ and the runtime's resolver it calls.
    assert len(traced.stack_trace or []) == len(bare.stack_trace or []) + 2, (traced.stack_trace, bare.stack_trace)
    assert (traced.stack_trace or [""])[-1] == (bare.stack_trace or [""])[-1]


def _init_with_and_without_layer(
    python: Path, layer_dir: Path, tmp_path: Path, prelude: str
) -> tuple[Invocation, Invocation]:
    """The first invocation's outcome of a function whose module starts with ``prelude``, with the layer and
    without, after checking they are the same."""
    fn_dir = write_function(tmp_path / "fn", {"app.py": prelude + APP})
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], python=python) as fn:
        traced = fn.invoke({})
    with LocalLambda(fn_dir, "app.handler", wrapper=False, python=python) as bare_fn:
        bare = bare_fn.invoke({})
    assert outcome(traced) == outcome(bare)
    return traced, bare
