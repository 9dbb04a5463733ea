"""The PyPI package: a wheel with both packages, the typing marker, the boot scripts and the command."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contents(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("lambda_tracer-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "lambda_tracer/__init__.py",
        "lambda_tracer/handler.py",
        "lambda_tracer/py.typed",
        "lambda_tracer_local/cli.py",
        "lambda_tracer_local/bootstrap/bootstrap",
        "lambda_tracer_local/bootstrap/bootstrap.py",
    ):
        assert required in names, required
    assert not [name for name in names if name.startswith(("tests/", "examples/", "bench/", "tools/"))]
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Requires-Dist: aws-xray-sdk<3,>=2.15.0" in metadata and "Requires-Dist: wrapt<2,>=1.17.3" in metadata
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "lambda-tracer-local = lambda_tracer_local.cli:main" in entry_points
