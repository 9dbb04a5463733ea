#!/usr/bin/env python3
"""A CPython 3.14 for the layer build and the tests when this machine has none: Debian's, run from build/.

Lambda has a python3.14 runtime, so the layer ships 3.14 bytecode, and only a 3.14 interpreter can write
it (the .pyc format is per version); the test suites must run on 3.14 too. pyenv may have no 3.14 build
here, but Debian unstable (sid) packages CPython 3.14, and its binaries run on any Linux of the same
architecture through the glibc loader they come with. So this module:

1. downloads the packages below from a Debian mirror with ``apt-get download``, using a private apt
   configuration under build/ (its own sources list, lists, cache and empty dpkg status: the system's apt
   setup is neither read for sources nor written to; the archive signatures are checked against the Debian
   archive keyring, so plain http is fine);
2. unpacks them with ``dpkg-deb -x`` into ``build/python3.14/root``;
3. writes a launcher, ``root/usr/bin/python3.14-launcher``, that runs ``usr/bin/python3.14`` through that
   root's own loader (``ld-linux-x86-64.so.2 --library-path ... --argv0 "$0"``), and links
   ``build/python3.14/bin/python3.14`` to it. ``--argv0`` keeps ``sys.executable`` on the link (a program
   that runs, unlike the bare ELF), and because the launcher lives in ``usr/bin`` of the root, CPython finds
   its standard library from it, and venvs made from the link work like any others;
4. checks that the result is a final CPython 3.14 with ssl, ctypes, sqlite3, lzma, bz2, zlib and expat,
   and only then moves it into place with ``python314.json`` describing it (the cache stamp).

Nothing in it depends on the host's libraries: every shared library the standard library's extension modules
link is downloaded too (the host's may be too old: bookworm's libssl lacks OPENSSL_3.3.0, which 3.14's
_ssl needs). Idempotent and cached: once ``build/python3.14/python314.json`` is there, ``ensure()`` returns
at once; ``rm -rf build/python3.14`` (or ``make clean``) fetches again: about 5 s here, for 26 MB of downloads
(sid's package index, 11 MB, and the packages, 15 MB), 50 MB unpacked. A lock (``build/.python3.14.lock``)
serialises concurrent callers (pytest-xdist workers, ``make layer``). Standard library only: ``sam build`` runs
the layer build with a bare ``python3``.

Packages are not pinned: sid keeps only its current version of each, so a pin would break within weeks. The
version fetched is recorded in ``python314.json`` (and the layer's manifest says which 3.14.x compiled its
bytecode). ``LAMBDA_TRACER_DEBIAN_MIRROR`` replaces http://deb.debian.org/debian (a closer mirror);
``LAMBDA_TRACER_PYTHON314_HOME`` replaces build/python3.14.

Usage: ``python3 tools/python314.py`` prints the interpreter's path (fetching it if needed);
``--venv DIR`` also makes a venv of it with pip; ``--offline`` never downloads.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOME_ENV = "LAMBDA_TRACER_PYTHON314_HOME"
DEFAULT_HOME = Path(os.environ.get(HOME_ENV) or ROOT / "build" / "python3.14").absolute()
MINOR = "3.14"
SUITE = "sid"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
MIRROR_ENV = "LAMBDA_TRACER_DEBIAN_MIRROR"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
#: The interpreter (python3.14-minimal: the binary; libpython3.14-minimal and -stdlib: the standard library),
#: glibc with its loader, every library the interpreter or a standard extension module links (Depends of
#: python3.14-minimal and libpython3.14-stdlib, data-only packages left out: the host's tzdata, mime types
#: and /etc/services serve), and pip's wheel for the venvs (Debian's ensurepip looks for it under
#: /usr/share/python-wheels, an absolute path outside the root, so venvs are made --without-pip and get pip
#: from that wheel: see make_venv). No -dev headers: what the tests install has cp314 wheels.
PACKAGES = (
    "python3.14-minimal",
    "libpython3.14-minimal",
    "libpython3.14-stdlib",
    "libc6",
    "zlib1g",
    "libexpat1",
    "libssl3t64",
    "libffi8",
    "libsqlite3-0",
    "libbz2-1.0",
    "liblzma5",
    "libzstd1",
    "libuuid1",
    "libncursesw6",
    "libtinfo6",
    "libreadline8t64",
    "libdb5.3t64",
    "python3-pip-whl",
)
#: Bump when the layout or the package list changes: a cached interpreter of another format is fetched again.
FORMAT = "1"
STAMP = "python314.json"
LAUNCHER = "python3.14-launcher"
#: What the check imports: a missing or host-incompatible library shows up here, not in a test much later.
CHECK = (
    "import sys, json, ssl, ctypes, sqlite3, lzma, bz2, zlib, pyexpat, hashlib, decimal, uuid, venv; "
    "v = sys.version_info; "
    "print(json.dumps([sys.implementation.name, v.releaselevel, '%d.%d' % v[:2], '%d.%d.%d' % v[:3], sys.executable]))"
)
#: After a failed fetch, callers that do not insist (the tests) get the same failure for this long instead of
#: each trying again (and each waiting for the network to time out).
FAILURE_TTL = 15 * 60
TIMEOUT = 600


@dataclass(frozen=True)
class Machine:
    """Where Debian puts things for one architecture (``uname -m``)."""

    debian: str
    multiarch: str
    loaders: tuple[str, ...]


MACHINES = {
    "x86_64": Machine("amd64", "x86_64-linux-gnu", ("usr/lib64/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2")),
    "aarch64": Machine(
        "arm64",
        "aarch64-linux-gnu",
        (
            "usr/lib/ld-linux-aarch64.so.1",
            "lib/ld-linux-aarch64.so.1",
            "usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
        ),
    ),
}
MACHINES["arm64"] = MACHINES["aarch64"]


class Unavailable(Exception):
    """No 3.14 from here. ``unsupported``: this machine cannot run it at all (not Linux x86_64/aarch64, no
    apt-get/dpkg-deb, no Debian keyring); otherwise the fetch failed (network, mirror, ...)."""

    def __init__(self, message: str, unsupported: bool = False) -> None:
        super().__init__(message)
        self.unsupported = unsupported


def _log(message: str) -> None:
    print(f"python314: {message}", file=sys.stderr, flush=True)


def unsupported_reason() -> str | None:
    """Why this machine cannot use Debian's 3.14 at all (None when it can)."""
    if sys.platform != "linux":
        return f"Debian's Python {MINOR} runs on Linux only (this is {sys.platform})"
    machine = os.uname().machine
    if machine not in MACHINES:
        return f"no Debian Python {MINOR} for this machine ({machine}; x86_64 and aarch64 are supported)"
    missing = [tool for tool in ("apt-get", "dpkg-deb") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not found: needed to download and unpack Debian's Python {MINOR}"
    if not KEYRING.is_file():
        return f"{KEYRING} not found (package debian-archive-keyring): cannot check Debian's signatures"
    return None


def interpreter_path(home: Path = DEFAULT_HOME) -> Path:
    return home / "bin" / f"python{MINOR}"


def cached(home: Path = DEFAULT_HOME) -> dict[str, object] | None:
    """The stamp of a complete interpreter for this machine in ``home``, else None."""
    try:
        stamp = json.loads((home / STAMP).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict) or stamp.get("format") != FORMAT or stamp.get("machine") != os.uname().machine:
        return None
    return stamp if interpreter_path(home).exists() else None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure(
    home: Path = DEFAULT_HOME,
    *,
    offline: bool = False,
    retry_failed: bool = True,
    log: Callable[[str], None] = _log,
) -> Path:
    """The path of a working CPython 3.14 under ``home``, fetched first if needed; ``Unavailable`` if impossible.

    ``retry_failed=False``: if a fetch failed less than FAILURE_TTL ago, fail the same way without trying again.
    """
    if cached(home):
        return interpreter_path(home)
    reason = unsupported_reason()
    if reason:
        raise Unavailable(reason, unsupported=True)
    failed = home.parent / f".{home.name}.failed"
    with _locked(home.parent / f".{home.name}.lock"):
        if cached(home):  # another process fetched it while this one waited
            return interpreter_path(home)
        if offline:
            raise Unavailable(f"Python {MINOR} is not in {home} yet, and downloading it is not allowed (offline)")
        if not retry_failed:
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                earlier = json.loads(failed.read_text())
                age = time.time() - float(earlier["time"])
                if 0 <= age < FAILURE_TTL:
                    raise Unavailable(f"{earlier['reason']} (failed {age:.0f} s ago; `make layer` tries again)")
        started = time.monotonic()
        try:
            stamp = _fetch(home, log)
        except Unavailable as error:
            failed.write_text(json.dumps({"time": time.time(), "reason": str(error)}) + "\n")
            raise
        with contextlib.suppress(FileNotFoundError):
            failed.unlink()
        log(f"Python {stamp['python']} from Debian {SUITE} ready in {time.monotonic() - started:.1f} s: {home}")
    return interpreter_path(home)


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        raise Unavailable(f"{what}: {error}")
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).strip().splitlines()
        # apt's own verdicts ("E: Failed to fetch ...") say it best; otherwise the end of the output.
        verdicts = [line for line in lines if line.startswith(("E: ", "W: "))]
        output = "\n".join((verdicts or lines)[-10:])
        raise Unavailable(f"{what} failed (exit {done.returncode}):\n{output}")
    return done


