"""`nazorat tiles info` and `nazorat tiles import`: what a deployment serves, and installing a
city's archive into the data directory's tiles/ folder after checking it, so that a broken or
wrong file is refused at the desk with a reason rather than found grey on the map later."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mission.tiles.archive import ArchiveError, ArchiveInfo, content_problem
from mission.tiles.service import NAME_PATTERN, installed, open_archive

SAMPLE_TILES = 16


def describe(info: ArchiveInfo) -> str:
    w, s, e, n = info.bounds
    return (f"{info.name}: {info.kind} {info.format} ({'raster' if info.raster else 'vector'}), "
            f"zoom {info.min_zoom}-{info.max_zoom}, bounds {w:.5f},{s:.5f},{e:.5f},{n:.5f}, "
            f"{info.tiles} tiles, {info.path}"
            + (f"\n  attribution: {info.attribution}" if info.attribution else ""))


def info_lines(configured: list[tuple[str, Path]], tiles_dir: Path) -> list[str]:
    """One paragraph per archive the service would serve, and why any is left out."""
    lines: list[str] = []
    seen: set[str] = set()
    for name, path in [*configured, *installed(tiles_dir)]:
        if name in seen:
            lines.append(f"{name}: {path} shadowed by an archive of the same name above")
            continue
        seen.add(name)
        try:
            reader = open_archive(path, name)
        except ArchiveError as e:
            lines.append(f"{name}: NOT SERVED: {path}: {e}")
            continue
        lines.append(describe(reader.info))
        reader.close()
    if not lines:
        lines.append(f"no tile archives: set NAZORAT_TILES or `nazorat tiles import FILE` "
                     f"(installs into {tiles_dir})")
    return lines


def validate(path: Path, name: str) -> ArchiveInfo:
    """Open the archive and check its format, zoom range, bounds and a sample of its tiles'
    content; ArchiveError naming the first problem."""
    if not path.is_file():
        raise ArchiveError(f"{path}: no such file")
    reader = open_archive(path, name)
    try:
        samples = reader.sample(SAMPLE_TILES)
        if not samples:
            raise ArchiveError("the archive holds no tiles")
        for (z, x, y), tile in samples:
            problem = content_problem(reader.info.format, tile)
            if problem:
                raise ArchiveError(f"{problem}: tile {z}/{x}/{y}; the archive says its tiles "
                                   f"are {reader.info.format}")
        return reader.info
    finally:
        reader.close()


def import_archive(source: Path, tiles_dir: Path, name: str | None = None,
                   replace: bool = False) -> ArchiveInfo:
    """Check `source`, then copy it to tiles_dir/NAME.EXT (a temporary file renamed into place,
    so that a running service never sees half a file)."""
    name = name or source.stem
    if not NAME_PATTERN.match(name):
        raise ArchiveError(f"name {name!r}: letters, digits, _ and - only (--name chooses one)")
    info = validate(source, name)
    tiles_dir.mkdir(parents=True, exist_ok=True)
    target = tiles_dir / f"{name}.{info.kind}"
    others = [p for p in (tiles_dir / f"{name}.pmtiles", tiles_dir / f"{name}.mbtiles")
              if p.exists()]
    if others and not replace:
        raise ArchiveError(f"an archive named {name!r} is installed ({others[0]}): --replace "
                           "to replace it, or --name to install beside it")
    tmp = tiles_dir / f".{name}.{os.getpid()}.part"
    try:
        shutil.copyfile(source, tmp)
        for p in others:
            p.unlink()
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    reader = open_archive(target, name)  # the installed copy, as the service will open it
    reader.close()
    return reader.info
