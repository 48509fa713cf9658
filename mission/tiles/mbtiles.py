"""MBTiles (https://github.com/mapbox/mbtiles-spec, 1.3): an SQLite file with a `metadata`
name/value table and a `tiles` table (or view) keyed by zoom_level, tile_column, tile_row.

tile_row counts from the south (TMS), the web's XYZ y from the north: row = 2^z - 1 - y.
The file is opened read-only (immutable: no journal, no lock file next to an archive that may
sit on read-only media); each thread gets its own connection, as sqlite3 connections are not
shared between threads.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from mission.tiles.archive import (
    GZIP_MAGIC,
    WORLD,
    ArchiveError,
    ArchiveInfo,
    Tile,
    check_bounds,
    check_zooms,
    normalise_format,
)


def connect(path: Path) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def read_info(conn: sqlite3.Connection, name: str, path: Path) -> ArchiveInfo:
    """The archive's description from its metadata, checked; ArchiveError naming what is
    wrong."""
    try:
        meta = dict(conn.execute("SELECT name, value FROM metadata").fetchall())
        zooms = conn.execute("SELECT min(zoom_level), max(zoom_level), count(*) FROM tiles")\
            .fetchone()
    except sqlite3.DatabaseError as e:
        raise ArchiveError(f"not an MBTiles file ({e})") from None
    if not zooms or zooms[2] == 0:
        raise ArchiveError("the archive holds no tiles")
    fmt = normalise_format(str(meta.get("format", "png")))
    try:
        min_zoom = int(meta.get("minzoom", zooms[0]))
        max_zoom = int(meta.get("maxzoom", zooms[1]))
        bounds_raw = meta.get("bounds")
        bounds = WORLD if not bounds_raw else tuple(float(v) for v in str(bounds_raw).split(","))
    except ValueError as e:
        raise ArchiveError(f"metadata does not parse: {e}") from None
    if len(bounds) != 4:
        raise ArchiveError(f"bounds {bounds_raw!r} are not west,south,east,north")
    check_zooms(min_zoom, max_zoom)
    layers: tuple[str, ...] = ()
    if fmt == "mvt" and meta.get("json"):
        import json
        try:
            layers = tuple(str(v.get("id")) for v in json.loads(meta["json"])
                           .get("vector_layers", []))
        except (ValueError, AttributeError):
            layers = ()
    return ArchiveInfo(
        name=name, path=path, kind="mbtiles", format=fmt,
        bounds=check_bounds((bounds[0], bounds[1], bounds[2], bounds[3])),
        min_zoom=min_zoom, max_zoom=max_zoom, attribution=str(meta.get("attribution", "")),
        tiles=int(zooms[2]), vector_layers=layers,
    )


class MBTilesReader:
    """Reads tiles from one MBTiles file, from any thread."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.info = read_info(self._conn(), name, path)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = connect(self.path)
            except sqlite3.Error as e:
                raise ArchiveError(f"cannot open {self.path}: {e}") from None
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def get(self, z: int, x: int, y: int) -> Tile | None:
        row = self._conn().execute(
            "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
            (z, x, (1 << z) - 1 - y)).fetchone()
        if row is None or row[0] is None:
            return None
        data = bytes(row[0])
        return Tile(data, data[:2] == GZIP_MAGIC)

    def sample(self, n: int) -> list[tuple[tuple[int, int, int], Tile]]:
        rows = self._conn().execute(
            "SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles LIMIT ?", (n,))
        out = []
        for z, x, row, data in rows:
            raw = bytes(data or b"")
            out.append(((z, x, (1 << z) - 1 - row), Tile(raw, raw[:2] == GZIP_MAGIC)))
        return out

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
