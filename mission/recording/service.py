"""Recording: tracks downsampled to one point per drone per interval, and every event.

The recorder is an ordinary hub subscriber: it wakes once per interval, takes the latest state
of each drone that changed (the hub coalesces, so this *is* the downsampling) and all events
since, and writes them in one transaction in a worker thread. A slow database therefore delays
only the recorder; if it falls far behind, the hub's bounded event buffer drops the oldest events
and the recorder logs how many.

With a bus, every process records only the drones its own link serves (`records`), so a track or
event of a drone is written once however many replicas mirror it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from mission.db import Database
from mission.recording.models import EventPublic, EventRecord, TrackPoint
from telemetry.hub import Subscription, TelemetryHub
from telemetry.state import VehicleEvent, VehicleState

log = logging.getLogger(__name__)

# Rows that could not be written (the database away: PostgreSQL restarting) are kept and
# written with the next flush, at most this many (the oldest dropped, counted). Before, the
# first failed write ended the recorder for the life of the process: a link worker recorded
# no track or event after a PostgreSQL restart (found by tests/test_chaos.py).
MAX_UNWRITTEN = 50_000
FAILURE_LOG_EVERY_S = 10.0


class RecordingService:
    def __init__(self, db: Database, hub: TelemetryHub, *, interval_s: float = 1.0,
                 records: Callable[[int], bool] | None = None) -> None:
        self.db = db
        self.hub = hub
        self.interval_s = interval_s
        self.records = records  # None: every drone in the hub
        self._last: dict[int, tuple[float, float, float, str, bool]] = {}
        self._last_t: dict[int, float] = {}
        self.points_written = 0
        self.events_written = 0
        self.unwritten: list[TrackPoint | EventRecord] = []  # a failed write's, for the next
        self.unwritten_dropped = 0
        self._next_failure_log = 0.0

    async def run(self) -> None:
        """Record until cancelled; flushes what is pending on the way out."""
        with self.hub.subscribe(max_events=10_000) as sub:
            try:
                while True:
                    await asyncio.sleep(self.interval_s)
                    try:
                        await self._flush(sub)
                    except Exception as e:
                        self._failed(e)
            finally:
                try:
                    await asyncio.shield(self._flush(sub))
                except Exception:
                    log.exception("final recording flush failed")

    async def _flush(self, sub: Subscription) -> None:
        states = sub.take_states()
        events, dropped = sub.take_events()
        if dropped:
            log.warning("recorder fell behind: %d events dropped", dropped)
        keep = self.records
        if keep is not None:
            states = {vid: st for vid, st in states.items() if keep(vid)}
            events = [e for e in events if keep(e.vehicle_id)]
        points = [p for s in states.values() if (p := self._point(s)) is not None]
        records = [_event_record(e) for e in events]
        rows: list[TrackPoint | EventRecord] = [*self.unwritten, *points, *records]
        if not rows:
            return
        try:
            await self.db.run(lambda s: s.add_all(rows))
        except Exception:
            # fresh copies: a failed session may have left ids or state on these objects
            fresh = [type(r).model_validate(r.model_dump(exclude={"id"})) for r in rows]
            self.unwritten_dropped += max(0, len(fresh) - MAX_UNWRITTEN)
            self.unwritten = fresh[-MAX_UNWRITTEN:]
            raise
        self.unwritten = []
        self.points_written += sum(1 for r in rows if isinstance(r, TrackPoint))
        self.events_written += sum(1 for r in rows if isinstance(r, EventRecord))

    def _failed(self, e: Exception) -> None:
        """Logged with its traceback at most every FAILURE_LOG_EVERY_S, else in one line."""
        now = time.monotonic()
        if now >= self._next_failure_log:
            self._next_failure_log = now + FAILURE_LOG_EVERY_S
            log.error("recording failed; %d rows kept for the next try (%d dropped so far)",
                      len(self.unwritten), self.unwritten_dropped, exc_info=e)
        else:
            log.warning("recording failed again (%d rows kept): %s: %s", len(self.unwritten),
                        type(e).__name__, str(e).splitlines()[0] if str(e) else "")

    def _point(self, s: VehicleState) -> TrackPoint | None:
        p = s.position
        if p is None:
            return None
        key = (round(p.lat, 7), round(p.lon, 7), round(p.alt_amsl, 1), s.mode, s.armed)
        t = s.updated_at
        # A drone sitting still is written once a minute rather than every second.
        if self._last.get(s.vehicle_id) == key and t - self._last_t.get(s.vehicle_id, 0) < 60:
            return None
        self._last[s.vehicle_id] = key
        self._last_t[s.vehicle_id] = t
        return TrackPoint(
            drone_id=s.vehicle_id, t=t, lat=p.lat, lon=p.lon, alt_amsl=p.alt_amsl,
            alt_rel=s.alt_rel, heading_deg=s.heading_deg, ground_speed=s.ground_speed,
            mode=s.mode, armed=s.armed,
        )

    async def track_geojson(
        self, drone_id: int, t_from: float | None, t_to: float | None, limit: int = 100_000
    ) -> dict[str, Any]:
        """GeoJSON Feature with a LineString of [lon, lat, alt_amsl] (RFC 7946 order) and the
        times of its vertices; geometry is null when fewer than two points were recorded."""

        def q(session: Session) -> list[TrackPoint]:
            stmt = select(TrackPoint).where(TrackPoint.drone_id == drone_id)
            if t_from is not None:
                stmt = stmt.where(TrackPoint.t >= t_from)
            if t_to is not None:
                stmt = stmt.where(TrackPoint.t <= t_to)
            return list(session.exec(stmt.order_by(col(TrackPoint.t)).limit(limit)))

        rows = await self.db.run(q)
        coords = [[r.lon, r.lat, round(r.alt_amsl, 2)] for r in rows]
        return {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": coords} if len(coords) >= 2
            else None,
            "properties": {
                "drone_id": drone_id,
                "count": len(rows),
                "from": rows[0].t if rows else t_from,
                "to": rows[-1].t if rows else t_to,
                "times": [r.t for r in rows],
            },
        }

    async def events(
        self, *, drone_id: int | None, kind: str | None, t_from: float | None,
        t_to: float | None, limit: int,
    ) -> list[EventPublic]:
        def q(session: Session) -> list[EventPublic]:
            stmt = select(EventRecord)
            if drone_id is not None:
                stmt = stmt.where(EventRecord.drone_id == drone_id)
            if kind is not None:
                stmt = stmt.where(EventRecord.kind == kind)
            if t_from is not None:
                stmt = stmt.where(EventRecord.t >= t_from)
            if t_to is not None:
                stmt = stmt.where(EventRecord.t <= t_to)
            rows = session.exec(stmt.order_by(col(EventRecord.t).desc()).limit(limit))
            return [
                EventPublic(
                    id=r.id or 0, drone_id=r.drone_id, t=r.t, time=_iso(r.t), kind=r.kind,
                    severity=r.severity, message=r.message, data=r.data or {},
                )
                for r in rows
            ]

        return await self.db.run(q)


def _event_record(e: VehicleEvent) -> EventRecord:
    return EventRecord(
        drone_id=e.vehicle_id, t=e.time, kind=e.kind.value, severity=e.severity,
        message=e.message, data=dict(e.data),
    )


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()
