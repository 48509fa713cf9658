"""Drone commands with their interlocks and their record, whoever sends them.

`GuardedCommands` is the vehicle-command port (vehicle_commands.py) as every caller gets it
from `CommandService.as_actor(actor, mission_id=...)`: it checks the safety interlocks
(mission.safety: the one mission check of mission.planning.mission_check for every command that
puts items on the vehicle or flies them; the vehicle's stored mission is read back for the
ones that fly what it holds), runs the command on the drone's link under an overall time
bound, and records the attempt (who, what, when, parameters, outcome, the autopilot's reason)
in the command record and the audit log (one transaction). Each recorded attempt is also handed
to the optional `observe` callable (metrics: command latency by name and outcome).
`CommandService.execute()` is the HTTP edge's entry: a command by name and JSON body, parsed by
command_params.py (an invalid body is recorded too).

With a bus, a drone linked by another process (another replica or a `nazorat link-worker`) is
commanded through `BusCommands`: interlocks and the record stay here, on the process that took
the request, so each attempt is recorded once; the owning process validates it again and
re-checks the interlocks (`owner_handler(link, check=...)`) before it runs it, and returns its
typed result or error. Why twice: the bus message is only as good as the replica that sent it
(a replica with stale zones or an older check, or a command that was never checked at all), and
the owner has the freshest state of the vehicle.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import col, select

from mission.audit import service as audit
from mission.db import Database
from mission.fleet import vehicle_commands as vc
from mission.fleet.command_params import InvalidParameters, UnknownCommand, parse
from mission.fleet.link_commands import Fence, LinkCommands
from mission.fleet.models import CommandRecord, CommandRecordPublic, Drone, utcnow
from mission.safety import MissionReader, SafetyRefused
from telemetry.errors import (
    CheckRefused,
    CommandError,
    CommandResult,
    CommandTimeout,
    UnknownVehicle,
)
from telemetry.link import FleetLink
from telemetry.mission_item import MissionItem

__all__ = ["BusCommands", "CommandCheck", "CommandService", "GuardedCommands",
           "InvalidParameters", "RemoteCommands", "RoutedCommands", "UnknownCommand",
           "owner_handler"]

log = logging.getLogger(__name__)

# (command name, outcome, seconds from request to result); must not block or raise.
CommandObserver = Callable[[str, str, float], None]
DOWNLOAD_MISSION = "download_mission"  # the mission read-back, over the bus
BUS_MARGIN_S = 5.0  # the bus has its own, slightly longer, bound


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


class RemoteCommands(Protocol):
    """Commands to drones another process links (telemetry.bus.BusNode)."""

    def knows(self, vehicle_id: int) -> bool:
        """Another process links (or linked) this vehicle."""
        ...

    def owns(self, vehicle_id: int) -> bool:
        """This process links the vehicle and holds its link lease."""
        ...

    async def fence(self, vehicle_id: int, command: str = "") -> int:
        """This process's lease of the vehicle is current in Redis (its token), or raises
        telemetry.lease.Fenced: checked right before a command goes to the vehicle."""
        ...

    async def request(self, vehicle_id: int, command: str, params: dict[str, Any],
                      timeout_s: float) -> CommandResult:
        """Run it there: its CommandResult, or raises its CommandError (ValueError for
        parameters); fails fast when no process links the vehicle."""
        ...


class CommandCheck(Protocol):
    """The interlocks as the owner of a vehicle runs them (mission.safety.SafetyLimits): raise
    SafetyRefused to refuse; `read_mission` reads the mission the vehicle holds."""

    async def check(self, drone_id: int, command: vc.VehicleCommand,
                    read_mission: MissionReader | None = None) -> None:
        ...


class BusCommands(vc.CommandMethods):
    """The port to a drone another process links: the command by name and body over the bus
    (the owner parses and checks it again: owner_handler)."""

    def __init__(self, remote: RemoteCommands, timeout_s: float) -> None:
        self.remote = remote
        self.timeout_s = timeout_s

    async def send(self, drone_id: int, command: vc.VehicleCommand) -> CommandResult:
        return await self.remote.request(drone_id, command.name, command.body(), self.timeout_s)

    async def read_mission(self, drone_id: int) -> list[MissionItem]:
        result = await self.remote.request(drone_id, DOWNLOAD_MISSION, {}, self.timeout_s)
        return [MissionItem.from_json(i) for i in result.detail.get("items", [])]


class RoutedCommands(vc.CommandMethods):
    """This process's link for the drones it links, the bus for the others."""

    def __init__(self, db: Database, link: FleetLink, remote: RemoteCommands | None,
                 timeout_s: float) -> None:
        self.db = db
        self.local = LinkCommands(link, fence=None if remote is None else remote.fence)
        self.bus = None if remote is None else BusCommands(remote, timeout_s)

    async def locate(self, drone_id: int) -> vc.CommandPort:
        """Who runs commands for the drone: the link if this process links it (and, with a
        bus, holds its lease), the bus if another does (or it is a stored drone no live process
        links: the bus then refuses it with a clear reason); UnknownVehicle if there is no such
        drone."""
        try:
            self.local.link.get(drone_id)
            if self.bus is not None and not self.bus.remote.owns(drone_id):
                raise UnknownVehicle(f"vehicle {drone_id}: linked here without its lease")
            return self.local
        except UnknownVehicle:
            if self.bus is not None and (
                self.bus.remote.knows(drone_id)
                or await self.db.run(lambda s: s.get(Drone, drone_id)) is not None
            ):
                return self.bus
            raise

    async def send(self, drone_id: int, command: vc.VehicleCommand) -> CommandResult:
        return await (await self.locate(drone_id)).send(drone_id, command)

    async def read_mission(self, drone_id: int) -> list[MissionItem]:
        return await (await self.locate(drone_id)).read_mission(drone_id)


