"""Where a drone's camera looks on the ground: the image's four corners and its centre, over
flat ground at the drone's home altitude. Pure (no I/O, no clock): the live stream draws it,
the mission lifecycle asks whether a target was inside it.

Two sources, in this order:
- CAMERA_FOV_STATUS (the autopilot's own view: camera position, orientation quaternion,
  horizontal and vertical field of view, and the image centre on the ground), when fresh;
- otherwise the drone's position, the gimbal's attitude (GIMBAL_DEVICE_ATTITUDE_STATUS: roll
  and pitch relative to the horizon, yaw as a bearing once the decoder has applied the heading)
  and the last field of view the drone reported. The vehicle's own roll and pitch do not enter:
  MAVLink defines the gimbal's roll and pitch against the horizon, i.e. already stabilised.

Each corner is the ray through that corner of the image (camera axes: x forward, y right,
z down; the image spans +-tan(hfov/2) by +-tan(vfov/2)) turned into north-east-down axes and
intersected with the ground plane. A ray at or above the horizon never meets the ground, and
one just below it meets the ground kilometres away, where the flat-ground assumption is wrong
(terrain, buildings) and the camera resolves nothing (with a 70 degree lens on 640 pixels one
pixel is 1.1 m wide at 500 m): such a corner is put at `max_range_m` along its bearing
(`clipped`). Without that clip a drone looking at the horizon would "see" an incident 10 km
away and mark it observed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mission.geo import M_PER_DEG_LAT, m_per_deg_lon
from telemetry.state import VehicleState

MAX_RANGE_M = 500.0
# Camera messages older than this (against the state's own time) are a camera gone quiet.
CAMERA_STALE_S = 3.0
MIN_HEIGHT_M = 0.5  # below this the camera is on the ground: no footprint

LatLon = tuple[float, float]
Matrix = tuple[tuple[float, float, float], tuple[float, float, float],
               tuple[float, float, float]]
Source = Literal["fov_status", "gimbal"]


@dataclass(frozen=True)
class Footprint:
    """The image on the ground: `corners` (lat, lon) top-left, top-right, bottom-right,
    bottom-left of the image; `centre` where the image centre meets the ground (None above the
    horizon); `clipped` when a corner was above the horizon or beyond the range limit."""

    corners: tuple[LatLon, LatLon, LatLon, LatLon]
    centre: LatLon | None
    clipped: bool
    source: Source

    def contains(self, lat: float, lon: float) -> bool:
        return polygon_contains(self.corners, lat, lon)

    def to_json(self) -> dict[str, object]:
        """The stream's `fp` object (docs/telemetry-ws.md)."""
        return {"c": [[round(a, 7), round(b, 7)] for a, b in self.corners],
                "ctr": None if self.centre is None else [round(self.centre[0], 7),
                                                         round(self.centre[1], 7)],
                "clip": self.clipped, "src": self.source}


def euler_matrix(roll_deg: float, pitch_deg: float, yaw_deg: float) -> Matrix:
    """Camera axes -> north-east-down, aerospace Z-Y-X (yaw, then pitch, then roll)."""
    r, p, y = (math.radians(a) for a in (roll_deg, pitch_deg, yaw_deg))
    cr, sr, cp, sp, cy, sy = (math.cos(r), math.sin(r), math.cos(p), math.sin(p),
                              math.cos(y), math.sin(y))
    return ((cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr),
            (sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr),
            (-sp, cp * sr, cp * cr))


def quaternion_matrix(q: Sequence[float]) -> Matrix:
    """The same rotation from a unit quaternion (w, x, y, z), MAVLink's order."""
    w, x, y, z = q
    return ((1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)),
            (2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)),
            (2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)))


def _ground(m: Matrix, u: float, v: float, height_m: float,
            max_range_m: float) -> tuple[float, float, bool] | None:
    """Where the ray through image point (1, u, v) meets the ground, as metres (north, east)
    from below the camera, and whether it was clipped; None when it points straight up."""
    dn = m[0][0] + m[0][1] * u + m[0][2] * v
    de = m[1][0] + m[1][1] * u + m[1][2] * v
    dd = m[2][0] + m[2][1] * u + m[2][2] * v
    horiz = math.hypot(dn, de)
    if dd > 1e-9:
        t = height_m / dd
        if t * horiz <= max_range_m:
            return t * dn, t * de, False
    if horiz < 1e-9:
        return None
    return max_range_m * dn / horiz, max_range_m * de / horiz, True


