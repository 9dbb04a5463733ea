#!/usr/bin/env python3
"""Build the lambda-tracer Lambda layer: one deterministic zip for every Python runtime and architecture.

Layout of the zip (unpacked by Lambda under /opt):

    lambda-tracer                       the exec wrapper (0755): AWS_LAMBDA_EXEC_WRAPPER=/opt/lambda-tracer
    lambda-tracer-layer.json            manifest: versions, architectures, which Pythons got bytecode, which
                                        ELF files had their debug sections zeroed
    python/lambda_tracer/...            the package
    python/aws_xray_sdk/..., wrapt/...  requirements/layer.txt, cross-installed for cp310-cp314 on
                                        x86_64 and aarch64 and merged; the C extensions sit side by side

Why it is built this way:

* One zip for all runtimes and both architectures: wrapt's extension file names carry the Python version
  and the architecture, so they never collide, and every other file is checked byte-identical across the
  ten installs before they are merged (tools/layer_deps.py).
* Bytecode compiled with ``--invalidation-mode unchecked-hash`` by each interpreter found here: /opt is
  read-only in Lambda, so without a usable .pyc every cold start compiles the sources again, and the zip
  timestamps would invalidate ordinary (timestamp-based) .pyc files. Without a Python 3.14 (pyenv, PATH,
  --interpreter), tools/python314.py fetches Debian's into build/python3.14 (cached). A version left without
  bytecode is listed under ``bytecode.source_only`` in the manifest, with a loud warning, and
  ``make publish`` refuses such a zip unless told otherwise.
* The debug sections of the shipped ELF files (wrapt's wheels are "with debug_info, not stripped") are
  overwritten with zeros in place, in pure Python: the loader never reads them, the file layout stays the
  same, and zeros deflate to almost nothing (``zero_debug_sections``, in tools/elf_debug.py).
* Only the standard library and pip are needed (not the dev venv), so ``sam build`` can run it too (plus
  apt-get and dpkg-deb, and Debian's mirror, to fetch a Python 3.14 the first time, when there is none).
* Deterministic (sorted entries, fixed timestamps and modes), so that two builds can be compared byte for
  byte and a rebuild of an unchanged tree is a no-op for deployment tools that hash the zip.

Usage: ``python3 tools/build_layer.py [--output dist/lambda-tracer-layer.zip]``;
``python3 tools/build_layer.py --unpack ZIP DIR`` unpacks a built zip with its file modes (for ``sam build``),
refusing any entry that would land, link or delete outside DIR.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import functools
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

_TOOLS = str(Path(__file__).resolve().parent)
if _TOOLS not in sys.path:  # the sibling modules, also when this script is imported by path (the tests do)
    sys.path.insert(0, _TOOLS)

from elf_debug import zero_debug_sections as zero_debug_sections  # noqa: E402  (re-exported: the tests use it)
from elf_debug import zero_layer_debug_sections  # noqa: E402
from layer_deps import (  # noqa: E402
    ARCHITECTURES,
    PYTHON_VERSIONS,
    RUNTIME_PROVIDED,
    BuildError,
    all_targets,
    installed_targets,
    log,
    merge_targets,
    read_requirements,
    run,
    top_level_name,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "dist" / "lambda-tracer-layer.zip"
DEFAULT_CACHE = ROOT / "build" / "layer-cache"
REQUIREMENTS = ROOT / "requirements" / "layer.txt"
PACKAGE_DIR = ROOT / "layer" / "lambda_tracer"
WRAPPER = ROOT / "wrapper" / "lambda-tracer"
LAYERS_MODULE = ROOT / "local" / "lambda_tracer_local" / "layers.py"
PYTHON314_MODULE = ROOT / "tools" / "python314.py"

WRAPPER_NAME = "lambda-tracer"
MANIFEST_NAME = "lambda-tracer-layer.json"
# Budget for the zipped layer, to catch bloat early (Lambda's own limits, 50 MB zipped and 250 MB unzipped
# for a function and its layers, are far away). The measured size is in docs/performance.md; the OTLP exporter,
# the OpenTelemetry bridge and the init trace took it past the first budget of 2.5 MiB. 3 MiB leaves room for
# the package to grow, and still fails on any stray dependency (botocore alone is over 10 MiB zipped).
DEFAULT_MAX_ZIPPED = 3 * 1024 * 1024
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
# Where Lambda mounts layers: compiled into the bytecode as the source path, so tracebacks of a module
# that is never re-read show /opt/python/..., and the .pyc bytes do not depend on the build directory.
OPT_PYTHON = "/opt/python"
HASH_SEED = "0"


@dataclass(frozen=True)
class Interpreter:
    """A CPython that compiles bytecode for its own version."""

    minor: str
    version: str
    path: str


# ---------------------------------------------------------------- bytecode


def pyenv_root() -> Path | None:
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True, timeout=10).stdout
        if out.strip():
            return Path(out.strip())
    home = Path.home() / ".pyenv"
    return home if home.is_dir() else None


def probe(path: str) -> Interpreter | None:
    """Ask an interpreter what it is; only final CPython releases (a pre-release has another magic number)."""
    code = (
        "import sys; v = sys.version_info; "
        "print(sys.implementation.name, v.releaselevel, '%d.%d' % v[:2], '%d.%d.%d' % v[:3])"
    )
    try:
        out = subprocess.run([path, "-I", "-c", code], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    fields = out.split()
    if len(fields) != 4 or fields[0] != "cpython" or fields[1] != "final":
        return None
    return Interpreter(minor=fields[2], version=fields[3], path=path)


def find_interpreters(extra: list[str]) -> dict[str, Interpreter]:
    """A CPython for each layer Python version: --interpreter paths, then pyenv's, then PATH, then this one."""
    interpreters: dict[str, Interpreter] = {}

    def consider(path: str) -> None:
        interp = probe(path) if os.access(path, os.X_OK) else None
        if interp and interp.minor in PYTHON_VERSIONS and interp.minor not in interpreters:
            interpreters[interp.minor] = interp

    for path in extra:
        consider(path)
    root = pyenv_root()
    if root is not None and (root / "versions").is_dir():
        releases = [
            p
            for p in (root / "versions").iterdir()
            if re.fullmatch(r"3\.\d+\.\d+", p.name) and ".".join(p.name.split(".")[:2]) in PYTHON_VERSIONS
        ]
        for version_dir in sorted(releases, key=lambda p: [int(x) for x in p.name.split(".")], reverse=True):
            minor = ".".join(version_dir.name.split(".")[:2])
            if minor not in interpreters:
                consider(str(version_dir / "bin" / f"python{minor}"))
    for minor in PYTHON_VERSIONS:
        found = shutil.which(f"python{minor}") if minor not in interpreters else None
        if found:
            consider(found)  # may be a pyenv shim that fails for versions not selected: probe() says so
    consider(sys.executable)
    return interpreters


