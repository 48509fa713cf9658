"""Mission and geofence transfer for ArduCopter, with read-back verification.

ArduPilot specifics handled here:
- seq 0 is the HOME slot, which ArduPilot overwrites: a placeholder goes there and the caller's
  items start at seq 1 (MAVSDK's high-level Mission plugin gets this wrong on ArduPilot);
- a rejected upload is explained by the vehicle's MISSION_ACK type (e.g. 10 INVALID_PARAM5_X for
  a latitude of 95 deg), which MAVSDK folds into a coarse result, so the link records MISSION_ACKs;
- a mission too large for the vehicle's storage can be silently truncated, so every upload is
  downloaded again and compared item by item. ArduPilot normalises what it stores (a command
  without a location comes back with frame 0 and x = y = 0), so the comparison is semantic:
  count, command and, where the item has one, its location.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from mavsdk.plugins.mission_raw import MissionItem as RawItem
from mavsdk.plugins.mission_raw import MissionRawError

from telemetry import ardupilot as ap
from telemetry.errors import CommandFailed, CommandRejected, CommandTimeout
from telemetry.mission_item import MissionItem
from telemetry.vehicle import Vehicle

MISSION_TYPE_MISSION = 0
MISSION_TYPE_FENCE = 1
# Commands whose x/y/z are a location ArduPilot stores and returns.
LOCATION_COMMANDS = frozenset({16, 17, 18, 19, 21, 31, 82, 5001, 5002, 5003, 5004, 5100})
# Commands whose z (altitude) is stored although x/y may be zero.
ALTITUDE_COMMANDS = LOCATION_COMMANDS | {22}
FENCE_RADIUS_COMMANDS = frozenset({5003, 5004})


def to_raw(item: MissionItem, seq: int, mission_type: int) -> RawItem:
    """`item` as MAVSDK's MissionRaw sends it, at `seq` (the link numbers what it uploads)."""
    return RawItem(
        seq=seq, frame=item.frame, command=item.command, current=0,
        autocontinue=1 if item.autocontinue else 0,
        param1=float(item.param1), param2=float(item.param2), param3=float(item.param3),
        param4=float(item.param4), x=round(item.lat * 1e7), y=round(item.lon * 1e7),
        z=float(item.alt), mission_type=mission_type,
    )


def from_raw(raw: RawItem) -> MissionItem:
    return MissionItem(
        seq=raw.seq, frame=raw.frame, command=raw.command, param1=raw.param1,
        param2=raw.param2, param3=raw.param3, param4=raw.param4, lat=raw.x / 1e7,
        lon=raw.y / 1e7, alt=raw.z, current=raw.current, autocontinue=raw.autocontinue,
    )


def _home_placeholder(vehicle: Vehicle) -> RawItem:
    pos = vehicle.state.home or vehicle.state.position
    lat, lon, alt = (pos.lat, pos.lon, pos.alt_amsl) if pos else (0.0, 0.0, 0.0)
    return RawItem(
        seq=0, frame=ap.MAV_FRAME_GLOBAL, command=ap.MAV_CMD_NAV_WAYPOINT, current=1,
        autocontinue=1, param1=0.0, param2=0.0, param3=0.0, param4=0.0,
        x=round(lat * 1e7), y=round(lon * 1e7), z=float(alt), mission_type=MISSION_TYPE_MISSION,
    )


def compare(sent: Sequence[RawItem], got: Sequence[RawItem]) -> str | None:
    """None if `got` (read back) holds what `sent` asked for; else what differs."""
    if len(got) != len(sent):
        return f"vehicle holds {len(got)} items, {len(sent)} were sent (truncated?)"
    for a, b in zip(sent, got, strict=True):
        if a.mission_type == MISSION_TYPE_MISSION and a.seq == 0:
            continue  # home slot: ArduPilot writes its own home here
        if a.command != b.command:
            return f"item {a.seq}: command {b.command} stored, {a.command} sent"
        if a.command in LOCATION_COMMANDS and (abs(a.x - b.x) > 1 or abs(a.y - b.y) > 1):
            return f"item {a.seq}: position differs ({b.x / 1e7}, {b.y / 1e7})"
        if a.command in ALTITUDE_COMMANDS and abs(a.z - b.z) > 0.05:
            return f"item {a.seq}: altitude {b.z} stored, {a.z} sent"
        if a.command in FENCE_RADIUS_COMMANDS and abs(a.param1 - b.param1) > 0.05:
            return f"item {a.seq}: radius {b.param1} stored, {a.param1} sent"
    return None


async def _transfer(
    vehicle: Vehicle, command: str, upload: bool, mission_type: int,
    items: list[RawItem] | None = None,
) -> list[RawItem]:
    plugin = vehicle.mission
    if plugin is None:
        raise CommandFailed(command, "vehicle not attached")
    since = time.monotonic()
    try:
        if upload:
            assert items is not None
            fn = (
                plugin.upload_mission if mission_type == MISSION_TYPE_MISSION
                else plugin.upload_geofence
            )
            await vehicle.blocking(fn, items)
            return items
        fn2 = (
            plugin.download_mission if mission_type == MISSION_TYPE_MISSION
            else plugin.download_geofence
        )
        return list(await vehicle.blocking(fn2))
    except MissionRawError as e:
        if e.result.name != "TIMEOUT":
            await _await_mission_ack(vehicle, since, mission_type)
        raise _mission_error(vehicle, command, e, since, mission_type, upload) from None


