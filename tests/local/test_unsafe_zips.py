"""Crafted layer zips against every reader of one: nothing lands, links or gets deleted outside the destination.

Each zip is built here with ``zipfile``; every refusal is checked through ``unpack_layer`` itself and
through each tool a user points at a zip (``tools/build_layer.py --unpack`` for ``sam build``,
``lambda-tracer-local --layer``, ``make demo``'s module, ``publish --zip``), and each test compares a
snapshot of the whole temporary directory (the destination and a sentinel tree next to it) before and after.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from tools_support import ROOT, Proxy, publish

from lambda_tracer_local.layers import UnsafeLayerError, merge_layers, unpack_layer

FILE, DIR, LINK = stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK
#: (name, content or link target, mode with file type); ``{outside}`` is the sentinel directory's path.
Entry = tuple[str, str, int]
WRAPPER = ("lambda-tracer", '#!/bin/sh\nexec "$@"\n', FILE | 0o755)

# (id, entries, what the refusal says)
REFUSED: list[tuple[str, list[Entry], str]] = [
    ("absolute-path", [("{outside}/planted.txt", "pwned", FILE | 0o644)], "is an absolute path"),
    ("dotdot", [("python/../../outside/planted.txt", "pwned", FILE | 0o644)], "has a '..' component"),
    ("backslash", [("..\\outside\\planted.txt", "pwned", FILE | 0o644)], "contains a backslash"),
    ("drive-letter", [("C:/outside/planted.txt", "pwned", FILE | 0o644)], "starts with a drive letter"),
    ("symlink-relative-outside", [("python/escape", "../../outside", LINK | 0o777)], "which leads outside"),
    ("symlink-absolute", [("python/passwd", "/etc/passwd", LINK | 0o777)], "which is an absolute path"),
    (
        "symlink-chain",  # each target looks inside on its own; together they climb out
        [("q/", "", DIR | 0o755), ("x/y/l1", "../../q", LINK | 0o777), ("l2", "x/y/l1/../../outside", LINK | 0o777)],
        "which leads outside",
    ),
    (
        "through-zip-symlink-outside",
        [("python", "../outside", LINK | 0o777), ("python/planted.txt", "pwned", FILE | 0o644)],
        "would be written through the zip's symlink 'python'",
    ),
    (
        "through-zip-symlink-inside",
        [("lib/", "", DIR | 0o755), ("python", "lib", LINK | 0o777), ("python/x.py", "", FILE | 0o644)],
        "would be written through the zip's symlink 'python'",
    ),
    (
        "rmtree-through-zip-symlink",  # the old unpack replaced outside/victim (a directory) with a link
        [("x", "../outside", LINK | 0o777), ("x/victim", "anything", LINK | 0o777)],
        "would be written through the zip's symlink 'x'",
    ),
    ("huge-name", [("a" * 60_000 + "/../x", "", FILE | 0o644)], "has a '..' component"),
]
IDS = [case[0] for case in REFUSED]


def write_zip(path: Path, entries: list[Entry], outside: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name.format(outside=outside))
            info.create_system = 3  # Unix: external_attr holds the mode
            info.external_attr = mode << 16 | (0x10 if stat.S_ISDIR(mode) else 0)
            archive.writestr(info, data.format(outside=outside))
    return path


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every path under ``root`` (never following a link): its kind, mode and content or link target."""
    state: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                state[str(path)] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                state[str(path)] = ("dir", stat.S_IMODE(info.st_mode))
            else:
                state[str(path)] = ("file", stat.S_IMODE(info.st_mode), path.read_bytes())
    return state


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """The sentinel tree next to every destination: a file and a directory that must survive untouched."""
    sentinel = tmp_path / "outside"
    (sentinel / "victim").mkdir(parents=True)
    (sentinel / "victim" / "keep.txt").write_text("keep")
    (sentinel / "keep.txt").write_text("keep")
    return sentinel


