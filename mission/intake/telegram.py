"""Telegram Bot API webhook updates -> incidents.

Only what is needed is modelled (unknown fields are allowed and ignored). A message with a
`location` (or a `venue`) becomes an incident at that point; its text or caption, or the text of
a message it replies to, becomes the description, and keywords in it choose the category. A text
message that replies to a location does the same. Anything else gets a short answer asking for
a location (sent back in the webhook response, so the service needs no bot token), in the
sender's language (messages.py). Keywords are matched in English, Russian, Uzbek, Kazakh, Tajik.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mission.incidents.models import Category
from mission.sharedlimits import SharedStore


class _Tg(BaseModel):
    # strict: Telegram sends typed JSON; a boolean where an id belongs is not a Telegram update
    model_config = ConfigDict(extra="allow", populate_by_name=True, strict=True)


class TgUser(_Tg):
    id: int
    is_bot: bool = False
    first_name: str = ""
    username: str | None = None
    language_code: str | None = None  # the sender's Telegram interface language (IETF tag)


class TgChat(_Tg):
    id: int
    type: str = "private"


class TgLocation(_Tg):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class TgVenue(_Tg):
    location: TgLocation
    title: str = ""
    address: str = ""


class TgMessage(_Tg):
    message_id: int
    date: int = 0
    chat: TgChat
    from_: TgUser | None = Field(default=None, alias="from")
    text: str | None = None
    caption: str | None = None
    location: TgLocation | None = None
    venue: TgVenue | None = None
    reply_to_message: TgMessage | None = None


class TgUpdate(_Tg):
    update_id: int
    message: TgMessage | None = None


class TelegramAnswer(BaseModel):
    """What the webhook answers. With `method` set, Telegram sends that reply to the chat."""

    ok: bool = True
    incident_id: int | None = None
    ignored: str | None = None
    method: str | None = None
    chat_id: int | None = None
    text: str | None = None


KEYWORDS: list[tuple[Category, re.Pattern[str]]] = [
    (Category.DRUG_ACTIVITY, re.compile(r"drug|narco|нарко|закладк|spice|спайс|giyoh|гиёҳ"
                                        r"|есірткі|нашақор|мухаддир", re.I)),
    (Category.THEFT, re.compile(r"theft|steal|stole|rob|краж|вор|грабе|угон|o[ʻ'‘`’]g[ʻ'‘`’]ri"
                                r"|ўғри|ұрл|дузд", re.I)),
    (Category.TRAFFIC, re.compile(r"traffic|crash|accident|дтп|авари|пробк|avariya|апат|садама",
                                  re.I)),
    (Category.DISTURBANCE, re.compile(r"fight|noise|disturb|драк|шум|дебош|хулиган|janjal"
                                      r"|жанжал|төбелес|занозан|ғавғо", re.I)),
    (Category.SUSPICIOUS_VEHICLE, re.compile(r"car|vehicle|van|машин|автомоб|mashina|avtomobil"
                                             r"|көлік|мошин", re.I)),
    (Category.SUSPICIOUS_PERSON, re.compile(r"suspicious|person|man|подозр|человек|мужчин"
                                            r"|shubhali|шубҳа|күдікті|odam|адам", re.I)),
]


def category_of(text: str) -> Category:
    for cat, pattern in KEYWORDS:
        if pattern.search(text):
            return cat
    return Category.OTHER


def report_of(msg: TgMessage) -> tuple[float, float, str] | None:
    """(lat, lon, description) when the message (or the one it replies to) has a location."""
    for m in (msg, msg.reply_to_message):
        if m is None:
            continue
        loc = m.location or (m.venue.location if m.venue is not None else None)
        if loc is None:
            continue
        parts = [p for p in (msg.text, msg.caption) if p]
        if m is not msg:
            parts += [p for p in (m.text, m.caption) if p]
        if m.venue is not None:
            parts += [p for p in (m.venue.title, m.venue.address) if p]
        elif msg.reply_to_message is not None and m is msg:
            r = msg.reply_to_message
            parts += [p for p in (r.text, r.caption) if p]
        return loc.latitude, loc.longitude, "\n".join(parts)
    return None


def contact_of(msg: TgMessage) -> str:
    u = msg.from_
    if u is None:
        return f"telegram chat {msg.chat.id}"
    return f"telegram @{u.username}" if u.username else f"telegram user {u.id}"


class SeenUpdates:
    """Telegram re-delivers an update it got no 2xx for: remember the recent ids."""

    def __init__(self, size: int = 4096) -> None:
        self._order: deque[int] = deque(maxlen=size)
        self._set: set[int] = set()

    def seen(self, update_id: int) -> bool:
        if update_id in self._set:
            return True
        if len(self._order) == self._order.maxlen:
            self._set.discard(self._order[0])
        self._order.append(update_id)
        self._set.add(update_id)
        return False


# KEYS[1] the update's key; ARGV[1] how long to remember it (ms). '1': seen before.
_SEEN = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', tonumber(ARGV[1])) then return '0' end
return '1'
"""


class SharedSeenUpdates:
    """SeenUpdates for every replica (with a bus): Telegram's re-delivery may reach another
    replica than the first delivery did. Each update id is a key remembered for `ttl_s`
    (Telegram gives up re-delivering within a day); while Redis fails, this process's own
    memory answers (mission/sharedlimits.py)."""

    def __init__(self, store: SharedStore | None, ttl_s: float = 86_400.0) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.local = SeenUpdates()

    async def seen(self, update_id: int) -> bool:
        if self.store is not None:
            got = await self.store.run(_SEEN, [self.store.key("telegram", "seen",
                                                              str(update_id))],
                                       [int(self.ttl_s * 1000)])
            if got is not None:
                return str(got) == "1"
        return self.local.seen(update_id)


def reply(chat_id: int, text: str, **extra: Any) -> TelegramAnswer:
    return TelegramAnswer(method="sendMessage", chat_id=chat_id, text=text, **extra)
