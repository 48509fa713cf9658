"""COMMAND_LONG / COMMAND_INT handling with the MAV_RESULT an ArduCopter 4.x answers.

Results checked against shared/traces: unknown ids -> UNSUPPORTED (3); NAV_TAKEOFF while disarmed,
arming before the EKF has a position and DO_REPOSITION outside an enabled fence -> FAILED (4);
REQUEST_MESSAGE, SET_MESSAGE_INTERVAL, DO_SET_MODE, MISSION_START and a good arm -> ACCEPTED (0).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from sitl import streams
from sitl.adsb import ADSB_ID
from sitl.camera import messages as camera_messages
from sitl.modes import Mode
from sitl.vehicle_consts import ACCEPTED, DENIED, FAILED, FORCE_MAGIC, UNSUPPORTED

if TYPE_CHECKING:
    from sitl.link import Channel, VehicleLink

Result = tuple[int, list[Any]]
_RELATIVE_FRAMES = {3, 6, 10, 11}


def execute(link: VehicleLink, ch: Channel, command: int, p: list[float],
            frame: int | None) -> Result:
    if link.camera is not None and command in camera_messages.COMMANDS:
        return camera_messages.COMMANDS[command](link.camera, p, frame), []
    handler = _COMMANDS.get(command)
    if handler is None:
        return UNSUPPORTED, []
    return handler(link, ch, p, frame)


def _arm(link: VehicleLink, ch: Channel, p: list[float], frame: int | None) -> Result:
    v = link.vehicle
    force = int(p[1]) == FORCE_MAGIC
    if p[0] == 1:
        return v.arm(force=force), []
    if p[0] == 0:
        return v.disarm(force=force), []
    return DENIED, []


def _takeoff(link: VehicleLink, ch: Channel, p: list[float], frame: int | None) -> Result:
    return link.vehicle.takeoff(p[6]), []


def _do_set_mode(link: VehicleLink, ch: Channel, p: list[float], frame: int | None) -> Result:
    if not int(p[0]) & mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED:
        return UNSUPPORTED, []
    return link.vehicle.set_mode(int(p[1])), []


def _mode_command(mode: Mode) -> Callable[[VehicleLink, Channel, list[float], int | None], Result]:
    def run(link: VehicleLink, ch: Channel, p: list[float], frame: int | None) -> Result:
        return link.vehicle.set_mode(mode), []
    return run


def _mission_start(link: VehicleLink, ch: Channel, p: list[float], frame: int | None) -> Result:
    """Copter switches to AUTO if needed and starts (or resumes) the mission."""
    v = link.vehicle
    first = int(p[0])
    if first > 0 and not v.runner.set_current(first):
        return DENIED, []
    if v.mode != Mode.AUTO and v.set_mode(Mode.AUTO) != ACCEPTED:
        return FAILED, []
    if v.armed:
        v.runner.start_or_resume()
    return ACCEPTED, []


def _reposition(link: VehicleLink, ch: Channel, p: list[float], frame: int | None) -> Result:
    v = link.vehicle
    change_mode = int(p[1]) & 1
    lat, lon, alt = p[4], p[5], p[6]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return DENIED, []
    if v.mode != Mode.GUIDED and not change_mode:
        return DENIED, []
    if frame is None or frame in _RELATIVE_FRAMES:
        alt_amsl = (v.home[2] if v.home else v.ground_amsl) + alt
    else:
        alt_amsl = alt
    if v.mode != Mode.GUIDED and v.set_mode(Mode.GUIDED) != ACCEPTED:
        return FAILED, []
    result = v.reposition(lat, lon, alt_amsl)
    if result == ACCEPTED and p[0] > 0:
        v.change_speed(p[0])
    return result, []


def _change_speed(link: VehicleLink, ch: Channel, p: list[float], frame: int | None) -> Result:
    return link.vehicle.change_speed(p[1]), []


def _set_home(link: VehicleLink, ch: Channel, p: list[float], frame: int | None) -> Result:
    v = link.vehicle
    if p[0] == 1:
        lat, lon = v.latlon
        return v.set_home(lat, lon, v.alt), []
    lat, lon, alt = p[4], p[5], p[6]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return FAILED, []
    return v.set_home(lat, lon, alt), []


def _set_message_interval(link: VehicleLink, ch: Channel, p: list[float],
                          frame: int | None) -> Result:
    msg_id, interval_us = int(p[0]), p[1]
    if link.camera is not None and msg_id in camera_messages.STREAMED_IDS:
        # ArduPilot accepts these (they are ap_messages of AP_Camera / AP_Mount); here both
        # share one rate, and "stop" (-1) keeps the contract's unasked default
        link.camera_status_hz = (min(50.0, max(0.2, 1e6 / interval_us)) if interval_us > 0
                                 else camera_messages.STATUS_HZ)
        return ACCEPTED, []
    if msg_id not in streams.BUILDERS and msg_id != ADSB_ID:
        return FAILED, []
    if interval_us == -1:
        ch.set_interval(msg_id, None, link.vehicle.time)
    elif interval_us == 0:
        default = _default_interval(msg_id)
        ch.set_interval(msg_id, default, link.vehicle.time)
    else:
        ch.set_interval(msg_id, max(interval_us / 1e6, 0.02), link.vehicle.time)
    return ACCEPTED, []


def _default_interval(msg_id: int) -> float | None:
    """With no SRn_ rates configured on SERIAL0, a message's default rate is 'not sent'."""
    return None


