"""`GET /api/audit`: the audit log, for admins. There is no route that changes or deletes a
record (the table refuses it too)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from mission.audit.models import AuditPublic
from mission.audit.service import AuditFilter
from mission.deps import COMMON, StateDep, admin
from mission.incidents.domain import parse_time

router = APIRouter(prefix="/api/audit", tags=["audit"], responses=COMMON,
                   dependencies=[Depends(admin)])

Int = Annotated[int | None, Query(ge=0, le=2**31 - 1)]


@router.get("", response_model=list[AuditPublic])
async def audit_log(
    app: StateDep,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    action: Annotated[str | None, Query(
        max_length=48, description="exact (`vehicle.command`) or a prefix ending in a dot "
                                   "(`mission.`)")] = None,
    drone_id: Int = None,
    mission_id: Int = None,
    outcome: Annotated[str | None, Query(max_length=32)] = None,
    t_from: Annotated[str | None, Query(alias="from", description="Unix s or ISO 8601")] = None,
    t_to: Annotated[str | None, Query(alias="to")] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1,
                                           description="page: ids below this")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> list[AuditPublic]:
    """Audit records matching every filter, newest first: vehicle commands (who, when, drone,
    command, parameters, result), mission and leg state changes, logins and failed logins,
    logouts, user, role and key changes, zone changes, refused requests."""
    f = AuditFilter(actor=actor, action=action, drone_id=drone_id, mission_id=mission_id,
                    outcome=outcome, at_from=parse_time(t_from, "from"),  # InvalidInput: 422
                    at_to=parse_time(t_to, "to"), before_id=before_id)
    return await app.audit.query(f, limit)
