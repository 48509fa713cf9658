"""Traffic end to end on the simulator: `--adsb-count 5` aircraft reach `GET /api/traffic`
within 10 s, one track each although two drones relay them; an intruder on a collision course
raises an alert and the drone in flight is held (BRAKE) by the system."""

from __future__ import annotations

import time
from typing import Any

import pytest

pytest.register_assert_rewrite("service_fixture")

from service_fixture import ServiceFactory, take_off, wait_until  # noqa: E402

pytest_plugins = ["service_fixture"]
pytestmark = pytest.mark.timeout(120)
SPEEDUP = 5.0


def test_simulated_aircraft_appear_in_the_api_within_10_s(
        sitl_fleet: Any, service_factory: ServiceFactory) -> None:
    """On both engines: ours, and a real arducopter with SIM_ADSB_COUNT 5 and ADSB_TYPE 1
    (the `ardupilot` lane, skipped without a binary)."""
    fleet = sitl_fleet(count=2, speedup=SPEEDUP, ekf_delay=2.0, extra_args=["--adsb-count", "5"])
    svc = service_factory(drones=[fleet.mavsdk_url(i) for i in range(2)])
    with svc.client() as c:
        t0 = time.monotonic()
        tracks = wait_until(lambda: (lambda t: t if len(t) >= 5 else None)(
            c.get("/api/traffic").json()), 10.0, what="five aircraft")
        assert time.monotonic() - t0 < 10.0
        icaos = [t["icao"] for t in tracks]
        assert len(icaos) == len(set(icaos))  # one track per aircraft, two receivers
        assert all(t["callsign"] == f"SIM{int(t['icao'], 16)}" for t in tracks)
        assert {t["source"] for t in tracks} <= {"drone:1", "drone:2"}
        assert all(t["age_s"] < 5 for t in tracks)


def test_intruder_alert_holds_the_drone(sim_fleet: Any, service_factory: ServiceFactory) -> None:
    fleet = sim_fleet(count=1, speedup=SPEEDUP, ekf_delay=2.0, extra_args=["--adsb-count", "1"])
    svc = service_factory(drones=[fleet.mavsdk_url(0)],
                          env={"NAZORAT_TRAFFIC_ALERT_ACTION": "hold"})
    with svc.client() as c:
        take_off(c, 1, 30.0)
        fleet.control("intruder", vehicle=0, seconds=25, speed=60, bearing=45,
                      icao=0x7C0042, callsign="RESCUE1")
        alert = wait_until(lambda: c.get("/api/events", params={"kind": "traffic_alert"})
                           .json(), 30, what="traffic alert recorded")
        assert alert[0]["data"]["icao"] == "7C0042" or any(
            a["data"]["icao"] == "7C0042" for a in alert)
        wait_until(lambda: c.get("/api/drones/1").json()["state"]["mode"] == "BRAKE", 10,
                   what="the drone held")
        # the record is written once the ACK is in, which may be after the mode is reported
        wait_until(lambda: any(
            r["name"] == "pause" and r["actor"] == "system:traffic" and r["outcome"] == "accepted"
            for r in c.get("/api/drones/1/commands").json()), 10,
            what="the hold recorded as the system's")
