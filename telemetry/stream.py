"""Encoding and pacing of the live telemetry stream (schema in docs/telemetry-ws.md).

Transport-agnostic: `StreamSession.run()` takes an async `send(text)` callable, so the FastAPI
route is a thin adapter and tests can drive it directly. Per client:
- one snapshot of the fleet on connect;
- then updates, each vehicle about `rate_hz` times per second (a state with a new position
  sample may go a quarter interval early, so positions are sent as they arrive; at most 4/3 of
  the rate); a vehicle whose state changed again before its next slot is sent once, with its
  latest state (coalescing), and changes of several vehicles that fall due together share one
  frame;
- events as they come (batched per tick, 10-50 ms), with a count of any dropped because the
  client was too slow to drain its bounded event buffer;
- the traffic picture (other aircraft: telemetry/traffic.py) once a second while it holds
  tracks or has changed since the last frame, and on connect when it holds any;
- with an `audience`, domain changes (missions, incidents) as they come, in that audience's
  view (the producer decides who sees what), the latest per object (coalescing), with a count
  of any lost so that the client fetches afresh.
A client that reads slowly only delays its own `send`; the hub keeps at most one pending state
per vehicle and `max_events` events for it, so its memory is bounded.
Vehicle JSON is cached per published state object and shared by all clients: at 50 clients the
encoding cost stays that of one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from telemetry.hub import Subscription, TelemetryHub
from telemetry.state import DomainEvent, VehicleEvent, VehicleState

SCHEMA_VERSION = 3
TRAFFIC_PERIOD_S = 1.0
DEFAULT_RATE_HZ = 5.0
MIN_RATE_HZ = 0.1
MAX_RATE_HZ = 50.0

SendText = Callable[[str], Awaitable[None]]


def vehicle_payload(s: VehicleState) -> dict[str, Any]:
    """Compact per-vehicle object; key meanings are documented in docs/telemetry-ws.md."""
    p = s.position
    h = s.home
    return {
        "id": s.vehicle_id,
        "sysid": s.sysid,
        "name": s.name,
        "link": s.link.value,
        "hb_t": _r(s.last_heartbeat, 3),
        "lat": None if p is None else round(p.lat, 7),
        "lon": None if p is None else round(p.lon, 7),
        "alt": None if p is None else round(p.alt_amsl, 2),
        "ralt": _r(s.alt_rel, 2),
        "hdg": _r(s.heading_deg, 1),
        "gs": _r(s.ground_speed, 2),
        "vs": _r(s.climb_rate, 2),
        "bat": s.battery_pct,
        "volt": _r(s.battery_voltage, 2),
        "mode": s.mode,
        "armed": s.armed,
        "landed": s.landed_state,
        "fix": s.gps_fix,
        "sats": s.satellites,
        "ekf": s.ekf_ok,
        "home": None if h is None else [round(h.lat, 7), round(h.lon, 7), round(h.alt_amsl, 2)],
        "wp": [s.mission_current, s.mission_total],
        "tb": s.position_time_boot_ms,
        "rid": None if s.remote_id_ok is None else [s.remote_id_ok, s.remote_id_error],
        "cam": _camera(s),
        "t": round(s.updated_at, 3),
    }


def _camera(s: VehicleState) -> dict[str, Any] | None:
    """What the drone says of its camera (`cam` in docs/telemetry-ws.md)."""
    c = s.camera
    if c is None:
        return None
    return {"hfov": _r(c.hfov_deg, 1), "vfov": _r(c.vfov_deg, 1),
            "pitch": _r(c.gimbal_pitch_deg, 1), "yaw": _r(c.gimbal_yaw_deg, 1),
            "ctr": None if c.centre is None else [round(c.centre[0], 7), round(c.centre[1], 7)]}


def event_payload(e: VehicleEvent) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": e.kind.value, "id": e.vehicle_id, "t": round(e.time, 3)}
    if e.message:
        out["msg"] = e.message
    if e.severity is not None:
        out["sev"] = e.severity
    if e.data:
        out["data"] = dict(e.data)
    return out


def _r(v: float | None, digits: int) -> float | None:
    return None if v is None else round(v, digits)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


# Keys the service adds to a vehicle's object from what it derives of a state (the camera
# footprint: mission/camera/stream.py); computed once per published state like the rest.
Extras = Callable[[VehicleState], Mapping[str, Any]]


class StateEncoder:
    """JSON of the latest state per vehicle, computed once per published state object."""

    def __init__(self, extras: Extras | None = None) -> None:
        self._cache: dict[int, tuple[VehicleState, str]] = {}
        self._extras = extras
        self.encoded = 0

    def vehicle_json(self, state: VehicleState) -> str:
        hit = self._cache.get(state.vehicle_id)
        if hit is not None and hit[0] is state:
            return hit[1]
        payload = vehicle_payload(state)
        if self._extras is not None:
            payload.update(self._extras(state))
        text = _dumps(payload)
        self._cache[state.vehicle_id] = (state, text)
        self.encoded += 1
        return text

    def forget(self, vehicle_id: int) -> None:
        self._cache.pop(vehicle_id, None)

    def frame(self, kind: str, states: Iterable[VehicleState], now: float) -> str:
        body = ",".join(self.vehicle_json(s) for s in states)
        return f'{{"v":{SCHEMA_VERSION},"type":"{kind}","t":{now:.3f},"vehicles":[{body}]}}'


def events_frame(events: list[VehicleEvent], dropped: int, now: float) -> str:
    return _dumps(
        {
            "v": SCHEMA_VERSION,
            "type": "events",
            "t": round(now, 3),
            "events": [event_payload(e) for e in events],
            "dropped": dropped,
        }
    )


def changes_frame(events: list[DomainEvent], audience: str, dropped: int, now: float) -> str | None:
    """The `changes` frame of `events` as `audience` sees them (None: nothing to send). Each
    object's JSON was made once by the producer and is shared by every client."""
    items = [
        f'{{"kind":{_dumps(e.kind)},"id":{int(e.key)},"data":{view}}}'
        for e in events if (view := e.views.get(audience)) is not None
    ]
    if not items and not dropped:
        return None
    return (f'{{"v":{SCHEMA_VERSION},"type":"changes","t":{now:.3f},"dropped":{int(dropped)},'
            f'"changes":[{",".join(items)}]}}')


