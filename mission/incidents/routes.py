"""HTTP routes for incidents and hotspots. Thin: parse, call the service; the errors below are
answered by mission/http_errors.py.

Errors (custom errors: `{"detail": {"error", "field", "message", ...}}`):
- 422: a field is wrong (`InvalidInput`), or an import has bad rows (`error: invalid_import`,
  `errors`: one `{"row", "field", "message"}` per problem; nothing was imported); plain schema
  errors keep FastAPI's list form;
- 409: a status change outside the flow (`error: illegal_transition`, with `from` and `to`) or
  an edit of a closed incident (`error: incident_closed`);
- 404: unknown incident; 413: import body too large.

Times in query strings (`from`, `to`) are Unix seconds or ISO 8601 (naive means UTC) and bound
`reported_at`; `bbox` is `west,south,east,north` in degrees.

Reading needs any user role; the reporter's contact (`reporter_contact`) is in the answers only
for operators and admins (commanders get the incident without that field, exports without that
column). Creating, changing, closing and importing need an operator or an admin.
"""

from __future__ import annotations

from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from mission.clock import utcnow
from mission.deps import COMMON, ActorDep, StateDep, ViewerDep, error_responses, viewer
from mission.incidents import io
from mission.incidents.domain import IncidentFilter, parse_time
from mission.incidents.models import (
    Category,
    HotspotList,
    HotspotPublic,
    ImportResult,
    IncidentClose,
    IncidentCreate,
    IncidentPublic,
    IncidentUpdate,
    IncidentWithContact,
    Status,
    StatusChangePublic,
)
from mission.incidents.service import IncidentService
from mission.zones.geo import BBox, InvalidInput, parse_bbox

router = APIRouter(prefix="/api", responses=COMMON, dependencies=[Depends(viewer)])

IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# operators and admins get IncidentWithContact, commanders IncidentPublic
IncidentOut = IncidentWithContact | IncidentPublic


def shown(inc: IncidentWithContact, can_see_contacts: bool) -> IncidentOut:
    if can_see_contacts:
        return inc
    return IncidentPublic.model_validate(inc.model_dump(exclude={"reporter_contact"}))

MAX_IMPORT_BYTES = 20 * 1024 * 1024


def service(app: StateDep) -> IncidentService:
    return app.incidents


ServiceDep = Annotated[IncidentService, Depends(service)]


def bbox_param(bbox: str | None, field: str = "bbox") -> BBox | None:
    return parse_bbox(bbox, field)  # InvalidInput: 422 naming the field (mission/http_errors.py)


def incident_filter(
    status: Annotated[list[Status] | None, Query(description="repeatable")] = None,
    category: Annotated[list[Category] | None, Query(description="repeatable")] = None,
    t_from: Annotated[str | None, Query(alias="from", description="reported_at >= from")] = None,
    t_to: Annotated[str | None, Query(alias="to", description="reported_at <= to")] = None,
    bbox: Annotated[str | None, Query(description="west,south,east,north")] = None,
) -> IncidentFilter:
    return IncidentFilter(
        statuses=tuple(status or ()), categories=tuple(c.value for c in category or ()),
        reported_from=parse_time(t_from, "from"), reported_to=parse_time(t_to, "to"),
        bbox=parse_bbox(bbox),
    )


FilterDep = Annotated[IncidentFilter, Depends(incident_filter)]


@router.post("/incidents", status_code=201, response_model=IncidentWithContact,
             tags=["incidents"])
async def create_incident(
    body: IncidentCreate, svc: ServiceDep, actor: ActorDep
) -> IncidentWithContact:
    """Record a reported incident (status new); `reported_at` defaults to now."""
    return await svc.create(body, actor=actor)


