"""Remote ID, the ground station's part: the link sends the operator's location and ID to every
drone (real MAVSDK to the simulator, which answers OPEN_DRONE_ID_ARM_STATUS), and each drone's
arm status shows in its state."""

from __future__ import annotations

import functools
import time
from typing import Any

import pytest

pytest.register_assert_rewrite("service_fixture")

from service_fixture import ServiceFactory, wait_until  # noqa: E402
from telemetry.decode import VehicleDecoder  # noqa: E402
from telemetry.remote_id import OperatorInfo  # noqa: E402
from telemetry.state import VehicleState  # noqa: E402

pytest_plugins = ["service_fixture"]
pytestmark = pytest.mark.timeout(90)


def test_arm_status_decodes() -> None:
    d = VehicleDecoder(VehicleState(vehicle_id=1, sysid=1))
    st, _ = d.apply([("OPEN_DRONE_ID_ARM_STATUS", {"status": 1,
                                                    "error": "operator location must be sent"})])
    assert st is not None and st.remote_id_ok is False
    assert st.remote_id_error == "operator location must be sent"
    assert st.to_dict()["remote_id"] == {"ok": False, "error": "operator location must be sent"}
    st, _ = d.apply([("OPEN_DRONE_ID_ARM_STATUS", {"status": 0, "error": ""})])
    assert st is not None and st.remote_id_ok and st.remote_id_error is None


def test_operator_settings_are_checked() -> None:
    assert OperatorInfo.parse("") is None
    assert OperatorInfo.parse("41.3,69.2,455", "UZB-OP-1") == OperatorInfo(41.3, 69.2, 455.0,
                                                                           "UZB-OP-1")
    with pytest.raises(ValueError, match="NAZORAT_REMOTE_ID_OPERATOR_LOCATION"):
        OperatorInfo.parse("41.3,69.2")
    with pytest.raises(ValueError, match="NAZORAT_REMOTE_ID_OPERATOR_ID"):
        OperatorInfo.parse("41.3,69.2,455", "x" * 21)


def test_operator_location_reaches_every_drone(sim_fleet: Any,
                                               service_factory: ServiceFactory) -> None:
    fleet = sim_fleet(count=2, speedup=5.0, ekf_delay=2.0)
    svc = service_factory(drones=[fleet.mavsdk_url(i) for i in range(2)], env={
        "NAZORAT_REMOTE_ID_OPERATOR_LOCATION": "41.3101,69.2401,452.5",
        "NAZORAT_REMOTE_ID_OPERATOR_ID": "UZB-OP-0042"})
    def heard(i: int) -> dict[str, Any] | None:
        # the location (OPEN_DRONE_ID_SYSTEM) and the ID (OPEN_DRONE_ID_OPERATOR_ID) are two
        # messages: the ID can come a moment after the location
        st: dict[str, Any] = fleet.control("status", vehicle=i)
        return st if st["remote_id_operator"] and st["remote_id_operator_id"] else None

    for i in range(2):
        st = wait_until(functools.partial(heard, i), 15, what=f"operator location on {i}")
        assert st["remote_id_operator"] == pytest.approx([41.3101, 69.2401])
        assert st["remote_id_operator_id"] == "UZB-OP-0042"
    with svc.client() as c:
        def rid(d: int) -> Any:
            return (c.get(f"/api/drones/{d}").json()["state"] or {}).get("remote_id")

        for drone in (1, 2):
            wait_until(functools.partial(lambda d: rid(d) == {"ok": True, "error": None}, drone),
                       15, what=f"drone {drone} RID ok")


def test_without_an_operator_location_nothing_is_sent(sim_fleet: Any,
                                                      service_factory: ServiceFactory) -> None:
    fleet = sim_fleet(count=1, speedup=5.0, ekf_delay=2.0)
    svc = service_factory(drones=[fleet.mavsdk_url(0)])
    with svc.client() as c:
        wait_until(lambda: (c.get("/api/drones/1").json()["state"] or {}).get("link") == "up",
                   15, what="link")
        time.sleep(2.0)
        assert c.get("/api/drones/1").json()["state"]["remote_id"] is None
    assert fleet.control("status", vehicle=0)["remote_id_operator"] is None
