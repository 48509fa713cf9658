"""Safety interlocks at dispatch and on direct commands, against the real service and a simulated
copter: a no-fly zone drawn after planning, a battery too low for the route plus the reserve,
GPS lost, the legal altitude ceiling. Each refusal says which check failed, the mission stays
planned, and the refusal is in the mission log and the audit log. No role overrides them."""

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


def _state(c: httpx.Client, drone_id: int = 1) -> dict[str, Any]:
    state: dict[str, Any] = c.get(f"/api/drones/{drone_id}").json()["state"] or {}
    return state


GOOD_FIX = ("3D", "DGPS", "RTK_FLOAT", "RTK_FIXED", "PPP")


def _ready(c: httpx.Client) -> dict[str, Any] | None:
    s = _state(c)
    ok = (s.get("link") == "up" and s.get("ekf_ok") and s.get("home") and s.get("position")
          and s.get("gps_fix") in GOOD_FIX and (s.get("battery_pct") or 0) > 90)
    return s if ok else None


def _offset(home: dict[str, float], north_m: float, east_m: float) -> tuple[float, float]:
    lat = home["lat"] + north_m / 111_320.0
    lon = home["lon"] + east_m / (111_320.0 * math.cos(math.radians(home["lat"])))
    return round(lat, 7), round(lon, 7)


def _refused(r: httpx.Response, check: str | tuple[str, ...]) -> dict[str, Any]:
    assert r.status_code == 409, r.text
    detail: dict[str, Any] = r.json()["detail"]
    assert detail["error"] == "interlock", detail
    checks = (check,) if isinstance(check, str) else check
    assert {i["check"] for i in detail["interlocks"]} & set(checks), detail
    assert all(i["drone_id"] == 1 for i in detail["interlocks"])
    return detail


def test_dispatch_interlocks_and_command_limits(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> None:
    fleet = sim_fleet(count=1, speedup=10.0, ekf_delay=1.0)
    svc = service_factory(drones=[fleet.mavsdk_url(0)])
    with svc.client(timeout=90, role="operator", username="op-9") as c, \
            svc.client(timeout=30) as admin:
        wait_until(functools.partial(_ready, c), 30, what="drone ready")
        home = _state(c)["home"]
        lat, lon = _offset(home, 220, 0)
        r = c.post("/api/incidents", json={"lat": lat, "lon": lon, "category": "theft",
                                           "severity": 3, "source": "operator"})
        inc = r.json()["id"]
        r = c.post("/api/missions/plan", json={"drones": [1], "incidents": [inc],
                                               "altitude_m": 25})
        assert r.status_code == 201, r.text
        mission = r.json()["id"]
        dispatch = f"/api/missions/{mission}/dispatch"
        with svc.client(role="commander") as chief:
            assert chief.post(dispatch).status_code == 403
        with svc.client(role=None) as anon:
            assert anon.post(dispatch).status_code == 401

        # a no-fly zone drawn after planning, across the route
        box = [_offset(home, n, e) for n, e in ((80, -40), (80, 40), (140, 40), (140, -40))]
        ring = [[b, a] for a, b in [*box, box[0]]]
        r = c.post("/api/zones", json={"name": "stadium", "kind": "no_fly", "geometry": {
            "type": "Polygon", "coordinates": [ring]}})
        assert r.status_code == 201, r.text
        zone = r.json()["id"]
        detail = _refused(c.post(dispatch), "no_fly")
        assert "stadium" in detail["message"] and detail["field"] == "legs"
        # the one mission check names the item (index in the uploaded items) and the zone
        hit = next(i for i in detail["interlocks"] if i["check"] == "no_fly")
        assert hit["zone_id"] == zone and f"items[{hit['item']}]" in hit["message"], hit
        assert c.get(f"/api/missions/{mission}").json()["status"] == "planned"
        # an admin is refused the same way: there is no override
        _refused(admin.post(dispatch), "no_fly")
        # nor can a direct command fly there
        inside = _offset(home, 110, 0)
        r = c.post("/api/drones/1/commands/goto",
                   json={"lat": inside[0], "lon": inside[1], "alt": 20})
        assert r.status_code == 409 and r.json()["error"] == "interlock", r.text
        assert r.json()["check"] == "no_fly"
        items = [{"command": 22, "alt": 10},
                 {"command": 16, "lat": lat, "lon": lon, "alt": 25}, {"command": 20}]
        r = c.post("/api/drones/1/commands/upload_mission", json={"items": items})
        assert r.status_code == 409 and r.json()["check"] == "no_fly", r.text
        # only an admin may remove a no-fly zone
        assert c.delete(f"/api/zones/{zone}").status_code == 403
        assert c.patch(f"/api/zones/{zone}", json={"active": False}).status_code == 403
        assert admin.delete(f"/api/zones/{zone}").status_code == 204

        # above the legal ceiling
        r = c.post("/api/drones/1/commands/takeoff", json={"alt": 150})
        assert r.status_code == 409 and r.json()["check"] == "altitude", r.text
        r = c.post("/api/missions/plan", json={"drones": [1], "incidents": [inc],
                                               "altitude_m": 130})
        assert r.status_code == 422 and r.json()["detail"]["field"] == "altitude_m"

        # battery below what the route needs plus the reserve
        fleet.control("battery", vehicle=0, percent=12)
        wait_until(lambda: (_state(c).get("battery_pct") or 100) < 15, 10, what="battery low")
        detail = _refused(c.post(dispatch), "battery")
        assert "reserve" in detail["message"]
        fleet.control("battery", vehicle=0, percent=100)

        # GPS lost
        fleet.control("gps_loss", vehicle=0)
        wait_until(lambda: _state(c).get("gps_fix") not in GOOD_FIX, 15, what="GPS lost")
        _refused(c.post(dispatch), ("gps", "ekf"))
        fleet.control("gps_loss", vehicle=0, lost=False)
        wait_until(functools.partial(_ready, c), 30, what="drone ready again")

        # the legal maximum lowered below the planned altitude
        svc.env["NAZORAT_MAX_ALTITUDE_M"] = "20"
        svc.restart()
        wait_until(functools.partial(_ready, c), 30, what="drone ready after restart")
        detail = _refused(c.post(dispatch), "altitude")
        assert "legal maximum of 20 m" in detail["message"]
        assert c.get(f"/api/missions/{mission}").json()["status"] == "planned"
        assert _state(c)["armed"] is False  # nothing was ever sent to fly

        refused = admin.get("/api/audit", params={"action": "mission.dispatch_refused",
                                                  "mission_id": mission}).json()
        checks = [{i["check"] for i in a["result"]["interlocks"]} for a in refused]
        assert len(refused) == 5 and {"no_fly"} in checks and {"altitude"} in checks
        assert {a["actor"] for a in refused} == {"op-9", svc.admin_user}
        cmds = admin.get("/api/audit", params={"action": "vehicle.command", "drone_id": 1,
                                               "outcome": "refused"}).json()
        assert {a["command"] for a in cmds} == {"goto", "upload_mission", "takeoff"}
        assert all(a["actor"] == "op-9" and a["result"]["check"] for a in cmds)
        kinds = [e["kind"] for e in c.get(f"/api/missions/{mission}/log").json()]
        assert kinds.count("dispatch_refused") == 5
