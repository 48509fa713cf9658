"""Shared pieces of the client conformance suite (tests/test_conformance_*.py).

The suite flies simulated copters with ground-station software the project did not write (pymavlink,
the mavsdk 4.x binding, MAVProxy) and judges the flight only from what such a client receives over
MAVLink: positions from GLOBAL_POSITION_INT, the ArduCopter mode from HEARTBEAT.custom_mode, the
armed bit from HEARTBEAT.base_mode. Nothing here reads the simulator's internals, so the same tests
run unchanged against a real ``arducopter`` binary.

Conventions the tests may rely on:
- every timeout is given in *vehicle* seconds and turned into wall seconds with :func:`wall`, which
  divides by the fleet's speedup and adds slack for a loaded two-core machine;
- a mission is a list of :class:`Item` whose index is its MAVLink ``seq``; seq 0 is ArduPilot's home
  slot and carries a placeholder that the vehicle overwrites with the real home.
"""

from __future__ import annotations

import math
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymavlink import mavutil

mavlink = mavutil.mavlink

# Fleet settings shared by the three client files: fast enough for the 3-minute budget, slow enough
# that 10 Hz positions are ~1 m apart at ArduCopter's default 10 m/s waypoint speed.
SPEEDUP = 10.0
EKF_DELAY = 3.0
COUNT = 3

# ArduCopter custom modes (HEARTBEAT.custom_mode).
STABILIZE, AUTO, GUIDED, LOITER, RTL, LAND, BRAKE = 0, 3, 4, 5, 6, 9, 17

GCS_SYSID, GCS_COMPID = 245, 190

TAKEOFF_ALT = 20.0  # metres above home, mission and GUIDED takeoff
LEG = 150.0  # metres between consecutive waypoints
NEAR_WP = 5.0  # closest horizontal approach to a waypoint that counts as "passed"
NEAR_HOME = 5.0  # landing spot within this of home
ON_GROUND_ALT = 1.0  # relative altitude treated as on the ground


def wall(vehicle_seconds: float, speedup: float = SPEEDUP) -> float:
    """Wall-clock seconds to allow for ``vehicle_seconds`` of simulated flight (with slack)."""
    return vehicle_seconds / speedup * 2.0 + 5.0


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------------
# geometry

EARTH_R = 6378137.0


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """Point ``north_m``/``east_m`` metres from (lat, lon), flat-earth (fine for a few km)."""
    dlat = north_m / EARTH_R
    dlon = east_m / (EARTH_R * math.cos(math.radians(lat)))
    return lat + math.degrees(dlat), lon + math.degrees(dlon)


def ne_of(lat0: float, lon0: float, lat: float, lon: float) -> tuple[float, float]:
    north = math.radians(lat - lat0) * EARTH_R
    east = math.radians(lon - lon0) * EARTH_R * math.cos(math.radians(lat0))
    return north, east


def dist_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    n, e = ne_of(lat1, lon1, lat2, lon2)
    return math.hypot(n, e)


def dist_to_segment(
    p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]
) -> float:
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    L2 = dx * dx + dy * dy
    t = 0.0 if L2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / L2))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


# ------------------------------------------------------------------------------------------
# missions


@dataclass(frozen=True)
class Item:
    """One MISSION_ITEM_INT. ``x``/``y`` are degrees (converted to 1e7 ints on the wire)."""

    command: int
    frame: int = mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT
    lat: float = 0.0
    lon: float = 0.0
    alt: float = 0.0
    params: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    autocontinue: int = 1

    @property
    def x(self) -> int:
        return int(round(self.lat * 1e7))

    @property
    def y(self) -> int:
        return int(round(self.lon * 1e7))


def route(home_lat: float, home_lon: float, bearing_deg: float = 0.0) -> list[tuple[float, float]]:
    """Two waypoints: LEG metres along ``bearing_deg``, then LEG metres 90 degrees to its right."""
    b1, b2 = math.radians(bearing_deg), math.radians(bearing_deg + 90.0)
    n1, e1 = LEG * math.cos(b1), LEG * math.sin(b1)
    n2, e2 = n1 + LEG * math.cos(b2), e1 + LEG * math.sin(b2)
    return [offset(home_lat, home_lon, n1, e1), offset(home_lat, home_lon, n2, e2)]


