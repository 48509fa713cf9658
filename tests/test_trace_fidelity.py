"""Does our simulator behave like the real ArduCopter SITL recorded in shared/traces?

Each test starts a simulated fleet (``sim_fleet``), drives it with plain pymavlink the way the
traces' ground stations did, and compares what comes back with facts derived from the traces by
:mod:`trace_reference`. These tests exist to catch the simulator drifting from ArduCopter, so the
comparisons are exact wherever the real vehicle was exact; a failure names the trace fact.

Real-trace messages the simulator deliberately does not send are listed in
:data:`DELIBERATELY_OMITTED`; anything else the real vehicle streamed must be there.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from pymavlink import mavutil

import trace_reference as ref
from mav import (
    COPTER_MODES,
    MAV_FRAME_GLOBAL,
    MISSION_TYPE_FENCE,
    MavClient,
    MissionItem,
    UploadResult,
    is_armed,
)
from sitl_fleet import SitlFleet

_MISSING = ref.missing_reason()
pytestmark = [
    pytest.mark.skipif(_MISSING is not None, reason=_MISSING or ""),
    pytest.mark.timeout(120),
]

SPEEDUP = 10.0
EKF_DELAY = 2.0  # vehicle seconds; tests that are not about readiness skip most of the warm-up
RATE_TOLERANCE = 0.15  # relative, on message rates measured over >= 10 vehicle seconds
# vehicle seconds, on readiness timing: the real vehicle's readiness is only known to lie between
# a refused and an accepted arm 2 s apart (40.3 s and 42.3 s in the pymavlink trace)
READY_TOLERANCE = 2.0

#: Message types the issue requires once REQUEST_DATA_STREAM(ALL) was sent.
CORE_STREAMS = frozenset({
    "GLOBAL_POSITION_INT", "GPS_RAW_INT", "ATTITUDE", "VFR_HUD", "SYS_STATUS", "BATTERY_STATUS",
    "EKF_STATUS_REPORT", "MISSION_CURRENT", "SYSTEM_TIME",
})

#: Streamed by the real SITL after REQUEST_DATA_STREAM(ALL) but deliberately not simulated: the
#: second and third IMU and second barometer, SITL's own SIMSTATE, and terrain (TERRAIN_REPORT at
#: 4 Hz, TERRAIN_REQUEST at 0.5 Hz: the simulator has no terrain database). Nothing in Nazorat or
#: the clients it supports reads them. Everything else the real vehicle streamed must be streamed.
DELIBERATELY_OMITTED = frozenset({
    "SCALED_IMU2", "SCALED_IMU3", "SCALED_PRESSURE2", "SIMSTATE", "TERRAIN_REPORT",
    "TERRAIN_REQUEST",
})

ml = mavutil.mavlink
MSG_ID = {"AUTOPILOT_VERSION": 148, "HOME_POSITION": 242, "GLOBAL_POSITION_INT": 33,
          "EXTENDED_SYS_STATE": 245}


# ---- helpers -------------------------------------------------------------------------------------

def wall(vehicle_s: float, speedup: float = SPEEDUP) -> float:
    """Wall seconds to allow for ``vehicle_s`` of vehicle time, with slack for a busy machine."""
    return vehicle_s / speedup * 1.5 + 3.0


@pytest.fixture
def clients() -> Iterator[list[MavClient]]:
    """Closes every MavClient a test appends."""
    opened: list[MavClient] = []
    yield opened
    for c in opened:
        c.close()


def link(fleet: SitlFleet, clients: list[MavClient], i: int = 0, *,
         streams: bool = True) -> MavClient:
    """Connect to vehicle ``i`` as GCS 245/190, wait for its HEARTBEAT, request ALL at 4 Hz."""
    c = MavClient(fleet.url(i), target_system=fleet.sysid(i))
    clients.append(c)
    c.wait_heartbeat(10.0)
    if streams:
        c.request_data_stream(int(ref.stream_rate_hz()))
        c.wait("SYSTEM_TIME", timeout=wall(2.0, fleet.speedup))
    return c


def vt(c: MavClient) -> float:
    t = c.vehicle_time()
    assert t is not None, "no time_boot_ms received yet (SYSTEM_TIME not streamed?)"
    return t


def advance(c: MavClient, vehicle_s: float, speedup: float = SPEEDUP) -> None:
    """Read everything until the vehicle clock (SYSTEM_TIME) has advanced ``vehicle_s``."""
    target = (vt(c) + vehicle_s) * 1000
    c.wait("SYSTEM_TIME", lambda m: m.time_boot_ms >= target, wall(vehicle_s, speedup))


def wait_vehicle_time(c: MavClient, t: float, speedup: float = SPEEDUP) -> None:
    """Read everything until the vehicle clock reads at least ``t`` seconds since boot."""
    c.wait("SYSTEM_TIME", lambda m: m.time_boot_ms >= t * 1000,
           wall(max(t - vt(c), 0.0) + 1.0, speedup))


def hb_state(armed: bool, mode: int, in_air: bool) -> tuple[int, int, int]:
    """Reference (base_mode, custom_mode, system_status) for a vehicle state."""
    base_mode, status = ref.heartbeat_states()[(armed, mode, in_air)]
    return base_mode, mode, status


def hb_tuple(m: Any) -> tuple[int, int, int]:
    return m.base_mode, m.custom_mode, m.system_status


def check_heartbeat(c: MavClient, armed: bool, mode: int, in_air: bool, what: str,
                    speedup: float = SPEEDUP) -> None:
    """The next-but-one HEARTBEAT (the first may predate the change) matches the trace."""
    want = hb_state(armed, mode, in_air)
    c.wait_heartbeat(wall(1.5, speedup))
    hb = c.wait_heartbeat(wall(1.5, speedup))
    const = {f: getattr(hb, f) for f in ref.heartbeat_constants()}
    assert const == ref.heartbeat_constants(), f"HEARTBEAT constants {what}"
    assert hb_tuple(hb) == want, (
        f"HEARTBEAT (base_mode, custom_mode, system_status) {what}: sim {hb_tuple(hb)}, "
        f"real ArduCopter {want}")


def texts_since(c: MavClient, since: int) -> list[tuple[int, str]]:
    return [(m.severity, m.text) for m in c.received("STATUSTEXT", since=since)]


def assert_known_texts(c: MavClient) -> None:
    """Every STATUSTEXT the sim sent is worded like one the real vehicle sent, same severity."""
    bad = []
    for sev, text in sorted(set(texts_since(c, 0))):
        known = ref.known_text_severities(text)
        if known is None or sev not in known:
            bad.append(f"{sev} {text!r} (real: {sorted(known) if known else 'never sent'})")
    assert not bad, "STATUSTEXTs unlike any in the real traces:\n  " + "\n  ".join(bad)


def rates(c: MavClient, since: int) -> dict[str, float]:
    """Per-type rate (Hz, vehicle time) of messages received from history index ``since``."""
    recs = [r for r in c.history[since:] if r.vt is not None]
    times = [r.msg.time_boot_ms / 1000 for r in recs if r.type == "SYSTEM_TIME"]
    span = times[-1] - times[0]
    assert span > 0
    inside = [r for r in recs if times[0] <= (r.vt or 0) < times[-1]]
    return {t: n / span for t, n in Counter(r.type for r in inside).items()}


def home(c: MavClient) -> Any:
    """The vehicle's HOME_POSITION, asked for with REQUEST_MESSAGE."""
    since = c.mark()
    ack = c.request_message(MSG_ID["HOME_POSITION"])
    assert ack.result in ref.ack_results(ref.CMD_REQUEST_MESSAGE)
    return c.wait("HOME_POSITION", timeout=5.0, since=since)


