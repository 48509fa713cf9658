"""Safety interlocks that no role can override: the legal altitude ceiling and the no-fly
zones, checked against the zones as they are *now* (they may have changed since a mission was
planned).

- `SafetyLimits.check(drone_id, command, params)` runs before any vehicle command is sent
  (CommandService): a take-off or goto above NAZORAT_MAX_ALTITUDE_M, a goto whose straight line
  from where the drone is crosses an active no-fly zone, or a mission whose path (from the drone
  through every positioned item, and home again after RTL) does, is refused (`SafetyRefused`,
  answered 409 `interlock`).
- `route_problems(path, altitude, zones, max_alt)` is the same test for a planned leg
  (MissionService re-checks every leg at dispatch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shapely.geometry import LineString, Point, Polygon

from mission.db import Database
from mission.zones.domain import ZoneShape
from mission.zones.service import ZoneService
from telemetry.hub import TelemetryHub

NAV_RTL, NAV_LAND = 20, 21
RELATIVE_FRAMES = {3, 6, 10, 11}  # relative to home / terrain
ABSOLUTE_FRAMES = {0, 5}  # AMSL


class SafetyRefused(Exception):
    """A command or leg refused by an interlock; `check` is altitude or no_fly."""

    def __init__(self, command: str, check: str, message: str) -> None:
        super().__init__(message)
        self.command = command
        self.check = check
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "outcome": "refused", "check": self.check,
                "message": self.message, "reason": self.message}


@dataclass(frozen=True)
class Problem:
    check: str
    message: str


def _outline(z: ZoneShape) -> Polygon:
    # holes are closed too: reaching one means crossing the zone
    return Polygon(z.polygon.exterior)


def zones_entered(path: Sequence[tuple[float, float]], alt_m: float,
                  zones: Sequence[ZoneShape]) -> list[ZoneShape]:
    """Active no-fly zones (applying at `alt_m`) that the polyline of (lat, lon) touches."""
    if not path:
        return []
    pts = [(lon, lat) for lat, lon in path]
    geom = Point(pts[0]) if len(set(pts)) == 1 else LineString(pts)
    return [z for z in zones if z.applies_at(alt_m) and _outline(z).intersects(geom)]


def describe(zones: Sequence[ZoneShape]) -> str:
    return ", ".join(f"'{z.name}' (zone {z.id})" for z in zones)


def route_problems(path: Sequence[tuple[float, float]], altitude_m: float,
                   zones: Sequence[ZoneShape], max_altitude_m: float) -> list[Problem]:
    out = []
    if altitude_m > max_altitude_m:
        out.append(Problem("altitude", f"altitude {altitude_m:g} m is above the legal "
                                       f"maximum of {max_altitude_m:g} m"))
    hit = zones_entered(path, altitude_m, zones)
    if hit:
        out.append(Problem("no_fly", f"the route enters the no-fly zone {describe(hit)}"))
    return out


class SafetyLimits:
    def __init__(self, db: Database, hub: TelemetryHub, *, max_altitude_m: float) -> None:
        self.zones = ZoneService(db)
        self.hub = hub
        self.max_altitude_m = max_altitude_m

    def _altitude(self, command: str, alt: float, what: str = "altitude") -> None:
        if alt > self.max_altitude_m:
            raise SafetyRefused(command, "altitude",
                                f"{what} {alt:g} m is above the legal maximum of "
                                f"{self.max_altitude_m:g} m (NAZORAT_MAX_ALTITUDE_M)")

    async def _no_fly(self, command: str, path: Sequence[tuple[float, float]],
                      alt: float) -> None:
        hit = zones_entered(path, alt, await self.zones.no_fly_shapes())
        if hit:
            raise SafetyRefused(command, "no_fly",
                                f"the path enters the no-fly zone {describe(hit)}; no role "
                                "can override a no-fly zone")

    def _start(self, drone_id: int) -> tuple[list[tuple[float, float]], float | None,
                                             tuple[float, float] | None]:
        st = self.hub.latest(drone_id)
        if st is None:
            return [], None, None
        here = [(st.position.lat, st.position.lon)] if st.position is not None else []
        home = (st.home.lat, st.home.lon) if st.home is not None else None
        home_amsl = st.home.alt_amsl if st.home is not None else None
        return (here or ([home] if home else [])), home_amsl, home

    async def check(self, drone_id: int, command: str, params: Any) -> None:
        """Raise SafetyRefused if the (validated) command would break a limit."""
        if command == "takeoff":
            self._altitude(command, float(params.alt), "take-off altitude")
        elif command == "start_mission":
            self._altitude(command, float(params.takeoff_alt), "take-off altitude")
        elif command == "goto":
            self._altitude(command, float(params.alt))
            start, _, _ = self._start(drone_id)
            await self._no_fly(command, [*start, (params.lat, params.lon)], float(params.alt))
        elif command == "upload_mission":
            await self._mission(drone_id, command, params.items)

    async def _mission(self, drone_id: int, command: str, items: Sequence[Any]) -> None:
        path, home_amsl, home = self._start(drone_id)
        top = 0.0
        for i, item in enumerate(items):
            alt = float(item.alt)
            if item.frame in ABSOLUTE_FRAMES and home_amsl is not None:
                alt -= home_amsl
            nav = 16 <= item.command <= 95 and item.command not in (NAV_RTL, NAV_LAND)
            if nav and item.frame in RELATIVE_FRAMES | ABSOLUTE_FRAMES:
                self._altitude(command, alt, f"items[{i}] altitude")
                top = max(top, alt)
            if item.command == NAV_RTL and home is not None:
                path.append(home)
            elif 16 <= item.command <= 95 and (item.lat != 0.0 or item.lon != 0.0):
                path.append((item.lat, item.lon))
        if len(path) >= 1:
            await self._no_fly(command, path, top)
