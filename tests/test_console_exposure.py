"""Issue 10, in the browser: the sign-in page's `next=` led off-site, and `?tiles=` on /report and
/ sent the map's position (on /report a citizen's) to any tile server a link named. One service
(no drones) for the module, Debian's chromium (browser_fixture), every page offline.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.register_assert_rewrite("service_fixture", "browser_fixture")

from browser_fixture import OpenConsole  # noqa: E402
from service_fixture import RunningService, module_service  # noqa: E402

pytest_plugins = ["service_fixture", "browser_fixture"]
pytestmark = [pytest.mark.timeout(120)]

EVIL_TILES = "https://evil.example/{z}/{x}/{y}.png"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory,
        request: pytest.FixtureRequest) -> Iterator[RunningService]:
    yield from module_service(tmp_path_factory, request, "console-exposure")


def test_login_next_redirects_off_site(svc: RunningService, open_console: OpenConsole) -> None:
    cp = open_console(svc.base_url, "/login.html", role=None)
    cases = {
        "/.//evil.example/x": "/",  # the finding: resolves to the path //evil.example/x
        "//evil.example/x": "/",
        "/\\evil.example/x": "/",
        "/%5Cevil.example": "/%5Cevil.example",  # an encoded backslash stays in the path
        "https://evil.example/": "/",
        "javascript:alert(1)": "/",
        "/?view=commander&x=1": "/?view=commander&x=1",
        "/missions.html#3": "/missions.html#3",
        "/a/.//b": "/a//b",  # a same-origin path, however odd
    }
    got = cp.eval("""async (cases) => {
        const { destination } = await import("/login.js");
        const out = {};
        for (const next of cases) {
            out[next] = destination("?" + new URLSearchParams({ next }), "operator");
        }
        return out;
    }""", list(cases))
    assert got == cases
    for path in got.values():  # and each is this origin's, read the way the browser reads it
        assert cp.eval(f"new URL({path!r}, location.href).origin") == svc.base_url


@pytest.mark.parametrize("path", ["/report", "/"])
def test_tiles_query_sends_location_to_any_server(
        svc: RunningService, open_console: OpenConsole, path: str) -> None:
    role = None if path == "/report" else "operator"
    cp = open_console(svc.base_url, f"{path}?tiles={EVIL_TILES}", role=role)
    cp.page.wait_for_selector(".leaflet-tile-loaded")
    assert cp.tiles_served > 0  # the configured server's tiles (ui/config.js)
    assert not [u for u in cp.external if "evil.example" in u], cp.external
