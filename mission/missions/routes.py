"""`/api/missions`: plan (preview) -> dispatch -> live progress, pause/resume/recall, re-task,
quick dispatch, and plan export. Thin: the work is in MissionService, the error mapping in
mission/http_errors.py.

Reading needs any user role; planning, dispatching and controlling need an operator or an admin.
A dispatch that an interlock refuses answers 409 `{"error": "interlock", "message",
"interlocks": [{"drone_id", "check", "message"}]}` and the mission stays planned.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from mission.deps import COMMON, ActorDep, StateDep, error_responses, viewer
from mission.incidents.routes import read_limited
from mission.missions import store, views
from mission.missions.schemas import (
    ControlIn,
    LogPublic,
    MissionPublic,
    PlanIn,
    QuickDispatchIn,
    RetaskIn,
)
from mission.missions.service import MissionService
from mission.planning.formats import export_qgc_plan, export_wpl
from mission.planning.model import LatLon, MissionItem, NoFlyZone

router = APIRouter(prefix="/api/missions", tags=["missions"], responses=COMMON,
                   dependencies=[Depends(viewer)])

MissionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DroneId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ERRORS = error_responses(404, 409)


def get_missions(app: StateDep) -> MissionService:
    return app.missions


ServiceDep = Annotated[MissionService, Depends(get_missions)]


@router.post("/plan", status_code=201, response_model=MissionPublic, responses=ERRORS)
async def plan(body: PlanIn, svc: ServiceDep, actor: ActorDep) -> MissionPublic:
    """Plan a patrol over the chosen targets with the chosen drones: a preview, nothing flies."""
    return await svc.plan(body, actor)


@router.post("/quick", status_code=201, response_model=MissionPublic, responses=ERRORS)
async def quick_dispatch(body: QuickDispatchIn, svc: ServiceDep,
                         actor: ActorDep) -> MissionPublic:
    """Send the nearest free drone that can get there and back to a point, now."""
    return await svc.quick_dispatch(body, actor)


@router.post("/import", status_code=201, response_model=MissionPublic, responses=ERRORS,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": {"type": "object"}},
                 "text/plain": {"schema": {"type": "string"}}}}})
async def import_mission(
    request: Request, svc: ServiceDep, actor: ActorDep,
    drone_id: Annotated[int, Query(ge=1, le=2**31 - 1, description="the drone to fly it")],
    format: Literal["plan", "wpl", "geojson"],  # noqa: A002 - the query parameter's name
    name: Annotated[str, Query(max_length=200)] = "",
    battery_reserve_pct: Annotated[float, Query(ge=5, le=80)] = 25.0,
) -> MissionPublic:
    """A QGroundControl `.plan`, Mission Planner `QGC WPL 110` or exported GeoJSON route (the
    raw body) as a planned mission for one drone; dispatch it like a planned one."""
    raw = await read_limited(request)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(422, detail={"error": "invalid_mission_input", "field": "(body)",
                                         "message": "the file is not UTF-8 text"}) from None
    return await svc.import_file(text, format, drone_id, name, actor, battery_reserve_pct)


@router.post("/recall-all")
async def recall_all(svc: ServiceDep, actor: ActorDep) -> dict[str, Any]:
    """Every drone flying a mission returns to launch."""
    return {"results": await svc.recall_all(actor)}


@router.get("", response_model=list[MissionPublic])
async def list_missions(
    svc: ServiceDep, status: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[MissionPublic]:
    return await svc.list_missions(status, limit)


@router.get("/{mission_id}", response_model=MissionPublic, responses=ERRORS)
async def get_mission(mission_id: MissionId, svc: ServiceDep) -> MissionPublic:
    return await svc.get(mission_id)


@router.get("/{mission_id}/log", response_model=list[LogPublic], responses=ERRORS)
async def mission_log(mission_id: MissionId, svc: ServiceDep) -> list[LogPublic]:
    """The mission's timeline: planned, dispatched, commands, items reached, landed."""
    return await svc.db.run(lambda s: views.read_log(s, mission_id))


@router.post("/{mission_id}/dispatch", response_model=MissionPublic, responses=ERRORS)
async def dispatch(mission_id: MissionId, svc: ServiceDep, actor: ActorDep) -> MissionPublic:
    """Interlocks first, for every drone: battery enough for its route plus the reserve, GPS
    fix and EKF position, link up, route clear of the no-fly zones as they are now, altitude
    within the legal maximum; any failure refuses the whole dispatch (409 `interlock`, the
    mission stays planned). Then per drone: geofence, upload with read-back, arm, take off,
    AUTO. A drone that refuses fails its own leg with the autopilot's reason; the others fly."""
    return await svc.dispatch(mission_id, actor)


@router.post("/{mission_id}/{action}", responses=ERRORS)
async def control(
    mission_id: MissionId, action: Literal["pause", "resume", "recall"], svc: ServiceDep,
    actor: ActorDep, body: ControlIn | None = None,
) -> JSONResponse:
    """Pause (BRAKE), resume (AUTO) or recall (RTL) one drone (`drone_id`) or all of them."""
    mission, results = await svc.control(mission_id, action,
                                         body.drone_id if body else None, actor)
    status = 200 if all(r["ok"] for r in results) else 409
    return JSONResponse(status_code=status, content={
        "mission": mission.model_dump(mode="json"), "results": results})


@router.post("/{mission_id}/drones/{drone_id}/retask", response_model=MissionPublic,
             responses=ERRORS)
async def retask(mission_id: MissionId, drone_id: DroneId, body: RetaskIn, svc: ServiceDep,
                 actor: ActorDep) -> MissionPublic:
    """Add an urgent incident (or point) to a drone in flight: its remaining route is replanned
    from where it is and re-uploaded."""
    return await svc.retask(mission_id, drone_id, body, actor)


@router.get("/{mission_id}/drones/{drone_id}/export", responses=ERRORS)
async def export_leg(
    mission_id: MissionId, drone_id: DroneId, svc: ServiceDep,
    format: Literal["plan", "wpl"] = "plan",  # noqa: A002 - the query parameter's name
) -> PlainTextResponse:
    """One drone's route as a QGroundControl .plan or a Mission Planner QGC WPL 110 file."""
    mission = await svc.get(mission_id)
    leg = next((x for x in mission.legs if x.drone_id == drone_id), None)
    if leg is None:
        raise HTTPException(404, detail={"error": "not_found", "field": "drone_id",
                                         "message": f"drone {drone_id} is not in the mission"})
    items = [MissionItem(seq=i["seq"], frame=i["frame"], command=i["command"],
                         param1=i["param1"], param2=i["param2"], param3=i["param3"],
                         param4=i["param4"], lat=i["lat"], lon=i["lon"], alt=i["alt"])
             for i in leg.items]
    if format == "wpl":
        return PlainTextResponse(export_wpl(items), media_type="text/plain")
    plan_json = await svc.db.run(lambda s: _no_fly(s, mission_id))
    return PlainTextResponse(export_qgc_plan(items, plan_json), media_type="application/json")


def _no_fly(s: Any, mission_id: int) -> list[NoFlyZone]:
    m = store.load(s, mission_id)
    return [NoFlyZone(str(z["id"]), tuple(LatLon(a, b) for a, b in z["vertices"]))
            for z in m.plan.get("no_fly", [])]
