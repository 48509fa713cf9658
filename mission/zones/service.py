"""Zones in the database: CRUD, GeoJSON import/export, and the shapes for the planner. Database
calls run in worker threads (`Database.run`), one transaction per operation.

For the planner/missions layer (`zones`: the runtime's one ZoneService, mission/runtime/links.py,
passed to whoever needs it):

- `await zones.no_fly_shapes()` -> active no-fly zones as `ZoneShape`s (shapely
  Polygon in lon/lat degrees + altitude band); `ZoneShape.applies_at(alt_m)`;
- `await zones.shapes(kind=ZoneKind.RED)` -> active red zones (patrol areas with
  `risk_level`);
- `await zones.zones_at(lat=..., lon=...)` -> active zones containing a point.
"""

from __future__ import annotations

from collections.abc import Sequence

from shapely.geometry import Point
from sqlalchemy import or_
from sqlmodel import Session, col, select

from mission.clock import utcnow
from mission.db import Database
from mission.zones.domain import ZoneShape, check_zone, merge_update, zone_shape
from mission.zones.geo import BBox
from mission.zones.geometry import bounds
from mission.zones.models import Zone, ZoneCreate, ZoneKind, ZonePublic, ZoneUpdate


class ZoneNotFound(LookupError):
    def __init__(self, zone_id: int) -> None:
        super().__init__(f"no zone {zone_id}")
        self.zone_id = zone_id


def public(row: Zone) -> ZonePublic:
    assert row.id is not None
    return ZonePublic(
        id=row.id, name=row.name, kind=ZoneKind(row.kind), risk_level=row.risk_level,
        geometry=row.geometry, min_alt_m=row.min_alt_m, max_alt_m=row.max_alt_m,
        active=row.active, description=row.description,
        bbox=[row.west, row.south, row.east, row.north],
        created_at=row.created_at, updated_at=row.updated_at,
    )


def _as_create(row: Zone) -> ZoneCreate:
    return ZoneCreate(name=row.name, kind=ZoneKind(row.kind), risk_level=row.risk_level,
                      geometry=row.geometry, min_alt_m=row.min_alt_m, max_alt_m=row.max_alt_m,
                      active=row.active, description=row.description)


def _apply(row: Zone, z: ZoneCreate) -> None:
    row.name, row.kind, row.risk_level = z.name, z.kind.value, z.risk_level
    row.geometry = z.geometry
    row.min_alt_m, row.max_alt_m = z.min_alt_m, z.max_alt_m
    row.active, row.description = z.active, z.description
    row.west, row.south, row.east, row.north = bounds(z.geometry)


def _new_row(z: ZoneCreate) -> Zone:
    now = utcnow()
    w, s, e, n = bounds(z.geometry)
    return Zone(name=z.name, kind=z.kind.value, risk_level=z.risk_level, geometry=z.geometry,
                min_alt_m=z.min_alt_m, max_alt_m=z.max_alt_m, active=z.active,
                description=z.description, west=w, south=s, east=e, north=n,
                created_at=now, updated_at=now)


class ZoneService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, data: ZoneCreate) -> ZonePublic:
        """Validate (InvalidInput naming the field) and store a zone."""
        row = _new_row(check_zone(data))

        def tx(s: Session) -> Zone:
            s.add(row)
            s.flush()
            s.refresh(row)
            return row

        return public(await self.db.run(tx))

    async def get(self, zone_id: int) -> ZonePublic:
        row = await self.db.run(lambda s: s.get(Zone, zone_id))
        if row is None:
            raise ZoneNotFound(zone_id)
        return public(row)

    async def list_zones(
        self, *, kind: ZoneKind | None = None, active: bool | None = None,
        bbox: BBox | None = None,
    ) -> list[ZonePublic]:
        """Zones in id order; `bbox` keeps those whose bounding box overlaps it."""
        def q(s: Session) -> list[Zone]:
            stmt = select(Zone)
            if kind is not None:
                stmt = stmt.where(Zone.kind == kind.value)
            if active is not None:
                stmt = stmt.where(Zone.active == active)
            if bbox is not None:
                stmt = stmt.where(col(Zone.north) >= bbox.south, col(Zone.south) <= bbox.north)
                if bbox.crosses_antimeridian:
                    stmt = stmt.where(or_(col(Zone.east) >= bbox.west,
                                          col(Zone.west) <= bbox.east))
                else:
                    stmt = stmt.where(col(Zone.east) >= bbox.west, col(Zone.west) <= bbox.east)
            return list(s.exec(stmt.order_by(col(Zone.id))))

        return [public(r) for r in await self.db.run(q)]

    async def update(self, zone_id: int, patch: ZoneUpdate) -> ZonePublic:
        """Apply a PATCH; the merged zone is validated as a whole (InvalidInput)."""
        def tx(s: Session) -> Zone:
            row = s.exec(select(Zone).where(Zone.id == zone_id).with_for_update()).first()
            if row is None:
                raise ZoneNotFound(zone_id)
            merged = merge_update(_as_create(row), patch)
            _apply(row, merged)
            row.updated_at = utcnow()
            s.add(row)
            s.flush()
            s.refresh(row)
            return row

        return public(await self.db.run(tx))

    async def delete(self, zone_id: int) -> None:
        def tx(s: Session) -> None:
            row = s.get(Zone, zone_id)
            if row is None:
                raise ZoneNotFound(zone_id)
            s.delete(row)

        await self.db.run(tx)

    async def import_zones(self, zones: Sequence[ZoneCreate]) -> list[ZonePublic]:
        """Store already validated zones (domain.parse_feature_collection), all or none."""
        rows = [_new_row(z) for z in zones]

        def tx(s: Session) -> list[Zone]:
            s.add_all(rows)
            s.flush()
            for r in rows:
                s.refresh(r)
            return rows

        return [public(r) for r in await self.db.run(tx)]

    async def shapes(
        self, kind: ZoneKind | None = None, *, active_only: bool = True,
        bbox: BBox | None = None,
    ) -> list[ZoneShape]:
        """Zones as shapely polygons for planning (active ones unless told otherwise)."""
        zones = await self.list_zones(kind=kind, active=True if active_only else None, bbox=bbox)
        return [zone_shape(z) for z in zones]

    async def no_fly_shapes(self, bbox: BBox | None = None) -> list[ZoneShape]:
        """Active no-fly zones: the polygons a mission must keep out of."""
        return await self.shapes(ZoneKind.NO_FLY, bbox=bbox)

    async def zones_at(
        self, *, lat: float, lon: float, kind: ZoneKind | None = None
    ) -> list[ZoneShape]:
        """Active zones (of `kind` if given) whose polygon contains or touches the point."""
        point = Point(lon, lat)
        return [z for z in await self.shapes(kind, bbox=BBox(lon, lat, lon, lat))
                if z.polygon.intersects(point)]
