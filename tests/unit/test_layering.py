"""The package's layering (docs/architecture.md): imports go one way, and the one cycle left is the documented
SDK bridge (``backends/xray.py <-> backends/sdk.py``).

Every import counts, those inside functions too (a lazy import is still a dependency), except those under
``if TYPE_CHECKING:``; ``from . import name`` is an edge to the submodule ``name`` when there is one, else to
the package whose attribute it reads. The package's ``__version__`` is no edge: a constant, set in
``__init__.py`` before anything is imported, so it can be read from anywhere at any time.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "layer" / "lambda_tracer"
ALLOWED_CYCLES = [["lambda_tracer.backends.sdk", "lambda_tracer.backends.xray"]]


def module_sources() -> dict[str, tuple[str, bool]]:
    """Every module of the package: its source, and whether it is a package's ``__init__``."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(("lambda_tracer", *path.relative_to(PACKAGE).with_suffix("").parts))
        modules[name.removesuffix(".__init__")] = (path.read_text(encoding="utf-8"), path.name == "__init__.py")
    return modules


def imports_of(name: str, source: str, is_package: bool, modules: set[str]) -> set[str]:
    tree = ast.parse(source)
    package = name if is_package else name.rsplit(".", 1)[0]
    typing_only = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and getattr(branch.test, "id", None) == "TYPE_CHECKING"
        for node in ast.walk(branch)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                target = f"{base}.{node.module}" if node.module else base
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if submodule in modules:
                    found.add(submodule)
                elif alias.name != "__version__":
                    found.add(target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {module for module in found if module in modules and module != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_only_import_cycle_is_the_sdk_bridge() -> None:
    modules = module_sources()
    names = set(modules)
    graph = {name: imports_of(name, source, is_package, names) for name, (source, is_package) in modules.items()}
    assert cycles(graph) == ALLOWED_CYCLES


def test_a_lazy_import_and_a_name_read_from_the_package_are_edges() -> None:
    names = {"pkg", "pkg.plugin", "pkg.other"}
    registry = "def load():\n    from . import plugin\n"
    plugin = "from . import __version__\n\ndef hook():\n    from . import MARKER, other\n"
    typed = "TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from . import plugin\n"
    graph = {
        "pkg": imports_of("pkg", registry, True, names),
        "pkg.plugin": imports_of("pkg.plugin", plugin, False, names),
        "pkg.other": imports_of("pkg.other", typed, False, names),
    }
    assert graph == {"pkg": {"pkg.plugin"}, "pkg.plugin": {"pkg", "pkg.other"}, "pkg.other": set()}
    assert cycles(graph) == [["pkg", "pkg.plugin"]]


ROOT = PACKAGE.parents[1]
#: Issue 20's room sizes: a source file a reader can hold in their head, a function that does one job.
MAX_FILE_LINES, MAX_FUNCTION_LINES = 600, 80


def test_no_source_file_over_600_lines_and_no_function_over_80() -> None:
    too_long = []
    for folder in ("layer", "local", "tools", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            if source.count("\n") > MAX_FILE_LINES:
                too_long.append(f"{path.relative_to(ROOT)}: {source.count(chr(10))} lines")
            if folder in ("layer", "local"):
                for node in ast.walk(ast.parse(source)):
                    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                        size = (node.end_lineno or node.lineno) - node.lineno + 1
                        if size > MAX_FUNCTION_LINES:
                            too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {size} lines")
    assert too_long == []
