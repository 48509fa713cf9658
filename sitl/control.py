"""Fault injection for tests: a JSON-lines TCP server on 127.0.0.1 (docs/sitl-interface.md).

Faults act on the simulated world, never on the MAVLink behaviour directly: a cut link drops bytes
both ways with the sockets left open (a radio out of range), a killed vehicle closes its ports.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sitl.fleet import Fleet, SimVehicle


def status(sv: SimVehicle) -> dict[str, Any]:
    v = sv.vehicle
    lat, lon = v.latlon
    return {
        "instance": v.instance, "sysid": v.sysid, "mode": v.mode.name, "armed": v.armed,
        "landed": v.landed, "lat": lat, "lon": lon, "alt_rel": round(v.alt_rel, 2),
        "battery_pct": round(v.battery_fraction() * 100, 1), "link_up": sv.link.link_up,
        "alive": sv.link.alive, "time_boot_s": round(v.time, 2), "port": sv.port,
        "gps_fix": v.gps_fix, "position_ok": v.position_ok,
    }


def apply(fleet: Fleet, req: dict[str, Any]) -> dict[str, Any]:
    op = req.get("op")
    if op == "status" and req.get("vehicle") is None:
        return {"ok": True, "vehicles": [status(sv) for sv in fleet.vehicles]}
    index = req.get("vehicle")
    if not isinstance(index, int) or not 0 <= index < len(fleet.vehicles):
        last = len(fleet.vehicles) - 1
        return {"ok": False, "error": f"vehicle must be an instance index 0..{last}"}
    sv = fleet.vehicles[index]
    v = sv.vehicle
    if op == "status":
        return {"ok": True, **status(sv)}
    if op == "cut_link":
        sv.link.link_up = False
    elif op == "restore_link":
        sv.link.link_up = True
    elif op == "kill":
        sv.kill()
    elif op == "gps_loss":
        v.set_param("SIM_GPS_DISABLE", 1 if req.get("lost", True) else 0)
    elif op == "battery":
        pct = req.get("percent")
        if not isinstance(pct, (int, float)) or not 0 <= pct <= 100:
            return {"ok": False, "error": "percent must be a number 0..100"}
        cap = v.params["BATT_CAPACITY"]
        v.consumed_mah = cap * (1 - pct / 100.0)
    elif op == "wind":
        speed, direction = req.get("speed", 0), req.get("direction", 0)
        if not isinstance(speed, (int, float)) or not isinstance(direction, (int, float)):
            return {"ok": False, "error": "speed and direction must be numbers"}
        v.set_param("SIM_WIND_SPD", speed)
        v.set_param("SIM_WIND_DIR", direction)
    elif op == "ekf_ready":
        v.ekf_forced_ready = True
    else:
        return {"ok": False, "error": f"unknown op {op!r}"}
    return {"ok": True, **status(sv)}


async def serve(fleet: Fleet, port: int) -> asyncio.base_events.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    req = json.loads(line)
                    reply = apply(fleet, req) if isinstance(req, dict) else \
                        {"ok": False, "error": "request must be a JSON object"}
                except json.JSONDecodeError as exc:
                    reply = {"ok": False, "error": f"bad JSON: {exc}"}
                writer.write((json.dumps(reply) + "\n").encode())
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port)
