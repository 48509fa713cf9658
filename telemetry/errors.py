"""Typed outcomes of fleet-link operations.

Every command either returns a `CommandResult` or raises a `CommandError` subclass that says
whose fault it was (the autopilot refused, nobody answered, the link is down) and carries the
autopilot's own words: the COMMAND_ACK result, the MISSION_ACK type and the latest `PreArm:` or
`Arm:` STATUSTEXT. The service maps these to HTTP statuses; nothing here knows about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # the autopilot answered no (COMMAND_ACK / MISSION_ACK / read-back)
    TIMEOUT = "timeout"  # no answer within the bound
    LINK_LOST = "link_lost"  # refused locally: no heartbeat from the vehicle
    NOT_CONNECTED = "not_connected"  # refused locally: never heard from the vehicle
    FAILED = "failed"  # local or transport failure (MAVSDK error other than the above)


@dataclass(frozen=True)
class CommandResult:
    """A command that the vehicle accepted; `detail` holds what it reported (e.g. item count)."""

    command: str
    detail: dict[str, Any] = field(default_factory=dict)
    outcome: Outcome = Outcome.ACCEPTED

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "outcome": self.outcome.value, **self.detail}


class CommandError(Exception):
    """A command that did not succeed. `to_dict()` is the JSON body the API returns."""

    outcome: Outcome = Outcome.FAILED

    def __init__(
        self,
        command: str,
        message: str,
        *,
        step: str | None = None,
        ack_result: int | None = None,
        ack_name: str | None = None,
        mission_ack: int | None = None,
        mission_ack_name: str | None = None,
        statustext: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.command = command
        self.message = message
        self.step = step
        self.ack_result = ack_result
        self.ack_name = ack_name
        self.mission_ack = mission_ack
        self.mission_ack_name = mission_ack_name
        self.statustext = statustext
        self.extra = extra or {}

    @property
    def reason(self) -> str:
        """The most specific explanation available, autopilot text first."""
        if self.statustext:
            return self.statustext
        if self.mission_ack_name:
            return f"MISSION_ACK {self.mission_ack_name}"
        if self.ack_name:
            return f"COMMAND_ACK {self.ack_name}"
        return self.message

    def with_step(self, step: str) -> CommandError:
        """The same error, labelled with the step of a multi-step command it happened in."""
        self.step = step
        return self

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "command": self.command,
            "outcome": self.outcome.value,
            "message": self.message,
            "reason": self.reason,
        }
        if self.step is not None:
            out["step"] = self.step
        if self.ack_result is not None:
            out["ack"] = {"result": self.ack_result, "name": self.ack_name}
        if self.mission_ack is not None:
            out["mission_ack"] = {"type": self.mission_ack, "name": self.mission_ack_name}
        if self.statustext is not None:
            out["statustext"] = self.statustext
        out.update(self.extra)
        return out


class CommandRejected(CommandError):
    """The autopilot answered and said no (or a read-back showed it stored something else)."""

    outcome = Outcome.REJECTED


class CommandTimeout(CommandError):
    """No answer within the bound (MAVSDK retries a command 4 times, ~2 s, before this)."""

    outcome = Outcome.TIMEOUT


class LinkDown(CommandError):
    """Refused without sending: the vehicle's link is lost (no heartbeat for the timeout)."""

    outcome = Outcome.LINK_LOST


class NotConnected(CommandError):
    """Refused without sending: no heartbeat from this vehicle yet."""

    outcome = Outcome.NOT_CONNECTED


class CommandFailed(CommandError):
    """Local or transport failure: MAVSDK reported an error that is not an autopilot answer."""

    outcome = Outcome.FAILED


class CheckRefused(CommandError):
    """Refused without sending by a check of the process that links the vehicle (its own run
    of the interlocks, which the mission layer passes in; nothing here knows them).
    `extra["check"]` names the check. Travels over the bus so the requester can answer and
    record it as the refusal it is."""

    outcome = Outcome.REJECTED


class FleetError(Exception):
    """Adding or removing a vehicle failed; `field` names the request field at fault, if any."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class DuplicateSysid(FleetError):
    """Another registered vehicle already uses this MAVLink system id."""


class DuplicateUrl(FleetError):
    """Another registered vehicle already uses this connection URL."""


class VehicleUnreachable(FleetError):
    """No heartbeat on the URL, so its system id could not be learned."""


class UnknownVehicle(FleetError):
    """No vehicle with this id is registered with the link."""
