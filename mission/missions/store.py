"""Reading and writing missions, legs, targets and the mission log (sync, run via Database.run).

Rows only: how the API shows them is views.py, so that what tracks legs (the tracker, also in
a link worker) loads no API schema and no planner."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from mission.audit import service as audit
from mission.clock import utcnow
from mission.missions.lifecycle import check_leg, check_mission
from mission.missions.models import (
    ACTIVE_LEG,
    ACTIVE_LEG_INDEX,
    LegStatus,
    MissionLeg,
    MissionLog,
    MissionTarget,
    PatrolMission,
)


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


def active_legs(s: Session, drone_ids: Iterable[int] | None = None) -> list[MissionLeg]:
    """The legs under way (ACTIVE_LEG), of `drone_ids` or of every drone: at most one per
    drone (the database's own constraint, models.ACTIVE_LEG_INDEX)."""
    q = select(MissionLeg).where(col(MissionLeg.status).in_([x.value for x in ACTIVE_LEG]))
    if drone_ids is not None:
        q = q.where(col(MissionLeg.drone_id).in_(list(drone_ids)))
    return list(s.exec(q.order_by(col(MissionLeg.id))))


def busy_drones(s: Session, drone_ids: Iterable[int] | None = None) -> dict[int, int]:
    """drone id -> the mission id of its leg under way, for busy drones (of `drone_ids`)."""
    return {leg.drone_id: leg.mission_id for leg in active_legs(s, drone_ids)}


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


def is_active_leg_conflict(e: IntegrityError) -> bool:
    """The database refused a second leg under way for one drone (models.ACTIVE_LEG_INDEX):
    PostgreSQL names the index, SQLite the column it covers."""
    text = str(e.orig)
    return ACTIVE_LEG_INDEX in text or "mission_leg.drone_id" in text
