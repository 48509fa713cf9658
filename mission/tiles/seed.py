"""`nazorat tiles seed`: build an MBTiles archive of a bounding box from an XYZ tile server the
deployment may use (the unit's own server, a licensed provider), while the link is up, so the
map works when it is not.

Respecting the server: every request names Nazorat and a contact (User-Agent, as tile usage
policies ask), requests go one at a time at no more than `rate` tiles per second, 429 and 5xx
answers are retried after Retry-After (or a growing pause), and the public OpenStreetMap tile
servers are refused outright: their policy forbids bulk downloading (use an extract instead,
README "Base maps"). A run is resumable: tiles already in the output (and tiles the server
answered 404/204 for, remembered in a `seed_missing` table) are not asked for again, and every
tile is committed as it arrives, so an interrupted run loses nothing.
"""

from __future__ import annotations

import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mission.tiles.archive import GZIP_MAGIC, MAGIC
from mission.tiles.grid import count_in_bbox, tiles_in_bbox

USER_AGENT = "Nazorat-tiles-seed/0.1 (drone mission control; offline base map; contact: {})"
DEFAULT_RATE = 2.0  # tiles per second
MAX_RATE = 10.0
DEFAULT_MAX_TILES = 20_000
FORBIDDEN_HOSTS = ("tile.openstreetmap.org", "tile.osm.org")
RETRIES = 5


class SeedError(RuntimeError):
    """The seed cannot go on; the message is for the operator."""


@dataclass
class SeedPlan:
    bbox: tuple[float, float, float, float]
    zooms: tuple[int, int]
    url: str
    out: Path
    contact: str
    rate: float = DEFAULT_RATE
    max_tiles: int = DEFAULT_MAX_TILES
    attribution: str = ""
    name: str = ""


@dataclass
class SeedResult:
    fetched: int = 0
    skipped: int = 0  # already in the archive (resumed)
    missing: int = 0  # the server has none (404/204)
    total: int = 0


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise SeedError(f"--bbox {text!r}: four numbers W,S,E,N in degrees") from None
    if not (-180 <= w < e <= 180 and -85.06 <= s < n <= 85.06):
        raise SeedError(f"--bbox {text!r}: west < east within ±180, south < north within ±85")
    return w, s, e, n


