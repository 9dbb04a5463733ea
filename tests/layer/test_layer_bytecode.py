"""Each Python imports the layer from its bytecode, never from the sources.

In Lambda /opt is read-only: a .pyc the interpreter rejects means compiling on every cold start. Two
checks per interpreter: (1) its .pyc files have its magic number and the hash of the shipped source (an
unchecked pyc is never compared with the source at run time, so a stale one would run old code silently);
(2) with every source replaced by code that raises, importing the package (and the zero-code handler
redirect) still works and writes nothing: proof that no module was compiled from source.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from layer_support import ROOT, build_layer

from tests.e2e.conftest import interpreter_for

CHECK_PYCS = r"""
import importlib.util, json, os, sys
layer, tag = sys.argv[1], sys.implementation.cache_tag
bad, checked = [], 0
for folder, _, files in os.walk(layer):
    for name in files:
        if not name.endswith(".py"):
            continue
        source = os.path.join(folder, name)
        pyc = importlib.util.cache_from_source(source)
        with open(pyc, "rb") as f:
            head = f.read(16)
        with open(source, "rb") as f:
            expected = importlib.util.source_hash(f.read())
        checked += 1
        if head[:4] != importlib.util.MAGIC_NUMBER or head[4:8] != b"\x01\0\0\0" or head[8:16] != expected:
            bad.append(pyc)
print(json.dumps({"checked": checked, "bad": bad}))
"""

IMPORT_ALL = r"""
import importlib, json, os, pkgutil, sys
layer, task_root = sys.argv[1], sys.argv[2]
sys.path[:0] = [task_root, layer]
import lambda_tracer
for info in pkgutil.iter_modules(lambda_tracer.__path__):
    # handler: imported last, the way the runtime does (it resolves the user's handler); otel*: loaded only once the
    # function imports the OpenTelemetry API, its own dependency (its bytecode is checked like every module's above)
    if info.name != "handler" and not info.name.startswith("otel"):
        importlib.import_module("lambda_tracer." + info.name)
import aws_xray_sdk.core, wrapt
from aws_xray_sdk.core import xray_recorder  # lambda_tracer defers this package's init; run it too
import lambda_tracer.handler
from_layer = sorted(
    name for name, m in sys.modules.items() if (getattr(m, "__file__", None) or "").startswith(layer + os.sep)
)
from aws_xray_sdk.core.models.entity import Entity
docs = [lambda_tracer.__doc__, lambda_tracer.Tracer.__doc__, lambda_tracer.Tracer.capture_method.__doc__]
first_line = lambda_tracer.Tracer.capture_method.__code__.co_firstlineno
print(json.dumps({"modules": from_layer, "wrapt_c": "wrapt._wrappers" in sys.modules, "docs": docs,
                  "sdk_doc": bool(Entity.put_annotation.__doc__), "first_line": first_line}))
"""

USER_APP = "def handler(event, context):\n    return event\n"


def isolated_env(task_root: Path) -> dict[str, str]:
    """Like a Lambda sandbox, minus the runtime: only the variables the package reads at import."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(task_root),
        "LAMBDA_TASK_ROOT": str(task_root),
        "LAMBDA_TRACER_ORIGINAL_HANDLER": "app.handler",
        "_HANDLER": "lambda_tracer.handler.handler",
        "AWS_LAMBDA_FUNCTION_NAME": "layer-bytecode-test",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",
        "PYTHONHASHSEED": "0",
    }


@pytest.mark.parametrize("minor", build_layer.PYTHON_VERSIONS)
def test_pycs_match_interpreter_and_sources(minor: str, layer_dir: Path, manifest: dict[str, object]) -> None:
    python = interpreter_for(minor)  # pyenv's; for 3.14 without one, Debian's (tools/python314.py)
    bytecode = manifest["bytecode"]
    assert isinstance(bytecode, dict)
    assert minor in bytecode["compiled_by"], f"Python {minor} is here but the build did not compile for it"
    done = subprocess.run(
        [str(python), "-I", "-S", "-c", CHECK_PYCS, str(layer_dir / "python")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["checked"] > 100
    assert result["bad"] == []


@pytest.mark.parametrize("minor", build_layer.PYTHON_VERSIONS)
def test_imports_from_bytecode_only(minor: str, layer_dir: Path, tmp_path: Path) -> None:
    python = interpreter_for(minor)  # pyenv's; for 3.14 without one, Debian's (tools/python314.py)
    opt = tmp_path / "opt"
    shutil.copytree(layer_dir, opt)
    sources = list((opt / "python").rglob("*.py"))
    for source in sources:
        source.chmod(0o644)
        source.write_text(f"raise RuntimeError('compiled from source: {source.name}')\n")
    before = sorted(p.relative_to(opt) for p in opt.rglob("*"))
    task_root = tmp_path / "task"
    task_root.mkdir()
    (task_root / "app.py").write_text(USER_APP)

    done = subprocess.run(
        [str(python), "-I", "-S", "-c", IMPORT_ALL, str(opt / "python"), str(task_root)],
        capture_output=True,
        text=True,
        timeout=120,
        env=isolated_env(task_root),
        check=False,
    )

    assert done.returncode == 0, f"import failed (a module was compiled from source?):\n{done.stderr}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "lambda_tracer.handler" in result["modules"]
    assert "aws_xray_sdk.core.recorder" in result["modules"]
    assert "wrapt.wrappers" in result["modules"]
    if os.uname().machine in ("x86_64", "aarch64"):
        assert result["wrapt_c"], f"wrapt's C extension for {minor} on {os.uname().machine} did not load"
    # /opt is read-only in Lambda (and chmod does not stop root here): nothing may have been written.
    assert sorted(p.relative_to(opt) for p in opt.rglob("*")) == before
    # lambda_tracer's bytecode is compiled as -OO compiles it (build_layer.STRIP_DOCSTRINGS), the SDK's is not; the
    # line numbers are the sources' (tracebacks show the right lines).
    assert result["docs"] == [None, None, None] and result["sdk_doc"]
    assert result["first_line"] == _def_line(layer_dir / "python" / "lambda_tracer" / "tracer.py", "capture_method")


def _def_line(source: Path, name: str) -> int:
    """Where a function's code starts (its first decorator, as ``co_firstlineno`` counts it)."""
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
    raise AssertionError(f"no def {name} in {source}")


def test_the_package_has_nothing_minus_oo_would_change_but_its_docstrings() -> None:
    """The layer compiles lambda_tracer as ``python -OO`` does, which also drops ``assert`` statements and makes
    ``__debug__`` false: the package must use neither, or the layer would behave otherwise than the sources."""
    found = []
    for source in sorted((ROOT / "layer" / "lambda_tracer").rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Assert) or (isinstance(node, ast.Name) and node.id == "__debug__"):
                found.append(f"{source.name}:{node.lineno}")
    assert found == []