def trace_mission(h: Any) -> list[MissionItem]:
    """The pymavlink trace's mission (its read-back), moved to home ``h``; seq 0 a placeholder."""
    ref_home = ref.home_position()
    dlat, dlon = h.latitude - ref_home["latitude"], h.longitude - ref_home["longitude"]
    items = []
    for d in ref.mission_readback():
        x, y = (d["x"] + dlat, d["y"] + dlon) if d["x"] else (0, 0)
        items.append(MissionItem(d["frame"], d["command"], 0, d["autocontinue"], d["param1"],
                                 d["param2"], d["param3"], d["param4"], x, y, d["z"]))
    items[0] = items[0]._replace(z=0.0)  # the vehicle must put the real home altitude here
    return items


def first_requests(up: UploadResult) -> list[int]:
    """Requested seqs in order, without the re-requests ArduPilot sends after 1 s of silence
    (at speedup 10 that is 0.1 s of wall time, so they happen here and did not in the traces)."""
    return list(dict.fromkeys(s for _, s in up.requests))


def ne_metres(lat0: int, lon0: int, lat: int, lon: int) -> tuple[float, float]:
    north = math.radians((lat - lat0) * 1e-7) * 6378137.0
    east = math.radians((lon - lon0) * 1e-7) * 6378137.0 * math.cos(math.radians(lat0 * 1e-7))
    return north, east


def offset(lat0: int, lon0: int, north: float, east: float) -> tuple[int, int]:
    dlat = math.degrees(north / 6378137.0)
    dlon = math.degrees(east / (6378137.0 * math.cos(math.radians(lat0 * 1e-7))))
    return lat0 + round(dlat * 1e7), lon0 + round(dlon * 1e7)


def fly_to_altitude(c: MavClient, alt: float, speedup: float = SPEEDUP) -> None:
    """GUIDED, arm, NAV_TAKEOFF to ``alt`` m and wait until 95 % of it is reached."""
    assert c.set_mode("GUIDED").result in ref.ack_results(ref.CMD_DO_SET_MODE)
    ack = c.arm()
    assert ack.result in ref.ack_results(ref.CMD_ARM_DISARM, action="arm"), (
        f"arm after the EKF warm-up: result {ack.result}, texts {texts_since(c, 0)[-3:]}")
    assert c.takeoff(alt).result in ref.ack_results(ref.CMD_NAV_TAKEOFF, armed=True)
    c.wait("GLOBAL_POSITION_INT", lambda m: m.relative_alt >= alt * 950,
           wall(alt / 2.5 * 2 + 5, speedup))


