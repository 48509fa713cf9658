"""The pure geometry of conflicts: separations now and at the closest point of approach."""

from __future__ import annotations

import pytest

from mission.airspace.geometry import Level, Mover, Thresholds, encounter, level
from mission.geo import M_PER_DEG_LAT, m_per_deg_lon

LAT, LON = 41.31, 69.24


def _at(north: float, east: float, alt: float, **kw: float) -> Mover:
    return Mover(LAT + north / M_PER_DEG_LAT, LON + east / m_per_deg_lon(LAT), alt, **kw)


def test_head_on_collision_course() -> None:
    own = _at(0, 0, 500)
    other = _at(3000, 0, 500, course_deg=180, speed_mps=60)
    e = encounter(own, other)
    assert e.h_now_m == pytest.approx(3000, rel=1e-3)
    assert e.t_cpa_s == pytest.approx(50, rel=1e-3)
    assert e.h_cpa_m == pytest.approx(0, abs=1) and e.closing
    assert level(e, Thresholds()) is Level.ADVISORY  # CPA inside the alert volume in 50 s


def test_cpa_beyond_the_horizon_is_not_a_conflict() -> None:
    e = encounter(_at(0, 0, 500), _at(5000, 0, 500, course_deg=180, speed_mps=60))
    assert e.t_cpa_s == 60  # the closest within the horizon is its end
    assert e.h_cpa_m == pytest.approx(1400, rel=1e-2)
    assert level(e, Thresholds()) is Level.CLEAR


def test_crossing_miss_distance() -> None:
    own = _at(0, 0, 500, course_deg=90, speed_mps=10)  # eastbound
    other = _at(1000, 500, 500, course_deg=180, speed_mps=40)  # southbound, 500 m east
    e = encounter(own, other)
    # relative motion (-10, -40) m/s from (500, 1000): the closest at t = 45000/1700
    assert e.t_cpa_s == pytest.approx(45000 / 1700, rel=1e-3)
    assert e.h_cpa_m == pytest.approx(abs(500 * -40 - 1000 * -10) / (1700 ** 0.5), rel=1e-3)


def test_diverging_traffic_has_cpa_now() -> None:
    e = encounter(_at(0, 0, 500), _at(800, 0, 520, course_deg=0, speed_mps=50))
    assert e.t_cpa_s == 0 and not e.closing
    assert level(e, Thresholds()) is Level.ALERT  # 800 m and 20 m now


@pytest.mark.parametrize(("h", "v", "want"), [
    (900, 100, Level.ALERT), (900, 200, Level.ADVISORY), (1500, 100, Level.ADVISORY),
    (1900, 299, Level.ADVISORY), (2100, 0, Level.CLEAR), (500, 400, Level.CLEAR),
])
def test_levels_by_volume(h: float, v: float, want: Level) -> None:
    e = encounter(_at(0, 0, 500), _at(h, 0, 500 + v))
    assert level(e, Thresholds()) is want


def test_vertical_rate_brings_a_climber_into_the_alert_volume() -> None:
    e = encounter(_at(0, 0, 500), _at(500, 0, 100, vertical_mps=10))  # 400 m below, climbing
    assert e.v_cpa_m < 150 and level(e, Thresholds()) is Level.ADVISORY


def test_thresholds_are_checked() -> None:
    with pytest.raises(ValueError, match="alert volume"):
        Thresholds(alert_h_m=3000)
    with pytest.raises(ValueError, match="horizon_s"):
        Thresholds(horizon_s=0)
