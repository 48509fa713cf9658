"""`nazorat link-worker`: the vehicle link for a shard of the fleet, in its own process.

It links the stored drones whose `shard` is its own (and registers and links any `--drones`
URLs, stored with that shard unless stored already, in which case they are linked whatever
their shard), follows the shared database for drones added or deleted through a service's API,
publishes their telemetry on the bus, announces that it owns them, runs the commands sent to it
(validated, checked and recorded by the service that took the request; authenticated, validated
and checked against the interlocks again here before they run), records their tracks
and events, and drives their mission legs (the mission tracker: progress, observations,
completion, reattached from the database when it takes a drone over), announcing what it
stores on the bus so that every replica's consoles show it. Services in
`NAZORAT_LINK_MODE=workers` link nothing themselves and see the fleet through the bus. SIGTERM
or SIGINT stops it cleanly (ownership released at once).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from mission.runtime.links import LinkSide
from mission.settings import Settings

log = logging.getLogger(__name__)


async def run_worker(settings: Settings, shard: str, drones: tuple[str, ...],
                     stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set (or SIGTERM/SIGINT when `stop` is None). The vehicle side of the
    runtime (mission/runtime/links.py), without the service's API, planning or web framework."""
    if not settings.bus_url:
        raise ValueError("a link worker needs NAZORAT_BUS_URL")
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    side = LinkSide(settings, shard=shard, sharded=True)
    try:
        await side.open()
        await side.join_bus(mirror=False)
        side.announce_commits()
        await side.start_link(drones)
        assert side.bus is not None
        ids = sorted(v.vehicle_id for v in side.link.vehicles())
        print(f"nazorat link-worker: shard {shard!r}, node {side.bus.node}, drones {ids}",
              flush=True)
        await stop.wait()
    finally:  # bounded like the service's own stop (mission/shutdown.py)
        await side.stop()
