"""tools/python314.py: Debian's CPython 3.14 under build/python3.14, for the layer's 3.14 bytecode and the suites.

The first two tests never touch the network (a home in tmp_path, offline or with a recent failure recorded).
The last one uses the shared build/python3.14 (fetched by the layer build, or here on a first run).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load() -> ModuleType:
    name = "_lambda_tracer_python314"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "python314.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


python314 = load()


def test_offline_without_a_cached_interpreter_fails_without_downloading(tmp_path: Path) -> None:
    if python314.unsupported_reason():
        pytest.skip(python314.unsupported_reason())
    home = tmp_path / "python3.14"
    with pytest.raises(python314.Unavailable, match=r"not allowed \(offline\)") as caught:
        python314.ensure(home, offline=True, log=lambda message: None)
    assert not caught.value.unsupported
    assert not home.exists()


def test_a_recent_failure_is_not_retried_by_callers_that_do_not_insist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tests pass retry_failed=False: one failed fetch, not one per xdist worker and per test."""
    if python314.unsupported_reason():
        pytest.skip(python314.unsupported_reason())
    monkeypatch.setenv(python314.MIRROR_ENV, "http://127.0.0.1:9/debian")  # were it tried, it would fail
    home = tmp_path / "python3.14"
    failed = tmp_path / ".python3.14.failed"
    record = json.dumps({"time": time.time() - 5, "reason": "apt-get update failed: no route"})
    failed.write_text(record)
    with pytest.raises(python314.Unavailable, match=r"apt-get update failed: no route \(failed \d+ s ago"):
        python314.ensure(home, retry_failed=False, log=lambda message: None)
    assert failed.read_text() == record  # a fetch tried again would have written its own failure there
    assert not home.exists()


def test_the_interpreter_is_a_final_3_14_and_makes_venvs_with_pip(tmp_path: Path) -> None:
    try:
        python = python314.ensure(retry_failed=False)
    except python314.Unavailable as error:
        if error.unsupported:
            pytest.skip(str(error))
        raise
    probe = "import json, ssl, sys; v = sys.version_info; print(json.dumps([v[:2], v.releaselevel, sys.executable]))"
    done = subprocess.run([str(python), "-I", "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    version, level, executable = json.loads(done.stdout)
    assert (version, level) == ([3, 14], "final")
    assert executable == str(python)  # the link, which runs, not Debian's bare ELF, which needs its loader
    venv_python = python314.make_venv(tmp_path / "venv")
    check = "import sys, pip; print(sys.prefix != sys.base_prefix, sys.executable)"
    done = subprocess.run([str(venv_python), "-c", check], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["True", str(venv_python)]
