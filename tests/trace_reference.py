"""Reference facts about a real ArduCopter, derived from the recorded SITL traces.

The traces (``shared/traces/*.jsonl.gz``, a sibling of the repository; see their README.md) are
MAVLink sessions with ArduPilot's own SITL. Everything here is computed from them at import of a
fact, not copied by hand, so the fidelity tests compare the simulator with what the real vehicle
did. Where a fact cannot be derived from the vehicle's side alone (the pymavlink and fence traces
record only what the vehicle sent), the function says which README statement it leans on.

Times: ``Msg.vt`` is vehicle time in seconds since boot, fitted per trace from the vehicle's own
clock fields (``time_boot_ms``, TIMESYNC ``ts1``), so the speedup-5 traces need no manual scaling.

When the traces directory is missing, :func:`missing_reason` says so and tests should skip.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _traces_dir() -> Path:
    """The shared recordings next to the repository when present (the ground truth), else the
    copy committed in tests/traces/ so that a clean clone in CI compares against the same data."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "traces"
    if (shared / "README.md").is_file():
        return shared
    return Path(__file__).resolve().parent / "traces"


TRACES_DIR = _traces_dir()

PYMAVLINK = "arducopter-pymavlink-session"
MAVSDK = "arducopter-mavsdk-session"
NO_RATES = "arducopter-mavsdk-no-rates"
FENCE = "arducopter-fence-modes-battery"
ADSB = "arducopter-patrol-adsb"
ALL_TRACES = (PYMAVLINK, MAVSDK, NO_RATES, FENCE, ADSB)

# MAVLink numbers used to read the traces (from the common dialect).
CMD_NAV_TAKEOFF = 22
CMD_DO_SET_MODE = 176
CMD_DO_REPOSITION = 192
CMD_MISSION_START = 300
CMD_ARM_DISARM = 400
CMD_SET_MESSAGE_INTERVAL = 511
CMD_REQUEST_MESSAGE = 512
ARMED_FLAG = 128
MODE_AUTO = 3

#: STATUSTEXTs that make up a mission's progress report (and the arming around it).
MISSION_TEXT = re.compile(
    r"^(Mission: \d+ \w+|Reached command #\d+|Arming motors|Disarming motors)$")
#: ArduPilot's low-battery report; checked against the fence trace by :func:`battery_failsafe`.
BATTERY_LOW_TEXT = re.compile(r"^Battery (\d+) is low (\d+\.\d\d)V used (\d+) mAh$")


def missing_reason() -> str | None:
    """``None`` if every trace is readable, else a reason suitable for ``pytest.skip``."""
    missing = [n for n in ALL_TRACES if not (TRACES_DIR / f"{n}.jsonl.gz").is_file()]
    if missing:
        return f"reference traces not found in {TRACES_DIR}: {', '.join(missing)}"
    return None


@dataclass(frozen=True)
class Msg:
    """One decoded message of a trace."""

    type: str
    wall: float  #: ``_t``: wall seconds since the session started
    vt: float  #: vehicle seconds since boot (fitted)
    rx: bool  #: sent by the vehicle
    fields: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]


class Trace:
    """One recorded session, with its wall clock mapped onto the vehicle's clock."""

    def __init__(self, name: str, raw: list[dict[str, Any]]) -> None:
        self.name = name
        anchors = _clock_anchors(raw)
        self.speedup, self._offset = _fit_line(anchors)
        self.messages = tuple(
            Msg(r["mavpackettype"], r["_t"], self._offset + self.speedup * r["_t"],
                r["_dir"] == "rx",
                {k: v for k, v in r.items() if k not in ("mavpackettype", "_t", "_dir", "_src")})
            for r in raw)

    def rx(self, *types: str) -> list[Msg]:
        """Messages the vehicle sent, of ``types`` (all if none given)."""
        return [m for m in self.messages if m.rx and (not types or m.type in types)]

    def tx(self, *types: str) -> list[Msg]:
        """Messages the ground station sent (recorded in the mavsdk traces only)."""
        return [m for m in self.messages if not m.rx and (not types or m.type in types)]

    def rx_types(self) -> frozenset[str]:
        return frozenset(m.type for m in self.messages if m.rx)

    def active_rate(self, type_: str, start: float = 0.0, end: float = math.inf) -> float:
        """Rate (Hz, vehicle time) of ``type_`` over the span it was sent within [start, end)."""
        times = [m.vt for m in self.rx(type_) if start <= m.vt < end]
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def texts(self) -> list[Msg]:
        return self.rx("STATUSTEXT")

    def first_text(self, text: str) -> Msg | None:
        return next((m for m in self.texts() if m["text"] == text), None)


