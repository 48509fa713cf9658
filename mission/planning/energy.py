"""Time and battery energy of each kind of flight, from an airframe's speed and power model
(times from flight_time.py, ArduCopter's navigation as recorded).

Energy is what the battery delivers, in joules; a drone may spend its charge down to the reserve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mission.planning.flight_time import XY, Track, landing_time, orbit_time, straight_time
from mission.planning.model import Airframe, Drone


@dataclass(frozen=True)
class Cost:
    time_s: float = 0.0
    energy_j: float = 0.0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.time_s + other.time_s, self.energy_j + other.energy_j)


def of_track(track: Track) -> Cost:
    return Cost(track.duration_s, track.energy_j())


def transit(a: Airframe, path: Sequence[XY]) -> Cost:
    """A polyline flown from a stop to a stop, through its corners (flight_time)."""
    if len(path) < 2:
        return Cost()
    if len(path) == 2:  # the usual arc: one straight leg (fast path, same result)
        (x0, y0), (x1, y1) = path
        secs = straight_time(math.hypot(x1 - x0, y1 - y0), 0.0, 0.0, a.cruise_speed_mps,
                             a.accel_mps2, a.jerk_mps3)
        return Cost(secs, secs * a.cruise_power_w)
    t = Track(a)
    t.path(path, stop_at_end=True)
    return of_track(t)


def hover(a: Airframe, seconds: float) -> Cost:
    return Cost(seconds, seconds * a.hover_power_w)


def orbit(a: Airframe, radius_m: float, turns: float) -> Cost:
    """Out from the centre to the circle, then the turns at the speed the circle rate allows."""
    t = orbit_time(a, radius_m, turns)
    return Cost(t, t * a.cruise_power_w)


def takeoff(a: Airframe, alt_m: float) -> Cost:
    t = Track(a)
    t.takeoff(alt_m)
    return of_track(t)


def rtl_end(a: Airframe, alt_m: float) -> Cost:
    """What an RTL adds at home to the leg there: the climb to RTL_ALT when lower (flown
    before the leg, the same time), the loiter over home and the landing."""
    t = Track(a)
    alt = max(alt_m, a.rtl_alt_m)
    t.climb(alt - alt_m)
    t.still(a.rtl_loiter_s)
    t.still(landing_time(a, alt))
    return of_track(t)


def land_end(a: Airframe, alt_m: float) -> Cost:
    """NAV_LAND where the drone is: the descent and touchdown."""
    t = Track(a)
    t.land(alt_m)
    return of_track(t)


def battery_j(a: Airframe) -> float:
    return a.battery_capacity_wh * 3600.0


def usable_energy_j(d: Drone, reserve_pct: float) -> float:
    """Charge the drone may spend before it has to be home with the reserve left."""
    return (d.battery_pct - reserve_pct) / 100.0 * battery_j(d.airframe)


def pct_of_battery(a: Airframe, energy_j: float) -> float:
    return 100.0 * energy_j / battery_j(a)
