"""Property: no mission the safety check accepts enters a no-fly zone at a forbidden altitude.

Hypothesis generates missions (takeoff, waypoints in relative and absolute frames including
MAV_FRAME_MISSION, zero lat/lon or altitude, loiters with a radius, LAND, RTL, DO_SET_HOME,
DO_JUMP with repeat counts), a start (on the ground or in the air, possibly after
set_mission_current) and up to three no-fly zones with altitude bands. For each mission the
check accepts, an independent oracle flies it as ArduCopter would, in local metres, with exact
altitudes along every leg (a straight 3D line, not a band), samples the flight every metre and
asks, with its own point-in-polygon, whether any sample is inside a zone at an altitude in its
band. The oracle shares no code with the check (no shapely, no flight_path), so a check that
misses a leg or an altitude fails this test: `test_the_property_catches_a_weakened_check`
shows that it does.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from mission.planning.flight_path import Item, Start
from mission.planning.mission_check import Refusal, check_mission
from mission.zones.domain import ZoneShape
from mission.zones.models import ZoneKind

LAT0, LON0, AMSL0 = -35.363, 149.165, 584.0
M_LAT = 111_320.0
M_LON = 111_320.0 * math.cos(math.radians(LAT0))
RTL_ALT, CEILING, SPACING = 15.0, 120.0, 1.0


def to_ll(x: float, y: float) -> tuple[float, float]:
    """Local metres (east, north) to (lat, lon)."""
    return LAT0 + y / M_LAT, LON0 + x / M_LON


def to_xy(lat: float, lon: float) -> tuple[float, float]:
    return (lon - LON0) * M_LON, (lat - LAT0) * M_LAT


@dataclass(frozen=True)
class Box:
    """A no-fly zone in local metres with its band (None: unbounded)."""

    x0: float
    y0: float
    x1: float
    y1: float
    lo: float | None
    hi: float | None

    def forbids(self, x: float, y: float, alt: float) -> bool:
        inside = _inside(x, y, [(self.x0, self.y0), (self.x1, self.y0), (self.x1, self.y1),
                                (self.x0, self.y1)])
        return inside and (self.lo is None or alt >= self.lo) and (self.hi is None
                                                                  or alt <= self.hi)

    def shape(self, ident: int) -> ZoneShape:
        corners = [to_ll(x, y) for x, y in ((self.x0, self.y0), (self.x1, self.y0),
                                             (self.x1, self.y1), (self.x0, self.y1))]
        return ZoneShape(ident, f"zone {ident}", ZoneKind.NO_FLY, None,
                         Polygon([(lon, lat) for lat, lon in corners]), self.lo, self.hi)


def _inside(x: float, y: float, ring: Sequence[tuple[float, float]]) -> bool:
    """Even-odd ray casting (the oracle's own point-in-polygon)."""
    hit = False
    for (ax, ay), (bx, by) in zip(ring, [*ring[1:], ring[0]], strict=True):
        if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
            hit = not hit
    return hit


# -- the oracle: the flight as the vehicle flies it -----------------------------------------

Sample = tuple[float, float, float]


def _line(a: Sample, b: Sample) -> list[Sample]:
    n = max(1, math.ceil(math.dist(a, b) / SPACING))
    return [tuple(a[k] + (b[k] - a[k]) * t / n for k in range(3)) for t in range(n + 1)]  # type: ignore[misc]


def fly(items: Sequence[Item], start: Sample, first: int) -> list[Sample]:
    """Every metre of the flight of items[first:] from `start` (x, y, alt above home)."""
    x, y, alt = start
    home, home_alt = (0.0, 0.0), 0.0
    out: list[Sample] = []  # what the vehicle flies (a drone that does not move is not judged)
    runs: dict[int, int] = {}
    circle = 10.0  # ArduCopter's CIRCLE_RADIUS default, kept until a LOITER_TURNS sets one

    def go(nx: float, ny: float, nalt: float) -> None:
        nonlocal x, y, alt
        out.extend(_line((x, y, alt), (nx, ny, nalt)))
        x, y, alt = nx, ny, nalt

    def resolve(it: Item, zero_is_current: bool = True) -> float:
        if it.alt == 0 and zero_is_current:
            return alt
        return it.alt + home_alt if it.frame in (3, 6) else it.alt - AMSL0

    def where(it: Item) -> tuple[float, float]:
        return (x, y) if it.lat == 0 and it.lon == 0 else to_xy(it.lat, it.lon)

    i, steps = first, 0
    while i < len(items) and steps < 5000:
        steps += 1
        it = items[i]
        if it.command == 177:
            if runs.get(i, 0) < it.param2:
                runs[i] = runs.get(i, 0) + 1
                i = int(it.param1) - 1
                continue
        elif it.command == 22:
            go(x, y, max(alt, resolve(it)))
        elif it.command in (16, 19):
            go(*where(it), resolve(it))
        elif it.command == 17:
            go(*where(it), resolve(it))
            break  # loiters until told otherwise
        elif it.command == 18:
            cx, cy = where(it)
            circle = abs(it.param3) or circle
            r, a = circle, resolve(it)
            d = math.hypot(x - cx, y - cy)
            ex, ey = (cx + r, cy) if d < 1e-9 else (cx + (x - cx) * r / d, cy + (y - cy) * r / d)
            go(ex, ey, a)
            start_angle = math.atan2(ey - cy, ex - cx)
            n = max(8, math.ceil(2 * math.pi * r / SPACING))
            out.extend((cx + r * math.cos(start_angle + 2 * math.pi * k / n),
                        cy + r * math.sin(start_angle + 2 * math.pi * k / n), a)
                       for k in range(n + 1))
        elif it.command == 21:
            go(*where(it), alt)
            go(x, y, 0.0)
        elif it.command == 20:
            go(x, y, max(alt, home_alt + RTL_ALT))
            go(*home, alt)
            go(x, y, 0.0)
        elif it.command == 179:
            home, home_alt = to_xy(it.lat, it.lon), resolve(it, zero_is_current=False)
        i += 1
    return out


def violation(items: Sequence[Item], start: Sample, first: int,
              zones: Sequence[Box]) -> Sample | None:
    return next((p for p in fly(items, start, first) if any(z.forbids(*p) for z in zones)),
                None)


# -- generated missions ----------------------------------------------------------------------

coord = st.floats(-600, 600, allow_nan=False)
height = st.floats(0, 110, allow_nan=False)


@st.composite
def boxes(draw: st.DrawFn) -> Box:
    x, y = draw(coord), draw(coord)
    w, h = draw(st.floats(20, 250)), draw(st.floats(20, 250))
    lo = draw(st.one_of(st.none(), st.just(0.0), st.floats(5, 80)))
    hi = draw(st.one_of(st.none(), st.floats((lo or 0) + 5, 150)))
    return Box(x, y, x + w, y + h, lo, hi)


@st.composite
def items(draw: st.DrawFn) -> list[Item]:
    n = draw(st.integers(1, 7))
    out: list[Item] = []
    for _ in range(n):
        kind = draw(st.sampled_from(["takeoff", "wp", "wp", "wp", "here", "loiter", "turns",
                                     "land", "rtl", "home", "jump", "speed", "unlim"]))
        lat, lon = to_ll(draw(coord), draw(coord))
        rel = draw(height)
        frame = draw(st.sampled_from([3, 6, 0, 2, 5]))
        alt = rel if frame in (3, 6) else rel + AMSL0
        if draw(st.integers(0, 9)) == 0:
            alt = 0.0  # "the altitude it is at"
        if kind == "takeoff":
            out.append(Item(22, 3, 0, 0, draw(st.floats(5, 60))))
        elif kind == "wp":
            out.append(Item(16, frame, lat, lon, alt))
        elif kind == "here":
            out.append(Item(16, frame, 0, 0, alt))
        elif kind == "loiter":
            out.append(Item(19, frame, lat, lon, alt, param1=5))
        elif kind == "unlim":
            out.append(Item(17, frame, lat, lon, alt))
        elif kind == "turns":
            out.append(Item(18, frame, lat, lon, alt, param1=1,
                            param3=draw(st.one_of(st.just(0.0), st.floats(-150, 150)))))
        elif kind == "land":
            here = draw(st.booleans())
            out.append(Item(21, 3, 0 if here else lat, 0 if here else lon, 0))
        elif kind == "rtl":
            out.append(Item(20, 2))
        elif kind == "home":
            out.append(Item(179, 3, lat, lon, draw(st.floats(0, 40)), param1=0))
        elif kind == "speed":
            out.append(Item(178, 2, param1=1, param2=8))
        else:
            out.append(Item(177, 2, param1=0, param2=draw(st.integers(0, 3))))
    # jump targets once the length is known: another item (seq = index + 1)
    for i, it in enumerate(out):
        if it.command == 177:
            target = draw(st.integers(1, max(1, len(out) - 1)))
            if len(out) > 1 and target >= i + 1:
                target += 1  # never itself (a lone DO_JUMP targets itself: refused)
            out[i] = Item(177, 2, param1=target, param2=it.param2)
    return out


@st.composite
def flights(draw: st.DrawFn) -> tuple[list[Item], Sample, int, list[Box]]:
    mission = draw(items())
    airborne = draw(st.booleans())
    start = (draw(coord), draw(coord), draw(height)) if airborne else (0.0, 0.0, 0.0)
    first = draw(st.integers(0, len(mission) - 1)) if airborne else 0
    zones = draw(st.lists(boxes(), min_size=1, max_size=3))
    # half the time, move a zone next to a point of the flight: the near misses are the cases
    # that tell a right check from a lucky one
    points = [start[:2]] + [to_xy(it.lat, it.lon) for it in mission if it.lat != 0]
    for k, z in enumerate(zones):
        if draw(st.booleans()):
            px, py = draw(st.sampled_from(points))
            dx, dy = draw(st.floats(-160, 20)), draw(st.floats(-160, 20))
            zones[k] = Box(px + dx, py + dy, px + dx + z.x1 - z.x0, py + dy + z.y1 - z.y0,
                           z.lo, z.hi)
    return mission, start, first, zones


Checker = Callable[[list[Item], Start, list[ZoneShape], int], Refusal | None]


def real_check(mission: list[Item], start: Start, zones: list[ZoneShape],
               first: int) -> Refusal | None:
    return check_mission(mission, start, zones, max_altitude_m=CEILING, first=first,
                         rtl_alt_m=RTL_ALT)


def _property(checker: Checker, mission: list[Item], start: Sample, first: int,
              zones: list[Box]) -> None:
    lat, lon = to_ll(start[0], start[1])
    refused = checker(mission, Start(lat, lon, start[2], LAT0, LON0, AMSL0),
                      [z.shape(k + 1) for k, z in enumerate(zones)], first)
    event("refused" if refused else "accepted")
    if refused is not None:
        event(f"refused: {refused.check}")
        return
    bad = violation(mission, start, first, zones)
    assert bad is None, (f"accepted, but the flight is at {bad} inside a zone: "
                         f"{mission=} {start=} {first=} {zones=}")


# Deterministic in the suite (the same 1,000 missions every run: CI must not fail on a new draw);
# PROPERTY_EXAMPLES=20000 PROPERTY_RANDOM=1 for a longer, different search by hand (that is how
# the LOITER_TURNS approach below a zone's ceiling was found).
EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "1000"))
RANDOM = os.environ.get("PROPERTY_RANDOM") == "1"


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(flights())
def test_no_accepted_mission_enters_a_zone(flight: tuple[list[Item], Sample, int, list[Box]]
                                           ) -> None:
    _property(real_check, *flight)


def _top_only(mission: list[Item], start: Start, zones: list[ZoneShape],
              first: int) -> Refusal | None:
    """The check as it was before issue 10: the items' points at the route's top altitude,
    no jumps, no new home."""
    pts = [(start.lon, start.lat)] + [(it.lon, it.lat) for it in mission[first:]
                                      if it.command in (16, 18, 19, 21) and it.lat != 0]
    tops = [it.alt for it in mission if it.command in (16, 18, 19, 22) and it.frame in (3, 6)]
    top = max(tops, default=0.0)
    geom = LineString(pts) if len(set(pts)) > 1 else Point(pts[0])
    for z in zones:
        if z.applies_at(top) and Polygon(z.polygon.exterior).intersects(geom):
            return Refusal(0, "no_fly", "old check")
    return None


def test_the_property_catches_a_weakened_check() -> None:
    """The oracle can fail: with the old top-altitude check Hypothesis finds a mission that is
    accepted and enters a zone."""
    @settings(max_examples=400, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=[HealthCheck.too_slow])
    @given(flights())
    def weakened(flight: tuple[list[Item], Sample, int, list[Box]]) -> None:
        _property(_top_only, *flight)

    with pytest.raises(AssertionError, match="inside a zone"):
        weakened()
