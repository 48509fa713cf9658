"""End to end: simulated drones -> Nazorat service -> WebSocket clients, against raw pymavlink.

What runs (all real processes, nothing mocked):
- `python -m sitl --count N --ekf-delay 2` at speedup 1 (vehicle time = wall time);
- `python -m mission.cli serve` on a free port with a temporary SQLite database and
  NAZORAT_DRONES pointing at the N vehicles, so it connects them through MAVSDK and requests its
  default stream rates (telemetry.vehicle.StreamRates: position 5 Hz, status 2 Hz, home 0.5 Hz);
- a raw reader process: pymavlink (`mavutil.mavlink_connection("tcp:...")`, one selector loop,
  `parse_buffer` on whatever each socket has) connected to the same N vehicle ports. The simulator
  puts every TCP client of a vehicle port on one channel, like bytes on one serial line, so the
  raw reader receives exactly the stream the service asked for; it writes nothing, so it changes
  nothing. This is the baseline: the cheapest way to get the same data in Python;
- a client process: C WebSocket clients (`websockets`) on /ws/telemetry at the service's default
  rate (`--rate` to choose another). It is a separate process so that its CPU is not charged to
  the service.
Per drone count the simulator and the service are started once and the client counts run in
turn against them (so RSS grows with the largest client count seen so far).

Latency method. Each WebSocket vehicle object carries `tb`, the vehicle's own clock (ms since
boot) of the GLOBAL_POSITION_INT sample that produced the position. Vehicle clocks and the
benchmark's clock are mapped with the raw reader: for every vehicle, offset = min over all its
GLOBAL_POSITION_INT of (monotonic receive time - time_boot_ms / 1000). The minimum is the sample
that spent the least time between the simulator and the reader (loopback TCP, microseconds), so
offset + tb / 1000 is when the sample was taken, in the benchmark's clock. CLOCK_MONOTONIC is one
clock for every process on the machine, and the simulator derives vehicle time from it, so the
offset does not drift. For each client, the first frame that carries a new `tb` for a vehicle
gives latency = receive time - (offset + tb / 1000): vehicle sample to client, through MAVSDK,
the ingest, the hub, the pacing and the WebSocket. The raw reader's own latency by the same
formula (its p50/p99 columns) is the floor of the method: how late the simulator itself emits
(it steps in 20 ms of vehicle time per 10 ms tick, and an emitted sample waits for the tick's
flush), plus scheduling delay on a loaded machine. Service latency minus that floor is what
the service adds.

Caveats, honestly:
- Coalescing. A client gets each vehicle at most `rate` times a second (default 5 Hz, the same
  as the position rate) and only the newest state. Any state change (SYS_STATUS, HEARTBEAT, ...)
  uses a vehicle's slot, so a position sample can wait for the next slot or be replaced by the
  next sample before it is sent. Latency therefore measures freshness: how old the newest position
  is when it reaches the client, counted once per sample that reaches the client. Samples that
  never reach a client are not in the latency figures; the `fresh` column says which share of the
  vehicles' position samples did reach each client (1.00 = every one; above 1 when a client that
  had fallen behind catches up inside the window, which only happens when it was starved).
- `deliv/s` counts vehicle objects in `update` frames over all clients; a frame triggered by a
  status message repeats the position, so it is not "new positions per second". `x raw` divides
  it by every MAVLink message per second the raw reader parsed (fan-out: one vehicle message
  becomes updates for C clients, minus coalescing).
- Everything shares the machine (2 cores here): the simulator, the raw reader and the clients
  take CPU the service might have used, and a starved client process inflates latency. Their
  CPU is printed in the second table; read the latency of a row with a large `client lag` or
  `clients CPU%` near 100 as an upper bound.
- CPU is user + system time of the service process (all its threads, MAVSDK's C++ threads
  included, plus any child process) over the measurement window, as % of one core. RSS is read at
  the end of the window.
- Other processes on the machine (other people's test runs) take CPU too; `others%` in the
  second table is the machine's busy time minus this benchmark's processes, and `pressure` is
  Linux PSI (share of the window in which some runnable task waited for a CPU). A window with a
  lot of either measures contention, not the service, and the verdict line says so.

Where the time goes (second table, p50/p99 per stage, first arrivals only). The service stamps
each vehicle object with `t` (when its ingest folded the batch that last changed the state) and
each frame with `t` (when the frame was built); both are Unix time, mapped to CLOCK_MONOTONIC in
the client process. sample->state is MAVSDK + ingest (an upper bound: a later status message may
have changed the state after the position did), state->frame is the hub and the per-client
pacing, frame->client is the WebSocket send, the kernel and the client's own reading. `client lag`
(p99/max ms) is the client process's event-loop lag: when it is large, frame->client is the
harness falling behind, not the service being slow; `(busy)` is the share of the worst lag the
client spent on CPU (near 0%: it was runnable but not scheduled, i.e. the machine was full).

Target (the issue): 100 drones x 50 clients with p99 < 100 ms and the service under one core.
`--quick` runs {10, 100} drones x {1, 50} clients with short windows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import multiprocessing as mp
import os
import secrets
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
SIM_READY_TIMEOUT_S = 60.0
# Registering a drone probes its URL for a heartbeat, one drone after another: allow for 100.
SERVICE_READY_TIMEOUT_S = 240.0
GLOBAL_POSITION_INT = 33
TARGET = (100, 50)
TARGET_P99_MS = 100.0
TARGET_CPU = 1.0
OTHERS_WARN = 0.15  # CPU of processes outside the benchmark that makes a window "contended"


# ---- helpers --------------------------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Linux: SIGTERM the child if the benchmark dies without its finally blocks."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _free_base(count: int) -> int:
    """A base port P with P-10 (control) and P+10*i+{0,2,3} free (the simulator opens all three).

    Below the Linux ephemeral range (32768+), so outgoing connections never take these ports.
    """
    for base in range(20010, 32000 - 10 * count, 10 * count + 20):
        ports = [base - 10] + [base + 10 * i + o for i in range(count) for o in (0, 2, 3)]
        if all(_port_free(p) for p in ports):
            return base
    raise RuntimeError("no free block of ports for the simulator")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stop_group(proc: subprocess.Popen[Any] | None, timeout: float = 10.0) -> None:
    """SIGTERM the process group we created, then SIGKILL what is left."""
    if proc is None:
        return
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def _stop_mp(proc: Any) -> None:
    """End a multiprocessing child we started: ask, then terminate, then kill."""
    if proc is None:
        return
    proc.join(timeout=5)
    if proc.is_alive():
        proc.terminate()
        proc.join(timeout=5)
    if proc.is_alive():
        proc.kill()
        proc.join(timeout=5)


def _cpu_seconds(proc: psutil.Process) -> float:
    """User + system CPU of a process and its children (all threads), in seconds."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, all processes)."""
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


