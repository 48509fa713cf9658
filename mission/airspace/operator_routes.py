"""The Remote ID operator location from the console (issue 14, part 4).

Without a configured fixed location (NAZORAT_REMOTE_ID_OPERATOR_LOCATION), an operator's
console may send its own position (the browser's geolocation, with the operator's consent) as
the operator location the link sends every drone once a second in OPEN_DRONE_ID_SYSTEM
(telemetry/remote_id.py). It counts for NAZORAT_REMOTE_ID_CONSOLE_STALE_S; the console keeps
sending while it is open. Every change is in the audit log. A fixed location always wins.
"""

from __future__ import annotations

import time
from typing import Any

import pydantic
from fastapi import APIRouter, Depends, HTTPException

from mission.deps import COMMON, OperatorDep, StateDep, viewer
from mission.geo import haversine_m
from mission.numbers import Number

AUDIT_MOVE_M = 10.0
router = APIRouter(prefix="/api/remote-id", tags=["airspace"], responses=COMMON)


class OperatorLocation(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    lat: Number = pydantic.Field(ge=-90, le=90, description="WGS84 latitude, degrees")
    lon: Number = pydantic.Field(ge=-180, le=180, description="WGS84 longitude, degrees")
    alt_m: Number | None = pydantic.Field(
        ge=-500, le=10000, description="metres (WGS84 as a browser gives it); null: unknown")


@router.get("/operator-location", dependencies=[Depends(viewer)])
async def operator_location(app: StateDep) -> dict[str, Any]:
    """What the link sends now: `{source: fixed|console|null, lat, lon, alt_m, age_s, set_by,
    stale_after_s}`."""
    return app.link.operator.status(time.time())


@router.put("/operator-location", responses={409: {"description": "not settable here"}})
async def set_operator_location(body: OperatorLocation, app: StateDep,
                                p: OperatorDep) -> dict[str, Any]:
    """The console's position as the Remote ID operator location (operator or admin)."""
    source = app.link.operator
    if source.fixed is not None:
        raise HTTPException(409, detail={
            "error": "fixed_operator_location",
            "message": "NAZORAT_REMOTE_ID_OPERATOR_LOCATION is configured: it is always sent"})
    if app.settings.link_mode == "workers":
        raise HTTPException(409, detail={
            "error": "link_workers",
            "message": "link workers send Remote ID: configure "
                       "NAZORAT_REMOTE_ID_OPERATOR_LOCATION for them"})
    now = time.time()
    before = source.status(now)
    source.set_console(body.lat, body.lon, body.alt_m, now, by=p.name)
    # a console re-sends every few seconds: audit a new source or a move of AUDIT_MOVE_M
    if before["source"] != "console" or before["set_by"] != p.name or haversine_m(
            before["lat"], before["lon"], body.lat, body.lon) >= AUDIT_MOVE_M:
        await app.audit.record("remote_id.operator_location", params={
            "lat": round(body.lat, 6), "lon": round(body.lon, 6),
            "alt_m": None if body.alt_m is None else round(body.alt_m, 1)})
    return source.status(now)
