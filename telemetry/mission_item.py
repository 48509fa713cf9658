"""The one mission item, from the planner to the vehicle and back.

The planner builds these, a mission leg stores them (as `to_json()`), the vehicle-command port
uploads them and the read-back returns them. Pure data (no MAVSDK) so that the planner, which
must stay free of I/O, can build them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAV_FRAME_GLOBAL_RELATIVE_ALT = 3
MAV_CMD_NAV_WAYPOINT = 16


@dataclass(frozen=True)
class MissionItem:
    """One MAVLink mission item as uploaded with MISSION_ITEM_INT: degrees (rounded to 1e-7 on
    the wire), `alt` metres in `frame` (3 = relative to home), param1..4 in the MAV_CMD's own
    meaning. `seq` is its place in the vehicle's list (0 is ArduPilot's home slot); the link
    numbers what it uploads from 1 whatever `seq` says."""

    seq: int
    frame: int
    command: int
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    lat: float = 0.0
    lon: float = 0.0
    alt: float = 0.0
    current: int = 0
    autocontinue: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "frame": self.frame, "command": self.command,
                "param1": self.param1, "param2": self.param2, "param3": self.param3,
                "param4": self.param4, "lat": self.lat, "lon": self.lon, "alt": self.alt,
                "current": self.current, "autocontinue": self.autocontinue}

    @classmethod
    def from_json(cls, d: Mapping[str, Any], seq: int | None = None) -> MissionItem:
        """From `to_json()` or an API body (missing fields take their defaults)."""
        return cls(
            seq=int(d.get("seq", 0) if seq is None else seq),
            frame=int(d.get("frame", MAV_FRAME_GLOBAL_RELATIVE_ALT)),
            command=int(d.get("command", MAV_CMD_NAV_WAYPOINT)),
            param1=float(d.get("param1", 0.0)), param2=float(d.get("param2", 0.0)),
            param3=float(d.get("param3", 0.0)), param4=float(d.get("param4", 0.0)),
            lat=float(d.get("lat", 0.0)), lon=float(d.get("lon", 0.0)),
            alt=float(d.get("alt", 0.0)), current=int(d.get("current", 0)),
            autocontinue=int(bool(d.get("autocontinue", 1))),
        )
