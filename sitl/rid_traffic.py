"""Simulated Remote ID broadcasters (small drones nearby), relayed by every copter.

ArduPilot's SITL simulates no Remote ID receiver; a real fleet gets other drones' broadcast
Remote ID from a receiver on the drone (an Open Drone ID receiver or a companion computer
listening to Bluetooth/Wi-Fi beacons) that forwards each broadcaster's messages over MAVLink:
`OPEN_DRONE_ID_BASIC_ID` (UAS ID, UA type) and `OPEN_DRONE_ID_LOCATION`, each about once a
second, `id_or_mac` set to the broadcaster's MAC, sent from the receiver's own component
(`RELAY_COMPID`, not the autopilot: the autopilot's Remote ID is the drone's own).

Modelled on sitl/adsb.py: one world for the fleet (the same broadcaster reaches the service from
every copter), clocked by vehicle time, seeded. Broadcasters are multirotors spread around home
(`radius_m`), `alt_agl_m` above it, wandering at 2-15 m/s; one that leaves 1.5 radii is
replaced. `intruder()` adds a scripted one on a collision course (the control port's
`rid_intruder` scenario).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from sitl import geo

RELAY_COMPID = mavlink.MAV_COMP_ID_ONBOARD_COMPUTER
REPORT_PERIOD_S = 1.0
UA_MULTIROTOR = mavlink.MAV_ODID_UA_TYPE_HELICOPTER_OR_MULTIROTOR
ID_SERIAL = mavlink.MAV_ODID_ID_TYPE_SERIAL_NUMBER
STATUS_AIRBORNE = mavlink.MAV_ODID_STATUS_AIRBORNE


@dataclass
class Broadcaster:
    uas_id: str
    mac: int
    lat: float
    lon: float
    alt: float  # metres AMSL (geodetic, as broadcast)
    vn: float = 0.0
    ve: float = 0.0
    vu: float = 0.0
    scripted: bool = False
    origin: tuple[float, float] = (0.0, 0.0)

    def messages(self) -> list[Any]:
        """BASIC_ID and LOCATION, as a receiver forwards them (MAVLink units)."""
        mac = bytes([self.mac >> (8 * i) & 0xFF for i in range(6)] + [0] * 14)
        basic = mavlink.MAVLink_open_drone_id_basic_id_message(
            0, 0, mac, ID_SERIAL, UA_MULTIROTOR, self.uas_id.encode().ljust(20, b"\0"))
        speed = math.hypot(self.vn, self.ve)
        direction = 0 if speed == 0 else round(geo.bearing_deg(self.vn, self.ve) * 100) % 36000
        # the timestamp is wall time (seconds after the full hour), as a receiver stamps it
        loc = mavlink.MAVLink_open_drone_id_location_message(
            0, 0, mac, STATUS_AIRBORNE, direction, min(round(speed * 100), 25425),
            max(-6200, min(6200, round(self.vu * 100))), round(self.lat * 1e7),
            round(self.lon * 1e7), self.alt, self.alt, 0, -1000.0, 10, 4, 3, 3,
            round(time.time() % 3600, 1), 1)
        return [basic, loc]


class RemoteIdWorld:
    def __init__(self, count: int, home: tuple[float, float, float], *,
                 radius_m: float = 600.0, alt_agl_m: float = 60.0, seed: int = 2) -> None:
        self.count = count
        self.home = home
        self.radius_m = radius_m
        self.alt_agl_m = alt_agl_m
        self.rng = random.Random(seed)
        self.time = 0.0
        self._serial = 0
        self.drones: list[Broadcaster] = [self._spawn() for _ in range(count)]
        self.scripted: list[Broadcaster] = []

    def _next_id(self) -> tuple[str, int]:
        self._serial += 1
        return f"SIMRID{self._serial:06d}", 0x02A000000000 + self._serial

    def _spawn(self) -> Broadcaster:
        rng = self.rng
        uas_id, mac = self._next_id()
        north = rng.gauss(0.0, self.radius_m / 2)
        east = rng.gauss(0.0, self.radius_m / 2)
        lat, lon = geo.offset(self.home[0], self.home[1], north, east)
        speed = rng.uniform(2.0, 15.0)
        course = math.radians(rng.uniform(0.0, 360.0))
        return Broadcaster(uas_id, mac, lat, lon,
                           self.home[2] + self.alt_agl_m * rng.uniform(0.5, 1.5),
                           vn=speed * math.cos(course), ve=speed * math.sin(course))

    def step(self, dt: float) -> None:
        self.time += dt
        for i, d in enumerate(self.drones):
            _move(d, dt)
            n, e = geo.ne_between(self.home[0], self.home[1], d.lat, d.lon)
            if math.hypot(n, e) > self.radius_m * 1.5:
                self.drones[i] = self._spawn()
        for d in list(self.scripted):
            _move(d, dt)
            if geo.distance(d.origin[0], d.origin[1], d.lat, d.lon) > 4 * self.radius_m + 1:
                self.scripted.remove(d)

    def all(self) -> list[Broadcaster]:
        return [*self.drones, *self.scripted]

    def intruder(self, lat: float, lon: float, alt: float, *, seconds: float, speed: float,
                 bearing: float, dalt: float = 0.0, uas_id: str | None = None) -> Broadcaster:
        """A drone that reaches (lat, lon, alt + dalt) in `seconds` at `speed`, coming from
        `bearing` (degrees, where it starts as seen from the point)."""
        dist = speed * seconds
        b = math.radians(bearing)
        slat, slon = geo.offset(lat, lon, dist * math.cos(b), dist * math.sin(b))
        auto_id, mac = self._next_id()
        d = Broadcaster(uas_id or auto_id.replace("SIMRID", "INTRID"), mac, slat, slon,
                        alt + dalt, vn=-speed * math.cos(b), ve=-speed * math.sin(b),
                        scripted=True, origin=(slat, slon))
        self.scripted = [s for s in self.scripted if s.uas_id != d.uas_id] + [d]
        return d


def _move(d: Broadcaster, dt: float) -> None:
    if d.vn or d.ve:
        d.lat, d.lon = geo.offset(d.lat, d.lon, d.vn * dt, d.ve * dt)
    d.alt += d.vu * dt


class RemoteIdRelay:
    """One copter's receiver: which broadcasters are due to be forwarded (each once a second
    of the copter's time, spread over the second)."""

    def __init__(self, world: RemoteIdWorld) -> None:
        self.world = world
        self._due: dict[str, float] = {}

    def due(self, now: float) -> list[Any]:
        out: list[Any] = []
        live = set()
        for d in self.world.all():
            live.add(d.uas_id)
            at = self._due.get(d.uas_id)
            if at is None:
                at = self._due[d.uas_id] = now + (d.mac * 0.6180339887) % 1.0
            if now >= at:
                out += d.messages()
                self._due[d.uas_id] = at + REPORT_PERIOD_S if now - at < REPORT_PERIOD_S \
                    else now + REPORT_PERIOD_S
        for uas_id in [i for i in self._due if i not in live]:
            del self._due[uas_id]
        return out
