"""Incident intake from outside the unit, through one real service for the module: integration
keys with per-key rate limits and payload limits, the Telegram webhook with its secret token,
the public report endpoint with its per-address limit and honeypot; and in Chromium, the public
/report page and the sign-in page, also in the residents' languages (Uzbek, Kazakh, Tajik), and
the bot's answer in the sender's language."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytest.register_assert_rewrite("service_fixture", "browser_fixture")

from browser_fixture import ConsolePage, OpenConsole  # noqa: E402
from service_fixture import RunningService, module_service  # noqa: E402
from test_i18n_catalogues import PLURALS  # noqa: E402

pytest_plugins = ["browser_fixture"]
pytestmark = pytest.mark.timeout(120)

SECRET = "tg-secret-" + "x" * 20
REPORTS_PER_HOUR = 8


@pytest.fixture(scope="module")
def svc(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[RunningService]:
    yield from module_service(tmp_path_factory, request, "intake-service",
                              {"NAZORAT_TELEGRAM_SECRET": SECRET,
                   "NAZORAT_REPORT_PER_HOUR": str(REPORTS_PER_HOUR)})


def incidents(svc: RunningService, **params: Any) -> list[dict[str, Any]]:
    with svc.client() as admin:
        rows: list[dict[str, Any]] = admin.get("/api/incidents", params=params).json()
        return rows


@pytest.mark.nopg  # the page's requests are the intake API's, checked on PostgreSQL below
def test_report_page_in_the_browser(svc: RunningService, open_console: OpenConsole) -> None:
    cp = open_console(svc.base_url, "/report", role=None)
    page = cp.page
    csp = page.evaluate("() => fetch('/report').then(r => r.headers.get("
                        "'content-security-policy'))")
    assert "script-src 'self'" in csp
    page.get_by_test_id("lang-ru").click()
    assert page.get_by_test_id("report-submit").inner_text() == "Отправить"
    page.get_by_test_id("lang-en").click()
    page.get_by_test_id("report-submit").click()
    assert "map" in page.get_by_test_id("report-message").inner_text(), cp.errors  # place first
    box = page.get_by_test_id("report-map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert page.get_by_test_id("report-point").get_attribute("data-set") == "true"
    page.get_by_test_id("report-category").select_option("suspicious_person")
    page.get_by_test_id("report-description").fill("someone at the fence (browser test)")
    page.get_by_test_id("report-contact").fill("browser@example.org")
    with page.expect_response("**/api/intake/report") as answer:
        page.get_by_test_id("report-submit").click()
    assert answer.value.status == 202, answer.value.text()
    page.wait_for_selector("[data-testid=report-message][data-kind=ok]")
    desc = {i["description"]: i for i in incidents(svc)}
    got = desc["someone at the fence (browser test)"]
    assert got["category"] == "suspicious_person" and got["source"] == "citizen_map"
    assert got["reporter_contact"] == "browser@example.org"
    assert cp.external == [] and cp.tiles_served > 0
    assert cp.console_errors() == []



# The browser's language each page should start in, and the submit label it should then show.
LOCALES = {"uz": "uz-UZ", "kk": "kk-KZ", "tg": "tg-TJ"}


def catalogue(cp: ConsolePage, lang: str) -> dict[str, Any]:
    """The public pages' catalogue of `lang`, as the page itself loads it."""
    got: dict[str, Any] = cp.eval(f"() => import('/i18n/public/{lang}.js').then(m => m.default)")
    return got


