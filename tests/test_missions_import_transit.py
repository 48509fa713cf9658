"""Imported routes are judged from where the drone is (issue 17), through the real service and a
simulated copter at its base near Canberra: a file written for San Francisco airport is refused
naming the distance, a plane's file is refused naming its first plane-only item, a commented
Mission Planner file imports with the drone's home in its home slot, and a nearby file's
estimate includes the transit to the route and back, as the simulator then flies it."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

pytest.register_assert_rewrite("service_fixture")

from service_fixture import ServiceFactory, wait_until  # noqa: E402
from sitl_fleet import FleetFactory, SitlFleet  # noqa: E402
from test_missions_e2e import _finished, _offset, _ready, _state  # noqa: E402

pytest_plugins = ["service_fixture"]
pytestmark = pytest.mark.timeout(240)

CANBERRA = "-35.363261,149.165230,584,353"  # ArduPilot SITL's CMAC home, as in the issue
SFO = [(37.6213, -122.3790), (37.6190, -122.3750), (37.6150, -122.3700), (37.6130, -122.3650)]


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


@contextmanager
def drone_at_canberra(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> Iterator[tuple[SitlFleet, httpx.Client, dict[str, str], dict[str, float]]]:
    fleet = sim_fleet(count=1, speedup=10.0, ekf_delay=1.0, home=CANBERRA)
    svc = service_factory(drones=[fleet.mavsdk_url(0)])
    operator = svc.auth_headers("operator", "op-import")
    with svc.client(timeout=60) as c:
        wait_until(functools.partial(_ready, c, 1), 20, what="drone ready")
        yield fleet, c, operator, _state(c, 1)["home"]


def _import(c: httpx.Client, operator: dict[str, str], text: str) -> httpx.Response:
    return c.post("/api/missions/import", params={"drone_id": 1, "format": "wpl"},
                  content=text.encode(), headers={**operator, "Content-Type": "text/plain"})


def test_far_plane_and_commented_files_from_a_drone_near_canberra(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> None:
    with drone_at_canberra(sim_fleet, service_factory) as (fleet, c, operator, home):
        assert abs(home["lat"] + 35.363261) < 1e-4, home
        # the file of the issue: home and waypoints at San Francisco airport
        sfo = wpl((*SFO[0], 4.0), [(3, 22, 0, 0, 30), *((3, 16, a, b, 30) for a, b in SFO[1:]),
                                   (3, 20, 0, 0, 0)])
        r = _import(c, operator, sfo)
        assert r.status_code == 422, r.text
        msg = r.json()["detail"]["message"]
        assert "home slot (seq 0)" in msg and "12,1" in msg and "km from drone 1" in msg, msg
        # the home slot nearby, the route still at SFO: the first waypoint is named
        near_home = (home["lat"], home["lon"], home["alt_amsl"])
        r = _import(c, operator, sfo.replace(sfo.splitlines()[1], wpl(near_home, [])
                                             .splitlines()[1]))
        assert r.status_code == 422, r.text
        msg = r.json()["detail"]["message"]
        assert "first waypoint (item 2, NAV_WAYPOINT (16))" in msg and "12,1" in msg, msg

        # an ArduPlane file: take-off and a waypoint a copter flies, then plane-only items
        a, b = _offset(home, 300, 0), _offset(home, 300, 300)
        plane = wpl(near_home, [(3, 22, 0, 0, 30), (3, 16, *a, 30), (3, 31, *b, 40),
                                (0, 189, 0, 0, 0), (3, 21, *a, 0)])
        r = _import(c, operator, plane)
        assert r.status_code == 422, r.text
        assert r.json()["detail"]["message"].startswith(
            "item 3: MAV_CMD 31 refused: NAV_LOITER_TO_ALT is a plane command"), r.text
        vtol = wpl(near_home, [(3, 84, 0, 0, 30), (3, 16, *a, 30), (3, 3000, 0, 0, 0)])
        r = _import(c, operator, vtol)
        assert r.status_code == 422 and "item 1: MAV_CMD 84" in r.text, r.text
        terrain = wpl(near_home, [(3, 22, 0, 0, 30), (10, 16, *a, 30), (3, 20, 0, 0, 0)])
        r = _import(c, operator, terrain)
        assert r.status_code == 422 and "item 2:" in r.text and "terrain" in r.text, r.text
        assert c.get("/api/missions").json() == []  # nothing was stored

        # a commented Mission Planner file, its home slot 400 m off: imported, home replaced
        other_home = (*_offset(home, -400, 0), 600.0)
        ok = wpl(other_home, [(3, 22, 0, 0, 30), (3, 16, *a, 30), (3, 16, *b, 30),
                              (3, 20, 0, 0, 0)], comments=True)
        r = _import(c, operator, ok)
        assert r.status_code == 201, r.text
        m = r.json()
        (leg,) = m["legs"]
        slot = leg["items"][0]
        assert (slot["lat"], slot["lon"]) == pytest.approx((home["lat"], home["lon"]), abs=1e-6)
        assert any("home slot (seq 0) is replaced by the home of drone 1" in w and "400 m" in w
                   for w in m["warnings"]), m["warnings"]
        assert any(w.startswith("transit from drone 1") and ": 300 m out" in w
                   for w in m["warnings"]), m["warnings"]

        # the interlocks see the transit: a no-fly zone only the leg from the drone to the
        # route crosses, and a battery too low for the flight with its transit legs
        box = [_offset(home, n, e) for n, e in ((100, -30), (100, 30), (200, 30), (200, -30))]
        ring = [[lon, lat] for lat, lon in [*box, box[0]]]
        assert c.post("/api/zones", json={"name": "school", "kind": "no_fly", "geometry": {
            "type": "Polygon", "coordinates": [ring]}}).status_code == 201
        fleet.control("battery", vehicle=0, percent=30)
        wait_until(lambda: (_state(c, 1).get("battery_pct") or 100) <= 31, 20, what="battery")
        r = c.post(f"/api/missions/{m['id']}/dispatch", headers=operator)
        assert r.status_code == 409, r.text
        assert "school" in r.text and "battery 30 %" in r.text, r.text
        assert c.get(f"/api/missions/{m['id']}").json()["status"] == "planned"


def _vehicle_clock(fleet: SitlFleet) -> tuple[float, bool]:
    st: dict[str, Any] = fleet.control("status", vehicle=0)
    return float(st["time_boot_s"]), bool(st["armed"])


def test_nearby_route_estimate_includes_the_transit_flown_on_the_simulator(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> None:
    """The route starts 700 m north of the drone; the estimate counts the transit out and back
    and the simulator's flight (vehicle clock, arm to disarm) takes about that long."""
    with drone_at_canberra(sim_fleet, service_factory) as (fleet, c, operator, home):
        pts = [_offset(home, 700, 0), _offset(home, 750, 50), _offset(home, 700, 100)]
        text = wpl((*_offset(home, 700, 0), home["alt_amsl"]),
                   [(3, 22, 0, 0, 30), *((3, 16, a, b, 30) for a, b in pts), (3, 20, 0, 0, 0)])
        r = _import(c, operator, text)
        assert r.status_code == 201, r.text
        m = r.json()
        (leg,) = m["legs"]
        route_m = 2 * 70.7  # the file's own legs
        assert 700 + route_m + 700 < leg["distance_m"] < 700 + route_m + 720, leg
        transit = next(w for w in m["warnings"] if w.startswith("transit"))
        out_m, back_m = (float(x) for x in re.findall(r"(\d+) m (?:out|back)", transit))
        assert 690 < out_m < 710 and 690 < back_m < 720, transit

        r = c.post(f"/api/missions/{m['id']}/dispatch", headers=operator)
        assert r.status_code == 200, r.text
        estimate = r.json()["legs"][0]["duration_s"]
        assert r.json()["makespan_s"] == pytest.approx(estimate)
        armed_at = disarmed_at = None
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and disarmed_at is None:
            t, armed = _vehicle_clock(fleet)
            if armed and armed_at is None:
                armed_at = t
            elif not armed and armed_at is not None:
                disarmed_at = t
            time.sleep(0.05)
        assert armed_at is not None and disarmed_at is not None, "no flight seen"
        flown = disarmed_at - armed_at
        print(f"estimate {estimate:.0f} s, distance {leg['distance_m']:.0f} m; "
              f"flown {flown:.0f} s (vehicle clock)")
        assert 0.7 * estimate < flown < 1.4 * estimate
        done = wait_until(lambda: _finished(c, m["id"]), 60, interval_s=1.0,
                          what="imported mission finished")
        assert done["status"] == "completed", done
