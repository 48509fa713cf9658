"""QGroundControl .plan, Mission Planner WPL and GeoJSON: structure and round trips."""

from __future__ import annotations

import json
import math

import pytest

from mission.planning import (
    AreaTarget,
    Drone,
    FormatError,
    LatLon,
    Lawnmower,
    Loiter,
    NoFlyZone,
    Objective,
    Orbit,
    Plan,
    PlanRequest,
    PointTarget,
    export_geojson,
    export_qgc_plan,
    export_wpl,
    import_geojson,
    import_qgc_plan,
    import_wpl,
    plan_patrol,
)
from test_planning_support import BASE, FAST_S, at, rect

ZONE = NoFlyZone("school", rect(300, -300, 420, 300))


@pytest.fixture(scope="module")
def plan() -> Plan:
    drones = (Drone("d0", BASE, 95.0, base_amsl_m=455.0), Drone("d1", at(0, 10), 95.0))
    targets = (PointTarget("fire", at(700, 0), pattern=Orbit(50, turns=2)),
               PointTarget("crash", at(-500, 400), pattern=Loiter(30)),
               AreaTarget("search", rect(-300, -700, -100, -400), Lawnmower(50, 90)))
    return plan_patrol(PlanRequest(drones, targets, (ZONE,), objective=Objective.MAKESPAN,
                                   time_limit_s=FAST_S))


def test_qgc_plan_structure_and_round_trip(plan: Plan) -> None:
    for route in plan.routes:
        if not route.items:
            continue
        text = export_qgc_plan(route.items, (ZONE,))
        doc = json.loads(text)
        assert doc["fileType"] == "Plan"
        mission = doc["mission"]
        home = route.items[0]
        assert mission["plannedHomePosition"] == [home.lat, home.lon, home.alt]
        assert len(mission["items"]) == len(route.items) - 1
        for entry, item in zip(mission["items"], route.items[1:], strict=True):
            assert entry["type"] == "SimpleItem" and len(entry["params"]) == 7
            assert (entry["command"], entry["frame"], entry["doJumpId"]) == (
                item.command, item.frame, item.seq)
        fence = doc["geoFence"]["polygons"]
        assert fence == [{"inclusion": False, "version": 1,
                          "polygon": [[p.lat, p.lon] for p in ZONE.polygon]}]
        back = import_qgc_plan(text)
        assert back.items == route.items
        assert back.no_fly_zones[0].polygon == ZONE.polygon
        assert back.home == LatLon(home.lat, home.lon)


def test_wpl_structure_and_round_trip(plan: Plan) -> None:
    route = next(r for r in plan.routes if r.items)
    text = export_wpl(route.items)
    lines = text.splitlines()
    assert lines[0] == "QGC WPL 110"
    assert len(lines) == len(route.items) + 1
    assert all(len(ln.split("\t")) == 12 for ln in lines[1:])
    assert lines[1].split("\t")[:4] == ["0", "0", "0", "16"]
    assert import_wpl(text).items == route.items
    # Tolerates Windows line ends and space separation, as files edited by hand have.
    assert import_wpl(text.replace("\t", "  ").replace("\n", "\r\n")).items == route.items


def test_geojson_round_trip(plan: Plan) -> None:
    text = export_geojson(plan, (ZONE,))
    doc = json.loads(text)
    assert doc["type"] == "FeatureCollection"
    kinds = [f["properties"]["kind"] for f in doc["features"]]
    flying = [r for r in plan.routes if r.items]
    assert kinds.count("route") == len(flying) and kinds.count("no_fly") == 1
    served = {f["properties"]["target_id"] for f in doc["features"]
              if f["properties"]["kind"] == "item"} - {None}
    assert served == {"fire", "crash", "search"}
    for f in doc["features"]:
        if f["properties"]["kind"] == "route":
            assert f["geometry"]["type"] == "LineString"
            lon, lat = f["geometry"]["coordinates"][0]
            assert -180 <= lon <= 180 and abs(lat - BASE.lat) < 0.1  # [lon, lat] order
    back = import_geojson(text)
    assert set(back) == {r.drone_id for r in flying}
    for r in flying:
        assert back[r.drone_id].items == r.items
        assert back[r.drone_id].path == r.path
        assert back[r.drone_id].no_fly_zones[0].polygon == ZONE.polygon


def test_imports_read_foreign_files_and_refuse_garbage() -> None:
    qgc = {
        "fileType": "Plan", "version": 1, "groundStation": "QGroundControl",
        "geoFence": {"circles": [], "polygons": [], "version": 2},
        "rallyPoints": {"points": [], "version": 2},
        "mission": {
            "version": 2, "firmwareType": 3, "vehicleType": 2, "cruiseSpeed": 15,
            "hoverSpeed": 5, "plannedHomePosition": [41.3, 69.2, 455],
            "items": [
                {"type": "SimpleItem", "autoContinue": True, "command": 22, "doJumpId": 1,
                 "frame": 3, "params": [0, 0, 0, None, 0, 0, 30]},
                {"type": "SimpleItem", "autoContinue": True, "command": 16, "doJumpId": 2,
                 "frame": 3, "params": [0, 0, 0, None, 41.31, 69.21, 30]},
            ],
        },
    }
    got = import_qgc_plan(json.dumps(qgc))
    assert [it.command for it in got.items] == [16, 22, 16]
    assert math.isnan(got.items[1].param4) and got.items[2].lat == 41.31
    survey = json.loads(json.dumps(qgc))
    survey["mission"]["items"].append({"type": "ComplexItem", "complexItemType": "survey"})
    with pytest.raises(FormatError, match="survey"):
        import_qgc_plan(json.dumps(survey))
    with pytest.raises(FormatError):
        import_qgc_plan('{"fileType": "Plan"}')
    with pytest.raises(FormatError, match="QGC WPL 110"):
        import_wpl("hello\n")
    with pytest.raises(FormatError, match="12 columns"):
        import_wpl("QGC WPL 110\n0\t1\t0\t16\n")
    with pytest.raises(FormatError, match="seq 0|without gaps"):
        import_wpl("QGC WPL 110\n1\t0\t3\t16\t0\t0\t0\t0\t41.3\t69.2\t30\t1\n")
    with pytest.raises(FormatError):
        import_geojson('{"type": "Feature"}')


def test_wpl_reads_what_mavproxy_wp_load_reads() -> None:
    """Blank lines and `#` comment lines are skipped (pymavlink mavwp); errors name the line
    of the file as written; a gap in the numbering is still refused."""
    text = ("QGC WPL 110\n"
            "# written by hand: home, take-off, one waypoint\n"
            "\n"
            "0\t1\t0\t16\t0\t0\t0\t0\t41.3\t69.2\t455\t1\n"
            "   \n"
            "# climb\n"
            "1\t0\t3\t22\t0\t0\t0\t0\t0\t0\t30\t1\n"
            "\t# indented note\n"
            "2\t0\t3\t16\t0\t0\t0\t0\t41.301\t69.2\t30\t1\n")
    got = import_wpl(text)
    assert [(it.seq, it.command) for it in got.items] == [(0, 16), (1, 22), (2, 16)]
    with pytest.raises(FormatError, match="line 5: expected 12 columns"):
        import_wpl(text.replace("   \n", "3 0 3\n"))
    with pytest.raises(FormatError, match="without gaps"):
        import_wpl(text.replace("\n2\t0", "\n3\t0"))
