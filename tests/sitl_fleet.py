"""Run ``python -m sitl`` as a child process for a test and always stop it again.

See docs/sitl-interface.md ("pytest fixture"). :class:`SitlFleet` picks free ports, starts the fleet
in its own process group, waits for ``sitl: ready`` and kills the whole group at teardown.
:func:`fleet_factory` backs the ``sitl_fleet`` / ``sim_fleet`` fixtures in conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import inspect
import json
import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn, TypeVar

import psutil
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 30.0
NO_BINARY_REASON = "no arducopter binary: set ARDUPILOT_SITL_BINARY or put arducopter on PATH"
ENGINES = ("sim", "ardupilot")
# Ports chosen below the Linux ephemeral range (32768+) so outgoing connections never take them.
PORT_RANGE = (20000, 32000)
# TCP ports a vehicle uses relative to its own port: the simulator only +0; real SITL also
# opens SERIAL1/SERIAL2 on +2/+3.
VEHICLE_PORT_OFFSETS = {"sim": (0,), "ardupilot": (0, 2, 3)}

_VEHICLE_LINE = re.compile(r"^sitl: vehicle (\d+) sysid (\d+) tcp:127\.0\.0\.1:(\d+)\s*$")

T = TypeVar("T")


class FleetError(RuntimeError):
    """The fleet process did not start (or stop) as expected."""


class ControlError(RuntimeError):
    """The control interface answered ``{"ok": false, "error": ...}``."""


def port_is_free(port: int) -> bool:
    """True if nothing listens on TCP ``port`` on any local address."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def find_free_base_port(
    count: int,
    *,
    offsets: Sequence[int] = (0,),
    control: bool = True,
    rng: random.Random | None = None,
    attempts: int = 500,
) -> int:
    """A base port P with P+10*i+o free for every vehicle i and offset o (and P-10 if control)."""
    rng = rng or random.Random()
    low, high = PORT_RANGE
    for _ in range(attempts):
        base = rng.randrange(low + 10, high - 10 * count)
        ports = [base + 10 * i + o for i in range(count) for o in offsets]
        if control:
            ports.append(base - 10)
        if all(port_is_free(p) for p in ports):
            return base
    raise FleetError(f"no free block of ports for {count} vehicles in {PORT_RANGE}")


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Linux: SIGTERM the fleet if the test process dies without a teardown (it then cleans up)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class SitlFleet:
    """One ``python -m sitl`` process and what it announced.

    ``engine="ardupilot"`` runs real arducopter binaries through the same CLI: ``speedup`` goes to
    their ``--speedup``, ``ekf_delay`` is ignored and :meth:`control` skips the test.
    """

    def __init__(
        self,
        count: int = 1,
        *,
        engine: str = "sim",
        speedup: float = 1.0,
        ekf_delay: float | None = None,
        home: str | None = None,
        spacing: float | None = None,
        sysid_base: int = 1,
        extra_args: Sequence[str] = (),
        ready_timeout: float = READY_TIMEOUT,
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
        self.count = count
        self.engine = engine
        self.speedup = speedup
        self.ekf_delay = ekf_delay
        self.home = home
        self.spacing = spacing
        self.sysid_base = sysid_base
        self.extra_args = tuple(extra_args)
        self.ready_timeout = ready_timeout
        self.base_port = 0
        self.control_port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.stdout_lines: list[str] = []
        self._stderr: deque[str] = deque(maxlen=400)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._readers: list[threading.Thread] = []
        self._vehicles: dict[int, tuple[int, int]] = {}  # instance -> (sysid, port)

    # ---- lifecycle -------------------------------------------------------------------------

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-u",
            "-m",
            "sitl",
            "--count",
            str(self.count),
            "--base-port",
            str(self.base_port),
            "--sysid-base",
            str(self.sysid_base),
            "--speedup",
            f"{self.speedup:g}",
        ]
        if self.engine == "ardupilot":
            cmd += ["--engine", "ardupilot"]
        else:
            cmd += ["--control-port", str(self.control_port)]
            if self.ekf_delay is not None:
                cmd += ["--ekf-delay", f"{self.ekf_delay:g}"]
        if self.home is not None:
            cmd.append(f"--home={self.home}")  # one token: a southern home starts with "-"
        if self.spacing is not None:
            cmd += ["--spacing", f"{self.spacing:g}"]
        return cmd + list(self.extra_args)

    def start(self) -> SitlFleet:
        """Start on free ports and wait for ``sitl: ready``; retry if a port was taken meanwhile."""
        for attempt in range(3):
            self.base_port = find_free_base_port(
                self.count,
                offsets=VEHICLE_PORT_OFFSETS[self.engine],
                control=self.engine == "sim",
            )
            self.control_port = self.base_port - 10
            try:
                self._start_once()
                return self
            except FleetError:
                in_use = "address already in use" in self.stderr_text().lower()
                self.stop()
                if not in_use or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> None:
        self.stdout_lines = []
        self._stderr.clear()
        self._lines = queue.Queue()
        self._vehicles = {}
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        popen_kw: dict[str, Any] = {}
        if sys.platform.startswith("linux"):
            popen_kw["preexec_fn"] = _die_with_parent
        self.proc = subprocess.Popen(
            self.command(),
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
            **popen_kw,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read_stdout, args=(self.proc.stdout,), daemon=True),
            threading.Thread(target=self._read_stderr, args=(self.proc.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self._wait_ready()

    def _read_stdout(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _read_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            self._stderr.append(line.rstrip("\n"))

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail(f"no 'sitl: ready' within {self.ready_timeout:g} s")
            try:
                line = self._lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                assert self.proc is not None
                try:
                    code = self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    code = None
                self._fail(f"the fleet process closed stdout (exit code {code}) before ready")
            self.stdout_lines.append(line)
            match = _VEHICLE_LINE.match(line)
            if match:
                instance, sysid, port = (int(g) for g in match.groups())
                self._vehicles[instance] = (sysid, port)
            elif line.strip() == "sitl: ready":
                break
        if sorted(self._vehicles) != list(range(self.count)):
            self._fail(f"expected vehicles 0..{self.count - 1}, got {sorted(self._vehicles)}")

    def _fail(self, why: str) -> NoReturn:
        # let the stderr reader catch up so the message shows the real cause
        time.sleep(0.2)
        raise FleetError(
            f"sitl fleet ({' '.join(self.command())}) failed: {why}\n"
            f"--- stdout ---\n" + "\n".join(self.stdout_lines) + "\n"
            f"--- stderr ---\n{self.stderr_text()}"
        )

    def stderr_text(self) -> str:
        return "\n".join(self._stderr)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, wait, then SIGKILL the group and any leftover descendant."""
        proc = self.proc
        if proc is None:
            return
        self.proc = None
        try:
            descendants = psutil.Process(proc.pid).children(recursive=True)
        except psutil.Error:
            descendants = []
        _killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
        _killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        for child in descendants:
            with contextlib.suppress(psutil.Error):
                child.kill()
        with contextlib.suppress(psutil.Error):
            psutil.wait_procs(descendants, timeout=5)
        for reader in self._readers:
            reader.join(timeout=2)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> SitlFleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- what tests use ---------------------------------------------------------------------

    def _vehicle(self, instance: int) -> tuple[int, int]:
        try:
            return self._vehicles[instance]
        except KeyError:
            raise IndexError(f"no vehicle {instance} in a fleet of {self.count}") from None

    def tcp_port(self, instance: int) -> int:
        return self._vehicle(instance)[1]

    def sysid(self, instance: int) -> int:
        return self._vehicle(instance)[0]

    def url(self, instance: int) -> str:
        """pymavlink / MAVProxy form: ``tcp:127.0.0.1:PORT``."""
        return f"tcp:127.0.0.1:{self.tcp_port(instance)}"

    def mavsdk_url(self, instance: int) -> str:
        """mavsdk 4.x form: ``tcpout://127.0.0.1:PORT``."""
        return f"tcpout://127.0.0.1:{self.tcp_port(instance)}"

    def control(self, op: str, *, timeout: float = 10.0, **kw: Any) -> dict[str, Any]:
        """Send one JSON-lines request to the control interface; raise ControlError on not ok."""
        if self.engine != "sim":
            pytest.skip(
                f"control op {op!r}: fault injection exists only on the simulator "
                "(engine sim); use the sim_fleet fixture"
            )
        request = json.dumps({"op": op, **kw}) + "\n"
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=timeout) as sock:
            sock.sendall(request.encode())
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
        if not reply:
            raise ControlError(f"{op}: connection closed without a reply")
        answer: dict[str, Any] = json.loads(reply)
        if not answer.get("ok"):
            raise ControlError(f"{op}: {answer.get('error', answer)}")
        return answer


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


FleetFactory = Callable[..., SitlFleet]


@contextlib.contextmanager
def fleet_factory(engine: str) -> Iterator[FleetFactory]:
    """A ``start(count=1, **kw) -> SitlFleet`` callable; stops every fleet it made on exit."""
    fleets: list[SitlFleet] = []

    def start(count: int = 1, **kw: Any) -> SitlFleet:
        fleet = SitlFleet(count, engine=engine, **kw)
        fleets.append(fleet)
        return fleet.start()

    try:
        yield start
    finally:
        for fleet in reversed(fleets):
            fleet.stop()


def wait_for(
    predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll ``predicate`` until it returns something truthy and return that; else TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what or predicate!r}")
        time.sleep(interval)


async def async_wait_for(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "",
) -> T:
    """:func:`wait_for` for async tests; ``predicate`` may be a plain or a coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what or predicate!r}")
        await asyncio.sleep(interval)
