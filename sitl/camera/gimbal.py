"""An earth-stabilised two-axis gimbal that obeys the pointing commands, in vehicle time.

As ArduPilot's AP_Mount does for a servo/SITL gimbal: by default it holds a fixed pitch and
follows the vehicle's heading; MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW sets pitch and yaw (yaw in the
vehicle frame unless GIMBAL_MANAGER_FLAGS_YAW_LOCK makes it earth-frame); DO_SET_ROI_LOCATION
points at a location until DO_SET_ROI_NONE returns to the default. It slews at SLEW_DEG_S
towards its target and never beyond the pitch limits (MNT1_PITCH_MIN/MAX defaults).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sitl import geo

DEFAULT_PITCH = -60.0
PITCH_MIN, PITCH_MAX = -90.0, 20.0
SLEW_DEG_S = 90.0
YAW_LOCK = 16  # GIMBAL_MANAGER_FLAGS_YAW_LOCK


@dataclass
class Target:
    pitch: float = DEFAULT_PITCH
    yaw: float = 0.0          # degrees: vehicle frame, or earth frame if yaw_lock
    yaw_lock: bool = False
    roi: tuple[float, float, float] | None = None  # lat, lon, alt AMSL


class Gimbal:
    def __init__(self, vehicle_yaw: float) -> None:
        self.pitch = DEFAULT_PITCH
        self.yaw = vehicle_yaw % 360.0  # earth frame, degrees
        self.target = Target()

    def point(self, pitch: float | None, yaw: float | None, yaw_lock: bool) -> None:
        """Angles in degrees; None keeps that axis where it is aimed now."""
        t = self.target
        if pitch is not None:
            t.pitch = min(max(pitch, PITCH_MIN), PITCH_MAX)
        if yaw is not None:
            t.yaw = yaw
            t.yaw_lock = yaw_lock
        t.roi = None

    def look_at(self, lat: float, lon: float, alt_amsl: float) -> None:
        self.target.roi = (lat, lon, alt_amsl)

    def reset(self) -> None:
        self.target = Target()

    def desired(self, lat: float, lon: float, alt_amsl: float,
                vehicle_yaw: float) -> tuple[float, float]:
        """Earth-frame (pitch, yaw) the gimbal is steering to from this vehicle pose."""
        t = self.target
        if t.roi is not None:
            n, e = geo.ne_between(lat, lon, t.roi[0], t.roi[1])
            dist = math.hypot(n, e)
            pitch = math.degrees(math.atan2(t.roi[2] - alt_amsl, dist))
            yaw = geo.bearing_deg(n, e) if dist > 0.01 else self.yaw
            return min(max(pitch, PITCH_MIN), PITCH_MAX), yaw
        yaw = t.yaw if t.yaw_lock else vehicle_yaw + t.yaw
        return t.pitch, yaw % 360.0

    def step(self, dt: float, lat: float, lon: float, alt_amsl: float,
             vehicle_yaw: float) -> None:
        pitch, yaw = self.desired(lat, lon, alt_amsl, vehicle_yaw)
        most = SLEW_DEG_S * dt
        self.pitch += min(max(pitch - self.pitch, -most), most)
        turn = (yaw - self.yaw + 180.0) % 360.0 - 180.0
        self.yaw = (self.yaw + min(max(turn, -most), most)) % 360.0
