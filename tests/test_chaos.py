"""Chaos (issue 13, item 5): kill or stall every kind of process under a flying patrol.

Real processes on free ports: two service replicas (`NAZORAT_LINK_MODE=workers`) and two
`nazorat link-worker`s (worker 1 registers the three drones in its shard; worker 2 links none
of its own but may take over any `tcpout://127.0.0.1:*` drone, NAZORAT_LINK_REACH), three drones
of our simulator (time compressed), a redis-server and a PostgreSQL cluster of the test's own
(so pausing one and restarting the other disturbs no other test on the machine). One mission
over three incidents is dispatched through replica A, and while it flies:

(a) the link worker owning the drones is SIGKILLed: the other one takes every drone over within
    5 s (the times are measured and printed) and drives the legs on;
(b) replica A, which dispatched the mission, is SIGKILLed: replica B serves the API and shows
    the mission going on;
(c) Redis is paused for 10 s (`CLIENT PAUSE 10000 ALL`) while an operator sends a command
    through B: the simulator's own log of what reached each drone shows no command executed
    twice (nor one the command record does not count as accepted), the dispatch's plans and
    mission start once per drone, and everything recovers (the drones linked and leased again);
(d) PostgreSQL is restarted (`pg_ctl restart -m immediate`: every connection cut, a crash
    recovery): replica B answers from the database again and the worker stores the legs' end.

The mission completes with every incident observed, each incident's history intact. Skipped
when there is no redis-server; without PostgreSQL binaries (or a `postgres` user to run them
as root) (d) falls back to terminating the service's backends on the machine's PostgreSQL
(`pg_terminate_backend`), and says so; without either, it runs on SQLite and skips (d).
"""

from __future__ import annotations

import contextlib
import functools
import glob
import math
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("service_fixture")

import httpx  # noqa: E402
import redis  # noqa: E402

import pg_database  # noqa: E402
from service_fixture import (  # noqa: E402
    REPO_ROOT,
    RunningService,
    ServiceFactory,
    free_port,
    service_env,
    stop_process_group,
    wait_until,
)
from sitl_fleet import FleetFactory, SitlFleet  # noqa: E402
from test_bus import BUS_SECRET  # noqa: E402
from test_bus_security import _own_redis  # noqa: E402

pytest_plugins = ["service_fixture"]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SPEEDUP = 10.0
TAKEOVER_LIMIT_S = 5.0  # issue 13: the other worker holds and links the drones within 5 s
PAUSE_MS = 10_000
MAV_CMD_DO_SET_ROI_NONE = 197
MAV_CMD_MISSION_START = 300
STORED_MISSION, STORED_FENCE = 0, 1


# -- a PostgreSQL of the test's own ------------------------------------------------------------

@dataclass
class PrivatePostgres:
    """initdb + pg_ctl on a free port in a temporary directory, run as `postgres` when this
    process is root (PostgreSQL refuses to run as root)."""

    bindir: Path
    root: Path
    port: int
    as_user: str | None

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = 60) -> None:
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        if self.as_user:
            cmd = ["runuser", "-u", self.as_user, "--", *cmd]
        subprocess.run(cmd, check=True, timeout=timeout, stdout=subprocess.DEVNULL,
                       stderr=subprocess.STDOUT)

    def _options(self) -> str:
        # fsync off: only an OS crash could lose what was committed (not a server crash,
        # which is what restart() is; synchronous_commit stays on, so a commit is durable)
        return f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start(self) -> None:
        self._run("initdb", "-D", str(self.root / "data"), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")
        self._run("pg_ctl", "-D", str(self.root / "data"), "-o", self._options(),
                  "-l", str(self.root / "log"), "-w", "start")

    def restart(self) -> None:
        """Every connection cut at once, as a crash (immediate: crash recovery at start)."""
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-o",
                  self._options(), "-l", str(self.root / "log"), "-w", "restart")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop",
                      timeout=30)

    def create_database(self) -> str:
        import psycopg

        name = f"nazorat_chaos_{secrets.token_hex(4)}"
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres",
                             autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


