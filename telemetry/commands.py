"""Vehicle commands for ArduCopter with explicit results.

Every function returns a `CommandResult` or raises a `CommandError` (see errors.py) within a
bounded time: MAVSDK gives up on an unacknowledged command after ~2 s, waits here are capped, and
a vehicle whose link is lost is refused at once. Commands are sent as COMMAND_LONG/COMMAND_INT
through MAVSDK's MavlinkDirect so that the exact COMMAND_ACK result reaches the caller (MAVSDK's
Action plugin maps DENIED and FAILED onto the same error, and its takeoff/hold/RTL helpers choose
modes that do not match what an operator of an ArduCopter expects).

A new command on a vehicle supersedes a multi-step sequence still running on it
(`Vehicle.generation`): the latest operator decision wins.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telemetry import ardupilot as ap
from telemetry.errors import CommandError, CommandRejected, CommandResult, CommandTimeout
from telemetry.state import VehicleState
from telemetry.vehicle import ARM_TEXT_PREFIXES, Vehicle

T = TypeVar("T")

ARM_REASON_WAIT_S = 0.6  # ArduPilot sends the ACK first, then "Arm: ..." (same tick)
OTHER_REASON_WAIT_S = 0.3
PREARM_MAX_AGE_S = 60.0  # PreArm: texts repeat every ~30 s while disarmed
MODE_CONFIRM_S = 2.0
AIRBORNE_WAIT_S = 15.0
PAUSE_MODES = ("BRAKE", "LOITER")


def begin(vehicle: Vehicle) -> int:
    """Start a new operator command: supersede older sequences, return this one's generation."""
    vehicle.generation += 1
    return vehicle.generation


def _check_current(vehicle: Vehicle, gen: int, command: str, step: str) -> None:
    if vehicle.generation != gen:
        raise CommandError(command, "superseded by a newer command", step=step)


async def _with_reason(
    vehicle: Vehicle, command: str, send: Callable[[], Awaitable[T]], *, arm: bool = False
) -> T:
    """Run `send`; on a refusal attach the autopilot's STATUSTEXT explaining it."""
    since = time.monotonic()
    try:
        return await send()
    except CommandRejected as e:
        if arm:
            text = await vehicle.wait_for_text(ARM_TEXT_PREFIXES, since, ARM_REASON_WAIT_S)
            e.statustext = text or vehicle.latest_text(ARM_TEXT_PREFIXES, PREARM_MAX_AGE_S)
        else:
            e.statustext = await _warning_since(vehicle, since, OTHER_REASON_WAIT_S)
        raise


async def _warning_since(vehicle: Vehicle, since: float, wait_s: float) -> str | None:
    deadline = time.monotonic() + wait_s
    while True:
        for t in vehicle.texts:
            if t.mono >= since and t.severity <= ap.SEVERITY_WARNING:
                return t.text
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(0.05)


# -- single commands ----------------------------------------------------------------------------


async def arm(vehicle: Vehicle, command: str = "arm") -> CommandResult:
    await _with_reason(
        vehicle, command,
        lambda: vehicle.command_long(command, ap.MAV_CMD_COMPONENT_ARM_DISARM, (1.0,)),
        arm=True,
    )
    return CommandResult(command)


async def disarm(
    vehicle: Vehicle, *, force: bool = False, command: str = "disarm"
) -> CommandResult:
    """Disarm; `force` (magic 21196) disarms even in flight, so the API keeps it explicit."""
    params = (0.0, 21196.0) if force else (0.0,)
    await _with_reason(
        vehicle, command,
        lambda: vehicle.command_long(command, ap.MAV_CMD_COMPONENT_ARM_DISARM, params),
    )
    return CommandResult(command, {"force": force})


async def takeoff(vehicle: Vehicle, alt: float, command: str = "takeoff") -> CommandResult:
    """NAV_TAKEOFF to `alt` metres above home. ArduCopter needs GUIDED and armed first; this
    does not change mode or arm by itself (start_mission does the full sequence)."""
    await _with_reason(
        vehicle, command,
        lambda: vehicle.command_long(
            command, ap.MAV_CMD_NAV_TAKEOFF, (0, 0, 0, 0, 0, 0, float(alt))
        ),
    )
    return CommandResult(command, {"alt": alt})


