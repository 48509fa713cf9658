"""The whole service in this test process for schemathesis: the app `nazorat serve` builds (the
same settings from an environment), its lifespan run on schemathesis' ASGI client's event loop
thread (`schemathesis.python.asgi`), requests sent through a `requests` session with no socket.

Why: the bad-input campaign sends about 2,000 requests; without a socket, a server and a
second process to schedule for each, it took about a fifth less wall time and a quarter less
CPU (back to back on a loaded 2-core machine). What a server adds is reproduced: the
lifespan's state in every request's scope (the client does that), and an exception escaping
the app logged as uvicorn logs it ("Exception in ASGI application") and answered 500.
Everything the service logs (root logger, at info, as `nazorat serve --log-level info`) is
kept in `records`. Not reproduced: uvicorn's own refusals of requests that are not HTTP/1.1
at all; the campaign's requests are made by `requests`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import cast

from schemathesis.python.asgi import ASGIApp as ClientApp
from schemathesis.python.asgi import ASGIClient, shutdown_lifespans
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mission.app import create_app
from mission.settings import load_settings

ADMIN = "admin"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _served_like_uvicorn(app: ASGIApp) -> ClientApp:
    """What uvicorn does when a request's handling raises: log "Exception in ASGI application"
    with the traceback and, if no response has started, answer 500 (the campaign's
    not_a_server_error check then reports the request, with a reproduction)."""

    async def served(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await app(scope, receive, tracked)
        except Exception:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
            if not started:
                await send({"type": "http.response.start", "status": 500,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
                await send({"type": "http.response.body", "body": b"Internal Server Error"})

    return cast(ClientApp, served)  # one signature; scopes typed dict there


@dataclass
class AsgiService:
    """`app` (what schemathesis loads and calls), `client` for the test's own requests, the
    admin's password, and the log."""

    app: ClientApp
    client: ASGIClient
    admin_password: str
    records: _Records
    _tokens: dict[str, str] = field(default_factory=dict)

    def log_text(self) -> str:
        return "\n".join(self.records.lines)

    def token(self, role: str = "admin", username: str | None = None) -> str:
        """A session token for `username` (default the admin, or `<role>-test`), creating the
        user with `role` first if needed. Cached per user name."""
        name = username or (ADMIN if role == "admin" else f"{role}-test")
        if name in self._tokens:
            return self._tokens[name]
        password = self.admin_password
        if name != ADMIN:
            password = secrets.token_urlsafe(12)
            r = self.client.post("/api/users", headers=self.auth_headers(), timeout=30, json={
                "username": name, "password": password, "role": role})
            assert r.status_code == 201, r.text
        r = self.client.post("/api/auth/login", timeout=30,
                             json={"username": name, "password": password})
        assert r.status_code == 200, r.text
        token: str = r.json()["token"]
        self._tokens[name] = token
        return token

    def auth_headers(self, role: str = "admin", username: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, username)}"}

    def integration_key(self, rate_per_minute: int = 60) -> str:
        r = self.client.post("/api/integration-keys", headers=self.auth_headers(), timeout=30,
                             json={"name": f"key-{secrets.token_hex(4)}",
                                   "source": "citizen_map", "rate_per_minute": rate_per_minute})
        assert r.status_code == 201, r.text
        key: str = r.json()["key"]
        return key


@contextmanager
def asgi_service(env: Mapping[str, str]) -> Iterator[AsgiService]:
    """The service with the settings of `env` (plus a first admin), started; its lifespan
    ended (as at SIGTERM) on exit."""
    password = secrets.token_urlsafe(16)
    settings = load_settings({**env, "NAZORAT_ADMIN_USER": ADMIN,
                              "NAZORAT_ADMIN_PASSWORD": password})
    records = _Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(records)
    root.setLevel(logging.INFO)
    try:
        app = _served_like_uvicorn(create_app(settings))
        with ASGIClient(app) as client:  # starts the lifespan (kept until shutdown_lifespans)
            try:
                yield AsgiService(app, client, password, records)
            finally:
                shutdown_lifespans()
    finally:
        root.removeHandler(records)
        root.setLevel(level)

