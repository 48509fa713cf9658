"""The whole service's runtime: every object the API, the WebSocket and the background tasks
use, built once from `Settings` with its collaborators passed in, started in dependency order
and stopped within bounds (mission/runtime/__init__.py, docs/architecture.md).

    runtime = Runtime(settings)   # builds; no I/O, nothing connects
    await runtime.start()         # simulated fleet, database, admin, bus, missions, link
    ...                           # runtime.missions, runtime.commands, ... (mission/deps.py)
    await runtime.stop()          # bounded: never hangs on a drone in the air

`create_app(settings)` makes one and its lifespan starts and stops it; a test may build and
start one itself and hand it to `create_app(runtime=...)` (tests/inprocess.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any

from sqlalchemy.exc import IntegrityError

# The models, imported for their tables (the schema itself comes from mission/migrations).
import mission.audit.models  # noqa: F401
import mission.auth.models  # noqa: F401
import mission.dispatch.models  # noqa: F401
import mission.evidence.models  # noqa: F401
import mission.fleet.models  # noqa: F401
import mission.missions.models  # noqa: F401
import mission.recording.models  # noqa: F401
from mission import logsafe
from mission.airspace.geometry import Level
from mission.airspace.monitor import ACTOR as TRAFFIC_ACTOR
from mission.airspace.monitor import TrafficMonitor
from mission.audit.service import AuditService
from mission.auth import passwords
from mission.auth.models import MIN_PASSWORD, USERNAME_PATTERN
from mission.auth.revocation import RevocationChannel
from mission.auth.service import AuthService, Refused
from mission.camera.stream import footprint_extras, footprint_record
from mission.dispatch.service import DispatchService
from mission.evidence.context import MissionContext
from mission.evidence.recorder import EvidenceRecorder
from mission.evidence.service import EvidenceService
from mission.evidence.store import EvidenceStore
from mission.fleet.commands import BUS_MARGIN_S, CommandRouter, CommandService
from mission.fleet.networks import DroneNetworks
from mission.incidents.service import IncidentService
from mission.intake.telegram import SharedSeenUpdates
from mission.live.changes import ChangePublisher
from mission.missions.planner_pool import PlannerPool
from mission.missions.service import MissionService
from mission.observability.health import Lifecycle
from mission.observability.metrics import ServiceMetrics
from mission.reports.service import ReportService
from mission.runtime.links import TASKS_STOP_S, LinkSide
from mission.settings import Settings, traffic_thresholds
from mission.sharedlimits import Limiter, SharedStore
from mission.shutdown import bounded, stop_tasks
from mission.simfleet import SimFleet
from mission.tiles.service import TileService, parse_spec
from mission.video.webrtc import WhepSessions
from telemetry.hub import TelemetryHub
from telemetry.sbs import SbsFeed
from telemetry.stream import StateEncoder
from telemetry.video.announce import VideoDiscovery
from telemetry.video.frame import EncodedFrame
from telemetry.video.hub import VideoHub
from telemetry.video.source import parse_video_urls

log = logging.getLogger(__name__)

SIM_STOP_S = 10.0
VIDEO_STOP_S = 8.0


class Runtime:
    """The service's objects (attributes, typed; routes reach them through mission/deps.py).
    Building one does no I/O; `start()` does, and `lifecycle.complete` says it has finished
    (readiness, and the dependencies answer 503 until then)."""

    def __init__(self, settings: Settings, *, metrics: ServiceMetrics | None = None,
                 command_router: Callable[[TelemetryHub], CommandRouter] | None = None,
                 ) -> None:
        """`command_router` replaces where commands run (the fleet link and the bus) with
        another implementation of the vehicle-command port, given the hub it publishes to: a
        test's fake fleet (tests/inprocess.py). Interlocks and the record still wrap it."""
        self.settings = settings
        self.metrics = metrics or ServiceMetrics()
        self.lifecycle = Lifecycle()
        self.links = LinkSide(settings, shard=settings.shard, sharded=bool(settings.bus_url),
                              linking=settings.link_mode != "workers", record_owned_only=True)
        self.db = self.links.db
        self.hub = self.links.hub
        self.link = self.links.link
        self.bus = self.links.bus
        self.zones = self.links.zones
        self.safety = self.links.safety
        self.fleet = self.links.fleet
        self.recording = self.links.recording
        self.link.on_discovered = self.fleet.on_discovered
        # before anything writes a mission or incident: what commits is pushed to the consoles
        self.changes = ChangePublisher(self.db, self.hub)
        if self.bus is not None:
            self.changes.announce = self.bus.announce_changes
        # rate limits and the sign-in lockout: in Redis with a bus (every replica shares
        # them), else in this process (mission/sharedlimits.py)
        bus = self.bus
        self.shared_limits = (None if bus is None
                              else SharedStore(lambda: bus.redis, settings.bus_prefix))
        self.auth = AuthService(self.db, session_ttl_s=settings.session_ttl_h * 3600,
                                login_failures=settings.login_max_failures,
                                max_hashes=settings.login_max_hashes, shared=self.shared_limits)
        # ended sessions: every replica's cache of checked tokens is emptied within a second
        self.revocations: RevocationChannel | None = None
        if bus is not None:
            channel = self.revocations = RevocationChannel(bus, self.auth.drop_cache)
            self.auth.announce_revocation = channel.publish
            self.auth.cache_usable = lambda: channel.fresh
        self.audit = AuditService(self.db)
        self.incidents = IncidentService(self.db)
        self.reports = ReportService(self.db)
        self.planner = PlannerPool()
        self.tracker = self.links.tracker  # drives the legs of the drones this process links
        self.commands = CommandService(self.db, self.link, timeout_s=settings.command_timeout_s,
                                       safety=self.safety, observe=self.metrics.observe_command,
                                       remote=self.bus, router=None if command_router is None
                                       else command_router(self.hub))
        self.missions = MissionService(self.db, self.hub, self.commands, self.planner,
                                       incidents=self.incidents, zones=self.zones,
                                       max_altitude_m=settings.max_altitude_m,
                                       import_radius_m=settings.import_radius_m,
                                       rtl_alt_m=settings.rtl_alt_m,
                                       separation=self.safety.separation_problem,
                                       dispatch_step_s=settings.command_timeout_s
                                       + BUS_MARGIN_S + 5.0)
        # other aircraft against our drones; its actions are the system's, through the guard
        self.traffic = TrafficMonitor(
            self.hub, self.commands.as_actor(TRAFFIC_ACTOR),
            thresholds=traffic_thresholds(settings),
            actions={Level.ADVISORY: settings.traffic_advisory_action,
                     Level.ALERT: settings.traffic_alert_action},
            descend_alt_m=settings.traffic_descend_alt_m,
            separation_h_m=settings.separation_h_m, separation_v_m=settings.separation_v_m,
            owns=self.bus.owns if self.bus is not None else None)
        self.traffic_feeds = [SbsFeed(url, self.hub) for url in settings.adsb_feeds]
        # new incidents (from any source) go to the auto-dispatch rules, on the engine's task
        self.dispatch = DispatchService(self.db, incidents=self.incidents,
                                        missions=self.missions, zones=self.zones)
        self.incidents.on_created = self.dispatch.notify
        # evidence recordings: the live video ingest feeds `evidence.recorder.record_drone`
        evidence_store = EvidenceStore(self.db)
        self.evidence = EvidenceService(
            evidence_store,
            EvidenceRecorder(evidence_store, settings.recording_path, hub=self.hub,
                             context=MissionContext(self.db),
                             segment_s=settings.recording_segment_s,
                             footprint_of=footprint_record),
            self.audit, retention_days=settings.recording_retention_days,
            sweep_s=settings.recording_sweep_s)
        self.encoder = StateEncoder(extras=footprint_extras)  # the camera footprint, `fp`
        # live video: one ingest per drone (configured URL, else the drone's announcement),
        # fanned out to WebRTC viewers (and whoever else subscribes to the hub)
        self.video = VideoHub()
        self.video_discovery = VideoDiscovery(self.link, self.video,
                                              parse_video_urls(settings.video_urls),
                                              announced=settings.video_discover,
                                              allows_address=DroneNetworks.parse(
                                                  settings.drone_networks).allows_address)
        self.whep = WhepSessions(self.video, max_sessions=settings.video_max_viewers)
        # every stream is recorded as evidence from the moment the service reads it
        self._recordings: dict[int, asyncio.Task[None]] = {}
        if settings.record_video:
            self.video.on_started = self._record_stream
        self.tiles = TileService({})  # the archives are opened by start() (file I/O)
        shared = self.shared_limits
        self.limits: dict[str, Limiter] = {
            "intake": Limiter("intake", 60, 60.0, shared),
            "report": Limiter("report", max(1.0, settings.report_per_hour), 3600.0, shared),
            "telegram": Limiter("telegram", max(1.0, settings.telegram_per_hour), 3600.0,
                                shared),
        }
        self.telegram_seen = SharedSeenUpdates(shared)  # re-deliveries, for every replica
        self.sim: SimFleet | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._started = False

    def record_video(self, drone_id: int,
                     frames: AsyncIterator[EncodedFrame]) -> asyncio.Task[None]:
        """Record a drone's video as evidence (mission/evidence/recorder.py) in a task the
        runtime owns: it ends with `frames`, and a stop cancels it while the database is still
        open, so the segment in progress is closed, hashed and linked. The live video ingest
        calls this with `VideoHub.subscribe(drone_id)`."""
        task = asyncio.create_task(self.evidence.recorder.record_drone(drone_id, frames),
                                   name=f"evidence-drone-{drone_id}")
        self._tasks.append(task)
        task.add_done_callback(self._forget)
        return task

    def _record_stream(self, drone_id: int) -> None:
        """The video hub started reading a drone's stream: record it (once per drone; a
        recording ends with its subscription, when the drone's video is removed)."""
        running = self._recordings.get(drone_id)
        if running is not None and not running.done():
            return
        self._recordings[drone_id] = self.record_video(drone_id, self.video.subscribe(drone_id))

    def _forget(self, task: asyncio.Task[Any]) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s ended: %r", task.get_name(), task.exception())

    @property
    def started(self) -> bool:
        """start() has been called (whether or not it finished, or the runtime has stopped)."""
        return self._started

    async def start(self) -> None:
        """Start everything in order; when a step fails, what was started is stopped (bounded)
        and the error raised. A runtime starts once."""
        if self._started:
            raise RuntimeError("a runtime starts once")
        self._started = True
        if passwords.insecure_fast_hashing():
            log.warning("%s=1: passwords are hashed at a test suite's cost; never in a deployment",
                        passwords.FAST_HASHING_ENV)
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        settings = self.settings
        drones = settings.drones
        if settings.sim_count > 0:
            # Owned by the runtime (not the CLI) so that it stops on every shutdown path,
            # including SIGTERM, which uvicorn re-raises after the lifespan has finished.
            self.sim = SimFleet(
                settings.sim_count, speedup=settings.sim_speedup,
                ekf_delay=settings.sim_ekf_delay if settings.sim_ekf_delay >= 0 else None,
                base_port=settings.sim_base_port, adsb_count=settings.sim_adsb_count,
                remote_id_count=settings.sim_remote_id_count,
                spacing_m=settings.sim_spacing_m, camera=settings.sim_camera,
                video_base_port=settings.sim_video_base_port,
            )
            await asyncio.to_thread(self.sim.start)
            drones = (*drones, *self.sim.urls)
            log.info("simulated fleet: %s (control port %s)", ", ".join(self.sim.urls),
                     self.sim.control_port)
        logsafe.install()
        await self.links.open()
        self._tasks.append(asyncio.create_task(self.changes.run(), name="change-publisher"))
        self.tiles = await asyncio.to_thread(TileService.open, parse_spec(settings.tiles),
                                             settings.data_dir / "tiles")
        await bootstrap_admin(self.auth, settings)
        await self.links.join_bus(mirror=True)
        if self.bus is not None:
            await self.bus.follow_changes(self.changes.remote)
        if self.revocations is not None:
            self._tasks.append(asyncio.create_task(self.revocations.run(),
                                                   name="auth-revocations"))
        if settings.planner_warm_up:
            self._tasks.append(asyncio.create_task(self.planner.warm_up(),
                                                   name="planner-warm-up"))
        self._tasks.append(asyncio.create_task(self.dispatch.run(), name="auto-dispatch"))
        self._tasks.append(asyncio.create_task(self.evidence.run_sweeper(),
                                               name="recording-retention"))
        # in workers mode: stored only, a worker links them; the tracker follows the legs of
        # the drones linked here (reattached from the database: a restart loses nothing)
        await self.links.start_link(drones)
        self._tasks.append(asyncio.create_task(self.traffic.run(), name="traffic-monitor"))
        if self.links.linking:
            self._tasks.append(asyncio.create_task(self.video_discovery.run(),
                                                   name="video-discovery"))
        for feed in self.traffic_feeds:
            self._tasks.append(asyncio.create_task(feed.run(), name=f"adsb-{feed.source}"))
        self.metrics.attach(hub=self.hub, link=self.link, db=self.db, video=self.video,
                            viewers=self.whep.stats)
        self.lifecycle.complete = True

    async def stop(self) -> None:
        """Stop in reverse order. Every step is bounded: a stop must never hang on a drone in
        the air (a supervisor would kill the process mid-cleanup); a step that overruns is
        named in the log (mission/shutdown.py). Safe after a failed or partial start."""
        self.lifecycle.complete = False
        self.metrics.detach()
        t0 = time.monotonic()
        await bounded("the video viewers", self.whep.close(), VIDEO_STOP_S)
        await stop_tasks([*self._tasks, *self.links.tasks], TASKS_STOP_S)
        self._tasks, self.links.tasks = [], []
        self.planner.close()
        self.tiles.close()
        await bounded("the video ingest", self.video.close(), VIDEO_STOP_S)
        await self.links.close()
        if self.sim is not None:
            await bounded("the simulated fleet", asyncio.to_thread(self.sim.stop), SIM_STOP_S)
            self.sim = None
        log.info("shutdown: done in %.2f s", time.monotonic() - t0)

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()


