"""HTTP routes for zones (red patrol areas and no-fly zones). Thin: parse, call the service;
the errors below are answered by mission/http_errors.py.

Errors (custom errors: `{"detail": {"error", "field", "message"}}`):
- 422: a bad geometry or zone field (`error` says which kind: not_a_polygon, unclosed_ring,
  too_few_positions, swapped_coordinates, out_of_range, invalid_polygon, ...; `message` says
  what is wrong), or an import with bad features (`error: invalid_import`, `errors` per
  feature; nothing imported); plain schema errors keep FastAPI's list form;
- 404: unknown zone; 413: import body too large.

Reading needs any user role. Operators and admins create and import zones and change red zones;
only an admin may change, deactivate or delete a no-fly zone (or turn one into a red zone): a
no-fly zone is a safety limit that no dispatch can override. Every change is in the audit log.
"""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from mission.auth.models import Role
from mission.deps import COMMON, OperatorDep, StateDep, error_responses, viewer
from mission.incidents.routes import bbox_param, read_limited
from mission.zones.domain import parse_feature_collection, to_feature_collection
from mission.zones.models import (
    ZoneCreate,
    ZoneImportResult,
    ZoneKind,
    ZonePublic,
    ZoneUpdate,
)
from mission.zones.service import ZoneService

router = APIRouter(prefix="/api/zones", tags=["zones"], responses=COMMON,
                   dependencies=[Depends(viewer)])

ZoneId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def service(app: StateDep) -> ZoneService:
    return app.zones


def _admin_for_no_fly(p: OperatorDep, zone: ZonePublic) -> None:
    if zone.kind == ZoneKind.NO_FLY and p.role != Role.ADMIN:
        raise HTTPException(403, detail={
            "error": "forbidden", "role": p.role, "allowed": [Role.ADMIN.value],
            "message": "only an admin may change or remove a no-fly zone"})


def _summary(z: ZonePublic) -> dict[str, object]:
    return {"name": z.name, "kind": z.kind.value, "active": z.active,
            "min_alt_m": z.min_alt_m, "max_alt_m": z.max_alt_m, "bbox": z.bbox}


ServiceDep = Annotated[ZoneService, Depends(service)]


@router.post("", status_code=201, response_model=ZonePublic)
async def create_zone(body: ZoneCreate, svc: ServiceDep, p: OperatorDep,
                      app: StateDep) -> ZonePublic:
    """Create a red or no-fly zone from a GeoJSON Polygon ([lon, lat] order, holes allowed)."""
    zone = await svc.create(body)
    await app.audit.record("zone.create", target=f"zone:{zone.id}", params=_summary(zone))
    return zone


@router.get("", response_model=list[ZonePublic])
async def list_zones(
    svc: ServiceDep,
    kind: ZoneKind | None = None,
    active: bool | None = None,
    bbox: Annotated[str | None, Query(description="west,south,east,north; overlapping")] = None,
) -> list[ZonePublic]:
    return await svc.list_zones(kind=kind, active=active, bbox=bbox_param(bbox))


@router.get("/export", responses={200: {"content": {"application/geo+json": {}}}})
async def export_zones(
    svc: ServiceDep, kind: ZoneKind | None = None, active: bool | None = None
) -> Response:
    """Zones as a GeoJSON FeatureCollection (Polygon features, the fields as properties)."""
    zones = await svc.list_zones(kind=kind, active=active)
    return JSONResponse(to_feature_collection(zones), media_type="application/geo+json",
                        headers={"Content-Disposition": 'attachment; filename="zones.geojson"'})


@router.post("/import", status_code=201, response_model=ZoneImportResult,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/geo+json": {"schema": {"type": "object"}}}}})
async def import_zones(request: Request, svc: ServiceDep, p: OperatorDep,
                       app: StateDep) -> ZoneImportResult:
    """Import a FeatureCollection (the export's format) as the raw body; all zones or none."""
    body = await read_limited(request)
    zones = await anyio.to_thread.run_sync(parse_feature_collection, body)
    stored = await svc.import_zones(zones)
    await app.audit.record("zone.import", params={"ids": [z.id for z in stored]})
    return ZoneImportResult(imported=len(stored), ids=[z.id for z in stored])


@router.get("/{zone_id}", response_model=ZonePublic, responses=error_responses(404))
async def get_zone(zone_id: ZoneId, svc: ServiceDep) -> ZonePublic:
    return await svc.get(zone_id)


@router.patch("/{zone_id}", response_model=ZonePublic, responses=error_responses(404))
async def update_zone(zone_id: ZoneId, body: ZoneUpdate, svc: ServiceDep, p: OperatorDep,
                      app: StateDep) -> ZonePublic:
    """Change the fields given; the resulting zone is validated as a whole. A no-fly zone
    can be changed by an admin only."""
    before = await svc.get(zone_id)
    _admin_for_no_fly(p, before)
    zone = await svc.update(zone_id, body)
    await app.audit.record("zone.update", target=f"zone:{zone_id}", params={
        "changes": body.model_dump(exclude_unset=True, exclude={"geometry"}),
        "geometry_changed": "geometry" in body.model_fields_set,
        "before": _summary(before), "after": _summary(zone)})
    return zone


@router.delete("/{zone_id}", status_code=204, response_class=Response,
               responses=error_responses(404))
async def delete_zone(zone_id: ZoneId, svc: ServiceDep, p: OperatorDep,
                      app: StateDep) -> Response:
    """Delete a zone (a no-fly zone: admins only)."""
    before = await svc.get(zone_id)
    _admin_for_no_fly(p, before)
    await svc.delete(zone_id)
    await app.audit.record("zone.delete", target=f"zone:{zone_id}", params=_summary(before))
    return Response(status_code=204)
