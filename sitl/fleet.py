"""N simulated copters in one asyncio process, each on its own ports, ticking in vehicle time.

Ports follow ArduPilot SITL: instance i's SERIAL0 is TCP base+10*i, SERIAL1 base+10*i+2 and SERIAL2
base+10*i+3. Like the real binary, a vehicle's clock (and so its boot sequence) starts when the
first client connects to SERIAL0, or at once when it streams to a UDP --out address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sitl import geo
from sitl.adsb import AdsbReceiver, TrafficWorld
from sitl.camera.camera import SimCamera, VideoConfig
from sitl.link import Channel, Peer, VehicleLink
from sitl.rid_traffic import RemoteIdRelay, RemoteIdWorld
from sitl.vehicle import Vehicle

STEP_S = 0.02        # fixed physics step in vehicle time: same trajectory at any speedup
TICK_WALL_S = 0.01   # how often the loop wakes up to catch vehicle time up with wall time
# The most wall time one tick catches up. A process starved for longer (a loaded CI machine, a
# debugger) catches up in such chunks, reading its sockets in between, as ArduPilot's SITL runs
# its scheduler loop (serial input included) as fast as it can until it is back on time. In one
# burst it flew seconds without reading anything, so vehicle-time timeouts (a mission upload's
# 8 s) expired on messages that were waiting in a socket.
MAX_CATCHUP_WALL_S = 0.1
SERIAL_OFFSETS = (0, 2, 3)
log = logging.getLogger("sitl")


@dataclass
class FleetConfig:
    count: int = 1
    home: tuple[float, float, float, float] = (41.311081, 69.240562, 455.0, 0.0)
    speedup: float = 1.0
    base_port: int = 5760
    sysid_base: int = 1
    outs: tuple[tuple[str, int], ...] = ()
    control_port: int | None = None
    ekf_delay: float = 40.0
    spacing: float = 5.0
    host: str = "0.0.0.0"
    adsb_count: int = 0  # SIM_ADSB_COUNT: simulated aircraft every copter hears (sitl/adsb.py)
    adsb_radius: float = 3000.0  # SIM_ADSB_RADIUS
    adsb_alt: float = 300.0  # SIM_ADSB_ALT
    remote_id_count: int = 0  # Remote ID broadcasters every copter relays (sitl/rid_traffic.py)
    video: VideoConfig | None = None  # --camera: every copter streams video (sitl/camera)


def _chunk_end(sim_time: float, target: float, speedup: float) -> float:
    """How far this tick flies towards `target`: MAX_CATCHUP_WALL_S of wall time at most."""
    return min(target, sim_time + MAX_CATCHUP_WALL_S * speedup)


class SimVehicle:
    """A vehicle, its MAVLink front end and the sockets that feed it."""

    def __init__(self, instance: int, cfg: FleetConfig) -> None:
        lat, lon = geo.offset(cfg.home[0], cfg.home[1], 0.0, instance * cfg.spacing)
        self.vehicle = Vehicle(instance, cfg.sysid_base + instance,
                               (lat, lon, cfg.home[2], cfg.home[3]), cfg.ekf_delay)
        self.link = VehicleLink(self.vehicle)
        self.port = cfg.base_port + 10 * instance
        self.servers: list[asyncio.base_events.Server] = []
        self.transports: list[asyncio.BaseTransport] = []
        self.started_wall: float | None = None
        self.speedup = cfg.speedup
        self.camera: SimCamera | None = None
        if cfg.video is not None:
            self.camera = SimCamera(self.vehicle, cfg.video, (cfg.home[0], cfg.home[1]))
            self.link.camera = self.camera

    def advance(self, now_wall: float) -> bool:
        """Fly towards the vehicle time of `now_wall`, one chunk at most; True when behind."""
        if not self.link.alive:
            return False
        if self.started_wall is None:
            if not self.link.started:
                return False
            self.started_wall = now_wall
        v = self.vehicle
        target = (now_wall - self.started_wall) * self.speedup
        end = _chunk_end(v.time, target, self.speedup)
        while v.time + STEP_S <= end + 1e-9:
            v.step(STEP_S)
            if self.camera is not None:
                self.camera.tick()
            self.link.after_step()
        self.link.flush()
        return v.time + STEP_S <= target + 1e-9

    async def listen(self, host: str) -> None:
        for offset in SERIAL_OFFSETS:
            ch = self.link.add_channel(f"SERIAL{SERIAL_OFFSETS.index(offset)}",
                                       start_on_connect=offset == 0)
            server = await asyncio.start_server(self._tcp_handler(ch), host, self.port + offset)
            self.servers.append(server)

    def _tcp_handler(self, ch: Channel) -> Callable[
            [asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve_tcp(ch, reader, writer)
        return handler

    async def _serve_tcp(self, ch: Channel, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        transport = writer.transport
        peer = Peer(writer.write, transport.get_write_buffer_size,
                    f"tcp:{writer.get_extra_info('peername')}")
        self.link.attach(ch, peer)
        self.transports.append(transport)
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                self.link.receive(ch, peer, data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            peer.closed = True
            if peer in ch.peers:
                ch.peers.remove(peer)
            with contextlib.suppress(ValueError):
                self.transports.remove(transport)
            writer.close()

    async def stream_udp(self, host: str, port: int) -> None:
        """Like SITL's --out: send to host:port and take commands back on the same socket."""
        loop = asyncio.get_running_loop()
        ch = self.link.add_channel(f"UDP {host}:{port}", start_on_connect=True)
        link = self.link

        class Proto(asyncio.DatagramProtocol):
            def __init__(self) -> None:
                self.peer: Peer | None = None

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                dt: Any = transport
                self.peer = Peer(lambda b: dt.sendto(b, (host, port)),
                                 getattr(dt, "get_write_buffer_size", lambda: 0),
                                 f"udp:{host}:{port}")
                link.attach(ch, self.peer)

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                if self.peer is not None:
                    link.receive(ch, self.peer, data)

            def error_received(self, exc: Exception) -> None:
                """Nobody listening yet: a UDP stream just keeps sending, as SITL does."""

        transport, _ = await loop.create_datagram_endpoint(Proto, local_addr=("0.0.0.0", 0))
        self.transports.append(transport)

    def kill(self) -> None:
        self.link.alive = False
        if self.camera is not None:
            self.camera.stop()
        for server in self.servers:
            server.close()
        for transport in list(self.transports):
            transport.close()
        for ch in self.link.channels:
            ch.peers.clear()


