"""Traffic conflicts: every drone in the air against every aircraft of the traffic picture.

Twice a second (so an alert comes well within 2 s of the threshold being crossed) each pair
(drone, aircraft) gets a level from the geometry (mission/airspace/geometry.py). A pair that
rises raises a vehicle event, `traffic_advisory` or `traffic_alert`, on the hub: the recorder
writes it to the events table (`GET /api/events?kind=traffic_alert`) and the WebSocket carries
it to the consoles' alerts panel. A pair that has been clear for `clear_after_s` (or whose track
expired, or whose drone landed) raises `traffic_clear`; the hold-down keeps a pair at a
threshold's edge from flapping.

The same minima between our own drones (`separation_h_m`, `separation_v_m`: 30 m / 15 m): two
drones in flight that come that close anyway (the interlock in mission/safety.py refuses the
commands that would bring them there, but a drone drifts, or an operator flies it by hand) raise
`separation_alert` on both, and `separation_clear` once apart for `clear_after_s`. No automatic
action: which of the two should give way is the operator's call.

A rise may also act: `actions` maps a level to `none`, `hold` (BRAKE), `descend` (to
`descend_alt_m` above home, where it stays) or `rtl`. The command goes through the guarded
vehicle-command port as `system:traffic`, so the interlocks judge it and the command record and
the audit log show it as the system's action. It runs on its own task: a slow drone never
delays the next evaluation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mission.airspace.geometry import Encounter, Level, Mover, Thresholds, encounter, level
from mission.fleet import vehicle_commands as vc
from telemetry.hub import TelemetryHub
from telemetry.state import EventKind, VehicleState, make_event
from telemetry.traffic import Track, TrackKey

log = logging.getLogger(__name__)

ACTOR = "system:traffic"
ACTIONS = ("none", "hold", "descend", "rtl")
_KIND = {Level.ADVISORY: EventKind.TRAFFIC_ADVISORY, Level.ALERT: EventKind.TRAFFIC_ALERT}
_SEVERITY = {Level.ADVISORY: 4, Level.ALERT: 2}
SAME_ACTION_S = 10.0  # one action per drone this often, whatever the number of intruders


@dataclass
class _Pair:
    level: Level
    clear_since: float | None = None
    last: Encounter | None = None


def airborne(s: VehicleState) -> bool:
    return s.armed and s.landed_state != "on_ground" and s.position is not None


class TrafficMonitor:
    """Levels per (drone, aircraft), their events and the automatic actions.

    `port` is the guarded vehicle-command port for `system:traffic`; `owns` (with a bus) says
    which drones this process decides for, so two replicas never both act."""

    def __init__(self, hub: TelemetryHub, port: vc.VehicleCommands, *,
                 thresholds: Thresholds | None = None,
                 actions: dict[Level, str] | None = None, descend_alt_m: float = 20.0,
                 period_s: float = 0.5, clear_after_s: float = 3.0,
                 separation_h_m: float = 30.0, separation_v_m: float = 15.0,
                 owns: Callable[[int], bool] | None = None) -> None:
        self.hub = hub
        self.port = port
        self.thresholds = thresholds or Thresholds()
        self.actions = actions or {Level.ADVISORY: "none", Level.ALERT: "hold"}
        for a in self.actions.values():
            if a not in ACTIONS:
                raise ValueError(f"traffic action: one of {', '.join(ACTIONS)}, not {a!r}")
        self.descend_alt_m = descend_alt_m
        self.period_s = period_s
        self.clear_after_s = clear_after_s
        self.owns = owns
        self.separation_h_m = separation_h_m
        self.separation_v_m = separation_v_m
        self._pairs: dict[tuple[int, TrackKey], _Pair] = {}  # (drone, track key)
        self._own: dict[tuple[int, int], float | None] = {}  # (a, b) -> apart since
        self._acted: dict[tuple[int, str], float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.period_s)
                try:
                    self.evaluate(time.time())
                except Exception:
                    log.exception("traffic evaluation failed")
        finally:
            for task in list(self._tasks):
                task.cancel()

    def tracks(self) -> list[dict[str, Any]]:
        now = time.time()
        return [t.to_dict(now) for t in self.hub.traffic.tracks(now)]

    def conflicts(self) -> list[dict[str, Any]]:
        """Pairs at advisory or alert now."""
        return [{"drone_id": d, **_ident(k), "level": p.level.name.lower(),
                 **(_numbers(p.last) if p.last else {})}
                for (d, k), p in sorted(self._pairs.items(), key=lambda kv: (kv[0][0],
                                                                            str(kv[0][1])))
                if p.level > Level.CLEAR]

    def evaluate(self, now: float) -> None:
        tracks = {t.key: t for t in self.hub.traffic.tracks(now)}
        seen: set[tuple[int, TrackKey]] = set()
        for state in self.hub.snapshot().values():
            vid = state.vehicle_id
            if not airborne(state) or (self.owns is not None and not self.owns(vid)):
                continue
            own = _own(state)
            for tkey, track in tracks.items():
                e = encounter(own, _other(track, own.alt_m), self.thresholds.horizon_s)
                lvl = level(e, self.thresholds)
                key = (vid, tkey)
                pair = self._pairs.get(key)
                if pair is None and lvl is Level.CLEAR:
                    continue
                seen.add(key)
                if pair is None:
                    pair = self._pairs[key] = _Pair(Level.CLEAR)
                self._step(state, track, pair, lvl, e, now)
        for key in [k for k in self._pairs if k not in seen]:
            pair = self._pairs.pop(key)
            if pair.level > Level.CLEAR:
                self._clear(key[0], key[1], None, pair, now, "track lost or drone landed")
        self._own_fleet(now)

    def _own_fleet(self, now: float) -> None:
        """Our drones in flight against each other (each pair once)."""
        if not (self.separation_h_m > 0 and self.separation_v_m > 0):
            return
        flying = sorted((s for s in self.hub.snapshot().values() if airborne(s)),
                        key=lambda s: s.vehicle_id)
        inside: set[tuple[int, int]] = set()
        for i, a in enumerate(flying):
            for b in flying[i + 1:]:
                key = (a.vehicle_id, b.vehicle_id)
                if self.owns is not None and not (self.owns(key[0]) or self.owns(key[1])):
                    continue
                e = encounter(_own(a), _own(b), 0.0)
                if e.h_now_m < self.separation_h_m and e.v_now_m < self.separation_v_m:
                    inside.add(key)
                    if key not in self._own:
                        for vid, other in (key, key[::-1]):
                            self.hub.publish_event(make_event(
                                EventKind.SEPARATION_ALERT, vid,
                                f"drone {other} {e.h_now_m:.0f} m away, {e.v_now_m:.0f} m "
                                "vertically", severity=2, now=now, other=other,
                                h_m=round(e.h_now_m, 1), v_m=round(e.v_now_m, 1)))
                    self._own[key] = None
        for key, since in list(self._own.items()):
            if key in inside:
                continue
            if since is None:
                self._own[key] = now
            elif now - since >= self.clear_after_s:
                del self._own[key]
                for vid, other in (key, key[::-1]):
                    self.hub.publish_event(make_event(
                        EventKind.SEPARATION_CLEAR, vid, f"drone {other} apart again",
                        severity=6, now=now, other=other))

    def _step(self, state: VehicleState, track: Track, pair: _Pair, lvl: Level,
              e: Encounter, now: float) -> None:
        vid = state.vehicle_id
        pair.last = e
        if lvl > pair.level:
            pair.level, pair.clear_since = lvl, None
            action = self.actions.get(lvl, "none")
            self._event(_KIND[lvl], vid, track, e, now, severity=_SEVERITY[lvl], action=action)
            self._act(state, action, now)
        elif lvl is Level.CLEAR:
            if pair.clear_since is None:
                pair.clear_since = now
            elif now - pair.clear_since >= self.clear_after_s:
                del self._pairs[(vid, track.key)]
                self._clear(vid, track.key, track, pair, now, "separated")
        else:
            pair.clear_since = None  # still (or again) inside: the hold-down restarts

    def _clear(self, vid: int, tkey: TrackKey, track: Track | None, pair: _Pair, now: float,
               why: str) -> None:
        data: dict[str, Any] = {**_ident(tkey), "was": pair.level.name.lower(), "reason": why}
        if track is not None and track.callsign:
            data["callsign"] = track.callsign
        name = data.get("callsign") or data.get("icao") or data.get("uas_id")
        self.hub.publish_event(make_event(
            EventKind.TRAFFIC_CLEAR, vid, f"traffic {name} clear", severity=6, now=now, **data))

    def _event(self, kind: EventKind, vid: int, track: Track, e: Encounter, now: float, *,
               severity: int, action: str) -> None:
        name = track.label
        rel = None if track.alt_amsl_m is None else round(relative_alt(track, self.hub, vid), 1)
        msg = (f"traffic {name}: {e.h_now_m / 1000:.2f} km, "
               f"{'?' if rel is None else f'{rel:+.0f}'} m")
        self.hub.publish_event(make_event(
            kind, vid, msg, severity=severity, now=now, **_ident(track.key),
            callsign=track.callsign, traffic_alt_amsl_m=track.alt_amsl_m, relative_alt_m=rel,
            action=action, **_numbers(e)))

    def _act(self, state: VehicleState, action: str, now: float) -> None:
        vid = state.vehicle_id
        if action == "none":
            return
        last = self._acted.get((vid, action))
        if last is not None and now - last < SAME_ACTION_S:
            return
        self._acted[(vid, action)] = now
        task = asyncio.get_running_loop().create_task(self._send(state, action),
                                                      name=f"traffic-{action}-{vid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, state: VehicleState, action: str) -> None:
        vid = state.vehicle_id
        try:
            if action == "hold":
                await self.port.pause(vid, "BRAKE")
            elif action == "rtl":
                await self.port.return_to_launch(vid)
            elif action == "descend":
                pos = state.position
                if pos is None or (state.alt_rel or 0.0) <= self.descend_alt_m:
                    return
                await self.port.goto(vid, pos.lat, pos.lon, self.descend_alt_m)
        except Exception as e:  # recorded by the guarded port; the monitor goes on
            log.warning("traffic action %s on drone %s failed: %s", action, vid, e,
                        extra={"drone_id": vid, "command": action, "actor": ACTOR})


def relative_alt(track: Track, hub: TelemetryHub, vid: int) -> float:
    """Traffic altitude relative to the drone (m, + above)."""
    s = hub.latest(vid)
    own = s.position.alt_amsl if s is not None and s.position is not None else 0.0
    return (track.alt_amsl_m or own) - own


def _ident(key: TrackKey) -> dict[str, Any]:
    """How events and conflicts name a track: `icao` (hex) for ADS-B; `uas_id` (and a null
    `icao`) for Remote ID."""
    if isinstance(key, int):
        return {"icao": f"{key:06X}"}
    return {"icao": None, "uas_id": key.removeprefix("rid:")}


def _numbers(e: Encounter) -> dict[str, float]:
    return {"h_m": round(e.h_now_m, 1), "v_m": round(e.v_now_m, 1),
            "t_cpa_s": round(e.t_cpa_s, 1), "h_cpa_m": round(e.h_cpa_m, 1),
            "v_cpa_m": round(e.v_cpa_m, 1)}


def _own(s: VehicleState) -> Mover:
    p = s.position
    assert p is not None
    return Mover(p.lat, p.lon, p.alt_amsl, s.heading_deg or 0.0, s.ground_speed or 0.0,
                 s.climb_rate or 0.0)


def _other(t: Track, own_alt: float) -> Mover:
    """An aircraft without a reported altitude is taken at the drone's (the safe side)."""
    return Mover(t.lat, t.lon, own_alt if t.alt_amsl_m is None else t.alt_amsl_m,
                 t.heading_deg or 0.0, t.speed_mps or 0.0, t.vertical_rate_mps or 0.0)
