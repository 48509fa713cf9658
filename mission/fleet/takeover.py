"""Link failover: take the lease of a stored drone nobody holds, then link it here.

Runs in every process that links drones when there is a bus (a service in `inprocess` link
mode, a `nazorat link-worker`). Every `period_s` (0.5 s) it reads which stored drones have no
lease holder (one MGET; the drone list itself is re-read from the database every `db_period_s`)
and, for a drone this process may link, takes the lease (telemetry/lease.py: atomic, a new
fencing token) and links it (FleetService.adopt). Which drones: its own shard's (and its
`--drones`) at once; any other drone covered by NAZORAT_LINK_REACH (mission/fleet/reach.py)
only when its lease was free on the previous pass too, so at a cold start the home process
gets its drones first. A drone whose owner was killed is so taken over within the lease TTL
(NAZORAT_BUS_OWNER_TTL_S, 3 s) plus about one second. There is no failback: the drone stays
with whoever took it until that process stops.

A drone deleted from the database is unlinked here (its lease released by the bus). A drone no
process can reach has no lease: replicas show it `lost` with the reason (telemetry/bus.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from mission.fleet.models import Drone
from mission.fleet.reach import LinkReach
from mission.fleet.service import FleetService
from telemetry.errors import FleetError
from telemetry.lease import BUS_ERRORS, LeaseTable

log = logging.getLogger(__name__)


class Takeover:
    def __init__(self, fleet: FleetService, leases: LeaseTable, reach: LinkReach, *,
                 on_acquired: Callable[[int, int], None],
                 after_tick: Callable[[], None] | None = None, period_s: float = 0.5,
                 db_period_s: float = 2.0) -> None:
        self.fleet = fleet
        self.leases = leases
        self.reach = reach
        self.on_acquired = on_acquired
        self.after_tick = after_tick
        self.period_s = period_s
        self.db_period_s = db_period_s
        self._drones: list[Drone] = []
        self._read_at = float("-inf")
        self._free_before: set[int] = set()
        self._failed: dict[int, str] = {}  # drone -> why linking it failed (logged once)
        self.last_takeover_s: dict[int, float] = {}  # drone -> monotonic time it was taken
        self.passes = 0
        self._next_warning = 0.0

    async def run(self) -> None:
        while True:
            await self.safe_tick()
            await asyncio.sleep(self.period_s)

    async def safe_tick(self) -> None:
        """A pass whose failure (Redis or the database away) is logged at most every 10 s."""
        try:
            await self.tick()
            if self.after_tick is not None:
                self.after_tick()
        except Exception as e:
            now = time.monotonic()
            if now >= self._next_warning:
                self._next_warning = now + 10.0
                log.warning("link takeover pass failed: %s: %s", type(e).__name__, e,
                            exc_info=not isinstance(e, BUS_ERRORS))

    async def tick(self) -> list[int]:
        """One pass; returns the drones taken over in it."""
        now = time.monotonic()
        if now - self._read_at >= self.db_period_s:
            self._drones = await self.fleet.stored()
            self._read_at = now
            stored = {d.id for d in self._drones}
            for v in self.fleet.link.vehicles():
                if v.vehicle_id not in stored:
                    log.info("drone %s is gone from the database: unlinking", v.vehicle_id)
                    await self.fleet.unlink(v.vehicle_id)
        linked = {v.vehicle_id for v in self.fleet.link.vehicles()}
        wanted = [d for d in self._drones if d.id is not None and d.id not in linked
                  and (self.fleet.is_home(d) or self.reach.covers(d))]
        holders = await self.leases.holders([d.id for d in wanted if d.id is not None])
        free_now: set[int] = set()
        taken: list[int] = []
        for d in wanted:
            assert d.id is not None
            if holders.get(d.id) is not None:
                continue
            free_now.add(d.id)
            first = self.fleet.is_home(d) or d.id in self._free_before
            if first and await self._take(d):
                taken.append(d.id)
        self._free_before = free_now
        self.passes += 1
        return taken

    async def _take(self, d: Drone) -> bool:
        assert d.id is not None
        vid = d.id
        self.leases.pending.add(vid)
        try:
            token = await self.leases.acquire(vid)
            if token is None:
                return False  # another process was quicker
            try:
                await self.fleet.adopt(d)
            except FleetError as e:
                await self.leases.release([vid])
                if self._failed.get(vid) != e.message:
                    self._failed[vid] = e.message
                    log.error("drone %s (%s): lease taken but not linked, released: %s",
                              vid, d.url, e.message, extra={"drone_id": vid})
                return False
        finally:
            self.leases.pending.discard(vid)
        self._failed.pop(vid, None)
        self.last_takeover_s[vid] = time.monotonic()
        log.info("drone %s (%s) linked here under lease token %s", vid, d.url, token,
                 extra={"drone_id": vid, "node": self.leases.node})
        self.on_acquired(vid, token)
        return True
