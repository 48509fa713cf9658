"""The vehicle-command port: every command a drone can be given, as a typed value and a typed
method, whoever gives it (the API, a mission, the bus's owner side, a test).

Why one port: the interlocks, the command record and the audit entry must wrap every command
once, on every path that puts a command or a mission on a vehicle. Each implementation
(`LinkCommands` in process, `BusCommands` to another process, `RoutedCommands` choosing
between them, `GuardedCommands` adding interlocks and the record, a test's fake fleet) writes
one method, `send`; the typed methods (`arm`, `upload_mission`, ...) come from
`CommandMethods`. Names of commands exist only at the edges that receive names: the HTTP
route and the bus (`command_params.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

from telemetry.errors import CommandResult
from telemetry.mission_item import MissionItem
from telemetry.missions import FenceCircle, FencePolygon

PauseMode = Literal["BRAKE", "LOITER"]


@dataclass(frozen=True)
class Arm:
    name: ClassVar[str] = "arm"

    def body(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class Disarm:
    """`force` (magic 21196) disarms even in flight: kept explicit."""

    force: bool = False
    name: ClassVar[str] = "disarm"

    def body(self) -> dict[str, Any]:
        return {"force": self.force}


@dataclass(frozen=True)
class Takeoff:
    alt: float  # metres above home
    name: ClassVar[str] = "takeoff"

    def body(self) -> dict[str, Any]:
        return {"alt": self.alt}


@dataclass(frozen=True)
class SetMode:
    mode: str  # an ArduCopter mode name, upper case
    name: ClassVar[str] = "set_mode"

    def body(self) -> dict[str, Any]:
        return {"mode": self.mode}


@dataclass(frozen=True)
class UploadMission:
    """The items after ArduPilot's home slot (the link puts the home placeholder at seq 0)."""

    items: tuple[MissionItem, ...]
    name: ClassVar[str] = "upload_mission"

    def body(self) -> dict[str, Any]:
        keys = ("command", "frame", "lat", "lon", "alt", "param1", "param2", "param3", "param4")
        return {"items": [{k: getattr(i, k) for k in keys} | {"autocontinue": bool(
            i.autocontinue)} for i in self.items]}


@dataclass(frozen=True)
class StartMission:
    """Arm, take off to `takeoff_alt` and fly the stored mission from its first item."""

    takeoff_alt: float = 10.0
    name: ClassVar[str] = "start_mission"

    def body(self) -> dict[str, Any]:
        return {"takeoff_alt": self.takeoff_alt}


@dataclass(frozen=True)
class Pause:
    mode: PauseMode = "BRAKE"
    name: ClassVar[str] = "pause"

    def body(self) -> dict[str, Any]:
        return {"mode": self.mode}


