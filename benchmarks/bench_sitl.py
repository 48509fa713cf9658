"""How much CPU the simulated fleet needs: 1, 10, 100 copters streaming to connected clients.

Each scenario starts `python -m sitl` for real, connects one TCP client per vehicle (in a separate
process, so its cost is not charged to the simulator), asks for streams the way ground stations do
and measures the simulator process's CPU over a fixed wall window with psutil. The baseline is the
1-copter run in the same invocation; the ratio column says how the per-copter cost scales.

Target (issue 2): 100 copters at default stream rates on at most one core at speedup 1.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
from pymavlink.dialects.v20 import ardupilotmega as mavlink

ROOT = Path(__file__).resolve().parents[1]

# "default stream rates": what MAVProxy asks for (REQUEST_DATA_STREAM ALL at 4 Hz), and what
# the mavsdk link of this project asks for (a handful of SET_MESSAGE_INTERVALs).
PROFILES = {
    "idle": [],
    "all@4Hz": [("stream", 0, 4)],
    "mavsdk": [("interval", 33, 10), ("interval", 24, 2), ("interval", 1, 2), ("interval", 147, 2),
               ("interval", 193, 2), ("interval", 245, 2), ("interval", 30, 10),
               ("interval", 74, 2), ("interval", 42, 1), ("interval", 242, 1)],
}


def _free_base(count: int) -> int:
    for base in range(21000, 60000, 100):
        if base + 10 * count + 5 > 65000:
            break
        ok = True
        for port in [base - 10] + [base + 10 * i + o for i in range(count) for o in (0, 2, 3)]:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port block")


def _requests(profile: str, sysid: int) -> bytes:
    mav = mavlink.MAVLink(None, srcSystem=245, srcComponent=190)
    out = b""
    for kind, a, b in PROFILES[profile]:
        if kind == "stream":
            out += mavlink.MAVLink_request_data_stream_message(sysid, 1, a, b, 1).pack(mav)
        else:
            out += mavlink.MAVLink_command_long_message(
                sysid, 1, 511, 0, a, 1e6 / b, 0, 0, 0, 0, 0).pack(mav)
    return out


def _client_proc(ports: list[int], profile: str, seconds: float, result: mp.Queue) -> None:
    """Connect to every vehicle, ask for streams, count the bytes that come back."""

    async def one(i: int, port: int, counts: list[int]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        hb = mavlink.MAVLink_heartbeat_message(6, 8, 0, 0, 0, 3).pack(
            mavlink.MAVLink(None, srcSystem=245, srcComponent=190))
        writer.write(hb + _requests(profile, i + 1))
        await writer.drain()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data = await asyncio.wait_for(reader.read(65536), timeout=0.5)
            except TimeoutError:
                continue
            if not data:
                break
            counts[i] += len(data)
        writer.close()

    async def main() -> None:
        counts = [0] * len(ports)
        await asyncio.gather(*(one(i, p, counts) for i, p in enumerate(ports)))
        result.put(sum(counts))

    asyncio.run(main())


def measure(count: int, profile: str, warmup: float, window: float) -> dict[str, float]:
    base = _free_base(count)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sitl", "--count", str(count), "--base-port", str(base),
         "--ekf-delay", "5"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("sitl: ready"):
                break
        ports = [base + 10 * i for i in range(count)]
        q: mp.Queue = mp.Queue()
        client = mp.Process(target=_client_proc, args=(ports, profile, warmup + window, q))
        client.start()
        ps = psutil.Process(proc.pid)
        time.sleep(warmup)
        cpu0 = ps.cpu_times()
        t0 = time.monotonic()
        time.sleep(window)
        cpu1 = ps.cpu_times()
        elapsed = time.monotonic() - t0
        rss = ps.memory_info().rss
        client.join(timeout=warmup + window + 30)
        total_bytes = q.get(timeout=5) if not q.empty() else 0
        used = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        return {"cpu": used / elapsed, "rss_mb": rss / 2**20,
                "kbps": total_bytes / (warmup + window) / 1024}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="shorter windows (smoke run)")
    args = ap.parse_args()
    warmup, window = (2.0, 4.0) if args.quick else (4.0, 10.0)
    print(f"simulated fleet CPU at speedup 1 (window {window:.0f} s, "
          f"{os.cpu_count()} cores); baseline = 1 copter of the same profile")
    print(f"{'profile':<9} {'copters':>7} {'cpu %core':>10} {'per copter':>11} {'ratio':>6} "
          f"{'RSS MB':>7} {'KiB/s out':>10}")
    worst = 0.0
    for profile in PROFILES:
        baseline = None
        for count in (1, 10, 100):
            r = measure(count, profile, warmup, window)
            per = r["cpu"] / count
            baseline = baseline or per
            print(f"{profile:<9} {count:>7} {r['cpu'] * 100:>9.1f}% {per * 100:>10.2f}% "
                  f"{per / baseline:>6.2f} {r['rss_mb']:>7.0f} {r['kbps']:>10.0f}", flush=True)
            if count == 100 and profile != "idle":
                worst = max(worst, r["cpu"])
    verdict = "PASS" if worst <= 1.0 else "FAIL"
    print(f"100 copters, worst streaming profile: {worst * 100:.0f}% of one core -> {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
