"""The service in process, over a runtime (mission/runtime/service.py), for fast API tests:
no subprocess, no port, the real database (SQLite in the test's tmp dir, or PostgreSQL in the
PostgreSQL lane), the real services, routes and error mapping; only uvicorn is left out.

Register with `pytest_plugins = ["runtime_fixture"]`; a test then takes `in_process` (an
`InProcess`: the started `runtime`, and `client(role)` giving an httpx client that speaks
ASGI to the app, signed in as the first admin by default, or as a user of `role` created
through the admin API, or anonymous with `role=None`). The runtime is stopped at teardown.
Tests that need drones, the WebSocket over a real socket or the process's own signals use
tests/service_fixture.py instead.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from mission.app import create_app
from mission.runtime.service import Runtime
from mission.settings import Settings

ADMIN = "admin"


def in_process_settings(data_dir: Path, database_url: str, **overrides: object) -> Settings:
    """Settings for a runtime in a test: its own data directory and database, a first admin
    with a random password, no UI, no drones."""
    values: dict[str, object] = {
        "data_dir": data_dir, "database_url": database_url, "ui_dir": None,
        "admin_user": ADMIN, "admin_password": secrets.token_urlsafe(16),
        "track_interval_s": 0.5,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class InProcess:
    runtime: Runtime
    app_transport: httpx.ASGITransport
    _clients: list[httpx.AsyncClient] = field(default_factory=list)
    _passwords: dict[str, str] = field(default_factory=dict)

    def _client(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=self.app_transport, base_url="http://nazorat.test",
                              headers=headers)
        self._clients.append(c)
        return c

    async def token(self, role: str = "admin", username: str | None = None) -> str:
        name = username or (ADMIN if role == "admin" else f"{role}-test")
        if name == ADMIN:
            password = self.runtime.settings.admin_password
        elif name in self._passwords:
            password = self._passwords[name]
        else:
            password = secrets.token_urlsafe(12)
            admin = self._client({"Authorization": f"Bearer {await self.token()}"})
            r = await admin.post("/api/users", json={"username": name, "password": password,
                                                     "role": role})
            assert r.status_code == 201, r.text
            self._passwords[name] = password
        r = await self._client().post("/api/auth/login",
                                      json={"username": name, "password": password})
        assert r.status_code == 200, r.text
        token: str = r.json()["token"]
        return token

    async def client(self, role: str | None = "admin",
                     username: str | None = None) -> httpx.AsyncClient:
        if role is None:
            return self._client()
        return self._client({"Authorization": f"Bearer {await self.token(role, username)}"})

    async def close(self) -> None:
        for c in self._clients:
            await c.aclose()


@pytest.fixture
async def in_process(tmp_path: Path, database_url: str) -> AsyncIterator[InProcess]:
    runtime = Runtime(in_process_settings(tmp_path / "data", database_url))
    async with runtime:
        app = create_app(runtime=runtime)
        service = InProcess(runtime, httpx.ASGITransport(app=app))
        try:
            yield service
        finally:
            await service.close()
