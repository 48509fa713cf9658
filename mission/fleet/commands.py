"""Drone commands as the API offers them: parameter schemas, dispatch and the audit record.

`CommandService.execute()` validates the JSON parameters for the named command, checks the
safety interlocks (mission.safety: the one mission check of mission.planning.mission_check for
every command that puts items on the vehicle or flies them: upload_mission, set_mission_current,
start_mission, goto, takeoff; the vehicle's stored mission is read back for the ones that fly
what it holds), runs it on the fleet link
under an overall time bound, records the attempt (who, what, when, parameters, outcome, the
autopilot's reason) in the command record and the audit log (one transaction), and returns or
raises the link's typed result. Routes only map that to HTTP. Each recorded attempt is also
handed to the optional `observe` callable (metrics: command latency by name and outcome).

With a bus, a drone linked by another process (another replica or a `nazorat link-worker`) is
commanded through `RemoteCommands.request()`: validation, interlocks and the record stay here,
on the process that took the request, so each attempt is recorded once; the owning process
validates it again and re-checks the interlocks it is given (`local_handler(link, check=...)`)
before it runs it, and returns its typed result or error. Why twice: the bus message is only as
good as the replica that sent it (a replica with stale zones or an older check, or a command
that was never checked at all), and the owner has the freshest state of the vehicle.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import col, select

from mission.audit import service as audit
from mission.db import Database
from mission.fleet.models import CommandRecord, CommandRecordPublic, Drone, utcnow
from mission.safety import MissionReader, SafetyLimits, SafetyRefused
from telemetry import ardupilot as ap
from telemetry import commands as cmd
from telemetry import missions
from telemetry.errors import (
    CheckRefused,
    CommandError,
    CommandResult,
    CommandTimeout,
    UnknownVehicle,
)
from telemetry.link import FleetLink
from telemetry.vehicle import Vehicle


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoParams(Params):
    pass


class DisarmParams(Params):
    force: bool = False


class TakeoffParams(Params):
    alt: float = Field(gt=0, le=500, description="metres above home")


class SetModeParams(Params):
    mode: str

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, v: str) -> str:
        if v.upper() not in ap.COPTER_MODE_NUMBERS:
            raise ValueError(f"unknown ArduCopter mode; one of {', '.join(ap.COPTER_MODE_NUMBERS)}")
        return v.upper()


class MissionItemIn(Params):
    command: int = Field(default=ap.MAV_CMD_NAV_WAYPOINT, ge=0, le=65535)
    lat: float = 0.0
    lon: float = 0.0
    alt: float = 0.0
    frame: int = Field(default=ap.MAV_FRAME_GLOBAL_RELATIVE_ALT, ge=0, le=21)
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    autocontinue: bool = True


class UploadMissionParams(Params):
    items: list[MissionItemIn] = Field(min_length=1, max_length=720)


class StartMissionParams(Params):
    takeoff_alt: float = Field(default=10.0, gt=0, le=500)


class PauseParams(Params):
    mode: Literal["BRAKE", "LOITER"] = "BRAKE"


class SetMissionCurrentParams(Params):
    seq: int = Field(ge=1, le=65534, description="mission item to fly next (1 = first after home)")


class GotoParams(Params):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt: float = Field(gt=0, le=1000, description="metres above home")


class PolygonIn(Params):
    vertices: list[tuple[float, float]] = Field(min_length=3, max_length=80)
    inclusion: bool = True


class CircleIn(Params):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius: float = Field(gt=0, le=100_000, description="metres")
    inclusion: bool = True


class GeofenceParams(Params):
    polygons: list[PolygonIn] = Field(default_factory=list, max_length=10)
    circles: list[CircleIn] = Field(default_factory=list, max_length=20)


log = logging.getLogger(__name__)

Runner = Callable[[Vehicle, Any], Awaitable[CommandResult]]
# (command name, outcome, seconds from request to result); must not block or raise.
CommandObserver = Callable[[str, str, float], None]


async def _upload_mission(v: Vehicle, p: UploadMissionParams) -> CommandResult:
    specs = [missions.MissionItemSpec(**i.model_dump()) for i in p.items]
    return CommandResult("upload_mission", await missions.upload_mission(v, specs))


async def _upload_geofence(v: Vehicle, p: GeofenceParams) -> CommandResult:
    polys = [missions.FencePolygon(tuple(x.vertices), x.inclusion) for x in p.polygons]
    circles = [missions.FenceCircle(c.lat, c.lon, c.radius, c.inclusion) for c in p.circles]
    return CommandResult("upload_geofence", await missions.upload_geofence(v, polys, circles))


COMMANDS: dict[str, tuple[type[Params], Runner]] = {
    "arm": (NoParams, lambda v, p: cmd.arm(v)),
    "disarm": (DisarmParams, lambda v, p: cmd.disarm(v, force=p.force)),
    "takeoff": (TakeoffParams, lambda v, p: cmd.takeoff(v, p.alt)),
    "set_mode": (SetModeParams, lambda v, p: cmd.set_mode(v, p.mode)),
    "upload_mission": (UploadMissionParams, _upload_mission),
    "start_mission": (StartMissionParams, lambda v, p: cmd.start_mission(v, p.takeoff_alt)),
    "pause": (PauseParams, lambda v, p: cmd.pause(v, p.mode)),
    "resume": (NoParams, lambda v, p: cmd.resume(v)),
    "return_to_launch": (NoParams, lambda v, p: cmd.return_to_launch(v)),
    "land": (NoParams, lambda v, p: cmd.land(v)),
    "goto": (GotoParams, lambda v, p: cmd.goto(v, p.lat, p.lon, p.alt)),
    "set_mission_current": (SetMissionCurrentParams,
                            lambda v, p: cmd.set_mission_current(v, p.seq)),
    "upload_geofence": (GeofenceParams, _upload_geofence),
}


class UnknownCommand(LookupError):
    pass


class InvalidParameters(ValueError):
    """The body did not validate; `errors` name each field and what is wrong with it."""

    def __init__(self, command: str, errors: list[dict[str, str]]) -> None:
        fields = ", ".join(e["field"] for e in errors)
        super().__init__(f"{command}: invalid parameters: {fields}")
        self.command = command
        self.errors = errors


def _field_errors(e: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err.get("loc", ())) or "(body)"
        out.append({"field": loc, "message": err.get("msg", "invalid")})
    return out


def _json_safe(value: Any) -> Any:
    """`value` with NaN and infinities as strings: JSON (and PostgreSQL's json) has no such
    numbers, and the record of a refused command must still be written."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


DOWNLOAD_MISSION = "download_mission"  # the mission read-back, over the bus


class RemoteCommands(Protocol):
    """Commands to drones another process links (telemetry.bus.BusNode)."""

    def knows(self, vehicle_id: int) -> bool:
        """Another process links (or linked) this vehicle."""
        ...

    async def request(self, vehicle_id: int, command: str, params: dict[str, Any],
                      timeout_s: float) -> CommandResult:
        """Run it there: its CommandResult, or raises its CommandError (ValueError for
        parameters); fails fast when no process links the vehicle."""
        ...


class CommandCheck(Protocol):
    """The interlocks as the owner of a vehicle runs them (mission.safety.SafetyLimits): raise
    SafetyRefused to refuse; `read_mission` reads the mission the vehicle holds."""

    async def check(self, drone_id: int, command: str, params: Any,
                    read_mission: MissionReader | None = None) -> None:
        ...


def _refusal_from_owner(name: str, e: CheckRefused) -> SafetyRefused:
    """The owner's refusal as the requester answers and records it (409 interlock)."""
    item, zone = e.extra.get("item"), e.extra.get("zone_id")
    return SafetyRefused(name, str(e.extra.get("check", "interlock")), e.message,
                         item=None if item is None else int(item),
                         zone_id=None if zone is None else int(zone))


def local_handler(
    link: FleetLink, *, check: CommandCheck | None,
) -> Callable[[int, str, dict[str, Any]], Awaitable[CommandResult]]:
    """The owner's side of a bus command: validate it again, re-run `check` on it (None only
    where nothing flies, e.g. a test), then run it on `link`. A refusal travels back as
    CheckRefused, which the requester records and answers as the interlock refusal it is."""

    async def read_mission(vehicle_id: int) -> list[dict[str, float | int]]:
        return await missions.download_mission(link.get(vehicle_id))

    async def handle(vehicle_id: int, name: str, body: dict[str, Any]) -> CommandResult:
        vehicle = link.get(vehicle_id)
        if name == DOWNLOAD_MISSION:  # a read, not a command: no generation bump
            return CommandResult(name, {"items": await missions.download_mission(vehicle)})
        if name not in COMMANDS:
            raise UnknownCommand(f"unknown command {name!r}")
        model, runner = COMMANDS[name]
        try:
            params = model.model_validate(body)
        except ValidationError as e:
            raise ValueError(f"{name}: {_field_errors(e)}") from None
        if check is not None:
            try:
                await check.check(vehicle_id, name, params, read_mission)
            except SafetyRefused as e:
                log.warning("bus command %s to drone %s refused by the owner's interlock %s: "
                            "%s", name, vehicle_id, e.check, e.message,
                            extra={"drone_id": vehicle_id, "command": name,
                                   "outcome": "refused"})
                raise CheckRefused(name, e.message, extra={
                    k: v for k, v in e.to_dict().items() if k in ("check", "item", "zone_id")
                }) from None
        cmd.begin(vehicle)
        result = await runner(vehicle, params)
        return CommandResult(name, result.detail, result.outcome)

    return handle


class CommandService:
    def __init__(self, db: Database, link: FleetLink, *, timeout_s: float = 60.0,
                 safety: SafetyLimits | None = None,
                 observe: CommandObserver | None = None,
                 remote: RemoteCommands | None = None) -> None:
        self.db = db
        self.link = link
        self.timeout_s = timeout_s
        self.safety = safety
        self.observe = observe
        self.remote = remote

    async def _local(self, drone_id: int) -> Vehicle | None:
        """The drone's vehicle on this process's link; None if it is for another process (one
        links it, or it is a stored drone that no live process links: the bus then refuses it
        with a clear reason); UnknownVehicle if there is no such drone."""
        try:
            return self.link.get(drone_id)
        except UnknownVehicle:
            if self.remote is not None and (
                self.remote.knows(drone_id)
                or await self.db.run(lambda s: s.get(Drone, drone_id)) is not None
            ):
                return None
            raise

    async def execute(
        self, drone_id: int, name: str, body: Any, *, actor: str, mission_id: int | None = None,
    ) -> CommandResult:
        """Validate, check the interlocks, run, record. Raises UnknownCommand,
        InvalidParameters, UnknownVehicle, SafetyRefused or a CommandError subclass; every
        attempt on a known drone is recorded."""

        if name not in COMMANDS:
            raise UnknownCommand(f"unknown command {name!r}; one of {', '.join(COMMANDS)}")
        vehicle = await self._local(drone_id)  # UnknownVehicle -> 404 before anything is recorded
        model, runner = COMMANDS[name]
        requested, started = utcnow(), time.monotonic()
        raw_params = body if isinstance(body, dict) else {"(body)": body}
        try:
            params = model.model_validate({} if body is None else body)
        except ValidationError as e:
            errors = _field_errors(e)
            await self._record(drone_id, name, actor, raw_params, requested, "invalid",
                               {"errors": errors}, mission_id, started)
            raise InvalidParameters(name, errors) from None
        if self.safety is not None:
            try:
                await self.safety.check(drone_id, name, params, self.download_mission)
            except SafetyRefused as e:
                await self._record(drone_id, name, actor, raw_params, requested, "refused",
                                   e.to_dict(), mission_id, started)
                raise
        if vehicle is not None:
            cmd.begin(vehicle)
            running: Awaitable[CommandResult] = runner(vehicle, params)
            bound = self.timeout_s
        else:
            assert self.remote is not None
            running = self.remote.request(drone_id, name, params.model_dump(mode="json"),
                                          self.timeout_s)
            bound = self.timeout_s + 5.0  # the bus has its own, slightly longer, bound
        try:
            async with asyncio.timeout(bound):
                result = await running
        except CheckRefused as e:  # the owner's own run of the interlocks
            refused = _refusal_from_owner(name, e)
            await self._record(drone_id, name, actor, raw_params, requested, "refused",
                               {**refused.to_dict(), "by": "owner"}, mission_id, started)
            raise refused from None
        except TimeoutError:
            err: CommandError = CommandTimeout(name, f"no result within {self.timeout_s:.0f} s")
            await self._record(drone_id, name, actor, raw_params, requested, err.outcome.value,
                               err.to_dict(), mission_id, started)
            raise err from None
        except CommandError as e:
            e.command = name
            await self._record(drone_id, name, actor, raw_params, requested, e.outcome.value,
                               e.to_dict(), mission_id, started)
            raise
        except ValueError as e:
            errors = [{"field": str(e).split(":", 1)[0], "message": str(e)}]
            await self._record(drone_id, name, actor, raw_params, requested, "invalid",
                               {"errors": errors}, mission_id, started)
            raise InvalidParameters(name, errors) from None
        except BaseException as e:
            # cancelled (client gone, shutdown) or a bug: the attempt is still on record
            await asyncio.shield(self._record(
                drone_id, name, actor, raw_params, requested, "failed",
                {"message": f"{type(e).__name__}: {e}"[:500]}, mission_id, started))
            raise
        result = CommandResult(name, result.detail, result.outcome)
        await self._record(drone_id, name, actor, raw_params, requested, result.outcome.value,
                           result.to_dict(), mission_id, started)
        return result

    async def _record(
        self, drone_id: int, name: str, actor: str, params: dict[str, Any],
        requested: datetime, outcome: str, result: dict[str, Any],
        mission_id: int | None = None, started: float | None = None,
    ) -> None:
        finished = utcnow()
        seconds = (time.monotonic() - started if started is not None
                   else (finished - requested).total_seconds())
        if self.observe is not None:
            self.observe(name, outcome, seconds)
        log.info("command %s to drone %s: %s in %.3f s", name, drone_id, outcome, seconds,
                 extra={"drone_id": drone_id, "command": name, "outcome": outcome,
                        "duration_s": round(seconds, 3), "mission_id": mission_id})
        params = _json_safe(params)  # a refused NaN is still recorded (PostgreSQL JSON has none)
        rec = CommandRecord(
            drone_id=drone_id, name=name, actor=actor, params=params, requested_at=requested,
            finished_at=finished, outcome=outcome, result=result,
        )

        def tx(s: Any) -> None:
            s.add(rec)
            s.flush()
            audit.add(s, "vehicle.command", actor=actor, drone_id=drone_id,
                      mission_id=mission_id, command=name, target=f"command:{rec.id}",
                      params=params, outcome=outcome, at=requested,
                      result={**result, "duration_s": round(
                          (finished - requested).total_seconds(), 3)})

        await self.db.run(tx)

    async def history(self, drone_id: int, limit: int = 100) -> list[CommandRecordPublic]:
        def q(s: Any) -> list[CommandRecordPublic]:
            rows = s.exec(
                select(CommandRecord).where(CommandRecord.drone_id == drone_id)
                .order_by(col(CommandRecord.id).desc()).limit(limit)
            )
            return [CommandRecordPublic.model_validate(r, from_attributes=True) for r in rows]

        return await self.db.run(q)

    async def download_mission(self, drone_id: int) -> list[dict[str, float | int]]:
        vehicle = await self._local(drone_id)
        if vehicle is not None:
            return await missions.download_mission(vehicle)
        assert self.remote is not None
        result = await self.remote.request(drone_id, DOWNLOAD_MISSION, {}, self.timeout_s)
        items: list[dict[str, float | int]] = result.detail.get("items", [])
        return items
