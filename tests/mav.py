"""Small pymavlink helpers for tests that talk to a vehicle the way a ground station does.

:class:`MavClient` is one MAVLink 2 link (system 245, component 190, like QGC/MAVSDK) to one
vehicle. It records every message it receives, so a test can wait for one message and still look at
everything that arrived meanwhile (STATUSTEXTs, HEARTBEATs, ...). Conventions callers may rely on:

- every ``timeout`` is in *wall* seconds; tests that run a simulator faster than real time convert
  vehicle seconds themselves;
- waits raise :class:`TimeoutError` whose message summarises what did arrive, never return ``None``;
- :attr:`MavClient.history` only grows; :meth:`MavClient.mark` returns an index into it, and the
  ``since`` arguments take such an index (``None`` means "from now on");
- :attr:`Received.vt` is the vehicle's own clock (seconds since boot) as last reported by any
  message with a ``time_boot_ms`` field, so it is only as fresh as the streams the test requested.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pymavlink import mavutil

GCS_SYSTEM = 245
GCS_COMPONENT = 190

#: ArduCopter flight-mode name -> HEARTBEAT.custom_mode.
COPTER_MODES: dict[str, int] = {name: num for num, name in mavutil.mode_mapping_acm.items()}

MAV_RESULT_ACCEPTED = 0
MAV_RESULT_IN_PROGRESS = 5
MAV_MODE_FLAG_SAFETY_ARMED = 128
MAV_MODE_FLAG_CUSTOM_MODE_ENABLED = 1
MAV_FRAME_GLOBAL = 0
MAV_FRAME_GLOBAL_RELATIVE_ALT = 3
MAV_FRAME_GLOBAL_RELATIVE_ALT_INT = 6
MISSION_TYPE_MISSION = 0
MISSION_TYPE_FENCE = 1

Predicate = Callable[[Any], bool]


def _mavlink() -> Any:
    """The dialect module pymavlink currently uses (MAVLink 2 once a client is connected)."""
    return mavutil.mavlink


def _mode_number(mode: str | int) -> int:
    return COPTER_MODES[mode] if isinstance(mode, str) else mode


def is_armed(heartbeat: Any) -> bool:
    """True when a HEARTBEAT has MAV_MODE_FLAG_SAFETY_ARMED set."""
    return bool(heartbeat.base_mode & MAV_MODE_FLAG_SAFETY_ARMED)


@dataclass(frozen=True)
class Received:
    """One message as the client received it."""

    wall: float  #: time.monotonic() when parsed
    vt: float | None  #: latest vehicle time (s since boot) known at that moment
    msg: Any  #: the pymavlink message

    @property
    def type(self) -> str:
        return str(self.msg.get_type())


@dataclass(frozen=True)
class CommandAck:
    """Result of a command: the COMMAND_ACK the vehicle sent for it."""

    command: int
    result: int
    msg: Any
    wall: float

    @property
    def accepted(self) -> bool:
        return self.result == MAV_RESULT_ACCEPTED


class MissionItem(NamedTuple):
    """A MISSION_ITEM_INT without its addressing: ``seq`` is the item's index in the list."""

    frame: int
    command: int
    current: int = 0
    autocontinue: int = 1
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    x: int = 0  #: latitude * 1e7 (or a local x / a count, as the command defines)
    y: int = 0  #: longitude * 1e7
    z: float = 0.0  #: altitude in the frame's sense, metres

    @classmethod
    def from_message(cls, m: Any) -> MissionItem:
        """The item carried by a MISSION_ITEM_INT message."""
        return cls(m.frame, m.command, m.current, m.autocontinue, m.param1, m.param2, m.param3,
                   m.param4, m.x, m.y, m.z)


@dataclass
class UploadResult:
    """What the vehicle did during a mission upload."""

    ack_type: int | None  #: MISSION_ACK.type, None if no ACK came before the timeout
    requests: list[tuple[str, int]] = field(default_factory=list)  #: (message type, seq), in order
    ack: Any = None

    @property
    def request_types(self) -> set[str]:
        return {kind for kind, _ in self.requests}


