"""Commands by name, as the edges receive them (the HTTP route, the bus's owner side): the JSON
parameters of each command, validated, turned into the port's typed command value.

The only place where a command's name maps to a call; everything inside takes the typed value
(vehicle_commands.py).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mission.fleet import vehicle_commands as vc
from mission.numbers import Integer, Number
from telemetry import ardupilot as ap
from telemetry.mission_item import MissionItem
from telemetry.missions import FenceCircle, FencePolygon


class UnknownCommand(LookupError):
    pass


class InvalidParameters(ValueError):
    """The body did not validate; `errors` name each field and what is wrong with it."""

    def __init__(self, command: str, errors: list[dict[str, str]]) -> None:
        fields = ", ".join(e["field"] for e in errors)
        super().__init__(f"{command}: invalid parameters: {fields}")
        self.command = command
        self.errors = errors


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_command(self) -> vc.VehicleCommand:
        raise NotImplementedError


class ArmParams(Params):
    def to_command(self) -> vc.VehicleCommand:
        return vc.Arm()


class DisarmParams(Params):
    force: bool = False

    def to_command(self) -> vc.VehicleCommand:
        return vc.Disarm(self.force)


class TakeoffParams(Params):
    alt: Number = Field(gt=0, le=500, description="metres above home")

    def to_command(self) -> vc.VehicleCommand:
        return vc.Takeoff(self.alt)


class SetModeParams(Params):
    mode: str

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, v: str) -> str:
        if v.upper() not in ap.COPTER_MODE_NUMBERS:
            raise ValueError(f"unknown ArduCopter mode; one of {', '.join(ap.COPTER_MODE_NUMBERS)}")
        return v.upper()

    def to_command(self) -> vc.VehicleCommand:
        return vc.SetMode(self.mode)


class MissionItemIn(Params):
    command: Integer = Field(default=ap.MAV_CMD_NAV_WAYPOINT, ge=0, le=65535)
    lat: Number = 0.0
    lon: Number = 0.0
    alt: Number = 0.0
    frame: Integer = Field(default=ap.MAV_FRAME_GLOBAL_RELATIVE_ALT, ge=0, le=21)
    param1: Number = 0.0
    param2: Number = 0.0
    param3: Number = 0.0
    param4: Number = 0.0
    autocontinue: bool = True


class UploadMissionParams(Params):
    items: list[MissionItemIn] = Field(min_length=1, max_length=720)

    def to_command(self) -> vc.VehicleCommand:
        return vc.UploadMission(tuple(
            MissionItem.from_json(i.model_dump(), seq=n) for n, i in enumerate(self.items, 1)))


class StartMissionParams(Params):
    takeoff_alt: Number = Field(default=10.0, gt=0, le=500)

    def to_command(self) -> vc.VehicleCommand:
        return vc.StartMission(self.takeoff_alt)


class PauseParams(Params):
    mode: Literal["BRAKE", "LOITER"] = "BRAKE"

    def to_command(self) -> vc.VehicleCommand:
        return vc.Pause(self.mode)


class ResumeParams(Params):
    def to_command(self) -> vc.VehicleCommand:
        return vc.Resume()


class ReturnToLaunchParams(Params):
    def to_command(self) -> vc.VehicleCommand:
        return vc.ReturnToLaunch()


class LandParams(Params):
    def to_command(self) -> vc.VehicleCommand:
        return vc.Land()


class SetMissionCurrentParams(Params):
    seq: Integer = Field(ge=1, le=65534,
                         description="mission item to fly next (1 = first after home)")

    def to_command(self) -> vc.VehicleCommand:
        return vc.SetMissionCurrent(self.seq)


class GotoParams(Params):
    lat: Number = Field(ge=-90, le=90)
    lon: Number = Field(ge=-180, le=180)
    alt: Number = Field(gt=0, le=1000, description="metres above home")

    def to_command(self) -> vc.VehicleCommand:
        return vc.Goto(self.lat, self.lon, self.alt)


class PolygonIn(Params):
    vertices: list[tuple[float, float]] = Field(min_length=3, max_length=80)
    inclusion: bool = True


class CircleIn(Params):
    lat: Number = Field(ge=-90, le=90)
    lon: Number = Field(ge=-180, le=180)
    radius: Number = Field(gt=0, le=100_000, description="metres")
    inclusion: bool = True


class GeofenceParams(Params):
    polygons: list[PolygonIn] = Field(default_factory=list, max_length=10)
    circles: list[CircleIn] = Field(default_factory=list, max_length=20)

    def to_command(self) -> vc.VehicleCommand:
        return vc.UploadGeofence(
            tuple(FencePolygon(tuple(p.vertices), p.inclusion) for p in self.polygons),
            tuple(FenceCircle(c.lat, c.lon, c.radius, c.inclusion) for c in self.circles))


class LookAtParams(Params):
    lat: Number = Field(ge=-90, le=90)
    lon: Number = Field(ge=-180, le=180)
    alt: Number = Field(default=0.0, ge=-500, le=1000,
                        description="metres above home (0: the ground at home altitude)")

    def to_command(self) -> vc.VehicleCommand:
        return vc.LookAt(self.lat, self.lon, self.alt)


class PointGimbalParams(Params):
    pitch_deg: Number = Field(ge=-90, le=90, description="-90 straight down, 0 the horizon")
    yaw_deg: Number | None = Field(default=None, ge=0, le=360,
                                   description="bearing from north; null: along the nose")

    def to_command(self) -> vc.VehicleCommand:
        return vc.PointGimbal(self.pitch_deg, self.yaw_deg)


class ClearRoiParams(Params):
    def to_command(self) -> vc.VehicleCommand:
        return vc.ClearRoi()


PARAMS: dict[str, type[Params]] = {
    vc.Arm.name: ArmParams,
    vc.Disarm.name: DisarmParams,
    vc.Takeoff.name: TakeoffParams,
    vc.SetMode.name: SetModeParams,
    vc.UploadMission.name: UploadMissionParams,
    vc.StartMission.name: StartMissionParams,
    vc.Pause.name: PauseParams,
    vc.Resume.name: ResumeParams,
    vc.ReturnToLaunch.name: ReturnToLaunchParams,
    vc.Land.name: LandParams,
    vc.Goto.name: GotoParams,
    vc.SetMissionCurrent.name: SetMissionCurrentParams,
    vc.UploadGeofence.name: GeofenceParams,
    vc.LookAt.name: LookAtParams,
    vc.PointGimbal.name: PointGimbalParams,
    vc.ClearRoi.name: ClearRoiParams,
}
COMMAND_NAMES = tuple(PARAMS)


def field_errors(e: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err.get("loc", ())) or "(body)"
        out.append({"field": loc, "message": err.get("msg", "invalid")})
    return out


def parse(name: str, body: Any) -> vc.VehicleCommand:
    """The typed command for `name` with JSON parameters `body` (None = no parameters).
    UnknownCommand for a name no drone knows; InvalidParameters naming each bad field."""
    model = PARAMS.get(name)
    if model is None:
        raise UnknownCommand(f"unknown command {name!r}; one of {', '.join(PARAMS)}")
    try:
        return model.model_validate({} if body is None else body).to_command()
    except ValidationError as e:
        raise InvalidParameters(name, field_errors(e)) from None
