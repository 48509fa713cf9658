"""The console takes incident changes from the telemetry socket instead of polling (ui/app/data.js):
while the socket is open, an incident changed and one reported through the API appear in the
incidents tab with no request to /api/incidents or /api/missions for longer than the console's
slowest poll (10 s); when the socket goes away it fetches at once and polls again, and when it
comes back it catches up on what changed meanwhile. Real service, real Debian chromium; the
socket is passed through Playwright (`route_web_socket`) so that the test can take it away.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import pytest

pytest.register_assert_rewrite("service_fixture", "browser_fixture")

from playwright.sync_api import expect  # noqa: E402

from browser_fixture import OpenConsole  # noqa: E402
from service_fixture import ServiceFactory  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request, WebSocketRoute

pytest_plugins = ["service_fixture", "browser_fixture"]
pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

POLLED = re.compile(r"/api/(incidents|missions)(\?|$)")
SLOWEST_POLL_S = 10.0  # MissionData's slowMs: the longest a polling console waits


def _report(lat: float, lon: float, text: str) -> dict[str, object]:
    return {"lat": lat, "lon": lon, "category": "drug_activity", "severity": 3,
            "source": "citizen_map", "description": text}


def test_incident_changes_arrive_pushed_with_no_polling_while_connected(
    service_factory: ServiceFactory, open_console: OpenConsole
) -> None:
    svc = service_factory()
    api = svc.client(role="operator", username="desk")
    first = api.post("/api/incidents", json=_report(41.3115, 69.2405, "first")).json()["id"]

    polled: list[tuple[float, str]] = []
    sockets: list[WebSocketRoute] = []
    outage = {"on": False}

    def socket(ws: WebSocketRoute) -> None:
        if outage["on"]:
            ws.close(code=1011, reason="test outage")
            return
        ws.connect_to_server()
        sockets.append(ws)

    def watch(page: Page) -> None:
        def on_request(r: Request) -> None:
            if POLLED.search(r.url):
                polled.append((time.monotonic(), r.url))
        page.on("request", on_request)
        page.route_web_socket(re.compile(r"/ws/telemetry"), socket)

    cp = open_console(svc.base_url, "/?lang=en", role="commander", before_load=watch)
    page = cp.page
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "open")
    cp.eval("nazoratConsole.panels.show('incidents')")
    row = page.locator(f"[data-testid=incident-row][data-incident-id='{first}']")
    expect(row.get_by_test_id("incident-status")).to_have_text("New")
    # at start-up, then on the socket's opening (catch-up): each list fetched twice, no more
    deadline = time.monotonic() + 10
    while len(polled) < 4 and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert sorted(u.split("?")[0].rsplit("/", 1)[1] for _, u in polled) == [
        "incidents", "incidents", "missions", "missions"], polled
    window = time.monotonic()

    assert api.patch(f"/api/incidents/{first}", json={"status": "triaged"}).status_code == 200
    expect(row.get_by_test_id("incident-status")).to_have_text("Triaged", timeout=3000)
    second = api.post("/api/incidents", json=_report(41.3120, 69.2410, "second")).json()["id"]
    expect(page.locator(f"[data-testid=incident-row][data-incident-id='{second}']")).to_be_visible(
        timeout=3000)
    expect(page.get_by_test_id("incident-row").first).to_have_attribute(
        "data-incident-id", str(second))  # newest first, as the API lists them
    page.wait_for_timeout(max(0.0, window + SLOWEST_POLL_S + 1.0 - time.monotonic()) * 1000)
    during = [u for t, u in polled if t >= window]
    assert during == [], f"polled while connected: {during}"

    # the socket goes away: the console fetches at once and polls again
    outage["on"] = True
    lost = time.monotonic()
    for ws in sockets:
        ws.close(code=1011, reason="test outage")
    expect(page.get_by_test_id("connection")).not_to_have_attribute("data-state", "open")
    deadline = lost + 3
    while not any(t >= lost for t, _ in polled) and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert any(t >= lost and "/api/incidents" in u for t, u in polled), polled[-4:]
    # changed while away, then the socket is back: caught up at once on its opening
    assert api.post(f"/api/incidents/{first}/close", json={"resolution": "false_alarm"}
                    ).status_code == 200
    outage["on"] = False
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "open",
                                                                timeout=15000)
    expect(row).to_have_count(0, timeout=3000)  # a false alarm leaves the open incidents
    assert cp.console_errors(ignore=("1011",)) == []
