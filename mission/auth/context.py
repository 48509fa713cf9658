"""Who is acting in the current request, for records written deep inside services (the audit
log): set by the authentication dependency, read by `mission.audit.service.add`. Background
work (the mission tracker) has no request context and records itself as `system`."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    actor: str
    role: str | None
    address: str | None


current: ContextVar[RequestContext | None] = ContextVar("nazorat_request", default=None)


def get() -> RequestContext | None:
    return current.get()
