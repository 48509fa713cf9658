"""Remote ID as ArduPilot's OpenDroneID support sees the ground station's part of it.

ArduPilot configured for Remote ID (DID_ENABLE) refuses to arm until the ground station sends
the operator's location (`OPEN_DRONE_ID_SYSTEM`, at least once every few seconds), and reports
whether it may arm in `OPEN_DRONE_ID_ARM_STATUS` (status 0 good, 1 failure with a text). The
simulator speaks it to a ground station that does: from the first OPEN_DRONE_ID_SYSTEM on, it
sends ARM_STATUS once a second, a failure once that location is older than `STALE_S`. A ground
station that never sends Remote ID sees nothing of it (as in the reference traces).
"""

from __future__ import annotations

from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

STALE_S = 3.0
ERROR_NO_OPERATOR = "operator location must be sent"


class RemoteIdState:
    def __init__(self) -> None:
        self.system_at: float | None = None  # vehicle time of the last OPEN_DRONE_ID_SYSTEM
        self.operator_id: str | None = None
        self.operator: tuple[float, float] | None = None
        self.next_status = 0.0

    def on_system(self, msg: Any, now: float) -> None:
        self.system_at = now
        self.operator = (msg.operator_latitude / 1e7, msg.operator_longitude / 1e7)

    def on_operator_id(self, msg: Any) -> None:
        raw = msg.operator_id
        if isinstance(raw, bytes):
            raw = raw.decode("ascii", "replace")
        self.operator_id = str(raw).split("\x00", 1)[0]

    def due(self, now: float) -> Any | None:
        """The ARM_STATUS to send now, if one is due (1 Hz once Remote ID was heard)."""
        if self.system_at is None or now < self.next_status:
            return None
        self.next_status = now + 1.0
        if now - self.system_at > STALE_S:
            return mavlink.MAVLink_open_drone_id_arm_status_message(1, ERROR_NO_OPERATOR.encode())
        return mavlink.MAVLink_open_drone_id_arm_status_message(0, b"")
