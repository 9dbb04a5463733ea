"""Building a local ``/opt``: layer zips unpacked and layer directories merged, later ones winning.

Lambda extracts every attached layer into ``/opt`` in order, so two layers that both ship
``python/`` end up side by side in one tree. ``zipfile`` does not restore file modes, yet the exec
wrapper at the zip root must stay executable: modes are taken from each entry's ``external_attr``.

A layer zip is untrusted input (``lambda-tracer-local --layer``, ``make demo``, ``publish --zip``,
``tools/build_layer.py --unpack``), and this module is the only code that unpacks one: the whole archive
is checked before anything is written, so that no entry lands, links or deletes outside the destination
(absolute or ``..`` names, symlinks leading out, writes through a symlink), and setuid, setgid and sticky
bits are dropped. It is also bounded: the entry count and the central directory's size are read from the
end record before ``zipfile`` parses anything, the declared total must fit Lambda's 250 MB unzipped limit,
no big entry may claim more than ``MAX_RATIO`` times its compressed size, and only stored and deflated
entries are accepted (bzip2 and LZMA decompress a whole read at once, however much it expands). While
extracting, no entry may yield more than it declared, nor content its CRC disowns. It uses the standard
library only, because ``tools/build_layer.py`` loads it with a bare ``python3``.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

#: At most this many symlinks are followed to resolve one link target (Linux's limit too).
MAX_LINK_HOPS = 40
#: Longest symlink target read from a zip (Linux's PATH_MAX): a link entry is read before it is checked.
MAX_LINK_TARGET = 4096
#: Names and targets in messages are cut to this many characters.
SHOWN_CHARS = 80
_DRIVE = re.compile(r"^[A-Za-z]:")

#: Lambda's limit on a function and all its layers, unzipped (262,144,000 bytes): no layer can be bigger.
MAX_UNZIPPED = 250 * 1024 * 1024
#: Entries of one zip: 30 times ours (about 1,000), room for layers of big scientific packages.
MAX_ENTRIES = 30_000
#: Bytes of one zip's central directory, which ``zipfile`` parses whole into memory (whatever count the end
#: record claims): about 550 bytes an entry at ``MAX_ENTRIES``, where ours average about 100.
MAX_DIRECTORY = 16 * 1024 * 1024
#: Expansion allowed for an entry over ``RATIO_FLOOR`` bytes. Compiled extensions reach 20, text 15; zip bombs
#: reach deflate's ceiling of about 1,030.
MAX_RATIO = 200
RATIO_FLOOR = 1024 * 1024
#: Compression methods a layer zip may use: the ones every zip tool writes, and whose output ``zipfile``
#: decompresses in bounded chunks.
METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
_CHUNK = 1024 * 1024
_END = struct.Struct("<4s4H2LH")  # end of central directory record
_END64 = struct.Struct("<4sQ2H2L4Q")  # its ZIP64 version, right before the ZIP64 locator
_LOCATOR64_SIZE = 20


class UnsafeLayerError(ValueError):
    """A layer zip entry would reach outside the destination, or the zip is over a limit (a zip bomb).

    Raised before anything of the zip is written, except for what only extracting can reveal: an entry whose
    content is bigger than its header says or fails its CRC (its partial file is removed).
    """


@dataclass(frozen=True)
class _Entry:
    """One checked zip entry: where it goes (relative to the destination) and what it becomes there."""

    info: zipfile.ZipInfo
    parts: tuple[str, ...]
    kind: str  # "dir", "file" or "link"
    perm: int  # rwx bits only (0: keep the default)
    target: str = ""  # a link's target


def check_layer(zip_path: str | os.PathLike[str]) -> None:
    """Raise ``UnsafeLayerError`` if unpacking ``zip_path`` into an empty directory could escape it.

    For the tools to refuse a zip up front, in one line, before they start anything.
    """
    with open_layer(zip_path) as archive:
        _plan(archive, None, str(zip_path))


def open_layer(zip_path: str | os.PathLike[str]) -> zipfile.ZipFile:
    """``zipfile.ZipFile(zip_path)``, once the end record shows that parsing its directory is bounded.

    Raises ``UnsafeLayerError`` over ``MAX_ENTRIES`` or ``MAX_DIRECTORY``, and ``zipfile.BadZipFile`` as
    ``zipfile`` does.
    """
    source = str(zip_path)
    declared = _directory_size(zip_path)
    if declared is not None:
        count, size = declared
        if count > MAX_ENTRIES:
            raise UnsafeLayerError(f"refusing layer zip {source}: {count} entries, over the limit of {MAX_ENTRIES}")
        if size > MAX_DIRECTORY:
            raise UnsafeLayerError(
                f"refusing layer zip {source}: a central directory of {size} bytes, over the limit of {MAX_DIRECTORY}"
            )
    archive = zipfile.ZipFile(zip_path)
    if len(archive.infolist()) > MAX_ENTRIES:  # the end record's count can lie; the directory cannot
        archive.close()
        raise UnsafeLayerError(
            f"refusing layer zip {source}: {len(archive.infolist())} entries, over the limit of {MAX_ENTRIES}"
        )
    return archive


def read_entry(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """The content of entry ``name`` of a checked archive, refused when it holds more than ``limit`` bytes."""
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise UnsafeLayerError(f"refusing layer zip entry {_show(name)}: {info.file_size} bytes, over {limit}")
    chunks: list[bytes] = []
    _copy(archive, info, chunks.append)
    return b"".join(chunks)


def unpack_layer(zip_path: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Extract a layer zip into ``dest`` (created if needed), keeping rwx modes and inside symlinks.

    Raises ``UnsafeLayerError`` before writing anything if any entry is unsafe (see the module docstring).
    """
    target = Path(dest)
    with open_layer(zip_path) as archive:
        entries = _plan(archive, target, str(zip_path))
        target.mkdir(parents=True, exist_ok=True)
        root = os.path.realpath(target)
        for entry in entries:
            _extract(archive, entry, target, root)
    return target


