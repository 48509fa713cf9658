"""The bus between processes (telemetry/bus.py) with real processes: two service replicas on one
SQLite file and one Redis, and `nazorat link-worker` with a service in `workers` mode.

Each test gets its own key prefix on the Redis at NAZORAT_TEST_REDIS_URL (default
redis://127.0.0.1:6379/0; pub/sub channels are not scoped by database number, the prefix is what
isolates tests), and deletes its keys at teardown. Skipped when that Redis does not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("service_fixture")

import httpx  # noqa: E402
import redis  # noqa: E402
import websockets  # noqa: E402

from mission.auth.passwords import FAST_HASHING_ENV  # noqa: E402
from service_fixture import REPO_ROOT, ServiceFactory, wait_until  # noqa: E402
from sitl_fleet import FleetFactory  # noqa: E402

pytest_plugins = ["service_fixture"]
pytestmark = pytest.mark.timeout(120)

REDIS_URL = os.environ.get("NAZORAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BUS_SECRET = "test-bus-secret-" + secrets.token_hex(8)  # every process of one test shares it


def _redis_reason() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1.0).ping()
    except (redis.RedisError, OSError) as e:
        return f"Redis not reachable at {REDIS_URL} ({e}): the bus tests need one"
    return None


@pytest.fixture
def bus_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment shared by every process of one test: bus, key prefix, database, admin."""
    reason = _redis_reason()
    if reason:
        pytest.skip(reason)
    prefix = f"nazorat-test-{secrets.token_hex(4)}"
    yield {
        "NAZORAT_BUS_URL": REDIS_URL,
        "NAZORAT_BUS_PREFIX": prefix,
        "NAZORAT_BUS_SECRET": BUS_SECRET,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
        "NAZORAT_ADMIN_USER": "admin",
        "NAZORAT_ADMIN_PASSWORD": secrets.token_urlsafe(16),
    }
    r = redis.Redis.from_url(REDIS_URL)
    keys = list(r.scan_iter(match=f"{prefix}:*", count=500))
    if keys:
        r.delete(*keys)


def _state(c: httpx.Client, drone_id: int) -> dict[str, Any]:
    r = c.get(f"/api/drones/{drone_id}")
    if r.status_code != 200:
        return {}
    state: dict[str, Any] | None = r.json()["state"]
    return state or {}


async def _ws_timed(url: str, seconds: float) -> list[tuple[float, dict[str, Any]]]:
    """Frames of one WebSocket for `seconds`, each with its arrival time (monotonic)."""
    frames: list[tuple[float, dict[str, Any]]] = []
    async with websockets.connect(url) as ws:
        deadline = time.monotonic() + seconds
        with contextlib.suppress(TimeoutError):
            while (left := deadline - time.monotonic()) > 0:
                raw = await asyncio.wait_for(ws.recv(), left)
                frames.append((time.monotonic(), json.loads(raw)))
    return frames


async def _ws_frames(url: str, seconds: float) -> list[dict[str, Any]]:
    return [f for _, f in await _ws_timed(url, seconds)]


def _arrivals(frames: list[tuple[float, dict[str, Any]]]) -> dict[tuple[int, int], float]:
    """(vehicle, position sample time_boot_ms) -> when that sample first arrived."""
    out: dict[tuple[int, int], float] = {}
    for t, f in frames:
        for v in f.get("vehicles", ()):
            if v["tb"] is not None:
                out.setdefault((v["id"], v["tb"]), t)
    return out


async def _both(a_url: str, b_url: str, seconds: float
                ) -> tuple[list[tuple[float, dict[str, Any]]], list[tuple[float, dict[str, Any]]]]:
    return await asyncio.gather(_ws_timed(a_url, seconds), _ws_timed(b_url, seconds))


async def _command_while_watching(
    url: str, http: httpx.Client, path: str, body: dict[str, Any], seconds: float
) -> tuple[httpx.Response, list[dict[str, Any]]]:
    watch = asyncio.create_task(_ws_frames(url, seconds))
    await asyncio.sleep(0.5)
    r = await asyncio.to_thread(http.post, path, json=body)
    return r, await watch