def _cpu_pressure_us() -> float:
    """Linux PSI: microseconds in which some runnable task waited for a CPU (nan if absent)."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        return float(line.rsplit("total=", 1)[1])
    except (OSError, IndexError, ValueError):
        return float("nan")


def _rss_mb(proc: psutil.Process) -> float:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total / 2**20


def _thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread (Linux /proc names + id; the main thread is the event loop).

    MAVSDK's C++ threads and the Python ones are all called "python", so the id tells them
    apart from one window to the next.
    """
    out: dict[str, float] = {}
    with contextlib.suppress(psutil.Error):
        for t in psutil.Process(pid).threads():
            try:
                name = Path(f"/proc/{pid}/task/{t.id}/comm").read_text().strip()
            except OSError:
                name = "?"
            label = "loop" if t.id == pid else f"{name}/{t.id}"
            out[label] = t.user_time + t.system_time
    return out


def _revision() -> str:
    """The tree being measured (`git describe --dirty`): the service changes between runs."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, text=True,
                             capture_output=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out = ""
    return out or "unknown"


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


# ---- the simulator and the service ----------------------------------------------------------


class Sim:
    """`python -m sitl` in its own process group."""

    def __init__(self, count: int, extra_args: tuple[str, ...] = ()) -> None:
        self.count = count
        self.base = _free_base(count)
        self.extra_args = extra_args  # e.g. the cameras (bench_video.py)
        self.proc: subprocess.Popen[str] | None = None

    @property
    def ports(self) -> list[int]:
        return [self.base + 10 * i for i in range(self.count)]

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "sitl", "--count", str(self.count),
             "--base-port", str(self.base), "--control-port", str(self.base - 10),
             "--speedup", "1", "--ekf-delay", "2", *self.extra_args],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + SIM_READY_TIMEOUT_S
        for line in self.proc.stdout:
            if line.strip() == "sitl: ready":
                break
            if time.monotonic() > deadline:
                raise RuntimeError("simulator not ready in time")
        else:
            raise RuntimeError(f"simulator exited early (code {self.proc.poll()})")
        # Keep draining stdout: a full pipe would block the simulator, a closed one kill it.
        threading.Thread(target=self.proc.stdout.read, daemon=True, name="sim-stdout").start()

    def stop(self) -> None:
        _stop_group(self.proc)
        self.proc = None


class Service:
    """`python -m mission.cli serve` with its drones on the simulator, own port and database."""

    def __init__(self, ports: list[int], data_dir: Path) -> None:
        self.ports = ports
        self.data_dir = data_dir
        self.port = _free_port()
        self.log_path = data_dir / "service.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        # A service with authentication creates this first admin at start; the password is
        # random per run and never printed. A service without authentication ignores both.
        self._user = "bench"
        self._password = secrets.token_urlsafe(24)
        self.token: str | None = None
        self.extra_env: dict[str, str] = {}  # more NAZORAT_ settings (bench_video: cameras)

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/telemetry"

    def _get(self, path: str) -> Any:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}",
                                     headers=self.auth_headers)
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def login(self) -> None:
        """Log in as the benchmark's admin if the service has authentication (404/405: it has not).

        The fleet summary in /api/health, /api/drones and /ws/telemetry need a signed-in user.
        """
        body = json.dumps({"username": self._user, "password": self._password}).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/auth/login", data=body, method="POST",
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                self.token = str(json.loads(r.read())["token"])
        except urllib.error.HTTPError as e:
            if e.code not in (404, 405):  # no such route (405: the static mount at /)
                raise RuntimeError(f"login to the service failed: HTTP {e.code} "
                                   f"{e.read()[:300]!r}") from None
            self.token = None

    def health(self) -> dict[str, Any]:
        """GET /api/health; if the service is gone, say how it ended (crash or someone's kill)."""
        try:
            h: dict[str, Any] = self._get("/api/health")
        except (urllib.error.URLError, OSError) as e:
            raise RuntimeError(f"service unreachable ({e}); {self.exit_status()}\n"
                               f"{self.log_tail()}") from None
        return h

    def exit_status(self) -> str:
        code = None if self.proc is None else self.proc.poll()
        if code is None:
            return "the process is still running"
        if code < 0:
            return f"the process was ended by {signal.Signals(-code).name}"
        return f"the process exited with code {code}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NAZORAT_")}
        env.pop("DATABASE_URL", None)
        env.update({
            "NAZORAT_DATA_DIR": str(self.data_dir),
            "NAZORAT_DATABASE_URL": f"sqlite:///{(self.data_dir / 'bench.db').as_posix()}",
            "NAZORAT_DRONES": ",".join(f"tcpout://127.0.0.1:{p}" for p in self.ports),
            "NAZORAT_ADMIN_USER": self._user,
            "NAZORAT_ADMIN_PASSWORD": self._password,
            **self.extra_env,
        })
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mission.cli", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent,
        )

    def wait_ready(self, count: int) -> None:
        """Healthy, every link up and every drone reporting a position (streams flowing)."""
        deadline = time.monotonic() + SERVICE_READY_TIMEOUT_S
        last: Any = None
        logged_in = False
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"service exited early:\n{self.log_tail()}")
            try:
                h = self._get("/api/health")
                if not logged_in:
                    self.login()  # the API answers: the lifespan (drones, first admin) is done
                    logged_in = True
                    h = self._get("/api/health")
                last = h
                if h["drones"] == count and h["links_up"] == count:
                    drones = self._get("/api/drones")
                    with_pos = sum(1 for d in drones if d["state"] and d["state"]["position"])
                    last = f"{with_pos}/{count} drones with a position"
                    if with_pos == count:
                        return
            except (urllib.error.URLError, OSError, ValueError, KeyError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"service not ready in time (last: {last}):\n{self.log_tail()}")

    def stop(self) -> None:
        _stop_group(self.proc, timeout=15)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


