"""The console and sessions in real headless Chromium against the real service (no drones
needed): no session sends the console to the sign-in page and back, sign-out ends the session on
the service, and the view follows the signed-in role whatever the URL says. (The sign-in and
report pages on their own: tests/test_intake.py.)

Screenshots: test-artifacts/console/login-*.png.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

pytest.register_assert_rewrite("service_fixture", "browser_fixture")

from playwright.sync_api import expect  # noqa: E402

from browser_fixture import OpenConsole  # noqa: E402
from service_fixture import ServiceFactory  # noqa: E402

pytest_plugins = ["service_fixture", "browser_fixture"]
pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


def test_sign_in_round_trip_and_sign_out_ends_the_session(
    service_factory: ServiceFactory, open_console: OpenConsole
) -> None:
    svc = service_factory()
    svc.token("operator", "night-desk")  # creates the user; the browser signs in by the form
    password = svc.passwords["night-desk"]

    cp = open_console(svc.base_url, "/?lang=en#fleet", role=None, wait_ready=False)
    page = cp.page
    page.wait_for_url("**/login.html?*")
    assert parse_qs(urlsplit(page.url).query)["next"] == ["/?lang=en#fleet"]
    page.wait_for_selector("body[data-ready=true]")

    page.get_by_test_id("login-username").fill("night-desk")
    page.get_by_test_id("login-password").fill("not-" + password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_have_text("Wrong user name or password.")
    cp.screenshot("login-refused")

    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/")
    page.wait_for_selector("body[data-ready=true]")
    assert urlsplit(page.url).path == "/" and urlsplit(page.url).fragment == "fleet"
    expect(page.get_by_test_id("view-badge")).to_have_text("Operator")
    expect(page.get_by_test_id("user-name")).to_have_text("night-desk")
    expect(page.get_by_test_id("recall-all")).to_be_visible()
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "open")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["nazorat_session"]["httpOnly"]  # scripts never see the token
    cp.screenshot("login-signed-in")

    page.get_by_test_id("logout").click()
    page.wait_for_url("**/login.html")
    page.goto(svc.base_url + "/")  # the session is over on the service, not just forgotten
    page.wait_for_url("**/login.html?*")
    audit = svc.client().get("/api/audit", params={"actor": "night-desk"}).json()
    actions = [a["action"] for a in audit]
    assert "auth.login" in actions and "auth.logout" in actions, actions
    assert any(a["action"].startswith("auth.login") and a["outcome"] != "ok" for a in audit), audit
    assert cp.console_errors(ignore=("401", "Unauthorized")) == []


def test_a_commander_always_gets_the_read_only_view(
    service_factory: ServiceFactory, open_console: OpenConsole
) -> None:
    svc = service_factory()
    cp = open_console(svc.base_url, "/?view=operator", role="commander")
    page = cp.page
    expect(page.get_by_test_id("view-badge")).to_have_text("Commander")
    expect(page.get_by_test_id("user-name")).to_have_text("commander-test")
    assert page.get_by_test_id("recall-all").count() == 0
    assert page.locator("[data-command]").count() == 0
    # an operator may preview the commander view; it has no controls either
    op = open_console(svc.base_url, "/?view=commander", role="operator")
    expect(op.page.get_by_test_id("view-badge")).to_have_text("Commander")
    assert op.page.get_by_test_id("recall-all").count() == 0
    assert cp.console_errors() == [] and op.console_errors() == []
