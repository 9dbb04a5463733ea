"""Building a local ``/opt``: layer zips unpacked and layer directories merged, later ones winning.

Lambda extracts every attached layer into ``/opt`` in order, so two layers that both ship
``python/`` end up side by side in one tree. ``zipfile`` does not restore file modes, yet the exec
wrapper at the zip root must stay executable: modes are taken from each entry's ``external_attr``.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from collections.abc import Iterable
from pathlib import Path


def unpack_layer(zip_path: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Extract a layer zip into ``dest`` (created if needed), keeping Unix modes and symlinks."""
    target = Path(dest)
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                link = target / info.filename
                link.parent.mkdir(parents=True, exist_ok=True)
                _remove(link)
                os.symlink(archive.read(info).decode(), link)
                continue
            extracted = Path(archive.extract(info, target))
            if mode & 0o7777 and not info.is_dir():
                extracted.chmod(mode & 0o7777)
    return target


def merge_layers(sources: Iterable[str | os.PathLike[str]], dest: str | os.PathLike[str]) -> Path:
    """One opt dir from layer dirs and ``.zip`` files, in order (a later layer overwrites an earlier one).

    Directories are hard-linked file by file (copied when linking is impossible), so merging a big
    layer costs milliseconds and never modifies the source tree.
    """
    target = Path(dest)
    target.mkdir(parents=True, exist_ok=True)
    for source in sources:
        path = Path(source)
        if path.is_dir():
            _link_tree(path, target)
        elif zipfile.is_zipfile(path):
            unpack_layer(path, target)
        else:
            raise FileNotFoundError(f"layer {path} is neither a directory nor a zip file")
    return target


def _link_tree(source: Path, dest: Path) -> None:
    for root, dirs, files in os.walk(source):
        here = Path(root)
        there = dest / here.relative_to(source)
        there.mkdir(parents=True, exist_ok=True)
        for name in dirs:
            if (here / name).is_symlink():
                _remove(there / name)
                os.symlink(os.readlink(here / name), there / name)
        for name in files:
            src, dst = here / name, there / name
            _remove(dst)
            if src.is_symlink():
                os.symlink(os.readlink(src), dst)
                continue
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
