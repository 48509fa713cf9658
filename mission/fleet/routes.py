"""HTTP routes for drones and their commands. Thin: parse, call the service; errors are mapped
in one place (mission/http_errors.py).

Command errors (the body is always the link's error dict: command, outcome, message,
reason, and where known ack / mission_ack / statustext / step):
- 409 Conflict: the autopilot refused (COMMAND_ACK not ACCEPTED, MISSION_ACK error, read-back
  mismatch) or a newer command superseded this one;
- 503 Service Unavailable: the drone's link is lost or it never connected (refused locally);
- 504 Gateway Timeout: the vehicle did not answer in time;
- 502 Bad Gateway: MAVSDK/transport failure;
- 409 `{"error": "interlock", "check": "altitude" | "no_fly", "message"}`: a safety interlock
  refused the command before it was sent (mission.safety; no role can override it);
- 422: bad parameters (each error names its field); 404: unknown drone or command.

Reading needs any user role; adding or removing drones and commanding them needs an operator or
an admin (commanders get 403).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from mission.deps import COMMON, ActorDep, StateDep, error_responses, viewer
from mission.fleet.models import CommandRecordPublic, DroneCreate, DronePublic
from telemetry.errors import FleetError

router = APIRouter(prefix="/api/drones", tags=["drones"], responses=COMMON,
                   dependencies=[Depends(viewer)])

DroneId = Annotated[int, Path(ge=1, le=2**31 - 1)]
COMMAND_ERRORS = error_responses(404, 409, 502, 503, 504)


@router.post("", status_code=201, response_model=DronePublic,
             responses=error_responses(409, 504))
async def add_drone(body: DroneCreate, app: StateDep, actor: ActorDep) -> DronePublic:
    """Register a drone by connection URL; the system id is learned from its heartbeat."""
    try:
        drone = await app.fleet.add_drone(body)
    except FleetError as e:
        await app.audit.record("fleet.add", actor=actor, params=body.model_dump(),
                               outcome="refused", result={"error": e.message})
        raise  # answered by mission/http_errors.py
    await app.audit.record("fleet.add", actor=actor, drone_id=drone.id,
                           params=body.model_dump(), result={"sysid": drone.sysid})
    return drone


@router.get("", response_model=list[DronePublic])
async def list_drones(app: StateDep) -> list[DronePublic]:
    return await app.fleet.list_drones()


@router.get("/{drone_id}", response_model=DronePublic, responses=error_responses(404))
async def get_drone(drone_id: DroneId, app: StateDep) -> DronePublic:
    return await app.fleet.get_drone(drone_id)


@router.delete("/{drone_id}", status_code=204, response_class=Response,
               responses=error_responses(404))
async def delete_drone(drone_id: DroneId, app: StateDep, actor: ActorDep) -> Response:
    await app.fleet.remove_drone(drone_id)
    await app.audit.record("fleet.remove", actor=actor, drone_id=drone_id)
    return Response(status_code=204)


@router.post("/{drone_id}/commands/{name}", responses=COMMAND_ERRORS,
             openapi_extra={"requestBody": {"required": False, "content": {
                 "application/json": {"schema": {"type": "object"}}}}})
async def run_command(
    drone_id: DroneId, name: Annotated[str, Path(max_length=64)], request: Request,
    app: StateDep, actor: ActorDep,
) -> JSONResponse:
    """Run command `name` with the JSON body as parameters (empty body = no parameters)."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        raise HTTPException(
            422, detail={"error": "invalid_json", "field": "(body)", "message": "body is not JSON"}
        ) from None
    result = await app.commands.execute(drone_id, name, body, actor=actor)
    return JSONResponse(content={"ok": True, **result.to_dict()})


@router.get("/{drone_id}/commands", response_model=list[CommandRecordPublic])
async def command_history(
    drone_id: DroneId, app: StateDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """The drone's command record, newest first (the audit log has the same, for admins)."""
    return await app.commands.history(drone_id, limit)


@router.get("/{drone_id}/mission", responses=COMMAND_ERRORS)
async def get_mission(drone_id: DroneId, app: StateDep) -> JSONResponse:
    """The mission stored on the vehicle, read from it now (seq 0 is ArduPilot's home)."""
    items = await app.commands.download_mission(drone_id)
    return JSONResponse(content={"drone_id": drone_id, "items": [i.to_json() for i in items]})