def mission(home_lat: float, home_lon: float, bearing_deg: float = 0.0) -> list[Item]:
    """seq0 home placeholder, NAV_TAKEOFF, two NAV_WAYPOINTs LEG apart, NAV_RETURN_TO_LAUNCH."""
    items = [
        Item(mavlink.MAV_CMD_NAV_WAYPOINT, mavlink.MAV_FRAME_GLOBAL, home_lat, home_lon, 0.0),
        Item(mavlink.MAV_CMD_NAV_TAKEOFF, alt=TAKEOFF_ALT),
    ]
    for lat, lon in route(home_lat, home_lon, bearing_deg):
        items.append(Item(mavlink.MAV_CMD_NAV_WAYPOINT, lat=lat, lon=lon, alt=TAKEOFF_ALT))
    items.append(Item(mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH))
    return items


@dataclass(frozen=True)
class Received:
    """A mission item as read back from the vehicle, in wire units (x/y are 1e7 ints)."""

    seq: int
    frame: int
    command: int
    autocontinue: int
    params: tuple[float, float, float, float]
    x: int
    y: int
    z: float


def compare_mission(sent: list[Item], got: list[Received], xy_tol: int = 0) -> list[str]:
    """Differences between an uploaded plan and its read-back; empty when they agree.

    ``xy_tol`` is in 1e-7 degrees: 0 for MISSION_ITEM_INT read-backs, 10 for a read-back that went
    through MAVProxy's ``wp save`` file (it writes 6 decimals).

    Seq 0 must be a NAV_WAYPOINT at (about) home, since ArduPilot writes its real home there.
    NAV_RETURN_TO_LAUNCH carries no location, so only its command is compared (ArduPilot reports
    it with frame 0 whatever frame was uploaded).
    """
    problems = []
    if len(sent) != len(got):
        return [f"count: sent {len(sent)} items, vehicle holds {len(got)}"]
    for i, (s, g) in enumerate(zip(sent, got, strict=True)):
        if g.seq != i:
            problems.append(f"item {i}: seq {g.seq}")
        if g.command != s.command:
            problems.append(f"item {i}: command {g.command} != {s.command}")
            continue
        if i == 0:
            if dist_m(s.lat, s.lon, g.x / 1e7, g.y / 1e7) > 50.0:
                problems.append(f"item 0 (home): {g.x / 1e7},{g.y / 1e7} far from {s.lat},{s.lon}")
            continue
        if s.command == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            continue
        if g.frame != s.frame:
            problems.append(f"item {i}: frame {g.frame} != {s.frame}")
        if abs(g.x - s.x) > xy_tol or abs(g.y - s.y) > xy_tol:
            problems.append(f"item {i}: x,y {g.x},{g.y} != {s.x},{s.y}")
        if abs(g.z - s.alt) > 0.01:
            problems.append(f"item {i}: z {g.z} != {s.alt}")
        if any(abs(a - b) > 1e-4 for a, b in zip(g.params, s.params, strict=True)):
            problems.append(f"item {i}: params {g.params} != {s.params}")
        if g.autocontinue != s.autocontinue:
            problems.append(f"item {i}: autocontinue {g.autocontinue}")
    return problems


