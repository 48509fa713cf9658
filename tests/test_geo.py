"""One Earth radius for the whole service (mission/geo.py): the planner's local frame, the
flown-route estimate, the mission safety check's discs, hotspots and quick dispatch all agree on
how far apart two points are. Before, three radii gave three answers up to 0.1 % apart."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

from mission import geo
from mission.planning.flown_route import metres
from mission.planning.geometry import LocalFrame
from mission.planning.model import LatLon

pytestmark = pytest.mark.nopg  # no database, no service

REPO = Path(__file__).resolve().parents[1]
TASHKENT = LatLon(41.311081, 69.240562)


def test_distances_agree_across_the_service() -> None:
    east = LatLon(TASHKENT.lat, TASHKENT.lon + 0.05)  # about 4.2 km
    north = LatLon(TASHKENT.lat + 0.05, TASHKENT.lon)  # about 5.6 km
    frame = LocalFrame(TASHKENT.lat, TASHKENT.lon)
    for p in (east, north):
        great_circle = geo.haversine_m(TASHKENT.lat, TASHKENT.lon, p.lat, p.lon)
        assert metres(TASHKENT, p) == great_circle
        x, y = frame.xy(p)
        # the planner's flat frame is within 1 m of the great circle over a patrol's span
        assert abs(math.hypot(x, y) - great_circle) < 1.0, (p, math.hypot(x, y), great_circle)
    # one degree of latitude with the mean radius (with 6,378,137 m it would be 111,319.5 m)
    assert geo.haversine_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(111_195.08, abs=0.01)


def test_no_other_earth_radius_in_the_service() -> None:
    """A float literal near the Earth's radius (or a degree of it) anywhere in mission/ or
    telemetry/ other than mission/geo.py is a second radius. sitl/ is its own program and
    mirrors ArduPilot's arithmetic (sitl/geo.py), so it is not checked."""
    found = []
    for path in [*(REPO / "mission").rglob("*.py"), *(REPO / "telemetry").rglob("*.py")]:
        if path == REPO / "mission" / "geo.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, int | float) \
                    and not isinstance(node.value, bool) \
                    and (6_350_000 <= node.value <= 6_400_000 or 110_000 <= node.value <= 112_000):
                found.append(f"{path.relative_to(REPO)}:{node.lineno} {node.value}")
    assert not found, found
