"""The fleet link against the simulated fleet over real TCP sockets (no mocked link).

Each test runs one FleetLink (one Mavsdk instance) in the test's event loop and drives
`python -m sitl` through its control port for faults.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from sitl_fleet import FleetFactory, SitlFleet
from telemetry import commands, missions
from telemetry.errors import CommandRejected, DuplicateSysid, LinkDown
from telemetry.hub import TelemetryHub
from telemetry.link import FleetLink, LinkConfig
from telemetry.mission_item import MAV_FRAME_GLOBAL_RELATIVE_ALT as REL
from telemetry.mission_item import MissionItem
from telemetry.state import EventKind, LinkState, VehicleEvent, VehicleState

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def link() -> AsyncIterator[FleetLink]:
    fl = FleetLink(TelemetryHub(), LinkConfig(reconnect_after_s=60.0))
    await fl.start()
    try:
        yield fl
    finally:
        await fl.stop()


async def wait_state(
    link: FleetLink, vid: int, pred: Callable[[VehicleState], bool], timeout: float = 15.0
) -> VehicleState:
    deadline = time.monotonic() + timeout
    while True:
        s = link.hub.latest(vid)
        if s is not None and pred(s):
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"vehicle {vid} state never matched; last: {s}")
        await asyncio.sleep(0.05)


async def add_all(link: FleetLink, fleet: SitlFleet, first_id: int = 1) -> list[int]:
    ids = []
    for i in range(fleet.count):
        vid = first_id + i
        state = await link.add_vehicle(vid, fleet.mavsdk_url(i), name=f"d{i}")
        assert state.sysid == fleet.sysid(i)
        ids.append(vid)
    return ids


async def test_several_drones_on_one_mavsdk_instance(
    sim_fleet: FleetFactory, link: FleetLink
) -> None:
    fleet = sim_fleet(count=4, speedup=5.0, ekf_delay=2.0)
    ids = await add_all(link, fleet)
    states = [
        await wait_state(link, vid, lambda s: s.link is LinkState.UP and s.position is not None
                         and s.ekf_ok and s.battery_pct is not None and s.home is not None)
        for vid in ids
    ]
    assert [s.sysid for s in states] == [fleet.sysid(i) for i in range(4)]
    assert all(s.mode == "STABILIZE" and s.gps_fix in ("3D", "DGPS", "RTK_FLOAT", "RTK_FIXED")
               for s in states)
    lons = [s.position.lon for s in states if s.position]
    assert lons == sorted(lons) and len(set(lons)) == 4  # homes spaced east, not merged
    # Streams were requested: position arrives at several Hz, not only heartbeats.
    before = link.stats()["messages_received"]
    await asyncio.sleep(1.0)
    assert link.stats()["messages_received"] - before > 4 * 5


async def test_second_drone_with_same_sysid_is_refused(
    sim_fleet: FleetFactory, link: FleetLink
) -> None:
    a = sim_fleet(count=1, speedup=5.0, ekf_delay=2.0)
    b = sim_fleet(count=1, speedup=5.0, ekf_delay=2.0)  # also sysid 1
    await link.add_vehicle(1, a.mavsdk_url(0))
    await wait_state(link, 1, lambda s: s.position is not None)
    with pytest.raises(DuplicateSysid, match="system id 1 is already used by vehicle 1") as err:
        await link.add_vehicle(2, b.mavsdk_url(0))
    assert err.value.field == "sysid"
    assert [v.vehicle_id for v in link.vehicles()] == [1]
    # The refused vehicle never reached MAVSDK: vehicle 1 keeps one heartbeat source.
    b.control("gps_loss", vehicle=0, lost=True)
    await asyncio.sleep(1.0)
    assert link.hub.latest(1).position is not None  # type: ignore[union-attr]


async def test_link_cut_restore_and_fail_fast(sim_fleet: FleetFactory, link: FleetLink) -> None:
    fleet = sim_fleet(count=2, speedup=5.0, ekf_delay=2.0)
    await add_all(link, fleet)
    for vid in (1, 2):
        await wait_state(link, vid, lambda s: s.link is LinkState.UP and s.position is not None)
    events: list[VehicleEvent] = []
    with link.hub.subscribe() as sub:
        await asyncio.to_thread(fleet.control, "cut_link", vehicle=0)
        t_cut = time.monotonic()
        lost = await wait_state(link, 1, lambda s: s.link is LinkState.LOST, timeout=6.0)
        assert 2.5 < time.monotonic() - t_cut < 4.5  # 3 s without heartbeat
        assert lost.seconds_since_heartbeat() is not None
        assert link.hub.latest(2).link is LinkState.UP  # type: ignore[union-attr]
        t0 = time.monotonic()
        with pytest.raises(LinkDown):
            await commands.arm(link.get(1))
        assert time.monotonic() - t0 < 0.1  # refused locally, no 2 s of MAVSDK retries
        await asyncio.to_thread(fleet.control, "restore_link", vehicle=0)
        await wait_state(link, 1, lambda s: s.link is LinkState.UP, timeout=6.0)
        events, _ = sub.take_events()
    kinds = [(e.vehicle_id, e.kind) for e in events]
    assert (1, EventKind.LINK_LOST) in kinds and (1, EventKind.LINK_RESTORED) in kinds
    assert all(vid == 1 for vid, k in kinds if k in (EventKind.LINK_LOST, EventKind.LINK_RESTORED))
    # Streams flow again after the restore (re-requested on link up).
    t_before = link.hub.latest(1).updated_at  # type: ignore[union-attr]
    await wait_state(link, 1, lambda s: s.updated_at > t_before + 0.5, timeout=5.0)


async def test_arm_before_position_estimate_is_refused_with_reason(
    sim_fleet: FleetFactory, link: FleetLink
) -> None:
    # ekf_delay 100 at 10x: EKF origin (home) after ~4.7 s wall, position estimate after ~10 s.
    fleet = sim_fleet(count=1, speedup=10.0, ekf_delay=100.0)
    await link.add_vehicle(1, fleet.mavsdk_url(0))
    vehicle = link.get(1)
    await wait_state(link, 1, lambda s: s.link is LinkState.UP)
    await commands.set_mode(vehicle, "GUIDED")  # GUIDED needs a position estimate to arm
    reasons = []
    deadline = time.monotonic() + 9.0
    while time.monotonic() < deadline:
        with pytest.raises(CommandRejected) as err:
            await commands.arm(vehicle)
        e = err.value
        assert e.ack_name == "FAILED" and e.ack_result == 4
        assert e.statustext is not None and e.statustext.startswith(("Arm:", "PreArm:"))
        reasons.append(e.statustext)
        if e.statustext == "Arm: Need Position Estimate":
            break
        await asyncio.sleep(0.5)  # earlier in boot: "Arm: AHRS: waiting for home"
    assert reasons[-1] == "Arm: Need Position Estimate", reasons
    body = err.value.to_dict()
    assert body["reason"] == "Arm: Need Position Estimate" and body["outcome"] == "rejected"
    assert body["ack"] == {"result": 4, "name": "FAILED"}


async def test_mission_reaches_only_its_drone_and_refusals_carry_mission_ack(
    sim_fleet: FleetFactory, link: FleetLink
) -> None:
    fleet = sim_fleet(count=2, speedup=5.0, ekf_delay=2.0)
    await add_all(link, fleet)
    for vid in (1, 2):
        await wait_state(link, vid, lambda s: s.link is LinkState.UP and s.home is not None)
    home = link.hub.latest(2).home  # type: ignore[union-attr]
    assert home is not None
    items = [
        MissionItem(1, REL, 22, alt=15),
        MissionItem(2, REL, 16, lat=home.lat + 0.0003, lon=home.lon, alt=20),
        MissionItem(3, REL, 16, lat=home.lat + 0.0003, lon=home.lon + 0.0003, alt=25),
        MissionItem(4, REL, 20),
    ]
    result = await missions.upload_mission(link.get(2), items)
    assert result == {"items": 4, "verified": True}
    on2 = await missions.download_mission(link.get(2))
    on1 = await missions.download_mission(link.get(1))
    assert [i.command for i in on2[1:]] == [22, 16, 16, 20]
    assert len(on1) <= 1  # drone 1 holds at most its home slot
    await wait_state(link, 2, lambda s: s.mission_total == 4, timeout=5.0)
    assert link.hub.latest(1).mission_total in (0, None)  # type: ignore[union-attr]
    # A latitude of 95 deg: the vehicle's MISSION_ACK type is the reason.
    with pytest.raises(CommandRejected) as err:
        await missions.upload_mission(link.get(1), [MissionItem(1, REL, 16, lat=95, alt=10)])
    assert err.value.mission_ack == 10 and err.value.mission_ack_name == "INVALID_PARAM5_X"
