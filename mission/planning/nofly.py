"""Shortest paths around no-fly zones: a visibility graph over the zones' buffered outlines.

The graph's vertices sit `clearance` outside the zones (a coarse round buffer), and a leg is
allowed when it misses the zones buffered by a little less than that, so outline chords count as
free while legs still keep most of the clearance. Exactness is on the raw zones only: no leg ever
touches a raw zone, even when an endpoint (a target close to a zone) lies inside the clearance.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.ops import substring, unary_union

from mission.planning.geometry import XY, dist

# Chords of a quad_segs=2 buffer stay cos(22.5 deg) = 0.924 of the radius away from the zone.
_CHECK_FRACTION = 0.85
_OUTLINE_QUAD_SEGS = 2


@dataclass(frozen=True)
class _Search:
    """Distances from one source to every graph vertex, with predecessors (-1: the source)."""

    source: XY
    dist: list[float]
    pred: list[int]


class NoFlyRouter:
    """Answers "how far, and by which corners" between points in the local metric frame."""

    def __init__(self, zones: Sequence[tuple[str, Polygon]], clearance_m: float) -> None:
        self._zones = list(zones)
        self._trim = clearance_m * _CHECK_FRACTION + 0.5
        self.nodes: list[XY] = []
        self._adj: list[list[tuple[int, float]]] = []
        if not self._zones:
            self.raw: Polygon | MultiPolygon | None = None
            self.keep_out: Polygon | MultiPolygon | None = None
            return
        raw = unary_union([p for _, p in self._zones])
        self.raw = raw
        self.keep_out = raw.buffer(clearance_m * _CHECK_FRACTION, quad_segs=8)
        shapely.prepare(self.raw)
        shapely.prepare(self.keep_out)
        outline = raw.buffer(clearance_m, quad_segs=_OUTLINE_QUAD_SEGS)
        parts = outline.geoms if isinstance(outline, MultiPolygon) else [outline]
        for part in parts:
            for ring in [part.exterior, *part.interiors]:
                for x, y in list(ring.coords)[:-1]:
                    if not self.keep_out.intersects(Point(x, y)):
                        self.nodes.append((x, y))
        self._adj = [[] for _ in self.nodes]
        pairs = [(i, j) for i in range(len(self.nodes)) for j in range(i + 1, len(self.nodes))]
        ok = self.clear_many([self.nodes[i] for i, _ in pairs], [self.nodes[j] for _, j in pairs])
        for (i, j), free in zip(pairs, ok, strict=True):
            if free:
                d = dist(self.nodes[i], self.nodes[j])
                self._adj[i].append((j, d))
                self._adj[j].append((i, d))

    def zone_at(self, p: XY) -> str | None:
        """Id of a no-fly zone containing (or touching) p."""
        pt = Point(p)
        for zone_id, poly in self._zones:
            if poly.intersects(pt):
                return zone_id
        return None

    def zones_crossed(self, geom: shapely.Geometry) -> list[str]:
        return [zone_id for zone_id, poly in self._zones if poly.intersects(geom)]

    def clear(self, a: XY, b: XY) -> bool:
        """True when the straight leg a-b may be flown."""
        if self.raw is None or self.keep_out is None:
            return True
        length = dist(a, b)
        if length < 1e-9:
            return not self.raw.intersects(Point(a))
        line = LineString([a, b])
        if self.raw.intersects(line):
            return False
        da = self._trim if self.keep_out.intersects(Point(a)) else 0.0
        db = self._trim if self.keep_out.intersects(Point(b)) else 0.0
        if da + db >= length:
            return True
        if da or db:
            line = substring(line, da, length - db)
        return not self.keep_out.intersects(line)

    def clear_many(self, a: Sequence[XY], b: Sequence[XY]) -> list[bool]:
        """clear() for many legs at once: one vectorised test, exact fallback near the zones."""
        if self.raw is None or self.keep_out is None or not a:
            return [True] * len(a)
        pa, pb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        hit = shapely.intersects(self.keep_out, shapely.linestrings(np.stack([pa, pb], axis=1)))
        near = (shapely.intersects(self.keep_out, shapely.points(pa))
                | shapely.intersects(self.keep_out, shapely.points(pb)))
        out = [not h for h in hit.tolist()]
        for i in np.flatnonzero(hit & near).tolist():
            out[i] = self.clear(a[i], b[i])
        return out

    def _visible(self, p: XY) -> list[tuple[int, float]]:
        ok = self.clear_many([p] * len(self.nodes), self.nodes)
        return [(i, dist(p, n)) for i, n in enumerate(self.nodes) if ok[i]]

    def _search(self, source: XY, links: list[tuple[int, float]]) -> _Search:
        best = [math.inf] * len(self.nodes)
        pred = [-1] * len(self.nodes)
        heap: list[tuple[float, int]] = []
        for i, d in links:
            if d < best[i]:
                best[i] = d
                heapq.heappush(heap, (d, i))
        while heap:
            d, i = heapq.heappop(heap)
            if d > best[i]:
                continue
            for j, w in self._adj[i]:
                if d + w < best[j]:
                    best[j] = d + w
                    pred[j] = i
                    heapq.heappush(heap, (d + w, j))
        return _Search(source, best, pred)

    def _finish(self, s: _Search, target: XY, links: list[tuple[int, float]]) -> list[XY] | None:
        """Path through the graph to a target not directly visible from the source."""
        best, via = math.inf, -1
        for i, d in links:
            if s.dist[i] + d < best:
                best, via = s.dist[i] + d, i
        if via < 0:
            return None
        corners: list[XY] = []
        while via >= 0:
            corners.append(self.nodes[via])
            via = s.pred[via]
        return [s.source, *reversed(corners), target]

    def path(self, a: XY, b: XY) -> list[XY] | None:
        """Shortest flyable polyline from a to b (both ends included), None if there is none."""
        if self.clear(a, b):
            return [a, b]
        s = self._search(a, self._visible(a))
        return self._finish(s, b, self._visible(b))

    def paths(self, points: Sequence[XY]) -> list[list[list[XY] | None]]:
        """All-pairs shortest paths, sharing one graph search per source."""
        links = [self._visible(p) for p in points] if self.nodes else [[] for _ in points]
        n = len(points)
        direct = self.clear_many([a for a in points for _ in range(n)], [b for _ in range(n)
                                                                           for b in points])
        out: list[list[list[XY] | None]] = []
        for i, a in enumerate(points):
            search: _Search | None = None
            row: list[list[XY] | None] = []
            for j, b in enumerate(points):
                if i == j or direct[i * n + j]:
                    row.append([a, b])
                    continue
                if search is None:
                    search = self._search(a, links[i])
                row.append(self._finish(search, b, links[j]))
            out.append(row)
        return out
