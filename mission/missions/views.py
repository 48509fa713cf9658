"""Missions as the API shows them (MissionPublic, its legs, targets and log), read from the
stored rows (store.py)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from mission.missions.models import MissionLog, MissionTarget, PatrolMission
from mission.missions.schemas import LegPublic, LogPublic, MissionPublic, TargetPublic
from mission.missions.store import legs, load, targets


def public(s: Session, row: PatrolMission) -> MissionPublic:
    assert row.id is not None
    all_targets = targets(s, row.id)
    plan = row.plan or {}
    return MissionPublic(
        id=row.id, name=row.name, status=row.status, objective=row.objective,
        created_by=row.created_by, created_at=row.created_at, updated_at=row.updated_at,
        dispatched_at=row.dispatched_at, finished_at=row.finished_at, reason=row.reason,
        makespan_s=plan.get("makespan_s"), total_time_s=plan.get("total_time_s"),
        response_s=plan.get("response_s"),
        solver=plan.get("solver"), warnings=list(plan.get("warnings", [])),
        legs=[LegPublic.model_validate(leg, from_attributes=True) for leg in legs(s, row.id)],
        targets=[_target(t) for t in all_targets if not t.dropped_reason],
        dropped=[_target(t) for t in all_targets if t.dropped_reason],
    )


def _target(t: MissionTarget) -> TargetPublic:
    return TargetPublic.model_validate(t, from_attributes=True)


def list_missions(s: Session, status: str | None, limit: int) -> list[MissionPublic]:
    q = select(PatrolMission).order_by(col(PatrolMission.id).desc()).limit(limit)
    if status is not None:
        q = q.where(PatrolMission.status == status)
    return [public(s, m) for m in s.exec(q)]


def read_log(s: Session, mission_id: int) -> list[LogPublic]:
    load(s, mission_id)
    rows = s.exec(
        select(MissionLog).where(MissionLog.mission_id == mission_id).order_by(col(MissionLog.id))
    )
    return [LogPublic.model_validate(r, from_attributes=True) for r in rows]