def apt_options(apt: Path, machine: Machine) -> list[str]:
    """apt-get options for a private configuration under ``apt``: its sources, state and cache only."""
    mirror = os.environ.get(MIRROR_ENV) or DEFAULT_MIRROR
    for sub in ("lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d"):
        (apt / sub).mkdir(parents=True, exist_ok=True)
    sources = apt / "sources.list"
    sources.write_text(f"deb [arch={machine.debian} signed-by={KEYRING}] {mirror} {SUITE} main\n")
    (apt / "status").touch()
    options = {
        "Dir::Etc::sourcelist": sources,
        "Dir::Etc::sourceparts": apt / "sources.list.d",
        "Dir::Etc::preferences": apt / "preferences",
        "Dir::Etc::preferencesparts": apt / "preferences.d",
        "Dir::State::lists": apt / "lists",
        "Dir::State::status": apt / "status",
        "Dir::Cache": apt / "cache",
        "Dir::Cache::archives": apt / "cache" / "archives",
        "Dir::Cache::pkgcache": apt / "cache" / "pkgcache.bin",
        "Dir::Cache::srcpkgcache": apt / "cache" / "srcpkgcache.bin",
        "APT::Architecture": machine.debian,
        "Acquire::Languages": "none",
        "Acquire::Retries": "3",
        "Acquire::http::Timeout": "30",
        "Acquire::https::Timeout": "30",
        # A failed download of the index must fail `apt-get update` (by default it warns and exits 0).
        "APT::Update::Error-Mode": "any",
    }
    if os.geteuid() == 0:
        # As root apt downloads as the _apt user, which may not be able to write into build/.
        options["APT::Sandbox::User"] = "root"
    return [arg for key, value in options.items() for arg in ("-o", f"{key}={value}")]


