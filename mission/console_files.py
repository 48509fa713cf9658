"""The console's static files (ui/), served from an allow-list.

ui/ is also where npm runs (package.json, package-lock.json, .npmrc, node_modules/) and a Python
package marker lives (__init__.py); a plain StaticFiles mount served all of that. Only the
console's own kinds of file are served: pages, scripts, styles and images at the top of ui/ or
under its app/, i18n/ and vendor/ folders (vendor/: what `make ui` copies from node_modules,
Leaflet, protomaps-leaflet, topojson-client, mgrs), plus the one data file the console draws
(vendor/world-atlas/countries-10m.json, Natural Earth), never a dotfile or anything under
node_modules/ (so not ui/package.json).
Everything else answers 404, as if it were not there.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

CONSOLE_SUFFIXES = (".html", ".js", ".css", ".svg", ".png")
CONSOLE_FOLDERS = frozenset({"app", "i18n", "vendor"})
# JSON is served only here: the demo base map when the service has no archive (ui/app/basemap.js)
CONSOLE_DATA = frozenset({"vendor/world-atlas/countries-10m.json"})


def is_console_file(path: str) -> bool:
    """True for a path (relative to ui/, '/' separated) that belongs to the console; "." is the
    folder itself (its index.html)."""
    if path in (".", "") or path in CONSOLE_DATA:
        return True
    parts = PurePosixPath(path).parts
    if any(p.startswith(".") or p == "node_modules" for p in parts):
        return False
    if len(parts) > 1 and parts[0] not in CONSOLE_FOLDERS:
        return False
    return parts[-1].endswith(CONSOLE_SUFFIXES)


class ConsoleFiles(StaticFiles):
    """StaticFiles that answers 404 for anything `is_console_file` refuses."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        # other methods: StaticFiles' 405 (also what a write to an API path with no such
        # method gets, as the mount at / matches every path)
        if scope["method"] in ("GET", "HEAD") and not is_console_file(path.replace("\\", "/")):
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)
