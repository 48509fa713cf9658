"""Prometheus metrics, one `CollectorRegistry` per app (several apps in one test process do not
collide, and nothing lands in prometheus_client's global registry).

Two kinds of metric:
- recorded as things happen: command latency (`CommandService` calls `observe_command`), the
  number of WebSocket clients (the /ws/telemetry route), HTTP requests (middleware);
- read at scrape time by `FleetCollector`: drones known and connected, and the telemetry link's
  own counters (`FleetLink.stats()`: the telemetry layer counts, mission only reads), and
  missions by status from the database, cached for `mission_ttl_s` and queried in a worker
  thread (`Database.run`) by `refresh()`, which the route awaits before rendering (bounded by
  `query_timeout_s`; on failure the last counts stay).

| metric | type | labels |
|---|---|---|
| nazorat_drones_known | gauge | |
| nazorat_drones_connected | gauge | (link up) |
| nazorat_drone_link_up | gauge | drone_id |
| nazorat_telemetry_messages_received_total | counter | |
| nazorat_telemetry_drone_messages_received_total | counter | drone_id |
| nazorat_telemetry_ingest_batches_total, nazorat_telemetry_dropped_events_total | counter | |
| nazorat_websocket_clients | gauge | |
| nazorat_command_duration_seconds | histogram | command, outcome |
| nazorat_missions | gauge | status |
| nazorat_http_requests_total | counter | method, route (template), status |
| nazorat_video_frames_received_total, nazorat_video_frames_skipped_total | counter | drone_id |
| nazorat_video_viewers | gauge | drone_id (WebRTC sessions) |
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import Session, col, select

from mission.db import Database
from mission.missions.models import MissionStatus, PatrolMission
from telemetry.hub import TelemetryHub
from telemetry.link import FleetLink
from telemetry.state import LinkState
from telemetry.video.hub import VideoHub

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# From a mode change (~50 ms) to a mission upload or a take-off (tens of seconds).
COMMAND_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def _missions_by_status(session: Session) -> dict[str, int]:
    rows = session.exec(
        select(PatrolMission.status, func.count(col(PatrolMission.id)))
        .group_by(PatrolMission.status)
    )
    return {str(status): int(n) for status, n in rows}


class FleetCollector(Collector):
    """Reads the hub, the link and the cached mission counts at each scrape (on the loop)."""

    def __init__(self, hub: TelemetryHub, link: FleetLink, metrics: ServiceMetrics,
                 video: VideoHub | None = None,
                 viewers: Callable[[], dict[int, int]] | None = None) -> None:
        self.hub = hub
        self.link = link
        self.metrics = metrics
        self.video = video
        self.viewers = viewers

    def collect(self) -> Iterable[Metric]:
        stats: dict[str, Any] = self.link.stats()
        states = self.hub.snapshot()
        ids = sorted({v.vehicle_id for v in self.link.vehicles()} | set(states))
        up = {vid for vid, s in states.items() if s.link is LinkState.UP}
        yield GaugeMetricFamily("nazorat_drones_known", "drones registered with the fleet link",
                                value=len(ids))
        yield GaugeMetricFamily("nazorat_drones_connected", "drones whose link is up",
                                value=len(up))
        per_drone = GaugeMetricFamily("nazorat_drone_link_up", "1 while the drone's link is up",
                                      labels=["drone_id"])
        for vid in ids:
            per_drone.add_metric([str(vid)], 1.0 if vid in up else 0.0)
        yield per_drone
        yield CounterMetricFamily(
            "nazorat_telemetry_messages_received",
            "MAVLink messages received from all drones (rate() gives messages/s)",
            value=stats["messages_received"])
        by_drone = CounterMetricFamily(
            "nazorat_telemetry_drone_messages_received", "MAVLink messages received per drone",
            labels=["drone_id"])
        for vid, n in sorted(stats["messages_by_vehicle"].items()):
            by_drone.add_metric([str(vid)], n)
        yield by_drone
        yield CounterMetricFamily("nazorat_telemetry_ingest_batches",
                                  "batches handed from MAVSDK's thread to the event loop",
                                  value=stats["ingest_batches"])
        yield CounterMetricFamily("nazorat_telemetry_dropped_events",
                                  "event messages dropped because the loop fell behind",
                                  value=stats["ingest_dropped_events"])
        yield from self._video()
        missions = self.metrics.mission_counts
        if missions is not None:
            g = GaugeMetricFamily("nazorat_missions", "patrol missions by status",
                                  labels=["status"])
            for status in MissionStatus:
                g.add_metric([status.value], missions.get(status.value, 0))
            yield g


    def _video(self) -> Iterable[Metric]:
        if self.video is None:
            return
        for name, what, counts in (
                ("received", "H.264 frames the service read from each drone's camera",
                 self.video.frames_received),
                ("skipped", "frames dropped for viewers (or recorders) that fell behind",
                 self.video.frames_skipped)):
            c = CounterMetricFamily(f"nazorat_video_frames_{name}", what, labels=["drone_id"])
            for vid, n in sorted(counts.items()):
                c.add_metric([str(vid)], n)
            yield c
        g = GaugeMetricFamily("nazorat_video_viewers", "WebRTC video sessions per drone",
                              labels=["drone_id"])
        viewers = self.viewers() if self.viewers is not None else {}
        for vid in sorted(set(self.video.sources()) | set(viewers)):
            g.add_metric([str(vid)], viewers.get(vid, 0))
        yield g


class ServiceMetrics:
    """The app's registry and the metrics recorded as things happen. Made by the runtime;
    `attach()` adds the scrape-time collector once the runtime has started the hub, link and
    database, `detach()` removes it at shutdown."""

    def __init__(self, *, mission_ttl_s: float = 2.0, query_timeout_s: float = 2.0) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.command_duration = Histogram(
            "nazorat_command_duration_seconds",
            "drone commands from the API or a mission, from request to recorded result",
            ["command", "outcome"], buckets=COMMAND_BUCKETS, registry=self.registry)
        self.ws_clients = Gauge("nazorat_websocket_clients",
                                "WebSocket clients following the fleet (/ws/telemetry)",
                                registry=self.registry)
        self.http_requests = Counter("nazorat_http_requests", "HTTP requests answered",
                                     ["method", "route", "status"], registry=self.registry)
        self.mission_ttl_s = mission_ttl_s
        self.query_timeout_s = query_timeout_s  # a locked database must not hang the scrape
        self.mission_counts: dict[str, int] | None = None
        self._missions_at = -float("inf")
        self._missions_lock = asyncio.Lock()
        self._db: Database | None = None
        self._collector: FleetCollector | None = None

    def observe_command(self, command: str, outcome: str, seconds: float) -> None:
        self.command_duration.labels(command=command, outcome=outcome).observe(seconds)

    def attach(self, *, hub: TelemetryHub, link: FleetLink, db: Database,
               video: VideoHub | None = None,
               viewers: Callable[[], dict[int, int]] | None = None) -> None:
        self.detach()
        self._db = db
        self._collector = FleetCollector(hub, link, self, video, viewers)
        self.registry.register(self._collector)

    def detach(self) -> None:
        if self._collector is not None:
            self.registry.unregister(self._collector)
        self._collector = None
        self._db = None
        self.mission_counts = None
        self._missions_at = -float("inf")

    async def refresh(self) -> None:
        """Re-read what is cached (missions by status) if older than the TTL. A failing
        database leaves the last counts in place (and is logged); /readyz reports it."""
        db = self._db
        if db is None or time.monotonic() - self._missions_at < self.mission_ttl_s:
            return
        async with self._missions_lock:
            if time.monotonic() - self._missions_at < self.mission_ttl_s:
                return  # a concurrent scrape refreshed it meanwhile
            try:
                async with asyncio.timeout(self.query_timeout_s):
                    self.mission_counts = await db.run(_missions_by_status)
            except TimeoutError:
                log.warning("metrics: missions by status not read within %.1f s",
                            self.query_timeout_s)
            except Exception as e:
                log.warning("metrics: missions by status not read: %s: %s", type(e).__name__, e)
            self._missions_at = time.monotonic()

    async def render(self) -> bytes:
        await self.refresh()
        return generate_latest(self.registry)
