"""Run a simulated fleet (`python -m sitl`) as a child process for `nazorat serve --sim N`.

The service never imports the simulator: it starts it as a program, reads the vehicle URLs it
prints, and stops its whole process group when the service stops.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from mission.childproc import die_with_parent

log = logging.getLogger(__name__)
_VEHICLE = re.compile(r"^sitl: vehicle (\d+) sysid (\d+) (tcp:\S+)\s*$")
REPO_ROOT = Path(__file__).resolve().parent.parent


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def find_base_port(count: int, preferred: int = 5760) -> int:
    """A base port P with P-10 (control) and P+10*i free; SITL's usual 5760 if possible."""
    candidates = [preferred] + [random.randrange(20010, 32000 - 10 * count) for _ in range(200)]
    for base in candidates:
        if all(_free(p) for p in [base - 10, *(base + 10 * i for i in range(count))]):
            return base
    raise RuntimeError("no free port range for the simulated fleet")


def find_udp_range(count: int) -> int:
    """A base port P with UDP P..P+count-1 free: where the simulated cameras send (the
    service listens there, as the cameras announce)."""
    for _ in range(200):
        base = random.randrange(20000, 60000 - count)
        ok = True
        for p in range(base, base + count):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    s.bind(("0.0.0.0", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free UDP port range for the simulated cameras")


@dataclass
class SimFleet:
    """A running `python -m sitl` child; `urls` are the vehicles' MAVSDK URLs."""

    count: int
    speedup: float = 1.0
    ekf_delay: float | None = None
    base_port: int = 0
    adsb_count: int = 0
    remote_id_count: int = 0
    spacing_m: float = 0.0  # 0: the simulator's default
    camera: bool = False  # every copter streams RTP/H.264 (sitl --camera)
    video_base_port: int = 0  # 0: a free range of `count` UDP ports
    urls: list[str] = field(default_factory=list)
    control_port: int = 0
    _proc: subprocess.Popen[str] | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        self.base_port = self.base_port or find_base_port(self.count)
        self.control_port = self.base_port - 10
        cmd = [
            sys.executable, "-m", "sitl", "--count", str(self.count),
            "--speedup", str(self.speedup), "--base-port", str(self.base_port),
            "--control-port", str(self.control_port), "--host", "127.0.0.1",
        ]
        if self.ekf_delay is not None:
            cmd += ["--ekf-delay", str(self.ekf_delay)]
        if self.adsb_count > 0:
            cmd += ["--adsb-count", str(self.adsb_count)]
        if self.remote_id_count > 0:
            cmd += ["--remote-id-count", str(self.remote_id_count)]
        if self.spacing_m > 0:
            cmd += ["--spacing", str(self.spacing_m)]
        if self.camera:
            self.video_base_port = self.video_base_port or find_udp_range(self.count)
            cmd += ["--camera", "--video-base-port", str(self.video_base_port)]
        cwd = REPO_ROOT if (REPO_ROOT / "sitl").is_dir() else None
        self._proc = subprocess.Popen(
            cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=None, text=True,
            start_new_session=True, bufsize=1, preexec_fn=die_with_parent,
        )
        assert self._proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = self._proc.stdout.readline()
            if not line:
                self.stop()
                raise RuntimeError(f"simulated fleet exited early: {' '.join(cmd)}")
            m = _VEHICLE.match(line.strip())
            if m:
                port = m.group(3).rsplit(":", 1)[1]
                self.urls.append(f"tcpout://127.0.0.1:{port}")
            if line.strip() == "sitl: ready":
                break
        else:
            self.stop()
            raise RuntimeError("simulated fleet did not become ready in time")
        threading.Thread(target=self._drain, daemon=True, name="sitl-stdout").start()

    def _drain(self) -> None:
        proc = self._proc
        if proc is None or proc.stdout is None:
            return
        for line in proc.stdout:
            log.debug("sitl: %s", line.rstrip())

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
