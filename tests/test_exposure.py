"""What the service exposes without a session (issue 10, deliverable 3): one regression test per
finding, named after it. These run the app in process without its lifespan (nothing of the
database or the fleet is needed for them); the findings that need a running service are in
tests/test_exposure_service.py, the console's in tests/test_console_hostile_names.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from mission.app import create_app
from mission.console_files import is_console_file
from mission.settings import Settings

REPO = Path(__file__).resolve().parents[1]
UI = REPO / "ui"


def tracked_ui_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "ui"], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout
    return [line.removeprefix("ui/") for line in out.splitlines()]


@pytest.fixture
async def client() -> httpx.AsyncClient:
    app = create_app(Settings(ui_dir=UI))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")


async def test_static_mount_served_package_metadata(client: httpx.AsyncClient) -> None:
    """/package.json, /package-lock.json, /.npmrc, /__init__.py and node_modules/ were served;
    only the console's own files are now."""
    async with client as c:
        for path in ["/package.json", "/package-lock.json", "/.npmrc", "/__init__.py",
                     "/node_modules/leaflet/package.json", "/node_modules/.package-lock.json",
                     "/vendor/leaflet/LICENSE", "/vendor/protomaps-leaflet/LICENSE",
                     "/node_modules/protomaps-leaflet/dist/protomaps-leaflet.js",
                     "/app/../package.json", "/%2e%2e/pyproject.toml",
                     "/app/", "/i18n"]:
            r = await c.get(path)
            assert r.status_code == 404, (path, r.status_code)
        served = [f for f in tracked_ui_files() if is_console_file(f)]
        assert {"index.html", "login.html", "report.html", "login.js", "app/main.js",
                "i18n/en.js", "styles.css", "favicon.svg"} <= set(served)
        for f in [*served, "vendor/leaflet/leaflet.js", "vendor/leaflet/images/layers.png",
                  "vendor/protomaps-leaflet/protomaps-leaflet.js"]:
            r = await c.get("/" + f)
            assert r.status_code == 200, (f, r.status_code)
        assert (await c.get("/")).status_code == 200
        # a write to an API path without that method still gets 405, not the mount's 404
        assert (await c.put("/api/audit")).status_code == 405


def test_console_file_rule() -> None:
    assert is_console_file(".") and is_console_file("app/map.js")
    assert is_console_file("vendor/leaflet/images/marker-icon.png")
    assert is_console_file("vendor/world-atlas/countries-10m.json")  # the demo base map
    for bad in ["package.json", ".npmrc", "__init__.py", "node_modules/x/index.js",
                "app/.hidden.js", "other/x.js", "vendor/leaflet/LICENSE", "README.md",
                "vendor/world-atlas/package.json", "app/x.json", "vendor/mgrs/license.md"]:
        assert not is_console_file(bad), bad


def test_nested_json_is_too_deep_before_it_is_parsed() -> None:
    from mission import jsonsafe

    assert not jsonsafe.too_deep(b"[" * 64 + b"]" * 64)
    assert jsonsafe.too_deep(b"[" * 65 + b"]" * 65)
    assert jsonsafe.too_deep(b"[{" * 40 + b"}]" * 40)
    assert not jsonsafe.too_deep(b'["' + b"[" * 500 + b'"]')  # inside a string: text
    assert not jsonsafe.too_deep(b'["\\"' + b"[" * 500 + b'"]')  # an escaped quote
    with pytest.raises(ValueError, match="nested"):
        jsonsafe.loads(b"[" * 100_000 + b"]" * 100_000)
    assert jsonsafe.loads('{"a": [[1], {"b": "[[["}]}') == {"a": [[1], {"b": "[[["}]}
