"""The PyPI package: what the wheel holds, and that it needs nothing it does not declare.

The wheel is built from a clean copy of the sources (pyproject.toml, README.md, layer/, local/): setuptools
builds in the checkout's build/lib and never empties it, so a module deleted or moved since an earlier build
there would ship again. Users get the tracer and the local runtime; the maintainer's tools (tools/: the layer
build, publishing, mutation testing) are not in it.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "layer", "local")
PACKAGES = {
    "lambda_tracer": ROOT / "layer" / "lambda_tracer",
    "lambda_tracer_local": ROOT / "local" / "lambda_tracer_local",
}
#: Imported inside a function, only when the user's code brings them or inside a Lambda runtime; never needed to
#: install or import the package. Anything else the wheel imports must be a declared dependency.
OPTIONAL = {
    "aiohttp": "instrumented when the function uses it",
    "botocore": "instrumented when the function uses it (every Lambda Python runtime has it)",
    "snapshot_restore_py": "the SnapStart hooks module of Lambda's Python runtime, there only in a SnapStart sandbox",
    "opentelemetry": "the OpenTelemetry API, bridged when the function imports it (its dependency, never ours)",
}
#: Modules loaded only once the function has imported a library, which they may then import at the top: the
#: OpenTelemetry bridge is loaded by the import hook on ``opentelemetry.trace`` (the function's dependency).
LOADED_WITH = {
    "lambda_tracer/otel.py": "opentelemetry",
    "lambda_tracer/otel_propagation.py": "opentelemetry",
    "lambda_tracer/otel_instrumentations.py": "opentelemetry",
    "lambda_tracer/otel_attributes.py": "opentelemetry",
}
#: Not importable outside a sandbox: the runtime imports it at init (it resolves the user's handler then);
#: the e2e suite runs it from the layer.
RUNTIME_ONLY = {"lambda_tracer.handler"}
#: A script the function's interpreter runs (``--python``), with the ``local`` extra's dependencies.
BOOTSTRAP = "lambda_tracer_local/bootstrap/bootstrap.py"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check", "-w", str(out),
         str(source)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    [built] = out.glob("lambda_tracer-*.whl")
    return built


def metadata(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()


def requirements(wheel: Path) -> dict[str, list[Requirement]]:
    """Extra ("" for the default) -> the wheel's Requires-Dist for it."""
    found: dict[str, list[Requirement]] = {}
    lines = metadata(wheel).splitlines()
    extras = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Provides-Extra:")]
    for line in lines:
        if line.startswith("Requires-Dist:"):
            requirement = Requirement(line.split(":", 1)[1].strip())
            for extra in ("", *extras):
                if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                    found.setdefault(extra, []).append(requirement)
                    break
    return found


def top_level_names(dist_name: str) -> dict[str, Path]:
    """What an installed distribution puts on ``sys.path``: import name -> file or directory."""
    try:
        dist = distribution(dist_name)
    except PackageNotFoundError:
        pytest.fail(f"{dist_name} (a declared dependency, or one of theirs) is not installed in this venv")
    names: dict[str, Path] = {}
    for file in dist.files or ():
        first = file.parts[0]
        if first in ("..", "__pycache__") or first.endswith((".dist-info", ".egg-info", ".pth", ".data")):
            continue
        if len(file.parts) == 1 and not first.endswith((".py", ".so", ".pyd")):
            continue
        names[first.split(".")[0]] = Path(str(dist.locate_file(first)))
    return names


def closure(declared: list[Requirement]) -> dict[str, dict[str, Path]]:
    """Every distribution the declared requirements pull in (markers evaluated here), with its import names."""
    found: dict[str, dict[str, Path]] = {}
    todo = list(declared)
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in found or (requirement.marker is not None and not requirement.marker.evaluate({"extra": ""})):
            continue
        found[name] = top_level_names(name)
        todo.extend(Requirement(text) for text in distribution(name).requires or ())
    return found


def wheel_sources(wheel: Path) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist() if name.endswith(".py")}


