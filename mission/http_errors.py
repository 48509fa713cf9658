"""The one mapping from domain exceptions to HTTP answers. Services raise their own exceptions
(none of them knows HTTP); `install(app)` registers a handler per exception here, so routes
just call services and let errors through. Adding an exception: a line in HANDLERS and a test
that pins its status and body (docs/architecture.md).

Two body shapes, kept as the API has always answered (tests/test_bad_input.py,
test_service_api.py, test_interlocks*.py, test_incidents_api.py, test_zones_api.py pin them):

- `{"detail": {"error", "message", ...}}` for everything but drone commands: 422 a field is
  wrong (`field` names it; bad import rows: `errors`, one per row), 404 not found, 409 a state
  conflict (`illegal_transition`, `incident_closed`, `mission_conflict`, `interlock` with the
  failed checks in `interlocks`), auth refusals with their own status (and Retry-After);
- a refused drone command carries the link's error at the top level: `{"error": outcome or
  "interlock", "command", "outcome", "message", "reason", ...}`, 409 the autopilot refused or
  an interlock did, 503 the link is lost, 504 no answer in time, 502 transport failure.

Where an exception is raised in a route's own parsing (a body that is not JSON, a bad query
time) the route raises HTTPException itself; nothing here decides what a route means.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from mission.auth.service import Refused
from mission.dispatch.service import ProposalNotFound, RuleNotFound
from mission.evidence.service import RecordingGone
from mission.evidence.store import RecordingNotFound, StillRecording
from mission.fleet.commands import InvalidParameters, UnknownCommand
from mission.fleet.service import DroneNotFound
from mission.incidents.domain import IllegalTransition, IncidentFinal
from mission.incidents.service import IncidentNotFound
from mission.missions.inputs import MissionInputError
from mission.missions.service import DroneBusy, InterlockRefused, MissionConflict
from mission.missions.store import MissionNotFound
from mission.ratelimit import retry_after_header
from mission.safety import SafetyRefused
from mission.video.webrtc import SessionNotFound
from mission.zones.geo import InvalidInput, InvalidRows
from mission.zones.service import ZoneNotFound
from telemetry.errors import (
    CommandError,
    DuplicateSysid,
    DuplicateUrl,
    FleetError,
    Outcome,
    UnknownVehicle,
    VehicleUnreachable,
)
from telemetry.video.hub import NoVideo

log = logging.getLogger(__name__)

Handler = Callable[[Request, Any], Awaitable[Response]]

STATUS_BY_OUTCOME = {
    Outcome.REJECTED: 409,
    Outcome.LINK_LOST: 503,
    Outcome.NOT_CONNECTED: 503,
    Outcome.TIMEOUT: 504,
    Outcome.FAILED: 502,
}


def detail(status: int, body: dict[str, Any],
           headers: dict[str, str] | None = None) -> JSONResponse:
    """What `HTTPException(status, detail=body)` answers."""
    return JSONResponse({"detail": body}, status_code=status, headers=headers)


def not_found(message: str) -> JSONResponse:
    return detail(404, {"error": "not_found", "message": message})


async def invalid_input(_: Request, e: InvalidInput) -> Response:
    return detail(422, e.to_dict())


async def invalid_rows(_: Request, e: InvalidRows) -> Response:
    return detail(422, {"error": "invalid_import", "field": "rows", "message": str(e),
                        "errors": e.errors})


async def lookup_failed(_: Request, e: LookupError) -> Response:
    """IncidentNotFound, ZoneNotFound, MissionNotFound, DroneNotFound: their message names
    what was not found ("no incident 7")."""
    return not_found(str(e))


async def recording_busy(_: Request, e: StillRecording) -> Response:
    return detail(409, {"error": "still_recording", "field": "id", "message": str(e)})


async def recording_gone(_: Request, e: RecordingGone) -> Response:
    return detail(410, {"error": "deleted", "field": "id", "message": str(e)})


async def no_video(_: Request, e: NoVideo) -> Response:
    return detail(404, {"error": "no_video", "message": str(e)})


async def illegal_transition(_: Request, e: IllegalTransition) -> Response:
    return detail(409, {"error": "illegal_transition", "field": "status", "message": e.message,
                        "from": e.from_status.value, "to": e.to_status.value})


async def incident_final(_: Request, e: IncidentFinal) -> Response:
    return detail(409, {"error": "incident_closed", "field": "status", "message": e.message})


async def mission_input(_: Request, e: MissionInputError) -> Response:
    return detail(e.status, {"error": "invalid_mission_input", "field": e.field,
                             "message": e.message})


async def mission_conflict(_: Request, e: MissionConflict) -> Response:
    return detail(409, {"error": "mission_conflict", "field": e.field, "message": e.message})


async def drone_busy(_: Request, e: DroneBusy) -> Response:
    return detail(409, {"error": "drone_busy", "field": e.field, "message": e.message,
                        "drone_id": e.drone_id, "mission_id": e.mission_id})


async def interlock_refused(_: Request, e: InterlockRefused) -> Response:
    return detail(409, {"error": "interlock", "field": e.field, "message": e.message,
                        "interlocks": e.problems})


async def auth_refused(_: Request, e: Refused) -> Response:
    headers = retry_after_header(e.retry_after) if e.retry_after is not None else None
    return detail(e.status, e.detail(), headers)


async def fleet_error(_: Request, e: FleetError) -> Response:
    if isinstance(e, DuplicateSysid | DuplicateUrl):
        status = 409
    elif isinstance(e, VehicleUnreachable):
        status = 504
    else:
        status = 422
    body: dict[str, Any] = {"error": type(e).__name__, "message": e.message}
    if e.field:
        body["field"] = e.field
    return detail(status, body)


async def unknown_vehicle(request: Request, e: UnknownVehicle) -> Response:
    """The link has no such vehicle: the drone the path names is not found."""
    drone_id = request.path_params.get("drone_id")
    return not_found(f"no drone {drone_id}" if drone_id is not None else e.message)


async def unknown_command(_: Request, e: UnknownCommand) -> Response:
    return detail(404, {"error": "unknown_command", "message": str(e)})


async def invalid_parameters(_: Request, e: InvalidParameters) -> Response:
    return detail(422, {"error": "invalid_parameters", "message": str(e), "errors": e.errors})


async def safety_refused(_: Request, e: SafetyRefused) -> Response:
    return JSONResponse({"error": "interlock", **e.to_dict()}, status_code=409)


async def command_error(_: Request, e: CommandError) -> Response:
    return JSONResponse({"error": e.outcome.value, **e.to_dict()},
                        status_code=STATUS_BY_OUTCOME.get(e.outcome, 409))


async def too_deep(request: Request, e: RecursionError) -> Response:
    """The backstop for input nested beyond what any parser or validator can walk (JSON bodies
    are refused earlier, mission/jsonsafe.py; a file import parsed by mission/planning is
    caught here): a client error, never a 500. Logged (one line, no traceback: a client can
    send these at will), in case it was not the input."""
    log.warning("%s %s: %r; answered 400 too_deep", request.method, request.url.path,
                str(e)[:200])
    return detail(400, {"error": "too_deep", "field": "(body)",
                        "message": "the input is nested too deeply"})


# The most specific class wins (Starlette looks a raised exception's classes up in MRO order):
# InterlockRefused and DroneBusy before MissionConflict, UnknownVehicle before FleetError.
HANDLERS: dict[type[Exception], Handler] = {
    InvalidInput: invalid_input,
    InvalidRows: invalid_rows,
    IncidentNotFound: lookup_failed,
    ZoneNotFound: lookup_failed,
    MissionNotFound: lookup_failed,
    RuleNotFound: lookup_failed,
    ProposalNotFound: lookup_failed,
    DroneNotFound: lookup_failed,
    RecordingNotFound: lookup_failed,
    RecordingGone: recording_gone,
    StillRecording: recording_busy,
    NoVideo: no_video,
    SessionNotFound: lookup_failed,
    IllegalTransition: illegal_transition,
    IncidentFinal: incident_final,
    MissionInputError: mission_input,
    MissionConflict: mission_conflict,
    DroneBusy: drone_busy,
    InterlockRefused: interlock_refused,
    Refused: auth_refused,
    FleetError: fleet_error,
    UnknownVehicle: unknown_vehicle,
    UnknownCommand: unknown_command,
    InvalidParameters: invalid_parameters,
    SafetyRefused: safety_refused,
    CommandError: command_error,
    RecursionError: too_deep,
}


def install(app: FastAPI) -> None:
    for exc, handler in HANDLERS.items():
        app.add_exception_handler(exc, handler)
