"""What `python -m sitl --camera` costs: simulator CPU for 1 and 5 copters with and without
cameras (640x360 at 15 fps by default), frames received per second and capture-to-decoded
latency on loopback.

Each scenario starts the simulator for real, receives every camera's RTP stream on its own UDP
socket in this process (depacketised with tests/rtp_h264.py; camera 0 also decoded with FFmpeg
to read the capture-time strip), and reads the simulator process's CPU with psutil over a fixed
wall window after a warm-up. The "camera CPU" column is the difference to the same fleet
without --camera.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from bench_service import _free_base  # noqa: E402

from rtp_h264 import Depacketiser  # noqa: E402
from sitl.camera import strip  # noqa: E402


def _udp_block(count: int) -> list[socket.socket]:
    """`count` UDP sockets on consecutive free ports."""
    for base in range(24000, 32000, 17):
        socks: list[socket.socket] = []
        try:
            for i in range(count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return socks
        except OSError:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP port block")


class Receiver(threading.Thread):
    def __init__(self, sock: socket.socket, decode: bool) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.decode = decode
        self.frames = 0
        self.latency_ms: list[float] = []
        self.counting = False
        self.stop = False

    def run(self) -> None:
        self.sock.settimeout(0.5)
        depack = Depacketiser()
        decoder = av.CodecContext.create("h264", "r")
        keyed = False
        while not self.stop:
            try:
                data = self.sock.recv(2048)
            except TimeoutError:
                continue
            au = depack.push(data)
            if au is None:
                continue
            if self.counting:
                self.frames += 1
            if not self.decode:
                continue
            keyed = keyed or b"\x00\x00\x00\x01\x65" in au[1]
            if not keyed:
                continue
            for frame in decoder.decode(av.Packet(au[1])):
                luma = np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8)
                if self.counting:
                    self.latency_ms.append(time.time() * 1000 - strip.read(luma))


def scenario(count: int, camera: bool, size: str, fps: int, seconds: float) -> dict[str, float]:
    socks = _udp_block(count)
    base = _free_base(count)
    cmd = [sys.executable, "-m", "sitl", "--count", str(count), "--base-port", str(base),
           "--ekf-delay", "2"]
    if camera:
        cmd += ["--camera", "--video-base-port", str(socks[0].getsockname()[1]),
                "--video-size", size, "--video-fps", str(fps)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    receivers = [Receiver(s, decode=i == 0) for i, s in enumerate(socks)]
    clients: list[socket.socket] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "sitl: ready":
                break
        for i in range(count):  # a connected client starts the vehicle's clock, as on SITL
            clients.append(socket.create_connection(("127.0.0.1", base + 10 * i)))
        for r in receivers:
            r.start()
        time.sleep(3.0)
        ps = psutil.Process(proc.pid)
        for r in receivers:
            r.counting = True
        t0 = ps.cpu_times()
        w0 = time.monotonic()
        time.sleep(seconds)
        t1 = ps.cpu_times()
        wall = time.monotonic() - w0
        for r in receivers:
            r.counting = False
        cpu = (t1.user + t1.system - t0.user - t0.system) / wall
        lat = sorted(receivers[0].latency_ms)
        return {
            "cpu": cpu,
            "fps": sum(r.frames for r in receivers) / wall / max(count, 1) if camera else 0.0,
            "p50": lat[len(lat) // 2] if lat else float("nan"),
            "p95": lat[int(len(lat) * 0.95)] if lat else float("nan"),
        }
    finally:
        for r in receivers:
            r.stop = True
        for c in clients:
            c.close()
        proc.terminate()
        proc.wait(10)
        for s in socks:
            s.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--counts", default="1,5")
    p.add_argument("--size", default="640x360")
    p.add_argument("--fps", type=int, default=15)
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args()
    print(f"| copters | sim CPU no camera | sim CPU --camera | camera CPU | fps/stream "
          f"| capture->decoded p50 / p95 ms |  ({args.size}@{args.fps})")
    print("|---|---|---|---|---|---|")
    for count in (int(c) for c in args.counts.split(",")):
        bare = scenario(count, False, args.size, args.fps, args.seconds)
        cam = scenario(count, True, args.size, args.fps, args.seconds)
        print(f"| {count} | {bare['cpu']:.1%} | {cam['cpu']:.1%} | "
              f"{cam['cpu'] - bare['cpu']:.1%} | {cam['fps']:.1f} | "
              f"{cam['p50']:.0f} / {cam['p95']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