def _refusal_from_owner(name: str, e: CheckRefused) -> SafetyRefused:
    """The owner's refusal as the requester answers and records it (409 interlock)."""
    item, zone = e.extra.get("item"), e.extra.get("zone_id")
    return SafetyRefused(name, str(e.extra.get("check", "interlock")), e.message,
                         item=None if item is None else int(item),
                         zone_id=None if zone is None else int(zone))


def owner_handler(
    link: FleetLink, *, check: CommandCheck | None, fence: Fence | None = None,
) -> Callable[[int, str, dict[str, Any]], Awaitable[CommandResult]]:
    """The owner's side of a bus command: parse it again, re-run `check` on it (None only
    where nothing flies, e.g. a test), then run it on `link`, `fence` (BusNode.fence: the
    carried fencing token still current in Redis) checked right before it goes to the vehicle.
    A refusal travels back as CheckRefused, which the requester records and answers as the
    interlock refusal it is; a fenced one as LinkDown (link_lost)."""
    port = LinkCommands(link, fence=fence)

    async def handle(vehicle_id: int, name: str, body: dict[str, Any]) -> CommandResult:
        if name == DOWNLOAD_MISSION:  # a read, not a command: no generation bump
            items = await port.read_mission(vehicle_id)
            return CommandResult(name, {"items": [i.to_json() for i in items]})
        try:
            command = parse(name, body)
        except InvalidParameters as e:
            raise ValueError(f"{name}: {e.errors}") from None
        link.get(vehicle_id)  # UnknownVehicle before anything is checked
        if check is not None:
            try:
                await check.check(vehicle_id, command, port.read_mission)
            except SafetyRefused as e:
                log.warning("bus command %s to drone %s refused by the owner's interlock %s: "
                            "%s", name, vehicle_id, e.check, e.message,
                            extra={"drone_id": vehicle_id, "command": name,
                                   "outcome": "refused"})
                raise CheckRefused(name, e.message, extra={
                    k: v for k, v in e.to_dict().items() if k in ("check", "item", "zone_id")
                }) from None
        return await port.send(vehicle_id, command)

    return handle


class CommandRouter(Protocol):
    """Which port runs a drone's commands (RoutedCommands; a test's fake fleet)."""

    async def locate(self, drone_id: int) -> vc.CommandPort:
        """UnknownVehicle if there is no such drone."""
        ...

    async def read_mission(self, drone_id: int) -> list[MissionItem]:
        ...


