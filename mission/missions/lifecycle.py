"""The mission lifecycle as one pure state machine: which status may follow which, what a leg
does with each thing that happens to it, and how a mission's status follows from its legs.

Pure on purpose (no FastAPI, no database, no asyncio): the service and the tracker are the only
writers of statuses, and both ask this module first, so one table says what can happen and the
unit tests can walk every path in milliseconds. `store.set_status` / `store.set_leg_status`
refuse any change this module does not allow, so an illegal status cannot be stored.

The reducer `step(leg, event)` returns the leg as it is after the event plus ordered effects
for the caller to persist (advance the current item, mark targets observed, change status, log,
settle the mission). Only the vehicle ends a flying leg: a service stop changes nothing
(issue 19), and a leg reattached after a restart is judged from what the drone reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mission.camera.footprint import LatLon, polygon_contains
from mission.geo import haversine_m
from mission.missions.models import ACTIVE_LEG, FINAL_LEG, LegStatus, MissionStatus

L = LegStatus
M = MissionStatus

# Landing ends a leg from any airborne status; the vehicle (mission complete or not, recalled
# or not) decides which final status.
_LANDED = frozenset({L.COMPLETED, L.FAILED, L.ABORTED})
# In the air, the leg follows the last command the vehicle accepted: a pause, take-off or
# re-task that the vehicle accepted after a recall or its final item was reached is what it now
# flies. Which statuses an operator may *ask* from is COMMAND_FROM, checked before sending.

LEG_TRANSITIONS: Mapping[LegStatus, frozenset[LegStatus]] = {
    L.PLANNED: frozenset({L.DISPATCHING}),
    L.DISPATCHING: frozenset({L.FLYING, L.FAILED, L.RETURNING}),
    L.FLYING: frozenset({L.PAUSED, L.RETURNING}) | _LANDED,
    L.PAUSED: frozenset({L.FLYING, L.RETURNING}) | _LANDED,
    L.RETURNING: frozenset({L.FLYING, L.PAUSED}) | _LANDED,
    L.COMPLETED: frozenset(),
    L.ABORTED: frozenset(),
    L.FAILED: frozenset(),
}

MISSION_TRANSITIONS: Mapping[MissionStatus, frozenset[MissionStatus]] = {
    M.PLANNED: frozenset({M.DISPATCHING, M.ABORTED}),  # aborted: discarded by quick dispatch
    # a mission whose legs all end before the dispatch returns settles straight from here
    M.DISPATCHING: frozenset({M.ACTIVE, M.COMPLETED, M.ABORTED, M.FAILED}),
    M.ACTIVE: frozenset({M.COMPLETED, M.ABORTED, M.FAILED}),
    M.COMPLETED: frozenset(),
    M.ABORTED: frozenset(),
    M.FAILED: frozenset(),
}

# a leg the tracker follows (and a drone that is busy: one such leg per drone, in the database)
ACTIVE_LEGS = ACTIVE_LEG

# the leg statuses from which an operator may ask for each command (checked on the leg as read
# before the command is sent; what is stored afterwards is judged by LEG_TRANSITIONS)
COMMAND_FROM: Mapping[str, frozenset[LegStatus]] = {
    "pause": frozenset({L.FLYING}),
    "resume": frozenset({L.PAUSED}),
    "recall": ACTIVE_LEGS,
    "retask": frozenset({L.FLYING, L.PAUSED}),
}

MISSION_STATE_COMPLETE = 5  # MAVLink MISSION_STATE_COMPLETE
_AIRBORNE = ("in_air", "takeoff", "landing")
# A drone flying a target's first item this close to the target (horizontally) is on station:
# the autopilot reports a held item (LOITER_TIME) reached only when the hold has ended, so the
# item reports alone would put eyes on scene a whole hold late.
ON_STATION_M = 10.0
_ON_GROUND = ("on_ground", "unknown")


class IllegalTransition(ValueError):
    """A status change the lifecycle does not allow; nothing was changed."""

    def __init__(self, what: str, before: str, after: str) -> None:
        super().__init__(f"illegal {what} transition {before} -> {after}")
        self.before, self.after = before, after


def check_leg(before: str, after: str) -> None:
    """Raise IllegalTransition unless a leg may go from `before` to `after` (staying is no
    transition and always allowed)."""
    b, a = LegStatus(before), LegStatus(after)
    if a != b and a not in LEG_TRANSITIONS[b]:
        raise IllegalTransition("leg", b.value, a.value)


def check_mission(before: str, after: str) -> None:
    """Raise IllegalTransition unless a mission may go from `before` to `after`."""
    b, a = MissionStatus(before), MissionStatus(after)
    if a != b and a not in MISSION_TRANSITIONS[b]:
        raise IllegalTransition("mission", b.value, a.value)


# -- the leg as the reducer sees it -------------------------------------------------------------


@dataclass(frozen=True)
class TargetView:
    row_id: int
    first_seq: int
    incident_ids: tuple[int, ...] = ()
    observed: bool = False
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class LegView:
    """What the lifecycle needs to know of one drone's leg. `flew`: the drone has been seen
    armed in the air on this leg; `complete`: it reported the mission flown to its end;
    `orphaned`: its dispatch was cut off (its dispatching process is gone: a restart or a
    takeover found it dispatching, or its dispatch deadline passed), so no dispatcher will
    finish it. These and `camera` are what the following process saw, not
    stored (a new owner learns them again from the drone)."""

    drone_id: int
    status: LegStatus
    last_item_seq: int
    current_seq: int = 0
    targets: tuple[TargetView, ...] = ()
    flew: bool = False
    complete: bool = False
    recalled: bool = False
    orphaned: bool = False
    # NAZORAT_OBSERVE_REQUIRES_FOOTPRINT, and whether the drone has reported a camera on this
    # leg: with both, a target with a position is observed only once it is inside the camera's
    # footprint (`_in_footprint`), never by reaching its waypoint
    requires_footprint: bool = False
    camera: bool = False

    def by_footprint(self, t: TargetView) -> bool:
        """Whether `t` is observed by the camera's footprint rather than by its waypoint."""
        return self.requires_footprint and self.camera and t.lat is not None \
            and t.lon is not None


