"""Sign-in under abuse (issue 10): how many password checks a burst gets evaluated, and how
much memory the service takes while it does.

Two bursts, each against a fresh service (`python -m mission.cli serve`, no drones, SQLite in a
temporary directory, the default NAZORAT_LOGIN_MAX_FAILURES of 10):
- 60 parallel wrong passwords for the one real user: the 401 answers are the attempts whose
  password was checked (evaluated); the rest should be 429;
- 200 parallel attempts with unknown user names: the peak resident set of the service process
  (VmHWM in /proc/PID/status, the kernel's own high-water mark, so no sampling is missed)
  before and after the burst. Each argon2 check allocates 64 MiB, so this is what bounding the
  concurrent checks is about.

Run: `.venv/bin/python benchmarks/bench_login_burst.py` (about a minute on 2 cores).
"""

from __future__ import annotations

import asyncio
import collections
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_mib(pid: int, field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


class Service:
    """One service process on a free port with its own data directory."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        env = {**os.environ, "NAZORAT_DATA_DIR": str(tmp), "NAZORAT_ADMIN_USER": "admin",
               "NAZORAT_ADMIN_PASSWORD": self.password, "NAZORAT_LOG_FORMAT": "text"}
        self.log = open(tmp / "service.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mission.cli", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            cwd=REPO_ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own process group: stop() ends its planner workers
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("service did not start")

    def stop(self) -> None:
        """SIGTERM to the service's process group (as tests/service_fixture.py does): the
        planner's worker processes outlive a service that is sent SIGTERM alone."""
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


async def burst(url: str, bodies: list[dict[str, str]]) -> collections.Counter[int]:
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=300) as c:
        answers = await asyncio.gather(*(c.post("/api/auth/login", json=b) for b in bodies))
    return collections.Counter(r.status_code for r in answers)


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        svc = Service(Path(d))
        try:
            got = asyncio.run(burst(svc.url, [{"username": "admin", "password": f"wrong-{i}"}
                                              for i in range(60)]))
            print(f"60 parallel wrong passwords for one user: {dict(sorted(got.items()))} "
                  f"-> evaluated (401): {got[401]}")
        finally:
            svc.stop()
    with tempfile.TemporaryDirectory() as d:
        svc = Service(Path(d))
        try:
            before = rss_mib(svc.proc.pid, "VmRSS")
            names = [{"username": f"nobody-{secrets.token_hex(4)}", "password": "x" * 12}
                     for _ in range(200)]
            got = asyncio.run(burst(svc.url, names))
            peak = rss_mib(svc.proc.pid, "VmHWM")
            print(f"200 parallel unknown user names: {dict(sorted(got.items()))}; RSS before "
                  f"{before:.0f} MiB, peak {peak:.0f} MiB, after "
                  f"{rss_mib(svc.proc.pid, 'VmRSS'):.0f} MiB")
        finally:
            svc.stop()


if __name__ == "__main__":
    main()
