"""Fault injection for tests: a JSON-lines TCP server on 127.0.0.1 (docs/sitl-interface.md).

Faults act on the simulated world, never on the MAVLink behaviour directly: a cut link drops bytes
both ways with the sockets left open (a radio out of range), a killed vehicle closes its ports.
"""

from __future__ import annotations

import asyncio
import json
import math
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
        "remote_id_operator": sv.link.remote_id.operator,
        "remote_id_operator_id": sv.link.remote_id.operator_id,
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
    elif op == "received":
        return {"ok": True, "received": list(sv.link.received)}
    elif op == "ekf_ready":
        v.ekf_forced_ready = True
    elif op == "intruder":
        return _intruder(fleet, sv, req)
    elif op == "rid_intruder":
        return _rid_intruder(fleet, sv, req)
    else:
        return {"ok": False, "error": f"unknown op {op!r}"}
    return {"ok": True, **status(sv)}


def _course(req: dict[str, Any], speed: float) -> dict[str, float] | str:
    """The collision course's numbers (`seconds`, `speed`, `bearing`, `dalt`), or an error."""
    args = {"seconds": 30.0, "speed": speed, "bearing": 0.0, "dalt": 0.0}
    for key in args:
        value = req.get(key, args[key])
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            return f"{key} must be a number"
        args[key] = float(value)
    if not (0 < args["seconds"] <= 600 and 0 < args["speed"] <= 400):
        return "seconds must be 0..600 and speed 0..400 m/s"
    return args


def _rid_intruder(fleet: Fleet, sv: SimVehicle, req: dict[str, Any]) -> dict[str, Any]:
    """A Remote ID drone on a collision course with the vehicle where it is now (as
    `intruder`, default 15 m/s; `uas_id` optional). Needs no `--remote-id-count`."""
    args = _course(req, 15.0)
    if isinstance(args, str):
        return {"ok": False, "error": args}
    uas_id = req.get("uas_id")
    if uas_id is not None and (not isinstance(uas_id, str) or not uas_id.isascii()
                               or not 0 < len(uas_id) <= 20):
        return {"ok": False, "error": "uas_id must be 1..20 ASCII characters"}
    v = sv.vehicle
    lat, lon = v.latlon
    d = fleet.remote_id_world().intruder(lat, lon, v.alt,
                                 seconds=args["seconds"], speed=args["speed"],
                                 bearing=args["bearing"], dalt=args["dalt"], uas_id=uas_id)
    return {"ok": True, "uas_id": d.uas_id, "lat": d.lat, "lon": d.lon, "alt": d.alt,
            "status": status(sv)}


def _intruder(fleet: Fleet, sv: SimVehicle, req: dict[str, Any]) -> dict[str, Any]:
    """An aircraft on a collision course with the vehicle where it is now: it reaches the
    vehicle's position (and altitude + `dalt`) in `seconds` at `speed`, from `bearing`."""
    if fleet.traffic is None:
        return {"ok": False, "error": "no simulated traffic: start with --adsb-count N"}
    args = _course(req, 60.0)
    if isinstance(args, str):
        return {"ok": False, "error": args}
    icao, callsign = req.get("icao"), req.get("callsign")
    if icao is not None and (not isinstance(icao, int) or not 0 < icao <= 0xFFFFFF):
        return {"ok": False, "error": "icao must be an integer 1..0xFFFFFF"}
    if callsign is not None and (not isinstance(callsign, str) or len(callsign) > 8):
        return {"ok": False, "error": "callsign must be text of at most 8 characters"}
    v = sv.vehicle
    lat, lon = v.latlon
    a = fleet.traffic.intruder(lat, lon, v.alt, seconds=args["seconds"], speed=args["speed"],
                               bearing=args["bearing"], dalt=args["dalt"], icao=icao,
                               callsign=callsign)
    return {"ok": True, "icao": a.icao, "callsign": a.callsign, "lat": a.lat, "lon": a.lon,
            "alt": a.alt, "status": status(sv)}


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
