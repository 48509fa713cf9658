"""The deployment's tile archives by name, and the async face the routes use.

Archives come from NAZORAT_TILES (`base=/maps/city.pmtiles,sat=/maps/sat.mbtiles`; a bare path
takes its file name without the extension as its name) and from the data directory's `tiles/`
folder, where `nazorat tiles import` installs them. A configured archive that cannot be opened
is logged and left out: a broken map must never keep mission control from starting.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mission.tiles.archive import (
    ALIASES,
    CONTENT_TYPES,
    ArchiveError,
    ArchiveInfo,
    Tile,
    TileReader,
    in_range,
)
from mission.tiles.mbtiles import MBTilesReader
from mission.tiles.pmtiles_archive import PMTilesReader

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SUFFIXES = (".pmtiles", ".mbtiles")


def open_archive(path: Path, name: str) -> TileReader:
    """A reader for the file, by its content (the PMTiles magic number, else SQLite), or
    ArchiveError saying what the file is not."""
    if not NAME_PATTERN.match(name):
        raise ArchiveError(f"archive name {name!r}: letters, digits, _ and - only (1-64)")
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except OSError as e:
        raise ArchiveError(f"cannot read {path}: {e.strerror}") from None
    if head[:7] == b"PMTiles":
        return PMTilesReader(path, name)
    if head.startswith(b"SQLite format 3\x00"):
        return MBTilesReader(path, name)
    raise ArchiveError(f"{path.name} is neither a PMTiles nor an MBTiles (SQLite) file")


def parse_spec(items: Iterable[str]) -> list[tuple[str, Path]]:
    """NAZORAT_TILES items (`name=path` or `path`) as (name, path), or ValueError naming the
    item."""
    out: list[tuple[str, Path]] = []
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep:
            raw, name = item, Path(item).stem
        path = Path(raw.strip()).expanduser()
        name = name.strip()
        if not NAME_PATTERN.match(name):
            raise ValueError(f"NAZORAT_TILES: archive name {name!r} in {item!r}: letters, "
                             "digits, _ and - only")
        out.append((name, path))
    return out


def installed(tiles_dir: Path) -> list[tuple[str, Path]]:
    """Archives `nazorat tiles import` put in the data directory's tiles/ folder."""
    if not tiles_dir.is_dir():
        return []
    return [(p.stem, p) for p in sorted(tiles_dir.iterdir())
            if p.suffix in SUFFIXES and p.is_file() and NAME_PATTERN.match(p.stem)]


@dataclass(frozen=True)
class ServedTile:
    """A tile ready to send: bytes as stored, their content type and a strong ETag."""

    data: bytes
    content_type: str
    gzipped: bool
    etag: str


def etag_of(tile: Tile) -> str:
    return '"' + hashlib.blake2b(tile.data, digest_size=12).hexdigest() + '"'


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _open_logged(name: str, path: Path) -> TileReader | None:
    try:
        reader = open_archive(path, name)
    except ArchiveError as e:
        log.error("tiles: archive %r (%s) left out: %s", name, path, e)
        return None
    info = reader.info
    log.info("tiles: %r %s %s z%d-%d from %s", name, info.kind, info.format, info.min_zoom,
             info.max_zoom, path)
    return reader


class TileService:
    """The named archives; reads run in worker threads. Configured archives are opened once;
    the data directory's tiles/ folder is looked at again whenever the console lists the
    archives, so one `nazorat tiles import` is all a unit needs (no restart): a new file is
    opened, a replaced one (--replace) reopened, a removed one dropped."""

    def __init__(self, readers: dict[str, TileReader], tiles_dir: Path | None = None) -> None:
        self.readers = readers
        self.tiles_dir = tiles_dir
        self._installed: dict[str, tuple[Path, tuple[int, int] | None]] = {}

    @classmethod
    def open(cls, configured: Iterable[tuple[str, Path]], tiles_dir: Path | None) -> TileService:
        """Open every archive; configured ones first (their names win), then installed ones."""
        readers: dict[str, TileReader] = {}
        for name, path in configured:
            if name not in readers and (reader := _open_logged(name, path)) is not None:
                readers[name] = reader
        service = cls(readers, tiles_dir)
        service._apply(service._scan())
        return service

    def _scan(self) -> dict[str, tuple[Path, tuple[int, int] | None, TileReader | None]]:
        """In a worker thread: the installed archives that are new or changed, opened (None:
        left out), and None for the ones removed."""
        found = {name: path for name, path in (installed(self.tiles_dir) if self.tiles_dir
                                               else [])}
        out: dict[str, tuple[Path, tuple[int, int] | None, TileReader | None]] = {}
        for name, path in found.items():
            if name in self.readers and name not in self._installed:
                continue  # a configured archive of that name wins (it has no stamp here)
            stamp = _stamp(path)
            if self._installed.get(name) == (path, stamp):
                continue
            out[name] = (path, stamp, _open_logged(name, path))
        for name in self._installed.keys() - found.keys():
            out[name] = (Path(), None, None)  # removed
        return out

    def _apply(self, changes: dict[str, tuple[Path, tuple[int, int] | None,
                                               TileReader | None]]) -> None:
        for name, (path, stamp, reader) in changes.items():
            old = self.readers.pop(name, None)
            self._installed.pop(name, None)
            if old is not None:
                old.close()  # a read still running on it answers 404 (get() catches)
            if reader is not None:
                self.readers[name] = reader
            if stamp is not None:  # seen (a broken file too: not reopened until it changes)
                self._installed[name] = (path, stamp)

    async def refresh(self) -> None:
        """Pick up archives imported, replaced or removed since the last look."""
        if self.tiles_dir is not None:
            self._apply(await asyncio.to_thread(self._scan))

    def infos(self) -> list[ArchiveInfo]:
        return [r.info for r in self.readers.values()]

    async def get(self, name: str, z: int, x: int, y: int, ext: str) -> ServedTile | None:
        """The tile, or None when the archive, the format or the tile does not exist."""
        reader = self.readers.get(name)
        ext = ALIASES.get(ext.lower(), ext.lower())
        if reader is None or ext != reader.info.format or not in_range(z, x, y):
            return None
        try:
            tile = await asyncio.to_thread(reader.get, z, x, y)
        except (ArchiveError, sqlite3.Error, OSError) as e:
            # the file changed or broke under the running service: a missing tile for the map
            # (never a 500), and a line for whoever looks after the archives
            log.warning("tiles: %r %d/%d/%d unreadable: %s", name, z, x, y, e)
            return None
        if tile is None:
            return None
        return ServedTile(tile.data, CONTENT_TYPES[ext], tile.gzipped, etag_of(tile))

    def close(self) -> None:
        for r in self.readers.values():
            r.close()
