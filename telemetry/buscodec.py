"""Wire forms of what crosses the bus: vehicle states, events, command results and errors.

Compact JSON (no spaces, short keys only where they are the envelope). A `VehicleState` is sent
whole, not as a diff: a replica that joins late or missed a message is right again at the next
one, and the receiver rebuilds the exact frozen object the local hub would hold. Decoding is
strict about types it rebuilds (enums, points) and tolerant of unknown keys, so a newer sender
with an extra field does not break an older receiver.
"""

from __future__ import annotations

import dataclasses
import json
from types import MappingProxyType
from typing import Any

from telemetry.errors import (
    CheckRefused,
    CommandError,
    CommandFailed,
    CommandRejected,
    CommandResult,
    CommandTimeout,
    LinkDown,
    NotConnected,
    Outcome,
)
from telemetry.state import (
    CameraState,
    EventKind,
    GeoPoint,
    LinkState,
    VehicleEvent,
    VehicleState,
)

_STATE_FIELDS = {f.name for f in dataclasses.fields(VehicleState)}
_CAMERA_FIELDS = {f.name for f in dataclasses.fields(CameraState)}


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def _point(p: GeoPoint | None) -> list[float] | None:
    return None if p is None else [p.lat, p.lon, p.alt_amsl]


def _unpoint(v: Any) -> GeoPoint | None:
    return None if v is None else GeoPoint(float(v[0]), float(v[1]), float(v[2]))


def state_to_wire(s: VehicleState) -> dict[str, Any]:
    out = {f: getattr(s, f) for f in _STATE_FIELDS}
    out["link"] = s.link.value
    out["position"] = _point(s.position)
    out["home"] = _point(s.home)
    out["camera"] = _camera(s.camera)
    return out


def _camera(c: CameraState | None) -> dict[str, Any] | None:
    if c is None:
        return None
    out = {f: getattr(c, f) for f in _CAMERA_FIELDS}
    out["camera_position"] = _point(c.camera_position)
    return out


def _uncamera(v: Any) -> CameraState | None:
    if v is None:
        return None
    kw = {k: x for k, x in v.items() if k in _CAMERA_FIELDS}
    kw["camera_position"] = _unpoint(kw.get("camera_position"))
    for key in ("centre", "fov_q"):
        if kw.get(key) is not None:
            kw[key] = tuple(float(x) for x in kw[key])
    return CameraState(**kw)


def state_from_wire(d: dict[str, Any]) -> VehicleState:
    kw = {k: v for k, v in d.items() if k in _STATE_FIELDS}
    kw["link"] = LinkState(kw.get("link", LinkState.CONNECTING.value))
    kw["position"] = _unpoint(kw.get("position"))
    kw["home"] = _unpoint(kw.get("home"))
    kw["camera"] = _uncamera(kw.get("camera"))
    return VehicleState(**kw)


def event_to_wire(e: VehicleEvent) -> dict[str, Any]:
    return e.to_dict()


def event_from_wire(d: dict[str, Any]) -> VehicleEvent:
    return VehicleEvent(
        kind=EventKind(d["kind"]), vehicle_id=int(d["vehicle_id"]), time=float(d["time"]),
        message=d.get("message") or "", severity=d.get("severity"),
        data=MappingProxyType(dict(d.get("data") or {})),
    )


_ERRORS: dict[str, type[CommandError]] = {
    c.__name__: c
    for c in (CommandError, CommandRejected, CommandTimeout, LinkDown, NotConnected,
              CommandFailed, CheckRefused)
}


def result_to_wire(r: CommandResult) -> dict[str, Any]:
    return {"ok": True, "command": r.command, "detail": r.detail, "outcome": r.outcome.value}


def error_to_wire(e: CommandError) -> dict[str, Any]:
    # The most specific known class: a subclass defined elsewhere travels as its base.
    name = next(
        (c.__name__ for c in type(e).__mro__ if c.__name__ in _ERRORS), "CommandError"
    )
    return {
        "ok": False, "type": name, "command": e.command, "message": e.message,
        "step": e.step, "ack_result": e.ack_result, "ack_name": e.ack_name,
        "mission_ack": e.mission_ack, "mission_ack_name": e.mission_ack_name,
        "statustext": e.statustext, "extra": e.extra,
    }


def invalid_to_wire(message: str) -> dict[str, Any]:
    """The owner's runner refused the parameters (a ValueError, as in-process)."""
    return {"ok": False, "type": "ValueError", "message": message}


def reply_from_wire(d: dict[str, Any]) -> CommandResult:
    """The owner's answer: the result, or raises the same typed error it raised there."""
    if d.get("ok"):
        return CommandResult(str(d["command"]), dict(d.get("detail") or {}),
                             Outcome(d.get("outcome", Outcome.ACCEPTED.value)))
    if d.get("type") == "ValueError":
        raise ValueError(str(d.get("message", "invalid parameters")))
    cls = _ERRORS.get(str(d.get("type")), CommandFailed)
    raise cls(
        str(d.get("command", "")), str(d.get("message", "")), step=d.get("step"),
        ack_result=d.get("ack_result"), ack_name=d.get("ack_name"),
        mission_ack=d.get("mission_ack"), mission_ack_name=d.get("mission_ack_name"),
        statustext=d.get("statustext"), extra=dict(d.get("extra") or {}),
    )
