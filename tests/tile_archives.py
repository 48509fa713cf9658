"""Tiny, clearly synthetic tile archives for the tests, made here with the standard library (and
the `pmtiles` package's writer): no map data of any real place.

- `png_tile(rgb)`: a solid 256x256 PNG of one colour;
- `mvt_tile(places)`: a Mapbox Vector Tile (hand-encoded protobuf) with an `earth` polygon
  covering the tile and a `water` square in it (the layer names of the Protomaps basemap schema),
  and optionally a `places` layer of named points (made-up names);
- `write_mbtiles(path, tiles, fmt)`: tiles given in XYZ, stored with TMS rows as the spec says;
- `write_pmtiles(path, tiles, fmt)`: a PMTiles v3 file.
"""

from __future__ import annotations

import gzip
import sqlite3
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path

from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from mission.tiles.grid import tiles_in_bbox

XYZ = tuple[int, int, int]
# Around the simulator's home (Tashkent), a few tiles at z14-z16: synthetic content only.
BOUNDS = (69.2, 41.28, 69.28, 41.34)
ATTRIBUTION = "synthetic test tiles"


def png_tile(rgb: tuple[int, int, int], size: int = 256) -> bytes:
    """A solid-colour PNG (truecolour, 8 bits)."""
    row = b"\x00" + bytes(rgb) * size
    raw = row * size

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num: int, wire: int, payload: bytes) -> bytes:
    key = _varint((num << 3) | wire)
    if wire == 2:
        return key + _varint(len(payload)) + payload
    return key + payload


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 31)


def _polygon(x0: int, y0: int, x1: int, y1: int) -> list[int]:
    """Geometry commands of a clockwise (in tile coordinates: exterior) rectangle."""
    cmds = [(1 & 7) | (1 << 3), _zigzag(x0), _zigzag(y0),
            (2 & 7) | (3 << 3), _zigzag(x1 - x0), 0, 0, _zigzag(y1 - y0),
            _zigzag(x0 - x1), 0, 7 | (1 << 3)]
    return cmds


def _layer(name: str, geoms: list[list[int]], kind: str) -> bytes:
    feats = b""
    for i, g in enumerate(geoms):
        packed = b"".join(_varint(v) for v in g)
        feats += _field(2, 2, _field(1, 0, _varint(i + 1)) + _field(2, 2, _varint(0) + _varint(0))
                        + _field(3, 0, _varint(3)) + _field(4, 2, packed))
    value = _field(1, 2, kind.encode())
    body = (_field(15, 0, _varint(2)) + _field(1, 2, name.encode()) + feats
            + _field(3, 2, b"kind") + _field(4, 2, value) + _field(5, 0, _varint(4096)))
    return _field(3, 2, body)


def _places(points: list[tuple[int, int, str]]) -> bytes:
    """A `places` layer: one point (x, y in 0-4096) per name, kind "locality"."""
    feats = b""
    values = _field(4, 2, _field(1, 2, b"locality"))
    for i, (x, y, name) in enumerate(points):
        geom = b"".join(_varint(v) for v in [(1 & 7) | (1 << 3), _zigzag(x), _zigzag(y)])
        tags = b"".join(_varint(v) for v in [0, 0, 1, i + 1])
        feats += _field(2, 2, _field(1, 0, _varint(i + 1)) + _field(2, 2, tags)
                        + _field(3, 0, _varint(1)) + _field(4, 2, geom))
        values += _field(4, 2, _field(1, 2, name.encode()))
    body = (_field(15, 0, _varint(2)) + _field(1, 2, b"places") + feats
            + _field(3, 2, b"kind") + _field(3, 2, b"name") + values + _field(5, 0, _varint(4096)))
    return _field(3, 2, body)


def mvt_tile(places: list[tuple[int, int, str]] | None = None) -> bytes:
    """An uncompressed MVT: `earth` (whole tile) and `water` (a square in the middle), and a
    `places` layer with these named points if any."""
    return (_layer("earth", [_polygon(-64, -64, 4160, 4160)], "earth")
            + _layer("water", [_polygon(1024, 1024, 3072, 3072)], "water")
            + (_places(places) if places else b""))


def tiles_around(z_from: int = 14, z_to: int = 16) -> list[XYZ]:
    """The XYZ addresses covering BOUNDS at these zooms."""
    return [t for z in range(z_from, z_to + 1) for t in tiles_in_bbox(BOUNDS, z)]


def write_mbtiles(path: Path, tiles: Mapping[XYZ, bytes], fmt: str = "png",
                  meta: Mapping[str, str] | None = None) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    conn.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, "
                 "tile_data BLOB)")
    zooms = [z for z, _, _ in tiles] or [0]
    values = {"name": path.stem, "format": fmt, "bounds": ",".join(map(str, BOUNDS)),
              "minzoom": str(min(zooms)), "maxzoom": str(max(zooms)),
              "attribution": ATTRIBUTION, **(meta or {})}
    conn.executemany("INSERT INTO metadata VALUES (?, ?)", values.items())
    conn.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                     [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()])
    conn.commit()
    conn.close()
    return path


TYPES = {"png": TileType.PNG, "jpg": TileType.JPEG, "webp": TileType.WEBP, "mvt": TileType.MVT}


def write_pmtiles(path: Path, tiles: Mapping[XYZ, bytes], fmt: str = "png") -> Path:
    """A PMTiles v3 archive; vector tiles are stored gzip-compressed, as usual."""
    gz = fmt == "mvt"
    zooms = [z for z, _, _ in tiles]
    with path.open("wb") as f:
        w = Writer(f)
        for tid, data in sorted((zxy_to_tileid(*k), v) for k, v in tiles.items()):
            w.write_tile(tid, gzip.compress(data) if gz else data)
        w.finalize({
            "tile_type": TYPES[fmt],
            "tile_compression": Compression.GZIP if gz else Compression.NONE,
            "min_zoom": min(zooms), "max_zoom": max(zooms),
            "min_lon_e7": int(BOUNDS[0] * 1e7), "min_lat_e7": int(BOUNDS[1] * 1e7),
            "max_lon_e7": int(BOUNDS[2] * 1e7), "max_lat_e7": int(BOUNDS[3] * 1e7),
            "center_zoom": min(zooms), "center_lon_e7": int(69.24 * 1e7),
            "center_lat_e7": int(41.31 * 1e7),
        }, {"attribution": ATTRIBUTION,
            "vector_layers": [{"id": "earth"}, {"id": "water"}] if gz else []})
    return path
