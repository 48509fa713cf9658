"""One command installs a unit's map on a running service: `nazorat tiles import` into the
service's data directory, and the console's next look at /tiles finds it (no restart); a
replaced archive is served anew, a removed one is gone."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("service_fixture")

from service_fixture import ServiceFactory  # noqa: E402
from test_tiles_cli import nazorat  # noqa: E402
from tile_archives import png_tile, write_mbtiles  # noqa: E402

pytest_plugins = ["service_fixture"]
pytestmark = [pytest.mark.nopg, pytest.mark.timeout(120)]

RED = png_tile((200, 0, 0), size=16)
BLUE = png_tile((0, 0, 200), size=16)


def test_an_archive_imported_while_the_service_runs_is_served_without_a_restart(
    service_factory: ServiceFactory,
) -> None:
    svc = service_factory()
    with svc.client(role="commander") as c:
        assert c.get("/tiles").json()["archives"] == []
        src = write_mbtiles(svc.data_dir / "city-src.mbtiles", {(1, 0, 0): RED})
        r = nazorat(svc.data_dir, "import", str(src), "--name", "city")
        assert r.returncode == 0, r.stderr
        names = [a["name"] for a in c.get("/tiles").json()["archives"]]
        assert names == ["city"]
        assert c.get("/tiles/city/1/0/0.png").content == RED

        newer = write_mbtiles(svc.data_dir / "city-new.mbtiles", {(1, 0, 0): BLUE})
        r = nazorat(svc.data_dir, "import", str(newer), "--name", "city", "--replace")
        assert r.returncode == 0, r.stderr
        assert [a["name"] for a in c.get("/tiles").json()["archives"]] == ["city"]
        assert c.get("/tiles/city/1/0/0.png").content == BLUE

        (svc.data_dir / "tiles" / "city.mbtiles").unlink()
        assert c.get("/tiles").json()["archives"] == []
        assert c.get("/tiles/city/1/0/0.png").status_code == 404