def parse_wpl(text: str) -> list[Received]:
    """Items of a QGC WPL 110 file (what MAVProxy's ``wp save`` writes)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("QGC WPL 110"), lines[:1]
    out = []
    for ln in lines[1:]:
        f = ln.split("\t")
        out.append(
            Received(
                seq=int(f[0]),
                frame=int(f[2]),
                command=int(f[3]),
                params=(float(f[4]), float(f[5]), float(f[6]), float(f[7])),
                x=int(round(float(f[8]) * 1e7)),
                y=int(round(float(f[9]) * 1e7)),
                z=float(f[10]),
                autocontinue=int(f[11]),
            )
        )
    return out


def write_wpl(items: list[Item]) -> str:
    """QGC WPL 110 text for ``items`` (seq 0 marked current, as QGC and MAVProxy write it)."""
    rows = ["QGC WPL 110"]
    for i, it in enumerate(items):
        p = it.params
        rows.append(
            "\t".join(
                [
                    str(i),
                    "1" if i == 0 else "0",
                    str(it.frame),
                    str(it.command),
                    *(f"{v:.8f}" for v in p),
                    f"{it.lat:.8f}",
                    f"{it.lon:.8f}",
                    f"{it.alt:.6f}",
                    str(it.autocontinue),
                ]
            )
        )
    return "\n".join(rows) + "\n"


# ------------------------------------------------------------------------------------------
# flight record: what a client saw, and the checks made on it


@dataclass
class Sample:
    t: float  # wall time
    boot_ms: int
    lat: float
    lon: float
    rel_alt: float


@dataclass
class Record:
    """Everything a client observed from one vehicle; filled by :class:`MavClient` or the tests."""

    name: str
    sysid: int
    positions: list[Sample] = field(default_factory=list)
    modes: list[tuple[float, int, bool]] = field(
        default_factory=list
    )  # (t, custom_mode, armed) changes
    reached: list[int] = field(default_factory=list)
    texts: list[tuple[int, str]] = field(default_factory=list)
    foreign: Counter[tuple[int, str]] = field(default_factory=Counter)
    home: tuple[float, float] | None = None

    def note_heartbeat(self, custom_mode: int, base_mode: int) -> None:
        armed = bool(base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED)
        if not self.modes or self.modes[-1][1:] != (custom_mode, armed):
            self.modes.append((time.monotonic(), custom_mode, armed))

    @property
    def mode(self) -> int | None:
        return self.modes[-1][1] if self.modes else None

    @property
    def armed(self) -> bool | None:
        return self.modes[-1][2] if self.modes else None

    @property
    def pos(self) -> Sample | None:
        return self.positions[-1] if self.positions else None

    def closest(self, lat: float, lon: float, since: float = 0.0) -> float:
        ds = [dist_m(lat, lon, s.lat, s.lon) for s in self.positions if s.t >= since]
        return min(ds) if ds else math.inf

    def summary(self) -> str:
        p = self.pos
        where = f"{p.lat:.7f},{p.lon:.7f} alt {p.rel_alt:.1f}" if p else "no position"
        modes = [(m, a) for _, m, a in self.modes[-8:]]
        return (
            f"{self.name} sysid {self.sysid}: mode/armed history {modes}; last {where}; "
            f"reached {self.reached}; texts {self.texts[-6:]}; foreign {dict(self.foreign)}"
        )


def check_flight(
    rec: Record, plan: list[Item], since: float, waypoint_seqs: list[int]
) -> list[str]:
    """Flight checks shared by the clients: waypoints passed, back home, on the ground, disarmed."""
    problems = []
    assert rec.home is not None
    for seq in waypoint_seqs:
        it = plan[seq]
        d = rec.closest(it.lat, it.lon, since)
        if d > NEAR_WP:
            problems.append(f"never within {NEAR_WP} m of waypoint seq {seq} (closest {d:.1f} m)")
    p = rec.pos
    if p is None:
        return problems + ["no position at all"]
    d_home = dist_m(rec.home[0], rec.home[1], p.lat, p.lon)
    if d_home > NEAR_HOME:
        problems.append(f"landed {d_home:.1f} m from home")
    if p.rel_alt > ON_GROUND_ALT:
        problems.append(f"final relative altitude {p.rel_alt:.1f} m")
    if rec.armed:
        problems.append("still armed")
    far = max(
        (dist_m(rec.home[0], rec.home[1], s.lat, s.lon) for s in rec.positions if s.t >= since),
        default=0.0,
    )
    if far < LEG * 0.9:
        problems.append(f"never went further than {far:.0f} m from home")
    return problems


def off_route(rec: Record, plan: list[Item], since: float, tolerance: float = 25.0) -> list[Sample]:
    """Position samples farther than ``tolerance`` from the vehicle's own closed route."""
    assert rec.home is not None
    h = rec.home
    pts = (
        [(0.0, 0.0)]
        + [
            ne_of(h[0], h[1], it.lat, it.lon)
            for it in plan[2:]
            if it.command == mavlink.MAV_CMD_NAV_WAYPOINT
        ]
        + [(0.0, 0.0)]
    )
    bad = []
    for s in rec.positions:
        if s.t < since:
            continue
        p = ne_of(h[0], h[1], s.lat, s.lon)
        if min(dist_to_segment(p, a, b) for a, b in zip(pts, pts[1:], strict=False)) > tolerance:
            bad.append(s)
    return bad