class Fleet:
    def __init__(self, cfg: FleetConfig) -> None:
        self.cfg = cfg
        self.vehicles = [SimVehicle(i, cfg) for i in range(cfg.count)]
        self._stop = asyncio.Event()
        # one sky for the whole fleet: every copter relays the same aircraft
        self.traffic: TrafficWorld | None = None
        self._traffic_start: float | None = None
        if cfg.adsb_count > 0:
            self.traffic = TrafficWorld(cfg.adsb_count, (cfg.home[0], cfg.home[1]),
                                        radius_m=cfg.adsb_radius, alt_m=cfg.adsb_alt)
            for sv in self.vehicles:
                sv.link.adsb = AdsbReceiver(self.traffic)
        self.rid_world: RemoteIdWorld | None = None
        if cfg.remote_id_count > 0:
            self.remote_id_world()

    def remote_id_world(self) -> RemoteIdWorld:
        """The Remote ID broadcasters every copter relays; made on first use (the control
        port's `rid_intruder` needs no `--remote-id-count`)."""
        if self.rid_world is None:
            self.rid_world = RemoteIdWorld(self.cfg.remote_id_count,
                                           (self.cfg.home[0], self.cfg.home[1], self.cfg.home[2]))
            for sv in self.vehicles:
                sv.link.rid_relay = RemoteIdRelay(self.rid_world)
        return self.rid_world

    def _advance_traffic(self, now_wall: float) -> bool:
        """Like SimVehicle.advance, for the aircraft every copter hears; True when behind."""
        if self.traffic is None and self.rid_world is None:
            return False
        if self._traffic_start is None:
            self._traffic_start = now_wall
        target = (now_wall - self._traffic_start) * self.cfg.speedup
        behind = False
        for world in (self.traffic, self.rid_world):
            if world is None:
                continue
            end = _chunk_end(world.time, target, self.cfg.speedup)
            while world.time + STEP_S <= end + 1e-9:
                world.step(STEP_S)
            behind = behind or world.time + STEP_S <= target + 1e-9
        return behind

    async def start(self) -> None:
        for sv in self.vehicles:
            await sv.listen(self.cfg.host)
            if sv.camera is not None:
                sv.camera.start()
            for host, port in self.cfg.outs:
                await sv.stream_udp(host, port + 10 * sv.vehicle.instance)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Advance every vehicle to the current wall time, then sleep to the next tick (or,
        when one is still behind, only let the sockets be read before the next chunk)."""
        loop_time = time.monotonic
        next_tick = loop_time()
        while not self._stop.is_set():
            now = loop_time()
            behind = self._advance_traffic(now)
            for sv in self.vehicles:
                try:
                    behind = sv.advance(now) or behind
                except Exception:  # one vehicle's bug must not stop the others
                    log.exception("vehicle %d failed; it is stopped", sv.vehicle.instance)
                    sv.kill()
            next_tick += TICK_WALL_S
            delay = next_tick - loop_time()
            if delay < 0 or behind:
                next_tick = loop_time()
                delay = 0
            await asyncio.sleep(delay)
        for sv in self.vehicles:
            sv.kill()
