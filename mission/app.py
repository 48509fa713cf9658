"""The FastAPI application factory. Nothing connects at import time: `create_app()` builds the
app over a runtime (mission/runtime/service.py: the database, the telemetry hub, the fleet link,
the bus, the services), whose start and stop its lifespan runs; this module only adds the
middleware, the error mapping (mission/http_errors.py) and the routers.

Every route requires a role (mission/deps.py; README "Users and roles") except the login, the
public report intake, the Telegram webhook (its own secret), the liveness check, the
orchestrator's `/healthz` and `/readyz`, `/metrics` (its own token; open only in a simulated
run) and the console's static files (an allow-list: mission/console_files.py). Middleware
limits request bodies and adds security headers; CORS only for NAZORAT_CORS_ORIGINS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse

from mission import http_errors
from mission.airspace.operator_routes import router as remote_id_router
from mission.airspace.routes import router as airspace_router
from mission.audit.routes import router as audit_router
from mission.auth.routes import keys as keys_router
from mission.auth.routes import router as auth_router
from mission.auth.routes import users as users_router
from mission.console_files import ConsoleFiles
from mission.deps import StateDep, optional_principal
from mission.dispatch.routes import router as dispatch_router
from mission.evidence.routes import router as evidence_router
from mission.fleet.routes import router as fleet_router
from mission.incidents.routes import router as incidents_router
from mission.intake.routes import router as intake_router
from mission.live.routes import router as live_router
from mission.missions.routes import router as missions_router
from mission.observability.routes import RequestMetrics
from mission.observability.routes import router as observability_router
from mission.recording.routes import router as recording_router
from mission.reports.routes import router as reports_router
from mission.runtime.service import Runtime
from mission.security import BodyLimit, SecurityHeaders
from mission.settings import Settings, load_settings
from mission.tiles.routes import router as tiles_router
from mission.video.routes import router as video_router
from mission.video.routes import sources as video_sources_router
from mission.zones.routes import router as zones_router


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """The app over a runtime (mission/runtime/service.py). Without `runtime` it builds one
    from `settings` (else the environment) and its lifespan starts and stops it; a runtime
    handed in is the caller's to start and stop (in-process tests: tests/inprocess.py)."""
    if runtime is not None:
        if settings is not None and settings is not runtime.settings:
            raise ValueError("create_app: give settings or a runtime, not both")
        settings = runtime.settings
    settings = settings or load_settings()
    owned = runtime is None
    rt = runtime or Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not owned:
            yield
            return
        # A runtime starts once; an app whose lifespan runs again (a test client started
        # after another, a server restarted in process) gets a new one on the same settings.
        current: Runtime = app.state.runtime
        if current.started:
            current = Runtime(settings, metrics=current.metrics)
            app.state.runtime, app.state.lifecycle = current, current.lifecycle
        await current.start()  # stops what it started when a step fails
        try:
            yield
        finally:
            await current.stop()

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
    app.add_middleware(RequestMetrics, metrics=rt.metrics)
    app.state.runtime = rt
    app.state.settings = settings
    app.state.metrics = rt.metrics
    app.state.lifecycle = rt.lifecycle
    http_errors.install(app)
    app.include_router(observability_router)
    app.include_router(auth_router)
    app.include_router(users_router)
    app.include_router(keys_router)
    app.include_router(audit_router)
    app.include_router(intake_router)
    app.include_router(fleet_router)
    app.include_router(recording_router)
    app.include_router(evidence_router)
    app.include_router(live_router)
    app.include_router(incidents_router)
    app.include_router(zones_router)
    app.include_router(missions_router)
    app.include_router(reports_router)
    app.include_router(dispatch_router)
    app.include_router(tiles_router)
    app.include_router(airspace_router)
    app.include_router(remote_id_router)
    app.include_router(video_router)
    app.include_router(video_sources_router)

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
            "limits": ({"shared": False} if app_state.shared_limits is None
                       else app_state.shared_limits.stats()),
            "revocations": (None if app_state.revocations is None
                            else app_state.revocations.stats()),
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
