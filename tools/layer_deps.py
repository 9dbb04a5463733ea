"""The layer's dependencies: exact pins, one pip install per (Python, architecture) target, merged into one tree.

Part of tools/build_layer.py (which says why the layer is built this way). pip cross-installs
requirements/layer.txt for each of Lambda's Python runtimes on x86_64 and arm64; every file but the extension
modules must come out byte-identical across the ten installs before they are merged.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Lambda's Python runtimes this layer is built for (template.yaml lists the same ones).
PYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
# Lambda architecture name -> (pip platform tag, architecture in extension module file names).
ARCHITECTURES = {"x86_64": ("manylinux2014_x86_64", "x86_64"), "arm64": ("manylinux2014_aarch64", "aarch64")}
# Every Lambda Python runtime ships these (boto3 and its dependencies); a copy in the layer would shadow
# the runtime's, so the build fails if one slips in.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "urllib3", "jmespath", "dateutil", "six")
# dist-info files kept: METADATA keeps importlib.metadata working, and the licences (Apache-2.0 NOTICE for
# aws-xray-sdk, BSD for wrapt) must travel with the code. RECORD, WHEEL, INSTALLER and REQUESTED describe
# one per-target install (WHEEL's tags differ per target, RECORD lists the hashes of that install) and would
# be wrong for the merged tree.
DIST_INFO_DROP = {"RECORD", "WHEEL", "INSTALLER", "REQUESTED", "direct_url.json"}
# Dropped anywhere in the dependencies: test suites and whatever bytecode pip may have written.
DROP_DIRS = {"__pycache__", "tests", "test"}
# Bump to invalidate the cached per-target installs when the way they are made changes.
CACHE_FORMAT = "1"
DOWNLOAD_LOCK = threading.Lock()


class BuildError(Exception):
    """A build step failed; the message says which and why (printed without a traceback)."""


@dataclass(frozen=True)
class Target:
    """One (Python version, architecture) pair that pip installs the dependencies for."""

    python: str
    arch: str

    @property
    def tag(self) -> str:
        return f"cp{self.python.replace('.', '')}-{ARCHITECTURES[self.arch][1]}"

    @property
    def extension_suffix(self) -> str:
        """The suffix CPython on Lambda (Linux, glibc) looks for, e.g. ``.cpython-312-aarch64-linux-gnu.so``."""
        return f".cpython-{self.python.replace('.', '')}-{ARCHITECTURES[self.arch][1]}-linux-gnu.so"


def log(message: str) -> None:
    print(f"build_layer: {message}", file=sys.stderr, flush=True)


def all_targets() -> list[Target]:
    return [Target(py, arch) for py in PYTHON_VERSIONS for arch in ARCHITECTURES]


# ---------------------------------------------------------------- requirements and the per-target installs


def read_requirements(path: Path) -> dict[str, str]:
    """Exact pins only (``name==version``): anything looser would make the layer depend on the day it is built."""
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([A-Za-z0-9.+!-]+)", line)
        if not match:
            raise BuildError(f"{path}: {line!r} is not an exact pin (name==version)")
        pins[canonical_name(match[1])] = match[2]
    if not pins:
        raise BuildError(f"{path}: no requirements")
    return pins


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_command(target: Target, requirements: list[str], *args: str) -> list[str]:
    """pip restricted to prebuilt wheels for the target, so nothing is ever built for the host by accident."""
    return [
        sys.executable,
        "-m",
        "pip",
        *args,
        "--disable-pip-version-check",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        ARCHITECTURES[target.arch][0],
        "--python-version",
        target.python,
        "--implementation",
        "cp",
        *requirements,
    ]


def run(
    cmd: list[str], what: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        raise BuildError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{output}")
    return proc


def install_target(target: Target, requirements: list[str], wheels: Path, dest: Path, offline: bool) -> None:
    """Install one target into ``dest`` from the wheel cache, downloading the wheels first when missing."""
    install = pip_command(
        target,
        requirements,
        "install",
        "--quiet",
        "--no-compile",
        "--no-index",
        "--find-links",
        str(wheels),
        "--target",
        str(dest),
    )
    if subprocess.run(install, capture_output=True, check=False).returncode == 0:
        return
    if offline:
        raise BuildError(f"{target.tag}: wheels not in the cache {wheels} and --offline was given")
    # One download at a time: targets share the pure-Python wheels, and an install must never read a wheel
    # that another thread's pip is still writing (once a wheel is there, pip download leaves it alone).
    with DOWNLOAD_LOCK:
        log(f"{target.tag}: downloading {' '.join(requirements)}")
        download = pip_command(target, requirements, "download", "--quiet", "--dest", str(wheels))
        run(download, f"{target.tag}: pip download")
    shutil.rmtree(dest, ignore_errors=True)
    run(install, f"{target.tag}: pip install")


def check_target(target: Target, tree: Path) -> None:
    """Fail if pip gave this target anything that is not for it (a wrong-platform or host-built extension)."""
    for path in tree.rglob("*"):
        if path.suffix in {".so", ".pyd", ".dylib"} and not path.name.endswith(target.extension_suffix):
            raise BuildError(f"{target.tag}: unexpected extension module {path.relative_to(tree)}")
    for wheel in tree.glob("*.dist-info/WHEEL"):
        tags = re.findall(r"^Tag: (\S+)$", wheel.read_text(), re.M)
        py = f"cp{target.python.replace('.', '')}"
        arch = ARCHITECTURES[target.arch][1]
        ok = [t for t in tags if t.split("-")[2] == "any" or (t.startswith(py + "-") and t.endswith(arch))]
        if not tags or len(ok) != len(tags):
            raise BuildError(f"{target.tag}: {wheel.parent.name} has wheel tags {tags}, not for this target")
    found = sorted(p.name for p in tree.iterdir() if top_level_name(p.name) in RUNTIME_PROVIDED)
    if found:
        raise BuildError(f"{target.tag}: runtime-provided packages were installed: {found}")


def top_level_name(name: str) -> str:
    """``botocore-1.2.dist-info`` -> ``botocore``, ``six.py`` -> ``six``, ``python_dateutil-...`` -> ``dateutil``."""
    if name.endswith((".dist-info", ".egg-info")):
        name = canonical_name(name.rsplit("-", 1)[0]).replace("python-", "")
    return name.removesuffix(".py").replace("-", "_")


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Serialise cache fills: tests and ``make`` may build at the same time."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def installed_targets(pins: dict[str, str], cache: Path, offline: bool) -> dict[Target, Path]:
    """One installed tree per target, cached under ``cache`` by the hash of the pins (no network when cached)."""
    requirements = [f"{name}=={version}" for name, version in sorted(pins.items())]
    key = hashlib.sha256("\n".join([CACHE_FORMAT, *requirements]).encode()).hexdigest()[:16]
    trees = cache / "targets" / key
    wheels = cache / "wheels"
    result = {target: trees / target.tag for target in all_targets()}
    with locked(cache):
        missing = [t for t, tree in result.items() if not (tree / ".complete").exists()]
        if missing:
            wheels.mkdir(parents=True, exist_ok=True)
            log(f"installing {', '.join(requirements)} for {len(missing)} targets into {trees}")

            def fill(target: Target) -> None:
                tmp = trees / f".{target.tag}.tmp"
                shutil.rmtree(tmp, ignore_errors=True)
                install_target(target, requirements, wheels, tmp, offline)
                check_target(target, tmp)
                (tmp / ".complete").write_text("\n".join(requirements) + "\n")
                shutil.rmtree(result[target], ignore_errors=True)
                tmp.rename(result[target])

            with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
                for future in [pool.submit(fill, t) for t in missing]:
                    future.result()
    return result


# ---------------------------------------------------------------- merging the targets


def dependency_files(tree: Path) -> dict[str, Path]:
    """The files of one install that go into the layer, by path relative to ``python/``."""
    files: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(tree):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d not in DROP_DIRS and not d.endswith(".data") and d != "bin")
        in_dist_info = any(part.endswith(".dist-info") for part in here.relative_to(tree).parts)
        for name in filenames:
            if here == tree and name == ".complete":
                continue
            if name.endswith((".pyc", ".pyo")) or (in_dist_info and name in DIST_INFO_DROP):
                continue
            path = here / name
            files[path.relative_to(tree).as_posix()] = path
    return files


def merge_targets(trees: dict[Target, Path]) -> dict[str, bytes]:
    """Merge the installs; every file but the per-target extension modules must be identical in all of them."""
    merged: dict[str, bytes] = {}
    origin: dict[str, Target] = {}
    common: set[str] | None = None
    for target, tree in sorted(trees.items(), key=lambda item: item[0].tag):
        files = dependency_files(tree)
        shared = {rel for rel in files if not rel.endswith(target.extension_suffix)}
        if common is None:
            common = shared
        elif shared != common:
            diff = sorted(shared ^ common)[:10]
            raise BuildError(f"{target.tag}: its non-extension files differ from the other targets' (e.g. {diff})")
        for rel, path in files.items():
            data = path.read_bytes()
            if rel in merged and merged[rel] != data:
                raise BuildError(f"{rel} differs between {origin[rel].tag} and {target.tag}: refusing to merge")
            merged.setdefault(rel, data)
            origin.setdefault(rel, target)
    return merged