def parse_zooms(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition("-")
    try:
        a, b = int(lo), int(hi or lo)
    except ValueError:
        raise SeedError(f"--zoom {text!r}: A-B, e.g. 12-17") from None
    if not 0 <= a <= b <= 22:
        raise SeedError(f"--zoom {text!r}: 0 <= A <= B <= 22")
    return a, b


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SeedError(f"--from {url!r}: an http(s) URL template")
    if not all(k in url for k in ("{z}", "{x}", "{y}")):
        raise SeedError(f"--from {url!r}: the template needs {{z}}, {{x}} and {{y}}")
    host = parts.hostname.lower()
    if any(host == h or host.endswith("." + h) for h in FORBIDDEN_HOSTS):
        raise SeedError(f"{host}: the OpenStreetMap tile servers forbid bulk downloading "
                        "(tile usage policy); use an extract instead (README: Base maps)")


def open_output(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE IF NOT EXISTS metadata (name TEXT PRIMARY KEY, value TEXT);
        CREATE TABLE IF NOT EXISTS tiles (zoom_level INTEGER, tile_column INTEGER,
            tile_row INTEGER, tile_data BLOB,
            PRIMARY KEY (zoom_level, tile_column, tile_row));
        CREATE TABLE IF NOT EXISTS seed_missing (z INTEGER, x INTEGER, y INTEGER,
            PRIMARY KEY (z, x, y));
    """)
    return conn


def sniff_format(data: bytes) -> str | None:
    """The tile format of these bytes (MBTiles' names), or None for something else (an error
    page served with 200, say)."""
    for fmt, magics in MAGIC.items():
        if data.startswith(magics):
            return fmt
    return "pbf" if data[:2] == GZIP_MAGIC or data[:1] == b"\x1a" else None


Fetch = Callable[[str, dict[str, str]], tuple[int, bytes, dict[str, str]]]


def http_fetch(url: str, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
    """GET with the standard library: (status, body, headers); network errors as status 0."""
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, b"", dict(e.headers or {})
    except (urllib.error.URLError, TimeoutError, OSError):
        return 0, b"", {}


def seed(plan: SeedPlan, fetch: Fetch = http_fetch, sleep: Callable[[float], None] = time.sleep,
         progress: Callable[[SeedResult], None] | None = None) -> SeedResult:
    """Fetch every missing tile of the plan into plan.out (see the module docstring)."""
    check_url(plan.url)
    if not plan.contact:
        raise SeedError("--contact is required: tile servers want to know whom to ask "
                        "(an e-mail or URL of the unit)")
    if not 0 < plan.rate <= MAX_RATE:
        raise SeedError(f"--rate {plan.rate}: above 0 and at most {MAX_RATE} tiles per second")
    total = sum(count_in_bbox(plan.bbox, z) for z in range(plan.zooms[0], plan.zooms[1] + 1))
    if total > plan.max_tiles:
        raise SeedError(f"{total} tiles: more than --max-tiles {plan.max_tiles}; narrow the "
                        "box or the zoom range (or raise --max-tiles if the server allows it)")
    headers = {"User-Agent": USER_AGENT.format(plan.contact)}
    result = SeedResult(total=total)
    conn = open_output(plan.out)
    interval = 1.0 / plan.rate
    last = 0.0
    try:
        write_metadata(conn, plan, None)
        for z in range(plan.zooms[0], plan.zooms[1] + 1):
            for _, x, y in tiles_in_bbox(plan.bbox, z):
                row = (1 << z) - 1 - y
                if conn.execute("SELECT 1 FROM tiles WHERE zoom_level=? AND tile_column=? AND "
                                "tile_row=?", (z, x, row)).fetchone() or conn.execute(
                        "SELECT 1 FROM seed_missing WHERE z=? AND x=? AND y=?",
                        (z, x, y)).fetchone():
                    result.skipped += 1
                    continue
                url = plan.url.replace("{z}", str(z)).replace("{x}", str(x))\
                    .replace("{y}", str(y))
                for attempt in range(RETRIES + 1):
                    wait = last + interval - time.monotonic()
                    if wait > 0:
                        sleep(wait)
                    last = time.monotonic()
                    status, body, rh = fetch(url, headers)
                    if status == 200 and body:
                        if sniff_format(body) is None:
                            raise SeedError(f"{url}: the answer is not a tile (it starts with "
                                            f"{body[:16]!r}); stopped")
                        conn.execute("INSERT OR REPLACE INTO tiles VALUES (?, ?, ?, ?)",
                                     (z, x, row, body))
                        write_metadata(conn, plan, body)
                        conn.commit()
                        result.fetched += 1
                        break
                    if status in (204, 404) or (status == 200 and not body):
                        conn.execute("INSERT OR IGNORE INTO seed_missing VALUES (?, ?, ?)",
                                     (z, x, y))
                        conn.commit()
                        result.missing += 1
                        break
                    if status in (401, 403):
                        raise SeedError(f"{url}: the server refused ({status}); it does not "
                                        "allow this use. Stopped; what was fetched is kept")
                    if attempt == RETRIES:
                        raise SeedError(f"{url}: no tile after {RETRIES + 1} tries (last "
                                        f"status {status or 'no answer'}); run again to resume")
                    sleep(retry_after(rh, attempt))
                if progress:
                    progress(result)
    finally:
        conn.close()
    return result


def retry_after(headers: dict[str, str], attempt: int) -> float:
    raw = {k.lower(): v for k, v in headers.items()}.get("retry-after", "")
    try:
        return min(300.0, max(0.0, float(raw)))
    except ValueError:
        return min(60.0, 2.0 ** attempt)


def write_metadata(conn: sqlite3.Connection, plan: SeedPlan, sample: bytes | None) -> None:
    values = {
        "name": plan.name or plan.out.stem, "type": "baselayer", "version": "1",
        "bounds": ",".join(f"{v:.6f}" for v in plan.bbox),
        "minzoom": str(plan.zooms[0]), "maxzoom": str(plan.zooms[1]),
        "attribution": plan.attribution, "description": f"seeded from {plan.url}",
    }
    have = conn.execute("SELECT value FROM metadata WHERE name='format'").fetchone()
    fmt = sniff_format(sample) if sample is not None else None
    if fmt is not None and have is None:
        values["format"] = fmt
    conn.executemany("INSERT OR REPLACE INTO metadata VALUES (?, ?)", values.items())
    conn.commit()
