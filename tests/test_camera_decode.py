"""CAMERA_FOV_STATUS and GIMBAL_DEVICE_ATTITUDE_STATUS decoded into the vehicle state (MAVLink
field names and units, as MavlinkDirect hands them), carried whole over the bus and in the
live stream's vehicle object."""

from __future__ import annotations

import json
import math

import pytest

from mission.camera.stream import footprint_extras
from telemetry import buscodec as codec
from telemetry.decode import INT32_MAX, VehicleDecoder
from telemetry.state import GeoPoint, LinkState, VehicleState
from telemetry.stream import StateEncoder

pytestmark = pytest.mark.nopg


def _q(roll: float, pitch: float, yaw: float) -> list[float]:
    """MAVLink's quaternion (w, x, y, z) of Z-Y-X Euler angles in degrees."""
    r, p, y = (math.radians(a) / 2 for a in (roll, pitch, yaw))
    cr, sr, cp, sp, cy, sy = math.cos(r), math.sin(r), math.cos(p), math.sin(p), \
        math.cos(y), math.sin(y)
    return [cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy,
            cr * sp * cy + sr * cp * sy, cr * cp * sy - sr * sp * cy]


def _decoder() -> VehicleDecoder:
    return VehicleDecoder(VehicleState(vehicle_id=1, sysid=1, link=LinkState.UP,
                                       position=GeoPoint(41.3, 69.2, 550.0),
                                       home=GeoPoint(41.3, 69.2, 450.0), heading_deg=30.0))


def test_gimbal_attitude_in_earth_and_vehicle_frames() -> None:
    d = _decoder()
    st, _ = d.apply([("GIMBAL_DEVICE_ATTITUDE_STATUS",
                      {"flags": 64, "q": _q(0, -60, 200), "time_boot_ms": 5})], now=10.0)
    assert st is not None and st.camera is not None
    assert st.camera.gimbal_pitch_deg == pytest.approx(-60.0)
    assert st.camera.gimbal_yaw_deg == pytest.approx(200.0)
    assert st.camera.gimbal_time == 10.0 and st.camera.hfov_deg is None
    # yaw relative to the nose: a bearing with the vehicle's heading (30 + 20)
    st, _ = d.apply([("GIMBAL_DEVICE_ATTITUDE_STATUS", {"flags": 32, "q": _q(0, -45, 20)})],
                    now=11.0)
    assert st is not None and st.camera is not None
    assert st.camera.gimbal_yaw_deg == pytest.approx(50.0)
    # legacy flags: YAW_LOCK alone means earth frame
    st, _ = d.apply([("GIMBAL_DEVICE_ATTITUDE_STATUS", {"flags": 16, "q": _q(0, -45, 20)})],
                    now=12.0)
    assert st is not None and st.camera is not None
    assert st.camera.gimbal_yaw_deg == pytest.approx(20.0)
    # a NaN quaternion (attitude unknown) changes nothing
    st, _ = d.apply([("GIMBAL_DEVICE_ATTITUDE_STATUS", {"flags": 64, "q": [math.nan] * 4})])
    assert st is None


def test_camera_fov_status_and_the_round_trip() -> None:
    d = _decoder()
    fields = {"lat_camera": 413000000, "lon_camera": 692000000, "alt_camera": 550000,
              "lat_image": 413008000, "lon_image": 692000000, "alt_image": 450000,
              "q": _q(0, -50, 0), "hfov": 70.0, "vfov": 43.0, "time_boot_ms": 7}
    st, _ = d.apply([("CAMERA_FOV_STATUS", fields)], now=20.0)
    assert st is not None and st.camera is not None
    cam = st.camera
    assert (cam.hfov_deg, cam.vfov_deg, cam.fov_time) == (70.0, 43.0, 20.0)
    assert cam.centre == (41.3008, 69.2) and cam.camera_position == GeoPoint(41.3, 69.2, 550.0)
    assert cam.fov_q is not None and cam.fov_q[0] == pytest.approx(math.cos(math.radians(25)))
    # the bus carries the camera whole
    assert codec.state_from_wire(json.loads(codec.dumps(codec.state_to_wire(st)))) == st
    # the stream: what the drone says (`cam`) and the footprint (`fp`), the autopilot's centre
    v = json.loads(StateEncoder(extras=footprint_extras).vehicle_json(st))
    assert v["cam"]["hfov"] == 70.0 and v["cam"]["ctr"] == [41.3008, 69.2]
    assert v["fp"]["src"] == "fov_status" and v["fp"]["ctr"] == [41.3008, 69.2]
    assert len(v["fp"]["c"]) == 4 and not v["fp"]["clip"]
    # the image centre above the horizon: MAVLink's INT32_MAX, no centre
    st, _ = d.apply([("CAMERA_FOV_STATUS", {**fields, "lat_image": INT32_MAX,
                                            "lon_image": INT32_MAX})], now=21.0)
    assert st is not None and st.camera is not None and st.camera.centre is None
    # a drone without a camera: no `cam`, no `fp` key
    plain = json.loads(StateEncoder(extras=footprint_extras).vehicle_json(
        VehicleState(vehicle_id=2, sysid=2)))
    assert plain["cam"] is None and "fp" not in plain
