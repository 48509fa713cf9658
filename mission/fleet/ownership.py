"""Which drones this process owns: the interface through which the node that holds a drone's
link (a replica with a local link, or a link worker) tells the parts that act for that drone
when it gains or loses it.

With a bus, a drone is owned while this process holds its link lease and links it
(mission/runtime/links.py `LinkSide.watch_ownership`, which calls these two methods); without
one, while this process's fleet link has it (FleetService tells it). What follows a drone (the
mission tracker, mission/missions/tracker.py) thus moves with its owner: at most one process
drives a drone's mission leg, and a new owner takes the leg over from the database and the
drone.
"""

from __future__ import annotations

from typing import Protocol


class DroneOwnership(Protocol):
    """Told, on the event loop, when this process starts or stops owning a drone. Both calls
    return at once (no I/O; what follows runs on the implementer's own task) and may repeat:
    acquiring a drone owned already only updates its token; releasing one not owned does
    nothing. `token`: the ownership's fencing token (0 without leases: the link's own)."""

    def on_acquired(self, drone_id: int, token: int) -> None: ...

    def on_released(self, drone_id: int) -> None: ...