# ---- the reference itself ------------------------------------------------------------------------

def test_reference_clocks_match_readme() -> None:
    """The fitted vehicle clocks reproduce the README's speedups (so derived rates are sound)."""
    for name, speedup in ref.readme_speedups().items():
        assert ref.load(name).speedup == pytest.approx(speedup, rel=0.02), name
    assert set(ref.all_streams_rates()) >= CORE_STREAMS
    assert ref.stream_rate_hz() == 4.0


# ---- (a) nothing streamed before a request ------------------------------------------------------

def test_only_unsolicited_messages_before_any_stream_request(sim_fleet: Any,
                                                             clients: list[MavClient]) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF_DELAY)
    c = link(fleet, clients, streams=False)
    got = c.collect(30.0 / SPEEDUP)  # 30 vehicle seconds: boot texts, home set, EKF ready
    types = Counter(r.type for r in got)
    extra = set(types) - ref.unsolicited_types()
    assert not extra, (
        f"sent before any stream was requested: {sorted(extra)}; the real vehicle sends only "
        f"{sorted(ref.unsolicited_types())} ({ref.NO_RATES})")
    hbs = [r for r in got if r.type == "HEARTBEAT"]
    hz = (len(hbs) - 1) / ((hbs[-1].wall - hbs[0].wall) * SPEEDUP)
    assert hz == pytest.approx(ref.load(ref.NO_RATES).active_rate("HEARTBEAT"), rel=0.25)
    last = hbs[-1].msg
    assert {f: getattr(last, f) for f in ref.heartbeat_constants()} == ref.heartbeat_constants()
    assert hb_tuple(last) == hb_state(False, COPTER_MODES["STABILIZE"], False)
    assert c.bad_data == 0
    assert_known_texts(c)


# ---- (b) requested streams and rates ------------------------------------------------------------

def test_request_data_stream_all_and_message_interval(sim_fleet: Any,
                                                      clients: list[MavClient]) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF_DELAY)
    c = link(fleet, clients)
    wait_vehicle_time(c, EKF_DELAY + 3.0)  # LOCAL_POSITION_NED/WIND start with the GPS fusion
    start = c.mark()
    advance(c, 20.0)
    measured = rates(c, start)
    streamed = {t for t, hz in measured.items() if hz >= 1.0} - ref.unsolicited_types()

    foreign = streamed - ref.all_streams_types()
    assert not foreign, (
        f"streamed after REQUEST_DATA_STREAM(ALL): {sorted(foreign)}, which the real vehicle "
        f"never sent in the same session ({ref.PYMAVLINK})")
    assert streamed >= CORE_STREAMS, f"core streams missing: {sorted(CORE_STREAMS - streamed)}"
    dropped = ref.ground_ready_stream_types() - streamed - DELIBERATELY_OMITTED
    assert not dropped, f"real vehicle streams {sorted(dropped)} on the ground; sim does not"
    off = {t: round(measured[t], 2) for t in streamed & set(ref.all_streams_rates())
           if measured[t] != pytest.approx(ref.all_streams_rates()[t], rel=RATE_TOLERANCE)}
    assert not off, f"rates (Hz, vehicle time) off the real {ref.stream_rate_hz()} Hz: {off}"

    # field values at rest (disarmed, EKF using GPS, no mission) as the real vehicle streams them
    fields = ref.ground_ready_fields()
    diffs = {}
    for key, values in fields.items():
        mtype, field = key.split(".")
        seen = {getattr(m, field) for m in c.received(mtype, since=start)}
        if not seen <= values:
            diffs[key] = (sorted(seen), sorted(values))
    assert not diffs, f"field values at rest, (sim, real): {diffs}"

    # SET_MESSAGE_INTERVAL re-times one message and leaves the others alone
    mtype, hz = ref.message_interval_rate()
    ack = c.set_message_interval(MSG_ID[mtype], hz)
    assert ack.result in ref.ack_results(ref.CMD_SET_MESSAGE_INTERVAL)
    advance(c, 1.0)
    start = c.mark()
    advance(c, 10.0)
    after = rates(c, start)
    assert after.get(mtype, 0) == pytest.approx(hz, rel=RATE_TOLERANCE), mtype
    assert after["ATTITUDE"] == pytest.approx(ref.stream_rate_hz(), rel=RATE_TOLERANCE)
    assert c.bad_data == 0
    assert_known_texts(c)


# ---- (c) + (d) heartbeats per state and command results -----------------------------------------

