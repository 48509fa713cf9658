"""ArduCopter mission items for one drone's route, with the route's geometry and budget.

Layout: seq 0 the home slot (ArduPilot overwrites it on upload), NAV_TAKEOFF, DO_CHANGE_SPEED,
then per target the detour corners and the station's own items, then the detour home and
NAV_RETURN_TO_LAUNCH (NAV_LAND at the base when the drone took off elsewhere). RTL flies straight
home from the last item, which the detour makes a clear leg.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from mission.planning.energy import pct_of_battery
from mission.planning.flight_time import Track, orbit_time
from mission.planning.geometry import XY, LocalFrame, dist, path_length
from mission.planning.model import DroneRoute, LatLon, Loiter, MissionItem, Orbit, Visit
from mission.planning.patterns import Station
from mission.planning.problem import Vehicle

# MAV_FRAME
FRAME_GLOBAL, FRAME_MISSION, FRAME_GLOBAL_RELATIVE_ALT = 0, 2, 3
# MAV_CMD
NAV_WAYPOINT, NAV_LOITER_TURNS, NAV_LOITER_TIME = 16, 18, 19
NAV_RETURN_TO_LAUNCH, NAV_LAND, NAV_TAKEOFF = 20, 21, 22
DO_CHANGE_SPEED = 178
POSITION_COMMANDS = {NAV_WAYPOINT, NAV_LOITER_TURNS, NAV_LOITER_TIME, NAV_LAND, NAV_TAKEOFF}


def rounded(p: LatLon) -> LatLon:
    """What the vehicle stores (MISSION_ITEM_INT degE7), so plans, files and read-backs agree."""
    return LatLon(round(p.lat, 7), round(p.lon, 7))


@dataclass
class _Builder:
    frame: LocalFrame
    vehicle: Vehicle
    track: Track
    items: list[MissionItem] = field(default_factory=list)
    path: list[LatLon] = field(default_factory=list)
    distance: float = 0.0

    def add(self, command: int, frame: int, p: LatLon | None = None, alt: float = 0.0,
            params: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)) -> int:
        seq = len(self.items)
        lat, lon = (p.lat, p.lon) if p is not None else (0.0, 0.0)
        self.items.append(MissionItem(seq, frame, command, *params, lat, lon, alt))
        return seq

    def fly(self, xy: XY, command: int = NAV_WAYPOINT,
            params: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)) -> int:
        p = rounded(self.frame.latlon(xy))
        seq = self.add(command, FRAME_GLOBAL_RELATIVE_ALT, p, self.vehicle.altitude_m, params)
        self.path.append(p)
        return seq

    def leg(self, points: Sequence[XY]) -> None:
        """Account for flying a polyline whose first point is where the drone already is,
        through its corners (ArduCopter flies through a waypoint followed by a waypoint or a
        loiter)."""
        self.distance += path_length(points)
        self.track.path(points)


def build_route(vehicle: Vehicle, stations: Sequence[Station],
                transits: Sequence[list[XY]], frame: LocalFrame) -> DroneRoute:
    """Items for `stations` in order; transits[i] leads to station i, transits[-1] to the base.

    An empty `stations` gives an idle route (no items) for a grounded drone, and a straight
    return home for an airborne one. Times (duration, each visit's arrival) are ArduCopter's
    (flight_time.Track): take-off, S-curve legs, corners, stops at holds, RTL and landing.
    """
    d = vehicle.drone
    a = d.airframe
    b = _Builder(frame, vehicle, Track(a))
    grounded_idle = not stations and not d.airborne
    if grounded_idle:
        start = rounded(frame.latlon(vehicle.start))
        return DroneRoute(d.id, vehicle.altitude_m, (), (start,), 0.0, 0.0, 0.0, 0.0,
                          d.battery_pct, ())
    home = d.base if d.airborne else frame.latlon(vehicle.start)
    b.add(NAV_WAYPOINT, FRAME_GLOBAL, rounded(home), d.base_amsl_m)
    b.path.append(rounded(frame.latlon(vehicle.start)))
    if not d.airborne:
        b.add(NAV_TAKEOFF, FRAME_GLOBAL_RELATIVE_ALT, b.path[0], vehicle.altitude_m)
        b.track.takeoff(vehicle.altitude_m)
    else:
        b.track.stop()  # a re-task pauses the drone (BRAKE) before the new route starts
    b.add(DO_CHANGE_SPEED, FRAME_MISSION, params=(1.0, a.cruise_speed_mps, -1.0, 0.0))
    # station, its first and last item, the track's marks on arrival and on leaving
    marks: list[tuple[Station, int, int, int, int]] = []
    for st, transit in zip(stations, transits, strict=False):
        b.leg(transit)
        for corner in transit[1:-1]:
            b.fly(corner)
        arrival = b.track.mark()
        first = b.fly(st.entry, *_hold_item(st))
        for wp in st.waypoints[1:]:
            b.fly(wp)
        _station_track(b.track, st)
        b.distance += st.distance_m
        marks.append((st, first, len(b.items) - 1, arrival, b.track.mark()))
    home_leg = transits[len(stations)]
    for corner in home_leg[1:-1]:
        b.fly(corner)
    base = rounded(d.base)
    b.distance += path_length(home_leg)
    b.track.path(home_leg[:-1])  # through the corners; RTL or LAND stops at the last one
    last, end = home_leg[-2] if len(home_leg) > 1 else home_leg[-1], home_leg[-1]
    heading = math.atan2(end[0] - last[0], end[1] - last[1])
    if dist(vehicle.start, vehicle.end) < 1.0 or d.airborne:
        b.add(NAV_RETURN_TO_LAUNCH, FRAME_MISSION)
        b.track.rtl(dist(last, end), heading, vehicle.altitude_m)
    else:
        b.add(NAV_LAND, FRAME_GLOBAL_RELATIVE_ALT, base, 0.0)
        b.track.stop()
        b.track.leg(dist(last, end), heading)
        b.track.land(vehicle.altitude_m)
    b.path.append(base)
    times = b.track.times()
    energy_j = b.track.energy_j()
    visits = tuple(Visit(st.target.id, st.target.priority, first, last_seq, times[arr],
                         times[dep]) for st, first, last_seq, arr, dep in marks)
    used = pct_of_battery(a, energy_j)
    return DroneRoute(
        d.id, vehicle.altitude_m, tuple(b.items), tuple(b.path), b.distance, times[-1],
        energy_j / 3600.0, used, d.battery_pct - used, visits,
    )


def _station_track(track: Track, st: Station) -> None:
    """The station's own flight: a loiter or an orbit stops over the point; an area's
    waypoints are flown through (the last one too, when a waypoint or loiter follows)."""
    a = track.airframe
    hold = st.hold
    if isinstance(hold, Loiter):
        track.stop()
        track.still(hold.seconds)
    elif isinstance(hold, Orbit):
        track.stop()
        track.still(orbit_time(a, hold.radius_m, hold.turns), "cruise")
    else:
        track.path(st.waypoints)


def _hold_item(st: Station) -> tuple[int, tuple[float, float, float, float]]:
    hold = st.hold
    if isinstance(hold, Loiter):
        return NAV_LOITER_TIME, (hold.seconds, 0.0, 0.0, 0.0)
    if isinstance(hold, Orbit):
        radius = hold.radius_m if hold.clockwise else -hold.radius_m
        return NAV_LOITER_TURNS, (hold.turns, 0.0, radius, 0.0)
    return NAV_WAYPOINT, (0.0, 0.0, 0.0, 0.0)
