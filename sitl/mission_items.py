"""Mission items as the vehicle stores them, and the MAVLink enums the mission protocol needs."""

from __future__ import annotations

from dataclasses import dataclass, replace

# MAV_MISSION_TYPE
MISSION, FENCE, RALLY = 0, 1, 2
# Storage capacity per type (ArduPilot SITL's storage gives roughly this many of each).
CAPACITY = {MISSION: 700, FENCE: 84, RALLY: 10}

# MAV_MISSION_RESULT
ACCEPTED, ERROR, UNSUPPORTED_FRAME, UNSUPPORTED, NO_SPACE, INVALID = 0, 1, 2, 3, 4, 5
INVALID_PARAM1, INVALID_PARAM5_X, INVALID_PARAM6_Y, INVALID_PARAM7 = 6, 10, 11, 12
INVALID_SEQUENCE, DENIED, OPERATION_CANCELLED = 13, 14, 15

# MAV_FRAME values a copter mission accepts
FRAME_GLOBAL, FRAME_MISSION, FRAME_GLOBAL_RELATIVE_ALT = 0, 2, 3
FRAME_GLOBAL_INT, FRAME_GLOBAL_RELATIVE_ALT_INT = 5, 6
FRAME_GLOBAL_TERRAIN_ALT, FRAME_GLOBAL_TERRAIN_ALT_INT = 10, 11
ACCEPTED_FRAMES = {
    FRAME_GLOBAL, FRAME_MISSION, FRAME_GLOBAL_RELATIVE_ALT, FRAME_GLOBAL_INT,
    FRAME_GLOBAL_RELATIVE_ALT_INT, FRAME_GLOBAL_TERRAIN_ALT, FRAME_GLOBAL_TERRAIN_ALT_INT,
}
ABSOLUTE_FRAMES = {FRAME_GLOBAL, FRAME_GLOBAL_INT}

# MAV_CMD values the simulator executes in AUTO, with the names AP_Mission prints ("Mission: 3 WP").
NAV_WAYPOINT, NAV_LOITER_UNLIM, NAV_LOITER_TURNS, NAV_LOITER_TIME = 16, 17, 18, 19
NAV_RETURN_TO_LAUNCH, NAV_LAND, NAV_TAKEOFF, NAV_DELAY = 20, 21, 22, 93
DO_JUMP, DO_CHANGE_SPEED, DO_SET_HOME = 177, 178, 179
CONDITION_DELAY = 112
NAV_COMMANDS = {
    NAV_WAYPOINT, NAV_LOITER_UNLIM, NAV_LOITER_TURNS, NAV_LOITER_TIME, NAV_RETURN_TO_LAUNCH,
    NAV_LAND, NAV_TAKEOFF, NAV_DELAY,
}
COMMAND_NAMES = {
    NAV_WAYPOINT: "WP", NAV_LOITER_UNLIM: "LoitUnlim", NAV_LOITER_TURNS: "LoitTurns",
    NAV_LOITER_TIME: "LoitTime", NAV_RETURN_TO_LAUNCH: "RTL", NAV_LAND: "Land",
    NAV_TAKEOFF: "Takeoff", NAV_DELAY: "Delay", DO_JUMP: "Jump", DO_CHANGE_SPEED: "ChangeSpeed",
    DO_SET_HOME: "SetHome", CONDITION_DELAY: "CondDelay",
    183: "SetServo", 184: "RepeatServo", 181: "SetRelay", 182: "RepeatRelay",
    201: "SetROI", 195: "SetROI", 206: "CamTrigDistance", 203: "DigiCamControl",
    205: "MountControl", 2000: "ImageStartCapture", 2001: "ImageStopCapture",
}
# Commands a Copter mission may hold (anything else is refused with MAV_MISSION_UNSUPPORTED).
MISSION_COMMANDS = set(COMMAND_NAMES) | {194, 197, 207, 211, 212, 222, 223, 3000}
FENCE_COMMANDS = {5000, 5001, 5002, 5003, 5004}
RALLY_COMMANDS = {5100}


@dataclass(frozen=True)
class Item:
    """One stored item; x/y are degrees*1e7 for global frames so read-back is bit-exact."""

    seq: int
    frame: int
    command: int
    current: int
    autocontinue: int
    param1: float
    param2: float
    param3: float
    param4: float
    x: int
    y: int
    z: float
    mission_type: int = MISSION

    @property
    def lat(self) -> float:
        return self.x / 1e7

    @property
    def lon(self) -> float:
        return self.y / 1e7

    def with_seq(self, seq: int) -> Item:
        return replace(self, seq=seq)


def home_item(lat: float, lon: float, alt_amsl: float) -> Item:
    return Item(0, FRAME_GLOBAL, NAV_WAYPOINT, 0, 1, 0.0, 0.0, 0.0, 0.0,
                round(lat * 1e7), round(lon * 1e7), alt_amsl, MISSION)


# Mission commands AP_Mission stores with a location; the others keep their parameters in the
# same union, so a read-back gives frame 0 (MAV_FRAME_GLOBAL) and x = y = z = 0, as the traces show
# for NAV_RETURN_TO_LAUNCH and DO_CHANGE_SPEED sent with frame 3.
LOCATION_COMMANDS = (NAV_COMMANDS - {NAV_RETURN_TO_LAUNCH, NAV_DELAY}) | {DO_SET_HOME, 195, 201}


def stored_form(item: Item) -> Item:
    """The item as AP_Mission keeps it, hence as a download returns it."""
    if item.mission_type != MISSION or item.command in LOCATION_COMMANDS:
        return item
    return replace(item, frame=FRAME_GLOBAL, x=0, y=0, z=0.0)


def validate(item: Item) -> int:
    """MAV_MISSION_RESULT for one incoming item, checked the way AP_Mission checks it."""
    allowed = {MISSION: MISSION_COMMANDS, FENCE: FENCE_COMMANDS, RALLY: RALLY_COMMANDS}
    if item.command not in allowed.get(item.mission_type, set()):
        return UNSUPPORTED
    if item.frame not in ACCEPTED_FRAMES:
        return UNSUPPORTED_FRAME
    has_location = item.command in NAV_COMMANDS | FENCE_COMMANDS | RALLY_COMMANDS | {DO_SET_HOME}
    if has_location:
        if not -900_000_000 <= item.x <= 900_000_000:
            return INVALID_PARAM5_X
        if not -1_800_000_000 <= item.y <= 1_800_000_000:
            return INVALID_PARAM6_Y
        if abs(item.z) > 83_000:
            return INVALID_PARAM7
    return ACCEPTED
