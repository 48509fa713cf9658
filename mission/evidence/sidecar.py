"""The telemetry sidecar written beside each segment (`seg-NNNNN.json`, its SHA-256 in the
segment's chain link). MISB ST 0601 KLV is not used: README "Evidence" says why.

Format `nazorat-evidence-sidecar/1`, UTF-8 JSON:

    {"format": "nazorat-evidence-sidecar/1", "drone_id": 3, "recording_id": 12,
     "segment": 1, "video": "seg-00001.mp4", "start": 1765000000.0, "end": 1765000010.0,
     "samples": [
       {"t": 1765000000.2,          # Unix seconds the state was sampled (frame arrival)
        "video_s": 0.2,             # seconds from the segment's first frame (its MP4 time)
        "state_t": 1765000000.1,    # Unix seconds of the drone's state (hub's updated_at)
        "position": {"lat": .., "lon": .., "alt_amsl": .., "alt_rel": ..} | null,
        "attitude": {"roll_deg": .. | null, "pitch_deg": .. | null, "yaw_deg": .. | null},
        "ground_speed": .. | null, "mode": "AUTO", "armed": true,
        "footprint": {"centre": [lat, lon] | null, "corners": [[lat, lon] x 4]} | null}]}

A sample is taken from the TelemetryHub's latest state of the drone at the segment's first
frame and then at most every `sample_s` (default 0.5 s) of frames. Values the drone does not
report are null: `yaw_deg` is the heading; roll and pitch, and the camera footprint, come from
the state when it carries them (`footprint_of`, wired by the runtime).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from telemetry.state import VehicleState

FORMAT = "nazorat-evidence-sidecar/1"

# The camera's footprint of a state: {"centre": [lat, lon] | None, "corners": [[lat, lon], ...]}
FootprintOf = Callable[[VehicleState], Mapping[str, Any] | None]


def no_footprint(_state: VehicleState) -> None:
    return None


def sample(state: VehicleState | None, t: float, video_s: float,
           footprint_of: FootprintOf = no_footprint) -> dict[str, Any]:
    if state is None:
        return {"t": t, "video_s": round(video_s, 3), "state_t": None, "position": None,
                "attitude": None, "ground_speed": None, "mode": None, "armed": None,
                "footprint": None}
    p = state.position
    footprint = footprint_of(state)
    return {
        "t": t, "video_s": round(video_s, 3), "state_t": state.updated_at,
        "position": None if p is None else {"lat": p.lat, "lon": p.lon,
                                            "alt_amsl": p.alt_amsl, "alt_rel": state.alt_rel},
        "attitude": {"roll_deg": _number(state, "roll_deg"),
                     "pitch_deg": _number(state, "pitch_deg"), "yaw_deg": state.heading_deg},
        "ground_speed": state.ground_speed, "mode": state.mode, "armed": state.armed,
        "footprint": dict(footprint) if footprint is not None else None,
    }


def _number(state: VehicleState, name: str) -> float | None:
    value = getattr(state, name, None)
    return float(value) if isinstance(value, int | float) else None


def document(*, drone_id: int, recording_id: int, segment: int, video: str, start: float,
             end: float, samples: list[dict[str, Any]]) -> dict[str, Any]:
    return {"format": FORMAT, "drone_id": drone_id, "recording_id": recording_id,
            "segment": segment, "video": video, "start": start, "end": end,
            "samples": samples}