def run_python(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMBDA_", "AWS_", "POWERTOOLS_", "PYTHON"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "local"), str(ROOT / "layer")])
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


#: The tools a user runs on a layer zip: build_layer.py --unpack (as ``sam build`` runs it, with a bare python3),
#: lambda-tracer-local --layer and make demo.
TOOLS = ["build_layer", "cli", "demo"]


def run_tool(tool: str, archive: Path, dest: Path) -> tuple[int, str, str]:
    """(exit status, stderr, the prefix the tool puts before the refusal)."""
    if tool == "build_layer":
        done = run_python(str(ROOT / "tools" / "build_layer.py"), "--unpack", str(archive), str(dest))
        return done.returncode, done.stderr, "build_layer: FAILED: "
    if tool == "cli":
        function_dir = ROOT / "examples" / "functions" / "zero_code"
        done = run_python("-m", "lambda_tracer_local.cli", str(function_dir), "--layer", str(archive))
        return done.returncode, done.stderr, "lambda-tracer-local: error: "
    done = run_python("-m", "lambda_tracer_local.demo", "--layer", str(archive))
    return done.returncode, done.stderr, "demo: "


def assert_one_clear_line(stderr: str, reason: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert stderr.count("\n") == 1 and len(stderr) < 600, stderr[:2000]
    assert "refusing layer zip" in stderr and reason in stderr, stderr


# ---------------------------------------------------------------- unpack_layer / merge_layers in process


@pytest.mark.parametrize(("case", "entries", "reason"), REFUSED, ids=IDS)
def test_unpack_layer_refuses_and_writes_nothing(
    case: str, entries: list[Entry], reason: str, outside: Path, tmp_path: Path
) -> None:
    archive = write_zip(tmp_path / "layer.zip", entries, outside)
    before = snapshot(tmp_path)
    with pytest.raises(UnsafeLayerError, match=re.escape(reason)) as refused:
        unpack_layer(archive, tmp_path / "dest")
    assert snapshot(tmp_path) == before  # the destination was not even created
    assert len(str(refused.value)) < 400 + len(str(archive))


def test_a_file_through_a_symlink_already_in_dest_is_refused(outside: Path, tmp_path: Path) -> None:
    """An earlier merged layer left ``python`` -> outside: a later zip must not write through it."""
    earlier = tmp_path / "earlier-layer"
    earlier.mkdir()
    (earlier / "python").symlink_to("../outside")  # relative: from dest it leads to the sentinel tree
    later = write_zip(tmp_path / "later.zip", [("python/planted.txt", "pwned", FILE | 0o644)], outside)
    merge_layers([earlier], tmp_path / "dest")
    before = snapshot(tmp_path)
    with pytest.raises(UnsafeLayerError, match="would be written through a symlink that leads outside"):
        merge_layers([earlier, later], tmp_path / "dest")
    assert snapshot(tmp_path) == before


def test_an_outside_directory_is_never_rmtreed(outside: Path, tmp_path: Path) -> None:
    """The old unpack removed whatever sat at an entry's path first: through ``x`` -> outside, outside/victim."""
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "x").symlink_to(outside)
    archive = write_zip(tmp_path / "layer.zip", [("x/victim", "elsewhere", LINK | 0o777)], outside)
    before = snapshot(tmp_path)
    with pytest.raises(UnsafeLayerError, match="'x/victim' would be written through a symlink that leads outside"):
        unpack_layer(archive, dest)
    assert snapshot(tmp_path) == before
    assert (outside / "victim" / "keep.txt").read_text() == "keep"


def test_a_directory_entry_replaces_a_symlink_in_dest_instead_of_following_it(outside: Path, tmp_path: Path) -> None:
    """build_layer's old --unpack chmod-ed through it: ``python/`` (0700) over ``python`` -> outside."""
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "python").symlink_to("../outside")
    archive = write_zip(tmp_path / "layer.zip", [("python/", "", DIR | 0o700)], outside)
    before = snapshot(outside)
    unpack_layer(archive, dest)
    assert not (dest / "python").is_symlink() and stat.S_IMODE((dest / "python").stat().st_mode) == 0o700
    assert snapshot(outside) == before and stat.S_IMODE(outside.stat().st_mode) != 0o700


def test_setuid_setgid_and_sticky_bits_are_dropped(outside: Path, tmp_path: Path) -> None:
    entries = [
        ("suid", "#!/bin/sh\n", FILE | 0o4755),
        ("sgid", "#!/bin/sh\n", FILE | 0o2750),
        ("sticky/", "", DIR | 0o1777),
    ]
    archive = write_zip(tmp_path / "layer.zip", entries, outside)
    before = snapshot(outside)
    dest = unpack_layer(archive, tmp_path / "dest")
    modes = {name: stat.S_IMODE((dest / name).stat().st_mode) for name in ("suid", "sgid", "sticky")}
    assert modes == {"suid": 0o755, "sgid": 0o750, "sticky": 0o777}
    assert snapshot(outside) == before


