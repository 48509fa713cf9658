"""Moving incidents along their status flow as a mission assigns and observes them."""

from __future__ import annotations

import logging

from mission.incidents.domain import IllegalTransition
from mission.incidents.models import Status
from mission.incidents.service import IncidentNotFound, IncidentService

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
