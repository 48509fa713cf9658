"""`/api/dispatch-rules` (read: any user role; change: operator or admin) and
`/api/dispatch-proposals` (confirm or reject: operator or admin). Thin: the work is in
DispatchService (mission/dispatch/service.py), the error mapping in mission/http_errors.py.

A confirmed proposal's dispatch that an interlock refuses answers 409 `interlock` as a dispatch
does, and the proposal becomes `failed`; a proposal no longer pending answers 409
`mission_conflict` with field `status`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from mission.deps import COMMON, ActorDep, StateDep, error_responses, viewer
from mission.dispatch.domain import ProposalStatus
from mission.dispatch.models import ProposalPublic, RuleIn, RulePatch, RulePublic
from mission.dispatch.service import DispatchService
from mission.missions.schemas import MissionPublic

router = APIRouter(prefix="/api", tags=["dispatch"], responses=COMMON,
                   dependencies=[Depends(viewer)])

RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def get_dispatch(app: StateDep) -> DispatchService:
    return app.dispatch


ServiceDep = Annotated[DispatchService, Depends(get_dispatch)]


@router.get("/dispatch-rules", response_model=list[RulePublic])
async def list_rules(svc: ServiceDep) -> list[RulePublic]:
    """Every auto-dispatch rule, in the order they apply (the lowest id that matches decides)."""
    return await svc.list_rules()


@router.get("/dispatch-rules/{rule_id}", response_model=RulePublic,
            responses=error_responses(404))
async def get_rule(rule_id: RowId, svc: ServiceDep) -> RulePublic:
    return await svc.get_rule(rule_id)


@router.post("/dispatch-rules", status_code=201, response_model=RulePublic)
async def create_rule(body: RuleIn, svc: ServiceDep, actor: ActorDep) -> RulePublic:
    """A rule for new incidents: `auto` dispatches the best free drone at once, `propose`
    offers it to the operator for `confirm_s` seconds, then `on_timeout` decides."""
    return await svc.create_rule(body, actor)


@router.patch("/dispatch-rules/{rule_id}", response_model=RulePublic,
              responses=error_responses(404))
async def update_rule(rule_id: RowId, body: RulePatch, svc: ServiceDep,
                      actor: ActorDep) -> RulePublic:
    return await svc.update_rule(rule_id, body, actor)


@router.delete("/dispatch-rules/{rule_id}", status_code=204, response_class=Response,
               responses=error_responses(404))
async def delete_rule(rule_id: RowId, svc: ServiceDep, actor: ActorDep) -> Response:
    await svc.delete_rule(rule_id, actor)
    return Response(status_code=204)


@router.get("/dispatch-proposals", response_model=list[ProposalPublic])
async def list_proposals(
    svc: ServiceDep, status: ProposalStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ProposalPublic]:
    """Proposals, newest first (`status=pending`: those waiting for an operator)."""
    return await svc.list_proposals(status, limit)


@router.post("/dispatch-proposals/{proposal_id}/confirm", response_model=MissionPublic,
             responses=error_responses(404, 409))
async def confirm(proposal_id: RowId, svc: ServiceDep, actor: ActorDep) -> MissionPublic:
    """Send the proposed drone now (the interlocks apply); the dispatched mission."""
    return await svc.confirm(proposal_id, actor)


@router.post("/dispatch-proposals/{proposal_id}/reject", response_model=ProposalPublic,
             responses=error_responses(404, 409))
async def reject(proposal_id: RowId, svc: ServiceDep, actor: ActorDep) -> ProposalPublic:
    """Decline the proposal: its planned mission is discarded, the incident stays as it is."""
    return await svc.reject(proposal_id, actor)
