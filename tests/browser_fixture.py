"""Headless Chromium for the console tests: Debian's `chromium` driven by Playwright for Python.

Register with `pytest_plugins = ["browser_fixture"]`. Playwright never downloads a browser here
(`make test` installs Debian's chromium and sets PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 for pip); it
is pointed at the system binary with `executable_path`. Without chromium or Playwright the tests
that use these fixtures are skipped, with the reason.

`open_console(base_url, path="/")` opens the console in a fresh browser context (its own
localStorage) and returns a `ConsolePage` that has collected, from the first request on:
- `errors`: console messages of type error and uncaught page errors (`warnings`: of type warning);
- `external`: requests to anything but the service (they are aborted: the console must work
  with no internet). The default OpenStreetMap tile URL is answered with a generated plain tile
  instead, so the default configuration is exercised offline.
`before_load(page)` runs before the console loads (to watch its requests or route its socket).
`ConsolePage.screenshot(name)` saves `test-artifacts/console/<name>.png` when
NAZORAT_TEST_SCREENSHOTS=1 (for a person to look at; no test reads them, and on a loaded
machine one screenshot of a freshly zoomed map took 40 s of a test's time).

The page is signed in before it loads: the context gets the HttpOnly session cookie of a user
of the service at `base_url` (service_fixture.RUNNING), by default the operator `console`;
`open_console(url, role="commander")` (user `commander-test`; `username=` names another) for
another, `role=None` for none (the console then sends the user to /login.html).
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Route

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "console"
OSM_TILES = "https://tile.openstreetmap.org/**"
DEFAULT_VIEWPORT = (1366, 768)
# Generous for a 2-core machine that also runs the simulated fleet and the service.
DEFAULT_TIMEOUT_MS = 20_000


def chromium_path() -> str | None:
    """Debian's chromium (or CHROMIUM_PATH); never a browser that Playwright downloaded."""
    explicit = os.environ.get("CHROMIUM_PATH")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def plain_tile_png(size: int = 256) -> bytes:
    """A light grey PNG tile with a faint grid (stands in for base-map tiles offline)."""
    bg, line = b"\xdd\xe2\xe6", b"\xc8\xce\xd4"
    rows = []
    for y in range(size):
        if y % 64 == 0:
            row = line * size
        else:
            row = b"".join(line if x % 64 == 0 else bg for x in range(size))
        rows.append(b"\x00" + row)
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


@dataclass
class ConsolePage:
    page: Page
    base_url: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    tiles_served: int = 0

    def screenshot(self, name: str, *, full_page: bool = False) -> Path | None:
        if os.environ.get("NAZORAT_TEST_SCREENSHOTS") != "1":
            return None
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def console_errors(self, *, ignore: tuple[str, ...] = ()) -> list[str]:
        """Collected errors, without those containing any of the `ignore` substrings."""
        return [e for e in self.errors if not any(s in e for s in ignore)]

    def eval(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)


OpenConsole = Callable[..., ConsolePage]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        pytest.skip("no chromium binary (Debian package `chromium`; `make test` installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=path, headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def open_console(browser: Browser) -> Iterator[OpenConsole]:
    contexts: list[Any] = []
    tile = plain_tile_png()

    def open_(
        base_url: str, path: str = "/", *, viewport: tuple[int, int] = DEFAULT_VIEWPORT,
        locale: str = "en-GB", serve_tiles: bool = True, role: str | None = "operator",
        username: str | None = None, wait_ready: bool = True,
        before_load: Callable[[Page], None] | None = None,
    ) -> ConsolePage:
        ctx = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, locale=locale,
            service_workers="block",
        )
        contexts.append(ctx)
        if role is not None:
            from service_fixture import RUNNING

            svc = RUNNING.get(base_url)
            if svc is None:
                pytest.fail(f"no running service at {base_url} to sign in to (role=None?)")
            ctx.add_cookies([{
                "name": "nazorat_session",
                "value": svc.token(role, username or ("console" if role == "operator" else None)),
                "url": base_url, "httpOnly": True, "sameSite": "Strict",
            }])
        ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
        page = ctx.new_page()
        cp = ConsolePage(page, base_url)
        own = urlsplit(base_url).netloc

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error":
                loc = msg.location or {}
                cp.errors.append(f"{msg.text} [{loc.get('url', '')}]")
            elif msg.type == "warning":
                cp.warnings.append(msg.text)

        page.on("console", on_console)
        page.on("pageerror", lambda exc: cp.errors.append(f"pageerror: {exc}"))

        def offline(route: Route) -> None:
            url = route.request.url
            if urlsplit(url).netloc == own or url.startswith(("data:", "blob:")):
                route.continue_()
            else:
                cp.external.append(url)
                route.abort("internetdisconnected")

        def tiles(route: Route) -> None:
            if not serve_tiles:
                cp.external.append(route.request.url)
                route.abort("internetdisconnected")
                return
            cp.tiles_served += 1
            route.fulfill(status=200, content_type="image/png", body=tile)

        page.route("**/*", offline)
        page.route(OSM_TILES, tiles)  # registered last: matched first
        if before_load is not None:
            before_load(page)
        page.goto(base_url + path, wait_until="domcontentloaded")
        if wait_ready:
            page.wait_for_selector("body[data-ready=true]")
        return cp

    yield open_
    for ctx in contexts:
        ctx.close()
