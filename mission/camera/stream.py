"""The footprint in the live stream: the `fp` key of each vehicle's object (docs/
telemetry-ws.md), computed by the stream's encoder once per published state and shared by
every client. Telemetry cannot compute it itself (it imports nothing from mission, and the
geometry needs the service's one Earth radius, mission/geo.py), so the runtime hands this
function to the encoder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mission.camera.footprint import footprint_of
from telemetry.state import VehicleState


def footprint_extras(state: VehicleState) -> Mapping[str, Any]:
    """`{"fp": ...}` for a drone whose camera footprint is known, nothing otherwise."""
    if state.camera is None:
        return {}
    fp = footprint_of(state)
    return {"fp": None if fp is None else fp.to_json()}