def test_command_acks_and_heartbeat_states(sim_fleet: Any, clients: list[MavClient]) -> None:
    # default-length warm-up so that "before the EKF is ready" lasts; skipped later via control
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=40.0)
    c = link(fleet, clients)
    stabilize, guided = COPTER_MODES["STABILIZE"], COPTER_MODES["GUIDED"]
    check_heartbeat(c, False, stabilize, False, "disarmed in STABILIZE")

    since = c.mark()
    ack = c.request_message(MSG_ID["AUTOPILOT_VERSION"])
    assert ack.result in ref.ack_results(ref.CMD_REQUEST_MESSAGE)
    av = c.wait("AUTOPILOT_VERSION", timeout=5.0, since=since)
    real = ref.autopilot_version()
    assert av.capabilities == real["capabilities"], (
        f"AUTOPILOT_VERSION.capabilities sim {av.capabilities:#x}, real {real['capabilities']:#x}")
    assert av.flight_sw_version >> 16 == real["flight_sw_version"] >> 16, "firmware major.minor"

    ack = c.set_message_interval(MSG_ID["GLOBAL_POSITION_INT"], 10.0)
    assert ack.result in ref.ack_results(ref.CMD_SET_MESSAGE_INTERVAL)
    for command in (ml.MAV_CMD_DO_SET_ROI_NONE, 31999):  # what the pymavlink session tried
        ack = c.command_long(command)
        assert ack.result in ref.ack_results(command), f"COMMAND_ACK for {command}"

    # SET_MODE (the message): the real vehicle switches and sends no COMMAND_ACK for it
    since = c.mark()
    c.send_set_mode("GUIDED")
    c.wait_mode("GUIDED", wall(2.0))
    check_heartbeat(c, False, guided, False, "disarmed in GUIDED")
    assert ml.MAVLINK_MSG_ID_SET_MODE not in ref.acked_commands()
    assert not [m for m in c.received("COMMAND_ACK", since=since)
                if m.command == ml.MAVLINK_MSG_ID_SET_MODE], "COMMAND_ACK for a SET_MODE message"

    since = c.mark()
    ack = c.arm()
    assert ack.result in ref.ack_results(ref.CMD_ARM_DISARM, ekf_ready=False), "arm before ready"
    advance(c, 0.5)
    said = set(texts_since(c, since))
    assert said & ref.arm_refusal_texts(), (
        f"refused arm: sim said {sorted(said)}, real says one of {sorted(ref.arm_refusal_texts())}")
    ack = c.takeoff(10.0)
    assert ack.result in ref.ack_results(ref.CMD_NAV_TAKEOFF, armed=False), "takeoff disarmed"

    name = "WPNAV_SPEED"
    pv = c.param_get(name)
    assert pv is not None, f"no PARAM_VALUE for {name}"
    assert (pv.param_value, pv.param_type) == ref.param_value(name)
    # the pymavlink session's read of a missing parameter got no reply at all
    assert c.param_get("NO_SUCH_PARAM", timeout=wall(2.0)) is None

    fleet.control("ekf_ready", vehicle=0)
    advance(c, 2.0)
    since = c.mark()
    ack = c.arm()
    assert ack.result in ref.ack_results(ref.CMD_ARM_DISARM, action="arm"), (
        f"arm when ready: {ack.result}, texts {texts_since(c, since)}")
    advance(c, 0.5)
    with_arm = {r.type for r in c.history[since:]} & (ref.sent_with_arming() | {"STATUSTEXT"})
    assert with_arm == set(ref.sent_with_arming()), "what comes with an accepted arm"
    assert (ref.severity("Arming motors"), "Arming motors") in texts_since(c, since)
    check_heartbeat(c, True, guided, False, "armed on the ground in GUIDED")

    # high enough that LOITER's no-RC sink (2.5 m/s, see the fence test) leaves it airborne, and
    # that RTL's descent (5 s over home, then 1.5 m/s) outlasts a test process starved for a few
    # seconds on a loaded machine: from 20 m the sim had landed before its RTL heartbeat was read
    assert c.takeoff(40.0).result in ref.ack_results(ref.CMD_NAV_TAKEOFF, armed=True)
    c.wait("GLOBAL_POSITION_INT", lambda m: m.relative_alt > 35000, wall(25.0))
    check_heartbeat(c, True, guided, True, "flying in GUIDED")
    for mode in ("BRAKE", "LOITER", "RTL"):
        assert c.set_mode(mode).result in ref.ack_results(ref.CMD_DO_SET_MODE), mode
        c.wait_mode(mode, wall(2.0))
        check_heartbeat(c, True, COPTER_MODES[mode], True, f"flying in {mode}")
        if mode != "RTL":
            advance(c, 1.0)
    since = c.mark()
    c.wait_armed(False, wall(90.0))
    assert (ref.severity("Disarming motors"), "Disarming motors") in texts_since(c, since)
    check_heartbeat(c, False, COPTER_MODES["RTL"], False, "landed by RTL and disarmed")
    assert c.bad_data == 0
    assert_known_texts(c)


# ---- readiness timing ---------------------------------------------------------------------------

