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

Camera pointing (look_at, point_gimbal, clear_roi) is judged by none of these: a look-at
point is where the camera looks, not where the drone goes. The drone keeps its position,
altitude and mission (an ArduCopter whose mount cannot pan turns in place to face the point), so
the no-fly, ceiling, mission and separation checks have no leg to judge, and refusing a look
at a point inside a no-fly zone would keep the operator from looking at what is there. What
still applies to them: finite, in-range parameters (command_params.py), the role check (only
operators and admins command; commanders read), the record and the audit, like every command.

Own-fleet separation (mission/planning/separation.py): a takeoff, goto or mission upload
(quick dispatch, re-task) whose flight would come within `separation_h_m` and
`separation_v_m` (30 m / 15 m) of another of our drones holding in the air, or of where
another was sent by a goto, is refused with check `separation` before it is sent.

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
    PathProblem,
    Start,
    expand,
    goto_legs,
    static_problems,
    takeoff_legs,
)
from mission.planning.mission_check import Refusal, check_legs, check_mission
from mission.planning.separation import DEFAULT_H_M, DEFAULT_V_M, Leg, Point, first_conflict
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


# Modes in which a drone is on its way somewhere (a mission, home): not a point to keep off.
MOVING_MODES = frozenset({"AUTO", "RTL", "SMART_RTL", "LAND"})


class SafetyLimits:
    def __init__(self, hub: TelemetryHub, *, zones: ZoneService, max_altitude_m: float,
                 rtl_alt_m: float = DEFAULT_RTL_ALT_M, separation_h_m: float = DEFAULT_H_M,
                 separation_v_m: float = DEFAULT_V_M) -> None:
        self.zones = zones
        self.hub = hub
        self.max_altitude_m = max_altitude_m
        self.rtl_alt_m = rtl_alt_m
        self.separation_h_m = separation_h_m
        self.separation_v_m = separation_v_m
        # where each drone was last sent by a goto (lat, lon, m AMSL): it holds there in GUIDED
        self._targets: dict[int, tuple[float, float, float]] = {}

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
            case vc.LookAt() | vc.PointGimbal() | vc.ClearRoi():
                return  # the camera, not the drone, moves: see the module's docstring
            case _:
                pass  # arm, disarm, modes, pause, resume, RTL, land, fence: never blocked here
        if refusal is not None:
            raise SafetyRefused.of(name, refusal)
        self._separation(drone_id, command)

    def _others(self, drone_id: int) -> list[Point]:
        """Our other drones holding in the air, and the goto targets they hold at."""
        out: list[Point] = []
        for vid, st in self.hub.snapshot().items():
            pos = st.position
            if vid == drone_id or pos is None or not st.armed or st.landed_state == "on_ground":
                continue
            if st.mode not in MOVING_MODES:
                out.append(Point(vid, pos.lat, pos.lon, pos.alt_amsl))
            target = self._targets.get(vid)
            if target is not None and st.mode == "GUIDED":
                out.append(Point(vid, *target, what="goto target"))
        return out

    def separation_problem(self, drone_id: int, items: Sequence[Any]) -> SafetyRefused | None:
        """The separation check of a mission upload of `items` (seq 1 on), without sending
        anything: the dispatch preflight asks it for every drone before the first command."""
        try:
            self._separation(drone_id, vc.UploadMission(()), items=items)
        except SafetyRefused as e:
            return e
        return None

    def _separation(self, drone_id: int, command: vc.VehicleCommand, *,
                    items: Sequence[Any] | None = None) -> None:
        if not isinstance(command, vc.Takeoff | vc.Goto | vc.UploadMission) or not (
                self.separation_h_m > 0 and self.separation_v_m > 0):
            return
        start = start_of(self.hub.latest(drone_id))
        if start is None:
            return  # the position check (above) refuses what needs one
        if isinstance(command, vc.Goto):
            self._targets.pop(drone_id, None)
        others = self._others(drone_id)
        legs: list[Leg] = []
        match command:
            case vc.Takeoff(alt=alt):
                legs = takeoff_legs(start, float(alt))
            case vc.Goto(lat=lat, lon=lon, alt=alt):
                legs = goto_legs(start, lat, lon, float(alt))
            case vc.UploadMission() if others:
                shaped = [Item.of(x) for x in (command.items if items is None else items)]
                if static_problems(shaped) is None:
                    try:
                        legs = expand(shaped, start, rtl_alt_m=self.rtl_alt_m)
                    except PathProblem:
                        legs = []  # the mission check refuses those
        datum = start.home_amsl_m
        if datum is None:
            return  # no altitude datum: nothing to compare with others' AMSL (no home yet)
        here = (start.lat, start.lon, datum + start.alt_m)
        hit = first_conflict(legs, datum, here, others, self.separation_h_m,
                             self.separation_v_m)
        if hit is not None:
            raise SafetyRefused(
                command.name, "separation",
                f"the flight would pass {hit.h_m:.0f} m horizontally and {hit.v_m:.0f} m "
                f"vertically from drone {hit.other.drone_id}'s {hit.other.what} (own-fleet "
                f"separation: {self.separation_h_m:g} m and {self.separation_v_m:g} m)",
                item=hit.leg.index if hit.leg.index >= 0 else None)
        if isinstance(command, vc.Goto):
            self._targets[drone_id] = (command.lat, command.lon, datum + float(command.alt))

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
