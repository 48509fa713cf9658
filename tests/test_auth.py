"""Users, roles, sessions, integration keys and the audit log (README "Users and roles").

The route table is checked statically (every route says who may call it; commanders can only
read); the rest runs against one real service (subprocess, no drones) for the module.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

pytest.register_assert_rewrite("service_fixture")

import websockets  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

import pg_database  # noqa: E402
from cli_inprocess import command_env, run_cli  # noqa: E402
from mission.app import create_app  # noqa: E402
from mission.db import make_engine  # noqa: E402
from mission.settings import Settings, load_settings  # noqa: E402
from mission.simfleet import find_base_port  # noqa: E402
from service_fixture import REPO_ROOT, RunningService, free_port, module_service  # noqa: E402

pytestmark = pytest.mark.timeout(120)

PUBLIC = {
    ("POST", "/api/auth/login"), ("POST", "/api/intake/report"),
    ("POST", "/api/intake/telegram"), ("GET", "/api/health"), ("GET", "/report"),
    # orchestrator and Prometheus (mission/observability/routes.py; /metrics: optional token)
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
}
USERS = {"admin", "operator", "commander"}
ANY_USER_WRITES = {("POST", "/api/auth/logout"), ("POST", "/api/auth/password"),
                   # WHEP: watching a drone's video is a POST (the offer) and a DELETE (the end)
                   # by protocol; it reads, and a commander watches too (mission/video/routes.py)
                   ("POST", "/api/drones/{drone_id}/video/whep"),
                   ("DELETE", "/api/drones/{drone_id}/video/whep/{session_id}")}
ORIGIN = "http://allowed.example"


def route_roles() -> dict[tuple[str, str], frozenset[str] | None]:
    """(method, path) -> the roles every `require()` on the route lets through (None: public)."""
    app = create_app(Settings(ui_dir=None))
    out: dict[tuple[str, str], frozenset[str] | None] = {}
    for ctx in fastapi.routing.iter_route_contexts(app.routes):
        route = ctx.route
        if not isinstance(route, APIRoute):
            continue
        found: list[frozenset[str]] = []
        stack = [route.dependant]
        while stack:
            d = stack.pop()
            roles = getattr(d.call, "roles", None)
            if roles is not None:
                found.append(frozenset(str(r) for r in roles))
            stack.extend(d.dependencies)
        allowed = frozenset.intersection(*found) if found else None
        for method in ctx.methods or ():
            out[(method, str(ctx.path))] = allowed
    return out


def test_every_route_declares_who_may_call_it_and_commanders_only_read() -> None:
    table = route_roles()
    assert len(table) > 40
    public = {k for k, v in table.items() if v is None}
    assert public == PUBLIC, "a route without a role requirement (mission/deps.py require)"
    for (method, path), roles in table.items():
        if roles is None:
            continue
        if path == "/api/intake/incidents":
            assert roles == frozenset({"integration"})
            continue
        assert "integration" not in roles, (method, path)
        assert roles <= USERS and roles, (method, path)
        if method != "GET" and (method, path) not in ANY_USER_WRITES:
            assert "commander" not in roles, f"a commander may {method} {path}"
        if path.startswith(("/api/users", "/api/integration-keys", "/api/audit")):
            assert roles == {"admin"}, (method, path)
    # the audit log is read-only through the API
    assert {m for m, p in table if p.startswith("/api/audit")} == {"GET"}
    for cmd in [("POST", "/api/drones/{drone_id}/commands/{name}"),
                ("POST", "/api/missions/plan"), ("POST", "/api/missions/{mission_id}/dispatch"),
                ("POST", "/api/missions/quick"), ("POST", "/api/missions/{mission_id}/{action}")]:
        assert table[cmd] == frozenset({"admin", "operator"})


@pytest.fixture(scope="module")
def svc(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[RunningService]:
    yield from module_service(tmp_path_factory, request, "auth-service",
                              {"NAZORAT_LOGIN_MAX_FAILURES": "3", "NAZORAT_CORS_ORIGINS": ORIGIN})


def audit(c: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    r = c.get("/api/audit", params=params)
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows


def test_login_me_cookie_logout_and_revocation(svc: RunningService) -> None:
    r = svc.login(svc.admin_user, svc.admin_password)
    assert r.status_code == 200, r.text
    body = r.json()
    token = body["token"]
    assert token.startswith("nzs_") and body["token_type"] == "bearer"
    assert body["user"]["role"] == "admin" and "password" not in str(body["user"])
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"nazorat_session={token}")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Max-Age=" in cookie

    bearer = {"Authorization": f"Bearer {token}"}
    me = httpx.get(f"{svc.base_url}/api/auth/me", headers=bearer)
    assert me.status_code == 200 and me.json()["user"]["username"] == svc.admin_user
    assert me.json()["via"] == "bearer" and me.json()["can_administer"] is True
    # the console's way: the cookie alone (same origin, no header)
    with httpx.Client(base_url=svc.base_url, cookies={"nazorat_session": token}) as browser:
        assert browser.get("/api/auth/me").json()["via"] == "cookie"
        # a cross-site write with the cookie is refused even if SameSite were ignored
        r = browser.post("/api/incidents", headers={"Origin": "http://evil.example"}, json={
            "lat": 1, "lon": 1, "category": "theft", "severity": 1, "source": "operator"})
        assert r.status_code == 403 and r.json()["detail"]["error"] == "bad_origin"

    r = httpx.post(f"{svc.base_url}/api/auth/logout", headers=bearer)
    assert r.status_code == 204
    assert 'nazorat_session=""' in r.headers["set-cookie"] or "Max-Age=0" in r.headers[
        "set-cookie"]
    r = httpx.get(f"{svc.base_url}/api/auth/me", headers=bearer)
    assert r.status_code == 401
    assert r.json()["detail"] == {
        "error": "unauthenticated", "reason": "revoked", "login": "/login.html",
        "message": "session ended (logout)"}
    assert r.headers["www-authenticate"].startswith("Bearer")

    for bad in ("-", "nzs_nonsense", "x" * 300):
        r = httpx.get(f"{svc.base_url}/api/drones", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401 and r.json()["detail"]["login"] == "/login.html"


def test_wrong_passwords_are_refused_alike_then_throttled(svc: RunningService) -> None:
    with svc.client() as admin:
        r = admin.post("/api/users", json={"username": "victim", "password": "long enough pw",
                                           "role": "operator"})
        assert r.status_code == 201, r.text
    unknown = svc.login("nobody-here", "whatever123")
    wrong = svc.login("victim", "not the password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()  # the answer does not tell which was wrong
    assert svc.login("victim", "still wrong!!").status_code == 401
    assert svc.login("victim", "wrong again!!").status_code == 401
    r = svc.login("victim", "long enough pw")  # 3 failures: even the right password waits
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0, r.text
    with svc.client() as admin:
        failed = audit(admin, action="auth.login_failed", actor="victim")
        assert len(failed) == 3 and all(f["outcome"] == "refused" for f in failed)
        assert failed[0]["address"] == "127.0.0.1"
        assert "not the password" not in str(failed)  # passwords are never recorded


def test_unauthenticated_401_commander_403_and_contacts(svc: RunningService) -> None:
    with svc.client(role=None) as anon:
        for method, path, body in [
            ("POST", "/api/drones/1/commands/arm", None),
            ("POST", "/api/drones/1/commands/takeoff", {"alt": 10}),
            ("POST", "/api/missions/plan", {"drones": [1], "points": [{"lat": 1, "lon": 1}]}),
            ("POST", "/api/missions/1/dispatch", None),
            ("POST", "/api/missions/quick", {"lat": 1, "lon": 1}),
            ("POST", "/api/missions/recall-all", None),
            ("GET", "/api/drones", None), ("GET", "/api/incidents", None),
            ("GET", "/api/audit", None), ("GET", "/api/auth/me", None),
        ]:
            r = anon.request(method, path, json=body)
            assert r.status_code == 401, (method, path, r.text)
            assert r.json()["detail"]["error"] == "unauthenticated"
        assert anon.get("/api/health").json() == {"status": "ok"}  # liveness stays public

    with svc.client(role="operator", username="desk") as op:
        r = op.post("/api/incidents", json={
            "lat": 40.1, "lon": 65.1, "category": "theft", "severity": 2,
            "source": "telegram", "reporter_contact": "+998 90 000 00 00"})
        assert r.status_code == 201, r.text
        inc = r.json()
        assert op.get(f"/api/incidents/{inc['id']}").json()["reporter_contact"]

    with svc.client(role="commander") as chief:
        me = chief.get("/api/auth/me").json()
        assert me["can_command"] is False and me["can_see_contacts"] is False
        forbidden: list[tuple[str, str, dict[str, Any] | None]] = [
            ("POST", "/api/drones/1/commands/arm", None),
            ("POST", "/api/drones/1/commands/return_to_launch", None),
            ("POST", "/api/missions/plan", {"drones": [1], "points": [{"lat": 1, "lon": 1}]}),
            ("POST", "/api/missions/1/dispatch", None),
            ("POST", "/api/missions/quick", {"lat": 1, "lon": 1}),
            ("POST", "/api/missions/recall-all", None),
            ("POST", "/api/missions/1/pause", None),
            ("POST", "/api/drones", {"url": "tcpout://127.0.0.1:1"}),
            ("PATCH", f"/api/incidents/{inc['id']}", {"severity": 5}),
            ("POST", "/api/zones", {"name": "x", "kind": "red", "risk_level": 1,
                                    "geometry": {}}),
            ("GET", "/api/audit", None), ("GET", "/api/users", None),
        ]
        for method, path, body in forbidden:
            r = chief.request(method, path, json=body)
            assert r.status_code == 403, (method, path, r.text)
            assert r.json()["detail"]["role"] == "commander"
        one = chief.get(f"/api/incidents/{inc['id']}").json()
        assert "reporter_contact" not in one and one["id"] == inc["id"]
        assert all("reporter_contact" not in i for i in chief.get("/api/incidents").json())
        csv_text = chief.get("/api/incidents/export", params={"format": "csv"}).text
        assert "reporter_contact" not in csv_text and "+998" not in csv_text
        geo = chief.get("/api/incidents/export").json()
        assert all("reporter_contact" not in f["properties"] for f in geo["features"])
        assert chief.get("/api/drones").status_code == 200
    with svc.client() as admin:
        denied = audit(admin, action="auth.denied", actor="commander-test")
        assert any(d["params"]["path"] == "/api/drones/1/commands/arm" for d in denied)


def test_users_roles_and_sessions(svc: RunningService) -> None:
    with svc.client() as admin:
        r = admin.post("/api/users", json={"username": "pilot-1", "password": "short",
                                           "role": "operator"})
        assert r.status_code == 422  # too short
        r = admin.post("/api/users", json={"username": "pilot-1", "password": "pilot-1 secret",
                                           "role": "operator"})
        assert r.status_code == 201, r.text
        uid = r.json()["id"]
        assert admin.post("/api/users", json={"username": "PILOT-1", "password": "x" * 12,
                                              "role": "commander"}).status_code == 409
        token = svc.login("pilot-1", "pilot-1 secret").json()["token"]
        hdr = {"Authorization": f"Bearer {token}"}
        assert admin.get("/api/drones", headers=hdr).status_code == 200

        # a role change ends the user's sessions at once
        r = admin.patch(f"/api/users/{uid}", json={"role": "commander"})
        assert r.status_code == 200 and r.json()["role"] == "commander"
        r = admin.get("/api/drones", headers=hdr)
        assert r.status_code == 401 and r.json()["detail"]["reason"] == "revoked"
        token = svc.login("pilot-1", "pilot-1 secret").json()["token"]
        hdr = {"Authorization": f"Bearer {token}"}
        assert admin.post("/api/missions/recall-all", headers=hdr).status_code == 403

        # deactivated: no login, old sessions dead
        assert admin.patch(f"/api/users/{uid}", json={"active": False}).status_code == 200
        assert admin.get("/api/drones", headers=hdr).status_code == 401
        assert svc.login("pilot-1", "pilot-1 secret").status_code == 401

        # the last admin, and yourself, are protected
        me = admin.get("/api/auth/me").json()["user"]
        r = admin.patch(f"/api/users/{me['id']}", json={"role": "operator"})
        assert r.status_code == 409 and r.json()["detail"]["field"] == "role"
        assert admin.delete(f"/api/users/{me['id']}").status_code == 409
        assert admin.patch(f"/api/users/{me['id']}", json={"active": False}).status_code == 409

        assert admin.delete(f"/api/users/{uid}").status_code == 204
        assert admin.get(f"/api/users/{uid}").status_code == 404
        assert "pilot-1" not in {u["username"] for u in admin.get("/api/users").json()}
        assert admin.post("/api/users", json={"username": "pilot-1", "password": "x" * 12,
                                              "role": "operator"}).status_code == 409

        changes = audit(admin, action="user.role_change")
        assert changes[0]["params"]["changes"]["role"] == {"from": "operator",
                                                           "to": "commander"}
        assert changes[0]["actor"] == svc.admin_user and changes[0]["role"] == "admin"
        assert changes[0]["result"]["sessions_ended"] == 1
        actions = {a["action"] for a in audit(admin, limit=500)}
        assert {"auth.login", "user.create", "user.update", "user.delete"} <= actions


def test_own_password_change_keeps_this_session_and_ends_others(svc: RunningService) -> None:
    with svc.client() as admin:
        assert admin.post("/api/users", json={"username": "changer", "password": "first pass 1",
                                              "role": "commander"}).status_code == 201
    one = svc.login("changer", "first pass 1").json()["token"]
    two = svc.login("changer", "first pass 1").json()["token"]
    h1, h2 = ({"Authorization": f"Bearer {t}"} for t in (one, two))
    r = httpx.post(f"{svc.base_url}/api/auth/password", headers=h1, json={
        "current_password": "wrong", "new_password": "second pass 2"})
    assert r.status_code == 403
    r = httpx.post(f"{svc.base_url}/api/auth/password", headers=h1, json={
        "current_password": "first pass 1", "new_password": "second pass 2"})
    assert r.status_code == 204, r.text
    assert httpx.get(f"{svc.base_url}/api/auth/me", headers=h1).status_code == 200
    assert httpx.get(f"{svc.base_url}/api/auth/me", headers=h2).status_code == 401
    assert svc.login("changer", "second pass 2").status_code == 200


def test_integration_keys_only_create_incidents(svc: RunningService) -> None:
    with svc.client() as admin:
        r = admin.post("/api/integration-keys", json={"name": "camera-7", "source": "camera",
                                                      "rate_per_minute": 30})
        assert r.status_code == 201, r.text
        created = r.json()
        key = created["key"]
        assert key.startswith("nzk_") and created["prefix"] == key[:10]
        listed = admin.get("/api/integration-keys").json()
        assert key not in str(listed) and any(k["name"] == "camera-7" for k in listed)
    hdr = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=svc.base_url, headers=hdr) as cam:
        r = cam.post("/api/intake/incidents", json={
            "lat": 41.2, "lon": 69.1, "category": "suspicious_vehicle", "severity": 4,
            "description": "plate unreadable"})
        assert r.status_code == 201, r.text
        assert r.json()["source"] == "camera"
        for method, path in [("GET", "/api/drones"), ("GET", "/api/incidents"),
                             ("POST", "/api/incidents"), ("GET", "/api/auth/me"),
                             ("POST", "/api/drones/1/commands/arm"),
                             ("POST", "/api/missions/recall-all")]:
            assert cam.request(method, path).status_code == 403, (method, path)
    with svc.client() as admin:
        inc = admin.get(f"/api/incidents/{r.json()['id']}").json()
        assert inc["source"] == "camera" and inc["description"] == "plate unreadable"
        hist = admin.get(f"/api/incidents/{inc['id']}/history").json()
        assert hist[0]["actor"] == "key:camera-7"
        # an operator cannot use the intake API (keys only), and a revoked key stops at once
        assert admin.post("/api/intake/incidents", json={
            "lat": 1, "lon": 1, "category": "other"}).status_code == 403
        assert admin.delete(f"/api/integration-keys/{created['id']}").status_code == 204
    r = httpx.post(f"{svc.base_url}/api/intake/incidents", headers=hdr, json={
        "lat": 1, "lon": 1, "category": "other"})
    assert r.status_code == 401 and r.json()["detail"]["reason"] == "revoked"


def test_audit_log_is_append_only(svc: RunningService) -> None:
    with svc.client() as admin:
        rows = audit(admin, limit=5)
        assert rows
        rid = rows[0]["id"]
        for method in ("PUT", "PATCH", "DELETE"):
            assert admin.request(method, "/api/audit").status_code == 405
            assert admin.request(method, f"/api/audit/{rid}").status_code in (404, 405)
        page = audit(admin, before_id=rid, limit=2)
        assert all(r["id"] < rid for r in page)
        assert admin.get("/api/audit", params={"from": "not a time"}).status_code == 422
    engine = make_engine(svc.database_url)  # the service's own database, SQLite or PostgreSQL
    try:
        for sql in ("UPDATE audit_record SET actor = 'someone else'",
                    "DELETE FROM audit_record"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(sql))
    finally:
        engine.dispose()


def test_ids_and_prefixes_behave_alike_in_every_database(svc: RunningService) -> None:
    """Row ids are 32-bit in PostgreSQL: a larger id is refused (422) or means "no bound", never
    a database error; an action prefix is case-sensitive (LIKE is not, on SQLite)."""
    with svc.client() as admin:
        assert audit(admin, action="auth.") and audit(admin, action="AUTH.") == []
        newest = audit(admin, limit=1)[0]["id"]
        assert audit(admin, before_id=2**40, limit=1)[0]["id"] == newest
        for body, field in [({"drones": [2**40]}, "drones"),
                            ({"drones": [1], "incidents": [2**31]}, "incidents"),
                            ({"drones": [1], "zones": [{"zone_id": 2**33}]}, "zones")]:
            r = admin.post("/api/missions/plan", json=body)
            assert r.status_code == 422 and field in r.text, r.text
        r = admin.post("/api/missions/quick", json={"lat": 1, "lon": 1, "incident_id": 2**40})
        assert r.status_code == 422, r.text
        assert admin.get("/api/audit", params={"drone_id": 2**40}).status_code == 422


def test_security_headers_and_cors(svc: RunningService) -> None:
    page = httpx.get(f"{svc.base_url}/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    with svc.client() as admin:
        api = admin.get("/api/drones")
        assert api.headers["cache-control"] == "no-store"
        assert "access-control-allow-origin" not in api.headers
        other = admin.get("/api/drones", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        ok = admin.get("/api/drones", headers={"Origin": ORIGIN})
        assert ok.headers["access-control-allow-origin"] == ORIGIN
    pre = httpx.options(f"{svc.base_url}/api/drones", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in pre.headers
    # bodies are bounded before any route reads them
    with svc.client() as admin:
        r = admin.post("/api/incidents", content=b"{" + b" " * 2_000_000 + b"}",
                       headers={"content-type": "application/json"})
        assert r.status_code == 413


async def test_websocket_needs_a_user_and_closes_when_the_session_ends(
    svc: RunningService
) -> None:
    async def closed_with(url: str, **kw: Any) -> tuple[int, str]:
        with pytest.raises(ConnectionClosed) as err:
            async with websockets.connect(url, **kw) as ws:
                await asyncio.wait_for(ws.recv(), 5)
                await asyncio.wait_for(ws.recv(), 5)
        assert err.value.rcvd is not None
        return err.value.rcvd.code, err.value.rcvd.reason

    code, reason = await closed_with(svc.ws_url(role=None))
    assert code == 4401 and "unauthenticated" in reason
    code, _ = await closed_with(svc.ws_url(role=None) + "?token=nzs_bogus")
    assert code == 4401
    key = await asyncio.to_thread(svc.integration_key)
    code, reason = await closed_with(svc.ws_url(role=None) + f"?token={key}")
    assert code == 4403
    # the cookie (browsers) works from this origin only
    token = await asyncio.to_thread(svc.token, "commander")
    cookie = {"Cookie": f"nazorat_session={token}"}
    code, _ = await closed_with(svc.ws_url(role=None), additional_headers={
        **cookie, "Origin": "http://evil.example"})
    assert code == 4403
    async with websockets.connect(svc.ws_url(role=None), additional_headers={
            **cookie, "Origin": svc.base_url}) as ws:
        assert '"snapshot"' in await asyncio.wait_for(ws.recv(), 5)

    # a session revoked while its socket is open: the socket is closed within seconds
    fresh = (await asyncio.to_thread(svc.login, svc.admin_user, svc.admin_password)).json()
    url = svc.ws_url(role=None) + f"?token={fresh['token']}"
    async with websockets.connect(url) as ws:
        assert '"snapshot"' in await asyncio.wait_for(ws.recv(), 5)
        r = await asyncio.to_thread(httpx.post, f"{svc.base_url}/api/auth/logout",
                                    headers={"Authorization": f"Bearer {fresh['token']}"})
        assert r.status_code == 204
        t0 = time.monotonic()
        with pytest.raises(ConnectionClosed) as err:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        assert err.value.rcvd is not None and err.value.rcvd.code == 4401
        assert time.monotonic() - t0 < 8


def test_secrets_never_reach_the_log(svc: RunningService) -> None:
    log = svc.log_text()
    assert "WebSocket /ws/telemetry" in log  # the socket tests above are in it
    assert svc.admin_password not in log
    for token in [*svc._tokens.values()]:
        assert token not in log
    assert "nzs_" not in log.replace("nz*_***", "") and "nzk_" not in log


def test_create_admin_cli_and_first_start(tmp_path: Path) -> None:
    env = command_env({"NAZORAT_DATA_DIR": str(tmp_path),
                       "NAZORAT_ADMIN_PASSWORD": "boss password 1"})
    with contextlib.ExitStack() as stack:
        if pg_database.enabled():  # the CLI and then the service on the same database
            env["DATABASE_URL"] = stack.enter_context(pg_database.database())
        _create_admin_then_serve(env)


def _create_admin_then_serve(env: dict[str, str]) -> None:
    """The password read from standard input is the one real `python -m mission.cli` process
    (a pipe, not a terminal); the other runs call the same main() in this process."""
    r = run_cli(["create-admin", "boss"], env)
    assert r.returncode == 0 and "created" in r.stdout, r.stderr
    assert run_cli(["create-admin", "boss"], env).returncode == 1  # exists
    env.pop("NAZORAT_ADMIN_PASSWORD")
    r = run_cli(["create-admin", "boss", "--reset"], env, stdin="short\n")
    assert r.returncode == 1 and "at least" in r.stderr
    r = subprocess.run([sys.executable, "-m", "mission.cli", "create-admin", "boss", "--reset"],
                       cwd=REPO_ROOT, env=env, input="boss password 2\n", capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "boss password" not in r.stdout + r.stderr

    # the service's first start on that database (its lifespan, in this process): the env
    # admin is not made (a user exists), boss logs in
    env.update({"NAZORAT_ADMIN_USER": "other", "NAZORAT_ADMIN_PASSWORD": "other password"})
    app = create_app(load_settings(env))

    async def first_start() -> tuple[int, int]:
        async with app.router.lifespan_context(app) as state:
            async def with_state(scope: Any, receive: Any, send: Any) -> None:
                scope["state"] = dict(state or {})  # what a server does with the state
                await app(scope, receive, send)

            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=with_state),
                                         base_url="http://nazorat.test") as c:
                login = "/api/auth/login"
                boss = await c.post(login, json={"username": "boss",
                                                 "password": "boss password 2"})
                other = await c.post(login, json={"username": "other",
                                                  "password": "other password"})
                return boss.status_code, other.status_code

    assert asyncio.run(first_start()) == (200, 401)


@pytest.mark.nopg  # a simulated run always has its own SQLite file
def test_simulated_run_prints_how_to_log_in(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAZORAT_")}
    env.pop("DATABASE_URL", None)
    env["NAZORAT_DATA_DIR"] = str(tmp_path)
    port = free_port()
    # never SITL's usual 5760/5750, which a developer's `make run` on this machine may hold
    sim_base = find_base_port(1, preferred=random.randrange(20010, 31000))
    log = open(tmp_path / "out.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "mission.cli", "serve", "--sim", "1", "--port", str(port),
         "--sim-speedup", "5", "--sim-base-port", str(sim_base)],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        secret_file = tmp_path / "initial-admin-password"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        out = (tmp_path / "out.log").read_text()
        assert "/login.html" in out and str(secret_file) in out, out
        assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
        text = secret_file.read_text()
        password = text.split("with password ", 1)[1].split()[0]
        assert password not in out  # stdout is not a terminal here: the file has it
        r = httpx.post(f"http://127.0.0.1:{port}/api/auth/login",
                       json={"username": "admin", "password": password})
        assert r.status_code == 200, r.text
    finally:
        import signal

        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # never leave the service and its simulator behind
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
            raise
        finally:
            log.close()
    assert password not in (tmp_path / "out.log").read_text()
