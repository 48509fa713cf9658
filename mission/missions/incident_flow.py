"""Moving incidents along their status flow as a mission assigns and observes them, and
keeping their response timeline (dispatched, airborne, on scene)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from mission.clock import utcnow
from mission.incidents.domain import IllegalTransition, check_transition
from mission.incidents.models import Incident, Status
from mission.incidents.service import IncidentNotFound, IncidentService, record_status
from mission.missions import store
from mission.missions.models import MissionLeg

log = logging.getLogger(__name__)
FORWARD = (Status.NEW, Status.TRIAGED, Status.ASSIGNED, Status.OBSERVED)


async def advance_incident(
    incidents: IncidentService, inc_id: int, target: Status, actor: str, note: str
) -> bool:
    """Walk an incident forward to `target` (new -> triaged -> assigned -> observed), one
    recorded step at a time, never back; one already past it, or closed, is left alone.
    Returns whether it reached `target`."""
    try:
        inc = await incidents.get(inc_id)
    except IncidentNotFound:
        return False
    if inc.status not in FORWARD:
        return False
    for step in FORWARD[FORWARD.index(inc.status) + 1: FORWARD.index(target) + 1]:
        try:
            await incidents.set_status(inc_id, step, actor=actor, note=note)
        except IllegalTransition as e:
            log.info("incident %s not moved to %s: %s", inc_id, step, e)
            return False
    return True


def advance_in(s: Session, inc_id: int, target: Status, actor: str, note: str) -> bool:
    """`advance_incident` in the caller's transaction: the tracker moves the incidents of a
    target it observed in the transaction that stores the observation, so that a process
    dying between the two cannot leave an observed target's incident behind."""
    row = s.exec(select(Incident).where(Incident.id == inc_id).with_for_update()).first()
    if row is None or Status(row.status) not in FORWARD:
        return False
    now = utcnow()
    for step in FORWARD[FORWARD.index(Status(row.status)) + 1: FORWARD.index(target) + 1]:
        try:
            check_transition(Status(row.status), step)
        except IllegalTransition as e:
            log.info("incident %s not moved to %s: %s", inc_id, step, e)
            return False
        record_status(s, row, step, actor, note, now)
        row.updated_at = now
        s.add(row)
    return True


# -- the response timeline (Incident.response_*), in the lifecycle's transactions ---------------
#
# The first dispatch that includes an incident owns its timeline (drone, mission, times); a
# second mission including it meanwhile changes nothing. When the owning leg fails before its
# drone took off, the claim is released but `dispatched_at` is kept: the public waited from the
# first dispatch, so a re-dispatch after a failure shows as a longer dispatch -> airborne stage,
# never as a fresh start.


def _leg_incidents(s: Session, leg: MissionLeg) -> list[Incident]:
    ids = sorted({i for t in store.targets(s, leg.mission_id)
                  if t.drone_id == leg.drone_id and not t.dropped_reason
                  for i in t.incident_ids})
    if not ids:
        return []
    return list(s.exec(select(Incident).where(col(Incident.id).in_(ids))))


def response_dispatched(s: Session, leg: MissionLeg, now: datetime) -> None:
    """A dispatch including `leg`'s incidents starts: each one not yet owned by a mission is
    now this leg's."""
    for inc in _leg_incidents(s, leg):
        if inc.response_mission_id is not None:
            continue
        if inc.response_dispatched_at is None:
            inc.response_dispatched_at = now
        inc.response_drone_id, inc.response_mission_id = leg.drone_id, leg.mission_id
        s.add(inc)


def response_airborne(s: Session, leg: MissionLeg, now: datetime) -> None:
    for inc in _leg_incidents(s, leg):
        if _owned_by(inc, leg) and inc.response_airborne_at is None:
            inc.response_airborne_at = now
            s.add(inc)


def response_failed(s: Session, leg: MissionLeg) -> None:
    """The owning leg failed before take-off: release the claim (see above)."""
    for inc in _leg_incidents(s, leg):
        if _owned_by(inc, leg) and inc.response_airborne_at is None:
            inc.response_drone_id = inc.response_mission_id = None
            s.add(inc)


def response_on_scene(s: Session, leg: MissionLeg, incident_ids: Sequence[int],
                      now: datetime) -> None:
    """The drone observed a target (the tracker's Observe effect): eyes on the scene."""
    if not incident_ids:
        return
    for inc in s.exec(select(Incident).where(col(Incident.id).in_(list(incident_ids)))):
        if _owned_by(inc, leg) and inc.response_on_scene_at is None:
            inc.response_on_scene_at = now
            if inc.response_airborne_at is None:  # a take-off not seen (service restarted)
                inc.response_airborne_at = now
            s.add(inc)


def _owned_by(inc: Incident, leg: MissionLeg) -> bool:
    return (inc.response_mission_id == leg.mission_id
            and inc.response_drone_id == leg.drone_id)
