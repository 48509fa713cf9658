"""Which committed rows count as a changed mission, incident or proposal (mission/db.py
`watch`): said once, here, for the change publisher (changes.py) and for a link worker, which
announces on the bus what its mission tracking commits without publishing anything itself."""

from __future__ import annotations

from mission.db import Database
from mission.dispatch.models import DispatchProposal
from mission.incidents.models import Incident
from mission.missions.models import MissionLeg, MissionLog, MissionTarget, PatrolMission

MISSION = "mission"
INCIDENT = "incident"
PROPOSAL = "proposal"


def watch(db: Database) -> None:
    """Name the rows whose committed changes are announced (mission/db.py)."""
    db.watch(PatrolMission, MISSION, lambda r: r.id)
    db.watch(MissionLeg, MISSION, lambda r: r.mission_id)
    db.watch(MissionTarget, MISSION, lambda r: r.mission_id)
    # the mission's timeline grows: a console showing it fetches the log again
    db.watch(MissionLog, MISSION, lambda r: r.mission_id)
    db.watch(Incident, INCIDENT, lambda r: r.id)
    # an auto-dispatch proposal waiting for the operator (mission/dispatch/), and its answer
    db.watch(DispatchProposal, PROPOSAL, lambda r: r.id)