def _private_postgres_reason() -> tuple[Path | None, str | None, str]:
    """(bindir, user to run as, why not): bindir None when no private cluster can run."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = Path(found[-1]) if found else (Path(p) if (p := shutil.which("initdb")) else None)
    if initdb is None or not (initdb.parent / "pg_ctl").exists():
        return None, None, "no initdb/pg_ctl binaries"
    if os.geteuid() != 0:
        return initdb.parent, None, ""
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None, None, "running as root and there is no `postgres` user to run them as"
    if shutil.which("runuser") is None:
        return None, None, "running as root without `runuser`"
    return initdb.parent, "postgres", ""


@dataclass
class Database:
    """The test's database and how (d) 'restarts' it."""

    url: str
    how: str
    restart: Callable[[], None] | None


@pytest.fixture
def chaos_database(tmp_path: Path) -> Iterator[Database]:
    bindir, user, why = _private_postgres_reason()
    if bindir is not None:
        root = Path(tempfile.mkdtemp(prefix="nazorat-chaos-pg-"))
        if user:
            shutil.chown(root, user)
        pg = PrivatePostgres(bindir, root, free_port(), user)
        try:
            pg.start()
            yield Database(pg.create_database(), f"a private PostgreSQL on :{pg.port}, "
                           "restarted with pg_ctl restart -m immediate", pg.restart)
        finally:
            pg.stop()
            shutil.rmtree(root, ignore_errors=True)
        return
    if pg_database.probe() is None:
        url = pg_database.create()
        try:
            yield Database(url, f"the machine's PostgreSQL (no private cluster: {why}); "
                           "'restarted' by terminating this database's backends",
                           lambda: _terminate_backends(url))
        finally:
            pg_database.drop(url)
        return
    yield Database(f"sqlite:///{tmp_path / 'shared.db'}",
                   f"SQLite (no private PostgreSQL: {why}; none reachable either): "
                   "the restart is not tested", None)


def _terminate_backends(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    with psycopg.connect(pg_database.ADMIN_URL.replace("+psycopg", ""), autocommit=True) as c:
        c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))


# -- link workers ------------------------------------------------------------------------------

@dataclass
class Worker:
    shard: str
    env: dict[str, str]
    log_path: Path
    drones: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    node: str = ""
    _log: Any = field(default=None, repr=False)

    def start(self) -> None:
        argv = [sys.executable, "-m", "mission.cli", "link-worker", "--shard", self.shard]
        if self.drones:
            argv += ["--drones", ",".join(self.drones)]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        line = wait_until(lambda: self._started_line(), 40,
                          what=f"link worker {self.shard} started\n{self.log_text()}")
        self.node = line.group(1)

    def _started_line(self) -> re.Match[str] | None:
        assert self.proc is not None
        assert self.proc.poll() is None, f"worker {self.shard} exited:\n{self.log_text()}"
        return re.search(r"nazorat link-worker: shard '[^']*', node (\S+),", self.log_text())

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            stop_process_group(proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-20000:]
        except OSError:
            return ""


@pytest.fixture
def workers(request: pytest.FixtureRequest) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    failed = getattr(request.node, "rep_call", None)
    for w in started:
        w.stop()
        if failed is not None and failed.failed:
            print(f"--- link worker {w.shard} log ({w.log_path}) ---\n{w.log_text()}")


