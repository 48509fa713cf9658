"""The simulated camera's MAVLink side (`python -m sitl --camera`), seen as a ground station sees
it: VIDEO_STREAM_INFORMATION / CAMERA_INFORMATION on request, CAMERA_FOV_STATUS and
GIMBAL_DEVICE_ATTITUDE_STATUS at 5 Hz, and a gimbal that obeys PITCHYAW and ROI commands, with
the image centre where the geometry puts it. Without --camera none of it exists (in-process)."""

from __future__ import annotations

import math
import socket
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from mav import MavClient, connect
from sitl import commands
from sitl.link import VehicleLink
from sitl.vehicle import Vehicle
from sitl_fleet import FleetFactory, wait_for

pytestmark = [pytest.mark.nopg, pytest.mark.timeout(90)]

SPEEDUP = 10.0
ALT = 40.0
INT32_MAX = 2**31 - 1
R = 6_378_137.0
GIMBAL = "GIMBAL_DEVICE_ATTITUDE_STATUS"
FOV = "CAMERA_FOV_STATUS"
GIMBAL_ID = mavlink.MAVLINK_MSG_ID_GIMBAL_DEVICE_ATTITUDE_STATUS


def _pitch_yaw(q: Any) -> tuple[float, float]:
    w, x, y, z = q
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, 2 * (w * y - x * z)))))
    yaw = math.degrees(math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))) % 360
    return pitch, yaw


def _ne(lat1: int, lon1: int, lat2: int, lon2: int) -> tuple[float, float]:
    """Metres north/east between two degE7 points (flat earth: fine over 100 m)."""
    north = math.radians((lat2 - lat1) / 1e7) * R
    east = math.radians((lon2 - lon1) / 1e7) * R * math.cos(math.radians(lat1 / 1e7))
    return north, east


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _gimbal_at(c: MavClient, pitch: float, yaw: float | None = None) -> Any:
    def close(m: Any) -> bool:
        p, y = _pitch_yaw(m.q)
        return abs(p - pitch) < 0.5 and (yaw is None or abs((y - yaw + 180) % 360 - 180) < 0.5)
    return c.wait(GIMBAL, close, timeout=10)