def imports(source: str) -> list[tuple[str, bool]]:
    """(top-level name, deferred) of every absolute import: deferred when inside a function body, or inside a
    ``try`` that handles ImportError (the module then imports without it)."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, deferred: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            deferred = True
        if isinstance(node, ast.Try) and any(
            handler.type is None or "ImportError" in ast.unparse(handler.type) for handler in node.handlers
        ):
            for child in node.body:
                visit(child, True)
            for part in (node.handlers, node.orelse, node.finalbody):
                for child in part:
                    visit(child, deferred)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name.split(".")[0], deferred) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], deferred))
        for child in ast.iter_child_nodes(node):
            visit(child, deferred)

    visit(ast.parse(source), False)
    return found


def test_wheel_contents(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    # Exactly the sources' modules: every subpackage, and no module left over from an earlier build.
    expected = {
        f"{package}/{path.relative_to(directory).as_posix()}"
        for package, directory in PACKAGES.items()
        for path in directory.rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert {name for name in names if name.endswith(".py")} == expected
    for data in (
        "lambda_tracer/py.typed",
        "lambda_tracer_local/bootstrap/bootstrap",
        "lambda_tracer_local/page/timeline.html",
        "lambda_tracer_local/page/timeline.css",
        "lambda_tracer_local/page/timeline.js",
    ):
        assert data in names, data
    assert not [
        name for name in names if not name.startswith(("lambda_tracer/", "lambda_tracer_local/", "lambda_tracer-0"))
    ]
    assert not [name for name in names if Path(name).stem in ("publish", "build_layer", "mutation")]  # tools/
    assert "lambda-tracer-local = lambda_tracer_local.cli:main" in entry_points
    declared = {extra: sorted(str(r) for r in reqs) for extra, reqs in requirements(wheel).items()}
    assert declared == {
        "": ["aws-xray-sdk<3,>=2.15.0", "wrapt<2,>=1.17.3"],
        "local": ['awslambdaric<5,>=4.2.2; extra == "local"'],
    }


def test_every_import_in_the_wheel_is_declared(wheel: Path) -> None:
    """At import time only the (direct) default dependencies; in functions, an extra's too, or an OPTIONAL library
    (botocore comes with aws-xray-sdk, but the tracer only uses it when the function does)."""
    declared = requirements(wheel)
    direct = {name for r in declared[""] for name in top_level_names(r.name)}
    local = {name for r in declared["local"] for name in top_level_names(r.name)}
    own = set(PACKAGES)
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    undeclared: list[str] = []
    optional_used: set[str] = set()
    for path, source in sorted(wheel_sources(wheel).items()):
        allowed_now = stdlib | own | (local if path == BOOTSTRAP else direct) | {LOADED_WITH.get(path, "")}
        for name, deferred in imports(source):
            if name in allowed_now or (deferred and name in direct | local):
                continue
            if deferred and name in OPTIONAL:
                optional_used.add(name)
                continue
            undeclared.append(f"{path}: {'in a function: ' if deferred else ''}import {name}")
    assert undeclared == [], "declare these in pyproject.toml (or, if optional, import them lazily and list them)"
    assert optional_used == set(OPTIONAL), "OPTIONAL lists a library nothing imports any more"


def test_the_wheel_imports_with_only_its_declared_dependencies(wheel: Path, tmp_path: Path) -> None:
    """Every module, in an interpreter that sees the stdlib, the wheel, and the declared dependencies (with
    theirs) of this venv, nothing else: no site-packages, no PYTHONPATH, no user site."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    deps = tmp_path / "deps"
    deps.mkdir()
    for names in closure(requirements(wheel)[""]).values():
        for location in names.values():
            (deps / location.name).symlink_to(location)
    modules = sorted(
        name[:-3].replace("/", ".").removesuffix(".__init__") for name in wheel_sources(wheel) if name != BOOTSTRAP
    )
    loaded_with = {name[:-3].replace("/", ".") for name in LOADED_WITH}
    modules = [module for module in modules if module not in RUNTIME_ONLY and module not in loaded_with]
    probe = """
import importlib, json, sys
site, deps, modules = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path[:0] = [site, deps]
failed = {}
for module in modules:
    try:
        importlib.import_module(module)
    except BaseException as error:
        failed[module] = f"{type(error).__name__}: {error}"
outside = sorted(
    name for name, module in list(sys.modules.items())
    if (getattr(module, "__file__", None) or "").startswith(tuple(p for p in sys.path if "-packages" in p))
)
print(json.dumps({"failed": failed, "outside": outside, "path": sys.path}))
"""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}  # not a Lambda sandbox: tracing off
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, str(site), str(deps), json.dumps(modules)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not [p for p in result["path"] if "-packages" in p], result["path"]  # -S: no site-packages at all
    assert result["failed"] == {}
    assert result["outside"] == []
    assert "lambda_tracer.tracer" in modules and "lambda_tracer_local.cli" in modules
