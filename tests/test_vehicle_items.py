"""The copter allow-list (mission.planning.vehicle_items): what is accepted, and that a refusal
names the item and the command."""

from __future__ import annotations

from mission.planning import vehicle_items as vi


def test_planner_items_are_allowed() -> None:
    # what mission.planning.items sends: home, takeoff, speed (frame 2), waypoints, holds, RTL
    for command, frame in ((16, 0), (22, 3), (178, 2), (16, 3), (19, 3), (18, 3), (20, 2),
                           (21, 3)):
        assert vi.item_problem(0, command, frame) is None


def test_vtol_takeoff_refused_naming_item_and_command() -> None:
    why = vi.item_problem(4, 84, 3)
    assert why is not None and why.startswith("items[4]: MAV_CMD 84") and "VTOL" in why


def test_unknown_command_refused() -> None:
    why = vi.item_problem(0, 31000, 3)
    assert why is not None and "MAV_CMD 31000" in why


def test_terrain_frame_refused_unless_configured() -> None:
    why = vi.item_problem(2, 16, 10)
    assert why is not None and "items[2]" in why and "terrain" in why
    assert vi.item_problem(2, 16, 10, terrain=True) is None


def test_local_frame_refused() -> None:
    why = vi.item_problem(1, 16, 1)
    assert why is not None and "MAV_FRAME 1" in why


def test_frame_mission_is_absolute() -> None:
    assert vi.FRAME_MISSION in vi.ABSOLUTE_FRAMES
