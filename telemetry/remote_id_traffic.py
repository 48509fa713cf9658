"""Other drones' broadcast Remote ID, relayed by our drones, as traffic reports.

A receiver on one of our drones (a companion computer or an Open Drone ID receiver forwarding
what it hears) sends each broadcaster's messages over MAVLink (common dialect): `OPEN_DRONE_ID_
BASIC_ID` carries the UAS ID and UA type, `OPEN_DRONE_ID_LOCATION` the position, altitudes,
speed, direction and a timestamp. Neither carries both: they are tied together by `id_or_mac`
(the broadcaster's MAC address, as the receiver heard it), so a LOCATION heard before its
BASIC_ID waits (per relaying drone and MAC) until the UAS ID is known. The track is keyed by
UAS ID (telemetry/traffic.py: never mixed with ADS-B ICAO addresses).

Our own drones' Remote ID is not traffic: a message whose sender is the drone's autopilot
(component 1: ArduPilot's own OpenDroneID output) is the drone's own broadcast; its UAS ID is
remembered and dropped wherever else it is heard (another of our drones hearing it).

No clock, no I/O: callers pass `now` (Unix seconds).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from telemetry.traffic import TrafficReport

SOURCE = "remote_id"
RID_MESSAGES = ("OPEN_DRONE_ID_BASIC_ID", "OPEN_DRONE_ID_LOCATION")
COMPID_FIELD = "_compid"  # added by the ingest: the sending component
AUTOPILOT_COMPID = 1  # MAV_COMP_ID_AUTOPILOT1
# MAV_ODID_UA_TYPE, lower-cased without the prefix
UA_TYPES = (
    "none", "aeroplane", "helicopter_or_multirotor", "gyroplane", "hybrid_lift", "ornithopter",
    "glider", "kite", "free_balloon", "captive_balloon", "airship", "free_fall_parachute",
    "rocket", "tethered_powered_aircraft", "ground_obstacle", "other",
)
# "unknown" values of OPEN_DRONE_ID_LOCATION
DIRECTION_UNKNOWN = 36100
SPEED_H_UNKNOWN = 25500
SPEED_V_UNKNOWN = 6300
ALT_UNKNOWN = -1000.0
TIMESTAMP_UNKNOWN = 0xFFFF
MAX_REMEMBERED = 1000


def ua_type_name(value: int) -> str:
    return UA_TYPES[value] if 0 <= value < len(UA_TYPES) else f"type_{value}"


@dataclass
class _Waiting:
    fields: Mapping[str, Any]
    received: float


class RemoteIdTraffic:
    """Per relaying drone and broadcaster MAC: the UAS ID, and a LOCATION waiting for it."""

    def __init__(self) -> None:
        self.own_ids: set[str] = set()
        self._ids: OrderedDict[tuple[int, Any], tuple[str, str | None]] = OrderedDict()
        self._waiting: OrderedDict[tuple[int, Any], _Waiting] = OrderedDict()
        self.dropped_own = 0

    def offer(self, name: str, fields: Mapping[str, Any], vehicle_id: int,
              now: float) -> TrafficReport | None:
        """One relayed message; the report it makes (None: own, or not yet tied to an ID)."""
        own = int(fields.get(COMPID_FIELD, 0)) == AUTOPILOT_COMPID
        key = (vehicle_id, _mac_key(fields))
        if name == "OPEN_DRONE_ID_BASIC_ID":
            uas_id = _text(fields.get("uas_id", ""))
            if not uas_id:
                return None
            if own:
                self.own_ids.add(uas_id)
                return None
            ua = fields.get("ua_type")
            _remember(self._ids, key, (uas_id, None if ua is None else ua_type_name(int(ua))))
            waiting = self._waiting.pop(key, None)
            if waiting is None or now - waiting.received > 5.0:
                return None
            return self._report(key, waiting.fields, vehicle_id, waiting.received)
        if name == "OPEN_DRONE_ID_LOCATION" and not own:
            if key not in self._ids:
                _remember(self._waiting, key, _Waiting(fields, now))
                return None
            return self._report(key, fields, vehicle_id, now)
        return None

    def _report(self, key: tuple[int, Any], f: Mapping[str, Any], vehicle_id: int,
                now: float) -> TrafficReport | None:
        uas_id, ua_type = self._ids[key]
        if uas_id in self.own_ids:
            self.dropped_own += 1
            return None
        lat_e7, lon_e7 = int(f.get("latitude", 0)), int(f.get("longitude", 0))
        if lat_e7 == 0 and lon_e7 == 0:
            return None
        geo = float(f.get("altitude_geodetic", ALT_UNKNOWN))
        baro = float(f.get("altitude_barometric", ALT_UNKNOWN))
        alt = geo if geo > ALT_UNKNOWN else baro if baro > ALT_UNKNOWN else None
        direction = int(f.get("direction", DIRECTION_UNKNOWN))
        sh = int(f.get("speed_horizontal", SPEED_H_UNKNOWN))
        sv = int(f.get("speed_vertical", SPEED_V_UNKNOWN))
        return TrafficReport(
            icao=None, source=SOURCE, received=now, lat=lat_e7 / 1e7, lon=lon_e7 / 1e7,
            alt_amsl_m=alt,
            heading_deg=direction / 100.0 % 360.0 if direction < 36000 else None,
            speed_mps=sh / 100.0 if sh < SPEED_H_UNKNOWN else None,
            vertical_rate_mps=sv / 100.0 if abs(sv) < SPEED_V_UNKNOWN else None,
            tslc_s=timestamp_age(float(f.get("timestamp", TIMESTAMP_UNKNOWN)), now),
            uas_id=uas_id, ua_type=ua_type, heard_by=f"drone:{vehicle_id}",
        )


def timestamp_age(ts: float, now: float) -> float:
    """How old a LOCATION is: its timestamp counts seconds after the full UTC hour (0xFFFF:
    unknown, taken as fresh). A timestamp ahead of the clock (skew) counts as fresh."""
    if not 0 <= ts < 3600:
        return 0.0
    age = (now % 3600 - ts) % 3600
    return 0.0 if age > 1800 else age


def _remember(d: OrderedDict[tuple[int, Any], Any], key: tuple[int, Any], value: Any) -> None:
    d[key] = value
    d.move_to_end(key)
    while len(d) > MAX_REMEMBERED:
        d.popitem(last=False)


def _mac_key(fields: Mapping[str, Any]) -> Any:
    """The broadcaster as the receiver names it; without a MAC, one broadcaster per relaying
    component is assumed."""
    mac = fields.get("id_or_mac") or []
    if isinstance(mac, list) and any(mac):
        return tuple(int(b) for b in mac)
    return ("component", int(fields.get(COMPID_FIELD, 0)))


def _text(raw: Any) -> str:
    if isinstance(raw, list):
        raw = "".join(chr(c) if isinstance(c, int) and 0 <= c < 128 else "?" for c in raw)
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    return str(raw).split("\x00", 1)[0].strip()
