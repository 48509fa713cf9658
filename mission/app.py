"""The FastAPI application factory. Nothing connects at import time: `create_app()` builds the
app, and its lifespan starts (and on shutdown stops, in reverse order) the database, the
telemetry hub, the fleet link with its stored drones, and the recorder. With NAZORAT_BUS_URL it
also joins the bus (telemetry/bus.py): it mirrors the drones other processes link into its hub,
publishes and serves its own, and with NAZORAT_LINK_MODE=workers links none itself.

Every route requires a role (mission/deps.py; README "Users and roles") except the login, the
public report intake, the Telegram webhook (its own secret), the liveness check, the
orchestrator's `/healthz` and `/readyz`, `/metrics` (its own token; open only in a simulated
run) and the console's static files (an allow-list: mission/console_files.py). Middleware
limits request bodies and adds security headers; CORS only for NAZORAT_CORS_ORIGINS."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy.exc import IntegrityError

# The models, imported for their tables (the schema itself comes from mission/migrations).
import mission.audit.models  # noqa: F401
import mission.auth.models  # noqa: F401
import mission.fleet.models  # noqa: F401
import mission.missions.models  # noqa: F401
import mission.recording.models  # noqa: F401
from mission import logsafe
from mission.audit.routes import router as audit_router
from mission.audit.service import AuditService
from mission.auth.models import MIN_PASSWORD, USERNAME_PATTERN
from mission.auth.routes import keys as keys_router
from mission.auth.routes import router as auth_router
from mission.auth.routes import users as users_router
from mission.auth.service import AuthService, Refused
from mission.console_files import ConsoleFiles
from mission.db import Database
from mission.deps import AppState, StateDep, optional_principal
from mission.fleet.commands import CommandRouter, CommandService, owner_handler
from mission.fleet.networks import DroneNetworks
from mission.fleet.routes import router as fleet_router
from mission.fleet.service import FleetService
from mission.incidents.routes import router as incidents_router
from mission.intake.routes import router as intake_router
from mission.live.changes import ChangePublisher
from mission.live.routes import router as live_router
from mission.missions.planner_pool import PlannerPool
from mission.missions.routes import router as missions_router
from mission.missions.service import MissionService
from mission.missions.tracker import MissionTracker
from mission.observability.health import Lifecycle
from mission.observability.metrics import ServiceMetrics
from mission.observability.routes import RequestMetrics
from mission.observability.routes import router as observability_router
from mission.ratelimit import RateLimiter
from mission.recording.routes import router as recording_router
from mission.recording.service import RecordingService
from mission.safety import SafetyLimits
from mission.security import BodyLimit, SecurityHeaders
from mission.settings import Settings, load_settings
from mission.shutdown import bounded, stop_tasks
from mission.simfleet import SimFleet
from mission.tiles.routes import router as tiles_router
from mission.tiles.service import TileService, parse_spec
from mission.zones.routes import router as zones_router
from telemetry.bus import BusNode
from telemetry.hub import TelemetryHub
from telemetry.link import FleetLink, LinkConfig
from telemetry.stream import StateEncoder
from telemetry.vehicle import StreamRates

log = logging.getLogger(__name__)


def link_config(settings: Settings) -> LinkConfig:
    return LinkConfig(
        heartbeat_timeout_s=settings.heartbeat_timeout_s,
        reconnect_after_s=settings.reconnect_after_s,
        probe_timeout_s=settings.probe_timeout_s,
        executor_threads=settings.link_threads,
        low_battery_pct=settings.low_battery_pct,
        gcs_sysid=settings.gcs_sysid,
        rates=StreamRates(
            position_hz=settings.position_rate_hz, status_hz=settings.status_rate_hz
        ),
        discovery_urls=settings.discovery_urls,
    )


def bus_node(settings: Settings) -> BusNode:
    """This process's end of the bus, with the deployment's secret, password and CA."""
    return BusNode(settings.bus_url, secret=settings.bus_secret,
                   previous_secret=settings.bus_secret_previous, prefix=settings.bus_prefix,
                   owner_ttl_s=settings.bus_owner_ttl_s, password=settings.bus_password,
                   tls_ca=settings.bus_tls_ca)


def create_app(settings: Settings | None = None, *,
               command_router: Callable[[TelemetryHub], CommandRouter] | None = None,
               ) -> FastAPI:
    """The service. `command_router` replaces where commands run (the fleet link and the bus)
    with another implementation of the vehicle-command port, given the hub it publishes to: a
    test's fake fleet. Interlocks and the record still wrap it (GuardedCommands)."""
    settings = settings or load_settings()
    metrics = ServiceMetrics()
    lifecycle = Lifecycle()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        sim: SimFleet | None = None
        drones = settings.drones
        if settings.sim_count > 0:
            # Owned by the lifespan (not the CLI) so that it stops on every shutdown path,
            # including SIGTERM, which uvicorn re-raises after the lifespan has finished.
            sim = SimFleet(
                settings.sim_count, speedup=settings.sim_speedup,
                ekf_delay=settings.sim_ekf_delay if settings.sim_ekf_delay >= 0 else None,
                base_port=settings.sim_base_port,
            )
            await asyncio.to_thread(sim.start)
            drones = (*drones, *sim.urls)
            log.info("simulated fleet: %s (control port %s)", ", ".join(sim.urls), sim.control_port)
        logsafe.install()
        db = Database(settings.effective_database_url)
        await db.start()
        auth = AuthService(db, session_ttl_s=settings.session_ttl_h * 3600,
                           login_failures=settings.login_max_failures,
                           max_hashes=settings.login_max_hashes)
        hub = TelemetryHub()
        changes = ChangePublisher(db, hub)  # before anything writes a mission or incident
        link = FleetLink(hub, link_config(settings))
        linking = settings.link_mode != "workers"
        bus = bus_node(settings) if settings.bus_url else None
        if bus is not None:
            changes.announce = bus.announce_changes
        recording = RecordingService(db, hub, interval_s=settings.track_interval_s,
                                     records=None if bus is None else bus.owns)
        recorder = asyncio.create_task(recording.run(), name="recorder")
        planner = PlannerPool()
        tiles = await asyncio.to_thread(TileService.open, parse_spec(settings.tiles),
                                        settings.data_dir / "tiles")
        tracker = MissionTracker(db, hub)
        background: list[asyncio.Task[Any]] = [
            recorder, asyncio.create_task(changes.run(), name="change-publisher")]
        try:
            await bootstrap_admin(auth, settings)
            if bus is not None:
                await bus.start()
                await bus.mirror(hub)
                await bus.follow_changes(changes.remote)
            await tracker.load()  # missions in flight at the last shutdown are reattached
            background.append(asyncio.create_task(tracker.run(), name="mission-tracker"))
            background.append(asyncio.create_task(planner.warm_up(), name="planner-warm-up"))
            if linking:
                await link.start()
            fleet = FleetService(db, link, shard=settings.shard, sharded=bus is not None,
                                 linking=linking,
                                 networks=DroneNetworks.parse(settings.drone_networks))
            link.on_discovered = fleet.on_discovered
            await fleet.startup(drones)  # in workers mode: stored only, a worker links them
            safety = SafetyLimits(db, hub, max_altitude_m=settings.max_altitude_m,
                                  rtl_alt_m=settings.rtl_alt_m)
            if bus is not None and linking:
                await bus.serve_link(link, owner_handler(link, check=safety))
                background.append(asyncio.create_task(
                    follow_database(fleet), name="fleet-reconcile"))
            commands = CommandService(db, link, timeout_s=settings.command_timeout_s,
                                      safety=safety, observe=metrics.observe_command,
                                      remote=bus, router=None if command_router is None
                                      else command_router(hub))
            state = AppState(
                settings=settings, db=db, hub=hub, link=link, fleet=fleet, bus=bus,
                commands=commands, recording=recording, encoder=StateEncoder(),
                missions=MissionService(db, hub, commands, tracker, planner,
                                        max_altitude_m=settings.max_altitude_m,
                                        import_radius_m=settings.import_radius_m,
                                        rtl_alt_m=settings.rtl_alt_m),
                auth=auth, audit=AuditService(db), metrics=metrics, tiles=tiles,
                limits={
                    "intake": RateLimiter(60, 60.0),
                    "report": RateLimiter(max(1.0, settings.report_per_hour), 3600.0),
                    "telegram": RateLimiter(max(1.0, settings.telegram_per_hour), 3600.0),
                },
            )
            metrics.attach(hub=hub, link=link, db=db)
            lifecycle.complete = True
            yield {"nazorat": state}
        finally:
            # Every step is bounded: a stop must never hang on a drone in the air (a supervisor
            # would kill the process mid-cleanup). A step that overruns is named in the log.
            lifecycle.complete = False
            metrics.detach()
            t0 = time.monotonic()
            await stop_tasks(background, 5.0)
            planner.close()
            tiles.close()
            if bus is not None:
                await bounded("the bus", bus.close(), 5.0)
            hub.close()
            await bounded("the fleet link", link.stop(), 12.0)
            await bounded("the database", db.stop(), 5.0)
            if sim is not None:
                await asyncio.to_thread(sim.stop)
            log.info("shutdown: done in %.2f s", time.monotonic() - t0)

    app = FastAPI(
        title="Nazorat mission control",
        version="0.1.0",
        lifespan=lifespan,
        description="Drone-fleet mission control. Live telemetry: /ws/telemetry "
        "(docs/telemetry-ws.md). Authentication: POST /api/auth/login, then "
        "`Authorization: Bearer TOKEN` (README: Users and roles).",
    )
    app.add_middleware(BodyLimit, intake=settings.intake_max_bytes,
                       default=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"], max_age=600,
        )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.lifecycle = lifecycle
    app.add_exception_handler(RecursionError, too_deep)
    app.include_router(observability_router)
    app.include_router(auth_router)
    app.include_router(users_router)
    app.include_router(keys_router)
    app.include_router(audit_router)
    app.include_router(intake_router)
    app.include_router(fleet_router)
    app.include_router(recording_router)
    app.include_router(live_router)
    app.include_router(incidents_router)
    app.include_router(zones_router)
    app.include_router(missions_router)
    app.include_router(tiles_router)

    @app.get("/api/health", tags=["health"])
    async def health(request: Request, app_state: StateDep) -> dict[str, Any]:
        """Liveness (public: `{"status": "ok"}`); signed-in users also get a fleet summary:
        how many drones, how many with a live link."""
        if await optional_principal(request) is None:
            return {"status": "ok"}
        states = app_state.hub.snapshot()
        return {
            "status": "ok",
            "drones": len(states),
            "links_up": sum(1 for s in states.values() if s.link.value == "up"),
            "link": app_state.link.stats(),
            "bus": None if app_state.bus is None else app_state.bus.stats(),
            "ws_subscribers": app_state.hub.subscriber_count,
        }

    ui_dir = settings.ui_dir

    @app.get("/report", include_in_schema=False)
    async def report_page() -> FileResponse:
        """The public report page (no login): ui/report.html."""
        page = ui_dir / "report.html" if ui_dir is not None else None
        if page is None or not page.is_file():
            raise HTTPException(404, detail={"error": "not_found", "message": "no report page"})
        return FileResponse(page, media_type="text/html")

    if ui_dir is not None and (ui_dir / "index.html").is_file():
        app.mount("/", ConsoleFiles(directory=ui_dir, html=True), name="ui")
    return app


async def too_deep(request: Request, exc: Exception) -> JSONResponse:
    """The backstop for input nested beyond what any parser or validator can walk (JSON bodies
    are refused earlier, mission/jsonsafe.py; a file import parsed by mission/planning is
    caught here): a client error, never a 500. Logged (one line, no traceback: a client can
    send these at will), in case it was not the input."""
    log.warning("%s %s: %r; answered 400 too_deep", request.method, request.url.path,
                str(exc)[:200])
    return JSONResponse({"detail": {"error": "too_deep", "field": "(body)",
                                    "message": "the input is nested too deeply"}},
                        status_code=400)


async def follow_database(fleet: FleetService, period_s: float = 3.0) -> None:
    """With a bus, drones of this process's shard may be added or deleted through another
    process's API: link and unlink them as the shared database says."""
    while True:
        await asyncio.sleep(period_s)
        try:
            await fleet.reconcile()
        except Exception:
            log.exception("fleet reconcile failed")


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
