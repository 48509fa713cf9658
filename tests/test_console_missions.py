"""The console's second slice in real headless Chromium against the real service and simulated
fleet: incidents added by clicking the map, picked (click and shift+drag), planned over two drones
(preview with routes and figures per drone), dispatched, watched until every incident is observed
and the mission completed; zone import with per-row errors; a refusal shown with its field; quick
dispatch and a recall from the missions tab; replay of the finished mission; the commander view
with no controls at all.

Screenshots: test-artifacts/console/missions-*.png.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any

import httpx
import pytest

pytest.register_assert_rewrite("service_fixture", "browser_fixture")

from playwright.sync_api import FilePayload, Page, expect  # noqa: E402

from browser_fixture import OpenConsole  # noqa: E402
from service_fixture import ServiceFactory, wait_until  # noqa: E402
from sitl_fleet import FleetFactory  # noqa: E402

pytest_plugins = ["service_fixture", "browser_fixture"]
pytestmark = [pytest.mark.timeout(200), pytest.mark.slow]

LONG_WAIT_MS = 30_000
FLIGHT_WAIT_MS = 120_000


def _state(c: httpx.Client, drone_id: int) -> dict[str, Any]:
    state: dict[str, Any] = c.get(f"/api/drones/{drone_id}").json()["state"] or {}
    return state


def _ready(c: httpx.Client, drone_id: int) -> bool:
    s = _state(c, drone_id)
    return bool(s.get("link") == "up" and s.get("ekf_ok") and s.get("home")
                and s.get("position") and s.get("battery_pct") is not None)


def _offset(home: dict[str, float], north_m: float, east_m: float) -> tuple[float, float]:
    lat = home["lat"] + north_m / 111_320.0
    lon = home["lon"] + east_m / (111_320.0 * math.cos(math.radians(home["lat"])))
    return lat, lon


def _ring(home: dict[str, float], corners: list[tuple[float, float]]) -> list[list[float]]:
    pts = [_offset(home, n, e) for n, e in corners]
    return [[lon, lat] for lat, lon in [*pts, pts[0]]]


def _page_point(page: Page, lat: float, lon: float) -> tuple[float, float]:
    """Where a position is drawn on the page (pixels), from the map's own projection."""
    xy: list[float] = page.evaluate(
        """([lat, lon]) => {
            const map = window.nazoratConsole.map.map;
            const p = map.latLngToContainerPoint([lat, lon]);
            const r = map.getContainer().getBoundingClientRect();
            return [r.left + p.x, r.top + p.y];
        }""",
        [lat, lon],
    )
    return xy[0], xy[1]


def _marker(page: Page, incident_id: int) -> Any:
    return page.locator(f"[data-testid=incident-marker][data-incident-id='{incident_id}']")


def _geojson_file(name: str, doc: dict[str, Any]) -> FilePayload:
    return {"name": name, "mimeType": "application/geo+json", "buffer": json.dumps(doc).encode()}


