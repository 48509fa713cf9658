"""The whole service in this test's event loop, its drones a fake fleet behind the
vehicle-command port (tests/fake_fleet.py): a started runtime (mission/runtime/service.py:
routes, auth, database, planner process, interlocks, command record, mission tracker, pushed
changes) under the real app, driven over HTTP through httpx's ASGI transport, with no socket,
no uvicorn, no simulator and no waiting for a flight. SQLite in the test's tmp dir, or
PostgreSQL in the PostgreSQL lane (`database_url`).

What only a real vehicle proves (MAVLink, ACKs, mission transfer, flight) stays in the few
simulator flights; this is for what the service decides.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from fake_fleet import FakeFleet
from mission.app import create_app
from mission.runtime.service import Runtime
from mission.settings import Settings
from telemetry.hub import TelemetryHub

ADMIN = "admin"


@dataclass
class InProcess:
    """A running in-process service: `fleet` is its fake fleet, `http(role)` a client."""

    fleet: FakeFleet
    runtime: Runtime
    _transport: httpx.ASGITransport
    password: str
    passwords: dict[str, str] = field(default_factory=dict)  # users made by sign_in
    _tokens: dict[str, str] = field(default_factory=dict)

    def http(self, role: str = "admin", username: str | None = None) -> httpx.AsyncClient:
        """A client signed in as the admin (default) or as `username` (default `<role>-test`)
        with `role`; call `await svc.sign_in(...)` first for a non-admin."""
        name = username or (ADMIN if role == "admin" else f"{role}-test")
        headers = ({"Authorization": f"Bearer {self._tokens[name]}"}
                   if name in self._tokens else {})
        return httpx.AsyncClient(transport=self._transport, base_url="http://nazorat.test",
                                 headers=headers, timeout=30.0)

    async def sign_in(self, role: str = "admin", username: str | None = None) -> None:
        name = username or (ADMIN if role == "admin" else f"{role}-test")
        if name in self._tokens:
            return
        known = name == ADMIN or name in self.passwords
        password = (self.password if name == ADMIN
                    else self.passwords.setdefault(name, secrets.token_urlsafe(12)))
        async with self.http() as c:
            if not known:
                r = await c.post("/api/users", json={"username": name, "password": password,
                                                     "role": role})
                assert r.status_code == 201, r.text
            r = await c.post("/api/auth/login", json={"username": name, "password": password})
            assert r.status_code == 200, r.text
            self._tokens[name] = r.json()["token"]

    async def until(self, check: Callable[[], Any], timeout_s: float = 5.0,
                    what: str = "condition") -> Any:
        """Poll an async or plain `check` until it returns something truthy: the tracker
        works on its own task, so its decisions land a loop turn or a few later."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            got = check()
            if asyncio.iscoroutine(got):
                got = await got
            if got:
                return got
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)


def test_settings(data_dir: Path, database_url: str | None = None,
                  **overrides: Any) -> Settings:
    """Settings for a runtime in a test: its own data directory and database, a first admin
    with a random password, no console files, no drones."""
    values: dict[str, Any] = {
        "data_dir": data_dir, "database_url": database_url or "", "ui_dir": None,
        "admin_user": ADMIN, "admin_password": secrets.token_urlsafe(16),
        "track_interval_s": 0.5, "planner_warm_up": False,
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def in_process(tmp_path: Path, database_url: str | None = None, *,
                     after: InProcess | None = None, **settings: Any) -> AsyncIterator[InProcess]:
    """The service on a database in `tmp_path` (or `database_url`), started and signed in as
    the admin; stopped (bounded, as in production) on exit. `after`: the service this one
    restarts (same database): its users' passwords carry over. `settings`: Settings fields."""
    if after is not None:
        settings["admin_password"] = after.password
    fleets: list[FakeFleet] = []

    def router(hub: TelemetryHub) -> FakeFleet:
        fleets.append(FakeFleet(hub))
        return fleets[-1]

    config = test_settings(tmp_path, database_url, **settings)
    runtime = Runtime(config, command_router=router)
    fleets[0].owner = runtime.tracker  # the fake drones are this runtime's, as if linked here
    async with runtime:
        transport = httpx.ASGITransport(app=create_app(runtime=runtime))
        svc = InProcess(fleets[0], runtime, transport, config.admin_password,
                        dict(after.passwords) if after is not None else {})
        await svc.sign_in()
        yield svc