# ---- the raw pymavlink reader (its own process) ---------------------------------------------


def _raw_reader(ports: list[int], conn: Connection) -> None:
    """Read every vehicle port with pymavlink; answer ("report", t0, t1) and ("stop",) requests.

    Keeps, per message batch, the receive time and count, and for GLOBAL_POSITION_INT the
    (time, sysid, time_boot_ms) triple, so any window can be reported afterwards and the
    vehicle-clock offsets can be derived from every sample seen.
    """
    os.environ["MAVLINK20"] = "1"  # parse MAVLink 2 from the first byte (mavutil reads this)
    from pymavlink import mavutil

    links = [mavutil.mavlink_connection(f"tcp:127.0.0.1:{p}") for p in ports]
    sel = selectors.DefaultSelector()
    for link in links:
        link.mav.robust_parsing = True
        sel.register(link.port, selectors.EVENT_READ, link)
    batch_t: array[float] = array("d")
    batch_n: array[int] = array("l")
    pos_t: array[float] = array("d")
    pos_sys: array[int] = array("l")
    pos_tb: array[int] = array("q")
    offsets: dict[int, float] = {}
    conn.send("ready")
    while True:
        for key, _ in sel.select(timeout=0.1):
            now = time.monotonic()
            try:
                data = key.fileobj.recv(65536)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                continue
            n = 0
            for m in key.data.mav.parse_buffer(data) or []:
                mid = m.get_msgId()
                if mid < 0:  # BAD_DATA
                    continue
                n += 1
                if mid == GLOBAL_POSITION_INT:
                    sysid = m.get_srcSystem()
                    tb = int(m.time_boot_ms)
                    pos_t.append(now)
                    pos_sys.append(sysid)
                    pos_tb.append(tb)
                    off = now - tb / 1000.0
                    if off < offsets.get(sysid, float("inf")):
                        offsets[sysid] = off
            batch_t.append(now)
            batch_n.append(n)
        while conn.poll():
            req = conn.recv()
            if req[0] == "stop":
                for link in links:
                    link.close()
                return
            t0, t1 = req[1], req[2]
            msgs = sum(n for t, n in zip(batch_t, batch_n, strict=True) if t0 <= t < t1)
            lat = sorted(
                t - (offsets[s] + tb / 1000.0)
                for t, s, tb in zip(pos_t, pos_sys, pos_tb, strict=True) if t0 <= t < t1
            )
            conn.send({
                "msgs": msgs, "pos": len(lat), "offsets": dict(offsets),
                "p50": _percentile(lat, 0.50), "p99": _percentile(lat, 0.99),
            })


