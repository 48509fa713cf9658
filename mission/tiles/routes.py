"""GET /tiles (the archives, for the console) and GET /tiles/{name}/{z}/{x}/{y}.{ext}.

Behind the session like the rest of the console (viewer: any signed-in role). Tiles are sent
as stored; gzip-compressed vector tiles go out with `Content-Encoding: gzip` (decompressed here
only for a client that does not accept gzip). Cache-Control is private (the map is the
deployment's, behind a login) with an ETag, so a browser revalidates with a 304 and no body.
A tile that is not there is a 404, never a 500.
"""

from __future__ import annotations

import gzip
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from mission.deps import ViewerDep, get_app_state
from mission.tiles.archive import CONTENT_TYPES

router = APIRouter(tags=["tiles"])

CACHE_CONTROL = "private, max-age=3600"
NOT_FOUND = {"error": "not_found", "message": "no such tile"}


@router.get("/tiles")
async def list_archives(request: Request, _p: ViewerDep) -> dict[str, Any]:
    """The base-map archives this service serves, with their tile URL templates."""
    tiles = get_app_state(request).tiles
    await tiles.refresh()
    return {"archives": [i.as_json() for i in tiles.infos()]}


TILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the tile as stored (vector tiles: Content-Encoding gzip)",
          "content": {ct: {"schema": {"type": "string", "format": "binary"}}
                      for ct in CONTENT_TYPES.values()},
          "headers": {"ETag": {"schema": {"type": "string"}},
                      "Cache-Control": {"schema": {"type": "string"}}}},
    304: {"description": "If-None-Match named the tile's ETag: unchanged, no body"},
    404: {"description": "no such archive, format or tile",
          "content": {"application/json": {"schema": {"type": "object"}}}},
}


@router.get("/tiles/{name}/{z}/{x}/{tile}", response_class=Response,
            responses=TILE_RESPONSES)
async def get_tile(request: Request, name: str, z: int, x: int, tile: str,
                   _p: ViewerDep) -> Response:
    """One tile; `tile` is `{y}.{ext}` with the archive's format (png, jpg, webp, mvt/pbf)."""
    y_raw, dot, ext = tile.partition(".")
    if not dot or not (y_raw.isascii() and y_raw.isdigit() and len(y_raw) <= 10):
        raise HTTPException(404, detail=NOT_FOUND)
    served = await get_app_state(request).tiles.get(name, z, x, int(y_raw), ext)
    if served is None:
        raise HTTPException(404, detail=NOT_FOUND)
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": served.etag,
               "Vary": "Accept-Encoding"}
    if served.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = served.data
    if served.gzipped:
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
        else:
            body = gzip.decompress(body)
    return Response(body, media_type=served.content_type, headers=headers)
