"""Altitude layers and the legal ceiling."""

from __future__ import annotations

import pytest

from mission.planning import (
    AltitudeError,
    AltitudePolicy,
    Drone,
    Objective,
    PlanRequest,
    PointTarget,
    plan_patrol,
)
from test_planning_support import BASE, FAST_S, at

NAV_TAKEOFF, NAV_LAND = 22, 21


def test_each_drone_flies_its_own_layer_below_the_ceiling() -> None:
    drones = tuple(Drone(f"d{i}", at(0, 10 * i), 95.0) for i in range(4))
    targets = tuple(PointTarget(f"t{i}", at(800 * (-1) ** i, 300 * i)) for i in range(4))
    policy = AltitudePolicy(base_agl_m=50, separation_m=15, max_agl_m=120)
    plan = plan_patrol(PlanRequest(drones, targets, altitude=policy, time_limit_s=FAST_S,
                                   objective=Objective.MAKESPAN))
    layers = [r.altitude_m for r in plan.routes]
    assert layers == [50, 65, 80, 95]
    for r in plan.routes:
        for it in r.items:
            if it.frame == 3 and it.command != NAV_LAND:
                assert it.alt == r.altitude_m <= 120, (r.drone_id, it)
    flying = [r for r in plan.routes if r.items]
    assert len(flying) >= 3
    assert len({r.altitude_m for r in flying}) == len(flying)
    takeoffs = [it for r in flying for it in r.items if it.command == NAV_TAKEOFF]
    assert sorted(it.alt for it in takeoffs) == sorted(r.altitude_m for r in flying)


def test_altitude_above_the_legal_maximum_is_refused() -> None:
    one = (Drone("d0", BASE, 90.0),)
    target = (PointTarget("t", at(300, 0)),)
    with pytest.raises(AltitudeError, match=r"130 m .*legal maximum of 120 m"):
        plan_patrol(PlanRequest(one, target, altitude=AltitudePolicy(base_agl_m=130)))
    # A stricter local limit is honoured too.
    with pytest.raises(AltitudeError, match="legal maximum of 60 m"):
        plan_patrol(PlanRequest(one, target, altitude=AltitudePolicy(base_agl_m=70, max_agl_m=60)))


def test_too_many_layers_for_the_ceiling_is_refused() -> None:
    drones = tuple(Drone(f"d{i}", at(0, 10 * i), 90.0) for i in range(10))
    with pytest.raises(AltitudeError, match=r"10 drones .* 130 m"):
        plan_patrol(PlanRequest(drones, (PointTarget("t", at(300, 0)),),
                                altitude=AltitudePolicy(base_agl_m=40, separation_m=10)))
    with pytest.raises(AltitudeError, match="separation"):
        plan_patrol(PlanRequest(drones[:2], (), altitude=AltitudePolicy(separation_m=0)))
