"""Follows every drone that is flying a mission leg, from what the drone itself reports.

A hub subscriber (like the recorder): MISSION_ITEM_REACHED events, the MISSION_CURRENT item and
the drone's position at a target while it flies that target's first item (a held item is
reported reached only when the hold ends: lifecycle.ON_STATION_M) mark targets observed (and
their incidents `observed`, by that drone, at that time); reaching the final RTL/LAND item
means the drone is returning; landing and disarming ends the leg, completed when the vehicle
says the mission was flown to its end, failed (with where it stopped) when not.
A drone that reports a camera (CAMERA_FOV_STATUS or GIMBAL_DEVICE_ATTITUDE_STATUS) observes a
target with a position only when the target is inside the camera's footprint on the ground
(mission/camera/footprint.py), not when it reaches the waypoint, unless
NAZORAT_OBSERVE_REQUIRES_FOOTPRINT is off.
When every leg has ended, the mission ends. What each report means is decided by the pure
lifecycle (lifecycle.step); this module only feeds reports in and persists the outcome
(lifecycle_store.apply), so no status is decided here.

State lives in the database; the in-memory view is rebuilt from it at startup, so after a
service restart the legs still in the air are reattached and followed from what the drones
report once their links come back: nothing flown while the service was down is lost, because
the drone's mission state (current item, complete) says how far it got.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlmodel import Session, col, select

from mission.camera.footprint import footprint_of
from mission.db import Database
from mission.incidents.models import Status
from mission.incidents.service import IncidentService
from mission.missions import lifecycle, lifecycle_store, store
from mission.missions.incident_flow import advance_incident
from mission.missions.lifecycle import (
    ACTIVE_LEGS,
    Event,
    ItemReached,
    LegView,
    Reattached,
    TargetView,
    Telemetry,
    VehicleNote,
)
from mission.missions.models import FINAL_LEG, LegStatus, MissionLeg, MissionTarget
from telemetry.hub import TelemetryHub
from telemetry.state import EventKind, LinkState, VehicleEvent, VehicleState

log = logging.getLogger(__name__)

LOGGED_EVENTS = {EventKind.LINK_LOST, EventKind.LINK_RESTORED, EventKind.STATUSTEXT,
                 EventKind.BATTERY_LOW, EventKind.MODE_CHANGED}


@dataclass
class _Leg:
    """A followed leg: where it is stored and the lifecycle's view of it."""

    leg_id: int
    mission_id: int
    view: LegView


def _watched(leg: MissionLeg, targets: Sequence[MissionTarget], flew: bool,
             requires_footprint: bool) -> _Leg:
    assert leg.id is not None
    view = lifecycle_store.view_of(leg, targets, flew=flew)
    return _Leg(leg.id, leg.mission_id, replace(view, requires_footprint=requires_footprint))


def _telemetry(st: VehicleState) -> Telemetry:
    fp = footprint_of(st) if st.camera is not None else None
    return Telemetry(link_up=st.link is LinkState.UP, armed=st.armed,
                     landed_state=st.landed_state, mode=st.mode,
                     mission_state=st.mission_state, mission_current=st.mission_current,
                     lat=st.position.lat if st.position else None,
                     lon=st.position.lon if st.position else None,
                     camera=st.camera is not None,
                     footprint=None if fp is None else fp.corners)


class MissionTracker:
    def __init__(self, db: Database, hub: TelemetryHub, *, incidents: IncidentService,
                 observe_requires_footprint: bool = True) -> None:
        self.db = db
        self.hub = hub
        self.incidents = incidents
        # a drone that reports a camera observes a target only once it is in the image
        # (NAZORAT_OBSERVE_REQUIRES_FOOTPRINT); one without keeps the waypoint rule
        self.observe_requires_footprint = observe_requires_footprint
        self._legs: dict[int, _Leg] = {}  # by drone id
        self._lock = asyncio.Lock()

    # -- the service tells the tracker --------------------------------------------------------

    def busy_drones(self) -> dict[int, int]:
        """drone id -> mission id for every drone on an unfinished leg."""
        return {d: w.mission_id for d, w in self._legs.items()}

    def watch(self, leg: MissionLeg, targets: Sequence[MissionTarget]) -> None:
        self._legs[leg.drone_id] = _watched(leg, targets, flew=False,
                                            requires_footprint=self.observe_requires_footprint)

    def unwatch(self, drone_id: int) -> None:
        self._legs.pop(drone_id, None)

    def leg_status_changed(self, leg_id: int, status: LegStatus) -> None:
        for d, w in list(self._legs.items()):
            if w.leg_id == leg_id:
                if status in FINAL_LEG:
                    del self._legs[d]
                else:
                    w.view = replace(w.view, status=status, recalled=w.view.recalled
                                     or status == LegStatus.RETURNING)
                return

    # -- running --------------------------------------------------------------------------------

    async def load(self) -> None:
        """Reattach to the legs that were in the air when the service last stopped."""
        def q(s: Session) -> list[_Leg]:
            legs = s.exec(select(MissionLeg).where(
                col(MissionLeg.status).in_([x.value for x in ACTIVE_LEGS]))
                .order_by(col(MissionLeg.id)))
            out = []
            for leg in legs:
                targets = [t for t in store.targets(s, leg.mission_id)
                           if t.drone_id == leg.drone_id]
                out.append(_watched(leg, targets, flew=False,
                                    requires_footprint=self.observe_requires_footprint))
            return out

        for w in await self.db.run(q):
            self._legs[w.view.drone_id] = w
            log.info("reattached mission %s leg of drone %s (%s)", w.mission_id,
                     w.view.drone_id, w.view.status)
            await self._feed(w, Reattached())

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
        if ev.kind == EventKind.MISSION_ITEM_REACHED:
            await self._feed(w, ItemReached(int(ev.data.get("seq", 0))))
        elif ev.kind in LOGGED_EVENTS:
            await self._feed(w, VehicleNote(ev.kind.value, ev.message, dict(ev.data)))

    async def _on_state(self, w: _Leg, st: VehicleState) -> None:
        await self._feed(w, _telemetry(st))

    async def _feed(self, w: _Leg, event: Event) -> None:
        """Run `event` through the lifecycle and persist what it decided. The in-memory view
        moves on first, so that a command the service records meanwhile (pause, recall) is not
        overwritten by this older view when the write returns."""
        out = lifecycle.step(w.view, event)
        w.view = out.leg
        if out.leg.status in FINAL_LEG:
            self._legs.pop(out.leg.drone_id, None)
        if out.effects:
            def tx(s: Session) -> list[TargetView]:
                leg = s.get(MissionLeg, w.leg_id)
                if leg is None:
                    return []
                return lifecycle_store.apply(s, leg, out, "system")

            observed = await self.db.run(tx)
        else:
            observed = []
        d = out.leg.drone_id
        for t in observed:
            for inc_id in t.incident_ids:
                await advance_incident(self.incidents, inc_id, Status.OBSERVED, f"drone:{d}",
                                       f"observed by drone {d} on mission {w.mission_id}")
