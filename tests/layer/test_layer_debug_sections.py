"""The build zeroes the debug sections of wrapt's extension modules, and nothing else of them.

PyPI's wrapt wheels are "with debug_info, not stripped": ten such modules were a quarter of the zipped layer.
tools/build_layer.py overwrites the contents of their non-allocated ``.debug*`` sections with zeros, in pure
Python (no binutils under ``sam build``). These tests check that on the modules pip installed for every target
(from the build's cache, copied first): the debug bytes are zero, every other byte (so every allocated section
and every PT_LOAD segment) and the file size are unchanged, odd files are left alone without failing, the built
layer's modules still load and work, and their entries in the zip got smaller.

The ELF parsing here is the tests' own, independent of the tool's.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from layer_support import build_layer

from tests.e2e.conftest import interpreter_for

SHF_ALLOC = 0x2
SHT_NOBITS = 8
PT_LOAD = 1
LEFT_ALONE = "debug sections left as they are"


@dataclass(frozen=True)
class Section:
    name: str
    kind: int
    flags: int
    offset: int
    size: int

    @property
    def is_debug(self) -> bool:
        return self.name.startswith(".debug") and not self.flags & SHF_ALLOC and self.kind != SHT_NOBITS

    @property
    def is_allocated(self) -> bool:
        return bool(self.flags & SHF_ALLOC) and self.kind != SHT_NOBITS

    def bytes_of(self, data: bytes) -> bytes:
        return data[self.offset : self.offset + self.size]


def elf_layout(data: bytes) -> tuple[list[Section], list[tuple[int, int]]]:
    """The sections and the PT_LOAD file ranges of an ELF64 little-endian file."""
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1
    (phoff, shoff) = struct.unpack_from("<QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", data, 0x36)
    raw = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names_at = raw[shstrndx][4]

    def name(at: int) -> str:
        start = names_at + at
        return data[start : data.index(b"\0", start)].decode()

    sections = [Section(name(n), kind, flags, offset, size) for n, kind, flags, _, offset, size in raw]
    loads = []
    for i in range(phnum):
        kind, _, offset, _, _, filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if kind == PT_LOAD:
            loads.append((offset, offset + filesz))
    return sections, loads


@pytest.fixture(scope="module")
def pip_extensions(layer_zip: Path) -> dict[str, Path]:
    """Target tag -> wrapt's extension module as pip installed it (the build's cache, filled by ``layer_zip``).

    Read-only: a test copies the file before changing it.
    """
    pins = build_layer.read_requirements(build_layer.REQUIREMENTS)
    trees = build_layer.installed_targets(pins, build_layer.DEFAULT_CACHE, offline=True)
    found = {t.tag: trees[t] / "wrapt" / f"_wrappers{t.extension_suffix}" for t in build_layer.all_targets()}
    assert all(path.is_file() for path in found.values()), found
    return found


@pytest.mark.parametrize("tag", [t.tag for t in build_layer.all_targets()])
def test_zeroes_debug_sections_and_nothing_else(tag: str, pip_extensions: dict[str, Path], tmp_path: Path) -> None:
    original = pip_extensions[tag].read_bytes()
    path = tmp_path / pip_extensions[tag].name
    path.write_bytes(original)
    sections, loads = elf_layout(original)
    debug = [s for s in sections if s.is_debug]
    assert debug, f"{tag}: no debug sections left to zero: is the step still needed?"
    assert any(any(s.bytes_of(original)) for s in debug)

    zeroed = build_layer.zero_debug_sections(path)

    after = path.read_bytes()
    assert len(after) == len(original)
    assert zeroed == sum(s.size for s in debug)
    for section in debug:
        assert not any(section.bytes_of(after)), f"{section.name} not zeroed"
    allocated = [s for s in sections if s.is_allocated]
    assert {".text", ".dynsym", ".dynamic"} <= {s.name for s in allocated}
    for section in allocated:
        assert section.bytes_of(after) == section.bytes_of(original), f"{section.name} changed"
    assert loads
    for start, end in loads:
        assert after[start:end] == original[start:end], f"PT_LOAD segment at {start:#x} changed"
    # And nothing at all but the debug sections.
    expected = bytearray(original)
    for section in debug:
        expected[section.offset : section.offset + section.size] = bytes(section.size)
    assert after == expected
    # Again: the same bytes (a rebuild is byte-identical).
    build_layer.zero_debug_sections(path)
    assert path.read_bytes() == after


def odd_files(elf: bytes) -> dict[str, tuple[bytes, str]]:
    """Name -> (contents, what the log says) for files the step must leave as they are."""
    sections, _ = elf_layout(elf)
    (shoff,) = struct.unpack_from("<Q", elf, 0x28)
    (shentsize,) = struct.unpack_from("<H", elf, 0x3A)
    index = next(i for i, s in enumerate(sections) if s.name == ".debug_info")
    text = next(s for s in sections if s.name == ".text")
    overlapping = bytearray(elf)  # .debug_info's sh_offset moved onto .text, inside a PT_LOAD segment
    struct.pack_into("<Q", overlapping, shoff + index * shentsize + 24, text.offset)
    return {
        "empty": (b"", "not an ELF file"),
        "text": (b"#!/bin/sh\necho not an ELF file\n", "not an ELF file"),
        "header-only": (elf[:40], "the ELF header is truncated"),
        "truncated": (elf[: len(elf) // 2], "the section header table is truncated"),
        "elf32": (elf[:4] + b"\x01" + elf[5:], "not ELF64 little-endian"),
        "big-endian": (elf[:5] + b"\x02" + elf[6:], "not ELF64 little-endian"),
        "overlapping": (bytes(overlapping), "overlaps a loaded segment"),
    }


@pytest.mark.parametrize("case", ["empty", "text", "header-only", "truncated", "elf32", "big-endian", "overlapping"])
def test_odd_files_are_left_alone(
    case: str, pip_extensions: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host_tag = next(t.tag for t in build_layer.all_targets() if t.arch == "x86_64")
    contents, why = odd_files(pip_extensions[host_tag].read_bytes())[case]
    path = tmp_path / "odd.so"
    path.write_bytes(contents)

    assert build_layer.zero_debug_sections(path) is None

    assert path.read_bytes() == contents
    log = capsys.readouterr().err
    assert f"odd.so: {LEFT_ALONE}: " in log and why in log, log


def test_the_build_step_takes_elf_files_and_so_files(
    pip_extensions: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ELF files by their magic whatever their name, ``.so`` files even when not ELF (to say so); nothing else."""
    elf = next(iter(pip_extensions.values()))
    (tmp_path / "pkg").mkdir()
    shutil.copyfile(elf, tmp_path / "pkg" / "libvendored.so.1")
    (tmp_path / "pkg" / "fake.so").write_bytes(b"not ELF")
    (tmp_path / "pkg" / "module.py").write_text("x = 1\n")

    zeroed = build_layer.zero_layer_debug_sections(tmp_path)

    assert list(zeroed) == ["pkg/libvendored.so.1"] and zeroed["pkg/libvendored.so.1"] > 0
    log = capsys.readouterr().err
    assert f"fake.so: {LEFT_ALONE}: not an ELF file" in log
    assert "module.py" not in log


