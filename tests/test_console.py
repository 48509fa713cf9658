"""The web console (ui/) in real headless Chromium against the real service and simulated fleet.

Screenshots: test-artifacts/console/*.png. Every page is opened offline (browser_fixture): any
request that is not to the service is aborted and recorded, the default tile URL is answered
with a plain generated tile.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import httpx
import pytest

pytest.register_assert_rewrite("service_fixture", "browser_fixture")

from playwright.sync_api import Page, expect  # noqa: E402

from browser_fixture import OpenConsole  # noqa: E402
from service_fixture import ServiceFactory, wait_until  # noqa: E402
from sitl_fleet import FleetFactory  # noqa: E402

pytest_plugins = ["service_fixture", "browser_fixture"]
pytestmark = [pytest.mark.timeout(150), pytest.mark.slow]

SPEEDUP = 5.0
LONG_WAIT_MS = 30_000


def drone_state(client: httpx.Client, drone_id: int) -> dict[str, Any]:
    r = client.get(f"/api/drones/{drone_id}")
    assert r.status_code == 200, r.text
    state: dict[str, Any] = r.json()["state"] or {}
    return state


def _ready(client: httpx.Client, drone_id: int) -> bool:
    s = drone_state(client, drone_id)
    return bool(s.get("link") == "up" and s.get("ekf_ok") and s.get("home") and s.get("position"))


def marker(page: Page, drone_id: int) -> Any:
    return page.locator(f"[data-testid=drone-marker][data-drone-id='{drone_id}']")


def row(page: Page, drone_id: int) -> Any:
    return page.locator(f".fleet-table tbody tr[data-drone-id='{drone_id}']")


def marker_latlng(page: Page, drone_id: int) -> list[float] | None:
    value: list[float] | None = page.evaluate(
        "id => window.nazoratConsole.map.markerLatLng(id)", drone_id
    )
    return value


def table_names(page: Page) -> list[str]:
    names: list[str] = page.locator(".fleet-table tbody td[data-col=name]").all_inner_texts()
    return names


def test_operator_console_live_map_takeoff_rtl_alerts_and_layouts(
    sim_fleet: FleetFactory, service_factory: ServiceFactory, open_console: OpenConsole
) -> None:
    fleet = sim_fleet(count=3, speedup=SPEEDUP, ekf_delay=2.0)
    svc = service_factory(drones=[fleet.mavsdk_url(i) for i in range(3)])
    with svc.client(timeout=60) as api:
        cp = open_console(svc.base_url)
        page = cp.page
        expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "open")
        expect(page.locator(".fleet-table tbody tr")).to_have_count(3)
        expect(page.get_by_test_id("drone-marker")).to_have_count(3, timeout=LONG_WAIT_MS)
        names = {d["id"]: d["name"] for d in api.get("/api/drones").json()}
        for i in (1, 2, 3):
            label = marker(page, i).locator(".drone-label")
            expect(label).to_contain_text(names[i])
            expect(label).to_contain_text("%")
            expect(marker(page, i)).to_have_attribute("data-status", "ok", timeout=LONG_WAIT_MS)
        expect(page.locator(".home-marker")).to_have_count(3)
        assert table_names(page) == sorted(names.values())

        # sortable: name descending, then battery
        page.locator(".fleet-table th button[data-sort=name]").click()
        expect(page.locator(".fleet-table th[aria-sort=descending]")).to_have_count(1)
        assert table_names(page) == sorted(names.values(), reverse=True)
        page.locator(".fleet-table th button[data-sort=name]").click()
        assert table_names(page) == sorted(names.values())

        # take off with drone 1 from its detail panel (GUIDED, arm, takeoff after confirmation)
        wait_until(functools.partial(_ready, api, 1), 30, interval_s=0.3, what="drone 1 ready")
        row(page, 1).click()
        detail = page.get_by_test_id("drone-detail")
        expect(detail.get_by_test_id("detail-title")).to_have_text(names[1])
        takeoff = detail.locator("[data-command=takeoff]")
        expect(takeoff).to_be_enabled(timeout=LONG_WAIT_MS)
        takeoff.click()
        dialog = page.get_by_test_id("confirm-dialog")
        expect(dialog).to_be_visible()
        dialog.get_by_test_id("takeoff-alt").fill("12")
        dialog.get_by_test_id("confirm-ok").click()
        expect(dialog).to_be_hidden()
        expect(detail.locator("dd[data-field=armed]")).to_have_text("yes", timeout=LONG_WAIT_MS)
        wait_until(lambda: (drone_state(api, 1).get("alt_rel") or 0) > 8, 40, interval_s=0.3,
                   what="drone 1 climbed")
        expect(marker(page, 1).locator(".drone-label")).to_contain_text("GUIDED")
        history = api.get("/api/drones/1/commands").json()
        assert {"set_mode", "arm", "takeoff"} <= {h["name"] for h in history}
        assert all(h["actor"] == "console" for h in history)

        # the icon moves on the map as the drone flies (goto through the API)
        start = marker_latlng(page, 1)
        box0 = marker(page, 1).bounding_box()
        assert start is not None and box0 is not None
        home = drone_state(api, 1)["home"]
        r = api.post("/api/drones/1/commands/goto",
                      json={"lat": home["lat"] + 0.0006, "lon": home["lon"] + 0.0004, "alt": 12})
        assert r.status_code == 200, r.text
        page.wait_for_function(
            """([id, lat0, lon0]) => {
                const p = window.nazoratConsole.map.markerLatLng(id);
                return p && Math.hypot((p[0] - lat0) * 111320, (p[1] - lon0) * 83700) > 25;
            }""",
            arg=[1, start[0], start[1]], timeout=LONG_WAIT_MS,
        )
        box1 = marker(page, 1).bounding_box()
        assert box1 is not None
        assert abs(box1["x"] - box0["x"]) + abs(box1["y"] - box0["y"]) > 10, (box0, box1)
        assert page.evaluate("window.nazoratConsole.map.trailLength(1)") >= 3
        cp.screenshot("operator-flying-1366x768")

        # keyboard: ? lists shortcuts, Esc closes; r asks before RTL and Esc cancels it
        page.locator("body").press("?")
        expect(page.get_by_test_id("help-dialog")).to_be_visible()
        expect(page.get_by_test_id("help-dialog")).to_contain_text("Return the selected drone")
        page.keyboard.press("Escape")
        expect(page.get_by_test_id("help-dialog")).to_be_hidden()
        page.keyboard.press("r")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(names[1])
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        assert not any(h["name"] == "return_to_launch"
                       for h in api.get("/api/drones/1/commands").json())

        # recall all: every flying drone (only drone 1) returns to launch after confirmation
        page.get_by_test_id("recall-all").click()
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(names[1])
        expect(dialog).not_to_contain_text(names[2])
        dialog.get_by_test_id("confirm-ok").click()
        expect(page.get_by_test_id("toasts")).to_contain_text("Recall: 1 accepted, 0 failed")
        expect(detail.locator("dd[data-field=mode]")).to_have_text("RTL", timeout=LONG_WAIT_MS)
        expect(marker(page, 1).locator(".drone-label")).to_contain_text("RTL")

        # alerts: low battery on drone 3, link lost on drone 2; colours follow
        fleet.control("battery", vehicle=2, percent=12)
        alerts = page.get_by_test_id("alert")
        low = alerts.and_(page.locator("[data-kind=battery_low][data-drone-id='3']"))
        expect(low).to_have_count(1, timeout=LONG_WAIT_MS)
        expect(marker(page, 3)).to_have_attribute("data-status", "low")
        expect(page.get_by_test_id("badge-alerts")).to_be_visible()
        fleet.control("cut_link", vehicle=1)
        lost = alerts.and_(page.locator("[data-kind=link_lost][data-drone-id='2']"))
        expect(lost).to_have_count(1, timeout=LONG_WAIT_MS)
        expect(marker(page, 2)).to_have_attribute("data-status", "lost")
        expect(row(page, 2).locator("td[data-col=status]")).to_have_text("Link lost")
        page.get_by_test_id("tab-alerts").click()
        expect(page.get_by_test_id("panel-alerts")).to_be_visible()
        # RTL came from this console: no "unexpected mode" alert for it
        assert page.locator("[data-testid=alert][data-kind=mode_failsafe]").count() == 0
        cp.screenshot("operator-alerts-1366x768")
        low.get_by_test_id("alert-ack").click()
        expect(low).to_have_attribute("data-acked", "true")
        page.get_by_test_id("alerts-ack-all").click()
        expect(page.locator("[data-testid=alert][data-acked=false]")).to_have_count(0)
        expect(page.get_by_test_id("badge-alerts")).to_be_hidden()

        # a tablet in portrait: everything reachable, nothing wider than the screen
        page.get_by_test_id("tab-fleet").click()
        page.set_viewport_size({"width": 820, "height": 1180})
        expect(page.locator("[data-command=return_to_launch]")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 820
        map_box = page.get_by_test_id("map").bounding_box()
        assert map_box is not None and map_box["height"] >= 300, map_box
        cp.screenshot("operator-tablet-820x1180", full_page=True)

        assert cp.console_errors() == []
        assert not [w for w in cp.warnings if w.startswith("i18n:")]
        assert cp.external == []
        assert cp.tiles_served > 0
        # Leave no lost link and no open socket behind: with both, the service's shutdown hangs
        # until service_fixture kills it 15 s later (reported; not a console matter).
        fleet.control("restore_link", vehicle=1)
        cp.page.close()


def test_refused_command_shows_the_autopilot_reason_and_language_switch(
    sim_fleet: FleetFactory, service_factory: ServiceFactory, open_console: OpenConsole
) -> None:
    # EKF never ready during the test: arming is refused with ArduPilot's own text.
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=600.0)
    svc = service_factory(drones=[fleet.mavsdk_url(0)])
    with svc.client() as api:
        wait_until(lambda: drone_state(api, 1).get("link") == "up", 20, what="link up")
        cp = open_console(svc.base_url)
        page = cp.page
        expect(row(page, 1)).to_have_count(1)
        row(page, 1).click()
        arm = page.locator("[data-command=arm]")
        expect(arm).to_be_enabled(timeout=LONG_WAIT_MS)
        arm.click()
        dialog = page.get_by_test_id("confirm-dialog")
        expect(dialog).to_be_visible()
        with page.expect_response(re.compile(r"/api/drones/1/commands/arm$")) as answer:
            dialog.get_by_test_id("confirm-ok").click()
        response = answer.value
        assert response.status == 409, response.text()
        body = response.json()
        assert body["outcome"] == "rejected"
        reason = body["reason"]
        assert re.match(r"^(PreArm|Arm): ", reason), body
        expect(page.get_by_test_id("command-error-reason")).to_have_text(reason)
        expect(page.get_by_test_id("command-error")).to_contain_text("refused by the autopilot")
        expect(page.locator(".toast-error")).to_contain_text(reason)
        cp.screenshot("operator-command-refused")

        # English <-> Russian, remembered across a reload; then Uzbek
        expect(page.get_by_test_id("tab-fleet")).to_contain_text("Fleet")
        page.get_by_test_id("lang-ru").click()
        expect(page.get_by_test_id("tab-fleet")).to_contain_text("Парк")
        expect(page.get_by_test_id("tab-alerts")).to_contain_text("Тревоги")
        expect(page.locator("[data-command=return_to_launch]")).to_contain_text("Домой")
        expect(page.get_by_test_id("command-error")).to_contain_text("отклонено автопилотом")
        expect(page.get_by_test_id("command-error-reason")).to_have_text(reason)  # verbatim
        expect(page.locator("html")).to_have_attribute("lang", "ru")
        cp.screenshot("operator-russian")
        page.reload(wait_until="domcontentloaded")
        page.wait_for_selector("body[data-ready=true]")
        expect(page.get_by_test_id("tab-fleet")).to_contain_text("Парк")
        expect(page.locator(".fleet-table th button[data-sort=mode]")).to_contain_text("Режим")
        # Uzbek (Latin)
        page.get_by_test_id("lang-uz").click()
        expect(page.get_by_test_id("tab-fleet")).to_contain_text("Dronlar")
        expect(page.get_by_test_id("tab-alerts")).to_contain_text("Signallar")
        expect(page.locator(".fleet-table th button[data-sort=mode]")).to_contain_text("Rejim")
        row(page, 1).click()
        expect(page.locator("[data-command=arm]")).to_contain_text("Yoqish")
        expect(page.locator("html")).to_have_attribute("lang", "uz")
        cp.screenshot("operator-uzbek")
        page.get_by_test_id("lang-en").click()
        expect(page.get_by_test_id("tab-fleet")).to_contain_text("Fleet")

        # the browser itself logs the 409 as a failed resource; nothing else may be an error
        assert cp.console_errors(ignore=("status of 409",)) == []
        assert not [w for w in cp.warnings if w.startswith("i18n:")]
        assert cp.external == []


def test_commander_view_has_no_command_controls_and_survives_missing_tiles(
    sim_fleet: FleetFactory, service_factory: ServiceFactory, open_console: OpenConsole
) -> None:
    fleet = sim_fleet(count=2, speedup=SPEEDUP, ekf_delay=2.0)
    svc = service_factory(drones=[fleet.mavsdk_url(i) for i in range(2)])
    # tiles unreachable (as with no internet): the map falls back to a plain background
    cp = open_console(svc.base_url, "/", serve_tiles=False, role="commander")
    page = cp.page
    expect(page.get_by_test_id("view-badge")).to_have_text("Commander")
    expect(page.locator(".fleet-table tbody tr")).to_have_count(2)
    expect(page.get_by_test_id("drone-marker")).to_have_count(2, timeout=LONG_WAIT_MS)
    expect(page.get_by_test_id("tiles-notice")).to_be_visible(timeout=LONG_WAIT_MS)
    row(page, 2).click()
    expect(page.get_by_test_id("drone-detail")).to_be_visible()
    expect(page.get_by_test_id("detail-title")).to_have_text("sim-2")

    # no command control exists at all (not merely disabled)
    assert page.locator("[data-command]").count() == 0
    assert page.get_by_test_id("command-controls").count() == 0
    assert page.get_by_test_id("recall-all").count() == 0
    assert page.locator("#operator-name").count() == 0
    buttons = " | ".join(page.locator("button").all_inner_texts())
    forbidden = re.compile(r"\b(Arm|Disarm|Take off|RTL|Land|Recall all|Pause|Resume)\b")
    assert not forbidden.search(buttons), buttons
    page.keyboard.press("r")  # the operator's RTL shortcut does nothing here
    page.keyboard.press("?")
    expect(page.get_by_test_id("help-dialog")).to_be_visible()
    expect(page.get_by_test_id("help-dialog")).not_to_contain_text("Return the selected drone")
    page.keyboard.press("Escape")
    assert page.get_by_test_id("confirm-dialog").is_visible() is False
    # the commander still sees alerts
    fleet.control("battery", vehicle=0, percent=10)
    expect(page.locator("[data-testid=alert][data-kind=battery_low]")).to_have_count(
        1, timeout=LONG_WAIT_MS)
    cp.screenshot("commander-1366x768")

    # the telemetry socket drops: a banner says so, the console reconnects by itself
    snapshots = page.evaluate("window.nazoratConsole.ws.snapshots")
    # a first retry after ~2 s (not 0.5 s) so that the banner is seen for sure
    page.evaluate("() => { const ws = window.nazoratConsole.ws;"
                  " ws.minDelayS = 2; ws.socket.close(); }")
    expect(page.get_by_test_id("banner")).to_be_visible()
    expect(page.get_by_test_id("connection")).not_to_have_attribute("data-state", "open")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "open")
    expect(page.get_by_test_id("banner")).to_be_hidden()
    assert page.evaluate("window.nazoratConsole.ws.snapshots") == snapshots + 1
    expect(page.get_by_test_id("drone-marker")).to_have_count(2)

    tile_failures = [u for u in cp.external if "tile.openstreetmap.org" in u]
    assert tile_failures and len(tile_failures) == len(cp.external)
    # Chromium logs each aborted tile as a failed resource; nothing else may be an error
    assert cp.console_errors(ignore=("net::ERR_INTERNET_DISCONNECTED",)) == []
