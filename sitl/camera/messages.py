"""The camera's MAVLink side, sent by the autopilot (compid 1) as ArduPilot's AP_Camera/AP_Mount.

Messages: CAMERA_INFORMATION and VIDEO_STREAM_INFORMATION on MAV_CMD_REQUEST_MESSAGE;
CAMERA_FOV_STATUS and GIMBAL_DEVICE_ATTITUDE_STATUS streamed at STATUS_HZ (vehicle time).
Commands: DO_GIMBAL_MANAGER_PITCHYAW, DO_SET_ROI_LOCATION, DO_SET_ROI_NONE, each ACKed.

Where the video contract (notes-helpers/video-contract.md) and ArduPilot 4.6 differ, the contract
wins and the difference is named here: ArduPilot reports the gimbal quaternion with yaw in the
vehicle frame, this one in the earth frame (flag YAW_IN_EARTH_FRAME, delta_yaw = heading so the
vehicle frame is one subtraction away); ArduPilot sends VIDEO_STREAM_INFORMATION only when a Lua
script has filled it in, this one always has a stream; like ArduPilot, an unknown image centre
(above the horizon or over 5 km away) is INT32_MAX, and so is everything before a position fix.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from sitl import geo
from sitl.camera import geometry
from sitl.camera.gimbal import YAW_LOCK
from sitl.vehicle_consts import ACCEPTED, FAILED

if TYPE_CHECKING:
    from sitl.camera.camera import SimCamera

STATUS_HZ = 5.0
GIMBAL_DEVICE_ID = 1  # AP_Mount: mount instance + 1
UNKNOWN = 2**31 - 1  # INT32_MAX
BITRATE = 1_000_000  # the encoder's target (stream.make_encoder)
_M = mavlink
# ROLL_LOCK | PITCH_LOCK: an earth-stabilised gimbal, as AP_Mount reports a stabilised servo mount
_DEVICE_FLAGS = _M.GIMBAL_DEVICE_FLAGS_ROLL_LOCK | _M.GIMBAL_DEVICE_FLAGS_PITCH_LOCK \
    | _M.GIMBAL_DEVICE_FLAGS_YAW_IN_EARTH_FRAME
_RELATIVE_FRAMES = {3, 6, 10, 11}


def _ms(cam: SimCamera) -> int:
    return int(cam.vehicle.time * 1000) & 0xFFFFFFFF


def _text(value: str, size: int) -> list[int]:
    raw = value.encode()[:size]
    return list(raw) + [0] * (size - len(raw))


def camera_information(cam: SimCamera) -> Any:
    return mavlink.MAVLink_camera_information_message(
        _ms(cam), _text("Nazorat", 32), _text("SITL camera", 32), 0, math.nan, math.nan,
        math.nan, cam.cfg.width, cam.cfg.height, 0, mavlink.CAMERA_CAP_FLAGS_HAS_VIDEO_STREAM,
        0, b"", GIMBAL_DEVICE_ID)


def uri(cam: SimCamera) -> str:
    """QGC's convention for a UDP stream: the ground end listens on this port."""
    return f"udp://0.0.0.0:{cam.port}"


def video_stream_information(cam: SimCamera) -> Any:
    c = cam.cfg
    return mavlink.MAVLink_video_stream_information_message(
        1, 1, mavlink.VIDEO_STREAM_TYPE_RTPUDP, mavlink.VIDEO_STREAM_STATUS_FLAGS_RUNNING,
        float(c.fps), c.width, c.height, BITRATE, 0, round(c.hfov), b"sitl camera",
        uri(cam).encode(), mavlink.VIDEO_STREAM_ENCODING_H264)


def image_centre(cam: SimCamera) -> tuple[float, float] | None:
    """Lat/lon where the image centre meets flat ground at home altitude, or None."""
    v = cam.vehicle
    g = cam.gimbal
    hit = geometry.ground_point(max(cam.height_above_home(), 0.0), g.yaw, g.pitch)
    if hit is None:
        return None
    lat, lon = v.latlon
    return geo.offset(lat, lon, hit[0], hit[1])


