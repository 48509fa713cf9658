"""The mission items Nazorat puts on (or accepts for) a multicopter: an allow-list of MAV_CMDs
and MAV_FRAMEs, and the reason anything else is refused.

Why an allow-list: the no-fly and altitude checks can only judge items whose flight they
understand. An item they cannot model (a VTOL transition, a plane's glide, a mode change or a
hand-over to a companion computer in the middle of a mission) would let the vehicle fly where
no check looked, so it is refused instead of passed through.

Where the list comes from: the mission commands ArduCopter executes in AUTO (ModeAuto's
start_command in ArduCopter/mode_auto.cpp) and stores (AP_Mission::mavlink_int_to_mission_cmd in
libraries/AP_Mission/AP_Mission.cpp), narrowed to what Nazorat's planner sends and what common
ground stations write for a copter survey or patrol. Frames follow AP_Mission too: for commands
with a location, MAV_FRAME_GLOBAL (0), MAV_FRAME_MISSION (2) and MAV_FRAME_GLOBAL_INT (5) are
stored as *absolute* (AMSL) altitudes, GLOBAL_RELATIVE_ALT (3, 6) as metres above home, and the
terrain frames (10, 11) as metres above terrain. Nazorat has no terrain model, so terrain frames
are refused unless the caller says terrain is configured (and then resolves them itself).

Deliberately left out although ArduCopter flies them: NAV_SPLINE_WAYPOINT (82, a curve that
can bulge beyond its waypoints), NAV_GUIDED_ENABLE (92, the path is then
the companion computer's), NAV_PAYLOAD_PLACE (94), DO_SET_MODE (176) and DO_LAND_START (189)
(they change what the vehicle does next outside the mission), DO_PARACHUTE (208, drops the
vehicle wherever it is), DO_REPOSITION (192) and the fence items (5001-5004, mission type FENCE,
not MISSION). Pure data and functions: no FastAPI, no database.
"""

from __future__ import annotations

from typing import Final

# -- commands the vehicle flies (it moves, or holds where it is) ----------------------------
NAV_WAYPOINT: Final = 16
NAV_LOITER_UNLIM: Final = 17
NAV_LOITER_TURNS: Final = 18
NAV_LOITER_TIME: Final = 19
NAV_RETURN_TO_LAUNCH: Final = 20
NAV_LAND: Final = 21
NAV_TAKEOFF: Final = 22
NAV_DELAY: Final = 93
# -- commands run alongside (no movement of their own, or they move the RTL point) ----------
CONDITION_DELAY: Final = 112
CONDITION_DISTANCE: Final = 114
CONDITION_YAW: Final = 115
DO_JUMP: Final = 177
DO_CHANGE_SPEED: Final = 178
DO_SET_HOME: Final = 179
DO_SET_RELAY: Final = 181
DO_REPEAT_RELAY: Final = 182
DO_SET_SERVO: Final = 183
DO_REPEAT_SERVO: Final = 184
DO_SET_ROI: Final = 201
DO_DIGICAM_CONFIGURE: Final = 202
DO_DIGICAM_CONTROL: Final = 203
DO_MOUNT_CONTROL: Final = 205
DO_SET_CAM_TRIGG_DIST: Final = 206

ALLOWED_COMMANDS: Final[dict[int, str]] = {
    NAV_WAYPOINT: "NAV_WAYPOINT",
    NAV_LOITER_UNLIM: "NAV_LOITER_UNLIM",
    NAV_LOITER_TURNS: "NAV_LOITER_TURNS",
    NAV_LOITER_TIME: "NAV_LOITER_TIME",
    NAV_RETURN_TO_LAUNCH: "NAV_RETURN_TO_LAUNCH",
    NAV_LAND: "NAV_LAND",
    NAV_TAKEOFF: "NAV_TAKEOFF",
    NAV_DELAY: "NAV_DELAY",
    CONDITION_DELAY: "CONDITION_DELAY",
    CONDITION_DISTANCE: "CONDITION_DISTANCE",
    CONDITION_YAW: "CONDITION_YAW",
    DO_JUMP: "DO_JUMP",
    DO_CHANGE_SPEED: "DO_CHANGE_SPEED",
    DO_SET_HOME: "DO_SET_HOME",
    DO_SET_RELAY: "DO_SET_RELAY",
    DO_REPEAT_RELAY: "DO_REPEAT_RELAY",
    DO_SET_SERVO: "DO_SET_SERVO",
    DO_REPEAT_SERVO: "DO_REPEAT_SERVO",
    DO_SET_ROI: "DO_SET_ROI",
    DO_DIGICAM_CONFIGURE: "DO_DIGICAM_CONFIGURE",
    DO_DIGICAM_CONTROL: "DO_DIGICAM_CONTROL",
    DO_MOUNT_CONTROL: "DO_MOUNT_CONTROL",
    DO_SET_CAM_TRIGG_DIST: "DO_SET_CAM_TRIGG_DIST",
}

# Commands with a flown location (x = lat, y = lon, z = alt in the item's frame). A zero lat/lon
# means "where the vehicle is" (ArduCopter), a zero altitude "the altitude it is at".
FLOWN_LOCATION: Final = frozenset({
    NAV_WAYPOINT, NAV_LOITER_UNLIM, NAV_LOITER_TURNS, NAV_LOITER_TIME, NAV_LAND, NAV_TAKEOFF,
})
# Commands whose x/y/z are a location that is not flown to (checked for range and ceiling only,
# except DO_SET_HOME, which moves the point RTL flies to).
OTHER_LOCATION: Final = frozenset({DO_SET_HOME, DO_SET_ROI})
# Commands whose x/y are not a location at all (camera settings).
XY_NOT_LOCATION: Final = frozenset({DO_DIGICAM_CONFIGURE, DO_DIGICAM_CONTROL})

