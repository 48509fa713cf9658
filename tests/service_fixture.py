"""Start the Nazorat service for real (`python -m mission.cli serve` on a free port) for tests.

Register with `pytest_plugins = ["service_fixture"]` in a test module (tests/ is on the path).
`service_factory(drones=[...], env={...})` starts one service process with its own data directory
and returns a `RunningService`; every service started is stopped at teardown (SIGTERM, then
SIGKILL), and its log is printed if the test failed. `restart()` stops and starts it again on
the same port and data directory (persistence tests).

Authentication: each service starts with a first admin from NAZORAT_ADMIN_USER/_PASSWORD (a
random password per service). `client()`/`aclient()` send `Authorization: Bearer` for that
admin by default; `client(role="operator", username="op-7")` for another user (created on first
use, through the admin API), `client(role=None)` for none. `ws_url()` carries the token as
`?token=` the same way. `integration_key()` makes an intake key. `RUNNING` maps base URLs to
services (the browser fixture logs its pages in through it).

Database: SQLite in the service's data directory, unless the environment given has DATABASE_URL
or the suite runs in the PostgreSQL lane (NAZORAT_TEST_DATABASE=postgresql, tests/pg_database.py):
then each service gets a fresh PostgreSQL database at its first start, kept across `restart()`
and dropped by `stop()` (also when the start fails, and at exit for anything left over).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

import pg_database
from mission.auth.passwords import FAST_HASHING_ENV

REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 30.0

# Fast but realistic: the 3 s link-loss timeout is the product's, kept as is.
TEST_ENV = {
    "NAZORAT_TRACK_INTERVAL_S": "0.5",
    "NAZORAT_PROBE_TIMEOUT_S": "5",
    "NAZORAT_RECONNECT_AFTER_S": "30",
    FAST_HASHING_ENV: "1",  # argon2id at a test's cost (mission/auth/passwords.py)
    # the planner's process starts at the first plan: most services a test starts never plan,
    # and its warm-up cost about 50 s of the suite's CPU (test_child_processes turns it on)
    "NAZORAT_PLANNER_WARM_UP": "0",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ForkedProcess:
    """The part of Popen's interface the fixtures use, for a service the zygote forked: it is
    not this process's child, so its end is watched through a pidfd and its exit status is
    asked of the zygote, which keeps it (a zombie) until then."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._zygote = zygote
        self._pidfd = os.pidfd_open(pid)  # valid even if it already ended: never reaped yet

    def poll(self) -> int | None:
        return self.wait(0.0) if self.returncode is None else self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        if self.returncode is not None:
            return self.returncode
        ready, _, _ = select.select([self._pidfd], [], [], timeout)
        if not ready:
            if timeout == 0.0:
                return None
            raise subprocess.TimeoutExpired(f"service pid {self.pid}", timeout or 0.0)
        self.returncode = self._zygote.reap(self.pid)
        os.close(self._pidfd)
        return self.returncode