def test_camera_messages_gimbal_commands_and_footprint_centre(sim_fleet: FleetFactory) -> None:
    port = _free_udp_port()
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=2.0, extra_args=[
        "--camera", "--video-base-port", str(port), "--video-size", "320x180"])
    with connect(fleet.url(0)) as c:
        # the stream is announced where the contract says, from the autopilot component
        ack = c.request_message(mavlink.MAVLINK_MSG_ID_VIDEO_STREAM_INFORMATION)
        assert ack.accepted
        vsi = c.wait("VIDEO_STREAM_INFORMATION", timeout=5, since=0)
        assert vsi.get_srcComponent() == 1
        assert vsi.uri == f"udp://0.0.0.0:{port}"
        assert vsi.encoding == mavlink.VIDEO_STREAM_ENCODING_H264
        assert (vsi.resolution_h, vsi.resolution_v, vsi.framerate, vsi.hfov) == (320, 180, 15, 70)
        assert vsi.type == mavlink.VIDEO_STREAM_TYPE_RTPUDP
        assert c.request_message(mavlink.MAVLINK_MSG_ID_CAMERA_INFORMATION).accepted
        info = c.wait("CAMERA_INFORMATION", timeout=5, since=0)
        assert info.flags & mavlink.CAMERA_CAP_FLAGS_HAS_VIDEO_STREAM
        assert (info.resolution_h, info.resolution_v, info.gimbal_device_id) == (320, 180, 1)

        # streamed unasked at 5 Hz of vehicle time; default pitch -60, yaw follows the heading
        start = c.mark()
        while len(c.received(GIMBAL, since=start)) < 6:
            c.wait(GIMBAL, timeout=5)
        gimbal = c.received(GIMBAL, since=start)
        steps = {b.time_boot_ms - a.time_boot_ms for a, b in zip(gimbal, gimbal[1:], strict=False)}
        # 5 Hz on the 20 ms physics step (time_boot_ms is truncated: 199..201 on a step edge)
        assert all(195 <= s <= 225 for s in steps), steps
        assert len(c.received(FOV, since=start)) >= 5
        heading = math.degrees(gimbal[-1].delta_yaw) % 360
        pitch, yaw = _pitch_yaw(gimbal[-1].q)
        assert abs(pitch + 60) < 0.1 and abs((yaw - heading + 180) % 360 - 180) < 0.1
        assert gimbal[-1].flags & mavlink.GIMBAL_DEVICE_FLAGS_YAW_IN_EARTH_FRAME
        assert gimbal[-1].gimbal_device_id == 1
        # asked for at 10 Hz, as our link asks ArduPilot (which accepts both): the rate follows
        assert c.set_message_interval(mavlink.MAVLINK_MSG_ID_CAMERA_FOV_STATUS, 10.0).accepted
        assert c.set_message_interval(GIMBAL_ID, 10.0).accepted
        start = c.mark()
        while len(c.received(GIMBAL, since=start)) < 6:
            c.wait(GIMBAL, timeout=5)
        fast = c.received(GIMBAL, since=start)[1:]
        steps = {b.time_boot_ms - a.time_boot_ms for a, b in zip(fast, fast[1:], strict=False)}
        assert all(95 <= s <= 125 for s in steps), steps

        c.request_data_stream(10)
        c.set_mode("GUIDED")
        wait_for(lambda: c.arm().accepted, timeout=20, interval=0.2)
        assert c.takeoff(ALT).accepted
        c.wait("GLOBAL_POSITION_INT", lambda m: abs(m.relative_alt - ALT * 1000) < 300,
               timeout=40)

        # straight down: the image centre is under the drone, at home altitude
        ack = c.command_long(mavlink.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW, -90, 0, math.nan,
                             math.nan, 0, 0, 0)
        assert ack.accepted
        _gimbal_at(c, -90)
        fov = c.wait(FOV, timeout=5)
        north, east = _ne(fov.lat_camera, fov.lon_camera, fov.lat_image, fov.lon_image)
        assert math.hypot(north, east) < 0.5
        home_alt_mm = fov.alt_camera - round(ALT * 1000)
        assert abs(fov.alt_image - home_alt_mm) < 400
        assert abs(fov.hfov - 70) < 1e-3 and abs(fov.vfov - 2 * math.degrees(
            math.atan(math.tan(math.radians(35)) * 180 / 320))) < 1e-3

        # 45 deg down, locked to the east: the centre is as far east as the drone is high
        ack = c.command_long(mavlink.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW, -45, 90, math.nan,
                             math.nan, mavlink.GIMBAL_MANAGER_FLAGS_YAW_LOCK, 0, 0)
        assert ack.accepted
        _gimbal_at(c, -45, 90)
        fov = c.wait(FOV, timeout=5)
        height = (fov.alt_camera - fov.alt_image) / 1000
        north, east = _ne(fov.lat_camera, fov.lon_camera, fov.lat_image, fov.lon_image)
        assert abs(north) < 0.5 and abs(east - height) < 0.5, (north, east, height)

        # above the horizon: no ground under the image centre
        assert c.command_long(mavlink.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW, 10, 90, math.nan,
                              math.nan, 16, 0, 0).accepted
        _gimbal_at(c, 10)
        fov = c.wait(FOV, timeout=5)
        assert (fov.lat_image, fov.lon_image) == (INT32_MAX, INT32_MAX)

        # ROI on the ground 60 m north: the gimbal looks at it and the centre lands on it
        target_lat = fov.lat_camera + round(math.degrees(60 / R) * 1e7)
        ack = c.command_int(mavlink.MAV_CMD_DO_SET_ROI_LOCATION, x=target_lat, y=fov.lon_camera,
                            z=0.0)
        assert ack.accepted
        want = -math.degrees(math.atan2(height, 60))
        _gimbal_at(c, want, 0)
        fov = c.wait(FOV, timeout=5)
        north, east = _ne(target_lat, fov.lon_camera, fov.lat_image, fov.lon_image)
        assert math.hypot(north, east) < 1.0, (north, east)

        # ROI none: back to the default, following the heading
        assert c.command_long(mavlink.MAV_CMD_DO_SET_ROI_NONE).accepted
        _gimbal_at(c, -60)
        # a command for another gimbal device is refused
        ack = c.command_long(mavlink.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW, -30, 0, math.nan,
                             math.nan, 0, 0, 2)
        assert ack.result == mavlink.MAV_RESULT_FAILED


def test_without_camera_nothing_changes() -> None:
    v = Vehicle(0, 1, (41.3, 69.2, 455.0, 0.0), ekf_delay=2.0)
    link = VehicleLink(v)
    ch = link.add_channel("SERIAL0", start_on_connect=True)
    for msg_id in (259, 269, 271, 285):
        assert commands.execute(link, ch, 512, [msg_id, 0, 0, 0, 0, 0, 0], None) == (4, [])
    assert commands.execute(link, ch, 1000, [-90.0, 0, 0, 0, 0, 0, 0], None)[0] == 3
    assert commands.execute(link, ch, 195, [0, 0, 0, 0, 41.3, 69.2, 0], None)[0] == 3
    assert commands.execute(link, ch, 197, [0.0] * 7, None)[0] == 0  # as the trace recorded
