"""Conformance with the mavsdk 4.x asyncio binding (in-process C++ MAVSDK, no mavsdk_server).

One ``Mavsdk`` instance, as the service uses it. The flight repeats what the reference trace
``arducopter-mavsdk-session`` recorded against a real ArduCopter: set_rate_* (ArduPilot sends
nothing unasked), health, MissionRaw upload with a home placeholder at seq 0 and read-back, arm,
start_mission, hold (BRAKE), start_mission again, return_to_launch, landed and disarmed.
The exact ArduCopter mode is read from HEARTBEAT.custom_mode through MavlinkDirect, since MAVSDK's
own flight-mode enum is lossy for ArduPilot. Runs in-process: the binding's threads end on
``Mavsdk.destroy()`` and the interpreter exits cleanly (checked), so no helper subprocess is needed.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from mavsdk.asyncio import ComponentType, Configuration, ForwardingOption, Mavsdk, System
from mavsdk.asyncio.plugins.action import ActionAsync, ActionError
from mavsdk.asyncio.plugins.mavlink_direct import MavlinkDirectAsync
from mavsdk.asyncio.plugins.mission_raw import MissionItem, MissionRawAsync
from mavsdk.asyncio.plugins.telemetry import LandedState, TelemetryAsync
from mavsdk.autopilot import Autopilot

import conformance_util as cu

pytestmark = pytest.mark.timeout(150)


def _wall(vehicle_s: float) -> float:
    return cu.wall(vehicle_s, cu.SPEEDUP)


async def _until(pred: Callable[[], bool], vehicle_s: float, what: str, rec: cu.Record) -> None:
    deadline = time.monotonic() + _wall(vehicle_s)
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {rec.summary()}")
        await asyncio.sleep(0.02)


async def _systems(sdk: Mavsdk, n: int, vehicle_s: float = 30.0) -> dict[int, System]:
    """Wait until ``n`` systems with an autopilot are known; keyed by MAVLink system id."""
    deadline = time.monotonic() + _wall(vehicle_s)
    while True:
        found = {}
        for s in await sdk.get_systems():
            if await s.has_autopilot():
                found[await s.get_system_id()] = s
        if len(found) >= n or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


class Watch:
    """Background consumers of one system's streams, feeding a :class:`cu.Record`.

    Every subscription is an async generator; cancelling its task runs the generator's ``finally``
    (the C unsubscribe), so :meth:`close` leaves no callback registered.
    """

    def __init__(self, system: System, sysid: int, name: str) -> None:
        self.rec = cu.Record(name, sysid)
        self.telemetry = TelemetryAsync(system)
        self.direct = MavlinkDirectAsync(system)
        self.mission = MissionRawAsync(system)
        self.action = ActionAsync(system)
        self.progress: list[tuple[int, int]] = []
        self.landed: LandedState | None = None
        self.telemetry_armed: bool | None = None
        self.health_ok = False
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._spawn(self.telemetry.subscribe_position(), self._on_position)
        self._spawn(self.telemetry.subscribe_landed_state(), self._on_landed)
        self._spawn(self.telemetry.subscribe_armed(), self._on_armed)
        self._spawn(self.telemetry.subscribe_health(), self._on_health)
        self._spawn(self.mission.subscribe_mission_progress(), self._on_progress)
        self._spawn(self.direct.subscribe_message("HEARTBEAT"), self._on_heartbeat)
        self._spawn(self.direct.subscribe_message("MISSION_ITEM_REACHED"), self._on_reached)
        self._spawn(self.direct.subscribe_message("STATUSTEXT"), self._on_text)

    def _spawn(self, gen: AsyncIterator[Any], handler: Callable[[Any], None]) -> None:
        async def consume() -> None:
            try:
                async for item in gen:
                    handler(item)
            finally:
                await gen.aclose()  # type: ignore[attr-defined]

        self._tasks.append(asyncio.create_task(consume()))

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for plugin in (self.telemetry, self.direct, self.mission, self.action):
            plugin.destroy()

    # handlers (run on the event loop; the binding hands data over with call_soon_threadsafe)
    def _on_position(self, p: Any) -> None:
        if math.isnan(p.latitude_deg) or (p.latitude_deg == 0 and p.longitude_deg == 0):
            return
        self.rec.positions.append(
            cu.Sample(time.monotonic(), 0, p.latitude_deg, p.longitude_deg, p.relative_altitude_m)
        )

    def _on_landed(self, s: LandedState) -> None:
        self.landed = s

    def _on_armed(self, a: bool) -> None:
        self.telemetry_armed = a

    def _on_health(self, h: Any) -> None:
        self.health_ok = bool(h.is_global_position_ok and h.is_home_position_ok)

    def _on_progress(self, p: Any) -> None:
        self.progress.append((p.current, p.total))

    def _fields(self, m: Any) -> dict[str, Any] | None:
        if m.system_id != self.rec.sysid:
            self.rec.foreign[(m.system_id, m.message_name)] += 1
            return None
        return dict(json.loads(m.fields_json))

    def _on_heartbeat(self, m: Any) -> None:
        f = self._fields(m)
        if f is not None and m.component_id == 1 and f["type"] != 6:  # 6 = MAV_TYPE_GCS
            self.rec.note_heartbeat(int(f["custom_mode"]), int(f["base_mode"]))

    def _on_reached(self, m: Any) -> None:
        f = self._fields(m)
        if f is not None:
            self.rec.reached.append(int(f["seq"]))

    def _on_text(self, m: Any) -> None:
        f = self._fields(m)
        if f is not None:
            self.rec.texts.append((int(f["severity"]), str(f["text"])))


def _raw_items(plan: list[cu.Item]) -> list[MissionItem]:
    return [
        MissionItem(
            seq=i,
            frame=it.frame,
            command=it.command,
            current=1 if i == 0 else 0,
            autocontinue=it.autocontinue,
            param1=it.params[0],
            param2=it.params[1],
            param3=it.params[2],
            param4=it.params[3],
            x=it.x,
            y=it.y,
            z=it.alt,
            mission_type=0,
        )
        for i, it in enumerate(plan)
    ]


async def _retry(
    what: str, call: Callable[[], Awaitable[Any]], vehicle_s: float, rec: cu.Record
) -> int:
    """Call until it stops raising ActionError (a GCS retrying arm while the EKF settles)."""
    deadline = time.monotonic() + _wall(vehicle_s)
    refusals = 0
    while True:
        try:
            await call()
            return refusals
        except ActionError as e:
            refusals += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} kept failing ({e}): {rec.summary()}") from e
            await asyncio.sleep(2.0 / cu.SPEEDUP + 0.2)


async def _fly(fleet: Any) -> None:
    cfg = Configuration.create_with_component_type(ComponentType.GROUND_STATION)
    async with Mavsdk(cfg) as sdk:
        handles = [
            await sdk.add_any_connection(fleet.mavsdk_url(i), ForwardingOption.OFF)
            for i in range(cu.COUNT)
        ]
        systems = await _systems(sdk, cu.COUNT)
        sysid = fleet.sysid(0)
        assert sysid in systems, f"vehicle 0 (sysid {sysid}) not discovered; have {sorted(systems)}"
        system = systems[sysid]
        assert await system.autopilot_type() == Autopilot.ARDUPILOT
        w = Watch(system, sysid, "vehicle 0")
        rec = w.rec
        w.start()
        try:
            tel = w.telemetry
            # ArduPilot streams nothing unasked and mavsdk 4 does not ask: these are required.
            await tel.set_rate_position(10.0)
            await tel.set_rate_home(1.0)
            await tel.set_rate_in_air(2.0)
            await tel.set_rate_landed_state(2.0)
            await tel.set_rate_battery(1.0)
            await tel.set_rate_gps_info(1.0)
            await tel.set_rate_health(1.0)

            await _until(lambda: w.health_ok, 120, "health: global position and home ok", rec)
            await _until(
                lambda: rec.pos is not None and rec.mode is not None,
                20,
                "position and HEARTBEAT",
                rec,
            )
            home = await tel.home()
            p0 = rec.pos
            assert p0 is not None
            assert cu.dist_m(home.latitude_deg, home.longitude_deg, p0.lat, p0.lon) < 5.0, (
                f"home {home} vs position {p0}"
            )
            rec.home = (home.latitude_deg, home.longitude_deg)

            plan = cu.mission(home.latitude_deg, home.longitude_deg, bearing_deg=90.0)
            await w.mission.upload_mission(_raw_items(plan))
            got = await w.mission.download_mission()
            problems = cu.compare_mission(
                plan,
                [
                    cu.Received(
                        g.seq,
                        g.frame,
                        g.command,
                        g.autocontinue,
                        (g.param1, g.param2, g.param3, g.param4),
                        g.x,
                        g.y,
                        g.z,
                    )
                    for g in got
                ],
            )
            assert not problems, f"read-back differs: {problems}"

            await _retry("arm", w.action.arm, 120, rec)
            await _until(lambda: rec.armed is True, 5, "HEARTBEAT armed", rec)
            t_start = time.monotonic()
            await w.mission.start_mission()
            await _until(lambda: rec.mode == cu.AUTO, 5, "AUTO after start_mission", rec)
            await _until(lambda: 2 in rec.reached, 120, "first waypoint (seq 2) reached", rec)

            await w.action.hold()
            await _until(lambda: rec.mode == cu.BRAKE, 5, "BRAKE (17) after hold()", rec)
            await asyncio.sleep(_wall(6.0) - 5.0)  # let it stop: ~6 vehicle seconds
            assert rec.pos is not None
            a = rec.pos
            await asyncio.sleep(2.0 / cu.SPEEDUP)
            b = rec.pos
            drift = cu.dist_m(a.lat, a.lon, b.lat, b.lon)
            assert drift < 1.0 and rec.mode == cu.BRAKE, f"BRAKE still moving {drift:.1f} m/2 s"
            assert 3 not in rec.reached, "second waypoint reached while braking"

            await w.mission.start_mission()
            await _until(lambda: rec.mode == cu.AUTO, 5, "AUTO after the second start_mission", rec)
            await _until(lambda: 3 in rec.reached, 120, "second waypoint (seq 3) reached", rec)

            await w.action.return_to_launch()
            await _until(lambda: rec.mode == cu.RTL, 5, "RTL (6) after return_to_launch()", rec)
            await _until(lambda: rec.armed is False, 200, "landed and disarmed", rec)
            await _until(
                lambda: w.landed == LandedState.ON_GROUND and w.telemetry_armed is False,
                5,
                "Telemetry landed_state ON_GROUND and armed False",
                rec,
            )

            problems = cu.check_flight(rec, plan, t_start, waypoint_seqs=[2, 3])
            seen = [m for t, m, _ in rec.modes if t >= t_start]
            order = [cu.AUTO, cu.BRAKE, cu.AUTO, cu.RTL]
            it = iter(seen)
            if not all(any(m == want for m in it) for want in order):
                problems.append(f"mode sequence {seen} lacks {order}")
            if not any(cur >= 3 for cur, _ in w.progress):
                problems.append(
                    f"mission progress never passed the first waypoint (seq 2): {w.progress[-5:]}"
                )
            if rec.foreign:
                problems.append(f"messages from other systems: {dict(rec.foreign)}")
            assert not problems, f"{problems}\n{rec.summary()}"
        finally:
            await w.close()
            for h in handles:
                await sdk.remove_connection(h)


async def _three_systems(fleet: Any) -> None:
    cfg = Configuration.create_with_component_type(ComponentType.GROUND_STATION)
    async with Mavsdk(cfg) as sdk:
        handles = [
            await sdk.add_any_connection(fleet.mavsdk_url(i), ForwardingOption.OFF)
            for i in range(cu.COUNT)
        ]
        systems = await _systems(sdk, cu.COUNT)
        expected = {fleet.sysid(i) for i in range(cu.COUNT)}
        assert set(systems) == expected, f"systems {sorted(systems)}, expected {sorted(expected)}"
        watches = [
            Watch(systems[fleet.sysid(i)], fleet.sysid(i), f"vehicle {i}") for i in range(cu.COUNT)
        ]
        try:
            for w in watches:
                w.start()
                await w.telemetry.set_rate_position(5.0)
            for w in watches:

                def streaming(w: Watch = w) -> bool:
                    return len(w.rec.positions) >= 5 and w.rec.mode is not None

                await _until(
                    streaming,
                    60,
                    "positions and HEARTBEAT",
                    w.rec,
                )
            # Homes are 'spacing' metres apart eastwards: each System must report its own vehicle.
            pos = [w.rec.positions[-1] for w in watches]
            for i in range(1, cu.COUNT):
                d = cu.dist_m(pos[0].lat, pos[0].lon, pos[i].lat, pos[i].lon)
                assert d > 1.0, f"vehicle {i} reports vehicle 0's position ({d:.2f} m apart)"
            for w in watches:
                assert not w.rec.foreign, f"{w.rec.name}: {dict(w.rec.foreign)}"
                assert len(await sdk.get_systems()) == cu.COUNT
        finally:
            for w in watches:
                await w.close()
            for h in handles:
                await sdk.remove_connection(h)


def test_mavsdk_three_vehicles_are_three_systems(sitl_fleet: Any) -> None:
    fleet = sitl_fleet(count=cu.COUNT, speedup=cu.SPEEDUP, ekf_delay=cu.EKF_DELAY)
    asyncio.run(asyncio.wait_for(_three_systems(fleet), 60))


def test_mavsdk_mission_hold_resume_rtl(sitl_fleet: Any) -> None:
    fleet = sitl_fleet(count=cu.COUNT, speedup=cu.SPEEDUP, ekf_delay=cu.EKF_DELAY)
    asyncio.run(asyncio.wait_for(_fly(fleet), 130))
