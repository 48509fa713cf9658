"""The zone service as the planner/missions layer calls it (no HTTP), on a
temporary database (SQLite, or PostgreSQL in its lane)."""

from __future__ import annotations

from typing import Any

import pytest
from shapely.geometry import Point

import mission.zones.models  # noqa: F401  (registers the table)
from mission.db import Database
from mission.zones.models import ZoneCreate, ZoneKind
from mission.zones.service import ZoneService

pytestmark = pytest.mark.timeout(30)


def zone(name: str, kind: str, ring: list[list[float]], **kw: Any) -> ZoneCreate:
    return ZoneCreate.model_validate({"name": name, "kind": kind, "geometry": {
        "type": "Polygon", "coordinates": [ring]}, **kw})


def square(lon: float, lat: float, d: float = 0.01) -> list[list[float]]:
    return [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]


async def test_no_fly_and_red_shapes_for_the_planner(db: Database) -> None:
    svc = ZoneService(db)
    nf = await svc.create(zone("airport", "no_fly", square(69.27, 41.25, 0.03), max_alt_m=300))
    low = await svc.create(zone("stadium", "no_fly", square(69.20, 41.30), min_alt_m=0,
                                max_alt_m=60))
    await svc.create(zone("old", "no_fly", square(69.0, 41.0), active=False))
    red = await svc.create(zone("market", "red", square(69.24, 41.30), risk_level=4))

    shapes = await svc.no_fly_shapes()
    assert [s.id for s in shapes] == [nf.id, low.id]  # the inactive zone is left out
    stadium = shapes[1]
    assert stadium.polygon.contains(Point(69.205, 41.305))
    assert stadium.applies_at(50) and not stadium.applies_at(80)
    (market,) = await svc.shapes(ZoneKind.RED)
    assert (market.id, market.risk_level) == (red.id, 4)

    at = await svc.zones_at(lat=41.26, lon=69.28)
    assert [z.id for z in at] == [nf.id]
    assert await svc.zones_at(lat=41.26, lon=69.28, kind=ZoneKind.RED) == []
    assert await svc.zones_at(lat=0.0, lon=0.0) == []
