"""Observability (README "Observability"): /healthz, /readyz, Prometheus /metrics and JSON logs.

The readiness function is checked on its own against a real SQLite database and fleet link in
each state (stopped database, link not started, lifespan not complete); the app without its
lifespan answers 503 naming them. The rest runs one real service (subprocess, JSON logs, a
metrics token) against two simulated drones.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

pytest.register_assert_rewrite("service_fixture")

import websockets  # noqa: E402

from mission.app import create_app  # noqa: E402
from mission.db import Database  # noqa: E402
from mission.observability.health import Lifecycle, readiness  # noqa: E402
from mission.observability.logs import JsonFormatter, resolve_format  # noqa: E402
from mission.observability.metrics import ServiceMetrics  # noqa: E402
from mission.settings import Settings, load_settings  # noqa: E402
from service_fixture import RunningService, ServiceFactory, wait_until  # noqa: E402
from sitl_fleet import FleetFactory  # noqa: E402
from telemetry.hub import TelemetryHub  # noqa: E402
from telemetry.link import FleetLink  # noqa: E402

pytest_plugins = ["service_fixture"]
pytestmark = pytest.mark.timeout(90)

METRICS_TOKEN = "metrics-token-for-tests-0123456789"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# -- readiness, unit ----------------------------------------------------------------------------


async def test_readiness_names_each_failed_check(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{(tmp_path / 'ready.db').as_posix()}")
    link = FleetLink(TelemetryHub())
    lifecycle = Lifecycle()

    r = await readiness(lifecycle=lifecycle, db=db, link=link)  # nothing started yet
    assert not r.ready and r.failed == ["lifespan", "fleet_link", "database"]
    assert r.to_dict()["checks"] == {"lifespan": "not complete", "fleet_link": "not started",
                                     "database": "error"}

    await db.start()
    await link.start()
    try:
        lifecycle.complete = True
        r = await readiness(lifecycle=lifecycle, db=db, link=link)
        assert r.ready and r.to_dict() == {"status": "ready", "checks": {
            "lifespan": "ok", "fleet_link": "ok", "database": "ok"}}

        # NAZORAT_LINK_MODE=workers: the service's own link never starts (link workers hold
        # the vehicles); it was once never ready, so docker-compose's replicas never healthy
        await link.stop()
        assert (await readiness(lifecycle=lifecycle, db=db, link=link)).failed == ["fleet_link"]
        assert (await readiness(lifecycle=lifecycle, db=db, link=link, linking=False)).ready

        await db.stop()  # the database goes away under a running service
        r = await readiness(lifecycle=lifecycle, db=db, link=link, linking=False)
        assert r.failed == ["database"] and r.to_dict()["status"] == "not_ready"
    finally:
        await link.stop()
        await db.stop()
    r = await readiness(lifecycle=lifecycle, db=db, link=link)
    assert r.failed == ["fleet_link", "database"]


async def test_app_without_its_lifespan_is_live_but_not_ready() -> None:
    app = create_app(Settings(ui_dir=None))
    transport = httpx.ASGITransport(app=app)  # does not run the lifespan
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as c:
        r = await c.get("/healthz")
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        r = await c.get("/readyz")
        assert r.status_code == 503, r.text
        assert set(r.json()["failed"]) == {"lifespan", "fleet_link", "database"}
        assert r.json()["status"] == "not_ready"
    paths = set(app.openapi()["paths"])
    assert not paths & {"/healthz", "/readyz", "/metrics"}

    guarded = create_app(Settings(ui_dir=None, metrics_token="t0ken-for-scrapes"))
    transport = httpx.ASGITransport(app=guarded)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as c:
        assert (await c.get("/metrics")).status_code == 401
        r = await c.get("/metrics", headers={"Authorization": "Bearer t0ken-for-scrapes"})
        assert r.status_code == 200 and "nazorat_websocket_clients 0.0" in r.text

    simulated = create_app(Settings(ui_dir=None, sim_count=1))  # `make run`: open, no token
    transport = httpx.ASGITransport(app=simulated)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as c:
        assert (await c.get("/metrics")).status_code == 200


def test_each_app_has_its_own_registry() -> None:
    a, b = ServiceMetrics(), ServiceMetrics()
    a.observe_command("arm", "accepted", 0.2)
    sa = parse(generate_latest(a.registry).decode())
    sb = parse(generate_latest(b.registry).decode())
    key = ("nazorat_command_duration_seconds_count",
           frozenset({"command": "arm", "outcome": "accepted"}.items()))
    assert sa[key] == 1 and key not in sb


def test_json_formatter_fields_extras_and_secrets() -> None:
    fmt = JsonFormatter()
    record = logging.LogRecord("mission.x", logging.WARNING, __file__, 1,
                               "login by %s with Bearer %s", ("op", "nzs_abcdefghijkl"), None)
    record.drone_id = 3
    record.token = "plain-secret"
    line = json.loads(fmt.format(record))
    assert line["level"] == "WARNING" and line["logger"] == "mission.x"
    assert line["ts"].endswith("Z") and line["drone_id"] == 3 and line["token"] == "***"
    assert "nzs_abcdefghijkl" not in line["message"] and line["message"].startswith("login by op")


# -- the service --------------------------------------------------------------------------------


def scrape(svc: RunningService, token: str | None = METRICS_TOKEN) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = httpx.get(f"{svc.base_url}/metrics", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


def json_log_lines(svc: RunningService) -> list[dict[str, Any]]:
    """Every log line as JSON; only the CLI's `nazorat:` announcements (stdout) are plain."""
    lines: list[dict[str, Any]] = []
    for raw in svc.log_path.read_text().splitlines():
        if not raw.strip() or raw.startswith("nazorat: "):
            continue
        obj = json.loads(raw)  # fails the test on any non-JSON log line
        assert isinstance(obj, dict) and {"ts", "level", "logger", "message"} <= set(obj), raw
        lines.append(obj)
    return lines


