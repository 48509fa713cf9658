"""One encoded video frame as every consumer of the video hub sees it (WebRTC, recordings).

Pure data, no PyAV: the evidence recorder and the WebRTC sender take the bytes as they are
(no re-encode), so what a court verifies is what the drone sent."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EncodedFrame:
    """One H.264 access unit, Annex-B, SPS/PPS included on keyframes."""

    data: bytes
    pts: int  # 90 kHz, from the stream's RTP timestamps
    keyframe: bool
    received_at: float  # time.time() when the service had the whole access unit
    width: int
    height: int
