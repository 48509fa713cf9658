"""Time and battery energy of each kind of flight, from an airframe's speed and power model.

Energy is what the battery delivers, in joules; a drone may spend its charge down to the reserve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mission.planning.model import Airframe, Drone

# Slowing down, turning and settling at each waypoint; keeps short zig-zags from looking free.
WAYPOINT_OVERHEAD_S = 2.0


@dataclass(frozen=True)
class Cost:
    time_s: float = 0.0
    energy_j: float = 0.0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.time_s + other.time_s, self.energy_j + other.energy_j)


def cruise(a: Airframe, distance_m: float, waypoints: int = 0) -> Cost:
    t = distance_m / a.cruise_speed_mps + waypoints * WAYPOINT_OVERHEAD_S
    return Cost(t, t * a.cruise_power_w)


def hover(a: Airframe, seconds: float) -> Cost:
    return Cost(seconds, seconds * a.hover_power_w)


def orbit_speed(a: Airframe, radius_m: float) -> float:
    return min(a.cruise_speed_mps, math.radians(a.max_orbit_rate_dps) * radius_m)


def orbit(a: Airframe, radius_m: float, turns: float) -> Cost:
    """Out from the centre to the circle, then the turns at the speed the circle rate allows."""
    t = radius_m / a.cruise_speed_mps + 2 * math.pi * radius_m * turns / orbit_speed(a, radius_m)
    return Cost(t, t * a.cruise_power_w)


def takeoff(a: Airframe, alt_m: float) -> Cost:
    t = alt_m / a.climb_speed_mps
    return Cost(t, t * a.climb_power_w)


def landing(a: Airframe, alt_m: float) -> Cost:
    t = alt_m / a.descent_speed_mps
    return Cost(t, t * a.hover_power_w)


def battery_j(a: Airframe) -> float:
    return a.battery_capacity_wh * 3600.0


def usable_energy_j(d: Drone, reserve_pct: float) -> float:
    """Charge the drone may spend before it has to be home with the reserve left."""
    return (d.battery_pct - reserve_pct) / 100.0 * battery_j(d.airframe)


def pct_of_battery(a: Airframe, energy_j: float) -> float:
    return 100.0 * energy_j / battery_j(a)
