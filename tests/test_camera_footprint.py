"""The camera footprint geometry (mission/camera/footprint.py) for attitudes whose answer is
known by hand, the CAMERA_FOV_STATUS path against the gimbal path, and the property that a
camera looking down has its image centre inside its footprint."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mission.camera.footprint import (
    MAX_RANGE_M,
    footprint_of,
    ground_footprint,
    polygon_contains,
)
from mission.geo import M_PER_DEG_LAT, haversine_m, m_per_deg_lon
from telemetry.state import CameraState, GeoPoint, VehicleState

pytestmark = pytest.mark.nopg

LAT, LON = 41.311, 69.279


def ne(lat: float, lon: float) -> tuple[float, float]:
    """Metres north and east of (LAT, LON)."""
    return (lat - LAT) * M_PER_DEG_LAT, (lon - LON) * m_per_deg_lon(LAT)


def test_straight_down_is_a_rectangle_centred_under_the_drone() -> None:
    fp = ground_footprint(LAT, LON, 100.0, 0.0, -90.0, 0.0, 70.0, 40.0)
    assert fp is not None and not fp.clipped
    pts = [ne(*c) for c in fp.corners]
    half_w, half_h = 100 * math.tan(math.radians(35)), 100 * math.tan(math.radians(20))
    # image top to the north (yaw 0), right to the east: a 140 m by 73 m rectangle
    expected = [(half_h, -half_w), (half_h, half_w), (-half_h, half_w), (-half_h, -half_w)]
    for (n, e), (en, ee) in zip(pts, expected, strict=True):
        assert n == pytest.approx(en, abs=0.01) and e == pytest.approx(ee, abs=0.01)
    assert pts[1][1] - pts[0][1] == pytest.approx(2 * 100 * math.tan(math.radians(35)), abs=0.01)
    assert fp.centre is not None and ne(*fp.centre) == pytest.approx((0.0, 0.0), abs=1e-6)


@pytest.mark.parametrize("heading", [0.0, 90.0, 200.0, 315.0])
def test_pitch_minus_45_puts_the_centre_100_m_ahead_along_the_heading(heading: float) -> None:
    fp = ground_footprint(LAT, LON, 100.0, 0.0, -45.0, heading, 70.0, 40.0)
    assert fp is not None and fp.centre is not None
    n, e = ne(*fp.centre)
    assert math.hypot(n, e) == pytest.approx(100.0, abs=0.01)
    assert math.degrees(math.atan2(e, n)) % 360 == pytest.approx(heading, abs=0.01)
    # a trapezium: the far edge (image top) wider than the near one, both across the heading
    tl, tr, br, bl = (ne(*c) for c in fp.corners)
    assert math.dist(tl, tr) > math.dist(bl, br) > 0
    assert fp.contains(*fp.centre)


def test_corners_above_the_horizon_are_clipped_at_the_range_limit() -> None:
    # pitch -10 with a 40 degree vertical field: the image top is 10 degrees above the horizon
    fp = ground_footprint(LAT, LON, 100.0, 0.0, -10.0, 0.0, 70.0, 40.0)
    assert fp is not None and fp.clipped
    top = [haversine_m(LAT, LON, *c) for c in fp.corners[:2]]
    assert top == pytest.approx([MAX_RANGE_M, MAX_RANGE_M], rel=1e-3)
    bottom = [ne(*c)[0] for c in fp.corners[2:]]  # 30 degrees down: 100/tan(30) = 173 m ahead
    assert bottom == pytest.approx([100 / math.tan(math.radians(30))] * 2, abs=0.01)
    # the centre, 10 degrees down, meets the ground 567 m ahead: beyond the limit
    assert fp.centre is not None and haversine_m(LAT, LON, *fp.centre) == pytest.approx(
        MAX_RANGE_M, rel=1e-3)
    # looking up: no centre at all
    up = ground_footprint(LAT, LON, 100.0, 0.0, 5.0, 0.0, 70.0, 40.0)
    assert up is not None and up.centre is None


def test_on_the_ground_there_is_no_footprint() -> None:
    assert ground_footprint(LAT, LON, 0.0, 0.0, -90.0, 0.0, 70.0, 40.0) is None


def _state(**camera: object) -> VehicleState:
    return VehicleState(vehicle_id=1, sysid=1, position=GeoPoint(LAT, LON, 550.0),
                        home=GeoPoint(LAT, LON, 450.0), alt_rel=100.0, heading_deg=90.0,
                        camera=CameraState(**camera), updated_at=1000.0)  # type: ignore[arg-type]


def test_fov_status_and_gimbal_paths_agree_and_stale_data_gives_none() -> None:
    # pitch -45 on a bearing of 90: q = yaw 90 then pitch -45
    cy, sy, cp, sp = math.cos(math.pi / 4), math.sin(math.pi / 4), math.cos(-math.pi / 8), \
        math.sin(-math.pi / 8)
    q = (cy * cp, -sy * sp, cy * sp, sy * cp)
    via_fov = footprint_of(_state(hfov_deg=70.0, vfov_deg=40.0, fov_q=q, fov_time=999.0))
    via_gimbal = footprint_of(_state(hfov_deg=70.0, vfov_deg=40.0, gimbal_pitch_deg=-45.0,
                                     gimbal_yaw_deg=90.0, gimbal_roll_deg=0.0,
                                     gimbal_time=999.0))
    assert via_fov is not None and via_gimbal is not None
    assert via_fov.source == "fov_status" and via_gimbal.source == "gimbal"
    for a, b in zip(via_fov.corners, via_gimbal.corners, strict=True):
        assert haversine_m(*a, *b) < 0.01
    assert via_gimbal.centre is not None
    assert ne(*via_gimbal.centre) == pytest.approx((0.0, 100.0), abs=0.01)
    # the autopilot's own image centre is kept as it says
    said = footprint_of(_state(hfov_deg=70.0, vfov_deg=40.0, fov_q=q, fov_time=999.0,
                               centre=(LAT, LON + 0.001)))
    assert said is not None and said.centre == (LAT, LON + 0.001)
    # a camera quiet for longer than the staleness limit has no footprint
    assert footprint_of(_state(hfov_deg=70.0, vfov_deg=40.0, gimbal_pitch_deg=-45.0,
                               gimbal_yaw_deg=90.0, gimbal_time=990.0)) is None
    # nor one whose field of view was never reported
    assert footprint_of(_state(gimbal_pitch_deg=-45.0, gimbal_yaw_deg=90.0,
                               gimbal_time=999.0)) is None


def test_polygon_contains() -> None:
    square = ((LAT + 0.001, LON - 0.001), (LAT + 0.001, LON + 0.001),
              (LAT - 0.001, LON + 0.001), (LAT - 0.001, LON - 0.001))
    assert polygon_contains(square, LAT, LON)
    assert not polygon_contains(square, LAT + 0.002, LON)
    assert not polygon_contains(square, LAT, LON - 0.0011)


@settings(max_examples=300, deadline=None)
@given(height=st.floats(2.0, 400.0), roll=st.floats(-15.0, 15.0),
       pitch=st.floats(-90.0, -10.0), yaw=st.floats(0.0, 360.0),
       hfov=st.floats(5.0, 100.0), vfov=st.floats(5.0, 80.0))
def test_looking_down_the_centre_is_inside_the_footprint(
        height: float, roll: float, pitch: float, yaw: float, hfov: float,
        vfov: float) -> None:
    """Looking down (the whole image below the horizon, within range) the footprint is the
    image's perspective projection, a convex quadrilateral, and the image centre is inside."""
    fp = ground_footprint(LAT, LON, height, roll, pitch, yaw, hfov, vfov,
                          max_range_m=1e6)
    assert fp is not None
    assume(not fp.clipped)
    assert fp.centre is not None
    assert fp.contains(*fp.centre)
    # and with the default range limit, every corner is within it of the drone
    near = ground_footprint(LAT, LON, height, roll, pitch, yaw, hfov, vfov)
    assert near is not None
    assert all(haversine_m(LAT, LON, *c) <= MAX_RANGE_M * 1.001 for c in near.corners)
