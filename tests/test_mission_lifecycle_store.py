"""What the lifecycle decides, as stored (mission/missions/lifecycle_store.py, store.py): an
illegal status cannot be written, a landing is persisted with its targets, log and mission
settlement in one transaction, and a command that lost a race keeps the leg's status. On a
temporary database (SQLite, or PostgreSQL in its lane); no service, no vehicle."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

import mission.audit.models  # noqa: F401  (registers the tables)
from mission.db import Database
from mission.missions import lifecycle, lifecycle_store, store, views
from mission.missions.lifecycle import IllegalTransition, Paused, Recalled, Telemetry, TookOff
from mission.missions.models import (
    LegStatus,
    MissionLeg,
    MissionLog,
    MissionStatus,
    MissionTarget,
    PatrolMission,
)

pytestmark = pytest.mark.timeout(30)


def _mission(s: Session, mission: MissionStatus, leg: LegStatus) -> tuple[int, int]:
    m = PatrolMission(name="t", created_by="ops", status=mission.value)
    s.add(m)
    s.flush()
    assert m.id is not None
    row = MissionLeg(mission_id=m.id, drone_id=3, status=leg.value, last_item_seq=4,
                     current_seq=2)
    s.add(row)
    s.add(MissionTarget(mission_id=m.id, key="point:0", kind="point", drone_id=3,
                        first_seq=3, last_seq=3))
    s.flush()
    assert row.id is not None
    return m.id, row.id


async def test_store_refuses_an_illegal_status(db: Database) -> None:
    mid, lid = await db.run(lambda s: _mission(s, MissionStatus.ACTIVE, LegStatus.COMPLETED))

    def illegal_leg(s: Session) -> None:
        leg = s.get(MissionLeg, lid)
        assert leg is not None
        store.set_leg_status(s, leg, LegStatus.FLYING, actor="ops")

    def illegal_mission(s: Session) -> None:
        store.set_status(s, store.load(s, mid), MissionStatus.PLANNED, actor="ops")

    with pytest.raises(IllegalTransition):
        await db.run(illegal_leg)
    with pytest.raises(IllegalTransition):
        await db.run(illegal_mission)
    leg = await db.run(lambda s: s.get(MissionLeg, lid))
    m = await db.run(lambda s: store.load(s, mid))
    assert leg is not None and leg.status == LegStatus.COMPLETED
    assert m.status == MissionStatus.ACTIVE


async def test_landing_is_stored_with_targets_log_and_settlement(db: Database) -> None:
    mid, lid = await db.run(lambda s: _mission(s, MissionStatus.ACTIVE, LegStatus.RETURNING))

    def land(s: Session) -> int:
        leg = s.get(MissionLeg, lid)
        assert leg is not None
        targets = store.targets(s, mid)
        view = lifecycle_store.view_of(leg, targets, flew=True)
        out = lifecycle.step(view, Telemetry(link_up=True, armed=False,
                                             landed_state="on_ground", mode="LAND",
                                             mission_state=5))
        return len(lifecycle_store.apply(s, leg, out, "system"))

    assert await db.run(land) == 1  # the target at item 3, never reported, is observed
    m = await db.run(lambda s: views.public(s, store.load(s, mid)))
    assert m.status == MissionStatus.COMPLETED and m.finished_at is not None
    assert m.legs[0].status == LegStatus.COMPLETED and m.legs[0].current_seq == 4
    assert m.targets[0].observed_by == 3
    kinds = await db.run(lambda s: [r.kind for r in s.exec(
        select(MissionLog).where(MissionLog.mission_id == mid))])
    assert kinds == ["observed", "leg_completed", "completed"]


async def test_commands_that_raced_are_stored_as_the_vehicle_took_them(db: Database) -> None:
    _, lid = await db.run(lambda s: _mission(s, MissionStatus.DISPATCHING, LegStatus.DISPATCHING))

    def event(ev: lifecycle.Event) -> LegStatus | None:
        def tx(s: Session) -> LegStatus | None:
            leg = s.get(MissionLeg, lid)
            assert leg is not None
            return lifecycle_store.apply_event(s, leg, ev, "ops")
        return db.run_sync(tx)

    assert event(Recalled("ops")) == LegStatus.RETURNING  # recalled during its take-off
    # the take-off's start_mission, accepted after the RTL: the drone flies the route, and the
    # leg stays marked recalled (it ends aborted unless flown to its end)
    assert event(TookOff()) == LegStatus.FLYING
    leg = await db.run(lambda s: s.get(MissionLeg, lid))
    assert leg is not None and leg.status == LegStatus.FLYING
    assert leg.reason == "recalled by ops"

    def landed(s: Session) -> None:
        row = s.get(MissionLeg, lid)
        assert row is not None
        store.set_leg_status(s, row, LegStatus.COMPLETED, actor="system")

    await db.run(landed)
    assert event(Paused()) is None  # a pause accepted by a drone whose leg had just ended
    leg = await db.run(lambda s: s.get(MissionLeg, lid))
    assert leg is not None and leg.status == LegStatus.COMPLETED
    kinds = await db.run(lambda s: [r.kind for r in s.exec(
        select(MissionLog).where(MissionLog.mission_id == leg.mission_id))])
    assert kinds == ["recall", "flying", "status_kept"]
