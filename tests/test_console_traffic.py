"""Other aircraft in the console (real Chromium, real service, simulated fleet with
`--adsb-count`): drawn on the map with callsign and altitude relative to our drone in the
operator and the commander view; an intruder's alert in the alerts panel, with its sound, and
resolved when the aircraft has passed."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytest.register_assert_rewrite("service_fixture", "browser_fixture")

from playwright.sync_api import expect  # noqa: E402

from browser_fixture import OpenConsole  # noqa: E402
from service_fixture import ServiceFactory, wait_until  # noqa: E402

pytest_plugins = ["service_fixture", "browser_fixture"]
pytestmark = [pytest.mark.timeout(150), pytest.mark.slow]

SPEEDUP = 5.0
LONG_WAIT_MS = 30_000


def test_traffic_on_the_map_and_an_intruder_alert(
        sim_fleet: Any, service_factory: ServiceFactory, open_console: OpenConsole) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=2.0, extra_args=["--adsb-count", "3"])
    svc = service_factory(drones=[fleet.mavsdk_url(0)])
    with svc.client() as c:
        def ready() -> bool:
            s = c.get("/api/drones/1").json()["state"] or {}
            return bool(s.get("ekf_ok") and s.get("home") and s.get("position"))
        wait_until(ready, 30, what="ready to fly")

    cmd = open_console(svc.base_url, "/", role="commander")
    markers = cmd.page.get_by_test_id("traffic-marker")
    expect(markers.first).to_be_attached(timeout=LONG_WAIT_MS)
    assert markers.count() >= 3
    # SIM_ADSB_ALT 300 m, the drone at home 455 m: every aircraft below it
    label = markers.first.locator(".traffic-label").inner_text()
    assert re.fullmatch(r"SIM\d+ · −\d+ m( · [↑↓])?", label), label
    assert cmd.page.locator(".traffic-trend").count() >= 1
    cmd.page.evaluate("window.nazoratConsole.map.map.setZoom(12, {animate: false})")
    cmd.screenshot("traffic-commander")

    cp = open_console(svc.base_url, "/", role="operator")
    page = cp.page
    expect(page.get_by_test_id("traffic-marker").first).to_be_attached(timeout=LONG_WAIT_MS)
    page.mouse.click(5, 5)  # a user gesture: the page may play sound from now on
    with svc.client() as c:
        assert c.post("/api/drones/1/commands/set_mode", json={"mode": "GUIDED"}
                      ).status_code == 200
        assert c.post("/api/drones/1/commands/arm").status_code == 200
        assert c.post("/api/drones/1/commands/takeoff", json={"alt": 30}).status_code == 200
        wait_until(lambda: (c.get("/api/drones/1").json()["state"]["alt_rel"] or 0) > 20, 30,
                   what="climb")
    fleet.control("intruder", vehicle=0, seconds=20, speed=70, bearing=180, icao=0x7C0077,
                  callsign="POLICE9")
    page.get_by_role("tab", name=re.compile("Alerts")).click()
    alert = page.locator("[data-testid=alert][data-kind=traffic_alert]")
    expect(alert.first).to_be_visible(timeout=LONG_WAIT_MS)
    expect(alert.first).to_contain_text("POLICE9")
    expect(alert.first).to_contain_text("Drone held (BRAKE).")
    assert page.evaluate("window.nazoratConsole.store.trafficSounds || 0") >= 1
    cp.screenshot("traffic-alert")
    # the intruder flies on; once it is clear the alert is marked so
    expect(alert.first.locator(".chip-ok")).to_have_text("clear", timeout=LONG_WAIT_MS * 2)
    assert cp.console_errors() == []
