"""Telemetry messages a copter sends, grouped into ArduPilot's REQUEST_DATA_STREAM streams.

Field values mirror ArduCopter SITL as recorded in shared/traces (sensor bitmasks, EKF flags, GPS
fix type 6 with 10 satellites, lat/lon 0 before the first fix). Every builder reads the vehicle's
state; nothing here keeps state of its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from sitl.modes import Mode

if TYPE_CHECKING:
    from sitl.vehicle import Vehicle

M: TypeAlias = Any  # pymavlink messages are untyped
Builder = Callable[["Vehicle"], Any]

# SYS_STATUS sensor bitmasks as the real SITL reports them (see the pymavlink trace).
_PRESENT = 0x5371FC0F
_ENABLED = 0x53419C0F
_HEALTH = 0x47519C0F
_GPS, _AHRS, _CONTROL, _PREARM = 0x20, 0x200000, 0x6000, 0x10000000

# EKF_STATUS_REPORT flags: 831 when using GPS, 167 (constant-position mode) before, 1024 at start.
EKF_USING_GPS, EKF_CONST_POS, EKF_UNINITIALISED = 831, 167, 1024


def _latlon_e7(v: Vehicle) -> tuple[int, int]:
    lat, lon = v.latlon
    return round(lat * 1e7), round(lon * 1e7)


def _time_ms(v: Vehicle) -> int:
    return int(v.time * 1000) & 0xFFFFFFFF


def heartbeat(v: Vehicle) -> M:
    return mavlink.MAVLink_heartbeat_message(
        mavlink.MAV_TYPE_QUADROTOR, mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA, v.base_mode(),
        int(v.mode), v.system_status(), 3)


def global_position_int(v: Vehicle) -> M:
    if not v.gps_fix and not v.position_ok:
        return mavlink.MAVLink_global_position_int_message(_time_ms(v), 0, 0, 0, 0, 0, 0, 0, 0)
    lat, lon = _latlon_e7(v)
    return mavlink.MAVLink_global_position_int_message(
        _time_ms(v), lat, lon, round(v.alt * 1000), round(v.alt_rel * 1000),
        round(v.vn * 100), round(v.ve * 100), round(-v.vu * 100), round(v.yaw * 100) % 36000)


def local_position_ned(v: Vehicle) -> M:
    return mavlink.MAVLink_local_position_ned_message(
        _time_ms(v), v.north, v.east, -(v.alt - v.ground_amsl), v.vn, v.ve, -v.vu)


def gps_raw_int(v: Vehicle) -> M:
    t_us = int(v.time * 1e6)
    if not v.gps_fix:
        fix = 1 if v.gps_lost else 0
        return mavlink.MAVLink_gps_raw_int_message(t_us, fix, 0, 0, 0, 65535, 65535, 0, 0, 0)
    lat, lon = _latlon_e7(v)
    alt_mm = round(v.alt * 1000)
    return mavlink.MAVLink_gps_raw_int_message(
        t_us, 6, lat, lon, alt_mm, 121, 200, round(v.ground_speed * 100),
        round(v.yaw * 100) % 36000, 10, alt_mm, 300, 300, 40, 0, 0)


def attitude(v: Vehicle) -> M:
    yaw = math.radians(v.yaw if v.yaw <= 180 else v.yaw - 360)
    return mavlink.MAVLink_attitude_message(_time_ms(v), 0.0, 0.0, yaw, 0.0, 0.0, 0.0)


def ahrs2(v: Vehicle) -> M:
    lat, lon = _latlon_e7(v) if v.gps_fix else (0, 0)
    yaw = math.radians(v.yaw if v.yaw <= 180 else v.yaw - 360)
    return mavlink.MAVLink_ahrs2_message(0.0, 0.0, yaw, v.alt, lat, lon)


def ahrs(v: Vehicle) -> M:
    return mavlink.MAVLink_ahrs_message(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def vfr_hud(v: Vehicle) -> M:
    throttle = 0 if not v.armed or v.landed else 39
    return mavlink.MAVLink_vfr_hud_message(
        v.ground_speed, v.ground_speed, round(v.yaw) % 360, throttle, v.alt, v.vu)


def sys_status(v: Vehicle) -> M:
    present, enabled, health = _PRESENT, _ENABLED, _HEALTH
    if v.time >= v.boot.gps_fix_at * 0.96:
        present |= _GPS
        enabled |= _GPS
        if v.gps_fix:
            health |= _GPS
    if v.origin_set:
        enabled |= _AHRS
        health |= _AHRS
    if v.armed or v.flight_time == 0:
        enabled |= _CONTROL
        health |= _CONTROL
    if not v.armed and v.arming_failure() is None:
        health |= _PREARM
    current = v.current_a()
    return mavlink.MAVLink_sys_status_message(
        present, enabled, health, 0, round(v.battery_voltage() * 1000), round(current * 100),
        round(v.battery_fraction() * 100), 0, 0, 0, 0, 0, 0, 0, 0, 0)


def power_status(v: Vehicle) -> M:
    return mavlink.MAVLink_power_status_message(5000, 0, 0)


def meminfo(v: Vehicle) -> M:
    return mavlink.MAVLink_meminfo_message(0, 65535, 524288)


def mission_current(v: Vehicle) -> M:
    r = v.runner
    return mavlink.MAVLink_mission_current_message(
        r.current, r.total, r.state, 1 if v.mode == Mode.AUTO else 0)


def nav_controller_output(v: Vehicle) -> M:
    bearing = 0
    dist = 0
    if v.target is not None:
        dn, de = v.target[0] - v.north, v.target[1] - v.east
        dist = min(65535, round(math.hypot(dn, de)))
        bearing = round(math.degrees(math.atan2(de, dn)))
    alt_err = (v.target[2] - v.alt) if v.target is not None else 0.0
    return mavlink.MAVLink_nav_controller_output_message(
        0.0, 0.0, bearing, bearing, dist, alt_err, 0.0, 0.0)


def position_target_global_int(v: Vehicle) -> M | None:
    if v.target is None or v.mode not in (Mode.GUIDED, Mode.AUTO, Mode.RTL):
        return None
    lat, lon = _origin_offset_e7(v, v.target[0], v.target[1])
    return mavlink.MAVLink_position_target_global_int_message(
        _time_ms(v), 0, 65016, lat, lon, v.target[2], 0, 0, 0, 0, 0, 0, 0, 0)


def _origin_offset_e7(v: Vehicle, north: float, east: float) -> tuple[int, int]:
    from sitl.geo import offset
    lat, lon = offset(v.origin_lat, v.origin_lon, north, east)
    return round(lat * 1e7), round(lon * 1e7)


def battery_status(v: Vehicle) -> M:
    volts = [round(v.battery_voltage() * 1000)] + [65535] * 9
    pct = round(v.battery_fraction() * 100)
    charge = 1 if v.batt_failsafe == 0 else 2 + v.batt_failsafe
    return mavlink.MAVLink_battery_status_message(
        0, 0, 0, 32767, volts, round(v.current_a() * 100), round(v.consumed_mah),
        round(v.consumed_mah * 0.036 * v.battery_voltage() / 10), pct, 0, charge,
        [0, 0, 0, 0], 0, 0)


def ekf_status_report(v: Vehicle) -> M:
    if v.position_ok:
        flags = EKF_USING_GPS
    elif v.time < 1.0:
        flags = EKF_UNINITIALISED
    elif v.time < 1.5:
        flags = 0
    else:
        flags = EKF_CONST_POS
    pos_var = 0.0068 if v.position_ok else 0.0
    return mavlink.MAVLink_ekf_status_report_message(flags, 0.012, pos_var, 0.0005, 0.009, 0.0, 0.0)


def system_time(v: Vehicle) -> M:
    return mavlink.MAVLink_system_time_message(int(time.time() * 1e6), _time_ms(v))


def wind(v: Vehicle) -> M:
    speed, direction = v.wind
    return mavlink.MAVLink_wind_message(direction if speed else -180.0, speed, 0.0)


def vibration(v: Vehicle) -> M:
    return mavlink.MAVLink_vibration_message(int(v.time * 1e6), 0.003, 0.003, 0.006, 0, 0, 0)


def raw_imu(v: Vehicle) -> M:
    return mavlink.MAVLink_raw_imu_message(int(v.time * 1e6), 0, 0, -942, 0, 2, 0, 253, 27, 472, 0,
                                           2853)


def scaled_pressure(v: Vehicle) -> M:
    press = 1013.25 * (1 - 2.25577e-5 * v.alt) ** 5.25588
    return mavlink.MAVLink_scaled_pressure_message(_time_ms(v), press, 0.0, 3095, 0)


def servo_output_raw(v: Vehicle) -> M:
    pwm = 1000 if not v.armed else (1100 if v.landed else 1590)
    return mavlink.MAVLink_servo_output_raw_message(
        int(v.time * 1e6) & 0xFFFFFFFF, 0, pwm, pwm, pwm, pwm, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0)


def rc_channels(v: Vehicle) -> M:
    return mavlink.MAVLink_rc_channels_message(
        _time_ms(v), 8, 1500, 1500, 1000, 1500, 1800, 1000, 1000, 1800,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255)


def extended_sys_state(v: Vehicle) -> M:
    return mavlink.MAVLink_extended_sys_state_message(mavlink.MAV_VTOL_STATE_MC, v.landed_state())


def home_position(v: Vehicle) -> M | None:
    if v.home is None:
        return None
    lat, lon, alt = v.home
    n, e = 0.0, 0.0
    if v.home:
        from sitl.geo import ne_between
        n, e = ne_between(v.origin_lat, v.origin_lon, lat, lon)
    nan = float("nan")
    return mavlink.MAVLink_home_position_message(
        round(lat * 1e7), round(lon * 1e7), round(alt * 1000), n, e, -(alt - v.ground_amsl),
        [nan, nan, nan, nan], 0.0, 0.0, 0.0, int(v.time * 1e6))


def gps_global_origin(v: Vehicle) -> M | None:
    if not v.origin_set:
        return None
    return mavlink.MAVLink_gps_global_origin_message(
        round(v.origin_lat * 1e7), round(v.origin_lon * 1e7), round(v.ground_amsl * 1000),
        int(v.time * 1e6))


def fence_status(v: Vehicle) -> M | None:
    if not v.fence_enabled():
        return None
    return mavlink.MAVLink_fence_status_message(1 if v.fence_breached else 0, 0,
                                                v.fence_breached, 0, 0)


def autopilot_version(v: Vehicle) -> M:
    # capabilities and versions exactly as the real Copter 4.7-dev reports them in the traces
    return mavlink.MAVLink_autopilot_version_message(
        64495, 67567616, 0, 0, 0, [57, 48, 55, 48, 48, 57, 55, 55], [0] * 8, [0] * 8,
        0x1209, 0x5740, 0, [0] * 18)


BUILDERS: dict[int, Builder] = {
    mavlink.MAVLINK_MSG_ID_HEARTBEAT: heartbeat,
    mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: global_position_int,
    mavlink.MAVLINK_MSG_ID_LOCAL_POSITION_NED: local_position_ned,
    mavlink.MAVLINK_MSG_ID_GPS_RAW_INT: gps_raw_int,
    mavlink.MAVLINK_MSG_ID_ATTITUDE: attitude,
    mavlink.MAVLINK_MSG_ID_AHRS2: ahrs2,
    mavlink.MAVLINK_MSG_ID_AHRS: ahrs,
    mavlink.MAVLINK_MSG_ID_VFR_HUD: vfr_hud,
    mavlink.MAVLINK_MSG_ID_SYS_STATUS: sys_status,
    mavlink.MAVLINK_MSG_ID_POWER_STATUS: power_status,
    mavlink.MAVLINK_MSG_ID_MEMINFO: meminfo,
    mavlink.MAVLINK_MSG_ID_MISSION_CURRENT: mission_current,
    mavlink.MAVLINK_MSG_ID_NAV_CONTROLLER_OUTPUT: nav_controller_output,
    mavlink.MAVLINK_MSG_ID_POSITION_TARGET_GLOBAL_INT: position_target_global_int,
    mavlink.MAVLINK_MSG_ID_BATTERY_STATUS: battery_status,
    mavlink.MAVLINK_MSG_ID_EKF_STATUS_REPORT: ekf_status_report,
    mavlink.MAVLINK_MSG_ID_SYSTEM_TIME: system_time,
    mavlink.MAVLINK_MSG_ID_WIND: wind,
    mavlink.MAVLINK_MSG_ID_VIBRATION: vibration,
    mavlink.MAVLINK_MSG_ID_RAW_IMU: raw_imu,
    mavlink.MAVLINK_MSG_ID_SCALED_PRESSURE: scaled_pressure,
    mavlink.MAVLINK_MSG_ID_SERVO_OUTPUT_RAW: servo_output_raw,
    mavlink.MAVLINK_MSG_ID_RC_CHANNELS: rc_channels,
    mavlink.MAVLINK_MSG_ID_EXTENDED_SYS_STATE: extended_sys_state,
    mavlink.MAVLINK_MSG_ID_HOME_POSITION: home_position,
    mavlink.MAVLINK_MSG_ID_GPS_GLOBAL_ORIGIN: gps_global_origin,
    mavlink.MAVLINK_MSG_ID_FENCE_STATUS: fence_status,
    mavlink.MAVLINK_MSG_ID_AUTOPILOT_VERSION: autopilot_version,
}

# ArduCopter's stream groups (GCS_Mavlink.cpp, STREAM_*), limited to the messages built above.
_ID = mavlink
STREAM_GROUPS: dict[int, list[int]] = {
    mavlink.MAV_DATA_STREAM_RAW_SENSORS: [_ID.MAVLINK_MSG_ID_RAW_IMU,
                                          _ID.MAVLINK_MSG_ID_SCALED_PRESSURE],
    mavlink.MAV_DATA_STREAM_EXTENDED_STATUS: [
        _ID.MAVLINK_MSG_ID_SYS_STATUS, _ID.MAVLINK_MSG_ID_POWER_STATUS, _ID.MAVLINK_MSG_ID_MEMINFO,
        _ID.MAVLINK_MSG_ID_MISSION_CURRENT, _ID.MAVLINK_MSG_ID_GPS_RAW_INT,
        _ID.MAVLINK_MSG_ID_NAV_CONTROLLER_OUTPUT, _ID.MAVLINK_MSG_ID_POSITION_TARGET_GLOBAL_INT,
        _ID.MAVLINK_MSG_ID_FENCE_STATUS],
    mavlink.MAV_DATA_STREAM_RC_CHANNELS: [_ID.MAVLINK_MSG_ID_SERVO_OUTPUT_RAW,
                                          _ID.MAVLINK_MSG_ID_RC_CHANNELS],
    mavlink.MAV_DATA_STREAM_POSITION: [_ID.MAVLINK_MSG_ID_GLOBAL_POSITION_INT,
                                       _ID.MAVLINK_MSG_ID_LOCAL_POSITION_NED],
    mavlink.MAV_DATA_STREAM_EXTRA1: [_ID.MAVLINK_MSG_ID_ATTITUDE, _ID.MAVLINK_MSG_ID_AHRS2],
    mavlink.MAV_DATA_STREAM_EXTRA2: [_ID.MAVLINK_MSG_ID_VFR_HUD],
    mavlink.MAV_DATA_STREAM_EXTRA3: [
        _ID.MAVLINK_MSG_ID_AHRS, _ID.MAVLINK_MSG_ID_SYSTEM_TIME, _ID.MAVLINK_MSG_ID_WIND,
        _ID.MAVLINK_MSG_ID_EKF_STATUS_REPORT, _ID.MAVLINK_MSG_ID_VIBRATION,
        _ID.MAVLINK_MSG_ID_BATTERY_STATUS],
}


def build(msg_id: int, v: Vehicle) -> Any:
    builder = BUILDERS.get(msg_id)
    return builder(v) if builder else None
