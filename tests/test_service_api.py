"""The service started for real (`nazorat serve` subprocess) against the simulated fleet."""

from __future__ import annotations

import functools
import socket
import time
from typing import Any

import httpx
import pytest

pytest.register_assert_rewrite("service_fixture")

from service_fixture import ServiceFactory, wait_until  # noqa: E402
from sitl_fleet import FleetFactory  # noqa: E402

pytest_plugins = ["service_fixture"]
pytestmark = pytest.mark.timeout(120)


def drone_state(client: httpx.Client, drone_id: int) -> dict[str, Any]:
    r = client.get(f"/api/drones/{drone_id}")
    assert r.status_code == 200, r.text
    state: dict[str, Any] = r.json()["state"] or {}
    return state


def _ready(client: httpx.Client, drone_id: int) -> bool:
    state = drone_state(client, drone_id)
    return bool(state.get("ekf_ok") and state.get("home"))


def test_drones_crud_duplicates_and_reconnect_after_restart(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> None:
    a = sim_fleet(count=2, speedup=5.0, ekf_delay=2.0)
    b = sim_fleet(count=1, speedup=5.0, ekf_delay=2.0)  # sysid 1 again
    svc = service_factory()
    with svc.client() as c:
        r = c.post("/api/drones", json={"url": a.mavsdk_url(0), "name": "alpha"})
        assert r.status_code == 201, r.text
        assert r.json()["sysid"] == 1 and r.json()["id"] == 1
        r = c.post("/api/drones", json={"url": a.url(1)})  # pymavlink form is accepted too
        assert r.status_code == 201, r.text
        assert r.json()["sysid"] == 2 and r.json()["url"] == a.mavsdk_url(1)

        r = c.post("/api/drones", json={"url": a.mavsdk_url(0)})
        assert r.status_code == 409 and r.json()["detail"]["field"] == "url"
        r = c.post("/api/drones", json={"url": b.mavsdk_url(0)})
        assert r.status_code == 409, r.text
        detail = r.json()["detail"]
        assert detail["error"] == "DuplicateSysid" and detail["field"] == "sysid"
        assert "system id 1 is already used by vehicle 'alpha'" in detail["message"]
        r = c.post("/api/drones", json={"url": "udpin://:14550"})
        assert r.status_code == 422 and r.json()["detail"]["field"] == "url"
        r = c.post("/api/drones", json={"name": "no url"})
        assert r.status_code == 422 and "url" in str(r.json()["detail"][0]["loc"])

        ids = [d["id"] for d in c.get("/api/drones").json()]
        assert ids == [1, 2]
        wait_until(lambda: drone_state(c, 1).get("link") == "up", 10, what="drone 1 up")
        assert c.delete("/api/drones/2").status_code == 204
        assert c.get("/api/drones/2").status_code == 404
        assert c.delete("/api/drones/2").status_code == 404

    svc.restart()  # stored drones are reconnected at startup
    with svc.client() as c:
        assert [d["id"] for d in c.get("/api/drones").json()] == [1]
        # positions may arrive before the first (1 Hz) heartbeat marks the link up
        state = wait_until(
            lambda: (s := drone_state(c, 1)).get("position") and s["link"] == "up" and s, 15,
            what="drone 1 linked with a position after restart")
        assert state["sysid"] == 1
        assert c.get("/api/health").json()["links_up"] == 1


def test_commands_validation_rejection_and_audit(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> None:
    # EKF origin after ~3.8 s wall, position estimate after ~8 s: the window for the refusal.
    fleet = sim_fleet(count=1, speedup=10.0, ekf_delay=80.0)
    svc = service_factory(drones=[fleet.mavsdk_url(0)])
    with svc.client() as c:
        wait_until(lambda: drone_state(c, 1).get("link") == "up", 10, what="link up")
        r = c.post("/api/drones/1/commands/takeoff", json={"alt": -5})
        assert r.status_code == 422
        assert r.json()["detail"]["errors"][0]["field"] == "alt"
        r = c.post("/api/drones/1/commands/set_mode", json={"mode": "WARP"})
        assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == "mode"
        r = c.post("/api/drones/1/commands/arm", json={"extra": 1})
        assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == "extra"
        assert c.post("/api/drones/1/commands/fly_to_moon").status_code == 404
        assert c.post("/api/drones/9/commands/arm").status_code == 404

        hdr = svc.auth_headers("operator", "op-7")
        r = c.post("/api/drones/1/commands/set_mode", json={"mode": "guided"}, headers=hdr)
        assert r.status_code == 200 and r.json()["mode"] == "GUIDED", r.text

        def refused_for_position() -> dict[str, Any] | None:
            r = c.post("/api/drones/1/commands/arm", headers=hdr)
            assert r.status_code == 409, r.text
            body: dict[str, Any] = r.json()
            return body if body["reason"] == "Arm: Need Position Estimate" else None

        body = wait_until(refused_for_position, 12, interval_s=0.5, what="position refusal")
        assert body["outcome"] == "rejected" and body["ack"] == {"result": 4, "name": "FAILED"}
        assert body["statustext"] == "Arm: Need Position Estimate"

        history = c.get("/api/drones/1/commands").json()
        arm = next(h for h in history if h["name"] == "arm" and h["outcome"] == "rejected")
        assert arm["actor"] == "op-7" and arm["result"]["reason"].startswith("Arm:")
        assert arm["finished_at"] >= arm["requested_at"]
        invalid = [h for h in history if h["outcome"] == "invalid"]
        assert {h["name"] for h in invalid} >= {"takeoff", "set_mode"}
        assert all(h["actor"] == svc.admin_user for h in invalid)
        mode = next(h for h in history if h["name"] == "set_mode" and h["outcome"] == "accepted")
        assert mode["params"] == {"mode": "GUIDED"}  # recorded as sent to the vehicle


def test_mission_to_drone_2_never_reaches_drone_1_and_flight_is_recorded(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> None:
    fleet = sim_fleet(count=2, speedup=10.0, ekf_delay=1.0)
    svc = service_factory(drones=[fleet.mavsdk_url(0), fleet.mavsdk_url(1)])
    with svc.client(timeout=60) as c:
        for i in (1, 2):
            wait_until(functools.partial(_ready, c, i), 15, what=f"drone {i} ready")
        home = drone_state(c, 2)["home"]
        items = [
            {"command": 22, "alt": 10},
            {"command": 16, "lat": home["lat"] + 0.0002, "lon": home["lon"], "alt": 10},
            {"command": 20},
        ]
        r = c.post("/api/drones/2/commands/upload_mission", json={"items": items})
        assert r.status_code == 200 and r.json()["verified"] is True, r.text
        on1 = c.get("/api/drones/1/mission").json()["items"]
        on2 = c.get("/api/drones/2/mission").json()["items"]
        assert len(on1) <= 1, on1  # drone 1 holds at most its home slot
        assert [i["command"] for i in on2[1:]] == [22, 16, 20]
        assert drone_state(c, 1).get("mission_total") in (0, None)

        r = c.post("/api/drones/2/commands/start_mission", json={"takeoff_alt": 10})
        assert r.status_code == 200, r.text
        assert r.json()["steps"] == ["GUIDED", "arm", "takeoff", "AUTO", "MISSION_START"]
        wait_until(lambda: drone_state(c, 2)["mode"] == "AUTO", 5, what="AUTO")
        r = c.post("/api/drones/2/commands/pause", json={"mode": "BRAKE"})
        assert r.status_code == 200 and r.json()["confirmed"] is True, r.text
        assert c.post("/api/drones/2/commands/resume").status_code == 200
        wait_until(
            lambda: any(e["kind"] == "mission_item_reached"
                        for e in c.get("/api/events", params={"drone_id": 2}).json()),
            40, interval_s=0.5, what="mission item reached",
        )
        r = c.post("/api/drones/2/commands/return_to_launch")
        assert r.status_code == 200 and r.json()["mode"] == "RTL"
        assert drone_state(c, 1)["armed"] is False and drone_state(c, 1)["mode"] == "STABILIZE"

        time.sleep(1.2)  # one more recording interval
        track = c.get("/api/drones/2/track", params={"from": "1970-01-01T00:00:00Z"}).json()
        assert track["type"] == "Feature" and track["geometry"]["type"] == "LineString"
        coords = track["geometry"]["coordinates"]
        assert len(coords) >= 2 and len(coords) == len(track["properties"]["times"])
        assert max(p[2] for p in coords) > home["alt_amsl"] + 3  # it climbed
        assert abs(coords[0][0] - home["lon"]) < 0.001  # [lon, lat, alt] order
        kinds = {e["kind"] for e in c.get("/api/events", params={"drone_id": 2}).json()}
        assert {"armed", "mode_changed", "mission_item_reached"} <= kinds
        assert c.get("/api/events", params={"from": "yesterday"}).status_code == 422


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_drones_heard_on_a_discovery_port_are_registered_and_commandable(
    sim_fleet: FleetFactory, service_factory: ServiceFactory
) -> None:
    """Two autopilots streaming to one UDP port (SITL's --out, a radio bridge, a mesh) each
    become a drone of their own, by system id, and answer commands over that shared port."""
    port = _free_udp_port()
    svc = service_factory(env={"NAZORAT_DISCOVERY_URLS": f"udpin://127.0.0.1:{port}"})
    for sysid in (7, 9):
        sim_fleet(count=1, speedup=5.0, ekf_delay=2.0, sysid_base=sysid,
                  extra_args=["--out", f"udp:127.0.0.1:{port}"])
    with svc.client() as c:
        drones = wait_until(
            lambda: (d := c.get("/api/drones").json()) and len(d) == 2
            and all((x["state"] or {}).get("position") for x in d) and d,
            20, what="both vehicles discovered with positions")
        assert sorted(d["sysid"] for d in drones) == [7, 9]
        assert all(d["url"] == f"udpin://127.0.0.1:{port}" for d in drones)
        nine = next(d for d in drones if d["sysid"] == 9)
        r = c.post(f"/api/drones/{nine['id']}/commands/set_mode", json={"mode": "BRAKE"})
        assert r.status_code == 200, r.text
        wait_until(lambda: drone_state(c, nine["id"]).get("mode") == "BRAKE", 5,
                   what="mode BRAKE on sysid 9")
        seven = next(d for d in drones if d["sysid"] == 7)
        assert drone_state(c, seven["id"])["mode"] == "STABILIZE"