def traffic_frame(tracks: list[dict[str, Any]], now: float) -> str:
    return _dumps({"v": SCHEMA_VERSION, "type": "traffic", "t": round(now, 3),
                   "tracks": tracks})


def removed_frame(ids: Iterable[int], now: float) -> str:
    return _dumps({"v": SCHEMA_VERSION, "type": "removed", "t": round(now, 3), "ids": sorted(ids)})


@dataclass(frozen=True)
class StreamOptions:
    """What a client asked for: per-vehicle update rate and (optionally) which vehicles."""

    rate_hz: float = DEFAULT_RATE_HZ
    vehicles: frozenset[int] | None = None
    max_events: int = 256
    # whose view of domain changes this client gets; None: no domain changes at all
    audience: str | None = None


def parse_options(
    query: Mapping[str, str],
    *,
    default_rate: float = DEFAULT_RATE_HZ,
    max_rate: float = MAX_RATE_HZ,
) -> StreamOptions:
    """Read `rate` and `vehicles` query parameters; ValueError names the bad field."""
    rate = default_rate
    raw_rate = query.get("rate")
    if raw_rate is not None:
        try:
            rate = float(raw_rate)
        except ValueError:
            raise ValueError(f"rate: not a number: {raw_rate!r}") from None
        if not MIN_RATE_HZ <= rate <= max_rate:
            raise ValueError(f"rate: must be between {MIN_RATE_HZ} and {max_rate} Hz")
    vehicles: frozenset[int] | None = None
    raw_v = query.get("vehicles")
    if raw_v:
        try:
            vehicles = frozenset(int(x) for x in raw_v.split(",") if x.strip())
        except ValueError:
            raise ValueError(f"vehicles: expected comma-separated ids, got {raw_v!r}") from None
    return StreamOptions(rate_hz=rate, vehicles=vehicles)


