"""Inputs and outputs of the patrol planner: frozen values the service builds from its tables.

Everything here is plain data (no shapely, no OR-Tools) so the service can construct requests and
serialise plans without knowing how the planner works.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum

from mission.planning.errors import InvalidRequestError
from telemetry.mission_item import MissionItem  # the one item type, planner to vehicle


@dataclass(frozen=True)
class LatLon:
    """A WGS84 position in degrees."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise InvalidRequestError(f"not a WGS84 position: {self.lat}, {self.lon}")


class Priority(IntEnum):
    """HIGH targets are kept whenever some plan can fly them; LOW ones go first when short."""

    LOW = 1
    NORMAL = 2
    HIGH = 3


class Objective(StrEnum):
    # severity-weighted sum of each target's time to eyes on (dispatch to on station): the figure
    # public-safety drone programmes are judged by; the default
    RESPONSE = "response"
    TOTAL_TIME = "total_time"  # sum of every drone's flight time: least battery spent overall
    MAKESPAN = "makespan"  # time until the last drone is home: earliest completion


class SolverChoice(StrEnum):
    AUTO = "auto"  # OR-Tools, then greedy insertion if OR-Tools is missing or finds nothing
    ORTOOLS = "ortools"
    GREEDY = "greedy"


# --- on-station patterns -------------------------------------------------------------------------


@dataclass(frozen=True)
class Loiter:
    """Hold over the point (NAV_LOITER_TIME)."""

    seconds: float


@dataclass(frozen=True)
class Orbit:
    """Circle the point (NAV_LOITER_TURNS); the whole circle must stay clear of no-fly zones."""

    radius_m: float
    turns: float = 1.0
    clockwise: bool = True


@dataclass(frozen=True)
class Lawnmower:
    """Parallel sweeps over a red zone, `spacing_m` apart, flown along `heading_deg` (0 = north)."""

    spacing_m: float
    heading_deg: float = 0.0


@dataclass(frozen=True)
class Perimeter:
    """Fly the zone's outline `laps` times, `inset_m` inside it."""

    laps: int = 1
    inset_m: float = 0.0


PointPattern = Loiter | Orbit
AreaPattern = Lawnmower | Perimeter


# Weight of a target's time to eyes on in the `response` objective, by severity 1..5: each step
# of severity doubles it, so one severity-5 incident waiting 10 s weighs as much as a severity-4
# one waiting 20 s.
DEFAULT_SEVERITY_WEIGHTS = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class PointTarget:
    """An incident or hotspot: fly there and, with a pattern, stay on station.

    `priority` decides what is dropped when the batteries are short; `severity` (1..5) weighs the
    target's time to eyes on in the `response` objective."""

    id: str
    position: LatLon
    priority: Priority = Priority.NORMAL
    pattern: PointPattern | None = None
    severity: int = 3


@dataclass(frozen=True)
class AreaTarget:
    """A red zone (polygon, vertices in order, not closed) covered by a lawnmower or a perimeter."""

    id: str
    polygon: tuple[LatLon, ...]
    pattern: AreaPattern
    priority: Priority = Priority.NORMAL
    severity: int = 3


Target = PointTarget | AreaTarget


@dataclass(frozen=True)
class NoFlyZone:
    """A polygon no leg may cross and no waypoint may lie in (vertices in order, not closed)."""

    id: str
    polygon: tuple[LatLon, ...]


# --- fleet ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Airframe:
    """Speed and power model of one copter type; defaults are a ~2.5 kg public-safety quad.

    Power is electrical power drawn from the battery; a multirotor draws about the same in forward
    flight as in hover, a little more while climbing.

    The motion parameters are ArduCopter's (defaults of Copter 4.x, as recorded in
    shared/traces/arducopter-patrol-adsb), in SI units; `from_ardupilot` reads them from a
    vehicle's parameter values. flight_time.py turns them into flight times.
    """

    cruise_speed_mps: float = 10.0  # WPNAV_SPEED
    climb_speed_mps: float = 2.5  # WPNAV_SPEED_UP
    descent_speed_mps: float = 1.5  # WPNAV_SPEED_DN (and the landing above LAND_ALT_LOW)
    cruise_power_w: float = 380.0
    hover_power_w: float = 350.0
    climb_power_w: float = 450.0
    battery_capacity_wh: float = 90.0
    max_orbit_rate_dps: float = 20.0  # ArduCopter CIRCLE_RATE default: caps speed on small orbits
    accel_mps2: float = 2.5  # WPNAV_ACCEL
    jerk_mps3: float = 1.0  # WPNAV_JERK
    accel_z_mps2: float = 1.0  # WPNAV_ACCEL_Z
    land_speed_mps: float = 0.5  # LAND_SPEED: the last LAND_ALT_LOW metres
    land_alt_low_m: float = 10.0  # LAND_ALT_LOW
    rtl_alt_m: float = 15.0  # RTL_ALT: RTL climbs to it first when lower
    rtl_loiter_s: float = 5.0  # RTL_LOIT_TIME: hover over home before descending
    # measured, not parameters (patrol, fence and mavsdk traces): take-off command to lift-off
    # (spool-up and throttle ramp), and touchdown to disarmed (land detector)
    spool_up_s: float = 3.4
    touchdown_s: float = 2.1

    @classmethod
    def from_ardupilot(cls, params: Mapping[str, float], **other: float) -> Airframe:
        """The motion model from ArduCopter parameter values (cm, cm/s, ms as the vehicle keeps
        them); missing ones keep the defaults. `other` sets the power and battery fields."""
        d = cls()
        cm = {"WPNAV_SPEED": "cruise_speed_mps", "WPNAV_SPEED_UP": "climb_speed_mps",
              "WPNAV_SPEED_DN": "descent_speed_mps", "WPNAV_ACCEL": "accel_mps2",
              "WPNAV_ACCEL_Z": "accel_z_mps2", "LAND_SPEED": "land_speed_mps",
              "LAND_ALT_LOW": "land_alt_low_m", "RTL_ALT": "rtl_alt_m"}
        values: dict[str, float] = {f: getattr(d, f) for f in cm.values()}
        for name, f in cm.items():
            if params.get(name):
                values[f] = float(params[name]) / 100.0
        if params.get("WPNAV_JERK"):
            values["jerk_mps3"] = float(params["WPNAV_JERK"])
        if params.get("CIRCLE_RATE"):
            values["max_orbit_rate_dps"] = float(params["CIRCLE_RATE"])
        if "RTL_LOIT_TIME" in params:
            values["rtl_loiter_s"] = float(params["RTL_LOIT_TIME"]) / 1000.0
        return replace(d, **values, **other)


