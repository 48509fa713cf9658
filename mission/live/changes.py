"""Missions and incidents pushed to `/ws/telemetry` as they change (`changes` frames,
docs/telemetry-ws.md), so that the console need not poll for them.

Which rows count is said once, here (`Database.watch`): a mission changes with its own row,
any of its legs, targets or log entries; an incident with its row. The database hands over
what a transaction changed only after it committed (mission/db.py), so a rolled-back change
is never announced, and no writer (lifecycle_store, the incident service, planning, import)
has to remember to announce anything.

This publisher then reads each changed object as the REST API shows it and offers it to the
hub as a `DomainEvent`, encoded once for every client, with one view per audience:
- `contacts` (operators and admins): an incident as `GET /api/incidents` gives them, with the
  reporter's contact;
- `viewer` (commanders): the same without `reporter_contact`, as the REST API gives them.
A mission looks the same to both (`GET /api/missions` shows everything to every role).

One task reads and publishes, one batch at a time, the newest state of everything changed
since its previous read: a client never gets an older state of an object after a newer one,
and a burst (a mission's progress, a status walk new -> assigned) costs one read. More than
`max_batch` objects pending at once (an import of thousands of incidents) are not read one by
one: every client is told it lost them (`dropped`) and fetches afresh.

With a bus (several replicas on one database), what commits here is also announced to the other
processes by kind and id (`announce`, telemetry/bus.py), and what they announce is read and
published here the same way (`remote`): a console on any replica sees every change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from sqlmodel import Session

from mission.auth.service import Principal
from mission.db import Change, Database
from mission.dispatch.models import DispatchProposal, ProposalPublic
from mission.incidents.models import Incident
from mission.incidents.service import public as incident_public
from mission.live.watched import INCIDENT, MISSION, PROPOSAL, watch
from mission.missions import views
from mission.missions.models import PatrolMission
from telemetry.hub import TelemetryHub
from telemetry.state import DomainEvent

log = logging.getLogger(__name__)

CONTACTS = "contacts"
VIEWER = "viewer"


def audience_of(principal: Principal) -> str:
    """Whose view of the changes a signed-in user gets: the REST API's rule for contacts."""
    return CONTACTS if principal.can_see_contacts else VIEWER


class ChangePublisher:
    """Reads committed changes and publishes them on the hub; `run()` is a lifespan task."""

    def __init__(self, db: Database, hub: TelemetryHub, *, max_batch: int = 500) -> None:
        self._db = db
        self._hub = hub
        self.max_batch = max_batch
        self._pending: dict[Change, None] = {}  # ordered: first changed, first sent
        self._lost = 0
        self._wake = asyncio.Event()
        self.published = 0
        # tells the other processes what committed here (BusNode.announce_changes); never waits
        self.announce: Callable[[list[Change], int], None] | None = None
        watch(db)
        db.on_commit(self.committed)

    def committed(self, changes: set[Change]) -> None:
        """A transaction here committed these (on the event loop; never blocks)."""
        ordered = sorted(changes)
        if self.announce is not None:
            self.announce(ordered, 0)
        self.remote(ordered, 0)

    def remote(self, changes: Sequence[Change], lost: int) -> None:
        """Another process committed these, and `lost` more it did not name (on the loop)."""
        for change in changes:
            self._pending.pop(change, None)
            self._pending[change] = None
        self._lost += lost
        if len(self._pending) > self.max_batch:
            self._lost += len(self._pending)
            self._pending.clear()
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Publish what is pending now (the task does this; tests may call it)."""
        lost, self._lost = self._lost, 0
        if lost:
            self._hub.domain_lost(lost)
        batch = list(self._pending)
        self._pending.clear()
        if not batch:
            return
        try:
            events = await self._db.run(lambda s: read(s, batch))
        except Exception:
            # the database is away: clients fetch afresh rather than miss the change unknowingly
            log.exception("changes not published (%d objects); clients told to fetch", len(batch))
            self._hub.domain_lost(len(batch))
            return
        for e in events:
            self._hub.publish_domain(e)
        self.published += len(events)


def read(s: Session, changes: Sequence[Change]) -> list[DomainEvent]:
    """Each changed object as the REST API shows it, per audience (one transaction)."""
    now = time.time()
    out: list[DomainEvent] = []
    for kind, key in changes:
        if kind == MISSION:
            m = s.get(PatrolMission, key)
            if m is None:
                continue
            text = views.public(s, m).model_dump_json()
            out.append(DomainEvent(MISSION, key, {CONTACTS: text, VIEWER: text}, now))
        elif kind == INCIDENT:
            row = s.get(Incident, key)
            if row is None:
                continue
            out.append(DomainEvent(INCIDENT, key, {
                CONTACTS: incident_public(row, include_contact=True).model_dump_json(),
                VIEWER: incident_public(row, include_contact=False).model_dump_json(),
            }, now))
        elif kind == PROPOSAL:
            p = s.get(DispatchProposal, key)
            if p is None:
                continue
            text = ProposalPublic.model_validate(p).model_dump_json()
            out.append(DomainEvent(PROPOSAL, key, {CONTACTS: text, VIEWER: text}, now))
    return out
