"""The dependencies routes use: the runtime (mission/runtime/service.py: every service, built
once), the authenticated principal, and the role checks.

Authentication (README "Users and roles"): `Authorization: Bearer TOKEN` (API clients,
integration keys) or the `nazorat_session` cookie that `POST /api/auth/login` sets (the
console, same origin). Every route declares who may call it with one of `viewer`, `operator`,
`admin` or `intake_key` (tests/test_auth.py checks that none is left out):

- no or a bad credential: 401 `{"detail": {"error": "unauthenticated", "reason", "message",
  "login": "/login.html"}}` with `WWW-Authenticate: Bearer`;
- a role that may not: 403 `{"detail": {"error": "forbidden", "role", "allowed", "message"}}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from mission.auth import context
from mission.auth.models import INTEGRATION, Role
from mission.auth.service import AuthFailure, Principal
from mission.credentials import SESSION_COOKIE, credentials
from mission.runtime.service import Runtime
from mission.settings import Settings

LOGIN_PAGE = "/login.html"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_app_state(conn: HTTPConnection) -> Runtime:
    """The app's runtime once it has started (503 `not_ready` before, and while it stops)."""
    runtime: Runtime = conn.app.state.runtime
    if not runtime.lifecycle.complete:
        raise HTTPException(503, detail={"error": "not_ready",
                                         "message": "the service is starting or stopping"})
    return runtime


StateDep = Annotated[Runtime, Depends(get_app_state)]

bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="bearer",
    description="`Authorization: Bearer TOKEN`: a session token from POST /api/auth/login, "
                "or an integration key (nzk_...) for /api/intake/incidents",
)
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, scheme_name="session_cookie",
    description="the HttpOnly session cookie POST /api/auth/login sets (the console)",
)


def client_address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client is not None else ""


def unauthenticated(reason: str, message: str) -> HTTPException:
    return HTTPException(
        401, detail={"error": "unauthenticated", "reason": reason, "message": message,
                     "login": LOGIN_PAGE},
        headers={"WWW-Authenticate": 'Bearer realm="nazorat"'},
    )


def own_origin(conn: HTTPConnection) -> str:
    return f"{conn.url.scheme.replace('ws', 'http')}://{conn.headers.get('host', '')}"


def origin_allowed(conn: HTTPConnection, settings: Settings) -> bool:
    """A browser's Origin (when it sends one) must be this service or a configured origin."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    return origin == own_origin(conn) or origin in settings.cors_origins


def set_context(conn: HTTPConnection, p: Principal) -> None:
    context.current.set(context.RequestContext(p.name, p.role, client_address(conn)))
    conn.state.principal = p


async def current_principal(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    _cookie: Annotated[str | None, Security(cookie_scheme)],
) -> Principal:
    """The authenticated caller, or 401. (The two security schemes are declared for the
    OpenAPI schema; the credentials are read by mission/credentials.py like everywhere.)"""
    app = get_app_state(request)
    given = credentials(request)
    if given is None:
        raise unauthenticated("missing", "log in first (POST /api/auth/login) and send the "
                                         "token as `Authorization: Bearer TOKEN`")
    via = given.via
    try:
        p = await app.auth.authenticate(given.token, via)
    except AuthFailure as e:
        raise unauthenticated(e.reason, e.message) from None
    if via == "cookie" and request.method not in SAFE_METHODS \
            and not origin_allowed(request, app.settings):
        # defence in depth on top of SameSite=Strict: no cross-site writes with the cookie
        raise HTTPException(403, detail={"error": "bad_origin", "message":
                                         "cross-origin request refused"})
    set_context(request, p)
    return p


PrincipalDep = Annotated[Principal, Depends(current_principal)]

Requirement = Callable[..., Awaitable[Principal]]


def require(*roles: str, what: str = "do this") -> Requirement:
    """A dependency that lets only `roles` through (403 for others, recorded in the audit
    log)."""

    async def check(request: Request, p: PrincipalDep) -> Principal:
        if p.role not in roles:
            app = get_app_state(request)
            await app.audit.record("auth.denied", outcome="denied", params={
                "method": request.method, "path": request.url.path})
            raise HTTPException(403, detail={
                "error": "forbidden", "role": p.role, "allowed": list(roles),
                "message": f"a {p.role} may not {what}"})
        return p

    check.roles = frozenset(roles)  # type: ignore[attr-defined]
    check.__name__ = f"require_{'_'.join(roles)}"
    return check


viewer = require(Role.ADMIN, Role.OPERATOR, Role.COMMANDER, what="read this")
operator = require(Role.ADMIN, Role.OPERATOR,
                   what="command drones, plan, dispatch or change records")
admin = require(Role.ADMIN, what="administer users, keys or the audit log")
intake_key = require(INTEGRATION, what="use the intake API (integration keys only)")

ViewerDep = Annotated[Principal, Depends(viewer)]
OperatorDep = Annotated[Principal, Depends(operator)]
AdminDep = Annotated[Principal, Depends(admin)]
IntakeKeyDep = Annotated[Principal, Depends(intake_key)]


async def get_actor(p: OperatorDep) -> str:
    """Who issued a change: the authenticated operator's (or admin's) user name."""
    return p.name


ActorDep = Annotated[str, Depends(get_actor)]


async def optional_principal(request: Request) -> Principal | None:
    """The caller if the request carries valid credentials, else None (public routes that
    show more to users; not declared as secured in the OpenAPI schema)."""
    app = get_app_state(request)
    given = credentials(request)
    if given is None:
        return None
    try:
        return await app.auth.authenticate(given.token, given.via)
    except AuthFailure:
        return None


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route may answer."""
    return {c: ERROR_RESPONSES[c] for c in codes}


# Most errors are {"detail": ...}; a refused drone command carries the link's error at the top
# level (mission/fleet/routes.py), so the shape is left open.
_ERR = {"application/json": {"schema": {"type": "object"}}}
ERROR_RESPONSES: dict[int, dict[str, Any]] = {
    400: {"description": "the body could not be read (not UTF-8 JSON)", "content": _ERR},
    401: {"description": "not authenticated (see README: Users and roles)", "content": _ERR},
    403: {"description": "the role may not do this", "content": _ERR},
    404: {"description": "not found", "content": _ERR},
    409: {"description": "conflict with the current state", "content": _ERR},
    413: {"description": "body too large", "content": _ERR},
    422: {"description": "invalid input, the field named", "content": _ERR},
    429: {"description": "rate limited; see Retry-After", "content": _ERR,
          "headers": {"Retry-After": {"schema": {"type": "integer"},
                                      "description": "seconds to wait"}}},
    502: {"description": "the drone link failed", "content": _ERR},
    503: {"description": "the drone is not connected", "content": _ERR},
    504: {"description": "the drone did not answer in time", "content": _ERR},
}
COMMON = error_responses(400, 401, 403, 413, 422)
