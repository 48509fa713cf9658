"""The vehicle side of a process, built from `Settings`: what the service and a link worker
both run to link drones, publish and serve them on the bus, check the interlocks where the
vehicle is, record tracks and events, and drive the mission legs of the drones it owns
(mission/runtime/__init__.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from mission.db import Database
from mission.fleet.commands import owner_handler
from mission.fleet.networks import DroneNetworks
from mission.fleet.reach import LinkReach
from mission.fleet.service import FleetService
from mission.fleet.takeover import Takeover
from mission.fleet.unowned import UnownedDrones
from mission.live import watched
from mission.missions.tracker import MissionTracker
from mission.recording.service import RecordingService
from mission.safety import SafetyLimits
from mission.settings import Settings
from mission.shutdown import bounded, stop_tasks
from mission.zones.service import ZoneService
from telemetry.bus import BusNode
from telemetry.hub import TelemetryHub
from telemetry.link import FleetLink, LinkConfig
from telemetry.remote_id import OperatorInfo
from telemetry.vehicle import StreamRates

log = logging.getLogger(__name__)

TASKS_STOP_S = 5.0
BUS_STOP_S = 5.0
LINK_STOP_S = 12.0  # MAVSDK may wait on a vehicle's last requests
DATABASE_STOP_S = 5.0


def link_config(settings: Settings) -> LinkConfig:
    return LinkConfig(
        heartbeat_timeout_s=settings.heartbeat_timeout_s,
        reconnect_after_s=settings.reconnect_after_s,
        probe_timeout_s=settings.probe_timeout_s,
        executor_threads=settings.link_threads,
        low_battery_pct=settings.low_battery_pct,
        gcs_sysid=settings.gcs_sysid,
        rates=StreamRates(
            position_hz=settings.position_rate_hz, status_hz=settings.status_rate_hz
        ),
        discovery_urls=settings.discovery_urls,
        remote_id=OperatorInfo.parse(settings.remote_id_operator_location,
                                     settings.remote_id_operator_id),
        remote_id_operator_id=settings.remote_id_operator_id,
        remote_id_console_stale_s=settings.remote_id_console_stale_s,
    )


def bus_node(settings: Settings) -> BusNode:
    """This process's end of the bus, with the deployment's secret, password and CA."""
    return BusNode(settings.bus_url, secret=settings.bus_secret,
                   previous_secret=settings.bus_secret_previous, prefix=settings.bus_prefix,
                   owner_ttl_s=settings.bus_owner_ttl_s, password=settings.bus_password,
                   tls_ca=settings.bus_tls_ca)


# Ownership of a drone's link on this process (see LinkSide.watch_ownership).
OnAcquired = Callable[[int, int], None]  # (drone id, fencing token)
OnReleased = Callable[[int], None]  # (drone id)


class LinkSide:
    """Database, hub, fleet link, bus (with NAZORAT_BUS_URL), zones, interlocks, fleet registry,
    track recorder and mission tracker, made once here and handed to each other.

    The tracker follows the legs of the drones this process owns, so the leg of a drone is
    driven where its link is, whichever replica dispatched it: with a bus, the drones whose
    lease it holds and links (`watch_ownership`); without one, every drone its link has (the
    fleet tells it, `fleet.ownership`).

    `linking=False` (a service in NAZORAT_LINK_MODE=workers) stores drones but links none.
    `record_owned_only`: with a bus, record only the drones this process links (a service's
    hub also mirrors everyone else's); a link worker records everything in its hub.

    With a bus, a linking process links a drone only while it holds the drone's link lease
    (telemetry/lease.py): `Takeover` (mission/fleet/takeover.py) takes the leases of its own
    shard's drones, and of the drones NAZORAT_LINK_REACH covers once their owner's lease
    expires, and links them; a lease lost (expired while paused or cut off from Redis, or held
    by another process) unlinks the drone here. Every command sent from here is fenced: the
    lease is checked in Redis right before the command goes to the vehicle.

    Start: `open()`, then `join_bus()`, then `start_link()`; the service does its own steps in
    between. Stop: `stop()` (or the service's own order: `tasks`, then `close()`), every step
    bounded (mission/shutdown.py)."""

    def __init__(self, settings: Settings, *, shard: str, sharded: bool, linking: bool = True,
                 record_owned_only: bool = False) -> None:
        self.settings = settings
        self.linking = linking
        self.db = Database(settings.effective_database_url)
        self.hub = TelemetryHub(traffic_stale_s=settings.traffic_stale_s)
        self.link = FleetLink(self.hub, link_config(settings))
        self.bus = bus_node(settings) if settings.bus_url else None
        self.zones = ZoneService(self.db)
        # The interlocks run here too, where the vehicle is linked: a command on the bus is
        # only as good as the replica that sent it.
        self.safety = SafetyLimits(self.hub, zones=self.zones,
                                   max_altitude_m=settings.max_altitude_m,
                                   rtl_alt_m=settings.rtl_alt_m,
                                   separation_h_m=settings.separation_h_m,
                                   separation_v_m=settings.separation_v_m)
        self.leased = self.bus is not None and linking
        self.fleet = FleetService(self.db, self.link, shard=shard, sharded=sharded,
                                  linking=linking,
                                  networks=DroneNetworks.parse(settings.drone_networks),
                                  leased=self.leased)
        self.reach = LinkReach.parse(settings.link_reach)
        self.takeover: Takeover | None = None
        self.owned: dict[int, int] = {}  # drone -> fencing token, as told to the watchers
        self._watchers: list[tuple[OnAcquired, OnReleased]] = []
        self._unlinking: set[asyncio.Task[Any]] = set()
        owned = self.bus.owns if record_owned_only and self.bus is not None else None
        self.recording = RecordingService(self.db, self.hub, interval_s=settings.track_interval_s,
                                          records=owned)
        self.tracker = MissionTracker(
            self.db, self.hub, observe_requires_footprint=settings.observe_requires_footprint)
        if self.leased:  # the lease says who drives a drone's leg: one process at a time
            self.watch_ownership(self.tracker.on_acquired, self.tracker.on_released)
        elif linking:  # no bus: every drone on this link is this process's alone
            self.fleet.ownership = self.tracker
        self.tasks: list[asyncio.Task[Any]] = []

    async def open(self) -> None:
        """The database first: everything else reads it."""
        await self.db.start()

    async def join_bus(self, *, mirror: bool) -> None:
        """Connect to the bus (if any); `mirror`: show the drones other processes link in this
        hub (a service; a link worker serves only its own)."""
        if self.bus is None:
            return
        await self.bus.start()
        if mirror:
            await self.bus.mirror(self.hub)
            # stored drones nobody links at all: shown lost with the reason (not `null`)
            ttl = self.settings.bus_owner_ttl_s
            unowned = UnownedDrones(self.fleet, self.hub, self.bus.leases, grace_s=2 * ttl,
                                    period_s=min(2.0, ttl))
            self.tasks.append(asyncio.create_task(unowned.run(), name="unowned-drones"))

    def announce_commits(self) -> None:
        """With a bus, tell the other processes which missions and incidents this one changed
        (what its tracker stores), so their consoles show it: a link worker, which publishes
        nothing to consoles itself (a service's change publisher does both)."""
        bus = self.bus
        if bus is None:
            return
        watched.watch(self.db)
        self.db.on_commit(lambda changes: bus.announce_changes(sorted(changes)))

    async def start_link(self, drones: tuple[str, ...]) -> None:
        """Record tracks and track missions, start the link (unless not linking), link the
        stored drones of this shard and register `drones` (the tracker now owns them), and
        with a bus serve their commands and follow the database for drones added or deleted
        elsewhere."""
        self.tasks.append(asyncio.create_task(self.recording.run(), name="recorder"))
        self.tasks.append(asyncio.create_task(self.tracker.run(), name="mission-tracker"))
        if self.linking:
            await self.link.start()
        await self.fleet.startup(drones)  # not linking: stored only, a worker links them
        if self.bus is not None and self.linking:
            bus = self.bus
            bus.on_lease_acquired = self._acquired
            bus.on_lease_lost = self._lost
            self.fleet.claim = self._claim
            await bus.serve_link(self.link, owner_handler(self.link, check=self.safety,
                                                          fence=bus.fence))
            self.takeover = Takeover(self.fleet, bus.leases, self.reach,
                                     on_acquired=self._acquired,
                                     after_tick=self._sync_ownership,
                                     period_s=min(0.5, settings_period(self.settings)))
            # the first pass now: this shard's free drones are linked when start_link returns
            await self.takeover.safe_tick()
            self.tasks.append(asyncio.create_task(self.takeover.run(), name="link-takeover"))

    # -- ownership (link leases) ------------------------------------------------------------------

    def watch_ownership(self, on_acquired: OnAcquired, on_released: OnReleased) -> None:
        """Be told, on the event loop, when this process starts and stops owning a drone's
        link: `on_acquired(drone_id, token)` once it holds the drone's lease *and* links it
        (told at once for the drones owned now), `on_released(drone_id)` once it no longer
        acts for it (lease lost or given up, drone unlinked or deleted, process stopping). At
        most one owner holds a drone at a time, so the mission side can drive a drone's leg
        exactly where `on_acquired` fired last. Callbacks must not block or raise (start a task
        for I/O); without a bus nothing is ever told (every drone is local)."""
        self._watchers.append((on_acquired, on_released))
        for vid, token in self.owned.items():
            _call(on_acquired, vid, token)

    def _acquired(self, drone_id: int, token: int) -> None:
        if self.owned.get(drone_id) == token:
            return
        if drone_id in self.owned:  # a new token without a release in between: tell both
            self._released(drone_id)
        self.owned[drone_id] = token
        for on_acquired, _ in self._watchers:
            _call(on_acquired, drone_id, token)

    def _released(self, drone_id: int) -> None:
        if self.owned.pop(drone_id, None) is None:
            return
        for _, on_released in self._watchers:
            _call(on_released, drone_id)

    async def _claim(self, drone_id: int) -> None:
        """A drone just added and linked here: its lease now (if free; if another process
        holds it, the bus's next heartbeat reports it and it is unlinked here)."""
        assert self.bus is not None
        try:
            token = await self.bus.leases.acquire(drone_id)
        except Exception as e:  # noqa: BLE001 - the heartbeat tries again within TTL/3
            log.warning("drone %s: lease not taken yet (%s)", drone_id, e)
            return
        if token is not None:
            self._acquired(drone_id, token)

    def _lost(self, drone_id: int, reason: str) -> None:
        """The bus says this process must stop acting for the drone: unlink it (another process
        holds it, or will once it can reach it)."""
        self._released(drone_id)
        task = asyncio.get_running_loop().create_task(self.fleet.unlink(drone_id),
                                                      name=f"unlink-{drone_id}")
        self._unlinking.add(task)
        task.add_done_callback(self._unlinking.discard)

    def _sync_ownership(self) -> None:
        """Drones told as owned whose lease is gone without a loss report (unlinked, deleted,
        released): released."""
        if self.bus is None:
            return
        for vid in [v for v in self.owned if not self.bus.owns(v)]:
            self._released(vid)

    async def close(self) -> None:
        """Bus, hub, link, database, each bounded (ownership on the bus is released first)."""
        for vid in list(self.owned):
            self._released(vid)
        if self.bus is not None:
            await bounded("the bus", self.bus.close(), BUS_STOP_S)
        self.hub.close()
        await bounded("the fleet link", self.link.stop(), LINK_STOP_S)
        await bounded("the database", self.db.stop(), DATABASE_STOP_S)

    async def stop(self) -> None:
        await stop_tasks(self.tasks, TASKS_STOP_S)
        self.tasks = []
        await self.close()


def settings_period(settings: Settings) -> float:
    """A third of the lease TTL: how often leases are extended and free ones looked for."""
    return settings.bus_owner_ttl_s / 3


def _call(fn: Callable[..., None], *args: Any) -> None:
    try:
        fn(*args)
    except Exception:
        log.exception("ownership callback %r failed", fn)
