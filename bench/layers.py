"""The layers the bench compares, built once and cached in build/bench: ours (unpacked from the zip `make layer`
builds), the reference's and OpenTelemetry's (as their publishers build them), the runtime's venv, and the sizes
of a layer as published."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "bench"
LAYER_ZIP = ROOT / "dist" / "lambda-tracer-layer.zip"


def venv(path: Path, requirements: Path) -> Path:
    """A cached venv with exactly ``requirements`` (rebuilt when the file changes)."""
    python = path / "bin" / "python"
    stamp = path / ".requirements"
    wanted = requirements.read_text()
    if not python.exists() or not stamp.exists() or stamp.read_text() != wanted:
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements)], check=True)
        stamp.write_text(wanted)
    return python


def runtime_python() -> Path:
    """The interpreter with only what the managed runtime has (awslambdaric, boto3)."""
    BUILD.mkdir(parents=True, exist_ok=True)
    return venv(BUILD / "runtime-venv", ROOT / "requirements" / "runtime.txt")


def ours(zip_path: Path, name: str = "ours-layer") -> Path:
    """Our layer zip unpacked afresh into build/bench/``name`` (Lambda's /opt)."""
    from lambda_tracer_local.layers import unpack_layer

    directory = BUILD / name
    shutil.rmtree(directory, ignore_errors=True)
    unpack_layer(zip_path, directory)
    return directory


def reference_layer() -> Path:
    """aws-lambda-powertools[all] in python/, as its publishers build their layer (see requirements/bench.txt)."""
    return _published_layer("reference-layer", ROOT / "requirements" / "bench.txt")


def otel_layer() -> Path:
    """OpenTelemetry's Lambda instrumentation and an X-Ray-compatible SDK setup, laid out the same way."""
    return _published_layer("otel-layer", ROOT / "requirements" / "bench-otel.txt")


def _published_layer(name: str, requirements: Path) -> Path:
    """``requirements`` in python/, without what the runtime provides and without bytecode.

    That is how the reference's publishers build their layer (they delete boto*, urllib3, dateutil, six,
    jmespath, s3transfer, tests, __pycache__ and .pyc files), so a cold start compiles it, as in Lambda.
    """
    layer = BUILD / name
    stamp = layer / ".requirements"
    if stamp.exists() and stamp.read_text() == requirements.read_text():
        return layer
    shutil.rmtree(layer, ignore_errors=True)
    target = layer / "python"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--target", str(target), "--no-compile"]
    subprocess.run([*pip, "-r", str(requirements)], check=True)
    for pattern in ("boto3*", "botocore*", "s3transfer*", "urllib3*", "*dateutil*", "six*", "jmespath*", "bin"):
        for path in target.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for junk in [*target.rglob("__pycache__"), *target.rglob("tests")]:
        if junk.is_dir():
            shutil.rmtree(junk, ignore_errors=True)
    stamp.write_text(requirements.read_text())
    return layer


def zip_size(directory: Path) -> tuple[int, int]:
    """(zipped, unzipped) bytes of ``directory`` as a deflated layer zip, as published: without the bytecode the
    runs write there (the published layer has none)."""
    files = [
        p
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != ".requirements" and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]
    unzipped = sum(p.stat().st_size for p in files)
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "layer.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
            for path in files:
                out.write(path, path.relative_to(directory))
        return archive.stat().st_size, unzipped
