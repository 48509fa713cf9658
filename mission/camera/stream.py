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


def footprint_record(state: VehicleState) -> Mapping[str, Any] | None:
    """The footprint as an evidence sidecar keeps it (mission/evidence/sidecar.py): corners
    and centre as [lat, lon], whether clipped, and where it came from."""
    if state.camera is None:
        return None
    fp = footprint_of(state)
    if fp is None:
        return None
    return {"corners": [[lat, lon] for lat, lon in fp.corners],
            "centre": None if fp.centre is None else [fp.centre[0], fp.centre[1]],
            "clipped": fp.clipped, "source": fp.source}
