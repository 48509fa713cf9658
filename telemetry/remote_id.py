"""Remote ID, the ground station's part: the operator's location and ID to every drone.

Regulators require a drone's Remote ID broadcast to carry where its operator is; ArduPilot
configured for Remote ID gets it from the ground station (`OPEN_DRONE_ID_SYSTEM`, which must
keep arriving) and refuses to arm without it, saying so in `OPEN_DRONE_ID_ARM_STATUS` (decoded
into the vehicle state by telemetry/decode.py). The link sends both messages once a second to
every linked drone while it has an operator location: the configured fixed one, else the one a
console last sent (`OperatorSource`), while that is fresh. Field meanings are MAVLink's common
dialect.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# OPEN_DRONE_ID timestamps count seconds from 2019-01-01 00:00:00 UTC
EPOCH_2019 = datetime(2019, 1, 1, tzinfo=UTC).timestamp()
LOCATION_LIVE_GNSS = 1  # MAV_ODID_OPERATOR_LOCATION_TYPE_LIVE_GNSS
LOCATION_FIXED = 2  # MAV_ODID_OPERATOR_LOCATION_TYPE_FIXED
DEFAULT_CONSOLE_STALE_S = 30.0
CLASSIFICATION_EU = 1
ID_TYPE_CAA = 0  # MAV_ODID_OPERATOR_ID_TYPE_CAA
UNKNOWN_LIMIT = -1000.0  # area ceiling/floor "unknown"


@dataclass(frozen=True)
class OperatorInfo:
    """Where the operator is (fixed: the control centre) and the operator's registration ID."""

    lat: float
    lon: float
    alt_m: float | None  # None: unknown (sent as -1000)
    operator_id: str = ""
    location_type: int = LOCATION_FIXED

    @classmethod
    def parse(cls, location: str, operator_id: str = "") -> OperatorInfo | None:
        """`lat,lon,alt` (degrees, metres AMSL); None when empty; ValueError naming the
        variable otherwise."""
        if not location.strip():
            return None
        try:
            lat, lon, alt = (float(x) for x in location.split(","))
        except ValueError:
            raise ValueError("NAZORAT_REMOTE_ID_OPERATOR_LOCATION: expected lat,lon,alt, not "
                             f"{location!r}") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError("NAZORAT_REMOTE_ID_OPERATOR_LOCATION: not a WGS84 position")
        check_operator_id(operator_id)
        return cls(lat, lon, alt, operator_id)


def check_operator_id(operator_id: str) -> None:
    if len(operator_id) > 20 or not operator_id.isascii():
        raise ValueError("NAZORAT_REMOTE_ID_OPERATOR_ID: at most 20 ASCII characters")


class OperatorSource:
    """Which operator location the link sends now. A configured fixed location always wins;
    without one, the position a console sent (the operator's device, with consent) counts
    while younger than `console_stale_s`: an operator who walked away from the console, or
    closed it, stops being the operator's location, and then nothing is sent (ArduPilot then
    reports the missing operator location in ARM_STATUS and refuses to arm; one in flight
    goes on flying)."""

    def __init__(self, fixed: OperatorInfo | None, operator_id: str = "",
                 console_stale_s: float = DEFAULT_CONSOLE_STALE_S) -> None:
        self.fixed = fixed
        self.operator_id = fixed.operator_id if fixed is not None else operator_id
        self.console_stale_s = console_stale_s
        self.console: OperatorInfo | None = None
        self.console_at: float | None = None  # Unix time the console's position arrived
        self.console_by: str | None = None

    def set_console(self, lat: float, lon: float, alt_m: float | None, now: float,
                    by: str | None = None) -> None:
        self.console = OperatorInfo(lat, lon, alt_m, self.operator_id, LOCATION_LIVE_GNSS)
        self.console_at, self.console_by = now, by

    def current(self, now: float) -> OperatorInfo | None:
        if self.fixed is not None:
            return self.fixed
        if self.console is not None and self.console_at is not None \
                and now - self.console_at <= self.console_stale_s:
            return self.console
        return None

    def status(self, now: float) -> dict[str, Any]:
        """What `GET /api/remote-id/operator-location` shows."""
        op = self.current(now)
        return {
            "source": None if op is None else "fixed" if op is self.fixed else "console",
            "lat": None if op is None else op.lat, "lon": None if op is None else op.lon,
            "alt_m": None if op is None else op.alt_m,
            "age_s": None if op is None or op is self.fixed or self.console_at is None
            else round(max(0.0, now - self.console_at), 1),
            "set_by": self.console_by if op is not None and op is self.console else None,
            "stale_after_s": self.console_stale_s,
        }


def _mac() -> list[int]:
    return [0] * 20  # only for a transponder's own messages; a ground station sends zeros


def system_fields(op: OperatorInfo, sysid: int, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    return {
        "target_system": sysid, "target_component": 0, "id_or_mac": _mac(),
        "operator_location_type": op.location_type, "classification_type": CLASSIFICATION_EU,
        "operator_latitude": round(op.lat * 1e7), "operator_longitude": round(op.lon * 1e7),
        "area_count": 1, "area_radius": 0, "area_ceiling": UNKNOWN_LIMIT,
        "area_floor": UNKNOWN_LIMIT, "category_eu": 0, "class_eu": 0,
        "operator_altitude_geo": UNKNOWN_LIMIT if op.alt_m is None else float(op.alt_m),
        "timestamp": max(0, int(now - EPOCH_2019)),
    }


def operator_id_fields(op: OperatorInfo, sysid: int) -> dict[str, Any]:
    return {"target_system": sysid, "target_component": 0, "id_or_mac": _mac(),
            "operator_id_type": ID_TYPE_CAA, "operator_id": op.operator_id}