# -- what can happen to a leg -------------------------------------------------------------------


@dataclass(frozen=True)
class DispatchStarted:
    pass


@dataclass(frozen=True)
class TookOff:
    pass


@dataclass(frozen=True)
class DispatchFailed:
    reason: str
    error: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Paused:
    pass


@dataclass(frozen=True)
class Resumed:
    pass


@dataclass(frozen=True)
class Recalled:
    actor: str


@dataclass(frozen=True)
class Retasked:
    label: str
    revision: int


@dataclass(frozen=True)
class ItemReached:
    seq: int


@dataclass(frozen=True)
class Telemetry:
    """The fields of a vehicle state the lifecycle reads."""

    link_up: bool
    armed: bool
    landed_state: str
    mode: str
    mission_state: int | None = None
    mission_current: int | None = None
    lat: float | None = None
    lon: float | None = None
    # the drone reports a camera; where its image is on the ground now (None: unknown)
    camera: bool = False
    footprint: tuple[LatLon, ...] | None = None


@dataclass(frozen=True)
class VehicleNote:
    """An event worth the mission log and nothing more: link lost or restored, STATUSTEXT,
    low battery, mode change."""

    kind: str
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reattached:
    """A process took the drone over (the service restarted, or the drone's previous owner
    is gone) and follows this leg again, from what the drone reports. `dispatcher_gone`: for
    a leg still dispatching, no process is sending its commands any more (its deadline has
    passed, or it has none): the drone's report settles it (`orphaned`)."""

    dispatcher_gone: bool = True


@dataclass(frozen=True)
class ServiceStopping:
    """The service is stopping while the leg is going: the vehicle flies on, nothing changes."""


Event = (DispatchStarted | TookOff | DispatchFailed | Paused | Resumed | Recalled | Retasked
         | ItemReached | Telemetry | VehicleNote | Reattached | ServiceStopping)


