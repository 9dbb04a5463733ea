"""The debug sections of the layer's ELF files, overwritten with zeros in place, in pure Python.

Part of tools/build_layer.py: see ``zero_debug_sections`` for why, and ``debug_section_ranges`` for what is
touched (only bytes nothing but a debugger reads).
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
ELF64_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")  # e_ident, e_type ... e_shstrndx
ELF64_SECTION = struct.Struct("<IIQQQQIIQQ")  # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, ...
ELF64_SEGMENT = struct.Struct("<IIQQQQQQ")  # p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, ...
SHT_NOBITS = 8
SHF_ALLOC = 0x2
PT_LOAD = 1


class UnsupportedElf(Exception):
    """Why a file's debug sections are left as they are."""


def debug_section_ranges(data: bytes) -> list[tuple[str, int, int]]:
    """``(name, start, end)`` in the file of each non-allocated ``.debug*`` section with contents.

    ELF64 little-endian only. Raises UnsupportedElf for anything else, and for headers that do not add up
    (tables or sections past the end of the file, a debug section overlapping a PT_LOAD segment, the headers
    or another section), so that only bytes nothing but a debugger reads are ever touched.
    """
    if data[:4] != ELF_MAGIC:
        raise UnsupportedElf("not an ELF file")
    if data[4:6] != b"\x02\x01":
        raise UnsupportedElf(f"not ELF64 little-endian (EI_CLASS, EI_DATA: {data[4:6].hex() or 'none'})")
    if len(data) < ELF64_HEADER.size:
        raise UnsupportedElf("the ELF header is truncated")
    *_, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, shstrndx = ELF64_HEADER.unpack_from(data)
    if shoff == 0 or shnum == 0:  # also extended section numbering (e_shnum 0), which no wheel needs
        raise UnsupportedElf("no section header table")
    if shentsize < ELF64_SECTION.size or shoff + shnum * shentsize > len(data):
        raise UnsupportedElf("the section header table is truncated")
    if phnum and (phentsize < ELF64_SEGMENT.size or phoff + phnum * phentsize > len(data)):
        raise UnsupportedElf("the program header table is truncated")
    if shstrndx >= shnum:
        raise UnsupportedElf(f"no section name table (e_shstrndx {shstrndx})")
    sections = [ELF64_SECTION.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
    segments = [ELF64_SEGMENT.unpack_from(data, phoff + i * phentsize) for i in range(phnum)]
    _, names_type, _, _, names_offset, names_size, *_ = sections[shstrndx]
    if names_type == SHT_NOBITS or names_offset + names_size > len(data):
        raise UnsupportedElf("the section name table is truncated")
    names = data[names_offset : names_offset + names_size]
    keep = [(0, ELF64_HEADER.size), (phoff, phoff + phnum * phentsize), (shoff, shoff + shnum * shentsize)]
    keep += [(offset, offset + filesz) for kind, _, offset, _, _, filesz, *_ in segments if kind == PT_LOAD]
    zero: list[tuple[str, int, int]] = []
    for name_at, kind, flags, _, offset, size, *_ in sections:
        if kind == SHT_NOBITS or size == 0:
            continue
        name_end = names.find(b"\0", name_at)
        if name_at >= len(names) or name_end < 0:
            raise UnsupportedElf(f"a section name is outside the name table (offset {name_at})")
        name = names[name_at:name_end].decode("ascii", "replace")
        if offset + size > len(data):
            raise UnsupportedElf(f"section {name} ends past the end of the file")
        if name.startswith(".debug") and not flags & SHF_ALLOC:
            zero.append((name, offset, offset + size))
        else:
            keep.append((offset, offset + size))
    for name, start, end in zero:
        if any(start < keep_end and keep_start < end for keep_start, keep_end in keep):
            raise UnsupportedElf(f"section {name} overlaps a loaded segment, the headers or another section")
    return zero


def zero_debug_sections(path: Path) -> int | None:
    """Overwrite with zeros, in place, the debug sections of an ELF64 little-endian file; returns the bytes zeroed.

    Why: PyPI ships wrapt's extension modules "with debug_info, not stripped", and ten of them (5 Pythons x 2
    architectures) were a quarter of the zipped layer, DWARF being two thirds of each one zipped. ``strip`` would
    need binutils (this build needs only python3 and pip, also under ``sam build``) and would move every
    section after the removed ones. Zeroing only the contents of the non-allocated ``.debug*`` sections keeps
    the file's layout and size: the dynamic loader maps only the PT_LOAD segments, which never hold them, so
    the module runs exactly as before (only a debugger finds no DWARF), and zeros deflate to almost nothing.
    Deterministic, and the same for every architecture. Anything else (not ELF64 little-endian, headers that
    do not add up) is left untouched and logged, never failing the build: returns None.
    """
    original = path.read_bytes()
    try:
        ranges = debug_section_ranges(original)
    except UnsupportedElf as why:
        _log(f"{path.name}: debug sections left as they are: {why}")
        return None
    data = bytearray(original)
    for _, start, end in ranges:
        data[start:end] = bytes(end - start)
    if ranges:
        path.write_bytes(data)
    return sum(end - start for _, start, end in ranges)


def zero_layer_debug_sections(root: Path) -> dict[str, int]:
    """zero_debug_sections on every ELF file (or ``.so``) under ``root``: {path under root: bytes zeroed}."""
    zeroed: dict[str, int] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        with open(path, "rb") as handle:
            if handle.read(4) != ELF_MAGIC and not path.name.endswith(".so"):
                continue
        count = zero_debug_sections(path)
        if count:
            zeroed[path.relative_to(root).as_posix()] = count
    return zeroed


def _log(message: str) -> None:
    print(f"build_layer: {message}", file=sys.stderr, flush=True)
