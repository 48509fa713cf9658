"""A run is deterministic: the same commands at the same vehicle times give the same trajectory,
whatever the speedup, because physics advances in fixed steps of vehicle time.

Driven in-process through the fleet's own stepping code (SimVehicle.advance with a wall clock we
control), so the comparison is exact rather than within network jitter.
"""

from __future__ import annotations

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from sitl.fleet import FleetConfig, SimVehicle
from sitl.link import Peer

HOME = (41.311081, 69.240562)


def _fly(speedup: float) -> tuple[list[tuple[float, float, float, float]], float]:
    sv = SimVehicle(0, FleetConfig(speedup=speedup, ekf_delay=2.0))
    ch = sv.link.add_channel("test", start_on_connect=True)
    peer = Peer(lambda b: None, lambda: 0, "test")
    sv.link.attach(ch, peer)
    gcs = mavlink.MAVLink(None, srcSystem=245, srcComponent=190)

    def send(msg: object) -> None:
        sv.link.receive(ch, peer, msg.pack(gcs))  # type: ignore[attr-defined]

    home = (0, 16, 0, 1, 0, 0, 0, 0, round(HOME[0] * 1e7), round(HOME[1] * 1e7), 0)
    items = [home, (3, 22, 0, 1, 0, 0, 0, 0, 0, 0, 20),
             (3, 16, 0, 1, 0, 0, 0, 0, round((HOME[0] + 0.001) * 1e7), round(HOME[1] * 1e7), 25),
             (3, 16, 0, 1, 0, 0, 0, 0, round((HOME[0] + 0.001) * 1e7),
              round((HOME[1] + 0.001) * 1e7), 25),
             (0, 20, 0, 1, 0, 0, 0, 0, 0, 0, 0)]
    # Commands at fixed vehicle times: (vehicle second, message)
    script: list[tuple[float, object]] = [
        (3.0, mavlink.MAVLink_mission_count_message(1, 1, len(items), 0)),
        *((3.0, mavlink.MAVLink_mission_item_int_message(1, 1, i, *it, 0))
          for i, it in enumerate(items)),
        (4.0, mavlink.MAVLink_command_long_message(1, 1, 400, 0, 1, 0, 0, 0, 0, 0, 0)),
        (4.0, mavlink.MAVLink_command_long_message(1, 1, 300, 0, 0, 0, 0, 0, 0, 0, 0)),
    ]
    track = []
    wall = 0.0
    sv.advance(wall)
    while sv.vehicle.time < 200:
        wall += 0.01 if speedup < 5 else 0.003
        target = wall * speedup
        while script and script[0][0] <= target:
            # apply each command exactly at its vehicle time, as if it arrived then
            t, msg = script.pop(0)
            sv.advance(t / speedup)
            send(msg)
        sv.advance(wall)
        v = sv.vehicle
        track.append((round(v.time, 6), v.north, v.east, v.alt))
        if not v.armed and v.time > 10:
            break
    return track, sv.vehicle.flight_time


def test_same_trajectory_at_speedup_1_and_10() -> None:
    (slow, slow_flight), (fast, fast_flight) = _fly(1.0), _fly(10.0)
    at_slow = {t: p for t, *p in slow}
    common = [(t, p) for t, *p in fast if t in at_slow]
    assert len(common) > 1000
    assert all(at_slow[t] == p for t, p in common), "positions differ at equal vehicle times"
    assert max(alt for *_, alt in slow) > 470, "the copter flew the mission"
    assert slow_flight == fast_flight > 60, "same time in the air, to the step"
    assert slow[-1][1:] == fast[-1][1:], "landed on the same spot"


def test_a_starved_simulator_catches_up_in_chunks_and_reads_its_links_between_them() -> None:
    """After 5 s without a tick (a starved process), one tick flies at most 0.1 s of wall time
    (MAX_CATCHUP_WALL_S) and says it is behind, so the fleet's loop reads its sockets before the
    next chunk: a command waiting there is handled before the vehicle's own timeouts see the
    lost seconds pass. It is back on wall time once caught up, as ArduPilot's SITL."""
    sv = SimVehicle(0, FleetConfig(speedup=2.0, ekf_delay=2.0))
    ch = sv.link.add_channel("test", start_on_connect=True)
    sv.link.attach(ch, Peer(lambda b: None, lambda: 0, "test"))
    sv.advance(100.0)
    assert sv.advance(100.05) is False
    assert abs(sv.vehicle.time - 0.1) < 1e-6, "on time: no chunking"
    assert sv.advance(105.05) is True
    assert abs(sv.vehicle.time - 0.3) < 1e-6, "one chunk: 0.1 s of wall time x speedup 2"
    chunks = 1
    while True:
        chunks += 1
        if not sv.advance(105.05):
            break
    assert chunks == 50 and abs(sv.vehicle.time - 10.1) < 1e-6, "caught up in 50 chunks"
