"""Pinhole camera pointed by an earth-frame gimbal, over flat ground.

Shared by the renderer (every pixel's ray) and CAMERA_FOV_STATUS (the image centre and corners),
so that what the picture shows and what the drone reports agree by construction. Frames: the
camera looks along +x, +y is image right and +z image down; NED is north, east, down. The gimbal
is earth-stabilised (no roll), so the camera's orientation is yaw then pitch only.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

HFOV_DEG = 70.0
MAX_RANGE_M = 5000.0  # a ray meeting the ground further than this counts as horizon

Floats = npt.NDArray[np.float64]


def vfov_deg(width: int, height: int, hfov: float = HFOV_DEG) -> float:
    """Vertical field of view of square pixels at this aspect ratio."""
    return math.degrees(2 * math.atan(math.tan(math.radians(hfov) / 2) * height / width))


def rotation(yaw_deg: float, pitch_deg: float) -> Floats:
    """Camera frame -> NED: Rz(yaw) @ Ry(pitch), pitch positive up."""
    cy, sy = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    cp, sp = math.cos(math.radians(pitch_deg)), math.sin(math.radians(pitch_deg))
    rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    result: Floats = rz @ ry
    return result


def quaternion(yaw_deg: float, pitch_deg: float) -> list[float]:
    """The same rotation as a MAVLink quaternion [w, x, y, z] (earth frame, roll 0)."""
    hy, hp = math.radians(yaw_deg) / 2, math.radians(pitch_deg) / 2
    return [math.cos(hy) * math.cos(hp), -math.sin(hy) * math.sin(hp),
            math.cos(hy) * math.sin(hp), math.sin(hy) * math.cos(hp)]


def ground_point(height_m: float, yaw_deg: float, pitch_deg: float,
                 right: float = 0.0, down: float = 0.0) -> tuple[float, float] | None:
    """Metres north/east from the camera to where the ray through the image point (right, down;
    tangent-plane units, 0, 0 = centre) meets flat ground `height_m` below; None above the
    horizon or beyond MAX_RANGE_M."""
    d = rotation(yaw_deg, pitch_deg) @ np.array([1.0, right, down])
    if d[2] <= 1e-9:
        return None
    t = height_m / d[2]
    if t * math.hypot(d[0], d[1]) > MAX_RANGE_M:
        return None
    return float(t * d[0]), float(t * d[1])


def pixel_rays(width: int, height: int, step: int, hfov: float = HFOV_DEG) -> Floats:
    """(3, N) camera-frame rays through the centres of step x step pixel blocks, row-major."""
    f = (width / 2) / math.tan(math.radians(hfov) / 2)
    xs = (np.arange(0, width, step) + step / 2 - width / 2) / f
    ys = (np.arange(0, height, step) + step / 2 - height / 2) / f
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([np.ones(gx.size), gx.ravel(), gy.ravel()])
