"""Liveness and readiness, as plain functions the routes (and tests) call.

Liveness answers whenever the event loop does. Readiness needs three things: the lifespan's
startup has finished (and shutdown has not begun), the fleet link has started, and the database
answers a trivial query within `timeout_s`. What failed is named in the result; exception details
go to the log only, not to the (public) answer.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from mission.db import Database
from telemetry.link import FleetLink

log = logging.getLogger(__name__)

OK = "ok"


@dataclass
class Lifecycle:
    """Set by the runtime (mission/runtime/service.py): `complete` once its start has finished,
    False again when its stop begins."""

    complete: bool = False


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [name for name, result in self.checks.items() if result != OK]

    @property
    def ready(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "ready" if self.ready else "not_ready",
                                "checks": dict(self.checks)}
        if not self.ready:
            body["failed"] = self.failed
        return body


def _select_one(session: Session) -> int:
    value = session.connection().exec_driver_sql("SELECT 1").scalar()
    return int(value) if value is not None else 0


async def check_database(db: Database | None, timeout_s: float = 2.0) -> str:
    if db is None:
        return "not started"
    try:
        async with asyncio.timeout(timeout_s):
            value = await db.run(_select_one)
    except TimeoutError:
        log.warning("readiness: the database did not answer within %.1f s", timeout_s)
        return "timeout"
    except Exception as e:  # any driver error means "not ready", never a 500
        log.warning("readiness: database check failed: %s: %s", type(e).__name__, e)
        return "error"
    return OK if value == 1 else "error"


async def readiness(
    *, lifecycle: Lifecycle, db: Database | None, link: FleetLink | None,
    linking: bool = True, timeout_s: float = 2.0,
) -> Readiness:
    """Run every check (all of them, so the answer names each failure). `linking=False`: a
    service in NAZORAT_LINK_MODE=workers, whose link is never started (link workers hold the
    vehicles), so its readiness does not wait for it."""
    link_ok = not linking or (link is not None and link.started)
    return Readiness({
        "lifespan": OK if lifecycle.complete else "not complete",
        "fleet_link": OK if link_ok else "not started",
        "database": await check_database(db, timeout_s),
    })
