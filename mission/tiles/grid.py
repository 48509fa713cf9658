"""The web-mercator tile grid (XYZ, y down from the north): which tiles cover a bounding box.
Used by `tiles seed` (what to fetch) and `tiles import` (a sanity check of the bounds)."""

from __future__ import annotations

import math
from collections.abc import Iterator

MAX_LAT = 85.0511287798066


def tile_x(lon: float, z: int) -> int:
    n = 1 << z
    return min(n - 1, max(0, int((lon + 180.0) / 360.0 * n)))


def tile_y(lat: float, z: int) -> int:
    n = 1 << z
    r = math.radians(max(-MAX_LAT, min(MAX_LAT, lat)))
    return min(n - 1, max(0, int((1 - math.asinh(math.tan(r)) / math.pi) / 2 * n)))


def tiles_in_bbox(bbox: tuple[float, float, float, float], z: int
                  ) -> Iterator[tuple[int, int, int]]:
    """(z, x, y) of every tile touching bbox = (west, south, east, north), row by row."""
    w, s, e, n = bbox
    for y in range(tile_y(n, z), tile_y(s, z) + 1):
        for x in range(tile_x(w, z), tile_x(e, z) + 1):
            yield z, x, y


def count_in_bbox(bbox: tuple[float, float, float, float], z: int) -> int:
    w, s, e, n = bbox
    return (tile_x(e, z) - tile_x(w, z) + 1) * (tile_y(s, z) - tile_y(n, z) + 1)