@dataclass(frozen=True)
class Resume:
    name: ClassVar[str] = "resume"

    def body(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class ReturnToLaunch:
    name: ClassVar[str] = "return_to_launch"

    def body(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class Land:
    name: ClassVar[str] = "land"

    def body(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class Goto:
    lat: float
    lon: float
    alt: float  # metres above home
    name: ClassVar[str] = "goto"

    def body(self) -> dict[str, Any]:
        return {"lat": self.lat, "lon": self.lon, "alt": self.alt}


@dataclass(frozen=True)
class SetMissionCurrent:
    seq: int  # the stored item to fly next (1 = first after home)
    name: ClassVar[str] = "set_mission_current"

    def body(self) -> dict[str, Any]:
        return {"seq": self.seq}


@dataclass(frozen=True)
class UploadGeofence:
    polygons: tuple[FencePolygon, ...] = ()
    circles: tuple[FenceCircle, ...] = ()
    name: ClassVar[str] = "upload_geofence"

    def body(self) -> dict[str, Any]:
        return {
            "polygons": [{"vertices": [list(v) for v in p.vertices], "inclusion": p.inclusion}
                         for p in self.polygons],
            "circles": [{"lat": c.lat, "lon": c.lon, "radius": c.radius_m,
                         "inclusion": c.inclusion} for c in self.circles],
        }


@dataclass(frozen=True)
class LookAt:
    """Point the camera at a place (MAV_CMD_DO_SET_ROI_LOCATION): the gimbal follows it as the
    drone moves. Not a destination: the drone stays where it is (an ArduCopter whose mount
    cannot pan turns to face it)."""

    lat: float
    lon: float
    alt: float = 0.0  # metres above home: 0 is the flat ground the footprint assumes
    name: ClassVar[str] = "look_at"

    def body(self) -> dict[str, Any]:
        return {"lat": self.lat, "lon": self.lon, "alt": self.alt}


@dataclass(frozen=True)
class PointGimbal:
    """Set the gimbal's pitch (degrees, -90 straight down .. +90 up) and yaw
    (MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW): `yaw_deg` a bearing from north (earth frame, held
    as the drone turns), or None to keep the camera along the drone's nose."""

    pitch_deg: float
    yaw_deg: float | None = None
    name: ClassVar[str] = "point_gimbal"

    def body(self) -> dict[str, Any]:
        return {"pitch_deg": self.pitch_deg, "yaw_deg": self.yaw_deg}


@dataclass(frozen=True)
class ClearRoi:
    """Stop looking at a place (MAV_CMD_DO_SET_ROI_NONE): the gimbal goes back to its default."""

    name: ClassVar[str] = "clear_roi"

    def body(self) -> dict[str, Any]:
        return {}


VehicleCommand = (Arm | Disarm | Takeoff | SetMode | UploadMission | StartMission | Pause | Resume
                  | ReturnToLaunch | Land | Goto | SetMissionCurrent | UploadGeofence | LookAt
                  | PointGimbal | ClearRoi)

# Commands that put items on the vehicle or fly them: the interlocks judge these.
FLYING = (Takeoff, Goto, UploadMission, SetMissionCurrent, StartMission)


class CommandPort(Protocol):
    """What every implementation provides."""

    async def send(self, drone_id: int, command: VehicleCommand) -> CommandResult:
        """Run `command` on the drone: its CommandResult, or raises a CommandError (the
        autopilot's reason attached), UnknownVehicle, or SafetyRefused where interlocks
        apply."""
        ...

    async def read_mission(self, drone_id: int) -> list[MissionItem]:
        """The mission the vehicle holds now, seq 0 (home) included: read from it, not
        remembered."""
        ...


class VehicleCommands(CommandPort, Protocol):
    """The port as callers use it: one typed method a command."""

    async def arm(self, drone_id: int) -> CommandResult: ...
    async def disarm(self, drone_id: int, *, force: bool = False) -> CommandResult: ...
    async def takeoff(self, drone_id: int, alt_m: float) -> CommandResult: ...
    async def set_mode(self, drone_id: int, mode: str) -> CommandResult: ...
    async def upload_mission(self, drone_id: int,
                             items: Sequence[MissionItem]) -> CommandResult: ...
    async def start_mission(self, drone_id: int, takeoff_alt_m: float) -> CommandResult: ...
    async def pause(self, drone_id: int, mode: PauseMode = "BRAKE") -> CommandResult: ...
    async def resume(self, drone_id: int) -> CommandResult: ...
    async def return_to_launch(self, drone_id: int) -> CommandResult: ...
    async def land(self, drone_id: int) -> CommandResult: ...
    async def goto(self, drone_id: int, lat: float, lon: float,
                   alt_m: float) -> CommandResult: ...
    async def set_mission_current(self, drone_id: int, seq: int) -> CommandResult: ...
    async def upload_geofence(self, drone_id: int, polygons: Sequence[FencePolygon] = (),
                              circles: Sequence[FenceCircle] = ()) -> CommandResult: ...
    async def look_at(self, drone_id: int, lat: float, lon: float,
                      alt_m: float = 0.0) -> CommandResult: ...
    async def point_gimbal(self, drone_id: int, pitch_deg: float,
                           yaw_deg: float | None = None) -> CommandResult: ...
    async def clear_roi(self, drone_id: int) -> CommandResult: ...


class CommandMethods:
    """The typed methods, each one `send` of its command value: subclass and write `send` and
    `read_mission`."""

    async def send(self, drone_id: int, command: VehicleCommand) -> CommandResult:
        raise NotImplementedError

    async def read_mission(self, drone_id: int) -> list[MissionItem]:
        raise NotImplementedError

    async def arm(self, drone_id: int) -> CommandResult:
        return await self.send(drone_id, Arm())

    async def disarm(self, drone_id: int, *, force: bool = False) -> CommandResult:
        return await self.send(drone_id, Disarm(force))

    async def takeoff(self, drone_id: int, alt_m: float) -> CommandResult:
        return await self.send(drone_id, Takeoff(alt_m))

    async def set_mode(self, drone_id: int, mode: str) -> CommandResult:
        return await self.send(drone_id, SetMode(mode.upper()))

    async def upload_mission(self, drone_id: int, items: Sequence[MissionItem]) -> CommandResult:
        return await self.send(drone_id, UploadMission(tuple(items)))

    async def start_mission(self, drone_id: int, takeoff_alt_m: float) -> CommandResult:
        return await self.send(drone_id, StartMission(takeoff_alt_m))

    async def pause(self, drone_id: int, mode: PauseMode = "BRAKE") -> CommandResult:
        return await self.send(drone_id, Pause(mode))

    async def resume(self, drone_id: int) -> CommandResult:
        return await self.send(drone_id, Resume())

    async def return_to_launch(self, drone_id: int) -> CommandResult:
        return await self.send(drone_id, ReturnToLaunch())

    async def land(self, drone_id: int) -> CommandResult:
        return await self.send(drone_id, Land())

    async def goto(self, drone_id: int, lat: float, lon: float, alt_m: float) -> CommandResult:
        return await self.send(drone_id, Goto(lat, lon, alt_m))

    async def set_mission_current(self, drone_id: int, seq: int) -> CommandResult:
        return await self.send(drone_id, SetMissionCurrent(seq))

    async def upload_geofence(self, drone_id: int, polygons: Sequence[FencePolygon] = (),
                              circles: Sequence[FenceCircle] = ()) -> CommandResult:
        return await self.send(drone_id, UploadGeofence(tuple(polygons), tuple(circles)))

    async def look_at(self, drone_id: int, lat: float, lon: float,
                      alt_m: float = 0.0) -> CommandResult:
        return await self.send(drone_id, LookAt(lat, lon, alt_m))

    async def point_gimbal(self, drone_id: int, pitch_deg: float,
                           yaw_deg: float | None = None) -> CommandResult:
        return await self.send(drone_id, PointGimbal(pitch_deg, yaw_deg))

    async def clear_roi(self, drone_id: int) -> CommandResult:
        return await self.send(drone_id, ClearRoi())
