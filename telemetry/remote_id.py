"""Remote ID, the ground station's part: the operator's location and ID to every drone.

Regulators require a drone's Remote ID broadcast to carry where its operator is; ArduPilot
configured for Remote ID gets it from the ground station (`OPEN_DRONE_ID_SYSTEM`, which must
keep arriving) and refuses to arm without it, saying so in `OPEN_DRONE_ID_ARM_STATUS` (decoded
into the vehicle state by telemetry/decode.py). The link sends both messages once a second to
every linked drone while an operator location is configured. Field meanings are MAVLink's
common dialect.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# OPEN_DRONE_ID timestamps count seconds from 2019-01-01 00:00:00 UTC
EPOCH_2019 = datetime(2019, 1, 1, tzinfo=UTC).timestamp()
LOCATION_FIXED = 2  # MAV_ODID_OPERATOR_LOCATION_TYPE_FIXED
CLASSIFICATION_EU = 1
ID_TYPE_CAA = 0  # MAV_ODID_OPERATOR_ID_TYPE_CAA
UNKNOWN_LIMIT = -1000.0  # area ceiling/floor "unknown"


@dataclass(frozen=True)
class OperatorInfo:
    """Where the operator is (fixed: the control centre) and the operator's registration ID."""

    lat: float
    lon: float
    alt_m: float
    operator_id: str = ""

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
        if len(operator_id) > 20 or not operator_id.isascii():
            raise ValueError("NAZORAT_REMOTE_ID_OPERATOR_ID: at most 20 ASCII characters")
        return cls(lat, lon, alt, operator_id)


def _mac() -> list[int]:
    return [0] * 20  # only for a transponder's own messages; a ground station sends zeros


def system_fields(op: OperatorInfo, sysid: int, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    return {
        "target_system": sysid, "target_component": 0, "id_or_mac": _mac(),
        "operator_location_type": LOCATION_FIXED, "classification_type": CLASSIFICATION_EU,
        "operator_latitude": round(op.lat * 1e7), "operator_longitude": round(op.lon * 1e7),
        "area_count": 1, "area_radius": 0, "area_ceiling": UNKNOWN_LIMIT,
        "area_floor": UNKNOWN_LIMIT, "category_eu": 0, "class_eu": 0,
        "operator_altitude_geo": float(op.alt_m),
        "timestamp": max(0, int(now - EPOCH_2019)),
    }


def operator_id_fields(op: OperatorInfo, sysid: int) -> dict[str, Any]:
    return {"target_system": sysid, "target_component": 0, "id_or_mac": _mac(),
            "operator_id_type": ID_TYPE_CAA, "operator_id": op.operator_id}
