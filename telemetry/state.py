"""Vehicle state and vehicle events as immutable values.

The link produces a new `VehicleState` whenever something about a vehicle changes and never
mutates one it has published, so the hub, WebSocket clients and the recorder can share the same
object across tasks without copies or locks. Events (`VehicleEvent`) are the things a state
snapshot cannot express on its own: a transition happened, a text arrived, an item was reached.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class LinkState(StrEnum):
    """How the service currently hears from a vehicle.

    `connecting`: registered, no heartbeat yet. `up`: heartbeats arriving. `lost`: no heartbeat for
    the link-loss timeout (3 s by default); commands fail fast while lost.
    """

    CONNECTING = "connecting"
    UP = "up"
    LOST = "lost"


class EventKind(StrEnum):
    """Kinds of vehicle events; the values are what the WebSocket and the database carry."""

    LINK_LOST = "link_lost"
    LINK_RESTORED = "link_restored"
    MODE_CHANGED = "mode_changed"
    ARMED = "armed"
    DISARMED = "disarmed"
    BATTERY_LOW = "battery_low"
    STATUSTEXT = "statustext"
    MISSION_ITEM_REACHED = "mission_item_reached"
    # other aircraft near a drone (mission/airspace/monitor.py): a level reached or left
    TRAFFIC_ADVISORY = "traffic_advisory"
    TRAFFIC_ALERT = "traffic_alert"
    TRAFFIC_CLEAR = "traffic_clear"
    # two of our own drones in flight inside the separation minima, and apart again
    SEPARATION_ALERT = "separation_alert"
    SEPARATION_CLEAR = "separation_clear"


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A WGS84 point; `alt_amsl` in metres above mean sea level."""

    lat: float
    lon: float
    alt_amsl: float


@dataclass(frozen=True, slots=True)
class CameraState:
    """What the drone says of its camera: CAMERA_FOV_STATUS (271) and
    GIMBAL_DEVICE_ATTITUDE_STATUS (285), as the autopilot (ArduPilot's AP_Camera / AP_Mount)
    sends them.

    Angles are degrees in the earth frame: `gimbal_pitch_deg` below the horizon is negative
    (-90 straight down), `gimbal_yaw_deg` is a bearing from true north (0..360). MAVLink gives
    the gimbal's roll and pitch relative to the horizon always, and its yaw either in the earth
    frame or relative to the vehicle's nose (flags); the decoder turns a vehicle-frame yaw into
    a bearing with the vehicle's heading, and leaves it None while the heading is unknown.
    `centre` is where the autopilot says the image centre meets the ground (lat, lon; None when
    it is above the horizon: MAVLink's INT32_MAX). `fov_q` is CAMERA_FOV_STATUS's orientation
    quaternion (w, x, y, z, earth frame). `fov_time` / `gimbal_time` are the Unix times the
    messages last arrived (None: never), so a reader can tell a camera that went quiet.
    """

    hfov_deg: float | None = None
    vfov_deg: float | None = None
    centre: tuple[float, float] | None = None
    camera_position: GeoPoint | None = None
    fov_q: tuple[float, float, float, float] | None = None
    fov_time: float | None = None
    gimbal_roll_deg: float | None = None
    gimbal_pitch_deg: float | None = None
    gimbal_yaw_deg: float | None = None
    gimbal_time: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the REST API's `camera`)."""
        return {
            "hfov_deg": _round(self.hfov_deg, 2),
            "vfov_deg": _round(self.vfov_deg, 2),
            "centre": None if self.centre is None else [round(self.centre[0], 7),
                                                        round(self.centre[1], 7)],
            "camera_position": _point(self.camera_position),
            "fov_q": None if self.fov_q is None else [round(x, 6) for x in self.fov_q],
            "fov_time": self.fov_time,
            "gimbal": None if self.gimbal_time is None else {
                "roll_deg": _round(self.gimbal_roll_deg, 2),
                "pitch_deg": _round(self.gimbal_pitch_deg, 2),
                "yaw_deg": _round(self.gimbal_yaw_deg, 2)},
            "gimbal_time": self.gimbal_time,
        }


