"""Reading and writing missions, legs, targets and the mission log (sync, run via Database.run)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from mission.audit import service as audit
from mission.clock import utcnow
from mission.missions.lifecycle import check_leg, check_mission
from mission.missions.models import (
    LegStatus,
    MissionLeg,
    MissionLog,
    MissionTarget,
    PatrolMission,
)
from mission.missions.schemas import LegPublic, LogPublic, MissionPublic, TargetPublic


class MissionNotFound(LookupError):
    def __init__(self, mission_id: int) -> None:
        super().__init__(f"no mission {mission_id}")
        self.mission_id = mission_id


def load(s: Session, mission_id: int) -> PatrolMission:
    row = s.get(PatrolMission, mission_id)
    if row is None:
        raise MissionNotFound(mission_id)
    return row


def legs(s: Session, mission_id: int) -> list[MissionLeg]:
    return list(s.exec(
        select(MissionLeg).where(MissionLeg.mission_id == mission_id).order_by(col(MissionLeg.id))
    ))


def targets(s: Session, mission_id: int) -> list[MissionTarget]:
    return list(s.exec(
        select(MissionTarget).where(MissionTarget.mission_id == mission_id)
        .order_by(col(MissionTarget.id))
    ))


def log(s: Session, mission_id: int, actor: str, kind: str, message: str = "",
        drone_id: int | None = None, /, **data: Any) -> None:
    """One mission log entry; `data` may hold any key (an autopilot's error has a `message`
    and a `command`: positional-only parameters keep them apart)."""
    # VARCHAR lengths are enforced by PostgreSQL (not by SQLite): cut, never fail to log
    s.add(MissionLog(mission_id=mission_id, drone_id=drone_id, actor=actor[:128], kind=kind,
                     message=message[:2000], data=data))


def set_status(s: Session, row: PatrolMission, status: str, reason: str | None = None, *,
               actor: str | None = None) -> None:
    """Change the mission's status; the change is in the audit log (same transaction).
    Raises lifecycle.IllegalTransition, changing nothing, for a change the lifecycle forbids."""
    before = row.status
    check_mission(before, status)
    row.status = status
    row.updated_at = utcnow()
    if reason is not None:
        row.reason = reason[:1000]
    s.add(row)
    if before != status:
        audit.add(s, "mission.status", actor=actor, mission_id=row.id,
                  params={"from": str(before), "to": str(status)},
                  result={"reason": row.reason} if row.reason else {})


def set_leg_status(s: Session, leg: MissionLeg, status: LegStatus, *, actor: str | None = None,
                   reason: str | None = None) -> None:
    """Change one drone's leg status; audited like the mission's, refused like the mission's."""
    before = leg.status
    check_leg(before, status)
    leg.status = status
    if reason is not None:
        leg.reason = reason[:1000]
    s.add(leg)
    if before != status:
        audit.add(s, "mission.leg_status", actor=actor, mission_id=leg.mission_id,
                  drone_id=leg.drone_id, params={"from": str(before), "to": str(status)},
                  result={"reason": leg.reason} if leg.reason else {})


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
