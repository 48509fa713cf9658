"""Follows every drone this process owns that is flying a mission leg, from what the drone
itself reports.

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

The database is the truth, not this process. Whichever process owns a drone (its link, or its
lease: mission/fleet/ownership.py) follows its leg, whoever dispatched it: each batch of
reports re-reads the drone's leg under way from the database, and every decision that changes
something is taken again inside the transaction that stores it, on the row as it is then
(locked on PostgreSQL), so a pause or recall stored meanwhile by another replica is never
overwritten by an older view. Kept here only is what this process saw the drone do on the
leg (took off, reported the mission complete): a new owner learns it again from the drone.

When this process acquires a drone (a restart, or a takeover from an owner that died), its
leg is reattached (lifecycle.Reattached): followed again from what the drone reports, so
nothing flown meanwhile is lost, because the drone's mission state (current item, complete)
says how far it got; a leg whose dispatch was cut off is settled from whether the drone is in
the air.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlmodel import Session

from mission.camera.footprint import footprint_of
from mission.clock import utcnow
from mission.db import Database
from mission.missions import lifecycle, lifecycle_store, store
from mission.missions.lifecycle import (
    Event,
    ItemReached,
    LegView,
    Reattached,
    Telemetry,
    VehicleNote,
)
from mission.missions.models import ACTIVE_LEG, FINAL_LEG, LegStatus, MissionLeg, MissionTarget
from telemetry.hub import Subscription, TelemetryHub
from telemetry.state import EventKind, LinkState, VehicleEvent, VehicleState

log = logging.getLogger(__name__)

LOGGED_EVENTS = {EventKind.LINK_LOST, EventKind.LINK_RESTORED, EventKind.STATUSTEXT,
                 EventKind.BATTERY_LOW, EventKind.MODE_CHANGED}
IDLE_WAIT_S = 0.5  # a drone acquired while silent is reattached within this
# Reports of owned drones on no leg, disarmed on the ground, are read against the database at
# most this often (a leg dispatched meanwhile is found within it): an idle fleet costs two
# reads a second, not one per report. A drone on a leg or armed, or an event, is read at once,
# so a take-off is never merged away into a later landing.
IDLE_READ_S = 0.5
# A batch that could not be read against the database (PostgreSQL restarting, a network
# blip) is tried again after this, with its events and reports kept, instead of at the next
# report (every few ms with a fleet in the air: a flood of tracebacks and connection attempts
# while the database is away, and the drone's events of that moment lost).
RETRY_S = 0.5
MAX_UNREAD_EVENTS = 2000
FAILURE_LOG_EVERY_S = 10.0


@dataclass(frozen=True)
class _Seen:
    """What this process saw a drone do on one revision of one leg (lifecycle.LegView's
    `flew`, `complete`, `orphaned`, `camera`): not stored, because any new owner learns it
    again from the drone (Reattached, and its next reports)."""

    leg_id: int
    revision: int
    flew: bool = False
    complete: bool = False
    orphaned: bool = False
    camera: bool = False

    @classmethod
    def of(cls, leg_id: int, revision: int, view: LegView) -> _Seen:
        return cls(leg_id, revision, view.flew, view.complete, view.orphaned, view.camera)


@dataclass
class _Leg:
    """A followed leg for one batch: where it is stored and the lifecycle's view of it."""

    leg_id: int
    mission_id: int
    revision: int
    view: LegView
    ended: bool = False  # ended by another process meanwhile: followed no further
    dispatcher_gone: bool = False  # dispatching, and its dispatcher answers for it no more


def _view(leg: MissionLeg, targets: Sequence[MissionTarget], seen: _Seen | None,
          requires_footprint: bool) -> LegView:
    """The lifecycle's view of the stored leg, with what this process saw on it (nothing for
    a leg or re-task it has not followed yet)."""
    assert leg.id is not None
    if seen is None or (seen.leg_id, seen.revision) != (leg.id, leg.revision):
        seen = _Seen(leg.id, leg.revision)
    view = lifecycle_store.view_of(leg, targets, flew=seen.flew)
    return replace(view, complete=seen.complete, camera=seen.camera,
                   orphaned=seen.orphaned or _dispatcher_gone(leg, deadline_only=True),
                   requires_footprint=requires_footprint)