def merge_layers(sources: Iterable[str | os.PathLike[str]], dest: str | os.PathLike[str]) -> Path:
    """One opt dir from layer dirs and ``.zip`` files, in order (a later layer overwrites an earlier one).

    Directories are hard-linked file by file (copied when linking is impossible), so merging a big
    layer costs milliseconds and never modifies the source tree. Every zip is checked before anything is
    written, and so is their sum: Lambda's 250 MB unzipped limit is for all layers together.
    """
    target = Path(dest)
    paths = [Path(source) for source in sources]
    total = 0
    for path in paths:
        if path.is_dir():
            continue
        if not zipfile.is_zipfile(path):
            raise FileNotFoundError(f"layer {path} is neither a directory nor a zip file")
        with open_layer(path) as archive:
            _plan(archive, None, str(path))
            total += sum(info.file_size for info in archive.infolist())
        if total > MAX_UNZIPPED:
            raise UnsafeLayerError(
                f"refusing layer zip {path}: the layer zips unpack to {total} bytes together, over Lambda's "
                f"{MAX_UNZIPPED}-byte (250 MB) unzipped limit"
            )
    target.mkdir(parents=True, exist_ok=True)
    for path in paths:
        if path.is_dir():
            _link_tree(path, target)
        else:
            unpack_layer(path, target)
    return target


# ---------------------------------------------------------------- checking a zip before unpacking it


def _plan(archive: zipfile.ZipFile, dest: Path | None, source: str) -> list[_Entry]:
    """Every entry of the archive, checked in order against the links planted before it and ``dest``.

    Each entry replaces whatever is at its path (a directory that is one already stays). Link targets are
    checked last, against the final tree: a later entry could redirect an earlier link. The sizes come first,
    before a symlink entry is read.
    """
    _check_sizes(archive, source)
    root = None if dest is None else os.path.realpath(dest)
    entries: list[_Entry] = []
    links: dict[tuple[str, ...], _Entry] = {}
    plain: set[tuple[str, ...]] = set()  # files and directories: no longer a symlink once unpacked
    for info in archive.infolist():
        entry = _entry(archive, info, source)
        _check_route(entry, links, root, source)
        links.pop(entry.parts, None)
        plain.discard(entry.parts)
        if entry.kind == "link":
            links[entry.parts] = entry
        else:
            plain.add(entry.parts)
        entries.append(entry)
    for link in links.values():
        if _resolve([*link.parts[:-1], *link.target.split("/")], links, plain, dest) is None:
            raise _refused(source, link.info.filename, f"is a symlink to {_show(link.target)}, which leads outside")
    return entries


