"""Own-fleet separation: a takeoff, goto or mission upload (quick dispatch, re-task) that would
bring two of our drones within 30 m horizontally and 15 m vertically is refused before it is
sent (the pure check, then in process through the API with the fake fleet)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fake_fleet import BASE
from inprocess import InProcess, in_process
from mission.geo import M_PER_DEG_LAT, m_per_deg_lon
from mission.planning.flight_path import Leg
from mission.planning.separation import Point, first_conflict
from telemetry.state import GeoPoint

pytestmark = pytest.mark.timeout(60)


def _at(north: float, east: float) -> tuple[float, float]:
    return BASE.lat + north / M_PER_DEG_LAT, BASE.lon + east / m_per_deg_lon(BASE.lat)


def _leg(a: tuple[float, float], b: tuple[float, float], low: float, high: float) -> Leg:
    return Leg(-1, "goto", a, b, low, high)


def test_a_leg_through_a_hovering_drone_conflicts() -> None:
    here = (*_at(0, 0), BASE.alt_amsl + 40)
    other = Point(2, *_at(200, 10), BASE.alt_amsl + 45)
    hit = first_conflict([_leg(_at(0, 0), _at(400, 0), 40, 40)], BASE.alt_amsl, here, [other])
    assert hit is not None and hit.h_m == pytest.approx(10, abs=0.5) and hit.v_m == 5
    # 40 m to the side, or 20 m above: clear
    side = Point(2, *_at(200, 40), BASE.alt_amsl + 40)
    above = Point(2, *_at(200, 0), BASE.alt_amsl + 60)
    assert first_conflict([_leg(_at(0, 0), _at(400, 0), 40, 40)], BASE.alt_amsl, here,
                          [side, above]) is None
    # a climb through its altitude right under it
    assert first_conflict([_leg(_at(199, 10), _at(199, 10), 0, 80)], BASE.alt_amsl,
                          (*_at(199, 10), BASE.alt_amsl), [other]) is not None


def test_leaving_a_drone_one_is_already_close_to_is_allowed() -> None:
    here = (*_at(0, 0), BASE.alt_amsl + 40)
    other = Point(2, *_at(5, 0), BASE.alt_amsl + 40)
    assert first_conflict([_leg(_at(0, 0), _at(-300, 0), 40, 40)], BASE.alt_amsl, here,
                          [other]) is None


@pytest.fixture
async def svc(tmp_path: Path, database_url: str) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path, database_url) as s:
        yield s


def _hovering(svc: InProcess, drone_id: int, north: float, east: float, alt: float = 40.0,
              mode: str = "GUIDED") -> None:
    svc.fleet.add(drone_id)
    lat, lon = _at(north, east)
    svc.fleet.update(drone_id, armed=True, landed_state="in_air", alt_rel=alt, mode=mode,
                     position=GeoPoint(lat, lon, BASE.alt_amsl + alt))


async def test_two_drones_sent_to_one_point_are_kept_apart(svc: InProcess) -> None:
    _hovering(svc, 1, 0, -200)
    _hovering(svc, 2, 0, 200, alt=60.0)
    lat, lon = _at(300, 0)
    async with svc.http() as c:
        r = await c.post("/api/drones/1/commands/goto", json={"lat": lat, "lon": lon, "alt": 40})
        assert r.status_code == 200, r.text
        # drone 2 to the same point, while drone 1 is on its way there: refused, not sent
        r = await c.post("/api/drones/2/commands/goto", json={"lat": lat, "lon": lon, "alt": 45})
        assert r.status_code == 409, r.text
        body = r.json()
        assert body["check"] == "separation" and "drone 1" in body["message"], body
        assert [c.name for c in svc.fleet.drones[2].sent] == []
        # staying 20 m higher: vertically separated, sent
        r = await c.post("/api/drones/2/commands/goto", json={"lat": lat, "lon": lon, "alt": 60})
        assert r.status_code == 200, r.text
        records = (await c.get("/api/drones/2/commands")).json()
        assert [(x["name"], x["outcome"]) for x in records] == [
            ("goto", "accepted"), ("goto", "refused")]


async def test_a_goto_through_a_hovering_drone_is_refused(svc: InProcess) -> None:
    _hovering(svc, 1, 150, 0, mode="BRAKE")
    _hovering(svc, 2, 0, 0)
    async with svc.http() as c:
        lat, lon = _at(300, 5)
        r = await c.post("/api/drones/2/commands/goto", json={"lat": lat, "lon": lon, "alt": 40})
        assert r.status_code == 409 and r.json()["check"] == "separation", r.text
        # a drone flying its mission (AUTO) is not a point to keep off: the layers separate it
        svc.fleet.update(1, mode="AUTO")
        r = await c.post("/api/drones/2/commands/goto", json={"lat": lat, "lon": lon, "alt": 40})
        assert r.status_code == 200, r.text


async def test_quick_dispatch_onto_a_hovering_drone_is_refused(svc: InProcess) -> None:
    _hovering(svc, 1, 400, 0)
    svc.fleet.update(1, ekf_ok=False)  # holding there, not a candidate for the dispatch
    svc.fleet.add(2)  # on the ground at base
    lat, lon = _at(400, 0)
    async with svc.http() as c:
        r = await c.post("/api/missions/quick", json={"lat": lat, "lon": lon, "altitude_m": 40})
        assert r.status_code == 409, r.text
        assert "separation" in r.text or "drone 1" in r.text, r.text
        assert "upload_mission" not in svc.fleet.sent(2)
        r = await c.post("/api/missions/quick", json={"lat": lat, "lon": lon, "altitude_m": 70})
        assert r.status_code in (200, 201), r.text
        assert "upload_mission" in svc.fleet.sent(2)


async def test_two_drones_that_come_close_anyway_are_alerted_then_cleared(
        svc: InProcess) -> None:
    _hovering(svc, 1, 0, 0)
    _hovering(svc, 2, 0, 100)
    with svc.runtime.hub.subscribe(max_events=100) as sub:
        lat, lon = _at(0, 12)  # drone 2 drifts (or is flown by hand) to 12 m from drone 1
        svc.fleet.update(2, position=GeoPoint(lat, lon, BASE.alt_amsl + 45))
        got: list[Any] = []

        def kinds(kind: str) -> list[Any]:
            got.extend(sub.take_events()[0])
            return [e for e in got if e.kind.value == kind]

        alerts = await svc.until(lambda: len(kinds("separation_alert")) == 2 and
                                 kinds("separation_alert"), what="separation alerts")
        assert {(e.vehicle_id, e.data["other"]) for e in alerts} == {(1, 2), (2, 1)}
        assert alerts[0].data["h_m"] == pytest.approx(12, abs=0.5)
        assert alerts[0].data["v_m"] == pytest.approx(5, abs=0.1)
        lat, lon = _at(0, 100)
        svc.fleet.update(2, position=GeoPoint(lat, lon, BASE.alt_amsl + 45))
        clear = await svc.until(lambda: kinds("separation_clear"), timeout_s=8, what="clear")
        assert {e.vehicle_id for e in clear} <= {1, 2}
    assert svc.fleet.sent(1) == [] and svc.fleet.sent(2) == []  # no automatic action
