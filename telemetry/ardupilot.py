"""ArduCopter and MAVLink numbers the link needs, with their names.

Kept in one table-only module so that state decoding, commands and tests agree on the same
numbers; everything here is checked against ArduPilot's sources and the reference traces in
/work/shared/traces.
"""

from __future__ import annotations

from typing import Final

# HEARTBEAT.custom_mode for ArduCopter (Copter's mode.h). MAVSDK's FlightMode is lossy for these
# (GUIDED reads as OFFBOARD, BRAKE as HOLD, ...), so the link decodes HEARTBEAT itself.
COPTER_MODES: Final[dict[int, str]] = {
    0: "STABILIZE",
    1: "ACRO",
    2: "ALT_HOLD",
    3: "AUTO",
    4: "GUIDED",
    5: "LOITER",
    6: "RTL",
    7: "CIRCLE",
    9: "LAND",
    11: "DRIFT",
    13: "SPORT",
    14: "FLIP",
    15: "AUTOTUNE",
    16: "POSHOLD",
    17: "BRAKE",
    18: "THROW",
    19: "AVOID_ADSB",
    20: "GUIDED_NOGPS",
    21: "SMART_RTL",
}
COPTER_MODE_NUMBERS: Final[dict[str, int]] = {name: num for num, name in COPTER_MODES.items()}


def copter_mode_name(custom_mode: int) -> str:
    """Exact ArduCopter mode name; unknown numbers read `MODE_<n>` rather than being guessed."""
    return COPTER_MODES.get(custom_mode, f"MODE_{custom_mode}")


# MAV_RESULT (COMMAND_ACK.result)
MAV_RESULT: Final[dict[int, str]] = {
    0: "ACCEPTED",
    1: "TEMPORARILY_REJECTED",
    2: "DENIED",
    3: "UNSUPPORTED",
    4: "FAILED",
    5: "IN_PROGRESS",
    6: "CANCELLED",
    7: "COMMAND_LONG_ONLY",
    8: "COMMAND_INT_ONLY",
    9: "COMMAND_UNSUPPORTED_MAV_FRAME",
}

# MAV_MISSION_RESULT (MISSION_ACK.type)
MAV_MISSION_RESULT: Final[dict[int, str]] = {
    0: "ACCEPTED",
    1: "ERROR",
    2: "UNSUPPORTED_FRAME",
    3: "UNSUPPORTED",
    4: "NO_SPACE",
    5: "INVALID",
    6: "INVALID_PARAM1",
    7: "INVALID_PARAM2",
    8: "INVALID_PARAM3",
    9: "INVALID_PARAM4",
    10: "INVALID_PARAM5_X",
    11: "INVALID_PARAM6_Y",
    12: "INVALID_PARAM7",
    13: "INVALID_SEQUENCE",
    14: "DENIED",
    15: "OPERATION_CANCELLED",
}

# MAV_SEVERITY (STATUSTEXT.severity): lower is worse.
SEVERITY_NAMES: Final[dict[int, str]] = {
    0: "emergency",
    1: "alert",
    2: "critical",
    3: "error",
    4: "warning",
    5: "notice",
    6: "info",
    7: "debug",
}
SEVERITY_WARNING: Final = 4
SEVERITY_NOTICE: Final = 5

# GPS_FIX_TYPE
GPS_FIX_NAMES: Final[dict[int, str]] = {
    0: "NO_GPS",
    1: "NO_FIX",
    2: "2D",
    3: "3D",
    4: "DGPS",
    5: "RTK_FLOAT",
    6: "RTK_FIXED",
    7: "STATIC",
    8: "PPP",
}

# MAV_LANDED_STATE (EXTENDED_SYS_STATE.landed_state)
LANDED_STATE_NAMES: Final[dict[int, str]] = {
    0: "unknown",
    1: "on_ground",
    2: "in_air",
    3: "takeoff",
    4: "landing",
}

