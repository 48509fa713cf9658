"""The simulator's ADS-B traffic (`python -m sitl --adsb-count N`) against ArduPilot's own
SIM_ADSB_COUNT, as recorded in shared/traces/arducopter-patrol-adsb: the ADSB_VEHICLE content
(constant fields, callsigns, speeds, point obstacles) and rate per aircraft; the same aircraft
from every copter; and the control port's intruder on a collision course."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import pytest

import trace_reference as ref
from mav import MavClient
from sitl_fleet import SitlFleet

_MISSING = ref.missing_reason()
pytestmark = [pytest.mark.skipif(_MISSING is not None, reason=_MISSING or ""),
              pytest.mark.timeout(90)]

SPEEDUP = 10.0
RATE_TOLERANCE = 0.15
ADSB_ID = 246


def _client(fleet: SitlFleet, i: int, clients: list[MavClient]) -> MavClient:
    c = MavClient(fleet.url(i), target_system=fleet.sysid(i))
    clients.append(c)
    c.wait_heartbeat(10.0)
    return c


@pytest.fixture
def clients() -> Any:
    opened: list[MavClient] = []
    yield opened
    for c in opened:
        c.close()


def test_adsb_vehicle_content_and_rate_match_the_real_sitl(sim_fleet: Any,
                                                           clients: list[MavClient]) -> None:
    facts = ref.adsb_facts()
    fleet = sim_fleet(count=2, speedup=SPEEDUP, ekf_delay=2.0,
                      extra_args=["--adsb-count", "5"])
    a, b = _client(fleet, 0, clients), _client(fleet, 1, clients)
    # nothing is relayed until asked (ArduPilot on SERIAL0 sends no stream unrequested)
    a.collect(0.5)
    assert a.received("ADSB_VEHICLE") == []
    a.request_data_stream(5)  # ALL, as the trace's ground station
    b.set_message_interval(ADSB_ID, 5.0)  # as Nazorat's link asks for it
    a.wait("SYSTEM_TIME", timeout=5)
    start = a.mark()
    b_start = b.mark()
    a.collect(25.0 / SPEEDUP * 1.3)  # ~30 vehicle seconds
    b.collect(0.2)
    got = [r for r in a.history[start:] if r.type == "ADSB_VEHICLE"]
    assert got, "no ADSB_VEHICLE after REQUEST_DATA_STREAM(ALL)"
    by: dict[int, list[Any]] = defaultdict(list)
    for r in got:
        by[r.msg.ICAO_address].append(r)
    for field, values in facts.constants.items():
        assert {getattr(r.msg, field) for r in got} == set(values), field
    for r in got:
        m = r.msg
        assert 0 <= m.emitter_type <= 19
        assert m.hor_velocity <= facts.max_hor_velocity_cms * 1.05
        assert abs(m.ver_velocity) <= facts.max_abs_ver_velocity_cms * 1.05
        assert 0 < m.ICAO_address <= facts.max_icao * 1.05 + 400
        assert facts.callsign_is_sim_icao and m.callsign == f"SIM{m.ICAO_address}"
        if m.emitter_type == 19 and facts.point_obstacles_still:
            assert (m.hor_velocity, m.ver_velocity, m.heading) == (0, 0, 0)
    assert len(by) >= 5  # five aloft at any time (replacements add more)
    rates = []
    for reports in by.values():
        times = [r.vt for r in reports if r.vt is not None]
        if len(times) >= 10:
            rates.append((len(times) - 1) / (times[-1] - times[0]))
    assert rates, "no aircraft reported long enough to measure"
    median = sorted(rates)[len(rates) // 2]
    assert median == pytest.approx(facts.per_aircraft_hz, rel=RATE_TOLERANCE)
    # the other copter relays the same sky
    b_icaos = {m.ICAO_address for m in b.received("ADSB_VEHICLE", since=b_start)}
    assert b_icaos & set(by), "copter 2 hears other aircraft than copter 1"


def test_intruder_on_a_collision_course(sim_fleet: Any, clients: list[MavClient]) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=2.0,
                      extra_args=["--adsb-count", "1"])
    c = _client(fleet, 0, clients)
    c.request_data_stream(5)
    with pytest.raises(RuntimeError, match="seconds"):
        fleet.control("intruder", vehicle=0, seconds=-1)
    reply = fleet.control("intruder", vehicle=0, seconds=40, speed=50, bearing=90, dalt=10,
                          callsign="HELI7", icao=0x7C1234)
    assert reply["icao"] == 0x7C1234
    st = reply["status"]
    m = c.wait("ADSB_VEHICLE", pred=lambda m: m.ICAO_address == 0x7C1234, timeout=5)
    assert m.callsign == "HELI7"
    assert m.heading == pytest.approx(27000, abs=50)  # from the east, flying west
    assert m.hor_velocity == 5000
    # it comes at the vehicle: 2 km east at first, closer later
    def east_m(msg: Any) -> float:
        return float((msg.lon / 1e7 - st["lon"]) * 111_195 * math.cos(math.radians(st["lat"])))
    first = east_m(m)
    assert 1700 < first <= 2000
    c.collect(10 / SPEEDUP * 1.5)
    later = c.received("ADSB_VEHICLE")
    last = [x for x in later if x.ICAO_address == 0x7C1234][-1]
    assert east_m(last) < first - 300
    assert abs(last.altitude / 1000 - (reply["alt"])) < 0.01
