"""Patrol missions end to end: plan (a preview), dispatch, pause/resume/recall, re-task in
flight, quick dispatch. Progress while flying is the tracker's job (tracker.py), in whichever
process owns the drone: this service knows no tracker, both meet in the database. Which status
a mission or leg takes is the lifecycle's (lifecycle.py): this service sends the commands and
hands what happened (took off, failed, paused, recalled, re-tasked) to it.

Every vehicle command goes through the guarded vehicle-command port
(`CommandService.as_actor`), typed, so each one passes the interlocks and is recorded with the
operator who caused it; the mission log says why it was sent. A drone that refuses a step
fails its leg with the autopilot's own reason, and the others go on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from mission.audit import service as audit
from mission.clock import utcnow
from mission.db import Database
from mission.fleet import vehicle_commands as vc
from mission.fleet.commands import CommandService
from mission.geo import haversine_m
from mission.incidents.models import Status
from mission.incidents.service import IncidentNotFound, IncidentService
from mission.missions import imports, inputs, lifecycle, lifecycle_store, store, views
from mission.missions.incident_flow import advance_incident
from mission.missions.inputs import MissionInputError, TargetInfo
from mission.missions.lifecycle import (
    COMMAND_FROM,
    DispatchFailed,
    DispatchStarted,
    Event,
    Paused,
    Recalled,
    Resumed,
    Retasked,
    TookOff,
)
from mission.missions.models import (
    LegStatus,
    MissionLeg,
    MissionStatus,
    MissionTarget,
    PatrolMission,
)
from mission.missions.planner_pool import PlannerPool
from mission.missions.schemas import (
    MissionPublic,
    PlanIn,
    PointIn,
    QuickDispatchIn,
    RetaskIn,
)
from mission.planning.errors import PlanningError, UnreachableTargetError
from mission.planning.flight_path import DEFAULT_RTL_ALT_M
from mission.planning.model import (
    Airframe,
    AltitudePolicy,
    DroneRoute,
    LatLon,
    Lawnmower,
    NoFlyZone,
    Perimeter,
    Plan,
    PlanRequest,
    PointTarget,
    Priority,
    Target,
)
from mission.safety import SafetyRefused, mission_refusal
from mission.zones.domain import ZoneKind
from mission.zones.service import ZoneNotFound, ZoneService
from telemetry.errors import CommandError, CommandResult
from telemetry.hub import TelemetryHub
from telemetry.mission_item import MissionItem
from telemetry.missions import FencePolygon
from telemetry.state import LinkState, VehicleState

log = logging.getLogger(__name__)


class MissionConflict(Exception):
    """The mission (or a drone of it) is not in a state that allows the request."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# (drone id, items seq 1 on) -> the refusal, or None: mission.safety.SafetyLimits
SeparationCheck = Callable[[int, Sequence[Any]], SafetyRefused | None]


class DroneBusy(MissionConflict):
    """A drone of the mission is on another leg under way (its mission named): the database
    holds one leg under way per drone (models.ACTIVE_LEG_INDEX), so a second dispatch of the
    same drone, from this process or another replica, is refused as a whole."""

    def __init__(self, drone_id: int, mission_id: int, field: str = "legs") -> None:
        super().__init__(f"drone {drone_id} is busy: it is on mission {mission_id}", field)
        self.drone_id = drone_id
        self.mission_id = mission_id


class InterlockRefused(MissionConflict):
    """Dispatch refused by the safety interlocks; `problems` has one entry per failed check:
    `{"drone_id", "check", "message"}` (check: link, ekf, gps, battery, altitude, no_fly)."""

    def __init__(self, mission_id: int, problems: list[dict[str, Any]]) -> None:
        text = "; ".join(f"drone {p['drone_id']}: {p['message']}" for p in problems)
        super().__init__(f"dispatch of mission {mission_id} refused: {text}", "legs")
        self.problems = problems


@dataclass(frozen=True)
class StepFailure:
    drone_id: int
    step: str
    error: dict[str, Any]

    @property
    def reason(self) -> str:
        e = self.error
        why = e.get("statustext") or e.get("reason") or e.get("message") or "failed"
        return f"{self.step}: {why}"