def test_arming_readiness_timing(sim_fleet: Any, clients: list[MavClient]) -> None:
    """Arm every 2 vehicle s in GUIDED from boot, as the pymavlink session did."""
    speedup = 20.0
    # read the trace before the vehicle boots: parsing it takes 1-3 s on a busy machine, which
    # is 20-60 vehicle seconds at this speedup, past the refusals the test must see
    r = ref.readiness()
    fleet = sim_fleet(count=1, speedup=speedup, ekf_delay=40.0)
    c = link(fleet, clients)
    connected_at = vt(c)
    c.send_set_mode("GUIDED")
    c.wait_mode("GUIDED", wall(2.0, speedup))
    # arm every 2 s like the trace, then every SYSTEM_TIME (0.25 s) around the real readiness
    attempts: list[tuple[float, int, set[tuple[int, str]]]] = []
    while vt(c) < r.first_accepted + 10.0:
        since = c.mark()
        at = vt(c)
        ack = c.arm()
        step = 2.0 if at < r.last_refused - READY_TOLERANCE - 2.0 else 0.25
        advance(c, step, speedup)
        attempts.append((at, ack.result, set(texts_since(c, since))))
        if ack.accepted:
            break
    summary = [(round(t, 2), res) for t, res, _ in attempts]
    accepted = [t for t, res, _ in attempts if res in ref.ack_results(400, action="arm")]
    assert accepted, f"never armed by {r.first_accepted + 10:.0f} s: {summary}"
    refused = [(t, res, said) for t, res, said in attempts if t < accepted[0]]
    assert refused, f"connected at {connected_at:.1f} s, too late to see a refusal"
    # the real vehicle refused at r.last_refused and accepted at r.first_accepted
    assert accepted[0] <= r.first_accepted + READY_TOLERANCE, (
        f"first accepted arm at {accepted[0]:.2f} s; real vehicle armed at "
        f"{r.first_accepted:.2f} s ({ref.PYMAVLINK}): {summary}")
    assert refused[-1][0] >= r.last_refused - READY_TOLERANCE, (
        f"armable from {accepted[0]:.2f} s (refused at {refused[-1][0]:.2f} s); real vehicle "
        f"still refused at {r.last_refused:.2f} s ({ref.PYMAVLINK})")
    for t, res, said in refused:
        assert res in ref.ack_results(400, ekf_ready=False), f"arm at {t:.1f} s: result {res}"
        arm_texts = {s for s in said if s[1].startswith("Arm: ")}
        assert arm_texts and arm_texts <= ref.arm_refusal_texts(), (
            f"arm at {t:.1f} s: sim said {sorted(said)}; "
            f"real uses {sorted(ref.arm_refusal_texts())}")
        if r.need_position_from + READY_TOLERANCE <= t <= r.last_refused - READY_TOLERANCE:
            assert (2, "Arm: Need Position Estimate") in said, f"arm at {t:.1f} s: {said}"

    since = c.mark()
    assert c.disarm().result in ref.ack_results(400, action="disarm")
    advance(c, 0.5, speedup)
    assert (ref.severity("Disarming motors"), "Disarming motors") in texts_since(c, since)

    texts = [(rec.vt, rec.msg.severity, rec.msg.text) for rec in c.history
             if rec.type == "STATUSTEXT"]
    gps = [(t, s) for t, s, x in texts if x == "EKF3 IMU0 is using GPS"]
    assert gps, "no 'EKF3 IMU0 is using GPS' (ground stations wait for it)"
    assert gps[0][1] == ref.severity("EKF3 IMU0 is using GPS")
    assert gps[0][0] == pytest.approx(r.using_gps, abs=READY_TOLERANCE)
    for when, sev, text in ref.prearm_texts():
        if connected_at < when - READY_TOLERANCE:
            near = [(t, s, x) for t, s, x in texts if x.startswith("PreArm: ")
                    and abs((t or 0) - when) <= READY_TOLERANCE * 2]
            sim_prearm = [(round(t or 0), x) for t, _, x in texts if x.startswith("PreArm")]
            assert (sev, text) in {(s, x) for _, s, x in near}, (
                f"real vehicle reports {text!r} (sev {sev}) at {when:.0f} s while disarmed in "
                f"GUIDED; sim PreArm texts: {sim_prearm}")
    if connected_at < ref.home_set_time() - READY_TOLERANCE:
        homes = [rec.vt for rec in c.history if rec.type == "HOME_POSITION"]
        expected = ref.home_set_time()
        assert homes and homes[0] == pytest.approx(expected, abs=READY_TOLERANCE * 2), (
            f"unrequested HOME_POSITION at {homes[:1]} s; real vehicle sends it when home is "
            f"set at {expected:.1f} s")
    assert_known_texts(c)


# ---- (e) mission upload protocol ----------------------------------------------------------------

