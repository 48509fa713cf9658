"""Remote ID traffic end to end on the simulator: `--remote-id-count 2` broadcasters, relayed
by both copters (BASIC_ID + LOCATION from a receiver component, not the autopilot), reach
`GET /api/traffic` within 10 s as two `remote_id` tracks keyed by UAS ID; the control port's
`rid_intruder` puts a Remote ID drone on a collision course and the drone in flight is held."""

from __future__ import annotations

import time
from typing import Any

import pytest

pytest.register_assert_rewrite("service_fixture")

from service_fixture import ServiceFactory, take_off, wait_until  # noqa: E402

pytest_plugins = ["service_fixture"]
pytestmark = pytest.mark.timeout(120)
SPEEDUP = 5.0


def _rid(c: Any) -> list[dict[str, Any]]:
    return [t for t in c.get("/api/traffic").json() if t["source"] == "remote_id"]


def test_simulated_remote_id_drones_appear_in_the_api_within_10_s(
        sim_fleet: Any, service_factory: ServiceFactory) -> None:
    fleet = sim_fleet(count=2, speedup=SPEEDUP, ekf_delay=2.0,
                      extra_args=["--remote-id-count", "2"])
    svc = service_factory(drones=[fleet.mavsdk_url(i) for i in range(2)])
    with svc.client() as c:
        t0 = time.monotonic()
        tracks = wait_until(lambda: (lambda t: t if len(t) >= 2 else None)(_rid(c)), 10.0,
                            what="two Remote ID drones")
        assert time.monotonic() - t0 < 10.0
        assert sorted(t["uas_id"] for t in tracks) == ["SIMRID000001", "SIMRID000002"]
        for t in tracks:
            assert t["icao"] is None and t["ua_type"] == "helicopter_or_multirotor"
            assert t["heard_by"] in ("drone:1", "drone:2") and t["age_s"] < 5
            assert t["alt_amsl_m"] is not None and t["speed_mps"] is not None
        assert len(c.get("/api/traffic").json()) == 2  # nothing else, no ADS-B


def test_remote_id_intruder_holds_the_drone(sim_fleet: Any,
                                            service_factory: ServiceFactory) -> None:
    # no --remote-id-count: random broadcasters near home would (rightly) hold the takeoff
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=2.0)
    svc = service_factory(drones=[fleet.mavsdk_url(0)],
                          env={"NAZORAT_TRAFFIC_ALERT_ACTION": "hold"})
    with svc.client() as c:
        take_off(c, 1, 30.0)
        reply = fleet.control("rid_intruder", vehicle=0, seconds=20, speed=20, bearing=90,
                              uas_id="INTRUDER-RID")
        assert reply["ok"] and reply["uas_id"] == "INTRUDER-RID", reply
        alerts = wait_until(lambda: [a for a in c.get("/api/events", params={
            "kind": "traffic_alert"}).json() if a["data"].get("uas_id") == "INTRUDER-RID"],
            30, what="Remote ID traffic alert recorded")
        assert alerts[0]["data"]["icao"] is None
        assert [t["uas_id"] for t in _rid(c)] == ["INTRUDER-RID"]
        wait_until(lambda: c.get("/api/drones/1").json()["state"]["mode"] == "BRAKE", 10,
                   what="the drone held")
