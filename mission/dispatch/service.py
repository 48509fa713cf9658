"""Dispatch rules (CRUD) and the engine that applies them to every new incident.

The engine is a runtime background task (mission/runtime/service.py): the incident service
only hands it the new incident's id (`notify`, never blocking the request that created it);
the task decides with the pure domain.decide, picks the drone by planning the incident over
every free drone with the `response` objective (the plan's one leg is the drone with the
earliest severity-weighted time to eyes on), and then either dispatches through the normal
dispatch path (MissionService.dispatch: preflight interlocks, the guarded command port, the
command record, the lifecycle) or stores a proposal whose planned mission waits for the
operator. Every decision is in the audit log with the rule that made it
(actor `system:rule:<id>`). Proposals whose countdown ended are settled by the same task,
from the database, so a restart does not lose them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from mission.audit import service as audit
from mission.clock import utcnow
from mission.db import Database
from mission.dispatch.domain import (
    Action,
    IncidentFacts,
    OnTimeout,
    ProposalStatus,
    Rule,
    decide,
    needs_zones,
    on_expiry,
)
from mission.dispatch.models import (
    DispatchProposal,
    DispatchRule,
    ProposalPublic,
    RuleIn,
    RulePatch,
    RulePublic,
    rule_values,
)
from mission.incidents.models import IncidentWithContact
from mission.incidents.service import IncidentNotFound, IncidentService
from mission.missions.inputs import MissionInputError
from mission.missions.models import MissionStatus
from mission.missions.schemas import LoiterIn, MissionPublic, PlanIn
from mission.missions.service import InterlockRefused, MissionConflict, MissionService
from mission.missions.store import MissionNotFound
from mission.planning.errors import PlanningError
from mission.zones.service import ZoneService

log = logging.getLogger(__name__)

MAX_QUEUE = 10_000


class RuleNotFound(LookupError):
    def __init__(self, rule_id: int) -> None:
        super().__init__(f"no dispatch rule {rule_id}")


class ProposalNotFound(LookupError):
    def __init__(self, proposal_id: int) -> None:
        super().__init__(f"no dispatch proposal {proposal_id}")


class ProposalClosed(MissionConflict):
    """The proposal was already confirmed, rejected or timed out."""

    def __init__(self, proposal_id: int, status: str) -> None:
        super().__init__(f"proposal {proposal_id} is {status}, not pending", "status")


class DispatchService:
    def __init__(self, db: Database, *, incidents: IncidentService, missions: MissionService,
                 zones: ZoneService, tick_s: float = 0.25, on_station_s: float = 60.0,
                 altitude_m: float = 40.0) -> None:
        self.db = db
        self.incidents = incidents
        self.missions = missions
        self.zones = zones
        self.tick_s = tick_s
        self.on_station_s = on_station_s
        self.altitude_m = altitude_m
        self._queue: asyncio.Queue[int] = asyncio.Queue(MAX_QUEUE)
        self._lock = asyncio.Lock()  # one decision at a time: two incidents never pick one drone
        # drones an automatic dispatch has taken and whose leg is not yet stored (busy then)
        self._claimed: set[int] = set()
        self._dispatches: set[asyncio.Task[str]] = set()

    # -- rules -----------------------------------------------------------------------------------

    async def list_rules(self) -> list[RulePublic]:
        def q(s: Session) -> list[RulePublic]:
            rows = s.exec(select(DispatchRule).order_by(col(DispatchRule.id)))
            return [RulePublic.model_validate(r) for r in rows]
        return await self.db.run(q)

    async def get_rule(self, rule_id: int) -> RulePublic:
        def q(s: Session) -> RulePublic:
            return RulePublic.model_validate(_rule(s, rule_id))
        return await self.db.run(q)

    async def create_rule(self, body: RuleIn, actor: str) -> RulePublic:
        def tx(s: Session) -> RulePublic:
            row = DispatchRule(**rule_values(body))
            s.add(row)
            s.flush()
            audit.add(s, "dispatch_rule.create", actor=actor, target=f"rule:{row.id}",
                      params=rule_values(body))
            return RulePublic.model_validate(row)
        return await self.db.run(tx)

    async def update_rule(self, rule_id: int, body: RulePatch, actor: str) -> RulePublic:
        def tx(s: Session) -> RulePublic:
            row = _rule(s, rule_id)
            values = rule_values(body)
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at = utcnow()
            s.add(row)
            audit.add(s, "dispatch_rule.update", actor=actor, target=f"rule:{rule_id}",
                      params=values)
            s.flush()
            return RulePublic.model_validate(row)
        return await self.db.run(tx)

    async def delete_rule(self, rule_id: int, actor: str) -> None:
        def tx(s: Session) -> None:
            s.delete(_rule(s, rule_id))
            audit.add(s, "dispatch_rule.delete", actor=actor, target=f"rule:{rule_id}")
        await self.db.run(tx)

    # -- proposals -------------------------------------------------------------------------------

    async def list_proposals(self, status: ProposalStatus | None = None,
                             limit: int = 200) -> list[ProposalPublic]:
        def q(s: Session) -> list[ProposalPublic]:
            stmt = select(DispatchProposal)
            if status is not None:
                stmt = stmt.where(DispatchProposal.status == status.value)
            rows = s.exec(stmt.order_by(col(DispatchProposal.id).desc()).limit(limit))
            return [ProposalPublic.model_validate(r) for r in rows]
        return await self.db.run(q)

    async def confirm(self, proposal_id: int, actor: str) -> MissionPublic:
        """The operator sends the proposed drone: the planned mission is dispatched as theirs
        (interlocks apply; a refusal answers 409 and the proposal is `failed`)."""
        p = await self._close(proposal_id, ProposalStatus.CONFIRMED, actor, "confirmed")
        return await self._dispatch_proposal(p, actor, f"system:rule:{p.rule_id}")

    async def reject(self, proposal_id: int, actor: str) -> ProposalPublic:
        p = await self._close(proposal_id, ProposalStatus.REJECTED, actor, "rejected")
        await self._drop_mission(p.mission_id, actor, f"proposal {p.id} rejected")
        return p

    async def expire_due(self) -> int:
        """Settle the pending proposals whose countdown has ended, as their rule says."""
        now = utcnow()

        def q(s: Session) -> list[tuple[int, int, str]]:
            return [(p.id, p.rule_id, p.on_timeout) for p in s.exec(
                select(DispatchProposal).where(
                    DispatchProposal.status == ProposalStatus.PENDING.value,
                    col(DispatchProposal.expires_at) <= now)) if p.id is not None]

        done = 0
        for pid, rule_id, on_timeout in await self.db.run(q):
            to = on_expiry(OnTimeout(on_timeout))
            actor = f"system:rule:{rule_id}"
            try:
                p = await self._close(pid, to, actor, f"no answer in time: {to.value}")
            except ProposalClosed:
                continue  # answered meanwhile
            done += 1
            if to == ProposalStatus.DISPATCHED:
                with contextlib.suppress(MissionConflict, MissionNotFound):
                    await self._dispatch_proposal(p, actor, actor)  # a refusal is audited
            else:
                await self._drop_mission(p.mission_id, actor, f"proposal {p.id} timed out")
        return done

    async def _close(self, proposal_id: int, to: ProposalStatus, actor: str,
                     why: str) -> ProposalPublic:
        def tx(s: Session) -> ProposalPublic:
            p = s.exec(select(DispatchProposal).where(DispatchProposal.id == proposal_id)
                       .with_for_update()).first()
            if p is None:
                raise ProposalNotFound(proposal_id)
            if p.status != ProposalStatus.PENDING.value:
                raise ProposalClosed(proposal_id, p.status)
            p.status, p.decided_at, p.decided_by, p.reason = to.value, utcnow(), actor, why
            s.add(p)
            audit.add(s, f"dispatch_proposal.{to.value}", actor=actor,
                      mission_id=p.mission_id, drone_id=p.drone_id,
                      target=f"incident:{p.incident_id}",
                      params={"proposal_id": p.id, "rule_id": p.rule_id})
            s.flush()
            return ProposalPublic.model_validate(p)
        return await self.db.run(tx)

    async def _dispatch_proposal(self, p: ProposalPublic, actor: str,
                                 rule_actor: str) -> MissionPublic:
        try:
            return await self.missions.dispatch(p.mission_id, actor)
        except (MissionConflict, MissionNotFound) as e:
            refusal = _refusal(e)

            def tx(s: Session) -> None:
                row = s.get(DispatchProposal, p.id)
                if row is not None:
                    row.status = ProposalStatus.FAILED.value
                    row.reason = str(refusal["message"])[:1000]
                    s.add(row)
                audit.add(s, "dispatch_proposal.refused", actor=actor, outcome="refused",
                          mission_id=p.mission_id, drone_id=p.drone_id,
                          target=f"incident:{p.incident_id}",
                          params={"proposal_id": p.id, "rule_id": p.rule_id},
                          result=refusal)
            await self.db.run(tx)
            await self._drop_mission(p.mission_id, rule_actor, f"proposal {p.id}: {e}")
            raise

    async def _drop_mission(self, mission_id: int, actor: str, reason: str) -> None:
        try:
            m = await self.missions.get(mission_id)
            if m.status == MissionStatus.PLANNED:
                await self.missions.discard(mission_id, actor, reason)
        except Exception:
            log.exception("planned mission %s of a proposal not discarded", mission_id)

    # -- the engine ------------------------------------------------------------------------------

    def notify(self, inc: IncidentWithContact) -> None:
        """A new incident was stored (IncidentService.on_created): queued, never waited for."""
        try:
            self._queue.put_nowait(inc.id)
        except asyncio.QueueFull:
            log.error("auto-dispatch queue full: incident %s not considered", inc.id)

    async def run(self) -> None:
        """Decide for each new incident in turn (a decision takes milliseconds: the plan); the
        dispatches themselves run on their own tasks, so a drone's slow upload never delays
        the next incident. Cancelled (the runtime stopping): those are cancelled too."""
        try:
            while True:
                inc_id: int | None = None
                try:
                    async with asyncio.timeout(self.tick_s):
                        inc_id = await self._queue.get()
                except TimeoutError:
                    pass
                try:
                    if inc_id is not None:
                        await self.consider(inc_id)
                    await self.expire_due()
                except Exception:
                    log.exception("auto-dispatch step failed (incident %s)", inc_id)
        finally:
            for task in self._dispatches:
                task.cancel()

    async def settled(self) -> None:
        """Wait for the automatic dispatches under way (tests, benchmarks)."""
        while self._dispatches:
            await asyncio.gather(*self._dispatches, return_exceptions=True)

    async def consider(self, incident_id: int, *, wait: bool = False) -> str | None:
        """Apply the rules to one incident; what was done (`dispatching`, `proposed`,
        `no_drone`; with `wait`, the dispatch's end: `dispatched` or `refused`) or None when no
        rule matches."""
        outcome = await self._consider(incident_id)
        if wait and isinstance(outcome, asyncio.Task):
            return await outcome
        return outcome if not isinstance(outcome, asyncio.Task) else "dispatching"

    async def _consider(self, incident_id: int) -> str | asyncio.Task[str] | None:
        async with self._lock:
            rules = await self.db.run(
                lambda s: [r.spec() for r in s.exec(select(DispatchRule)
                                                   .where(col(DispatchRule.enabled)))])
            if not rules:
                return None
            try:
                inc = await self.incidents.get(incident_id)
            except IncidentNotFound:
                return None
            zone_ids: frozenset[int] = frozenset()
            if needs_zones(rules):
                zone_ids = frozenset(z.id for z in await self.zones.zones_at(lat=inc.lat,
                                                                             lon=inc.lon))
            facts = IncidentFacts(inc.id, inc.category.value, inc.severity, inc.source.value,
                                  zone_ids)
            rule = decide(facts, rules)
            if rule is None or inc.status.value != "new":
                return None
            return await self._act(rule, inc)

    async def _act(self, rule: Rule, inc: IncidentWithContact) -> str | asyncio.Task[str]:
        actor = rule.actor
        base = {"rule_id": rule.id, "rule": rule.name, "action": rule.action.value}
        reserved = await self.db.run(lambda s: {p.drone_id for p in s.exec(
            select(DispatchProposal).where(
                DispatchProposal.status == ProposalStatus.PENDING.value))})
        free = sorted(d for d in await self.missions.ready_drones()
                      if d not in reserved and d not in self._claimed)
        if not free:
            await self._audit("dispatch_rule.no_drone", actor, inc.id, base, outcome="refused",
                              result={"message": "no drone is free, linked and ready to fly"})
            return "no_drone"
        try:
            planned = await self.missions.plan(PlanIn(
                name=f"rule {rule.name}: incident {inc.id}", drones=free[:100],
                incidents=[inc.id], on_station=LoiterIn(seconds=self.on_station_s),
                altitude_m=self.altitude_m, time_limit_s=0.5), actor)
        except (MissionInputError, MissionConflict, PlanningError) as e:
            await self._audit("dispatch_rule.no_drone", actor, inc.id, base, outcome="refused",
                              result={"message": getattr(e, "message", str(e))})
            return "no_drone"
        if planned.dropped or not planned.legs:
            why = planned.dropped[0].dropped_reason if planned.dropped else "no route"
            await self.missions.discard(planned.id, actor, f"rule {rule.id}: {why}")
            await self._audit("dispatch_rule.no_drone", actor, inc.id, base, outcome="refused",
                              mission_id=planned.id, result={"message": why})
            return "no_drone"
        leg = planned.legs[0]
        eta = next((t.eta_s for t in planned.targets if inc.id in t.incident_ids), None)
        chosen = {**base, "drone_id": leg.drone_id, "eta_s": eta, "candidates": free}
        if rule.action == Action.PROPOSE:
            await self._propose(rule, inc.id, planned.id, leg.drone_id, eta, chosen)
            return "proposed"
        self._claimed.add(leg.drone_id)
        task = asyncio.create_task(
            self._auto_dispatch(rule, inc.id, planned.id, leg.drone_id, chosen),
            name=f"auto-dispatch-{inc.id}")
        self._dispatches.add(task)
        task.add_done_callback(self._dispatches.discard)
        return task

    async def _auto_dispatch(self, rule: Rule, incident_id: int, mission_id: int,
                             drone_id: int, chosen: dict[str, Any]) -> str:
        actor = rule.actor
        try:
            await self.missions.dispatch(mission_id, actor)
        except (MissionConflict, MissionNotFound) as e:
            await self.missions.discard(mission_id, actor, f"rule {rule.id}: dispatch refused")
            await self._audit("dispatch_rule.refused", actor, incident_id, chosen,
                              outcome="refused", mission_id=mission_id, drone_id=drone_id,
                              result=_refusal(e))
            return "refused"
        except Exception:
            log.exception("automatic dispatch of mission %s failed", mission_id)
            raise
        finally:
            self._claimed.discard(drone_id)
        await self._audit("dispatch_rule.dispatched", actor, incident_id, chosen,
                          mission_id=mission_id, drone_id=drone_id)
        return "dispatched"

    async def _propose(self, rule: Rule, incident_id: int, mission_id: int, drone_id: int,
                       eta: float | None, params: dict[str, Any]) -> None:
        def tx(s: Session) -> None:
            p = DispatchProposal(rule_id=rule.id, incident_id=incident_id,
                                 mission_id=mission_id, drone_id=drone_id, eta_s=eta,
                                 on_timeout=rule.on_timeout.value,
                                 expires_at=utcnow() + timedelta(seconds=rule.confirm_s))
            s.add(p)
            s.flush()
            audit.add(s, "dispatch_rule.proposed", actor=rule.actor, mission_id=mission_id,
                      drone_id=drone_id, target=f"incident:{incident_id}",
                      params={**params, "proposal_id": p.id, "confirm_s": rule.confirm_s,
                              "on_timeout": rule.on_timeout.value})
        await self.db.run(tx)

    async def _audit(self, action: str, actor: str, incident_id: int, params: dict[str, Any],
                     **kw: Any) -> None:
        await self.db.run(lambda s: audit.add(s, action, actor=actor,
                                              target=f"incident:{incident_id}", params=params,
                                              **kw))


def _rule(s: Session, rule_id: int) -> DispatchRule:
    row = s.get(DispatchRule, rule_id)
    if row is None:
        raise RuleNotFound(rule_id)
    return row


def _refusal(e: Exception) -> dict[str, Any]:
    out: dict[str, Any] = {"message": getattr(e, "message", str(e))}
    if isinstance(e, InterlockRefused):
        out["interlocks"] = e.problems
    return out
