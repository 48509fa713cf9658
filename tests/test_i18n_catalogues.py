"""Every interface catalogue against English, without a browser: the console's (ui/i18n/*.js),
the public pages' (ui/i18n/public/*.js) and the Telegram bot's (mission/intake/messages.py).

A missing, extra or empty key, a {placeholder} that differs from English, a plural without the
categories Intl.PluralRules uses for that language, or a letter of the wrong script fails here,
so a native speaker's correction cannot silently break a page. The catalogue files are ES modules
whose object literal is JSON apart from comments and trailing commas (kept so by this test)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mission.intake import messages

UI = Path(__file__).resolve().parents[1] / "ui"
GLOSSARY = UI.parent / "docs" / "glossary.md"
Value = str | dict[str, str]

# CLDR plural categories, as Intl.PluralRules(lang).resolvedOptions().pluralCategories gives them
# in Chromium and Node (tests/test_intake.py checks that against the browser).
PLURALS = {"en": {"one", "other"}, "ru": {"one", "few", "many", "other"}, "uz": {"one", "other"},
           "uz-Cyrl": {"one", "other"}, "kk": {"one", "other"}, "tg": {"one", "other"}}
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Letters that only one Cyrillic language of ours uses, and Latin-script mistakes in Uzbek.
ONLY_KAZAKH = set("әңөұүіһ")
ONLY_TAJIK = set("ҷӣӯ")
ONLY_UZBEK_CYRL = set("ў")
UZBEK_WRONG_MARK = re.compile(r"[oOgG]['’‘`]")  # oʻ/gʻ must use U+02BB
# Names and key labels that stay in Latin letters in every language ("v" of a version "v1").
LATIN_WORDS = re.compile(r"e-mail|Nazorat|Telegram|GPS|GUIDED|RTL|heartbeat|failsafe|Esc|shift"
                         r"|Natural Earth|MGRS"
                         r"|Shift|\bv(?=\d|\b)|\b[A-Z]\b")


def load(path: Path) -> dict[str, Value]:
    """The object literal of `export default {...};` in a catalogue module."""
    text = path.read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("//")]
    body = "\n".join(lines).strip()
    assert body.startswith("export default {") and body.endswith("};"), path
    body = body[len("export default "):-1]
    body = re.sub(r",(\s*[}\]])", r"\1", body)
    data: dict[str, Value] = json.loads(body)
    return data


def surface(folder: Path) -> dict[str, dict[str, Value]]:
    return {p.stem: load(p) for p in sorted(folder.glob("*.js")) if p.stem != "message"}


def js_list(name: str) -> list[str]:
    text = (UI / "lang-choice.js").read_text(encoding="utf-8")
    m = re.search(rf"export const {name} = \[([^\]]*)\]", text)
    assert m, name
    return re.findall(r'"([^"]+)"', m.group(1))


def forms(value: Value) -> list[str]:
    return list(value.values()) if isinstance(value, dict) else [value]


def placeholders(value: Value) -> set[str]:
    return {p for f in forms(value) for p in PLACEHOLDER.findall(f)}


def problems(lang: str, cat: dict[str, Value], english: dict[str, Value]) -> list[str]:
    out = [f"{lang}: missing {k}" for k in english if k not in cat]
    out += [f"{lang}: extra {k}" for k in cat if k not in english]
    for key, value in cat.items():
        if isinstance(value, dict) and set(value) != PLURALS[lang]:
            out.append(f"{lang}: {key} plural forms {sorted(value)} != {sorted(PLURALS[lang])}")
        if any(not isinstance(f, str) or not f.strip() for f in forms(value)):
            out.append(f"{lang}: {key} is empty")
        if key in english and placeholders(value) != placeholders(english[key]):
            out.append(f"{lang}: {key} has {sorted(placeholders(value))}, "
                       f"English {sorted(placeholders(english[key]))}")
        out += [f"{lang}: {key}: {why}" for f in forms(value) for why in script_problems(lang, f)]
    return out


def script_problems(lang: str, text: str) -> list[str]:
    """Letters of another script or another language's alphabet in `text`."""
    letters = set(LATIN_WORDS.sub("", PLACEHOLDER.sub("", text)).lower())
    latin = {c for c in letters if "a" <= c <= "z"}
    cyrillic = {c for c in letters if "\u0400" <= c <= "\u04ff"}
    out = []
    if lang in ("kk", "tg", "uz-Cyrl", "ru") and latin:
        out.append(f"Latin letters {sorted(latin)}")
    if lang in ("uz", "en") and cyrillic:
        out.append(f"Cyrillic letters {sorted(cyrillic)}")
    if lang == "uz" and UZBEK_WRONG_MARK.search(text):
        out.append("oʻ/gʻ written with an apostrophe, not U+02BB")
    foreign = {"kk": ONLY_TAJIK | ONLY_UZBEK_CYRL, "tg": ONLY_KAZAKH | ONLY_UZBEK_CYRL,
               "uz-Cyrl": ONLY_KAZAKH | ONLY_TAJIK,
               "ru": ONLY_KAZAKH | ONLY_TAJIK | ONLY_UZBEK_CYRL}
    wrong = letters & foreign.get(lang, set())
    if wrong:
        out.append(f"letters of another language {sorted(wrong)}")
    return out


