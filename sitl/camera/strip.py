"""The capture-time strip: a frame's capture time drawn in its top 16 pixel rows.

The video contract (notes: video-contract.md) fixes the layout so that a browser can read it back
from a decoded `<video>` frame and measure glass-to-glass latency: integer milliseconds since the
Unix epoch, 48 bits MSB first, bit k a block x in [8 + k*bw, 8 + (k+1)*bw), y in [0, 16),
bw = (width - 16) // 48, luma 255 for 1 and 0 for 0; read at the block centre (x = 8 + k*bw +
bw//2, y = 8), bit = luma > 127. Blocks this wide survive H.264 compression at any sane bitrate.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BITS = 48
ROWS = 16
MARGIN = 8

Luma = npt.NDArray[np.uint8]


def block_width(width: int) -> int:
    bw = (width - 2 * MARGIN) // BITS
    if bw < 2:
        raise ValueError(f"a frame {width} px wide is too narrow for the capture-time strip")
    return bw


def draw(luma: Luma, millis: int) -> None:
    """Write `millis` into the top rows of a (height, width) luma plane, in place."""
    width = luma.shape[1]
    bw = block_width(width)
    bits = (millis >> np.arange(BITS - 1, -1, -1, dtype=np.int64)) & 1
    row = np.zeros(width, dtype=np.uint8)
    row[MARGIN:MARGIN + BITS * bw] = np.repeat(bits.astype(np.uint8) * 255, bw)
    luma[:ROWS, :] = row


def read(luma: Luma) -> int:
    """The capture time (ms since the epoch) drawn in a decoded luma plane."""
    bw = block_width(luma.shape[1])
    xs = MARGIN + np.arange(BITS) * bw + bw // 2
    bits = luma[ROWS // 2, xs] > 127
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value