def legit_entries() -> list[Entry]:
    return [
        WRAPPER,
        ("python/", "", DIR | 0o755),
        ("python/pkg/", "", DIR | 0o755),
        ("python/pkg/__init__.py", "VALUE = 1\n", FILE | 0o644),
        ("python/alias", "pkg", LINK | 0o777),  # inside, relative
        ("bin/tool", "../python/pkg/__init__.py", LINK | 0o777),  # inside, with '..'
    ]


def test_a_legit_zip_is_unpacked_with_modes_and_inside_symlinks(outside: Path, tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "layer.zip", legit_entries(), outside)
    before = snapshot(outside)
    dest = unpack_layer(archive, tmp_path / "dest")
    assert stat.S_IMODE((dest / "lambda-tracer").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "python" / "pkg" / "__init__.py").stat().st_mode) == 0o644
    assert os.readlink(dest / "python" / "alias") == "pkg"
    assert (dest / "python" / "alias" / "__init__.py").read_text() == "VALUE = 1\n"
    assert (dest / "bin" / "tool").read_text() == "VALUE = 1\n"
    done = subprocess.run([str(dest / "lambda-tracer"), "true"], capture_output=True, timeout=30)
    assert done.returncode == 0
    assert snapshot(outside) == before


def test_later_layers_overwrite_earlier_ones_without_touching_their_sources(outside: Path, tmp_path: Path) -> None:
    """A directory layer is hard-linked in: a later zip replaces its files instead of writing into them."""
    earlier = tmp_path / "earlier-layer"
    (earlier / "python").mkdir(parents=True)
    (earlier / "python" / "mod.py").write_text("FROM = 'earlier'\n")
    (earlier / "python" / "swap").symlink_to("mod.py")
    entries = [("python/mod.py", "FROM = 'later'\n", FILE | 0o644), ("python/swap", "a file now\n", FILE | 0o600)]
    later = write_zip(tmp_path / "later.zip", entries, outside)
    dest = merge_layers([earlier, later], tmp_path / "dest")
    assert (dest / "python" / "mod.py").read_text() == "FROM = 'later'\n"
    assert not (dest / "python" / "swap").is_symlink() and (dest / "python" / "swap").read_text() == "a file now\n"
    assert (earlier / "python" / "mod.py").read_text() == "FROM = 'earlier'\n"
    assert os.readlink(earlier / "python" / "swap") == "mod.py"


# ---------------------------------------------------------------- the tools, as a user runs them


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize(("case", "entries", "reason"), REFUSED, ids=IDS)
def test_the_tools_refuse_in_one_line_and_write_nothing(
    case: str, entries: list[Entry], reason: str, tool: str, outside: Path, tmp_path: Path
) -> None:
    """Beside the exec wrapper, the unsafe entry alone gets the zip refused: build_layer with its "FAILED" line and
    exit 1, lambda-tracer-local and the demo with exit 2."""
    archive = write_zip(tmp_path / "layer.zip", [WRAPPER, *entries], outside)
    before = snapshot(tmp_path)
    status, stderr, prefix = run_tool(tool, archive, tmp_path / "dest")
    assert status == (1 if tool == "build_layer" else 2), stderr
    assert stderr.startswith(prefix + "refusing layer zip")
    assert_one_clear_line(stderr, reason)
    assert snapshot(tmp_path) == before


def test_build_layer_unpack_keeps_a_legit_zip(outside: Path, tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "layer.zip", legit_entries(), outside)
    done = run_python(str(ROOT / "tools" / "build_layer.py"), "--unpack", str(archive), str(tmp_path / "dest"))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((tmp_path / "dest" / "lambda-tracer").stat().st_mode) == 0o755
    assert os.readlink(tmp_path / "dest" / "python" / "alias") == "pkg"


@pytest.mark.parametrize(("case", "entries", "reason"), REFUSED, ids=IDS)
def test_publish_refuses_before_any_aws_call(
    case: str, entries: list[Entry], reason: str, outside: Path, tmp_path: Path, aws_env: Proxy,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """A layer zip with an otherwise valid package: the unsafe entry alone gets it refused."""
    package = [
        ("python/lambda_tracer/__init__.py", '__version__ = "9.9.9"\n', FILE | 0o644),
        ("python/lambda_tracer/handler.py", "", FILE | 0o644),
    ]
    archive = write_zip(tmp_path / "layer.zip", [WRAPPER, *package, *entries], outside)
    before = snapshot(tmp_path)
    code = publish.main(["--zip", str(archive), "--region", "us-east-1", "--json", str(tmp_path / "out.json")])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("publish: refused: refusing layer zip")
    assert_one_clear_line(err, reason)
    assert snapshot(tmp_path) == before
    assert aws_env.requests == []
