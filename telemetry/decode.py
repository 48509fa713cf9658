"""Turn decoded ArduPilot MAVLink messages into new `VehicleState`s and `VehicleEvent`s.

No I/O and no clock of its own: the link hands in message batches with the time they were taken
off the wire, which keeps this testable with plain dicts and lets one `dataclasses.replace` cover a
whole batch (a state object per message would cost more than the decoding itself at fleet scale).
Field names and units are MAVLink's (the MavlinkDirect plugin hands fields as JSON by those names).
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from telemetry import ardupilot as ap
from telemetry.state import (
    CameraState,
    EventKind,
    GeoPoint,
    LinkState,
    VehicleEvent,
    VehicleState,
    make_event,
)

UINT16_MAX = 65535
INT32_MAX = 2**31 - 1  # CAMERA_FOV_STATUS: "unknown" (e.g. the image centre above the horizon)
# GIMBAL_DEVICE_FLAGS: which frame the quaternion's yaw is in
GIMBAL_YAW_LOCK = 16
GIMBAL_YAW_IN_VEHICLE_FRAME = 32
GIMBAL_YAW_IN_EARTH_FRAME = 64
# Battery hysteresis: after a low-battery event, another fires only once the level has first
# recovered this far above the threshold (a battery swap), so a noisy reading cannot flood events.
BATTERY_REARM_MARGIN = 5.0

Message = tuple[str, Mapping[str, Any]]


class VehicleDecoder:
    """Holds one vehicle's current state and folds message batches into it.

    Owned by the link and used only on the event loop. `apply()` returns the new state (or None if
    nothing changed) and the events the batch caused; `check_link()` is the heartbeat watchdog.
    """

    def __init__(self, initial: VehicleState, *, low_battery_pct: float = 25.0) -> None:
        self.state = initial
        self.low_battery_pct = low_battery_pct
        self._battery_low_latched = False
        self._last_heartbeat_mono: float | None = None

    def apply(
        self, batch: Iterable[Message], now: float | None = None, mono: float | None = None
    ) -> tuple[VehicleState | None, list[VehicleEvent]]:
        """Fold `batch` (in arrival order) into the state; `now` is Unix time, `mono` monotonic."""
        now = time.time() if now is None else now
        mono = time.monotonic() if mono is None else mono
        ch: dict[str, Any] = {}
        events: list[VehicleEvent] = []
        for name, f in batch:
            handler = _HANDLERS.get(name)
            if handler is not None:
                handler(self, ch, events, f, now, mono)
        if not ch:
            return None, events
        ch["updated_at"] = now
        self.state = dataclasses.replace(self.state, **ch)
        return self.state, events

    def check_link(
        self, timeout_s: float, now: float | None = None, mono: float | None = None
    ) -> tuple[VehicleState | None, list[VehicleEvent]]:
        """Declare the link lost once no heartbeat arrived for `timeout_s`; returns the change."""
        now = time.time() if now is None else now
        mono = time.monotonic() if mono is None else mono
        last = self._last_heartbeat_mono
        if self.state.link is not LinkState.UP or last is None or mono - last < timeout_s:
            return None, []
        self.state = dataclasses.replace(self.state, link=LinkState.LOST, updated_at=now)
        ev = make_event(
            EventKind.LINK_LOST,
            self.state.vehicle_id,
            f"no heartbeat for {mono - last:.1f} s",
            severity=2,
            now=now,
            silence_s=round(mono - last, 2),
        )
        return self.state, [ev]

    def rename(self, name: str) -> VehicleState:
        """Change the display name (the only field the service sets rather than the vehicle)."""
        self.state = dataclasses.replace(self.state, name=name, updated_at=time.time())
        return self.state

    # -- per-message handlers -------------------------------------------------------------------

    def _cur(self, ch: Mapping[str, Any], key: str) -> Any:
        return ch[key] if key in ch else getattr(self.state, key)

    def _heartbeat(
        self, ch: dict[str, Any], ev: list[VehicleEvent], f: Mapping[str, Any], now: float,
        mono: float,
    ) -> None:
        if f.get("autopilot") == ap.MAV_AUTOPILOT_INVALID or f.get("type") == ap.MAV_TYPE_GCS:
            return  # a GCS or companion heartbeat relayed under the same sysid
        vid = self.state.vehicle_id
        self._last_heartbeat_mono = mono
        ch["last_heartbeat"] = now
        link = self._cur(ch, "link")
        if link is LinkState.LOST:
            ev.append(make_event(EventKind.LINK_RESTORED, vid, "heartbeats resumed", now=now))
        if link is not LinkState.UP:
            ch["link"] = LinkState.UP
        custom_mode = int(f.get("custom_mode", 0))
        old_mode = self._cur(ch, "custom_mode")
        if custom_mode != old_mode:
            name = ap.copter_mode_name(custom_mode)
            ch["custom_mode"] = custom_mode
            ch["mode"] = name
            if old_mode is not None:
                ev.append(
                    make_event(
                        EventKind.MODE_CHANGED, vid, f"mode {name}", now=now,
                        old=ap.copter_mode_name(old_mode), new=name,
                    )
                )
        armed = bool(int(f.get("base_mode", 0)) & ap.MAV_MODE_FLAG_SAFETY_ARMED)
        if armed != self._cur(ch, "armed"):
            ch["armed"] = armed
            if old_mode is not None:  # not on the very first heartbeat
                kind = EventKind.ARMED if armed else EventKind.DISARMED
                ev.append(make_event(kind, vid, kind.value, now=now))

    def _global_position(
        self, ch: dict[str, Any], ev: list[VehicleEvent], f: Mapping[str, Any], now: float,
        mono: float,
    ) -> None:
        lat_e7, lon_e7 = int(f.get("lat", 0)), int(f.get("lon", 0))
        if lat_e7 == 0 and lon_e7 == 0:
            ch["position"] = None  # ArduPilot's "no fix yet" placeholder, not a place
        else:
            ch["position"] = GeoPoint(lat_e7 / 1e7, lon_e7 / 1e7, int(f.get("alt", 0)) / 1000.0)
        ch["alt_rel"] = int(f.get("relative_alt", 0)) / 1000.0
        vx, vy, vz = float(f.get("vx", 0)), float(f.get("vy", 0)), float(f.get("vz", 0))
        ch["ground_speed"] = math.hypot(vx, vy) / 100.0
        ch["climb_rate"] = -vz / 100.0
        hdg = int(f.get("hdg", UINT16_MAX))
        ch["heading_deg"] = None if hdg == UINT16_MAX else hdg / 100.0
        if "time_boot_ms" in f:
            ch["position_time_boot_ms"] = int(f["time_boot_ms"])

    def _sys_status(
        self, ch: dict[str, Any], ev: list[VehicleEvent], f: Mapping[str, Any], now: float,
        mono: float,
    ) -> None:
        mv = int(f.get("voltage_battery", UINT16_MAX))
        ch["battery_voltage"] = None if mv == UINT16_MAX else mv / 1000.0
        remaining = int(f.get("battery_remaining", -1))
        pct = None if remaining < 0 else float(remaining)
        ch["battery_pct"] = pct
        if pct is None:
            return
        if pct <= self.low_battery_pct and not self._battery_low_latched:
            self._battery_low_latched = True
            ev.append(
                make_event(
                    EventKind.BATTERY_LOW, self.state.vehicle_id, f"battery {pct:.0f} %",
                    severity=ap.SEVERITY_WARNING, now=now, percent=pct,
                    voltage=ch["battery_voltage"],
                )
            )
        elif pct > self.low_battery_pct + BATTERY_REARM_MARGIN:
            self._battery_low_latched = False

    def _gps_raw(
        self, ch: dict[str, Any], ev: list[VehicleEvent], f: Mapping[str, Any], now: float,
        mono: float,
    ) -> None:
        fix = int(f.get("fix_type", 0))
        ch["gps_fix"] = ap.GPS_FIX_NAMES.get(fix, f"FIX_{fix}")
        sats = int(f.get("satellites_visible", 255))
        ch["satellites"] = None if sats == 255 else sats

    def _ekf(
        self, ch: dict[str, Any], ev: list[VehicleEvent], f: Mapping[str, Any], now: float,
        mono: float,
    ) -> None:
        flags = int(f.get("flags", 0))
        ch["ekf_flags"] = flags
        ch["ekf_ok"] = ap.ekf_ok(flags)

    def _extended_sys_state(
        self, ch: dict[str, Any], ev: list[VehicleEvent], f: Mapping[str, Any], now: float,
        mono: float,
    ) -> None:
        ls = int(f.get("landed_state", 0))
        ch["landed_state"] = ap.LANDED_STATE_NAMES.get(ls, "unknown")

    def _home(
        self, ch: dict[str, Any], ev: list[VehicleEvent], f: Mapping[str, Any], now: float,
        mono: float,
    ) -> None:
        lat_e7, lon_e7 = int(f.get("latitude", 0)), int(f.get("longitude", 0))
        if lat_e7 == 0 and lon_e7 == 0:
            return
        ch["home"] = GeoPoint(lat_e7 / 1e7, lon_e7 / 1e7, int(f.get("altitude", 0)) / 1000.0)

    def _mission_current(
        self, ch: dict[str, Any], ev: list[VehicleEvent], f: Mapping[str, Any], now: float,
        mono: float,
    ) -> None:
        ch["mission_current"] = int(f.get("seq", 0))
        total = f.get("total")
        if total is not None and int(total) != UINT16_MAX:
            ch["mission_total"] = int(total)
        state = f.get("mission_state")
        if state:
            ch["mission_state"] = int(state)

    def _item_reached(
        self, ch: dict[str, Any], ev: list[VehicleEvent], f: Mapping[str, Any], now: float,
        mono: float,
    ) -> None:
        seq = int(f.get("seq", 0))
        ev.append(
            make_event(
                EventKind.MISSION_ITEM_REACHED, self.state.vehicle_id, f"reached item {seq}",
                now=now, seq=seq,
            )
        )

    def _statustext(
        self, ch: dict[str, Any], ev: list[VehicleEvent], f: Mapping[str, Any], now: float,
        mono: float,
    ) -> None:
        severity = int(f.get("severity", 6))
        text = statustext_text(f)
        if severity <= ap.SEVERITY_WARNING or (
                severity <= ap.SEVERITY_NOTICE and _ALERT_WORDS.search(text)):
            ev.append(
                make_event(
                    EventKind.STATUSTEXT, self.state.vehicle_id, text,
                    severity=severity, now=now,
                    severity_name=ap.SEVERITY_NAMES.get(severity, str(severity)),
                )
            )


    def _remote_id_arm_status(
        self, ch: dict[str, Any], ev: list[VehicleEvent], f: Mapping[str, Any], now: float,
        mono: float,
    ) -> None:
        ok = int(f.get("status", 1)) == 0
        ch["remote_id_ok"] = ok
        ch["remote_id_error"] = None if ok else (statustext_text({"text": f.get("error", "")})
                                                 or "Remote ID not ready")

    def _camera_fov(
        self, ch: dict[str, Any], ev: list[VehicleEvent], f: Mapping[str, Any], now: float,
        mono: float,
    ) -> None:
        cam = self._cur(ch, "camera") or CameraState()
        lat_i, lon_i = int(f.get("lat_image", INT32_MAX)), int(f.get("lon_image", INT32_MAX))
        centre = None if INT32_MAX in (lat_i, lon_i) else (lat_i / 1e7, lon_i / 1e7)
        lat_c, lon_c = int(f.get("lat_camera", INT32_MAX)), int(f.get("lon_camera", INT32_MAX))
        position = None if INT32_MAX in (lat_c, lon_c) or (lat_c == 0 and lon_c == 0) else \
            GeoPoint(lat_c / 1e7, lon_c / 1e7, int(f.get("alt_camera", 0)) / 1000.0)
        ch["camera"] = dataclasses.replace(
            cam, hfov_deg=_finite(f.get("hfov")), vfov_deg=_finite(f.get("vfov")),
            centre=centre, camera_position=position, fov_q=_quaternion(f.get("q")),
            fov_time=now)

    def _gimbal_attitude(
        self, ch: dict[str, Any], ev: list[VehicleEvent], f: Mapping[str, Any], now: float,
        mono: float,
    ) -> None:
        q = _quaternion(f.get("q"))
        if q is None:
            return  # NaN quaternion: the gimbal does not know its attitude
        roll, pitch, yaw = quaternion_to_euler_deg(q)
        flags = int(f.get("flags", 0))
        earth = bool(flags & GIMBAL_YAW_IN_EARTH_FRAME) or (
            not flags & GIMBAL_YAW_IN_VEHICLE_FRAME and bool(flags & GIMBAL_YAW_LOCK))
        bearing: float | None = yaw % 360.0
        if not earth:  # relative to the nose: a bearing only with the vehicle's heading
            heading = self._cur(ch, "heading_deg")
            bearing = None if heading is None else (heading + yaw) % 360.0
        cam = self._cur(ch, "camera") or CameraState()
        ch["camera"] = dataclasses.replace(
            cam, gimbal_roll_deg=roll, gimbal_pitch_deg=pitch, gimbal_yaw_deg=bearing,
            gimbal_time=now)


def _finite(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) and x > 0 else None


def _quaternion(v: Any) -> tuple[float, float, float, float] | None:
    """MAVLink's q[4] (w, x, y, z) when it is one; None for NaN (unknown) or a zero vector."""
    if not isinstance(v, list | tuple) or len(v) != 4:
        return None
    try:
        w, x, y, z = (float(c) for c in v)
    except (TypeError, ValueError):
        return None
    n = math.sqrt(w * w + x * x + y * y + z * z)
    if not math.isfinite(n) or n < 1e-6:
        return None
    return (w / n, x / n, y / n, z / n)


