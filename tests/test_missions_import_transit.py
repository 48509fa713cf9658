"""An imported route's estimate includes the transit from where the drone is to the route and
back (issue 17), as the simulator then flies it: the real service and a simulated copter at its
base near Canberra. (What the service decides about imported files, far, plane-only or
commented, is tested in process in test_missions_import.py.)"""

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
from test_missions_import import wpl  # noqa: E402

pytest_plugins = ["service_fixture"]
pytestmark = pytest.mark.timeout(240)

CANBERRA = "-35.363261,149.165230,584,353"  # ArduPilot SITL's CMAC home, as in the issue


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