def camera_fov_status(cam: SimCamera) -> Any:
    v = cam.vehicle
    g = cam.gimbal
    q = geometry.quaternion(g.yaw, g.pitch)
    lat_c = lon_c = alt_c = lat_i = lon_i = alt_i = UNKNOWN
    if v.position_ok:
        lat, lon = v.latlon
        lat_c, lon_c, alt_c = round(lat * 1e7), round(lon * 1e7), round(v.alt * 1000)
        centre = image_centre(cam)
        if centre is not None:
            lat_i, lon_i = round(centre[0] * 1e7), round(centre[1] * 1e7)
            alt_i = round((v.alt - cam.height_above_home()) * 1000)
    return mavlink.MAVLink_camera_fov_status_message(
        _ms(cam), lat_c, lon_c, alt_c, lat_i, lon_i, alt_i, q, cam.cfg.hfov, cam.cfg.vfov)


def gimbal_device_attitude_status(cam: SimCamera) -> Any:
    g = cam.gimbal
    flags = _DEVICE_FLAGS | (YAW_LOCK if g.target.yaw_lock or g.target.roi else 0)
    heading = math.radians(cam.vehicle.yaw)
    return mavlink.MAVLink_gimbal_device_attitude_status_message(
        0, 0, _ms(cam), flags, geometry.quaternion(g.yaw, g.pitch), math.nan, math.nan,
        math.nan, 0, heading, math.nan, GIMBAL_DEVICE_ID)


REQUESTABLE = {
    mavlink.MAVLINK_MSG_ID_CAMERA_INFORMATION: camera_information,
    mavlink.MAVLINK_MSG_ID_VIDEO_STREAM_INFORMATION: video_stream_information,
    mavlink.MAVLINK_MSG_ID_CAMERA_FOV_STATUS: camera_fov_status,
    mavlink.MAVLINK_MSG_ID_GIMBAL_DEVICE_ATTITUDE_STATUS: gimbal_device_attitude_status,
}
STREAMED = (camera_fov_status, gimbal_device_attitude_status)
STREAMED_IDS = frozenset({mavlink.MAVLINK_MSG_ID_CAMERA_FOV_STATUS,
                          mavlink.MAVLINK_MSG_ID_GIMBAL_DEVICE_ATTITUDE_STATUS})


def _ours(device_id: float) -> bool:
    return math.isnan(device_id) or int(device_id) in (0, GIMBAL_DEVICE_ID)


def _angle(value: float) -> float | None:
    return None if math.isnan(value) else value


def pitch_yaw(cam: SimCamera, p: list[float], frame: int | None) -> int:
    """MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW: param1 pitch, param2 yaw (degrees, NaN: rate
    control, which this gimbal holds still), param5 GIMBAL_MANAGER_FLAGS, param7 device id."""
    if not _ours(p[6]):
        return FAILED
    pitch, yaw = _angle(p[0]), _angle(p[1])
    flags = 0 if math.isnan(p[4]) else int(p[4])
    if (pitch is not None and abs(pitch) > 90) or (yaw is not None and abs(yaw) > 360):
        return FAILED
    cam.gimbal.point(pitch, yaw, bool(flags & YAW_LOCK))
    return ACCEPTED


def set_roi_location(cam: SimCamera, p: list[float], frame: int | None) -> int:
    """MAV_CMD_DO_SET_ROI_LOCATION: param5 lat, param6 lon, param7 alt (above home unless a
    COMMAND_INT says an absolute frame); all zero clears the ROI, as ArduPilot does."""
    lat, lon, alt = p[4], p[5], p[6]
    if lat == 0 and lon == 0 and alt == 0:
        cam.gimbal.reset()
        return ACCEPTED
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(alt):
        return FAILED
    v = cam.vehicle
    if frame is None or frame in _RELATIVE_FRAMES:
        alt += v.home[2] if v.home else v.ground_amsl
    cam.gimbal.look_at(lat, lon, alt)
    return ACCEPTED


def set_roi_none(cam: SimCamera, p: list[float], frame: int | None) -> int:
    cam.gimbal.reset()
    return ACCEPTED


COMMANDS = {
    mavlink.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW: pitch_yaw,
    mavlink.MAV_CMD_DO_SET_ROI_LOCATION: set_roi_location,
    mavlink.MAV_CMD_DO_SET_ROI_NONE: set_roi_none,
}