# ---- the WebSocket clients (their own process) ----------------------------------------------

Scanned = tuple[str | None, float, list[tuple[int, int | None, float]]]
VERIFY_FRAMES = 20  # per client: frames parsed both ways before the fast path is trusted


def _scan_frame(raw: str) -> Scanned:
    """(type, frame t, [(sysid, tb, vehicle t)]) from the compact layout telemetry.stream writes.

    Why not json.loads: at 100 drones x 50 clients the client process parses ~10-25 MB of JSON a
    second; on a 2-core machine that CPU is taken from the service and the client falls behind,
    which shows up as latency. Picking three keys out of each vehicle with str.find is ~4x
    cheaper. Only `update` and `snapshot` frames are scanned (type None for the rest).
    """
    head = raw[:48]
    if '"type":"update"' in head:
        kind = "update"
    elif '"type":"snapshot"' in head:
        kind = "snapshot"
    else:
        return None, 0.0, []
    i = raw.index('"t":') + 4
    frame_t = float(raw[i:raw.index(",", i)])
    out: list[tuple[int, int | None, float]] = []
    find = raw.find
    pos = i
    while True:
        s = find('"sysid":', pos)
        if s < 0:
            break
        s += 8
        e = find(",", s)
        sysid = int(raw[s:e])
        b = find('"tb":', e) + 5
        e = find(",", b)
        tb = raw[b:e]
        t = find('"t":', e) + 4
        e = find("}", t)
        out.append((sysid, None if tb == "null" else int(tb), float(raw[t:e])))
        pos = e
    return kind, frame_t, out


def _json_frame(raw: str) -> Scanned:
    """The same as _scan_frame by the book; used to check it and as the fallback."""
    frame = json.loads(raw)
    kind = frame.get("type")
    if kind not in ("update", "snapshot"):
        return None, 0.0, []
    return kind, float(frame["t"]), [
        (int(v["sysid"]), v["tb"], float(v["t"])) for v in frame["vehicles"]
    ]