class CommandService:
    """Hands out the guarded port, and keeps the command record. `link` (and `remote`, the
    bus) are where commands run; `router` replaces both (a test's fake fleet)."""

    def __init__(self, db: Database, link: FleetLink | None = None, *,
                 timeout_s: float = 60.0,
                 safety: CommandCheck | None = None,
                 observe: CommandObserver | None = None,
                 remote: RemoteCommands | None = None,
                 router: CommandRouter | None = None) -> None:
        self.db = db
        self.timeout_s = timeout_s
        self.safety = safety
        self.observe = observe
        if router is None:
            assert link is not None, "CommandService needs a link or a router"
            router = RoutedCommands(db, link, remote, timeout_s)
        self.routed: CommandRouter = router

    def as_actor(self, actor: str, *, mission_id: int | None = None) -> GuardedCommands:
        """The port for commands `actor` causes (a user, or `system:...`), recorded under
        `mission_id` when a mission sends them."""
        return GuardedCommands(self, actor, mission_id)

    async def execute(self, drone_id: int, name: str, body: Any, *, actor: str) -> CommandResult:
        """A command by name with its JSON body (the HTTP edge). Raises UnknownCommand,
        InvalidParameters, UnknownVehicle, SafetyRefused or a CommandError subclass; every
        attempt on a known drone is recorded, an invalid one too."""
        try:
            command = parse(name, body)
        except UnknownCommand:
            raise
        except InvalidParameters as e:
            await self.routed.locate(drone_id)  # UnknownVehicle -> 404, nothing recorded
            raw = body if isinstance(body, dict) else {"(body)": body}
            now = utcnow()
            await self.record(drone_id, name, actor, raw, now, "invalid",
                              {"errors": e.errors}, None, time.monotonic())
            raise
        return await self.as_actor(actor).send(drone_id, command)

    async def record(
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

    async def download_mission(self, drone_id: int) -> list[MissionItem]:
        """The mission the vehicle holds, read from it now (a read: not recorded)."""
        return await self.routed.read_mission(drone_id)


class GuardedCommands(vc.CommandMethods):
    """The port with the interlocks and the record around every command: the only port that
    mission code and routes are given."""

    def __init__(self, service: CommandService, actor: str, mission_id: int | None) -> None:
        self.service = service
        self.actor = actor
        self.mission_id = mission_id

    async def read_mission(self, drone_id: int) -> list[MissionItem]:
        return await self.service.routed.read_mission(drone_id)

    async def send(self, drone_id: int, command: vc.VehicleCommand) -> CommandResult:
        """Check the interlocks, run, record. Raises UnknownVehicle (nothing recorded),
        SafetyRefused or a CommandError subclass; every attempt on a known drone is
        recorded."""
        svc, name, params = self.service, command.name, command.body()
        port = await svc.routed.locate(drone_id)  # UnknownVehicle -> 404 before any record
        requested, started = utcnow(), time.monotonic()

        async def record(outcome: str, result: dict[str, Any]) -> None:
            await svc.record(drone_id, name, self.actor, params, requested, outcome, result,
                             self.mission_id, started)

        if svc.safety is not None:
            try:
                await svc.safety.check(drone_id, command, svc.routed.read_mission)
            except SafetyRefused as e:
                await record("refused", e.to_dict())
                raise
        bound = svc.timeout_s + (BUS_MARGIN_S if isinstance(port, BusCommands) else 0.0)
        try:
            async with asyncio.timeout(bound):
                result = await port.send(drone_id, command)
        except CheckRefused as e:  # the owner's own run of the interlocks
            refused = _refusal_from_owner(name, e)
            await record("refused", {**refused.to_dict(), "by": "owner"})
            raise refused from None
        except TimeoutError:
            err: CommandError = CommandTimeout(name, f"no result within {svc.timeout_s:.0f} s")
            await record(err.outcome.value, err.to_dict())
            raise err from None
        except CommandError as e:
            e.command = name
            await record(e.outcome.value, e.to_dict())
            raise
        except ValueError as e:  # the owner found the parameters invalid
            errors = [{"field": str(e).split(":", 1)[0], "message": str(e)}]
            await record("invalid", {"errors": errors})
            raise InvalidParameters(name, errors) from None
        except BaseException as e:
            # cancelled (client gone, shutdown) or a bug: the attempt is still on record
            await asyncio.shield(record("failed", {"message": f"{type(e).__name__}: {e}"[:500]}))
            raise
        result = CommandResult(name, result.detail, result.outcome)
        await record(result.outcome.value, result.to_dict())
        return result
