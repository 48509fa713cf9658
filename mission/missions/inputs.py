"""Turn what the operator chose (drone ids, incident ids, hotspots, zones) into the planner's
request, using the live state of each drone and the stored incidents and zones.

Refusals are `MissionInputError`s naming the field (and the item) at fault, so the API can
answer 4xx with a message an operator can act on: "drones[1]: drone 7's link is lost".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shapely.geometry import Polygon

from mission.incidents.models import IncidentWithContact, Status
from mission.missions.schemas import LoiterIn, OnStation, OrbitIn, PlanIn, PriorityName
from mission.planning.model import (
    Airframe,
    AltitudePolicy,
    AreaTarget,
    Drone,
    LatLon,
    Lawnmower,
    Loiter,
    NoFlyZone,
    Objective,
    Orbit,
    Perimeter,
    PlanRequest,
    PointTarget,
    Priority,
    Target,
)
from mission.zones.domain import ZoneShape
from telemetry.state import LinkState, VehicleState

PRIORITY = {"low": Priority.LOW, "normal": Priority.NORMAL, "high": Priority.HIGH}
# The severity (weight in the `response` objective) of a target given only a priority name
# (points, hotspots and zones an operator marks): the middle of the severities it covers.
PRIORITY_SEVERITY = {Priority.LOW: 2, Priority.NORMAL: 3, Priority.HIGH: 4}
CLOSED_STATUSES = frozenset({Status.CLOSED, Status.FALSE_ALARM})


class MissionInputError(ValueError):
    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status = status


@dataclass(frozen=True)
class TargetInfo:
    """What the mission stores about a target besides what the planner needs."""

    key: str
    kind: str
    label: str
    lat: float | None
    lon: float | None
    priority: int
    incident_ids: tuple[int, ...]


def severity_priority(severity: int) -> Priority:
    """Severity 4-5 must be flown; 3 normal; 1-2 may be dropped first when short of battery."""
    if severity >= 4:
        return Priority.HIGH
    return Priority.NORMAL if severity == 3 else Priority.LOW


def hold_pattern(on_station: OnStation) -> Loiter | Orbit:
    if isinstance(on_station, OrbitIn):
        return Orbit(on_station.radius_m, on_station.turns, on_station.clockwise)
    assert isinstance(on_station, LoiterIn)
    return Loiter(on_station.seconds)


def planner_drone(drone_id: int, state: VehicleState | None, field: str,
                  airframe: Airframe | None = None) -> Drone:
    """A drone as the planner sees it, refused unless it can actually be sent now; `airframe`:
    the fleet's flight parameters (RTL_ALT from the settings), else ArduCopter's defaults."""
    if state is None:
        raise MissionInputError(field, f"no drone {drone_id}", 404)
    label = f"drone {drone_id}" + (f" ({state.name})" if state.name else "")
    if state.link is not LinkState.UP:
        raise MissionInputError(field, f"{label}: link is {state.link.value}", 409)
    if state.position is None:
        raise MissionInputError(field, f"{label} reports no position (GPS/EKF not ready)", 409)
    if state.battery_pct is None:
        raise MissionInputError(field, f"{label} reports no battery level", 409)
    here = LatLon(state.position.lat, state.position.lon)
    home = state.home
    base = LatLon(home.lat, home.lon) if home is not None else here
    airborne = bool(state.armed) and state.landed_state in ("in_air", "takeoff")
    return Drone(
        id=str(drone_id), base=base, battery_pct=float(state.battery_pct), position=here,
        airborne=airborne,
        base_amsl_m=home.alt_amsl if home is not None else state.position.alt_amsl,
        airframe=airframe or Airframe(),
    )


def incident_target(
    inc: IncidentWithContact, pattern: Loiter | Orbit, field: str, priority: Priority | None = None
) -> tuple[PointTarget, TargetInfo]:
    if inc.status in CLOSED_STATUSES:
        raise MissionInputError(field, f"incident {inc.id} is {inc.status.value}", 409)
    prio = priority or severity_priority(inc.severity)
    key = f"incident:{inc.id}"
    label = f"#{inc.id} {inc.category.value} (severity {inc.severity})"
    return (
        PointTarget(key, LatLon(inc.lat, inc.lon), prio, pattern, severity=inc.severity),
        TargetInfo(key, "incident", label, inc.lat, inc.lon, int(prio), (inc.id,)),
    )


def zone_target(
    zone: ZoneShape, pattern: Lawnmower | Perimeter, priority: Priority, key: str,
    severity: int = 3,
) -> tuple[AreaTarget, TargetInfo]:
    ring = list(zone.polygon.exterior.coords)[:-1]
    poly = tuple(LatLon(lat, lon) for lon, lat in ring)
    c = zone.polygon.centroid
    return (
        AreaTarget(key, poly, pattern, priority, severity=severity),
        TargetInfo(key, "zone", zone.name or f"zone {zone.id}", c.y, c.x, int(priority), ()),
    )


def no_fly(zones: Sequence[ZoneShape], altitude_m: float, max_altitude_m: float) -> list[NoFlyZone]:
    """No-fly zones that reach any altitude the drones may use; holes are ignored (flying into
    a hole of a no-fly zone would mean crossing the zone)."""
    out: list[NoFlyZone] = []
    for z in zones:
        if z.max_alt_m is not None and z.max_alt_m < altitude_m:
            continue
        if z.min_alt_m is not None and z.min_alt_m > max_altitude_m:
            continue
        out.append(NoFlyZone(f"zone:{z.id}", _ring(z.polygon)))
    return out


def _ring(poly: Polygon) -> tuple[LatLon, ...]:
    return tuple(LatLon(lat, lon) for lon, lat in list(poly.exterior.coords)[:-1])


def plan_request(
    body: PlanIn, drones: Sequence[Drone], targets: Sequence[Target],
    no_fly_zones: Sequence[NoFlyZone],
) -> PlanRequest:
    return PlanRequest(
        drones=tuple(drones), targets=tuple(targets), no_fly_zones=tuple(no_fly_zones),
        objective=Objective(body.objective), severity_weights=tuple(body.severity_weights),
        altitude=AltitudePolicy(body.altitude_m, body.separation_m, body.max_altitude_m),
        battery_reserve_pct=body.battery_reserve_pct, time_limit_s=body.time_limit_s,
    )


def priority_of(name: PriorityName | None, default: Priority) -> Priority:
    return PRIORITY[name] if name is not None else default


def severity_of(name: PriorityName | None, default: int) -> int:
    """A target's severity: its incidents' (default) unless the operator named a priority."""
    return PRIORITY_SEVERITY[PRIORITY[name]] if name is not None else default


def target_dict(info: TargetInfo) -> dict[str, Any]:
    return {
        "key": info.key, "kind": info.kind, "label": info.label, "lat": info.lat,
        "lon": info.lon, "priority": info.priority, "incident_ids": list(info.incident_ids),
    }