def _clock_anchors(raw: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """(wall, vehicle) pairs from the vehicle's own clock fields."""
    pairs = [(r["_t"], r["time_boot_ms"] / 1000.0) for r in raw
             if r["_dir"] == "rx" and r["mavpackettype"] in ("SYSTEM_TIME", "ATTITUDE")]
    if not pairs:  # no telemetry at all: the vehicle's TIMESYNC requests carry its clock in ns
        pairs = [(r["_t"], r["ts1"] / 1e9) for r in raw
                 if r["_dir"] == "rx" and r["mavpackettype"] == "TIMESYNC" and r["tc1"] == 0]
    if len(pairs) < 2:
        raise ValueError("trace has no vehicle clock to fit")
    return pairs


def _fit_line(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares slope and intercept of vehicle time over wall time."""
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in pairs) / sum((x - mx) ** 2 for x in xs)
    return slope, my - slope * mx


@functools.cache
def load(name: str) -> Trace:
    """The trace ``name`` (one of :data:`ALL_TRACES`), parsed once per process."""
    with gzip.open(TRACES_DIR / f"{name}.jsonl.gz", "rt") as fh:
        raw = [json.loads(line) for line in fh]
    return Trace(name, raw)


@functools.cache
def readme_speedups() -> dict[str, float]:
    """The ``speedup`` column of the traces' README table, to cross-check the fitted clocks."""
    out = {}
    for line in (TRACES_DIR / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0] in ALL_TRACES:
            out[cells[0]] = float(cells[1])
    return out


# ---- identity ------------------------------------------------------------------------------------

@functools.cache
def heartbeat_constants() -> dict[str, int]:
    """HEARTBEAT fields that never change: type, autopilot, mavlink_version (one value each)."""
    out = {}
    for field in ("type", "autopilot", "mavlink_version"):
        values = {m[field] for n in ALL_TRACES for m in load(n).rx("HEARTBEAT")}
        if len(values) != 1:
            raise ValueError(f"HEARTBEAT.{field} varies in the traces: {values}")
        out[field] = values.pop()
    return out


@functools.cache
def autopilot_version() -> dict[str, Any]:
    """AUTOPILOT_VERSION as every trace received it (identical across traces)."""
    seen = {json.dumps(dict(m.fields), sort_keys=True)
            for n in ALL_TRACES for m in load(n).rx("AUTOPILOT_VERSION")}
    if len(seen) != 1:
        raise ValueError(f"AUTOPILOT_VERSION differs between traces: {seen}")
    return dict(json.loads(seen.pop()))


@functools.cache
def heartbeat_states() -> dict[tuple[bool, int, bool], tuple[int, int]]:
    """(armed, custom_mode, in_air) -> the dominant (base_mode, system_status) for that state.

    ``in_air`` is GLOBAL_POSITION_INT.relative_alt above 1 m at the time. Boot heartbeats
    (system_status 1) are left out; ties of a transient value with a steady one go to the steady
    (most frequent) value, so e.g. the armed-on-the-ground state maps to STANDBY.
    """
    counts: dict[tuple[bool, int, bool], Counter[tuple[int, int]]] = {}
    for name in ALL_TRACES:
        in_air = False
        for m in load(name).rx("GLOBAL_POSITION_INT", "HEARTBEAT"):
            if m.type == "GLOBAL_POSITION_INT":
                in_air = m["relative_alt"] > 1000
            elif m["system_status"] != 1:
                key = (bool(m["base_mode"] & ARMED_FLAG), m["custom_mode"], in_air)
                counts.setdefault(key, Counter())[(m["base_mode"], m["system_status"])] += 1
    return {k: c.most_common(1)[0][0] for k, c in counts.items()}


# ---- message sets and rates ----------------------------------------------------------------------

@functools.cache
def unsolicited_types() -> frozenset[str]:
    """Types a real vehicle sends to a client that requested no stream (the no-rates trace).

    That client (mavsdk) did request some messages; those are left out, except a requested type
    that arrived only once, long (> 2 vehicle s) after the last request: that one was sent because
    something happened (HOME_POSITION when home is set), not because it was asked for.
    """
    tr = load(NO_RATES)
    requested: dict[int, list[float]] = {}
    for m in tr.tx("COMMAND_LONG"):
        if m["command"] in (CMD_REQUEST_MESSAGE, CMD_SET_MESSAGE_INTERVAL):
            requested.setdefault(int(m["param1"]), []).append(m.vt)
    names = {_message_name(i): ts for i, ts in requested.items()}
    out = set()
    for t in tr.rx_types() - {"COMMAND_ACK"}:
        got = tr.rx(t)
        if t not in names or (len(got) == 1 and got[0].vt - max(names[t]) > 2.0):
            out.add(t)
    return frozenset(out)


def _message_name(msg_id: int) -> str:
    from pymavlink.dialects.v20 import ardupilotmega

    return str(ardupilotmega.mavlink_map[msg_id].msgname)


@functools.cache
def all_streams_types() -> frozenset[str]:
    """Every type the vehicle sent in the session that requested ALL streams (pymavlink trace)."""
    return load(PYMAVLINK).rx_types()


@functools.cache
def all_streams_rates() -> dict[str, float]:
    """Periodic types of the ALL-streams session and their rate (Hz, vehicle time).

    Periodic: at least 20 messages at 1 Hz or more, and not one of the unsolicited types.
    GLOBAL_POSITION_INT is measured before SET_MESSAGE_INTERVAL changed it.
    """
    tr = load(PYMAVLINK)
    interval_ack = _first_ack(tr, CMD_SET_MESSAGE_INTERVAL).vt
    out = {}
    for t in tr.rx_types() - unsolicited_types():
        if len(tr.rx(t)) < 20:
            continue
        end = interval_ack if t == "GLOBAL_POSITION_INT" else math.inf
        rate = tr.active_rate(t, 0.0, end)
        if rate >= 1.0:
            out[t] = rate
    return out


@functools.cache
def stream_rate_hz() -> float:
    """The rate REQUEST_DATA_STREAM(ALL) asked for, as the vehicle delivered it (median)."""
    return round(statistics.median(all_streams_rates().values()), 1)


@functools.cache
def message_interval_rate() -> tuple[str, float]:
    """(type, Hz) of the message SET_MESSAGE_INTERVAL re-timed in the pymavlink session."""
    tr = load(PYMAVLINK)
    after = _first_ack(tr, CMD_SET_MESSAGE_INTERVAL).vt + 1.0
    changed = {t: tr.active_rate(t, after) for t in all_streams_rates()}
    t, rate = max(changed.items(), key=lambda kv: kv[1])
    return t, round(rate, 1)


def _first_ack(tr: Trace, command: int) -> Msg:
    return next(m for m in tr.rx("COMMAND_ACK") if m["command"] == command)


# ---- texts ---------------------------------------------------------------------------------------

@functools.cache
def text_severities() -> dict[str, frozenset[int]]:
    """Every STATUSTEXT text seen in any trace -> the severities it came with."""
    out: dict[str, set[int]] = {}
    for n in ALL_TRACES:
        for m in load(n).texts():
            out.setdefault(m["text"], set()).add(m["severity"])
    return {k: frozenset(v) for k, v in out.items()}


def severity(text: str) -> int:
    """The one severity the real vehicle used for ``text``."""
    sev = text_severities()[text]
    if len(sev) != 1:
        raise ValueError(f"{text!r} came with several severities: {sorted(sev)}")
    return next(iter(sev))


# ---- commands ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ack:
    """A COMMAND_ACK and the vehicle's situation when it was sent."""

    trace: str
    vt: float
    command: int
    result: int
    armed: bool  #: armed before the command (from "Arming motors"/"Disarming motors")
    ekf_ready: bool  #: after "EKF3 IMU0 is using GPS"
    action: str  #: for ARM_DISARM: "arm", "disarm" or "refused" (from the texts that follow)
    texts: tuple[tuple[int, str], ...]  #: STATUSTEXTs sent in the same instant


@functools.cache
def command_acks() -> tuple[Ack, ...]:
    """Every COMMAND_ACK of every trace with its situation."""
    out = []
    for name in ALL_TRACES:
        msgs = load(name).rx()
        armed = ekf = False
        for i, m in enumerate(msgs):
            if m.type == "STATUSTEXT":
                armed = {"Arming motors": True, "Disarming motors": False}.get(m["text"], armed)
                ekf = ekf or m["text"] == "EKF3 IMU0 is using GPS"
            if m.type != "COMMAND_ACK":
                continue
            same = []  # texts in the same vehicle tick, up to the next COMMAND_ACK
            for n in msgs[i + 1:]:
                if n.type == "COMMAND_ACK" or n.vt - m.vt > 0.02:
                    break
                if n.type == "STATUSTEXT":
                    same.append((n["severity"], n["text"]))
            action = ""
            if m["command"] == CMD_ARM_DISARM:
                said = {t for _, t in same}
                action = ("arm" if "Arming motors" in said else
                          "disarm" if "Disarming motors" in said else "refused")
            out.append(Ack(name, m.vt, m["command"], m["result"], armed, ekf, action,
                           tuple(same)))
    return tuple(out)


def ack_results(command: int, **situation: Any) -> frozenset[int]:
    """Results the real vehicle gave ``command`` in acks matching ``situation`` (Ack fields)."""
    return frozenset(a.result for a in command_acks() if a.command == command
                     and all(getattr(a, k) == v for k, v in situation.items()))


@functools.cache
def arm_refusal_texts() -> frozenset[tuple[int, str]]:
    """(severity, text) pairs that accompanied refused arm attempts."""
    return frozenset(t for a in command_acks() if a.action == "refused" for t in a.texts)


@dataclass(frozen=True)
class Readiness:
    """When the real vehicle became armable (pymavlink trace, arm tried every ~2 s in GUIDED)."""

    using_gps: float  #: vt of "EKF3 IMU0 is using GPS" (mean over the traces that have it)
    last_refused: float  #: vt of the last refused arm
    first_accepted: float  #: vt of the first accepted arm
    need_position_from: float  #: vt of the first "Arm: Need Position Estimate"


@functools.cache
def readiness() -> Readiness:
    times = [m.vt for n in ALL_TRACES if (m := load(n).first_text("EKF3 IMU0 is using GPS"))]
    arms = [a for a in command_acks() if a.trace == PYMAVLINK and a.command == CMD_ARM_DISARM]
    need = next(a.vt for a in arms if (2, "Arm: Need Position Estimate") in a.texts)
    return Readiness(
        using_gps=statistics.fmean(times),
        last_refused=max(a.vt for a in arms if a.action == "refused"),
        first_accepted=min(a.vt for a in arms if a.action == "arm"),
        need_position_from=need,
    )


# ---- missions ------------------------------------------------------------------------------------

@functools.cache
def mission_acks() -> dict[str, tuple[tuple[int, int], ...]]:
    """Per trace, the vehicle's MISSION_ACKs in order as (mission_type, type)."""
    return {n: tuple((m["mission_type"], m["type"]) for m in load(n).rx("MISSION_ACK"))
            for n in ALL_TRACES}


@functools.cache
def upload_request_types() -> frozenset[str]:
    """Message types the vehicle used to ask for items during uploads (all traces)."""
    return frozenset(m.type for n in ALL_TRACES
                     for m in load(n).rx("MISSION_REQUEST", "MISSION_REQUEST_INT"))


@dataclass(frozen=True)
class Refusal:
    """The refused upload of the pymavlink session (README: latitude 95 degrees)."""

    ack_type: int
    requested_seqs: tuple[int, ...]  #: what the vehicle asked for before refusing


@functools.cache
def refused_upload() -> Refusal:
    msgs = load(PYMAVLINK).rx("MISSION_REQUEST", "MISSION_ACK")
    seqs: list[int] = []
    for m in msgs:
        if m.type == "MISSION_REQUEST":
            seqs = [*seqs, m["seq"]] if m["seq"] else [0]
        elif m["type"] != 0:
            return Refusal(m["type"], tuple(seqs))
    raise ValueError("no refused upload in the pymavlink trace")


@functools.cache
def mission_readback() -> tuple[dict[str, Any], ...]:
    """The MISSION_ITEM_INTs the pymavlink session read back (seq 0 is the vehicle's home)."""
    return tuple(dict(m.fields) for m in load(PYMAVLINK).rx("MISSION_ITEM_INT"))


@functools.cache
def home_position(name: str = PYMAVLINK) -> dict[str, Any]:
    """The first HOME_POSITION a trace received."""
    return dict(load(name).rx("HOME_POSITION")[0].fields)


@dataclass(frozen=True)
class MissionFlight:
    """The pymavlink session's mission flown in AUTO, from DO_SET_MODE AUTO to the disarm."""

    texts: tuple[str, ...]  #: STATUSTEXTs matching :data:`MISSION_TEXT`, in order
    text_severities: frozenset[int]
    reached: tuple[int, ...]  #: MISSION_ITEM_REACHED seqs, in order
    modes: frozenset[int]  #: HEARTBEAT.custom_mode values seen meanwhile
    duration: float  #: vehicle seconds from AUTO to the disarm
    current_total: int  #: MISSION_CURRENT.total while flying it
    current_before: tuple[int, int, int, int]  #: MISSION_CURRENT (seq, total, mission_state,
    #: mission_mode) with the mission loaded, before AUTO
    state_active: int  #: ... while flying it
    state_done: int  #: ... after the disarm
    landed_heartbeat: tuple[int, int, int]  #: (base_mode, custom_mode, system_status) after it
    current_seqs: tuple[int, ...]  #: MISSION_CURRENT.seq values in order (repeats dropped)
    target_rate: float  #: POSITION_TARGET_GLOBAL_INT Hz from "Mission: 2 WP" to the RTL item


@functools.cache
def mission_flight() -> MissionFlight:
    tr = load(PYMAVLINK)
    start = _first_ack(tr, CMD_MISSION_START).vt
    auto = max(a.vt for a in command_acks() if a.trace == PYMAVLINK
               and a.command == CMD_DO_SET_MODE and a.vt <= start)
    end = next(m.vt for m in tr.texts() if m.vt > start and m["text"] == "Disarming motors")
    during = [m for m in tr.rx() if auto <= m.vt <= end]
    texts = [m for m in during if m.type == "STATUSTEXT" and MISSION_TEXT.match(m["text"])]
    current = [m for m in during if m.type == "MISSION_CURRENT"]
    before = [m for m in tr.rx("MISSION_CURRENT") if m.vt < auto and m["total"] > 0]
    seqs = [m["seq"] for m in tr.rx("MISSION_CURRENT") if auto <= m.vt <= end + 3.0]
    seqs = [s for i, s in enumerate(seqs) if i == 0 or s != seqs[i - 1]]
    wp2 = next(m.vt for m in texts if m["text"] == "Mission: 2 WP")
    rtl = next(m.vt for m in texts if m["text"].endswith(" RTL"))
    after = [m for m in tr.rx("MISSION_CURRENT", "HEARTBEAT") if m.vt > end + 0.5]
    return MissionFlight(
        texts=tuple(m["text"] for m in texts),
        text_severities=frozenset(m["severity"] for m in texts),
        reached=tuple(m["seq"] for m in during if m.type == "MISSION_ITEM_REACHED"),
        modes=frozenset(m["custom_mode"] for m in during if m.type == "HEARTBEAT"),
        duration=end - auto,
        current_total=_only({m["total"] for m in current}),
        current_before=_only({(m["seq"], m["total"], m["mission_state"], m["mission_mode"])
                              for m in before}),
        state_active=Counter(m["mission_state"] for m in current).most_common(1)[0][0],
        state_done=_only({m["mission_state"] for m in after if m.type == "MISSION_CURRENT"}),
        landed_heartbeat=_only({(m["base_mode"], m["custom_mode"], m["system_status"])
                                for m in after if m.type == "HEARTBEAT"}),
        current_seqs=tuple(seqs[1:] if seqs[0] == 0 else seqs),
        target_rate=tr.active_rate("POSITION_TARGET_GLOBAL_INT", wp2, rtl),
    )


def _only(values: Iterable[Any]) -> Any:
    vs = set(values)
    if len(vs) != 1:
        raise ValueError(f"expected one value, got {vs}")
    return vs.pop()


# ---- fence and failsafe --------------------------------------------------------------------------

@dataclass(frozen=True)
class FenceUpload:
    """The fence upload of the fence trace and what followed it."""

    requested: tuple[tuple[str, int, int], ...]  #: (type, seq, mission_type) of item requests
    ack: tuple[int, int]  #: (mission_type, type)
    text: str
    text_severity: int
    params: tuple[tuple[str, float, int], ...]  #: PARAM_VALUE echoes of the FENCE_* sets
    status_after_enable: float  #: vehicle s from FENCE_ENABLE=1 to the first FENCE_STATUS
    reposition_results: tuple[int, ...]  #: DO_REPOSITION acks in order (README: inside, outside)


@functools.cache
def fence_upload() -> FenceUpload:
    tr = load(FENCE)
    reqs = [m for m in tr.rx("MISSION_REQUEST", "MISSION_REQUEST_INT") if m["mission_type"] == 1]
    rx = tr.rx()
    ack = next(m for m in rx if m.type == "MISSION_ACK" and m["mission_type"] == 1)
    text = next(m for m in rx[rx.index(ack):] if m.type == "STATUSTEXT")
    params = [m for m in tr.rx("PARAM_VALUE")
              if m["param_id"].startswith("FENCE_") and m["param_id"] != "FENCE_TOTAL"
              and m.vt <= ack.vt + 1.0]
    enable = next(m for m in params if m["param_id"] == "FENCE_ENABLE" and m["param_value"] == 1)
    status = next(m for m in tr.rx("FENCE_STATUS") if m.wall >= enable.wall)
    return FenceUpload(
        requested=tuple((m.type, m["seq"], m["mission_type"]) for m in reqs),
        ack=(ack["mission_type"], ack["type"]),
        text=text["text"],
        text_severity=text["severity"],
        params=tuple((m["param_id"], m["param_value"], m["param_type"]) for m in params),
        status_after_enable=status.vt - enable.vt,
        reposition_results=tuple(a.result for a in command_acks()
                                 if a.trace == FENCE and a.command == CMD_DO_REPOSITION),
    )


@dataclass(frozen=True)
class BatteryFailsafe:
    """The low-battery failsafe of the fence trace."""

    params: tuple[tuple[str, float, int], ...]  #: BATT_* PARAM_VALUE echoes (name, value, type)
    low_text: str
    low_severity: int
    failsafe_text: str
    failsafe_severity: int
    delay: float  #: vehicle s from the first SYS_STATUS below BATT_LOW_VOLT to the low text
    heartbeat_after: tuple[int, int, int]  #: (base_mode, custom_mode, system_status) after it


@functools.cache
def battery_failsafe() -> BatteryFailsafe:
    tr = load(FENCE)
    params = [m for m in tr.rx("PARAM_VALUE") if m["param_id"].startswith("BATT_")]
    low_volt = next(m["param_value"] for m in params if m["param_id"] == "BATT_LOW_VOLT")
    low = next(m for m in tr.texts() if BATTERY_LOW_TEXT.match(m["text"]))
    nxt = tr.texts()[tr.texts().index(low) + 1]
    set_at = max(m.vt for m in params)
    below = next(m for m in tr.rx("SYS_STATUS")
                 if m.vt > set_at and m["voltage_battery"] < low_volt * 1000)
    hb = next(m for m in tr.rx("HEARTBEAT") if m.vt > low.vt + 1.0)
    return BatteryFailsafe(
        params=tuple((m["param_id"], m["param_value"], m["param_type"]) for m in params),
        low_text=low["text"],
        low_severity=low["severity"],
        failsafe_text=nxt["text"],
        failsafe_severity=nxt["severity"],
        delay=low.vt - below.vt,
        heartbeat_after=(hb["base_mode"], hb["custom_mode"], hb["system_status"]),
    )


@functools.cache
def param_value(name: str) -> tuple[float, int]:
    """(value, param_type) of the first PARAM_VALUE for ``name`` in the pymavlink session."""
    m = next(m for m in load(PYMAVLINK).rx("PARAM_VALUE") if m["param_id"] == name)
    return m["param_value"], m["param_type"]


@functools.cache
def reposition_target() -> tuple[float, float, float]:
    """North/east metres from home and altitude above home of the accepted DO_REPOSITION
    (its POSITION_TARGET_GLOBAL_INT in the fence trace)."""
    tr = load(FENCE)
    ok = next(a for a in command_acks() if a.trace == FENCE and a.command == CMD_DO_REPOSITION
              and a.result == 0)
    tgt = next(m for m in tr.rx("POSITION_TARGET_GLOBAL_INT") if m.vt >= ok.vt)
    home = home_position(FENCE)
    north = (tgt["lat_int"] - home["latitude"]) * 1e-7 * math.pi / 180 * 6378137.0
    east = ((tgt["lon_int"] - home["longitude"]) * 1e-7 * math.pi / 180 * 6378137.0
            * math.cos(math.radians(home["latitude"] * 1e-7)))
    return north, east, tgt["alt"] - home["altitude"] / 1000.0


# ---- wording -------------------------------------------------------------------------------------

def text_pattern(text: str) -> str:
    """``text`` as a regex in which every number may be any number ("Mission: 3 WP" also
    matches "Mission: 7 WP")."""
    parts = re.split(r"(\d+(?:\.\d+)?)", text)
    return "".join(r"\d+(?:\.\d+)?" if i % 2 else re.escape(p) for i, p in enumerate(parts))


@functools.cache
def _text_patterns() -> tuple[tuple[re.Pattern[str], frozenset[int]], ...]:
    merged: dict[str, set[int]] = {}
    for text, sev in text_severities().items():
        merged.setdefault(text_pattern(text), set()).update(sev)
    return tuple((re.compile(p), frozenset(s)) for p, s in merged.items())


def known_text_severities(text: str) -> frozenset[int] | None:
    """Severities the real vehicle used for texts worded like ``text`` (numbers aside), or None
    if it never sent such a text."""
    for pattern, sev in _text_patterns():
        if pattern.fullmatch(text):
            return sev
    return None


# ---- more situations -----------------------------------------------------------------------------

@functools.cache
def ground_ready_fields() -> dict[str, frozenset[Any]]:
    """Field values streamed while disarmed on the ground with the EKF using GPS and no mission
    (fence trace, from "is using GPS" + 1 s to the first arm), keyed "TYPE.field"."""
    tr = load(FENCE)
    start = tr.first_text("EKF3 IMU0 is using GPS")
    assert start is not None
    arm = next(a.vt for a in command_acks() if a.trace == FENCE and a.action == "arm")
    window = [m for m in tr.rx() if start.vt + 1.0 <= m.vt < arm]
    wanted = {
        "GPS_RAW_INT": ("fix_type",),
        "EKF_STATUS_REPORT": ("flags",),
        "SYS_STATUS": ("voltage_battery", "battery_remaining"),
        "BATTERY_STATUS": ("battery_remaining",),
        "MISSION_CURRENT": ("seq", "total", "mission_state", "mission_mode"),
    }
    out: dict[str, set[Any]] = {}
    for m in window:
        for f in wanted.get(m.type, ()):
            out.setdefault(f"{m.type}.{f}", set()).add(m[f])
    return {k: frozenset(v) for k, v in out.items()}


@functools.cache
def ground_ready_stream_types() -> frozenset[str]:
    """Periodic types streamed in the same window (what ALL streams give on the ground)."""
    tr = load(FENCE)
    start = tr.first_text("EKF3 IMU0 is using GPS")
    assert start is not None
    arm = next(a.vt for a in command_acks() if a.trace == FENCE and a.action == "arm")
    got = Counter(m.type for m in tr.rx() if start.vt + 1.0 <= m.vt < arm)
    return frozenset(t for t in all_streams_rates() if got[t] >= 10)


@functools.cache
def sent_with_arming() -> frozenset[str]:
    """Non-periodic types the vehicle sent in the same instant as every accepted arm."""
    sets = []
    for name in (PYMAVLINK, FENCE, MAVSDK):
        rx = load(name).rx()
        for a in (a for a in command_acks() if a.trace == name and a.action == "arm"):
            sets.append({m.type for m in rx if a.vt <= m.vt <= a.vt + 0.02}
                        - set(all_streams_rates()) - {"COMMAND_ACK"})
    return frozenset(set.intersection(*sets))


@functools.cache
def home_set_time() -> float:
    """Mean vehicle time of the first (unrequested) HOME_POSITION: the moment home gets set."""
    return statistics.fmean(load(n).rx("HOME_POSITION")[0].vt for n in (PYMAVLINK, FENCE))


@functools.cache
def prearm_texts() -> tuple[tuple[float, int, str], ...]:
    """(vt, severity, text) of the periodic "PreArm: ..." reports (pymavlink trace, GUIDED)."""
    return tuple((m.vt, m["severity"], m["text"]) for m in load(PYMAVLINK).texts()
                 if m["text"].startswith("PreArm: "))


@functools.cache
def acked_commands(name: str = PYMAVLINK) -> frozenset[int]:
    """Command ids the vehicle sent a COMMAND_ACK for in a trace."""
    return frozenset(m["command"] for m in load(name).rx("COMMAND_ACK"))


@functools.cache
def loiter_descent() -> float:
    """m/s the real SITL sank in LOITER (fence trace): with no RC input its throttle stick sits
    low, so LOITER descends at the pilot's maximum rate until it lands. Measured 2 s to 10 s
    after the mode change, once the descent has settled."""
    tr = load(FENCE)
    start = next(m.vt for m in tr.rx("HEARTBEAT") if m["custom_mode"] == 5)

    def alt_at(t: float) -> float:
        return float(next(m["relative_alt"] for m in tr.rx("GLOBAL_POSITION_INT") if m.vt >= t))

    return (alt_at(start + 2.0) - alt_at(start + 10.0)) / 1000 / 8.0


@functools.cache
def landed_states() -> tuple[frozenset[int], tuple[int, ...]]:
    """EXTENDED_SYS_STATE over the mavsdk session's flight: (vtol_state values, landed_state
    sequence with repeats dropped), e.g. on ground, takeoff, in air, landing, on ground."""
    msgs = load(MAVSDK).rx("EXTENDED_SYS_STATE")
    states = [m["landed_state"] for m in msgs]
    return (frozenset(m["vtol_state"] for m in msgs),
            tuple(s for i, s in enumerate(states) if i == 0 or s != states[i - 1]))


@dataclass(frozen=True)
class AdsbFacts:
    """What ArduPilot's simulated ADS-B receiver (SIM_ADSB_COUNT 5) relayed, patrol-adsb trace."""

    constants: Mapping[str, frozenset[Any]]  #: fields with one value throughout
    per_aircraft_hz: float  #: median over aircraft with 20+ reports (vehicle time)
    max_hor_velocity_cms: int
    max_abs_ver_velocity_cms: int
    emitter_types: frozenset[int]
    max_icao: int
    callsign_is_sim_icao: bool
    point_obstacles_still: bool  #: emitter 19: speed, climb and heading all 0


@functools.cache
def adsb_facts() -> AdsbFacts:
    msgs = load(ADSB).rx("ADSB_VEHICLE")
    by: dict[int, list[Msg]] = {}
    for m in msgs:
        by.setdefault(int(m["ICAO_address"]), []).append(m)
    rates = []
    for reports in by.values():
        if len(reports) >= 20:
            span = reports[-1].vt - reports[0].vt
            rates.append((len(reports) - 1) / span)
    constants = {k: frozenset(m[k] for m in msgs)
                 for k in ("altitude_type", "tslc", "flags", "squawk")}
    assert all(len(v) == 1 for v in constants.values()), constants
    return AdsbFacts(
        constants=constants,
        per_aircraft_hz=statistics.median(rates),
        max_hor_velocity_cms=max(int(m["hor_velocity"]) for m in msgs),
        max_abs_ver_velocity_cms=max(abs(int(m["ver_velocity"])) for m in msgs),
        emitter_types=frozenset(int(m["emitter_type"]) for m in msgs),
        max_icao=max(by),
        callsign_is_sim_icao=all(m["callsign"] == f"SIM{m['ICAO_address']}" for m in msgs),
        point_obstacles_still=all(
            m["hor_velocity"] == 0 and m["ver_velocity"] == 0 and m["heading"] == 0
            for m in msgs if m["emitter_type"] == 19),
    )
