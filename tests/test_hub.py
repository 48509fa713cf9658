"""The telemetry hub and stream pacing: slow or failing subscribers never delay anyone else.

Pure in-process tests (no vehicles): the properties here are about queues and pacing.
"""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from mission.db import Database
from mission.missions.tracker import MissionTracker
from telemetry.hub import TelemetryHub
from telemetry.state import EventKind, GeoPoint, LinkState, VehicleState, make_event
from telemetry.stream import StateEncoder, StreamOptions, StreamSession, parse_options


def state(vid: int, n: int) -> VehicleState:
    return VehicleState(
        vehicle_id=vid, sysid=vid, link=LinkState.UP,
        position=GeoPoint(41.0 + n * 1e-6, 69.0, 455.0), alt_rel=float(n), updated_at=float(n),
    )


def test_stuck_subscriber_has_bounded_memory_and_bounded_queues() -> None:
    """A subscriber that never reads costs a bounded amount however long it sleeps: one pending
    state per vehicle and a capped event ring. (How fast publishing is belongs in benchmarks: a
    wall-clock bound here failed under a loaded CI machine.)"""
    hub = TelemetryHub()
    stuck = hub.subscribe(max_events=50)  # never read
    fresh = hub.subscribe(max_events=50)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for n in range(20_000):
        hub.publish(state(n % 10, n))
        if n % 10 == 0:
            hub.publish_event(make_event(EventKind.STATUSTEXT, n % 10, f"text {n}", severity=4))
    growth = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    # Per vehicle one pending state (latest wins) and a capped event ring, however long it sleeps.
    assert stuck.pending_states() == 10
    events, dropped = stuck.take_events()
    assert len(events) == 50 and dropped == 2000 - 50
    assert events[-1].message == "text 19990"  # the newest are kept
    assert growth < 2_000_000, f"memory grew by {growth} bytes"
    latest = fresh.take_states()
    assert latest[9].alt_rel == 19999.0


async def test_slow_and_failing_consumers_do_not_delay_a_fast_one() -> None:
    hub = TelemetryHub()
    got: list[float] = []

    async def fast() -> None:
        with hub.subscribe([1]) as sub:
            while len(got) < 50:
                await sub.wait(1.0)
                got.extend(s.alt_rel or 0.0 for s in sub.take_states().values())

    async def slow() -> None:
        with hub.subscribe() as sub:
            while True:
                await sub.wait()
                await asyncio.sleep(10)  # never catches up

    async def failing() -> None:
        with hub.subscribe() as sub:
            await sub.wait()
            raise RuntimeError("consumer bug")

    tasks = [asyncio.create_task(c()) for c in (fast, slow, failing)]
    for n in range(1, 200):
        hub.publish(state(1, n))
        hub.publish(state(2, n))
        await asyncio.sleep(0.002)
        if len(got) >= 50:
            break
    await asyncio.wait_for(tasks[0], 5.0)
    assert got == sorted(got) and len(got) >= 50
    assert isinstance(tasks[2].exception(), RuntimeError)
    tasks[1].cancel()
    await asyncio.gather(tasks[1], return_exceptions=True)
    assert hub.subscriber_count == 0  # context managers unsubscribed everyone


async def test_per_vehicle_topics_only_see_their_vehicles() -> None:
    hub = TelemetryHub()
    with hub.subscribe([2]) as only2, hub.subscribe() as everyone:
        hub.publish(state(1, 1))
        hub.publish(state(2, 1))
        hub.publish_event(make_event(EventKind.ARMED, 1, "armed"))
        assert set(only2.take_states()) == {2}
        assert only2.take_events() == ([], 0)
        assert set(everyone.take_states()) == {1, 2}
        hub.remove_vehicle(2)
        assert only2.take_removed() == {2}


async def test_stream_coalesces_for_a_slow_client_and_respects_the_rate() -> None:
    hub = TelemetryHub()
    hub.publish(state(1, 0))
    frames: list[dict[str, object]] = []
    send_delay = 0.3

    async def slow_send(text: str) -> None:
        frames.append(json.loads(text))
        if len(frames) > 1:
            await asyncio.sleep(send_delay)  # a client on a bad link

    session = StreamSession(hub, StateEncoder(), slow_send, StreamOptions(rate_hz=20.0))
    task = asyncio.create_task(session.run())
    await asyncio.sleep(0.05)
    n = 0
    t_end = time.monotonic() + 1.5
    while time.monotonic() < t_end:  # 500 Hz of changes for one vehicle
        n += 1
        hub.publish(state(1, n))
        await asyncio.sleep(0.002)
    await asyncio.sleep(send_delay + 0.2)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert frames[0]["type"] == "snapshot" and frames[0]["v"] == 3
    updates = [f for f in frames if f["type"] == "update"]
    # Sending is the bottleneck: a handful of frames, each carrying the newest state, and the
    # last one the very latest (nothing queued up behind the slow socket).
    assert 2 <= len(updates) <= 1.5 / send_delay + 2
    ralts = [v["ralt"] for u in updates for v in u["vehicles"]]  # type: ignore[attr-defined]
    assert ralts == sorted(ralts)
    assert ralts[-1] == float(n)