class MissionService:
    def __init__(
        self, db: Database, hub: TelemetryHub, commands: CommandService,
        planner: PlannerPool, *, incidents: IncidentService,
        zones: ZoneService, max_altitude_m: float = 120.0,
        import_radius_m: float = 20_000.0, rtl_alt_m: float = DEFAULT_RTL_ALT_M,
        separation: SeparationCheck | None = None, dispatch_step_s: float = 70.0,
    ) -> None:
        """`separation` (SafetyLimits.separation_problem): the own-fleet separation of a
        drone's upload, asked by the dispatch preflight before any command is sent.
        `dispatch_step_s`: the longest one dispatch step may take (a command's bound, over the
        bus included): a dispatching leg's deadline is renewed by this much before each step,
        and a leg past its deadline has lost its dispatcher (MissionLeg.dispatch_until)."""
        self.db = db
        self.dispatch_step_s = dispatch_step_s
        self.separation = separation
        self.max_altitude_m = max_altitude_m
        self.import_radius_m = import_radius_m
        self.rtl_alt_m = rtl_alt_m
        self.airframe = Airframe(rtl_alt_m=rtl_alt_m)  # what the planner times RTL with
        self.hub = hub
        self.commands = commands
        self.planner = planner
        self.incidents = incidents
        self.zones = zones

    # -- reading ---------------------------------------------------------------------------------

    async def get(self, mission_id: int) -> MissionPublic:
        return await self.db.run(lambda s: views.public(s, store.load(s, mission_id)))

    async def list_missions(self, status: str | None, limit: int) -> list[MissionPublic]:
        return await self.db.run(lambda s: views.list_missions(s, status, limit))

    # -- planning --------------------------------------------------------------------------------

    async def plan(self, body: PlanIn, actor: str) -> MissionPublic:
        if body.altitude_m > self.max_altitude_m:
            raise MissionInputError("altitude_m", f"{body.altitude_m:g} m is above the legal "
                                                  f"maximum of {self.max_altitude_m:g} m")
        if body.max_altitude_m > self.max_altitude_m:  # the planner's layers stay legal
            body = body.model_copy(update={"max_altitude_m": self.max_altitude_m})
        drones = [
            inputs.planner_drone(d, self.hub.latest(d), f"drones[{i}]", self.airframe)
            for i, d in enumerate(body.drones)
        ]
        if len(set(body.drones)) != len(body.drones):
            raise MissionInputError("drones", "a drone is listed twice")
        await self._refuse_busy(body.drones)
        targets, infos = await self._targets(body)
        if not targets:
            raise MissionInputError(
                "incidents", "nothing to patrol: give incidents, hotspots, points or zones")
        no_fly = inputs.no_fly(
            await self.zones.no_fly_shapes(), body.altitude_m, body.max_altitude_m)
        request = inputs.plan_request(body, drones, targets, no_fly)
        plan = await self._run_planner(request)
        return await self._store_plan(body.name, body.objective, body.model_dump(), request,
                                      plan, infos, actor)

    async def import_file(self, text: str, fmt: imports.FileFormat, drone_id: int, name: str,
                          actor: str, reserve_pct: float) -> MissionPublic:
        """A route another tool wrote (.plan, QGC WPL 110, GeoJSON) as a planned mission for one
        drone, judged from where that drone is (imports.py); dispatch checks it like any other
        (no-fly zones, battery, altitude), transit legs included."""
        state = self.hub.latest(drone_id)
        drone = inputs.planner_drone(drone_id, state, "drone_id", self.airframe)
        label = f"drone {drone_id}" + (f" ({state.name})" if state and state.name else "")
        await self._refuse_busy([drone_id])
        imported = await asyncio.to_thread(imports.parse, text, fmt)
        imports.check(imported, self.max_altitude_m, drone.base_amsl_m)
        imports.check_reach(imported, drone, label, self.import_radius_m, reserve_pct)
        items = imports.with_drone_home(imported.items, drone)
        route = imports.flown(items, drone)
        warnings = imports.notes(imported, drone, label, route)

        def tx(s: Session) -> MissionPublic:
            public = imports.store_imported(s, imported, items, route, warnings, drone_id, fmt,
                                            name, actor, reserve_pct)
            audit.add(s, "mission.import", actor=actor, mission_id=public.id, drone_id=drone_id,
                      params={"format": fmt, "items": len(imported.items)},
                      result={"status": public.status,
                              "transit_out_m": round(route.transit_out_m),
                              "transit_back_m": round(route.transit_back_m)})
            return public

        return await self.db.run(tx)

    async def _run_planner(self, request: PlanRequest) -> Plan:
        try:
            return await self.planner.plan(request)
        except UnreachableTargetError as e:
            raise MissionInputError(_field_of(e.target_id), str(e)) from None
        except PlanningError as e:
            raise MissionInputError("plan", str(e)) from None

    async def _targets(self, body: PlanIn) -> tuple[list[Target], list[TargetInfo]]:
        hold = inputs.hold_pattern(body.on_station)
        targets: list[Target] = []
        infos: list[TargetInfo] = []
        for i, inc_id in enumerate(body.incidents):
            field = f"incidents[{i}]"
            try:
                inc = await self.incidents.get(inc_id)
            except IncidentNotFound:
                raise MissionInputError(field, f"no incident {inc_id}", 404) from None
            t, info = inputs.incident_target(inc, hold, field)
            targets.append(t)
            infos.append(info)
        for i, h in enumerate(body.hotspots):
            sev = 3
            for inc_id in h.incident_ids:
                try:
                    sev = max(sev, (await self.incidents.get(inc_id)).severity)
                except IncidentNotFound:
                    raise MissionInputError(
                        f"hotspots[{i}].incident_ids", f"no incident {inc_id}", 404) from None
            prio = inputs.priority_of(h.priority, inputs.severity_priority(sev))
            key = f"hotspot:{i}"
            targets.append(PointTarget(key, LatLon(h.lat, h.lon), prio, hold,
                                       severity=inputs.severity_of(h.priority, sev)))
            infos.append(TargetInfo(key, "hotspot", h.label or f"hotspot {i + 1}", h.lat, h.lon,
                                    int(prio), tuple(h.incident_ids)))
        for i, p in enumerate(body.points):
            t, info = _point_target(p, hold, f"point:{i}")
            targets.append(t)
            infos.append(info)
        for i, z in enumerate(body.zones):
            field = f"zones[{i}].zone_id"
            try:
                zone = await self.zones.get(z.zone_id)
            except ZoneNotFound:
                raise MissionInputError(field, f"no zone {z.zone_id}", 404) from None
            if zone.kind != ZoneKind.RED:
                raise MissionInputError(field, f"zone {z.zone_id} is not a red zone")
            shape = next(s for s in await self.zones.shapes(ZoneKind.RED, active_only=False)
                         if s.id == z.zone_id)
            pattern: Lawnmower | Perimeter = (
                Lawnmower(z.spacing_m, z.heading_deg) if z.pattern == "lawnmower"
                else Perimeter(z.laps)
            )
            risk = zone.risk_level or 3
            prio = inputs.priority_of(z.priority, inputs.severity_priority(risk))
            t2, info = inputs.zone_target(shape, pattern, prio, f"zone:{z.zone_id}",
                                          inputs.severity_of(z.priority, risk))
            targets.append(t2)
            infos.append(info)
        keys = [t.id for t in targets]
        if len(set(keys)) != len(keys):
            raise MissionInputError("incidents", "a target is listed twice")
        return targets, infos

    async def _refuse_busy(self, drone_ids: Sequence[int]) -> None:
        busy = await self.db.run(lambda s: store.busy_drones(s, drone_ids))
        for i, d in enumerate(drone_ids):
            if d in busy:
                raise MissionInputError(
                    f"drones[{i}]", f"drone {d} is flying mission {busy[d]}", 409)

    async def _store_plan(
        self, name: str, objective: str, request_json: dict[str, Any], request: PlanRequest,
        plan: Plan, infos: Sequence[TargetInfo], actor: str,
    ) -> MissionPublic:
        visits = {v.target_id: (r, v) for r in plan.routes for v in r.visits}
        dropped = {d.target_id: d for d in plan.dropped}

        def tx(s: Session) -> MissionPublic:
            m = PatrolMission(
                name=name, objective=objective, created_by=actor, request=request_json,
                plan={
                    "makespan_s": plan.makespan_s, "total_time_s": plan.total_time_s,
                    "solver": plan.solver.value, "warnings": list(plan.warnings),
                    "response_s": plan.response_s,
                    "no_fly": [_zone_json(z) for z in request.no_fly_zones],
                    "battery_reserve_pct": request.battery_reserve_pct,
                },
            )
            s.add(m)
            s.flush()
            assert m.id is not None
            for r in plan.routes:
                if r.idle:
                    continue
                s.add(_leg_row(m.id, r))
            for info in infos:
                row = MissionTarget(mission_id=m.id, **inputs.target_dict(info))
                if info.key in visits:
                    route, v = visits[info.key]
                    row.drone_id = int(route.drone_id)
                    row.first_seq, row.last_seq = v.first_seq, v.last_seq
                    row.eta_s = v.eta_s
                elif info.key in dropped:
                    d = dropped[info.key]
                    row.dropped_reason = f"{d.reason.value}: {d.detail}"[:1000]
                else:
                    row.dropped_reason = "not planned"
                s.add(row)
            store.log(s, m.id, actor, "planned",
                      f"{len(visits)} targets on {sum(1 for r in plan.routes if not r.idle)} "
                      f"drones, {len(dropped)} dropped", solver=plan.solver.value)
            audit.add(s, "mission.plan", actor=actor, mission_id=m.id,
                      params={"name": name, "drones": request_json.get("drones", [])},
                      result={"status": m.status, "targets": len(visits),
                              "dropped": len(dropped)})
            s.flush()
            return views.public(s, m)

        return await self.db.run(tx)

    # -- dispatch --------------------------------------------------------------------------------

    async def preflight(self, mission_id: int, actor: str) -> None:
        """The interlocks for every drone of a planned mission; InterlockRefused (recorded in
        the mission log and the audit log) when any fails. No role can override them."""
        def load(s: Session) -> tuple[PatrolMission, list[MissionLeg]]:
            m = store.load(s, mission_id)
            if m.status != MissionStatus.PLANNED:
                raise MissionConflict(f"mission {mission_id} is {m.status}, not planned")
            legs = store.legs(s, mission_id)
            if not legs:
                raise MissionConflict(f"mission {mission_id} has no drone with work to do")
            return m, legs

        mission, legs = await self.db.run(load)
        reserve = float(mission.plan.get("battery_reserve_pct", 25.0))
        zones = await self.zones.no_fly_shapes()
        problems: list[dict[str, Any]] = []
        if mission.plan.get("solver") == "imported":
            problems += await self._refresh_imported(mission_id, legs, reserve)
        for leg in legs:
            found = _interlock(self.hub.latest(leg.drone_id), leg, reserve)
            if found is not None:
                problems.append({"drone_id": leg.drone_id, "check": found[0],
                                 "message": found[1]})
            # the same check the upload will pass, on the items as the vehicle will fly them
            refused = await asyncio.to_thread(
                mission_refusal, self.hub.latest(leg.drone_id), _upload_items(leg.items),
                zones, self.max_altitude_m, rtl_alt_m=self.rtl_alt_m)
            if refused is not None:
                problem: dict[str, Any] = {"drone_id": leg.drone_id, "check": refused.check,
                                           "message": refused.message}
                if refused.index >= 0:
                    problem["item"] = refused.index
                if refused.zone_id is not None:
                    problem["zone_id"] = refused.zone_id
                problems.append(problem)
            elif self.separation is not None and (
                    apart := self.separation(leg.drone_id, _upload_items(leg.items))) is not None:
                problems.append({"drone_id": leg.drone_id, "check": apart.check,
                                 "message": apart.message})
        if not problems:
            return
        err = InterlockRefused(mission_id, problems)

        def record(s: Session) -> None:
            store.log(s, mission_id, actor, "dispatch_refused", err.message[:2000],
                      interlocks=problems)
            audit.add(s, "mission.dispatch_refused", actor=actor, mission_id=mission_id,
                      outcome="refused", result={"interlocks": problems})

        await self.db.run(record)
        raise err

    async def _refresh_imported(self, mission_id: int, legs: list[MissionLeg],
                                reserve: float) -> list[dict[str, Any]]:
        """An imported route is estimated again from where its drone is now (transit legs,
        home slot, reach), and stored, so the interlocks and the upload see today's flight."""
        problems: list[dict[str, Any]] = []
        for leg in legs:
            state = self.hub.latest(leg.drone_id)
            try:
                drone = inputs.planner_drone(leg.drone_id, state, "drone_id", self.airframe)
            except MissionInputError:
                continue  # not ready: the interlock names why
            label = f"drone {leg.drone_id}" + (f" ({state.name})" if state and state.name else "")
            why = imports.refresh(leg, drone, label, self.import_radius_m, reserve)
            if why is not None:
                problems.append({"drone_id": leg.drone_id, "check": "reach", "message": why})

        def save(s: Session) -> None:
            m = store.load(s, mission_id)
            if m.status != MissionStatus.PLANNED:
                return  # a concurrent dispatch took it: its legs are not ours to rewrite
            for leg in legs:  # the estimate only: merging the row would write its status back
                row = s.get(MissionLeg, leg.id)
                assert row is not None
                for name in ("items", "path", "distance_m", "duration_s", "battery_used_pct",
                             "altitude_m"):
                    setattr(row, name, getattr(leg, name))
                s.add(row)
            longest = max(leg.duration_s for leg in legs)
            m.plan = {**m.plan, "makespan_s": longest, "total_time_s": longest}
            s.add(m)

        await self.db.run(save)
        return problems

    async def dispatch(self, mission_id: int, actor: str) -> MissionPublic:
        def begin(s: Session) -> tuple[PatrolMission, list[MissionLeg], list[MissionTarget]]:
            m = store.load(s, mission_id)
            if m.status != MissionStatus.PLANNED:
                raise MissionConflict(f"mission {mission_id} is {m.status}, not planned")
            legs = store.legs(s, mission_id)
            if not legs:
                raise MissionConflict(f"mission {mission_id} has no drone with work to do")
            _refuse_busy_legs(s, mission_id, legs)
            lifecycle_store.begin_dispatch(s, mission_id, actor)
            for leg in legs:
                lifecycle_store.apply(
                    s, leg, lifecycle.step(lifecycle_store.view_of(leg), DispatchStarted()),
                    actor)
                leg.dispatch_until = utcnow() + timedelta(seconds=self.dispatch_step_s)
            store.log(s, mission_id, actor, "dispatching")
            return m, legs, store.targets(s, mission_id)

        await self.preflight(mission_id, actor)
        try:
            mission, legs, targets = await self.db.run(begin)
        except (DroneBusy, IntegrityError) as e:
            # IntegrityError: another process dispatched one of these drones between our
            # check and our write; the database's one-leg-per-drone index refused ours.
            if isinstance(e, IntegrityError) and not store.is_active_leg_conflict(e):
                raise
            busy = e if isinstance(e, DroneBusy) else await self._busy_now(mission_id)
            await self._record_busy(mission_id, actor, busy)
            raise busy from None
        reserve = float(mission.plan.get("battery_reserve_pct", 25.0))
        no_fly = mission.plan.get("no_fly", [])
        # the tracker of whichever process owns each drone follows its leg from the database
        await asyncio.gather(*(
            self._dispatch_leg(leg, [t for t in targets if t.drone_id == leg.drone_id],
                               reserve, no_fly, actor)
            for leg in legs
        ))
        return await self._settle_after_dispatch(mission_id, actor)

    async def _dispatch_leg(
        self, leg: MissionLeg, targets: Sequence[MissionTarget], reserve: float,
        no_fly: list[dict[str, Any]], actor: str,
    ) -> None:
        d = leg.drone_id
        problem = _interlock(self.hub.latest(d), leg, reserve)
        if problem is not None:  # changed since the preflight a moment ago
            await self._fail_leg(leg, actor, f"refused before take-off: {problem[1]}")
            return
        await self._assign_incidents(targets, actor, leg.mission_id)
        port = self.commands.as_actor(actor, mission_id=leg.mission_id)
        steps: list[tuple[str, Callable[[], Awaitable[CommandResult]]]] = []
        if no_fly:
            fence = [FencePolygon(tuple((float(a), float(b)) for a, b in z["vertices"]),
                                  inclusion=False) for z in no_fly[:10]]
            steps.append(("geofence", lambda: port.upload_geofence(d, polygons=fence)))
        items = _upload_items(leg.items)
        steps.append(("upload", lambda: port.upload_mission(d, items)))
        steps.append(("start", lambda: port.start_mission(d, leg.altitude_m)))
        try:
            for step, send in steps:
                if not await self._renew_dispatch(leg, step):
                    return  # settled meanwhile by the drone's owner: sent no further
                failure = await _step(d, step, send)
                if failure is not None:
                    await self._fail_leg(leg, actor, failure.reason, failure.error)
                    return
        except asyncio.CancelledError:
            # this dispatcher goes away (its request or process ends): the drone's owner need
            # not wait for the deadline to settle the leg from what the drone reports
            await asyncio.shield(self._renew_dispatch(leg, "", expire=True))
            raise
        await self._leg_event(leg.id, actor, TookOff())

    async def _renew_dispatch(self, leg: MissionLeg, step: str, *, expire: bool = False) -> bool:
        """The leg is still this dispatch's to finish: its deadline is renewed for one more
        step (or, `expire`, ended now). Not when the drone's owner has settled it meanwhile
        (its dispatcher seemed gone: lifecycle._orphan); this dispatch then sends nothing more,
        and the mission log says so."""
        def q(s: Session) -> bool:
            row = s.get(MissionLeg, leg.id, with_for_update=True)
            if row is not None and row.status == LegStatus.DISPATCHING:
                row.dispatch_until = utcnow() + timedelta(
                    seconds=0.0 if expire else self.dispatch_step_s)
                s.add(row)
                return True
            if not expire:
                store.log(s, leg.mission_id, "system", "status_kept",
                          f"drone {leg.drone_id}: {step} not sent, its leg is "
                          f"{row.status if row else 'gone'}", leg.drone_id)
            return False

        return await self.db.run(q)

    async def _assign_incidents(
        self, targets: Sequence[MissionTarget], actor: str, mission_id: int
    ) -> None:
        for t in targets:
            for inc_id in t.incident_ids:
                await advance_incident(self.incidents, inc_id, Status.ASSIGNED, actor,
                                       f"assigned to mission {mission_id}")

    async def _fail_leg(self, leg: MissionLeg, actor: str, reason: str,
                        error: dict[str, Any] | None = None) -> None:
        assert leg.id is not None
        await self._leg_event(leg.id, actor, DispatchFailed(reason, error or {}))

    async def _leg_event(self, leg_id: int | None, actor: str, event: Event) -> None:
        """Store what the lifecycle makes of a dispatch or operator event
        (lifecycle_store.apply_event); the tracker reads it from the database."""
        assert leg_id is not None

        def tx(s: Session) -> None:
            leg = s.get(MissionLeg, leg_id, with_for_update=True)
            assert leg is not None
            lifecycle_store.apply_event(s, leg, event, actor)

        await self.db.run(tx)

    async def _busy_now(self, mission_id: int) -> MissionConflict:
        """Why the database refused this mission's dispatch, read after the refusal."""
        def q(s: Session) -> MissionConflict:
            try:
                _refuse_busy_legs(s, mission_id, store.legs(s, mission_id))
            except DroneBusy as e:
                return e
            return MissionConflict(f"mission {mission_id} is being dispatched already")

        return await self.db.run(q)

    async def _record_busy(self, mission_id: int, actor: str, e: MissionConflict) -> None:
        def record(s: Session) -> None:
            store.log(s, mission_id, actor, "dispatch_refused", e.message[:2000])
            audit.add(s, "mission.dispatch_refused", actor=actor, mission_id=mission_id,
                      drone_id=getattr(e, "drone_id", None), outcome="refused",
                      result={"message": e.message})

        await self.db.run(record)

    async def _settle_after_dispatch(self, mission_id: int, actor: str) -> MissionPublic:
        def tx(s: Session) -> MissionPublic:
            lifecycle_store.settle(s, mission_id, actor)
            return views.public(s, store.load(s, mission_id))

        return await self.db.run(tx)

    # -- control ---------------------------------------------------------------------------------

    async def control(
        self, mission_id: int, action: str, drone_id: int | None, actor: str
    ) -> tuple[MissionPublic, list[dict[str, Any]]]:
        """pause / resume / recall one drone of the mission or all of them."""
        wanted: dict[str, tuple[vc.VehicleCommand, Event]] = {
            "pause": (vc.Pause("BRAKE"), Paused()),
            "resume": (vc.Resume(), Resumed()),
            "recall": (vc.ReturnToLaunch(), Recalled(actor)),
        }
        command, event = wanted[action]
        port = self.commands.as_actor(actor, mission_id=mission_id)
        from_states = COMMAND_FROM[action]
        legs = await self.db.run(lambda s: _legs_of(s, mission_id))
        chosen = [leg for leg in legs if drone_id is None or leg.drone_id == drone_id]
        if drone_id is not None and not chosen:
            raise MissionInputError("drone_id", f"drone {drone_id} has no part in mission "
                                                f"{mission_id}", 404)
        chosen = [leg for leg in chosen if leg.status in from_states]
        if not chosen:
            raise MissionConflict(f"no drone of mission {mission_id} can {action} now",
                                  "drone_id")
        results: list[dict[str, Any]] = []

        async def one(leg: MissionLeg) -> None:
            failure = await _step(leg.drone_id, action,
                                  lambda: port.send(leg.drone_id, command))
            if failure is None:
                await self._leg_event(leg.id, actor, event)
                results.append({"drone_id": leg.drone_id, "ok": True})
            else:
                await self._log(mission_id, actor, f"{action}_failed", failure, leg.drone_id)
                results.append({"drone_id": leg.drone_id, "ok": False, "error": failure.error,
                                "reason": failure.reason})

        await asyncio.gather(*(one(leg) for leg in chosen))
        if action == "recall" and drone_id is None:
            await self.db.run(lambda s: _mark_aborted(s, mission_id, actor))
        return await self.get(mission_id), sorted(results, key=lambda r: r["drone_id"])

    async def recall_all(self, actor: str) -> list[dict[str, Any]]:
        """Every drone flying any mission returns to launch."""
        out: list[dict[str, Any]] = []
        busy = await self.db.run(lambda s: store.busy_drones(s))
        for mission_id in sorted(set(busy.values())):
            try:
                _, results = await self.control(mission_id, "recall", None, actor)
            except MissionConflict:
                continue
            out.extend({"mission_id": mission_id, **r} for r in results)
        return out

    async def _log(self, mission_id: int, actor: str, kind: str, failure: StepFailure,
                   drone_id: int) -> None:
        await self.db.run(lambda s: store.log(s, mission_id, actor, kind, failure.reason,
                                              drone_id, error=failure.error))

    # -- re-task ---------------------------------------------------------------------------------

    async def retask(self, mission_id: int, drone_id: int, body: RetaskIn,
                     actor: str) -> MissionPublic:
        """Add an urgent target to a drone in flight: replan the rest of its route from where
        it is (the new target is high priority), upload it and carry on."""
        if (body.incident_id is None) == (body.point is None):
            raise MissionInputError("incident_id", "give exactly one of incident_id or point")

        def load(s: Session) -> tuple[PatrolMission, MissionLeg, list[MissionTarget]]:
            m = store.load(s, mission_id)
            leg = next((x for x in store.legs(s, mission_id) if x.drone_id == drone_id), None)
            if leg is None:
                raise MissionInputError("drone_id", f"drone {drone_id} has no part in "
                                                    f"mission {mission_id}", 404)
            if leg.status not in COMMAND_FROM["retask"]:
                raise MissionConflict(f"drone {drone_id} is {leg.status}; only a flying or "
                                      "paused drone can be re-tasked", "drone_id")
            return m, leg, [t for t in store.targets(s, mission_id) if t.drone_id == drone_id]

        mission, leg, targets = await self.db.run(load)
        state = self.hub.latest(drone_id)
        drone = inputs.planner_drone(drone_id, state, "drone_id", self.airframe)
        if not drone.airborne:
            raise MissionConflict(f"drone {drone_id} is not airborne", "drone_id")
        hold = inputs.hold_pattern(body.on_station)
        remaining: list[Target] = []
        for t in targets:
            if t.observed_at is None and t.lat is not None and t.lon is not None \
                    and t.kind != "zone":
                prio = Priority(t.priority)
                remaining.append(PointTarget(t.key, LatLon(t.lat, t.lon), prio, hold,
                                             severity=inputs.PRIORITY_SEVERITY[prio]))
        if body.incident_id is not None:
            try:
                inc = await self.incidents.get(body.incident_id)
            except IncidentNotFound:
                raise MissionInputError("incident_id", f"no incident {body.incident_id}",
                                        404) from None
            new, info = inputs.incident_target(inc, hold, "incident_id", Priority.HIGH)
        else:
            assert body.point is not None
            new, info = _point_target(body.point, hold, f"point:r{leg.revision + 1}",
                                      Priority.HIGH)
        if any(t.key == info.key for t in targets):
            raise MissionConflict(f"{info.key} is already on drone {drone_id}'s route",
                                  "incident_id")
        req_json = mission.request
        max_alt = min(float(req_json.get("max_altitude_m", 120.0)), self.max_altitude_m)
        # the zones as they are now (they may have changed since the mission was planned)
        no_fly = inputs.no_fly(await self.zones.no_fly_shapes(), leg.altitude_m, max_alt)
        request = PlanRequest(
            drones=(drone,), targets=(*remaining, new),
            no_fly_zones=tuple(no_fly),
            altitude=AltitudePolicy(leg.altitude_m, 0.0, max_alt),
            battery_reserve_pct=float(mission.plan.get("battery_reserve_pct", 25.0)),
            time_limit_s=float(req_json.get("time_limit_s", 2.0)),
        )
        plan = await self._run_planner(request)
        route = plan.routes[0]
        lost = {d.target_id: d for d in plan.dropped}
        if info.key in lost:
            d = lost[info.key]
            raise MissionConflict(f"drone {drone_id} cannot add {info.label}: "
                                  f"{d.reason.value}: {d.detail}", "incident_id")
        port = self.commands.as_actor(actor, mission_id=mission_id)
        items = [i for i in route.items if i.seq != 0]
        retask_steps: tuple[tuple[str, Callable[[], Awaitable[CommandResult]]], ...] = (
            ("pause", lambda: port.pause(drone_id, "BRAKE")),
            ("upload", lambda: port.upload_mission(drone_id, items)),
            ("set_current", lambda: port.set_mission_current(drone_id, 1)),
            ("resume", lambda: port.resume(drone_id)),
        )
        for step, send in retask_steps:
            failure = await _step(drone_id, f"retask {step}", send)
            if failure is not None:
                await self._log(mission_id, actor, "retask_failed", failure, drone_id)
                raise MissionConflict(f"re-task of drone {drone_id} failed at "
                                      f"{failure.reason}", "drone_id")
        if body.incident_id is not None:
            await advance_incident(self.incidents, body.incident_id, Status.ASSIGNED, actor,
                                   f"re-tasked to mission {mission_id}")
        visits = {v.target_id: v for v in route.visits}

        def save(s: Session) -> MissionPublic:
            row = s.get(MissionLeg, leg.id)
            assert row is not None
            _apply_route(row, route)
            row.revision += 1
            row.current_seq = 0  # the new route starts at its item 0
            for t in targets:
                v = visits.get(t.key)
                if t.observed_at is None and v is not None:
                    t.first_seq, t.last_seq = v.first_seq, v.last_seq
                    t.eta_s = v.eta_s  # counted from this re-task, like the new route
                    s.add(t)
                elif t.observed_at is None:
                    t.dropped_reason = "dropped when re-tasked"
                    s.add(t)
            v = visits[info.key]
            s.add(MissionTarget(mission_id=mission_id, drone_id=drone_id,
                                first_seq=v.first_seq, last_seq=v.last_seq, eta_s=v.eta_s,
                                **inputs.target_dict(info)))
            lifecycle_store.apply_event(s, row, Retasked(info.label, row.revision), actor)
            return views.public(s, store.load(s, mission_id))

        return await self.db.run(save)

    # -- quick dispatch --------------------------------------------------------------------------

    async def quick_dispatch(self, body: QuickDispatchIn, actor: str) -> MissionPublic:
        """Send the nearest drone that can make it there and back to a point, now."""
        candidates: list[tuple[float, int, VehicleState]] = []
        for vid, st in (await self.ready_drones()).items():
            assert st.position is not None
            candidates.append((_metres(st.position.lat, st.position.lon, body.lat, body.lon),
                               vid, st))
        if not candidates:
            raise MissionConflict("no drone is free, linked and ready to fly", "lat")
        candidates.sort(key=lambda c: c[0])
        reasons: list[str] = []
        for _, vid, _ in candidates[:3]:
            plan_in = PlanIn(
                name=f"quick dispatch to {body.lat:.5f}, {body.lon:.5f}", drones=[vid],
                incidents=[body.incident_id] if body.incident_id is not None else [],
                points=[] if body.incident_id is not None else
                [PointIn(lat=body.lat, lon=body.lon, priority="high", label="quick dispatch")],
                on_station=body.on_station, altitude_m=body.altitude_m,
                battery_reserve_pct=body.battery_reserve_pct, time_limit_s=1.0,
            )
            try:
                planned = await self.plan(plan_in, actor)
            except MissionInputError as e:
                reasons.append(f"drone {vid}: {e.message}")
                continue
            if planned.dropped or not planned.legs:
                why = planned.dropped[0].dropped_reason if planned.dropped else "no route"
                reasons.append(f"drone {vid}: {why}")
                await self._discard(planned.id, actor)
                continue
            try:
                return await self.dispatch(planned.id, actor)
            except InterlockRefused as e:
                reasons.extend(f"drone {p['drone_id']}: {p['message']}" for p in e.problems)
                await self._discard(planned.id, actor)
            except DroneBusy as e:  # dispatched by another replica meanwhile
                reasons.append(e.message)
                await self._discard(planned.id, actor)
        raise MissionConflict("no drone can reach the point and keep its reserve: "
                              + "; ".join(reasons), "lat")


    async def ready_drones(self) -> dict[int, VehicleState]:
        """Drones free to be sent now: linked, position and EKF good, on no unfinished leg
        (the interlocks still decide at dispatch)."""
        busy = await self.db.run(lambda s: store.busy_drones(s))
        return {vid: st for vid, st in self.hub.snapshot().items()
                if vid not in busy and st.link is LinkState.UP and st.position is not None
                and st.ekf_ok}

    async def discard(self, mission_id: int, actor: str, reason: str) -> None:
        """Drop a planned mission that will not be dispatched (a proposal declined)."""
        await self.db.run(lambda s: _discard(s, mission_id, actor, reason))

    async def _discard(self, mission_id: int, actor: str) -> None:
        await self.db.run(lambda s: _discard(s, mission_id, actor))