def _ws_clients(url: str, headers: dict[str, str], count: int, conn: Connection) -> None:
    """Connect `count` clients, report "connected", take the window (t0, t1), read until t1.

    Returns per process: vehicle objects in update frames within the window, frames, and for
    every (client, vehicle) the first arrival of each new `tb` as (time, sysid, tb) arrays, with
    the service's own stamps of that state and frame (for the per-stage breakdown).
    """
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.exceptions import ConnectionClosed

    rec_t: array[float] = array("d")
    rec_sys: array[int] = array("l")
    rec_tb: array[int] = array("q")
    rec_state: array[float] = array("d")  # vehicle "t": the service folded the batch (mono)
    rec_frame: array[float] = array("d")  # frame "t": the service built the frame (mono)
    # The service stamps Unix time; CLOCK_MONOTONIC is what the offsets are in.
    wall_to_mono = time.monotonic() - time.time()
    counters = {"updates": 0, "frames": 0, "dropped": 0, "json_fallback": 0}
    window = [float("inf"), float("inf")]

    async def read(ws: ClientConnection) -> None:
        last: dict[int, int] = {}
        verify = VERIFY_FRAMES
        scan = _scan_frame
        try:
            async for raw in ws:
                now = time.monotonic()
                assert isinstance(raw, str)
                try:
                    scanned: Scanned | None = scan(raw)
                except (ValueError, IndexError):
                    scanned = None
                if scanned is None or (verify and scanned[0] is not None):
                    verify = max(0, verify - 1)
                    checked = _json_frame(raw)
                    if checked != scanned:  # the layout changed: be correct, not fast
                        scan = _json_frame
                        counters["json_fallback"] += 1
                    scanned = checked
                kind, frame_t, vehicles = scanned
                if kind is None:
                    continue
                inside = window[0] <= now < window[1] and kind == "update"
                if inside:
                    counters["frames"] += 1
                    counters["updates"] += len(vehicles)
                for sysid, tb, state_t in vehicles:
                    if tb is None or last.get(sysid) == tb:
                        continue
                    last[sysid] = tb
                    if inside:
                        rec_t.append(now)
                        rec_sys.append(sysid)
                        rec_tb.append(tb)
                        rec_state.append(state_t + wall_to_mono)
                        rec_frame.append(frame_t + wall_to_mono)
        except ConnectionClosed:  # not a clean close: the service dropped us
            if time.monotonic() < window[1]:
                counters["dropped"] += 1

    lags: array[float] = array("d")
    worst = [0.0, 0.0]  # the longest lag and the CPU this process used during it

    async def ticker() -> None:
        """This process's own event-loop lag: if it is large, the harness, not the service, is
        what delays frames. The CPU used during the worst lag tells busy (CPU close to the lag)
        from starved (runnable but not scheduled: CPU close to zero)."""
        while True:
            before, cpu_before = time.monotonic(), time.process_time()
            await asyncio.sleep(0.005)
            now = time.monotonic()
            if window[0] <= now < window[1]:
                lag = now - before - 0.005
                lags.append(lag)
                if lag > worst[0]:
                    worst[0], worst[1] = lag, time.process_time() - cpu_before

    async def main() -> None:
        loop = asyncio.get_running_loop()
        tick = asyncio.create_task(ticker())
        sockets = [
            await connect(url, max_size=None, compression=None, open_timeout=30,
                          additional_headers=headers)
            for _ in range(count)
        ]
        readers = [asyncio.create_task(read(ws)) for ws in sockets]
        conn.send("connected")
        t0, t1 = await loop.run_in_executor(None, conn.recv)
        window[0], window[1] = t0, t1
        await asyncio.sleep(max(0.0, t1 - time.monotonic()) + 0.05)
        window[1] = t1
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        await asyncio.gather(*readers, return_exceptions=True)
        tick.cancel()

    asyncio.run(main())
    conn.send({**counters, "t": rec_t, "sys": rec_sys, "tb": rec_tb, "state": rec_state,
               "frame": rec_frame,
               "lag": sorted(lags), "worst_lag": tuple(worst)})


# ---- one measurement ------------------------------------------------------------------------


@dataclass
class Cell:
    drones: int
    clients: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    delivered_per_s: float
    fresh: float
    svc_cpu: float
    svc_rss_mb: float
    raw_msgs_per_s: float
    raw_pos_per_s: float
    raw_p50_ms: float
    raw_p99_ms: float
    raw_cpu: float
    sim_cpu: float
    clients_cpu: float
    machine_cpu: float  # every process on the machine, % of one core (2 cores = 200)
    ingest_per_s: float
    batches_per_s: float
    samples: int
    frames_per_s: float
    client_lag_ms: tuple[float, float]  # the client process's loop lag, p99 and max
    client_worst_busy: float  # share of the worst lag the client spent on CPU (vs. starved)
    cpu_pressure: float  # machine PSI "some": share of the window a runnable task waited for CPU
    dropped_clients: int  # connections the service closed abnormally before the window ended
    json_fallbacks: int  # clients whose frames did not match the fast scanner (then json.loads)
    stages: dict[str, tuple[float, float]]  # stage -> (p50 ms, p99 ms)
    threads: dict[str, float]


