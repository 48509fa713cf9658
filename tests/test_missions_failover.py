"""Mission state owned by the database, not by a process (issue 13, item 2), in process: two
runtimes on one database (SQLite, or PostgreSQL in its lane), each with its own fake fleet
behind the vehicle-command port (tests/inprocess.py).

- one leg under way per drone is the database's own constraint: a second dispatch of a busy
  drone, from another replica, is refused with a 409 naming the drone, even when both pass
  their checks at the same moment;
- a replica that dies mid-mission leaves nothing untracked: the drone's new owner reattaches
  its leg from the database and what the drone reports, and drives it to the end;
- a link worker's side of the runtime (no web framework, no mission service) drives the leg
  of a drone it takes over, and the process that lost the drone judges nothing any more; what
  it stores is announced on the bus (the local Redis; skipped when it does not answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import IntegrityError

from fake_fleet import BASE, FakeFleet
from inprocess import InProcess, in_process
from inprocess import test_settings as in_process_settings
from mission.clock import utcnow
from mission.db import Database
from mission.missions import store
from mission.missions.models import LegStatus, MissionLeg, PatrolMission
from mission.runtime.links import LinkSide
from telemetry.bus import BusNode
from telemetry.mission_item import MissionItem
from telemetry.state import EventKind, GeoPoint, make_event
from test_bus import BUS_SECRET, REDIS_URL, _redis_reason
from test_missions_inprocess import _at, _incident, _leg, _mission, _plan

pytestmark = pytest.mark.timeout(90)


async def _log_kinds(c: httpx.AsyncClient, mission_id: int) -> list[str]:
    return [e["kind"] for e in (await c.get(f"/api/missions/{mission_id}/log")).json()]


def _held_route(leg: dict[str, Any]) -> list[MissionItem]:
    """The items the drone holds (seq 0 home included): what it was given at dispatch."""
    return [MissionItem.from_json(i) for i in leg["items"]]


async def _completed(svc: InProcess, c: httpx.AsyncClient, mission_id: int,
                     timeout_s: float = 10.0) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        got = await _mission(c, mission_id)
        return got if got["status"] == "completed" else None

    found: dict[str, Any] = await svc.until(done, timeout_s, what=f"mission {mission_id} done")
    return found


async def test_the_database_holds_one_leg_under_way_per_drone(db: Database) -> None:
    """The partial unique index (migration 0009): two legs of one drone under way cannot be
    stored, whichever process writes them; ended legs and other drones are not limited."""
    def seed(s: Any) -> list[int]:
        ids = []
        for _ in range(2):
            m = PatrolMission(created_by="test")
            s.add(m)
            s.flush()
            assert m.id is not None
            for drone, status in ((5, LegStatus.FLYING), (6, LegStatus.COMPLETED)):
                leg = MissionLeg(mission_id=m.id, drone_id=drone, status=status.value)
                s.add(leg)
                s.flush()
            ids.append(m.id)
        return ids

    with pytest.raises(IntegrityError) as refused:
        await db.run(seed)
    assert store.is_active_leg_conflict(refused.value)

    def seed_ok(s: Any) -> int:
        m = PatrolMission(created_by="test")
        s.add(m)
        s.flush()
        assert m.id is not None
        s.add(MissionLeg(mission_id=m.id, drone_id=5, status=LegStatus.FLYING.value))
        s.add(MissionLeg(mission_id=m.id, drone_id=6, status=LegStatus.PAUSED.value))
        s.add(MissionLeg(mission_id=m.id, drone_id=5, status=LegStatus.FAILED.value))
        s.add(MissionLeg(mission_id=m.id, drone_id=5, status=LegStatus.PLANNED.value))
        return m.id

    mid = await db.run(seed_ok)
    assert await db.run(lambda s: store.busy_drones(s)) == {5: mid, 6: mid}


@contextlib.asynccontextmanager
async def _two_replicas(tmp_path: Path,
                        database_url: str) -> AsyncIterator[tuple[InProcess, InProcess]]:
    """Two runtimes on one database, as two replicas (each its own fake fleet)."""
    async with in_process(tmp_path / "a", database_url) as a, \
            in_process(tmp_path / "b", database_url, after=a) as b:
        yield a, b


async def test_a_busy_drone_dispatched_from_another_replica_is_refused_naming_it(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with _two_replicas(tmp_path, database_url) as (a, b):
        a.fleet.add(21)
        b.fleet.add(21)  # both replicas see the drone (as over the bus) and may plan for it
        async with a.http() as ca, b.http() as cb:
            inc = await _incident(ca, 200, 0)
            first = await _plan(ca, drones=[21], incidents=[inc])
            second = await _plan(cb, drones=[21], incidents=[inc])
            third = await _plan(cb, drones=[21], incidents=[inc])
            r = await ca.post(f"/api/missions/{first['id']}/dispatch")
            assert r.status_code == 200 and r.json()["status"] == "active", r.text
            # B's own check reads the database: refused before anything is sent
            r = await cb.post(f"/api/missions/{second['id']}/dispatch")
            assert r.status_code == 409, r.text
            assert r.json()["detail"] == {
                "error": "drone_busy", "field": "legs", "drone_id": 21,
                "mission_id": first["id"],
                "message": f"drone 21 is busy: it is on mission {first['id']}"}
            # the race: B's read sees the drone free (A's write not visible to it yet); the
            # database's index refuses B's legs, and the answer is the same
            reads: list[int] = []
            real = store.busy_drones

            def stale_once(s: Any, drone_ids: Iterable[int] | None = None) -> dict[int, int]:
                reads.append(1)
                return {} if len(reads) == 1 else real(s, drone_ids)

            monkeypatch.setattr(store, "busy_drones", stale_once)
            r = await cb.post(f"/api/missions/{third['id']}/dispatch")
            monkeypatch.undo()
            assert r.status_code == 409 and r.json()["detail"]["drone_id"] == 21, r.text
            assert r.json()["detail"]["mission_id"] == first["id"]
            assert b.fleet.sent(21) == []  # nothing reached the drone from B
            for refused in (second, third):
                m = await _mission(cb, refused["id"])
                assert m["status"] == "planned" and _leg(m, 21)["status"] == "planned", m
                assert (await _log_kinds(cb, refused["id"]))[-1] == "dispatch_refused"
            # the plan check is the database's too, on either replica
            r = await cb.post("/api/missions/plan", json={"drones": [21], "incidents": [inc]})
            assert r.status_code == 409 and r.json()["detail"]["field"] == "drones[0]", r.text


async def test_a_replica_killed_mid_mission_leaves_the_leg_to_the_drones_new_owner(
    tmp_path: Path, database_url: str,
) -> None:
    """Runtime A dispatches and follows the drone, then dies: its stop writes nothing about
    the mission (as a kill would not). Runtime B, running all along on the same database,
    owns the drone next: it reattaches the leg from the database and the drone's report and
    drives it to observed and completed."""
    a_stack = contextlib.AsyncExitStack()
    a = await a_stack.enter_async_context(in_process(tmp_path / "a", database_url))
    try:
        async with in_process(tmp_path / "b", database_url, after=a) as b, \
                b.http() as cb:
            a.fleet.add(31)
            async with a.http() as ca:
                north, east = await _incident(ca, 150, 0, 5), await _incident(ca, 150, 300, 5)
                plan = await _plan(ca, drones=[31], incidents=[north, east])
                m = (await ca.post(f"/api/missions/{plan['id']}/dispatch")).json()
                assert m["status"] == "active", m
                leg = _leg(m, 31)
                first = min(t["first_seq"] for t in plan["targets"])
                a.fleet.reach(31, first)

                async def one_observed() -> bool:
                    got = await _mission(ca, plan["id"])
                    return sum(1 for t in got["targets"] if t["observed_at"]) == 1

                await a.until(one_observed, what="A observed the first target")
                kinds_before = await _log_kinds(ca, plan["id"])
            await a_stack.aclose()  # A is gone; B never heard from it
            after_a = await _mission(cb, plan["id"])
            assert _leg(after_a, 31)["status"] == "flying" and after_a["status"] == "active"
            assert await _log_kinds(cb, plan["id"]) == kinds_before

            # B's link now has the drone, flying the route it was given, one item further
            drone = b.fleet.add(31)
            drone.items = _held_route(leg)
            b.fleet.update(31, armed=True, landed_state="in_air", mode="AUTO",
                           mission_current=first + 1, mission_state=3,
                           position=GeoPoint(*_at(100, 0), BASE.alt_amsl + 25))

            async def reattached() -> bool:
                return "reattached" in await _log_kinds(cb, plan["id"])

            await b.until(reattached, what="B reattached the leg")
            b.fleet.fly_to_end(31)
            done = await _completed(b, cb, plan["id"])
            assert all(t["observed_at"] and t["observed_by"] == 31 for t in done["targets"])
            kinds = await _log_kinds(cb, plan["id"])
            assert kinds.count("reattached") == 1 and kinds[-1] == "completed", kinds

            async def incidents_observed() -> bool:
                return all([(await cb.get(f"/api/incidents/{i}")).json()["status"]
                            == "observed" for i in (north, east)])

            await b.until(incidents_observed, what="both incidents observed")
            assert b.fleet.sent(31) == []  # B drove the leg from reports alone
    finally:
        await a_stack.aclose()


async def test_a_link_worker_taking_the_drone_over_drives_its_leg_and_the_old_owner_stops(
    tmp_path: Path, database_url: str,
) -> None:
    """The link worker's side of the runtime (LinkSide: no web framework, no mission service)
    tracks the legs of the drones it owns. The replica that dispatched loses the drone
    (`on_released`): what it still hears of it (a stale landing) is no longer its to judge,
    and the worker, told it owns the drone, drives the leg to completed."""
    async with in_process(tmp_path / "a", database_url) as a:
        a.fleet.add(41)
        worker = LinkSide(in_process_settings(tmp_path / "w", database_url),
                          shard="", sharded=False)
        await worker.open()
        tracking = asyncio.create_task(worker.tracker.run(), name="worker-tracker")
        try:
            reports = FakeFleet(worker.hub)  # what the worker's link hears from the drone
            reports.owner = worker.tracker
            async with a.http() as c:
                inc = await _incident(c, 180, 0)
                plan = await _plan(c, drones=[41], incidents=[inc])
                m = (await c.post(f"/api/missions/{plan['id']}/dispatch")).json()
                assert m["status"] == "active", m
                a.fleet.release(41)  # the lease moved: A owns the drone no more
                a.fleet.touch_down(41)  # a stale report A still gets: not A's to judge
                drone = reports.add(41)  # the worker owns it now and hears it fly
                drone.items = _held_route(_leg(m, 41))
                reports.update(41, armed=True, landed_state="in_air", mode="AUTO",
                               mission_current=1, mission_state=3)

                async def reattached() -> bool:
                    return "reattached" in await _log_kinds(c, plan["id"])

                await a.until(reattached, what="the worker reattached the leg")
                assert _leg(await _mission(c, plan["id"]), 41)["status"] == "flying"
                assert worker.tracker.owned() == {41: 0} and 41 not in a.runtime.tracker.owned()
                reports.fly_to_end(41)
                done = await _completed(a, c, plan["id"])
                assert done["targets"][0]["observed_by"] == 41
                assert (await c.get(f"/api/incidents/{inc}")).json()["status"] == "observed"
        finally:
            tracking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tracking
            await worker.close()



async def test_a_link_worker_announces_what_its_tracker_stores(tmp_path: Path,
                                                                database_url: str) -> None:
    """What a link worker's tracker commits (missions, incidents) is announced on the bus by
    kind and id, so that every replica's consoles show the progress it drives."""
    reason = _redis_reason()
    if reason:
        pytest.skip(reason)
    prefix = f"nazorat-test-{secrets.token_hex(4)}"
    worker = LinkSide(in_process_settings(tmp_path / "w", database_url, bus_url=REDIS_URL,
                                          bus_secret=BUS_SECRET, bus_prefix=prefix),
                      shard="w", sharded=True)
    replica = BusNode(REDIS_URL, secret=BUS_SECRET, prefix=prefix, node="replica")
    heard: list[tuple[str, int]] = []
    await worker.open()
    try:
        await worker.join_bus(mirror=False)
        worker.announce_commits()
        await replica.start()
        await replica.follow_changes(lambda changes, _lost: heard.extend(changes))

        def stored(s: Any) -> int:
            m = PatrolMission(created_by="test")
            s.add(m)
            s.flush()
            assert m.id is not None
            return m.id

        mid = await worker.db.run(stored)
        deadline = asyncio.get_running_loop().time() + 10
        while ("mission", mid) not in heard:
            assert asyncio.get_running_loop().time() < deadline, heard
            await asyncio.sleep(0.02)
    finally:
        await replica.close()
        await worker.close()


