"""Synthetic camera frames: flat ground seen from the simulated pose, in YUV 4:2:0, with numpy.

Every 2 x 2 pixel block casts one ray (geometry.pixel_rays) that meets the ground at home
altitude; the ground point's world coordinates pick the pattern (10 m checkerboard, 50 m grid
lines) and the incident-like markers (a red disc in some 40 m cells, chosen by a hash of the cell
so that every drone sees the same ones), and a yellow disc where the uploaded mission stops to
look (its loiter items: the incidents a patrol was planned over). Above the horizon is sky.
Then the text of the capture time and the capture-time strip (strip.py) go on top. Everything
is whole-array arithmetic: about 2 ms for a 640 x 360 frame on one core.
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
STATION_RADIUS_M = 4.0
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
# colour of each pixel class: sky, dark square, light square, grid line, marker (red),
# neutral grey (the strip's rows, whose luma is then drawn over) and a mission station (yellow)
_LUT_Y = np.array([SKY[0], 95, 140, 230, 82, 0, 210], dtype=np.uint8)
_LUT_U = np.array([SKY[1], GROUND_U, GROUND_U, GROUND_U, 90, 128, 16], dtype=np.uint8)
_LUT_V = np.array([SKY[2], GROUND_V, GROUND_V, GROUND_V, 240, 128, 146], dtype=np.uint8)
STATION = 6


@dataclass(frozen=True)
class Pose:
    """Where the camera is and looks: metres north/east of the fleet's home, height above the
    ground (home altitude) and the gimbal's earth-frame yaw and pitch in degrees."""

    north: float
    east: float
    height: float
    yaw: float
    pitch: float
    # where the uploaded mission stops to look (its loiter items: the incidents a patrol flies
    # to), metres north/east of the fleet's home; drawn as large yellow markers
    stations: tuple[tuple[float, float], ...] = ()


class Renderer:
    def __init__(self, width: int, height: int, hfov: float = geometry.HFOV_DEG) -> None:
        if width % 16 or height % 2 or width < 16 + 2 * strip.BITS:
            raise ValueError("the frame width must be a multiple of 16 (>= 112), height even")
        self.width, self.height = width, height
        self.rays = geometry.pixel_rays(width, height, STEP, hfov).astype(np.float32)
        self.shape = (height // STEP, width // STEP)
        self._glyphs = {c: np.array([int(b) for b in bits], dtype=bool).reshape(5, 3)
                        .repeat(TEXT_SCALE, 0).repeat(TEXT_SCALE, 1)
                        for c, bits in _GLYPHS.items()}

    def frame(self, pose: Pose, millis: int) -> npt.NDArray[np.uint8]:
        """One frame as a (height * 3 / 2, width) yuv420p array (Y plane, then U, then V)."""
        d = geometry.rotation(pose.yaw, pose.pitch).astype(np.float32) @ self.rays
        down = d[2]
        ground = down > 1e-6
        t = np.float32(max(pose.height, 0.3)) / np.maximum(down, np.float32(1e-6))
        ground &= t * t * (d[0] * d[0] + d[1] * d[1]) < geometry.MAX_RANGE_M ** 2
        n = t * d[0] + np.float32(pose.north)
        e = t * d[1] + np.float32(pose.east)

        checker = np.floor(n * (1 / CHECKER_M)).astype(np.int32) \
            + np.floor(e * (1 / CHECKER_M)).astype(np.int32)
        code = ((checker & 1) + 1).astype(np.uint8)  # 1 dark square, 2 light square
        gn, ge = n * (1 / GRID_M), e * (1 / GRID_M)
        line_frac = 0.6 / GRID_M
        code[(np.abs(gn - np.round(gn)) < line_frac) | (np.abs(ge - np.round(ge)) < line_frac)] = 3
        ci = np.floor(n * (1 / MARKER_CELL_M))
        cj = np.floor(e * (1 / MARKER_CELL_M))
        h = (ci.astype(np.int32) * np.int32(73856093)) ^ (cj.astype(np.int32) * np.int32(19349663))
        mn = (ci + 0.25 + 0.5 * ((h >> 3) & 1)) * MARKER_CELL_M
        me = (cj + 0.25 + 0.5 * ((h >> 4) & 1)) * MARKER_CELL_M
        code[((h & 7) == 0) & ((n - mn) ** 2 + (e - me) ** 2 < MARKER_RADIUS_M ** 2)] = 4
        for sn, se in pose.stations:
            code[(n - np.float32(sn)) ** 2 + (e - np.float32(se)) ** 2
                 < STATION_RADIUS_M ** 2] = STATION
        code[~ground] = 0
        code = code.reshape(self.shape)
        code[:strip.ROWS // STEP] = 5  # grey under the strip: a browser reads luma from RGB

        out = np.empty((self.height * 3 // 2, self.width), dtype=np.uint8)
        luma = out[:self.height]
        h2, w2 = self.shape
        luma.reshape(h2, STEP, w2, STEP)[:] = np.take(_LUT_Y, code)[:, None, :, None]
        self._text(luma, millis)
        strip.draw(luma, millis)
        quarter = self.height // 4
        out[self.height:self.height + quarter] = np.take(_LUT_U, code).reshape(quarter, self.width)
        out[self.height + quarter:] = np.take(_LUT_V, code).reshape(quarter, self.width)
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