def source(machine: Machine) -> str:
    return f"{os.environ.get(MIRROR_ENV) or DEFAULT_MIRROR} {SUITE} main, {machine.debian}"


def _fetch(home: Path, log: Callable[[str], None]) -> dict[str, object]:
    """Download, unpack and check into a scratch directory next to ``home``, then move it into place."""
    work = home.parent / f".{home.name}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    try:
        return _fetch_into(work, home, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fetch_into(work: Path, home: Path, log: Callable[[str], None]) -> dict[str, object]:
    machine_name = os.uname().machine
    machine = MACHINES[machine_name]
    apt, debs, root = work / "apt", work / "debs", work / "root"
    debs.mkdir(parents=True)
    options = apt_options(apt, machine)
    log(f"no Python {MINOR} here: downloading Debian {SUITE}'s ({', '.join(PACKAGES[:3])}, ...) into {home}")
    _run(["apt-get", "-q", *options, "update"], f"apt-get update ({source(machine)})")
    _run(["apt-get", "-q", *options, "download", *PACKAGES], f"apt-get download ({source(machine)})", cwd=debs)
    packages: dict[str, str] = {}
    for deb in sorted(debs.glob("*.deb")):
        fields = _run(["dpkg-deb", "--field", str(deb), "Package", "Version"], f"dpkg-deb --field {deb.name}")
        info = dict(line.split(": ", 1) for line in fields.stdout.strip().splitlines() if ": " in line)
        packages[info.get("Package", deb.name)] = info.get("Version", "?")
        _run(["dpkg-deb", "-x", str(deb), str(root)], f"unpacking {deb.name}")
    missing = sorted(set(PACKAGES) - set(packages))
    if missing:
        raise Unavailable(f"apt-get download gave no {', '.join(missing)}")
    loader = next((rel for rel in machine.loaders if (root / rel).exists()), None)
    if loader is None:
        raise Unavailable(f"no glibc loader in the unpacked libc6 (looked for {', '.join(machine.loaders)})")
    write_launcher(root, loader, machine.multiarch)
    link = interpreter_path(work)
    link.parent.mkdir(parents=True)
    link.symlink_to(Path("..", "root", "usr", "bin", LAUNCHER))
    done = _run([str(link), "-I", "-c", CHECK], f"checking the unpacked Python {MINOR}")
    kind, level, minor, version, _ = json.loads(done.stdout.strip().splitlines()[-1])
    if (kind, level, minor) != ("cpython", "final", MINOR):
        raise Unavailable(f"Debian {SUITE}'s python{MINOR} is {kind} {version} ({level}), not a final CPython {MINOR}")
    stamp: dict[str, object] = {
        "format": FORMAT,
        "machine": machine_name,
        "python": version,
        "source": source(machine),
        "packages": packages,
        "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    shutil.rmtree(apt)  # the package lists alone are over 20 MB, and the debs are unpacked
    shutil.rmtree(debs)
    (work / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
    shutil.rmtree(home, ignore_errors=True)  # an incomplete or older-format one
    work.rename(home)
    return stamp


def write_launcher(root: Path, loader: str, multiarch: str) -> Path:
    """``root/usr/bin/python3.14-launcher``: the interpreter through the root's loader, wherever root is."""
    launcher = root / "usr" / "bin" / LAUNCHER
    launcher.write_text(
        f"""#!/bin/sh
# Debian's CPython {MINOR} run through the glibc loader it came with (made by tools/python314.py). Links to
# this file (bin/python{MINOR}, a venv's bin/python) are interpreters: --argv0 keeps sys.executable on them.
self=$(readlink -f -- "$0") || exit 127
root=${{self%/usr/bin/*}}
exec "$root/{loader}" --library-path "$root/usr/lib/{multiarch}:$root/lib/{multiarch}" \\
    --argv0 "$0" "$root/usr/bin/python{MINOR}" "$@"
"""
    )
    launcher.chmod(0o755)
    return launcher


def pip_wheel(home: Path = DEFAULT_HOME) -> Path:
    wheels = sorted((home / "root" / "usr" / "share" / "python-wheels").glob("pip-*.whl"))
    if not wheels:
        raise Unavailable(f"no pip wheel under {home}/root/usr/share/python-wheels")
    return wheels[-1]


def make_venv(venv: Path, home: Path = DEFAULT_HOME) -> Path:
    """A venv of the fetched interpreter with pip in it (``--clear``s ``venv``); returns its ``bin/python``.

    ``python -m venv`` cannot install pip here (Debian's ensurepip wants /usr/share/python-wheels), so the venv
    is made without it and pip installs itself from Debian's pip wheel, run as a zip (``whl/pip``).
    """
    python = venv / "bin" / "python"
    _run([str(interpreter_path(home)), "-m", "venv", "--clear", "--without-pip", str(venv)], f"making {venv}")
    wheel = pip_wheel(home)
    _run(
        [str(python), f"{wheel}/pip", "install", "-q", "--disable-pip-version-check", "--no-index", str(wheel)],
        f"installing pip into {venv}",
    )
    return python


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help="where it lives (%(default)s)")
    parser.add_argument("--offline", action="store_true", help="fail unless it is already there")
    parser.add_argument("--venv", type=Path, help="also make a venv of it (with pip) in this directory")
    args = parser.parse_args(argv)
    try:
        python = ensure(args.home.resolve(), offline=args.offline)
        if args.venv:
            python = make_venv(args.venv.resolve(), args.home.resolve())
    except Unavailable as error:
        _log(f"FAILED: {error}")
        return 1
    print(python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
