"""PMTiles v3 (https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md): one file with a
127-byte header, a gzip-compressed root directory, JSON metadata, leaf directories and the tile
data; tiles are addressed by a Hilbert-curve tile id.

The header and directory decoding come from the `pmtiles` package (the format's reference
implementation in Python, by Protomaps, pure Python with no dependencies, BSD-3): the format's
own code rather than ours. Its `Reader` re-reads and re-decompresses the root directory for
every tile, so this reader keeps the header and decoded directories (root, and leaves in a
small LRU) and reads the file with `os.pread`, which is safe from several threads at once.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from pmtiles.tile import (
    Compression,
    Entry,
    MagicNumberNotFound,
    SpecVersionUnsupported,
    TileType,
    deserialize_directory,
    deserialize_header,
    find_tile,
    tileid_to_zxy,
    zxy_to_tileid,
)

from mission.tiles.archive import (
    GZIP_MAGIC,
    ArchiveError,
    ArchiveInfo,
    Tile,
    check_bounds,
    check_zooms,
)

FORMATS = {TileType.MVT: "mvt", TileType.PNG: "png", TileType.JPEG: "jpg",
           TileType.WEBP: "webp", TileType.AVIF: "avif"}
LEAF_CACHE = 64
MAX_DEPTH = 4  # root plus three leaf levels, as the spec allows


class PMTilesReader:
    """Reads tiles from one PMTiles v3 file, from any thread."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        try:
            self._fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            raise ArchiveError(f"cannot open {path}: {e.strerror}") from None
        try:
            self._open(name)
        except BaseException:
            os.close(self._fd)
            raise
        self._leaves: OrderedDict[tuple[int, int], list[Entry]] = OrderedDict()
        self._lock = threading.Lock()

    def _read(self, offset: int, length: int) -> bytes:
        data = os.pread(self._fd, length, offset)
        if len(data) != length:
            raise ArchiveError(f"{self.path} is shorter than its directory says (truncated?)")
        return data

    def _open(self, name: str) -> None:
        try:
            h = deserialize_header(self._read(0, 127))
        except MagicNumberNotFound:
            raise ArchiveError("not a PMTiles file (no PMTiles magic number)") from None
        except SpecVersionUnsupported:
            raise ArchiveError("a PMTiles version other than 3 (convert it with "
                               "`pmtiles convert`)") from None
        except (UnicodeDecodeError, IndexError, ValueError):
            raise ArchiveError("not a PMTiles file (the header does not parse)") from None
        self.header = h
        if h["internal_compression"] not in (Compression.GZIP, Compression.NONE):
            raise ArchiveError(f"directories compressed with {h['internal_compression'].name}: "
                               "only gzip is supported")
        if h["tile_compression"] not in (Compression.GZIP, Compression.NONE,
                                         Compression.UNKNOWN):
            raise ArchiveError(f"tiles compressed with {h['tile_compression'].name}: only gzip "
                               "or none can be served to browsers as they are")
        fmt = FORMATS.get(h["tile_type"])
        if fmt is None:
            raise ArchiveError(f"tile type {h['tile_type'].name} is not served (MVT, PNG, JPEG, "
                               "WebP, AVIF are)")
        self._root = self._directory(h["root_offset"], h["root_length"])
        meta = self._metadata()
        check_zooms(h["min_zoom"], h["max_zoom"])
        bounds = check_bounds((h["min_lon_e7"] / 1e7, h["min_lat_e7"] / 1e7,
                               h["max_lon_e7"] / 1e7, h["max_lat_e7"] / 1e7))
        layers = meta.get("vector_layers") or []
        self.info = ArchiveInfo(
            name=name, path=self.path, kind="pmtiles", format=fmt, bounds=bounds,
            min_zoom=h["min_zoom"], max_zoom=h["max_zoom"],
            attribution=str(meta.get("attribution", "")), tiles=h["addressed_tiles_count"],
            vector_layers=tuple(str(v.get("id")) for v in layers if isinstance(v, dict)),
        )
        self._compression = h["tile_compression"]

    def _directory(self, offset: int, length: int) -> list[Entry]:
        raw = self._read(offset, length)
        if self.header["internal_compression"] == Compression.NONE:
            raw = gzip.compress(raw)  # the decoder expects gzip
        try:
            return deserialize_directory(raw)
        except (OSError, EOFError, ValueError) as e:
            raise ArchiveError(f"a directory does not decode ({e})") from None

    def _metadata(self) -> dict[str, Any]:
        h = self.header
        raw = self._read(h["metadata_offset"], h["metadata_length"])
        if not raw:
            return {}
        try:
            if h["internal_compression"] == Compression.GZIP:
                raw = gzip.decompress(raw)
            meta = json.loads(raw)
        except (OSError, EOFError, ValueError) as e:
            raise ArchiveError(f"the metadata does not decode ({e})") from None
        return meta if isinstance(meta, dict) else {}

    def _leaf(self, offset: int, length: int) -> list[Entry]:
        key = (offset, length)
        with self._lock:
            found = self._leaves.get(key)
            if found is not None:
                self._leaves.move_to_end(key)
                return found
        entries = self._directory(offset, length)
        with self._lock:
            self._leaves[key] = entries
            while len(self._leaves) > LEAF_CACHE:
                self._leaves.popitem(last=False)
        return entries

    def get(self, z: int, x: int, y: int) -> Tile | None:
        h = self.header
        if not h["min_zoom"] <= z <= h["max_zoom"]:
            return None
        tile_id = zxy_to_tileid(z, x, y)
        entries = self._root
        for _ in range(MAX_DEPTH):
            entry = find_tile(entries, tile_id)
            if entry is None:
                return None
            if entry.run_length > 0:
                data = self._read(h["tile_data_offset"] + entry.offset, entry.length)
                return Tile(data, self._compression == Compression.GZIP or (
                    self._compression == Compression.UNKNOWN and data[:2] == GZIP_MAGIC))
            entries = self._leaf(h["leaf_directory_offset"] + entry.offset, entry.length)
        return None

    def sample(self, n: int) -> list[tuple[tuple[int, int, int], Tile]]:
        out: list[tuple[tuple[int, int, int], Tile]] = []
        entries = self._root
        for _ in range(MAX_DEPTH):
            tiles = [e for e in entries if e.run_length > 0]
            for e in tiles[:n]:
                z, x, y = tileid_to_zxy(e.tile_id)
                got = self.get(z, x, y)
                if got is not None:
                    out.append(((z, x, y), got))
            if out or not entries:
                return out
            first = entries[0]  # a root of leaves only: look into the first leaf
            entries = self._leaf(self.header["leaf_directory_offset"] + first.offset,
                                 first.length)
        return out

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
