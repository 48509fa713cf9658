"""Per-tick behaviour of a simulated copter: boot sequence, mode controllers, kinematics, failsafes.

The airframe is kinematic: a velocity command per mode, limited by the WPNAV/PILOT speed and
acceleration parameters, integrated at a fixed step. That reproduces what a ground station sees of
a copter (speeds, climb rates, stopping distances, timings) without simulating attitude dynamics.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sitl import geo
from sitl.modes import REQUIRES_POSITION, Mode
from sitl.vehicle_consts import CRITICAL, INFO, NOTICE, TOUCHDOWN_TO_DISARM_S, WARNING

if TYPE_CHECKING:
    from sitl.vehicle import Vehicle

# Modes whose climb rate comes from the throttle stick.
PILOT_THROTTLE_MODES = frozenset({Mode.LOITER, Mode.ALT_HOLD, Mode.POSHOLD})
# Modes flown by ArduCopter's waypoint navigation (AC_WPNav S-curves): the horizontal
# acceleration builds up at WPNAV_JERK to at most WPNAV_ACCEL, and the vertical one is
# WPNAV_ACCEL_Z. Fitted against shared/traces/arducopter-patrol-adsb (250 m legs: ~32 s stop to
# stop at WPNAV_SPEED 10 m/s, where a constant 2.5 m/s/s would give 29 s).
WPNAV_MODES = frozenset({Mode.AUTO, Mode.GUIDED, Mode.RTL, Mode.LAND})
FENCE_NAMES = {1: "Max Alt", 2: "Circle", 4: "Polygon", 8: "Min Alt"}


def step(v: Vehicle, dt: float) -> None:
    v.time += dt
    _boot_texts(v)
    _periodic(v)
    if v.armed:
        _fly(v, dt)
        if not v.landed:
            v.flight_time += dt
    _battery(v, dt)
    if v.armed:
        _failsafes(v)
        _auto_disarm(v)


def _boot_texts(v: Vehicle) -> None:
    texts = v.boot.texts
    while v._boot_text_index < len(texts) and texts[v._boot_text_index][0] <= v.time:
        _, sev, text = texts[v._boot_text_index]
        v.say(sev, text.format(elev=round(v.ground_amsl)))
        if text.startswith("EKF3 IMU0 origin set") and v.home is None:
            v.home = (v.origin_lat, v.origin_lon, v.ground_amsl)
            v.home_changed = True
        v._boot_text_index += 1


def _periodic(v: Vehicle) -> None:
    if v.time >= v._next_stat:
        v._next_stat += 30.0
        v.params.set("STAT_RUNTIME", int(v.time))
        v.changed_params.append("STAT_RUNTIME")
        if v.flight_time > 0:
            v.params.set("STAT_FLTTIME", int(v.flight_time))
            v.changed_params.append("STAT_FLTTIME")
    if v.time >= v._next_prearm_report:
        v._next_prearm_report += 30.0
        if not v.armed:
            failure = v.arming_failure()
            if failure:
                v.say(CRITICAL, f"PreArm: {failure}")


# ---- flying --------------------------------------------------------------------------------------
def _fly(v: Vehicle, dt: float) -> None:
    if v.landed:
        v.vn = v.ve = v.vu = 0.0
        if v.mode == Mode.AUTO:
            v.runner.update(dt)
        _landing_disarm(v)
        return
    if not v.position_ok:
        _drift(v, dt)
        return
    mode = v.mode
    if mode == Mode.AUTO:
        v.runner.update(dt)
    elif mode == Mode.RTL:
        rtl_update(v)
    elif mode == Mode.LAND:
        land_update(v)
    elif mode == Mode.STABILIZE:
        # Throttle stick at minimum (SITL's RC3 rests at 1000): the copter sinks.
        v.target = None
        _move(v, dt, v.vn * 0.9, v.ve * 0.9, -2.5)
        _ground_contact(v)
        return
    elif mode in PILOT_THROTTLE_MODES:
        # No RC input: SITL's throttle stick rests at minimum, so these modes sink at the pilot's
        # maximum descent rate all the way down (fence trace: 2.49 m/s in LOITER, and "SIM Hit
        # ground at 2.5 m/s"). A pause must therefore use BRAKE or GUIDED, never LOITER.
        hold = v.target or _stopping_point(v)
        if mode == Mode.ALT_HOLD:
            hold = (v.north, v.east, hold[2])
        v.target = (hold[0], hold[1], v.ground_amsl - 10.0)
        v.land_vertical = -pilot_descent_speed(v)
    if v.target is None:
        v.target = _stopping_point(v)
    if v.time < v.spool_until:  # motors spooling up for a take-off: still on the ground
        return
    vertical, v.land_vertical = v.land_vertical, None
    _fly_to(v, dt, v.target, vertical)
    _ground_contact(v)


def pilot_descent_speed(v: Vehicle) -> float:
    """PILOT_SPEED_DN in m/s; 0 means 'same as PILOT_SPEED_UP', as in ArduCopter."""
    down = v.params["PILOT_SPEED_DN"] or v.params["PILOT_SPEED_UP"]
    return float(down) / 100.0


def _drift(v: Vehicle, dt: float) -> None:
    """Without a position estimate the copter holds altitude (or descends in LAND) and drifts."""
    wind_speed, wind_from = v.wind
    to = math.radians(wind_from + 180.0)
    descend = -_land_speed(v) if v.mode == Mode.LAND else 0.0
    _move(v, dt, wind_speed * math.cos(to), wind_speed * math.sin(to), descend)
    _ground_contact(v)


def _stopping_point(v: Vehicle) -> tuple[float, float, float]:
    accel = v.params["WPNAV_ACCEL"] / 100.0
    speed = v.ground_speed
    if speed < 0.05:
        return v.north, v.east, v.alt
    dist = speed * speed / (2 * accel)
    return v.north + v.vn / speed * dist, v.east + v.ve / speed * dist, v.alt


def max_speed(v: Vehicle) -> float:
    if v.speed_override:
        return v.speed_override
    if v.mode == Mode.RTL and v.params["RTL_SPEED"] > 0:
        return v.params["RTL_SPEED"] / 100.0
    return v.params["WPNAV_SPEED"] / 100.0


def stop_distance(speed: float, accel: float, jerk: float) -> float:
    """Distance of a jerk-limited stop from `speed` (deceleration ramps up at `jerk` to at most
    `accel` and back down: AC_WPNav's S-curve)."""
    if speed <= 0.0:
        return 0.0
    if speed >= accel * accel / jerk:
        return speed * (speed / accel + accel / jerk) / 2.0
    return speed * math.sqrt(speed / jerk)


def stop_speed(dist: float, accel: float, jerk: float) -> float:
    """The highest speed whose jerk-limited stop fits in `dist` (inverse of stop_distance)."""
    if dist <= 0.0:
        return 0.0
    if dist >= accel ** 3 / jerk ** 2:
        ramp = accel / jerk
        return (-ramp + math.sqrt(ramp * ramp + 8.0 * dist / accel)) * accel / 2.0
    return float((dist * dist * jerk) ** (1.0 / 3.0))


def _fly_to(v: Vehicle, dt: float, target: tuple[float, float, float],
            vertical: float | None = None) -> None:
    tn, te, talt = target
    dn, de = tn - v.north, te - v.east
    dist = math.hypot(dn, de)
    accel = v.params["WPNAV_ACCEL"] / 100.0
    jerk: float | None = None
    if v.mode == Mode.BRAKE:
        accel *= 3.0
    if v.mode in WPNAV_MODES and v.params["WPNAV_JERK"] > 0:
        jerk = v.params["WPNAV_JERK"]
        # plan the stop beyond the target when the copter flies through it (a corner)
        reach = dist + stop_distance(v.exit_speed, accel, jerk)
        want = min(max_speed(v), stop_speed(reach, accel, jerk)) if dist > 0.01 else 0.0
    else:
        want = min(max_speed(v), math.sqrt(2 * accel * dist) * 0.95) if dist > 0.01 else 0.0
    dvn, dve = (dn / dist * want, de / dist * want) if dist > 0.01 else (0.0, 0.0)
    accel_z = v.params["PILOT_ACCEL_Z"] / 100.0
    if v.mode in WPNAV_MODES:
        accel_z = v.params["WPNAV_ACCEL_Z"] / 100.0
    if vertical is None:
        dz = talt - v.alt
        up = v.params["WPNAV_SPEED_UP"] / 100.0
        down = v.params["WPNAV_SPEED_DN"] / 100.0
        vertical = min(up, math.sqrt(2 * accel_z * dz) * 0.95) if dz > 0 else \
            -min(down, math.sqrt(2 * accel_z * -dz) * 0.95)
    _move(v, dt, dvn, dve, vertical, accel, jerk, accel_z)


def _move(v: Vehicle, dt: float, want_n: float, want_e: float, want_u: float,
          accel: float | None = None, jerk: float | None = None,
          accel_z: float | None = None) -> None:
    """One step towards the wanted velocity: the horizontal change limited by `accel` (and, with
    `jerk`, by an acceleration that builds up at most that fast), the vertical by `accel_z`."""
    accel = accel if accel is not None else v.params["WPNAV_ACCEL"] / 100.0
    accel_z = accel_z if accel_z is not None else v.params["PILOT_ACCEL_Z"] / 100.0
    dvn, dve = want_n - v.vn, want_e - v.ve
    mag = math.hypot(dvn, dve)
    if jerk is not None:
        accel = min(accel, v.accel_h + jerk * dt)
        if math.hypot(want_n, want_e) > v.ground_speed:  # speeding up: ease into the speed
            accel = min(accel, max(math.sqrt(2.0 * jerk * mag), jerk * dt))
    limit = accel * dt
    if mag > limit:
        dvn, dve = dvn / mag * limit, dve / mag * limit
    v.accel_h = min(mag, limit) / dt
    v.vn += dvn
    v.ve += dve
    dvu = want_u - v.vu
    v.vu += max(-accel_z * dt, min(accel_z * dt, dvu))
    v.north += v.vn * dt
    v.east += v.ve * dt
    v.alt += v.vu * dt
    if v.ground_speed > 1.0:
        course = geo.bearing_deg(v.vn, v.ve)
        turn = (course - v.yaw + 540.0) % 360.0 - 180.0
        max_turn = 90.0 * dt
        v.yaw = (v.yaw + max(-max_turn, min(max_turn, turn))) % 360.0


def _ground_contact(v: Vehicle) -> None:
    if v.alt > v.ground_amsl or v.vu > 0:
        return
    impact = -v.vu
    v.alt = v.ground_amsl
    v.vn = v.ve = v.vu = 0.0
    v.landed = True
    v.target = None
    v.land_vertical = None  # a landing's descent rate must not leak into the next take-off
    v.touchdown_at = v.time
    v.say(INFO, f"SIM Hit ground at {impact:.6f} m/s")


def _landing_disarm(v: Vehicle) -> None:
    """After touching down in LAND, RTL or a mission's land/RTL item the copter disarms itself."""
    if v.touchdown_at is None:
        return
    landing_mode = v.mode in (Mode.LAND, Mode.RTL) or (v.mode == Mode.AUTO and v.runner.landing)
    if not landing_mode:
        v.touchdown_at = None  # landed in another mode: DISARM_DELAY applies (_auto_disarm)
        return
    if landing_mode and v.time - v.touchdown_at >= TOUCHDOWN_TO_DISARM_S:
        v.touchdown_at = None
        if v.mode == Mode.AUTO:
            v.runner.landed_and_disarming()
        v.disarm(force=True)


def _auto_disarm(v: Vehicle) -> None:
    """DISARM_DELAY: armed, on the ground and not taking off for that long -> disarm."""
    if not v.armed or not v.landed or v.touchdown_at is not None:
        v.armed_idle_since = None if not (v.armed and v.landed) else v.armed_idle_since
        return
    if v.armed_idle_since is None:
        v.armed_idle_since = v.time
    delay = v.params["DISARM_DELAY"]
    if delay > 0 and v.time - v.armed_idle_since >= delay:
        v.disarm(force=True)


# ---- RTL and LAND --------------------------------------------------------------------------------
def start_rtl(v: Vehicle) -> None:
    """RTL: climb to RTL_ALT (or stay higher), fly home, loiter RTL_LOIT_TIME, land, disarm."""
    home = v.home or (v.origin_lat, v.origin_lon, v.ground_amsl)
    hn, he = geo.ne_between(v.origin_lat, v.origin_lon, home[0], home[1])
    rtl_alt = max(v.params["RTL_ALT"] / 100.0, v.alt - home[2] + v.params["RTL_CLIMB_MIN"] / 100)
    v.rtl_home = (hn, he, home[2] + rtl_alt)
    v.rtl_phase = "land" if v.landed else "climb"
    v.land_target = (hn, he)


def rtl_update(v: Vehicle) -> None:
    hn, he, alt = v.rtl_home
    if v.rtl_phase == "climb":
        v.target = (v.north, v.east, alt)
        if v.alt >= alt - 0.5:
            v.rtl_phase = "return"
    if v.rtl_phase == "return":
        v.target = (hn, he, alt)
        if math.hypot(hn - v.north, he - v.east) < 2.0 and v.ground_speed < 0.5:
            v.rtl_phase = "loiter"
            v.rtl_loiter_until = v.time + v.params["RTL_LOIT_TIME"] / 1000.0
    if v.rtl_phase == "loiter":
        v.target = (hn, he, alt)
        if v.time >= v.rtl_loiter_until:
            v.rtl_phase = "final" if v.params["RTL_ALT_FINAL"] > 0 else "land"
    if v.rtl_phase == "final":
        v.target = (hn, he, v.rtl_home[2] - alt + v.params["RTL_ALT_FINAL"] / 100.0)
    if v.rtl_phase == "land":
        v.land_target = (hn, he)
        land_update(v)


def _land_speed(v: Vehicle) -> float:
    home_alt = v.home[2] if v.home else v.ground_amsl
    if v.alt - home_alt > v.params["LAND_ALT_LOW"] / 100.0:
        high = v.params["LAND_SPEED_HIGH"]
        return (high if high > 0 else v.params["WPNAV_SPEED_DN"]) / 100.0
    return v.params["LAND_SPEED"] / 100.0


def land_update(v: Vehicle) -> None:
    ln, le = v.land_target or (v.north, v.east)
    v.target = (ln, le, v.ground_amsl - 10.0)
    v.land_vertical = -_land_speed(v)


# ---- battery and failsafes -----------------------------------------------------------------------
def _battery(v: Vehicle, dt: float) -> None:
    v.consumed_mah += v.current_a() * dt / 3.6
    if not v.armed:
        return
    volts = v.battery_voltage()
    cap = v.params["BATT_CAPACITY"]
    remaining_mah = cap * v.battery_fraction()
    low = (v.params["BATT_LOW_VOLT"] > 0 and volts < v.params["BATT_LOW_VOLT"]) or (
        v.params["BATT_LOW_MAH"] > 0 and remaining_mah < v.params["BATT_LOW_MAH"])
    crit = (v.params["BATT_CRT_VOLT"] > 0 and volts < v.params["BATT_CRT_VOLT"]) or (
        v.params["BATT_CRT_MAH"] > 0 and remaining_mah < v.params["BATT_CRT_MAH"])
    level = 2 if crit else 1 if low else 0
    if level == 0:
        v.batt_low_since = None
        return
    if v.batt_low_since is None:
        v.batt_low_since = v.time
    if level <= v.batt_failsafe or v.time - v.batt_low_since < v.params["BATT_LOW_TIMER"]:
        return
    v.batt_failsafe = level
    word = "critical" if level == 2 else "low"
    v.say(WARNING, f"Battery 1 is {word} {volts:.2f}V used {v.consumed_mah:.0f} mAh")
    v.say(WARNING, "Battery Failsafe")
    action = int(v.params["BATT_FS_CRT_ACT" if level == 2 else "BATT_FS_LOW_ACT"])
    _failsafe_action(v, {1: Mode.LAND, 2: Mode.RTL, 3: Mode.RTL, 4: Mode.LAND}.get(action),
                     terminate=action == 5)


def _failsafe_action(v: Vehicle, mode: Mode | None, terminate: bool = False) -> None:
    if terminate:
        v.kill_motors()
        return
    if mode is None:
        return
    if v.landed:
        v.disarm(force=True)
        return
    if v.mode in (Mode.LAND,) or (v.mode == Mode.RTL and mode == Mode.RTL):
        return
    if v.set_mode(mode) != 0 and mode == Mode.RTL:
        v.set_mode(Mode.LAND)


def _failsafes(v: Vehicle) -> None:
    if v.landed:
        return
    # EKF: losing GPS in flight leaves no position estimate; ArduCopter lands (FS_EKF_ACTION=1).
    if not v.position_ok and not v.ekf_failsafe:
        v.ekf_failsafe = True
        v.say(CRITICAL, "EKF variance")
        if v.mode in REQUIRES_POSITION or int(v.params["FS_EKF_ACTION"]) == 3:
            action = int(v.params["FS_EKF_ACTION"])
            v.mode = Mode.ALT_HOLD if action == 2 else Mode.LAND
            v.land_target = None
    elif v.position_ok and v.ekf_failsafe:
        v.ekf_failsafe = False
        v.say(CRITICAL, "EKF failsafe cleared")
    if v.fence_enabled():
        bits = v.fence_breach_bits()
        new = bits & ~v.fence_breached
        v.fence_breached = bits
        if new:
            names = "/".join(name for bit, name in FENCE_NAMES.items() if new & bit)
            v.say(NOTICE, f"{names} fence breached")
            action = int(v.params["FENCE_ACTION"])
            if action in (1, 3, 4, 6) and v.mode not in (Mode.RTL, Mode.LAND):
                if v.set_mode(Mode.RTL) != 0:
                    v.set_mode(Mode.LAND)
            elif action == 2 and v.mode != Mode.LAND:
                v.set_mode(Mode.LAND)
        elif v.fence_breached == 0 and bits == 0:
            pass