# Well-known commands a copter must not be given, with the reason (clearer than "not allowed").
REFUSED_COMMANDS: Final[dict[int, str]] = {
    30: "NAV_CONTINUE_AND_CHANGE_ALT is a plane command",
    31: "NAV_LOITER_TO_ALT is a plane command",
    83: "NAV_ALTITUDE_WAIT is a plane/balloon command",
    82: "NAV_SPLINE_WAYPOINT flies a curve that the no-fly check does not model",
    84: "NAV_VTOL_TAKEOFF is a VTOL (QuadPlane) command",
    85: "NAV_VTOL_LAND is a VTOL (QuadPlane) command",
    92: "NAV_GUIDED_ENABLE hands the path to a companion computer, which no check can judge",
    94: "NAV_PAYLOAD_PLACE is not flown by Nazorat",
    176: "DO_SET_MODE would leave the checked mission",
    189: "DO_LAND_START starts a landing sequence outside the checked path",
    191: "DO_GO_AROUND is a plane command",
    192: "DO_REPOSITION is a command, not a mission item",
    208: "DO_PARACHUTE drops the vehicle wherever it is",
    210: "DO_INVERTED_FLIGHT is a plane command",
    213: "DO_AUTOTUNE_ENABLE is a plane command",
    3000: "DO_VTOL_TRANSITION is a VTOL (QuadPlane) command",
    5001: "fence vertices belong to the FENCE mission type",
    5002: "fence vertices belong to the FENCE mission type",
    5003: "fence circles belong to the FENCE mission type",
    5004: "fence circles belong to the FENCE mission type",
    5100: "rally points belong to the RALLY mission type",
    42006: "soaring commands are for gliders",
    42600: "winch commands are not flown by Nazorat",
}

FRAME_GLOBAL: Final = 0
FRAME_MISSION: Final = 2
FRAME_GLOBAL_RELATIVE_ALT: Final = 3
FRAME_GLOBAL_INT: Final = 5
FRAME_GLOBAL_RELATIVE_ALT_INT: Final = 6
FRAME_GLOBAL_TERRAIN_ALT: Final = 10
FRAME_GLOBAL_TERRAIN_ALT_INT: Final = 11

# AP_Mission stores MAV_FRAME_MISSION like MAV_FRAME_GLOBAL: an altitude above mean sea level.
ABSOLUTE_FRAMES: Final = frozenset({FRAME_GLOBAL, FRAME_MISSION, FRAME_GLOBAL_INT})
RELATIVE_FRAMES: Final = frozenset({FRAME_GLOBAL_RELATIVE_ALT, FRAME_GLOBAL_RELATIVE_ALT_INT})
TERRAIN_FRAMES: Final = frozenset({FRAME_GLOBAL_TERRAIN_ALT, FRAME_GLOBAL_TERRAIN_ALT_INT})
FRAME_NAMES: Final[dict[int, str]] = {
    FRAME_GLOBAL: "GLOBAL", FRAME_MISSION: "MISSION",
    FRAME_GLOBAL_RELATIVE_ALT: "GLOBAL_RELATIVE_ALT", FRAME_GLOBAL_INT: "GLOBAL_INT",
    FRAME_GLOBAL_RELATIVE_ALT_INT: "GLOBAL_RELATIVE_ALT_INT",
    FRAME_GLOBAL_TERRAIN_ALT: "GLOBAL_TERRAIN_ALT",
    FRAME_GLOBAL_TERRAIN_ALT_INT: "GLOBAL_TERRAIN_ALT_INT",
}


def command_name(command: int) -> str:
    """`NAV_WAYPOINT (16)`, or `MAV_CMD 84` for a number outside the allow-list."""
    name = ALLOWED_COMMANDS.get(command)
    return f"{name} ({command})" if name else f"MAV_CMD {command}"


def frame_name(frame: int) -> str:
    name = FRAME_NAMES.get(frame)
    return f"{name} ({frame})" if name else f"MAV_FRAME {frame}"


def command_problem(command: int) -> str | None:
    """Why a copter mission must not hold this command; None when it is on the allow-list."""
    if command in ALLOWED_COMMANDS:
        return None
    why = REFUSED_COMMANDS.get(command)
    if why is not None:
        return f"MAV_CMD {command} refused: {why}"
    return (f"MAV_CMD {command} is not a command Nazorat flies on a multicopter "
            f"(allowed: {', '.join(str(c) for c in ALLOWED_COMMANDS)})")


def frame_problem(command: int, frame: int, *, terrain: bool = False) -> str | None:
    """Why this frame is refused for this command; None when it is allowed.

    Only commands with a location use their frame (AP_Mission ignores it on the others), but a
    frame outside the list is refused on every item so that no reader has to know that."""
    if frame in ABSOLUTE_FRAMES or frame in RELATIVE_FRAMES:
        return None
    if frame in TERRAIN_FRAMES:
        if terrain:
            return None
        return (f"{frame_name(frame)} is above terrain, and Nazorat has no terrain model to "
                f"resolve it to metres above home ({command_name(command)})")
    return f"{frame_name(frame)} is not a frame Nazorat accepts for {command_name(command)}"


def item_problem(index: int, command: int, frame: int, *, terrain: bool = False) -> str | None:
    """The refusal for one item (`items[index]`) naming it and its command; None if allowed."""
    why = command_problem(command) or frame_problem(command, frame, terrain=terrain)
    return None if why is None else f"items[{index}]: {why}"