def test_mission_upload_protocol(sim_fleet: Any, clients: list[MavClient]) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF_DELAY)
    c = link(fleet, clients)
    wait_vehicle_time(c, EKF_DELAY + 3.0)
    h = home(c)
    items = trace_mission(h)
    first_ack = ref.mission_acks()[ref.PYMAVLINK][0]

    since = c.mark()
    up = c.upload_mission(items)
    assert up.ack_type == first_ack[1], f"MISSION_ACK type {up.ack_type}"
    assert up.request_types <= ref.upload_request_types(), (
        f"vehicle asked for items with {sorted(up.request_types)}; real ArduCopter uses only "
        f"{sorted(ref.upload_request_types())} even to a MISSION_ITEM_INT client")
    assert first_requests(up) == list(range(len(items)))
    advance(c, 0.5)
    assert (ref.severity("Flight plan received"), "Flight plan received") in texts_since(c, since)
    mc = c.wait("MISSION_CURRENT", timeout=wall(1.0))

    got = c.download_mission()
    assert len(got) == len(items)
    h = home(c)
    seq0, real0 = got[0], ref.mission_readback()[0]
    assert (seq0.frame, seq0.command) == (real0["frame"], real0["command"])
    assert (seq0.x, seq0.y) == (h.latitude, h.longitude), "read-back seq 0 is not the home"
    assert seq0.z == pytest.approx(h.altitude / 1000, abs=0.05), "seq 0 altitude: AMSL home"
    for sent, m in zip(items[1:], got[1:], strict=True):
        assert list(MissionItem.from_message(m)[4:]) == pytest.approx(list(sent[4:])), m.seq
        assert (m.frame, m.command, m.autocontinue) == (sent.frame, sent.command, 1), m.seq

    bad = ref.refused_upload()
    broken = list(items)
    at = max(bad.requested_seqs)
    broken[at] = MissionItem(3, ml.MAV_CMD_NAV_WAYPOINT, x=950000000, y=h.longitude, z=30.0)
    up = c.upload_mission(broken)
    assert up.ack_type == bad.ack_type, f"latitude 95 deg: MISSION_ACK {up.ack_type}"
    assert tuple(first_requests(up)) == bad.requested_seqs, "items asked for before refusing"
    up = c.upload_mission(items)
    assert up.ack_type == ref.mission_acks()[ref.PYMAVLINK][-1][1]
    assert_known_texts(c)

    # which item is "current" before the mission starts: the real vehicle says none (seq 0)
    real_current = {d["seq"]: d["current"] for d in ref.mission_readback()}
    assert {m.seq: m.current for m in got} == real_current, (
        "MISSION_ITEM_INT.current in the read-back before AUTO")
    assert (mc.seq, mc.total, mc.mission_state, mc.mission_mode) == ref.mission_flight(
    ).current_before, "MISSION_CURRENT (seq, total, state, mode): mission loaded, before AUTO"


# ---- (f) the pymavlink session's mission, flown -------------------------------------------------

