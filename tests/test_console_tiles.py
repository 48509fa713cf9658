"""Issue 15 in the browser: with NAZORAT_TILES the console's base map comes from the service's
own archives (GET /tiles), every tile from /tiles/ and no request off the service; the raster
tiles are drawn (a pixel check), the layer switcher turns to a vector archive drawn by
protomaps-leaflet (a pixel check on its canvas), and the online URL is never asked for.
Archives are synthetic (tests/tile_archives.py): solid colours and two squares."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import pytest

pytest.register_assert_rewrite("service_fixture", "browser_fixture")

from playwright.sync_api import expect  # noqa: E402

from browser_fixture import OpenConsole  # noqa: E402
from mission.tiles.grid import tile_x, tile_y  # noqa: E402
from service_fixture import RunningService, module_service, wait_until  # noqa: E402
from tile_archives import (  # noqa: E402
    mvt_tile,
    png_tile,
    tiles_around,
    write_mbtiles,
    write_pmtiles,
)

pytest_plugins = ["service_fixture", "browser_fixture"]
pytestmark = [pytest.mark.nopg, pytest.mark.timeout(150)]

RED = (200, 30, 30)
# a made-up place name at the middle of the z15 and z16 tiles holding the simulator's home
HOME = (41.311081, 69.240562)
PLACE_TILES = {(z, tile_x(HOME[1], z), tile_y(HOME[0], z)) for z in (15, 16)}
PLACES = [(2048, 2048, "Synthetic Square")]


def tile_middle(z: int, x: int, y: int) -> tuple[float, float]:
    n = 1 << z
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / n))))
    return lat, (x + 0.5) / n * 360 - 180

# the colour at the middle of the first loaded tile image of the visible base layer
PIXEL_OF_IMG = """() => {
  const img = [...document.querySelectorAll('#map img.leaflet-tile-loaded')]
    .find((i) => i.src.includes('/tiles/base/'));
  if (!img) return null;
  const c = document.createElement('canvas'); c.width = c.height = 8;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0, 8, 8);
  return [...g.getImageData(4, 4, 1, 1).data];
}"""
# colours sampled over the vector layer's canvas tiles (drawn by protomaps-leaflet)
PIXELS_OF_CANVAS = """() => {
  const out = [];
  for (const c of document.querySelectorAll('#map canvas.leaflet-tile')) {
    if (!c.width) continue;
    const g = c.getContext('2d');
    for (const [x, y] of [[0.1, 0.1], [0.5, 0.5], [0.9, 0.2]]) {
      out.push([...g.getImageData(Math.floor(c.width * x), Math.floor(c.height * y), 1, 1).data]);
    }
  }
  return out;
}"""
RESOURCES = "() => performance.getEntriesByType('resource').map((e) => e.name)"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory,
        request: pytest.FixtureRequest) -> Iterator[RunningService]:
    d = tmp_path_factory.mktemp("console-archives")
    around = tiles_around(13, 16)
    base = write_mbtiles(d / "base.mbtiles", {t: png_tile(RED) for t in around})
    vec = write_pmtiles(d / "vec.pmtiles", {
        t: mvt_tile(PLACES if t in PLACE_TILES else None) for t in around}, "mvt")
    yield from module_service(tmp_path_factory, request, "console-tiles",
                              {"NAZORAT_TILES": f"base={base},vec={vec}"})


def test_console_draws_the_service_archives_and_nothing_leaves(
    svc: RunningService, open_console: OpenConsole
) -> None:
    cp = open_console(svc.base_url)
    page = cp.page
    wait_until(lambda: cp.eval(PIXEL_OF_IMG) is not None, 20.0, what="a base tile drawn")
    r, g, b, a = cp.eval(PIXEL_OF_IMG)
    assert (abs(r - RED[0]) < 8 and abs(g - RED[1]) < 8 and abs(b - RED[2]) < 8 and a == 255), \
        (r, g, b, a)
    cp.screenshot("tiles-raster")
    # the switcher lists both archives (the vector one in both styles)
    page.hover(".leaflet-control-layers")
    switcher = page.locator(".leaflet-control-layers-base label")
    labels = [t.strip() for t in switcher.all_inner_texts()]
    assert labels == ["base", "vec · dark", "vec · light"] or \
        labels == ["base", "vec · light", "vec · dark"], labels
    switcher.filter(has_text="vec · dark").click()
    wait_until(lambda: any(p[3] > 0 for p in cp.eval(PIXELS_OF_CANVAS)), 20.0,
               what="a vector tile drawn")
    page.wait_for_timeout(500)
    pixels = cp.eval(PIXELS_OF_CANVAS)
    opaque = {tuple(p) for p in pixels if p[3] > 0}
    assert len(opaque) >= 2, pixels  # earth and water differ: the style drew the features
    cp.screenshot("tiles-vector-dark")
    page.hover(".leaflet-control-layers")
    switcher.filter(has_text="vec · light").click()
    wait_until(lambda: {tuple(p) for p in cp.eval(PIXELS_OF_CANVAS) if p[3] > 0} - opaque,
               20.0, what="the light style drawn in other colours than the dark one")
    cp.screenshot("tiles-vector-light")
    names = cp.eval(RESOURCES)
    tile_requests = [n for n in names if "/tiles/" in n]
    assert any("/tiles/base/" in n and n.endswith(".png") for n in tile_requests)
    assert any("/tiles/vec/" in n and n.endswith(".mvt") for n in tile_requests)
    assert cp.external == [] and cp.tiles_served == 0, (cp.external, cp.tiles_served)
    assert all(n.startswith(svc.base_url) or n.startswith(("data:", "blob:")) for n in names)
    assert cp.console_errors(ignore=("404",)) == []
    assert page.locator("#map-notice").is_hidden()  # no "Base map unavailable"


def test_search_finds_a_place_name_of_the_vector_archive(
    svc: RunningService, open_console: OpenConsole
) -> None:
    """The search box looks a name up in the vector archive's `places` layer over the area shown
    and pans to the one picked; an unknown name says so; the name reaches the page as text."""
    cp = open_console(svc.base_url)
    page = cp.page
    search = page.get_by_test_id("coord-search")
    search.fill("synthetic sq")
    search.press("Enter")
    result = page.get_by_test_id("place-result")
    expect(result).to_have_count(1, timeout=20_000)
    expect(result).to_have_text("Synthetic Square")
    result.click()
    z16 = next(t for t in PLACE_TILES if t[0] == 16)
    lat, lon = tile_middle(*z16)
    dd = page.get_by_test_id("coord-dd").inner_text()
    got = [float(v) for v in dd.split(", ")]
    assert abs(got[0] - lat) < 2e-6 and abs(got[1] - lon) < 2e-6, (dd, lat, lon)
    centre = cp.eval("() => { const c = window.nazoratConsole.map.map.getCenter(); "
                     "return [c.lat, c.lng]; }")
    assert abs(centre[0] - lat) < 1e-4 and abs(centre[1] - lon) < 1e-4, centre
    expect(page.get_by_test_id("coord-mgrs")).to_have_text(re.compile(r"^42T WL \d{5} \d{5}$"))
    search.fill("<b>Nowhere</b>")
    search.press("Enter")
    expect(page.get_by_test_id("coord-search-msg")).to_have_text(
        "No place named “<b>Nowhere</b>” in the map area shown.")
    assert page.locator(".coord-search b").count() == 0
    assert cp.external == [] and cp.tiles_served == 0, cp.external
