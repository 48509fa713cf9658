"""Follows every drone that is flying a mission leg, from what the drone itself reports.

A hub subscriber (like the recorder): MISSION_ITEM_REACHED events and the MISSION_CURRENT item
mark targets observed (and their incidents `observed`, by that drone, at that time); reaching the
final RTL/LAND item means the drone is returning; landing and disarming ends the leg, completed
when the vehicle says the mission was flown to its end, failed (with where it stopped) when not.
When every leg has ended, the mission ends.

State lives in the database; the in-memory view is rebuilt from it at startup, so after a
service restart the legs still in the air are reattached and followed from what the drones
report once their links come back: nothing flown while the service was down is lost, because
the drone's mission state (current item, complete) says how far it got.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from mission.db import Database
from mission.fleet.models import utcnow
from mission.incidents.models import Status
from mission.incidents.service import IncidentService
from mission.missions import store
from mission.missions.incident_flow import advance_incident
from mission.missions.models import (
    FINAL_LEG,
    LegStatus,
    MissionLeg,
    MissionStatus,
    MissionTarget,
)
from telemetry.hub import TelemetryHub
from telemetry.state import EventKind, LinkState, VehicleEvent, VehicleState

log = logging.getLogger(__name__)

ACTIVE = (LegStatus.DISPATCHING, LegStatus.FLYING, LegStatus.PAUSED, LegStatus.RETURNING)
MISSION_STATE_COMPLETE = 5
LOGGED_EVENTS = {EventKind.LINK_LOST, EventKind.LINK_RESTORED, EventKind.STATUSTEXT,
                 EventKind.BATTERY_LOW, EventKind.MODE_CHANGED}


@dataclass
class _Target:
    row_id: int
    key: str
    first_seq: int
    incident_ids: list[int]
    observed: bool


@dataclass
class _Leg:
    leg_id: int
    mission_id: int
    drone_id: int
    status: LegStatus
    last_item_seq: int
    current_seq: int
    targets: list[_Target] = field(default_factory=list)
    flew: bool = False
    complete: bool = False
    recalled: bool = False


def _watched(leg: MissionLeg, targets: Iterable[MissionTarget], flew: bool) -> _Leg:
    assert leg.id is not None
    return _Leg(
        leg.id, leg.mission_id, leg.drone_id, LegStatus(leg.status), leg.last_item_seq,
        leg.current_seq,
        [_Target(t.id, t.key, t.first_seq, list(t.incident_ids), t.observed_at is not None)
         for t in targets if t.id is not None and t.first_seq is not None
         and not t.dropped_reason],
        flew=flew, recalled=leg.reason.startswith("recalled"),
    )


class MissionTracker:
    def __init__(self, db: Database, hub: TelemetryHub) -> None:
        self.db = db
        self.hub = hub
        self.incidents = IncidentService(db)
        self._legs: dict[int, _Leg] = {}  # by drone id
        self._lock = asyncio.Lock()

    # -- the service tells the tracker --------------------------------------------------------

    def busy_drones(self) -> dict[int, int]:
        """drone id -> mission id for every drone on an unfinished leg."""
        return {d: w.mission_id for d, w in self._legs.items()}

    def watch(self, leg: MissionLeg, targets: Sequence[MissionTarget]) -> None:
        self._legs[leg.drone_id] = _watched(leg, targets, flew=False)

    def unwatch(self, drone_id: int) -> None:
        self._legs.pop(drone_id, None)

    def leg_status_changed(self, leg_id: int, status: LegStatus) -> None:
        for d, w in list(self._legs.items()):
            if w.leg_id == leg_id:
                if status in FINAL_LEG:
                    del self._legs[d]
                else:
                    w.status = status
                    w.recalled = w.recalled or status == LegStatus.RETURNING
                return

    # -- running --------------------------------------------------------------------------------

    async def load(self) -> None:
        """Reattach to the legs that were in the air when the service last stopped."""
        def q(s: Session) -> list[_Leg]:
            legs = s.exec(select(MissionLeg).where(
                col(MissionLeg.status).in_([x.value for x in ACTIVE])).order_by(col(MissionLeg.id)))
            out = []
            for leg in legs:
                targets = [t for t in store.targets(s, leg.mission_id)
                           if t.drone_id == leg.drone_id]
                out.append(_watched(leg, targets, flew=leg.status != LegStatus.DISPATCHING))
            return out

        for w in await self.db.run(q):
            self._legs[w.drone_id] = w
            log.info("reattached mission %s leg of drone %s (%s)", w.mission_id, w.drone_id,
                     w.status)
            await self._log(w, "reattached",
                            f"service restarted; following drone {w.drone_id} again "
                            f"(leg {w.status.value}, at item {w.current_seq})")

    async def run(self) -> None:
        with self.hub.subscribe(max_events=2000) as sub:
            await self._process(list(self.hub.snapshot().values()), [])
            while True:
                await sub.wait(1.0)
                states = list(sub.take_states().values())
                events, _ = sub.take_events()
                if states or events:
                    try:
                        await self._process(states, events)
                    except Exception:
                        log.exception("mission tracking failed for one batch")

    async def _process(self, states: Sequence[VehicleState],
                       events: Sequence[VehicleEvent]) -> None:
        async with self._lock:
            for ev in events:
                w = self._legs.get(ev.vehicle_id)
                if w is not None:
                    await self._on_event(w, ev)
            for st in states:
                w = self._legs.get(st.vehicle_id)
                if w is not None:
                    await self._on_state(w, st)

    async def _on_event(self, w: _Leg, ev: VehicleEvent) -> None:
        if ev.kind == EventKind.MISSION_ITEM_REACHED and w.status != LegStatus.DISPATCHING:
            seq = int(ev.data.get("seq", 0))
            if seq >= w.last_item_seq > 0:
                w.complete = True
            await self._passed(w, seq, inclusive=True)
        elif ev.kind in LOGGED_EVENTS:
            data: dict[str, Any] = dict(ev.data)
            await self._log(w, ev.kind.value, ev.message, **data)

    async def _on_state(self, w: _Leg, st: VehicleState) -> None:
        if st.link is not LinkState.UP:
            return
        if st.armed and st.landed_state in ("in_air", "takeoff", "landing"):
            w.flew = True
        if w.status == LegStatus.DISPATCHING:
            return  # the dispatcher owns the leg until the take-off succeeded
        if st.mission_state == MISSION_STATE_COMPLETE and w.flew:
            w.complete = True
        cur = st.mission_current or 0
        if st.mode == "AUTO" and cur > w.current_seq:
            await self._passed(w, cur, inclusive=False)
        if w.flew and not st.armed and st.landed_state in ("on_ground", "unknown"):
            await self._finish(w, st)

    async def _passed(self, w: _Leg, seq: int, *, inclusive: bool) -> None:
        """The drone is at item `seq` (MISSION_CURRENT) or has reached it (inclusive)."""
        now = utcnow()
        newly = [t for t in w.targets if not t.observed
                 and (t.first_seq <= seq if inclusive else t.first_seq < seq)]
        for t in newly:
            t.observed = True
        returning = (seq >= w.last_item_seq and w.status == LegStatus.FLYING)
        if returning:
            w.status = LegStatus.RETURNING
        if seq > w.current_seq:
            w.current_seq = seq

        def tx(s: Session) -> None:
            leg = s.get(MissionLeg, w.leg_id)
            if leg is None:
                return
            leg.current_seq = max(leg.current_seq, seq)
            if returning:
                store.set_leg_status(s, leg, LegStatus.RETURNING, actor="system")
                store.log(s, w.mission_id, "system", "returning", "last item: flying home",
                          w.drone_id)
            s.add(leg)
            for t in newly:
                row = s.get(MissionTarget, t.row_id)
                if row is not None and row.observed_at is None:
                    row.observed_at, row.observed_by = now, w.drone_id
                    s.add(row)
                    store.log(s, w.mission_id, f"drone:{w.drone_id}", "observed",
                              f"{row.label or row.key} observed", w.drone_id, seq=seq)

        await self.db.run(tx)
        for t in newly:
            for inc_id in t.incident_ids:
                await advance_incident(self.incidents, inc_id, Status.OBSERVED,
                                       f"drone:{w.drone_id}",
                                       f"observed by drone {w.drone_id} on mission "
                                       f"{w.mission_id}")

    async def _finish(self, w: _Leg, st: VehicleState) -> None:
        """The drone has landed and disarmed: end its leg, and the mission if it was the last."""
        if w.recalled and not w.complete:
            status, reason = LegStatus.ABORTED, "recalled; landed"
        elif w.complete or w.current_seq >= w.last_item_seq:
            status, reason = LegStatus.COMPLETED, ""
            await self._passed(w, w.last_item_seq, inclusive=True)
        else:
            status = LegStatus.FAILED
            reason = (f"landed and disarmed at item {w.current_seq} of {w.last_item_seq} "
                      f"in {st.mode}")
        self._legs.pop(w.drone_id, None)

        def tx(s: Session) -> None:
            leg = s.get(MissionLeg, w.leg_id)
            if leg is None:
                return
            store.set_leg_status(s, leg, status, actor="system", reason=reason or None)
            leg.finished_at = utcnow()
            store.log(s, w.mission_id, "system", f"leg_{status.value}",
                      f"drone {w.drone_id}: {reason or 'route flown, landed'}", w.drone_id)
            _settle_mission(s, w.mission_id)

        await self.db.run(tx)

    async def _log(self, w: _Leg, kind: str, message: str, **data: Any) -> None:
        await self.db.run(lambda s: store.log(s, w.mission_id, "system", kind, message,
                                              w.drone_id, **data))


def _settle_mission(s: Session, mission_id: int) -> None:
    """End the mission once no leg is still going."""
    m = store.load(s, mission_id)
    legs = store.legs(s, mission_id)
    if any(leg.status not in FINAL_LEG for leg in legs):
        return
    statuses = {LegStatus(leg.status) for leg in legs}
    if m.status in (MissionStatus.COMPLETED, MissionStatus.FAILED):
        return
    if statuses == {LegStatus.COMPLETED}:
        final, reason = MissionStatus.COMPLETED, ""
    elif LegStatus.FAILED in statuses:
        final = MissionStatus.FAILED
        reason = "; ".join(f"drone {leg.drone_id}: {leg.reason}" for leg in legs
                           if leg.status == LegStatus.FAILED)
    else:
        final, reason = MissionStatus.ABORTED, m.reason or "recalled"
    store.set_status(s, m, final, reason, actor="system")
    m.finished_at = utcnow()
    store.log(s, mission_id, "system", final.value, reason or "every drone landed")
