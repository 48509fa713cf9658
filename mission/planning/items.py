"""ArduCopter mission items for one drone's route, with the route's geometry and budget.

Layout: seq 0 the home slot (ArduPilot overwrites it on upload), NAV_TAKEOFF, DO_CHANGE_SPEED,
then per target the detour corners and the station's own items, then the detour home and
NAV_RETURN_TO_LAUNCH (NAV_LAND at the base when the drone took off elsewhere). RTL flies straight
home from the last item, which the detour makes a clear leg.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mission.planning.energy import Cost, cruise, landing, pct_of_battery, takeoff
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
    items: list[MissionItem] = field(default_factory=list)
    path: list[LatLon] = field(default_factory=list)
    cost: Cost = field(default_factory=Cost)
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
        """Account for flying a polyline whose first point is where the drone already is."""
        length = path_length(points)
        self.distance += length
        self.cost = self.cost + cruise(self.vehicle.drone.airframe, length, len(points) - 1)


def build_route(vehicle: Vehicle, stations: Sequence[Station],
                transits: Sequence[list[XY]], frame: LocalFrame) -> DroneRoute:
    """Items for `stations` in order; transits[i] leads to station i, transits[-1] to the base.

    An empty `stations` gives an idle route (no items) for a grounded drone, and a straight
    return home for an airborne one.
    """
    d = vehicle.drone
    a = d.airframe
    b = _Builder(frame, vehicle)
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
        b.cost = b.cost + takeoff(a, vehicle.altitude_m)
    b.add(DO_CHANGE_SPEED, FRAME_MISSION, params=(1.0, a.cruise_speed_mps, -1.0, 0.0))
    visits: list[Visit] = []
    for st, transit in zip(stations, transits, strict=False):
        b.leg(transit)
        for corner in transit[1:-1]:
            b.fly(corner)
        arrival = b.cost.time_s
        first = b.fly(st.entry, *_hold_item(st))
        for wp in st.waypoints[1:]:
            b.fly(wp)
        b.cost = b.cost + st.cost(a)
        b.distance += st.distance_m
        visits.append(Visit(st.target.id, st.target.priority, first, len(b.items) - 1,
                            arrival, b.cost.time_s))
    home_leg = transits[len(stations)]
    b.leg(home_leg)
    for corner in home_leg[1:-1]:
        b.fly(corner)
    base = rounded(d.base)
    if dist(vehicle.start, vehicle.end) < 1.0 or d.airborne:
        b.add(NAV_RETURN_TO_LAUNCH, FRAME_MISSION)
    else:
        b.add(NAV_LAND, FRAME_GLOBAL_RELATIVE_ALT, base, 0.0)
    b.path.append(base)
    b.cost = b.cost + landing(a, vehicle.altitude_m)
    used = pct_of_battery(a, b.cost.energy_j)
    return DroneRoute(
        d.id, vehicle.altitude_m, tuple(b.items), tuple(b.path), b.distance, b.cost.time_s,
        b.cost.energy_j / 3600.0, used, d.battery_pct - used, tuple(visits),
    )


def _hold_item(st: Station) -> tuple[int, tuple[float, float, float, float]]:
    hold = st.hold
    if isinstance(hold, Loiter):
        return NAV_LOITER_TIME, (hold.seconds, 0.0, 0.0, 0.0)
    if isinstance(hold, Orbit):
        radius = hold.radius_m if hold.clockwise else -hold.radius_m
        return NAV_LOITER_TURNS, (hold.turns, 0.0, radius, 0.0)
    return NAV_WAYPOINT, (0.0, 0.0, 0.0, 0.0)
