"""The telemetry hub: latest state per vehicle, change notifications and events, per-vehicle topics.

Publishing never waits for anyone. Each subscriber owns a mailbox with bounded memory:
- states: one slot per vehicle, latest wins (a subscriber that falls behind gets the newest state
  when it catches up, not a backlog of stale ones);
- events: a ring buffer of `max_events`; when full the oldest is dropped and counted, so the
  subscriber can tell its client that it missed some;
- domain events (missions, incidents: `DomainEvent`), only for a subscriber that asked for them
  (`domain=True`; the mission tracker does not, and pays nothing for them): one slot per
  object, latest wins, at most `max_domain` objects; beyond that the oldest pending one is
  dropped and counted, and the client is told to fetch afresh.
Manned traffic (`publish_traffic`) goes into one `TrafficPicture` (telemetry/traffic.py) that
readers look at when they choose (the stream at 1 Hz, the conflict monitor): a picture, not a
backlog of reports.
A subscriber that is slow, stuck or has crashed therefore costs the link one dict store and one
deque append per change, whatever it does. Everything here runs on the event loop thread; the
link hands data over from MAVSDK's thread before it reaches the hub.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from types import TracebackType

from telemetry.state import DomainEvent, VehicleEvent, VehicleState
from telemetry.traffic import DEFAULT_STALE_S, TrafficPicture, TrafficReport


class Subscription:
    """One subscriber's mailbox. Use as a context manager so it is always unsubscribed.

    `vehicles` None means the whole fleet (and vehicles added later); otherwise only those ids.
    """

    def __init__(
        self, hub: TelemetryHub, vehicles: frozenset[int] | None, max_events: int,
        domain: bool = False, max_domain: int = 512,
    ) -> None:
        self._hub = hub
        self.vehicles = vehicles
        self.domain = domain
        self._states: dict[int, VehicleState] = {}
        self._removed: set[int] = set()
        self._events: deque[VehicleEvent] = deque(maxlen=max(1, max_events))
        self.dropped_events = 0
        # insertion-ordered: the oldest pending object first (dropped first when full)
        self._domain: dict[tuple[str, int], DomainEvent] = {}
        self._max_domain = max(1, max_domain)
        self.dropped_domain = 0
        self._changed = asyncio.Event()
        self.closed = False

    # -- producer side (hub only; never blocks) -------------------------------------------------

    def _offer_state(self, state: VehicleState) -> None:
        self._states[state.vehicle_id] = state
        self._removed.discard(state.vehicle_id)
        self._signal()

    def _offer_event(self, event: VehicleEvent) -> None:
        if len(self._events) == self._events.maxlen:
            self.dropped_events += 1
        self._events.append(event)
        self._signal()

    def _offer_domain(self, event: DomainEvent) -> None:
        slot = (event.kind, event.key)
        if self._domain.pop(slot, None) is None and len(self._domain) >= self._max_domain:
            del self._domain[next(iter(self._domain))]
            self.dropped_domain += 1
        self._domain[slot] = event
        self._signal()

    def _offer_domain_lost(self, count: int) -> None:
        self.dropped_domain += count
        self._signal()

    def _offer_removed(self, vehicle_id: int) -> None:
        self._states.pop(vehicle_id, None)
        self._removed.add(vehicle_id)
        self._signal()

    def _signal(self) -> None:
        if not self._changed.is_set():
            self._changed.set()

    # -- consumer side --------------------------------------------------------------------------

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until something is pending (True) or `timeout` passes (False).

        Returns at once when the subscription or the hub is closed.
        """
        if self.closed:
            return False
        if not self._changed.is_set():
            try:
                async with asyncio.timeout(timeout):
                    await self._changed.wait()
            except TimeoutError:
                return False
        self._changed.clear()
        return not self.closed

    def wake(self) -> None:
        """Make a pending or the next `wait()` return (used for pacing timers)."""
        self._signal()

    def pending_states(self) -> int:
        return len(self._states)

    def take_states(self) -> dict[int, VehicleState]:
        """All pending latest states, by vehicle id; the mailbox is emptied."""
        states, self._states = self._states, {}
        return states

    def take_due(
        self, now: float, next_allowed: dict[int, float], interval: float,
        positions: dict[int, tuple[int | None, float]] | None = None, early: float = 0.0,
    ) -> tuple[list[VehicleState], float | None]:
        """Pop the states whose vehicle may be sent again at `now` (per-vehicle rate limit).

        `next_allowed` is the caller's per-vehicle schedule and is updated for what is returned.
        With `positions` (per vehicle: the position sample last sent and when its next one may
        go), a state carrying a new position sample is paced on positions alone and may go
        `early` seconds before its slot; other changes wait for the general slot. Otherwise a
        status message (there are about three for every position) takes the slot and the new
        position waits up to a whole interval: measured as 0-200 ms of added age at 5 Hz.
        Returns the due states and the earliest time a still-pending one becomes due (or None).
        """
        due: list[VehicleState] = []
        earliest: float | None = None
        for vid in list(self._states):
            state = self._states[vid]
            tb = state.position_time_boot_ms
            last = positions.get(vid) if positions is not None else None
            fresh = positions is not None and tb is not None and (last is None or last[0] != tb)
            if fresh:
                at = (last[1] if last is not None else 0.0) - early
            else:
                at = next_allowed.get(vid, 0.0)
            if at <= now:
                due.append(self._states.pop(vid))
                next_allowed[vid] = now + interval
                if positions is not None and fresh:
                    positions[vid] = (tb, now + interval)
            elif earliest is None or at < earliest:
                earliest = at
        return due, earliest

    def take_events(self) -> tuple[list[VehicleEvent], int]:
        """Pending events (oldest first) and how many were dropped since the last call."""
        events = list(self._events)
        self._events.clear()
        dropped, self.dropped_events = self.dropped_events, 0
        return events, dropped

    def take_domain(self) -> tuple[list[DomainEvent], int]:
        """Pending domain events, the latest per object, in the order the objects last changed,
        and how many changes were lost since the last call (pending objects pushed out, or
        changes the producer could not describe: the client should fetch afresh)."""
        events = list(self._domain.values())
        self._domain.clear()
        dropped, self.dropped_domain = self.dropped_domain, 0
        return events, dropped

    def take_removed(self) -> set[int]:
        removed, self._removed = self._removed, set()
        return removed

    def close(self) -> None:
        """Unsubscribe; pending data is discarded and waiters return."""
        if not self.closed:
            self.closed = True
            self._hub._unsubscribe(self)
            self._changed.set()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class TelemetryHub:
    """Latest `VehicleState` per vehicle plus fan-out of changes and events to subscribers."""

    def __init__(self, traffic_stale_s: float = DEFAULT_STALE_S) -> None:
        self.traffic = TrafficPicture(stale_s=traffic_stale_s)
        self._latest: dict[int, VehicleState] = {}
        self._all: set[Subscription] = set()
        self._by_vehicle: dict[int, set[Subscription]] = {}
        self._domain_subs: set[Subscription] = set()
        self.published_states = 0
        self.published_events = 0
        self.published_domain = 0
        self._closed = False

    # -- producer API (the link) ----------------------------------------------------------------

    def publish(self, state: VehicleState) -> None:
        """Record `state` as the latest for its vehicle and notify subscribers of that topic."""
        self._latest[state.vehicle_id] = state
        self.published_states += 1
        for sub in self._all:
            sub._offer_state(state)
        for sub in self._by_vehicle.get(state.vehicle_id, ()):
            sub._offer_state(state)

    def publish_many(self, states: Iterable[VehicleState]) -> None:
        for state in states:
            self.publish(state)

    def publish_event(self, event: VehicleEvent) -> None:
        self.published_events += 1
        for sub in self._all:
            sub._offer_event(event)
        for sub in self._by_vehicle.get(event.vehicle_id, ()):
            sub._offer_event(event)

    def publish_traffic(self, report: TrafficReport) -> None:
        """A report about another aircraft (a drone's ADS-B receiver, a ground receiver)."""
        self.traffic.update(report)

    def publish_domain(self, event: DomainEvent) -> None:
        """Offer a changed object to the subscribers that asked for domain events."""
        self.published_domain += 1
        for sub in self._domain_subs:
            sub._offer_domain(event)

    def domain_lost(self, count: int) -> None:
        """The producer had `count` changes it could not send one by one (too many at once):
        every domain subscriber is told to fetch afresh."""
        for sub in self._domain_subs:
            sub._offer_domain_lost(count)

    def remove_vehicle(self, vehicle_id: int) -> None:
        """Forget a vehicle (it was deleted from the fleet) and tell its subscribers."""
        if self._latest.pop(vehicle_id, None) is None:
            return
        for sub in self._all:
            sub._offer_removed(vehicle_id)
        for sub in self._by_vehicle.get(vehicle_id, ()):
            sub._offer_removed(vehicle_id)

    # -- consumer API ---------------------------------------------------------------------------

    def latest(self, vehicle_id: int) -> VehicleState | None:
        return self._latest.get(vehicle_id)

    def snapshot(self, vehicles: frozenset[int] | None = None) -> dict[int, VehicleState]:
        """Latest state of every vehicle (or of `vehicles`), a consistent copy."""
        if vehicles is None:
            return dict(self._latest)
        return {vid: s for vid, s in self._latest.items() if vid in vehicles}

    def subscribe(
        self, vehicles: Iterable[int] | None = None, *, max_events: int = 256,
        domain: bool = False, max_domain: int = 512,
    ) -> Subscription:
        """Open a mailbox for the whole fleet (`vehicles` None) or for the given vehicle ids;
        with `domain`, also for every domain event (they are not per vehicle)."""
        topic = None if vehicles is None else frozenset(vehicles)
        sub = Subscription(self, topic, max_events, domain, max_domain)
        if self._closed:
            sub.closed = True
            return sub
        if domain:
            self._domain_subs.add(sub)
        if topic is None:
            self._all.add(sub)
        else:
            for vid in topic:
                self._by_vehicle.setdefault(vid, set()).add(sub)
        return sub

    @property
    def subscriber_count(self) -> int:
        return len(self._all) + len({s for subs in self._by_vehicle.values() for s in subs})

    def _unsubscribe(self, sub: Subscription) -> None:
        self._all.discard(sub)
        self._domain_subs.discard(sub)
        if sub.vehicles is not None:
            for vid in sub.vehicles:
                subs = self._by_vehicle.get(vid)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._by_vehicle[vid]

    def close(self) -> None:
        """Close every subscription (their waiters return) and refuse new ones."""
        self._closed = True
        subs = set(self._all) | self._domain_subs \
            | {s for group in self._by_vehicle.values() for s in group}
        for sub in subs:
            sub.close()