def measure_cell(
    ctx: Any, svc: Service, sim: Sim, raw_pid: int, raw_conn: Connection, clients: int,
    warmup: float, window: float, rate: float | None,
) -> Cell:
    url = svc.ws_url + (f"?rate={rate:g}" if rate else "")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_ws_clients, args=(url, svc.auth_headers, clients, child),
                       daemon=True)
    proc.start()
    try:
        if not parent.poll(60) or parent.recv() != "connected":
            raise RuntimeError("WebSocket clients did not connect")
        t0 = time.monotonic() + warmup
        t1 = t0 + window
        parent.send((t0, t1))
        assert svc.proc is not None and sim.proc is not None
        ps = {
            "svc": psutil.Process(svc.proc.pid), "raw": psutil.Process(raw_pid),
            "sim": psutil.Process(sim.proc.pid), "clients": psutil.Process(proc.pid),
        }
        time.sleep(max(0.0, t0 - time.monotonic()))
        cpu0 = {k: _cpu_seconds(p) for k, p in ps.items()}
        busy0 = _machine_busy()
        psi0 = _cpu_pressure_us()
        thr0 = _thread_cpu(svc.proc.pid)
        h0 = svc.health()["link"]
        m0 = time.monotonic()
        time.sleep(max(0.0, t1 - time.monotonic()))
        cpu1 = {k: _cpu_seconds(p) for k, p in ps.items()}
        busy1 = _machine_busy()
        psi1 = _cpu_pressure_us()
        thr1 = _thread_cpu(svc.proc.pid)
        m1 = time.monotonic()
        h1 = svc.health()["link"]
        rss = _rss_mb(ps["svc"])
        elapsed = m1 - m0
        cpu = {k: (cpu1[k] - cpu0[k]) / elapsed for k in ps}
        machine = (busy1 - busy0) / elapsed
        raw_conn.send(("report", t0, t1))
        raw = raw_conn.recv()
        if not parent.poll(60):
            raise RuntimeError("WebSocket clients did not report")
        res = parent.recv()
    finally:
        _stop_mp(proc)
    offsets: dict[int, float] = raw["offsets"]
    lat: list[float] = []
    to_state: list[float] = []
    to_frame: list[float] = []
    to_client: list[float] = []
    for t, s, tb, st, ft in zip(res["t"], res["sys"], res["tb"], res["state"], res["frame"],
                                strict=True):
        if s not in offsets:
            continue
        sampled = offsets[s] + tb / 1000.0
        lat.append(t - sampled)
        to_state.append(st - sampled)
        to_frame.append(ft - st)
        to_client.append(t - ft)
    lat.sort()
    stages = {}
    for name, values in (("sample->state", to_state), ("state->frame", to_frame),
                         ("frame->client", to_client)):
        values.sort()
        stages[name] = (_percentile(values, 0.5) * 1000, _percentile(values, 0.99) * 1000)
    threads = {n: (thr1.get(n, 0.0) - thr0.get(n, 0.0)) / elapsed for n in thr1}
    return Cell(
        drones=sim.count, clients=clients,
        p50_ms=_percentile(lat, 0.50) * 1000, p99_ms=_percentile(lat, 0.99) * 1000,
        max_ms=(lat[-1] if lat else float("nan")) * 1000,
        delivered_per_s=res["updates"] / window,
        fresh=(len(lat) / clients) / raw["pos"] if raw["pos"] else float("nan"),
        svc_cpu=cpu["svc"], svc_rss_mb=rss,
        raw_msgs_per_s=raw["msgs"] / window, raw_pos_per_s=raw["pos"] / window,
        raw_p50_ms=raw["p50"] * 1000, raw_p99_ms=raw["p99"] * 1000,
        raw_cpu=cpu["raw"], sim_cpu=cpu["sim"], clients_cpu=cpu["clients"],
        machine_cpu=machine,
        ingest_per_s=(h1["messages_received"] - h0["messages_received"]) / elapsed,
        batches_per_s=(h1["ingest_batches"] - h0["ingest_batches"]) / elapsed,
        samples=len(lat), frames_per_s=res["frames"] / window, stages=stages,
        dropped_clients=res["dropped"], json_fallbacks=res["json_fallback"],
        client_lag_ms=(_percentile(res["lag"], 0.99) * 1000,
                       (res["lag"][-1] if res["lag"] else float("nan")) * 1000),
        client_worst_busy=(res["worst_lag"][1] / (res["worst_lag"][0] + 0.005)
                           if res["worst_lag"][0] else float("nan")),
        cpu_pressure=(psi1 - psi0) / 1e6 / elapsed,
        threads=threads,
    )


