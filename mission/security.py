"""HTTP hardening as ASGI middleware: request body limits and security headers.

- Body limits: intake routes accept at most NAZORAT_INTAKE_MAX_BYTES (the Telegram webhook
  four times that), imports 20 MiB (checked by the route while streaming), anything else
  NAZORAT_MAX_BODY_BYTES; larger bodies get 413 before any route sees them. A JSON body nested
  deeper than mission/jsonsafe.py allows gets 400 `too_deep` (imports: their parser does the
  same), so no route ever parses one.
- Headers on every response: nosniff, no framing, a same-origin referrer policy, COOP/CORP;
  pages (the console, /login.html, /report) get a Content-Security-Policy that allows only this
  origin's scripts (map tiles may come from any https/http server: ui/config.js), API answers a
  deny-all CSP and `Cache-Control: no-store`; HSTS when the request came over https.
- CORS is off unless NAZORAT_CORS_ORIGINS names origins (app.py adds Starlette's middleware).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread

from mission import jsonsafe

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

IMPORT_MAX_BYTES = 20 * 1024 * 1024 + 1  # the import routes answer 413 themselves
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def body_limit_for(path: str, *, intake: int, default: int) -> int | None:
    """Largest body for a path; None: the route streams and limits it itself."""
    if path == "/api/intake/telegram":
        return intake * 4
    if path.startswith("/api/intake/"):
        return intake
    if path.endswith("/import"):
        return None
    return default


async def _send_json(send: Send, status: int, body: dict[str, Any],
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    raw = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode()),
        (b"connection", b"close"), *(headers or [])]})
    await send({"type": "http.response.body", "body": raw})


def _maybe_json(scope: Scope) -> bool:
    """A body FastAPI would parse as JSON: a JSON content type, or none at all."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return b"json" in value.lower()
    return True


class BodyLimit:
    def __init__(self, app: ASGIApp, *, intake: int, default: int) -> None:
        self.app = app
        self.intake = intake
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = body_limit_for(scope["path"], intake=self.intake, default=self.default)
        if limit is None:
            await self.app(scope, receive, send)
            return
        too_large = {"detail": {"error": "too_large", "field": "(body)",
                                "message": f"the body may have at most {limit} bytes"}}
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                await _send_json(send, 413, too_large)
                return
        # Read the whole (bounded) body first, then hand it to the app in one piece.
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send_json(send, 413, too_large)
                return
            chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        body = b"".join(chunks)
        if size > jsonsafe.MAX_DEPTH and _maybe_json(scope) and (
                await anyio.to_thread.run_sync(jsonsafe.too_deep, body) if size > 65_536
                else jsonsafe.too_deep(body)):
            await _send_json(send, 400, {"detail": {
                "error": "too_deep", "field": "(body)",
                "message": f"JSON nested more than {jsonsafe.MAX_DEPTH} levels deep"}})
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob: https: http:; font-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; "
            "connect-src 'self'{ws}")
API_CSP = "default-src 'none'; frame-ancestors 'none'"
NO_CSP_PATHS = ("/docs", "/redoc")  # FastAPI's API browser loads its own scripts and styles


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        host = next((v.decode("latin-1") for k, v in scope.get("headers", ())
                     if k == b"host"), "")
        https = scope.get("scheme") == "https"
        extra: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cross-origin-resource-policy", b"same-origin"),
            (b"permissions-policy",
             b"camera=(), microphone=(), payment=(), usb=(), geolocation=(self)"),
        ]
        if https:
            extra.append((b"strict-transport-security", b"max-age=31536000"))
        if path.startswith(("/api/", "/openapi.json")):
            extra.append((b"content-security-policy", API_CSP.encode()))
            extra.append((b"cache-control", b"no-store"))
        elif not path.startswith(NO_CSP_PATHS):
            ws = ""
            if _HOST_RE.match(host):
                ws = f" wss://{host}" if https else f" ws://{host} wss://{host}"
            extra.append((b"content-security-policy", PAGE_CSP.format(ws=ws).encode()))

        async def send_with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                present = {k.lower() for k, _ in msg.get("headers", [])}
                msg["headers"] = [*msg.get("headers", []),
                                  *((k, v) for k, v in extra if k not in present)]
            await send(msg)

        await self.app(scope, receive, send_with_headers)
