"""The parameter subset the simulator honours, with ArduCopter 4.x defaults and MAVLink types.

Types follow what ArduPilot reports in PARAM_VALUE (AP_Int8 -> INT8, AP_Int16 -> INT16, ...), so a
ground station that writes a parameter with the type it read gets the same answer as from Copter.
"""

from __future__ import annotations

from dataclasses import dataclass

INT8, INT16, INT32, REAL32 = 2, 4, 6, 9

# name: (default, mavlink type)
DEFAULTS: dict[str, tuple[float, int]] = {
    "SYSID_THISMAV": (1, INT16),
    "SYSID_MYGCS": (255, INT16),
    "FORMAT_VERSION": (120, INT16),
    "ARMING_CHECK": (1, INT32),
    "DISARM_DELAY": (10, INT8),
    "WPNAV_SPEED": (1000, REAL32),
    "WPNAV_SPEED_UP": (250, REAL32),
    "WPNAV_SPEED_DN": (150, REAL32),
    "WPNAV_ACCEL": (250, REAL32),
    "WPNAV_ACCEL_Z": (100, REAL32),
    "WPNAV_JERK": (1, REAL32),
    "WPNAV_RADIUS": (200, REAL32),
    "WP_YAW_BEHAVIOR": (2, INT8),
    "PILOT_SPEED_UP": (250, INT16),
    "PILOT_SPEED_DN": (0, INT16),
    "PILOT_ACCEL_Z": (250, INT16),
    "LOIT_SPEED": (1250, REAL32),
    "CIRCLE_RADIUS": (1000, REAL32),
    "CIRCLE_RATE": (20, REAL32),
    "RTL_ALT": (1500, INT32),
    "RTL_ALT_FINAL": (0, INT16),
    "RTL_CLIMB_MIN": (0, INT16),
    "RTL_SPEED": (0, INT16),
    "RTL_LOIT_TIME": (5000, INT32),
    "RTL_CONE_SLOPE": (3, REAL32),
    "LAND_SPEED": (50, INT16),
    "LAND_SPEED_HIGH": (0, INT16),
    "LAND_ALT_LOW": (1000, INT16),
    "MOT_THST_HOVER": (0.39, REAL32),
    "FENCE_ENABLE": (0, INT8),
    "FENCE_TYPE": (7, INT8),
    "FENCE_ACTION": (1, INT8),
    "FENCE_ALT_MAX": (100, REAL32),
    "FENCE_ALT_MIN": (-10, REAL32),
    "FENCE_RADIUS": (300, REAL32),
    "FENCE_MARGIN": (2, REAL32),
    "FENCE_TOTAL": (0, INT8),
    "RALLY_TOTAL": (0, INT8),
    "RALLY_LIMIT_KM": (0.3, REAL32),
    "MIS_TOTAL": (0, INT16),
    "MIS_RESTART": (0, INT8),
    "MIS_OPTIONS": (0, INT16),
    "BATT_MONITOR": (4, INT8),
    "BATT_CAPACITY": (3300, INT32),
    "BATT_LOW_VOLT": (10.5, REAL32),
    "BATT_CRT_VOLT": (0, REAL32),
    "BATT_LOW_MAH": (0, REAL32),
    "BATT_CRT_MAH": (0, REAL32),
    "BATT_LOW_TIMER": (10, INT8),
    "BATT_FS_LOW_ACT": (0, INT8),
    "BATT_FS_CRT_ACT": (0, INT8),
    "BATT_FS_VOLTSRC": (0, INT8),
    "BATT_ARM_VOLT": (0, REAL32),
    "FS_THR_ENABLE": (1, INT8),
    "FS_GCS_ENABLE": (0, INT8),
    "FS_GCS_TIMEOUT": (5, REAL32),
    "FS_EKF_ACTION": (1, INT8),
    "FS_EKF_THRESH": (0.8, REAL32),
    "FS_CRASH_CHECK": (1, INT8),
    "FS_OPTIONS": (0, INT32),
    "EK3_SRC1_POSXY": (3, INT8),
    "AHRS_EKF_TYPE": (3, INT8),
    "FLTMODE1": (7, INT8),
    "FLTMODE2": (9, INT8),
    "FLTMODE3": (6, INT8),
    "FLTMODE4": (3, INT8),
    "FLTMODE5": (5, INT8),
    "FLTMODE6": (0, INT8),
    "STAT_RUNTIME": (0, INT32),
    "STAT_FLTTIME": (0, INT32),
    # SITL's own knobs; honoured here so fault injection written for real SITL works on both.
    "SIM_BATT_VOLTAGE": (12.6, REAL32),
    "SIM_BATT_CAP_AH": (0, REAL32),
    "SIM_GPS_DISABLE": (0, INT8),
    "SIM_WIND_SPD": (0, REAL32),
    "SIM_WIND_DIR": (180, REAL32),
    "SIM_SPEEDUP": (1, REAL32),
}

_INT_RANGES = {INT8: (-128, 127), INT16: (-32768, 32767), INT32: (-(2**31), 2**31 - 1)}


@dataclass
class Param:
    name: str
    value: float
    ptype: int
    index: int


class ParamTable:
    """Named parameters in a stable order; set() casts and clamps like AP_Param does."""

    def __init__(self, overrides: dict[str, float] | None = None) -> None:
        self._params: dict[str, Param] = {}
        for i, (name, (default, ptype)) in enumerate(DEFAULTS.items()):
            self._params[name] = Param(name, float(default), ptype, i)
        for name, value in (overrides or {}).items():
            self.set(name, value)
        self._by_index = list(self._params.values())

    def __len__(self) -> int:
        return len(self._params)

    def __getitem__(self, name: str) -> float:
        return self._params[name].value

    def get(self, name: str) -> Param | None:
        return self._params.get(name.upper())

    def by_index(self, index: int) -> Param | None:
        if 0 <= index < len(self._by_index):
            return self._by_index[index]
        return None

    def all(self) -> list[Param]:
        return list(self._by_index)

    def set(self, name: str, value: float) -> Param | None:
        """Set a known parameter; unknown names return None (ArduPilot ignores them silently)."""
        p = self._params.get(name.upper())
        if p is None:
            return None
        if p.ptype in _INT_RANGES:
            lo, hi = _INT_RANGES[p.ptype]
            value = float(max(lo, min(hi, round(value))))
        p.value = float(value)
        return p
