"""Issue 10: zone and drone names reached Leaflet tooltips as HTML (a string given to
bindTooltip is innerHTML). Every user-supplied string must reach the DOM as text: a zone and a
drone with markup for names are rendered by the real console in Chromium, and the markup must
show as the literal text, with no element made from it. (The page's CSP would block an inline
handler anyway; an element made from a name is the bug, so that is what is checked.)
"""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("service_fixture", "browser_fixture")

from playwright.sync_api import expect  # noqa: E402

from browser_fixture import OpenConsole  # noqa: E402
from service_fixture import ServiceFactory  # noqa: E402
from sitl_fleet import FleetFactory  # noqa: E402

pytest_plugins = ["service_fixture", "browser_fixture"]
pytestmark = [pytest.mark.timeout(150), pytest.mark.slow]

LONG_WAIT_MS = 30_000
ZONE_NAME = '<img src="x-zone" data-injected="zone"><b>Zone</b>'
DRONE_NAME = '<img src="x-drone" data-injected="drone">'
LAT, LON = 41.311081, 69.240562  # the simulator's home

INJECTED = "document.querySelectorAll('[data-injected], img[src^=x-]').length"


def test_zone_and_drone_names_reach_tooltips_as_html(
    sim_fleet: FleetFactory, service_factory: ServiceFactory, open_console: OpenConsole
) -> None:
    fleet = sim_fleet(count=1, speedup=5.0, ekf_delay=2.0)
    svc = service_factory()
    with svc.client(timeout=60) as api:
        r = api.post("/api/drones", json={"url": fleet.mavsdk_url(0), "name": DRONE_NAME})
        assert r.status_code == 201, r.text
        drone_id = r.json()["id"]
        d = 0.002
        r = api.post("/api/zones", json={
            "name": ZONE_NAME, "kind": "no_fly", "geometry": {"type": "Polygon", "coordinates": [[
                [LON + d, LAT + d], [LON + 3 * d, LAT + d], [LON + 3 * d, LAT + 3 * d],
                [LON + d, LAT + 3 * d], [LON + d, LAT + d]]]}})
        assert r.status_code == 201, r.text

    cp = open_console(svc.base_url)
    page = cp.page
    expect(page.get_by_test_id("drone-marker")).to_have_count(1, timeout=LONG_WAIT_MS)
    expect(page.locator(".fleet-table tbody td[data-col=name]")).to_have_text(DRONE_NAME)
    expect(page.get_by_test_id("drone-marker").locator(".drone-label")).to_contain_text(DRONE_NAME)

    # the zone's tooltip (hover the polygon)
    zone = page.get_by_test_id("zone")
    expect(zone).to_have_count(1)
    zone.dispatch_event("mouseover")  # what Leaflet opens a sticky tooltip on
    tip = page.locator(".leaflet-tooltip")
    expect(tip).to_have_count(1)
    expect(tip).to_contain_text(ZONE_NAME)

    # a route's tooltip names its drone (the planner's preview and missions draw these)
    text = page.evaluate("""async ([id, lat, lon]) => {
        const { routeLayers } = await import("/app/missions.js");
        const ctx = window.nazoratConsole;
        const [line] = routeLayers(ctx, { legs: [{ drone_id: id, distance_m: 100,
            duration_s: 20, battery_used_pct: 2, path: [[lat, lon], [lat + 0.001, lon]] }] });
        line.addTo(ctx.map.map);
        line.openTooltip([lat, lon]);
        return line.getTooltip().getElement().textContent;
    }""", [drone_id, LAT, LON])
    assert DRONE_NAME in text

    assert page.evaluate(INJECTED) == 0, page.evaluate(
        "[...document.querySelectorAll('[data-injected]')].map(e => e.outerHTML)")
    assert cp.console_errors() == []
