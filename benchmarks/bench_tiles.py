"""Tile serving from local archives: latency and throughput of GET /tiles/{name}/{z}/{x}/{y}
through the real service (`python -m mission.cli serve`), for a PMTiles and an MBTiles archive
of 22,500 distinct synthetic tiles (2-6 KB each, PNG-headed random bytes: nothing compresses or
repeats, so every request reads the file; the OS page cache holds it after the warm-up, as it
would for a city's archive on a mission-control server).

Per archive and per client concurrency (1, 8, 32 clients on keep-alive connections, a separate
process from the service's CPU only in that httpx runs here), random tiles are fetched for a
fixed number of requests: p50 / p99 latency and tiles per second; then the same for
GET /api/auth/me (the session check and the framework, no tile read) as the baseline. The machine
has 2 cores shared by the service and this client, so throughput is a floor, not the service's
limit.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

REPO_ROOT = Path(__file__).resolve().parents[1]
Z, X0, Y0, SIDE = 14, 11_340, 6_110, 150
REQUESTS = 3000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def make_archives(d: Path) -> tuple[Path, Path, list[tuple[int, int]]]:
    rng = random.Random(15)
    keys = [(X0 + i, Y0 + j) for i in range(SIDE) for j in range(SIDE)]
    tiles = {k: b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(2000, 6000)) for k in keys}
    pm = d / "bench.pmtiles"
    with pm.open("wb") as f:
        w = Writer(f)
        for tid, data in sorted((zxy_to_tileid(Z, x, y), v) for (x, y), v in tiles.items()):
            w.write_tile(tid, data)
        w.finalize({"tile_type": TileType.PNG, "tile_compression": Compression.NONE,
                    "min_zoom": Z, "max_zoom": Z, "min_lon_e7": 690_000_000,
                    "min_lat_e7": 410_000_000, "max_lon_e7": 700_000_000,
                    "max_lat_e7": 420_000_000, "center_zoom": Z, "center_lon_e7": 692_400_000,
                    "center_lat_e7": 413_100_000}, {"attribution": "synthetic"})
    mb = d / "bench.mbtiles"
    conn = sqlite3.connect(mb)
    conn.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    conn.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER,"
                 " tile_data BLOB)")
    conn.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
    conn.executemany("INSERT INTO metadata VALUES (?, ?)",
                     [("format", "png"), ("bounds", "69,41,70,42"), ("minzoom", str(Z)),
                      ("maxzoom", str(Z))])
    conn.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                     [(Z, x, (1 << Z) - 1 - y, v) for (x, y), v in tiles.items()])
    conn.commit()
    conn.close()
    return pm, mb, keys


async def run(url: str, token: str, name: str, keys: list[tuple[int, int]],
              clients: int) -> tuple[float, float, float]:
    rng = random.Random(clients)
    todo = [rng.choice(keys) for _ in range(REQUESTS)]
    times: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}) as c:
        async def worker() -> None:
            while todo:
                x, y = todo.pop()
                t0 = time.perf_counter()
                r = await c.get(f"/tiles/{name}/{Z}/{x}/{y}.png" if name else "/api/auth/me")
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200, r.status_code

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - t0
    times.sort()
    return (statistics.median(times) * 1000, times[int(len(times) * 0.99) - 1] * 1000,
            len(times) / wall)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        pm, mb, keys = make_archives(d)
        print(f"archives: PMTiles {pm.stat().st_size / 2**20:.0f} MiB, MBTiles "
              f"{mb.stat().st_size / 2**20:.0f} MiB, {len(keys)} tiles each")
        port, password = free_port(), secrets.token_urlsafe(16)
        env = {**os.environ, "NAZORAT_DATA_DIR": str(d), "NAZORAT_ADMIN_PASSWORD": password,
               "NAZORAT_LOG_FORMAT": "text", "NAZORAT_TILES": f"pm={pm},mb={mb}"}
        with (d / "service.log").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mission.cli", "serve", "--port", str(port),
                 "--log-level", "warning"], cwd=REPO_ROOT, env=env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
            url = f"http://127.0.0.1:{port}"
            try:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError("service did not start")
                    time.sleep(0.2)
                token = httpx.post(f"{url}/api/auth/login", json={
                    "username": "admin", "password": password}).json()["token"]
                # "": GET /api/auth/me, the same session check and framework with no tile read
                for name in ("pm", "mb", ""):
                    asyncio.run(run(url, token, name, keys, 8))  # warm-up: page cache
                    for clients in (1, 8, 32):
                        p50, p99, rate = asyncio.run(run(url, token, name, keys, clients))
                        print(f"{name or 'auth/me'}: {clients:2d} clients: p50 {p50:6.2f} ms, p99 "
                              f"{p99:6.2f} ms, {rate:6.0f} tiles/s")
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(20)


if __name__ == "__main__":
    main()