@router.get("/incidents", response_model=list[IncidentOut], tags=["incidents"])
async def list_incidents(
    svc: ServiceDep, f: FilterDep, p: ViewerDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> list[IncidentOut]:
    """Incidents matching every filter given, most recently reported first."""
    rows = await svc.list_incidents(f, limit=limit, offset=offset)
    return [shown(r, p.can_see_contacts) for r in rows]


@router.get("/incidents/export", tags=["incidents"],
            responses={200: {"content": {"application/geo+json": {}, "text/csv": {}}}})
async def export_incidents(
    svc: ServiceDep, f: FilterDep, p: ViewerDep,
    format: Literal["geojson", "csv"] = "geojson",
) -> Response:
    """Matching incidents (same filters as the list) as a GeoJSON FeatureCollection or CSV
    (without the reporters' contacts for commanders)."""
    rows = await svc.export_rows(f)
    contacts = p.can_see_contacts
    if format == "csv":
        text = await anyio.to_thread.run_sync(lambda: io.to_csv(rows, include_contact=contacts))
        return Response(text, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="incidents.csv"'})
    doc = await anyio.to_thread.run_sync(lambda: io.to_geojson(rows, include_contact=contacts))
    return JSONResponse(doc, media_type="application/geo+json",
                        headers={"Content-Disposition":
                                 'attachment; filename="incidents.geojson"'})


@router.post("/incidents/import", status_code=201, response_model=ImportResult,
             tags=["incidents"], openapi_extra={"requestBody": {"required": True, "content": {
                 "application/geo+json": {"schema": {"type": "object"}},
                 "text/csv": {"schema": {"type": "string"}}}}})
async def import_incidents(
    request: Request, svc: ServiceDep, actor: ActorDep,
    format: Literal["geojson", "csv"] | None = None,
) -> ImportResult:
    """Import a GeoJSON FeatureCollection or a CSV file (the export's format) as the raw body.
    The format is `?format=` or else taken from the Content-Type. All rows or none."""
    body = await read_limited(request)
    fmt = format or _format_from_type(request.headers.get("content-type", ""))
    now = utcnow()
    parse = io.parse_csv if fmt == "csv" else io.parse_geojson
    # validating thousands of rows is CPU work: keep it off the event loop
    items = await anyio.to_thread.run_sync(parse, body, now)
    rows = await svc.import_items(items, actor=actor)
    return ImportResult(imported=len(rows), ids=[r.id for r in rows])


async def read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
        raise HTTPException(413, detail={"error": "too_large", "field": "(body)",
                                         "message": f"at most {MAX_IMPORT_BYTES} bytes"})
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            raise HTTPException(413, detail={"error": "too_large", "field": "(body)",
                                             "message": f"at most {MAX_IMPORT_BYTES} bytes"})
        chunks.append(chunk)
    return b"".join(chunks)


def _format_from_type(content_type: str) -> str:
    ct = content_type.split(";")[0].strip().lower()
    if ct in ("text/csv", "application/csv"):
        return "csv"
    if ct.endswith("json"):
        return "geojson"
    raise HTTPException(422, detail={
        "error": "invalid_parameter", "field": "format",
        "message": f"cannot tell the format from Content-Type {ct or '(none)'!r}; use "
                   "?format=geojson or ?format=csv",
    })


@router.get("/incidents/{incident_id}", response_model=IncidentOut, tags=["incidents"],
            responses=error_responses(404))
async def get_incident(incident_id: IncidentId, svc: ServiceDep, p: ViewerDep) -> IncidentOut:
    return shown(await svc.get(incident_id), p.can_see_contacts)


@router.patch("/incidents/{incident_id}", response_model=IncidentWithContact,
              tags=["incidents"], responses=error_responses(404, 409))
async def update_incident(
    incident_id: IncidentId, body: IncidentUpdate, svc: ServiceDep, actor: ActorDep
) -> IncidentWithContact:
    """Change the fields given. A `status` must follow the flow new -> triaged -> assigned ->
    observed -> closed | false_alarm (closing is allowed from any open status); the change is
    recorded with the actor (the signed-in user) and `note`."""
    return await svc.update(incident_id, body, actor=actor)


@router.post("/incidents/{incident_id}/close", response_model=IncidentWithContact,
             tags=["incidents"], responses=error_responses(404, 409))
async def close_incident(
    incident_id: IncidentId, svc: ServiceDep, actor: ActorDep, body: IncidentClose | None = None
) -> IncidentWithContact:
    """Close an open incident (`resolution`: closed, the default, or false_alarm)."""
    body = body or IncidentClose()
    if body.resolution not in (Status.CLOSED, Status.FALSE_ALARM):
        raise InvalidInput("resolution", "must be closed or false_alarm")
    return await svc.set_status(incident_id, body.resolution, actor=actor, note=body.note)


@router.get("/incidents/{incident_id}/history", response_model=list[StatusChangePublic],
            tags=["incidents"], responses=error_responses(404))
async def incident_history(incident_id: IncidentId,
                           svc: ServiceDep) -> list[StatusChangePublic]:
    """Every status change, oldest first; the first row (from_status null) is the creation."""
    return await svc.history(incident_id)


@router.get("/hotspots", response_model=HotspotList, tags=["incidents"])
async def hotspots(
    svc: ServiceDep,
    radius_m: Annotated[float, Query(ge=1, le=50_000, description="link distance")] = 250.0,
    window_h: Annotated[float, Query(ge=0.01, le=8760, description="look-back window")] = 24.0,
    half_life_h: Annotated[float | None, Query(ge=0.01, le=8760,
                                               description="default window_h / 4")] = None,
    min_reports: Annotated[int, Query(ge=1, le=10_000)] = 1,
    category: Annotated[list[Category] | None, Query()] = None,
    bbox: Annotated[str | None, Query(description="west,south,east,north")] = None,
) -> HotspotList:
    """Clusters of open incidents reported within `window_h` hours, each report linked to
    others within `radius_m` (single link), highest priority first. priority = sum over the
    reports of 2^(severity-1) * 0.5^(age_h / half_life_h)."""
    now = utcnow()
    spots = await svc.hotspots(
        radius_m=radius_m, window_h=window_h, half_life_h=half_life_h,
        min_reports=min_reports, bbox=bbox_param(bbox),
        categories=[c.value for c in category or ()], now=now,
    )
    return HotspotList(
        radius_m=radius_m, window_h=window_h,
        half_life_h=half_life_h if half_life_h is not None else window_h / 4,
        min_reports=min_reports, now=now,
        hotspots=[HotspotPublic.model_validate(h) for h in spots],
    )
