"""Patrol planning: pure functions and frozen dataclasses, no web framework and no database.

The service builds a PlanRequest from its tables, calls plan_patrol, stores the Plan and uploads
each DroneRoute's items with MissionRaw (seq 0 is the home slot ArduPilot expects).
"""

from mission.planning.errors import (
    AltitudeError,
    InvalidRequestError,
    PlanningError,
    UnreachableTargetError,
)
from mission.planning.formats import (
    FormatError,
    ImportedMission,
    export_geojson,
    export_qgc_plan,
    export_wpl,
    import_geojson,
    import_qgc_plan,
    import_wpl,
)
from mission.planning.model import (
    Airframe,
    AltitudePolicy,
    AreaTarget,
    Drone,
    DroneRoute,
    DroppedTarget,
    DropReason,
    LatLon,
    Lawnmower,
    Loiter,
    MissionItem,
    NoFlyZone,
    Objective,
    Orbit,
    Perimeter,
    Plan,
    PlanRequest,
    PointTarget,
    Priority,
    SolverChoice,
    Target,
    Visit,
)
from mission.planning.planner import plan_patrol

__all__ = [
    "Airframe", "AltitudeError", "AltitudePolicy", "AreaTarget", "Drone", "DroneRoute",
    "DroppedTarget", "DropReason", "FormatError", "ImportedMission", "InvalidRequestError",
    "LatLon", "Lawnmower", "Loiter", "MissionItem", "NoFlyZone", "Objective", "Orbit",
    "Perimeter", "Plan", "PlanRequest", "PlanningError", "PointTarget", "Priority",
    "SolverChoice", "Target", "UnreachableTargetError", "Visit", "export_geojson",
    "export_qgc_plan", "export_wpl", "import_geojson", "import_qgc_plan", "import_wpl",
    "plan_patrol",
]