@dataclass(frozen=True)
class Drone:
    """One vehicle available to the plan.

    `base` is where it lands at the end and the vehicle's home (RTL point). An airborne drone starts
    at `position` at its layer altitude; a grounded one takes off from `position` (default: base).
    """

    id: str
    base: LatLon
    battery_pct: float
    position: LatLon | None = None
    airborne: bool = False
    airframe: Airframe = field(default_factory=Airframe)
    base_amsl_m: float = 0.0  # ground altitude at base, only for the seq 0 home slot


@dataclass(frozen=True)
class AltitudePolicy:
    """Heights above ground: drone k of the request flies at base_agl_m + k * separation_m."""

    base_agl_m: float = 40.0
    separation_m: float = 10.0
    max_agl_m: float = 120.0  # legal ceiling (EU open category / FAA part 107: 120 m / 400 ft)


@dataclass(frozen=True)
class PlanRequest:
    drones: tuple[Drone, ...]
    targets: tuple[Target, ...]
    no_fly_zones: tuple[NoFlyZone, ...] = ()
    objective: Objective = Objective.RESPONSE
    # `response` weight of severity 1..5 (index 0 is severity 1); non-negative integers
    severity_weights: tuple[int, ...] = DEFAULT_SEVERITY_WEIGHTS
    altitude: AltitudePolicy = field(default_factory=AltitudePolicy)
    battery_reserve_pct: float = 25.0
    clearance_m: float = 15.0  # preferred lateral distance kept from no-fly zones
    solver: SolverChoice = SolverChoice.AUTO
    time_limit_s: float = 2.0  # OR-Tools search budget


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """Where in a drone's mission a target is served, and when (seconds after mission start:
    the take-off command for a drone on the ground, the upload for one in the air)."""

    target_id: str
    priority: Priority
    first_seq: int
    last_seq: int
    arrival_s: float
    departure_s: float

    @property
    def eta_s(self) -> float:
        """Time to eyes on: from dispatch until the drone is on station over the target."""
        return self.arrival_s


@dataclass(frozen=True)
class DroneRoute:
    """One drone's part of the plan.

    `path` is the ground track through every positional item, from the start to the base, so each
    consecutive pair is a straight leg; orbits are flown around their centre point and count in
    `distance_m` and `duration_s` but are not drawn in `path`.
    """

    drone_id: str
    altitude_m: float
    items: tuple[MissionItem, ...]
    path: tuple[LatLon, ...]
    distance_m: float
    duration_s: float
    energy_wh: float
    battery_used_pct: float
    battery_end_pct: float
    visits: tuple[Visit, ...]

    @property
    def idle(self) -> bool:
        return not self.visits


class DropReason(StrEnum):
    OUT_OF_RANGE = "out_of_range"  # no drone could fly it alone and keep the reserve
    BATTERY = "battery"  # would fit alone, but not beside the higher-priority work
    NO_DRONE = "no_drone"  # no drone has charge above the reserve


@dataclass(frozen=True)
class DroppedTarget:
    target_id: str
    priority: Priority
    reason: DropReason
    detail: str


@dataclass(frozen=True)
class Plan:
    routes: tuple[DroneRoute, ...]
    dropped: tuple[DroppedTarget, ...]
    objective: Objective
    solver: SolverChoice  # the solver whose answer this is (never AUTO)
    makespan_s: float
    total_time_s: float
    warnings: tuple[str, ...] = ()
    response_s: float = 0.0  # severity-weighted sum of the served targets' eta_s

    def route(self, drone_id: str) -> DroneRoute:
        for r in self.routes:
            if r.drone_id == drone_id:
                return r
        raise KeyError(drone_id)