# -- what the caller persists -------------------------------------------------------------------


@dataclass(frozen=True)
class Advance:
    """The drone is at (or past) item `seq`: store it as the leg's current item, never lower."""

    seq: int


@dataclass(frozen=True)
class Observe:
    """Target row `target.row_id` was observed by the drone at item `seq`."""

    target: TargetView
    seq: int


@dataclass(frozen=True)
class Transition:
    """Store the leg's new status (and `reason` when given) and log `kind: message`; an empty
    `kind` logs nothing (a dispatch starting is logged once for the whole mission)."""

    status: LegStatus
    kind: str
    message: str
    reason: str | None = None
    started: bool = False
    finished: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Log:
    kind: str
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Settle:
    """The leg has ended: the mission may have ended with it (`settle`)."""


Effect = Advance | Observe | Transition | Log | Settle


@dataclass(frozen=True)
class Outcome:
    leg: LegView
    effects: tuple[Effect, ...] = ()

    @property
    def transitions(self) -> tuple[Transition, ...]:
        return tuple(e for e in self.effects if isinstance(e, Transition))


# -- the reducer --------------------------------------------------------------------------------


def step(leg: LegView, event: Event) -> Outcome:
    """The leg after `event` and what to persist. Raises IllegalTransition for a dispatch or
    operator event that LEG_TRANSITIONS does not allow from the leg's status (a command accepted
    by a drone whose leg has ended meanwhile); vehicle reports never raise (a report that does
    not apply changes nothing)."""
    d = leg.drone_id
    match event:
        case DispatchStarted():
            return _to(leg, Transition(L.DISPATCHING, "", ""))
        case TookOff():
            return _to(leg, Transition(L.FLYING, "flying", f"drone {d} took off on its route",
                                       started=True))
        case DispatchFailed(reason, error):
            return _to(leg, Transition(L.FAILED, "leg_failed", reason, reason=reason,
                                       finished=True, data={"error": dict(error)}))
        case Paused():
            return _to(leg, Transition(L.PAUSED, "pause", f"pause drone {d}"))
        case Resumed():
            return _to(leg, Transition(L.FLYING, "resume", f"resume drone {d}"))
        case Recalled(actor):
            out = _to(leg, Transition(L.RETURNING, "recall", f"recall drone {d}",
                                      reason=f"recalled by {actor}"))
            return replace(out, leg=replace(out.leg, recalled=True))
        case Retasked(label, revision):
            out = _to(leg, Transition(L.FLYING, "retasked", f"drone {d}: {label} added",
                                      data={"revision": revision}))
            # a new route from its item 0: the drone proves again that it flies it
            return replace(out, leg=replace(out.leg, current_seq=0, flew=False, complete=False))
        case ItemReached(seq):
            return _item_reached(leg, seq)
        case Telemetry():
            return _telemetry(leg, event)
        case VehicleNote(kind, message, data):
            return Outcome(leg, (Log(kind, message, dict(data)),))
        case Reattached(dispatcher_gone):
            dispatching = leg.status == L.DISPATCHING
            return Outcome(replace(leg, flew=not dispatching,
                                   orphaned=dispatching and dispatcher_gone), (Log(
                "reattached", f"drone {d} taken over (a restart, or its owner gone); "
                              f"following it again (leg {leg.status.value}, at item "
                              f"{leg.current_seq})"),))
        case ServiceStopping():
            return Outcome(leg)
    raise TypeError(f"not a lifecycle event: {event!r}")  # pragma: no cover


def _to(leg: LegView, t: Transition) -> Outcome:
    check_leg(leg.status, t.status)
    return Outcome(replace(leg, status=t.status), (t,))


def _item_reached(leg: LegView, seq: int) -> Outcome:
    if leg.status == L.DISPATCHING:
        return Outcome(leg)  # the dispatcher owns the leg until the take-off succeeded
    if seq >= leg.last_item_seq > 0:
        leg = replace(leg, complete=True)
    return _passed(leg, seq, inclusive=True)


