"""Zip bombs against every reader of a layer zip: refused before anything is written, in one clear line.

The zips are written byte by byte here (``raw_zip``), because a bomb's point is a header that lies or a
size ``zipfile`` would take minutes to write: a 1 MB deflate stream of 1 GiB of zeros, 30,001 entries, an end
record that understates the directory, an entry that inflates past its declared size. Each refusal is checked
through ``unpack_layer``/``merge_layers`` and through each tool a user points at a zip, with a snapshot of the
whole temporary directory before and after (helpers shared with ``test_unsafe_zips``).
"""

from __future__ import annotations

import random
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_unsafe_zips import (
    FILE,
    TOOLS,
    WRAPPER,
    assert_one_clear_line,
    legit_entries,
    run_python,
    run_tool,
    snapshot,
    write_zip,
)
from tools_support import ROOT, Proxy, publish

from lambda_tracer_local import layers
from lambda_tracer_local.layers import UnsafeLayerError, check_layer, merge_layers, unpack_layer

GIB = 1 << 30
MIB = 1 << 20


@dataclass
class Raw:
    """One entry as written: ``data`` is already compressed; every size and the CRC are what the header says."""

    name: str
    data: bytes
    size: int  # declared uncompressed size
    crc: int
    method: int = zipfile.ZIP_DEFLATED
    flags: int = 0
    packed: int | None = None  # declared compressed size (default: the real one)
    mode: int = FILE | 0o644


def raw_zip(path: Path, entries: list[Raw], claimed_count: int | None = None) -> Path:
    """A zip of ``entries`` with exactly the headers given (zipfile would compute the true ones)."""
    body, central = bytearray(), bytearray()
    for entry in entries:
        name = entry.name.encode()
        packed = len(entry.data) if entry.packed is None else entry.packed
        common = (entry.flags, entry.method, 0, 0x21, entry.crc, packed, entry.size, len(name))
        central += struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 0x031E, 20, *common, 0, 0, 0, 0, entry.mode << 16, len(body)
        )
        central += name
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, *common, 0) + name + entry.data
    count = len(entries) if claimed_count is None else claimed_count
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(central), len(body), 0)
    path.write_bytes(bytes(body + central + end))
    return path


