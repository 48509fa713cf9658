"""One simulated ArduCopter: state, flight modes, arming rules, failsafes and a kinematic airframe.

Pure and synchronous: `step(dt)` advances vehicle time by a fixed step and the MAVLink side reads
state and drains `outbox`. A fixed step in vehicle time is what makes a run deterministic whatever
the speedup. Behaviour follows ArduCopter 4.x as recorded in shared/traces (texts, ACK results,
readiness timing); where the simulator simplifies, the docstring of the method says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sitl import flight, geo
from sitl.fence import FENCE_TYPE_ALT_MAX, FENCE_TYPE_CIRCLE, FENCE_TYPE_POLYGON, FenceGeometry
from sitl.mission_items import (
    CAPACITY,
    FENCE,
    MISSION,
    NAV_LAND,
    NAV_RETURN_TO_LAUNCH,
    NAV_TAKEOFF,
    RALLY,
    Item,
    home_item,
)
from sitl.mission_runner import MissionRunner
from sitl.modes import GUIDED_FLAG_MODES, NOT_ARMABLE, REQUIRES_POSITION, SIMULATED, Mode
from sitl.params import ParamTable
from sitl.vehicle_consts import (
    ACCEPTED,
    CRITICAL,
    FAILED,
    HOVER_CURRENT_A,
    IDLE_CURRENT_A,
    INFO,
    TAKEOFF_SPOOL_S,
    WARNING,
)

# ArduCopter SITL's start-up as recorded (pymavlink trace, vehicle seconds after the first
# heartbeat): (time, severity, text). Scaled by ekf_delay/40 so a shorter EKF delay keeps the order.
_BOOT_TEXTS = [
    (0.9, INFO, "Barometer 1 calibration complete"),
    (0.9, INFO, "Barometer 2 calibration complete"),
    (1.4, INFO, "ArduPilot Ready"),
    (1.4, INFO, "AHRS: DCM active"),
    (1.7, INFO, "RC7: SaveWaypoint LOW"),
    (3.4, INFO, "EKF3 IMU0 initialised"),
    (3.4, INFO, "EKF3 IMU1 initialised"),
    (3.4, INFO, "AHRS: EKF3 active"),
    (4.8, INFO, "EKF3 IMU0 tilt alignment complete"),
    (4.8, INFO, "EKF3 IMU1 tilt alignment complete"),
    (4.9, INFO, "EKF3 IMU0 MAG0 initial yaw alignment complete"),
    (4.9, INFO, "EKF3 IMU1 MAG0 initial yaw alignment complete"),
    (8.8, INFO, "GPS 1: probing for u-blox at 230400 baud"),
    (8.8, INFO, "GPS 1: detected u-blox"),
    (19.0, INFO, "EKF3 IMU0 origin set"),
    (19.0, INFO, "Field Elevation Set: {elev}m"),
    (19.2, INFO, "EKF3 IMU1 origin set"),
    (40.4, INFO, "EKF3 IMU0 is using GPS"),
    (40.6, INFO, "EKF3 IMU1 is using GPS"),
]


@dataclass
class Boot:
    """Vehicle-time milestones of ArduCopter's start-up for a given EKF delay (40 s real)."""

    ekf_delay: float
    texts: list[tuple[float, int, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        k = self.ekf_delay / 40.4
        self.texts = [(t * k, sev, text) for t, sev, text in _BOOT_TEXTS]
        self.booting_until = 2.0 * k
        self.gps_fix_at = 9.0 * k
        self.origin_at = 19.0 * k
        self.position_at = 40.4 * k


class Vehicle:
    def __init__(self, instance: int, sysid: int, home: tuple[float, float, float, float],
                 ekf_delay: float = 40.0) -> None:
        self.instance = instance
        self.sysid = sysid  # fixed for the run: ArduPilot applies SYSID_THISMAV only at boot
        self.params = ParamTable({"SYSID_THISMAV": sysid})
        self.origin_lat, self.origin_lon, self.ground_amsl, heading = home
        self.time = 0.0
        self.boot = Boot(ekf_delay)
        self._boot_text_index = 0
        # kinematic state, local NED-ish: metres north/east of origin, altitude AMSL, velocities
        self.north = 0.0
        self.east = 0.0
        self.alt = self.ground_amsl
        self.vn = self.ve = self.vu = 0.0
        self.accel_h = 0.0  # horizontal acceleration applied last step (jerk-limited), m/s/s
        # speed the copter may still have at its target: a waypoint it flies through (corner)
        self.exit_speed = 0.0
        self.spool_until = 0.0  # a take-off waits for the motors until this vehicle time
        self.yaw = heading % 360.0
        self.armed = False
        self.mode = Mode.STABILIZE
        self.landed = True
        self.touchdown_at: float | None = None
        self.home: tuple[float, float, float] | None = None
        self.ekf_forced_ready = False
        self.gps_lost = False
        self.wind = (0.0, 0.0)  # speed m/s, direction it blows FROM, degrees
        self.consumed_mah = 0.0
        self.battery_override_pct: float | None = None
        self.batt_low_since: float | None = None
        self.batt_failsafe = 0  # 0 none, 1 low, 2 critical
        self.fence = FenceGeometry()
        self.fence_breached = 0
        self.ekf_failsafe = False
        self.armed_idle_since: float | None = None
        self.target: tuple[float, float, float] | None = None  # north, east, alt AMSL
        self.speed_override: float | None = None
        self.rtl_phase = ""
        self.rtl_loiter_until = 0.0
        self.land_target: tuple[float, float] | None = None
        self.land_vertical: float | None = None
        self.takeoff_alt: float | None = None  # GUIDED user takeoff still climbing to this AMSL
        self.rtl_home: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.missions: dict[int, list[Item]] = {MISSION: [], FENCE: [], RALLY: []}
        self.runner = MissionRunner(self)
        self.outbox: list[tuple[int, str]] = []
        self.reached_seq: int | None = None
        self.home_changed = False
        self.changed_params: list[str] = []
        self._next_prearm_report = 30.0
        self._next_stat = 30.0
        self.flight_time = 0.0

    # ---- derived state -------------------------------------------------------------------------
    @property
    def latlon(self) -> tuple[float, float]:
        return geo.offset(self.origin_lat, self.origin_lon, self.north, self.east)

    @property
    def alt_rel(self) -> float:
        home_alt = self.home[2] if self.home else self.ground_amsl
        return self.alt - home_alt

    @property
    def ground_speed(self) -> float:
        return math.hypot(self.vn, self.ve)

    @property
    def gps_fix(self) -> bool:
        return not self.gps_lost and (self.time >= self.boot.gps_fix_at or self.ekf_forced_ready)

    @property
    def origin_set(self) -> bool:
        return self.time >= self.boot.origin_at or self.ekf_forced_ready

    @property
    def position_ok(self) -> bool:
        ready = self.time >= self.boot.position_at or self.ekf_forced_ready
        return ready and not self.gps_lost

    @property
    def booting(self) -> bool:
        return self.time < self.boot.booting_until

    def battery_fraction(self) -> float:
        if self.battery_override_pct is not None:
            return max(0.0, self.battery_override_pct / 100.0)
        cap = max(1.0, self.params["BATT_CAPACITY"])
        return max(0.0, 1.0 - self.consumed_mah / cap)

    def battery_voltage(self) -> float:
        sim_v = self.params["SIM_BATT_VOLTAGE"]
        # A 3S pack sags from 12.6 V full towards 10.2 V empty; SIM_BATT_VOLTAGE scales it like
        # SITL does when a test lowers it.
        return sim_v * (10.2 + 2.4 * self.battery_fraction()) / 12.6

    def current_a(self) -> float:
        if not self.armed:
            return 0.0
        if self.landed:
            return IDLE_CURRENT_A * 10
        wind_speed = self.wind[0]
        return HOVER_CURRENT_A * (1.0 + 0.004 * self.ground_speed ** 2 + 0.003 * wind_speed ** 2
                                  + 0.05 * abs(self.vu))

    def base_mode(self) -> int:
        flags = 1 | 16 | 64  # CUSTOM_MODE_ENABLED | STABILIZE_ENABLED | MANUAL_INPUT_ENABLED
        # The traces show GUIDED_ENABLED on disarmed GUIDED/LAND and on boot, and not on disarmed
        # AUTO/RTL/STABILIZE, while armed position modes always carry it.
        if self.booting or (self.armed and self.mode in GUIDED_FLAG_MODES) or (
                not self.armed and self.mode in (Mode.GUIDED, Mode.LAND)):
            flags |= 8
        if self.armed:
            flags |= 128
        return flags

    def system_status(self) -> int:
        if self.booting:
            return 1  # BOOT
        if self.batt_failsafe or self.ekf_failsafe:
            return 5  # CRITICAL
        if self.armed and not self.landed:
            return 4  # ACTIVE
        return 3  # STANDBY

    # ---- outputs -------------------------------------------------------------------------------
    def say(self, severity: int, text: str) -> None:
        self.outbox.append((severity, text[:50]))

    def reached(self, seq: int) -> None:
        """MISSION_ITEM_REACHED is latched, so items finishing in one tick report only the last."""
        self.reached_seq = seq

    def set_param(self, name: str, value: float) -> bool:
        p = self.params.set(name, value)
        if p is None:
            return False
        self.changed_params.append(p.name)
        if p.name == "SIM_GPS_DISABLE":
            self.gps_lost = bool(p.value)
        elif p.name in ("SIM_WIND_SPD", "SIM_WIND_DIR"):
            self.wind = (self.params["SIM_WIND_SPD"], self.params["SIM_WIND_DIR"])
        return True

    # ---- commands ------------------------------------------------------------------------------
    def arming_failure(self) -> str | None:
        """The first failing pre-arm check, worded as ArduCopter words it, or None."""
        if self.params["ARMING_CHECK"] == 0:
            return None
        if not self.origin_set:
            return "AHRS: waiting for home"
        if self.mode in REQUIRES_POSITION and not self.position_ok:
            return "Need Position Estimate"
        if self.batt_failsafe:
            return "Battery failsafe"
        arm_volt = self.params["BATT_ARM_VOLT"]
        if arm_volt > 0 and self.battery_voltage() < arm_volt:
            return "Battery 1 below minimum arming voltage"
        if self.params["FENCE_ENABLE"] and self.fence_breach_bits() and self.position_ok:
            return "Fence: vehicle outside fence"
        return None

    def arm(self, force: bool = False) -> int:
        if self.armed:
            return ACCEPTED
        if self.mode in NOT_ARMABLE and not force:
            self.say(CRITICAL, "Arm: Mode not armable")
            return FAILED
        failure = None if force else self.arming_failure()
        if failure:
            self.say(CRITICAL, f"Arm: {failure}")
            return FAILED
        self.armed = True
        self.landed = True
        self.armed_idle_since = self.time
        lat, lon = self.latlon
        self.home = (lat, lon, self.alt)
        self.home_changed = True
        self.say(INFO, "Arming motors")
        return ACCEPTED

    def disarm(self, force: bool = False, reason: str = "") -> int:
        if not self.armed:
            return ACCEPTED
        if not self.landed and not force:
            return FAILED
        self.armed = False
        self.armed_idle_since = None
        self.target = None
        self.say(INFO, "Disarming motors")
        return ACCEPTED

    def set_mode(self, mode_number: int, from_failsafe: bool = False) -> int:
        try:
            mode = Mode(mode_number)
        except ValueError:
            return FAILED
        if mode not in SIMULATED:
            return FAILED
        if mode == self.mode:
            return ACCEPTED
        if self.armed and mode in REQUIRES_POSITION and not self.position_ok:
            self.say(WARNING, f"Mode change to {mode.name} failed: requires position")
            return FAILED
        if mode == Mode.AUTO and not self.runner.can_enter(self.armed and self.landed):
            return FAILED
        self._leave_mode()
        self.mode = mode
        self._enter_mode()
        return ACCEPTED

    def _leave_mode(self) -> None:
        self.takeoff_alt = None
        if self.mode == Mode.AUTO:
            self.runner.pause()
        self.speed_override = None if self.mode != Mode.AUTO else self.speed_override

    def _enter_mode(self) -> None:
        here = (self.north, self.east, self.alt)
        if self.mode in (Mode.GUIDED, Mode.LOITER, Mode.BRAKE, Mode.POSHOLD, Mode.ALT_HOLD):
            self.target = None if self.landed else here
        elif self.mode == Mode.RTL:
            self.start_rtl()
        elif self.mode == Mode.LAND:
            self.land_target = (self.north, self.east)
        elif self.mode == Mode.AUTO:
            self.speed_override = None
            if self.armed and not self.landed:
                self.runner.start_or_resume()

    def landed_state(self) -> int:
        """MAV_LANDED_STATE as GCS_MAVLINK_Copter::landed_state derives it (mavsdk trace:
        on ground, takeoff, in air, landing, on ground)."""
        if self.landed or self.time < self.spool_until:
            return 1  # ON_GROUND (mavsdk trace: TAKEOFF only once the copter lifts, 3.4 s on)
        nav = self.runner.nav if self.mode == Mode.AUTO else None
        rtl_landing = self.rtl_phase == "land"
        if (self.mode == Mode.LAND or (self.mode == Mode.RTL and rtl_landing) or (
                nav is not None and (nav.command == NAV_LAND or (
                    nav.command == NAV_RETURN_TO_LAUNCH and rtl_landing)))):
            return 4  # LANDING
        if nav is not None and nav.command == NAV_TAKEOFF:
            return 3  # TAKEOFF
        if self.mode == Mode.GUIDED and self.takeoff_alt is not None:
            if self.alt < self.takeoff_alt - 0.3:
                return 3
            self.takeoff_alt = None
        return 2  # IN_AIR

    def takeoff(self, alt_rel: float) -> int:
        """MAV_CMD_NAV_TAKEOFF: only in GUIDED, armed, and on the ground (Mode::do_user_takeoff)."""
        if not self.armed or self.mode != Mode.GUIDED or not self.landed or alt_rel <= 0:
            return FAILED
        home_alt = self.home[2] if self.home else self.ground_amsl
        self.target = (self.north, self.east, home_alt + alt_rel)
        self.takeoff_alt = home_alt + alt_rel
        self.land_vertical = None
        self.landed = False
        self.touchdown_at = None
        self.spool_until = self.time + TAKEOFF_SPOOL_S
        return ACCEPTED

    def reposition(self, lat: float, lon: float, alt_amsl: float | None) -> int:
        """Fly to a point in GUIDED; refused (FAILED) when the point breaks an enabled fence."""
        alt = self.alt if alt_amsl is None else alt_amsl
        if not self.destination_in_fence(lat, lon, alt):
            return FAILED
        n, e = geo.ne_between(self.origin_lat, self.origin_lon, lat, lon)
        self.target = (n, e, alt)
        self.takeoff_alt = None
        return ACCEPTED

    def change_speed(self, speed: float) -> int:
        if speed <= 0:
            return FAILED
        self.speed_override = speed
        return ACCEPTED

    def set_home(self, lat: float, lon: float, alt_amsl: float) -> int:
        self.home = (lat, lon, alt_amsl)
        self.home_changed = True
        return ACCEPTED

    def kill_motors(self) -> None:
        self.armed = False
        self.target = None

    # ---- fence -------------------------------------------------------------------------------
    def fence_enabled(self) -> bool:
        return bool(self.params["FENCE_ENABLE"])

    def destination_in_fence(self, lat: float, lon: float, alt_amsl: float) -> bool:
        if not self.fence_enabled():
            return True
        return self.fence_breach_bits(lat, lon, alt_amsl) == 0

    def fence_breach_bits(self, lat: float | None = None, lon: float | None = None,
                          alt_amsl: float | None = None) -> int:
        if lat is None or lon is None:
            lat, lon = self.latlon
        alt = self.alt if alt_amsl is None else alt_amsl
        home = self.home or (self.origin_lat, self.origin_lon, self.ground_amsl)
        ftype = int(self.params["FENCE_TYPE"])
        bits = 0
        if ftype & FENCE_TYPE_ALT_MAX and alt - home[2] > self.params["FENCE_ALT_MAX"]:
            bits |= FENCE_TYPE_ALT_MAX
        if ftype & FENCE_TYPE_CIRCLE and geo.distance(home[0], home[1], lat, lon) > \
                self.params["FENCE_RADIUS"]:
            bits |= FENCE_TYPE_CIRCLE
        if ftype & FENCE_TYPE_POLYGON and not self.fence.inside_polygons(lat, lon):
            bits |= FENCE_TYPE_POLYGON
        return bits

    def store_mission(self, mission_type: int, items: list[Item]) -> None:
        if mission_type == MISSION:
            self.runner.mission_changed(items)
        self.missions[mission_type] = items

    def capacity(self, mission_type: int) -> int:
        return CAPACITY[mission_type]

    def home_item(self) -> Item:
        home = self.home or (self.origin_lat, self.origin_lon, self.ground_amsl)
        return home_item(*home)

    # ---- per-tick behaviour lives in sitl.flight; kept apart so each file reads in one sitting --
    def step(self, dt: float) -> None:
        flight.step(self, dt)

    def start_rtl(self) -> None:
        flight.start_rtl(self)
