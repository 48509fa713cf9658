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
(`sharded`), plus any URLs it was given to register (`pinned`); mission/fleet/takeover.py lets
it follow drones added or deleted through the API of another process. A service in `workers`
link mode (`linking` False) only stores drones; its link never starts.

With link leases (`leased`, whenever there is a bus): a process links a stored drone only once
it holds the drone's lease, so `startup()` links none of them and mission/fleet/takeover.py
takes the leases and calls `adopt()` (its own shard's drones at once, others it can reach when
their owner's lease expires); a drone added through this process's API is linked at once and
its lease taken by the bus within a heartbeat (commands wait for it: they are fenced).

Without a bus, a drone on this process's link is owned by it alone: `ownership`
(mission/fleet/ownership.py; the mission tracker) is told when one is linked or unlinked, so
that its mission leg is driven where its link is (with a bus, the lease tells it instead:
LinkSide.watch_ownership).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable

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
                 linking: bool = True, networks: DroneNetworks | None = None,
                 leased: bool = False) -> None:
        self.db = db
        self.networks = networks or DroneNetworks.parse(DEFAULT_DRONE_NETWORKS)
        self.link = link
        self.shard = shard
        self.sharded = sharded
        self.linking = linking
        self.leased = leased
        self.pinned: set[str] = set()
        # leased: take the lease of a drone this process has just added and linked, so that
        # its commands need not wait for the bus's next heartbeat (mission/runtime/links.py)
        self.claim: Callable[[int], Awaitable[None]] | None = None
        self._lock = asyncio.Lock()  # add_drone and adopt never link the same row twice
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
            if self.leased or not self._wants(d):
                continue  # leased: linked once its lease is held (mission/fleet/takeover.py)
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

    def is_home(self, d: Drone) -> bool:
        """A drone of this process's own shard (or one of its `--drones`)."""
        return self._wants(d)

    async def stored(self) -> list[Drone]:
        return await self.db.run(lambda s: list(s.exec(select(Drone).order_by(col(Drone.id)))))

    async def adopt(self, d: Drone) -> None:
        """Link a stored drone whose lease this process has just taken (no network check: it
        was checked when it was added). FleetError when the link refuses it."""
        assert d.id is not None
        async with self._lock:
            state = await self.link.add_vehicle(d.id, d.url, sysid=d.sysid, name=d.name,
                                                probe=d.sysid is None)
            if d.sysid != state.sysid:
                d.sysid = state.sysid
                await self.db.run(functools.partial(_insert, drone=d))

    async def unlink(self, drone_id: int) -> bool:
        """Drop a drone from the link (its lease is lost, or it is deleted): True if linked."""
        async with self._lock:
            try:
                await self.link.remove_vehicle(drone_id)
            except UnknownVehicle:
                return False
            return True

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
        if self.claim is not None and drone.id is not None:
            await self.claim(drone.id)
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