async def test_health_metrics_and_json_logs_on_a_live_fleet(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> None:
    fleet = sim_fleet(count=2, speedup=5.0, ekf_delay=2.0)
    svc = service_factory(
        drones=[fleet.mavsdk_url(0), fleet.mavsdk_url(1)],
        env={"NAZORAT_LOG_FORMAT": "json", "NAZORAT_METRICS_TOKEN": METRICS_TOKEN})
    base = svc.base_url
    async with httpx.AsyncClient(base_url=base, timeout=10) as public:
        r = await public.get("/healthz")
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        r = await public.get("/readyz")
        assert r.status_code == 200 and r.json()["status"] == "ready", r.text
        # the token is required once configured; a wrong one is refused the same way
        assert (await public.get("/metrics")).status_code == 401
        r = await public.get("/metrics", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")

    samples = await asyncio.to_thread(wait_until, lambda: (
        s := scrape(svc)) and value(s, "nazorat_drones_connected") == 2 and s, 20,
        0.25, "2 drones connected in /metrics")
    assert value(samples, "nazorat_drones_known") == 2
    assert value(samples, "nazorat_drone_link_up", drone_id="1") == 1
    first = value(samples, "nazorat_telemetry_messages_received_total")
    assert first > 0
    assert value(samples, "nazorat_telemetry_drone_messages_received_total", drone_id="2") > 0
    assert value(samples, "nazorat_missions", status="planned") == 0
    await asyncio.sleep(1.0)
    later = value(scrape(svc), "nazorat_telemetry_messages_received_total")
    assert later > first, (first, later)

    # a command: one latency observation under its name and outcome
    async with svc.aclient(role="operator", username="op-metrics") as op:
        r = await op.post("/api/drones/1/commands/set_mode", json={"mode": "GUIDED"})
        assert r.status_code == 200, r.text
    samples = scrape(svc)
    labels = {"command": "set_mode", "outcome": "accepted"}
    assert value(samples, "nazorat_command_duration_seconds_count", **labels) == 1
    took = value(samples, "nazorat_command_duration_seconds_sum", **labels)
    assert 0 < took < 10
    assert value(samples, "nazorat_http_requests_total", method="POST", status="200",
                 route="/api/drones/{drone_id}/commands/{name}") == 1

    # a WebSocket client is counted while connected, and no longer once gone
    assert value(samples, "nazorat_websocket_clients") == 0
    async with websockets.connect(svc.ws_url()) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "snapshot"
        assert value(scrape(svc), "nazorat_websocket_clients") == 1
    await asyncio.to_thread(wait_until, lambda: value(
        scrape(svc), "nazorat_websocket_clients") == 0, 5, 0.1, "socket uncounted")

    # JSON logs: one object per line, extra fields, uvicorn's lines in the same format
    lines = json_log_lines(svc)
    command = [x for x in lines if x.get("command") == "set_mode"]
    assert command and command[0]["drone_id"] == 1 and command[0]["outcome"] == "accepted"
    assert command[0]["actor"] == "op-metrics" and command[0]["logger"] == "mission.fleet.commands"
    access = [x for x in lines if x["logger"] == "uvicorn.access"]
    assert any(x["path"] == "/readyz" and x["status"] == 200 for x in access)
    assert any(x["logger"] == "uvicorn.error" for x in lines)
    text = svc.log_path.read_text()
    assert METRICS_TOKEN not in text and svc.admin_password not in text
    assert "nzs_" not in text.replace("nz*_***", "")


def test_metrics_public_by_default(service_factory: ServiceFactory) -> None:
    """Issue 10: /metrics was public by default; now it needs NAZORAT_METRICS_TOKEN outside
    the simulated run."""
    svc = service_factory(env={"NAZORAT_LOG_FORMAT": "text"})
    r = httpx.get(f"{svc.base_url}/metrics", timeout=10)
    assert r.status_code == 403 and r.json()["detail"]["error"] == "metrics_off", r.text
    assert "nazorat_" not in r.text
    lines = svc.log_path.read_text().splitlines()
    assert any("Application startup complete" in x for x in lines)
    assert not any(x.startswith("{") for x in lines)


def test_log_format_setting() -> None:
    assert load_settings({}).log_format == "auto"
    with pytest.raises(ValueError, match="NAZORAT_LOG_FORMAT"):
        load_settings({"NAZORAT_LOG_FORMAT": "xml"})
    assert resolve_format("auto", io.StringIO()) == "json"  # not a terminal
    assert resolve_format("text", io.StringIO()) == "text"