async def set_mode(vehicle: Vehicle, mode: str, command: str = "set_mode") -> CommandResult:
    """DO_SET_MODE with the ArduCopter custom mode; then wait (bounded) for HEARTBEAT to show it.

    `confirmed` in the result says whether the heartbeat showed the new mode in time.
    """
    number = ap.COPTER_MODE_NUMBERS.get(mode.upper())
    if number is None:
        raise ValueError(f"mode: unknown ArduCopter mode {mode!r}")
    await _with_reason(
        vehicle, command,
        lambda: vehicle.command_long(
            command, ap.MAV_CMD_DO_SET_MODE,
            (float(ap.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED), float(number)),
        ),
    )
    confirmed = await wait_for_state(
        vehicle, lambda s: s.custom_mode == number, MODE_CONFIRM_S
    )
    return CommandResult(command, {"mode": mode.upper(), "confirmed": confirmed})


async def mission_start(vehicle: Vehicle, command: str = "mission_start") -> CommandResult:
    await _with_reason(
        vehicle, command, lambda: vehicle.command_long(command, ap.MAV_CMD_MISSION_START, (0, 0))
    )
    return CommandResult(command)


async def set_mission_current(
    vehicle: Vehicle, seq: int, command: str = "set_mission_current"
) -> CommandResult:
    """Make item `seq` the next one flown (MAV_CMD_DO_SET_MISSION_CURRENT, ArduPilot 4.4+).

    Needed after re-uploading a mission: the vehicle keeps its old item index, which in the new
    mission points at some unrelated item."""
    await _with_reason(
        vehicle, command,
        lambda: vehicle.command_long(command, ap.MAV_CMD_DO_SET_MISSION_CURRENT, (float(seq),)),
    )
    return CommandResult(command, {"seq": seq})


async def goto(
    vehicle: Vehicle, lat: float, lon: float, alt: float, command: str = "goto"
) -> CommandResult:
    """Fly to (lat, lon) at `alt` m above home in GUIDED (switching to GUIDED first if needed),
    with DO_REPOSITION as COMMAND_INT so the autopilot ACKs it (a position target would not)."""
    gen = vehicle.generation
    if vehicle.state.mode != "GUIDED":
        await _step(set_mode(vehicle, "GUIDED", command), "set_mode GUIDED")
        _check_current(vehicle, gen, command, "goto")
    await _with_reason(
        vehicle, command,
        lambda: vehicle.command_int(
            command, ap.MAV_CMD_DO_REPOSITION, frame=ap.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
            params=(-1.0, 1.0, 0.0, 0.0),  # default speed, may change mode
            x=round(lat * 1e7), y=round(lon * 1e7), z=float(alt),
        ),
    )
    return CommandResult(command, {"lat": lat, "lon": lon, "alt": alt})


async def look_at(
    vehicle: Vehicle, lat: float, lon: float, alt: float = 0.0, command: str = "look_at"
) -> CommandResult:
    """Point the camera at (lat, lon, `alt` m above home): DO_SET_ROI_LOCATION as COMMAND_INT,
    so the altitude frame is explicit (a COMMAND_LONG leaves it to the autopilot)."""
    await _with_reason(
        vehicle, command,
        lambda: vehicle.command_int(
            command, ap.MAV_CMD_DO_SET_ROI_LOCATION, frame=ap.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
            params=(0.0,),  # gimbal device 0: every gimbal
            x=round(lat * 1e7), y=round(lon * 1e7), z=float(alt),
        ),
    )
    return CommandResult(command, {"lat": lat, "lon": lon, "alt": alt})


async def point_gimbal(
    vehicle: Vehicle, pitch_deg: float, yaw_deg: float | None = None,
    command: str = "point_gimbal",
) -> CommandResult:
    """DO_GIMBAL_MANAGER_PITCHYAW: pitch (degrees, negative down) and, when given, yaw as a
    bearing held in the earth frame (GIMBAL_MANAGER_FLAGS_YAW_LOCK); without one the yaw is 0
    relative to the nose. Rates 0: angles only (NaN, MAVLink's "unused", is not valid JSON)."""
    flags = 0 if yaw_deg is None else ap.GIMBAL_MANAGER_FLAGS_YAW_LOCK
    yaw = 0.0 if yaw_deg is None else float(yaw_deg)
    await _with_reason(
        vehicle, command,
        lambda: vehicle.command_long(
            command, ap.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW,
            (float(pitch_deg), yaw, 0.0, 0.0, float(flags), 0.0, 0.0),
        ),
    )
    return CommandResult(command, {"pitch_deg": pitch_deg, "yaw_deg": yaw_deg})