def measure_fleet(
    drones: int, client_counts: Sequence[int], warmup: float, window: float,
    rate: float | None, show_threads: bool,
) -> list[Cell]:
    """One simulator + service + raw reader for `drones`; one cell per client count."""
    ctx = mp.get_context("spawn")
    sim = Sim(drones)
    svc: Service | None = None
    raw_proc: Any = None
    raw_conn: Connection | None = None
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory(prefix="bench_service_") as tmp:
        try:
            t_start = time.monotonic()
            sim.start()
            svc = Service(sim.ports, Path(tmp))
            svc.start()
            svc.wait_ready(drones)
            ready_s = time.monotonic() - t_start
            raw_conn, child = ctx.Pipe()
            raw_proc = ctx.Process(target=_raw_reader, args=(sim.ports, child), daemon=True)
            raw_proc.start()
            if not raw_conn.poll(60) or raw_conn.recv() != "ready":
                raise RuntimeError("raw reader did not start")
            time.sleep(2.0)  # let it collect samples for the vehicle-clock offsets
            print(f"  [{drones} drones: simulator + service ready in {ready_s:.1f} s]",
                  file=sys.stderr, flush=True)
            for clients in client_counts:
                cell = measure_cell(ctx, svc, sim, raw_proc.pid, raw_conn, clients,
                                    warmup, window, rate)
                cells.append(cell)
                _print_row(cell)
                if cell.dropped_clients:
                    print(f"      {cell.dropped_clients} of {clients} clients were disconnected "
                          "by the service during the window", flush=True)
                if cell.json_fallbacks:
                    print(f"      {cell.json_fallbacks} clients fell back to json.loads (the frame "
                          "layout is not what _scan_frame expects; update it)", flush=True)
                if show_threads:
                    busy = sorted(cell.threads.items(), key=lambda kv: -kv[1])[:8]
                    print("      service threads (% core): " + ", ".join(
                        f"{n} {c * 100:.0f}" for n, c in busy if c >= 0.005), flush=True)
        except Exception as e:
            tail = svc.log_tail() if svc is not None else ""
            if tail and tail not in str(e):
                print(f"--- service log tail ---\n{tail}", file=sys.stderr)
            raise
        finally:
            if raw_conn is not None:
                with contextlib.suppress(OSError, BrokenPipeError):
                    raw_conn.send(("stop",))
            _stop_mp(raw_proc)
            if svc is not None:
                svc.stop()
            sim.stop()
    return cells


# ---- output ---------------------------------------------------------------------------------

HEADER = (
    f"{'drones':>6} {'clients':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'deliv/s':>8} "
    f"{'fresh':>5} {'svc CPU%':>8} {'RSS MB':>6} | {'raw msg/s':>9} {'raw p50':>7} "
    f"{'raw p99':>7} {'raw CPU%':>8} {'x raw':>6} {'CPU/raw':>7}"
)


def _print_row(c: Cell) -> None:
    print(
        f"{c.drones:>6} {c.clients:>7} {c.p50_ms:>7.1f} {c.p99_ms:>7.1f} {c.max_ms:>7.0f} "
        f"{c.delivered_per_s:>8.0f} {c.fresh:>5.2f} {c.svc_cpu * 100:>8.1f} "
        f"{c.svc_rss_mb:>6.0f} | {c.raw_msgs_per_s:>9.0f} {c.raw_p50_ms:>7.1f} "
        f"{c.raw_p99_ms:>7.1f} {c.raw_cpu * 100:>8.1f} "
        f"{c.delivered_per_s / c.raw_msgs_per_s if c.raw_msgs_per_s else float('nan'):>6.1f} "
        f"{c.svc_cpu / c.raw_cpu if c.raw_cpu else float('nan'):>7.1f}",
        flush=True,
    )


