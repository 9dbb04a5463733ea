"""What the layer zip must hold, and the properties of its build (deterministic, within budget).

Each check guards something Lambda users would hit: a wrapper without its exec bit is an init failure,
a missing extension module silently slows wrapt down on that runtime, a shipped botocore shadows the
runtime's, and a timestamp-based .pyc is stale under /opt so every cold start recompiles.
"""

from __future__ import annotations

import json
import stat
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from layer_support import ROOT, build_layer, run_build

WRAPPER = ROOT / "wrapper" / "lambda-tracer"


def infos(archive: Path) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(archive) as zf:
        return {info.filename: info for info in zf.infolist()}


def test_wrapper_at_root_is_0755_and_identical(layer_zip: Path) -> None:
    info = infos(layer_zip)["lambda-tracer"]
    assert info.external_attr >> 16 == stat.S_IFREG | 0o755
    with zipfile.ZipFile(layer_zip) as zf:
        assert zf.read(info) == WRAPPER.read_bytes()


def test_fixed_modes_and_dates(layer_zip: Path) -> None:
    """Every entry is 0644, or 0755 for the wrapper and directories, and dated 1980-01-01 (determinism)."""
    for name, info in infos(layer_zip).items():
        mode = info.external_attr >> 16
        if name.endswith("/"):
            assert mode == stat.S_IFDIR | 0o755, name
        elif name != "lambda-tracer":
            assert mode == stat.S_IFREG | 0o644, name
        assert info.date_time == (1980, 1, 1, 0, 0, 0), name


def test_package_is_shipped_whole(layer_zip: Path) -> None:
    names = set(infos(layer_zip))
    package = ROOT / "layer" / "lambda_tracer"
    expected = {
        f"python/lambda_tracer/{p.relative_to(package).as_posix()}"
        for p in package.rglob("*")
        if p.is_file()
        and p.suffix != ".pyc"
        and not any(x == "__pycache__" or x.startswith(".") for x in p.relative_to(package).parts)
    }
    assert "python/lambda_tracer/handler.py" in expected
    assert "python/lambda_tracer/py.typed" in expected
    assert expected <= names, sorted(expected - names)


def test_extension_modules_for_every_runtime_and_architecture(layer_zip: Path) -> None:
    names = set(infos(layer_zip))
    expected = {
        f"python/wrapt/_wrappers.cpython-{py}-{arch}-linux-gnu.so"
        for py in ("310", "311", "312", "313", "314")
        for arch in ("x86_64", "aarch64")
    }
    assert expected <= names, sorted(expected - names)
    extensions = {n for n in names if n.endswith(".so")}
    assert extensions == expected, f"unexpected extension modules: {sorted(extensions - expected)}"


def test_elf_headers_match_the_file_names(layer_zip: Path) -> None:
    """The x86_64 files are x86-64 ELF and the aarch64 ones AArch64 ELF: nothing was built for the host."""
    machines = {"x86_64": 62, "aarch64": 183}  # ELF e_machine values
    with zipfile.ZipFile(layer_zip) as zf:
        for name in (n for n in zf.namelist() if n.endswith(".so")):
            head = zf.read(name)[:20]
            assert head[:4] == b"\x7fELF", name
            (machine,) = struct.unpack("<H", head[18:20])
            arch = name.rsplit("-linux-gnu.so", 1)[0].rsplit("-", 1)[1]
            assert machine == machines[arch], f"{name}: e_machine {machine}"


def test_no_runtime_provided_packages(layer_zip: Path) -> None:
    tops = {name.split("/")[1] for name in infos(layer_zip) if name.startswith("python/") and name != "python/"}
    forbidden = ("boto3", "botocore", "s3transfer", "urllib3", "jmespath", "dateutil", "six")
    found = {top for top in tops for f in forbidden if top == f or top == f + ".py" or top.startswith(f + "-")}
    found |= {top for top in tops if top.startswith("python_dateutil")}
    assert not found
    assert {"aws_xray_sdk", "wrapt", "lambda_tracer"} <= tops


def test_no_pip_leftovers(layer_zip: Path) -> None:
    """No pip bytecode, tests, RECORD/WHEEL/INSTALLER; licences and METADATA stay (see DIST_INFO_DROP)."""
    names = set(infos(layer_zip))
    for name in names:
        parts = name.split("/")
        assert "tests" not in parts and "test" not in parts, name
        assert parts[-1] not in {"RECORD", "WHEEL", "INSTALLER", "REQUESTED"}, name
        if name.endswith(".pyc"):
            assert parts[-2] == "__pycache__", name
    assert "python/aws_xray_sdk-2.15.0.dist-info/NOTICE" in names
    assert "python/aws_xray_sdk-2.15.0.dist-info/LICENSE" in names
    assert "python/wrapt-1.17.3.dist-info/METADATA" in names


def pyc_flags(data: bytes) -> int:
    (flags,) = struct.unpack("<I", data[4:8])
    return flags


def test_bytecode_is_unchecked_hash_for_each_compiled_version(layer_zip: Path, manifest: dict[str, object]) -> None:
    """PEP 552 flags 0b01 (hash-based, unchecked) on every .pyc; one .pyc per .py and compiled version."""
    bytecode = manifest["bytecode"]
    assert isinstance(bytecode, dict)
    compiled = sorted(bytecode["compiled_by"])
    assert compiled, "no version got bytecode"
    with zipfile.ZipFile(layer_zip) as zf:
        names = set(zf.namelist())
        sources = [n for n in names if n.startswith("python/") and n.endswith(".py")]
        for minor in compiled:
            tag = minor.replace(".", "")
            for source in sources:
                folder, _, file = source.rpartition("/")
                pyc = f"{folder}/__pycache__/{file[:-3]}.cpython-{tag}.pyc"
                assert pyc in names, f"no bytecode for {source} on {minor}"
        pycs = [n for n in names if n.endswith(".pyc")]
        assert len(pycs) == len(sources) * len(compiled)
        for pyc in pycs:
            assert pyc_flags(zf.read(pyc)) == 0b01, f"{pyc} is not an unchecked hash-based pyc"