class Zygote:
    """tests/service_zygote.py, started once per test process: services are forked from it
    with the service already imported (about 2 s of CPU saved per start)."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("service_zygote.py"))],
            cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            start_new_session=True,
        )
        self._lock = threading.Lock()
        hello = self._read()
        if not hello.get("ready"):
            self.close()
            raise RuntimeError(f"service zygote not ready: {hello}")

    def _read(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"service zygote ended (exit {self._proc.wait()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"service zygote: {answer['error']}")
        return answer

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._proc.stdin is not None
        with self._lock:
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            return self._read()

    def spawn(self, argv: list[str], env: Mapping[str, str], cwd: Path,
              log: Path) -> ForkedProcess:
        answer = self._ask({"op": "spawn", "argv": argv, "env": dict(env), "cwd": str(cwd),
                            "log": str(log)})
        return ForkedProcess(self, int(answer["pid"]))

    def reap(self, pid: int) -> int:
        return int(self._ask({"op": "reap", "pid": pid})["returncode"])

    def close(self) -> None:
        """End of its stdin ends it; services it forked are stopped by their own fixtures."""
        with contextlib.suppress(OSError):
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def stop_process_group(proc: subprocess.Popen[Any] | ForkedProcess,
                       timeout_s: float = 15.0) -> float | None:
    """SIGTERM to the process group of `proc` (started in a session of its own), then, as a
    supervisor would after `timeout_s`, SIGKILL. Seconds it took to stop; None if killed."""
    started = time.monotonic()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
        return time.monotonic() - started
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
        return None


_ZYGOTE: list[Zygote] = []


def service_zygote() -> Zygote | None:
    """This process's zygote, started at the first service; None with
    NAZORAT_TEST_FORK_SERVICES=0 (every service a `python -m mission.cli serve` of its own)
    or without pidfds (not Linux)."""
    if os.environ.get("NAZORAT_TEST_FORK_SERVICES") == "0" or not hasattr(os, "pidfd_open"):
        return None
    if not _ZYGOTE:
        _ZYGOTE.append(Zygote())
        atexit.register(_ZYGOTE[0].close)
    return _ZYGOTE[0]


@dataclass
class RunningService:
    port: int
    data_dir: Path
    env: dict[str, str]
    log_path: Path
    _proc: subprocess.Popen[bytes] | ForkedProcess | None = None
    _log: Any = field(default=None, repr=False)
    _tokens: dict[str, str] = field(default_factory=dict, repr=False)
    passwords: dict[str, str] = field(default_factory=dict, repr=False)
    _own_database: str | None = field(default=None, repr=False)
    killed_at_stop: bool = False  # the last stop needed SIGKILL (SIGTERM not honoured in 15 s)
    stop_s: float | None = None  # how long the last stop took, from SIGTERM to the process gone

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of the service's database."""
        url = self.env.get("NAZORAT_DATABASE_URL") or self.env.get("DATABASE_URL")
        return url or f"sqlite:///{self.data_dir / 'nazorat.db'}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_user(self) -> str:
        return self.env.get("NAZORAT_ADMIN_USER", "admin")

    @property
    def admin_password(self) -> str:
        return self.env["NAZORAT_ADMIN_PASSWORD"]

    def ws_url(self, query: str = "", *, role: str | None = "admin",
               username: str | None = None) -> str:
        """The telemetry socket's URL, authenticated with `?token=` unless role is None."""
        params = [query] if query else []
        if role is not None:
            params.append(f"token={self.token(role, username)}")
        return f"ws://127.0.0.1:{self.port}/ws/telemetry" + (
            f"?{'&'.join(params)}" if params else "")

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def login(self, username: str, password: str) -> httpx.Response:
        return httpx.post(f"{self.base_url}/api/auth/login", timeout=30.0,
                          json={"username": username, "password": password})

    def token(self, role: str = "admin", username: str | None = None) -> str:
        """A session token for `username` (default: the admin, or `<role>-test`), creating the
        user with `role` first if needed. Cached per user name."""
        name = username or (self.admin_user if role == "admin" else f"{role}-test")
        if name in self._tokens:
            return self._tokens[name]
        if name == self.admin_user:
            password = self.admin_password
        else:
            password = self.passwords.get(name) or secrets.token_urlsafe(12)
            r = httpx.post(f"{self.base_url}/api/users", timeout=30.0,
                           headers=self.auth_headers(), json={
                               "username": name, "password": password, "role": role})
            assert r.status_code == 201, r.text
            self.passwords[name] = password
        r = self.login(name, password)
        assert r.status_code == 200, r.text
        token: str = r.json()["token"]
        self._tokens[name] = token
        return token

    def forget_token(self, username: str) -> None:
        self._tokens.pop(username, None)

    def auth_headers(self, role: str | None = "admin",
                     username: str | None = None) -> dict[str, str]:
        if role is None:
            return {}
        return {"Authorization": f"Bearer {self.token(role, username)}"}

    def integration_key(self, name: str | None = None, source: str = "citizen_map",
                        rate_per_minute: int = 60) -> str:
        r = httpx.post(f"{self.base_url}/api/integration-keys", timeout=30.0,
                       headers=self.auth_headers(), json={
                           "name": name or f"key-{secrets.token_hex(4)}", "source": source,
                           "rate_per_minute": rate_per_minute})
        assert r.status_code == 201, r.text
        key: str = r.json()["key"]
        return key

    def client(self, timeout: float = 30.0, *, role: str | None = "admin",
               username: str | None = None) -> httpx.Client:
        """An HTTP client signed in as the admin (default), as `username` with `role`, or
        not at all (role=None)."""
        return httpx.Client(base_url=self.base_url, timeout=timeout,
                            headers=self.auth_headers(role, username))

    def aclient(self, timeout: float = 30.0, *, role: str | None = "admin",
                username: str | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=timeout,
                                 headers=self.auth_headers(role, username))

    def start(self) -> None:
        if not self.env.get("NAZORAT_ADMIN_PASSWORD"):
            self.env["NAZORAT_ADMIN_USER"] = self.env.get("NAZORAT_ADMIN_USER", "admin")
            self.env["NAZORAT_ADMIN_PASSWORD"] = secrets.token_urlsafe(16)
        if (pg_database.enabled() and self._own_database is None
                and not self.env.get("DATABASE_URL") and not self.env.get("NAZORAT_DATABASE_URL")):
            self._own_database = self.env["DATABASE_URL"] = pg_database.create()
        RUNNING[self.base_url] = self
        try:
            self._launch()
        except BaseException:
            self.stop()
            raise

    def _launch(self) -> None:
        argv = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "info"]
        zygote = service_zygote()
        if zygote is not None:  # the child opens the log itself
            self._proc = zygote.spawn(argv, self.env, REPO_ROOT, self.log_path)
        else:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "mission.cli", *argv],
                cwd=REPO_ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"service exited early:\n{self.log_text()}")
            try:
                r = httpx.get(f"{self.base_url}/api/health", timeout=1.0)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"service not healthy in {START_TIMEOUT_S} s:\n{self.log_text()}")

    def stop(self) -> None:
        """Stop the process and drop the PostgreSQL database the service was given."""
        self._stop_process()
        own, self._own_database = self._own_database, None
        if own is not None:
            self.env.pop("DATABASE_URL", None)
            pg_database.drop(own)

    def _stop_process(self) -> None:
        if RUNNING.get(self.base_url) is self:
            del RUNNING[self.base_url]
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            # tests that restart assert it was not killed (stop_s is None then)
            self.stop_s = stop_process_group(proc)
            self.killed_at_stop = self.stop_s is None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Stop and start again: same port, data directory and database."""
        self._stop_process()
        self.start()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-20000:]
        except OSError:
            return ""


ServiceFactory = Callable[..., RunningService]


def service_env(data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a service under test: this process's, without any NAZORAT_ setting or
    DATABASE_URL of the developer's, plus TEST_ENV, its own data directory and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAZORAT_")}
    env.pop("DATABASE_URL", None)
    env.update(TEST_ENV)
    env["NAZORAT_DATA_DIR"] = str(data_dir)
    env.update(extra or {})
    return env


def module_service(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, name: str,
    extra: Mapping[str, str] | None = None,
) -> Iterator[RunningService]:
    """Body of a module-scoped fixture: one service (no drones) for all of a module's tests,
    its log printed at the end if any of them failed. `yield from module_service(...)`."""
    data_dir = tmp_path_factory.mktemp(name)
    service = RunningService(free_port(), data_dir, service_env(data_dir, extra),
                             data_dir / "service.log")
    failed_before = request.session.testsfailed
    service.start()
    yield service
    service.stop()
    if request.session.testsfailed > failed_before:
        print(f"--- service log ({service.log_path}) ---\n{service.log_text()}")

RUNNING: dict[str, RunningService] = {}


@pytest.fixture
def service_factory(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[ServiceFactory]:
    started: list[RunningService] = []

    def start(
        drones: Sequence[str] = (), env: dict[str, str] | None = None
    ) -> RunningService:
        n = len(started)
        data_dir = tmp_path / f"service{n}"
        data_dir.mkdir()
        full_env = service_env(data_dir, {"NAZORAT_DRONES": ",".join(drones), **(env or {})})
        svc = RunningService(free_port(), data_dir, full_env, data_dir / "service.log")
        started.append(svc)
        svc.start()
        return svc

    yield start
    failed = getattr(request.node, "rep_call", None)
    for svc in started:
        svc.stop()
        if failed is not None and failed.failed:
            print(f"--- service log ({svc.log_path}) ---\n{svc.log_text()}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Expose each phase's report on the test item so teardown knows whether the test failed."""
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