@dataclass(frozen=True, slots=True)
class VehicleState:
    """Everything the service knows about one vehicle at one moment.

    `position` is None until the vehicle reports a real one: ArduPilot sends GLOBAL_POSITION_INT
    with lat = lon = 0 before its GPS has a fix, and that is treated as "no position", never as a
    point in the Gulf of Guinea. Other unknown values are None rather than 0 for the same reason.
    `mode` is the exact ArduCopter mode name from HEARTBEAT.custom_mode (MAVSDK's own flight mode
    is lossy on ArduPilot). `mission_current` is the sequence number ArduPilot reports (1 = first
    item after the home slot); `mission_total` is ArduPilot's count, which excludes the home slot.
    Times are Unix seconds; `position_time_boot_ms` is the vehicle's own clock of the position
    sample, kept so that latency can be measured end to end.
    """

    vehicle_id: int
    sysid: int
    name: str = ""
    link: LinkState = LinkState.CONNECTING
    last_heartbeat: float | None = None
    position: GeoPoint | None = None
    alt_rel: float | None = None
    heading_deg: float | None = None
    ground_speed: float | None = None
    climb_rate: float | None = None
    battery_pct: float | None = None
    battery_voltage: float | None = None
    mode: str = "UNKNOWN"
    custom_mode: int | None = None
    armed: bool = False
    landed_state: str = "unknown"
    gps_fix: str = "NO_GPS"
    satellites: int | None = None
    ekf_ok: bool = False
    ekf_flags: int | None = None
    home: GeoPoint | None = None
    mission_current: int | None = None
    mission_total: int | None = None
    # MISSION_CURRENT.mission_state (MAVLink 2 extension, ArduPilot 4.4+): 1 no mission,
    # 2 not started, 3 active, 4 paused, 5 complete. The only sign after the fact that a mission
    # was flown to its end: ArduPilot resets the current item to 0 when it completes.
    mission_state: int | None = None
    position_time_boot_ms: int | None = None
    # OPEN_DRONE_ID_ARM_STATUS: None until the drone reports Remote ID at all; then whether
    # Remote ID lets it arm, and the reason when not (e.g. no operator location received)
    remote_id_ok: bool | None = None
    remote_id_error: str | None = None
    # Why the link is `lost` when no process links the vehicle any more (its link lease ran out
    # and no node that can reach it took it over: telemetry/bus.py); None otherwise.
    link_reason: str | None = None
    # None until the drone sends CAMERA_FOV_STATUS or GIMBAL_DEVICE_ATTITUDE_STATUS
    camera: CameraState | None = None
    updated_at: float = 0.0

    def seconds_since_heartbeat(self, now: float | None = None) -> float | None:
        """Age of the last heartbeat, or None if none ever arrived."""
        if self.last_heartbeat is None:
            return None
        return max(0.0, (time.time() if now is None else now) - self.last_heartbeat)

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        """Plain JSON-ready form with descriptive keys (the REST API uses this)."""
        return {
            "vehicle_id": self.vehicle_id,
            "sysid": self.sysid,
            "name": self.name,
            "link": self.link.value,
            "link_reason": self.link_reason,
            "seconds_since_heartbeat": _round(self.seconds_since_heartbeat(now), 2),
            "position": _point(self.position),
            "alt_rel": _round(self.alt_rel, 2),
            "heading_deg": _round(self.heading_deg, 1),
            "ground_speed": _round(self.ground_speed, 2),
            "climb_rate": _round(self.climb_rate, 2),
            "battery_pct": self.battery_pct,
            "battery_voltage": _round(self.battery_voltage, 2),
            "mode": self.mode,
            "armed": self.armed,
            "landed_state": self.landed_state,
            "gps_fix": self.gps_fix,
            "satellites": self.satellites,
            "ekf_ok": self.ekf_ok,
            "ekf_flags": self.ekf_flags,
            "home": _point(self.home),
            "mission_current": self.mission_current,
            "mission_total": self.mission_total,
            "mission_state": self.mission_state,
            "remote_id": None if self.remote_id_ok is None else {
                "ok": self.remote_id_ok, "error": self.remote_id_error},
            "camera": None if self.camera is None else self.camera.to_dict(),
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class VehicleEvent:
    """Something that happened to a vehicle, at `time` (Unix seconds).

    `severity` is a MAV_SEVERITY number (0 emergency .. 7 debug) when the event has one.
    `data` is read-only; it holds the event's specifics (old/new mode, item seq, ...).
    """

    kind: EventKind
    vehicle_id: int
    time: float
    message: str = ""
    severity: int | None = None
    data: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind.value,
            "vehicle_id": self.vehicle_id,
            "time": self.time,
            "message": self.message,
            "severity": self.severity,
            "data": dict(self.data),
        }


def make_event(
    kind: EventKind,
    vehicle_id: int,
    message: str = "",
    *,
    severity: int | None = None,
    now: float | None = None,
    **data: Any,
) -> VehicleEvent:
    """Build an event with read-only data; `now` defaults to the wall clock."""
    return VehicleEvent(
        kind=kind,
        vehicle_id=vehicle_id,
        time=time.time() if now is None else now,
        message=message,
        severity=severity,
        data=MappingProxyType(dict(data)),
    )


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _point(p: GeoPoint | None) -> dict[str, float] | None:
    if p is None:
        return None
    return {"lat": p.lat, "lon": p.lon, "alt_amsl": round(p.alt_amsl, 2)}


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """An object the service keeps (a mission, an incident, ...) changed: its latest form.

    Telemetry knows nothing of what the objects are or who may see what: the producer gives
    the object as ready JSON text per audience (`views`: audience name -> JSON of the object),
    once for all subscribers, and a stream sends each client its own audience's view; an
    audience missing from `views` does not see the change at all. `key` names the object
    within its `kind`; a newer event for the same (kind, key) supersedes an older one.
    """

    kind: str
    key: int
    views: Mapping[str, str]
    time: float