# -- helpers ----------------------------------------------------------------------------------


def _field_of(target_id: str) -> str:
    kind, _, ident = target_id.partition(":")
    return {"incident": "incidents", "zone": "zones", "hotspot": "hotspots",
            "point": "points"}.get(kind, "targets") + (f" ({target_id})" if ident else "")


def _point_target(p: PointIn, hold: Any, key: str,
                  priority: Priority | None = None) -> tuple[PointTarget, TargetInfo]:
    prio = priority or inputs.PRIORITY[p.priority]
    return (PointTarget(key, LatLon(p.lat, p.lon), prio, hold,
                        severity=inputs.PRIORITY_SEVERITY[prio]),
            TargetInfo(key, "point", p.label or key, p.lat, p.lon, int(prio), ()))


def _interlock(state: VehicleState | None, leg: MissionLeg,
               reserve: float) -> tuple[str, str] | None:
    """(check, message) for the first check a commander would insist on before a drone leaves
    the ground and that this drone fails now; None when it may go."""
    if state is None:
        return "link", "drone is not on the fleet link"
    if state.link is not LinkState.UP:
        return "link", f"link is {state.link.value}"
    if state.gps_fix not in ("3D", "DGPS", "RTK_FLOAT", "RTK_FIXED", "PPP"):
        return "gps", f"GPS fix is {state.gps_fix} (3D fix needed)"
    if not state.ekf_ok:
        return "ekf", "EKF has no position estimate"
    if state.battery_pct is None:
        return "battery", "battery level unknown"
    need = leg.battery_used_pct + reserve
    if state.battery_pct < need:
        return "battery", (f"battery {state.battery_pct:.0f} % is below the {need:.0f} % the "
                           f"route needs with the {reserve:.0f} % reserve")
    return None


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return haversine_m(lat1, lon1, lat2, lon2)  # the one Earth radius: mission/geo.py


