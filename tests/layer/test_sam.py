"""template.yaml with the pinned AWS SAM CLI: it lints clean, and ``sam build`` makes the same layer as ``make layer``.

Both run offline (inside an empty network namespace when ``unshare -n`` works, as root here): deploying
needs AWS, but building and linting must not, so CI and developers get the same answer without an account.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from layer_support import ROOT, build_layer, run_build

TEMPLATE = ROOT / "template.yaml"


def offline_prefix() -> list[str]:
    """``unshare -n`` (no network at all) where the kernel lets us, else nothing."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True, check=False).returncode == 0:
        return [unshare, "-n"]
    return []


def run_sam(sam: tuple[Path, dict[str, str]], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``sam *args`` from the repository's root, with no network where the kernel allows it."""
    sam_exe, env = sam
    command = [*offline_prefix(), str(sam_exe), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, check=False)


def tree(root: Path) -> dict[str, tuple[int, bytes]]:
    """Files under ``root`` by relative path, with permission bits and content."""
    return {
        p.relative_to(root).as_posix(): (p.stat().st_mode & 0o777, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def zip_tree(archive: Path) -> dict[str, tuple[int, bytes]]:
    with zipfile.ZipFile(archive) as zf:
        return {i.filename: ((i.external_attr >> 16) & 0o777, zf.read(i)) for i in zf.infolist() if not i.is_dir()}


def test_sam_validate_lint(sam: tuple[Path, dict[str, str]]) -> None:
    done = run_sam(sam, "validate", "--lint", "--template-file", str(TEMPLATE))
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "is a valid SAM Template" in done.stdout + done.stderr


def test_sam_lint_catches_a_broken_template(sam: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """The lint step is live (this cfn-lint fails on a bad Tracing value), so the test above can fail."""
    broken = tmp_path / "template.yaml"
    broken.write_text(TEMPLATE.read_text().replace("Tracing: Active", "Tracing: Bogus", 1))
    done = run_sam(sam, "validate", "--lint", "--template-file", str(broken))
    assert done.returncode != 0
    assert "E3030" in done.stdout + done.stderr


def test_template_runtimes_match_the_build() -> None:
    """cfn-lint does not check a layer's CompatibleRuntimes, so the list is compared with what the build ships."""
    text = TEMPLATE.read_text()
    block = re.search(r"CompatibleRuntimes:\n((?:\s+- \S+\n)+)", text)
    assert block, "no CompatibleRuntimes list"
    runtimes = re.findall(r"- (\S+)", block[1])
    assert runtimes == [f"python{v}" for v in build_layer.PYTHON_VERSIONS]
    arches = re.search(r"CompatibleArchitectures:\n((?:\s+- \S+\n)+)", text)
    assert arches and sorted(re.findall(r"- (\S+)", arches[1])) == sorted(build_layer.ARCHITECTURES)


def test_sam_build_offline_matches_make_layer(
    sam: tuple[Path, dict[str, str]], layer_zip: Path, tmp_path: Path
) -> None:
    """``sam build TracerLayer`` runs the Makefile's build-TracerLayer; its output is the zip's content, modes included.

    ``layer_zip`` filled the download cache, so the SAM build needs no network. The reference zip is built right
    after it from the same tree (other work may edit layer/ while a long session runs).
    """
    build_dir = tmp_path / "sam-build"
    done = run_sam(
        sam, "build", "TracerLayer", "--template-file", str(TEMPLATE), "--build-dir", str(build_dir), timeout=600
    )
    output = f"{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, output
    assert "Build Succeeded" in output
    built = tree(build_dir / "TracerLayer")
    reference = tmp_path / "reference.zip"
    made = run_build(reference, "--offline")
    assert made.returncode == 0, made.stderr
    expected = zip_tree(reference)
    assert sorted(built) == sorted(expected)
    different = [name for name in expected if built[name] != expected[name]]
    assert different == [], f"differ in mode or bytes: {different[:10]}"
    assert built["lambda-tracer"][0] == 0o755


def test_build_tracer_layer_target_needs_artifacts_dir() -> None:
    """Run by hand without ARTIFACTS_DIR, the SAM target stops instead of unpacking into the repository."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "build-TracerLayer"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "ARTIFACTS_DIR is not set" in done.stderr


@pytest.mark.parametrize("function", ["ZeroCodeFunction", "InCodeFunction"])
def test_example_functions_use_the_layer(function: str) -> None:
    """Both examples: traced (Tracing: Active), on the layer; only the zero-code one goes through the wrapper."""
    text = TEMPLATE.read_text()
    match = re.search(rf"^  {function}:\n(.*?)(?=^  \S|^\S|\Z)", text, re.M | re.S)
    assert match, f"no {function} in template.yaml"
    body = match[1]
    assert "Tracing: Active" in body
    assert "- !Ref TracerLayer" in body
    assert "Runtime: python3.13" in body
    assert ("AWS_LAMBDA_EXEC_WRAPPER: /opt/lambda-tracer" in body) == (function == "ZeroCodeFunction")


def test_sam_build_whole_template_offline(sam: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """Every resource builds without network: the functions' CodeUri exist and hold their handler module."""
    build_dir = tmp_path / "sam-build"
    done = run_sam(sam, "build", "--template-file", str(TEMPLATE), "--build-dir", str(build_dir), timeout=600)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    zero_code = (build_dir / "ZeroCodeFunction" / "app.py").read_text()
    in_code = (build_dir / "InCodeFunction" / "app.py").read_text()
    assert "lambda_tracer" not in zero_code, "the zero-code example must not import lambda_tracer"
    assert "from lambda_tracer import" in in_code
    assert (build_dir / "TracerLayer" / "lambda-tracer").stat().st_mode & 0o777 == 0o755