class MavClient:
    """A ground-station link to one vehicle; see the module docstring for the conventions."""

    def __init__(self, url: str, *, target_system: int = 1, target_component: int = 1,
                 source_system: int = GCS_SYSTEM, source_component: int = GCS_COMPONENT,
                 heartbeat_period: float | None = 1.0) -> None:
        """Connect to ``url`` (pymavlink form, e.g. ``tcp:127.0.0.1:5760``) speaking MAVLink 2.

        With ``heartbeat_period`` set, a GCS HEARTBEAT is sent that often while the client reads,
        as every real ground station does; ``None`` keeps the client silent.
        """
        # pymavlink picks the v1 or v2 dialect module from this variable when the dialect is set.
        os.environ["MAVLINK20"] = "1"
        self.conn = mavutil.mavlink_connection(
            url, source_system=source_system, source_component=source_component,
            dialect="ardupilotmega", retries=10)
        self.target_system = target_system
        self.target_component = target_component
        self.heartbeat_period = heartbeat_period
        self.history: list[Received] = []
        self.bad_data = 0
        self._vt: float | None = None
        self._last_heartbeat_sent = 0.0

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def mav(self) -> Any:
        """The pymavlink MAVLink object used for ``*_send`` calls."""
        return self.conn.mav

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> MavClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send_heartbeat(self) -> None:
        """Send one GCS HEARTBEAT (MAV_TYPE_GCS, MAV_AUTOPILOT_INVALID)."""
        ml = _mavlink()
        self.mav.heartbeat_send(ml.MAV_TYPE_GCS, ml.MAV_AUTOPILOT_INVALID, 0, 0, 0)
        self._last_heartbeat_sent = time.monotonic()

    def _maybe_heartbeat(self) -> None:
        if (self.heartbeat_period is not None
                and time.monotonic() - self._last_heartbeat_sent >= self.heartbeat_period):
            self.send_heartbeat()

    def pump(self, timeout: float) -> Received | None:
        """Receive at most one message, waiting up to ``timeout``; record and return it."""
        deadline = time.monotonic() + timeout
        while True:
            self._maybe_heartbeat()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            msg = self.conn.recv_match(blocking=True, timeout=min(remaining, 0.2))
            if msg is None:
                continue
            if msg.get_type() == "BAD_DATA":
                self.bad_data += 1
                continue
            boot_ms = getattr(msg, "time_boot_ms", None)
            if isinstance(boot_ms, int) and msg.get_srcSystem() == self.target_system:
                self._vt = boot_ms / 1000.0
            rec = Received(time.monotonic(), self._vt, msg)
            self.history.append(rec)
            return rec

    def mark(self) -> int:
        """An index into :attr:`history`: messages received from now on have this index or more."""
        return len(self.history)

    def vehicle_time(self) -> float | None:
        """The latest vehicle time (s since boot) any received message reported."""
        return self._vt

    def collect(self, duration: float) -> list[Received]:
        """Read everything for ``duration`` wall seconds; return what arrived."""
        start = self.mark()
        deadline = time.monotonic() + duration
        while (remaining := deadline - time.monotonic()) > 0:
            self.pump(remaining)
        return self.history[start:]

    def received(self, *types: str, since: int = 0) -> list[Any]:
        """Messages of ``types`` (all types if none) recorded at or after index ``since``."""
        return [r.msg for r in self.history[since:] if not types or r.type in types]

    def _find(self, types: Sequence[str], pred: Predicate | None, since: int | None,
              timeout: float) -> int:
        start = self.mark() if since is None else since
        deadline = time.monotonic() + timeout
        i = start
        while True:
            while i < len(self.history):
                r = self.history[i]
                if (r.type in types and r.msg.get_srcSystem() == self.target_system
                        and (pred is None or pred(r.msg))):
                    return i
                i += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = Counter(r.type for r in self.history[start:])
                raise TimeoutError(
                    f"no {'/'.join(types)} matching the condition within {timeout:.1f} s; "
                    f"received meanwhile: {dict(seen)}")
            self.pump(remaining)

    def wait(self, types: str | Iterable[str], pred: Predicate | None = None,
             timeout: float = 10.0, *, since: int | None = None) -> Any:
        """The first message of ``types`` from the vehicle satisfying ``pred``.

        Looks at messages recorded from index ``since`` (default: only new ones) and reads more
        until ``timeout`` wall seconds have passed, then raises :class:`TimeoutError`.
        """
        names = (types,) if isinstance(types, str) else tuple(types)
        return self.history[self._find(names, pred, since, timeout)].msg

    def wait_heartbeat(self, timeout: float = 10.0, pred: Predicate | None = None) -> Any:
        """The next HEARTBEAT from the vehicle (optionally one satisfying ``pred``)."""
        return self.wait("HEARTBEAT", pred, timeout)

    def wait_mode(self, mode: str | int, timeout: float = 10.0) -> Any:
        """Wait until a HEARTBEAT reports ``mode`` (name or custom_mode number); return it."""
        number = _mode_number(mode)
        return self.wait_heartbeat(timeout, lambda m: m.custom_mode == number)

    def wait_armed(self, armed: bool = True, timeout: float = 10.0) -> Any:
        """Wait until a HEARTBEAT reports the given armed state; return it."""
        return self.wait_heartbeat(timeout, lambda m: is_armed(m) == armed)

    # -- commands -------------------------------------------------------------------------------
    def _wait_ack(self, command: int, since: int, timeout: float) -> CommandAck:
        i = self._find(("COMMAND_ACK",),
                       lambda m: m.command == command and m.result != MAV_RESULT_IN_PROGRESS,
                       since, timeout)
        rec = self.history[i]
        return CommandAck(command, int(rec.msg.result), rec.msg, rec.wall)

    def command_long(self, command: int, *params: float, timeout: float = 5.0) -> CommandAck:
        """Send COMMAND_LONG with up to seven params and return its COMMAND_ACK."""
        p = [float(v) for v in params] + [0.0] * (7 - len(params))
        since = self.mark()
        self.mav.command_long_send(self.target_system, self.target_component, command, 0, *p)
        return self._wait_ack(command, since, timeout)

    def command_int(self, command: int, *, frame: int = MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
                    params: Sequence[float] = (0.0, 0.0, 0.0, 0.0), x: int = 0, y: int = 0,
                    z: float = 0.0, timeout: float = 5.0) -> CommandAck:
        """Send COMMAND_INT (param1..4, x/y as degE7, z) and return its COMMAND_ACK."""
        p = [float(v) for v in params] + [0.0] * (4 - len(params))
        since = self.mark()
        self.mav.command_int_send(self.target_system, self.target_component, frame, command,
                                  0, 0, *p, x, y, z)
        return self._wait_ack(command, since, timeout)

    def request_data_stream(self, rate_hz: int, stream_id: int | None = None) -> None:
        """REQUEST_DATA_STREAM (default MAV_DATA_STREAM_ALL); ArduPilot sends no ACK for it."""
        sid = _mavlink().MAV_DATA_STREAM_ALL if stream_id is None else stream_id
        self.mav.request_data_stream_send(self.target_system, self.target_component, sid,
                                          rate_hz, 1 if rate_hz > 0 else 0)

    def set_message_interval(self, message_id: int, rate_hz: float,
                             timeout: float = 5.0) -> CommandAck:
        """MAV_CMD_SET_MESSAGE_INTERVAL; ``rate_hz`` 0 stops the message, negative restores the
        default rate (interval -1 and 0 in MAVLink terms)."""
        interval = 1e6 / rate_hz if rate_hz > 0 else (-1.0 if rate_hz == 0 else 0.0)
        return self.command_long(_mavlink().MAV_CMD_SET_MESSAGE_INTERVAL, message_id, interval,
                                 timeout=timeout)

    def request_message(self, message_id: int, timeout: float = 5.0) -> CommandAck:
        """MAV_CMD_REQUEST_MESSAGE for one message id."""
        return self.command_long(_mavlink().MAV_CMD_REQUEST_MESSAGE, message_id, timeout=timeout)

    def set_mode(self, mode: str | int, timeout: float = 5.0) -> CommandAck:
        """Change the ArduCopter mode (name or number) with MAV_CMD_DO_SET_MODE; its ACK."""
        return self.command_long(_mavlink().MAV_CMD_DO_SET_MODE,
                                 MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, _mode_number(mode),
                                 timeout=timeout)

    def send_set_mode(self, mode: str | int) -> None:
        """Change the mode with the legacy SET_MODE message, which gets no ACK: confirm it with
        :meth:`wait_mode`."""
        self.mav.set_mode_send(self.target_system, MAV_MODE_FLAG_CUSTOM_MODE_ENABLED,
                               _mode_number(mode))

    def arm(self, timeout: float = 5.0) -> CommandAck:
        """MAV_CMD_COMPONENT_ARM_DISARM(1)."""
        return self.command_long(_mavlink().MAV_CMD_COMPONENT_ARM_DISARM, 1, timeout=timeout)

    def disarm(self, timeout: float = 5.0) -> CommandAck:
        """MAV_CMD_COMPONENT_ARM_DISARM(0)."""
        return self.command_long(_mavlink().MAV_CMD_COMPONENT_ARM_DISARM, 0, timeout=timeout)

    def takeoff(self, altitude_m: float, timeout: float = 5.0) -> CommandAck:
        """MAV_CMD_NAV_TAKEOFF to ``altitude_m`` above home (param7)."""
        return self.command_long(_mavlink().MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, altitude_m,
                                 timeout=timeout)

    # -- parameters -----------------------------------------------------------------------------
    def param_set(self, name: str, value: float, param_type: int, timeout: float = 5.0) -> Any:
        """PARAM_SET and return the vehicle's PARAM_VALUE echo."""
        since = self.mark()
        self.mav.param_set_send(self.target_system, self.target_component, name.encode(),
                                float(value), param_type)
        return self.wait("PARAM_VALUE", lambda m: m.param_id == name, timeout, since=since)

    def param_get(self, name: str, timeout: float = 3.0) -> Any | None:
        """PARAM_REQUEST_READ by name; the PARAM_VALUE, or None if the vehicle stays silent."""
        since = self.mark()
        self.mav.param_request_read_send(self.target_system, self.target_component,
                                         name.encode(), -1)
        try:
            return self.wait("PARAM_VALUE", lambda m: m.param_id == name, timeout, since=since)
        except TimeoutError:
            return None

    # -- missions -------------------------------------------------------------------------------
    def upload_mission(self, items: Sequence[MissionItem], mission_type: int = 0,
                       timeout: float = 10.0) -> UploadResult:
        """Upload ``items`` (seq = index) with MISSION_ITEM_INT, answering whichever of
        MISSION_REQUEST / MISSION_REQUEST_INT the vehicle sends, until its MISSION_ACK."""
        result = UploadResult(ack_type=None)
        types = ("MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK")
        cursor = self.mark()
        self.mav.mission_count_send(self.target_system, self.target_component, len(items),
                                    mission_type)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                i = self._find(types, lambda m: m.mission_type == mission_type, cursor,
                               max(remaining, 0.0))
            except TimeoutError:
                return result
            cursor = i + 1
            m = self.history[i].msg
            if m.get_type() == "MISSION_ACK":
                result.ack_type, result.ack = int(m.type), m
                return result
            result.requests.append((m.get_type(), int(m.seq)))
            if 0 <= m.seq < len(items):
                it = items[m.seq]
                self.mav.mission_item_int_send(
                    self.target_system, self.target_component, m.seq, it.frame, it.command,
                    it.current, it.autocontinue, it.param1, it.param2, it.param3, it.param4,
                    it.x, it.y, it.z, mission_type)

    def download_mission(self, mission_type: int = 0, timeout: float = 10.0) -> list[Any]:
        """Read the vehicle's mission back with MISSION_REQUEST_INT; the MISSION_ITEM_INTs."""
        since = self.mark()
        self.mav.mission_request_list_send(self.target_system, self.target_component,
                                           mission_type)
        count = self.wait("MISSION_COUNT", lambda m: m.mission_type == mission_type, timeout,
                          since=since).count
        items = []
        for seq in range(count):
            since = self.mark()
            self.mav.mission_request_int_send(self.target_system, self.target_component, seq,
                                              mission_type)

            def is_item(m: Any, seq: int = seq) -> bool:
                return bool(m.seq == seq and m.mission_type == mission_type)

            items.append(self.wait("MISSION_ITEM_INT", is_item, timeout, since=since))
        self.mav.mission_ack_send(self.target_system, self.target_component, 0, mission_type)
        return items


def connect(url: str, *, target_system: int = 1, timeout: float = 10.0) -> MavClient:
    """Open a :class:`MavClient` and wait for the vehicle's first HEARTBEAT."""
    client = MavClient(url, target_system=target_system)
    try:
        client.wait_heartbeat(timeout)
    except BaseException:
        client.close()
        raise
    return client