def project(m: Matrix, lat: float, lon: float, height_m: float, hfov_deg: float,
            vfov_deg: float, *, max_range_m: float = MAX_RANGE_M,
            source: Source = "gimbal") -> Footprint | None:
    """The footprint of a camera at (lat, lon), `height_m` above flat ground, oriented by `m`
    (camera axes to north-east-down); None on the ground or for a field of view of none."""
    if not (height_m >= MIN_HEIGHT_M and 0 < hfov_deg < 180 and 0 < vfov_deg < 180):
        return None
    tu, tv = math.tan(math.radians(hfov_deg) / 2), math.tan(math.radians(vfov_deg) / 2)
    mlon = m_per_deg_lon(lat)

    def geo(ne: tuple[float, float]) -> LatLon:
        return lat + ne[0] / M_PER_DEG_LAT, lon + ne[1] / mlon

    corners: list[LatLon] = []
    clipped = False
    for u, v in ((-tu, -tv), (tu, -tv), (tu, tv), (-tu, tv)):
        hit = _ground(m, u, v, height_m, max_range_m)
        if hit is None:  # straight up: the corner says nothing about the ground
            hit = (0.0, 0.0, True)
        clipped = clipped or hit[2]
        corners.append(geo((hit[0], hit[1])))
    c = _ground(m, 0.0, 0.0, height_m, max_range_m)
    below = m[2][0] > 1e-9  # the image centre points below the horizon
    centre = geo((c[0], c[1])) if c is not None and below else None
    return Footprint((corners[0], corners[1], corners[2], corners[3]), centre, clipped, source)


def ground_footprint(lat: float, lon: float, height_m: float, roll_deg: float,
                     pitch_deg: float, yaw_deg: float, hfov_deg: float, vfov_deg: float, *,
                     max_range_m: float = MAX_RANGE_M) -> Footprint | None:
    """The footprint from Euler angles (degrees, earth frame: pitch -90 looks straight down,
    yaw a bearing from north)."""
    return project(euler_matrix(roll_deg, pitch_deg, yaw_deg), lat, lon, height_m, hfov_deg,
                   vfov_deg, max_range_m=max_range_m)


def footprint_of(state: VehicleState, *, max_range_m: float = MAX_RANGE_M,
                 stale_s: float = CAMERA_STALE_S) -> Footprint | None:
    """The footprint of the drone's camera as its state reports it, or None: no camera, a
    camera gone quiet for `stale_s`, no position or home, no field of view, on the ground."""
    cam = state.camera
    if cam is None or cam.hfov_deg is None or cam.vfov_deg is None:
        return None
    now = state.updated_at
    ground = _ground_amsl(state)
    if ground is None:
        return None
    if cam.fov_q is not None and cam.fov_time is not None and now - cam.fov_time <= stale_s:
        where = cam.camera_position or state.position
        if where is None:
            return None
        fp = project(quaternion_matrix(cam.fov_q), where.lat, where.lon,
                     where.alt_amsl - ground, cam.hfov_deg, cam.vfov_deg,
                     max_range_m=max_range_m, source="fov_status")
        if fp is not None and cam.centre is not None:  # the autopilot's own centre wins
            fp = Footprint(fp.corners, cam.centre, fp.clipped, fp.source)
        return fp
    if cam.gimbal_time is None or now - cam.gimbal_time > stale_s or state.position is None \
            or cam.gimbal_pitch_deg is None or cam.gimbal_yaw_deg is None:
        return None
    pos = state.position
    return ground_footprint(pos.lat, pos.lon, pos.alt_amsl - ground, cam.gimbal_roll_deg or 0.0,
                            cam.gimbal_pitch_deg, cam.gimbal_yaw_deg, cam.hfov_deg,
                            cam.vfov_deg, max_range_m=max_range_m)


def _ground_amsl(state: VehicleState) -> float | None:
    """The flat ground's altitude (m AMSL): home's, else where the drone took off from."""
    if state.home is not None:
        return state.home.alt_amsl
    if state.position is not None and state.alt_rel is not None:
        return state.position.alt_amsl - state.alt_rel
    return None


def polygon_contains(corners: Sequence[LatLon], lat: float, lon: float) -> bool:
    """Whether (lat, lon) is inside the polygon `corners` (even-odd rule, in metres about the
    point: a footprint spans hundreds of metres, where a flat frame is exact enough)."""
    mlon = m_per_deg_lon(lat)
    pts = [((b - lon) * mlon, (a - lat) * M_PER_DEG_LAT) for a, b in corners]
    inside = False
    n = len(pts)
    for i in range(n):
        (x1, y1), (x2, y2) = pts[i], pts[(i + 1) % n]
        if (y1 > 0) != (y2 > 0):
            x = x1 + (0 - y1) * (x2 - x1) / (y2 - y1)
            if x > 0:
                inside = not inside
    return inside