def _others(c: Cell) -> float:
    """CPU used during the window by processes that are not part of this benchmark."""
    return max(0.0, c.machine_cpu - c.svc_cpu - c.raw_cpu - c.sim_cpu - c.clients_cpu)


def _print_harness(cells: list[Cell]) -> None:
    print("\nharness (same windows): what else used the cores, what the service ingested, and "
          "where the latency is (p50/p99 ms per stage)")
    print(f"{'drones':>6} {'clients':>7} {'machine%':>8} {'others%':>7} {'pressure':>8} "
          f"{'sim CPU%':>8} {'clients CPU%':>12} "
          f"{'raw pos/s':>9} {'svc in msg/s':>12} {'batches/s':>9} {'frames/s':>8} "
          f"{'lat samples':>11} {'client lag (busy)':>17} | {'sample->state':>13} "
          f"{'state->frame':>13} {'frame->client':>13}")
    for c in cells:
        stages = " ".join(f"{p50:>6.1f}/{p99:<6.1f}" for p50, p99 in c.stages.values())
        print(f"{c.drones:>6} {c.clients:>7} {c.machine_cpu * 100:>8.0f} "
              f"{_others(c) * 100:>7.0f} {c.cpu_pressure * 100:>7.0f}% "
              f"{c.sim_cpu * 100:>8.1f} {c.clients_cpu * 100:>12.1f} "
              f"{c.raw_pos_per_s:>9.0f} {c.ingest_per_s:>12.0f} {c.batches_per_s:>9.0f} "
              f"{c.frames_per_s:>8.0f} {c.samples:>11} "
              f"{c.client_lag_ms[0]:>5.0f}/{c.client_lag_ms[1]:<5.0f} "
              f"({c.client_worst_busy * 100:>3.0f}%)  | {stages}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="{10,100} drones x {1,50} clients, short windows (smoke run)")
    ap.add_argument("--drones", type=int, nargs="+", help="override the drone counts")
    ap.add_argument("--clients", type=int, nargs="+", help="override the client counts")
    ap.add_argument("--window", type=float, help="seconds measured per cell")
    ap.add_argument("--rate", type=float, default=None,
                    help="per-vehicle WebSocket rate (Hz); default: the service's default")
    ap.add_argument("--threads", action="store_true",
                    help="also print the service's CPU per thread for each cell")
    args = ap.parse_args()
    if args.quick:
        drones, clients, warmup, window = [10, 100], [1, 50], 2.0, 5.0
    else:
        drones, clients, warmup, window = [10, 50, 100], [1, 10, 50], 3.0, 12.0
    drones = args.drones or drones
    clients = args.clients or clients
    window = args.window or window
    started = time.monotonic()
    rate = f"{args.rate:g} Hz" if args.rate else "service default (5 Hz)"
    print(f"service end to end at speedup 1: vehicle position sample -> WebSocket client "
          f"({os.cpu_count()} cores, window {window:g} s after {warmup:g} s warm-up, "
          f"WS rate {rate}); baseline = pymavlink reading the same vehicles; "
          f"tree {_revision()}")
    print(HEADER, flush=True)
    cells: list[Cell] = []
    for n in drones:
        cells += measure_fleet(n, clients, warmup, window, args.rate, args.threads)
    _print_harness(cells)
    print("\ncolumns: latency = vehicle sample time -> client receive (first arrival of each new "
          "position per client); fresh = share of position samples reaching each client; "
          "x raw = deliv/s / raw msg/s; CPU/raw = service CPU / raw reader CPU")
    target = next((c for c in cells if (c.drones, c.clients) == TARGET), None)
    if target is None:
        print(f"target {TARGET[0]} drones x {TARGET[1]} clients: not measured in this run")
    else:
        ok = target.p99_ms < TARGET_P99_MS and target.svc_cpu < TARGET_CPU
        print(f"target {TARGET[0]} drones x {TARGET[1]} clients: p99 {target.p99_ms:.1f} ms "
              f"(< {TARGET_P99_MS:.0f}), service CPU {target.svc_cpu * 100:.0f}% of one core "
              f"(< {TARGET_CPU * 100:.0f}%) -> {'PASS' if ok else 'FAIL'}")
        if _others(target) > OTHERS_WARN:
            print(f"  note: other processes used {_others(target) * 100:.0f}% of a core during "
                  "that window; latency may be inflated by CPU contention (see the stage columns), "
                  "rerun on a quiet machine to be sure")
    print(f"total {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
