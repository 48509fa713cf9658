"""Synthetic camera frames: flat ground seen from the simulated pose, in YUV 4:2:0, with numpy.

Every 2 x 2 pixel block casts one ray (geometry.pixel_rays) that meets the ground at home
altitude; the ground point's world coordinates pick the pattern (10 m checkerboard, 50 m grid
lines) and the incident-like markers (a red disc in some 40 m cells, chosen by a hash of the cell
so that every drone sees the same ones). Above the horizon is sky. Then the text of the capture
time and the capture-time strip (strip.py) go on top. Everything is whole-array arithmetic: about
2 ms for a 640 x 360 frame on one core.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sitl.camera import geometry, strip

STEP = 2  # pixels per ray along each axis; also the 4:2:0 chroma subsampling
CHECKER_M = 10.0
GRID_M = 50.0
MARKER_CELL_M = 40.0
MARKER_RADIUS_M = 2.5
SKY = (190, 140, 110)  # Y, U, V: pale blue
GROUND_U, GROUND_V = 112, 118  # greenish grey

# 3 x 5 glyphs for the time text, one string of rows per character
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111",
    "3": "111001111001111", "4": "101101111001001", "5": "111100111001111",
    "6": "111100111101111", "7": "111001001001001", "8": "111101111101111",
    "9": "111101111001111", ":": "000010000010000", ".": "000000000000010",
    " ": "000000000000000",
}
TEXT_SCALE = 3


@dataclass(frozen=True)
class Pose:
    """Where the camera is and looks: metres north/east of the fleet's home, height above the
    ground (home altitude) and the gimbal's earth-frame yaw and pitch in degrees."""

    north: float
    east: float
    height: float
    yaw: float
    pitch: float


class Renderer:
    def __init__(self, width: int, height: int, hfov: float = geometry.HFOV_DEG) -> None:
        if width % 16 or height % 2 or width < 16 + 2 * strip.BITS:
            raise ValueError("the frame width must be a multiple of 16 (>= 112), height even")
        self.width, self.height = width, height
        self.rays = geometry.pixel_rays(width, height, STEP, hfov)
        self.shape = (height // STEP, width // STEP)
        self._glyphs = {c: np.array([int(b) for b in bits], dtype=bool).reshape(5, 3)
                        .repeat(TEXT_SCALE, 0).repeat(TEXT_SCALE, 1)
                        for c, bits in _GLYPHS.items()}

    def frame(self, pose: Pose, millis: int) -> npt.NDArray[np.uint8]:
        """One frame as a (height * 3 / 2, width) yuv420p array (Y plane, then U, then V)."""
        d = geometry.rotation(pose.yaw, pose.pitch) @ self.rays
        down = d[2]
        ground = down > 1e-6
        t = np.where(ground, max(pose.height, 0.3) / np.where(ground, down, 1.0), 0.0)
        ground &= t * np.hypot(d[0], d[1]) < geometry.MAX_RANGE_M
        n = pose.north + t * d[0]
        e = pose.east + t * d[1]

        checker = (np.floor(n / CHECKER_M) + np.floor(e / CHECKER_M)) % 2
        y_half = 95.0 + 45.0 * checker
        line = (np.abs(n - GRID_M * np.round(n / GRID_M)) < 0.6) | \
               (np.abs(e - GRID_M * np.round(e / GRID_M)) < 0.6)
        y_half = np.where(line, 230.0, y_half)
        ci, cj = np.floor(n / MARKER_CELL_M), np.floor(e / MARKER_CELL_M)
        h = (ci.astype(np.int64) * 73856093) ^ (cj.astype(np.int64) * 19349663)
        has_marker = (h & 7) == 0
        mn = (ci + 0.25 + 0.5 * ((h >> 3) & 1)) * MARKER_CELL_M
        me = (cj + 0.25 + 0.5 * ((h >> 4) & 1)) * MARKER_CELL_M
        marker = has_marker & ((n - mn) ** 2 + (e - me) ** 2 < MARKER_RADIUS_M ** 2) & ground
        y_half = np.where(marker, 82.0, y_half)

        y_half = np.where(ground, y_half, SKY[0]).reshape(self.shape).astype(np.uint8)
        u = np.where(ground, GROUND_U, SKY[1])
        v = np.where(ground, GROUND_V, SKY[2])
        u = np.where(marker, 90, u).reshape(self.shape)
        v = np.where(marker, 240, v).reshape(self.shape)

        out = np.empty((self.height * 3 // 2, self.width), dtype=np.uint8)
        luma = out[:self.height]
        luma[:] = y_half.repeat(STEP, 0).repeat(STEP, 1)
        self._text(luma, millis)
        strip.draw(luma, millis)
        quarter = self.height // 4
        out[self.height:self.height + quarter] = u.reshape(quarter, self.width)
        out[self.height + quarter:] = v.reshape(quarter, self.width)
        return out

    def _text(self, luma: npt.NDArray[np.uint8], millis: int) -> None:
        """The capture time, UTC, as HH:MM:SS.mmm under the strip (for people; the strip is
        for machines)."""
        text = time.strftime("%H:%M:%S", time.gmtime(millis / 1000)) + f".{millis % 1000:03d}"
        x, y = 8, strip.ROWS + 6
        gh, gw = 5 * TEXT_SCALE, 3 * TEXT_SCALE
        luma[y - 2:y + gh + 2, x - 2:x + len(text) * (gw + TEXT_SCALE) + 2] = 0
        for c in text:
            block = luma[y:y + gh, x:x + gw]
            block[self._glyphs[c]] = 255
            x += gw + TEXT_SCALE
