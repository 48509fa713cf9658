"""The one mission safety check (mission.planning.mission_check), in-process: one test per
bypass found in issue 10, and the cases it must still accept."""

from __future__ import annotations

from shapely.geometry import box

from mission.planning.flight_path import Item, Start
from mission.planning.mission_check import Refusal, check_mission
from mission.zones.domain import ZoneShape
from mission.zones.models import ZoneKind

HOME = (-35.363, 149.165)
START = Start(HOME[0], HOME[1], 0.0, HOME[0], HOME[1], 584.0)
CEILING = 120.0


def zone(min_alt: float | None = None, max_alt: float | None = None) -> ZoneShape:
    """A no-fly zone about 300 m north of home."""
    return ZoneShape(7, "school", ZoneKind.NO_FLY, None, box(149.163, -35.360, 149.167, -35.358),
                     min_alt, max_alt)


def wp(lat: float, lon: float, alt: float, frame: int = 3) -> Item:
    return Item(16, frame, lat, lon, alt)


TAKEOFF = Item(22, 3, 0, 0, 30)
RTL = Item(20, 2)
WEST, EAST, SOUTH = (-35.359, 149.160), (-35.359, 149.170), (-35.365, 149.165)


def check(items: list[Item], zones: list[ZoneShape] | None = None, first: int = 0
          ) -> Refusal | None:
    return check_mission(items, START, [zone()] if zones is None else zones,
                         max_altitude_m=CEILING, first=first)


def test_route_around_the_zone_is_accepted() -> None:
    assert check([TAKEOFF, wp(*WEST, 30), wp(*SOUTH, 30), wp(*EAST, 30), RTL]) is None


def test_frame_2_at_1500_m() -> None:
    r = check([TAKEOFF, wp(*SOUTH, 1500, frame=2), RTL])
    assert r is not None and r.index == 1 and r.check == "altitude"
    assert "items[1]" in r.message and "916" in r.message  # 1500 m AMSL, home at 584 m


def test_frame_2_resolved_as_absolute_like_ardupilot() -> None:
    assert check([TAKEOFF, wp(*SOUTH, 584 + 40, frame=2), RTL]) is None


def test_do_jump_whose_return_leg_crosses_the_zone() -> None:
    jump = Item(177, 2, param1=2, param2=1)  # back to seq 2 (items[1], WEST) once
    items = [TAKEOFF, wp(*WEST, 30), wp(*SOUTH, 30), wp(*EAST, 30), jump, RTL]
    r = check(items)
    assert r is not None and r.check == "no_fly" and r.index == 1 and r.zone_id == 7
    assert "items[1]" in r.message and "school" in r.message
    # without the jump the same items are fine: the refusal is the jump's edge
    assert check(items[:4] + items[5:]) is None


def test_do_jump_forever_is_refused() -> None:
    r = check([TAKEOFF, wp(*SOUTH, 30), Item(177, 2, param1=2, param2=-1), RTL])
    assert r is not None and r.check == "jump" and r.index == 2


def test_do_set_home_inside_the_zone_then_rtl() -> None:
    set_home = Item(179, 3, -35.359, 149.165, 0.0)
    r = check([TAKEOFF, wp(*SOUTH, 30), set_home, RTL])
    assert r is not None and r.check == "no_fly" and r.index == 3
    assert "NAV_RETURN_TO_LAUNCH" in r.message


def test_zone_banded_0_60_entered_at_20_m_on_a_route_whose_top_is_100_m() -> None:
    items = [Item(22, 3, 0, 0, 20), wp(-35.359, 149.165, 20), wp(*EAST, 100), RTL]
    r = check(items, [zone(0, 60)])
    assert r is not None and r.check == "no_fly" and r.index == 1 and "20 m" in r.message


def test_crossing_above_a_banded_zone_is_accepted() -> None:
    items = [Item(22, 3, 0, 0, 100), wp(-35.357, 149.165, 100), wp(*EAST, 100), RTL]
    assert check(items, [zone(0, 60)]) is None