def _items_json(route: DroneRoute) -> list[dict[str, Any]]:
    return [i.to_json() for i in route.items]


def _apply_route(leg: MissionLeg, route: DroneRoute) -> None:
    leg.items = _items_json(route)
    leg.path = [[p.lat, p.lon] for p in route.path]
    leg.distance_m = route.distance_m
    leg.duration_s = route.duration_s
    leg.battery_used_pct = route.battery_used_pct
    leg.altitude_m = route.altitude_m
    leg.last_item_seq = len(route.items) - 1


def _leg_row(mission_id: int, route: DroneRoute) -> MissionLeg:
    leg = MissionLeg(mission_id=mission_id, drone_id=int(route.drone_id))
    _apply_route(leg, route)
    return leg


def _upload_items(items: Sequence[dict[str, Any]]) -> list[MissionItem]:
    """A stored leg's items without seq 0 (the link puts the home placeholder there)."""
    return [MissionItem.from_json(item) for item in items if item["seq"] != 0]


async def _step(drone_id: int, step: str,
                send: Callable[[], Awaitable[CommandResult]]) -> StepFailure | None:
    """One command of a mission step through the guarded port; its failure (the autopilot's
    reason, or the interlock that refused it) as a StepFailure, None when it succeeded."""
    try:
        await send()
    except (CommandError, SafetyRefused) as e:
        return StepFailure(drone_id, step, e.to_dict())
    except Exception as e:  # noqa: BLE001 - unknown vehicle: still a failure of this step
        return StepFailure(drone_id, step, {"message": str(e)})
    return None