async def bootstrap_admin(auth: AuthService, settings: Settings) -> None:
    """The first admin, from NAZORAT_ADMIN_USER / NAZORAT_ADMIN_PASSWORD, when no user exists.
    Never a default password: without the variable nobody can log in until
    `nazorat create-admin` has been run (the log says so)."""
    if await auth.has_users():
        return
    if not settings.admin_password:
        log.warning("no user exists yet: run `nazorat create-admin USERNAME` or start with "
                    "NAZORAT_ADMIN_PASSWORD set")
        return
    if len(settings.admin_password) < MIN_PASSWORD:
        raise RuntimeError(f"NAZORAT_ADMIN_PASSWORD needs at least {MIN_PASSWORD} characters")
    if not re.match(USERNAME_PATTERN, settings.admin_user):
        raise RuntimeError("NAZORAT_ADMIN_USER: letters, digits and . _ @ - only")
    try:
        await auth.ensure_admin(settings.admin_user, settings.admin_password, actor="startup")
    except (IntegrityError, Refused):
        # Replicas on one database starting together: another one created it first.
        if not await auth.has_users():
            raise
        log.info("the first admin was created by another process starting at the same time")
        return
    log.info("created the first admin %r from NAZORAT_ADMIN_PASSWORD", settings.admin_user)