class StreamSession:
    """Feeds one client: snapshot, then paced updates and events until the hub or client ends."""

    def __init__(
        self, hub: TelemetryHub, encoder: StateEncoder, send: SendText, options: StreamOptions
    ) -> None:
        self._hub = hub
        self._encoder = encoder
        self._send = send
        self.options = options
        self._interval = 1.0 / options.rate_hz
        self.frames_sent = 0
        self.audience = options.audience

    def set_rate(self, rate_hz: float) -> None:
        """Change the per-vehicle rate mid-stream (client control message)."""
        if not MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ:
            raise ValueError(f"rate: must be between {MIN_RATE_HZ} and {MAX_RATE_HZ} Hz")
        self._interval = 1.0 / rate_hz

    async def _emit(self, text: str) -> None:
        await self._send(text)
        self.frames_sent += 1

    def _tick(self) -> float:
        """How often this client's mailbox is looked at: an eighth of the per-vehicle interval,
        10..50 ms. Waking on every publish instead cost each client up to 100 wake-ups a second
        at 100 drones, and 50 such clients congested the event loop (p99 +150 ms); a tick of
        25 ms at 5 Hz adds at most that much to a position's age."""
        return max(0.01, min(self._interval / 8, 0.05))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        opts = self.options
        with self._hub.subscribe(opts.vehicles, max_events=opts.max_events,
                                 domain=opts.audience is not None) as sub:
            snap = self._hub.snapshot(opts.vehicles)
            sub.take_states()  # the snapshot already holds these
            await self._emit(
                self._encoder.frame("snapshot", sorted(snap.values(), key=_vid), time.time())
            )
            next_allowed: dict[int, float] = {vid: loop.time() + self._interval for vid in snap}
            now = loop.time()
            positions = {vid: (s.position_time_boot_ms, now + self._interval)
                         for vid, s in snap.items()}
            traffic_version, traffic_due = -1, 0.0
            while not sub.closed:
                if loop.time() >= traffic_due:
                    traffic_due = loop.time() + TRAFFIC_PERIOD_S
                    traffic_version = await self._send_traffic(traffic_version)
                await asyncio.sleep(self._tick())
                removed = sub.take_removed()
                if removed:
                    for vid in removed:
                        next_allowed.pop(vid, None)
                    await self._emit(removed_frame(removed, time.time()))
                events, dropped = sub.take_events()
                if events or dropped:
                    await self._emit(events_frame(events, dropped, time.time()))
                if sub.domain:
                    await self._send_changes(sub)
                # New position samples are paced on their own (a quarter interval early at
                # most), so a position is sent when it arrives, not after a status message
                # that took the slot.
                due, _ = sub.take_due(loop.time(), next_allowed, self._interval,
                                      positions, self._interval / 4)
                if due:
                    due.sort(key=_vid)
                    await self._emit(self._encoder.frame("update", due, time.time()))

    async def _send_traffic(self, last_version: int) -> int:
        """A `traffic` frame when there are tracks (their ages move) or the picture changed
        since `last_version` (-1: never sent; an empty picture then sends nothing)."""
        picture = self._hub.traffic
        now = time.time()
        tracks = picture.tracks(now)
        if tracks or (last_version >= 0 and picture.version != last_version):
            await self._emit(traffic_frame([t.to_dict(now) for t in tracks], now))
            return picture.version
        return last_version if last_version < 0 else picture.version

    async def _send_changes(self, sub: Subscription) -> None:
        changes, lost = sub.take_domain()
        # read at every tick: a client whose role changes mid-stream gets its new view
        audience = self.audience
        if audience is None or (not changes and not lost):
            return
        frame = changes_frame(changes, audience, lost, time.time())
        if frame is not None:
            await self._emit(frame)


def _vid(s: VehicleState) -> int:
    return s.vehicle_id
