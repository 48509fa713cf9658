"""The tile readers on archives the tests make (tests/tile_archives.py): bytes back as stored,
MBTiles' TMS row flip, gzip flagged for vector tiles, and bad files refused with a reason."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from mission.tiles.archive import ArchiveError
from mission.tiles.service import TileService, open_archive, parse_spec
from tile_archives import mvt_tile, png_tile, write_mbtiles, write_pmtiles

pytestmark = pytest.mark.nopg

RED, BLUE = png_tile((200, 0, 0)), png_tile((0, 0, 200))


def test_mbtiles_flips_tms_rows(tmp_path: Path) -> None:
    # z1: XYZ y=0 is the north row, stored as TMS row 1
    path = write_mbtiles(tmp_path / "a.mbtiles", {(1, 0, 0): RED, (1, 0, 1): BLUE})
    r = open_archive(path, "a")
    try:
        assert r.get(1, 0, 0) is not None and r.get(1, 0, 0).data == RED  # type: ignore[union-attr]
        assert r.get(1, 0, 1).data == BLUE  # type: ignore[union-attr]
        assert r.get(1, 1, 0) is None
        info = r.info
        assert (info.kind, info.format, info.min_zoom, info.max_zoom) == ("mbtiles", "png", 1, 1)
        assert info.attribution == "synthetic test tiles"
    finally:
        r.close()


def test_pmtiles_raster_and_vector(tmp_path: Path) -> None:
    tiles = {(z, x, y): png_tile((z * 10, x % 256, y % 256))
             for z in range(0, 4) for x in range(1 << z) for y in range(1 << z)}
    r = open_archive(write_pmtiles(tmp_path / "r.pmtiles", tiles), "r")
    for key, data in tiles.items():
        got = r.get(*key)
        assert got is not None and got.data == data and not got.gzipped, key
    assert r.get(4, 0, 0) is None
    assert (r.info.kind, r.info.format, r.info.max_zoom) == ("pmtiles", "png", 3)
    r.close()
    v = open_archive(write_pmtiles(tmp_path / "v.pmtiles", {(0, 0, 0): mvt_tile()}, "mvt"), "v")
    got = v.get(0, 0, 0)
    assert got is not None and got.gzipped and got.plain() == mvt_tile()
    assert v.info.format == "mvt" and v.info.vector_layers == ("earth", "water")
    v.close()


def test_pmtiles_many_tiles_use_leaf_directories(tmp_path: Path) -> None:
    # enough distinct tiles that the writer splits the directory into leaves
    rng = random.Random(15)
    tiles = {(12, x, y): rng.randbytes(rng.randint(1, 40))
             for x, y in {(rng.randrange(4096), rng.randrange(4096)) for _ in range(20000)}}
    r = open_archive(write_pmtiles(tmp_path / "big.pmtiles", tiles, "webp"), "big")
    assert r.header["leaf_directory_length"] > 0  # type: ignore[attr-defined]
    for key in rng.sample(sorted(tiles), 300):
        got = r.get(*key)
        assert got is not None and got.data == tiles[key]
    missing = [(12, x, 0) for x in range(4096) if (12, x, 0) not in tiles][:20]
    assert all(r.get(*key) is None for key in missing)
    r.close()


@pytest.mark.parametrize("content, reason", [
    (b"hello, not a map", "neither a PMTiles nor an MBTiles"),
    (b"PMTiles\x02" + bytes(119), "version other than 3"),
])
def test_bad_files_are_refused_with_a_reason(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.pmtiles"
    path.write_bytes(content)
    with pytest.raises(ArchiveError, match=reason):
        open_archive(path, "bad")


def test_mbtiles_without_tiles_or_with_bad_bounds(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="no tiles"):
        open_archive(write_mbtiles(tmp_path / "e.mbtiles", {}), "e")
    with pytest.raises(ArchiveError, match="bounds"):
        open_archive(write_mbtiles(tmp_path / "b.mbtiles", {(0, 0, 0): RED},
                                   meta={"bounds": "10,50,20,40"}), "b")
    with pytest.raises(ArchiveError, match="format"):
        open_archive(write_mbtiles(tmp_path / "f.mbtiles", {(0, 0, 0): RED}, fmt="tiff"), "f")


def test_service_names_formats_and_out_of_range(tmp_path: Path) -> None:
    base = write_mbtiles(tmp_path / "city.mbtiles", {(0, 0, 0): RED})
    (tmp_path / "tiles").mkdir()
    write_pmtiles(tmp_path / "tiles" / "sat.pmtiles", {(0, 0, 0): BLUE})
    (tmp_path / "tiles" / "broken.mbtiles").write_bytes(b"junk")
    spec = parse_spec([f"base={base}"])
    svc = TileService.open(spec, tmp_path / "tiles")
    assert [i.name for i in svc.infos()] == ["base", "sat"]  # broken one left out, logged

    async def run() -> None:
        t = await svc.get("base", 0, 0, 0, "png")
        assert t is not None and t.data == RED and t.content_type == "image/png"
        assert t.etag.startswith('"')
        assert await svc.get("base", 0, 0, 0, "jpg") is None  # not the archive's format
        assert await svc.get("base", 1, 5, 0, "png") is None  # x beyond the zoom's range
        assert await svc.get("nope", 0, 0, 0, "png") is None

    asyncio.run(run())
    svc.close()
    assert parse_spec(["/x/city.pmtiles"])[0][0] == "city"
    with pytest.raises(ValueError, match="NAZORAT_TILES"):
        parse_spec(["../etc=/x.mbtiles"])


def test_an_archive_broken_under_the_service_gives_no_tile_not_an_error(tmp_path: Path) -> None:
    path = write_pmtiles(tmp_path / "t.pmtiles", {(0, 0, 0): RED, (1, 0, 0): BLUE})
    svc = TileService.open([("t", path)], None)
    with path.open("r+b") as f:  # cut the tile data short, as a failed copy over it would
        f.truncate(path.stat().st_size - 100)

    async def run() -> None:
        first = await svc.get("t", 0, 0, 0, "png")
        assert first is not None and first.data == RED  # stored first: still whole
        assert await svc.get("t", 1, 0, 0, "png") is None  # the cut one: no tile, no exception

    asyncio.run(run())
    svc.close()
