"""Liveness and readiness, as plain functions the routes (and tests) call.

Liveness answers whenever the event loop does. Readiness needs three things: the lifespan's
startup has finished (and shutdown has not begun), the fleet link has started, and the database
answers a trivial query within `timeout_s`; with a bus, a fourth: Redis answers a PING (without
it this process cannot hold or extend link leases, so it links nothing and an orchestrator should
send it no traffic). What failed is named in the result; exception details go to the log only,
not to the (public) answer. With a bus the answer also names this process (`node`) and the
drones whose link leases it holds (`leases`: drone id -> fencing token), so an operator sees
which process owns which drone after a failover.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from mission.db import Database
from telemetry.bus import BusNode
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
    info: dict[str, Any] = field(default_factory=dict)

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
        body.update(self.info)
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


async def check_bus(bus: BusNode, timeout_s: float = 2.0) -> str:
    try:
        async with asyncio.timeout(timeout_s):
            await bus.redis.ping()
    except TimeoutError:
        log.warning("readiness: Redis (the bus) did not answer within %.1f s", timeout_s)
        return "timeout"
    except Exception as e:  # not started, refused, reset: "not ready", never a 500
        log.warning("readiness: bus check failed: %s: %s", type(e).__name__, e)
        return "unreachable"
    return OK


async def readiness(
    *, lifecycle: Lifecycle, db: Database | None, link: FleetLink | None,
    linking: bool = True, timeout_s: float = 2.0, bus: BusNode | None = None,
) -> Readiness:
    """Run every check (all of them, so the answer names each failure). `linking=False`: a
    service in NAZORAT_LINK_MODE=workers, whose link is never started (link workers hold the
    vehicles), so its readiness does not wait for it. `bus`: the process's bus, if any."""
    link_ok = not linking or (link is not None and link.started)
    checks = {
        "lifespan": OK if lifecycle.complete else "not complete",
        "fleet_link": OK if link_ok else "not started",
        "database": await check_database(db, timeout_s),
    }
    info: dict[str, Any] = {}
    if bus is not None:
        checks["bus"] = await check_bus(bus, timeout_s)
        info = {"node": bus.node,
                "leases": {str(k): v for k, v in bus.lease_tokens().items()}}
    return Readiness(checks, info)