def fetch_python314(interpreters: dict[str, Interpreter], offline: bool) -> str | None:
    """Debian's 3.14 from tools/python314.py (cached in build/python3.14) when no 3.14 was found here.

    Returns why there is still no 3.14 (None when there is one). --offline uses a cached one only.
    """
    python314 = python314_module()
    if python314.MINOR in interpreters:
        return None
    try:
        path = python314.ensure(offline=offline, log=log)
    except python314.Unavailable as error:
        return str(error)
    interp = probe(str(path))
    if interp is None or interp.minor != python314.MINOR:
        return f"{path} does not run as a final CPython {python314.MINOR}"
    interpreters[interp.minor] = interp
    return None


def warn_source_only(missing: dict[str, str]) -> None:
    """Loud, because the zip is still written: a layer without bytecode for a runtime it claims."""
    bar = "!" * 110
    log(bar)
    for minor, reason in missing.items():
        log(f"WARNING: no Python {minor} interpreter found: this layer has NO BYTECODE for Python {minor}.")
        for line in reason.splitlines():
            log(f"WARNING:     {line}")
        log(
            f"WARNING: it ships only the .py sources for {minor}, which its runtime compiles at import on every "
            f"cold start (/opt is read-only)."
        )
    log(
        f"WARNING: the manifest ({MANIFEST_NAME}) lists {', '.join(missing)} under bytecode.source_only, and "
        f"`make publish` refuses this zip (PUBLISH_ARGS=--allow-source-only to publish it anyway)."
    )
    log(bar)


