"""`nazorat tiles info|import|seed` as an operator runs them (its own data directory and
environment): import checks format, bounds, zoom range and tile content and names what is wrong;
seed fetches from a tiny tile server this test starts on 127.0.0.1 (never the internet), at its
rate, with the documented User-Agent, and resumes where an interrupted run stopped.

The first import is a real `python -m mission.cli` process; the other runs call the same
`main(argv)` in this process (tests/cli_inprocess.py), saving a second of start-up each."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cli_inprocess import command_env, run_cli
from mission.tiles.grid import count_in_bbox
from mission.tiles.service import open_archive
from tile_archives import mvt_tile, png_tile, write_mbtiles, write_pmtiles

pytestmark = [pytest.mark.nopg, pytest.mark.timeout(120)]

REPO_ROOT = Path(__file__).resolve().parents[1]
GREY = png_tile((120, 120, 120), size=16)


def _env(data_dir: Path, env: dict[str, str]) -> dict[str, str]:
    return command_env({"NAZORAT_DATA_DIR": str(data_dir), "NAZORAT_LOG_FORMAT": "text", **env})


def nazorat(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`nazorat tiles *args`, in this process."""
    return run_cli(["tiles", *args], _env(data_dir, env))


def nazorat_process(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m mission.cli tiles *args`: the entry point as the operator's shell runs it."""
    return subprocess.run([sys.executable, "-m", "mission.cli", "tiles", *args], cwd=REPO_ROOT,
                          env=_env(data_dir, env), capture_output=True, text=True, timeout=60)


def test_import_installs_a_checked_archive_and_info_lists_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert "no tile archives" in nazorat(data, "info").stdout
    src = write_pmtiles(tmp_path / "city.pmtiles", {(0, 0, 0): mvt_tile()}, "mvt")
    r = nazorat_process(data, "import", str(src))
    assert r.returncode == 0, r.stderr
    assert "installed city: pmtiles mvt (vector), zoom 0-0" in r.stdout
    assert (data / "tiles" / "city.pmtiles").read_bytes() == src.read_bytes()
    again = nazorat(data, "import", str(src))
    assert again.returncode == 1 and "--replace" in again.stderr
    sat = write_mbtiles(tmp_path / "s.mbtiles", {(1, 0, 0): GREY})
    assert nazorat(data, "import", str(sat), "--name", "sat").returncode == 0
    info = nazorat(data, "info", NAZORAT_TILES=f"extra={tmp_path}/missing.mbtiles").stdout
    assert "city: pmtiles mvt" in info and "sat: mbtiles png" in info
    assert "extra: NOT SERVED" in info and "missing.mbtiles" in info


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"<html>not a map</html>"), "neither a PMTiles nor an MBTiles"),
    (lambda p: write_mbtiles(p, {(1, 0, 0): b"\xff\xd8\xff\xe0 jpeg bytes"}),
     "a tile is not PNG"),
    (lambda p: write_mbtiles(p, {(1, 0, 0): GREY}, meta={"minzoom": "9", "maxzoom": "3"}),
     "zoom range 9-3"),
    (lambda p: write_mbtiles(p, {(1, 0, 0): GREY}, meta={"bounds": "200,0,10,10"}),
     "bounds 200.0,0.0,10.0,10.0"),
    (lambda p: write_mbtiles(p, {}), "holds no tiles"),
    (lambda p: write_mbtiles(p, {(1, 0, 0): b"\x1f\x8b broken gzip"}, fmt="pbf"),
     "does not decompress"),
])
def test_import_refuses_bad_archives_naming_the_problem(
        tmp_path: Path, make: object, message: str) -> None:
    path = tmp_path / "bad.mbtiles"
    make(path)  # type: ignore[operator]
    r = nazorat(tmp_path / "data", "import", str(path))
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert r.stderr.startswith("nazorat: tiles import: ")
    assert not (tmp_path / "data" / "tiles" / "bad.mbtiles").exists()


class TileServer:
    """A tile server on 127.0.0.1: PNG for every tile except (z, x, y) in `absent` (404);
    `fail_after` requests answered, then 503 with Retry-After: 0 for all."""

    def __init__(self) -> None:
        self.requests: list[tuple[float, str, str]] = []
        self.absent: set[tuple[int, int, int]] = set()
        self.fail_after: int | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server interface
                outer.requests.append((time.monotonic(), self.path,
                                       self.headers.get("User-Agent", "")))
                if outer.fail_after is not None and len(outer.requests) > outer.fail_after:
                    self.send_response(503)
                    self.send_header("Retry-After", "0")
                    self.end_headers()
                    return
                z, x, y = (int(v) for v in self.path.strip("/").removesuffix(".png").split("/"))
                if (z, x, y) in outer.absent:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                self.wfile.write(GREY)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[TileServer]:
    s = TileServer()
    yield s
    s.close()


BBOX = "69.22,41.30,69.26,41.32"
BBOX_T = (69.22, 41.30, 69.26, 41.32)


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """When the seed's HTTP requests leave (time.monotonic()): the real urlopen, timed."""
    times: list[float] = []
    real = urllib.request.urlopen

    def timed(*args: Any, **kwargs: Any) -> Any:
        times.append(time.monotonic())
        return real(*args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", timed)
    return times


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def paced(times: list[float], interval: float = 0.1) -> bool:
    """The limiter keeps `interval` between its clock readings, a few lines of code before
    each request leaves; a thread descheduled between the two (tens of ms on a loaded machine:
    0.092 s was seen) shortens one measured gap and lengthens another. So: no gap under 80 %
    of the interval, and the run as a whole never faster than one request per interval."""
    g = gaps(times)
    return min(g) >= 0.8 * interval and (times[-1] - times[0]) / len(g) >= interval - 0.002


def test_seed_is_rate_limited_identified_and_resumable(
        tmp_path: Path, server: TileServer, sends: list[float]) -> None:
    """--rate 10: at most one request per 0.1 s, retries included. Checked where the limit is
    kept (when each request leaves: a few microseconds of code after the limiter's clock), and
    as the server saw them, where the arrival of each request also waits for its handler thread
    to be scheduled (tens of milliseconds on a loaded machine, so one gap there may look short
    while the run's pace is right)."""
    out = tmp_path / "city.mbtiles"
    total = sum(count_in_bbox(BBOX_T, z) for z in range(12, 15))
    args = ["seed", "--bbox", BBOX, "--zoom", "12-14", "--from", server.url, "--out", str(out),
            "--contact", "ops@unit.example", "--rate", "10", "--attribution", "test server"]
    server.absent = {(12, 2835, 1530)}  # one the server does not have
    server.fail_after = 5  # then the server breaks down: the run stops, keeping what it has
    first = nazorat(tmp_path, *args)
    assert first.returncode == 1 and "run again to resume" in first.stderr, first.stderr
    kept = sqlite3.connect(out).execute("SELECT count(*) FROM tiles").fetchone()[0]
    assert 1 <= kept <= 5
    assert all(ua.startswith("Nazorat-tiles-seed/") and "ops@unit.example" in ua
               for _, _, ua in server.requests)
    assert len(sends) == len(server.requests) == 5 + 6  # 5 answered, then 6 tries of one tile
    assert paced(sends), gaps(sends)
    server.requests.clear()
    sends.clear()
    server.fail_after = None
    second = nazorat(tmp_path, *args)
    assert second.returncode == 0, second.stderr
    asked = [p for _, p, _ in server.requests]
    assert len(asked) == len(set(asked)) == total - 5  # nothing asked for twice
    assert len(sends) == total - 5 and paced(sends), gaps(sends)
    seen = [t for t, _, _ in server.requests]
    # no burst reached the server: any four requests in a row span at least three intervals,
    # less 0.15 s for this test's server thread being scheduled late for one of them (under
    # load it saw one request 0.21 s after the last and the next 0.015 s after that, while the
    # client's own send times above were paced)
    assert all(b - a >= 3 * 0.1 - 0.15 for a, b in zip(seen, seen[3:], strict=False)), gaps(seen)
    assert seen[-1] - seen[0] >= (len(seen) - 1) * 0.1 - 0.03, gaps(seen)  # nor a faster pace
    assert f"of {total}" in second.stdout
    reader = open_archive(out, "city")
    try:
        assert (reader.info.format, reader.info.min_zoom, reader.info.max_zoom) == ("png", 12, 14)
        assert reader.info.attribution == "test server"
        assert reader.info.tiles == total - 1  # all but the absent one
        some = reader.sample(1)[0]
        assert reader.get(*some[0]) is not None and some[1].data == GREY
    finally:
        reader.close()
    third = nazorat(tmp_path, *args)  # all there: asks for nothing
    assert third.returncode == 0 and len(server.requests) == total - 5


def test_seed_refuses_bad_plans(tmp_path: Path, server: TileServer) -> None:
    base = ["--from", server.url, "--out", str(tmp_path / "x.mbtiles"), "--contact", "a@b.c"]
    cases = {
        ("--bbox", "1,2,3", "--zoom", "1-2"): "four numbers",
        ("--bbox", BBOX, "--zoom", "9-3"): "--zoom",
        ("--bbox=-180,-85,180,85", "--zoom", "0-14"): "more than --max-tiles",
        ("--bbox", BBOX, "--zoom", "12", "--rate", "50"): "--rate",
    }
    for extra, message in cases.items():
        r = nazorat(tmp_path, "seed", *extra, *base)
        assert r.returncode == 1 and message in r.stderr, (extra, r.stderr)
    osm = nazorat(tmp_path, "seed", "--bbox", BBOX, "--zoom", "12", "--from",
                  "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "--out",
                  str(tmp_path / "o.mbtiles"), "--contact", "a@b.c")
    assert osm.returncode == 1 and "forbid bulk downloading" in osm.stderr
    assert server.requests == []
