"""GET /tiles and /tiles/{name}/{z}/{x}/{y}.{ext} on the real service with NAZORAT_TILES naming
archives the test makes: tile bytes and content types, gzip vector tiles, ETag and 304, 404 for
what is not there (never a 500), a session required, and the latency from a local archive."""

from __future__ import annotations

import gzip
import statistics
import time
from collections.abc import Iterator

import pytest

pytest.register_assert_rewrite("service_fixture")

from service_fixture import RunningService, module_service  # noqa: E402
from tile_archives import mvt_tile, png_tile, write_mbtiles, write_pmtiles  # noqa: E402

pytest_plugins = ["service_fixture"]
pytestmark = [pytest.mark.nopg, pytest.mark.timeout(120)]

RED, BLUE, GREEN = png_tile((200, 0, 0)), png_tile((0, 0, 200)), png_tile((0, 160, 0))


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory,
        request: pytest.FixtureRequest) -> Iterator[RunningService]:
    d = tmp_path_factory.mktemp("archives")
    base = write_mbtiles(d / "city.mbtiles", {(1, 0, 0): RED, (1, 0, 1): BLUE})
    sat = write_pmtiles(d / "sat.pmtiles", {(0, 0, 0): GREEN, (1, 1, 1): RED}, "png")
    vec = write_pmtiles(d / "vec.pmtiles", {(0, 0, 0): mvt_tile()}, "mvt")
    spec = f"base={base},sat={sat},vec={vec},gone=/nonexistent/x.pmtiles"
    yield from module_service(tmp_path_factory, request, "tiles-api", {"NAZORAT_TILES": spec})


def test_listing(svc: RunningService) -> None:
    with svc.client(role="commander") as c:
        archives = c.get("/tiles").json()["archives"]
    by_name = {a["name"]: a for a in archives}
    assert sorted(by_name) == ["base", "sat", "vec"]  # the missing file is left out, logged
    assert by_name["base"]["format"] == "png" and by_name["base"]["kind"] == "mbtiles"
    assert by_name["vec"]["type"] == "vector" and by_name["vec"]["url"].endswith("{y}.mvt")
    assert by_name["sat"]["minzoom"] == 0 and by_name["sat"]["maxzoom"] == 1
    assert by_name["base"]["attribution"] == "synthetic test tiles"
    assert len(by_name["base"]["bounds"]) == 4
    assert "left out" in svc.log_text() and "gone" in svc.log_text()


def test_raster_tiles_bytes_types_and_tms_flip(svc: RunningService) -> None:
    with svc.client() as c:
        north = c.get("/tiles/base/1/0/0.png")
        south = c.get("/tiles/base/1/0/1.png")
        sat = c.get("/tiles/sat/0/0/0.png")
    assert north.status_code == 200 and north.content == RED
    assert south.content == BLUE  # stored as TMS row 0, asked as XYZ y 1
    assert sat.content == GREEN
    for r in (north, sat):
        assert r.headers["content-type"] == "image/png"
        assert r.headers["cache-control"] == "private, max-age=3600"
        assert "content-encoding" not in r.headers


def test_vector_tile_is_sent_gzip_encoded(svc: RunningService) -> None:
    with svc.client() as c:
        r = c.get("/tiles/vec/0/0/0.mvt")  # httpx accepts gzip and decodes it
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        assert r.headers["content-encoding"] == "gzip"
        assert r.content == mvt_tile()
        assert c.get("/tiles/vec/0/0/0.pbf").content == mvt_tile()
        raw = c.get("/tiles/vec/0/0/0.mvt", headers={"accept-encoding": "identity"})
        assert "content-encoding" not in raw.headers and raw.content == mvt_tile()
        assert gzip.decompress(gzip.compress(raw.content)) == mvt_tile()


def test_etag_and_304(svc: RunningService) -> None:
    with svc.client() as c:
        first = c.get("/tiles/sat/0/0/0.png")
        etag = first.headers["etag"]
        again = c.get("/tiles/sat/0/0/0.png", headers={"if-none-match": etag})
        other = c.get("/tiles/sat/1/1/1.png", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert other.status_code == 200 and other.headers["etag"] != etag


@pytest.mark.parametrize("path", [
    "/tiles/base/1/1/1.png",  # no such tile
    "/tiles/base/1/0/0.jpg",  # not the archive's format
    "/tiles/base/1/2/0.png",  # x out of range at z1
    "/tiles/base/40/0/0.png",  # zoom beyond any archive
    "/tiles/nope/0/0/0.png",  # no such archive
    "/tiles/base/1/0/x.png",
    "/tiles/base/1/0/%C2%B2.png",  # a Unicode digit
    "/tiles/base/1/0/" + "9" * 5000 + ".png",
    "/tiles/base/99999999999999999999/0/0.png",
    "/tiles/base/1/-1/0.png",
    "/tiles/base/1/0/0",
    "/tiles/gone/0/0/0.png",  # configured, but the file is missing
])
def test_missing_is_404_never_500(svc: RunningService, path: str) -> None:
    with svc.client() as c:
        assert c.get(path).status_code == 404


def test_session_required(svc: RunningService) -> None:
    with svc.client(role=None) as c:
        assert c.get("/tiles").status_code == 401
        assert c.get("/tiles/base/1/0/0.png").status_code == 401


def test_tile_latency_from_a_local_archive(svc: RunningService) -> None:
    """Not a benchmark: a figure for the report, and a bound far above it."""
    times = []
    with svc.client() as c:
        c.get("/tiles/sat/0/0/0.png")
        for i in range(300):
            t0 = time.perf_counter()
            r = c.get("/tiles/sat/0/0/0.png" if i % 2 else "/tiles/base/1/0/1.png")
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200
    times.sort()
    p50, p99 = statistics.median(times), times[int(len(times) * 0.99) - 1]
    print(f"tile latency over HTTP (keep-alive, one client): p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    assert p50 < 100
