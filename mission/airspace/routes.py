"""The traffic picture over HTTP (any signed-in role): tracks, conflicts, ground feeds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from mission.deps import COMMON, StateDep, viewer

router = APIRouter(prefix="/api/traffic", tags=["airspace"], responses=COMMON,
                   dependencies=[Depends(viewer)])


@router.get("")
async def traffic(app: StateDep) -> list[dict[str, Any]]:
    """Other aircraft now: `{icao, callsign, lat, lon, alt_amsl_m, heading_deg, speed_mps,
    vertical_rate_mps, emitter_type, source, age_s}`, stale tracks left out."""
    return app.traffic.tracks()


@router.get("/conflicts")
async def conflicts(app: StateDep) -> list[dict[str, Any]]:
    """(drone, aircraft) pairs at advisory or alert now, with their separations."""
    return app.traffic.conflicts()


@router.get("/feeds")
async def feeds(app: StateDep) -> list[dict[str, Any]]:
    """The ground receivers (NAZORAT_ADSB_FEEDS): connected, lines, reports, bad lines."""
    return [f.stats.to_dict() for f in app.traffic_feeds]
