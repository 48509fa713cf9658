"""Service settings: the one place that reads the environment.

Every variable has the NAZORAT_ prefix, except DATABASE_URL, which is honoured as the common
convention (NAZORAT_DATABASE_URL wins when both are set). Without either, the database is an
SQLite file in the data directory (NAZORAT_DATA_DIR, default ./data).

| variable | default | meaning |
|---|---|---|
| NAZORAT_HOST / NAZORAT_PORT | 127.0.0.1 / 8000 | where `nazorat serve` listens |
| NAZORAT_DATA_DIR | ./data | SQLite file and other state |
| NAZORAT_DATABASE_URL, DATABASE_URL | sqlite:///<data>/nazorat.db | SQLAlchemy URL |
| NAZORAT_DISCOVERY_URLS | (none) | comma-separated listening URLs; new vehicles register |
| NAZORAT_DRONES | (none) | comma-separated URLs registered at startup if missing |
| NAZORAT_HEARTBEAT_TIMEOUT_S | 3 | no heartbeat this long: link lost |
| NAZORAT_RECONNECT_AFTER_S | 15 | re-open a lost vehicle's connection after this long |
| NAZORAT_POSITION_RATE_HZ / NAZORAT_STATUS_RATE_HZ | 5 / 2 | stream rates requested |
| NAZORAT_LINK_THREADS | 32 | executor for blocking MAVSDK requests |
| NAZORAT_LOW_BATTERY_PCT | 25 | battery_low event threshold |
| NAZORAT_WS_DEFAULT_RATE_HZ / NAZORAT_WS_MAX_RATE_HZ | 5 / 50 | WebSocket pacing |
| NAZORAT_TRACK_INTERVAL_S | 1 | track recording period |
| NAZORAT_COMMAND_TIMEOUT_S | 60 | upper bound on any one API command |
| NAZORAT_PLANNER_WARM_UP | true | start the planner process (OR-Tools) at startup |
| NAZORAT_UI_DIR | ./ui (if it exists) | static console served at / |
| NAZORAT_SIM_COUNT / _SIM_SPEEDUP / _SIM_EKF_DELAY | 0 / 1 / sim default | run a simulated fleet |
| NAZORAT_SIM_BASE_PORT | 0 | its first TCP port (control: 10 below); 0: 5760 when free |
| NAZORAT_SIM_SPACING_M | 0 | metres east between simulated drones' homes; 0: 5 m |
| NAZORAT_SIM_CAMERA | false | simulated cameras (`sitl --camera`), announced over MAVLink |
| NAZORAT_SIM_VIDEO_BASE_PORT | 0 | UDP port of the first simulated camera; 0: a free range |
| NAZORAT_VIDEO_URLS | (none) | `ID=URL,...`: a drone's video, `udp://0.0.0.0:5600`/`rtsp://` |
| NAZORAT_VIDEO_DISCOVER / _MAX_VIEWERS | true / 300 | ask for VIDEO_STREAM_INFORMATION; viewers |
| NAZORAT_ADMIN_USER / _ADMIN_PASSWORD | admin / (none) | first admin, made at start if no user |
| NAZORAT_SESSION_TTL_H | 12 | a login (session token, cookie) lasts this long |
| NAZORAT_COOKIE_SECURE | false | session cookie Secure (always when the request is https) |
| NAZORAT_LOGIN_MAX_FAILURES | 10 | failed logins per user and address, then growing waits |
| NAZORAT_LOGIN_MAX_HASHES | 4 | password checks at once (64 MiB each); more: 429 at once |
| NAZORAT_CORS_ORIGINS | (none) | comma-separated origins whose pages may call the API |
| NAZORAT_FORWARDED_ALLOW_IPS | (none) | reverse proxies whose X-Forwarded-For/-Proto are trusted |
| NAZORAT_TELEGRAM_SECRET | (none) | the bot webhook's secret_token; unset: webhook off (404) |
| NAZORAT_TELEGRAM_PER_HOUR | 20 | incidents per Telegram chat per hour |
| NAZORAT_REPORT_PER_HOUR | 10 | public /report submissions per client address per hour |
| NAZORAT_INTAKE_MAX_BYTES | 16384 | largest intake request body (413 above) |
| NAZORAT_MAX_BODY_BYTES | 1048576 | largest body of any other API request (imports: 20 MiB) |
| NAZORAT_WS_MAX_MESSAGE_BYTES | 4096 | largest WebSocket message from a client (1009 above) |
| NAZORAT_MAX_ALTITUDE_M | 120 | legal maximum altitude above take-off; higher is refused |
| NAZORAT_IMPORT_RADIUS_M | 20000 | refuse imported routes with a position farther from the drone |
| NAZORAT_RTL_ALT_M | 15 | the fleet's RTL_ALT (m): the altitude the no-fly check gives RTL legs |
| NAZORAT_METRICS_TOKEN | (none) | GET /metrics needs it as bearer; unset: 403 (open if --sim) |
| NAZORAT_LOG_FORMAT | auto | `json` (one object per line), `text`, or `auto`: text on a terminal |
| NAZORAT_BUS_URL | (none) | `redis://host:6379/0` (`rediss://` for TLS): the bus; unset: none |
| NAZORAT_BUS_SECRET | (none) | with a bus, required (16+ bytes): HMAC key of bus messages |
| NAZORAT_BUS_SECRET_PREVIOUS | (none) | while rotating the secret: the old one, still accepted |
| NAZORAT_BUS_PASSWORD | (none) | Redis password (AUTH), unless the URL has one |
| NAZORAT_BUS_TLS_CA | (none) | CA file that signed the Redis server's certificate (rediss://) |
| NAZORAT_BUS_PREFIX | nazorat | key and channel prefix on the bus (one per deployment) |
| NAZORAT_BUS_OWNER_TTL_S | 3 | a link lease not extended this long expires (then taken over) |
| NAZORAT_LINK_MODE | inprocess | `workers`: only `nazorat link-worker`s link drones (bus needed) |
| NAZORAT_SHARD | (empty) | with a bus: link only stored drones of this shard; new ones get it |
| NAZORAT_LINK_REACH | (none) | drones it may take over: `*`, `shard:NAME`, URL globs (reach.py) |
| NAZORAT_DRONE_NETWORKS | loopback, private | CIDRs and device prefixes a drone URL may use |
| NAZORAT_TILES | (none) | base maps at /tiles: `base=/m/city.pmtiles,sat=/m/sat.mbtiles` |
| NAZORAT_ADSB_FEEDS | (none) | ground ADS-B receivers, SBS-1 over TCP: `tcp://host:30003,...` |
| NAZORAT_TRAFFIC_STALE_S | 20 | a traffic track older than this (receive time + tslc) is dropped |
| NAZORAT_TRAFFIC_ADVISORY_H_M / _V_M | 2000 / 300 | advisory volume (horizontal / vertical m) |
| NAZORAT_TRAFFIC_ALERT_H_M / _V_M | 1000 / 150 | alert volume |
| NAZORAT_TRAFFIC_HORIZON_S | 60 | look-ahead: a CPA inside the alert volume within it: advisory |
| NAZORAT_TRAFFIC_ADVISORY_ACTION, _ALERT_ACTION | none, hold | `none` `hold` `descend` `rtl` |
| NAZORAT_TRAFFIC_DESCEND_ALT_M | 20 | where `descend` takes a drone (m above home) |
| NAZORAT_SEPARATION_H_M / _V_M | 30 / 15 | own-fleet minima a takeoff, goto or upload must keep |
| NAZORAT_OBSERVE_REQUIRES_FOOTPRINT | true | with a camera: observed = in its footprint |
| NAZORAT_REMOTE_ID_OPERATOR_LOCATION | (none) | `lat,lon,alt`: Remote ID operator location, 1 Hz |
| NAZORAT_REMOTE_ID_OPERATOR_ID | (none) | the operator's registration ID (20 ASCII at most) |
| NAZORAT_REMOTE_ID_CONSOLE_STALE_S | 30 | a console-sent operator location counts this long |
| NAZORAT_SIM_ADSB_COUNT | 0 | simulated aircraft in a `--sim` run (`python -m sitl --adsb-count`) |
| NAZORAT_SIM_REMOTE_ID_COUNT | 0 | simulated Remote ID drones in a `--sim` run (sitl) |
| NAZORAT_RECORD_VIDEO | 1 | record every drone's video stream as evidence while it is read |
| NAZORAT_RECORDING_DIR | <data>/recordings | where evidence recordings (MP4 segments) are stored |
| NAZORAT_RECORDING_SEGMENT_S | 10 | evidence segment length (s; each starts on a keyframe) |
| NAZORAT_RECORDING_RETENTION_DAYS | 90 | evidence recordings older are deleted (0: kept forever) |
| NAZORAT_RECORDING_SWEEP_S | 3600 | how often the retention sweep runs |

Secrets (NAZORAT_ADMIN_PASSWORD, NAZORAT_TELEGRAM_SECRET, NAZORAT_METRICS_TOKEN, DATABASE_URL,
NAZORAT_BUS_URL, NAZORAT_BUS_SECRET[_PREVIOUS], NAZORAT_BUS_PASSWORD) come only from the
environment, are left out of `repr(Settings)` and are never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mission.airspace.geometry import Thresholds
from mission.fleet.networks import DEFAULT_DRONE_NETWORKS, DroneNetworks
from mission.fleet.reach import LinkReach
from mission.tiles.service import parse_spec
from telemetry.remote_id import OperatorInfo, check_operator_id
from telemetry.sbs import parse_feed_url
from telemetry.video.source import parse_video_urls

PREFIX = "NAZORAT_"
LOG_FORMATS = ("auto", "json", "text")
LINK_MODES = ("inprocess", "workers")
TRAFFIC_ACTIONS = ("none", "hold", "descend", "rtl")
BUS_SECRET_MIN_BYTES = 16


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    database_url: str = field(default="", repr=False)
    discovery_urls: tuple[str, ...] = ()
    drones: tuple[str, ...] = ()
    heartbeat_timeout_s: float = 3.0
    reconnect_after_s: float = 15.0
    probe_timeout_s: float = 5.0
    position_rate_hz: float = 5.0
    status_rate_hz: float = 2.0
    link_threads: int = 32
    low_battery_pct: float = 25.0
    gcs_sysid: int = 245
    ws_default_rate_hz: float = 5.0
    ws_max_rate_hz: float = 50.0
    ws_max_events: int = 256
    track_interval_s: float = 1.0
    command_timeout_s: float = 60.0
    ui_dir: Path | None = None
    sim_count: int = 0
    sim_speedup: float = 1.0
    sim_ekf_delay: float = -1.0  # < 0: the simulator's default (40 vehicle seconds)
    sim_base_port: int = 0  # 0: SITL's usual 5760 when it is free, else a free range
    sim_spacing_m: float = 0.0  # 0: the simulator's default (5 m between homes)
    admin_user: str = "admin"
    admin_password: str = field(default="", repr=False)
    session_ttl_h: float = 12.0
    cookie_secure: bool = False
    login_max_failures: int = 10
    login_max_hashes: int = 4
    cors_origins: tuple[str, ...] = ()
    forwarded_allow_ips: str = ""
    telegram_secret: str = field(default="", repr=False)
    telegram_per_hour: float = 20.0
    report_per_hour: float = 10.0
    intake_max_bytes: int = 16_384
    max_body_bytes: int = 1_048_576
    ws_max_message_bytes: int = 4096
    max_altitude_m: float = 120.0
    import_radius_m: float = 20_000.0
    rtl_alt_m: float = 15.0
    metrics_token: str = field(default="", repr=False)
    log_format: str = "auto"

    bus_url: str = field(default="", repr=False)
    bus_secret: str = field(default="", repr=False)
    bus_secret_previous: str = field(default="", repr=False)
    bus_password: str = field(default="", repr=False)
    bus_tls_ca: str = ""
    bus_prefix: str = "nazorat"
    bus_owner_ttl_s: float = 3.0
    link_mode: str = "inprocess"
    shard: str = ""
    link_reach: tuple[str, ...] = ()
    drone_networks: tuple[str, ...] = DEFAULT_DRONE_NETWORKS
    tiles: tuple[str, ...] = ()
    adsb_feeds: tuple[str, ...] = ()
    traffic_stale_s: float = 20.0
    traffic_advisory_h_m: float = 2000.0
    traffic_advisory_v_m: float = 300.0
    traffic_alert_h_m: float = 1000.0
    traffic_alert_v_m: float = 150.0
    traffic_horizon_s: float = 60.0
    traffic_advisory_action: str = "none"
    traffic_alert_action: str = "hold"
    traffic_descend_alt_m: float = 20.0
    sim_adsb_count: int = 0
    sim_remote_id_count: int = 0
    separation_h_m: float = 30.0
    remote_id_operator_location: str = ""
    remote_id_operator_id: str = ""
    remote_id_console_stale_s: float = 30.0
    separation_v_m: float = 15.0
    observe_requires_footprint: bool = True
    record_video: bool = True  # every drone's stream recorded as evidence (mission/evidence)
    recording_dir: str = ""  # empty: <data_dir>/recordings
    recording_segment_s: float = 10.0
    recording_retention_days: float = 90.0
    recording_sweep_s: float = 3600.0
    # live video (telemetry/video, mission/video): DRONE_ID=URL entries (udp://0.0.0.0:5600,
    # rtsp://...) before what the drones announce in VIDEO_STREAM_INFORMATION (video_discover)
    video_urls: tuple[str, ...] = ()
    video_discover: bool = True
    # The planner's worker process is spawned and imports OR-Tools at startup, so that an
    # operator's first plan does not wait for it (about 0.4 s of CPU). False: at the first plan
    # (the test suite, which starts a service dozens of times and plans in few of them).
    planner_warm_up: bool = True
    video_max_viewers: int = 300
    sim_camera: bool = False  # the simulated fleet's cameras (python -m sitl --camera)
    sim_video_base_port: int = 0  # 0: a free range

    def __post_init__(self) -> None:
        if not self.recording_segment_s > 0:
            raise ValueError("NAZORAT_RECORDING_SEGMENT_S: seconds above 0")
        if not self.recording_retention_days >= 0:
            raise ValueError("NAZORAT_RECORDING_RETENTION_DAYS: days, 0 or more (0: forever)")
        if not self.recording_sweep_s > 0:
            raise ValueError("NAZORAT_RECORDING_SWEEP_S: seconds above 0")
        if not self.import_radius_m > 0:
            raise ValueError("NAZORAT_IMPORT_RADIUS_M: a distance in metres above 0, "
                             f"not {self.import_radius_m!r}")
        for name in ("traffic_advisory_action", "traffic_alert_action"):
            if getattr(self, name) not in TRAFFIC_ACTIONS:
                raise ValueError(f"NAZORAT_{name.upper()}: one of {', '.join(TRAFFIC_ACTIONS)}"
                                 f", not {getattr(self, name)!r}")
        if not (self.separation_h_m >= 0 and self.separation_v_m >= 0):
            raise ValueError("NAZORAT_SEPARATION_H_M/_V_M: metres, 0 or more (0: off)")
        if not self.traffic_stale_s > 0:
            raise ValueError("NAZORAT_TRAFFIC_STALE_S: seconds above 0")
        if self.log_format not in LOG_FORMATS:
            raise ValueError(f"NAZORAT_LOG_FORMAT: one of {', '.join(LOG_FORMATS)}, "
                             f"not {self.log_format!r}")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'nazorat.db').as_posix()}"

    @property
    def recording_path(self) -> Path:
        """Where evidence recordings are stored."""
        return Path(self.recording_dir) if self.recording_dir else self.data_dir / "recordings"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def normalise_database_url(url: str) -> str:
    """Accept Heroku-style postgres:// URLs; SQLAlchemy wants a driver-qualified scheme."""
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _split(value: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in value.split(",") if x.strip())


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build Settings from `environ` (default os.environ), then apply `overrides`.

    Raises ValueError naming the variable when a value does not parse.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name == "database_url":
            continue
        key = PREFIX + f.name.upper()
        raw = env.get(key)
        if raw is None:
            continue
        values[f.name] = _convert(key, f.name, raw)
    db = env.get(PREFIX + "DATABASE_URL") or env.get("DATABASE_URL")
    if db:
        values["database_url"] = db
    if "ui_dir" not in values:
        default_ui = Path(__file__).resolve().parent.parent / "ui"
        if default_ui.is_dir():
            values["ui_dir"] = default_ui
    values.update(overrides)
    settings = Settings(**values)
    if settings.link_mode not in LINK_MODES:
        raise ValueError(f"NAZORAT_LINK_MODE: one of {', '.join(LINK_MODES)}, "
                         f"not {settings.link_mode!r}")
    if settings.link_mode == "workers" and not settings.bus_url:
        raise ValueError("NAZORAT_LINK_MODE=workers needs NAZORAT_BUS_URL (the workers' bus)")
    if settings.bus_url and len(settings.bus_secret.encode()) < BUS_SECRET_MIN_BYTES:
        raise ValueError(f"NAZORAT_BUS_URL needs NAZORAT_BUS_SECRET ({BUS_SECRET_MIN_BYTES}+ "
                         "bytes, the same in every process): bus messages are authenticated")
    if 0 < len(settings.bus_secret_previous.encode()) < BUS_SECRET_MIN_BYTES:
        raise ValueError(f"NAZORAT_BUS_SECRET_PREVIOUS: {BUS_SECRET_MIN_BYTES}+ bytes")
    if settings.bus_tls_ca and not settings.bus_url.startswith("rediss://"):
        raise ValueError("NAZORAT_BUS_TLS_CA needs a rediss:// NAZORAT_BUS_URL")
    DroneNetworks.parse(settings.drone_networks)  # ValueError naming NAZORAT_DRONE_NETWORKS
    LinkReach.parse(settings.link_reach)  # ValueError naming NAZORAT_LINK_REACH
    parse_spec(settings.tiles)  # ValueError naming NAZORAT_TILES
    for url in settings.adsb_feeds:
        parse_feed_url(url)  # ValueError naming NAZORAT_ADSB_FEEDS
    traffic_thresholds(settings)  # ValueError naming the threshold
    OperatorInfo.parse(settings.remote_id_operator_location, settings.remote_id_operator_id)
    check_operator_id(settings.remote_id_operator_id)
    parse_video_urls(settings.video_urls)  # ValueError naming NAZORAT_VIDEO_URLS
    if not settings.remote_id_console_stale_s > 0:
        raise ValueError("NAZORAT_REMOTE_ID_CONSOLE_STALE_S must be > 0")
    return settings


def _convert(key: str, name: str, raw: str) -> Any:
    default = getattr(Settings(), name)
    try:
        if name in ("data_dir", "ui_dir"):
            return Path(raw)
        if isinstance(default, tuple):
            return _split(raw)
        if isinstance(default, bool):
            return raw.lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise ValueError(f"{key}: cannot parse {raw!r}") from None
    return raw


def traffic_thresholds(settings: Settings) -> Thresholds:
    """The conflict thresholds; ValueError naming the variable."""
    try:
        return Thresholds(settings.traffic_advisory_h_m, settings.traffic_advisory_v_m,
                          settings.traffic_alert_h_m, settings.traffic_alert_v_m,
                          settings.traffic_horizon_s)
    except ValueError as e:
        raise ValueError(f"NAZORAT_TRAFFIC_{str(e).upper().split(':')[0]}: "
                         f"{str(e).split(':', 1)[-1].strip()}") from None