def wait_until(
    predicate: Callable[[], Any], timeout_s: float, interval_s: float = 0.1, what: str = ""
) -> Any:
    """Poll `predicate` until it returns a truthy value; AssertionError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what or predicate}: {last!r}")


def take_off(c: httpx.Client, drone_id: int = 1, alt_m: float = 30.0) -> None:
    """Through the API, as an operator would: wait until the drone is ready to fly, GUIDED,
    arm, take off to `alt_m`, and wait until it has climbed past two thirds of it."""
    def ready() -> bool:
        s = c.get(f"/api/drones/{drone_id}").json()["state"] or {}
        return bool(s.get("ekf_ok") and s.get("home") and s.get("position"))

    wait_until(ready, 30, what=f"drone {drone_id} ready to fly")
    for name, body in (("set_mode", {"mode": "GUIDED"}), ("arm", None),
                       ("takeoff", {"alt": alt_m})):
        r = c.post(f"/api/drones/{drone_id}/commands/{name}", json=body)
        assert r.status_code == 200, f"{name}: {r.text}"
    wait_until(lambda: (c.get(f"/api/drones/{drone_id}").json()["state"]["alt_rel"] or 0)
               > alt_m * 2 / 3, 30, what=f"drone {drone_id} climbing to {alt_m} m")
