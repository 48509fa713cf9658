"""The mission lifecycle (mission/missions/lifecycle.py) without any process: every allowed
transition, a sample of forbidden ones, the reducer's outcomes (restart reattach and link loss
included) and the mission settlement. Milliseconds."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from mission.missions import lifecycle
from mission.missions.lifecycle import (
    LEG_TRANSITIONS,
    MISSION_TRANSITIONS,
    Advance,
    DispatchFailed,
    DispatchStarted,
    IllegalTransition,
    ItemReached,
    LegSummary,
    LegView,
    Log,
    Observe,
    Paused,
    Reattached,
    Recalled,
    Resumed,
    Retasked,
    ServiceStopping,
    Settle,
    TargetView,
    Telemetry,
    TookOff,
    Transition,
    VehicleNote,
    settle,
    step,
)
from mission.missions.models import FINAL_LEG, FINAL_MISSION, LegStatus, MissionStatus

pytestmark = pytest.mark.nopg

L = LegStatus
M = MissionStatus

LEG_EDGES = [(a, b) for a, targets in LEG_TRANSITIONS.items() for b in sorted(targets)]
MISSION_EDGES = [(a, b) for a, targets in MISSION_TRANSITIONS.items() for b in sorted(targets)]
LEG_FORBIDDEN = [(a, b) for a, b in itertools.product(L, L)
                 if a != b and b not in LEG_TRANSITIONS[a]]
MISSION_FORBIDDEN = [(a, b) for a, b in itertools.product(M, M)
                     if a != b and b not in MISSION_TRANSITIONS[a]]

T1 = TargetView(row_id=11, first_seq=2, incident_ids=(7,))
T2 = TargetView(row_id=12, first_seq=5, incident_ids=())


def leg(status: LegStatus = L.FLYING, **kw: object) -> LegView:
    base = LegView(drone_id=3, status=status, last_item_seq=8, current_seq=1,
                   targets=(T1, T2), flew=True)
    return replace(base, **kw)  # type: ignore[arg-type]


def tele(**kw: object) -> Telemetry:
    base = Telemetry(link_up=True, armed=True, landed_state="in_air", mode="AUTO",
                     mission_state=None, mission_current=None)
    return replace(base, **kw)  # type: ignore[arg-type]


def statuses(out: lifecycle.Outcome) -> list[LegStatus]:
    return [t.status for t in out.transitions]


# -- the transition tables ----------------------------------------------------------------------


def test_tables_cover_every_status_and_finals_are_terminal() -> None:
    assert set(LEG_TRANSITIONS) == set(L) and set(MISSION_TRANSITIONS) == set(M)
    assert all(not LEG_TRANSITIONS[s] for s in FINAL_LEG)
    assert all(not MISSION_TRANSITIONS[s] for s in FINAL_MISSION)


@pytest.mark.parametrize(("before", "after"), LEG_EDGES)
def test_every_allowed_leg_transition(before: LegStatus, after: LegStatus) -> None:
    lifecycle.check_leg(before, after)


@pytest.mark.parametrize(("before", "after"), MISSION_EDGES)
def test_every_allowed_mission_transition(before: MissionStatus, after: MissionStatus) -> None:
    lifecycle.check_mission(before, after)


@pytest.mark.parametrize(("before", "after"), [
    (L.PLANNED, L.FLYING), (L.COMPLETED, L.FLYING), (L.FAILED, L.DISPATCHING),
    (L.RETURNING, L.DISPATCHING), (L.PAUSED, L.PLANNED), (L.DISPATCHING, L.COMPLETED),
    (L.ABORTED, L.COMPLETED), (L.PLANNED, L.FAILED),
])
def test_sample_of_forbidden_leg_transitions(before: LegStatus, after: LegStatus) -> None:
    with pytest.raises(IllegalTransition, match=f"{before.value} -> {after.value}"):
        lifecycle.check_leg(before, after)


def test_every_forbidden_pair_is_refused_and_staying_is_not_a_transition() -> None:
    for a, b in LEG_FORBIDDEN:
        with pytest.raises(IllegalTransition):
            lifecycle.check_leg(a, b)
    for ma, mb in MISSION_FORBIDDEN:
        with pytest.raises(IllegalTransition):
            lifecycle.check_mission(ma, mb)
    for s in L:
        lifecycle.check_leg(s, s)
    assert (M.COMPLETED, M.ACTIVE) in MISSION_FORBIDDEN
    assert (M.PLANNED, M.ACTIVE) in MISSION_FORBIDDEN


# -- dispatch and operator commands -------------------------------------------------------------


def test_dispatch_take_off_and_failure() -> None:
    out = step(leg(L.PLANNED), DispatchStarted())
    assert out.leg.status == L.DISPATCHING and statuses(out) == [L.DISPATCHING]
    out = step(out.leg, TookOff())
    (t,) = out.transitions
    assert (t.status, t.kind, t.started) == (L.FLYING, "flying", True)
    out = step(leg(L.DISPATCHING), DispatchFailed("upload: denied", {"result": "DENIED"}))
    (t,) = out.transitions
    assert (t.status, t.reason, t.finished, dict(t.data)) == (
        L.FAILED, "upload: denied", True, {"error": {"result": "DENIED"}})


def test_take_off_accepted_after_a_recall_flies_but_stays_recalled() -> None:
    recalled = step(leg(L.DISPATCHING), Recalled("ops")).leg
    out = step(recalled, TookOff())  # the vehicle flies what it was last told
    assert out.leg.status == L.FLYING and out.leg.recalled
    landed = step(out.leg, tele(armed=False, landed_state="on_ground", mode="RTL"))
    assert landed.leg.status == L.ABORTED


def test_every_command_an_operator_may_ask_is_an_allowed_transition() -> None:
    target = {"pause": L.PAUSED, "resume": L.FLYING, "recall": L.RETURNING,
              "retask": L.FLYING}
    for action, sources in lifecycle.COMMAND_FROM.items():
        for source in sources:
            lifecycle.check_leg(source, target[action])


def test_pause_resume_recall_retask() -> None:
    paused = step(leg(L.FLYING), Paused())
    assert paused.leg.status == L.PAUSED and paused.transitions[0].kind == "pause"
    resumed = step(paused.leg, Resumed())
    assert resumed.leg.status == L.FLYING
    recalled = step(paused.leg, Recalled("ops"))
    assert recalled.leg.status == L.RETURNING and recalled.leg.recalled
    assert recalled.transitions[0].reason == "recalled by ops"
    again = step(recalled.leg, Recalled("ops"))  # recalling a returning drone: stays returning
    assert again.leg.status == L.RETURNING
    during_dispatch = step(leg(L.DISPATCHING), Recalled("ops"))
    assert during_dispatch.leg.status == L.RETURNING
    retasked = step(leg(L.PAUSED, current_seq=6, complete=True), Retasked("incident 9", 2))
    (t,) = retasked.transitions
    assert (t.status, t.kind, dict(t.data)) == (L.FLYING, "retasked", {"revision": 2})
    assert retasked.leg.current_seq == 0 and not retasked.leg.flew and not retasked.leg.complete


@pytest.mark.parametrize(("status", "event"), [
    (L.COMPLETED, Paused()), (L.DISPATCHING, Paused()), (L.FAILED, Resumed()),
    (L.COMPLETED, Recalled("ops")), (L.PLANNED, Recalled("ops")), (L.ABORTED, Retasked("x", 1)),
    (L.COMPLETED, Resumed()), (L.FLYING, DispatchStarted()), (L.PLANNED, TookOff()),
    (L.FAILED, TookOff()), (L.COMPLETED, DispatchFailed("late")),
])
def test_events_the_table_does_not_allow(status: LegStatus, event: lifecycle.Event) -> None:
    with pytest.raises(IllegalTransition):
        step(leg(status), event)


# -- what the drone reports ---------------------------------------------------------------------


def test_item_reached_observes_targets_up_to_it() -> None:
    out = step(leg(), ItemReached(2))
    assert out.effects == (Advance(2), Observe(T1, 2))
    assert out.leg.current_seq == 2 and out.leg.targets[0].observed
    assert step(out.leg, ItemReached(2)).effects == (Advance(2),)  # nothing observed twice


def test_mission_current_observes_targets_before_it() -> None:
    out = step(leg(), tele(mission_current=5))
    assert out.effects == (Advance(5), Observe(T1, 5))  # T2 (item 5) is next, not yet seen
    assert step(leg(), tele(mission_current=5, mode="GUIDED")).effects == ()


def test_a_drone_at_the_target_flying_its_item_is_on_station_before_the_hold_ends() -> None:
    # the autopilot reports a held item reached only once the hold is over: position decides
    at = replace(T2, lat=41.3, lon=69.24)
    flying = leg(targets=(T1, at), current_seq=5)
    far = step(flying, tele(mission_current=5, lat=41.3 + 100 / 111_320, lon=69.24))
    assert far.effects == ()
    out = step(flying, tele(mission_current=5, lat=41.3 + 5 / 111_320, lon=69.24))
    assert out.effects == (Observe(at, 5),) and out.leg.targets[1].observed
    assert step(out.leg, tele(mission_current=5, lat=41.3, lon=69.24)).effects == ()
    # on another item, in another mode, or before it flew: not on station
    assert step(flying, tele(mission_current=4, lat=41.3, lon=69.24)).effects[-1:] != (
        Observe(at, 4),)
    assert step(flying, tele(mission_current=5, lat=41.3, lon=69.24, mode="GUIDED")).effects \
        == ()
    assert step(replace(flying, flew=False),
                tele(mission_current=5, lat=41.3, lon=69.24, armed=False)).effects == ()


def test_reaching_the_last_item_means_returning() -> None:
    out = step(leg(), ItemReached(8))
    assert out.leg.status == L.RETURNING and out.leg.complete
    assert [type(e) for e in out.effects] == [Advance, Transition, Observe, Observe]
    paused = step(leg(L.PAUSED), ItemReached(8))
    assert paused.leg.status == L.PAUSED and not paused.transitions


def test_reports_while_dispatching_belong_to_the_dispatcher() -> None:
    d = leg(L.DISPATCHING, flew=False)
    assert step(d, ItemReached(8)).effects == ()
    out = step(d, tele(mission_current=8))
    assert out.effects == () and out.leg.flew  # seen in the air, still dispatching
    assert step(d, tele(armed=False, landed_state="on_ground")).effects == ()


def test_landed_with_the_mission_complete_completes_and_settles() -> None:
    out = step(leg(L.RETURNING, current_seq=8),
               tele(armed=False, landed_state="on_ground", mode="LAND"))
    assert out.leg.status == L.COMPLETED
    assert isinstance(out.effects[-1], Settle)
    final = out.transitions[-1]
    assert (final.kind, final.finished, final.reason) == ("leg_completed", True, None)
    assert {e.target.row_id for e in out.effects if isinstance(e, Observe)} == {11, 12}


def test_mission_state_complete_then_landed_from_flying() -> None:
    out = step(leg(), tele(mission_state=lifecycle.MISSION_STATE_COMPLETE))
    assert out.leg.complete
    out = step(out.leg, tele(armed=False, landed_state="on_ground", mode="RTL"))
    assert statuses(out) == [L.RETURNING, L.COMPLETED]  # as the old tracker logged it


def test_landed_short_of_the_end_fails_with_where() -> None:
    out = step(leg(current_seq=4), tele(armed=False, landed_state="on_ground", mode="LAND"))
    final = out.transitions[-1]
    assert final.status == L.FAILED
    assert final.reason == "landed and disarmed at item 4 of 8 in LAND"
    assert out.effects[-1] == Settle()


def test_recalled_and_landed_is_aborted() -> None:
    recalled = step(leg(), Recalled("ops")).leg
    out = step(recalled, tele(armed=False, landed_state="on_ground", mode="RTL"))
    assert out.leg.status == L.ABORTED and out.transitions[-1].reason == "recalled; landed"


def test_not_flown_yet_never_lands() -> None:
    out = step(leg(flew=False), tele(armed=False, landed_state="on_ground"))
    assert out.effects == () and out.leg.status == L.FLYING


# -- link loss, restart, stop -------------------------------------------------------------------


def test_link_loss_is_logged_and_changes_nothing() -> None:
    note = step(leg(), VehicleNote("link_lost", "no heartbeat for 5 s", {"after_s": 5}))
    assert note.effects == (Log("link_lost", "no heartbeat for 5 s", {"after_s": 5}),)
    assert note.leg == leg()
    # a stale state of a silent drone says nothing, even "landed and disarmed"
    silent = step(leg(), tele(link_up=False, armed=False, landed_state="on_ground"))
    assert silent.effects == () and silent.leg == leg()
    restored = step(leg(), VehicleNote("link_restored", "heartbeat back"))
    assert restored.leg == leg()


def test_link_restored_after_landing_while_lost_ends_the_leg() -> None:
    out = step(leg(current_seq=8), tele(armed=False, landed_state="on_ground", mode="LAND"))
    assert out.leg.status == L.COMPLETED


def test_service_stop_never_changes_a_leg() -> None:
    for status in lifecycle.ACTIVE_LEGS:
        out = step(leg(status), ServiceStopping())
        assert out.effects == () and out.leg == leg(status)


def test_reattach_after_restart() -> None:
    stored = leg(L.FLYING, flew=False, current_seq=3)  # as rebuilt from the database
    out = step(stored, Reattached())
    assert out.leg.flew and out.leg.status == L.FLYING
    (entry,) = out.effects
    assert isinstance(entry, Log) and entry.kind == "reattached"
    assert "leg flying, at item 3" in entry.message
    # what the drone did while the service was down: it landed with the mission complete
    done = step(out.leg, tele(armed=False, landed_state="on_ground", mode="LAND",
                              mission_state=lifecycle.MISSION_STATE_COMPLETE))
    assert done.leg.status == L.COMPLETED
    # a leg still dispatching when the service stopped has not proven it flew
    assert not step(leg(L.DISPATCHING, flew=False), Reattached()).leg.flew


def test_a_dispatch_cut_off_by_a_restart_is_settled_by_what_the_drone_reports() -> None:
    """No dispatcher will finish it: in the air it flies (mission settles to active), on the
    ground disarmed it fails saying why, armed on the ground it waits for the next report;
    a dispatching leg that was not reattached still belongs to its dispatcher."""
    orphan = step(leg(L.DISPATCHING, flew=False), Reattached()).leg
    assert orphan.orphaned and orphan.status == L.DISPATCHING
    waiting = step(orphan, tele(armed=True, landed_state="on_ground", mode="GUIDED"))
    assert waiting.leg.status == L.DISPATCHING and waiting.effects == ()
    up = step(orphan, tele(armed=True, landed_state="in_air", mode="GUIDED"))
    (t,) = up.transitions
    assert (t.status, t.started) == (L.FLYING, True) and "GUIDED" in t.message
    assert isinstance(up.effects[-1], Settle) and not up.leg.orphaned and up.leg.flew
    down = step(orphan, tele(armed=False, landed_state="on_ground", mode="LOITER"))
    (t,) = down.transitions
    assert t.status == L.FAILED and t.finished and "did not take off" in (t.reason or "")
    assert isinstance(down.effects[-1], Settle)
    owned = step(leg(L.DISPATCHING, flew=False),
                 tele(armed=False, landed_state="on_ground", mode="LOITER"))
    assert owned.leg.status == L.DISPATCHING and owned.effects == ()
    assert step(orphan, tele(link_up=False, armed=False, landed_state="on_ground",
                             mode="LOITER")).effects == ()  # a silent drone proves nothing
    # taken over while its dispatcher still answers for it (its deadline runs): still its
    live = step(leg(L.DISPATCHING, flew=False), Reattached(dispatcher_gone=False)).leg
    assert not live.orphaned
    assert step(live, tele(armed=False, landed_state="on_ground", mode="LOITER")).effects == ()


# -- the mission follows its legs ---------------------------------------------------------------


def s(status: LegStatus, reason: str = "", drone: int = 1) -> LegSummary:
    return LegSummary(drone, status, reason)


def test_settle_after_dispatch() -> None:
    assert settle(M.DISPATCHING, "", [s(L.DISPATCHING), s(L.FLYING, drone=2)]) is None
    active = settle(M.DISPATCHING, "", [s(L.FLYING), s(L.FAILED, "upload: x", 2)])
    assert active is not None
    assert (active.status, active.reason, active.kind, active.finished) == (
        M.ACTIVE, "drone 2: upload: x", "active", False)
    assert active.message == "1 of 2 drones flying"
    failed = settle(M.DISPATCHING, "", [s(L.FAILED, "a"), s(L.FAILED, "b", 2)])
    assert failed is not None
    assert (failed.status, failed.reason) == (M.FAILED, "drone 1: a; drone 2: b")


def test_settle_when_legs_end() -> None:
    assert settle(M.ACTIVE, "", [s(L.COMPLETED), s(L.RETURNING, drone=2)]) is None
    done = settle(M.ACTIVE, "", [s(L.COMPLETED), s(L.COMPLETED, drone=2)])
    assert done is not None and (done.status, done.finished) == (M.COMPLETED, True)
    failed = settle(M.ACTIVE, "", [s(L.COMPLETED), s(L.FAILED, "landed at 3", 2)])
    assert failed is not None and failed.status == M.FAILED
    assert failed.reason == "drone 2: landed at 3"
    aborted = settle(M.ACTIVE, "recalled by ops", [s(L.ABORTED), s(L.COMPLETED, drone=2)])
    assert aborted is not None and (aborted.status, aborted.reason) == (
        M.ABORTED, "recalled by ops")
    default = settle(M.ACTIVE, "", [s(L.ABORTED)])
    assert default is not None and default.reason == "recalled"


def test_settle_never_moves_a_final_or_planned_mission() -> None:
    for final in FINAL_MISSION:
        assert settle(final, "", [s(L.COMPLETED)]) is None
    assert settle(M.PLANNED, "", [s(L.PLANNED)]) is None
    assert settle(M.ACTIVE, "", []) is None


def test_every_settlement_is_an_allowed_transition() -> None:
    for ms in M:
        for combo in itertools.product(L, repeat=2):
            decided = settle(ms, "", [s(combo[0]), s(combo[1], drone=2)])
            if decided is not None:
                lifecycle.check_mission(ms, decided.status)


def test_mission_begin_and_discard() -> None:
    assert lifecycle.begin_dispatch(M.PLANNED) == M.DISPATCHING
    assert lifecycle.discard(M.PLANNED) == M.ABORTED
    with pytest.raises(IllegalTransition):
        lifecycle.begin_dispatch(M.ACTIVE)
    with pytest.raises(IllegalTransition):
        lifecycle.discard(M.COMPLETED)
