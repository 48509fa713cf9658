"""`/api/intake`: incidents from outside the unit.

- `POST /api/intake/incidents`: systems with an integration key (citizen map, cameras), at
  most the key's `rate_per_minute` (429 with Retry-After), body at most
  NAZORAT_INTAKE_MAX_BYTES (413);
- `POST /api/intake/telegram`: the Telegram bot's webhook, checked against
  NAZORAT_TELEGRAM_SECRET in `X-Telegram-Bot-Api-Secret-Token` (not configured: 404);
- `POST /api/intake/report`: the public page /report (no login), NAZORAT_REPORT_PER_HOUR per
  client address, and a honeypot field (`website`) that people never fill in: a filled one is
  answered like a real report and stored nowhere.
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from mission.deps import COMMON, IntakeKeyDep, StateDep, client_address, error_responses
from mission.incidents.models import (
    MAX_CONTACT,
    Category,
    IncidentCreate,
    Source,
    Status,
)
from mission.intake.messages import language_of, message
from mission.intake.telegram import (
    TelegramAnswer,
    TgUpdate,
    category_of,
    contact_of,
    reply,
    report_of,
)
from mission.numbers import Integer, Number
from mission.ratelimit import retry_after_header

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/intake", tags=["intake"], responses=COMMON)

MAX_DESCRIPTION = 2000


def _too_many(wait: float, what: str) -> HTTPException:
    return HTTPException(429, detail={"error": "rate_limited", "message": f"{what}; retry "
                                      f"in {max(1, round(wait))} s"},
                         headers=retry_after_header(wait))


class IntakeIncident(BaseModel):
    """An incident reported by a connected system. `source` comes from the key."""

    model_config = ConfigDict(extra="forbid")

    lat: Number = Field(ge=-90, le=90)
    lon: Number = Field(ge=-180, le=180)
    category: Category
    severity: Integer = Field(default=3, ge=1, le=5)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    reporter_contact: str | None = Field(default=None, max_length=MAX_CONTACT)
    reported_at: AwareDatetime | None = None


class IntakeAccepted(BaseModel):
    id: int
    status: Status
    source: Source
    reported_at: AwareDatetime


class PublicReport(BaseModel):
    """What the public page sends."""

    model_config = ConfigDict(extra="forbid")

    lat: Number = Field(ge=-90, le=90)
    lon: Number = Field(ge=-180, le=180)
    category: Category
    description: str = Field(default="", max_length=1000)
    contact: str | None = Field(default=None, max_length=MAX_CONTACT)
    website: str = Field(default="", max_length=256, description="leave empty (spam trap)")


class ReportAccepted(BaseModel):
    accepted: bool = True
    message: str = "Thank you: the report was received."


async def key_rate(p: IntakeKeyDep, app: StateDep) -> None:
    wait = await app.limits["intake"].hit(f"key:{p.id}", capacity=p.rate_per_minute, period_s=60.0)
    if wait > 0:
        raise _too_many(wait, f"more than {p.rate_per_minute} incidents a minute for this key")


async def address_rate(request: Request, app: StateDep) -> None:
    wait = await app.limits["report"].hit(f"addr:{client_address(request)}")
    if wait > 0:
        raise _too_many(wait, "too many reports from this address")


@router.post("/incidents", status_code=201, response_model=IntakeAccepted,
             responses=error_responses(429), dependencies=[Depends(key_rate)])
async def intake_incident(body: IntakeIncident, p: IntakeKeyDep,
                          app: StateDep) -> IntakeAccepted:
    """Report an incident (integration keys only: `Authorization: Bearer nzk_...`)."""
    data = IncidentCreate(lat=body.lat, lon=body.lon, category=body.category,
                          severity=body.severity, source=Source(p.source or "other"),
                          reported_at=body.reported_at, description=body.description,
                          reporter_contact=body.reporter_contact)
    inc = await app.incidents.create(data, actor=p.name)
    return IntakeAccepted(id=inc.id, status=inc.status, source=inc.source,
                          reported_at=inc.reported_at)


@router.post("/report", status_code=202, response_model=ReportAccepted,
             responses=error_responses(429), dependencies=[Depends(address_rate)])
async def public_report(body: PublicReport, app: StateDep) -> ReportAccepted:
    """The public report page's endpoint (no login; limited per address)."""
    if body.website.strip():
        log.info("public report dropped by the honeypot")
        return ReportAccepted()
    data = IncidentCreate(lat=body.lat, lon=body.lon, category=body.category, severity=3,
                          source=Source.CITIZEN_MAP, description=body.description,
                          reporter_contact=body.contact)
    await app.incidents.create(data, actor="public report")
    return ReportAccepted()


telegram_header = APIKeyHeader(
    name="X-Telegram-Bot-Api-Secret-Token", auto_error=False, scheme_name="telegram_secret",
    description="the secret_token given to setWebhook (NAZORAT_TELEGRAM_SECRET)",
)


async def telegram_secret(
    app: StateDep, given: Annotated[str | None, Security(telegram_header)],
) -> None:
    secret = app.settings.telegram_secret
    if not secret:
        raise HTTPException(404, detail={"error": "not_found", "message":
                                         "the Telegram webhook is not configured"})
    if not hmac.compare_digest((given or "").encode("utf-8", "surrogatepass"),
                               secret.encode()):
        raise HTTPException(401, detail={
            "error": "unauthenticated", "reason": "invalid",
            "message": "missing or wrong X-Telegram-Bot-Api-Secret-Token"})


@router.post("/telegram", response_model=TelegramAnswer,
             responses=error_responses(404), dependencies=[Depends(telegram_secret)])
async def telegram_webhook(update: TgUpdate, app: StateDep) -> TelegramAnswer:
    """Telegram Bot API webhook (setWebhook with `secret_token` = NAZORAT_TELEGRAM_SECRET).
    A message with a location becomes an incident; the answer asks Telegram to reply to the
    chat, in the sender's language (Russian when it has no catalogue, mission/intake/messages.py).
    A chat sending more than NAZORAT_TELEGRAM_PER_HOUR reports an hour is ignored."""
    msg = update.message
    if msg is None:
        return TelegramAnswer(ignored="not a new message")
    if await app.telegram_seen.seen(update.update_id):
        return TelegramAnswer(ignored="duplicate update")
    language = language_of(msg.from_.language_code if msg.from_ is not None else None)
    found = report_of(msg)
    if found is None:
        return reply(msg.chat.id, message("bot.help", language), ignored="no location")
    wait = await app.limits["telegram"].hit(f"chat:{msg.chat.id}")
    if wait > 0:
        return TelegramAnswer(ignored="rate_limited")
    lat, lon, text = found
    data = IncidentCreate(lat=lat, lon=lon, category=category_of(text), severity=3,
                          source=Source.TELEGRAM, description=text[:MAX_DESCRIPTION],
                          reporter_contact=contact_of(msg)[:MAX_CONTACT])
    inc = await app.incidents.create(data, actor="telegram")
    return reply(msg.chat.id, message("bot.received", language, id=inc.id), incident_id=inc.id)
