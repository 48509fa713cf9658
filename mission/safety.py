"""Safety interlocks that no role can override, at the one place every vehicle command passes
(the guarded vehicle-command port, mission.fleet.commands.GuardedCommands, calls
`SafetyLimits.check` before anything is sent).

The judgement itself is mission.planning.mission_check (pure): the copter allow-list, finite
numbers, altitudes resolved to metres above home, the flight expanded as ArduCopter flies it
from where the drone is, each leg against the legal ceiling and every active no-fly zone at its
own altitudes. This module only supplies what the judgement needs from the live service: where
the drone is and its home (the telemetry hub), the zones as they are *now* (they may have
changed since a mission was planned), and, for set_mission_current and start_mission, the
mission the vehicle actually holds (read back from it).

- takeoff: the ceiling, and the climb where the drone is;
- goto: the straight line from where the drone is (GUIDED DO_REPOSITION);
- upload_mission: the items, flown from where the drone is;
- set_mission_current: the stored mission from that item on, from where the drone is;
- start_mission: the GUIDED take-off, then the stored mission from its first item.

A refusal raises `SafetyRefused` (answered 409 `interlock`, recorded in the command record and
the audit log by CommandService) naming the item index, the check and the zone.
`mission_refusal` is the same check for a planned leg (MissionService re-checks every leg at
dispatch, before any command is sent).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from mission.fleet import vehicle_commands as vc
from mission.planning.flight_path import (
    DEFAULT_RTL_ALT_M,
    Item,
    Start,
    goto_legs,
    takeoff_legs,
)
from mission.planning.mission_check import Refusal, check_legs, check_mission
from mission.zones.domain import ZoneShape
from mission.zones.service import ZoneService
from telemetry.hub import TelemetryHub
from telemetry.mission_item import MissionItem
from telemetry.state import VehicleState

# Reads the vehicle's stored mission, seq 0 (home) included (the command port's read_mission).
MissionReader = Callable[[int], Awaitable[list[MissionItem]]]


class SafetyRefused(Exception):
    """A command or leg refused by an interlock: `check` (item, finite, position, jump, home,
    altitude_frame, altitude, no_fly), the item index (None: not about an item), the zone."""

    def __init__(self, command: str, check: str, message: str, *, item: int | None = None,
                 zone_id: int | None = None) -> None:
        super().__init__(message)
        self.command = command
        self.check = check
        self.message = message
        self.item = item
        self.zone_id = zone_id

    @classmethod
    def of(cls, command: str, r: Refusal) -> SafetyRefused:
        return cls(command, r.check, r.message, item=r.index if r.index >= 0 else None,
                   zone_id=r.zone_id)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"command": self.command, "outcome": "refused",
                               "check": self.check, "message": self.message,
                               "reason": self.message}
        if self.item is not None:
            out["item"] = self.item
        if self.zone_id is not None:
            out["zone_id"] = self.zone_id
        return out


def start_of(state: VehicleState | None) -> Start | None:
    """Where the drone is (height above its home) and its home; None if neither is known."""
    if state is None:
        return None
    home, pos = state.home, state.position
    if pos is None and home is None:
        return None
    if pos is None:
        assert home is not None
        return Start(home.lat, home.lon, 0.0, home.lat, home.lon, home.alt_amsl)
    if state.alt_rel is not None:
        alt = state.alt_rel
    elif home is not None:
        alt = pos.alt_amsl - home.alt_amsl
    else:
        alt = 0.0
    if home is None:  # no home yet: the drone arms (and sets home) where it is
        return Start(pos.lat, pos.lon, alt, pos.lat, pos.lon, pos.alt_amsl - alt)
    return Start(pos.lat, pos.lon, alt, home.lat, home.lon, home.alt_amsl)


def mission_refusal(state: VehicleState | None, items: Sequence[Any],
                    zones: Sequence[ZoneShape], max_altitude_m: float, *, first: int = 0,
                    rtl_alt_m: float = DEFAULT_RTL_ALT_M) -> Refusal | None:
    """The check for `items` (seq 1 on; API models, planner items or dicts) flown by this
    drone from where it is now."""
    start = start_of(state)
    if start is None:
        return Refusal(-1, "position", "the drone's position and home are unknown, so the path "
                                       "from it cannot be checked")
    return check_mission([Item.of(x) for x in items], start, zones,
                         max_altitude_m=max_altitude_m, first=first, rtl_alt_m=rtl_alt_m)


class SafetyLimits:
    def __init__(self, hub: TelemetryHub, *, zones: ZoneService, max_altitude_m: float,
                 rtl_alt_m: float = DEFAULT_RTL_ALT_M) -> None:
        self.zones = zones
        self.hub = hub
        self.max_altitude_m = max_altitude_m
        self.rtl_alt_m = rtl_alt_m

    def _start(self, drone_id: int, command: str) -> Start:
        start = start_of(self.hub.latest(drone_id))
        if start is None:
            raise SafetyRefused(command, "position", "the drone's position and home are "
                                                     "unknown, so the path from it cannot be "
                                                     "checked")
        return start

    async def check(self, drone_id: int, command: vc.VehicleCommand,
                    read_mission: MissionReader | None = None) -> None:
        """Raise SafetyRefused if the command would break a limit."""
        name = command.name
        refusal: Refusal | None = None
        match command:
            case vc.Takeoff(alt=alt):
                refusal = check_legs(takeoff_legs(self._start(drone_id, name), float(alt)),
                                     await self.zones.no_fly_shapes(), self.max_altitude_m)
            case vc.Goto(lat=lat, lon=lon, alt=alt):
                legs = goto_legs(self._start(drone_id, name), lat, lon, float(alt))
                refusal = check_legs(legs, await self.zones.no_fly_shapes(), self.max_altitude_m)
            case vc.UploadMission(items=items):
                # a thread: 700 items with jumps against 50 zones take ~0.25 s of shapely
                refusal = await asyncio.to_thread(
                    mission_refusal, self.hub.latest(drone_id), items,
                    await self.zones.no_fly_shapes(), self.max_altitude_m,
                    rtl_alt_m=self.rtl_alt_m)
            case vc.SetMissionCurrent(seq=seq) if read_mission is not None:
                refusal = await self._stored(drone_id, name, read_mission, int(seq) - 1,
                                             self._start(drone_id, name))
            case vc.StartMission(takeoff_alt=takeoff_alt):
                start = self._start(drone_id, name)
                alt = float(takeoff_alt)
                refusal = check_legs(takeoff_legs(start, alt), await self.zones.no_fly_shapes(),
                                     self.max_altitude_m)
                if refusal is None and read_mission is not None:
                    climbed = Start(start.lat, start.lon, max(start.alt_m, alt), start.home_lat,
                                    start.home_lon, start.home_amsl_m)
                    refusal = await self._stored(drone_id, name, read_mission, 0, climbed)
            case _:
                pass  # arm, disarm, modes, pause, resume, RTL, land, fence: never blocked here
        if refusal is not None:
            raise SafetyRefused.of(name, refusal)

    async def _stored(self, drone_id: int, command: str, read_mission: MissionReader,
                      first: int, start: Start) -> Refusal | None:
        """The check of the mission the vehicle holds (not what we think it holds)."""
        try:
            stored = await read_mission(drone_id)
        except Exception as e:  # noqa: BLE001 - any failure to read means "cannot check"
            raise SafetyRefused(command, "mission", f"the vehicle's mission could not be read "
                                                    f"back to check it: {e}") from None
        items = [Item.of(x) for x in stored if x.seq != 0]
        if first >= len(items):
            return None  # the vehicle refuses an item it does not hold
        zones = await self.zones.no_fly_shapes()
        return await asyncio.to_thread(
            functools.partial(check_mission, items, start, zones,
                              max_altitude_m=self.max_altitude_m, first=first,
                              rtl_alt_m=self.rtl_alt_m))
