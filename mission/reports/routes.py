"""GET /api/reports/response: how long from report to eyes on scene (any user role)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from mission.deps import COMMON, StateDep, error_responses, viewer
from mission.incidents.domain import parse_time
from mission.zones.geo import InvalidInput

router = APIRouter(prefix="/api", responses=COMMON, dependencies=[Depends(viewer)])


@router.get("/reports/response", tags=["reports"], responses=error_responses(422))
async def response_report(
    app: StateDep,
    t_from: Annotated[str | None, Query(alias="from", description="reported_at >= from")] = None,
    t_to: Annotated[str | None, Query(alias="to", description="reported_at <= to")] = None,
) -> dict[str, Any]:
    """Count, p50 and p95 (seconds) of each stage (report -> dispatch, dispatch -> airborne,
    airborne -> on scene, report -> on scene) over the dispatched incidents reported between
    `from` and `to` (Unix seconds or ISO 8601), overall and per severity."""
    start, end = parse_time(t_from, "from"), parse_time(t_to, "to")
    if start is not None and end is not None and end < start:
        raise InvalidInput("to", "`to` is before `from`", error="invalid_parameter")
    return await app.reports.response(start, end)
