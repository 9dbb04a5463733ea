"""The handler rules for runtimes other than awslambdaric (resolver.py): awslambdaric's outcomes, field for field."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_tracer.resolver import HandlerError, resolve

PACKAGE = "resolver_pkg"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def task_root(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / PACKAGE).mkdir()
    (tmp_path / PACKAGE / "__init__.py").write_text("")
    (tmp_path / PACKAGE / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    (tmp_path / PACKAGE / "broken.py").write_text("def handler(:\n")
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]


def test_a_handler_in_a_package_resolves_with_dots_or_slashes(task_root: Path) -> None:
    assert resolve(f"{PACKAGE}.app.handler")(None, None) == "ok"
    assert resolve(f"{PACKAGE}/app.handler")(None, None) == "ok"


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("nodots", "Runtime.MalformedHandlerName", "Bad handler 'nodots': not enough values to unpack"),
        ("sys.handler", "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys as a handler module"),
        (f"{PACKAGE}.missing.handler", "Runtime.ImportModuleError", f"Unable to import module '{PACKAGE}.missing'"),
        (f"{PACKAGE}.broken.handler", "Runtime.UserCodeSyntaxError", f"Syntax error in module '{PACKAGE}.broken'"),
        (f"{PACKAGE}.app.nothere", "Runtime.HandlerNotFound", f"Handler 'nothere' missing on module '{PACKAGE}.app'"),
    ],
)
def test_each_failure_has_the_runtime_s_type_and_message(
    task_root: Path, handler: str, error_type: str, message: str
) -> None:
    with pytest.raises(HandlerError) as raised:
        resolve(handler)
    assert raised.value.exception_type == error_type
    assert raised.value.msg.startswith(message) and str(raised.value) == raised.value.msg


def test_the_redirect_uses_it_only_without_awslambdaric(tmp_path: Path) -> None:
    """In a process of its own: importing the redirect starts its Tracer and freezes the collector's objects."""
    program = (
        "import sys\n"
        "sys.modules['awslambdaric.bootstrap'] = None\n"
        "import lambda_tracer.handler as redirect\n"
        "from lambda_tracer.resolver import resolve\n"
        "print(redirect._runtime_resolver() is resolve)\n"
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT / "layer"), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
