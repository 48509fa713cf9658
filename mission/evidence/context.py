"""What a recording is about: the drone's mission, the incidents it is flying to, and who
dispatched it, taken when a segment starts.

The recorder asks a `ContextProvider`, so whoever wires the recorder (mission/runtime) decides
where the answer comes from; `MissionContext` reads it from the missions' tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlmodel import Session, col, select

from mission.audit.models import AuditRecord
from mission.db import Database
from mission.missions.lifecycle import ACTIVE_LEGS
from mission.missions.models import MissionLeg, MissionTarget, PatrolMission


@dataclass(frozen=True)
class RecordingContext:
    mission_id: int | None = None
    incident_ids: tuple[int, ...] = ()
    operator: str | None = None  # who dispatched the mission


class ContextProvider(Protocol):
    """`context(drone_id)`: the drone's context now. Called once per segment, off the frame
    path; it may read the database. It must not raise for a drone without a mission (return
    `RecordingContext()`)."""

    async def context(self, drone_id: int) -> RecordingContext: ...


class NoContext:
    """For recordings outside missions (and tests): every segment has an empty context."""

    async def context(self, drone_id: int) -> RecordingContext:
        return RecordingContext()


class MissionContext:
    """The drone's active leg (dispatching, flying, paused, returning; newest first), the
    target that leg is flying now (the one whose items hold the leg's current item, else the
    next one ahead) and the operator whose request started the dispatch (the audit log's
    `mission.status` change to `dispatching`; the mission's author if none is recorded)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def context(self, drone_id: int) -> RecordingContext:
        return await self.db.run(lambda s: self._read(s, drone_id))

    @staticmethod
    def _read(s: Session, drone_id: int) -> RecordingContext:
        leg = s.exec(select(MissionLeg).where(
            MissionLeg.drone_id == drone_id,
            col(MissionLeg.status).in_([x.value for x in ACTIVE_LEGS]),
        ).order_by(col(MissionLeg.id).desc()).limit(1)).first()
        if leg is None:
            return RecordingContext()
        mission = s.get(PatrolMission, leg.mission_id)
        targets = list(s.exec(select(MissionTarget).where(
            MissionTarget.mission_id == leg.mission_id, MissionTarget.drone_id == drone_id,
        ).order_by(col(MissionTarget.first_seq))))
        target = _current_target(targets, leg.current_seq)
        operator = None
        changes = s.exec(select(AuditRecord).where(
            AuditRecord.action == "mission.status", AuditRecord.mission_id == leg.mission_id,
        ).order_by(col(AuditRecord.id).desc()).limit(50))
        for change in changes:
            if (change.params or {}).get("to") == "dispatching":
                operator = change.actor
                break
        if operator is None and mission is not None:
            operator = mission.created_by
        return RecordingContext(
            mission_id=leg.mission_id,
            incident_ids=tuple(sorted(target.incident_ids or [])) if target is not None else (),
            operator=operator)


def _current_target(targets: list[MissionTarget], seq: int) -> MissionTarget | None:
    placed = [t for t in targets if t.first_seq is not None]
    for t in placed:
        assert t.first_seq is not None
        if t.first_seq <= seq <= (t.last_seq if t.last_seq is not None else t.first_seq):
            return t
    ahead = [t for t in placed if t.first_seq is not None and t.first_seq > seq]
    if ahead:
        return ahead[0]
    return targets[0] if len(targets) == 1 else None