def _get_message_interval(link: VehicleLink, ch: Channel, p: list[float],
                          frame: int | None) -> Result:
    msg_id = int(p[0])
    interval = ch.intervals.get(msg_id)
    us = int(interval * 1e6) if interval else (-1 if msg_id in streams.BUILDERS else 0)
    return ACCEPTED, [mavlink.MAVLink_message_interval_message(msg_id, us)]


def _request_message(link: VehicleLink, ch: Channel, p: list[float], frame: int | None) -> Result:
    msg_id = int(p[0])
    if link.camera is not None and msg_id in camera_messages.REQUESTABLE:
        return ACCEPTED, [camera_messages.REQUESTABLE[msg_id](link.camera)]
    if msg_id not in streams.BUILDERS:
        return FAILED, []
    msg = streams.build(msg_id, link.vehicle)
    return ACCEPTED, [msg] if msg is not None else []


def _autopilot_capabilities(link: VehicleLink, ch: Channel, p: list[float],
                            frame: int | None) -> Result:
    return ACCEPTED, [streams.autopilot_version(link.vehicle)]


def _set_mission_current(link: VehicleLink, ch: Channel, p: list[float],
                         frame: int | None) -> Result:
    ok = link.vehicle.runner.set_current(int(p[0]))
    return (ACCEPTED, [streams.mission_current(link.vehicle)]) if ok else (DENIED, [])


def _fence_enable(link: VehicleLink, ch: Channel, p: list[float], frame: int | None) -> Result:
    if int(p[0]) not in (0, 1):
        return DENIED, []
    link.vehicle.set_param("FENCE_ENABLE", int(p[0]))
    return ACCEPTED, []


def _accept(link: VehicleLink, ch: Channel, p: list[float], frame: int | None) -> Result:
    return ACCEPTED, []


_C = mavlink
_COMMANDS: dict[int, Callable[[VehicleLink, Channel, list[float], int | None], Result]] = {
    _C.MAV_CMD_COMPONENT_ARM_DISARM: _arm,
    _C.MAV_CMD_NAV_TAKEOFF: _takeoff,
    _C.MAV_CMD_DO_SET_MODE: _do_set_mode,
    _C.MAV_CMD_NAV_RETURN_TO_LAUNCH: _mode_command(Mode.RTL),
    _C.MAV_CMD_NAV_LAND: _mode_command(Mode.LAND),
    _C.MAV_CMD_MISSION_START: _mission_start,
    _C.MAV_CMD_DO_REPOSITION: _reposition,
    _C.MAV_CMD_DO_CHANGE_SPEED: _change_speed,
    _C.MAV_CMD_DO_SET_HOME: _set_home,
    _C.MAV_CMD_SET_MESSAGE_INTERVAL: _set_message_interval,
    _C.MAV_CMD_GET_MESSAGE_INTERVAL: _get_message_interval,
    _C.MAV_CMD_REQUEST_MESSAGE: _request_message,
    _C.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES: _autopilot_capabilities,
    _C.MAV_CMD_DO_SET_MISSION_CURRENT: _set_mission_current,
    _C.MAV_CMD_DO_FENCE_ENABLE: _fence_enable,
    _C.MAV_CMD_DO_SET_ROI_NONE: _accept,  # accepted by the real vehicle in the pymavlink trace
}
