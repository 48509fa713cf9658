"""Mission files the unit's other tools read and write: QGroundControl `.plan`, Mission Planner
`QGC WPL 110` waypoint text, and GeoJSON for maps.

Every format carries the item list with seq 0 as the home slot (in `.plan` that slot is
`plannedHomePosition`), so an export followed by an import gives back the same items.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mission.planning.errors import PlanningError
from mission.planning.model import LatLon, MissionItem, NoFlyZone, Plan

QGC_FIRMWARE_ARDUPILOT = 3  # MAV_AUTOPILOT_ARDUPILOTMEGA
QGC_VEHICLE_QUADROTOR = 2  # MAV_TYPE_QUADROTOR
WPL_HEADER = "QGC WPL 110"


class FormatError(PlanningError):
    """A mission file this module cannot read."""


@dataclass(frozen=True)
class ImportedMission:
    items: tuple[MissionItem, ...]  # seq 0 is the home slot
    no_fly_zones: tuple[NoFlyZone, ...] = ()
    path: tuple[LatLon, ...] = ()  # GeoJSON only: the route line as drawn

    @property
    def home(self) -> LatLon | None:
        if not self.items:
            return None
        return LatLon(self.items[0].lat, self.items[0].lon)


def _positional(item: MissionItem) -> bool:
    return item.seq == 0 or item.lat != 0.0 or item.lon != 0.0


def _home_first(items: Sequence[MissionItem]) -> None:
    if not items or items[0].seq != 0:
        raise FormatError("a mission needs the home slot as item seq 0")
    if [i.seq for i in items] != list(range(len(items))):
        raise FormatError("mission items must be numbered 0, 1, 2, ... without gaps")


# --- QGroundControl .plan -------------------------------------------------------------------------


def export_qgc_plan(items: Sequence[MissionItem], no_fly_zones: Sequence[NoFlyZone] = (),
                    cruise_speed_mps: float = 10.0, hover_speed_mps: float = 5.0) -> str:
    _home_first(items)
    home = items[0]
    simple = []
    for it in items[1:]:
        entry: dict[str, Any] = {
            "autoContinue": bool(it.autocontinue),
            "command": it.command,
            "doJumpId": it.seq,
            "frame": it.frame,
            "params": [_json_num(v) for v in (it.param1, it.param2, it.param3, it.param4,
                                              it.lat, it.lon, it.alt)],
            "type": "SimpleItem",
        }
        if _positional(it):
            entry.update({"AMSLAltAboveTerrain": None, "Altitude": it.alt, "AltitudeMode": 1})
        simple.append(entry)
    doc = {
        "fileType": "Plan",
        "version": 1,
        "groundStation": "Nazorat",
        "geoFence": {
            "circles": [],
            "polygons": [
                {"inclusion": False, "version": 1,
                 "polygon": [[p.lat, p.lon] for p in z.polygon]}
                for z in no_fly_zones
            ],
            "version": 2,
        },
        "mission": {
            "cruiseSpeed": cruise_speed_mps,
            "firmwareType": QGC_FIRMWARE_ARDUPILOT,
            "globalPlanAltitudeMode": 1,
            "hoverSpeed": hover_speed_mps,
            "items": simple,
            "plannedHomePosition": [home.lat, home.lon, home.alt],
            "vehicleType": QGC_VEHICLE_QUADROTOR,
            "version": 2,
        },
        "rallyPoints": {"points": [], "version": 2},
    }
    return json.dumps(doc, indent=4)


def import_qgc_plan(text: str) -> ImportedMission:
    try:
        doc = json.loads(text)
        if doc.get("fileType") != "Plan":
            raise FormatError("not a QGroundControl plan (fileType is not 'Plan')")
        mission = doc["mission"]
        lat, lon, alt = mission["plannedHomePosition"]
        items = [MissionItem(0, 0, 16, lat=float(lat), lon=float(lon), alt=float(alt))]
        for n, entry in enumerate(mission["items"], start=1):
            if entry.get("type") != "SimpleItem":
                raise FormatError(
                    f"mission item {n} is a {entry.get('complexItemType', entry.get('type'))!r} "
                    "complex item: convert it to simple waypoints in QGroundControl first"
                )
            p = [_from_json_num(v) for v in entry["params"]]
            if len(p) != 7:
                raise FormatError(f"mission item {n} has {len(p)} params, not 7")
            items.append(MissionItem(
                n, int(entry["frame"]), int(entry["command"]), p[0], p[1], p[2], p[3],
                p[4], p[5], p[6], autocontinue=int(bool(entry.get("autoContinue", True)))))
        zones = tuple(
            NoFlyZone(f"fence-{i}", tuple(LatLon(float(a), float(b)) for a, b in poly["polygon"]))
            for i, poly in enumerate(doc.get("geoFence", {}).get("polygons", []))
            if not poly.get("inclusion", True)
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, FormatError):
            raise
        raise FormatError(f"malformed QGroundControl plan: {exc!r}") from exc
    return ImportedMission(tuple(items), zones)


def _json_num(v: float) -> float | None:
    return None if math.isnan(v) else v


def _from_json_num(v: float | int | str | None) -> float:
    """QGC writes NaN ("use the vehicle's current value") as null."""
    return math.nan if v is None else float(v)


# --- Mission Planner waypoint text ----------------------------------------------------------------


def export_wpl(items: Sequence[MissionItem]) -> str:
    _home_first(items)
    lines = [WPL_HEADER]
    for it in items:
        cols = [str(it.seq), str(it.current), str(it.frame), str(it.command),
                *(repr(float(v)) for v in (it.param1, it.param2, it.param3, it.param4)),
                f"{it.lat:.8f}", f"{it.lon:.8f}", repr(float(it.alt)), str(it.autocontinue)]
        lines.append("\t".join(cols))
    return "\n".join(lines) + "\n"


def import_wpl(text: str) -> ImportedMission:
    """Read what MAVProxy's `wp load` reads (pymavlink mavwp): the header line, then one item
    per line in 12 whitespace-separated columns; blank lines and `#` comment lines are skipped,
    since people annotate these files by hand. Errors name the file's own line number."""
    numbered = [(n, ln.strip()) for n, ln in enumerate(text.splitlines(), start=1)]
    content = [(n, ln) for n, ln in numbered if ln and not ln.startswith("#")]
    if not content or not content[0][1].startswith(WPL_HEADER):
        raise FormatError("not a Mission Planner waypoint file (first line is not 'QGC WPL 110')")
    items: list[MissionItem] = []
    for n, line in content[1:]:
        cols = line.split()
        if len(cols) != 12:
            raise FormatError(f"line {n}: expected 12 columns, found {len(cols)}")
        try:
            seq, cur, frame, cmd = (int(c) for c in cols[:4])
            p1, p2, p3, p4, lat, lon, alt = (float(c) for c in cols[4:11])
            items.append(MissionItem(seq, frame, cmd, p1, p2, p3, p4, lat, lon, alt, cur,
                                     int(cols[11])))
        except ValueError as exc:
            raise FormatError(f"line {n}: {exc}") from exc
    _home_first(items)
    return ImportedMission(tuple(items))


