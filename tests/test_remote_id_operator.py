"""The console's position as the Remote ID operator location: `PUT /api/remote-id/operator-
location` (operator or admin, 422 naming the field), sent by the link in OPEN_DRONE_ID_SYSTEM
to the real simulator (which then lets the drone arm), audited, and stale after
NAZORAT_REMOTE_ID_CONSOLE_STALE_S (then nothing is sent and the simulator, as ArduPilot,
reports the missing operator location). A fixed configured location always wins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("service_fixture")

from inprocess import in_process  # noqa: E402
from service_fixture import ServiceFactory, wait_until  # noqa: E402
from telemetry.remote_id import LOCATION_LIVE_GNSS, OperatorInfo, OperatorSource  # noqa: E402

pytest_plugins = ["service_fixture"]
pytestmark = pytest.mark.timeout(90)
URL = "/api/remote-id/operator-location"


def test_source_prefers_fixed_and_lets_the_console_position_go_stale() -> None:
    src = OperatorSource(None, "UZB-OP-7", console_stale_s=30.0)
    assert src.current(100.0) is None and src.status(100.0)["source"] is None
    src.set_console(41.3, 69.2, 450.0, 100.0, by="op1")
    op = src.current(129.0)
    assert op is not None and (op.lat, op.operator_id) == (41.3, "UZB-OP-7")
    assert op.location_type == LOCATION_LIVE_GNSS
    st = src.status(110.0)
    assert (st["source"], st["age_s"], st["set_by"]) == ("console", 10.0, "op1")
    assert src.current(130.5) is None  # stale: nothing is sent
    fixed = OperatorInfo(41.0, 69.0, 400.0, "F")
    both = OperatorSource(fixed, console_stale_s=30.0)
    both.set_console(41.3, 69.2, 450.0, 100.0)
    assert both.current(100.0) is fixed and both.status(100.0)["source"] == "fixed"


async def test_a_fixed_location_cannot_be_replaced(tmp_path: Path, database_url: str) -> None:
    async with in_process(tmp_path, database_url,
                          remote_id_operator_location="41.31,69.24,455") as svc, svc.http() as c:
        r = await c.put(URL, json={"lat": 41.0, "lon": 69.0, "alt_m": 400})
        assert r.status_code == 409 and r.json()["detail"]["error"] == "fixed_operator_location"
        assert (await c.get(URL)).json()["source"] == "fixed"


def test_console_location_reaches_the_drone_is_audited_and_goes_stale(
        sim_fleet: Any, service_factory: ServiceFactory) -> None:
    fleet = sim_fleet(count=1, speedup=5.0, ekf_delay=2.0)
    svc = service_factory(drones=[fleet.mavsdk_url(0)],
                          env={"NAZORAT_REMOTE_ID_CONSOLE_STALE_S": "3"})
    body = {"lat": 41.3105, "lon": 69.2411, "alt_m": 452.0}
    with svc.client(role="commander") as c:
        assert c.put(URL, json=body).status_code == 403
    with svc.client(role="operator") as c:
        for bad, field in (({**body, "lat": 91}, "lat"), ({**body, "lon": "x"}, "lon"),
                           ({**body, "lat": True}, "lat"), ({"lat": 1, "lon": 2}, "alt_m")):
            r = c.put(URL, json=bad)
            assert r.status_code == 422 and field in r.text, (bad, r.text)
        wait_until(lambda: (c.get("/api/drones/1").json()["state"] or {}).get("link") == "up",
                   15, what="link")
        r = c.put(URL, json=body)
        assert r.status_code == 200, r.text
        assert r.json()["source"] == "console" and r.json()["set_by"] == "operator-test"
        st = wait_until(lambda: (lambda s: s if s["remote_id_operator"] else None)(
            fleet.control("status", vehicle=0)), 10, what="operator location on the drone")
        assert st["remote_id_operator"] == pytest.approx([41.3105, 69.2411])
        wait_until(lambda: c.get("/api/drones/1").json()["state"]["remote_id"] ==
                   {"ok": True, "error": None}, 10, what="Remote ID ok")
        # the same place again (altitude unknown now): not audited
        assert c.put(URL, json={**body, "alt_m": None}).status_code == 200
        # no console keeps sending: stale after 3 s, nothing is sent, the drone says so
        wait_until(lambda: c.get(URL).json()["source"] is None, 10, what="stale")
        wait_until(lambda: c.get("/api/drones/1").json()["state"]["remote_id"] == {
            "ok": False, "error": "operator location must be sent"}, 10, what="RID failure")
    with svc.client() as admin:
        audit = admin.get("/api/audit", params={"action": "remote_id.operator_location"}).json()
        assert len(audit) == 1 and audit[0]["actor"] == "operator-test"
        assert audit[0]["params"] == {"lat": 41.3105, "lon": 69.2411, "alt_m": 452.0}
