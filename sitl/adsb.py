"""Simulated manned traffic, as ArduPilot's SIM_ADSB_COUNT makes it, heard by every copter.

ArduPilot's SITL (SIM_ADSB.cpp) spawns `SIM_ADSB_COUNT` aircraft at random around home (normal
spread `SIM_ADSB_RADIUS`, at `SIM_ADSB_ALT` metres: as a raw AMSL number, below the ground at the
traces' 455 m home), each with a random velocity, climb and emitter type; a point obstacle
(emitter type 19) stands still; one that leaves the radius or descends through 0 m is replaced
by a new one. The receiver relays every aircraft about once a second of vehicle time, callsign
`SIM<icao>`, all ADSB flags set (511), squawk 1200, `tslc` 1 (shared/traces
arducopter-patrol-adsb; tests/test_sim_adsb.py holds the simulator to it).

One world for the whole fleet, so the same aircraft reaches the service from every drone (one
track there). Its clock is the fleet's vehicle time. Deterministic: a seeded generator.
`intruder()` adds a scripted aircraft on a collision course with a point (the control port's
`intruder` scenario); it flies straight on and is dropped once 2 radii away.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from sitl import geo

ADSB_ID = mavlink.MAVLINK_MSG_ID_ADSB_VEHICLE
POINT_OBSTACLE = 19
FLAGS_ALL = 511  # every ADSB_FLAGS bit up to BARO_VALID, as the real SITL sends
SQUAWK_VFR = 1200
REPORT_PERIOD_S = 1.0  # per aircraft, vehicle time (the trace: 1.00 s median)
MAX_SPEED_MPS = 160.0  # the trace's fastest: 157 m/s
MAX_CLIMB_MPS = 7.0  # the trace's: 6.9 m/s


@dataclass
class Aircraft:
    icao: int
    callsign: str
    emitter: int
    lat: float
    lon: float
    alt: float  # metres, as reported (AMSL)
    vn: float = 0.0
    ve: float = 0.0
    vu: float = 0.0
    scripted: bool = False
    origin: tuple[float, float] = (0.0, 0.0)

    def message(self) -> Any:
        speed = math.hypot(self.vn, self.ve)
        heading = 0 if speed == 0 else round(geo.bearing_deg(self.vn, self.ve) * 100) % 36000
        return mavlink.MAVLink_adsb_vehicle_message(
            self.icao, round(self.lat * 1e7), round(self.lon * 1e7), 0, round(self.alt * 1000),
            heading, round(speed * 100), round(self.vu * 100), self.callsign.encode(),
            self.emitter, 1, FLAGS_ALL, SQUAWK_VFR)


class TrafficWorld:
    def __init__(self, count: int, home: tuple[float, float], *, radius_m: float = 3000.0,
                 alt_m: float = 300.0, seed: int = 1) -> None:
        self.count = count
        self.home = home
        self.radius_m = radius_m
        self.alt_m = alt_m
        self.rng = random.Random(seed)
        self.time = 0.0
        self.aircraft: list[Aircraft] = [self._spawn() for _ in range(count)]
        self.scripted: list[Aircraft] = []

    def _spawn(self) -> Aircraft:
        rng = self.rng
        used = {a.icao for a in getattr(self, "aircraft", [])}
        icao = rng.randrange(1, 10000)
        while icao in used:
            icao = rng.randrange(1, 10000)
        north = rng.gauss(0.0, self.radius_m / 2)
        east = rng.gauss(0.0, self.radius_m / 2)
        lat, lon = geo.offset(self.home[0], self.home[1], north, east)
        emitter = rng.randrange(0, POINT_OBSTACLE + 1)
        a = Aircraft(icao, f"SIM{icao}", emitter, lat, lon, self.alt_m)
        if emitter != POINT_OBSTACLE:
            speed = rng.uniform(5.0, MAX_SPEED_MPS)
            course = math.radians(rng.uniform(0.0, 360.0))
            a.vn, a.ve = speed * math.cos(course), speed * math.sin(course)
            a.vu = rng.uniform(-MAX_CLIMB_MPS, MAX_CLIMB_MPS)
        return a

    def step(self, dt: float) -> None:
        self.time += dt
        for i, a in enumerate(self.aircraft):
            _move(a, dt)
            n, e = geo.ne_between(self.home[0], self.home[1], a.lat, a.lon)
            if math.hypot(n, e) > self.radius_m * 1.5 or a.alt < 0:
                self.aircraft[i] = self._spawn()
        for a in list(self.scripted):
            _move(a, dt)
            if geo.distance(a.origin[0], a.origin[1], a.lat, a.lon) > 2 * self.radius_m + 1:
                self.scripted.remove(a)

    def all(self) -> list[Aircraft]:
        return [*self.aircraft, *self.scripted]

    def intruder(self, lat: float, lon: float, alt: float, *, seconds: float, speed: float,
                 bearing: float, dalt: float = 0.0, icao: int | None = None,
                 callsign: str | None = None) -> Aircraft:
        """An aircraft that reaches (lat, lon, alt + dalt) in `seconds` at `speed`, coming
        from `bearing` (degrees, where it starts as seen from the point)."""
        dist = speed * seconds
        b = math.radians(bearing)
        slat, slon = geo.offset(lat, lon, dist * math.cos(b), dist * math.sin(b))
        icao = icao if icao is not None else 0xA00000 + len(self.scripted) + 1
        a = Aircraft(icao, callsign or f"INT{icao % 10000}", 7, slat, slon, alt + dalt,
                     vn=-speed * math.cos(b), ve=-speed * math.sin(b), scripted=True,
                     origin=(slat, slon))
        self.scripted = [s for s in self.scripted if s.icao != icao] + [a]
        return a


def _move(a: Aircraft, dt: float) -> None:
    if a.vn or a.ve:
        a.lat, a.lon = geo.offset(a.lat, a.lon, a.vn * dt, a.ve * dt)
    a.alt += a.vu * dt


class AdsbReceiver:
    """One copter's receiver: which aircraft is due to be relayed (each once a second of the
    copter's time, spread over the second by address so that they do not come in a burst)."""

    def __init__(self, world: TrafficWorld) -> None:
        self.world = world
        self._due: dict[int, float] = {}

    def due(self, now: float) -> list[Any]:
        out = []
        live = set()
        for a in self.world.all():
            live.add(a.icao)
            at = self._due.get(a.icao)
            if at is None:
                at = self._due[a.icao] = now + (a.icao * 0.6180339887) % 1.0
            if now >= at:
                out.append(a.message())
                self._due[a.icao] = at + REPORT_PERIOD_S if now - at < REPORT_PERIOD_S \
                    else now + REPORT_PERIOD_S
        for icao in [i for i in self._due if i not in live]:
            del self._due[icao]
        return out