def test_mission_flight_matches_trace(sim_fleet: Any, clients: list[MavClient]) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF_DELAY)
    c = link(fleet, clients)
    wait_vehicle_time(c, EKF_DELAY + 3.0)
    h = home(c)
    assert c.upload_mission(trace_mission(h)).ack_type == 0
    ess_start = c.mark()
    assert c.set_message_interval(MSG_ID["EXTENDED_SYS_STATE"], 4.0).accepted  # as mavsdk does
    c.send_set_mode("GUIDED")
    c.wait_mode("GUIDED", wall(2.0))
    assert c.arm().accepted
    assert c.takeoff(10.0).accepted
    c.wait("GLOBAL_POSITION_INT", lambda m: m.relative_alt >= 9500, wall(15.0))

    flight = ref.mission_flight()
    start = c.mark()
    t0 = vt(c)
    assert c.set_mode("AUTO").result in ref.ack_results(ref.CMD_DO_SET_MODE)
    assert c.command_long(ml.MAV_CMD_MISSION_START).result in ref.ack_results(
        ref.CMD_MISSION_START)
    c.wait_armed(False, wall(flight.duration * 2))
    t1 = vt(c)
    advance(c, 2.0)

    texts = [(m.severity, m.text) for m in c.received("STATUSTEXT", since=start)
             if ref.MISSION_TEXT.match(m.text)]
    assert [t for _, t in texts] == list(flight.texts), "mission STATUSTEXTs"
    assert {s for s, _ in texts} == set(flight.text_severities)
    reached = [m.seq for m in c.received("MISSION_ITEM_REACHED", since=start)]
    assert reached == list(flight.reached), "MISSION_ITEM_REACHED seqs"
    hbs = c.received("HEARTBEAT", since=start)
    in_auto = hbs[next(i for i, m in enumerate(hbs) if m.custom_mode == ref.MODE_AUTO):]
    modes = {m.custom_mode for m in in_auto if is_armed(m)}
    assert modes == set(flight.modes), "modes while flying the mission (RTL is a mission item)"
    assert hb_tuple(hbs[-1]) == flight.landed_heartbeat, "HEARTBEAT landed after the mission"
    assert t1 - t0 == pytest.approx(flight.duration, rel=0.3), "AUTO to disarm, vehicle seconds"

    targets = c.received("POSITION_TARGET_GLOBAL_INT", since=start)
    wp2 = next(r.vt or 0.0 for r in c.history[start:] if r.type == "STATUSTEXT"
               and r.msg.text == "Mission: 2 WP")
    rtl = next(r.vt or 0.0 for r in c.history[start:] if r.type == "STATUSTEXT"
               and r.msg.text.endswith(" RTL"))
    n = sum(1 for r in c.history[start:] if r.type == "POSITION_TARGET_GLOBAL_INT"
            and wp2 <= (r.vt or 0.0) < rtl)
    assert targets and n / (rtl - wp2) == pytest.approx(flight.target_rate, rel=RATE_TOLERANCE), (
        "POSITION_TARGET_GLOBAL_INT rate while flying the waypoints")

    vtol, landed = ref.landed_states()
    ess = c.received("EXTENDED_SYS_STATE", since=ess_start)
    got = [m.landed_state for m in ess]
    got = [s for i, s in enumerate(got) if i == 0 or s != got[i - 1]]
    assert {m.vtol_state for m in ess} == set(vtol)
    tail = list(landed[max(i for i, s in enumerate(landed) if s == 2):])  # in air .. on ground
    assert got[0] == landed[0] and got[-len(tail):] == tail and set(got) <= set(landed), (
        f"EXTENDED_SYS_STATE.landed_state sequence: sim {got}, real {list(landed)} "
        f"({ref.MAVSDK}; the real one began with an AUTO takeoff)")

    currents = c.received("MISSION_CURRENT", since=start)
    flying = [m for m in currents if m.seq > 0]
    assert {m.total for m in currents} == {flight.current_total}, "MISSION_CURRENT.total"
    assert Counter(m.mission_state for m in flying).most_common(1)[0][0] == flight.state_active
    assert currents[-1].mission_state == flight.state_done, "MISSION_CURRENT after the mission"
    seqs = [m.seq for m in currents]
    seqs = [s for i, s in enumerate(seqs) if i == 0 or s != seqs[i - 1]]
    assert (seqs[1:] if seqs[0] == 0 else seqs) == list(flight.current_seqs), (
        "MISSION_CURRENT.seq progression (the real vehicle returns to 0 once the mission is done)")

    pos = c.received("GLOBAL_POSITION_INT")[-1]
    assert abs(pos.relative_alt) < 1000, "landed"
    north, east = ne_metres(h.latitude, h.longitude, pos.lat, pos.lon)
    assert math.hypot(north, east) < 5.0, "RTL lands at home"
    assert_known_texts(c)


# ---- (g) fence upload and DO_REPOSITION against it ----------------------------------------------

