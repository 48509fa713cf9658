"""Reading the credentials a request carries: the one parser for the API's dependencies
(mission/deps.py), the telemetry WebSocket (mission/live/routes.py) and the /metrics token
(mission/observability/routes.py), so that they cannot disagree on what a credential is.

Where a token may come from, in this order of precedence:
- `Authorization: Bearer TOKEN` (the scheme in any case; API clients, integration keys,
  Prometheus);
- `?token=TOKEN`, only where the caller allows it (the WebSocket: browsers cannot set headers
  on one; uvicorn's log lines have it masked);
- the `nazorat_session` cookie that `POST /api/auth/login` sets (the console, same origin).

Only reading: whether the token is valid is the auth service's question (mission/auth).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import HTTPConnection

SESSION_COOKIE = "nazorat_session"


@dataclass(frozen=True)
class Credentials:
    token: str
    via: str  # bearer | query | cookie: where it came from (the cookie needs an Origin check)


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` header; None without one (or another
    scheme, or an empty token)."""
    header = headers.get("authorization", "")
    if header[:7].lower() != "bearer ":
        return None
    return header[7:].strip() or None


def credentials(conn: HTTPConnection, *, query: bool = False) -> Credentials | None:
    """The request's credentials (see the module's docstring for the order), or None."""
    token = bearer_token(conn.headers)
    if token is not None:
        return Credentials(token, "bearer")
    if query and conn.query_params.get("token"):
        return Credentials(conn.query_params["token"], "query")
    if conn.cookies.get(SESSION_COOKIE):
        return Credentials(conn.cookies[SESSION_COOKIE], "cookie")
    return None
