"""Issue 15 items 3 and 4 in the browser, with no tile archive and the online tiles unreachable
(as `make run` on a machine with no internet): Natural Earth's countries (world-atlas, vendored
by `make ui`) are drawn from the service's own files (pixels not blank, nothing leaves the
service), with a notice that only they are shown; the scale bar and north arrow are there; a
drone's detail gives its position in decimal degrees and MGRS; the coordinate search pans the
map and rejects what is not a position.

MGRS references were computed independently with the PyPI package `mgrs` 1.6.0 (GeoTrans):
    mgrs.MGRS().toMGRS(41.31, 69.24, MGRSPrecision=5)          == "42TWL2008973198"
    mgrs.MGRS().toMGRS(41.311081, 69.240562, MGRSPrecision=5)  == "42TWL2013673318"
(41.311081, 69.240562 is the simulator's default home, sitl/fleet.py.)"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

pytest.register_assert_rewrite("service_fixture", "browser_fixture")

from playwright.sync_api import expect  # noqa: E402

from browser_fixture import OpenConsole  # noqa: E402
from service_fixture import (  # noqa: E402
    RunningService,
    ServiceFactory,
    module_service,
    wait_until,
)
from sitl_fleet import FleetFactory  # noqa: E402

pytest_plugins = ["service_fixture", "browser_fixture"]
pytestmark = [pytest.mark.nopg, pytest.mark.timeout(150)]

CENTER = "() => { const c = window.nazoratConsole.map.map.getCenter(); return [c.lat, c.lng]; }"
VIEW_TASHKENT = ("(z) => { window.nazoratConsole.map.map.setView([41.31, 69.24], z, "
                 "{animate: false}); }")
RESOURCES = "() => performance.getEntriesByType('resource').map((e) => e.name)"
# distinct opaque colours on Natural Earth's canvas (its own pane, under the tiles)
NE_COLOURS = """() => {
  const c = document.querySelector('#map .leaflet-naturalEarth-pane canvas');
  if (!c || !c.width) return [];
  const g = c.getContext('2d');
  const seen = new Set();
  for (let i = 1; i < 12; i += 1) for (let j = 1; j < 12; j += 1) {
    const x = Math.floor(c.width * i / 12), y = Math.floor(c.height * j / 12);
    const d = g.getImageData(x, y, 1, 1).data;
    if (d[3] > 0) seen.add(`${d[0]},${d[1]},${d[2]}`);
  }
  return [...seen];
}"""


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory,
        request: pytest.FixtureRequest) -> Iterator[RunningService]:
    yield from module_service(tmp_path_factory, request, "console-map-aids")


def test_natural_earth_scale_north_and_coordinate_search(
    svc: RunningService, open_console: OpenConsole
) -> None:
    cp = open_console(svc.base_url, serve_tiles=False)
    page = cp.page
    # Tashkent at zoom 8: land on both sides of the Uzbekistan-Kazakhstan border
    cp.eval(VIEW_TASHKENT, 8)
    wait_until(lambda: len(cp.eval(NE_COLOURS)) >= 2, 30.0, what="Natural Earth drawn")
    expect(page.get_by_test_id("tiles-notice")).to_contain_text("Natural Earth", timeout=20_000)
    expect(page.locator(".leaflet-control-attribution")).to_contain_text("Natural Earth")
    cp.screenshot("map-aids-natural-earth")
    names = cp.eval(RESOURCES)
    assert any(n.endswith("/vendor/world-atlas/countries-10m.json") for n in names), names
    # the configured online tiles were asked for (and refused: no internet); nothing else
    assert cp.tiles_served == 0 and cp.external, cp.external
    assert all(u.startswith("https://tile.openstreetmap.org/") for u in cp.external), cp.external

    # scale bar (metric only) and north arrow
    scale = page.locator(".leaflet-control-scale-line")
    expect(scale).to_have_count(1)
    assert re.fullmatch(r"\d+ k?m", scale.inner_text().strip()), scale.inner_text()
    expect(page.get_by_test_id("north-arrow")).to_be_visible()

    # the coordinate search: decimal degrees, then MGRS, pans there and shows both forms
    search = page.get_by_test_id("coord-search")
    search.fill("41.31, 69.24")
    search.press("Enter")
    center = cp.eval(CENTER)
    # (the map's centre is rounded to a screen pixel: ~7 m at zoom 14)
    assert abs(center[0] - 41.31) < 1e-4 and abs(center[1] - 69.24) < 1e-4, center
    expect(page.get_by_test_id("coord-dd")).to_have_text("41.310000, 69.240000")
    expect(page.get_by_test_id("coord-mgrs")).to_have_text("42T WL 20089 73198")
    search.fill("42T WL 20136 73318")  # the simulator's home, to the metre
    search.press("Enter")
    center = cp.eval(CENTER)
    assert abs(center[0] - 41.311081) < 1e-4 and abs(center[1] - 69.240562) < 1e-4, center
    # the middle of that 1 m square (GeoTrans: toLatLon("42TWL2013673318") = 41.311078, 69.240565)
    expect(page.get_by_test_id("coord-dd")).to_have_text("41.311078, 69.240565")
    expect(page.get_by_test_id("coord-mgrs")).to_have_text("42T WL 20136 73318")
    # not a position: a message, as text, and the map stays
    search.fill("<img src=x onerror=alert(1)>")
    search.press("Enter")
    expect(page.get_by_test_id("coord-search-msg")).to_contain_text("Not a position")
    assert page.locator(".coord-search img").count() == 0
    # a click on the map shows that point's coordinates
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6)
    expect(page.get_by_test_id("coord-mgrs")).not_to_have_text("42T WL 20136 73318")
    expect(page.get_by_test_id("coord-mgrs")).to_have_text(re.compile(r"^42T WL \d{5} \d{5}$"))
    assert cp.console_errors(ignore=("ERR_INTERNET_DISCONNECTED",)) == []


def test_no_online_tiles_natural_earth_alone_and_nothing_leaves(
    svc: RunningService, open_console: OpenConsole
) -> None:
    """`?tiles=none` (no online tiles, no archive): Natural Earth alone, no notice, and not a
    single request off the service."""
    cp = open_console(svc.base_url, "/?tiles=none")
    page = cp.page
    cp.eval(VIEW_TASHKENT, 7)
    wait_until(lambda: len(cp.eval(NE_COLOURS)) >= 2, 30.0, what="Natural Earth drawn")
    page.wait_for_timeout(500)
    assert page.locator("#map-notice").is_hidden()  # no "Base map unavailable"
    assert page.locator("#map img.leaflet-tile").count() == 0
    names = cp.eval(RESOURCES)
    assert all(n.startswith(svc.base_url) or n.startswith(("data:", "blob:")) for n in names), names
    assert cp.external == [] and cp.tiles_served == 0
    assert cp.console_errors() == []
    # closer in than zoom 10 the outlines give way to the plain land colour (reprojecting them
    # at every zoom stalled the page for seconds), and come back further out
    plain = "() => getComputedStyle(document.getElementById('map')).backgroundColor"
    sea = cp.eval(plain)
    cp.eval(VIEW_TASHKENT, 14)
    wait_until(lambda: cp.eval(NE_COLOURS) == [], 10.0, what="the outlines cleared")
    assert cp.eval(plain) != sea
    cp.eval(VIEW_TASHKENT, 7)
    wait_until(lambda: len(cp.eval(NE_COLOURS)) >= 2, 30.0, what="Natural Earth back")
    assert cp.eval(plain) == sea
    # the operations-room colours when the system asks for dark ("theme": "auto")
    light = set(cp.eval(NE_COLOURS))
    page.emulate_media(color_scheme="dark")
    page.reload(wait_until="domcontentloaded")
    page.wait_for_selector("body[data-ready=true]")
    cp.eval(VIEW_TASHKENT, 7)
    wait_until(lambda: len(cp.eval(NE_COLOURS)) >= 2, 30.0, what="Natural Earth drawn dark")
    dark = set(cp.eval(NE_COLOURS))
    assert not dark & light, (dark, light)
    cp.screenshot("map-aids-natural-earth-dark")


def test_drone_detail_and_incident_tooltip_give_dd_and_mgrs(
    sim_fleet: FleetFactory, service_factory: ServiceFactory, open_console: OpenConsole
) -> None:
    """A simulated drone on the ground at its home (41.311081, 69.240562; GeoTrans MGRS
    42TWL2013673318): its detail shows both forms, the MGRS within the simulator's few metres of
    GPS noise of the reference; an incident at 41.31, 69.24 shows 42T WL 20089 73198 exactly in
    its tooltip, its description (markup) as text."""
    fleet = sim_fleet(count=1, speedup=5.0, ekf_delay=2.0)
    svc = service_factory(drones=[fleet.mavsdk_url(0)])
    with svc.client(role="operator") as c:
        r = c.post("/api/incidents", json={
            "lat": 41.31, "lon": 69.24, "category": "theft", "severity": 3,
            "source": "citizen_map", "description": "<b>courtyard</b>"})
        assert r.status_code == 201, r.text
    cp = open_console(svc.base_url, "/?tiles=none")
    page = cp.page
    expect(page.get_by_test_id("drone-marker")).to_have_count(1, timeout=60_000)
    page.locator(".fleet-table tbody tr").first.click()
    detail = page.get_by_test_id("drone-detail")
    expect(detail).to_be_visible()
    position = detail.locator("dd[data-field=position]")
    expect(position).to_have_text(re.compile(r"^41\.31\d{4}, 69\.24\d{4}$"), timeout=30_000)
    lat, lon = (float(x) for x in position.inner_text().split(", "))
    assert abs(lat - 41.311081) < 1e-4 and abs(lon - 69.240562) < 1e-4, (lat, lon)
    mgrs = detail.locator("dd[data-field=mgrs]").inner_text()
    m = re.fullmatch(r"42T WL (\d{5}) (\d{5})", mgrs)
    assert m, mgrs
    # 1e-4 degrees is ~11 m north, ~8 m east here
    assert abs(int(m[1]) - 20136) <= 10 and abs(int(m[2]) - 73318) <= 12, mgrs
    cp.screenshot("map-aids-drone-detail")

    marker = page.get_by_test_id("incident-marker")
    expect(marker).to_have_count(1, timeout=20_000)
    marker.hover()
    tooltip = page.locator(".incident-tooltip")
    expect(tooltip).to_contain_text("41.310000, 69.240000 · 42T WL 20089 73198")
    expect(tooltip).to_contain_text("<b>courtyard</b>")
    assert tooltip.locator("b").count() == 0
    assert cp.external == [] and cp.tiles_served == 0
