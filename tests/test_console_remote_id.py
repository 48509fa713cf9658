"""Other drones' broadcast Remote ID in the console (real Chromium, real service, simulated
fleet with `--remote-id-count` and `--adsb-count`): drawn with their own marker and a
"drone <UAS ID>" label apart from the ADS-B aircraft, in the commander view."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytest.register_assert_rewrite("service_fixture", "browser_fixture")

from playwright.sync_api import expect  # noqa: E402

from browser_fixture import OpenConsole  # noqa: E402
from service_fixture import ServiceFactory, wait_until  # noqa: E402

pytest_plugins = ["service_fixture", "browser_fixture"]
pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

LONG_WAIT_MS = 30_000


def test_remote_id_drones_have_their_own_marker(
        sim_fleet: Any, service_factory: ServiceFactory, open_console: OpenConsole) -> None:
    fleet = sim_fleet(count=1, speedup=5.0, ekf_delay=2.0,
                      extra_args=["--remote-id-count", "2", "--adsb-count", "1"])
    svc = service_factory(drones=[fleet.mavsdk_url(0)])
    with svc.client() as c:
        wait_until(lambda: (c.get("/api/drones/1").json()["state"] or {}).get("position"), 30,
                   what="a position")
    cmd = open_console(svc.base_url, "/", role="commander")
    rid = cmd.page.locator(".traffic-rid")
    expect(rid).to_have_count(2, timeout=LONG_WAIT_MS)
    # and the ADS-B aircraft apart from them (more than one over time: the simulator replaces
    # an aircraft that flies out of range, and its old track stays until it is stale)
    expect(cmd.page.locator(".traffic-marker:not(.traffic-rid)").first).to_be_attached(
        timeout=LONG_WAIT_MS)
    ids = sorted(rid.nth(i).get_attribute("data-uas-id") or "" for i in range(2))
    assert ids == ["SIMRID000001", "SIMRID000002"]
    # 30-90 m above home, where the drone stands: above it
    label = rid.first.locator(".traffic-label").inner_text()
    assert re.fullmatch(r"drone …ID00000[12] · \+\d+ m( · [↑↓])?", label), label
    assert (rid.first.get_attribute("title") or "").startswith("Drone broadcasting Remote ID: ")
    aircraft = cmd.page.locator(".traffic-marker:not(.traffic-rid) .traffic-label")
    assert aircraft.first.inner_text().startswith("SIM")
    cmd.page.evaluate("window.nazoratConsole.map.map.setZoom(15, {animate: false})")
    cmd.screenshot("traffic-remote-id")


def test_operator_shares_the_consoles_position_as_operator_location(
        sim_fleet: Any, service_factory: ServiceFactory, open_console: OpenConsole) -> None:
    fleet = sim_fleet(count=1, speedup=5.0, ekf_delay=2.0)
    svc = service_factory(drones=[fleet.mavsdk_url(0)])
    assert open_console(svc.base_url, "/", role="commander").page.get_by_test_id(
        "rid-share").count() == 0  # the commander view has no controls
    cp = open_console(svc.base_url, "/", role="operator")
    page = cp.page
    button = page.get_by_test_id("rid-share")
    expect(button).to_have_attribute("data-state", "off", timeout=LONG_WAIT_MS)
    assert fleet.control("status", vehicle=0)["remote_id_operator"] is None  # no consent yet
    page.context.grant_permissions(["geolocation"], origin=svc.base_url)
    page.context.set_geolocation({"latitude": 41.3177, "longitude": 69.2488, "accuracy": 5})
    button.click()
    expect(button).to_have_attribute("data-state", "on", timeout=LONG_WAIT_MS)
    st = wait_until(lambda: (lambda s: s if s["remote_id_operator"] else None)(
        fleet.control("status", vehicle=0)), 10, what="the console's position on the drone")
    assert st["remote_id_operator"] == [41.3177, 69.2488]
    with svc.client() as c:
        status = c.get("/api/remote-id/operator-location").json()
        assert status["source"] == "console" and status["set_by"] == "console"
    button.click()  # stop sharing
    expect(button).to_have_attribute("data-state", "off")
    assert cp.console_errors() == []
