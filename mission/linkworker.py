"""`nazorat link-worker`: the vehicle link for a shard of the fleet, in its own process.

It links the stored drones whose `shard` is its own (and registers and links any `--drones`
URLs, stored with that shard unless stored already, in which case they are linked whatever
their shard), follows the shared database for drones added or deleted through a service's API,
publishes their telemetry on the bus, announces that it owns them, runs the commands sent to it
(validated, checked and recorded by the service that took the request; authenticated, validated
and checked against the interlocks again here before they run) and records their tracks
and events. Services in `NAZORAT_LINK_MODE=workers` link nothing themselves and see the fleet
through the bus. SIGTERM or SIGINT stops it cleanly (ownership released at once).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from mission.app import bus_node, follow_database, link_config
from mission.db import Database
from mission.fleet.commands import owner_handler
from mission.fleet.networks import DroneNetworks
from mission.fleet.service import FleetService
from mission.recording.service import RecordingService
from mission.safety import SafetyLimits
from mission.settings import Settings
from mission.shutdown import bounded, stop_tasks
from telemetry.hub import TelemetryHub
from telemetry.link import FleetLink

log = logging.getLogger(__name__)


async def run_worker(settings: Settings, shard: str, drones: tuple[str, ...],
                     stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set (or SIGTERM/SIGINT when `stop` is None)."""
    if not settings.bus_url:
        raise ValueError("a link worker needs NAZORAT_BUS_URL")
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    db = Database(settings.effective_database_url)
    await db.start()
    hub = TelemetryHub()
    link = FleetLink(hub, link_config(settings))
    bus = bus_node(settings)
    recording = RecordingService(db, hub, interval_s=settings.track_interval_s)
    tasks: list[asyncio.Task[Any]] = []
    try:
        await bus.start()
        await link.start()
        fleet = FleetService(db, link, shard=shard, sharded=True,
                             networks=DroneNetworks.parse(settings.drone_networks))
        await fleet.startup(drones)
        # The interlocks again, here where the vehicle is linked: a command on the bus is only
        # as good as the replica that sent it.
        safety = SafetyLimits(db, hub, max_altitude_m=settings.max_altitude_m,
                              rtl_alt_m=settings.rtl_alt_m)
        await bus.serve_link(link, owner_handler(link, check=safety))
        tasks.append(asyncio.create_task(recording.run(), name="recorder"))
        tasks.append(asyncio.create_task(follow_database(fleet), name="fleet-reconcile"))
        ids = sorted(v.vehicle_id for v in link.vehicles())
        print(f"nazorat link-worker: shard {shard!r}, node {bus.node}, drones {ids}", flush=True)
        await stop.wait()
    finally:  # bounded like the service's own stop (mission/shutdown.py)
        await stop_tasks(tasks, 5.0)
        await bounded("the bus", bus.close(), 5.0)
        hub.close()
        await bounded("the fleet link", link.stop(), 12.0)
        await bounded("the database", db.stop(), 5.0)
