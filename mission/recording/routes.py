"""Track and event history routes. `from`/`to` accept Unix seconds or ISO 8601 times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from mission.deps import COMMON, StateDep, viewer
from mission.recording.models import EventPublic

router = APIRouter(prefix="/api", tags=["recording"], responses=COMMON,
                   dependencies=[Depends(viewer)])


def parse_time(value: str | None, field: str) -> float | None:
    """Unix seconds or ISO 8601 (naive means UTC); 422 naming `field` otherwise."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(
            422, detail={"error": "invalid_parameter", "field": field,
                         "message": f"{field}: expected Unix seconds or ISO 8601, got {value!r}"},
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


@router.get("/drones/{drone_id}/track")
async def track(
    drone_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    app: StateDep,
    t_from: Annotated[str | None, Query(alias="from")] = None,
    t_to: Annotated[str | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """The drone's recorded track as a GeoJSON Feature (LineString)."""
    return await app.recording.track_geojson(
        drone_id, parse_time(t_from, "from"), parse_time(t_to, "to")
    )


@router.get("/events", response_model=list[EventPublic])
async def events(
    app: StateDep,
    drone_id: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    t_from: Annotated[str | None, Query(alias="from")] = None,
    t_to: Annotated[str | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> list[EventPublic]:
    """Recorded events, newest first."""
    return await app.recording.events(
        drone_id=drone_id, kind=kind, t_from=parse_time(t_from, "from"),
        t_to=parse_time(t_to, "to"), limit=limit,
    )
