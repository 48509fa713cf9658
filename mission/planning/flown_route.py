"""How a mission item list written by another tool is flown by a copter that starts where the
drone is, with the planner's time and energy model (energy.py).

Why: a file's own waypoints say nothing about the flight from the drone to the route and back
again, which may be most of the flight (or 12,000 km of it). ArduCopter takes off vertically
where it stands (NAV_TAKEOFF's position is ignored), flies to each positioned item in turn,
and RTL flies back to home, so the estimate follows the items the same way: the transit out
from `start` to the first positioned item and the transit back from the last one to `home`
are legs like any other, and they are reported apart so an operator sees them.

Items are assumed already allowed for a copter (vehicle_items); a route whose time cannot be
bounded (NAV_LOITER_UNLIM, a DO_JUMP that repeats forever) raises UnboundedRouteError.
Pure functions: no FastAPI, no database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mission.geo import haversine_m
from mission.planning import vehicle_items as vi
from mission.planning.energy import pct_of_battery
from mission.planning.errors import PlanningError
from mission.planning.flight_time import Track, orbit_time
from mission.planning.jumps import TooManySteps, run_order
from mission.planning.model import Airframe, LatLon, MissionItem

MAX_UNROLLED_ITEMS = 10_000  # DO_JUMP loops expanded beyond this are refused as unbounded
DEFAULT_CIRCLE_RADIUS_M = 10.0  # ArduCopter CIRCLE_RADIUS default (1000 cm), for a radius 0


class UnboundedRouteError(PlanningError):
    """The route's flight time cannot be bounded, so no battery estimate can be given."""


@dataclass(frozen=True)
class FlownRoute:
    """The route as the copter flies it: `path` from `start` through every positioned item to
    where it lands; distances in metres, times in seconds."""

    path: tuple[LatLon, ...]
    distance_m: float
    duration_s: float
    energy_wh: float
    battery_used_pct: float
    transit_out_m: float  # start to the first positioned item
    transit_back_m: float  # last positioned item to home (0 when the route lands elsewhere)
    top_alt_m: float  # highest altitude above home of any flown item
    returns_home: bool  # False when the route ends with NAV_LAND away from home
    added_return: bool  # the file neither lands nor returns: the estimate adds the RTL leg
    # (seq, seconds from the start until the vehicle is done with that NAV item: climbed, at
    # the waypoint, loiter over, landed), in the order flown
    item_times: tuple[tuple[int, float], ...] = ()


def metres(a: LatLon, b: LatLon) -> float:
    """Great-circle distance (mission/geo.py): exact enough from 1 m to the other side of the
    world, where an equirectangular formula is not."""
    return haversine_m(a.lat, a.lon, b.lat, b.lon)


def alt_above_home(item: MissionItem, home_amsl_m: float) -> float:
    """The item's altitude in metres above home (absolute frames are AMSL in AP_Mission)."""
    if item.frame in vi.ABSOLUTE_FRAMES:
        return item.alt - home_amsl_m
    return item.alt


def positioned(item: MissionItem) -> bool:
    """A flown item with its own position (lat/lon 0 means "where the vehicle is")."""
    return (item.command in vi.FLOWN_LOCATION and item.command != vi.NAV_TAKEOFF
            and (item.lat != 0.0 or item.lon != 0.0))


def unrolled(items: Sequence[MissionItem]) -> list[MissionItem]:
    """Items seq >= 1 in the order the vehicle runs them, DO_JUMPs followed up to their repeat
    count (AP_Mission: jump to seq param1, param2 times; -1 forever)."""
    for seq, it in enumerate(items):
        if seq > 0 and it.command == vi.DO_JUMP and int(it.param2) < 0:
            raise UnboundedRouteError(f"item {seq}: DO_JUMP repeats forever")
    try:
        return [items[seq] for seq in run_order(items, first=1, first_seq=0,
                                                 max_steps=MAX_UNROLLED_ITEMS)]
    except TooManySteps:
        raise UnboundedRouteError(f"the DO_JUMP loops expand to more than "
                                  f"{MAX_UNROLLED_ITEMS} items") from None