async def clear_roi(vehicle: Vehicle, command: str = "clear_roi") -> CommandResult:
    """DO_SET_ROI_NONE: the gimbal returns to its default (ArduPilot: its RC or neutral)."""
    await _with_reason(
        vehicle, command,
        lambda: vehicle.command_long(command, ap.MAV_CMD_DO_SET_ROI_NONE, (0.0,)),
    )
    return CommandResult(command)


# -- sequences ----------------------------------------------------------------------------------


async def _step(coro: Awaitable[T], step: str) -> T:
    try:
        return await coro
    except CommandError as e:
        raise e.with_step(step) from None


async def wait_for_state(
    vehicle: Vehicle, predicate: Callable[[VehicleState], bool], timeout_s: float
) -> bool:
    """Poll the vehicle's latest state (decoded from telemetry) until `predicate` holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate(vehicle.state):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)


def _airborne(s: VehicleState) -> bool:
    return s.landed_state in ("in_air", "takeoff") or (s.alt_rel or 0.0) > 1.0


async def start_mission(
    vehicle: Vehicle, takeoff_alt: float = 10.0, command: str = "start_mission"
) -> CommandResult:
    """ArduCopter's known-good sequence: GUIDED, arm, NAV_TAKEOFF, AUTO, MISSION_START.

    Copter cannot arm in AUTO, and refuses AUTO on the ground unless the mission begins with a
    takeoff, so the vehicle takes off in GUIDED and switches to AUTO once airborne. A vehicle
    already flying skips straight to AUTO. Each failure names its step.
    """
    gen = vehicle.generation
    steps: list[str] = []
    if not (vehicle.state.armed and _airborne(vehicle.state)):
        await _step(set_mode(vehicle, "GUIDED", command), "set_mode GUIDED")
        steps.append("GUIDED")
        _check_current(vehicle, gen, command, "arm")
        if not vehicle.state.armed:
            await _step(arm(vehicle, command), "arm")
            steps.append("arm")
        _check_current(vehicle, gen, command, "takeoff")
        await _step(takeoff(vehicle, takeoff_alt, command), "takeoff")
        steps.append("takeoff")
        airborne = await wait_for_state(vehicle, _airborne, AIRBORNE_WAIT_S)
        if not airborne:
            raise CommandTimeout(
                command, f"not airborne {AIRBORNE_WAIT_S:.0f} s after takeoff", step="takeoff"
            )
    _check_current(vehicle, gen, command, "set_mode AUTO")
    await _step(set_mode(vehicle, "AUTO", command), "set_mode AUTO")
    steps.append("AUTO")
    await _step(mission_start(vehicle, command), "mission_start")
    steps.append("MISSION_START")
    return CommandResult(command, {"steps": steps})


async def pause(vehicle: Vehicle, mode: str = "BRAKE", command: str = "pause") -> CommandResult:
    """Hold position: BRAKE (stops hard, default) or LOITER (pilot-friendly hold)."""
    if mode.upper() not in PAUSE_MODES:
        raise ValueError(f"mode: pause uses one of {', '.join(PAUSE_MODES)}")
    result = await set_mode(vehicle, mode, command)
    return CommandResult(command, result.detail)


async def resume(vehicle: Vehicle, command: str = "resume") -> CommandResult:
    """Continue the mission where it stopped: AUTO, then MISSION_START (ArduPilot resumes the
    current item rather than restarting when no item range is given)."""
    gen = vehicle.generation
    await _step(set_mode(vehicle, "AUTO", command), "set_mode AUTO")
    _check_current(vehicle, gen, command, "mission_start")
    await _step(mission_start(vehicle, command), "mission_start")
    return CommandResult(command, {"mission_current": vehicle.state.mission_current})


async def return_to_launch(vehicle: Vehicle, command: str = "return_to_launch") -> CommandResult:
    return CommandResult(command, (await set_mode(vehicle, "RTL", command)).detail)


async def land(vehicle: Vehicle, command: str = "land") -> CommandResult:
    return CommandResult(command, (await set_mode(vehicle, "LAND", command)).detail)


def summarize(result: CommandResult | CommandError) -> dict[str, Any]:
    """JSON-ready form for logs and the command record."""
    return result.to_dict()