@pytest.fixture
def chaos_redis(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A redis-server of the test's own: pausing it stalls nobody else's tests."""
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server: the chaos test pauses a Redis of its own")
    yield from _own_redis(tmp_path, tls=False)


# -- helpers -----------------------------------------------------------------------------------

def _state(c: httpx.Client, drone_id: int) -> dict[str, Any]:
    try:
        r = c.get(f"/api/drones/{drone_id}")
    except httpx.HTTPError:
        return {}
    if r.status_code != 200:
        return {}
    state: dict[str, Any] | None = r.json()["state"]
    return state or {}


def _ready(c: httpx.Client, drone_id: int) -> bool:
    s = _state(c, drone_id)
    return bool(s.get("link") == "up" and s.get("ekf_ok") and s.get("home")
                and s.get("position") and s.get("battery_pct") is not None)


def _climbing(c: httpx.Client, drone_id: int) -> bool:
    return bool((_state(c, drone_id).get("alt_rel") or 0) > 5)


def _mission(c: httpx.Client, mission_id: int) -> dict[str, Any] | None:
    try:
        r = c.get(f"/api/missions/{mission_id}")
    except httpx.HTTPError:
        return None
    if r.status_code != 200:
        return None
    body: dict[str, Any] = r.json()
    return body


def _observed(c: httpx.Client, mission_id: int) -> int:
    m = _mission(c, mission_id)
    return 0 if m is None else sum(1 for t in m["targets"] if t["observed_at"])


def _incident(c: httpx.Client, home: dict[str, float], north: float, east: float) -> int:
    lat = home["lat"] + north / 111_320.0
    lon = home["lon"] + east / (111_320.0 * math.cos(math.radians(home["lat"])))
    r = c.post("/api/incidents", json={
        "lat": round(lat, 7), "lon": round(lon, 7), "category": "drug_activity",
        "severity": 3, "source": "citizen_map", "description": "chaos patrol"})
    assert r.status_code == 201, r.text
    incident_id: int = r.json()["id"]
    return incident_id


def _holder(r: redis.Redis, prefix: str, vid: int) -> str | None:
    value = r.get(f"{prefix}:owner:{vid}")
    if not value:
        return None
    text = value.decode() if isinstance(value, bytes) else str(value)
    return text.partition(" ")[2]


def _received(fleet: SitlFleet, instance: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = fleet.control("received", vehicle=instance)["received"]
    return got


def _commands(got: list[dict[str, Any]], command: int) -> list[dict[str, Any]]:
    """Executions of `command` (a MAVLink retransmission of one send, confirmation > 0, is the
    same command asked again by the link, and answered again: not a second execution)."""
    return [e for e in got if e.get("command") == command and not e.get("confirmation")]


def _stored(got: list[dict[str, Any]], kind: int) -> list[dict[str, Any]]:
    return [e for e in got if e.get("stored") == kind]


def _accepted(c: httpx.Client, drone_id: int, name: str) -> int:
    hist = c.get(f"/api/drones/{drone_id}/commands").json()
    return sum(1 for h in hist if h["name"] == name and h["outcome"] == "accepted")


# -- the test ----------------------------------------------------------------------------------

def test_killed_paused_and_restarted_processes_lose_no_drone_mission_or_incident(
    chaos_redis: tuple[str, str], chaos_database: Database, sim_fleet: FleetFactory,
    service_factory: ServiceFactory, workers: list[Worker], tmp_path: Path,
) -> None:
    # (Redis and PostgreSQL first: torn down last, after every process that uses them)
    t_start = time.monotonic()
    redis_url, redis_password = chaos_redis
    prefix = f"nazorat-chaos-{secrets.token_hex(3)}"
    shared = {
        "NAZORAT_BUS_URL": redis_url, "NAZORAT_BUS_PASSWORD": redis_password,
        "NAZORAT_BUS_PREFIX": prefix, "NAZORAT_BUS_SECRET": BUS_SECRET,
        "DATABASE_URL": chaos_database.url,
        "NAZORAT_ADMIN_USER": "admin", "NAZORAT_ADMIN_PASSWORD": secrets.token_urlsafe(16),
    }
    bus = redis.Redis.from_url(redis_url, password=redis_password, socket_timeout=30)
    fleet = sim_fleet(count=3, speedup=SPEEDUP, ekf_delay=1.0, spacing=8.0)
    urls = tuple(fleet.mavsdk_url(i) for i in range(3))

    def worker(shard: str, drones: tuple[str, ...] = ()) -> Worker:
        d = tmp_path / f"worker-{shard}"
        d.mkdir()
        env = service_env(d, {**shared, "NAZORAT_LINK_REACH": "tcpout://127.0.0.1:*"})
        w = Worker(shard, env, tmp_path / f"worker-{shard}.log", drones)
        workers.append(w)
        w.start()
        return w

    replica_env = {**shared, "NAZORAT_LINK_MODE": "workers"}
    a: RunningService = service_factory(env=replica_env)  # first: migrates, makes the admin
    w1 = worker("w1", urls)
    b: RunningService = service_factory(env=replica_env)
    ca, cb = a.client(timeout=60), b.client(timeout=60)
    with ca, cb:
        ids = sorted(d["id"] for d in cb.get("/api/drones").json())
        assert ids == [1, 2, 3], ids
        for vid in ids:
            wait_until(functools.partial(_ready, cb, vid), 40, what=f"drone {vid} ready on B")
        assert {_holder(bus, prefix, v) for v in ids} == {w1.node}
        w2 = worker("w2")  # its own shard is empty: it may only take w1's drones over
        home = _state(cb, 1)["home"]
        incidents = [_incident(ca, home, 450, 0), _incident(ca, home, 0, 450),
                     _incident(ca, home, -450, 0)]
        r = ca.post("/api/missions/plan", json={
            "name": "chaos patrol", "drones": ids, "incidents": incidents, "altitude_m": 25,
            "on_station": {"kind": "loiter", "seconds": 180}})
        assert r.status_code == 201, r.text
        plan = r.json()
        assert not plan["dropped"] and len(plan["targets"]) == 3, plan
        legs = {leg["drone_id"] for leg in plan["legs"]}
        r = ca.post(f"/api/missions/{plan['id']}/dispatch")
        assert r.status_code == 200 and r.json()["status"] == "active", r.text
        mid = plan["id"]
        dispatched = time.monotonic()

        def since() -> str:
            return f"[+{time.monotonic() - dispatched:.1f} s after dispatch]"
        print(f"setup and dispatch: {time.monotonic() - t_start:.1f} s; legs for drones "
              f"{sorted(legs)}; database: {chaos_database.how}")
        for vid in legs:
            wait_until(functools.partial(_climbing, cb, vid), 30, what=f"drone {vid} climbing")
        assert {_holder(bus, prefix, v) for v in ids} == {w1.node}, "w2 stole a held lease"

        # (a) the owning link worker dies mid-flight
        w1.kill()
        killed, killed_wall = time.monotonic(), time.time()
        leased: dict[int, float] = {}
        up: dict[int, float] = {}

        def taken_over() -> bool:
            now = time.monotonic() - killed
            for vid in ids:
                if vid not in leased and _holder(bus, prefix, vid) == w2.node:
                    leased[vid] = now
                if vid in leased and vid not in up:
                    s = _state(cb, vid)
                    if s.get("link") == "up" and not s.get("link_reason"):
                        up[vid] = time.monotonic() - killed
            return len(up) == len(ids)

        wait_until(taken_over, 30, interval_s=0.05,
                   what=f"w2 taking the drones over\n{w2.log_text()}")
        print(f"{since()} (a) takeover after SIGKILL of the owning worker: lease taken "
              + ", ".join(f"drone {v} {leased[v]:.2f} s" for v in ids) + "; telemetry up on B "
              + ", ".join(f"drone {v} {up[v]:.2f} s" for v in ids))
        assert max(leased.values()) < TAKEOVER_LIMIT_S, leased
        m = _mission(cb, mid)
        assert m is not None and m["status"] == "active", m

        # (b) the replica that dispatched dies; B serves the mission
        a_pid = a.pid
        os.killpg(a_pid, signal.SIGKILL)
        assert a._proc is not None
        a._proc.wait(timeout=10)
        observed_before = _observed(cb, mid)
        wait_until(lambda: _observed(cb, mid) >= 1, 60,
                   what="an incident observed after both kills")
        m = _mission(cb, mid)
        assert m is not None and m["status"] == "active", m
        print(f"{since()} (b) replica A killed; B shows the mission active, "
              f"{observed_before} incident(s) observed before, {_observed(cb, mid)} now")

        # (c) Redis stalls for 10 s while an operator asks for a harmless command through B
        roi_before = {v: len(_commands(_received(fleet, v - 1), MAV_CMD_DO_SET_ROI_NONE))
                      for v in ids}
        answer: dict[str, Any] = {}

        def during_pause() -> None:
            time.sleep(0.5)  # inside the pause (the thread is started right after it)
            t0 = time.monotonic()
            try:
                with b.client(timeout=60) as c:
                    resp = c.post("/api/drones/1/commands/clear_roi")
                answer.update(status=resp.status_code, body=resp.json(),
                              took=time.monotonic() - t0)
            except httpx.HTTPError as e:
                answer.update(status=None, body=str(e), took=time.monotonic() - t0)

        b.token()  # signed in before the pause
        paused = time.monotonic()
        bus.execute_command("CLIENT", "PAUSE", str(PAUSE_MS), "ALL")
        t = threading.Thread(target=during_pause)
        t.start()
        t.join(timeout=90)
        assert not t.is_alive()
        print(f"{since()} (c) clear_roi through B during the Redis pause: {answer.get('status')} "
              f"{answer.get('body')} after {answer.get('took', 0):.1f} s")
        # recovered: every drone linked and leased again, shown up on B
        wait_until(lambda: all(_holder(bus, prefix, v) for v in ids)
                   and all(_state(cb, v).get("link") == "up" for v in ids), 60,
                   what=f"the fleet back after the pause\n{w2.log_text()}")
        back = time.monotonic() - paused
        print(f"{since()} (c) fleet linked and leased again {back:.1f} s after the pause began "
              f"({PAUSE_MS / 1000:.0f} s)")
        # the operator retries once it is back: executed exactly once more
        r = cb.post("/api/drones/1/commands/clear_roi")
        assert r.status_code == 200, r.text
        wait_until(lambda: len(_commands(_received(fleet, 0), MAV_CMD_DO_SET_ROI_NONE))
                   >= roi_before[1] + 1, 10, what="the retried clear_roi at the drone")
        roi_after = len(_commands(_received(fleet, 0), MAV_CMD_DO_SET_ROI_NONE))
        assert roi_after - roi_before[1] == _accepted(cb, 1, "clear_roi"), (
            "the drone executed clear_roi a different number of times than the record "
            f"accepted it: {roi_after - roi_before[1]} vs "
            f"{cb.get('/api/drones/1/commands').json()}")

        # (d) PostgreSQL restarts under everyone
        restarted_wall = None
        if chaos_database.restart is None:
            print(f"(d) skipped: {chaos_database.how}")
        else:
            restarted_wall = time.time()
            chaos_database.restart()
            restarted = time.monotonic()
            wait_until(lambda: _mission(cb, mid) is not None, 30,
                       what=f"B answering from the database again\n{b.log_text()}")
            r = cb.post("/api/incidents", json={
                "lat": home["lat"], "lon": home["lon"], "category": "drug_activity",
                "severity": 1, "source": "citizen_map", "description": "after the restart"})
            assert r.status_code == 201, r.text
            print(f"{since()} (d) PostgreSQL restarted ({chaos_database.how}); B read and "
                  f"wrote again {time.monotonic() - restarted:.2f} s later")

        m = _mission(cb, mid)
        assert m is not None and m["status"] == "active" and all(
            leg["status"] == "flying" for leg in m["legs"]), ("the chaos outlasted the patrol: "
                                                               f"make it longer\n{m}")
        done = wait_until(lambda: (m := _mission(cb, mid)) and m["status"] in (
            "completed", "failed", "aborted") and m, 120, interval_s=0.5,
            what=f"the mission finished\n{w2.log_text()}")
        assert done["status"] == "completed", done
        assert all(t["observed_at"] and t["observed_by"] in legs for t in done["targets"]), done
        for inc in incidents:
            hist = [h["to_status"] for h in cb.get(f"/api/incidents/{inc}/history").json()]
            assert hist == ["new", "triaged", "assigned", "observed"], (inc, hist)
        kinds = [e["kind"] for e in cb.get(f"/api/missions/{mid}/log").json()]
        assert kinds[0] == "planned" and kinds[-1] == "completed", kinds
        assert kinds.count("observed") == 3, kinds
        # what reached the drones: the dispatch's fence, plan and start once each, whatever
        # changed owner meanwhile (a takeover reattaches; it never re-sends or restarts)
        for vid in sorted(legs):
            got = _received(fleet, vid - 1)
            assert len(_stored(got, STORED_MISSION)) == 1, (vid, got)
            assert len(_stored(got, STORED_FENCE)) <= 1, (vid, got)
            assert len(_commands(got, MAV_CMD_MISSION_START)) == 1, (vid, got)
        # the tracks the owners recorded (a drone holding still is written once a minute):
        # w2's after its takeover, and after the PostgreSQL restart (the return flight)
        after = []
        for vid in sorted(legs):
            times = cb.get(f"/api/drones/{vid}/track").json()["properties"]["times"]
            after.append((sum(1 for t in times if t > killed_wall),
                          sum(1 for t in times if restarted_wall and t > restarted_wall)))
            if restarted_wall is not None:
                assert after[-1][1] > 0, f"drone {vid}: nothing recorded after the restart"
        print(f"{since()} track points recorded after the takeover / after the restart: "
              + ", ".join(f"drone {v} {a} / {r}" for v, (a, r) in zip(sorted(legs), after,
                                                                     strict=True)))
        print(f"{since()} mission {mid} completed, {len(incidents)} incidents observed; "
              f"log: {kinds}; test wall time {time.monotonic() - t_start:.1f} s")