def test_fence_upload_and_reposition(sim_fleet: Any, clients: list[MavClient]) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF_DELAY)
    c = link(fleet, clients)
    wait_vehicle_time(c, EKF_DELAY + 3.0)
    h = home(c)
    fence = ref.fence_upload()
    north, east, alt = ref.reposition_target()
    # an inclusion square of 500 m around home (holds the trace's inside target 111 m north) and
    # an exclusion circle away from it: the README's "inclusion polygon + exclusion circle"
    corners = [(250, 250), (250, -250), (-250, -250), (-250, 250)]
    items = [MissionItem(MAV_FRAME_GLOBAL, ml.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
                         param1=len(corners), x=lat, y=lon)
             for lat, lon in (offset(h.latitude, h.longitude, n, e) for n, e in corners)]
    clat, clon = offset(h.latitude, h.longitude, -100, 100)
    items.append(MissionItem(MAV_FRAME_GLOBAL, ml.MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION,
                             param1=30.0, x=clat, y=clon))
    assert len(items) == len(fence.requested)

    since = c.mark()
    up = c.upload_mission(items, MISSION_TYPE_FENCE)
    assert (MISSION_TYPE_FENCE, up.ack_type) == fence.ack
    assert up.request_types == {t for t, _, _ in fence.requested}
    assert first_requests(up) == [s for _, s, _ in fence.requested]
    advance(c, 0.5)
    assert (fence.text_severity, fence.text) in texts_since(c, since)

    for name, value, ptype in fence.params:
        echo = c.param_set(name, value, ptype)
        assert echo.param_value == value, name
        # FENCE_TYPE and FENCE_ACTION were set to the value they already had, and their echo in
        # the trace carries REAL32 (the type the GCS sent), not the parameter's own type; only
        # the echoes of changed values pin the type.
        if name in ("FENCE_ENABLE", "FENCE_ALT_MAX"):
            assert echo.param_type == ptype, f"{name} PARAM_VALUE.param_type"
        if name == "FENCE_ENABLE":
            c.wait("FENCE_STATUS", timeout=wall(fence.status_after_enable + 1.0))

    fly_to_altitude(c, alt)
    lat, lon = offset(h.latitude, h.longitude, north, east)
    ack = c.command_int(ml.MAV_CMD_DO_REPOSITION, params=(-1, 1, 0, math.nan), x=lat, y=lon,
                        z=alt)
    assert ack.result == fence.reposition_results[0], "DO_REPOSITION inside the fence"
    lat, lon = offset(h.latitude, h.longitude, 400, 0)
    ack = c.command_int(ml.MAV_CMD_DO_REPOSITION, params=(-1, 1, 0, math.nan), x=lat, y=lon,
                        z=alt)
    assert ack.result == fence.reposition_results[1], "DO_REPOSITION outside the fence"
    check_heartbeat(c, True, COPTER_MODES["GUIDED"], True, "after the refused reposition")
    # LOITER sinks at 2.5 m/s without RC (below), and the simulator's clock runs at SPEEDUP times
    # wall time whether or not this process is scheduled: at the trace's 30 m, a test process
    # held up for 1.2 s on a loaded machine found the copter already landed (seen in CI). Climb
    # inside the fence (FENCE_ALT_MAX 80 m) first.
    high = 60.0
    lat, lon = offset(h.latitude, h.longitude, north, east)
    assert c.command_int(ml.MAV_CMD_DO_REPOSITION, params=(-1, 1, 0, math.nan), x=lat, y=lon,
                         z=high).result == 0
    c.wait("GLOBAL_POSITION_INT", lambda m: m.relative_alt >= (high - 2) * 1000,
           wall(high / 2.5 * 2 + 5))
    for mode in ("BRAKE", "LOITER", "GUIDED"):  # what the fence session did next
        assert c.set_mode(mode).result in ref.ack_results(ref.CMD_DO_SET_MODE), mode
        check_heartbeat(c, True, COPTER_MODES[mode], True, f"flying in {mode}")
        if mode == "LOITER":
            # no RC input: the real SITL's throttle stick is low, so LOITER sinks
            advance(c, 1.0)
            p0 = c.wait("GLOBAL_POSITION_INT", timeout=wall(1.0))
            advance(c, 4.0)
            # the rate from samples still in the air, however late this process got to read
            p1 = c.wait("GLOBAL_POSITION_INT", timeout=wall(1.0))
            airborne = [m for m in c.received("GLOBAL_POSITION_INT")
                        if p0.time_boot_ms < m.time_boot_ms <= p1.time_boot_ms
                        and m.relative_alt > 2000]
            assert airborne, "the copter was on the ground before its LOITER sink was measured"
            p1 = airborne[-1]
            sink = (p0.relative_alt - p1.relative_alt) / (p1.time_boot_ms - p0.time_boot_ms)
            assert sink == pytest.approx(ref.loiter_descent(), rel=0.25), (
                f"LOITER without RC: sim sinks {sink:.2f} m/s, real SITL "
                f"{ref.loiter_descent():.2f} m/s ({ref.FENCE})")
    assert_known_texts(c)


# ---- (h) battery failsafe -----------------------------------------------------------------------

def test_battery_failsafe(sim_fleet: Any, clients: list[MavClient]) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=EKF_DELAY)
    c = link(fleet, clients)
    wait_vehicle_time(c, EKF_DELAY + 3.0)
    fs = ref.battery_failsafe()
    params = {name: value for name, value, _ in fs.params}
    for name, value, ptype in fs.params:
        echo = c.param_set(name, value, ptype)
        assert (echo.param_value, echo.param_type) == (value, ptype), f"{name} echo"
    fly_to_altitude(c, 20.0)

    since = c.mark()
    fleet.control("battery", vehicle=0, percent=2)
    low_mv = params["BATT_LOW_VOLT"] * 1000
    below = c.wait("SYS_STATUS", lambda m: m.voltage_battery < low_mv, wall(5.0))
    below_at = vt(c)
    low = c.wait("STATUSTEXT", lambda m: ref.BATTERY_LOW_TEXT.match(m.text) is not None,
                 wall(fs.delay + 10.0), since=since)
    low_at = vt(c)
    match = ref.BATTERY_LOW_TEXT.match(low.text)
    real = ref.BATTERY_LOW_TEXT.match(fs.low_text)
    assert match and real
    assert low.severity == fs.low_severity
    assert match.group(1) == real.group(1), "battery instance in the text"
    assert float(match.group(2)) == pytest.approx(below.voltage_battery / 1000, abs=0.15)
    assert low_at - below_at == pytest.approx(fs.delay, abs=2.0), (
        "vehicle seconds from the voltage dropping below BATT_LOW_VOLT to the report")
    nxt = c.wait("STATUSTEXT", lambda m: m is not low, wall(1.0),
                 since=next(i for i, r in enumerate(c.history) if r.msg is low))
    assert (nxt.severity, nxt.text) == (fs.failsafe_severity, fs.failsafe_text)
    c.wait_mode("RTL", wall(2.0))
    hb = c.wait_heartbeat(wall(1.5))
    assert hb_tuple(hb) == fs.heartbeat_after, "HEARTBEAT after the battery failsafe"
    assert_known_texts(c)
