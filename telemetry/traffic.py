"""Manned traffic: reports of other aircraft and the one picture of them (tracks).

Two sources feed it: `ADSB_VEHICLE` forwarded by every drone's ADS-B receiver (ArduPilot relays
what its receiver hears), and ground receivers speaking the BaseStation/SBS-1 text format
(telemetry/sbs.py). The same aircraft heard by several drones and a ground receiver is ONE track,
keyed by its ICAO address; the newest report wins field by field (an SBS-1 line carries only
some fields: position, or velocity, or the callsign). A track is stale, and dropped, once its
age -- time since the report arrived plus the `tslc` (time since last communication) the
receiver declared -- passes the picture's limit.

No clock and no I/O of its own: callers pass `now` (Unix seconds).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# ADSB_VEHICLE.flags (MAVLink ADSB_FLAGS)
FLAG_VALID_COORDS = 1
FLAG_VALID_ALTITUDE = 2
FLAG_VALID_HEADING = 4
FLAG_VALID_VELOCITY = 8
FLAG_VALID_CALLSIGN = 16
FLAG_VERTICAL_VELOCITY_VALID = 128

# MAVLink ADSB_EMITTER_TYPE, lower-cased without the prefix (what the API shows)
EMITTER_TYPES = (
    "no_info", "light", "small", "large", "high_vortex_large", "heavy", "highly_manuv",
    "rotocraft", "unassigned", "glider", "lighter_air", "parachute", "ultra_light",
    "unassigned2", "uav", "space", "unassgined3", "emergency_surface", "service_surface",
    "point_obstacle",
)

DEFAULT_STALE_S = 20.0
DEFAULT_MAX_TRACKS = 500
FT = 0.3048
KNOT = 0.514444


TrackKey = int | str


def track_key(icao: int | None, uas_id: str | None) -> TrackKey:
    """ADS-B tracks by ICAO address, Remote ID tracks by UAS ID: the two never mix."""
    return icao if icao is not None else f"rid:{uas_id}"


def emitter_name(value: int) -> str:
    return EMITTER_TYPES[value] if 0 <= value < len(EMITTER_TYPES) else f"type_{value}"


@dataclass(frozen=True, slots=True)
class TrafficReport:
    """One report about one aircraft. None: this report does not say (keep what was known).

    `icao` is the 24-bit ICAO address; `source` says who heard it (`drone:<id>` for a drone's
    receiver, `feed:<host>:<port>` for a ground receiver); `received` is Unix time of arrival
    and `tslc_s` how old the receiver said the data already was."""

    icao: int | None
    source: str
    received: float
    callsign: str | None = None
    lat: float | None = None
    lon: float | None = None
    alt_amsl_m: float | None = None
    heading_deg: float | None = None
    speed_mps: float | None = None
    vertical_rate_mps: float | None = None
    emitter_type: str | None = None
    tslc_s: float = 0.0
    uas_id: str | None = None  # Remote ID: the broadcast UAS ID (then `icao` is None)
    ua_type: str | None = None
    heard_by: str | None = None  # Remote ID: `drone:<id>` whose receiver relayed it

    @property
    def key(self) -> TrackKey:
        return track_key(self.icao, self.uas_id)


@dataclass(frozen=True, slots=True)
class Track:
    """The picture's latest knowledge of one aircraft (every field the newest that said it).

    An ADS-B track has its ICAO address; a Remote ID track (`source` "remote_id") has its
    UAS ID instead, and `heard_by` says which drone's receiver relayed it last."""

    icao: int | None
    source: str
    seen: float  # Unix time the data was current (received - tslc)
    callsign: str | None
    lat: float
    lon: float
    alt_amsl_m: float | None
    heading_deg: float | None
    speed_mps: float | None
    vertical_rate_mps: float | None
    emitter_type: str | None
    uas_id: str | None = None
    ua_type: str | None = None
    heard_by: str | None = None

    @property
    def key(self) -> TrackKey:
        return track_key(self.icao, self.uas_id)

    @property
    def icao_hex(self) -> str | None:
        return None if self.icao is None else f"{self.icao:06X}"

    @property
    def label(self) -> str:
        """What an operator calls it: callsign, else ICAO address, else UAS ID."""
        return self.callsign or self.icao_hex or self.uas_id or "?"

    def age_s(self, now: float) -> float:
        return max(0.0, now - self.seen)

    def to_dict(self, now: float) -> dict[str, Any]:
        """The form of `GET /api/traffic` and of the WebSocket's `traffic` frame (Remote ID
        tracks add `uas_id`, `ua_type` and `heard_by`; their `icao` is null)."""
        d: dict[str, Any] = {
            "icao": self.icao_hex,
            "callsign": self.callsign,
            "lat": round(self.lat, 7),
            "lon": round(self.lon, 7),
            "alt_amsl_m": _r(self.alt_amsl_m, 1),
            "heading_deg": _r(self.heading_deg, 1),
            "speed_mps": _r(self.speed_mps, 1),
            "vertical_rate_mps": _r(self.vertical_rate_mps, 2),
            "emitter_type": self.emitter_type,
            "source": self.source,
            "age_s": round(self.age_s(now), 1),
        }
        if self.uas_id is not None:
            d.update(uas_id=self.uas_id, ua_type=self.ua_type, heard_by=self.heard_by)
        return d