def test_layer_extensions_are_zeroed_and_listed_in_the_manifest(layer_zip: Path, manifest: dict[str, object]) -> None:
    with zipfile.ZipFile(layer_zip) as zf:
        modules = {name: zf.read(name) for name in zf.namelist() if name.endswith(".so")}
    assert len(modules) == len(build_layer.all_targets())
    listed = manifest["debug_sections_zeroed"]
    assert isinstance(listed, dict)
    assert sorted(listed) == sorted(modules)
    for name, data in modules.items():
        debug = [s for s in elf_layout(data)[0] if s.is_debug]
        assert not any(any(s.bytes_of(data)) for s in debug), name
        assert listed[name] == sum(s.size for s in debug) > 0, name


def test_layer_extensions_compress_smaller(layer_zip: Path, pip_extensions: dict[str, Path], tmp_path: Path) -> None:
    """Each module's entry in the layer zip is smaller than the same entry made from pip's file (same settings)."""
    unzeroed = tmp_path / "unzeroed.zip"
    with zipfile.ZipFile(unzeroed, "w") as zf:
        for path in pip_extensions.values():
            zf.write(path, f"python/wrapt/{path.name}", zipfile.ZIP_DEFLATED, compresslevel=9)
    with zipfile.ZipFile(unzeroed) as zf:
        before = {info.filename: info for info in zf.infolist()}
    with zipfile.ZipFile(layer_zip) as zf:
        after = {info.filename: info for info in zf.infolist() if info.filename.endswith(".so")}
    assert sorted(after) == sorted(before)
    for name, info in after.items():
        assert info.file_size == before[name].file_size, name
        assert info.compress_size < before[name].compress_size, name
    saved = sum(before[n].compress_size - after[n].compress_size for n in after)
    # The debug info is most of each compressed module: at least a third of their total goes.
    assert saved > sum(info.compress_size for info in before.values()) / 3, saved


@pytest.mark.skipif(os.uname().machine not in ("x86_64", "aarch64"), reason="the layer has no C extension for it")
@pytest.mark.parametrize("minor", build_layer.PYTHON_VERSIONS)
def test_zeroed_extension_loads_and_works(minor: str, layer_dir: Path) -> None:
    """On each Python here, wrapt's (zeroed) C extension for this machine loads from the layer and does its job."""
    python = interpreter_for(minor)
    code = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import wrapt, wrapt._wrappers as c

@wrapt.decorator
def plus_one(wrapped, instance, args, kwargs):
    return wrapped(*args, **kwargs) + 1

@plus_one
def f(x):
    return x

proxy = wrapt.ObjectProxy([1, 2, 3])
assert wrapt.ObjectProxy is c.ObjectProxy and type(f) is c.FunctionWrapper
assert f(1) == 2 and len(proxy) == 3 and isinstance(proxy, list) and proxy.__wrapped__ == [1, 2, 3]
print(json.dumps({"file": c.__file__}))
"""
    done = subprocess.run(
        [str(python), "-I", "-S", "-B", "-c", code, str(layer_dir / "python")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = Path(json.loads(done.stdout)["file"])
    assert loaded.parent == layer_dir / "python" / "wrapt"
    assert loaded.name.endswith(f"-{os.uname().machine}-linux-gnu.so")