#: lambda_tracer's own modules compiled again as ``python -OO`` compiles them, into the same .pyc: without their
#: docstrings, which are for the sources shipped beside them, and which every cold start would otherwise unmarshal
#: (docs/building.md). -OO also drops ``assert`` statements: the package has none (test_layer_bytecode).
STRIP_DOCSTRINGS = r"""
import importlib.util, os, py_compile, sys
root, opt, package = sys.argv[1:4]
for folder, folders, files in os.walk(os.path.join(root, package)):
    folders[:] = sorted(name for name in folders if name != "__pycache__")
    for name in sorted(name for name in files if name.endswith(".py")):
        source = os.path.join(folder, name)
        py_compile.compile(
            source, importlib.util.cache_from_source(source), opt + source[len(root):], doraise=True, optimize=2,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
"""


def compile_bytecode(python_dir: Path, interpreters: dict[str, Interpreter]) -> None:
    """Compile every .py under python/ once per interpreter into __pycache__/<mod>.cpython-3XX.pyc, lambda_tracer's
    without docstrings (``STRIP_DOCSTRINGS``).

    unchecked-hash: the runtime loads the .pyc without looking at the source's mtime or hash, so neither the
    zip's fixed timestamps nor the read-only /opt can make it recompile. PYTHONHASHSEED is fixed because
    marshal writes frozenset constants in hash order, which would otherwise vary from build to build.
    """
    # Not -I: it implies -E, which would ignore PYTHONHASHSEED. The other PYTHON* variables are dropped instead.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = HASH_SEED

    def one(interp: Interpreter) -> None:
        cmd = [interp.path, "-s", "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash"]
        # compileall's -s/-p: record /opt/python/... as the source path instead of this temporary directory.
        cmd += ["-s", str(python_dir), "-p", OPT_PYTHON, str(python_dir)]
        run(cmd, f"compiling bytecode with Python {interp.version}", env=env, cwd=python_dir.parent)
        strip = [interp.path, "-s", "-c", STRIP_DOCSTRINGS, str(python_dir), OPT_PYTHON, "lambda_tracer"]
        run(strip, f"compiling lambda_tracer without docstrings with Python {interp.version}", env=env)

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(one, i) for i in interpreters.values()]:
            future.result()


# ---------------------------------------------------------------- staging, zipping, checking


def package_files() -> dict[str, bytes]:
    """lambda_tracer's own files (sources, py.typed, data), without bytecode or hidden files."""
    files: dict[str, bytes] = {}
    for path in sorted(PACKAGE_DIR.rglob("*")):
        rel = path.relative_to(PACKAGE_DIR)
        if not path.is_file() or any(p == "__pycache__" or p.startswith(".") for p in rel.parts):
            continue
        if path.suffix in {".pyc", ".pyo"}:
            continue
        files[f"lambda_tracer/{rel.as_posix()}"] = path.read_bytes()
    if "lambda_tracer/handler.py" not in files:
        raise BuildError(f"{PACKAGE_DIR}/handler.py is missing")
    return files


def package_version() -> str:
    match = re.search(r'^__version__ = "([^"]+)"', (PACKAGE_DIR / "__init__.py").read_text(), re.M)
    return match[1] if match else "unknown"