@pytest.mark.nopg  # the page's requests are the intake API's, checked on PostgreSQL below
@pytest.mark.parametrize("lang", sorted(LOCALES))
def test_report_page_in_the_residents_language(svc: RunningService, open_console: OpenConsole,
                                               lang: str) -> None:
    """A phone set to Uzbek, Kazakh or Tajik gets the whole page in that language (every text
    from the catalogue, numbers and plurals by Intl) and can send a report with it."""
    cp = open_console(svc.base_url, "/report", role=None, locale=LOCALES[lang])
    page = cp.page
    words = catalogue(cp, lang)
    assert page.locator("html").get_attribute("lang") == lang
    assert page.get_by_test_id(f"lang-{lang}").get_attribute("aria-pressed") == "true"
    assert page.title() == words["report.title"]
    for el in page.locator("[data-t]").all():
        assert el.inner_text().strip() == words[el.get_attribute("data-t") or ""].strip()
    options = page.get_by_test_id("report-category").locator("option").all_inner_texts()
    assert options == [words[f"report.cat.{c}"] for c in (
        "drug_activity", "disturbance", "theft", "traffic", "suspicious_person",
        "suspicious_vehicle", "other")]
    categories = cp.eval(f"() => new Intl.PluralRules('{lang}').resolvedOptions()"
                         ".pluralCategories")
    # every form this browser's Intl.PluralRules can choose is in the catalogue (Chromium has no
    # Tajik plural data and chooses "other" only; CLDR's one/other are what the files must have)
    assert set(categories) <= PLURALS[lang]
    page.get_by_test_id("report-submit").click()
    assert page.get_by_test_id("report-message").inner_text() == words["report.needPoint"]
    box = page.get_by_test_id("report-map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    # the coordinates as this browser's Intl.NumberFormat writes them in that language (Chromium
    # has no Tajik number data and falls back to its default: the page does not hand-roll it)
    lat, lon = cp.eval("(lang) => { const p = window.nazoratReport.state.point; const f = new "
                       "Intl.NumberFormat(lang, {minimumFractionDigits: 5, maximumFractionDigits:"
                       " 5}); return [f.format(p.lat), f.format(p.lng)]; }", lang)
    assert page.get_by_test_id("report-point").inner_text() == \
        words["report.point"].replace("{lat}", lat).replace("{lon}", lon)
    page.get_by_test_id("report-category").select_option("theft")
    text = f"report in {lang} (browser test)"
    page.get_by_test_id("report-description").fill(text)
    with page.expect_response("**/api/intake/report") as answer:
        page.get_by_test_id("report-submit").click()
    assert answer.value.status == 202, answer.value.text()
    page.wait_for_selector("[data-testid=report-message][data-kind=ok]")
    assert page.get_by_test_id("report-message").inner_text() == words["report.sent"]
    got = {i["description"]: i for i in incidents(svc)}[text]
    assert got["category"] == "theft" and got["source"] == "citizen_map"
    if lang == "uz":  # the switcher: the Cyrillic Uzbek page, and the choice is remembered
        page.get_by_test_id("lang-uz-Cyrl").click()
        assert page.get_by_test_id("report-message").inner_text() == \
            catalogue(cp, "uz-Cyrl")["report.sent"]
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        assert page.locator("html").get_attribute("lang") == "uz-Cyrl"
    assert not [w for w in cp.warnings if "i18n" in w]
    assert cp.external == [] and cp.console_errors() == []

def test_keyed_intake_rate_and_payload_limits(svc: RunningService) -> None:
    key = svc.integration_key("citizen-map", source="citizen_map", rate_per_minute=3)
    hdr = {"Authorization": f"Bearer {key}"}
    body = {"lat": 41.30, "lon": 69.20, "category": "drug_activity", "severity": 4,
            "description": "seen from the app", "reporter_contact": "app user 17"}
    with httpx.Client(base_url=svc.base_url, headers=hdr) as c:
        ids = []
        for _ in range(3):
            r = c.post("/api/intake/incidents", json=body)
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        r = c.post("/api/intake/incidents", json=body)
        assert r.status_code == 429, r.text
        assert 1 <= int(r.headers["retry-after"]) <= 20  # 3 a minute: one more in 20 s
        assert r.json()["detail"]["error"] == "rate_limited"
        # another key has its own budget
        other = svc.integration_key("camera-2", source="camera")
        r = c.post("/api/intake/incidents", json=body, headers={"Authorization": f"Bearer {other}"})
        assert r.status_code == 201
        # too large: refused before anything is parsed
        r = c.post("/api/intake/incidents", headers={**hdr, "content-type": "application/json"},
                   content=b'{"description": "' + b"a" * 20_000 + b'"}')
        assert r.status_code == 413 and r.json()["detail"]["error"] == "too_large"
    with svc.client() as admin:
        got = admin.get(f"/api/incidents/{ids[0]}").json()
        assert got["source"] == "citizen_map" and got["status"] == "new"
        assert got["reporter_contact"] == "app user 17" and got["severity"] == 4


def test_public_report_honeypot_and_per_address_limit(svc: RunningService) -> None:
    report = {"lat": 39.77, "lon": 64.42, "category": "theft", "description": "bike taken",
              "contact": "+998 91 111 22 33", "website": ""}
    with httpx.Client(base_url=svc.base_url) as public:  # no login at all
        r = public.post("/api/intake/report", json=report)
        assert r.status_code == 202 and r.json()["accepted"] is True, r.text
        r = public.post("/api/intake/report", json={**report, "website": "http://spam",
                                                     "description": "BUY NOW"})
        assert r.status_code == 202 and r.json()["accepted"] is True  # looks the same
        r = public.post("/api/intake/report", json={**report, "lat": 95})
        assert r.status_code == 422
        r = public.post("/api/intake/report", json={**report, "source": "camera"})
        assert r.status_code == 422  # nothing but the form's fields
        for _ in range(5):
            r = public.post("/api/intake/report", json=report)
            if r.status_code == 429:
                break
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    bbox = "64.40,39.75,64.44,39.79"
    found = incidents(svc, bbox=bbox)
    assert found and all(i["source"] == "citizen_map" for i in found)
    assert not [i for i in found if i["description"] == "BUY NOW"]
    assert found[-1]["reporter_contact"] == "+998 91 111 22 33"
    assert len(found) <= REPORTS_PER_HOUR


def _update(update_id: int, **message: Any) -> dict[str, Any]:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 1_700_000_000, "chat": {"id": 5551, "type": "private"},
        "from": {"id": 777, "is_bot": False, "first_name": "Aziz", "username": "aziz_t"},
        **message}}


