"""`/healthz`, `/readyz` (public) and `/metrics` (`Authorization: Bearer
NAZORAT_METRICS_TOKEN`; without that setting it is open only in a simulated run, and refused
otherwise: fleet size, link state and request counts are not for anyone who can reach the
port), and the middleware counting HTTP requests by route
template. Left out of the OpenAPI schema: they are for orchestrators and Prometheus, not API
clients (README "Observability")."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mission.credentials import bearer_token
from mission.observability.health import Lifecycle, readiness
from mission.observability.metrics import CONTENT_TYPE, ServiceMetrics
from mission.runtime.service import Runtime
from mission.settings import Settings

router = APIRouter(tags=["observability"], include_in_schema=False)


def started_runtime(request: Request) -> Runtime | None:
    """The app's runtime once started, else None (before startup has finished, or without a
    lifespan)."""
    runtime: Runtime = request.app.state.runtime
    return runtime if runtime.lifecycle.complete else None


def app_metrics(request: Request) -> ServiceMetrics:
    metrics: ServiceMetrics = request.app.state.metrics
    return metrics


def app_lifecycle(request: Request) -> Lifecycle:
    lifecycle: Lifecycle = request.app.state.lifecycle
    return lifecycle


async def metrics_token(request: Request) -> None:
    """The scraper must send NAZORAT_METRICS_TOKEN as a bearer token (401); without that
    setting /metrics is open in a simulated run (`--sim`) and 403 otherwise."""
    # From create_app, not the lifespan state: enforced even before startup has finished.
    settings: Settings = request.app.state.settings
    expected = settings.metrics_token
    if not expected:
        if settings.sim_count > 0:
            return
        raise HTTPException(403, detail={
            "error": "metrics_off", "message": "set NAZORAT_METRICS_TOKEN on the service and "
            "send it as `Authorization: Bearer` (open without it only in a simulated run)"})
    given = bearer_token(request.headers) or ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            401, detail={"error": "unauthenticated", "reason": "metrics_token",
                         "message": "send `Authorization: Bearer NAZORAT_METRICS_TOKEN`"},
            headers={"WWW-Authenticate": 'Bearer realm="nazorat-metrics"'})


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: answers while the event loop does."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request,
                 lifecycle: Annotated[Lifecycle, Depends(app_lifecycle)]) -> JSONResponse:
    """200 when the lifespan is complete, the fleet link started, the database answers and,
    with a bus, Redis answers; otherwise 503 naming the failed checks. With a bus it also
    names this process and the drones whose link leases it holds."""
    state = started_runtime(request)
    result = await readiness(lifecycle=lifecycle, db=state.db if state else None,
                             link=state.link if state else None,
                             linking=state is None or state.links.linking,
                             bus=state.bus if state else None)
    return JSONResponse(result.to_dict(), status_code=200 if result.ready else 503)


@router.get("/metrics", dependencies=[Depends(metrics_token)])
async def metrics(m: Annotated[ServiceMetrics, Depends(app_metrics)]) -> Response:
    """Prometheus text exposition (mission/observability/metrics.py lists the metrics)."""
    return Response(await m.render(), media_type=CONTENT_TYPE)


class RequestMetrics:
    """Counts answered HTTP requests by method, route template (never the raw path: bounded
    label values) and status. WebSockets are counted by the route itself (clients gauge)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.http_requests.labels(
                method=_method(scope), route=_template(scope), status=str(status)
            ).inc()


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _method(scope: Scope) -> str:
    method = str(scope.get("method", ""))
    return method if method in METHODS else "OTHER"


def _template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return "unmatched"
    return f"{path}/{{path}}" if isinstance(route, Mount) else str(path)
