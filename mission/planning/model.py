"""Inputs and outputs of the patrol planner: frozen values the service builds from its tables.

Everything here is plain data (no shapely, no OR-Tools) so the service can construct requests and
serialise plans without knowing how the planner works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from mission.planning.errors import InvalidRequestError


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
    """

    cruise_speed_mps: float = 10.0
    climb_speed_mps: float = 2.5
    descent_speed_mps: float = 1.5
    cruise_power_w: float = 380.0
    hover_power_w: float = 350.0
    climb_power_w: float = 450.0
    battery_capacity_wh: float = 90.0
    max_orbit_rate_dps: float = 20.0  # ArduCopter CIRCLE_RATE default: caps speed on small orbits


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
class MissionItem:
    """One MAVLink mission item as uploaded with MISSION_ITEM_INT (lat/lon rounded to 1e-7 deg)."""

    seq: int
    frame: int
    command: int
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    lat: float = 0.0
    lon: float = 0.0
    alt: float = 0.0
    current: int = 0
    autocontinue: int = 1


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