# Durable functions (docs/durable-functions.md): aws-durable-execution-sdk-python loads the plugins named in
# DURABLE_EXECUTION_PLUGINS (the wrapper adds ``lambda_tracer``) from the entry points importlib.metadata finds on
# sys.path, /opt/python included. The dist-info is named lambda_tracer_layer, not lambda_tracer: a lambda-tracer
# wheel bundled in the function comes first on sys.path and would hide a dist-info of the same name, and the SDK
# fails the function's init on a name it cannot resolve. The entry point's module is top-level and layer-only for
# the same reason (layer/_lambda_tracer_durable.py: it never fails to load).
DURABLE_SHIM = ROOT / "layer" / "_lambda_tracer_durable.py"
DURABLE_ENTRY_POINTS = "[aws_durable_execution.plugins]\nlambda_tracer = _lambda_tracer_durable:plugin\n"


def durable_plugin_files() -> dict[str, bytes]:
    """The entry point of the durable plugin: its module and a ``lambda_tracer_layer-<version>.dist-info``."""
    version = package_version()
    dist_info = f"lambda_tracer_layer-{version}.dist-info"
    metadata = (
        f"Metadata-Version: 2.1\nName: lambda-tracer-layer\nVersion: {version}\n"
        "Summary: The lambda-tracer Lambda layer (entry points of the lambda_tracer package it ships)\n"
    )
    return {
        DURABLE_SHIM.name: DURABLE_SHIM.read_bytes(),
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/entry_points.txt": DURABLE_ENTRY_POINTS.encode(),
    }