def deflated_zeros(size: int, level: int = 9) -> tuple[bytes, int]:
    """A raw deflate stream of ``size`` zero bytes, and their CRC, without holding them all at once."""
    block = bytes(MIB)
    packer = zlib.compressobj(level, zlib.DEFLATED, -15)
    parts, crc = [], 0
    for _ in range(size // MIB):
        parts.append(packer.compress(block))
        crc = zlib.crc32(block, crc)
    return b"".join(parts) + packer.flush(), crc


@pytest.fixture(scope="module")
def bomb_stream() -> tuple[bytes, int]:
    """1 GiB of zeros in about 1 MB: computed once (a few seconds)."""
    return deflated_zeros(GIB)


def bomb(path: Path, stream: tuple[bytes, int]) -> Path:
    """The issue's zip bomb: 1 MB that ``unpack_layer`` used to write out as 1 GiB."""
    data, crc = stream
    return raw_zip(path, [Raw("python/bomb.bin", data, GIB, crc)])


def ratio_bomb(path: Path) -> Path:
    """Under the 250 MB limit, but 100 MiB from about 100 kB: only its compression ratio gives it away."""
    data, crc = deflated_zeros(100 * MIB, level=1)
    return raw_zip(path, [Raw("python/zeros.bin", data, 100 * MIB, crc)])


def many_entries(path: Path, claimed_count: int | None = None) -> Path:
    data = zlib.compress(b"", 9)[2:-4]
    entries = [Raw(f"e/{i}", data, 0, 0) for i in range(layers.MAX_ENTRIES + 1)]
    return raw_zip(path, entries, claimed_count)


def lying_size(path: Path) -> Path:
    """Declares 10 bytes, inflates to 10 MiB (the CRC is the real content's)."""
    data, crc = deflated_zeros(10 * MIB)
    return raw_zip(path, [Raw("python/liar.bin", data, 10, crc)])


def lying_packed(path: Path) -> Path:
    """Claims 400 MB of compressed data in a tiny file, to pass the ratio check on paper."""
    data, crc = deflated_zeros(MIB)
    return raw_zip(path, [Raw("python/x.bin", data, 200 * MIB, crc, packed=400 * MIB)])


def bzip2_entry(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("python/data.bin", b"x" * 1000)
    return path


def encrypted_entry(path: Path) -> Path:
    return raw_zip(path, [Raw("python/secret.bin", b"\0" * 12, 0, 0, method=zipfile.ZIP_STORED, flags=0x1)])


def huge_directory(path: Path) -> Path:
    """Only an end record, claiming a 32 MiB directory: refused before ``zipfile`` reads a byte of it."""
    path.write_bytes(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, 32 * MIB, 0, 0))
    return path


# (id, builder, what the refusal says); the bomb is built from the module fixture, the rest on the spot.
REFUSED: list[tuple[str, Callable[[Path], Path], str]] = [
    ("ratio", ratio_bomb, ":1, over 200:1): a zip bomb"),
    ("entries", many_entries, f"{layers.MAX_ENTRIES + 1} entries, over the limit of {layers.MAX_ENTRIES}"),
    (
        "entries-understated",
        lambda path: many_entries(path, claimed_count=1),
        f"{layers.MAX_ENTRIES + 1} entries, over the limit of {layers.MAX_ENTRIES}",
    ),
    ("directory", huge_directory, f"a central directory of {32 * MIB} bytes, over the limit of {16 * MIB}"),
    ("packed-lies", lying_packed, "its entries claim 419430400 compressed bytes, but the file holds"),
    ("bzip2", bzip2_entry, "uses compression method 12; a layer zip may use stored or deflate only"),
    ("encrypted", encrypted_entry, "'python/secret.bin' is encrypted"),
]
IDS = [case[0] for case in REFUSED]
BOMB_REASON = "it unpacks to 1073741824 bytes, over Lambda's 262144000-byte (250 MB) unzipped limit"


def test_a_1_mb_zip_bomb_of_1_gib_is_refused_before_anything_is_written(
    bomb_stream: tuple[bytes, int], tmp_path: Path
) -> None:
    archive = bomb(tmp_path / "layer.zip", bomb_stream)
    assert archive.stat().st_size < 1.1 * MIB
    before = snapshot(tmp_path)
    with pytest.raises(UnsafeLayerError, match=re.escape(BOMB_REASON)):
        unpack_layer(archive, tmp_path / "dest")
    with pytest.raises(UnsafeLayerError, match=re.escape(BOMB_REASON)):
        check_layer(archive)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(("case", "build", "reason"), REFUSED, ids=IDS)
def test_unpack_layer_refuses_over_a_limit_and_writes_nothing(
    case: str, build: Callable[[Path], Path], reason: str, tmp_path: Path
) -> None:
    archive = build(tmp_path / "layer.zip")
    before = snapshot(tmp_path)
    with pytest.raises(UnsafeLayerError) as refused:
        unpack_layer(archive, tmp_path / "dest")
    assert reason in str(refused.value) and str(refused.value).startswith(f"refusing layer zip {archive}")
    assert snapshot(tmp_path) == before


def test_an_entry_bigger_than_its_header_is_cut_and_refused(tmp_path: Path) -> None:
    """Only extracting reveals it: refused there, with no more than the declared 10 bytes ever on disk."""
    archive = lying_size(tmp_path / "layer.zip")
    check_layer(archive)  # the headers alone are plausible
    with pytest.raises(
        UnsafeLayerError, match=re.escape("'python/liar.bin' fails its CRC check: its content is not what")
    ):
        unpack_layer(archive, tmp_path / "dest")
    assert not (tmp_path / "dest" / "python" / "liar.bin").exists()


def test_an_entry_that_ends_early_is_refused(tmp_path: Path) -> None:
    content = random.Random(0).randbytes(MIB)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = packer.compress(content) + packer.flush()
    archive = raw_zip(tmp_path / "layer.zip", [Raw("python/short.bin", data, 2 * MIB, zlib.crc32(content))])
    with pytest.raises(
        UnsafeLayerError, match=re.escape("'python/short.bin' holds 1048576 of the 2097152 bytes it declares")
    ):
        unpack_layer(archive, tmp_path / "dest")
    assert not (tmp_path / "dest" / "python" / "short.bin").exists()


def test_layers_are_limited_together(tmp_path: Path) -> None:
    """Lambda's 250 MB is for all layers: two zips of 150 MB each are refused before either is unpacked."""
    data, crc = deflated_zeros(MIB, level=0)  # stored blocks: 1 MiB on disk, so 150 MiB stays under 200:1
    first = raw_zip(tmp_path / "first.zip", [Raw("python/a.bin", data, 150 * MIB, crc)])
    second = raw_zip(tmp_path / "second.zip", [Raw("python/b.bin", data, 150 * MIB, crc)])
    check_layer(first)
    check_layer(second)
    before = snapshot(tmp_path)
    with pytest.raises(UnsafeLayerError, match="the layer zips unpack to 314572800 bytes together, over Lambda's"):
        merge_layers([first, second], tmp_path / "dest")
    assert snapshot(tmp_path) == before


def test_the_built_layer_is_well_inside_every_limit(layer_zip: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(layer_zip) as archive:
        infos = archive.infolist()
    assert len(infos) * 10 < layers.MAX_ENTRIES
    assert sum(info.file_size for info in infos) * 10 < layers.MAX_UNZIPPED
    assert max(info.file_size / info.compress_size for info in infos if info.compress_size) * 5 < layers.MAX_RATIO
    dest = unpack_layer(layer_zip, tmp_path / "opt")
    assert (dest / "python" / "lambda_tracer" / "handler.py").is_file()


def test_a_legit_zip_with_a_big_compressible_file_is_fine(tmp_path: Path) -> None:
    """Text compresses 10:1 or so, under the ratio limit by far: a normal layer is never a false bomb."""
    text = "".join(f"line {i}: {i * 7919 % 104729}\n" for i in range(200_000))
    archive = write_zip(tmp_path / "layer.zip", [*legit_entries(), ("python/data.txt", text, FILE | 0o644)], tmp_path)
    dest = unpack_layer(archive, tmp_path / "dest")
    assert (dest / "python" / "data.txt").read_text() == text


# ---------------------------------------------------------------- the tools, as a user runs them


@pytest.mark.parametrize("tool", TOOLS)
def test_the_tools_refuse_the_bomb_in_one_line(tool: str, bomb_stream: tuple[bytes, int], tmp_path: Path) -> None:
    archive = bomb(tmp_path / "layer.zip", bomb_stream)
    before = snapshot(tmp_path)
    status, stderr, prefix = run_tool(tool, archive, tmp_path / "dest")
    assert status == (1 if tool == "build_layer" else 2), stderr
    assert stderr.startswith(prefix + "refusing layer zip")
    assert_one_clear_line(stderr, BOMB_REASON)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("tool", TOOLS)
def test_the_tools_refuse_too_many_entries(tool: str, tmp_path: Path) -> None:
    archive = many_entries(tmp_path / "layer.zip", claimed_count=1)
    before = snapshot(tmp_path)
    status, stderr, _ = run_tool(tool, archive, tmp_path / "dest")
    assert status == (1 if tool == "build_layer" else 2), stderr
    assert_one_clear_line(stderr, f"{layers.MAX_ENTRIES + 1} entries, over the limit")
    assert snapshot(tmp_path) == before


def test_build_layer_unpack_refuses_a_lying_entry(tmp_path: Path) -> None:
    archive = lying_size(tmp_path / "layer.zip")
    done = run_python(str(ROOT / "tools" / "build_layer.py"), "--unpack", str(archive), str(tmp_path / "dest"))
    assert done.returncode == 1
    assert_one_clear_line(done.stderr, "'python/liar.bin' fails its CRC check")
    assert not (tmp_path / "dest" / "python" / "liar.bin").exists()


def test_publish_refuses_the_bomb_before_any_aws_call(
    bomb_stream: tuple[bytes, int], tmp_path: Path, aws_env: Proxy, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = bomb(tmp_path / "layer.zip", bomb_stream)
    before = snapshot(tmp_path)
    code = publish.main(["--zip", str(archive), "--region", "us-east-1", "--json", str(tmp_path / "out.json")])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("publish: refused: refusing layer zip")
    assert_one_clear_line(err, BOMB_REASON)
    assert snapshot(tmp_path) == before
    assert aws_env.requests == []


def test_publish_refuses_a_lying_manifest(tmp_path: Path, aws_env: Proxy, capsys: pytest.CaptureFixture[str]) -> None:
    """The manifest is read into memory: one declaring 10 bytes that inflates to 10 MiB is refused there."""
    data, crc = deflated_zeros(10 * MIB)
    wrapper = WRAPPER[1].encode()
    init = b'__version__ = "9.9.9"\n'
    entries = [
        Raw(WRAPPER[0], wrapper, len(wrapper), zlib.crc32(wrapper), method=zipfile.ZIP_STORED, mode=WRAPPER[2]),
        Raw("python/lambda_tracer/__init__.py", init, len(init), zlib.crc32(init), method=zipfile.ZIP_STORED),
        Raw("python/lambda_tracer/handler.py", b"", 0, 0, method=zipfile.ZIP_STORED),
        Raw(publish.MANIFEST_NAME, data, 10, crc),
    ]
    archive = raw_zip(tmp_path / "layer.zip", entries)
    code = publish.main(["--zip", str(archive), "--region", "us-east-1", "--json", str(tmp_path / "out.json")])
    _, err = capsys.readouterr()
    assert code == 2
    assert "fails its CRC check" in err
    assert aws_env.requests == []
