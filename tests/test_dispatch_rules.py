"""Auto-dispatch rules: the pure matching and decision, and the engine in process with a fake
fleet (tests/inprocess.py): an intake incident flown without an operator, a proposal confirmed,
rejected or timed out, a non-matching incident left alone, an interlock refusal audited."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from inprocess import InProcess, in_process
from mission.dispatch.domain import (
    Action,
    IncidentFacts,
    OnTimeout,
    ProposalStatus,
    Rule,
    decide,
    matches,
    needs_zones,
    on_expiry,
)
from test_missions_inprocess import _at

pytestmark = pytest.mark.timeout(60)

THEFT5 = IncidentFacts(1, "theft", 5, "camera", frozenset({7}))


# -- the pure part ------------------------------------------------------------------------------


def test_a_rule_matches_only_when_every_criterion_it_sets_holds() -> None:
    assert matches(Rule(1, "any"), THEFT5)
    assert matches(Rule(1, "x", categories=("theft", "traffic"), min_severity=4,
                        sources=("camera",), zone_ids=(3, 7)), THEFT5)
    assert not matches(Rule(1, "x", categories=("traffic",)), THEFT5)
    assert not matches(Rule(1, "x", min_severity=6), THEFT5)
    assert not matches(Rule(1, "x", sources=("telegram",)), THEFT5)
    assert not matches(Rule(1, "x", zone_ids=(8,)), THEFT5)
    assert not matches(Rule(1, "x", enabled=False), THEFT5)
    assert not matches(Rule(1, "x", min_severity=4), IncidentFacts(2, "theft", 3, "camera"))


def test_the_lowest_matching_rule_decides_and_its_actor_names_it() -> None:
    rules = [Rule(9, "late", action=Action.AUTO), Rule(4, "zone", zone_ids=(8,)),
             Rule(5, "severe", min_severity=5, action=Action.PROPOSE)]
    chosen = decide(THEFT5, rules)
    assert chosen is not None and chosen.id == 5 and chosen.actor == "system:rule:5"
    assert decide(IncidentFacts(2, "theft", 1, "operator"), rules[:2]) == rules[0]
    assert decide(THEFT5, [Rule(1, "x", sources=("telegram",))]) is None
    assert needs_zones(rules) and not needs_zones([Rule(1, "a"), Rule(2, "b", zone_ids=(1,),
                                                                       enabled=False)])
    assert on_expiry(OnTimeout.DISPATCH) == ProposalStatus.DISPATCHED
    assert on_expiry(OnTimeout.DROP) == ProposalStatus.EXPIRED


# -- in process ---------------------------------------------------------------------------------


@pytest.fixture
async def svc(tmp_path: Path, database_url: str) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path, database_url) as s:
        await s.sign_in("operator", "op-42")
        yield s


async def _rule(c: httpx.AsyncClient, **body: Any) -> int:
    body.setdefault("name", "test rule")
    r = await c.post("/api/dispatch-rules", json=body)
    assert r.status_code == 201, r.text
    rule_id: int = r.json()["id"]
    return rule_id


async def _intake_key(admin: httpx.AsyncClient, source: str = "camera") -> str:
    r = await admin.post("/api/integration-keys", json={"name": f"cam-{source}",
                                                        "source": source})
    assert r.status_code == 201, r.text
    key: str = r.json()["key"]
    return key


async def _intake(svc: InProcess, key: str, north: float, east: float, severity: int = 4,
                  category: str = "theft") -> int:
    lat, lon = _at(north, east)
    async with svc.http() as c:
        c.headers["Authorization"] = f"Bearer {key}"
        r = await c.post("/api/intake/incidents", json={
            "lat": lat, "lon": lon, "category": category, "severity": severity})
        assert r.status_code == 201, r.text
        inc: int = r.json()["id"]
        return inc


async def _incident(c: httpx.AsyncClient, inc: int) -> dict[str, Any]:
    body: dict[str, Any] = (await c.get(f"/api/incidents/{inc}")).json()
    return body


async def _audit(c: httpx.AsyncClient, actor: str) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = (await c.get("/api/audit", params={"actor": actor})).json()
    return body


async def test_rules_crud_roles_and_field_errors(svc: InProcess) -> None:
    await svc.sign_in("commander", "cmd-1")
    async with svc.http("operator", "op-42") as op, svc.http("commander", "cmd-1") as cmd:
        rid = await _rule(op, categories=["theft"], min_severity=4, action="propose",
                          confirm_s=30, on_timeout="dispatch")
        assert (await cmd.get("/api/dispatch-rules")).json()[0]["on_timeout"] == "dispatch"
        assert (await cmd.post("/api/dispatch-rules", json={"name": "x"})).status_code == 403
        r = await op.post("/api/dispatch-rules", json={"name": "x", "min_severity": 6})
        assert r.status_code == 422 and "min_severity" in r.text
        r = await op.post("/api/dispatch-rules", json={"name": "x", "action": "maybe"})
        assert r.status_code == 422 and "action" in r.text
        r = await op.patch(f"/api/dispatch-rules/{rid}", json={"min_severity": 2})
        assert r.status_code == 200 and r.json()["min_severity"] == 2
        assert r.json()["categories"] == ["theft"]
        assert (await op.delete(f"/api/dispatch-rules/{rid}")).status_code == 204
        assert (await op.get(f"/api/dispatch-rules/{rid}")).status_code == 404
        assert (await op.post("/api/dispatch-proposals/99/confirm")).status_code == 404


async def test_a_matching_intake_incident_flies_without_an_operator(svc: InProcess) -> None:
    svc.fleet.add(1)
    svc.fleet.add(2, at=_geo(*_at(1500, 0)))
    async with svc.http() as admin:
        key = await _intake_key(admin)
        rid = await _rule(admin, categories=["theft"], min_severity=4, sources=["camera"])
        inc = await _intake(svc, key, 1300, 100, severity=5)

        async def airborne() -> dict[str, Any] | None:
            body = await _incident(admin, inc)
            return body if body["response"]["airborne_at"] else None

        got = await svc.until(airborne, what="the incident's drone airborne")
        resp = got["response"]
        assert resp["drone_id"] == 2, "the drone with the earliest ETA (the nearer one)"
        assert got["status"] == "assigned" and resp["dispatched_at"] <= resp["airborne_at"]
        assert svc.fleet.sent(2)[-1] == "start_mission" and svc.fleet.sent(1) == []
        hist = (await admin.get(f"/api/incidents/{inc}/history")).json()
        assert hist[-1]["actor"] == f"system:rule:{rid}"
        async def audited() -> list[dict[str, Any]]:
            return [r for r in await _audit(admin, f"system:rule:{rid}")
                    if r["action"] == "dispatch_rule.dispatched"]

        decided = await svc.until(audited, what="the decision audited")
        assert decided[0]["params"]["rule_id"] == rid
        assert decided[0]["mission_id"] == resp["mission_id"] and decided[0]["drone_id"] == 2
        assert decided[0]["params"]["eta_s"] > 0
        cmds = (await admin.get("/api/drones/2/commands")).json()
        assert {(h["name"], h["actor"]) for h in cmds} >= {
            ("start_mission", f"system:rule:{rid}")}
        svc.fleet.fly_to_end(2)

        async def on_scene() -> dict[str, Any] | None:
            body = await _incident(admin, inc)
            return body if body["response"]["on_scene_at"] else None

        await svc.until(on_scene, what="on scene")


async def test_a_non_matching_incident_is_left_alone(svc: InProcess) -> None:
    svc.fleet.add(1)
    async with svc.http() as admin:
        key = await _intake_key(admin)
        await _rule(admin, categories=["drug_activity"])
        await _rule(admin, min_severity=5, sources=["telegram"])
        inc = await _intake(svc, key, 200, 0, severity=4)
        await svc.runtime.dispatch.consider(inc)  # what the engine does; decided as it would
        body = await _incident(admin, inc)
        assert body["status"] == "new" and body["response"]["dispatched_at"] is None
        assert svc.fleet.sent(1) == []
        assert (await admin.get("/api/missions")).json() == []


async def test_an_interlock_refusal_leaves_the_incident_new_and_is_audited(
    svc: InProcess,
) -> None:
    svc.fleet.add(5)
    svc.fleet.update(5, gps_fix="2D")  # linked, EKF good, but no 3D fix: the preflight refuses
    async with svc.http() as admin:
        key = await _intake_key(admin)
        rid = await _rule(admin)
        inc = await _intake(svc, key, 300, 0)

        async def refused() -> list[dict[str, Any]]:
            return [r for r in await _audit(admin, f"system:rule:{rid}")
                    if r["action"] == "dispatch_rule.refused"]

        rec = (await svc.until(refused, what="the refusal audited"))[0]
        assert rec["outcome"] == "refused" and rec["drone_id"] == 5
        assert rec["result"]["interlocks"][0]["check"] == "gps"
        body = await _incident(admin, inc)
        assert body["status"] == "new" and body["response"]["dispatched_at"] is None
        assert "start_mission" not in svc.fleet.sent(5)
        m = (await admin.get(f"/api/missions/{rec['mission_id']}")).json()
        assert m["status"] == "aborted"  # the plan it made is discarded


async def test_a_proposal_waits_for_the_operator_and_is_confirmed(svc: InProcess) -> None:
    svc.fleet.add(3)
    async with svc.http("operator", "op-42") as op, svc.http() as admin:
        key = await _intake_key(admin)
        rid = await _rule(op, action="propose", confirm_s=600)
        with svc.runtime.hub.subscribe(domain=True) as sub:
            inc = await _intake(svc, key, 250, 0)
            pushed: list[Any] = []

            def proposal_pushed() -> bool:
                pushed.extend(e for e in sub.take_domain()[0] if e.kind == "proposal")
                return bool(pushed)

            await svc.until(proposal_pushed, what="the proposal pushed to the consoles")
        shown = json.loads(pushed[0].views["viewer"])
        assert shown["incident_id"] == inc and shown["status"] == "pending"

        async def pending() -> list[dict[str, Any]]:
            body: list[dict[str, Any]] = (await op.get(
                "/api/dispatch-proposals", params={"status": "pending"})).json()
            return body

        p = (await svc.until(pending, what="a proposal"))[0]
        assert p["incident_id"] == inc and p["drone_id"] == 3 and p["rule_id"] == rid
        assert p["eta_s"] > 0 and p["expires_at"] > p["created_at"]
        assert svc.fleet.sent(3) == [] and (await _incident(op, inc))["status"] == "new"
        r = await op.post(f"/api/dispatch-proposals/{p['id']}/confirm")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "active" and svc.fleet.sent(3)[-1] == "start_mission"
        again = await op.post(f"/api/dispatch-proposals/{p['id']}/confirm")
        assert again.status_code == 409 and again.json()["detail"]["field"] == "status"
        got = await _incident(op, inc)
        assert got["status"] == "assigned" and got["response"]["drone_id"] == 3
        actions = {r["action"] for r in await _audit(admin, f"system:rule:{rid}")}
        assert "dispatch_rule.proposed" in actions
        assert any(r["action"] == "dispatch_proposal.confirmed"
                   for r in await _audit(admin, "op-42"))


async def test_a_proposal_rejected_or_timed_out(svc: InProcess) -> None:
    svc.fleet.add(3)
    svc.fleet.add(4, at=_geo(*_at(0, 30)))
    async with svc.http("operator", "op-42") as op, svc.http() as admin:
        key = await _intake_key(admin)
        # first: dropped when nobody answers; then dispatched when nobody answers
        drop = await _rule(op, action="propose", confirm_s=0.3, on_timeout="drop",
                           categories=["theft"])
        send = await _rule(op, action="propose", confirm_s=0.3, on_timeout="dispatch",
                           categories=["traffic"])
        dropped = await _intake(svc, key, 200, 0, category="theft")
        sent = await _intake(svc, key, 200, 50, category="traffic")

        async def settled() -> dict[int, dict[str, Any]] | None:
            ps = (await op.get("/api/dispatch-proposals")).json()
            done = {p["incident_id"]: p for p in ps if p["status"] != "pending"}
            return done if len(done) == 2 else None

        done = await svc.until(settled, timeout_s=10, what="both proposals settled")
        assert done[dropped]["status"] == "expired"
        assert done[dropped]["decided_by"] == f"system:rule:{drop}"
        assert done[sent]["status"] == "dispatched"
        assert (await _incident(op, dropped))["status"] == "new"
        async def flown() -> dict[str, Any] | None:
            got = await _incident(op, sent)
            return got if got["response"]["airborne_at"] else None

        assert (await svc.until(flown, what="the timed-out proposal flown"))["status"] == \
            "assigned"
        mission = (await op.get(f"/api/missions/{done[dropped]['mission_id']}")).json()
        assert mission["status"] == "aborted"
        assert any(r["action"] == "dispatch_proposal.dispatched"
                   for r in await _audit(admin, f"system:rule:{send}"))
        # and an operator's rejection
        await op.patch(f"/api/dispatch-rules/{drop}", json={"confirm_s": 600})
        third = await _intake(svc, key, 100, 0, category="theft")

        async def pending() -> list[dict[str, Any]]:
            ps = (await op.get("/api/dispatch-proposals", params={"status": "pending"})).json()
            return [p for p in ps if p["incident_id"] == third]

        p = (await svc.until(pending, what="a third proposal"))[0]
        r = await op.post(f"/api/dispatch-proposals/{p['id']}/reject")
        assert r.status_code == 200 and r.json()["status"] == "rejected"
        assert r.json()["decided_by"] == "op-42"
        assert (await _incident(op, third))["status"] == "new"


def _geo(lat: float, lon: float) -> Any:
    from fake_fleet import BASE
    from telemetry.state import GeoPoint
    return GeoPoint(lat, lon, BASE.alt_amsl)

