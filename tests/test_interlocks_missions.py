"""The bypasses of issue 10, through the real API (in process; the drone a fake behind the
vehicle-command port, which holds what it is given so that set_mission_current is judged on
the mission read back from it): each mission is refused (409 `interlock`) naming the item
index, the check and the zone, and the refusal is in the command record and the audit log.
The pure check and its property test are in test_mission_check.py and
test_mission_check_property.py."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from fake_fleet import BASE
from inprocess import in_process

pytestmark = pytest.mark.timeout(60)

UPLOAD = "/api/drones/1/commands/upload_mission"


def _at(home: dict[str, float], north_m: float, east_m: float) -> tuple[float, float]:
    lat = home["lat"] + north_m / 111_320.0
    lon = home["lon"] + east_m / (111_320.0 * math.cos(math.radians(home["lat"])))
    return round(lat, 7), round(lon, 7)


async def _zone(c: httpx.AsyncClient, home: dict[str, float], name: str, n0: float, n1: float,
                e0: float, e1: float, **band: float) -> int:
    box = [_at(home, n, e) for n, e in ((n0, e0), (n0, e1), (n1, e1), (n1, e0))]
    ring = [[lon, lat] for lat, lon in [*box, box[0]]]
    r = await c.post("/api/zones", json={"name": name, "kind": "no_fly", **band, "geometry": {
        "type": "Polygon", "coordinates": [ring]}})
    assert r.status_code == 201, r.text
    zone: int = r.json()["id"]
    return zone


def _wp(p: tuple[float, float], alt: float, frame: int = 3) -> dict[str, Any]:
    return {"command": 16, "lat": p[0], "lon": p[1], "alt": alt, "frame": frame}


def _refused(r: httpx.Response, check: str, item: int, zone: int | None = None
             ) -> dict[str, Any]:
    assert r.status_code == 409, r.text
    body: dict[str, Any] = r.json()
    assert body["error"] == "interlock" and body["check"] == check, body
    assert body["item"] == item and f"items[{item}]" in body["message"], body
    if zone is not None:
        assert body["zone_id"] == zone and f"zone {zone}" in body["message"], body
    return body


async def test_issue_10_mission_bypasses_are_refused_and_recorded(
    tmp_path: Path, database_url: str,
) -> None:
    async with in_process(tmp_path, database_url) as svc:
        await svc.sign_in("operator", "op-10")
        svc.fleet.add(1)
        home = {"lat": BASE.lat, "lon": BASE.lon}
        async with svc.http("operator", "op-10") as c, svc.http() as admin:
            school = await _zone(c, home, "school", 80, 140, -60, 60)  # north, every altitude
            clinic = await _zone(c, home, "clinic", -140, -80, -60, 60, min_alt_m=0, max_alt_m=60)
            takeoff, rtl = {"command": 22, "alt": 30}, {"command": 20, "frame": 2}
            west, east = _at(home, 110, -150), _at(home, 110, 150)
            south = _at(home, -40, 0)

            # frame 2 at 1,500 m: ArduPilot flies MAV_FRAME_MISSION as an absolute altitude
            high = [takeoff, _wp(south, 1500, 2), rtl]
            body = _refused(await c.post(UPLOAD, json={"items": high}), "altitude", 1)
            assert "legal maximum" in body["message"]

            # a DO_JUMP whose return leg (east -> west) crosses the zone
            jump = {"command": 177, "frame": 2, "param1": 2, "param2": 1}
            items = [takeoff, _wp(west, 30), _wp(_at(home, -30, 0), 30), _wp(east, 30), jump, rtl]
            _refused(await c.post(UPLOAD, json={"items": items}), "no_fly", 1, school)
            del items[4]
            r = await c.post(UPLOAD, json={"items": items})  # the same route without the jump flies
            assert r.status_code == 200 and r.json()["verified"], r.text

            # DO_SET_HOME inside the zone, then RTL
            set_home = {"command": 179, "lat": _at(home, 110, 0)[0], "lon": _at(home, 110, 0)[1],
                        "alt": 0}
            homed = [takeoff, _wp(south, 30), set_home, rtl]
            body = _refused(await c.post(UPLOAD, json={"items": homed}), "no_fly", 2, school)
            assert "DO_SET_HOME" in body["message"]
            # a new home beyond the zone: the RTL leg to it crosses the zone
            beyond = {**set_home, "lat": _at(home, 300, 0)[0]}
            moved = [takeoff, _wp(south, 30), beyond, rtl]
            body = _refused(await c.post(UPLOAD, json={"items": moved}), "no_fly", 3, school)
            assert "NAV_RETURN_TO_LAUNCH" in body["message"]

            # the clinic is closed from 0 to 60 m: entered at 20 m on a route whose top is 100 m
            items = [{"command": 22, "alt": 20}, _wp(_at(home, -110, 0), 20),
                     _wp(_at(home, -110, 200), 100), rtl]
            body = _refused(await c.post(UPLOAD, json={"items": items}), "no_fly", 1, clinic)
            assert "20 m" in body["message"]

            # a NaN altitude (JSON NaN, which Python's parser accepts)
            nan = (b'{"items": [{"command": 22, "alt": 10}, {"command": 16, '
                   b'"lat": %.7f, "lon": %.7f, "alt": NaN}]}' % south)
            r = await c.post(UPLOAD, content=nan, headers={"content-type": "application/json"})
            body = _refused(r, "finite", 1)
            assert "alt is nan" in body["message"]

            # a VTOL take-off is not a copter item
            body = _refused(await c.post(UPLOAD, json={"items": [{"command": 84, "alt": 30}, rtl]}),
                            "item", 0)
            assert "MAV_CMD 84" in body["message"]

            # set_mission_current: the stored mission from that item on, from where the drone is
            far_nw, far_ne = _at(home, 200, -80), _at(home, 200, 150)
            items = [takeoff, _wp(_at(home, 0, 150), 30), _wp(far_ne, 30), _wp(far_nw, 30),
                     {"command": 21, "lat": far_nw[0], "lon": far_nw[1]}]
            r = await c.post(UPLOAD, json={"items": items})
            assert r.status_code == 200, r.text
            body = _refused(await c.post("/api/drones/1/commands/set_mission_current",
                                         json={"seq": 4}), "no_fly", 3, school)
            r = await c.post("/api/drones/1/commands/set_mission_current", json={"seq": 2})
            assert r.status_code == 200, r.text

            # every refusal is in the command record and the audit log, with item and check
            history = [h for h in (await c.get("/api/drones/1/commands")).json()
                       if h["outcome"] == "refused"]
            assert len(history) >= 6
            assert all("check" in h["result"] for h in history)
            # the NaN is recorded as text: JSON (and PostgreSQL's json) has no NaN
            assert any(i.get("alt") == "nan" for h in history for i in h["params"].get("items", []))
            assert {h["result"].get("item") for h in history} >= {0, 1, 3}
            audited = (await admin.get("/api/audit", params={
                "action": "vehicle.command", "drone_id": 1, "outcome": "refused"})).json()
            assert len(audited) == len(history)
            assert {a["result"].get("zone_id") for a in audited} >= {school, clinic}
            assert all(a["actor"] == "op-10" for a in audited)
            assert "start_mission" not in svc.fleet.sent(1)  # nothing was flown
            # what the drone holds is the one accepted mission, as it was uploaded
            assert [i.command for i in svc.fleet.drones[1].items[1:]] == [22, 16, 16, 16, 21]