# ------------------------------------------------------------------------------------------
# a small pymavlink ground station


class MavClient:
    """A plain pymavlink GCS on one link, talking to one vehicle as a hand-written script would.

    Every received message goes through :meth:`_observe`, which keeps the :class:`Record`; messages
    from any system other than the expected one are counted in ``record.foreign`` (crosstalk).
    ``passive=True`` makes an observer that never transmits (used behind MAVProxy's ``--out``).
    """

    def __init__(
        self, url: str, sysid: int, name: str, *, passive: bool = False, speedup: float = SPEEDUP
    ) -> None:
        kw: dict[str, Any] = {"source_system": GCS_SYSID, "source_component": GCS_COMPID}
        self.conn = mavutil.mavlink_connection(url, **kw)
        self.sysid = sysid
        self.passive = passive
        self.speedup = speedup
        self.rec = Record(name, sysid)
        self.acks: list[tuple[int, int]] = []
        self.statustext_ids: list[str] = []
        self.mission_msgs: list[Any] = []  # MISSION_* traffic addressed to us, in order
        self.home_position: tuple[float, float, float] | None = None
        self.mission_current: list[tuple[float, Any]] = []
        self._last_hb_sent = 0.0

    def close(self) -> None:
        self.conn.close()

    # -- receiving -----------------------------------------------------------------------

    def _observe(self, msg: Any) -> None:
        t = msg.get_type()
        if t == "BAD_DATA":
            return
        src = msg.get_srcSystem()
        if src != self.sysid:
            self.rec.foreign[(src, t)] += 1
            return
        rec = self.rec
        if t == "HEARTBEAT":
            if msg.get_srcComponent() == 1 and msg.type != mavlink.MAV_TYPE_GCS:
                rec.note_heartbeat(msg.custom_mode, msg.base_mode)
        elif t == "GLOBAL_POSITION_INT":
            if msg.lat != 0 or msg.lon != 0:  # 0/0 before a GPS fix means "no position"
                rec.positions.append(
                    Sample(
                        time.monotonic(),
                        msg.time_boot_ms,
                        msg.lat / 1e7,
                        msg.lon / 1e7,
                        msg.relative_alt / 1000.0,
                    )
                )
        elif t == "MISSION_ITEM_REACHED":
            rec.reached.append(msg.seq)
        elif t == "STATUSTEXT":
            rec.texts.append((msg.severity, msg.text))
        elif t == "COMMAND_ACK":
            self.acks.append((msg.command, msg.result))
        elif t == "MISSION_CURRENT":
            self.mission_current.append((time.monotonic(), msg))
        elif t == "HOME_POSITION":
            self.home_position = (msg.latitude / 1e7, msg.longitude / 1e7, msg.altitude / 1000.0)
        if t.startswith("MISSION_") and t != "MISSION_CURRENT" and t != "MISSION_ITEM_REACHED":
            self.mission_msgs.append(msg)

    def pump(self, timeout: float = 0.1) -> Any:
        """Receive (and observe) at most one message; also keeps our 1 Hz GCS heartbeat going."""
        now = time.monotonic()
        if not self.passive and now - self._last_hb_sent >= 1.0:
            self._last_hb_sent = now
            self.conn.mav.heartbeat_send(
                mavlink.MAV_TYPE_GCS, mavlink.MAV_AUTOPILOT_INVALID, 0, 0, 0
            )
        msg = self.conn.recv_match(blocking=True, timeout=timeout)
        if msg is not None:
            self._observe(msg)
        return msg

    def wait(self, pred: Callable[[], bool], vehicle_s: float, what: str) -> None:
        deadline = time.monotonic() + wall(vehicle_s, self.speedup)
        while not pred():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {self.rec.summary()}")
            self.pump(0.05)

    def wait_msg(
        self,
        types: set[str],
        vehicle_s: float,
        what: str,
        pred: Callable[[Any], bool] = lambda m: True,
    ) -> Any:
        deadline = time.monotonic() + wall(vehicle_s, self.speedup)
        while time.monotonic() < deadline:
            m = self.pump(0.05)
            if (
                m is not None
                and m.get_type() in types
                and m.get_srcSystem() == self.sysid
                and pred(m)
            ):
                return m
        raise AssertionError(f"timed out waiting for {what}: {self.rec.summary()}")

    def wait_heartbeat(self) -> None:
        self.wait(lambda: self.rec.mode is not None, 10 * self.speedup, "first autopilot HEARTBEAT")

    # -- sending -------------------------------------------------------------------------

    def command(self, cmd: int, *params: float, vehicle_s: float = 5.0) -> int:
        """COMMAND_LONG with up to 3 transmissions; returns COMMAND_ACK.result."""
        p = list(params) + [0.0] * (7 - len(params))
        for confirmation in range(3):
            start = len(self.acks)
            self.conn.mav.command_long_send(self.sysid, 1, cmd, confirmation, *p)
            deadline = time.monotonic() + max(1.0, wall(vehicle_s, self.speedup) / 3)
            while time.monotonic() < deadline:
                self.pump(0.05)
                for c, r in self.acks[start:]:
                    if c == cmd and r != mavlink.MAV_RESULT_IN_PROGRESS:
                        return r
        raise AssertionError(f"no COMMAND_ACK for command {cmd}: {self.rec.summary()}")

    def request_streams(self, all_hz: int = 4, position_hz: int = 10) -> None:
        """What MAVProxy/QGC do: REQUEST_DATA_STREAM(ALL), plus a faster POSITION stream."""
        for stream, hz in (
            (mavlink.MAV_DATA_STREAM_ALL, all_hz),
            (mavlink.MAV_DATA_STREAM_POSITION, position_hz),
        ):
            self.conn.mav.request_data_stream_send(self.sysid, 1, stream, hz, 1)

    def set_mode(self, mode: int) -> None:
        r = self.command(
            mavlink.MAV_CMD_DO_SET_MODE, mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, mode
        )
        assert r == mavlink.MAV_RESULT_ACCEPTED, (
            f"DO_SET_MODE {mode} -> result {r}: {self.rec.summary()}"
        )
        self.wait(lambda: self.rec.mode == mode, 5, f"HEARTBEAT custom_mode {mode}")

    def arm_with_retry(self, vehicle_s: float = 120.0) -> list[int]:
        """Arm like a GCS operator: retry on FAILED/TEMPORARILY_REJECTED every ~2 vehicle seconds.

        Returns the refused results seen before the accepted one.
        """
        refused = []
        deadline = time.monotonic() + wall(vehicle_s, self.speedup)
        while True:
            r = self.command(mavlink.MAV_CMD_COMPONENT_ARM_DISARM, 1)
            if r == mavlink.MAV_RESULT_ACCEPTED:
                break
            assert r in (mavlink.MAV_RESULT_FAILED, mavlink.MAV_RESULT_TEMPORARILY_REJECTED), (
                f"arm -> unexpected result {r}: {self.rec.summary()}"
            )
            refused.append(r)
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"vehicle never armable ({len(refused)} refusals): {self.rec.summary()}"
                )
            pause = time.monotonic() + 2.0 / self.speedup + 0.2
            while time.monotonic() < pause:
                self.pump(0.05)
        self.wait(lambda: self.rec.armed is True, 5, "HEARTBEAT armed")
        return refused

    def wait_position(self) -> Sample:
        self.wait(lambda: self.rec.pos is not None, 60, "a GLOBAL_POSITION_INT with a position")
        p = self.rec.pos
        assert p is not None
        return p

    # -- mission protocol ----------------------------------------------------------------

    def upload(self, items: list[Item], vehicle_s: float = 20.0) -> tuple[int, Counter[str]]:
        """MISSION_COUNT, then answer MISSION_REQUEST / MISSION_REQUEST_INT with MISSION_ITEM_INT.

        Returns (MISSION_ACK.type, how many of each request type the vehicle sent).
        """
        requests: Counter[str] = Counter()
        start = len(self.mission_msgs)
        self.conn.mav.mission_count_send(
            self.sysid, 1, len(items), mavlink.MAV_MISSION_TYPE_MISSION
        )
        t0 = time.monotonic()
        deadline = t0 + wall(vehicle_s, self.speedup)
        resent_count = 0
        while time.monotonic() < deadline:
            if len(self.mission_msgs) == start:
                # nothing yet: a real GCS re-sends MISSION_COUNT after a while
                if (
                    not requests
                    and time.monotonic() - t0 > 2.0 * (resent_count + 1)
                    and resent_count < 3
                ):
                    resent_count += 1
                    self.conn.mav.mission_count_send(
                        self.sysid, 1, len(items), mavlink.MAV_MISSION_TYPE_MISSION
                    )
                self.pump(0.05)
                continue
            m = self.mission_msgs[start]
            start += 1
            t = m.get_type()
            if t in ("MISSION_REQUEST", "MISSION_REQUEST_INT"):
                requests[t] += 1
                assert (m.target_system, m.target_component) == (GCS_SYSID, GCS_COMPID), (
                    f"{t} addressed to {m.target_system}/{m.target_component}, not to us"
                )
                assert 0 <= m.seq < len(items), f"{t} for seq {m.seq} of {len(items)}"
                it = items[m.seq]
                self.conn.mav.mission_item_int_send(
                    self.sysid,
                    1,
                    m.seq,
                    it.frame,
                    it.command,
                    1 if m.seq == 0 else 0,
                    it.autocontinue,
                    *it.params,
                    it.x,
                    it.y,
                    it.alt,
                    mavlink.MAV_MISSION_TYPE_MISSION,
                )
            elif t == "MISSION_ACK":
                return m.type, requests
        raise AssertionError(
            f"mission upload timed out after {dict(requests)}: {self.rec.summary()}"
        )

    def download(self, vehicle_s: float = 20.0) -> list[Received]:
        """MISSION_REQUEST_LIST, MISSION_REQUEST_INT per seq, MISSION_ACK: the vehicle's items."""
        self.conn.mav.mission_request_list_send(self.sysid, 1, mavlink.MAV_MISSION_TYPE_MISSION)
        cnt = self.wait_msg({"MISSION_COUNT"}, vehicle_s, "MISSION_COUNT")
        out = []
        for seq in range(cnt.count):
            for _attempt in range(3):
                self.conn.mav.mission_request_int_send(
                    self.sysid, 1, seq, mavlink.MAV_MISSION_TYPE_MISSION
                )

                def this_seq(m: Any, s: int = seq) -> bool:
                    return bool(m.seq == s)

                try:
                    m = self.wait_msg(
                        {"MISSION_ITEM_INT", "MISSION_ITEM"},
                        max(2.0, vehicle_s / 4),
                        f"mission item {seq}",
                        this_seq,
                    )
                    break
                except AssertionError:
                    continue
            else:
                raise AssertionError(f"mission item {seq} never arrived: {self.rec.summary()}")
            assert m.get_type() == "MISSION_ITEM_INT", (
                f"MISSION_REQUEST_INT answered with {m.get_type()}"
            )
            out.append(
                Received(
                    m.seq,
                    m.frame,
                    m.command,
                    m.autocontinue,
                    (m.param1, m.param2, m.param3, m.param4),
                    m.x,
                    m.y,
                    m.z,
                )
            )
        self.conn.mav.mission_ack_send(
            self.sysid, 1, mavlink.MAV_MISSION_ACCEPTED, mavlink.MAV_MISSION_TYPE_MISSION
        )
        return out