def test_manifest(manifest: dict[str, object]) -> None:
    assert manifest["dependencies"] == build_layer.read_requirements(ROOT / "requirements" / "layer.txt")
    assert manifest["architectures"] == ["arm64", "x86_64"]
    assert manifest["python_versions"] == ["3.10", "3.11", "3.12", "3.13", "3.14"]
    bytecode = manifest["bytecode"]
    assert isinstance(bytecode, dict)
    assert sorted([*bytecode["compiled_by"], *bytecode["source_only"]]) == manifest["python_versions"]
    # Whatever this machine has: the host Python always compiles for its own version.
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" in bytecode["compiled_by"]


def test_two_builds_are_byte_identical(layer_zip: Path, manifest: dict[str, object], tmp_path: Path) -> None:
    """Also: the build says which versions get no bytecode, and why that costs them (sizes are printed)."""
    again = tmp_path / "again.zip"
    done = run_build(again, "--offline")
    assert done.returncode == 0, done.stderr
    assert again.read_bytes() == layer_zip.read_bytes()
    bytecode = manifest["bytecode"]
    assert isinstance(bytecode, dict)
    for minor in bytecode["source_only"]:
        assert f"no Python {minor} interpreter found" in done.stderr
        assert "compiles at import on every cold start" in done.stderr
    assert "KiB zipped" in done.stderr and "KiB unzipped" in done.stderr


def test_python314_gets_bytecode(manifest: dict[str, object]) -> None:
    """Lambda has a python3.14 runtime: without a local 3.14 the build fetches Debian's (tools/python314.py)."""
    bytecode = manifest["bytecode"]
    assert isinstance(bytecode, dict)
    reason = build_layer.python314_module().unsupported_reason()
    if "3.14" in bytecode["source_only"] and reason:
        pytest.skip(f"no Python 3.14 here, and Debian's cannot be used on this machine: {reason}")
    assert "3.14" in bytecode["compiled_by"], "no 3.14 bytecode: see the build's WARNING (tools/python314.py)"
    assert bytecode["compiled_by"]["3.14"].startswith("3.14.")


def test_without_python314_the_build_warns_loudly_and_marks_the_zip(
    layer_zip: Path, manifest: dict[str, object], tmp_path: Path
) -> None:
    """No 3.14 to be had (here: an empty python3.14 home and --offline, so nothing is downloaded): the zip is
    still built, without 3.14 bytecode, the manifest says so, and the warning is hard to miss."""
    output = tmp_path / "source-only.zip"
    done = run_build(output, "--offline", env={"LAMBDA_TRACER_PYTHON314_HOME": str(tmp_path / "python3.14")})
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(output) as zf:
        names = zf.namelist()
        built: dict[str, object] = json.loads(zf.read(build_layer.MANIFEST_NAME))
    bytecode = built["bytecode"]
    assert isinstance(bytecode, dict)
    if "3.14" in bytecode["compiled_by"]:
        pytest.skip("this machine has a Python 3.14 of its own (pyenv or PATH): nothing to fetch, nothing to miss")
    assert bytecode["source_only"] == ["3.14"]
    assert not [n for n in names if n.endswith(".cpython-314.pyc")]
    # Everything else as in the normal build: only the 3.14 bytecode and the manifest differ.
    other = manifest["bytecode"]
    assert isinstance(other, dict)
    assert {k: v for k, v in other["compiled_by"].items() if k != "3.14"} == bytecode["compiled_by"]
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line]
    assert sum("this layer has NO BYTECODE for Python 3.14" in line for line in warnings) == 2  # start and end
    assert any("downloading it is not allowed (offline)" in line for line in warnings), done.stderr
    assert any("compiles at import on every cold start" in line for line in warnings)
    assert any("`make publish` refuses this zip" in line for line in warnings)
    assert not (tmp_path / "python3.14").exists()


def test_size_budget_is_enforced(layer_zip: Path, tmp_path: Path) -> None:
    """Over budget: non-zero exit, a clear message, and no zip left behind for make to take as up to date."""
    output = tmp_path / "small.zip"
    done = run_build(output, "--offline", "--max-zipped-bytes", "100000")
    assert done.returncode != 0
    assert "over the budget of 100000 bytes" in done.stderr
    assert not output.exists()
    assert list(tmp_path.iterdir()) == []
    assert layer_zip.stat().st_size <= build_layer.DEFAULT_MAX_ZIPPED


def test_offline_build_fails_clearly_without_cache(tmp_path: Path) -> None:
    """--offline with an empty cache must not reach the network, and says what is missing."""
    done = run_build(tmp_path / "x.zip", "--offline", "--cache-dir", str(tmp_path / "empty-cache"))
    assert done.returncode == 1
    assert "not in the cache" in done.stderr and "--offline" in done.stderr


def test_unpack_keeps_modes(layer_zip: Path, tmp_path: Path) -> None:
    """The tool's --unpack (what ``sam build`` runs) keeps the wrapper executable."""
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_layer.py"), "--unpack", str(layer_zip), str(tmp_path)], check=True
    )
    assert (tmp_path / "lambda-tracer").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "python" / "lambda_tracer" / "handler.py").stat().st_mode & 0o777 == 0o644
