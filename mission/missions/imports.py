"""Missions from files other tools wrote: a QGroundControl `.plan`, a Mission Planner
`QGC WPL 110` list, or the GeoJSON this service exports. An imported route becomes a planned
mission for one drone and is dispatched like any other (interlocks, geofence, read-back).

The file's own home slot is kept for display only: ArduPilot overwrites seq 0 with the drone's
home. Battery use is estimated from the route length with the planner's default airframe, so the
dispatch interlock still refuses a route the drone cannot fly with its reserve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from sqlmodel import Session

from mission.missions import store
from mission.missions.inputs import MissionInputError
from mission.missions.models import MissionLeg, PatrolMission
from mission.missions.schemas import MissionPublic
from mission.planning.errors import PlanningError
from mission.planning.formats import ImportedMission, import_geojson, import_qgc_plan, import_wpl
from mission.planning.model import Airframe, MissionItem

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


def check(imported: ImportedMission, max_altitude_m: float) -> None:
    items = imported.items
    if len(items) < 2:
        raise MissionInputError("(body)", "the file has no mission items after the home slot")
    if len(items) > MAX_ITEMS:
        raise MissionInputError("(body)", f"{len(items)} items; a copter stores at most "
                                          f"{MAX_ITEMS}")
    for it in items[1:]:
        if not (-90 <= it.lat <= 90 and -180 <= it.lon <= 180):
            raise MissionInputError("(body)", f"item {it.seq}: position out of range")
        if it.frame in (3, 6) and it.alt > max_altitude_m:
            raise MissionInputError(
                "(body)", f"item {it.seq}: altitude {it.alt:g} m above the legal maximum "
                          f"{max_altitude_m:g} m")


def _metres(a: MissionItem, b: MissionItem) -> float:
    dn = math.radians(b.lat - a.lat) * 6_371_000
    de = math.radians(b.lon - a.lon) * 6_371_000 * math.cos(math.radians((a.lat + b.lat) / 2))
    return math.hypot(dn, de)


def _finite(v: float) -> float:
    """QGroundControl writes NaN ("keep the vehicle's current value", mostly yaw) as null. JSON
    (the database, the API) cannot carry NaN, and ArduCopter ignores these params on the
    commands a patrol uses (NAV_WAYPOINT/TAKEOFF yaw), so they are stored as 0."""
    return 0.0 if math.isnan(v) else v


def leg_from(mission_id: int, drone_id: int, items: Sequence[MissionItem]) -> MissionLeg:
    positional = [items[0]] + [i for i in items[1:] if i.lat != 0.0 or i.lon != 0.0]
    distance = sum(_metres(a, b) for a, b in zip(positional, positional[1:], strict=False))
    distance += _metres(positional[-1], items[0])  # home again (RTL)
    a = Airframe()
    hold_s = sum(i.param1 for i in items if i.command == 19)
    duration = distance / a.cruise_speed_mps + hold_s
    energy_wh = (a.cruise_power_w * duration) / 3600.0
    alts = [i.alt for i in items[1:] if i.frame in (3, 6) and i.alt > 0]
    return MissionLeg(
        mission_id=mission_id, drone_id=drone_id, altitude_m=max(alts, default=0.0),
        items=[{"seq": i.seq, "frame": i.frame, "command": i.command,
                "param1": _finite(i.param1), "param2": _finite(i.param2),
                "param3": _finite(i.param3), "param4": _finite(i.param4), "lat": i.lat,
                "lon": i.lon, "alt": i.alt} for i in items],
        path=[[p.lat, p.lon] for p in positional], distance_m=distance, duration_s=duration,
        battery_used_pct=100.0 * energy_wh / a.battery_capacity_wh,
        last_item_seq=len(items) - 1,
    )


def store_imported(
    s: Session, imported: ImportedMission, drone_id: int, fmt: FileFormat, name: str,
    actor: str, reserve_pct: float,
) -> MissionPublic:
    no_fly: list[dict[str, Any]] = [
        {"id": z.id, "vertices": [[p.lat, p.lon] for p in z.polygon]}
        for z in imported.no_fly_zones
    ]
    m = PatrolMission(
        name=name or f"imported {fmt} for drone {drone_id}", created_by=actor,
        request={"imported": fmt, "drone_id": drone_id},
        plan={"no_fly": no_fly, "battery_reserve_pct": reserve_pct, "solver": "imported",
              "warnings": ["imported route: not checked against this service's no-fly zones "
                           "until dispatch"]},
    )
    s.add(m)
    s.flush()
    assert m.id is not None
    leg = leg_from(m.id, drone_id, imported.items)
    s.add(leg)
    m.plan = {**m.plan, "makespan_s": leg.duration_s, "total_time_s": leg.duration_s}
    s.add(m)
    store.log(s, m.id, actor, "planned", f"imported from a {fmt} file: "
                                         f"{len(imported.items) - 1} items", drone_id)
    s.flush()
    return store.public(s, m)