def _telemetry(leg: LegView, st: Telemetry) -> Outcome:
    if not st.link_up:
        return Outcome(leg)  # a silent drone proves nothing; its leg waits for the link
    if st.armed and st.landed_state in _AIRBORNE and not leg.flew:
        leg = replace(leg, flew=True)
    if st.camera and leg.requires_footprint and not leg.camera:
        leg = replace(leg, camera=True)
    if leg.status == L.DISPATCHING and leg.orphaned:
        return _orphan(leg, st)
    if leg.status == L.DISPATCHING or leg.status in FINAL_LEG:
        return Outcome(leg)
    if st.mission_state == MISSION_STATE_COMPLETE and leg.flew and not leg.complete:
        leg = replace(leg, complete=True)
    effects: tuple[Effect, ...] = ()
    cur = st.mission_current or 0
    if st.mode == "AUTO" and cur > leg.current_seq:
        out = _passed(leg, cur, inclusive=False)
        leg, effects = out.leg, out.effects
    if st.mode == "AUTO" and leg.flew and st.lat is not None and st.lon is not None:
        out = _on_station(leg, cur, st.lat, st.lon)
        leg, effects = out.leg, effects + out.effects
    if leg.flew and st.footprint:
        out = _in_footprint(leg, cur, st.footprint)
        leg, effects = out.leg, effects + out.effects
    if leg.flew and not st.armed and st.landed_state in _ON_GROUND:
        out = _landed(leg, st.mode)
        leg, effects = out.leg, effects + out.effects
    return Outcome(leg, effects)


def _orphan(leg: LegView, st: Telemetry) -> Outcome:
    """A leg whose dispatch a service stop cut off, as the drone's first report after the
    restart shows it: in the air, it flies (the operator can pause, re-task or recall it, and
    the log says in which mode it was found); on the ground and disarmed, it never left, and
    nobody will send the rest of its dispatch: it fails, saying so. Anything in between (armed
    on the ground) waits for the next report."""
    d = leg.drone_id
    if st.armed and st.landed_state in _AIRBORNE:
        out = _to(replace(leg, orphaned=False), Transition(
            L.FLYING, "flying", f"drone {d} found in the air in {st.mode} after a restart cut "
                                "its dispatch off", started=True))
        return replace(out, effects=(*out.effects, Settle()))  # the mission is active now
    if not st.armed and st.landed_state in _ON_GROUND:
        why = ("the process dispatching it stopped during the dispatch; the drone did not "
               "take off")
        out = _to(replace(leg, orphaned=False), Transition(
            L.FAILED, "leg_failed", why, reason=why, finished=True))
        return replace(out, effects=(*out.effects, Settle()))
    return Outcome(leg)


def _passed(leg: LegView, seq: int, *, inclusive: bool) -> Outcome:
    """The drone is at item `seq` (MISSION_CURRENT) or has reached it (inclusive)."""
    newly = [t for t in leg.targets if not t.observed and not leg.by_footprint(t)
             and (t.first_seq <= seq if inclusive else t.first_seq < seq)]
    effects: list[Effect] = [Advance(seq)]
    if seq >= leg.last_item_seq and leg.status == L.FLYING:
        effects.append(Transition(L.RETURNING, "returning", "last item: flying home"))
        leg = replace(leg, status=L.RETURNING)
    effects += [Observe(t, seq) for t in newly]
    targets = tuple(replace(t, observed=True) if t in newly else t for t in leg.targets)
    return Outcome(replace(leg, targets=targets, current_seq=max(leg.current_seq, seq)),
                   tuple(effects))


def _on_station(leg: LegView, cur: int, lat: float, lon: float) -> Outcome:
    """Targets whose first item the drone is flying and whose position it has reached."""
    newly = [t for t in leg.targets if not t.observed and t.first_seq == cur
             and not leg.by_footprint(t) and t.lat is not None and t.lon is not None
             and haversine_m(lat, lon, t.lat, t.lon) <= ON_STATION_M]
    if not newly:
        return Outcome(leg)
    targets = tuple(replace(t, observed=True) if t in newly else t for t in leg.targets)
    return Outcome(replace(leg, targets=targets), tuple(Observe(t, cur) for t in newly))


