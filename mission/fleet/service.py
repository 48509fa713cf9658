"""Fleet management: drones in the database, kept in step with the fleet link.

The database is the source of truth for which drones exist; the link holds the live connections.
A drone is inserted first (to get its id), then connected; if the link refuses it (duplicate
system id, unreachable, bad URL) the row is deleted again, so the two never disagree for long.
At startup every stored drone is re-connected without probing (an offline drone simply stays
`connecting` until it answers).
A new drone's URL must point inside NAZORAT_DRONE_NETWORKS (mission/fleet/networks.py), checked
before it is stored, probed or connected; stored drones are not re-checked at startup.

With a bus (telemetry/bus.py) several processes share the database, and each drone is linked by
one of them: a service or `nazorat link-worker` links only the stored drones of its shard
(`sharded`), plus any URLs it was given to register (`pinned`); `reconcile()` lets a worker follow
drones added or deleted through the API of another process. A service in `workers` link mode
(`linking` False) only stores drones; its link never starts.

A drone on this process's link is owned by it: `ownership` (mission/fleet/ownership.py; the
mission tracker) is told when one is linked or unlinked, so that its mission leg is driven
where its link is.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

from sqlmodel import Session, col, select

from mission.db import Database
from mission.fleet.models import Drone, DroneCreate, DronePublic
from mission.fleet.networks import DEFAULT_DRONE_NETWORKS, DroneNetworks
from mission.fleet.ownership import DroneOwnership
from telemetry.errors import DuplicateUrl, FleetError, UnknownVehicle
from telemetry.link import FleetLink
from telemetry.urls import InvalidUrl, parse_url

log = logging.getLogger(__name__)


class DroneNotFound(LookupError):
    def __init__(self, drone_id: int) -> None:
        super().__init__(f"no drone {drone_id}")
        self.drone_id = drone_id


class FleetService:
    def __init__(self, db: Database, link: FleetLink, *, shard: str = "", sharded: bool = False,
                 linking: bool = True, networks: DroneNetworks | None = None) -> None:
        self.db = db
        self.networks = networks or DroneNetworks.parse(DEFAULT_DRONE_NETWORKS)
        self.link = link
        self.shard = shard
        self.sharded = sharded
        self.linking = linking
        self.pinned: set[str] = set()
        self._failed: set[int] = set()
        self._lock = asyncio.Lock()  # add_drone and reconcile never link the same row twice
        self.ownership: DroneOwnership | None = None  # told what this link gains and loses

    def _acquired(self, drone_id: int) -> None:
        if self.ownership is not None:
            self.ownership.on_acquired(drone_id, 0)  # the link's own ownership: no lease token

    def _released(self, drone_id: int) -> None:
        if self.ownership is not None:
            self.ownership.on_released(drone_id)

    def _wants(self, d: Drone) -> bool:
        if not self.linking:
            return False
        if not self.sharded:
            return True
        return d.shard == self.shard or _normal(d.url) in self.pinned

    async def startup(self, register_urls: tuple[str, ...] = ()) -> None:
        """Reconnect stored drones (of this shard, with a bus), then register `register_urls`
        not stored yet. Stored drones among `register_urls` are linked whatever their shard."""
        self.pinned = {_normal(u) for u in register_urls}
        drones = await self.db.run(lambda s: list(s.exec(select(Drone).order_by(col(Drone.id)))))
        for d in drones:
            assert d.id is not None
            if not self._wants(d):
                continue
            try:
                await self.link.add_vehicle(d.id, d.url, sysid=d.sysid, name=d.name, probe=False)
            except FleetError as e:
                log.error("stored drone %s (%s) not connected: %s", d.id, d.url, e.message)
                continue
            self._acquired(d.id)
        known = {_normal(d.url) for d in drones}
        for i, url in enumerate(register_urls):
            if _normal(url) in known:
                continue
            try:
                await self.add_drone(DroneCreate(url=url, name=f"sim-{i + 1}"))
            except FleetError as e:
                log.error("drone %s not registered: %s", url, e.message)

    async def reconcile(self) -> None:
        """Link stored drones this process should link and does not; drop deleted ones."""
        async with self._lock:
            await self._reconcile()

    async def _reconcile(self) -> None:
        drones = await self.db.run(lambda s: list(s.exec(select(Drone).order_by(col(Drone.id)))))
        wanted = {d.id: d for d in drones if self._wants(d)}
        for vehicle in self.link.vehicles():
            if vehicle.vehicle_id not in wanted:
                log.info("drone %s is gone from the database or the shard: unlinking",
                         vehicle.vehicle_id)
                with contextlib.suppress(UnknownVehicle):
                    await self.link.remove_vehicle(vehicle.vehicle_id)
                self._released(vehicle.vehicle_id)
        linked = {v.vehicle_id for v in self.link.vehicles()}
        for vid, d in wanted.items():
            if vid in linked or vid is None:
                continue
            try:
                state = await self.link.add_vehicle(vid, d.url, sysid=d.sysid, name=d.name,
                                                    probe=d.sysid is None)
            except FleetError as e:
                if vid not in self._failed:
                    self._failed.add(vid)
                    log.error("drone %s (%s) not connected: %s", vid, d.url, e.message)
                continue
            self._failed.discard(vid)
            log.info("drone %s (%s) linked", vid, d.url)
            self._acquired(vid)
            if d.sysid != state.sysid:
                d.sysid = state.sysid
                await self.db.run(functools.partial(_insert, drone=d))

    async def add_drone(self, data: DroneCreate) -> DronePublic:
        async with self._lock:
            return await self._add_drone(data)

    async def _add_drone(self, data: DroneCreate) -> DronePublic:
        try:
            parsed = parse_url(data.url)
        except InvalidUrl as e:
            raise FleetError(str(e), field="url") from None
        # Before anything connects to it or probes it (NAZORAT_DRONE_NETWORKS).
        await self.networks.check(parsed)
        url = parsed.url
        shard = self.shard if data.shard is None else data.shard
        if self.sharded:
            # Another process may link a drone with this URL: its link cannot see this one's
            # refusal, so the shared database is where a duplicate is caught.
            other = await self.db.run(lambda s: s.exec(
                select(Drone).where(Drone.url == url, col(Drone.discovered).is_(False))
            ).first())
            if other is not None:
                raise DuplicateUrl(f"{url} is already used by drone {other.id} (shard "
                                   f"{other.shard!r})", field="url")
        drone = Drone(name=data.name, url=url, sysid=data.sysid, shard=shard)
        drone = await self.db.run(lambda s: _insert(s, drone))
        assert drone.id is not None
        if not self._wants(drone):
            # Another process links it (a link worker of its shard); only stored here.
            return self.public(drone)
        try:
            state = await self.link.add_vehicle(
                drone.id, url, sysid=data.sysid, name=drone.name
            )
        except FleetError:
            await self.db.run(lambda s: _delete(s, drone.id))
            raise
        self._acquired(drone.id)
        if state.sysid != drone.sysid:
            drone.sysid = state.sysid
            drone = await self.db.run(lambda s: _insert(s, drone))
        return self.public(drone)

    async def on_discovered(self, sysid: int, url: str) -> tuple[int, str] | None:
        """Link callback for a vehicle heard on a discovery port: store it, return its id."""
        name = f"discovered-{sysid}"
        drone = await self.db.run(
            lambda s: _insert(s, Drone(name=name, url=url, sysid=sysid, discovered=True,
                                       shard=self.shard))
        )
        assert drone.id is not None
        log.info("discovered vehicle sysid %s on %s as drone %s", sysid, url, drone.id)
        self._acquired(drone.id)  # the link adds it under this id
        return drone.id, name

    async def list_drones(self) -> list[DronePublic]:
        drones = await self.db.run(lambda s: list(s.exec(select(Drone).order_by(col(Drone.id)))))
        return [self.public(d) for d in drones]

    async def get_drone(self, drone_id: int) -> DronePublic:
        drone = await self.db.run(lambda s: s.get(Drone, drone_id))
        if drone is None:
            raise DroneNotFound(drone_id)
        return self.public(drone)

    async def remove_drone(self, drone_id: int) -> None:
        found = await self.db.run(lambda s: _delete(s, drone_id))
        if not found:
            raise DroneNotFound(drone_id)
        with contextlib.suppress(UnknownVehicle):
            await self.link.remove_vehicle(drone_id)
        self._released(drone_id)

    def public(self, drone: Drone) -> DronePublic:
        assert drone.id is not None
        latest = self.link.hub.latest(drone.id)
        return DronePublic(
            id=drone.id, name=drone.name, url=drone.url, sysid=drone.sysid,
            discovered=drone.discovered, created_at=drone.created_at, shard=drone.shard,
            state=None if latest is None else latest.to_dict(),
        )


def _normal(url: str) -> str:
    try:
        return parse_url(url).url
    except InvalidUrl:
        return url


def _insert(session: Session, drone: Drone) -> Drone:
    """Insert a new drone or update a detached one; returns the stored row."""
    stored = session.merge(drone)
    session.flush()
    session.refresh(stored)
    return stored


def _delete(session: Session, drone_id: int | None) -> bool:
    drone = session.get(Drone, drone_id)
    if drone is None:
        return False
    session.delete(drone)
    return True