def test_telegram_webhook(svc: RunningService) -> None:
    url = "/api/intake/telegram"
    good = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    loc = {"location": {"latitude": 40.38, "longitude": 71.78}}
    with httpx.Client(base_url=svc.base_url) as tg:
        assert tg.post(url, json=_update(1, **loc)).status_code == 401
        r = tg.post(url, json=_update(1, **loc),
                    headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
        assert r.status_code == 401
        r = tg.post(url, json=_update(2, text="hello"), headers=good)
        assert r.status_code == 200 and r.json()["incident_id"] is None
        assert r.json()["method"] == "sendMessage" and r.json()["chat_id"] == 5551
        r = tg.post(url, json=_update(3, **loc), headers=good)
        assert r.status_code == 200 and r.json()["incident_id"], r.text
        first = r.json()["incident_id"]
        assert f"#{first}" in r.json()["text"]
        # a location and, replying to it, the text: one incident with that description
        r = tg.post(url, headers=good, json=_update(
            4, text="drug dealing near the school gate",
            reply_to_message={"message_id": 3, "date": 1, "chat": {"id": 5551}, **loc}))
        assert r.status_code == 200 and r.json()["incident_id"], r.text
        second = r.json()["incident_id"]
        # Telegram re-delivers an update it thinks failed: stored once
        again = tg.post(url, headers=good, json=_update(4, text="x", **loc))
        assert again.json()["incident_id"] is None and again.json()["ignored"]
        assert tg.post(url, headers=good, json={"update_id": 9}).status_code == 200
        assert tg.post(url, headers=good, json={"nonsense": True}).status_code == 422
    with svc.client() as admin:
        one = admin.get(f"/api/incidents/{first}").json()
        assert one["source"] == "telegram" and one["category"] == "other"
        assert (one["lat"], one["lon"]) == (40.38, 71.78)
        assert one["reporter_contact"] == "telegram @aziz_t"
        two = admin.get(f"/api/incidents/{second}").json()
        assert two["category"] == "drug_activity"
        assert two["description"] == "drug dealing near the school gate"


@pytest.mark.nopg  # the browser side of the sign-in; test_auth signs in on PostgreSQL
def test_login_page_signs_in_and_goes_on(svc: RunningService, open_console: OpenConsole) -> None:
    with svc.client() as admin:
        assert admin.post("/api/users", json={"username": "chief", "password": "chief password",
                                              "role": "commander"}).status_code == 201
    cp = open_console(svc.base_url, "/login.html?next=/%3Fview%3Dcommander%26x%3D1",
                      role=None)
    page = cp.page
    page.get_by_test_id("lang-ru").click()
    assert page.get_by_test_id("login-submit").inner_text() == "Войти"
    page.get_by_test_id("login-username").fill("chief")
    page.get_by_test_id("login-password").fill("wrong password")
    page.get_by_test_id("login-submit").click()
    page.wait_for_selector("[data-testid=login-error]:has-text('Неверное')")
    page.get_by_test_id("lang-en").click()
    assert "Wrong user name" in page.get_by_test_id("login-error").inner_text()
    page.get_by_test_id("login-password").fill("chief password")
    with page.expect_navigation():
        page.get_by_test_id("login-submit").click()
    assert page.url.endswith("/?view=commander&x=1"), page.url
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["nazorat_session"]
    assert session["httpOnly"] is True and session["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # not readable by scripts
    me = page.evaluate("() => fetch('/api/auth/me').then(r => r.json())")
    assert me["user"]["username"] == "chief" and me["can_command"] is False
    # an off-site `next` is ignored
    cp2 = open_console(svc.base_url, "/login.html?next=https://evil.example/", role=None)
    cp2.page.get_by_test_id("login-username").fill("chief")
    cp2.page.get_by_test_id("login-password").fill("chief password")
    with cp2.page.expect_navigation():
        cp2.page.get_by_test_id("login-submit").click()
    assert cp2.page.url == f"{svc.base_url}/?view=commander"
    assert cp.console_errors(ignore=("status of 401",)) == []



@pytest.mark.nopg  # the browser side; the sign-in itself is checked on PostgreSQL in test_auth
def test_login_page_in_uzbek_and_the_console_after_it(svc: RunningService,
                                                      open_console: OpenConsole) -> None:
    """A browser set to Uzbek signs in in Uzbek and lands in the console in Uzbek."""
    with svc.client() as admin:
        assert admin.post("/api/users", json={"username": "uz-operator", "role": "operator",
                                              "password": "uz operator pw"}).status_code == 201
    cp = open_console(svc.base_url, "/login.html", role=None, locale="uz-UZ")
    page = cp.page
    words = catalogue(cp, "uz")
    assert page.locator("html").get_attribute("lang") == "uz"
    assert page.title() == words["login.title"]
    assert page.get_by_test_id("login-submit").inner_text() == words["login.submit"] == "Kirish"
    for el in page.locator("[data-t]").all():
        assert el.inner_text().strip() == words[el.get_attribute("data-t") or ""].strip()
    page.get_by_test_id("login-submit").click()
    assert page.get_by_test_id("login-error").inner_text() == words["login.missing"]
    page.get_by_test_id("login-username").fill("uz-operator")
    page.get_by_test_id("login-password").fill("wrong password")
    page.get_by_test_id("login-submit").click()
    page.wait_for_selector(f"[data-testid=login-error]:has-text('{words['login.invalid']}')")
    page.get_by_test_id("login-password").fill("uz operator pw")
    with page.expect_navigation():
        page.get_by_test_id("login-submit").click()
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("html").get_attribute("lang") == "uz"
    assert page.get_by_test_id("lang-uz").get_attribute("aria-pressed") == "true"
    console_uz: dict[str, Any] = cp.eval("() => import('/i18n/uz.js').then(m => m.default)")
    assert page.locator("[data-i18n='panel.fleet']").first.inner_text() == \
        console_uz["panel.fleet"]
    assert not [w for w in cp.warnings if "i18n" in w]
    assert cp.console_errors(ignore=("status of 401",)) == []


def _from(update_id: int, chat: int, language: str | None, **message: Any) -> dict[str, Any]:
    sender: dict[str, Any] = {"id": chat, "is_bot": False, "first_name": "Resident"}
    if language is not None:
        sender["language_code"] = language
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 1_700_000_000, "chat": {"id": chat, "type": "private"},
        "from": sender, **message}}


