"""Persisting what the lifecycle decided (lifecycle.py), in the caller's transaction.

The one place where a leg's or mission's status is written: the service and the tracker turn
what happened into a lifecycle event, and hand the outcome here. Kept apart from lifecycle.py so
that module stays pure (no database), and from store.py so reading missions stays simple.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from mission.clock import utcnow
from mission.incidents.models import Status
from mission.missions import incident_flow, lifecycle, store
from mission.missions.lifecycle import (
    Advance,
    Event,
    IllegalTransition,
    LegSummary,
    LegView,
    Log,
    Observe,
    Outcome,
    Settle,
    TargetView,
    Transition,
)
from mission.missions.models import LegStatus, MissionLeg, MissionStatus, MissionTarget


def view_of(leg: MissionLeg, targets: Sequence[MissionTarget] = (), *,
            flew: bool = False) -> LegView:
    """The lifecycle's view of a stored leg (and its targets still to be observed)."""
    return LegView(
        drone_id=leg.drone_id, status=LegStatus(leg.status), last_item_seq=leg.last_item_seq,
        current_seq=leg.current_seq,
        targets=tuple(
            TargetView(t.id, t.first_seq, tuple(t.incident_ids), t.observed_at is not None,
                       t.lat, t.lon)
            for t in targets if t.id is not None and t.first_seq is not None
            and not t.dropped_reason),
        flew=flew, recalled=leg.reason.startswith("recalled"),
    )


def apply(s: Session, leg: MissionLeg, outcome: Outcome, actor: str) -> list[TargetView]:
    """Store `outcome`'s effects on `leg` in order (a target observed moves its incidents to
    `observed` in the same transaction); the targets newly observed."""
    observed: list[TargetView] = []
    for effect in outcome.effects:
        match effect:
            case Advance(seq):
                leg.current_seq = max(leg.current_seq, seq)
                s.add(leg)
            case Observe(target, seq):
                row = s.get(MissionTarget, target.row_id)
                if row is not None and row.observed_at is None:
                    row.observed_at, row.observed_by = utcnow(), leg.drone_id
                    s.add(row)
                    store.log(s, leg.mission_id, f"drone:{leg.drone_id}", "observed",
                              f"{row.label or row.key} observed", leg.drone_id, seq=seq)
                    observed.append(target)
                    incident_flow.response_on_scene(s, leg, target.incident_ids, utcnow())
                    d = leg.drone_id
                    for inc_id in target.incident_ids:  # with the observation, never after it
                        incident_flow.advance_in(
                            s, inc_id, Status.OBSERVED, f"drone:{d}",
                            f"observed by drone {d} on mission {leg.mission_id}")
            case Transition():
                _transition(s, leg, effect, actor)
                _response(s, leg, effect)
            case Log(kind, message, data):
                store.log(s, leg.mission_id, actor, kind, message, leg.drone_id, **data)
            case Settle():
                settle(s, leg.mission_id, actor)
    return observed


def apply_event(s: Session, leg: MissionLeg, event: Event, actor: str) -> LegStatus | None:
    """Run a dispatch or operator event through the lifecycle on the leg as stored now and
    store the outcome; the leg's new status, or None when the leg ended meanwhile (a pause
    accepted by a drone that had just landed, a take-off finishing after its leg failed): then
    the ended leg stands, and the mission log says so ("status_kept")."""
    try:
        out = lifecycle.step(view_of(leg), event)
    except IllegalTransition as e:
        store.log(s, leg.mission_id, actor, "status_kept",
                  f"drone {leg.drone_id} stays {leg.status}: {e}", leg.drone_id)
        return None
    apply(s, leg, out, actor)
    return out.leg.status


def _response(s: Session, leg: MissionLeg, t: Transition) -> None:
    """The incidents' response timeline moves with the leg (incident_flow.response_*)."""
    if t.status == LegStatus.DISPATCHING:
        incident_flow.response_dispatched(s, leg, utcnow())
    elif t.status == LegStatus.FLYING and t.started:
        incident_flow.response_airborne(s, leg, utcnow())
    elif t.status == LegStatus.FAILED:
        incident_flow.response_failed(s, leg)


def _transition(s: Session, leg: MissionLeg, t: Transition, actor: str) -> None:
    store.set_leg_status(s, leg, t.status, actor=actor, reason=t.reason)
    if t.started:
        leg.started_at = utcnow()
    if t.finished:
        leg.finished_at = utcnow()
    s.add(leg)
    if t.kind:
        store.log(s, leg.mission_id, actor, t.kind, t.message, leg.drone_id, **t.data)


def settle(s: Session, mission_id: int, actor: str) -> None:
    """Give the mission the status its legs make it (lifecycle.settle), if that changed."""
    m = store.load(s, mission_id)
    legs = [LegSummary(leg.drone_id, LegStatus(leg.status), leg.reason)
            for leg in store.legs(s, mission_id)]
    decided = lifecycle.settle(MissionStatus(m.status), m.reason, legs)
    if decided is None:
        return
    store.set_status(s, m, decided.status, decided.reason, actor=actor)
    if decided.finished:
        m.finished_at = utcnow()
    store.log(s, mission_id, actor, decided.kind, decided.message)


def begin_dispatch(s: Session, mission_id: int, actor: str) -> None:
    m = store.load(s, mission_id)
    store.set_status(s, m, lifecycle.begin_dispatch(MissionStatus(m.status)), actor=actor)
    m.dispatched_at = utcnow()


def discard(s: Session, mission_id: int, actor: str, reason: str) -> None:
    m = store.load(s, mission_id)
    store.set_status(s, m, lifecycle.discard(MissionStatus(m.status)), reason, actor=actor)
    m.finished_at = utcnow()
