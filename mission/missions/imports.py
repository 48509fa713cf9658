"""Missions from files other tools wrote: a QGroundControl `.plan`, a Mission Planner
`QGC WPL 110` list, or the GeoJSON this service exports. An imported route becomes a planned
mission for one drone and is dispatched like any other (interlocks, geofence, read-back).

A file is judged from where the drone is, not from its own first waypoint: items a copter
cannot fly are refused (the service's one allow-list, planning/vehicle_items), a route that
starts farther from the drone than it can fly out and back (or than NAZORAT_IMPORT_RADIUS_M)
is refused, and the estimate that the battery interlock and no-fly check use includes the
transit from the drone to the route and back (planning/flown_route). The file's home slot
(seq 0) is replaced by the drone's home: ArduPilot flies RTL to its own home, never the file's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from sqlmodel import Session

from mission.missions import store, views
from mission.missions.inputs import MissionInputError
from mission.missions.models import MissionLeg, PatrolMission
from mission.missions.schemas import MissionPublic
from mission.planning import vehicle_items as vi
from mission.planning.errors import PlanningError
from mission.planning.flight_path import Item as FlightItem
from mission.planning.flight_path import static_problems
from mission.planning.flown_route import (
    FlownRoute,
    alt_above_home,
    fly,
    metres,
    positioned,
    reach_m,
)
from mission.planning.formats import ImportedMission, import_geojson, import_qgc_plan, import_wpl
from mission.planning.model import Drone, LatLon, MissionItem

FileFormat = Literal["plan", "wpl", "geojson"]
MAX_ITEMS = 700  # ArduCopter SITL's mission storage


def parse(text: str, fmt: FileFormat) -> ImportedMission:
    try:
        if fmt == "plan":
            return import_qgc_plan(text)
        if fmt == "wpl":
            return import_wpl(text)
        missions = import_geojson(text)
    except PlanningError as e:
        raise MissionInputError("(body)", str(e)) from None
    if len(missions) != 1:
        raise MissionInputError("(body)", f"the GeoJSON holds {len(missions)} drones' missions; "
                                          "import one drone's route at a time")
    return next(iter(missions.values()))


def check(imported: ImportedMission, max_altitude_m: float, home_amsl_m: float) -> None:
    """Refuse what no copter of this service may fly, naming the item (its seq in the file)
    and the command: commands and frames off the allow-list, positions that are not numbers
    or not on Earth, altitudes above the legal ceiling once resolved to metres above home."""
    items = imported.items
    if len(items) < 2:
        raise MissionInputError("(body)", "the file has no mission items after the home slot")
    if len(items) > MAX_ITEMS:
        raise MissionInputError("(body)", f"{len(items)} items; a copter stores at most "
                                          f"{MAX_ITEMS}")
    for it in items[1:]:
        why = vi.command_problem(it.command) or vi.frame_problem(it.command, it.frame)
        if why is not None:
            raise MissionInputError("(body)", f"item {it.seq}: {why}")
        values = (it.param1, it.param2, it.param3, it.param4, it.lat, it.lon, it.alt)
        located = it.command in vi.FLOWN_LOCATION | vi.OTHER_LOCATION
        if any(math.isinf(v) for v in values) or (
                located and not all(math.isfinite(v) for v in (it.lat, it.lon, it.alt))):
            raise MissionInputError("(body)", f"item {it.seq} ({vi.command_name(it.command)}): "
                                              "a value is not a finite number")
        if not (-90 <= it.lat <= 90 and -180 <= it.lon <= 180):
            raise MissionInputError("(body)", f"item {it.seq}: position out of range")
        alt = alt_above_home(it, home_amsl_m)
        if it.command in vi.FLOWN_LOCATION and alt > max_altitude_m:
            raise MissionInputError(
                "(body)", f"item {it.seq} ({vi.command_name(it.command)}): altitude {alt:g} m "
                          f"above home is above the legal maximum {max_altitude_m:g} m")
    # the rest of what the dispatch check will refuse whatever the flight (jump targets, a
    # DO_SET_HOME to "wherever it is then"), said now rather than at dispatch
    problem = static_problems([FlightItem(
        it.command, it.frame, *(_finite(v) for v in (it.lat, it.lon, it.alt, it.param1,
                                                     it.param2, it.param3, it.param4)))
        for it in items[1:]])  # as stored: NaN (QGC's null) is 0
    if problem is not None:
        i = problem.index
        raise MissionInputError("(body)", problem.message.replace(f"items[{i}]",
                                                                  f"item {i + 1}", 1))


def check_reach(imported: ImportedMission, drone: Drone, label: str, radius_m: float,
                reserve_pct: float) -> None:
    """Refuse a route whose home slot or any position (its first waypoint, a later one, a
    DO_SET_HOME) is farther from the drone than it can fly out and back with its reserve, or
    than the import radius: such a file was written for somewhere else, and flying it means a
    transit nobody planned."""
    here = drone.position or drone.base
    reach = reach_m(drone.airframe, drone.battery_pct, reserve_pct)
    limit = min(reach, radius_m)
    home = imported.items[0]
    checks: list[tuple[str, MissionItem]] = []
    if home.lat != 0.0 or home.lon != 0.0:  # 0, 0: the writer had no home; nothing to judge
        checks.append(("home slot (seq 0)", home))
    located = [it for it in imported.items[1:] if positioned(it)
               or (it.command == vi.DO_SET_HOME and (it.lat != 0.0 or it.lon != 0.0))]
    for n, it in enumerate(located):
        what = "first waypoint" if n == 0 else "item"
        checks.append((f"{what} (item {it.seq}, {vi.command_name(it.command)})", it))
    for what, it in checks:
        d = metres(here, LatLon(it.lat, it.lon))
        if d > limit:
            raise MissionInputError(
                "(body)", f"the file's {what} at {it.lat:.6f}, {it.lon:.6f} is {_km(d)} from "
                          f"{label}; the limit is {_km(limit)} (out and back with "
                          f"{drone.battery_pct:.0f} % battery and the {reserve_pct:g} % reserve: "
                          f"{_km(reach)}; import radius NAZORAT_IMPORT_RADIUS_M: "
                          f"{_km(radius_m)}). Was the file written for another site?")


def _km(m: float) -> str:
    return f"{m / 1000:,.1f} km" if m >= 1000 else f"{m:,.0f} m"


def _finite(v: float) -> float:
    """QGroundControl writes NaN ("keep the vehicle's current value", mostly yaw) as null. JSON
    (the database, the API) cannot carry NaN, and ArduCopter ignores these params on the
    commands a patrol uses (NAV_WAYPOINT/TAKEOFF yaw) and on the x/y/z of items without a
    location (check() refuses NaN in a location), so they are stored as 0."""
    return 0.0 if math.isnan(v) else v


def with_drone_home(items: Sequence[MissionItem], drone: Drone) -> tuple[MissionItem, ...]:
    """The items with seq 0 set to the drone's home: the vehicle overwrites that slot with its
    own home on upload, so the stored route, the map and an export show what is flown."""
    h = items[0]
    home = MissionItem(0, h.frame if h.frame in vi.ABSOLUTE_FRAMES else 0, h.command,
                       lat=round(drone.base.lat, 7), lon=round(drone.base.lon, 7),
                       alt=drone.base_amsl_m)
    return (home, *items[1:])


def flown(items: Sequence[MissionItem], drone: Drone) -> FlownRoute:
    """The estimate from where the drone is now (its base when it reports no position)."""
    try:
        return fly(items, drone.position or drone.base, drone.base, drone.base_amsl_m,
                   drone.airframe, drone.airborne)
    except PlanningError as e:
        raise MissionInputError("(body)", str(e)) from None


def apply_estimate(leg: MissionLeg, route: FlownRoute) -> None:
    leg.path = [[p.lat, p.lon] for p in route.path]
    leg.distance_m = route.distance_m
    leg.duration_s = route.duration_s
    leg.battery_used_pct = route.battery_used_pct
    leg.altitude_m = route.top_alt_m


def leg_from(mission_id: int, drone_id: int, items: Sequence[MissionItem],
             route: FlownRoute) -> MissionLeg:
    leg = MissionLeg(
        mission_id=mission_id, drone_id=drone_id,
        items=[{"seq": i.seq, "frame": i.frame, "command": i.command,
                "param1": _finite(i.param1), "param2": _finite(i.param2),
                "param3": _finite(i.param3), "param4": _finite(i.param4), "lat": _finite(i.lat),
                "lon": _finite(i.lon), "alt": _finite(i.alt)} for i in items],
        last_item_seq=len(items) - 1,
    )
    apply_estimate(leg, route)
    return leg


def notes(imported: ImportedMission, drone: Drone, label: str, route: FlownRoute) -> list[str]:
    """What the operator must know about how the file will be flown."""
    out = []
    h = imported.items[0]
    if h.lat != 0.0 or h.lon != 0.0:
        moved = metres(LatLon(h.lat, h.lon), drone.base)
        out.append(f"the file's home slot (seq 0) is replaced by the home of {label} "
                   f"({drone.base.lat:.6f}, {drone.base.lon:.6f}), {_km(moved)} from the "
                   "file's: RTL flies to the drone's home, never the file's")
    else:
        out.append(f"the file has no home (seq 0 is 0, 0): the home of {label} is used")
    back = (f"{_km(route.transit_back_m)} back to home" if route.returns_home
            else "no return: the route lands away from home")
    out.append(f"transit from {label} to the route: {_km(route.transit_out_m)} out, {back} "
               "(included in the distance, time and battery estimate)")
    if route.added_return:
        out.append("the file neither lands nor returns (no RTL or LAND): the estimate counts "
                   "a return home, but the drone waits at the last item until told to RTL")
    out.append("imported route: not checked against this service's no-fly zones until "
               "dispatch")
    return out


def store_imported(
    s: Session, imported: ImportedMission, items: Sequence[MissionItem], route: FlownRoute,
    warnings: list[str], drone_id: int, fmt: FileFormat, name: str, actor: str,
    reserve_pct: float,
) -> MissionPublic:
    """Store the route (`items`: the file's, with the drone's home in seq 0) as a planned
    mission with its estimate from where the drone is."""
    no_fly: list[dict[str, Any]] = [
        {"id": z.id, "vertices": [[p.lat, p.lon] for p in z.polygon]}
        for z in imported.no_fly_zones
    ]
    m = PatrolMission(
        name=name or f"imported {fmt} for drone {drone_id}", created_by=actor,
        objective="total_time",  # the file's own order is flown: nothing was optimised
        request={"imported": fmt, "drone_id": drone_id},
        plan={"no_fly": no_fly, "battery_reserve_pct": reserve_pct, "solver": "imported",
              "transit_out_m": route.transit_out_m, "transit_back_m": route.transit_back_m,
              "warnings": warnings},
    )
    s.add(m)
    s.flush()
    assert m.id is not None
    leg = leg_from(m.id, drone_id, items, route)
    s.add(leg)
    m.plan = {**m.plan, "makespan_s": leg.duration_s, "total_time_s": leg.duration_s}
    s.add(m)
    store.log(s, m.id, actor, "planned", f"imported from a {fmt} file: "
                                         f"{len(imported.items) - 1} items", drone_id)
    s.flush()
    return views.public(s, m)


def refresh(leg: MissionLeg, drone: Drone, label: str, radius_m: float,
            reserve_pct: float) -> str | None:
    """Re-judge a stored imported leg from where the drone is at dispatch (it may have moved
    since the import): home slot, reach and estimate updated in `leg`; the reason it may not
    fly, or None."""
    items = with_drone_home([_item(d) for d in leg.items], drone)
    imported = ImportedMission(items)
    try:
        check_reach(imported, drone, label, radius_m, reserve_pct)
        route = flown(items, drone)
    except MissionInputError as e:
        return e.message
    leg.items = [{**d, "lat": i.lat, "lon": i.lon, "alt": i.alt} if i.seq == 0 else d
                 for d, i in zip(leg.items, items, strict=True)]
    apply_estimate(leg, route)
    return None


def _item(d: dict[str, Any]) -> MissionItem:
    return MissionItem(int(d["seq"]), int(d["frame"]), int(d["command"]), float(d["param1"]),
                       float(d["param2"]), float(d["param3"]), float(d["param4"]),
                       float(d["lat"]), float(d["lon"]), float(d["alt"]))