def test_two_replicas_share_telemetry_and_commands(
    sim_fleet: FleetFactory, service_factory: ServiceFactory, bus_env: dict[str, str]
) -> None:
    fleet = sim_fleet(count=2, speedup=5.0, ekf_delay=1.0)
    a = service_factory(drones=[fleet.mavsdk_url(0), fleet.mavsdk_url(1)],
                        env={**bus_env, "NAZORAT_SHARD": "a"})
    b = service_factory(env={**bus_env, "NAZORAT_SHARD": "b"})
    with a.client() as ca, b.client(timeout=30) as cb:
        ids = [d["id"] for d in ca.get("/api/drones").json()]
        assert ids == [1, 2] and [d["shard"] for d in cb.get("/api/drones").json()] == ["a", "a"]
        # (a) B links nothing itself, yet shows A's drones live
        wait_until(lambda: all(_state(cb, i).get("position") and _state(cb, i)["link"] == "up"
                               for i in ids), 20, what="A's drones up with positions on B")
        # B cannot register a second drone on a URL A links (its own link could not tell)
        r = cb.post("/api/drones", json={"url": fleet.mavsdk_url(0)})
        assert r.status_code == 409 and r.json()["detail"]["field"] == "url", r.text
        health = cb.get("/api/health").json()
        assert health["link"]["vehicles"] == 0 and health["bus"]["remote_vehicles"] == 2
        on_a, on_b = asyncio.run(_both(a.ws_url("rate=50"), b.ws_url("rate=50"), 3.0))
        snap = on_b[0][1]
        assert snap["type"] == "snapshot" and {v["id"] for v in snap["vehicles"]} == {1, 2}
        # the same position samples reach B's clients, a few ms after A's
        arr_a, arr_b = _arrivals(on_a[1:]), _arrivals(on_b[1:])
        common = sorted(set(arr_a) & set(arr_b))
        assert len(common) >= 20 and len(common) >= 0.8 * len(arr_a), (len(common), len(arr_a))
        lag = sorted(arr_b[k] - arr_a[k] for k in common)
        p50, p95 = lag[len(lag) // 2], lag[int(len(lag) * 0.95)]
        print(f"position samples on A {len(arr_a)}, on B {len(arr_b)}, common {len(common)}; "
              f"B later than A by p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms")
        assert p50 < 0.1, f"bus adds {p50 * 1000:.0f} ms (p50)"

        # (b) a command through B runs on A's link and returns A's result; the mode change
        # event reaches B's clients and is recorded once (by A, which links the drone)
        r, frames = asyncio.run(_command_while_watching(
            b.ws_url(), cb, "/api/drones/1/commands/set_mode", {"mode": "GUIDED"}, 2.5))
        assert r.status_code == 200 and r.json()["mode"] == "GUIDED", r.text
        print(f"set_mode through B (HTTP round trip): {r.elapsed.total_seconds():.3f} s")
        events = [e for f in frames if f["type"] == "events" for e in f["events"]]
        assert any(e["kind"] == "mode_changed" and e["id"] == 1 for e in events), events
        def recorded() -> list[dict[str, Any]]:
            return [e for e in cb.get("/api/events", params={"drone_id": 1}).json()
                    if e["kind"] == "mode_changed" and e["data"].get("new") == "GUIDED"]

        wait_until(recorded, 5, what="the mode change recorded")
        time.sleep(1.5)  # both recorders have flushed by now (interval 0.5 s)
        assert len(recorded()) == 1, recorded()
        wait_until(lambda: _state(ca, 1).get("mode") == "GUIDED", 5, what="mode on A")
        wait_until(lambda: _state(cb, 1).get("mode") == "GUIDED", 5, what="mode seen on B")
        # a command published straight on A's channel by anyone who reaches Redis (issue 10,
        # bus): A logs it and never runs it
        node_a = ca.get("/api/health").json()["bus"]["node"]
        prefix = bus_env["NAZORAT_BUS_PREFIX"]
        forged = {"id": "f1", "reply": f"{prefix}:reply:x", "v": 1, "c": "set_mode",
                  "p": {"mode": "LAND"}, "t": 5}
        assert redis.Redis.from_url(REDIS_URL).publish(f"{prefix}:cmd:{node_a}",
                                                        json.dumps(forged)) == 1
        wait_until(lambda: ca.get("/api/health").json()["bus"]["refused"] == 1, 5,
                   what="the forged command refused by A")
        assert "bus: command refused, not run: no MAC" in a.log_text()
        time.sleep(1.0)
        assert _state(ca, 1).get("mode") == "GUIDED"
        r = cb.post("/api/drones/2/commands/takeoff", json={"alt": 10})
        assert r.status_code == 409, r.text
        body = r.json()
        assert body["outcome"] == "rejected" and body["reason"], body
        assert body.get("ack", {}).get("name") == "FAILED" or body.get("statustext"), body
        print(f"takeoff while disarmed through B: {r.status_code} {body['reason']!r}")
        direct = ca.post("/api/drones/2/commands/takeoff", json={"alt": 10}).json()
        assert (direct["outcome"], direct.get("ack")) == (body["outcome"], body.get("ack"))
        # recorded once, by the replica that took the request, with its signed-in user
        hist = ca.get("/api/drones/1/commands").json()
        assert [(h["name"], h["outcome"], h["actor"]) for h in hist] == [
            ("set_mode", "accepted", "admin")]
        assert [(h["outcome"], h["actor"]) for h in cb.get("/api/drones/2/commands").json()
                ] == [("rejected", "admin")] * 2

        # (c) A's process killed: a command through B fails fast and says why
        os.killpg(a.pid, signal.SIGKILL)
        assert a._proc is not None
        a._proc.wait(timeout=10)
        t0 = time.monotonic()
        r = cb.post("/api/drones/1/commands/set_mode", json={"mode": "LOITER"})
        took = time.monotonic() - t0
        assert r.status_code == 503, r.text
        assert r.json()["outcome"] == "link_lost" and "link" in r.json()["message"], r.text
        assert took < 2.0, f"took {took:.2f} s"
        print(f"command to a killed owner failed in {took:.3f} s: {r.json()['message']}")
        # and once the ownership TTL has run out, B shows the drones as lost
        wait_until(lambda: _state(cb, 1).get("link") == "lost", 8, what="drone 1 lost on B")
        r = cb.post("/api/drones/1/commands/set_mode", json={"mode": "LOITER"})
        assert r.status_code == 503 and "no live process" in r.json()["message"], r.text
        outcomes = [h["outcome"] for h in cb.get("/api/drones/1/commands").json()]
        assert outcomes == ["link_lost", "link_lost", "accepted"]


def test_link_worker_serves_a_service_in_workers_mode(
    sim_fleet: FleetFactory, service_factory: ServiceFactory, bus_env: dict[str, str],
    tmp_path: Path,
) -> None:
    fleet = sim_fleet(count=2, speedup=5.0, ekf_delay=1.0)
    svc = service_factory(env={**bus_env, "NAZORAT_LINK_MODE": "workers"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAZORAT_")}
    env[FAST_HASHING_ENV] = "1"
    env.update(bus_env)
    env["NAZORAT_DATA_DIR"] = str(tmp_path / "worker")
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "mission.cli", "link-worker", "--shard", "w1",
             "--drones", fleet.mavsdk_url(0)],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        with svc.client() as c:
            state = wait_until(lambda: (s := _state(c, 1)).get("position") and s, 25,
                               what=f"worker's drone on the service\n{log_path.read_text()}")
            assert c.get("/api/health").json()["link"]["vehicles"] == 0
            # ready although its own link never starts (docker-compose's replicas' healthcheck)
            r = c.get("/readyz")
            assert r.status_code == 200, r.text
            assert c.get("/api/drones").json()[0]["shard"] == "w1"
            frames = asyncio.run(_ws_frames(svc.ws_url("rate=5"), 1.5))
            assert [v["id"] for v in frames[0]["vehicles"]] == [1]
            assert any(f["type"] == "update" for f in frames)
            r = c.post("/api/drones/1/commands/set_mode", json={"mode": "GUIDED"})
            assert r.status_code == 200 and r.json()["mode"] == "GUIDED", r.text
            wait_until(lambda: _state(c, 1).get("mode") == "GUIDED", 5, what="mode via worker")
            items = c.get("/api/drones/1/mission")
            assert items.status_code == 200, items.text
            assert state["sysid"] == fleet.sysid(0)
            hist = c.get("/api/drones/1/commands").json()
            assert [(h["name"], h["outcome"]) for h in hist] == [("set_mode", "accepted")]
            # a drone added through the service is only stored there; the worker of its shard
            # follows the database and links it
            r = c.post("/api/drones", json={"url": fleet.mavsdk_url(1), "shard": "w1"})
            assert r.status_code == 201 and r.json()["state"] is None, r.text
            new_id = r.json()["id"]
            wait_until(lambda: _state(c, new_id).get("link") == "up", 15,
                       what=f"added drone linked by the worker\n{log_path.read_text()}")
            assert c.get(f"/api/drones/{new_id}").json()["sysid"] == fleet.sysid(1)
            # and deleted through the service: the worker unlinks it, the service forgets it
            assert c.delete(f"/api/drones/{new_id}").status_code == 204
            wait_until(lambda: new_id not in {v["id"] for v in asyncio.run(
                _ws_frames(svc.ws_url(), 0.3))[0]["vehicles"]}, 10, interval_s=0.5,
                what="deleted drone gone from the service's hub")
            # a stored drone that no process links: refused with the reason, not "no drone"
            r = c.post("/api/drones", json={"url": fleet.mavsdk_url(1), "shard": "nobody"})
            assert r.status_code == 201, r.text
            r = c.post(f"/api/drones/{r.json()['id']}/commands/arm")
            assert r.status_code == 503 and r.json()["outcome"] == "link_lost", r.text
            # the worker stops cleanly: it gives up ownership at once, so the service shows the
            # drone lost within a second or two and refuses commands to it at once
            os.killpg(worker.pid, signal.SIGTERM)
            assert worker.wait(timeout=15) == 0, log_path.read_text()
            t0 = time.monotonic()
            wait_until(lambda: _state(c, 1).get("link") == "lost", 5, what="lost after stop")
            print(f"worker stopped: drone shown lost after {time.monotonic() - t0:.2f} s")
            r = c.post("/api/drones/1/commands/set_mode", json={"mode": "LOITER"})
            assert r.status_code == 503, r.text
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        try:
            code = worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            code = worker.wait(timeout=5)
    assert code == 0, log_path.read_text()