# MAVSDK reports a refused transfer from its own thread, while the MISSION_ACK that explains it
# reaches vehicle.mission_acks through the ingest batch on the event loop, which on a busy
# machine can come a few hundred milliseconds later (seen in CI). Wait that long for the reason.
MISSION_ACK_GRACE_S = 1.0


def _find_ack(vehicle: Vehicle, since: float, mission_type: int) -> tuple[float, int, int] | None:
    return next(
        (a for a in reversed(vehicle.mission_acks) if a[0] >= since and a[2] == mission_type),
        None,
    )


async def _await_mission_ack(vehicle: Vehicle, since: float, mission_type: int) -> None:
    deadline = time.monotonic() + MISSION_ACK_GRACE_S
    while _find_ack(vehicle, since, mission_type) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


def _mission_error(
    vehicle: Vehicle, command: str, e: MissionRawError, since: float, mission_type: int,
    upload: bool,
) -> Exception:
    result = e.result.name
    ack = _find_ack(vehicle, since, mission_type)
    what = "upload" if upload else "download"
    if ack is not None and ack[1] != 0:
        name = ap.MAV_MISSION_RESULT.get(ack[1], str(ack[1]))
        return CommandRejected(
            command, f"{what} refused by the vehicle: MISSION_ACK {name}",
            mission_ack=ack[1], mission_ack_name=name, extra={"mavsdk_result": result},
        )
    if result == "TIMEOUT":
        return CommandTimeout(command, f"mission {what} timed out")
    if result in ("DENIED", "UNSUPPORTED", "INVALID_ARGUMENT", "TOO_MANY_MISSION_ITEMS"):
        return CommandRejected(
            command, f"{what} refused: {result}", extra={"mavsdk_result": result}
        )
    return CommandFailed(command, f"mission {what} failed: {result}")


async def upload_mission(
    vehicle: Vehicle, items: Sequence[MissionItem], command: str = "upload_mission"
) -> dict[str, object]:
    """Upload `items` after a home placeholder, read them back, compare; raise on any mismatch."""
    vehicle.require_link(command)
    raw = [_home_placeholder(vehicle)] + [
        to_raw(item, i + 1, MISSION_TYPE_MISSION) for i, item in enumerate(items)
    ]
    async with vehicle.mission_lock:
        await _transfer(vehicle, command, True, MISSION_TYPE_MISSION, raw)
        got = await _transfer(vehicle, command, False, MISSION_TYPE_MISSION)
    diff = compare(raw, got)
    if diff is not None:
        raise CommandRejected(command, f"read-back mismatch: {diff}", step="verify")
    return {"items": len(items), "verified": True}


async def download_mission(vehicle: Vehicle) -> list[MissionItem]:
    """The vehicle's stored mission including seq 0 (home)."""
    vehicle.require_link("download_mission")
    async with vehicle.mission_lock:
        got = await _transfer(vehicle, "download_mission", False, MISSION_TYPE_MISSION)
    return [from_raw(i) for i in got]


@dataclass(frozen=True)
class FencePolygon:
    """Vertices (lat, lon) in order; inclusion keeps the vehicle inside, exclusion outside."""

    vertices: tuple[tuple[float, float], ...]
    inclusion: bool = True


@dataclass(frozen=True)
class FenceCircle:
    lat: float
    lon: float
    radius_m: float
    inclusion: bool = True


def fence_items(
    polygons: Sequence[FencePolygon], circles: Sequence[FenceCircle]
) -> list[RawItem]:
    """MAVLink fence items: vertices 5001/5002 with param1 = vertex count, circles 5003/5004
    with param1 = radius, as ArduPilot's AC_PolyFence_loader expects."""
    out: list[RawItem] = []
    for poly in polygons:
        cmd = (
            ap.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION if poly.inclusion
            else ap.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION
        )
        for lat, lon in poly.vertices:
            out.append(RawItem(
                seq=len(out), frame=ap.MAV_FRAME_GLOBAL, command=cmd, current=0, autocontinue=1,
                param1=float(len(poly.vertices)), param2=0.0, param3=0.0, param4=0.0,
                x=round(lat * 1e7), y=round(lon * 1e7), z=0.0, mission_type=MISSION_TYPE_FENCE,
            ))
    for c in circles:
        cmd = (
            ap.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION if c.inclusion
            else ap.MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION
        )
        out.append(RawItem(
            seq=len(out), frame=ap.MAV_FRAME_GLOBAL, command=cmd, current=0, autocontinue=1,
            param1=float(c.radius_m), param2=0.0, param3=0.0, param4=0.0,
            x=round(c.lat * 1e7), y=round(c.lon * 1e7), z=0.0, mission_type=MISSION_TYPE_FENCE,
        ))
    return out


async def upload_geofence(
    vehicle: Vehicle, polygons: Sequence[FencePolygon], circles: Sequence[FenceCircle],
    command: str = "upload_geofence",
) -> dict[str, object]:
    """Upload the fence (mission type FENCE), read it back and compare. Enabling the fence is a
    parameter (FENCE_ENABLE) and is left to the operator's vehicle configuration."""
    vehicle.require_link(command)
    raw = fence_items(polygons, circles)
    async with vehicle.mission_lock:
        await _transfer(vehicle, command, True, MISSION_TYPE_FENCE, raw)
        got = await _transfer(vehicle, command, False, MISSION_TYPE_FENCE)
    diff = compare(raw, got)
    if diff is not None:
        raise CommandRejected(command, f"read-back mismatch: {diff}", step="verify")
    return {"items": len(raw), "verified": True}