async def test_stream_rate_limits_each_vehicle() -> None:
    hub = TelemetryHub()
    frames: list[dict[str, object]] = []

    async def send(text: str) -> None:
        frames.append(json.loads(text))

    session = StreamSession(hub, StateEncoder(), send, StreamOptions(rate_hz=5.0))
    task = asyncio.create_task(session.run())
    await asyncio.sleep(0.01)
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < 2.0:
        n += 1
        hub.publish(state(1, n))
        hub.publish(state(2, n))
        await asyncio.sleep(0.01)
    hub.publish_event(make_event(EventKind.MODE_CHANGED, 1, "mode AUTO", old="GUIDED", new="AUTO"))
    await asyncio.sleep(0.1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    updates = [f for f in frames if f["type"] == "update"]
    per_vehicle = sum(1 for u in updates for v in u["vehicles"] if v["id"] == 1)  # type: ignore
    assert 8 <= per_vehicle <= 12, per_vehicle  # ~5 Hz over 2 s
    assert all(len(u["vehicles"]) == 2 for u in updates[1:])  # type: ignore[arg-type]
    events = [e for f in frames if f["type"] == "events" for e in f["events"]]  # type: ignore
    assert events[0]["kind"] == "mode_changed" and events[0]["data"]["new"] == "AUTO"


def test_stream_options_name_the_bad_field() -> None:
    assert parse_options({}).rate_hz == 5.0
    assert parse_options({"rate": "2", "vehicles": "1,3"}).vehicles == frozenset({1, 3})
    with pytest.raises(ValueError, match="^rate:"):
        parse_options({"rate": "fast"})
    with pytest.raises(ValueError, match="^rate:"):
        parse_options({"rate": "1000"})
    with pytest.raises(ValueError, match="^vehicles:"):
        parse_options({"vehicles": "a,b"})


def test_encoder_reuses_json_for_the_same_state_object() -> None:
    enc = StateEncoder()
    s = state(1, 1)
    a = enc.vehicle_json(s)
    b = enc.vehicle_json(s)
    assert a is b and enc.encoded == 1
    enc.vehicle_json(state(1, 2))
    assert enc.encoded == 2


async def test_a_new_position_is_not_held_back_by_a_status_update_that_took_the_slot() -> None:
    """Status messages outnumber positions ~3:1; a position must not wait for the next slot."""
    hub = TelemetryHub()
    with hub.subscribe(None, max_events=10) as sub:
        interval = 0.2
        next_allowed: dict[int, float] = {}
        positions: dict[int, tuple[int | None, float]] = {}

        def take(now: float) -> tuple[list[int | None], float | None]:
            due, at = sub.take_due(now, next_allowed, interval, positions, interval / 4)
            return [s.position_time_boot_ms for s in due], at

        hub.publish(VehicleState(vehicle_id=1, sysid=1, position_time_boot_ms=1000))
        assert take(10.0)[0] == [1000]  # next position slot 10.2 (10.15 with the allowance)
        hub.publish(VehicleState(vehicle_id=1, sysid=1, position_time_boot_ms=1000, mode="X"))
        due, at = take(10.1)
        assert due == [] and at == pytest.approx(10.2)  # a status change waits for its slot
        assert take(10.2)[0] == [1000]  # ...and takes it
        hub.publish(VehicleState(vehicle_id=1, sysid=1, position_time_boot_ms=1200, mode="X"))
        assert take(10.21)[0] == [1200]  # the new position did not wait until 10.4
        hub.publish(VehicleState(vehicle_id=1, sysid=1, position_time_boot_ms=1300))
        due, at = take(10.3)
        assert due == [] and at == pytest.approx(10.36)  # never faster than 4/3 of the rate


async def _cancel_while_busy(consumer: Callable[[], Coroutine[Any, Any, None]], hub: TelemetryHub,
                             trials: int) -> int:
    """Start `consumer` while states are published on every loop turn, cancel it, and count the
    trials in which it did not stop within 0.5 s."""
    busy = True

    async def publisher() -> None:
        n = 0
        while busy:
            hub.publish(state(1, n))
            n += 1
            await asyncio.sleep(0)

    pub = asyncio.create_task(publisher())
    stuck: list[asyncio.Task[None]] = []
    try:
        for _ in range(trials):
            task = asyncio.create_task(consumer())
            await asyncio.sleep(0.002)
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=0.5)
            if not done:
                stuck.append(task)
    finally:
        busy = False
        await pub
    for task in stuck:  # with the hub quiet, a repeated cancel gets through
        task.cancel()
        await asyncio.wait([task], timeout=2.0)
    return len(stuck)


async def test_a_waiting_consumer_stops_when_cancelled_however_busy_the_hub() -> None:
    """Issue 19: on Python 3.11 `asyncio.wait_for` swallowed a cancellation that arrived as the
    hub woke the waiter, so a consumer looping on `wait()` (the mission tracker) could not be
    stopped and kept a stopping service alive until it was killed."""
    hub = TelemetryHub()

    async def consumer() -> None:
        with hub.subscribe() as sub:
            while True:
                await sub.wait(1.0)
                sub.take_states()

    assert await _cancel_while_busy(consumer, hub, trials=100) == 0


async def test_the_mission_tracker_stops_when_cancelled_with_telemetry_flowing(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'tracker.db'}")
    await db.start()
    try:
        hub = TelemetryHub()
        tracker = MissionTracker(db, hub)
        assert await _cancel_while_busy(tracker.run, hub, trials=30) == 0
    finally:
        await db.stop()
