"""ArduCopter flight-mode numbers (HEARTBEAT.custom_mode) and what each mode needs."""

from __future__ import annotations

from enum import IntEnum


class Mode(IntEnum):
    STABILIZE = 0
    ACRO = 1
    ALT_HOLD = 2
    AUTO = 3
    GUIDED = 4
    LOITER = 5
    RTL = 6
    CIRCLE = 7
    LAND = 9
    DRIFT = 11
    SPORT = 13
    FLIP = 14
    AUTOTUNE = 15
    POSHOLD = 16
    BRAKE = 17
    THROW = 18
    AVOID_ADSB = 19
    GUIDED_NOGPS = 20
    SMART_RTL = 21


# Modes this simulator flies. Others exist in ArduCopter; asking for them gets MAV_RESULT_FAILED,
# which is what a real Copter built without that mode answers.
SIMULATED = {
    Mode.STABILIZE, Mode.ALT_HOLD, Mode.AUTO, Mode.GUIDED, Mode.LOITER, Mode.RTL,
    Mode.LAND, Mode.POSHOLD, Mode.BRAKE,
}

# Mode::requires_GPS() in ArduCopter: entering these while armed needs a position estimate.
REQUIRES_POSITION = {
    Mode.AUTO, Mode.GUIDED, Mode.LOITER, Mode.RTL, Mode.POSHOLD, Mode.BRAKE, Mode.CIRCLE,
    Mode.SMART_RTL,
}

# Mode::allows_arming(): Copter refuses to arm in these (ardupilot#3232 for AUTO).
NOT_ARMABLE = {Mode.AUTO, Mode.RTL, Mode.LAND, Mode.BRAKE, Mode.SMART_RTL, Mode.CIRCLE}

# GCS_MAVLINK_Copter::base_mode() sets MAV_MODE_FLAG_GUIDED_ENABLED for these modes.
GUIDED_FLAG_MODES = {
    Mode.AUTO, Mode.RTL, Mode.LOITER, Mode.AVOID_ADSB, Mode.GUIDED, Mode.CIRCLE, Mode.POSHOLD,
    Mode.BRAKE, Mode.SMART_RTL,
}


def mode_name(number: int) -> str:
    try:
        return Mode(number).name
    except ValueError:
        return f"MODE_{number}"
