"""What a tile archive is to the rest of Nazorat, whatever its file format.

An archive is opened once and then read from worker threads (the routes never read a file on
the event loop); readers must therefore be safe to call from several threads at once.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# tile format (the extension a URL uses) -> content type
CONTENT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "avif": "image/avif",
    "mvt": "application/vnd.mapbox-vector-tile",
}
RASTER = frozenset({"png", "jpg", "webp", "avif"})
# other spellings of the same formats, in MBTiles metadata and in URLs
ALIASES = {"jpeg": "jpg", "pbf": "mvt"}
MAX_ZOOM = 30
WORLD = (-180.0, -85.0511287798066, 180.0, 85.0511287798066)
GZIP_MAGIC = b"\x1f\x8b"


class ArchiveError(ValueError):
    """The file is not a tile archive Nazorat can serve; the message says why, for the
    operator (the `tiles import` output, the service log)."""


def normalise_format(fmt: str) -> str:
    """The canonical extension of a format name, or ArchiveError."""
    f = fmt.strip().lower()
    f = ALIASES.get(f, f)
    if f not in CONTENT_TYPES:
        raise ArchiveError(f"tile format {fmt!r} is not one of png, jpg, webp, avif, mvt (pbf)")
    return f


@dataclass(frozen=True)
class ArchiveInfo:
    """What the console needs to show an archive (the /tiles listing) and `tiles info`."""

    name: str
    path: Path
    kind: str  # "pmtiles" or "mbtiles"
    format: str  # canonical extension: png, jpg, webp, avif, mvt
    bounds: tuple[float, float, float, float]  # west, south, east, north (degrees)
    min_zoom: int
    max_zoom: int
    attribution: str
    tiles: int  # addressed tiles (as the archive says; MBTiles: rows)
    vector_layers: tuple[str, ...] = ()

    @property
    def raster(self) -> bool:
        return self.format in RASTER

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name, "kind": self.kind, "format": self.format,
            "type": "raster" if self.raster else "vector",
            "bounds": list(self.bounds), "minzoom": self.min_zoom, "maxzoom": self.max_zoom,
            "attribution": self.attribution, "vector_layers": list(self.vector_layers),
            "url": f"/tiles/{self.name}/{{z}}/{{x}}/{{y}}.{self.format}",
        }


@dataclass(frozen=True)
class Tile:
    """One tile's bytes as stored, and whether they are gzip-compressed (vector tiles usually
    are: served with Content-Encoding: gzip, not decompressed on the way)."""

    data: bytes
    gzipped: bool

    def plain(self) -> bytes:
        return gzip.decompress(self.data) if self.gzipped else self.data


class TileReader(Protocol):
    info: ArchiveInfo

    def get(self, z: int, x: int, y: int) -> Tile | None:
        """The tile at z/x/y (XYZ, y down from the north), or None when there is none."""

    def sample(self, n: int) -> list[tuple[tuple[int, int, int], Tile]]:
        """Up to n tiles of the archive (for `tiles import` to check their content)."""

    def close(self) -> None:
        """Release the file."""


MAGIC = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "webp": (b"RIFF",),
}


def content_problem(fmt: str, tile: Tile) -> str | None:
    """Why these bytes are not a tile of `fmt` (None when they look right). Vector tiles are
    protobuf with no magic number: they must at least decompress and start with a layer."""
    try:
        data = tile.plain()
    except (OSError, EOFError) as e:
        return f"a gzip-compressed tile does not decompress ({e})"
    if not data:
        return "an empty tile"
    if fmt in MAGIC:
        if not data.startswith(MAGIC[fmt]):
            return f"a tile is not {fmt.upper()} (it starts with {data[:8]!r})"
        if fmt == "webp" and data[8:12] != b"WEBP":
            return "a tile is not WebP"
        return None
    if fmt == "mvt" and data[0] != 0x1A:  # field 3 (layers), length-delimited
        return f"a tile is not a Mapbox Vector Tile (it starts with {data[:8]!r})"
    return None


def check_bounds(bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """Bounds that make sense on the globe, or ArchiveError."""
    w, s, e, n = bounds
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s < n <= 90):
        raise ArchiveError(f"bounds {w},{s},{e},{n} are not west,south,east,north in degrees")
    return bounds


def check_zooms(min_zoom: int, max_zoom: int) -> None:
    if not 0 <= min_zoom <= max_zoom <= MAX_ZOOM:
        raise ArchiveError(f"zoom range {min_zoom}-{max_zoom} is not within 0-{MAX_ZOOM}")


def in_range(z: int, x: int, y: int) -> bool:
    """A valid XYZ address (anything else is simply not there: 404, never a 500)."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < (1 << z) and 0 <= y < (1 << z)