def _zone_json(z: NoFlyZone) -> dict[str, Any]:
    return {"id": z.id, "vertices": [[p.lat, p.lon] for p in z.polygon]}


def _refuse_busy_legs(s: Session, mission_id: int, legs: Sequence[MissionLeg]) -> None:
    """DroneBusy for the first drone of `legs` that is on a leg under way of another mission;
    the index behind it (models.ACTIVE_LEG_INDEX) catches what this read cannot see yet."""
    busy = store.busy_drones(s, [leg.drone_id for leg in legs])
    for leg in legs:
        other = busy.get(leg.drone_id)
        if other is not None and other != mission_id:
            raise DroneBusy(leg.drone_id, other)


def _legs_of(s: Session, mission_id: int) -> list[MissionLeg]:
    store.load(s, mission_id)  # MissionNotFound for an unknown mission
    return store.legs(s, mission_id)


def _mark_aborted(s: Session, mission_id: int, actor: str) -> None:
    """Record the recall; the mission ends (aborted) when the last drone has landed."""
    m = store.load(s, mission_id)
    if m.status in (MissionStatus.ACTIVE, MissionStatus.DISPATCHING):
        m.reason = f"recalled by {actor}"
        s.add(m)
        store.log(s, mission_id, actor, "recalled", f"all drones recalled by {actor}")


def _discard(s: Session, mission_id: int, actor: str,
             reason: str = "quick dispatch chose another drone") -> None:
    lifecycle_store.discard(s, mission_id, actor, reason)
    store.log(s, mission_id, actor, "discarded", reason)