def bearing(a: LatLon, b: LatLon) -> float:
    """Initial great-circle bearing from a to b, radians (0 north, clockwise)."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dl = math.radians(b.lon - a.lon)
    return math.atan2(math.sin(dl) * math.cos(p2),
                      math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl))


@dataclass
class _Flight:
    track: Track
    here: LatLon
    alt: float
    speed: float
    path: list[LatLon]
    distance: float = 0.0

    def fly_to(self, p: LatLon, alt: float) -> float:
        """A straight 3-D leg at the current speed (flight_time: S-curves, corners), as long
        as the slower of the horizontal run and the climb or descent."""
        d = metres(self.here, p)
        self.track.leg(d, bearing(self.here, p) if d > 0 else 0.0, self.speed,
                       climb=alt - self.alt)
        self.distance += d
        self.here, self.alt = p, alt
        if not self.path or self.path[-1] != p:
            self.path.append(p)
        return d


def fly(items: Sequence[MissionItem], start: LatLon, home: LatLon, home_amsl_m: float,
        airframe: Airframe | None = None, airborne: bool = False) -> FlownRoute:
    """The flight of `items` (seq 0 the home slot, ignored: the vehicle's own home is `home`)
    by a copter at `start`, on the ground unless `airborne`; times as ArduCopter flies them
    (flight_time.py), the same model the planner uses."""
    a = airframe or Airframe()
    f = _Flight(Track(a), start, 0.0, a.cruise_speed_mps, [start])
    out_m: float | None = None
    top = 0.0
    ended: str | None = None
    done: list[tuple[int, int]] = []  # (seq, track mark)
    end_seq: int | None = None
    for it in unrolled(items):
        alt = alt_above_home(it, home_amsl_m)
        cmd = it.command
        if cmd == vi.NAV_LOITER_UNLIM:
            raise UnboundedRouteError(f"item {it.seq}: NAV_LOITER_UNLIM holds until the "
                                      "battery runs out")
        if cmd == vi.DO_CHANGE_SPEED and it.param2 > 0:
            f.speed = it.param2
        elif cmd == vi.DO_SET_HOME:  # RTL then flies to the new home (AP_Mission)
            home = f.here if it.param1 == 1 or not (it.lat or it.lon) else LatLon(it.lat, it.lon)
        elif cmd == vi.NAV_TAKEOFF:
            if not airborne and f.alt < alt:
                f.track.takeoff(alt - f.alt)
            elif f.alt < alt:
                f.track.climb(alt - f.alt)
            f.alt = max(f.alt, alt)
            top = max(top, f.alt)
        elif cmd == vi.NAV_RETURN_TO_LAUNCH:
            ended, end_seq = "rtl", it.seq
            break
        elif cmd == vi.NAV_LAND:
            if positioned(it):
                f.track.stop()  # a waypoint before LAND is not flown through
                d = f.fly_to(LatLon(it.lat, it.lon), f.alt)
                out_m = d if out_m is None else out_m
            ended, end_seq = "land", it.seq
            break
        elif positioned(it):
            target_alt = f.alt if it.alt == 0.0 and cmd != vi.NAV_WAYPOINT else alt
            d = f.fly_to(LatLon(it.lat, it.lon), target_alt)
            out_m = d if out_m is None else out_m
            top = max(top, target_alt)
            _hold(f.track, it, f.speed)
        elif cmd in (vi.NAV_LOITER_TIME, vi.NAV_DELAY):
            f.track.stop()
            f.track.still(max(it.param1, 0.0))
        if cmd in vi.FLOWN_LOCATION or cmd == vi.NAV_DELAY:
            done.append((it.seq, f.track.mark()))
    back_m = 0.0
    if ended != "land":
        back_m = metres(f.here, home)
        f.distance += back_m
        f.track.rtl(back_m, bearing(f.here, home) if back_m > 0 else 0.0, max(f.alt, 0.0),
                    f.speed)
        if not f.path or f.path[-1] != home:
            f.path.append(home)
    else:
        f.track.land(max(f.alt, 0.0))
    energy = f.track.energy_j()
    times = f.track.times()
    ends = [(seq, times[m]) for seq, m in done]
    if end_seq is not None:
        ends.append((end_seq, times[-1]))  # RTL or LAND: done once landed
    return FlownRoute(
        path=tuple(f.path), distance_m=f.distance, duration_s=f.track.duration_s,
        energy_wh=energy / 3600.0, battery_used_pct=pct_of_battery(a, energy),
        transit_out_m=out_m or 0.0, transit_back_m=back_m, top_alt_m=top,
        returns_home=ended != "land" or metres(f.here, home) < 1.0,
        added_return=ended is None, item_times=tuple(ends),
    )


def _hold(track: Track, it: MissionItem, speed: float) -> None:
    """Time on station at a positioned item once there (waypoint delay, loiter, circle); a
    waypoint without a delay is flown through."""
    if it.command == vi.NAV_LOITER_TIME or (it.command == vi.NAV_WAYPOINT and it.param1 > 0):
        track.stop()
        track.still(max(it.param1, 0.0))
    elif it.command == vi.NAV_LOITER_TURNS:
        radius = abs(it.param3) or DEFAULT_CIRCLE_RADIUS_M
        track.stop()
        track.still(orbit_time(track.airframe, radius, max(it.param1, 0.0), speed), "cruise")


def reach_m(a: Airframe, battery_pct: float, reserve_pct: float) -> float:
    """How far out the drone can fly in a straight line and still come back with the reserve:
    half the cruise distance its usable charge buys."""
    usable_j = max(battery_pct - reserve_pct, 0.0) / 100.0 * a.battery_capacity_wh * 3600.0
    return usable_j / a.cruise_power_w * a.cruise_speed_mps / 2.0