# EKF_STATUS_REPORT.flags (ArduPilot's EKF_STATUS_FLAGS)
EKF_ATTITUDE: Final = 1
EKF_VELOCITY_HORIZ: Final = 2
EKF_VELOCITY_VERT: Final = 4
EKF_POS_HORIZ_REL: Final = 8
EKF_POS_HORIZ_ABS: Final = 16
EKF_POS_VERT_ABS: Final = 32
EKF_POS_VERT_AGL: Final = 64
EKF_CONST_POS_MODE: Final = 128
EKF_PRED_POS_HORIZ_REL: Final = 256
EKF_PRED_POS_HORIZ_ABS: Final = 512
EKF_UNINITIALIZED: Final = 1024
EKF_GPS_GLITCHING: Final = 32768
# What GUIDED/AUTO flight needs (Copter's ekf_position_ok()): attitude, horizontal velocity and an
# absolute horizontal and vertical position, not in constant-position mode.
EKF_REQUIRED: Final = EKF_ATTITUDE | EKF_VELOCITY_HORIZ | EKF_POS_HORIZ_ABS | EKF_POS_VERT_ABS
EKF_BAD: Final = EKF_CONST_POS_MODE | EKF_UNINITIALIZED | EKF_GPS_GLITCHING


def ekf_ok(flags: int) -> bool:
    """True when the EKF reports what position-controlled flight needs and nothing bad."""
    return (flags & EKF_REQUIRED) == EKF_REQUIRED and not flags & EKF_BAD


# HEARTBEAT
MAV_MODE_FLAG_SAFETY_ARMED: Final = 128
MAV_MODE_FLAG_CUSTOM_MODE_ENABLED: Final = 1
MAV_AUTOPILOT_INVALID: Final = 8
MAV_TYPE_GCS: Final = 6

# MAV_CMD numbers used by the link
MAV_CMD_NAV_WAYPOINT: Final = 16
MAV_CMD_NAV_RETURN_TO_LAUNCH: Final = 20
MAV_CMD_NAV_LAND: Final = 21
MAV_CMD_NAV_TAKEOFF: Final = 22
MAV_CMD_DO_SET_MODE: Final = 176
MAV_CMD_DO_REPOSITION: Final = 192
MAV_CMD_MISSION_START: Final = 300
MAV_CMD_DO_SET_MISSION_CURRENT: Final = 224
MAV_CMD_COMPONENT_ARM_DISARM: Final = 400
MAV_CMD_SET_MESSAGE_INTERVAL: Final = 511
# camera pointing (ArduPilot's AP_Mount: the ROI and the gimbal manager's pitch/yaw)
MAV_CMD_DO_SET_ROI_LOCATION: Final = 195
MAV_CMD_DO_SET_ROI_NONE: Final = 197
MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW: Final = 1000
GIMBAL_MANAGER_FLAGS_YAW_LOCK: Final = 16  # the yaw is a bearing (earth frame), not nose-relative
MAV_CMD_REQUEST_MESSAGE: Final = 512
MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION: Final = 5001
MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION: Final = 5002
MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION: Final = 5003
MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION: Final = 5004

MAV_CMD_NAMES: Final[dict[int, str]] = {
    16: "NAV_WAYPOINT",
    17: "NAV_LOITER_UNLIM",
    19: "NAV_LOITER_TIME",
    20: "NAV_RETURN_TO_LAUNCH",
    21: "NAV_LAND",
    22: "NAV_TAKEOFF",
    176: "DO_SET_MODE",
    178: "DO_CHANGE_SPEED",
    192: "DO_REPOSITION",
    300: "MISSION_START",
    400: "COMPONENT_ARM_DISARM",
    511: "SET_MESSAGE_INTERVAL",
    195: "DO_SET_ROI_LOCATION",
    197: "DO_SET_ROI_NONE",
    1000: "DO_GIMBAL_MANAGER_PITCHYAW",
}

# MAV_FRAME
MAV_FRAME_GLOBAL: Final = 0
MAV_FRAME_GLOBAL_RELATIVE_ALT: Final = 3
MAV_FRAME_GLOBAL_INT: Final = 5
MAV_FRAME_GLOBAL_RELATIVE_ALT_INT: Final = 6

# MAVLink message ids for SET_MESSAGE_INTERVAL requests the Telemetry plugin has no setter for.
MSG_ID: Final[dict[str, int]] = {
    "SYS_STATUS": 1,
    "GPS_RAW_INT": 24,
    "ATTITUDE": 30,
    "GLOBAL_POSITION_INT": 33,
    "MISSION_CURRENT": 42,
    "VFR_HUD": 74,
    "BATTERY_STATUS": 147,
    "EKF_STATUS_REPORT": 193,
    "HOME_POSITION": 242,
    "EXTENDED_SYS_STATE": 245,
    "ADSB_VEHICLE": 246,
    "CAMERA_FOV_STATUS": 271,
    "GIMBAL_DEVICE_ATTITUDE_STATUS": 285,
    "VIDEO_STREAM_INFORMATION": 269,
}
