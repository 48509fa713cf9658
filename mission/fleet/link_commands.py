"""The vehicle-command port on this process's fleet link: each typed command run on the
vehicle by telemetry.commands / telemetry.missions (MAVLink through MAVSDK), nothing else.
No interlocks and no record here: GuardedCommands adds them, once, for every caller.

`fence` (with a bus: BusNode.fence): run right before each command goes to the vehicle; raises
(telemetry.lease.Fenced) when this process no longer holds the vehicle's link lease under the
current token, so a process that was paused or cut off from Redis never acts beside the new
owner (issue 13)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mission.fleet import vehicle_commands as vc
from telemetry import commands as cmd
from telemetry import missions
from telemetry.errors import CommandResult
from telemetry.link import FleetLink
from telemetry.mission_item import MissionItem
from telemetry.vehicle import Vehicle

# (vehicle id, command name) -> the fencing token, or raises a CommandError (not sent)
Fence = Callable[[int, str], Awaitable[int]]


class LinkCommands(vc.CommandMethods):
    def __init__(self, link: FleetLink, fence: Fence | None = None) -> None:
        self.link = link
        self.fence = fence

    async def send(self, drone_id: int, command: vc.VehicleCommand) -> CommandResult:
        vehicle = self.link.get(drone_id)  # UnknownVehicle if this process does not link it
        if self.fence is not None:
            await self.fence(drone_id, command.name)  # the last thing before the vehicle
        cmd.begin(vehicle)  # the latest operator decision supersedes a running sequence
        result = await _run(vehicle, command)
        return CommandResult(command.name, result.detail, result.outcome)

    async def read_mission(self, drone_id: int) -> list[MissionItem]:
        return await missions.download_mission(self.link.get(drone_id))


async def _run(v: Vehicle, c: vc.VehicleCommand) -> CommandResult:
    match c:
        case vc.Arm():
            return await cmd.arm(v)
        case vc.Disarm(force=force):
            return await cmd.disarm(v, force=force)
        case vc.Takeoff(alt=alt):
            return await cmd.takeoff(v, alt)
        case vc.SetMode(mode=mode):
            return await cmd.set_mode(v, mode)
        case vc.UploadMission(items=items):
            return CommandResult(c.name, await missions.upload_mission(v, items))
        case vc.StartMission(takeoff_alt=alt):
            return await cmd.start_mission(v, alt)
        case vc.Pause(mode=mode):
            return await cmd.pause(v, mode)
        case vc.Resume():
            return await cmd.resume(v)
        case vc.ReturnToLaunch():
            return await cmd.return_to_launch(v)
        case vc.Land():
            return await cmd.land(v)
        case vc.Goto(lat=lat, lon=lon, alt=alt):
            return await cmd.goto(v, lat, lon, alt)
        case vc.SetMissionCurrent(seq=seq):
            return await cmd.set_mission_current(v, seq)
        case vc.UploadGeofence(polygons=polygons, circles=circles):
            return CommandResult(c.name, await missions.upload_geofence(v, polygons, circles))
        case vc.LookAt(lat=lat, lon=lon, alt=alt):
            return await cmd.look_at(v, lat, lon, alt)
        case vc.PointGimbal(pitch_deg=pitch, yaw_deg=yaw):
            return await cmd.point_gimbal(v, pitch, yaw)
        case vc.ClearRoi():
            return await cmd.clear_roi(v)
