"""Routes written by other tools (a QGroundControl .plan, a Mission Planner QGC WPL 110 list)
become planned missions for one drone and fly like planned ones, through the real service and a
simulated copter. Bad files are refused with a message naming what is wrong, and nothing is
stored."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

pytest.register_assert_rewrite("service_fixture")

from service_fixture import RunningService, ServiceFactory, wait_until  # noqa: E402
from sitl_fleet import FleetFactory  # noqa: E402
from test_missions_e2e import _finished, _offset, _ready, _state  # noqa: E402

pytest_plugins = ["service_fixture"]
pytestmark = pytest.mark.timeout(240)


def qgc_plan(home: dict[str, float], points: list[tuple[float, float]], alt: float) -> str:
    """A .plan as QGroundControl 4.x saves one: takeoff, waypoints (yaw null = NaN), RTL."""
    def simple(n: int, command: int, params: list[Any]) -> dict[str, Any]:
        return {"type": "SimpleItem", "autoContinue": True, "command": command, "doJumpId": n,
                "frame": 3, "params": params, "Altitude": alt, "AltitudeMode": 1,
                "AMSLAltAboveTerrain": None}

    items = [simple(1, 22, [0, 0, 0, None, home["lat"], home["lon"], alt])]
    for n, (lat, lon) in enumerate(points, start=2):
        items.append(simple(n, 16, [0, 0, 0, None, lat, lon, alt]))
    items.append(simple(len(items) + 1, 20, [0, 0, 0, 0, 0, 0, 0]))
    return json.dumps({
        "fileType": "Plan", "groundStation": "QGroundControl", "version": 1,
        "geoFence": {"circles": [], "polygons": [], "version": 2},
        "rallyPoints": {"points": [], "version": 2},
        "mission": {"version": 2, "firmwareType": 3, "vehicleType": 2, "cruiseSpeed": 15,
                    "hoverSpeed": 5, "globalPlanAltitudeMode": 1,
                    "plannedHomePosition": [home["lat"], home["lon"], home["alt_amsl"]],
                    "items": items},
    })


@contextmanager
def one_ready_drone(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> Iterator[tuple[RunningService, httpx.Client, dict[str, str], dict[str, float]]]:
    """The service with one simulated copter, ready to fly: (service, admin client, operator
    headers, the drone's home)."""
    fleet = sim_fleet(count=1, speedup=10.0, ekf_delay=1.0)
    svc = service_factory(drones=[fleet.mavsdk_url(0)])
    operator = svc.auth_headers("operator", "op-import")
    with svc.client(timeout=60) as c:
        wait_until(functools.partial(_ready, c, 1), 20, what="drone ready")
        yield svc, c, operator, _state(c, 1)["home"]


def test_imported_qgc_plan_dispatches_and_completes(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> None:
    with one_ready_drone(sim_fleet, service_factory) as (svc, c, operator, home):
        a, b = _offset(home, 120, 0), _offset(home, 120, 90)
        text = qgc_plan(home, [a, b], 30.0)

        r = c.post("/api/missions/import", params={"drone_id": 1, "format": "plan"},
                   content=text, headers={**operator, "Content-Type": "application/json"})
        assert r.status_code == 201, r.text
        m = r.json()
        assert m["status"] == "planned" and m["created_by"] == "op-import"
        (leg,) = m["legs"]
        assert leg["drone_id"] == 1 and leg["altitude_m"] == 30.0
        assert [i["command"] for i in leg["items"]] == [16, 22, 16, 16, 20]
        # the path is flown from the drone (take-off where it stands) and back to its home
        assert [round(p[0], 6) for p in leg["path"][1:3]] == [round(a[0], 6), round(b[0], 6)]
        assert leg["path"][0] == pytest.approx([home["lat"], home["lon"]], abs=1e-5)
        assert leg["path"][-1] == pytest.approx([home["lat"], home["lon"]], abs=1e-6)
        assert 300 < leg["distance_m"] < 700 and leg["battery_used_pct"] > 0

        # the .plan exported again holds the same waypoints
        back = c.get(f"/api/missions/{m['id']}/drones/1/export", params={"format": "wpl"})
        assert back.status_code == 200 and back.text.startswith("QGC WPL 110")
        assert f"{a[0]:.7f}"[:9] in back.text

        r = c.post(f"/api/missions/{m['id']}/dispatch", headers=operator)
        assert r.status_code == 200, r.text
        done = wait_until(lambda: _finished(c, m["id"]), 150, interval_s=1.0,
                          what="imported mission finished")
        assert done["status"] == "completed", done
        audit = c.get("/api/audit", params={"action": "mission.import"}).json()
        assert any(rec["mission_id"] == m["id"] and rec["actor"] == "op-import"
                   for rec in audit), audit


def test_bad_imports_are_refused_naming_the_problem(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> None:
    with one_ready_drone(sim_fleet, service_factory) as (svc, c, operator, home):
        good = qgc_plan(home, [_offset(home, 50, 0)], 30.0)

        def post(body: str, fmt: str = "plan", drone: int = 1, **headers: str) -> Any:
            return c.post("/api/missions/import", params={"drone_id": drone, "format": fmt},
                          content=body.encode(), headers={**operator, **headers})

        r = post("QGC WPL 110\n0\t1\t0\t16\tnot-a-number", fmt="wpl")
        assert r.status_code == 422 and r.json()["detail"]["field"] == "(body)", r.text
        r = post('{"fileType": "Plan", "mission": {"items": []}}')
        assert r.status_code == 422 and "malformed" in r.json()["detail"]["message"], r.text
        r = post(qgc_plan(home, [_offset(home, 50, 0)], 300.0))
        assert r.status_code == 422 and "legal maximum" in r.json()["detail"]["message"]
        r = post(good, drone=7)
        assert r.status_code == 404 and r.json()["detail"]["field"] == "drone_id", r.text
        r = post(good, fmt="kml")
        assert r.status_code == 422 and "format" in r.text
        r = c.post("/api/missions/import", params={"drone_id": 1, "format": "plan"},
                   content=good.encode(), headers=svc.auth_headers("commander"))
        assert r.status_code == 403, r.text
        assert c.get("/api/missions").json() == []  # nothing was stored
        assert post(good).status_code == 201