def test_telegram_answers_in_the_senders_language(svc: RunningService) -> None:
    """Kazakh for a Kazakh phone (help, then the report number), Russian for a language the bot
    has no catalogue for, and for a sender with no language at all."""
    from mission.intake.messages import MESSAGES

    url = "/api/intake/telegram"
    good = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    loc = {"location": {"latitude": 43.24, "longitude": 76.89}}
    with httpx.Client(base_url=svc.base_url, headers=good) as tg:
        r = tg.post(url, json=_from(201, 6601, "kk", text="Сәлем"))
        assert r.status_code == 200 and r.json()["text"] == MESSAGES["kk"]["bot.help"]
        assert "Геопозиция" in r.json()["text"]
        r = tg.post(url, json=_from(202, 6601, "kk", caption="Төбелес болып жатыр", **loc))
        body = r.json()
        assert r.status_code == 200 and body["incident_id"], r.text
        assert body["text"] == f"#{body['incident_id']} хабарламаңыз қабылданды, рақмет."
        assert body["text"] == MESSAGES["kk"]["bot.received"].format(id=body["incident_id"])
        kazakh = body["incident_id"]
        r = tg.post(url, json=_from(203, 6602, "de", **loc))
        body = r.json()
        assert body["text"] == f"Сообщение #{body['incident_id']} принято, спасибо."
        r = tg.post(url, json=_from(204, 6603, None, text="?"))
        assert r.json()["text"] == MESSAGES["ru"]["bot.help"]
        r = tg.post(url, json=_from(205, 6604, "uz", text="salom"))
        assert r.json()["text"] == MESSAGES["uz"]["bot.help"] and "Joylashuv" in r.json()["text"]
        r = tg.post(url, json=_from(206, 6605, "tg", caption="дуздӣ", **loc))
        assert r.json()["text"] == f"Хабари шумо #{r.json()['incident_id']} қабул шуд, ташаккур."
    with svc.client() as admin:
        fight = admin.get(f"/api/incidents/{kazakh}").json()
        assert fight["category"] == "disturbance"  # a Kazakh keyword
        assert fight["description"] == "Төбелес болып жатыр"
        theft = admin.get(f"/api/incidents/{r.json()['incident_id']}").json()
        assert theft["category"] == "theft"  # a Tajik keyword