def manifest(pins: dict[str, str], interpreters: dict[str, Interpreter], zeroed: dict[str, int]) -> bytes:
    """What is inside, for someone looking at /opt/lambda-tracer-layer.json in a running function.

    ``zeroed``: the ELF files whose debug sections were zeroed (path under /opt -> bytes zeroed).
    """
    data = {
        "name": "lambda-tracer",
        "version": package_version(),
        "dependencies": dict(sorted(pins.items())),
        "python_versions": list(PYTHON_VERSIONS),
        "architectures": sorted(ARCHITECTURES),
        "bytecode": {
            "invalidation_mode": "unchecked-hash",
            "compiled_by": {minor: interpreters[minor].version for minor in sorted(interpreters)},
            "source_only": [v for v in PYTHON_VERSIONS if v not in interpreters],
        },
        "debug_sections_zeroed": dict(sorted(zeroed.items())),
    }
    return (json.dumps(data, indent=2) + "\n").encode()


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def zip_date() -> tuple[int, int, int, int, int, int]:
    """SOURCE_DATE_EPOCH when set (reproducible-builds convention), else 1980-01-01, the earliest zip date."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return FIXED_DATE
    t = time.gmtime(max(int(epoch), 315532800))
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def write_zip(stage: Path, output: Path) -> None:
    """Sorted entries, one fixed date, modes 0755 (wrapper, directories) or 0644, deflate level 9."""
    date = zip_date()
    entries: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(stage):
        dirnames.sort()
        here = Path(dirpath)
        if here != stage:
            entries.append((here.relative_to(stage).as_posix() + "/", here))
        entries.extend(((here / name).relative_to(stage).as_posix(), here / name) for name in filenames)
    with zipfile.ZipFile(output, "w") as archive:
        for name, path in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=date)
            info.create_system = 3  # Unix, so that external_attr holds the mode
            if name.endswith("/"):
                info.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
                archive.writestr(info, b"")
                continue
            mode = 0o755 if name == WRAPPER_NAME else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)


def unpack(archive_path: Path, dest: Path) -> None:
    """Extract with the modes stored in the zip (zipfile.extractall drops them, and the wrapper must stay 0755).

    The repository's one layer-zip reader does it, so ``sam build`` refuses what every other tool refuses
    (entries that would land, link or delete outside ``dest``) and drops setuid, setgid and sticky bits.
    """
    layers = local_layers()
    try:
        layers.unpack_layer(archive_path, dest)
    except layers.UnsafeLayerError as error:
        raise BuildError(str(error))
    except zipfile.BadZipFile as error:
        raise BuildError(f"{archive_path}: not a zip file ({error})")


@functools.cache
def local_layers() -> ModuleType:
    """``local/lambda_tracer_local/layers.py`` of this checkout, loaded by path.

    By path because this script runs under a bare ``python3`` (``sam build``) where lambda_tracer_local is
    not installed, and an installed copy must not stand in for this checkout's; that module uses the
    standard library only for this reason.
    """
    return load_by_path("_lambda_tracer_layers", LAYERS_MODULE)


@functools.cache
def python314_module() -> ModuleType:
    """tools/python314.py (by path: this script is also imported by path, from the tests)."""
    return load_by_path("_lambda_tracer_python314", PYTHON314_MODULE)


def load_by_path(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BuildError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


SELF_CHECK = """
import json, os, sys
layer = sys.argv[1]
sys.path.insert(0, layer)
import lambda_tracer, aws_xray_sdk.core, wrapt
outside = [m.__name__ for m in (lambda_tracer, aws_xray_sdk.core, wrapt) if not m.__file__.startswith(layer + os.sep)]
print(json.dumps({"outside": outside, "wrapt_c_extension": "wrapt._wrappers" in sys.modules}))
"""


def self_check(archive_path: Path, interpreters: dict[str, Interpreter]) -> None:
    """Check the zip as Lambda will see it: wrapper executable, package present, and importable on its own."""
    with zipfile.ZipFile(archive_path) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        names = sorted(infos)
        wrapper = infos.get(WRAPPER_NAME)
        if wrapper is None or (wrapper.external_attr >> 16) != stat.S_IFREG | 0o755:
            raise BuildError(f"self-check: {WRAPPER_NAME} missing or not a 0755 regular file")
        if not archive.read(wrapper).startswith(b"#!/bin/sh"):
            raise BuildError(f"self-check: {WRAPPER_NAME} is not the sh wrapper")
        if "python/lambda_tracer/handler.py" not in infos:
            raise BuildError("self-check: python/lambda_tracer/handler.py missing")
        top = {top_level_name(n.split("/")[1]) for n in names if n.startswith("python/") and n.count("/") >= 1}
        if top & set(RUNTIME_PROVIDED):
            raise BuildError(f"self-check: runtime-provided packages in the zip: {sorted(top & set(RUNTIME_PROVIDED))}")
        for target in all_targets():
            if not any(n.endswith(target.extension_suffix) for n in names):
                raise BuildError(f"self-check: no extension module for {target.tag}")
        for minor in interpreters:
            tag = f".cpython-{minor.replace('.', '')}.pyc"
            if "python/lambda_tracer/__pycache__/handler" + tag not in infos:
                raise BuildError(f"self-check: no bytecode for Python {minor}")
    with tempfile.TemporaryDirectory(prefix="lambda-tracer-check-") as tmp:
        unpack(archive_path, Path(tmp) / "opt")
        layer = str(Path(tmp) / "opt" / "python")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LAMBDA_TASK_ROOT": tmp, "HOME": tmp}
        proc = subprocess.run(
            [sys.executable, "-I", "-S", "-B", "-c", SELF_CHECK, layer], capture_output=True, text=True, env=env
        )
        if proc.returncode != 0:
            raise BuildError(f"self-check: importing from the unpacked layer failed:\n{proc.stderr.strip()}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        if result["outside"]:
            raise BuildError(f"self-check: {result['outside']} imported from outside the layer")
        host = f"{sys.version_info[0]}.{sys.version_info[1]}"
        host_arch = os.uname().machine
        if host in PYTHON_VERSIONS and host_arch in {"x86_64", "aarch64"} and not result["wrapt_c_extension"]:
            raise BuildError(f"self-check: wrapt's C extension for Python {host} on {host_arch} did not load")


def build(output: Path, cache: Path, max_zipped: int, offline: bool, extra_interpreters: list[str]) -> None:
    started = time.monotonic()
    pins = read_requirements(REQUIREMENTS)
    trees = installed_targets(pins, cache, offline)
    dependencies = merge_targets(trees)
    clash = sorted(set(dependencies) & {rel for rel in package_files()})
    if clash:
        raise BuildError(f"dependencies would overwrite lambda_tracer files: {clash}")
    interpreters = find_interpreters(extra_interpreters)
    why_no_314 = fetch_python314(interpreters, offline)
    missing = {
        minor: "none under $(pyenv root)/versions, on PATH or given with --interpreter"
        + (f"; fetching Debian's failed: {why_no_314}" if minor == "3.14" and why_no_314 else "")
        for minor in PYTHON_VERSIONS
        if minor not in interpreters
    }
    for minor in PYTHON_VERSIONS:
        if minor in interpreters:
            log(f"bytecode for Python {minor}: {interpreters[minor].path} ({interpreters[minor].version})")
    if missing:
        warn_source_only(missing)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lambda-tracer-layer-") as tmp:
        stage = Path(tmp) / "layer"
        write_tree(stage / "python", dependencies)
        write_tree(stage / "python", package_files())
        write_tree(stage / "python", durable_plugin_files())
        zeroed = zero_layer_debug_sections(stage)
        log(f"debug sections zeroed in {len(zeroed)} ELF files: {sum(zeroed.values()) / 1024:.0f} KiB")
        compile_bytecode(stage / "python", interpreters)
        (stage / WRAPPER_NAME).write_bytes(WRAPPER.read_bytes())
        (stage / MANIFEST_NAME).write_bytes(manifest(pins, interpreters, zeroed))
        # Written next to the output and renamed into place only when every check passed: a failed build
        # never leaves a zip that make would take for up to date.
        fd, partial = tempfile.mkstemp(prefix=".layer-", suffix=".zip", dir=output.parent)
        os.close(fd)
        try:
            write_zip(stage, Path(partial))
            with zipfile.ZipFile(partial) as archive:
                unzipped = sum(info.file_size for info in archive.infolist())
                count = len(archive.infolist())
            zipped = Path(partial).stat().st_size
            log(f"{count} entries, {zipped / 1024:.0f} KiB zipped, {unzipped / 1024:.0f} KiB unzipped ({zipped} bytes)")
            if zipped > max_zipped:
                raise BuildError(
                    f"the zip is {zipped} bytes, over the budget of {max_zipped} bytes: look for a dependency or "
                    f"files that should not be there, or raise the budget with --max-zipped-bytes"
                )
            self_check(Path(partial), interpreters)
            os.chmod(partial, 0o644)
            os.replace(partial, output)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
    log(f"wrote {output} in {time.monotonic() - started:.1f} s")
    if missing:
        warn_source_only(missing)  # again, where it cannot be missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the zip to write (%(default)s)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="wheels and installs (%(default)s)")
    parser.add_argument(
        "--max-zipped-bytes",
        type=int,
        default=DEFAULT_MAX_ZIPPED,
        help="fail when the zip is larger (default %(default)s)",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="never download: fail on missing wheels, and use a Python 3.14 in build/python3.14 only if already there",
    )
    parser.add_argument(
        "--interpreter",
        action="append",
        default=[],
        metavar="PATH",
        help="a CPython to compile bytecode with, tried before pyenv's and PATH's (repeatable)",
    )
    parser.add_argument(
        "--unpack",
        nargs=2,
        type=Path,
        metavar=("ZIP", "DIR"),
        help="only unpack a built zip into DIR, keeping file modes (used by `make build-TracerLayer`)",
    )
    args = parser.parse_args(argv)
    try:
        if args.unpack:
            unpack(*args.unpack)
        else:
            build(
                args.output.resolve(), args.cache_dir.resolve(), args.max_zipped_bytes, args.offline, args.interpreter
            )
    except BuildError as error:
        log(f"FAILED: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
