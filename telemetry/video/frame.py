"""One encoded video frame as the ingest hands it on (docs: the video contract of issue 16).

Pure data, shared by whoever produces frames (the live ingest, `VideoHub.subscribe`) and whoever
consumes them (WebRTC fan-out, the evidence recorder): nothing here decodes or re-encodes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EncodedFrame:
    data: bytes  # one H.264 access unit, Annex-B, SPS/PPS included on keyframes
    pts: int  # presentation time, 90 kHz clock
    keyframe: bool
    received_at: float  # time.time() when the ingest had the whole frame
    width: int
    height: int