def _check_sizes(archive: zipfile.ZipFile, source: str) -> None:
    """The declared sizes, before any byte is decompressed: a zip bomb is refused here.

    What a header declares is all there is to check up front; ``_copy`` holds every entry to it later.
    """
    infos = archive.infolist()
    if archive.fp is not None:
        on_disk = os.fstat(archive.fp.fileno()).st_size
        packed = sum(info.compress_size for info in infos)
        if packed > on_disk:
            raise _refused_zip(source, f"its entries claim {packed} compressed bytes, but the file holds {on_disk}")
    for info in infos:
        if info.compress_type not in METHODS:
            method = f"compression method {info.compress_type}"
            raise _refused(source, info.filename, f"uses {method}; a layer zip may use stored or deflate only")
        if info.flag_bits & 0x1:
            raise _refused(source, info.filename, "is encrypted")
    total = sum(info.file_size for info in infos)
    if total > MAX_UNZIPPED:
        raise _refused_zip(
            source, f"it unpacks to {total} bytes, over Lambda's {MAX_UNZIPPED}-byte (250 MB) unzipped limit"
        )
    for info in infos:
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * info.compress_size:
            ratio = info.file_size // max(info.compress_size, 1)
            raise _refused(
                source,
                info.filename,
                f"expands {info.compress_size} bytes to {info.file_size} ({ratio}:1, over {MAX_RATIO}:1): a zip bomb",
            )


