"""Mission items expanded into the legs an ArduCopter will fly, each with the altitudes it
crosses, so that the no-fly check judges the flight and not the list of waypoints.

Why a model of the vehicle and not the items' points: the bypasses found in issue 10 were all
legs that no item names (the return leg of a DO_JUMP, the RTL to a home moved by DO_SET_HOME,
the climb from the ground through a zone's band). The model follows ArduCopter in AUTO
(ArduCopter/mode_auto.cpp, libraries/AP_Mission):

- altitudes are metres above the home the vehicle has *now* (the datum): relative frames add
  the current home's height above the datum (DO_SET_HOME moves it), absolute frames (0, 2, 5)
  subtract the datum's AMSL altitude; a zero lat/lon means "where the vehicle is", a zero
  altitude "the altitude it is at";
- NAV_TAKEOFF climbs (or stays) where the vehicle is; NAV_LAND flies there at its altitude and
  descends to the ground; RTL climbs to RTL_ALT above home (or stays higher), flies home and
  descends; NAV_LOITER_TURNS circles its radius (0: the radius the vehicle already has,
  CIRCLE_RADIUS or an earlier LOITER_TURNS; the vehicle then leaves from anywhere on the circle,
  so the next leg starts from the whole disc);
- DO_JUMP is unrolled with ArduPilot's per-jump counters (repeat count N: jumped N times);
  "forever" (-1) is refused, and so is a mission that unrolls beyond MAX_STEPS;
- a new home (DO_SET_HOME) is judged as the column an RTL descends there, whether or not the
  mission flies an RTL: a failsafe (battery, link) flies one;
- flying resumes after LAND/RTL (a copter can take off again in AUTO): checking those items too
  costs nothing and misses nothing.

The ground is taken as level with the datum (0 m): Nazorat has no terrain model. The result is
a list of legs, each a straight (or swept) piece with an altitude band [low, high] that contains
every altitude the vehicle has on it. Pure: no FastAPI, no database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mission.planning import vehicle_items as vi
from mission.planning.jumps import TooManySteps, run_order

MAX_STEPS = 20_000  # items executed once DO_JUMPs are unrolled
DEFAULT_RTL_ALT_M = 15.0  # ArduCopter's RTL_ALT default (1500 cm)
# A LOITER_TURNS radius of 0 keeps the circle radius the vehicle has: CIRCLE_RADIUS (default
# 1000 cm) or the last radius a LOITER_TURNS set (ModeAuto::circle_movetoedge_start).
DEFAULT_CIRCLE_RADIUS_M = 10.0
GROUND_M = 0.0
_FIELDS = ("lat", "lon", "alt", "param1", "param2", "param3", "param4")


@dataclass(frozen=True)
class Item:
    """One mission item as the vehicle stores it (degrees, metres in `frame`)."""

    command: int
    frame: int = vi.FRAME_GLOBAL_RELATIVE_ALT
    lat: float = 0.0
    lon: float = 0.0
    alt: float = 0.0
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0

    @classmethod
    def of(cls, x: Any) -> Item:
        """From an API model, a planner item or a stored dict (missing fields are 0)."""
        get = x.get if isinstance(x, Mapping) else (lambda k, d=None: getattr(x, k, d))
        frame = get("frame", vi.FRAME_GLOBAL_RELATIVE_ALT)
        return cls(int(get("command", vi.NAV_WAYPOINT)), int(frame),
                   *(float(get(k, 0.0) or 0.0) for k in _FIELDS))


@dataclass(frozen=True)
class Start:
    """Where the vehicle is (alt_m above home) and its home now (the altitude datum)."""

    lat: float
    lon: float
    alt_m: float
    home_lat: float
    home_lon: float
    home_amsl_m: float | None = None


@dataclass(frozen=True)
class Leg:
    """A piece of the flight, flown while item `index` runs (-1: before any item). The vehicle
    goes from `a` (anywhere within `a_radius_m` of it) to `b` (and anywhere within `b_radius_m`
    of it) with every altitude inside [low_m, high_m]."""

    index: int
    what: str
    a: tuple[float, float]
    b: tuple[float, float]
    low_m: float
    high_m: float
    a_radius_m: float = 0.0
    b_radius_m: float = 0.0


class PathProblem(Exception):
    """The items cannot be expanded (or must not be flown): `index`, `check`, message."""

    def __init__(self, index: int, check: str, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.check = check
        self.message = message


def static_problems(items: Sequence[Item], *, terrain: bool = False) -> PathProblem | None:
    """The first item that is refused whatever the flight: not on the allow-list, a number that
    is not finite, a position out of range, a DO_JUMP that cannot be unrolled."""
    for i, it in enumerate(items):
        why = vi.item_problem(i, it.command, it.frame, terrain=terrain)
        if why is not None:
            return PathProblem(i, "item", why)
        name = vi.command_name(it.command)
        for f in _FIELDS:
            v = getattr(it, f)
            if not math.isfinite(v):
                return PathProblem(i, "finite", f"items[{i}] {name}: {f} is {v}, not a finite "
                                                f"number")
        located = it.command in vi.FLOWN_LOCATION or it.command in vi.OTHER_LOCATION
        if located and not (-90.0 <= it.lat <= 90.0 and -180.0 <= it.lon <= 180.0):
            return PathProblem(i, "position", f"items[{i}] {name}: position ({it.lat:g}, "
                                              f"{it.lon:g}) is out of range")
        if it.command == vi.DO_JUMP:
            target, repeat = it.param1, it.param2
            if target != int(target) or not 1 <= target <= len(items) or target == i + 1:
                return PathProblem(i, "jump", f"items[{i}] {name}: jump target {target:g} is "
                                              f"not another item of this mission (seq 1.."
                                              f"{len(items)})")
            if repeat < 0 or repeat != int(repeat):
                return PathProblem(i, "jump", f"items[{i}] {name}: repeat count {repeat:g} "
                                              "(-1 = forever) is refused: the flight must end")
        if it.command == vi.DO_SET_HOME and (it.param1 == 1 or (it.lat == 0 and it.lon == 0)):
            return PathProblem(i, "home", f"items[{i}] {name}: 'use current location' is "
                                          "refused: where the vehicle is when it runs is not "
                                          "known before the flight")
    return None


@dataclass
class _Flight:
    """The simulated vehicle while the items are walked."""

    start: Start
    rtl_alt_m: float
    lat: float = 0.0
    lon: float = 0.0
    alt: float = 0.0
    radius: float = 0.0  # the vehicle is anywhere within this radius of (lat, lon)
    home: tuple[float, float] = (0.0, 0.0)
    home_alt: float = 0.0  # height of the current home above the datum
    circle_radius: float = DEFAULT_CIRCLE_RADIUS_M
    legs: list[Leg] | None = None

    def altitude(self, i: int, it: Item, *, zero_is_current: bool = True) -> float:
        if it.alt == 0.0 and zero_is_current:
            return self.alt
        if it.frame in vi.RELATIVE_FRAMES:
            return it.alt + self.home_alt
        if it.frame in vi.ABSOLUTE_FRAMES:
            if self.start.home_amsl_m is None:
                raise PathProblem(i, "altitude_frame", f"items[{i}] "
                                  f"{vi.command_name(it.command)}: altitude in "
                                  f"{vi.frame_name(it.frame)} is above sea level, and the "
                                  "drone's home altitude is not known to resolve it")
            return it.alt - self.start.home_amsl_m
        raise PathProblem(i, "altitude_frame", f"items[{i}]: {vi.frame_name(it.frame)} "
                                               "cannot be resolved to metres above home")

    def target(self, it: Item) -> tuple[tuple[float, float], float]:
        """Where the item sends the vehicle, and how uncertain that is (metres): a zero lat/lon
        is where the vehicle already is, anywhere on a circle it was loitering on."""
        if it.lat == 0.0 and it.lon == 0.0:
            return (self.lat, self.lon), self.radius
        return (it.lat, it.lon), 0.0

    def fly(self, i: int, what: str, to: tuple[float, float], alt: float,
            radius: float = 0.0) -> None:
        assert self.legs is not None
        self.legs.append(Leg(i, what, (self.lat, self.lon), to, min(self.alt, alt),
                             max(self.alt, alt), self.radius, radius))
        self.lat, self.lon = to
        self.alt = alt
        self.radius = radius

    def _at(self, it: Item, alt: float) -> tuple[tuple[float, float], float, float]:
        where, radius = self.target(it)
        return where, alt, radius

    def step(self, i: int, it: Item) -> None:
        name = f"items[{i}] {vi.command_name(it.command)}"
        c = it.command
        if c == vi.NAV_TAKEOFF:
            self.fly(i, f"{name}: climb", (self.lat, self.lon), max(self.alt, self.altitude(i, it)),
                     self.radius)
        elif c in (vi.NAV_WAYPOINT, vi.NAV_LOITER_UNLIM, vi.NAV_LOITER_TIME):
            self.fly(i, name, *self._at(it, self.altitude(i, it)))
        elif c == vi.NAV_LOITER_TURNS:
            (centre, r), alt = self.target(it), self.altitude(i, it)
            if it.param3 != 0.0:
                self.circle_radius = abs(it.param3)
            # ArduCopter flies to the circle's edge (ModeAuto::circle_movetoedge_start), changing
            # altitude on the way: the approach may end anywhere on the circle, not at its centre
            # (found by the property test: a climb to a circle above a zone's ceiling crossed the
            # zone below it on the way to the edge).
            self.fly(i, name, centre, alt, r + self.circle_radius)
            self.fly(i, f"{name}: circle", centre, alt, r + self.circle_radius)
        elif c == vi.NAV_LAND:
            self.fly(i, name, *self._at(it, self.alt))
            self.fly(i, f"{name}: descent", (self.lat, self.lon), GROUND_M, self.radius)
        elif c == vi.NAV_RETURN_TO_LAUNCH:
            back = max(self.alt, self.home_alt + self.rtl_alt_m)
            self.fly(i, f"{name}: climb", (self.lat, self.lon), back, self.radius)
            self.fly(i, f"{name}: to home", self.home, back)
            self.fly(i, f"{name}: descent", self.home, min(GROUND_M, self.home_alt))
        elif c == vi.DO_SET_HOME:
            self.home = (it.lat, it.lon)
            self.home_alt = self.altitude(i, it, zero_is_current=False)
            # not flown now, but every later RTL (a failsafe's too) descends there
            assert self.legs is not None
            self.legs.append(Leg(i, f"{name}: the new home, where RTL lands", self.home,
                                 self.home, min(GROUND_M, self.home_alt),
                                 self.home_alt + self.rtl_alt_m))


def expand(items: Sequence[Item], start: Start, *, first: int = 0,
           rtl_alt_m: float = DEFAULT_RTL_ALT_M) -> list[Leg]:
    """The legs flown from `start` when the vehicle runs items[first:] (first > 0: after
    set_mission_current). Raises PathProblem for what cannot be expanded; call
    `static_problems` first for the allow-list and number checks."""
    f = _Flight(start, rtl_alt_m, start.lat, start.lon, start.alt_m,
                home=(start.home_lat, start.home_lon), legs=[])
    try:
        for i in run_order(items, first=first, first_seq=1, max_steps=MAX_STEPS):
            f.step(i, items[i])
    except TooManySteps as e:
        raise PathProblem(e.index, "jump", str(e)) from None
    assert f.legs is not None
    return f.legs


def goto_legs(start: Start, lat: float, lon: float, alt_m: float) -> list[Leg]:
    """GUIDED DO_REPOSITION: a straight line from where the vehicle is."""
    return [Leg(-1, "goto", (start.lat, start.lon), (lat, lon), min(start.alt_m, alt_m),
                max(start.alt_m, alt_m))]


def takeoff_legs(start: Start, alt_m: float) -> list[Leg]:
    """The GUIDED take-off of start_mission / takeoff: straight up where the vehicle is."""
    return [Leg(-1, "take-off", (start.lat, start.lon), (start.lat, start.lon),
                min(start.alt_m, alt_m), max(start.alt_m, alt_m))]
