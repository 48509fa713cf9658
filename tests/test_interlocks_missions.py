"""The bypasses of issue 10, through the real API against a simulated copter: each mission is
refused (409 `interlock`) naming the item index, the check and the zone, and the refusal is in
the command record and the audit log. The pure check and its property test are in
test_mission_check.py and test_mission_check_property.py."""

from __future__ import annotations

import functools
import math
from typing import Any

import httpx
import pytest

pytest.register_assert_rewrite("service_fixture")

from service_fixture import ServiceFactory, wait_until  # noqa: E402
from sitl_fleet import FleetFactory  # noqa: E402

pytest_plugins = ["service_fixture"]
pytestmark = pytest.mark.timeout(240)

GOOD_FIX = ("3D", "DGPS", "RTK_FLOAT", "RTK_FIXED", "PPP")
UPLOAD = "/api/drones/1/commands/upload_mission"


def _state(c: httpx.Client) -> dict[str, Any]:
    state: dict[str, Any] = c.get("/api/drones/1").json()["state"] or {}
    return state


def _ready(c: httpx.Client) -> dict[str, Any] | None:
    s = _state(c)
    ok = (s.get("link") == "up" and s.get("ekf_ok") and s.get("home") and s.get("position")
          and s.get("gps_fix") in GOOD_FIX)
    return s if ok else None


def _at(home: dict[str, float], north_m: float, east_m: float) -> tuple[float, float]:
    lat = home["lat"] + north_m / 111_320.0
    lon = home["lon"] + east_m / (111_320.0 * math.cos(math.radians(home["lat"])))
    return round(lat, 7), round(lon, 7)


def _zone(c: httpx.Client, home: dict[str, float], name: str, n0: float, n1: float,
          e0: float, e1: float, **band: float) -> int:
    box = [_at(home, n, e) for n, e in ((n0, e0), (n0, e1), (n1, e1), (n1, e0))]
    ring = [[lon, lat] for lat, lon in [*box, box[0]]]
    r = c.post("/api/zones", json={"name": name, "kind": "no_fly", **band, "geometry": {
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


def test_issue_10_mission_bypasses_are_refused_and_recorded(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> None:
    fleet = sim_fleet(count=1, speedup=10.0, ekf_delay=1.0)
    svc = service_factory(drones=[fleet.mavsdk_url(0)])
    with svc.client(timeout=90, role="operator", username="op-10") as c, \
            svc.client(timeout=30) as admin:
        home = wait_until(functools.partial(_ready, c), 30, what="drone ready")["home"]
        school = _zone(c, home, "school", 80, 140, -60, 60)  # north, every altitude
        clinic = _zone(c, home, "clinic", -140, -80, -60, 60, min_alt_m=0, max_alt_m=60)
        takeoff, rtl = {"command": 22, "alt": 30}, {"command": 20, "frame": 2}
        west, east = _at(home, 110, -150), _at(home, 110, 150)
        south = _at(home, -40, 0)

        # frame 2 at 1,500 m: ArduPilot flies MAV_FRAME_MISSION as an absolute altitude
        body = _refused(c.post(UPLOAD, json={"items": [takeoff, _wp(south, 1500, 2), rtl]}),
                        "altitude", 1)
        assert "legal maximum" in body["message"]

        # a DO_JUMP whose return leg (east -> west) crosses the zone
        jump = {"command": 177, "frame": 2, "param1": 2, "param2": 1}
        items = [takeoff, _wp(west, 30), _wp(_at(home, -30, 0), 30), _wp(east, 30), jump, rtl]
        _refused(c.post(UPLOAD, json={"items": items}), "no_fly", 1, school)
        del items[4]
        r = c.post(UPLOAD, json={"items": items})  # the same route without the jump flies
        assert r.status_code == 200 and r.json()["verified"], r.text

        # DO_SET_HOME inside the zone, then RTL
        set_home = {"command": 179, "lat": _at(home, 110, 0)[0], "lon": _at(home, 110, 0)[1],
                    "alt": 0}
        _refused(c.post(UPLOAD, json={"items": [takeoff, _wp(south, 30), set_home, rtl]}),
                 "no_fly", 3, school)

        # the clinic is closed from 0 to 60 m: entered at 20 m on a route whose top is 100 m
        items = [{"command": 22, "alt": 20}, _wp(_at(home, -110, 0), 20),
                 _wp(_at(home, -110, 200), 100), rtl]
        body = _refused(c.post(UPLOAD, json={"items": items}), "no_fly", 1, clinic)
        assert "20 m" in body["message"]

        # a NaN altitude (JSON NaN, which Python's parser accepts)
        r = c.post(UPLOAD, content=b'{"items": [{"command": 22, "alt": 10}, {"command": 16, '
                                   b'"lat": %.7f, "lon": %.7f, "alt": NaN}]}' % south,
                   headers={"content-type": "application/json"})
        body = _refused(r, "finite", 1)
        assert "alt is nan" in body["message"]

        # a VTOL take-off is not a copter item
        body = _refused(c.post(UPLOAD, json={"items": [{"command": 84, "alt": 30}, rtl]}),
                        "item", 0)
        assert "MAV_CMD 84" in body["message"]

        # set_mission_current: the stored mission from that item on, from where the drone is
        far_nw, far_ne = _at(home, 200, -80), _at(home, 200, 150)
        items = [takeoff, _wp(_at(home, 0, 150), 30), _wp(far_ne, 30), _wp(far_nw, 30),
                 {"command": 21, "lat": far_nw[0], "lon": far_nw[1]}]
        r = c.post(UPLOAD, json={"items": items})
        assert r.status_code == 200, r.text
        body = _refused(c.post("/api/drones/1/commands/set_mission_current", json={"seq": 4}),
                        "no_fly", 3, school)
        r = c.post("/api/drones/1/commands/set_mission_current", json={"seq": 2})
        assert r.status_code == 200, r.text

        # every refusal is in the command record and the audit log, with item and check
        history = [h for h in c.get("/api/drones/1/commands").json()
                   if h["outcome"] == "refused"]
        assert len(history) >= 6
        assert all("check" in h["result"] for h in history)
        # the NaN is recorded as text: JSON (and PostgreSQL's json) has no NaN
        assert any(i.get("alt") == "nan" for h in history for i in h["params"].get("items", []))
        assert {h["result"].get("item") for h in history} >= {0, 1, 3}
        audited = admin.get("/api/audit", params={"action": "vehicle.command", "drone_id": 1,
                                                  "outcome": "refused"}).json()
        assert len(audited) == len(history)
        assert {a["result"].get("zone_id") for a in audited} >= {school, clinic}
        assert all(a["actor"] == "op-10" for a in audited)
        assert _state(c)["armed"] is False
