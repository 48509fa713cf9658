"""The Telegram bot's answers, in the languages of the people who report.

The residents who report write from phones set to Uzbek, Kazakh, Tajik or Russian; Telegram
tells the bot the sender's interface language (`message.from.language_code`), so the answer
is in that language, else in Russian (the language every unit's residents share). The languages
and the wording follow the public pages' catalogues (ui/i18n/public/<lang>.js) and the reviewed
terms of docs/glossary.md; tests/test_i18n_catalogues.py checks that every language here has every
key, none empty, with the same {placeholders}, and that the languages are the public pages' own.
"""

from __future__ import annotations

from typing import Final

DEFAULT: Final = "ru"

# Telegram's "📎 → Location" is named as the Telegram apps name it in each language.
MESSAGES: Final[dict[str, dict[str, str]]] = {
    "uz": {
        "bot.help": "Hodisa haqida xabar berish uchun joylashuvni yuboring: 📎 → Joylashuv. "
                    "Tavsifni izoh sifatida yoki joylashuvga javob qilib yozishingiz mumkin.",
        "bot.received": "Xabaringiz #{id} qabul qilindi, rahmat.",
    },
    "uz-Cyrl": {
        "bot.help": "Ҳодиса ҳақида хабар бериш учун жойлашувни юборинг: 📎 → Жойлашув. "
                    "Тавсифни изоҳ сифатида ёки жойлашувга жавоб қилиб ёзишингиз мумкин.",
        "bot.received": "Хабарингиз #{id} қабул қилинди, раҳмат.",
    },
    "kk": {
        "bot.help": "Оқиға туралы хабарлау үшін геопозицияны жіберіңіз: 📎 → Геопозиция. "
                    "Сипаттаманы қолтаңба ретінде немесе геопозицияға жауап ретінде жаза аласыз.",
        "bot.received": "#{id} хабарламаңыз қабылданды, рақмет.",
    },
    "tg": {
        "bot.help": "Барои хабар додан дар бораи ҳодиса ҷойгиршавиро фиристед: 📎 → Ҷойгиршавӣ. "
                    "Тавсифро ҳамчун имзо ё ҳамчун ҷавоб ба ҷойгиршавӣ навиштан мумкин аст.",
        "bot.received": "Хабари шумо #{id} қабул шуд, ташаккур.",
    },
    "ru": {
        "bot.help": "Чтобы сообщить о происшествии, отправьте геопозицию: 📎 → Геопозиция. "
                    "Описание можно добавить подписью или ответом на геопозицию.",
        "bot.received": "Сообщение #{id} принято, спасибо.",
    },
    "en": {
        "bot.help": "To report an incident, send a location: 📎 → Location. Add a description "
                    "as a caption or as a reply to the location.",
        "bot.received": "Report #{id} received, thank you.",
    },
}


def language_of(code: str | None) -> str:
    """The catalogue language for a Telegram `language_code` ("kk", "uz", "pt-br", ...).

    Uzbek is answered in Latin script (the script of Telegram's own Uzbek interface) unless the
    tag names Cyrillic; a language with no catalogue gets Russian."""
    if not code:
        return DEFAULT
    parts = code.replace("_", "-").lower().split("-")
    if parts[0] == "uz" and "cyrl" in parts[1:]:
        return "uz-Cyrl"
    return parts[0] if parts[0] in MESSAGES else DEFAULT


def message(key: str, language: str, **params: object) -> str:
    """The text of `key` in `language` (Russian when the language is not catalogued)."""
    text = MESSAGES.get(language, MESSAGES[DEFAULT])[key]
    return text.format(**params) if params else text
