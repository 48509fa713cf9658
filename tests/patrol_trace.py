"""The real ArduCopter patrol of shared/traces/arducopter-patrol-adsb, read for flight times.

What the trace holds (its README): home, NAV_TAKEOFF to 40 m, six points on a 250 m circle
around home at 40 m with NAV_LOITER_TIME 5 s at every other one (the others NAV_WAYPOINT),
then RTL, flown in AUTO with the default copter parameters (their values are in the trace's
PARAM_VALUEs). The ground station's uploads were not recorded, so the mission is rebuilt from
what the vehicle reported: the item kinds from its "Mission: N <kind>" texts, the points from
where it was when each item was reached (stopped at the loiters: their mean distance from home
is the circle's radius; flown through at the waypoints: their bearing), the take-off altitude
from the height it reached. Two figures come from the README alone: the 5 s loiter time (the
vehicle never reports it) and that the points lie on one circle.

Per-item times are vehicle seconds between the item's start (the previous item's
MISSION_ITEM_REACHED; for the take-off, the MISSION_START acknowledgement) and its own
MISSION_ITEM_REACHED; the RTL item is reached when the vehicle disarms.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import trace_reference as ref

PATROL = "arducopter-patrol-adsb"
LOITER_S = 5.0  # README: NAV_LOITER_TIME 5 s
CMD_MISSION_START = 300
KIND_COMMAND = {"Takeoff": 22, "WP": 16, "LoitTime": 19, "RTL": 20}
_R = 6_378_137.0


def missing_reason() -> str | None:
    if not (ref.TRACES_DIR / f"{PATROL}.jsonl.gz").is_file():
        return f"patrol trace not found in {ref.TRACES_DIR}"
    return None


@dataclass(frozen=True)
class PatrolItem:
    seq: int
    command: int  # MAV_CMD
    north_m: float  # position relative to home (0, 0 for take-off and RTL)
    east_m: float
    alt_m: float  # above home
    param1: float  # loiter seconds
    started_vt: float
    reached_vt: float

    @property
    def seconds(self) -> float:
        return self.reached_vt - self.started_vt


@dataclass(frozen=True)
class Patrol:
    home_lat: float
    home_lon: float
    home_amsl_m: float
    params: dict[str, float]
    items: tuple[PatrolItem, ...]


def _ne(lat0: float, lon0: float, lat: float, lon: float) -> tuple[float, float]:
    north = math.radians(lat - lat0) * _R
    east = math.radians(lon - lon0) * _R * math.cos(math.radians(lat0))
    return north, east


@functools.cache
def patrol() -> Patrol:
    t = ref.load(PATROL)
    params = {m["param_id"]: float(m["param_value"]) for m in t.rx("PARAM_VALUE")}
    home = t.rx("HOME_POSITION")[-1]
    lat0, lon0 = home["latitude"] / 1e7, home["longitude"] / 1e7
    kinds: dict[int, str] = {}
    for m in t.texts():
        g = re.fullmatch(r"Mission: (\d+) (\w+)", m["text"])
        if g:
            kinds[int(g.group(1))] = g.group(2)
    start = next(m.vt for m in t.rx("COMMAND_ACK")
                 if m["command"] == CMD_MISSION_START and m["result"] == 0)
    positions = t.rx("GLOBAL_POSITION_INT")
    reached: list[tuple[int, float, tuple[float, float, float]]] = []
    for m in t.rx("MISSION_ITEM_REACHED"):
        p = min(positions, key=lambda q, m=m: abs(q.vt - m.vt))  # type: ignore[misc]
        n, e = _ne(lat0, lon0, p["lat"] / 1e7, p["lon"] / 1e7)
        reached.append((m["seq"], m.vt, (n, e, p["relative_alt"] / 1000.0)))
    loiters = [math.hypot(n, e) for s, _, (n, e, _) in reached if kinds[s] == "LoitTime"]
    radius = sum(loiters) / len(loiters)
    items: list[PatrolItem] = []
    before = start
    for seq, vt, (n, e, alt) in reached:
        kind = kinds[seq]
        cmd = KIND_COMMAND[kind]
        if kind in ("WP", "LoitTime"):
            bearing = math.atan2(e, n)
            n, e = radius * math.cos(bearing), radius * math.sin(bearing)
            alt = round(alt)
        elif kind == "Takeoff":
            n = e = 0.0
            alt = round(alt)
        else:
            n = e = alt = 0.0
        items.append(PatrolItem(seq, cmd, n, e, alt, LOITER_S if kind == "LoitTime" else 0.0,
                                before, vt))
        before = vt
    return Patrol(lat0, lon0, home["altitude"] / 1000.0, params, tuple(items))


def latlon(p: Patrol, item: PatrolItem) -> tuple[float, float]:
    """The item's position in degrees (0, 0 for items without one, as in a mission)."""
    if item.command in (22, 20):
        return 0.0, 0.0
    lat = p.home_lat + math.degrees(item.north_m / _R)
    lon = p.home_lon + math.degrees(item.east_m / (_R * math.cos(math.radians(p.home_lat))))
    return lat, lon
