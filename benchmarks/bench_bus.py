"""The bus between processes (telemetry/bus.py): cost and lag of mirroring telemetry via Redis.

What runs: a publisher process with a `BusNode` serving a stand-in link of N vehicles whose hub
gets a new `VehicleState` for every vehicle R times a second (what a link does with positions
at R Hz), and this process with a second `BusNode` mirroring them into its own `TelemetryHub`,
with one hub subscriber that records, per state, receive time minus the state's `updated_at`
(set from the wall clock when the publisher made it; both processes share the machine's clock).
The baseline row ("hub only") is the same subscriber on the publisher's side of an in-process
hub: what a single-process service pays. CPU is each process's user+system time over the run;
Redis's own is read from INFO (used_cpu_user + used_cpu_sys), and includes anything else that
Redis serves meanwhile (it is shared on this machine).

Needs Redis at NAZORAT_TEST_REDIS_URL (default redis://127.0.0.1:6379/0); keys and channels use
a random prefix, deleted at the end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing as mp
import os
import resource
import secrets
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402

from telemetry.bus import BusNode  # noqa: E402
from telemetry.hub import TelemetryHub  # noqa: E402
from telemetry.state import GeoPoint, LinkState, VehicleState  # noqa: E402

REDIS_URL = os.environ.get("NAZORAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BENCH_SECRET = "bench-secret-0123456789"  # both processes seal and check every state with it
RUN_S = 5.0
CONFIGS = [(10, 5.0), (100, 5.0), (100, 10.0)]


class _Vehicle:
    def __init__(self, vid: int) -> None:
        self.vehicle_id = vid
        self.attached = True
        self.state = VehicleState(vehicle_id=vid, sysid=vid % 250 + 1, link=LinkState.UP,
                                  position=GeoPoint(41.3, 69.2, 455.0), mode="AUTO")


class _Link:
    """The parts of FleetLink the bus uses."""

    def __init__(self, n: int) -> None:
        self.hub = TelemetryHub()
        self._v = {i: _Vehicle(i) for i in range(1, n + 1)}

    def vehicles(self) -> list[Any]:
        return list(self._v.values())

    def get(self, vid: int) -> Any:
        from telemetry.errors import UnknownVehicle

        if vid not in self._v:
            raise UnknownVehicle(str(vid))
        return self._v[vid]


async def _drive(link: _Link, rate: float, seconds: float) -> int:
    n = 0
    period = 1.0 / rate
    end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < end:
        k += 1
        for v in link._v.values():
            v.state = dataclasses.replace(
                v.state, updated_at=time.time(), position_time_boot_ms=k,
                position=GeoPoint(41.3 + k * 1e-6, 69.2, 455.0))
            link.hub.publish(v.state)
            n += 1
        await asyncio.sleep(period)
    return n


def _publisher(prefix: str, n: int, rate: float, seconds: float, q: Any) -> None:
    async def main() -> None:
        link = _Link(n)
        node = BusNode(REDIS_URL, secret=BENCH_SECRET, prefix=prefix, node="bench-pub")
        await node.start()
        await node.serve_link(link, None)  # type: ignore[arg-type]
        q.put("ready")
        await asyncio.sleep(1.0)  # the mirror has subscribed
        cpu0 = _cpu()
        sent = await _drive(link, rate, seconds)
        await asyncio.sleep(0.5)
        q.put((sent, _cpu() - cpu0))
        await node.close()

    asyncio.run(main())


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _collect(hub: TelemetryHub, lags: list[float], stop: asyncio.Event) -> None:
    with hub.subscribe() as sub:
        while not stop.is_set():
            await sub.wait(0.2)
            now = time.time()
            for st in sub.take_states().values():
                lags.append(now - st.updated_at)


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] * 1000 if xs else float("nan")


def _redis_cpu(r: redis.Redis) -> float:
    info: dict[str, Any] = r.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def _hub_only(n: int, rate: float) -> tuple[list[float], float, int]:
    link = _Link(n)
    lags: list[float] = []
    stop = asyncio.Event()
    task = asyncio.create_task(_collect(link.hub, lags, stop))
    cpu0 = _cpu()
    sent = await _drive(link, rate, RUN_S)
    stop.set()
    await task
    return lags, _cpu() - cpu0, sent


async def _over_bus(n: int, rate: float, r: redis.Redis) -> tuple[list[float], float, float,
                                                                   float, int, int]:
    prefix = f"nazorat-bench-{secrets.token_hex(4)}"
    hub = TelemetryHub()
    node = BusNode(REDIS_URL, secret=BENCH_SECRET, prefix=prefix, node="bench-mirror")
    await node.start()
    await node.mirror(hub)
    lags: list[float] = []
    stop = asyncio.Event()
    task = asyncio.create_task(_collect(hub, lags, stop))
    q: Any = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(target=_publisher, args=(prefix, n, rate, RUN_S, q))
    proc.start()
    await asyncio.to_thread(q.get, True, 30)
    await asyncio.sleep(1.0)
    lags.clear()
    cpu0, rcpu0 = _cpu(), _redis_cpu(r)
    sent, pub_cpu = await asyncio.to_thread(q.get, True, RUN_S + 30)
    mirror_cpu, redis_cpu = _cpu() - cpu0, _redis_cpu(r) - rcpu0
    stop.set()
    await task
    got = node.mirrored
    await node.close()
    proc.join(10)
    keys = list(r.scan_iter(match=f"{prefix}:*"))
    if keys:
        r.delete(*keys)
    return lags, pub_cpu, mirror_cpu, redis_cpu, sent, got


def main() -> int:
    r = redis.Redis.from_url(REDIS_URL)
    try:
        r.ping()
    except (redis.RedisError, OSError) as e:
        print(f"bench_bus: no Redis at {REDIS_URL}: {e}")
        return 0
    print(f"{RUN_S:g} s per row; CPU in % of one core; lag = state made -> in the receiving hub")
    print(f"{'vehicles':>8} {'Hz':>4} {'path':>9} {'states/s':>9} {'recv %':>7} {'p50 ms':>7} "
          f"{'p95 ms':>7} {'p99 ms':>7} {'pub CPU':>8} {'mirror':>7} {'redis':>6}")
    for n, rate in CONFIGS:
        lags, cpu, sent = asyncio.run(_hub_only(n, rate))
        print(f"{n:>8} {rate:>4g} {'hub only':>9} {sent / RUN_S:>9.0f} {'-':>7} "
              f"{_pct(lags, .5):>7.2f} {_pct(lags, .95):>7.2f} {_pct(lags, .99):>7.2f} "
              f"{cpu / RUN_S * 100:>7.1f}% {'-':>7} {'-':>6}")
        lags, pub, mir, rcpu, sent, got = asyncio.run(_over_bus(n, rate, r))
        share = got / max(1, sent) * 100
        print(f"{n:>8} {rate:>4g} {'bus':>9} {sent / RUN_S:>9.0f} {share:>6.1f}% "
              f"{_pct(lags, .5):>7.2f} {_pct(lags, .95):>7.2f} {_pct(lags, .99):>7.2f} "
              f"{pub / RUN_S * 100:>7.1f}% {mir / RUN_S * 100:>6.1f}% {rcpu / RUN_S * 100:>5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