def test_climb_from_the_ground_inside_a_band_is_checked() -> None:
    # taking off under a zone banded 10-60 m up to 100 m crosses the band
    start = Start(-35.359, 149.165, 0.0, HOME[0], HOME[1], 584.0)
    r = check_mission([Item(22, 3, 0, 0, 100), wp(*EAST, 100)], start, [zone(10, 60)],
                      max_altitude_m=CEILING)
    assert r is not None and r.check == "no_fly" and r.index == 0


def test_nan_altitude() -> None:
    r = check([TAKEOFF, wp(*SOUTH, float("nan")), RTL])
    assert r is not None and r.check == "finite" and r.index == 1 and "alt" in r.message


def test_infinite_param_refused_naming_the_field() -> None:
    r = check([TAKEOFF, Item(19, 3, *SOUTH, 30, param1=float("inf")), RTL])
    assert r is not None and r.check == "finite" and "param1" in r.message


def test_command_outside_the_allow_list_names_item_and_command() -> None:
    r = check([Item(84, 3, 0, 0, 30), RTL])
    assert r is not None and r.check == "item" and r.message.startswith("items[0]: MAV_CMD 84")


def test_terrain_frame_refused() -> None:
    r = check([TAKEOFF, wp(*SOUTH, 30, frame=10), RTL])
    assert r is not None and r.check == "item" and "terrain" in r.message


def test_loiter_radius_reaching_into_the_zone() -> None:
    orbit = Item(18, 3, -35.3615, 149.165, 30, param1=2, param3=200)  # 167 m south of it
    r = check([TAKEOFF, orbit, RTL])
    assert r is not None and r.check == "no_fly" and r.index == 1
    assert check([TAKEOFF, Item(18, 3, -35.3615, 149.165, 30, param1=2, param3=50), RTL]) is None


def test_land_then_the_leg_from_the_current_position() -> None:
    # the drone is north of the zone: its first leg south crosses it
    start = Start(-35.356, 149.165, 30.0, HOME[0], HOME[1], 584.0)
    r = check_mission([wp(*SOUTH, 30), RTL], start, [zone()], max_altitude_m=CEILING)
    assert r is not None and r.index == 0 and r.check == "no_fly"


def test_set_mission_current_checks_from_that_item_and_where_the_drone_is() -> None:
    items = [TAKEOFF, wp(*WEST, 30), wp(*SOUTH, 30), wp(*EAST, 30), RTL]
    assert check(items) is None
    # jumping to WEST while the drone is at EAST: the leg EAST -> WEST crosses the zone
    at_east = Start(EAST[0], EAST[1], 30.0, HOME[0], HOME[1], 584.0)
    r = check_mission(items, at_east, [zone()], max_altitude_m=CEILING, first=1)
    assert r is not None and r.index == 1 and r.check == "no_fly"


def test_absolute_frame_without_home_altitude_refused() -> None:
    start = Start(HOME[0], HOME[1], 0.0, HOME[0], HOME[1], None)
    r = check_mission([TAKEOFF, wp(*SOUTH, 600, frame=0)], start, [], max_altitude_m=CEILING)
    assert r is not None and r.check == "altitude_frame" and r.index == 1


def test_tiny_loiter_radius_is_not_an_empty_region() -> None:
    """Found by the property test: a loiter radius of 1e-239 m made an empty disc, and the
    climb from it into a zone's band was not seen."""
    corner = (-35.360, 149.163)  # the zone's south-west corner
    start = Start(*corner, 0.0, HOME[0], HOME[1], 584.0)
    items = [Item(18, 3, *corner, 0.0, param1=1, param3=2.7e-239), Item(22, 3, 0, 0, 5.0)]
    r = check_mission(items, start, [zone(5, None)], max_altitude_m=CEILING)
    assert r is not None and r.check == "no_fly" and r.index == 1