# --- GeoJSON --------------------------------------------------------------------------------------


def export_geojson(plan: Plan, no_fly_zones: Sequence[NoFlyZone] = ()) -> str:
    """Per drone a route LineString ([lon, lat]) and one Feature per item (Point when it has a
    position, null geometry otherwise) carrying everything needed to rebuild the item."""
    features: list[dict[str, Any]] = []
    for r in plan.routes:
        if not r.items:
            continue
        features.append({
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[p.lon, p.lat] for p in r.path]},
            "properties": {"kind": "route", "drone_id": r.drone_id, "altitude_m": r.altitude_m,
                           "distance_m": r.distance_m, "duration_s": r.duration_s,
                           "energy_wh": r.energy_wh, "battery_used_pct": r.battery_used_pct},
        })
        serves = {s: v.target_id for v in r.visits for s in range(v.first_seq, v.last_seq + 1)}
        for it in r.items:
            features.append({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [it.lon, it.lat, it.alt]}
                if _positional(it) else None,
                "properties": {"kind": "item", "drone_id": r.drone_id, "seq": it.seq,
                               "frame": it.frame, "command": it.command,
                               "params": [it.param1, it.param2, it.param3, it.param4],
                               "alt": it.alt, "current": it.current,
                               "autocontinue": it.autocontinue,
                               "target_id": serves.get(it.seq)},
            })
    for z in no_fly_zones:
        ring = [[p.lon, p.lat] for p in (*z.polygon, z.polygon[0])]
        features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                         "properties": {"kind": "no_fly", "id": z.id}})
    return json.dumps({"type": "FeatureCollection", "features": features}, indent=2)


def import_geojson(text: str) -> dict[str, ImportedMission]:
    """Missions by drone id, as written by export_geojson."""
    try:
        doc = json.loads(text)
        if doc.get("type") != "FeatureCollection":
            raise FormatError("not a GeoJSON FeatureCollection")
        items: dict[str, list[MissionItem]] = {}
        paths: dict[str, tuple[LatLon, ...]] = {}
        zones: list[NoFlyZone] = []
        for f in doc["features"]:
            props, geom = f.get("properties") or {}, f.get("geometry")
            kind = props.get("kind")
            if kind == "route":
                paths[props["drone_id"]] = tuple(LatLon(lat, lon) for lon, lat, *_ in
                                                 geom["coordinates"])
            elif kind == "item":
                lon, lat = (geom["coordinates"][:2] if geom else (0.0, 0.0))
                p1, p2, p3, p4 = (float(v) for v in props["params"])
                items.setdefault(props["drone_id"], []).append(MissionItem(
                    int(props["seq"]), int(props["frame"]), int(props["command"]),
                    p1, p2, p3, p4, float(lat), float(lon), float(props["alt"]),
                    int(props["current"]), int(props["autocontinue"])))
            elif kind == "no_fly":
                ring = geom["coordinates"][0][:-1]
                zones.append(NoFlyZone(str(props["id"]),
                                       tuple(LatLon(lat, lon) for lon, lat, *_ in ring)))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, FormatError):
            raise
        raise FormatError(f"malformed GeoJSON mission: {exc!r}") from exc
    out: dict[str, ImportedMission] = {}
    for drone_id, its in items.items():
        its.sort(key=lambda i: i.seq)
        _home_first(its)
        out[drone_id] = ImportedMission(tuple(its), tuple(zones), paths.get(drone_id, ()))
    return out