def _in_footprint(leg: LegView, cur: int, footprint: tuple[LatLon, ...]) -> Outcome:
    """Targets the camera's image covers now: eyes on the scene, wherever the route is."""
    newly = [t for t in leg.targets if not t.observed and leg.by_footprint(t)
             and t.lat is not None and t.lon is not None
             and polygon_contains(footprint, t.lat, t.lon)]
    if not newly:
        return Outcome(leg)
    targets = tuple(replace(t, observed=True) if t in newly else t for t in leg.targets)
    return Outcome(replace(leg, targets=targets), tuple(Observe(t, cur) for t in newly))


def _landed(leg: LegView, mode: str) -> Outcome:
    """Landed and disarmed: the leg ends, as the vehicle says it went."""
    effects: tuple[Effect, ...] = ()
    if leg.recalled and not leg.complete:
        status, reason = L.ABORTED, "recalled; landed"
    elif leg.complete or leg.current_seq >= leg.last_item_seq:
        status, reason = L.COMPLETED, ""
        out = _passed(leg, leg.last_item_seq, inclusive=True)
        leg, effects = out.leg, out.effects
    else:
        status = L.FAILED
        reason = (f"landed and disarmed at item {leg.current_seq} of {leg.last_item_seq} "
                  f"in {mode}")
    t = Transition(status, f"leg_{status.value}",
                   f"drone {leg.drone_id}: {reason or 'route flown, landed'}",
                   reason=reason or None, finished=True)
    check_leg(leg.status, status)
    return Outcome(replace(leg, status=status), (*effects, t, Settle()))


# -- the mission follows its legs ---------------------------------------------------------------


@dataclass(frozen=True)
class LegSummary:
    drone_id: int
    status: LegStatus
    reason: str = ""


@dataclass(frozen=True)
class MissionSettlement:
    """Store `status` (with `reason` when not None), set finished_at when `finished`, and log
    `kind: message`."""

    status: MissionStatus
    reason: str | None
    kind: str
    message: str
    finished: bool


def settle(status: MissionStatus, mission_reason: str,
           legs: Iterable[LegSummary]) -> MissionSettlement | None:
    """The mission's status as its legs make it, or None when it stays as it is.

    Once no leg is dispatching, a mission with a leg still going is active (the reason names
    the drones that failed to leave); once every leg has ended it is completed (all flown),
    failed (any failed: their reasons) or aborted (recalled)."""
    legs = list(legs)
    if status not in (M.DISPATCHING, M.ACTIVE) or not legs:
        return None  # a plan has not started; a final mission stays as it ended
    going = [leg for leg in legs if leg.status not in FINAL_LEG]
    failed = [f"drone {leg.drone_id}: {leg.reason}" for leg in legs
              if leg.status == L.FAILED]
    if going:
        if status != M.DISPATCHING or any(leg.status in (L.PLANNED, L.DISPATCHING)
                                          for leg in going):
            return None
        return MissionSettlement(M.ACTIVE, "; ".join(failed) if failed else None, "active",
                                 f"{len(going)} of {len(legs)} drones flying", False)
    statuses = {leg.status for leg in legs}
    if statuses == {L.COMPLETED}:
        return MissionSettlement(M.COMPLETED, "", "completed", "every drone landed", True)
    if L.FAILED in statuses:
        reason = "; ".join(failed)
        return MissionSettlement(M.FAILED, reason, "failed", reason or "every drone landed",
                                 True)
    reason = mission_reason or "recalled"
    return MissionSettlement(M.ABORTED, reason, "aborted", reason, True)


def begin_dispatch(status: MissionStatus) -> MissionStatus:
    """A planned mission starts dispatching."""
    check_mission(status, M.DISPATCHING)
    return M.DISPATCHING


def discard(status: MissionStatus) -> MissionStatus:
    """A planned mission nobody will fly (quick dispatch chose another drone)."""
    check_mission(status, M.ABORTED)
    return M.ABORTED