@pytest.mark.parametrize(("folder", "languages"), [
    (UI / "i18n", "CONSOLE_LANGUAGES"), (UI / "i18n" / "public", "PUBLIC_LANGUAGES"),
], ids=["console", "public"])
def test_every_language_has_every_key_with_the_same_placeholders(folder: Path,
                                                                 languages: str) -> None:
    cats = surface(folder)
    assert sorted(cats) == sorted(js_list(languages)), "catalogue files != lang-choice.js list"
    english = cats["en"]
    found = [p for lang, cat in cats.items() for p in problems(lang, cat, english)]
    assert found == []


def test_the_bot_speaks_the_public_pages_languages_with_the_same_keys() -> None:
    public = js_list("PUBLIC_LANGUAGES")
    assert sorted(messages.MESSAGES) == sorted(public)
    english = messages.MESSAGES["en"]
    found = [p for lang, cat in messages.MESSAGES.items()
             for p in problems(lang, dict(cat), dict(english))]
    assert found == []
    assert messages.DEFAULT == "ru"


@pytest.mark.parametrize(("code", "lang"), [
    ("kk", "kk"), ("uz", "uz"), ("uz-Cyrl", "uz-Cyrl"), ("uz-cyrl-uz", "uz-Cyrl"), ("tg", "tg"),
    ("en", "en"), ("ru", "ru"), ("de", "ru"), ("pt-br", "ru"), (None, "ru"), ("", "ru"),
])
def test_telegram_language_code_picks_a_catalogue(code: str | None, lang: str) -> None:
    assert messages.language_of(code) == lang


def test_the_checks_catch_what_they_claim_to() -> None:
    en: dict[str, Value] = {"a": "{n} drones", "b": "x"}
    assert problems("kk", {"a": "{count} дрон", "b": " "}, en) == [
        "kk: a has ['count'], English ['n']", "kk: b is empty"]
    assert problems("ru", {"a": {"one": "{n}", "other": "{n}"}, "b": "x"}, en)[0].startswith(
        "ru: a plural forms")
    assert script_problems("uz", "Xabar qabul qilindi, o'g'irlik") != []
    assert script_problems("kk", "Оқиға ҷой") != []
    assert script_problems("tg", "Ҳодиса қабул шуд") == []


def test_glossary_has_every_term_in_every_language() -> None:
    rows = [ln for ln in GLOSSARY.read_text(encoding="utf-8").splitlines() if ln.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    for lang in js_list("PUBLIC_LANGUAGES"):
        if lang != "en":
            assert lang in header, f"no {lang} column in docs/glossary.md"
    terms = {}
    for row in rows[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == len(header) and all(cells[:-1]), row
        terms[cells[0]] = cells
    for term in ("incident", "severity", "no-fly zone", "patrol", "drone", "report received"):
        assert term in terms, f"{term} missing from the glossary"
