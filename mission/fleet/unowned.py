"""Stored drones that no process links: shown `lost`, with the reason, in a replica's hub.

A drone whose owner stops is shown lost by the bus mirror (telemetry/bus.py) from the state it
last had. A drone that no running process has linked since this one started (its shard's link
worker is down and no process's NAZORAT_LINK_REACH covers it) has no state at all, and the API
would show `state: null` as if nothing were wrong. This watcher gives it one: link `lost`, with
`link_reason` saying that no process holds its link lease, once nobody has held the lease for
`grace_s` (two lease TTLs: long enough for its owner or a takeover to link it). A process that
links it later replaces this state with the real one (the mirror); a drone deleted from the
database is removed from the hub again.
"""

from __future__ import annotations

import asyncio
import logging
import time

from mission.fleet.service import FleetService
from telemetry.hub import TelemetryHub
from telemetry.lease import LeaseTable
from telemetry.state import LinkState, VehicleState

log = logging.getLogger(__name__)

REASON = ("no process holds its link lease: none of the running processes links this drone "
          "(its shard's process is down, and no process's NAZORAT_LINK_REACH covers it)")


class UnownedDrones:
    def __init__(self, fleet: FleetService, hub: TelemetryHub, leases: LeaseTable, *,
                 grace_s: float, period_s: float = 2.0) -> None:
        self.fleet = fleet
        self.hub = hub
        self.leases = leases
        self.grace_s = grace_s
        self.period_s = period_s
        self._free_since: dict[int, float] = {}
        self._shown: set[int] = set()

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception as e:  # noqa: BLE001 - Redis or the database away: next pass
                log.warning("unowned drones check failed: %s: %s", type(e).__name__, e)
            await asyncio.sleep(self.period_s)

    async def tick(self) -> list[int]:
        """One pass; returns the drones shown lost by it."""
        drones = [d for d in await self.fleet.stored() if d.id is not None]
        holders = await self.leases.holders([d.id for d in drones if d.id is not None])
        stored = {d.id for d in drones}
        for vid in self._shown - stored:  # deleted: forget the state made here
            st = self.hub.latest(vid)
            if st is not None and st.link_reason == REASON:
                self.hub.remove_vehicle(vid)
        self._shown &= stored
        now = time.monotonic()
        shown: list[int] = []
        for d in drones:
            assert d.id is not None
            if holders.get(d.id) is not None:
                self._free_since.pop(d.id, None)
                continue
            since = self._free_since.setdefault(d.id, now)
            if now - since < self.grace_s or self.hub.latest(d.id) is not None:
                continue
            self.hub.publish(VehicleState(vehicle_id=d.id, sysid=d.sysid or 0, name=d.name,
                                          link=LinkState.LOST, link_reason=REASON,
                                          updated_at=time.time()))
            self._shown.add(d.id)
            shown.append(d.id)
            log.warning("drone %s (%s, shard %r): %s", d.id, d.url, d.shard, REASON,
                        extra={"drone_id": d.id})
        return shown
