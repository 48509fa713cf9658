"""The console's Response tab (ui/app/response.js) and Proposals tab (ui/app/proposals.js) in
real headless Chromium against the real service: the report's figures shown as a chart and a
table (from a report fulfilled with known figures, then the service's own empty report), and a
pending proposal with its countdown, confirmed with one click (the confirm request checked).

Screenshots: test-artifacts/console/response-*.png.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

pytest.register_assert_rewrite("service_fixture", "browser_fixture")

from playwright.sync_api import expect  # noqa: E402

from browser_fixture import OpenConsole  # noqa: E402
from service_fixture import ServiceFactory  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

pytest_plugins = ["service_fixture", "browser_fixture"]
pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


def _stage(count: int, p50: float | None, p95: float | None) -> dict[str, Any]:
    return {"count": count, "p50_s": p50, "p95_s": p95}


def _report() -> dict[str, Any]:
    overall = {"report_to_dispatch": _stage(4, 0.4, 0.9),
               "dispatch_to_airborne": _stage(4, 5.0, 6.5),
               "airborne_to_on_scene": _stage(3, 81.0, 120.0),
               "report_to_on_scene": _stage(3, 87.0, 127.5)}
    empty = {k: _stage(0, None, None) for k in overall}
    return {"from": None, "to": None, "incidents": 4, "overall": overall,
            "by_severity": {"5": overall, "4": empty, "3": empty, "2": empty, "1": empty}}


def test_response_tab_and_a_proposal_countdown_confirmed(
    service_factory: ServiceFactory, open_console: OpenConsole,
) -> None:
    svc = service_factory()
    confirmed: list[str] = []
    now = datetime.now(UTC)
    proposal = {"id": 7, "rule_id": 2, "incident_id": 41, "mission_id": 9, "drone_id": 3,
                "eta_s": 84.0, "status": "pending", "on_timeout": "dispatch",
                "created_at": now.isoformat(),
                "expires_at": (now + timedelta(seconds=90)).isoformat(),
                "decided_at": None, "decided_by": None, "reason": ""}
    fake = {"report": True}

    def routes(page: Page) -> None:
        def report(route: Route) -> None:
            if fake["report"]:
                route.fulfill(status=200, content_type="application/json",
                              body=json.dumps(_report()))
            else:
                route.continue_()

        def proposals(route: Route) -> None:
            route.fulfill(status=200, content_type="application/json",
                          body=json.dumps([proposal]))

        def confirm(route: Route) -> None:
            confirmed.append(route.request.method)
            route.fulfill(status=200, content_type="application/json", body="{}")

        page.route("**/api/reports/response*", report)
        page.route("**/api/dispatch-proposals?status=pending", proposals)
        page.route("**/api/dispatch-proposals/7/confirm", confirm)

    cp = open_console(svc.base_url, "/?lang=en", before_load=routes)
    page = cp.page
    page.get_by_test_id("tab-response").click()
    panel = page.get_by_test_id("panel-response")
    expect(panel.get_by_test_id("response-chart")).to_be_visible()
    bars = panel.locator("rect.response-bar")
    expect(bars).to_have_count(4)
    widths = [float(bars.nth(i).get_attribute("width") or 0) for i in range(4)]
    assert widths[3] > widths[2] > widths[1] > widths[0] > 0, widths  # bar ~ median
    row = panel.locator("tr[data-stage=report_to_on_scene]")
    expect(row).to_contain_text("Report → on scene")
    expect(row).to_contain_text("87")
    expect(row).to_contain_text("128")  # 127.5 s, shown without decimals
    cp.screenshot("response-tab")
    panel.get_by_test_id("response-severity").select_option("4")
    expect(panel.get_by_test_id("response-empty")).to_be_visible()
    fake["report"] = False  # the service's own report: nothing dispatched yet
    panel.get_by_test_id("response-severity").select_option("all")
    panel.get_by_test_id("response-refresh").click()
    expect(panel.get_by_test_id("response-empty")).to_be_visible()

    expect(page.get_by_test_id("badge-proposals")).to_have_text("1")
    page.get_by_test_id("tab-proposals").click()
    item = page.get_by_test_id("proposal")
    expect(item).to_contain_text("Incident #41: drone 3, on scene in 84 s")
    countdown = item.get_by_test_id("proposal-countdown")
    expect(countdown).to_contain_text("then sent automatically")
    first = int(countdown.inner_text().split()[0])
    assert 80 <= first <= 90, first
    page.wait_for_timeout(2100)
    assert int(countdown.inner_text().split()[0]) < first, "the countdown runs"
    cp.screenshot("response-proposal")
    item.get_by_test_id("proposal-confirm").click()
    expect(page.locator(".toast")).to_contain_text("Drone sent to incident #41")
    assert confirmed == ["POST"]
    assert cp.console_errors() == []
