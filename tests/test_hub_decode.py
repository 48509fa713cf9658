"""Decoding ArduPilot messages into VehicleState and events (pure; fields as in the traces)."""

from __future__ import annotations

from telemetry.decode import VehicleDecoder
from telemetry.state import EventKind, LinkState, VehicleState


def decoder() -> VehicleDecoder:
    return VehicleDecoder(VehicleState(vehicle_id=7, sysid=3), low_battery_pct=25)


def hb(custom_mode: int, armed: bool = False) -> tuple[str, dict[str, int]]:
    return "HEARTBEAT", {
        "type": 2, "autopilot": 3, "base_mode": 89 | (128 if armed else 0),
        "custom_mode": custom_mode, "system_status": 3,
    }


def test_zero_position_without_fix_is_no_position() -> None:
    d = decoder()
    s, _ = d.apply([("GLOBAL_POSITION_INT", {"lat": 0, "lon": 0, "alt": 0, "relative_alt": 0,
                                             "vx": 0, "vy": 0, "vz": 0, "hdg": 65535,
                                             "time_boot_ms": 10_000})], now=1.0, mono=1.0)
    assert s is not None and s.position is None and s.heading_deg is None
    s, _ = d.apply([("GLOBAL_POSITION_INT", {"lat": 413110810, "lon": 692405620, "alt": 455100,
                                             "relative_alt": 1500, "vx": 300, "vy": 400,
                                             "vz": -100, "hdg": 9000, "time_boot_ms": 11_000})],
                   now=2.0, mono=2.0)
    assert s is not None and s.position is not None
    assert (s.position.lat, s.position.lon, s.position.alt_amsl) == (41.311081, 69.240562, 455.1)
    assert (s.alt_rel, s.ground_speed, s.climb_rate, s.heading_deg) == (1.5, 5.0, 1.0, 90.0)


def test_exact_arducopter_mode_and_transition_events() -> None:
    d = decoder()
    s, ev = d.apply([hb(0)], now=1.0, mono=1.0)
    assert s is not None and s.mode == "STABILIZE" and s.link is LinkState.UP and ev == []
    s, ev = d.apply([hb(4)], now=2.0, mono=2.0)
    assert s is not None and s.mode == "GUIDED"  # MAVSDK would say OFFBOARD
    assert [e.kind for e in ev] == [EventKind.MODE_CHANGED]
    s, ev = d.apply([hb(17, armed=True)], now=3.0, mono=3.0)
    assert s is not None and s.mode == "BRAKE" and s.armed  # MAVSDK would say HOLD
    assert [e.kind for e in ev] == [EventKind.MODE_CHANGED, EventKind.ARMED]
    s, _ = d.apply([hb(21)], now=4.0, mono=4.0)
    assert s is not None and s.mode == "SMART_RTL"
    s, _ = d.apply([hb(99)], now=5.0, mono=5.0)
    assert s is not None and s.mode == "MODE_99"


def test_link_lost_after_timeout_and_restored_on_heartbeat() -> None:
    d = decoder()
    d.apply([hb(0)], now=100.0, mono=100.0)
    assert d.check_link(3.0, now=102.9, mono=102.9) == (None, [])
    s, ev = d.check_link(3.0, now=103.1, mono=103.1)
    assert s is not None and s.link is LinkState.LOST and ev[0].kind is EventKind.LINK_LOST
    assert d.check_link(3.0, now=104.0, mono=104.0) == (None, [])  # reported once
    s, ev = d.apply([hb(0)], now=110.0, mono=110.0)
    assert s is not None and s.link is LinkState.UP
    assert [e.kind for e in ev] == [EventKind.LINK_RESTORED]


def test_gcs_heartbeat_under_same_sysid_is_ignored() -> None:
    d = decoder()
    s, _ = d.apply([("HEARTBEAT", {"type": 6, "autopilot": 8, "base_mode": 0,
                                   "custom_mode": 0})], now=1.0, mono=1.0)
    assert s is None and d.state.link is LinkState.CONNECTING


def test_battery_low_fires_once_until_recovered() -> None:
    d = decoder()

    def bat(pct: int) -> list[EventKind]:
        _, ev = d.apply([("SYS_STATUS", {"voltage_battery": 11000, "battery_remaining": pct})])
        return [e.kind for e in ev]

    assert bat(50) == []
    assert bat(24) == [EventKind.BATTERY_LOW]
    assert bat(20) == []
    assert bat(27) == []  # within the hysteresis margin
    assert bat(90) == []
    assert bat(10) == [EventKind.BATTERY_LOW]
    assert d.state.battery_voltage == 11.0


def test_statustext_warning_or_worse_and_item_reached_are_events() -> None:
    d = decoder()
    _, ev = d.apply([
        ("STATUSTEXT", {"severity": 6, "text": "Flight plan received"}),
        ("STATUSTEXT", {"severity": 2, "text": "Arm: Need Position Estimate"}),
        ("MISSION_ITEM_REACHED", {"seq": 2}),
    ])
    assert [(e.kind, e.message) for e in ev] == [
        (EventKind.STATUSTEXT, "Arm: Need Position Estimate"),
        (EventKind.MISSION_ITEM_REACHED, "reached item 2"),
    ]
    assert ev[0].severity == 2


def test_gps_ekf_home_mission_fields() -> None:
    d = decoder()
    s, _ = d.apply([
        ("GPS_RAW_INT", {"fix_type": 3, "satellites_visible": 10}),
        ("EKF_STATUS_REPORT", {"flags": 831}),
        ("HOME_POSITION", {"latitude": 413110810, "longitude": 692405620, "altitude": 455080}),
        ("MISSION_CURRENT", {"seq": 2, "total": 6}),
        ("EXTENDED_SYS_STATE", {"landed_state": 2}),
    ])
    assert s is not None
    assert (s.gps_fix, s.satellites, s.ekf_ok) == ("3D", 10, True)
    assert s.home is not None and s.home.alt_amsl == 455.08
    assert (s.mission_current, s.mission_total, s.landed_state) == (2, 6, "in_air")
    s, _ = d.apply([("EKF_STATUS_REPORT", {"flags": 1024 | 1})])
    assert s is not None and not s.ekf_ok


def test_notice_about_a_fence_or_failsafe_is_an_event_other_notices_are_not() -> None:
    d = decoder()
    _, ev = d.apply([
        ("STATUSTEXT", {"severity": 5, "text": "Polygon fence breached"}),
        ("STATUSTEXT", {"severity": 5, "text": "Field Elevation Set: 455m"}),
        ("STATUSTEXT", {"severity": 6, "text": "fence enabled"}),
    ])
    assert [(e.kind, e.message, e.severity) for e in ev] == [
        (EventKind.STATUSTEXT, "Polygon fence breached", 5)]


def test_mission_state_is_kept_from_mission_current() -> None:
    d = decoder()
    state, _ = d.apply([("MISSION_CURRENT", {"seq": 0, "total": 6, "mission_state": 5})])
    assert state is not None
    assert (state.mission_current, state.mission_total, state.mission_state) == (0, 6, 5)
