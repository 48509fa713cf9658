"""Routes written by other tools (a QGroundControl .plan, a Mission Planner QGC WPL 110 list)
become planned missions for one drone and fly like planned ones, in process: the real service
(routes, database, planner, interlocks, tracker) with a fake fleet behind the vehicle-command
port (tests/inprocess.py). Bad files are refused with a message naming what is wrong, and
nothing is stored. Imported routes are also judged from where the drone is: a drone at its base
near Canberra refuses a file written for San Francisco airport naming the distance, a plane's
file naming its first plane-only item, and imports a commented Mission Planner file with its
own home in the home slot. (The simulator flies an imported route with its transit legs in
test_missions_import_transit.py.)"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fake_fleet import BASE
from inprocess import InProcess, in_process
from telemetry.state import GeoPoint

pytestmark = pytest.mark.timeout(60)

OPERATOR = "op-import"
CANBERRA = GeoPoint(-35.363261, 149.165230, 584.0)  # ArduPilot SITL's CMAC home
SFO = [(37.6213, -122.3790), (37.6190, -122.3750), (37.6150, -122.3700), (37.6130, -122.3650)]


@pytest.fixture
async def svc(tmp_path: Path, database_url: str) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path, database_url) as s:
        await s.sign_in("operator", OPERATOR)
        await s.sign_in("commander")
        yield s


def _offset(home: GeoPoint, north_m: float, east_m: float) -> tuple[float, float]:
    lat = home.lat + north_m / 111_320.0
    lon = home.lon + east_m / (111_320.0 * math.cos(math.radians(home.lat)))
    return round(lat, 7), round(lon, 7)


def qgc_plan(home: GeoPoint, points: list[tuple[float, float]], alt: float) -> str:
    """A .plan as QGroundControl 4.x saves one: takeoff, waypoints (yaw null = NaN), RTL."""
    def simple(n: int, command: int, params: list[Any]) -> dict[str, Any]:
        return {"type": "SimpleItem", "autoContinue": True, "command": command, "doJumpId": n,
                "frame": 3, "params": params, "Altitude": alt, "AltitudeMode": 1,
                "AMSLAltAboveTerrain": None}

    items = [simple(1, 22, [0, 0, 0, None, home.lat, home.lon, alt])]
    for n, (lat, lon) in enumerate(points, start=2):
        items.append(simple(n, 16, [0, 0, 0, None, lat, lon, alt]))
    items.append(simple(len(items) + 1, 20, [0, 0, 0, 0, 0, 0, 0]))
    return json.dumps({
        "fileType": "Plan", "groundStation": "QGroundControl", "version": 1,
        "geoFence": {"circles": [], "polygons": [], "version": 2},
        "rallyPoints": {"points": [], "version": 2},
        "mission": {"version": 2, "firmwareType": 3, "vehicleType": 2, "cruiseSpeed": 15,
                    "hoverSpeed": 5, "globalPlanAltitudeMode": 1,
                    "plannedHomePosition": [home.lat, home.lon, home.alt_amsl],
                    "items": items},
    })


def wpl(home: tuple[float, float, float], rows: list[tuple[int, int, float, float, float]],
        comments: bool = False) -> str:
    """A Mission Planner file: the home slot, then (frame, command, lat, lon, alt) rows."""
    lines = ["QGC WPL 110"]
    if comments:
        lines += ["# patrol north of the base, written by hand", ""]
    lines.append(f"0\t1\t0\t16\t0\t0\t0\t0\t{home[0]:.7f}\t{home[1]:.7f}\t{home[2]}\t1")
    for n, (frame, cmd, lat, lon, alt) in enumerate(rows, start=1):
        if comments:
            lines += ["", f"# item {n}"]
        lines.append(f"{n}\t0\t{frame}\t{cmd}\t0\t0\t0\t0\t{lat:.7f}\t{lon:.7f}\t{alt}\t1")
    return "\n".join(lines) + "\n"


async def _import(c: httpx.AsyncClient, text: str, fmt: str = "wpl",
                  drone: int = 1) -> httpx.Response:
    kind = "application/json" if fmt == "plan" else "text/plain"
    return await c.post("/api/missions/import", params={"drone_id": drone, "format": fmt},
                        content=text.encode(), headers={"Content-Type": kind})


async def test_imported_qgc_plan_dispatches_and_completes(svc: InProcess) -> None:
    svc.fleet.add(1)
    home = BASE
    async with svc.http("operator", OPERATOR) as c, svc.http() as admin:
        a, b = _offset(home, 120, 0), _offset(home, 120, 90)
        r = await _import(c, qgc_plan(home, [a, b], 30.0), fmt="plan")
        assert r.status_code == 201, r.text
        m = r.json()
        assert m["status"] == "planned" and m["created_by"] == OPERATOR
        (leg,) = m["legs"]
        assert leg["drone_id"] == 1 and leg["altitude_m"] == 30.0
        assert [i["command"] for i in leg["items"]] == [16, 22, 16, 16, 20]
        # the path is flown from the drone (take-off where it stands) and back to its home
        assert [round(p[0], 6) for p in leg["path"][1:3]] == [round(a[0], 6), round(b[0], 6)]
        assert leg["path"][0] == pytest.approx([home.lat, home.lon], abs=1e-5)
        assert leg["path"][-1] == pytest.approx([home.lat, home.lon], abs=1e-6)
        assert 300 < leg["distance_m"] < 700 and leg["battery_used_pct"] > 0

        # exported again as a Mission Planner list, it holds the same waypoints
        back = await c.get(f"/api/missions/{m['id']}/drones/1/export", params={"format": "wpl"})
        assert back.status_code == 200 and back.text.startswith("QGC WPL 110")
        assert f"{a[0]:.7f}"[:9] in back.text

        r = await c.post(f"/api/missions/{m['id']}/dispatch")
        assert r.status_code == 200, r.text
        assert svc.fleet.sent(1) == ["upload_mission", "start_mission"]  # no zones: no fence
        held = svc.fleet.drones[1].items
        assert [(i.command, i.lat, i.lon) for i in held[1:]] == [
            (i["command"], i["lat"], i["lon"]) for i in leg["items"][1:]]
        svc.fleet.fly_to_end(1)

        async def completed() -> bool:
            got = (await c.get(f"/api/missions/{m['id']}")).json()
            return bool(got["status"] == "completed")

        await svc.until(completed, what="imported mission completed")
        audit = (await admin.get("/api/audit", params={"action": "mission.import"})).json()
        assert any(rec["mission_id"] == m["id"] and rec["actor"] == OPERATOR
                   for rec in audit), audit


async def test_bad_imports_are_refused_naming_the_problem(svc: InProcess) -> None:
    svc.fleet.add(1)
    good = qgc_plan(BASE, [_offset(BASE, 50, 0)], 30.0)
    async with svc.http("operator", OPERATOR) as c, svc.http("commander") as cmd:
        r = await _import(c, "QGC WPL 110\n0\t1\t0\t16\tnot-a-number")
        assert r.status_code == 422 and r.json()["detail"]["field"] == "(body)", r.text
        r = await _import(c, '{"fileType": "Plan", "mission": {"items": []}}', fmt="plan")
        assert r.status_code == 422 and "malformed" in r.json()["detail"]["message"], r.text
        r = await _import(c, qgc_plan(BASE, [_offset(BASE, 50, 0)], 300.0), fmt="plan")
        assert r.status_code == 422 and "legal maximum" in r.json()["detail"]["message"]
        r = await _import(c, good, fmt="plan", drone=7)
        assert r.status_code == 404 and r.json()["detail"]["field"] == "drone_id", r.text
        r = await _import(c, good, fmt="kml")
        assert r.status_code == 422 and "format" in r.text
        r = await _import(cmd, good, fmt="plan")
        assert r.status_code == 403, r.text
        assert (await c.get("/api/missions")).json() == []  # nothing was stored
        assert (await _import(c, good, fmt="plan")).status_code == 201


async def test_far_plane_and_commented_files_from_a_drone_near_canberra(svc: InProcess) -> None:
    svc.fleet.add(1, at=CANBERRA)
    home = CANBERRA
    async with svc.http("operator", OPERATOR) as c, svc.http() as admin:
        # the file of the issue: home and waypoints at San Francisco airport
        sfo = wpl((*SFO[0], 4.0), [(3, 22, 0, 0, 30), *((3, 16, a, b, 30) for a, b in SFO[1:]),
                                   (3, 20, 0, 0, 0)])
        r = await _import(c, sfo)
        assert r.status_code == 422, r.text
        msg = r.json()["detail"]["message"]
        assert "home slot (seq 0)" in msg and "12,1" in msg and "km from drone 1" in msg, msg
        # the home slot nearby, the route still at SFO: the first waypoint is named
        near_home = (home.lat, home.lon, home.alt_amsl)
        r = await _import(c, sfo.replace(sfo.splitlines()[1], wpl(near_home, []).splitlines()[1]))
        assert r.status_code == 422, r.text
        msg = r.json()["detail"]["message"]
        assert "first waypoint (item 2, NAV_WAYPOINT (16))" in msg and "12,1" in msg, msg

        # an ArduPlane file: take-off and a waypoint a copter flies, then plane-only items
        a, b = _offset(home, 300, 0), _offset(home, 300, 300)
        plane = wpl(near_home, [(3, 22, 0, 0, 30), (3, 16, *a, 30), (3, 31, *b, 40),
                                (0, 189, 0, 0, 0), (3, 21, *a, 0)])
        r = await _import(c, plane)
        assert r.status_code == 422, r.text
        assert r.json()["detail"]["message"].startswith(
            "item 3: MAV_CMD 31 refused: NAV_LOITER_TO_ALT is a plane command"), r.text
        vtol = wpl(near_home, [(3, 84, 0, 0, 30), (3, 16, *a, 30), (3, 3000, 0, 0, 0)])
        r = await _import(c, vtol)
        assert r.status_code == 422 and "item 1: MAV_CMD 84" in r.text, r.text
        terrain = wpl(near_home, [(3, 22, 0, 0, 30), (10, 16, *a, 30), (3, 20, 0, 0, 0)])
        r = await _import(c, terrain)
        assert r.status_code == 422 and "item 2:" in r.text and "terrain" in r.text, r.text
        assert (await c.get("/api/missions")).json() == []  # nothing was stored

        # a commented Mission Planner file, its home slot 400 m off: imported, home replaced
        other_home = (*_offset(home, -400, 0), 600.0)
        ok = wpl(other_home, [(3, 22, 0, 0, 30), (3, 16, *a, 30), (3, 16, *b, 30),
                              (3, 20, 0, 0, 0)], comments=True)
        r = await _import(c, ok)
        assert r.status_code == 201, r.text
        m = r.json()
        (leg,) = m["legs"]
        slot = leg["items"][0]
        assert (slot["lat"], slot["lon"]) == pytest.approx((home.lat, home.lon), abs=1e-6)
        assert any("home slot (seq 0) is replaced by the home of drone 1" in w and "400 m" in w
                   for w in m["warnings"]), m["warnings"]
        assert any(w.startswith("transit from drone 1") and ": 300 m out" in w
                   for w in m["warnings"]), m["warnings"]

        # the interlocks see the transit: a no-fly zone only the leg from the drone to the
        # route crosses, and a battery too low for the flight with its transit legs
        box = [_offset(home, n, e) for n, e in ((100, -30), (100, 30), (200, 30), (200, -30))]
        ring = [[lon, lat] for lat, lon in [*box, box[0]]]
        assert (await admin.post("/api/zones", json={"name": "school", "kind": "no_fly",
                                                     "geometry": {"type": "Polygon",
                                                                  "coordinates": [ring]}})
                ).status_code == 201
        svc.fleet.update(1, battery_pct=30.0)
        r = await c.post(f"/api/missions/{m['id']}/dispatch")
        assert r.status_code == 409, r.text
        assert "school" in r.text and "battery 30 %" in r.text, r.text
        assert (await c.get(f"/api/missions/{m['id']}")).json()["status"] == "planned"
        assert svc.fleet.sent(1) == []  # nothing reached the drone
