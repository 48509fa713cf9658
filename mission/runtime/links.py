"""The vehicle side of a process, built from `Settings`: what the service and a link worker
both run to link drones, publish and serve them on the bus, check the interlocks where the
vehicle is, record tracks and events, and drive the mission legs of the drones it owns
(mission/runtime/__init__.py)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from mission.db import Database
from mission.fleet.commands import owner_handler
from mission.fleet.networks import DroneNetworks
from mission.fleet.service import FleetService
from mission.incidents.service import IncidentService
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


async def follow_database(fleet: FleetService, period_s: float = 3.0) -> None:
    """With a bus, drones of this process's shard may be added or deleted through another
    process's API: link and unlink them as the shared database says."""
    while True:
        await asyncio.sleep(period_s)
        try:
            await fleet.reconcile()
        except Exception:
            log.exception("fleet reconcile failed")


class LinkSide:
    """Database, hub, fleet link, bus (with NAZORAT_BUS_URL), zones, interlocks, fleet registry,
    track recorder and mission tracker, made once here and handed to each other.

    The tracker follows the legs of the drones this process owns: the fleet tells it what the
    link gains and loses (`fleet.ownership`; a lease will call the same two methods), so the
    leg of a drone is driven where its link is, whichever replica dispatched it.

    `linking=False` (a service in NAZORAT_LINK_MODE=workers) stores drones but links none.
    `record_owned_only`: with a bus, record only the drones this process links (a service's
    hub also mirrors everyone else's); a link worker records everything in its hub.

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
        self.fleet = FleetService(self.db, self.link, shard=shard, sharded=sharded,
                                  linking=linking,
                                  networks=DroneNetworks.parse(settings.drone_networks))
        owned = self.bus.owns if record_owned_only and self.bus is not None else None
        self.recording = RecordingService(self.db, self.hub, interval_s=settings.track_interval_s,
                                          records=owned)
        self.incidents = IncidentService(self.db)
        self.tracker = MissionTracker(self.db, self.hub, incidents=self.incidents)
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
            await self.bus.serve_link(self.link, owner_handler(self.link, check=self.safety))
            self.tasks.append(asyncio.create_task(
                follow_database(self.fleet), name="fleet-reconcile"))

    async def close(self) -> None:
        """Bus, hub, link, database, each bounded (ownership on the bus is released first)."""
        if self.bus is not None:
            await bounded("the bus", self.bus.close(), BUS_STOP_S)
        self.hub.close()
        await bounded("the fleet link", self.link.stop(), LINK_STOP_S)
        await bounded("the database", self.db.stop(), DATABASE_STOP_S)

    async def stop(self) -> None:
        await stop_tasks(self.tasks, TASKS_STOP_S)
        self.tasks = []
        await self.close()