def _r(v: float | None, digits: int) -> float | None:
    return None if v is None else round(v, digits)


class TrafficPicture:
    """Tracks by key (ICAO address, or UAS ID for Remote ID), bounded (`max_tracks`: the
    stalest is dropped first).

    Reports without a position are kept aside (`_pending`) until one with a position arrives:
    an SBS-1 receiver sends the callsign and the velocity in lines of their own."""

    def __init__(self, stale_s: float = DEFAULT_STALE_S,
                 max_tracks: int = DEFAULT_MAX_TRACKS) -> None:
        self.stale_s = stale_s
        self.max_tracks = max(1, max_tracks)
        self._tracks: dict[TrackKey, Track] = {}
        self._pending: dict[TrackKey, TrafficReport] = {}
        self.version = 0  # bumped on every change (a stream sends a frame when it moved)
        self.reports = 0

    def update(self, r: TrafficReport) -> Track | None:
        """Fold one report in; the track it made or changed (None: no position known yet)."""
        self.reports += 1
        key = r.key
        seen = r.received - max(0.0, r.tslc_s)
        old = self._tracks.get(key)
        if (old is not None and seen < old.seen - 1e-6
                and (r.source, r.heard_by) != (old.source, old.heard_by)):
            # an older report relayed late by another receiver: the newest report wins
            return old
        base: Any = old if old is not None else self._pending.get(key)
        if (r.lat is None or r.lon is None) and (base is None
                                                 or isinstance(base, TrafficReport)):
            self._pending[key] = _merge_report(base, r)
            self._trim_pending()
            return None
        lat = r.lat if r.lat is not None else base.lat
        lon = r.lon if r.lon is not None else base.lon
        track = Track(
            icao=r.icao, source=r.source, seen=max(seen, old.seen) if old else seen,
            callsign=_pick(r.callsign, base, "callsign"), lat=lat, lon=lon,
            alt_amsl_m=_pick(r.alt_amsl_m, base, "alt_amsl_m"),
            heading_deg=_pick(r.heading_deg, base, "heading_deg"),
            speed_mps=_pick(r.speed_mps, base, "speed_mps"),
            vertical_rate_mps=_pick(r.vertical_rate_mps, base, "vertical_rate_mps"),
            emitter_type=_pick(r.emitter_type, base, "emitter_type"),
            uas_id=r.uas_id, ua_type=_pick(r.ua_type, base, "ua_type"),
            heard_by=r.heard_by,
        )
        self._pending.pop(key, None)
        self._tracks[key] = track
        if len(self._tracks) > self.max_tracks:
            stalest = min(self._tracks.values(), key=lambda t: t.seen)
            del self._tracks[stalest.key]
        self.version += 1
        return track

    def expire(self, now: float) -> list[TrackKey]:
        """Drop the tracks older than `stale_s`; their keys."""
        gone = [k for k, t in self._tracks.items() if now - t.seen > self.stale_s]
        for k in gone:
            del self._tracks[k]
        for k in [i for i, p in self._pending.items() if now - p.received > self.stale_s]:
            del self._pending[k]
        if gone:
            self.version += 1
        return gone

    def tracks(self, now: float) -> list[Track]:
        """The live tracks (stale ones expired first): ADS-B by ICAO address, then Remote ID
        by UAS ID."""
        self.expire(now)
        return sorted(self._tracks.values(), key=_order)

    def get(self, key: TrackKey) -> Track | None:
        return self._tracks.get(key)

    def _trim_pending(self) -> None:
        while len(self._pending) > self.max_tracks:
            del self._pending[next(iter(self._pending))]


def _order(t: Track) -> tuple[int, int, str]:
    return (0, t.icao, "") if t.icao is not None else (1, 0, t.uas_id or "")


def _pick(new: Any, base: Any, name: str) -> Any:
    if new is not None:
        return new
    return None if base is None else getattr(base, name)