def _dispatcher_gone(leg: MissionLeg, *, deadline_only: bool = False) -> bool:
    """A dispatching leg whose dispatcher no longer answers for it: its deadline has passed
    (or, unless `deadline_only`, it has none: dispatched before deadlines existed, judged as
    a restart would)."""
    if leg.status != LegStatus.DISPATCHING:
        return False
    if leg.dispatch_until is None:
        return not deadline_only
    return leg.dispatch_until <= utcnow()


def _leg_targets(s: Session, leg: MissionLeg) -> list[MissionTarget]:
    return [t for t in store.targets(s, leg.mission_id) if t.drone_id == leg.drone_id]


def _idle(st: VehicleState) -> bool:
    return not st.armed and st.landed_state in ("on_ground", "unknown")


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
    """Implements `DroneOwnership` (mission/fleet/ownership.py): it follows the legs of the
    drones it is told this process owns, and only those."""

    def __init__(self, db: Database, hub: TelemetryHub, *,
                 observe_requires_footprint: bool = True) -> None:
        self.db = db
        self.hub = hub
        # a drone that reports a camera observes a target only once it is in the image
        # (NAZORAT_OBSERVE_REQUIRES_FOOTPRINT); one without keeps the waypoint rule
        self.observe_requires_footprint = observe_requires_footprint
        self._owned: dict[int, int] = {}  # drone id -> ownership token
        self._arrived: set[int] = set()  # acquired; its leg, if any, to be reattached
        self._seen: dict[int, _Seen] = {}  # by drone id, for drones on a leg at the last read
        self._held: dict[int, VehicleState] = {}  # latest reports not read against a leg yet
        self._unread: list[VehicleEvent] = []  # events of a batch whose read failed
        self._next_failure_log = 0.0
        self._next_idle_read = 0.0
        self._sub: Subscription | None = None
        self._lock = asyncio.Lock()

    # -- ownership (DroneOwnership) ------------------------------------------------------------

    def on_acquired(self, drone_id: int, token: int) -> None:
        """This process now owns the drone: its leg under way, if any, is reattached on the
        tracker's task (at once, or within IDLE_WAIT_S)."""
        if drone_id in self._owned:
            self._owned[drone_id] = token
            return
        self._owned[drone_id] = token
        self._arrived.add(drone_id)
        if self._sub is not None:
            self._sub.wake()

    def on_released(self, drone_id: int) -> None:
        """Another process owns the drone now (or nobody): its reports are no longer ours to
        judge; what was seen on its leg is forgotten (the next owner learns it again)."""
        self._owned.pop(drone_id, None)
        self._arrived.discard(drone_id)
        self._seen.pop(drone_id, None)
        self._held.pop(drone_id, None)

    def owned(self) -> dict[int, int]:
        """drone id -> ownership token, for every drone this process owns."""
        return dict(self._owned)

    # -- running --------------------------------------------------------------------------------

    async def run(self) -> None:
        with self.hub.subscribe(max_events=2000) as sub:
            self._sub = sub
            try:
                await self._process(list(self.hub.snapshot().values()), [])
                while True:
                    await sub.wait(IDLE_WAIT_S)
                    states = list(sub.take_states().values())
                    events, _ = sub.take_events()
                    try:
                        await self._process(states, events)
                    except Exception as e:
                        self._failed(e)
                        await asyncio.sleep(RETRY_S)
            finally:
                self._sub = None

    def _failed(self, e: Exception) -> None:
        """Logged with its traceback at most every FAILURE_LOG_EVERY_S (a database away fails
        every batch until it is back), else in one line."""
        now = time.monotonic()
        if now >= self._next_failure_log:
            self._next_failure_log = now + FAILURE_LOG_EVERY_S
            log.error("mission tracking failed for one batch (tried again every %g s; "
                      "repeats logged in one line for %g s)", RETRY_S, FAILURE_LOG_EVERY_S,
                      exc_info=e)
        else:
            log.warning("mission tracking failed again: %s: %s", type(e).__name__,
                        str(e).splitlines()[0] if str(e) else "")

    async def _process(self, states: Sequence[VehicleState],
                       events: Sequence[VehicleEvent]) -> None:
        if self._unread:
            events, self._unread = [*self._unread, *events], []
        owned = self._owned
        self._held.update((st.vehicle_id, st) for st in states if st.vehicle_id in owned)
        events = [ev for ev in events if ev.vehicle_id in owned]
        if not (self._held or events or self._arrived):
            return
        now = asyncio.get_running_loop().time()
        if now < self._next_idle_read and not (events or self._arrived) \
                and all(_idle(st) and st.vehicle_id not in self._seen
                        for st in self._held.values()):
            return  # only idle drones on no leg: kept (latest wins) for the next read
        self._next_idle_read = now + IDLE_READ_S
        states = [st for st in self._held.values() if st.vehicle_id in owned]
        self._held = {}
        async with self._lock:
            arrived, self._arrived = self._arrived & owned.keys(), set()
            drones = arrived | {st.vehicle_id for st in states} | {ev.vehicle_id for ev in events}
            try:
                legs = await self.db.run(lambda s: self._read(s, drones))
            except Exception:
                # database away: nothing of this batch was judged; all of it is judged at the
                # next read (reports: unless a newer one of the drone came meanwhile)
                self._arrived |= arrived
                self._unread = list(events)[-MAX_UNREAD_EVENTS:]
                for st in states:
                    self._held.setdefault(st.vehicle_id, st)
                raise
            for d in drones - legs.keys():
                self._seen.pop(d, None)  # on no leg (any more)
            for d in sorted(arrived):
                w = legs.get(d)
                if w is None:
                    continue
                log.info("reattached mission %s leg of drone %s (%s)", w.mission_id, d,
                         w.view.status)
                try:
                    await self._feed(w, Reattached(w.dispatcher_gone))
                except Exception:
                    log.exception("reattaching drone %s failed; trying again", d)
                    self._arrived.add(d)
                    del legs[d]
            for ev in events:
                w = legs.get(ev.vehicle_id)
                if w is not None:
                    await self._on_event(w, ev)
            for st in states:
                w = legs.get(st.vehicle_id)
                if w is not None:
                    await self._feed(w, _telemetry(st))
            for d, w in legs.items():
                self._remember(d, w)

    def _read(self, s: Session, drones: set[int]) -> dict[int, _Leg]:
        """The leg under way of each of `drones` that has one, as stored now."""
        out: dict[int, _Leg] = {}
        for leg in store.active_legs(s, drones):
            assert leg.id is not None
            out[leg.drone_id] = _Leg(leg.id, leg.mission_id, leg.revision,
                                     _view(leg, _leg_targets(s, leg), self._seen.get(leg.drone_id),
                                           self.observe_requires_footprint),
                                     dispatcher_gone=_dispatcher_gone(leg))
        return out

    def _remember(self, drone_id: int, w: _Leg) -> None:
        if w.ended or w.view.status in FINAL_LEG or drone_id not in self._owned:
            self._seen.pop(drone_id, None)
            return
        self._seen[drone_id] = _Seen.of(w.leg_id, w.revision, w.view)

    async def _on_event(self, w: _Leg, ev: VehicleEvent) -> None:
        if ev.kind == EventKind.MISSION_ITEM_REACHED:
            await self._feed(w, ItemReached(int(ev.data.get("seq", 0))))
        elif ev.kind in LOGGED_EVENTS:
            await self._feed(w, VehicleNote(ev.kind.value, ev.message, dict(ev.data)))

    async def _feed(self, w: _Leg, event: Event) -> None:
        """Run `event` through the lifecycle; when it changes something, decide again on the
        leg as stored at that moment, in the transaction that stores the outcome."""
        if w.ended or w.view.status in FINAL_LEG:
            return
        out = lifecycle.step(w.view, event)
        if not out.effects:
            w.view = out.leg
            return
        before = w.view

        def tx(s: Session) -> tuple[LegView | None, int]:
            leg = s.get(MissionLeg, w.leg_id, with_for_update=True)
            if leg is None or leg.status not in ACTIVE_LEG:
                return None, 0  # ended meanwhile (by another process): nothing to do
            seen = _Seen.of(w.leg_id, w.revision, before)
            fresh = lifecycle.step(_view(leg, _leg_targets(s, leg), seen,
                                         self.observe_requires_footprint), event)
            lifecycle_store.apply(s, leg, fresh, "system")  # incidents observed with it
            return fresh.leg, leg.revision

        view, revision = await self.db.run(tx)
        if view is None:
            w.ended = True
            return
        w.view, w.revision = view, revision
