"""Conformance with MAVProxy (PyPI), driven like an operator typing at its prompt.

MAVProxy owns the vehicle's TCP link (ArduPilot's SERIAL0 TCP port takes a single client) and
forwards everything with ``--out udp:127.0.0.1:PORT`` to a passive pymavlink observer, from which
the flight is judged. Commands go to MAVProxy's stdin through a pipe (no pexpect): ``mode guided``,
``arm throttle`` (repeated while the EKF settles, as a person would), ``takeoff 20``, ``wp load``,
``wp save`` (read back), ``mode auto``. MAVProxy runs in its own session with HOME, XDG dirs,
cwd and ``--state-basedir`` under tmp_path, so it writes nothing into the repository; teardown
closes its stdin, then terminates its process group and reaps whatever is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import psutil
import pytest

import conformance_util as cu

pytestmark = pytest.mark.timeout(150)

VEHICLE = 1  # not vehicle 0: MAVProxy must pick the target system (2) from the HEARTBEAT


class MavProxy:
    def __init__(self, master: str, out_port: int, workdir: Path) -> None:
        self.workdir = workdir
        self.log_path = workdir / "mavproxy.out"
        home = workdir / "home"
        home.mkdir()
        env = dict(
            os.environ,
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_CACHE_HOME=str(home / ".cache"),
            XDG_DATA_HOME=str(home / ".local/share"),
            PYTHONUNBUFFERED="1",
        )
        env.pop("DISPLAY", None)
        script = Path(sys.executable).parent / "mavproxy.py"
        # fmt: off
        self.argv = [
            sys.executable, str(script),
            "--master", master,
            "--out", f"udp:127.0.0.1:{out_port}",
            "--state-basedir", str(workdir / "state"),
            "--aircraft", "nazorat",
        ]
        # fmt: on
        self._log: IO[bytes] = open(self.log_path, "wb")  # noqa: SIM115 - lives as long as MAVProxy
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
            start_new_session=True,
        )

    def type(self, line: str) -> None:
        assert self.proc.poll() is None, f"MAVProxy exited ({self.proc.returncode}):\n{self.tail()}"
        assert self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-n:])

    def stop(self) -> None:
        """EOF on stdin ends MAVProxy's prompt loop; then its process group is made sure of."""
        try:
            kids = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            kids = []
        if self.proc.poll() is None and self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # leftovers in its session, if any
        for k in kids:
            with contextlib.suppress(psutil.NoSuchProcess):
                k.kill()
        psutil.wait_procs(kids, timeout=5)
        self._log.close()


@pytest.fixture
def mavproxy_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[MavProxy] = []

    def start(master: str, out_port: int) -> MavProxy:
        mp = MavProxy(master, out_port, tmp_path)
        started.append(mp)
        return mp

    yield start
    for mp in started:
        mp.stop()
        assert mp.proc.returncode is not None


def test_mavproxy_mission(sitl_fleet: Any, mavproxy_factory: Any, tmp_path: Path) -> None:
    fleet = sitl_fleet(count=cu.COUNT, speedup=cu.SPEEDUP, ekf_delay=cu.EKF_DELAY)
    sysid = fleet.sysid(VEHICLE)
    port = cu.free_udp_port()
    obs = cu.MavClient(
        f"udpin:127.0.0.1:{port}", sysid, f"vehicle {VEHICLE} via MAVProxy", passive=True
    )
    mp = mavproxy_factory(fleet.url(VEHICLE), port)
    rec = obs.rec
    try:

        def ctx() -> str:
            return f"\n--- MAVProxy output ---\n{mp.tail()}"

        try:
            obs.wait_heartbeat()
            obs.wait_position()  # MAVProxy asked for the streams (REQUEST_DATA_STREAM)
        except AssertionError as e:
            raise AssertionError(f"{e}{ctx()}") from None
        # MAVProxy fetches the parameter table over MAVFTP (@PARAM/param.pck) because
        # AUTOPILOT_VERSION advertises FTP, as ArduPilot's does; an operator waits for this line.
        obs.wait(lambda: "parameters (ftp)" in mp.output(), 20, "parameters over MAVFTP")
        # 10 Hz positions for the waypoint checks, asked the MAVProxy way
        mp.type("long SET_MESSAGE_INTERVAL 33 100000")

        mp.type("mode guided")
        obs.wait(lambda: rec.mode == cu.GUIDED, 10, "GUIDED")

        def armed() -> bool:
            return rec.armed is True

        deadline = time.monotonic() + cu.wall(120)
        while not armed():
            assert time.monotonic() < deadline, f"never armed: {rec.summary()}{ctx()}"
            mp.type("arm throttle")
            end = time.monotonic() + 2.0 / cu.SPEEDUP + 0.3
            while time.monotonic() < end and not armed():
                obs.pump(0.05)
        p0 = rec.pos
        assert p0 is not None
        rec.home = (p0.lat, p0.lon)
        mp.type(f"takeoff {cu.TAKEOFF_ALT:.0f}")
        obs.wait(
            lambda: rec.pos is not None and rec.pos.rel_alt >= cu.TAKEOFF_ALT - 2.0,
            60,
            f"takeoff to {cu.TAKEOFF_ALT} m",
        )

        plan = cu.mission(p0.lat, p0.lon, bearing_deg=180.0)
        wpl = tmp_path / "mission.txt"
        wpl.write_text(cu.write_wpl(plan))
        n_before = len(obs.mission_msgs)
        mp.type(f"wp load {wpl}")
        obs.wait(
            lambda: any(m.get_type() == "MISSION_ACK" for m in obs.mission_msgs[n_before:]),
            20,
            "MISSION_ACK for MAVProxy's upload",
        )
        ack = next(m for m in obs.mission_msgs[n_before:] if m.get_type() == "MISSION_ACK")
        assert ack.type == 0, f"MISSION_ACK type {ack.type}{ctx()}"

        readback = tmp_path / "readback.txt"
        mp.type(f"wp save {readback}")
        obs.wait(lambda: f"waypoints to {readback}" in mp.output(), 20, "MAVProxy `wp save`")
        problems = cu.compare_mission(plan, cu.parse_wpl(readback.read_text()), xy_tol=10)
        assert not problems, f"read-back differs: {problems}{ctx()}"

        t_auto = time.monotonic()
        mp.type("mode auto")  # airborne: AUTO starts the mission at once
        obs.wait(lambda: rec.mode == cu.AUTO, 10, "AUTO")
        try:
            obs.wait(lambda: rec.armed is False, 240, "mission flown, landed and disarmed")
        except AssertionError as e:
            raise AssertionError(f"{e}{ctx()}") from None
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            obs.pump(0.05)

        problems = cu.check_flight(rec, plan, t_auto, waypoint_seqs=[2, 3])
        missing = [seq for seq in (2, 3) if seq not in rec.reached]
        if missing:
            problems.append(f"no MISSION_ITEM_REACHED for {missing} (got {rec.reached})")
        if rec.foreign:
            problems.append(f"messages from other systems: {dict(rec.foreign)}")
        assert not problems, f"{problems}\n{rec.summary()}{ctx()}"

        # MAVProxy reads ARMING_CHECK (default 1 = all) at arming; "Arming checks disabled" would
        # mean the table it fetched lacked it or carried a wrong value.
        assert "Arming checks disabled" not in mp.output(), (
            f"MAVProxy had no ARMING_CHECK when the vehicle armed (parameter download){ctx()}"
        )
    finally:
        obs.close()