def _merge_report(old: TrafficReport | None, r: TrafficReport) -> TrafficReport:
    if old is None:
        return r
    changes = {f.name: getattr(r, f.name) for f in dataclasses.fields(r)
               if getattr(r, f.name) is not None}
    return dataclasses.replace(old, **changes)


def from_adsb_vehicle(fields: Mapping[str, Any], vehicle_id: int,
                      now: float) -> TrafficReport | None:
    """An `ADSB_VEHICLE` message (MAVLink field names and units) as a report; None when it
    gives no ICAO address. Fields its `flags` mark invalid are left unsaid."""
    icao = int(fields.get("ICAO_address", 0))
    if icao <= 0 or icao > 0xFFFFFF:
        return None
    flags = int(fields.get("flags", 0))
    valid_pos = flags & FLAG_VALID_COORDS
    lat_e7, lon_e7 = int(fields.get("lat", 0)), int(fields.get("lon", 0))
    if lat_e7 == 0 and lon_e7 == 0:
        valid_pos = 0
    callsign = _text(fields.get("callsign", "")) if flags & FLAG_VALID_CALLSIGN else ""
    emitter = fields.get("emitter_type")
    return TrafficReport(
        icao=icao, source=f"drone:{vehicle_id}", received=now,
        callsign=callsign or None,
        lat=lat_e7 / 1e7 if valid_pos else None,
        lon=lon_e7 / 1e7 if valid_pos else None,
        alt_amsl_m=int(fields.get("altitude", 0)) / 1000.0
        if flags & FLAG_VALID_ALTITUDE else None,
        heading_deg=(int(fields.get("heading", 0)) / 100.0) % 360.0
        if flags & FLAG_VALID_HEADING else None,
        speed_mps=int(fields.get("hor_velocity", 0)) / 100.0
        if flags & FLAG_VALID_VELOCITY else None,
        vertical_rate_mps=int(fields.get("ver_velocity", 0)) / 100.0
        if flags & FLAG_VERTICAL_VELOCITY_VALID else None,
        emitter_type=None if emitter is None else emitter_name(int(emitter)),
        tslc_s=float(fields.get("tslc", 0)),
    )


def _text(raw: Any) -> str:
    if isinstance(raw, list):
        raw = "".join(chr(c) if isinstance(c, int) else str(c) for c in raw)
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    return str(raw).split("\x00", 1)[0].strip()


class BadLine(ValueError):
    """An SBS-1 line that is not a usable MSG line (counted by the feed, never fatal)."""


def from_sbs(line: str, source: str, now: float) -> TrafficReport | None:
    """One BaseStation/SBS-1 line (`MSG,3,1,1,4CA2D6,1,date,time,date,time,callsign,altitude
    ft,ground speed kt,track deg,lat,lon,vertical rate ft/min,squawk,alert,emergency,spi,
    on ground`) as a report. None for lines that carry nothing about a position or motion
    (other MSG types, or `SEL`/`ID`/`AIR`/`STA` records); BadLine for a malformed one.
    Altitudes are the barometric altitude the aircraft reports (feet), taken as AMSL."""
    parts = line.strip().split(",")
    if not parts or parts[0] in ("SEL", "ID", "AIR", "STA", "CLK"):
        return None
    if parts[0] != "MSG" or len(parts) < 11:
        raise BadLine("not an SBS-1 MSG line")
    try:
        kind = int(parts[1])
        icao = int(parts[4], 16)
    except ValueError:
        raise BadLine("bad message type or hex ident") from None
    if not 0 < icao <= 0xFFFFFF:
        raise BadLine("hex ident out of range")

    def cell(i: int) -> str:
        return parts[i].strip() if i < len(parts) else ""

    try:
        alt_ft = _num(cell(11))
        speed_kt = _num(cell(12))
        track = _num(cell(13))
        lat = _num(cell(14))
        lon = _num(cell(15))
        vrate = _num(cell(16))
    except ValueError:
        raise BadLine("a numeric field does not parse") from None
    if (lat is None) != (lon is None) or (
            lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180)):
        raise BadLine("bad position")
    if kind not in range(1, 9):
        raise BadLine("unknown transmission type")
    callsign = cell(10) or None
    if all(v is None for v in (alt_ft, speed_kt, track, lat, vrate)) and callsign is None:
        return None
    return TrafficReport(
        icao=icao, source=source, received=now, callsign=callsign, lat=lat, lon=lon,
        alt_amsl_m=None if alt_ft is None else alt_ft * FT,
        heading_deg=None if track is None else track % 360.0,
        speed_mps=None if speed_kt is None else speed_kt * KNOT,
        vertical_rate_mps=None if vrate is None else vrate * FT / 60.0,
    )


def _num(text: str) -> float | None:
    if not text:
        return None
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(text)
    return v