def test_operator_adds_plans_dispatches_and_watches_a_patrol_then_commander_view(
    sim_fleet: FleetFactory, service_factory: ServiceFactory, open_console: OpenConsole
) -> None:
    fleet = sim_fleet(count=3, speedup=10.0, ekf_delay=1.0)
    svc = service_factory(drones=[fleet.mavsdk_url(i) for i in range(3)])
    with svc.client(timeout=60) as api:
        for d in (1, 2, 3):
            wait_until(functools.partial(_ready, api, d), 30, interval_s=0.3,
                       what=f"drone {d} ready")
        home = _state(api, 1)["home"]
        names = {d["id"]: d["name"] for d in api.get("/api/drones").json()}

        cp = open_console(svc.base_url)
        page = cp.page
        expect(page.get_by_test_id("drone-marker")).to_have_count(3, timeout=LONG_WAIT_MS)
        # a view of the neighbourhood around the base (as a user would zoom out to it)
        # (braces: the map itself, Natural Earth's polygons included, is too deep to return)
        page.evaluate("([lat, lon]) => { window.nazoratConsole.map.map.setView([lat, lon], 17,"
                      " {animate: false}); }", [home["lat"], home["lon"]])
        mapbox = page.get_by_test_id("map")

        # ---- zones from GeoJSON files: a bad file shows the rows the API refused -------------
        page.get_by_test_id("tab-incidents").click()
        bad = {"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {"name": "open ring", "kind": "no_fly"},
            "geometry": {"type": "Polygon", "coordinates": [
                _ring(home, [(-150, -250), (-150, -200), (-100, -200)])[:-1]]}}]}
        page.get_by_test_id("import-zones-file").set_input_files(_geojson_file("bad.geojson", bad))
        errors = page.get_by_test_id("import-errors")
        expect(errors).to_be_visible()
        expect(errors).to_contain_text("bad.geojson")
        expect(errors.get_by_test_id("import-error-row")).to_have_count(1)
        expect(errors.get_by_test_id("import-error-row")).to_contain_text("row 1")
        expect(errors.get_by_test_id("import-error-row")).to_contain_text("geometry.coordinates")
        good = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"name": "prison", "kind": "no_fly"},
             "geometry": {"type": "Polygon", "coordinates": [
                 _ring(home, [(-220, -260), (-220, -180), (-150, -180), (-150, -260)])]}},
            {"type": "Feature", "properties": {"name": "market", "kind": "red", "risk_level": 4},
             "geometry": {"type": "Polygon", "coordinates": [
                 _ring(home, [(-60, 60), (-60, 200), (40, 200), (40, 60)])]}},
        ]}
        page.get_by_test_id("import-zones-file").set_input_files(_geojson_file("zones.geojson",
                                                                               good))
        expect(page.get_by_test_id("toasts")).to_contain_text("zones.geojson: 2 zones imported")
        expect(errors).to_be_hidden()
        expect(mapbox).to_have_attribute("data-no-fly-zones", "1")
        expect(mapbox).to_have_attribute("data-red-zones", "1")
        expect(page.locator("path.zone-nofly")).to_have_count(1)

        # ---- three incidents added by clicking the map ------------------------------------------
        spots = [(130.0, -20.0, "theft", "4"), (20.0, 160.0, "drug_activity", "5"),
                 (-110.0, 40.0, "disturbance", "2")]
        page.get_by_test_id("tool-add-incident").click()
        expect(page.get_by_test_id("map-hint")).to_be_visible()
        expect(page.get_by_test_id("tool-add-incident")).to_have_attribute("aria-pressed", "true")
        dialog = page.get_by_test_id("confirm-dialog")
        for n, (north, east, category, severity) in enumerate(spots, start=1):
            x, y = _page_point(page, *_offset(home, north, east))
            page.mouse.click(x, y)
            expect(dialog).to_be_visible()
            dialog.get_by_test_id("new-incident-category").select_option(category)
            dialog.get_by_test_id("new-incident-severity").select_option(severity)
            dialog.get_by_test_id("new-incident-description").fill(f"report {n}")
            dialog.get_by_test_id("confirm-ok").click()
            expect(dialog).to_be_hidden()
            expect(page.get_by_test_id("incident-marker")).to_have_count(n)
        page.keyboard.press("Escape")  # leaves the mode
        expect(page.get_by_test_id("map-hint")).to_be_hidden()
        incidents = sorted(api.get("/api/incidents").json(), key=lambda i: i["id"])
        assert [(i["category"], i["severity"], i["source"], i["status"]) for i in incidents] == [
            (c, int(s), "operator", "new") for _, _, c, s in spots]
        ids = [i["id"] for i in incidents]
        for inc in incidents:
            expect(_marker(page, inc["id"])).to_have_attribute("data-severity",
                                                               str(inc["severity"]))
            expect(_marker(page, inc["id"])).to_have_attribute("data-status", "new")
        expect(page.get_by_test_id("incident-row")).to_have_count(3)

        # ---- pick: new incidents come picked; cleared, then a click on the first and a
        # shift+drag box around the other two pick them again
        expect(page.get_by_test_id("selection-count")).to_have_text("3 incidents picked")
        page.get_by_test_id("selection-clear").click()
        expect(page.get_by_test_id("selection-bar")).to_be_hidden()
        _marker(page, ids[0]).click()
        expect(_marker(page, ids[0])).to_have_class(re.compile(r"\bselected\b"))
        p2 = _page_point(page, incidents[1]["lat"], incidents[1]["lon"])
        p3 = _page_point(page, incidents[2]["lat"], incidents[2]["lon"])
        x0, x1 = min(p2[0], p3[0]) - 25, max(p2[0], p3[0]) + 25
        y0, y1 = min(p2[1], p3[1]) - 25, max(p2[1], p3[1]) + 25
        page.keyboard.down("Shift")
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
        page.mouse.move(x1, y1, steps=4)
        page.mouse.up()
        page.keyboard.up("Shift")
        expect(page.get_by_test_id("selection-count")).to_have_text("3 incidents picked")
        for i in ids:
            expect(_marker(page, i)).to_have_class(re.compile(r"\bselected\b"))

        # ---- plan with two of the three drones; a refusal first --------------------------------
        page.get_by_test_id("selection-plan").click()
        plan = page.get_by_test_id("plan-panel")
        expect(plan).to_be_visible()
        expect(plan.get_by_test_id("plan-target")).to_have_count(3)
        drone3 = plan.locator("[data-testid=plan-drone][data-drone-id='3']")
        expect(drone3).to_be_checked()
        drone3.uncheck()
        plan.get_by_test_id("plan-loiter").fill("5")
        expect(plan.get_by_test_id("plan-objective")).to_have_value("response")  # the default
        plan.get_by_test_id("plan-objective").select_option("makespan")
        plan.get_by_test_id("plan-altitude").fill("500")
        with page.expect_response(re.compile(r"/api/missions/plan$")) as answer:
            plan.get_by_test_id("plan-button").click()
        assert answer.value.status == 422, answer.value.text()
        refused = answer.value.json()["detail"]
        expect(plan.get_by_test_id("plan-error")).to_contain_text("Planning refused (422)")
        expect(plan.get_by_test_id("plan-error-message")).to_have_text(refused["message"])
        expect(plan.get_by_test_id("plan-error-field")).to_have_text(refused["field"])
        plan.get_by_test_id("plan-altitude").fill("30")
        plan.get_by_test_id("plan-button").click()
        preview = plan.get_by_test_id("plan-preview")
        expect(preview).to_be_visible(timeout=LONG_WAIT_MS)
        expect(plan.get_by_test_id("plan-error")).to_be_hidden()
        legs = preview.get_by_test_id("preview-leg")
        expect(legs).to_have_count(2)
        expect(mapbox).to_have_attribute("data-preview-routes", "2")
        expect(page.locator("path.route-preview")).to_have_count(2)
        for row in legs.all():
            assert re.search(r"\d+ m|\d[.,]\d km", row.get_by_test_id("preview-distance")
                             .inner_text()), row.inner_text()
            assert re.search(r"\d+ (s|min)", row.get_by_test_id("preview-duration").inner_text())
            assert re.search(r"\d+%", row.get_by_test_id("preview-battery").inner_text())
        assert {int(r.get_attribute("data-drone-id") or 0) for r in legs.all()} == {1, 2}
        # time to eyes on per target, soonest first
        etas = preview.get_by_test_id("preview-target")
        expect(etas).to_have_count(3)
        eta_s = [_seconds(r.get_by_test_id("preview-eta").inner_text()) for r in etas.all()]
        assert eta_s == sorted(eta_s) and eta_s[0] > 0, eta_s
        cp.screenshot("missions-preview")

        # ---- dispatch (asks first) --------------------------------------------------------------
        preview.get_by_test_id("dispatch-button").click()
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(names[1])
        expect(dialog).to_contain_text(names[2])
        dialog.get_by_test_id("confirm-ok").click()
        detail = page.get_by_test_id("mission-detail")
        expect(detail).to_be_visible(timeout=LONG_WAIT_MS)
        mission_id = int(detail.get_attribute("data-mission-id") or 0)
        expect(detail.get_by_test_id("mission-detail-status")).to_have_attribute(
            "data-status", "active")
        expect(page.get_by_test_id("selection-bar")).to_be_hidden()
        expect(mapbox).to_have_attribute("data-preview-routes", "0")
        expect(page.locator("path.route-active")).to_have_count(2)

        # ---- quick dispatch of the idle drone, then its recall from the missions tab ----------
        page.keyboard.press("q")
        expect(page.get_by_test_id("map-hint")).to_be_visible()
        qx, qy = _page_point(page, *_offset(home, -60, -120))
        page.mouse.click(qx, qy)
        expect(dialog).to_be_visible()
        dialog.get_by_test_id("confirm-ok").click()
        expect(page.get_by_test_id("toasts")).to_contain_text(f"{names[3]} on the way",
                                                              timeout=LONG_WAIT_MS)
        quick_leg = detail.locator("[data-testid=mission-leg][data-drone-id='3']")
        expect(quick_leg).to_have_count(1)
        recall = quick_leg.get_by_test_id("leg-recall")
        expect(recall).to_be_visible(timeout=LONG_WAIT_MS)
        recall.click()
        expect(dialog).to_be_visible()
        dialog.get_by_test_id("confirm-ok").click()
        expect(quick_leg.get_by_test_id("leg-status")).to_have_attribute(
            "data-status", re.compile(r"returning|completed|aborted"), timeout=LONG_WAIT_MS)

        # ---- the patrol: incidents turn observed on the map, the mission completes ------------
        patrol = page.locator(f"[data-testid=mission-item][data-mission-id='{mission_id}']")
        expect(patrol).to_have_attribute("data-status", "active")
        expect(page.locator("[data-testid=incident-marker][data-status=observed]")).not_to_have_count(
            0, timeout=FLIGHT_WAIT_MS)
        cp.screenshot("missions-flying")
        for i in ids:
            expect(_marker(page, i)).to_have_attribute("data-status", "observed",
                                                       timeout=FLIGHT_WAIT_MS)
        expect(patrol).to_have_attribute("data-status", "completed", timeout=FLIGHT_WAIT_MS)
        patrol.get_by_role("button").click()
        expect(detail.get_by_test_id("mission-detail-status")).to_have_attribute(
            "data-status", "completed")
        expect(detail.get_by_test_id("mission-observed")).to_have_text("3/3 observed")
        expect(detail.get_by_test_id("mission-target")).to_have_count(3)
        timeline = detail.get_by_test_id("mission-timeline")
        expect(timeline.locator("li[data-kind=observed]")).to_have_count(3, timeout=LONG_WAIT_MS)
        expect(timeline.locator("li[data-kind=completed]")).to_have_count(1)
        expect(page.locator("[data-testid=incident-row][data-status=observed]")).to_have_count(3)

        # ---- replay of the finished mission's tracks -------------------------------------------
        detail.get_by_test_id("replay-open").click()
        replay = detail.get_by_test_id("replay")
        expect(replay).to_be_visible()
        expect(page.locator("path.replay-track")).to_have_count(2, timeout=LONG_WAIT_MS)
        replay.get_by_test_id("replay-slider").evaluate(
            "el => { el.value = '500'; el.dispatchEvent(new Event('input', {bubbles: true})); }")
        expect(replay.get_by_test_id("replay-time")).not_to_be_empty()
        assert page.evaluate("window.nazoratConsole.missionsPanel.replay.points") > 10
        cp.screenshot("missions-replay")

        assert api.get(f"/api/missions/{mission_id}").json()["status"] == "completed"
        detail.get_by_test_id("replay-close").click()

        # ---- triage, then false alarm, from the incidents list ----------------------------------
        page.keyboard.press("i")
        x, y = _page_point(page, *_offset(home, 60, -150))
        page.mouse.click(x, y)
        dialog.get_by_test_id("confirm-ok").click()
        expect(page.get_by_test_id("incident-marker")).to_have_count(4)
        page.keyboard.press("i")
        extra = max(i["id"] for i in api.get("/api/incidents").json())
        page.get_by_test_id("tab-incidents").click()
        extra_row = page.locator(f"[data-testid=incident-row][data-incident-id='{extra}']")
        extra_row.get_by_test_id("incident-triage").click()
        expect(extra_row.get_by_test_id("incident-status")).to_have_text("Triaged")
        expect(_marker(page, extra)).to_have_attribute("data-status", "triaged")
        extra_row.get_by_test_id("incident-false-alarm").click()
        expect(dialog).to_be_visible()
        dialog.get_by_test_id("close-note").fill("nothing there")
        dialog.get_by_test_id("confirm-ok").click()
        expect(extra_row).to_have_count(0)  # no longer open
        expect(_marker(page, extra)).to_have_count(0)
        hist = api.get(f"/api/incidents/{extra}/history").json()
        assert [h["to_status"] for h in hist] == ["new", "triaged", "false_alarm"]
        assert hist[-1]["note"] == "nothing there"
        page.get_by_test_id("incident-filter").select_option("all")
        expect(page.get_by_test_id("incident-row")).to_have_count(4)
        expect(_marker(page, extra)).to_have_attribute("data-status", "false_alarm")
        page.get_by_test_id("incident-filter").select_option("open")
        expect(page.get_by_test_id("incident-row")).to_have_count(3)
        # the browser logs the two refusals above (bad zone file, plan) as failed resources
        assert cp.console_errors(ignore=("status of 422",)) == []
        assert not [w for w in cp.warnings if w.startswith("i18n:")]
        assert cp.external == []
        page.close()

        # ---- the commander sees incidents, zones, missions and routes, and no control ---------
        cmd = open_console(svc.base_url, "/?view=commander")
        cpage = cmd.page
        expect(cpage.get_by_test_id("view-badge")).to_have_text("Commander")
        expect(cpage.get_by_test_id("incident-marker")).to_have_count(3, timeout=LONG_WAIT_MS)
        expect(cpage.locator("[data-testid=incident-marker][data-status=observed]")).to_have_count(3)
        expect(cpage.get_by_test_id("map")).to_have_attribute("data-no-fly-zones", "1")
        cpage.get_by_test_id("tab-incidents").click()
        expect(cpage.get_by_test_id("incident-row")).to_have_count(3)
        cpage.keyboard.press("h")  # hotspots: a view option, not a change
        expect(cpage.get_by_test_id("hotspot").first).to_be_visible(timeout=LONG_WAIT_MS)
        cpage.keyboard.press("h")
        expect(cpage.get_by_test_id("hotspot")).to_have_count(0)
        cpage.get_by_test_id("tab-missions").click()
        item = cpage.locator(f"[data-testid=mission-item][data-mission-id='{mission_id}']")
        expect(item).to_have_attribute("data-status", "completed")
        item.get_by_role("button").click()
        cdetail = cpage.get_by_test_id("mission-detail")
        expect(cdetail.get_by_test_id("mission-leg")).to_have_count(2)
        expect(cdetail.get_by_test_id("mission-timeline")).to_be_visible()
        expect(cpage.locator("path.route-past")).to_have_count(2)
        for testid in ("tab-plan", "plan-panel", "plan-button", "dispatch-button",
                       "tool-add-incident", "tool-quick", "add-incident-button",
                       "import-incidents", "import-zones", "incident-pick", "incident-triage",
                       "incident-close", "incident-false-alarm", "leg-pause", "leg-resume",
                       "leg-recall", "mission-recall", "mission-dispatch", "selection-bar"):
            assert cpage.get_by_test_id(testid).count() == 0, testid
        loaded = cpage.evaluate(
            "performance.getEntriesByType('resource').map(e => e.name.split('/').pop())")
        for module in ("operations-controls.js", "planning.js", "commands.js"):
            assert module not in loaded, loaded
        buttons = " | ".join(cpage.locator("button").all_inner_texts())
        forbidden = re.compile(r"(Plan route|Dispatch|\+ Incident|\+ Add|Quick dispatch|Pause|"
                               r"Resume|Recall|Triage|False alarm|Import)")
        assert not forbidden.search(buttons), buttons
        # the operator's shortcuts do nothing here
        cpage.keyboard.press("i")
        cpage.keyboard.press("q")
        expect(cpage.get_by_test_id("map-hint")).to_be_hidden()
        cpage.get_by_test_id("map").click(position={"x": 200, "y": 300})
        expect(cpage.get_by_test_id("confirm-dialog")).to_be_hidden()
        cmd.screenshot("missions-commander")

        # Russian: the new tabs, statuses and mission texts
        cpage.get_by_test_id("lang-ru").click()
        expect(cpage.get_by_test_id("tab-incidents")).to_contain_text("Инциденты")
        expect(cpage.get_by_test_id("tab-missions")).to_contain_text("Миссии")
        expect(cdetail.get_by_test_id("mission-detail-status")).to_have_text("завершена")
        expect(cdetail.get_by_test_id("mission-observed")).to_have_text("осмотрено 3/3")
        cpage.get_by_test_id("tab-incidents").click()
        expect(cpage.get_by_test_id("incident-status").first).to_have_text("Осмотрен")
        cmd.screenshot("missions-commander-ru")
        assert cmd.console_errors() == []
        assert not [w for w in cmd.warnings if w.startswith("i18n:")]
        assert cmd.external == []


def _seconds(text: str) -> int:
    """'1 min 05 s' or '45 s' (the console's duration) in seconds."""
    m = re.fullmatch(r"(?:(\d+) min )?(\d+) s", text.strip())
    assert m, text
    return int(m.group(1) or 0) * 60 + int(m.group(2))