def quaternion_to_euler_deg(q: tuple[float, float, float, float]) -> tuple[float, float, float]:
    """(roll, pitch, yaw) in degrees, aerospace Z-Y-X order, of a unit quaternion (w, x, y, z)
    (MAVLink's convention: the rotation from the earth's NED axes to the body's)."""
    w, x, y, z = q
    roll = math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x))))
    yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return math.degrees(roll), math.degrees(pitch), math.degrees(yaw)


# NOTICE-level texts that still matter to an operator (ArduPilot reports some geofence and
# failsafe transitions at NOTICE rather than WARNING).
_ALERT_WORDS = re.compile(r"fence|failsafe|breach", re.IGNORECASE)


def statustext_text(fields: Mapping[str, Any]) -> str:
    """STATUSTEXT.text as a clean string (it may arrive as a char array or NUL padded)."""
    text = fields.get("text", "")
    if isinstance(text, list):
        text = "".join(chr(c) if isinstance(c, int) else str(c) for c in text)
    return str(text).split("\x00", 1)[0].strip()


_HANDLERS = {
    "HEARTBEAT": VehicleDecoder._heartbeat,
    "GLOBAL_POSITION_INT": VehicleDecoder._global_position,
    "SYS_STATUS": VehicleDecoder._sys_status,
    "GPS_RAW_INT": VehicleDecoder._gps_raw,
    "EKF_STATUS_REPORT": VehicleDecoder._ekf,
    "EXTENDED_SYS_STATE": VehicleDecoder._extended_sys_state,
    "HOME_POSITION": VehicleDecoder._home,
    "MISSION_CURRENT": VehicleDecoder._mission_current,
    "MISSION_ITEM_REACHED": VehicleDecoder._item_reached,
    "STATUSTEXT": VehicleDecoder._statustext,
    "OPEN_DRONE_ID_ARM_STATUS": VehicleDecoder._remote_id_arm_status,
    "CAMERA_FOV_STATUS": VehicleDecoder._camera_fov,
    "GIMBAL_DEVICE_ATTITUDE_STATUS": VehicleDecoder._gimbal_attitude,
}
# The messages the link subscribes to (MavlinkDirect filters by name in C, so nothing else is
# converted to Python at all).
DECODED_MESSAGES: tuple[str, ...] = tuple(_HANDLERS)
