"""How long an ArduCopter takes to fly a mission, from its navigation parameters (Airframe).

Why: plans that assumed constant cruise speed flew 24-46 % longer on ArduCopter SITL than
planned (issue 12), and the battery reserve was computed on those times. What the old model
left out, each fitted against shared/traces/arducopter-patrol-adsb (a real ArduCopter SITL
flying a 250 m hexagon at WPNAV_SPEED 10 m/s):

- take-off: `spool_up_s` from the command to lift-off, then the climb at WPNAV_SPEED_UP with
  WPNAV_ACCEL_Z at both ends (40 m: 22.2 s recorded);
- straight legs: AC_WPNav's S-curves, the acceleration building up at WPNAV_JERK to at most
  WPNAV_ACCEL, so a 250 m leg from a stop to a stop takes d/v + v/a + a/j = 31.5 s (32.0 s
  recorded), not d/v = 25 s;
- corners: a waypoint flown through (the next item is a waypoint or a loiter) is passed at a speed
  that falls with the turn (`corner_speed`: 4.5 m/s at the trace's 60 degree corners); the copter
  stops at loiters, orbits, and a waypoint before RTL or LAND;
- RTL: climb to RTL_ALT if lower, the leg home (stop to stop), RTL_LOIT_TIME over home, then the
  landing: WPNAV_SPEED_DN down to LAND_ALT_LOW and LAND_SPEED below it, and `touchdown_s` to
  disarm (81.6 s recorded from 250 m out at 40 m).

A flight is written as a `Track` of horizontal legs and stationary phases (climbs, holds,
descents) in the order flown; `Track.times()` then resolves the speed at every corner, which needs
the next leg's heading. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from mission.planning.model import Airframe

XY = tuple[float, float]


# ---- one-dimensional motion ------------------------------------------------------------------


def speed_change_time(dv: float, accel: float, jerk: float) -> float:
    """Time of an S-curve speed change by `dv`: acceleration ramps up at `jerk`, holds at most
    `accel`, ramps down (a/j + dv/a, or 2 sqrt(dv/j) when `accel` is never reached)."""
    dv = abs(dv)
    if dv <= 0.0:
        return 0.0
    if dv >= accel * accel / jerk:
        return dv / accel + accel / jerk
    return 2.0 * math.sqrt(dv / jerk)


def _ramp(v0: float, v1: float, accel: float, jerk: float) -> tuple[float, float]:
    """(time, distance) of a speed change from v0 to v1 (symmetric S-curve: mean speed)."""
    t = speed_change_time(v1 - v0, accel, jerk)
    return t, t * (v0 + v1) / 2.0


def straight_time(distance: float, v_in: float, v_out: float, v_max: float, accel: float,
                  jerk: float) -> float:
    """Time over a straight leg entered at `v_in` and left at `v_out`, at most `v_max`."""
    if distance <= 0.0:
        return 0.0
    v_in, v_out = min(v_in, v_max), min(v_out, v_max)
    t_a, d_a = _ramp(v_in, v_max, accel, jerk)
    t_d, d_d = _ramp(v_max, v_out, accel, jerk)
    if d_a + d_d <= distance:
        return t_a + t_d + (distance - d_a - d_d) / v_max
    # too short to reach v_max: the peak speed whose ramps just fit (bisection)
    lo, hi = max(v_in, v_out), v_max
    if _ramp(v_in, lo, accel, jerk)[1] + _ramp(lo, v_out, accel, jerk)[1] > distance:
        # cannot even change between the two speeds here: fly it at their mean
        return distance / max((v_in + v_out) / 2.0, 0.1)
    for _ in range(40):
        mid = (lo + hi) / 2.0
        if _ramp(v_in, mid, accel, jerk)[1] + _ramp(mid, v_out, accel, jerk)[1] > distance:
            hi = mid
        else:
            lo = mid
    return _ramp(v_in, lo, accel, jerk)[0] + _ramp(lo, v_out, accel, jerk)[0]


def vertical_time(dz: float, speed: float, accel_z: float) -> float:
    """A climb or descent of |dz| at `speed`, accelerating and slowing at `accel_z`."""
    dz = abs(dz)
    if dz <= 0.0:
        return 0.0
    if dz >= speed * speed / accel_z:
        return dz / speed + speed / accel_z
    return 2.0 * math.sqrt(dz / accel_z)


def corner_speed(speed: float, turn_rad: float) -> float:
    """Speed through a waypoint where the track turns by `turn_rad`: full speed straight on, a
    stop for a U-turn. ArduCopter blends the two legs' S-curves; (1 - turn/pi)^2 is a fit to the
    patrol trace's 60 degree corners (4.5 m/s recorded at 10 m/s, 4.4 here), not its algorithm.
    The simulator (sitl/mission_runner.py) flies corners with the same rule."""
    return speed * (1.0 - min(abs(turn_rad), math.pi) / math.pi) ** 2


def turn_between(h0: float, h1: float) -> float:
    """Absolute turn between two headings (radians), 0..pi."""
    return abs((h1 - h0 + math.pi) % (2.0 * math.pi) - math.pi)


# ---- phases ------------------------------------------------------------------------------------


def takeoff_time(a: Airframe, alt_m: float) -> float:
    """From the take-off command to the take-off altitude."""
    return a.spool_up_s + vertical_time(alt_m, a.climb_speed_mps, a.accel_z_mps2)


def landing_time(a: Airframe, alt_m: float) -> float:
    """From the start of the descent at `alt_m` to disarmed: WPNAV_SPEED_DN (LAND_SPEED_HIGH 0)
    down to LAND_ALT_LOW, LAND_SPEED below."""
    alt_m = max(alt_m, 0.0)
    low = min(alt_m, a.land_alt_low_m)
    high = alt_m - low
    t = vertical_time(high, a.descent_speed_mps, a.accel_z_mps2) if high > 0 else 0.0
    return t + low / a.land_speed_mps + a.touchdown_s


def orbit_speed(a: Airframe, radius_m: float, speed: float | None = None) -> float:
    """Speed on a circle: the leg speed, capped by CIRCLE_RATE on small circles."""
    return min(speed or a.cruise_speed_mps, math.radians(a.max_orbit_rate_dps) * radius_m)


def orbit_time(a: Airframe, radius_m: float, turns: float, speed: float | None = None) -> float:
    """From the centre out to the circle (stop to stop) and `turns` around it, with the speed
    built up and lost at the ends."""
    v = orbit_speed(a, radius_m, speed)
    out = straight_time(radius_m, 0.0, 0.0, speed or a.cruise_speed_mps, a.accel_mps2,
                        a.jerk_mps3)
    ramps = speed_change_time(v, a.accel_mps2, a.jerk_mps3)  # half of it at each end
    return out + 2.0 * math.pi * radius_m * turns / v + ramps


# ---- a whole flight ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Leg:
    distance: float
    heading: float
    speed: float
    climb: float  # height change flown along the leg, metres (+ up)
    stop: bool  # the copter stops at its end even when a leg follows


@dataclass(frozen=True)
class _Still:
    seconds: float
    power: str  # which Airframe power: "hover", "climb" or "cruise"


@dataclass
class Track:
    """A flight in the order flown: `leg` for horizontal flight, `still` for phases with no
    horizontal motion (a climb, a hold, a descent); a leg followed by a still ends in a stop.
    `mark()` names the point reached so far; `times()` gives the time at every mark."""

    airframe: Airframe
    parts: list[_Leg | _Still] = field(default_factory=list)

    def leg(self, distance: float, heading: float, speed: float | None = None,
            climb: float = 0.0, stop: bool = False) -> None:
        if distance <= 1e-6 and abs(climb) <= 1e-6:
            if stop:
                self.parts.append(_Still(0.0, "hover"))
            return
        self.parts.append(_Leg(distance, heading, speed or self.airframe.cruise_speed_mps,
                               climb, stop))

    def path(self, points: Sequence[XY], speed: float | None = None,
             stop_at_end: bool = False) -> None:
        """Legs along a polyline in local metres (x east, y north), through its corners."""
        for p, q in zip(points, points[1:], strict=False):
            dx, dy = q[0] - p[0], q[1] - p[1]
            self.leg(math.hypot(dx, dy), math.atan2(dx, dy), speed)
        if stop_at_end:
            self.stop()

    def still(self, seconds: float, power: str = "hover") -> None:
        self.parts.append(_Still(max(seconds, 0.0), power))

    def stop(self) -> None:
        """The copter stops where it is (a loiter of 0 s, a waypoint before RTL)."""
        self.parts.append(_Still(0.0, "hover"))

    def takeoff(self, alt_m: float) -> None:
        a = self.airframe
        self.still(a.spool_up_s, "hover")
        self.still(vertical_time(alt_m, a.climb_speed_mps, a.accel_z_mps2), "climb")

    def climb(self, dz: float) -> None:
        a = self.airframe
        if dz > 0:
            self.still(vertical_time(dz, a.climb_speed_mps, a.accel_z_mps2), "climb")
        elif dz < 0:
            self.still(vertical_time(dz, a.descent_speed_mps, a.accel_z_mps2), "hover")

    def rtl(self, distance: float, heading: float, alt_m: float, speed: float | None = None
            ) -> None:
        """RTL from here (at `alt_m` above home) to home `distance` away: climb to RTL_ALT if
        lower, fly home (RTL_SPEED 0: WPNAV_SPEED), loiter, land."""
        a = self.airframe
        self.stop()
        alt = max(alt_m, a.rtl_alt_m)
        self.climb(alt - alt_m)
        self.leg(distance, heading, speed)
        self.still(a.rtl_loiter_s)
        self.still(landing_time(a, alt))

    def land(self, alt_m: float) -> None:
        self.stop()
        self.still(landing_time(self.airframe, alt_m))

    def mark(self) -> int:
        return len(self.parts)

    def times(self) -> list[float]:
        """Time from the start at every mark (index i: before part i; the last: the end)."""
        a = self.airframe
        out = [0.0]
        t = 0.0
        v_here = 0.0  # speed at the start of the next part
        for i, part in enumerate(self.parts):
            if isinstance(part, _Still):
                t += part.seconds
                v_here = 0.0
            else:
                nxt = self.parts[i + 1] if i + 1 < len(self.parts) else None
                v_end = 0.0
                if isinstance(nxt, _Leg) and not part.stop:
                    v_end = corner_speed(min(part.speed, nxt.speed),
                                         turn_between(part.heading, nxt.heading))
                flat = straight_time(part.distance, v_here, v_end, part.speed, a.accel_mps2,
                                     a.jerk_mps3)
                speed_z = a.climb_speed_mps if part.climb > 0 else a.descent_speed_mps
                t += max(flat, vertical_time(part.climb, speed_z, a.accel_z_mps2))
                v_here = v_end
            out.append(t)
        return out

    def energy_j(self) -> float:
        a = self.airframe
        ts = self.times()
        power = {"hover": a.hover_power_w, "climb": a.climb_power_w, "cruise": a.cruise_power_w}
        total = 0.0
        for i, part in enumerate(self.parts):
            w = a.cruise_power_w if isinstance(part, _Leg) else power[part.power]
            if isinstance(part, _Leg) and part.climb > 0:
                w = max(w, a.climb_power_w)
            total += (ts[i + 1] - ts[i]) * w
        return total

    @property
    def duration_s(self) -> float:
        return self.times()[-1]
