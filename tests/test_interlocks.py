"""Safety interlocks at dispatch and on direct commands, through the real API (in process, the
drone a fake behind the vehicle-command port: the interlocks judge what the drone reports, and a
refused command never reaches it): a no-fly zone drawn after planning, a battery too low for the
route plus the reserve, GPS lost, the legal altitude ceiling. Each refusal says which check
failed, the mission stays planned, and the refusal is in the mission log and the audit log. No
role overrides them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from fake_fleet import BASE
from inprocess import in_process

pytestmark = pytest.mark.timeout(60)
HOME = {"lat": BASE.lat, "lon": BASE.lon}


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


async def test_dispatch_interlocks_and_command_limits(tmp_path: Path, database_url: str) -> None:
    async with in_process(tmp_path, database_url) as svc:
        await svc.sign_in("operator", "op-9")
        await svc.sign_in("commander")
        fleet = svc.fleet
        fleet.add(1)
        home = HOME
        async with svc.http("operator", "op-9") as c, svc.http() as admin, \
                svc.http("commander") as chief, svc.http(role="none", username="nobody") as anon:
            lat, lon = _offset(home, 220, 0)
            r = await c.post("/api/incidents", json={"lat": lat, "lon": lon, "category": "theft",
                                                     "severity": 3, "source": "operator"})
            inc = r.json()["id"]
            r = await c.post("/api/missions/plan", json={"drones": [1], "incidents": [inc],
                                                         "altitude_m": 25})
            assert r.status_code == 201, r.text
            mission = r.json()["id"]
            dispatch = f"/api/missions/{mission}/dispatch"
            assert (await chief.post(dispatch)).status_code == 403
            assert (await anon.post(dispatch)).status_code == 401

            # a no-fly zone drawn after planning, across the route
            box = [_offset(home, n, e) for n, e in ((80, -40), (80, 40), (140, 40), (140, -40))]
            ring = [[b, a] for a, b in [*box, box[0]]]
            r = await c.post("/api/zones", json={"name": "stadium", "kind": "no_fly",
                                                 "geometry": {"type": "Polygon",
                                                              "coordinates": [ring]}})
            assert r.status_code == 201, r.text
            zone = r.json()["id"]
            detail = _refused(await c.post(dispatch), "no_fly")
            assert "stadium" in detail["message"] and detail["field"] == "legs"
            # the one mission check names the item (index in the uploaded items) and the zone
            hit = next(i for i in detail["interlocks"] if i["check"] == "no_fly")
            assert hit["zone_id"] == zone and f"items[{hit['item']}]" in hit["message"], hit
            assert (await c.get(f"/api/missions/{mission}")).json()["status"] == "planned"
            # an admin is refused the same way: there is no override
            _refused(await admin.post(dispatch), "no_fly")
            # nor can a direct command fly there
            inside = _offset(home, 110, 0)
            r = await c.post("/api/drones/1/commands/goto",
                             json={"lat": inside[0], "lon": inside[1], "alt": 20})
            assert r.status_code == 409 and r.json()["error"] == "interlock", r.text
            assert r.json()["check"] == "no_fly"
            items = [{"command": 22, "alt": 10},
                     {"command": 16, "lat": lat, "lon": lon, "alt": 25}, {"command": 20}]
            r = await c.post("/api/drones/1/commands/upload_mission", json={"items": items})
            assert r.status_code == 409 and r.json()["check"] == "no_fly", r.text
            # only an admin may remove a no-fly zone
            assert (await c.delete(f"/api/zones/{zone}")).status_code == 403
            assert (await c.patch(f"/api/zones/{zone}", json={"active": False})).status_code == 403
            assert (await admin.delete(f"/api/zones/{zone}")).status_code == 204

            # above the legal ceiling
            r = await c.post("/api/drones/1/commands/takeoff", json={"alt": 150})
            assert r.status_code == 409 and r.json()["check"] == "altitude", r.text
            r = await c.post("/api/missions/plan", json={"drones": [1], "incidents": [inc],
                                                         "altitude_m": 130})
            assert r.status_code == 422 and r.json()["detail"]["field"] == "altitude_m"

            # battery below what the route needs plus the reserve
            fleet.update(1, battery_pct=12.0)
            detail = _refused(await c.post(dispatch), "battery")
            assert "reserve" in detail["message"]
            fleet.update(1, battery_pct=100.0)

            # GPS lost
            fleet.update(1, gps_fix="NO_FIX", ekf_ok=False)
            _refused(await c.post(dispatch), ("gps", "ekf"))
            fleet.update(1, gps_fix="3D", ekf_ok=True)
            assert fleet.sent(1) == []  # nothing ever reached the drone

    # the legal maximum lowered below the planned altitude (a restart with the new setting)
    async with in_process(tmp_path, database_url, max_altitude_m=20.0,
                          after=svc) as svc2:
        await svc2.sign_in("operator", "op-9")
        svc2.fleet.add(1)
        async with svc2.http("operator", "op-9") as c, svc2.http() as admin:
            detail = _refused(await c.post(dispatch), "altitude")
            assert "legal maximum of 20 m" in detail["message"]
            assert (await c.get(f"/api/missions/{mission}")).json()["status"] == "planned"
            assert svc2.fleet.sent(1) == []  # nothing was ever sent to fly

            refused = (await admin.get("/api/audit", params={
                "action": "mission.dispatch_refused", "mission_id": mission})).json()
            checks = [{i["check"] for i in a["result"]["interlocks"]} for a in refused]
            assert len(refused) == 5 and {"no_fly"} in checks and {"altitude"} in checks
            assert {a["actor"] for a in refused} == {"op-9", "admin"}
            cmds = (await admin.get("/api/audit", params={
                "action": "vehicle.command", "drone_id": 1, "outcome": "refused"})).json()
            assert {a["command"] for a in cmds} == {"goto", "upload_mission", "takeoff"}
            assert all(a["actor"] == "op-9" and a["result"]["check"] for a in cmds)
            kinds = [e["kind"] for e in (await c.get(f"/api/missions/{mission}/log")).json()]
            assert kinds.count("dispatch_refused") == 5
