"""The camera footprint end to end (real Chromium, real service, simulated copter with
`--camera`): the service decodes the drone's CAMERA_FOV_STATUS and GIMBAL_DEVICE_ATTITUDE_STATUS
through MAVSDK, the console draws the footprint with the image centre where the autopilot puts
it, and the operator's "Look here" tool points the gimbal (DO_SET_ROI_LOCATION) at a clicked
point, after which the image centre is there."""

from __future__ import annotations

import socket
from typing import Any

import pytest

pytest.register_assert_rewrite("service_fixture", "browser_fixture")

from playwright.sync_api import expect  # noqa: E402

from browser_fixture import OpenConsole  # noqa: E402
from mission.geo import haversine_m  # noqa: E402
from service_fixture import ServiceFactory, wait_until  # noqa: E402

pytest_plugins = ["service_fixture", "browser_fixture"]
pytestmark = [pytest.mark.timeout(150), pytest.mark.slow]

SPEEDUP = 10.0
LONG_WAIT_MS = 30_000


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_footprint_drawn_and_look_here(sim_fleet: Any, service_factory: ServiceFactory,
                                       open_console: OpenConsole) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=2.0, extra_args=[
        "--camera", "--video-base-port", str(_free_udp_port()), "--video-size", "160x96"])
    svc = service_factory(drones=[fleet.mavsdk_url(0)])
    with svc.client() as c:
        def ready() -> bool:
            s = c.get("/api/drones/1").json()["state"] or {}
            cam = s.get("camera") or {}
            return bool(s.get("ekf_ok") and s.get("home") and cam.get("hfov_deg")
                        and cam.get("gimbal"))
        wait_until(ready, 30, what="ready to fly, camera reported")
        cam = c.get("/api/drones/1").json()["state"]["camera"]
        assert cam["hfov_deg"] == pytest.approx(70.0) and cam["gimbal"]["pitch_deg"] == \
            pytest.approx(-60.0, abs=1.0)
        assert c.post("/api/drones/1/commands/set_mode", json={"mode": "GUIDED"}
                      ).status_code == 200
        assert c.post("/api/drones/1/commands/arm").status_code == 200
        assert c.post("/api/drones/1/commands/takeoff", json={"alt": 30}).status_code == 200
        wait_until(lambda: (c.get("/api/drones/1").json()["state"]["alt_rel"] or 0) > 25, 30,
                   what="climb")

    cp = open_console(svc.base_url, "/", role="operator")
    page = cp.page
    expect(page.locator("path.footprint")).to_have_count(1, timeout=LONG_WAIT_MS)
    expect(page.locator("path.footprint-centre")).to_have_count(1)
    # the centre drawn is the autopilot's (CAMERA_FOV_STATUS), 30 m up at pitch -60: ~17 m ahead
    with svc.client() as c:
        said = c.get("/api/drones/1").json()["state"]
    drawn = page.evaluate("window.nazoratConsole.footprints.centre(1)")
    assert drawn is not None and said["camera"]["centre"] is not None
    centre = said["camera"]["centre"]
    assert haversine_m(drawn[0], drawn[1], centre[0], centre[1]) < 3.0, (drawn, said["camera"])
    assert 10 < haversine_m(drawn[0], drawn[1], said["position"]["lat"],
                            said["position"]["lon"]) < 25

    # "Look here": select the drone, the tool, then a point 60 m north-east of the drone
    page.evaluate("window.nazoratConsole.store.select(1)")
    page.get_by_test_id("tool-look-at").click()
    target = page.evaluate("""() => {
        const m = window.nazoratConsole.map.map;
        const v = window.nazoratConsole.store.get(1);
        m.setView([v.lat, v.lon], 18, {animate: false});
        const ll = [v.lat + 40 / 111195, v.lon + 40 / (111195 * Math.cos(v.lat * Math.PI / 180))];
        const p = m.latLngToContainerPoint(ll);
        return {ll, x: p.x, y: p.y};
    }""")
    page.locator("#map").click(position={"x": target["x"], "y": target["y"]})

    def looking() -> bool:
        got = page.evaluate("window.nazoratConsole.footprints.centre(1)")
        return got is not None and haversine_m(got[0], got[1], *target["ll"]) < 3.0
    wait_until(looking, 20, what="image centre on the clicked point")
    with svc.client() as c:
        record = c.get("/api/drones/1/commands").json()
    assert record[0]["name"] == "look_at" and record[0]["outcome"] == "accepted"
    assert record[0]["actor"] == "console"
    cp.screenshot("camera-footprint")
    assert cp.console_errors() == []