def _directory_size(zip_path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(entries, central directory bytes) from the zip's end record, read as ``zipfile`` will find it.

    None when there is no end record: ``zipfile`` then refuses the file itself.
    """
    with open(zip_path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        start = max(0, size - _END.size - 0xFFFF)  # the record, then a comment of up to 65,535 bytes
        handle.seek(start)
        tail = handle.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + _END.size > len(tail):
            return None
        fields = _END.unpack_from(tail, at)
        count, directory = fields[4], fields[5]
        record64 = start + at - _LOCATOR64_SIZE - _END64.size  # where zipfile looks for the ZIP64 record
        if record64 >= 0:
            handle.seek(record64)
            data = handle.read(_END64.size)
            if len(data) == _END64.size and data[:4] == b"PK\x06\x06":
                fields64 = _END64.unpack(data)
                count, directory = fields64[7], fields64[8]
    return count, directory


def _entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> _Entry:
    mode = info.external_attr >> 16
    perm = mode & 0o777  # setuid, setgid and sticky dropped
    parts = _parts(info.filename, source)
    if not stat.S_ISLNK(mode):
        return _Entry(info, parts, "dir" if info.is_dir() else "file", perm)
    if info.file_size > MAX_LINK_TARGET:
        raise _refused(source, info.filename, f"is a symlink with a target of {info.file_size} bytes")
    try:
        target = read_entry(archive, info.filename, MAX_LINK_TARGET).decode()
    except UnicodeDecodeError:
        raise _refused(source, info.filename, "is a symlink whose target is not UTF-8")
    problem = "is empty" if not target else _path_problem(target)
    if problem:
        raise _refused(source, info.filename, f"is a symlink to {_show(target)}, which {problem}")
    return _Entry(info, parts, "link", perm, target)


def _parts(name: str, source: str) -> tuple[str, ...]:
    """The entry's path below the destination, or a refusal if it could be anywhere else."""
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    problem = _path_problem(name)
    if not problem and ".." in parts:
        problem = "has a '..' component"
    if not problem and not parts:
        problem = "has an empty path"
    if problem:
        raise _refused(source, name, problem)
    return parts


def _path_problem(path: str) -> str:
    """Why a name or link target is not a plain relative POSIX path ("" if it is)."""
    if path.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(path):
        return "starts with a drive letter"
    if "\\" in path:
        return "contains a backslash (a Windows separator)"
    if "\0" in path:
        return "contains a NUL byte"
    return ""


def _check_route(entry: _Entry, links: dict[tuple[str, ...], _Entry], root: str | None, source: str) -> None:
    """Nothing is written through a symlink of the same zip, nor through one in ``dest`` that leads outside."""
    route = entry.parts[:-1]
    for depth in range(1, len(route) + 1):
        if route[:depth] in links:
            through = _show("/".join(route[:depth]))
            raise _refused(source, entry.info.filename, f"would be written through the zip's symlink {through}")
    if root is not None and route and not _inside(root, os.path.join(root, *route)):
        raise _refused(source, entry.info.filename, "would be written through a symlink that leads outside")


def _resolve(
    parts: list[str], links: dict[tuple[str, ...], _Entry], plain: set[tuple[str, ...]], dest: Path | None
) -> tuple[str, ...] | None:
    """Where ``parts`` (relative to the destination) leads once unpacked, every symlink followed; None if out.

    Walked like the kernel does, component by component with a budget of symlinks, so that links that each
    look inside cannot climb out together (``x/y/l -> ../../q``, then ``m -> x/y/l/../../out``: q/../../out).
    """
    pending = list(reversed(parts))
    here: tuple[str, ...] = ()
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not here:
                return None
            here = here[:-1]
            continue
        here = (*here, part)
        target = _link_at(here, links, plain, dest)
        if target is None:
            continue
        hops += 1
        if hops > MAX_LINK_HOPS or target.startswith("/"):
            return None
        here = here[:-1]
        pending.extend(reversed(target.split("/")))
    return here


def _link_at(
    parts: tuple[str, ...], links: dict[tuple[str, ...], _Entry], plain: set[tuple[str, ...]], dest: Path | None
) -> str | None:
    """The target of the symlink at ``parts`` once unpacked: the zip's own, else one already in ``dest``."""
    if parts in links:
        return links[parts].target
    if parts in plain or dest is None:
        return None
    path = dest.joinpath(*parts)
    return os.readlink(path) if path.is_symlink() else None


def _inside(root: str, path: str | os.PathLike[str]) -> bool:
    """Whether ``path``, every symlink followed, is ``root`` or below it (``root`` already real)."""
    return Path(os.path.realpath(path)).is_relative_to(root)


def _show(text: str) -> str:
    """A name or target for a message: quoted, escaped, and cut (a hostile zip may use huge names)."""
    return repr(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…")


def _refused(source: str, name: str, reason: str) -> UnsafeLayerError:
    return UnsafeLayerError(f"refusing layer zip {source}: entry {_show(name)} {reason}")


def _refused_zip(source: str, reason: str) -> UnsafeLayerError:
    return UnsafeLayerError(f"refusing layer zip {source}: {reason}")


# ---------------------------------------------------------------- writing


def _extract(archive: zipfile.ZipFile, entry: _Entry, dest: Path, root: str) -> None:
    path = dest.joinpath(*entry.parts)
    if not _inside(root, path.parent):  # checked already: this guards against a tree changed meanwhile
        raise UnsafeLayerError(f"refusing to write {path}: it leads outside {root}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if entry.kind == "dir":
        if path.is_symlink() or not path.is_dir():
            _remove(path, root)
            path.mkdir()
        if entry.perm:
            path.chmod(entry.perm | 0o700)  # the owner must still be able to write what follows
        return
    _remove(path, root)
    if entry.kind == "link":
        os.symlink(entry.target, path)
        return
    # O_EXCL: a new file (never an earlier layer's, which may be hard-linked to its source tree).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            _copy(archive, entry.info, out.write)
            if entry.perm:
                os.fchmod(out.fileno(), entry.perm)
    except UnsafeLayerError:
        path.unlink()
        raise


def _copy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, write: Callable[[bytes], object]) -> None:
    """Decompress one entry into ``write``, holding it to its header: exactly ``info.file_size`` bytes, never
    more (``zipfile`` stops there too; this does not rely on it), and its CRC checked.
    """
    source = archive.filename or "(zip)"
    left = info.file_size
    try:
        with archive.open(info) as data:
            while chunk := data.read(min(_CHUNK, left + 1)):
                left -= len(chunk)
                if left < 0:
                    raise _refused(source, info.filename, f"holds more than the {info.file_size} bytes it declares")
                write(chunk)
    except (zipfile.BadZipFile, EOFError, zlib.error) as error:
        reason = "fails its CRC check" if "CRC" in str(error) else f"is corrupt ({type(error).__name__})"
        raise _refused(source, info.filename, f"{reason}: its content is not what its header declares")
    if left:
        raise _refused(
            source, info.filename, f"holds {info.file_size - left} of the {info.file_size} bytes it declares"
        )


def _link_tree(source: Path, dest: Path) -> None:
    root = os.path.realpath(dest)
    for dirpath, dirs, files in os.walk(source):
        here = Path(dirpath)
        there = dest / here.relative_to(source)
        if not _inside(root, there):
            raise UnsafeLayerError(f"refusing layer {source}: {there} leads outside {dest} through a symlink")
        there.mkdir(parents=True, exist_ok=True)
        for name in dirs:
            if (here / name).is_symlink():
                _remove(there / name, root)
                os.symlink(os.readlink(here / name), there / name)
        for name in files:
            src, dst = here / name, there / name
            _remove(dst, root)
            if src.is_symlink():
                os.symlink(os.readlink(src), dst)
                continue
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)


def _remove(path: Path, root: str) -> None:
    """Make room for a later layer's entry: never through a symlink, never outside ``root``."""
    if not _inside(root, path.parent):
        raise UnsafeLayerError(f"refusing to remove {path}: it is outside {root}")
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