async def test_a_dispatch_whose_replica_died_is_settled_by_the_owner_at_its_deadline(
    tmp_path: Path, database_url: str,
) -> None:
    """Replica A dispatches a drone that B owns (B drives its leg) and dies during the
    dispatch. While A's deadline runs, B leaves the dispatching leg alone (A may still be
    sending); once it has passed with nobody renewing it, B settles the leg from what the
    drone reports: on the ground, failed, saying why. The mission does not stay dispatching."""
    async with _two_replicas(tmp_path, database_url) as (a, b):
        a.fleet.add(51)
        a.fleet.release(51)  # A only sends (as over the bus); B owns the drone
        b.fleet.add(51)
        a.fleet.hold(51, "start_mission")
        async with a.http() as ca, b.http() as cb:
            inc = await _incident(ca, 150, 0)
            plan = await _plan(ca, drones=[51], incidents=[inc])
            dispatch = asyncio.create_task(ca.post(f"/api/missions/{plan['id']}/dispatch"))
            try:
                await a.until(lambda: "start_mission" in a.fleet.sent(51), what="start sent")
                # B reads the leg with this report (its note is logged): the dispatch is A's
                b.fleet.hub.publish_event(make_event(EventKind.STATUSTEXT, 51, "EKF3 IMU0"))

                async def noted() -> bool:
                    return "statustext" in await _log_kinds(cb, plan["id"])

                await b.until(noted, what="B following the leg")
                assert _leg(await _mission(cb, plan["id"]), 51)["status"] == "dispatching"

                def deadline_passed(s: Any) -> None:  # A is gone: nobody renews it
                    leg = store.legs(s, plan["id"])[0]
                    leg.dispatch_until = utcnow() - timedelta(seconds=1)
                    s.add(leg)

                await b.runtime.db.run(deadline_passed)
                b.fleet.update(51, battery_pct=94.0)  # the drone's next report, still on the ground

                async def settled() -> dict[str, Any] | None:
                    got = await _mission(cb, plan["id"])
                    return got if got["status"] == "failed" else None

                m = await b.until(settled, what="the orphaned dispatch settled by B")
                assert "did not take off" in _leg(m, 51)["reason"], m
            finally:
                dispatch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await dispatch
