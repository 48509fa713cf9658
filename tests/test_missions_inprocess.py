"""Mission behaviour in process: the real service (routes, database, planner, interlocks,
command record, tracker) with a fake fleet behind the vehicle-command port (tests/inprocess.py).
Dispatch, observation, completion, a refused step, interlocks, pause/resume, re-task, recall,
quick dispatch, link loss and restart reattach, each in well under a second of flying.
The simulator flights in test_missions_e2e.py remain as end-to-end smoke."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fake_fleet import BASE
from inprocess import InProcess, in_process
from telemetry.state import GeoPoint, LinkState

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def svc(tmp_path: Path, database_url: str) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path, database_url) as s:
        await s.sign_in("operator", "op-42")
        yield s


def _at(north_m: float, east_m: float, base: GeoPoint = BASE) -> tuple[float, float]:
    lat = base.lat + north_m / 111_320.0
    lon = base.lon + east_m / (111_320.0 * math.cos(math.radians(base.lat)))
    return round(lat, 7), round(lon, 7)


async def _incident(c: httpx.AsyncClient, north: float, east: float, severity: int = 3) -> int:
    lat, lon = _at(north, east)
    r = await c.post("/api/incidents", json={
        "lat": lat, "lon": lon, "category": "drug_activity", "severity": severity,
        "source": "citizen_map", "description": "test report"})
    assert r.status_code == 201, r.text
    incident_id: int = r.json()["id"]
    return incident_id


async def _mission(c: httpx.AsyncClient, mission_id: int) -> dict[str, Any]:
    r = await c.get(f"/api/missions/{mission_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _plan(c: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    body.setdefault("on_station", {"kind": "loiter", "seconds": 5})
    body.setdefault("altitude_m", 25)
    body.setdefault("time_limit_s", 0.5)
    r = await c.post("/api/missions/plan", json=body)
    assert r.status_code == 201, r.text
    plan: dict[str, Any] = r.json()
    return plan


async def _commands(c: httpx.AsyncClient, drone_id: int) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = (await c.get(f"/api/drones/{drone_id}/commands")).json()
    return body


def _leg(m: dict[str, Any], drone_id: int) -> dict[str, Any]:
    return next(leg for leg in m["legs"] if leg["drone_id"] == drone_id)


async def test_dispatch_observe_complete_and_record(svc: InProcess) -> None:
    svc.fleet.add(1)
    svc.fleet.add(2, at=GeoPoint(*_at(0, 10), BASE.alt_amsl))
    async with svc.http("operator", "op-42") as c, svc.http() as admin:
        north, east = await _incident(c, 220, 0, 4), await _incident(c, 0, 240, 3)
        box = [_at(n, e) for n, e in ((80, -40), (80, 40), (140, 40), (140, -40))]
        ring = [[lon, lat] for lat, lon in [*box, box[0]]]
        assert (await admin.post("/api/zones", json={
            "name": "hospital", "kind": "no_fly",
            "geometry": {"type": "Polygon", "coordinates": [ring]}})).status_code == 201
        plan = await _plan(c, name="night patrol", drones=[1, 2], incidents=[north, east])
        assert plan["status"] == "planned" and not plan["dropped"], plan
        r = await c.post(f"/api/missions/{plan['id']}/dispatch")
        assert r.status_code == 200, r.text
        m = r.json()
        assert m["status"] == "active" and all(leg["status"] == "flying" for leg in m["legs"])
        # busy drones cannot be planned again
        r = await c.post("/api/missions/plan", json={"drones": [1], "incidents": [north]})
        assert r.status_code == 409 and r.json()["detail"]["field"] == "drones[0]"
        for leg in m["legs"]:
            d = leg["drone_id"]
            assert svc.fleet.sent(d) == ["upload_geofence", "upload_mission", "start_mission"]
            held = svc.fleet.drones[d].items
            assert [(i.command, i.lat, i.lon) for i in held[1:]] == [
                (i["command"], i["lat"], i["lon"]) for i in leg["items"][1:]]
            assert svc.fleet.drones[d].fence is not None  # the no-fly box, as a fence
            svc.fleet.fly_to_end(d)

        async def finished() -> dict[str, Any] | None:
            got = await _mission(c, plan["id"])
            return got if got["status"] == "completed" else None

        done = await svc.until(finished, what="mission completed")
        assert all(t["observed_at"] and t["observed_by"] in (1, 2) for t in done["targets"])

        async def incidents_observed() -> bool:  # a loop turn after the targets (tracker)
            return all([(await c.get(f"/api/incidents/{i}")).json()["status"] == "observed"
                        for i in (north, east)])

        await svc.until(incidents_observed, what="incidents observed")
        for inc in (north, east):
            hist = (await c.get(f"/api/incidents/{inc}/history")).json()
            assert [h["to_status"] for h in hist] == ["new", "triaged", "assigned", "observed"]
            assert hist[2]["actor"] == "op-42" and hist[3]["actor"].startswith("drone:")
        kinds = [e["kind"] for e in (await c.get(f"/api/missions/{plan['id']}/log")).json()]
        assert kinds[0] == "planned" and kinds[-1] == "completed" and "observed" in kinds
        for leg in m["legs"]:
            recorded = {(h["name"], h["actor"], h["outcome"])
                        for h in await _commands(admin, leg["drone_id"])}
            assert ("start_mission", "op-42", "accepted") in recorded


async def test_a_refused_step_fails_its_leg_with_the_reason_and_the_other_flies(
    svc: InProcess,
) -> None:
    svc.fleet.add(3)
    svc.fleet.add(4, at=GeoPoint(*_at(0, 10), BASE.alt_amsl))
    svc.fleet.refuse(4, "start_mission", "PreArm: Compass not calibrated")
    async with svc.http("operator", "op-42") as c, svc.http() as admin:
        a, b = await _incident(c, 200, 0), await _incident(c, 0, 200)
        plan = await _plan(c, drones=[3, 4], incidents=[a, b], objective="makespan")
        assert {leg["drone_id"] for leg in plan["legs"]} == {3, 4}, plan
        m = (await c.post(f"/api/missions/{plan['id']}/dispatch")).json()
        assert _leg(m, 3)["status"] == "flying"
        failed = _leg(m, 4)
        assert failed["status"] == "failed"
        assert "PreArm: Compass not calibrated" in failed["reason"], failed
        rec = next(h for h in await _commands(admin, 4) if h["name"] == "start_mission")
        assert rec["outcome"] == "rejected" and rec["actor"] == "op-42"
        assert rec["result"]["statustext"] == "PreArm: Compass not calibrated"
        # a drone that never answers: the same, with the timeout as the reason
        svc.fleet.fly_to_end(3)

        async def ended() -> bool:
            return (await _mission(c, plan["id"]))["status"] in ("completed", "failed")

        await svc.until(ended, what="the first mission ended")
        svc.fleet.ignore(3, "upload_mission")
        again = await _plan(c, drones=[3], incidents=[a])
        m2 = (await c.post(f"/api/missions/{again['id']}/dispatch")).json()
        assert m2["status"] == "failed" and "no COMMAND_ACK" in _leg(m2, 3)["reason"], m2
        assert svc.fleet.sent(3)[-1] == "upload_mission"  # nothing flown after the failure


async def test_interlocks_refuse_dispatch_and_raw_commands_for_every_role(
    svc: InProcess,
) -> None:
    svc.fleet.add(5)
    async with svc.http("operator", "op-42") as c, svc.http() as admin:
        near = await _incident(c, 300, 300)
        plan = await _plan(c, drones=[5], incidents=[near])
        svc.fleet.update(5, battery_pct=22.0)  # drained since the plan: below the reserve
        r = await c.post(f"/api/missions/{plan['id']}/dispatch")
        assert r.status_code == 409, r.text
        assert r.json()["detail"]["error"] == "interlock", r.text
        problems = r.json()["detail"]["interlocks"]
        assert problems[0]["check"] == "battery" and problems[0]["drone_id"] == 5
        assert svc.fleet.sent(5) == []  # nothing reached the drone
        # a no-fly zone across the way: a raw goto and upload by the admin are refused too
        box = [_at(n, e) for n, e in ((100, -50), (100, 50), (200, 50), (200, -50))]
        ring = [[lon, lat] for lat, lon in [*box, box[0]]]
        zone = (await admin.post("/api/zones", json={
            "name": "prison", "kind": "no_fly",
            "geometry": {"type": "Polygon", "coordinates": [ring]}})).json()
        lat, lon = _at(300, 0)
        r = await admin.post("/api/drones/5/commands/goto",
                             json={"lat": lat, "lon": lon, "alt": 30})
        assert r.status_code == 409 and r.json()["check"] == "no_fly", r.text
        assert r.json()["zone_id"] == zone["id"]
        r = await admin.post("/api/drones/5/commands/upload_mission", json={"items": [
            {"command": 22, "alt": 30}, {"command": 16, "lat": lat, "lon": lon, "alt": 30}]})
        assert r.status_code == 409 and r.json()["check"] == "no_fly", r.text
        assert svc.fleet.sent(5) == []
        outcomes = [(h["name"], h["outcome"]) for h in await _commands(admin, 5)]
        assert ("goto", "refused") in outcomes and ("upload_mission", "refused") in outcomes


async def test_pause_resume_retask_recall_and_abort(svc: InProcess) -> None:
    svc.fleet.add(6)
    async with svc.http("operator", "op-42") as c, svc.http() as admin:
        first = await _incident(c, 200, 0)
        plan = await _plan(c, drones=[6], incidents=[first],
                           on_station={"kind": "loiter", "seconds": 60})
        m = (await c.post(f"/api/missions/{plan['id']}/dispatch")).json()
        assert m["status"] == "active"
        r = await c.post(f"/api/missions/{plan['id']}/pause", json={"drone_id": 6})
        assert r.status_code == 200 and r.json()["results"][0]["ok"], r.text
        assert svc.fleet.drones[6].state.mode == "BRAKE"
        assert _leg(r.json()["mission"], 6)["status"] == "paused"
        r = await c.post(f"/api/missions/{plan['id']}/pause", json={"drone_id": 6})
        assert r.status_code == 409  # already paused
        r = await c.post(f"/api/missions/{plan['id']}/resume", json={})
        assert r.status_code == 200 and svc.fleet.drones[6].state.mode == "AUTO", r.text

        urgent = await _incident(c, -150, 150, 5)
        r = await c.post(f"/api/missions/{plan['id']}/drones/6/retask",
                         json={"incident_id": urgent})
        assert r.status_code == 200, r.text
        leg = _leg(r.json(), 6)
        assert leg["revision"] == 1 and leg["status"] == "flying"
        assert svc.fleet.sent(6)[-4:] == ["pause", "upload_mission", "set_mission_current",
                                          "resume"]
        held = svc.fleet.drones[6].items
        assert [i.command for i in held[1:]] == [i["command"] for i in leg["items"][1:]]
        on_drone = (await c.get("/api/drones/6/mission")).json()["items"]  # read back
        assert [(i["seq"], i["command"]) for i in on_drone] == [
            (i["seq"], i["command"]) for i in leg["items"]]
        assert (await c.get(f"/api/incidents/{urgent}")).json()["status"] == "assigned"

        r = await c.post("/api/missions/recall-all")
        assert r.status_code == 200 and r.json()["results"][0]["ok"], r.text
        assert svc.fleet.drones[6].state.mode == "RTL"
        svc.fleet.touch_down(6)

        async def aborted() -> dict[str, Any] | None:
            got = await _mission(c, plan["id"])
            return got if got["status"] == "aborted" else None

        done = await svc.until(aborted, what="recalled mission aborted")
        assert _leg(done, 6)["status"] == "aborted"
        recorded = [(h["name"], h["actor"]) for h in await _commands(admin, 6)]
        assert ("return_to_launch", "op-42") in recorded
        assert ("set_mission_current", "op-42") in recorded


async def test_quick_dispatch_sends_the_nearest_ready_drone(svc: InProcess) -> None:
    svc.fleet.add(7)
    svc.fleet.add(8, at=GeoPoint(*_at(0, 200), BASE.alt_amsl))
    svc.fleet.add(9, at=GeoPoint(*_at(0, 180), BASE.alt_amsl))
    svc.fleet.update(9, ekf_ok=False)  # nearest, but not ready
    async with svc.http("operator", "op-42") as c, svc.http() as admin:
        # refusals name the field
        r = await c.post("/api/missions/plan", json={"drones": [99], "points": [
            {"lat": BASE.lat, "lon": BASE.lon}]})
        assert r.status_code == 404 and r.json()["detail"]["field"] == "drones[0]"
        r = await c.post("/api/missions/plan", json={"drones": [7]})
        assert r.status_code == 422 and r.json()["detail"]["field"] == "incidents"
        r = await c.post("/api/missions/plan", json={"drones": [7], "altitude_m": 500,
                                                     "points": [{"lat": 41.3, "lon": 69.2}]})
        assert r.status_code == 422, r.text
        box = [_at(n, e) for n, e in ((250, 250), (250, 350), (350, 350), (350, 250))]
        ring = [[lon, lat] for lat, lon in [*box, box[0]]]
        assert (await admin.post("/api/zones", json={"name": "prison", "kind": "no_fly",
                                                     "geometry": {"type": "Polygon",
                                                                  "coordinates": [ring]}})
                ).status_code == 201
        inside = _at(300, 300)
        r = await c.post("/api/missions/plan", json={"drones": [7], "points": [
            {"lat": inside[0], "lon": inside[1], "label": "in the prison"}]})
        assert r.status_code == 422 and "point:0" in r.json()["detail"]["message"], r.text

        lat, lon = _at(0, 260)
        r = await c.post("/api/missions/quick", json={
            "lat": lat, "lon": lon, "altitude_m": 20,
            "on_station": {"kind": "loiter", "seconds": 30}})
        assert r.status_code == 201, r.text
        quick = r.json()
        assert quick["status"] == "active" and [leg["drone_id"] for leg in quick["legs"]] == [8]
        assert svc.fleet.sent(9) == [] and svc.fleet.sent(7) == []


async def test_link_loss_holds_the_leg_and_restart_reattaches(
    tmp_path: Path, database_url: str,
) -> None:
    """A silent drone proves nothing (the leg waits); after a service restart the leg in the
    air is followed again from what the drone reports, and the mission completes."""
    async with in_process(tmp_path, database_url) as svc:
        svc.fleet.add(11)
        async with svc.http() as c:
            a, b = await _incident(c, 150, 0, 5), await _incident(c, 150, 300, 5)
            plan = await _plan(c, drones=[11], incidents=[a, b])
            assert (await c.post(f"/api/missions/{plan['id']}/dispatch")).json()[
                "status"] == "active"
            leg = plan["legs"][0]
            first = next(t for t in plan["targets"] if t["drone_id"] == 11
                         and t["first_seq"] == min(x["first_seq"] for x in plan["targets"]))
            svc.fleet.reach(11, first["first_seq"])

            async def one_observed() -> bool:
                m = await _mission(c, plan["id"])
                return sum(1 for t in m["targets"] if t["observed_at"]) == 1

            await svc.until(one_observed, what="first target observed")
            svc.fleet.update(11, link=LinkState.LOST)
            svc.fleet.update(11, armed=False, landed_state="on_ground")  # unseen: link is lost
            m = await _mission(c, plan["id"])
            assert _leg(m, 11)["status"] == "flying", m  # no verdict on a silent drone
    # the service stops while the drone flies on; a new one starts on the same database
    async with in_process(tmp_path, database_url, after=svc) as svc2:
        svc2.fleet.add(11)
        svc2.fleet.update(11, armed=True, landed_state="in_air", mode="AUTO",
                          mission_current=leg["last_item_seq"] - 1, mission_state=3)
        async with svc2.http() as c:
            async def reattached() -> list[dict[str, Any]]:  # on the tracker's task
                log = (await c.get(f"/api/missions/{plan['id']}/log")).json()
                return [e for e in log if e["kind"] == "reattached"]

            found = await svc2.until(reattached, what="the leg reattached")
            assert "leg flying" in found[0]["message"], found
            svc2.fleet.drones[11].items = [
                # the drone still holds the route it was given
                *[_item(i) for i in leg["items"]]]
            svc2.fleet.fly_to_end(11)

            async def completed() -> dict[str, Any] | None:
                got = await _mission(c, plan["id"])
                return got if got["status"] == "completed" else None

            done = await svc2.until(completed, what="mission completed after the restart")
            assert all(t["observed_at"] for t in done["targets"]), done
            kinds = [e["kind"] for e in (await c.get(f"/api/missions/{plan['id']}/log")).json()]
            assert kinds.count("reattached") == 1 and kinds[-1] == "completed", kinds

            async def incidents_observed() -> bool:
                # the tracker moves incidents after the transaction that observed their
                # targets (the incident service's own, with its history): a loop turn later
                return all([(await c.get(f"/api/incidents/{i}")).json()["status"]
                            == "observed" for i in (a, b)])

            await svc2.until(incidents_observed, what="both incidents observed")


@pytest.mark.parametrize("found", ["in_air", "on_ground"])
async def test_a_dispatch_cut_off_by_a_stop_is_settled_after_the_restart(
    tmp_path: Path, database_url: str, found: str,
) -> None:
    """The service stops while a drone's start_mission is unanswered: after the restart no
    dispatcher finishes that leg, so what the drone reports settles it (flying if it took off,
    failed, saying why, if it is still on the ground); the mission does not stay dispatching."""
    async with in_process(tmp_path, database_url) as svc:
        svc.fleet.add(12)
        svc.fleet.hold(12, "start_mission")
        async with svc.http() as c:
            inc = await _incident(c, 150, 0)
            plan = await _plan(c, drones=[12], incidents=[inc])
            dispatch = asyncio.create_task(c.post(f"/api/missions/{plan['id']}/dispatch"))
            await svc.until(lambda: "start_mission" in svc.fleet.sent(12), what="start sent")
            svc.fleet.release(12)  # the process goes away: it owns the drone no more,
            dispatch.cancel()  # and its dispatcher goes with it
            with contextlib.suppress(asyncio.CancelledError):
                await dispatch
            m = await _mission(c, plan["id"])
            assert m["status"] == "dispatching" and m["legs"][0]["status"] == "dispatching"
            rec = next(h for h in await _commands(c, 12) if h["name"] == "start_mission")
            assert rec["outcome"] == "failed" and "Cancelled" in rec["result"]["message"]
    async with in_process(tmp_path, database_url, after=svc) as svc2:
        svc2.fleet.add(12)
        airborne = found == "in_air"
        svc2.fleet.update(12, armed=airborne, landed_state=found,
                          mode="GUIDED" if airborne else "LOITER")
        async with svc2.http() as c:
            want = ("active", "flying") if airborne else ("failed", "failed")

            async def settled() -> dict[str, Any] | None:
                got = await _mission(c, plan["id"])
                return got if (got["status"], got["legs"][0]["status"]) == want else None

            m = await svc2.until(settled, what=f"mission {want}")
            if not airborne:
                assert "did not take off" in m["legs"][0]["reason"], m
            kinds = [e["kind"] for e in (await c.get(f"/api/missions/{plan['id']}/log")).json()]
            assert "reattached" in kinds


def _item(d: dict[str, Any]) -> Any:
    from telemetry.mission_item import MissionItem

    return MissionItem.from_json(d)
