"""`/ws/telemetry`: the live fleet stream. Encoding and pacing live in telemetry.stream; this
route authenticates the socket, reads the client's options and control messages, and ends the
session when either side goes away. Schema: docs/telemetry-ws.md.

Authentication: the session cookie (browsers, same origin), or `Authorization: Bearer TOKEN`,
or `?token=TOKEN` (clients that cannot set headers; uvicorn's log lines have it masked). Any
user role may follow the fleet. The socket is accepted, then closed with
- 4401 when the credentials are missing, invalid, expired, or the session ends while the
  socket is open (logout, revocation: checked every few seconds and with every message);
- 4403 for an integration key (intake only);
- 1008 (policy violation) for a bad option, a binary frame, text that is not a JSON object
  with known keys, a bad value, or more than MAX_MESSAGES_PER_S messages a second;
- 1009 (too big) for a message over NAZORAT_WS_MAX_MESSAGE_BYTES.
Such a close ends only that client's session; the others and the service go on.

Besides the fleet, every client gets missions and incidents as they change (`changes` frames,
mission/live/changes.py) in the view its role has over REST: a commander's incidents come
without the reporter's contact. A role changed while the socket is open takes effect at the
next session check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from mission import jsonsafe
from mission.auth.models import USER_ROLES
from mission.auth.service import AuthFailure, Principal
from mission.credentials import credentials
from mission.deps import get_app_state, origin_allowed, set_context
from mission.live.changes import audience_of
from mission.runtime.service import Runtime
from telemetry.stream import StreamSession, parse_options

log = logging.getLogger(__name__)
router = APIRouter(tags=["live"])

CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
RECHECK_S = 5.0
MAX_MESSAGES_PER_S = 20
CONTROL_KEYS = frozenset({"rate"})


class PolicyViolation(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason[:120]


async def _authenticate(ws: WebSocket, app: Runtime) -> tuple[Principal, str, str]:
    given = credentials(ws, query=True)
    if given is None:
        raise PolicyViolation(CLOSE_UNAUTHENTICATED, "unauthenticated: log in first")
    token, via = given.token, given.via
    if via == "cookie" and not origin_allowed(ws, app.settings):
        raise PolicyViolation(CLOSE_FORBIDDEN, "forbidden: cross-origin socket")
    try:
        p = await app.auth.authenticate(token, via)
    except AuthFailure as e:
        raise PolicyViolation(CLOSE_UNAUTHENTICATED, f"unauthenticated: {e.message}") from None
    if p.role not in USER_ROLES:
        raise PolicyViolation(CLOSE_FORBIDDEN, f"forbidden: a {p.role} may not follow the fleet")
    return p, token, via


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await ws.close(code=code, reason=reason[:120])


@router.websocket("/ws/telemetry")
async def telemetry_ws(ws: WebSocket) -> None:
    app = get_app_state(ws)
    # Accept first: a close before accept becomes a bare HTTP 403 and the client never learns
    # why. Then close with the code and a reason naming what was wrong.
    try:
        principal, token, via = await _authenticate(ws, app)
        options = parse_options(
            ws.query_params,
            default_rate=app.settings.ws_default_rate_hz,
            max_rate=app.settings.ws_max_rate_hz,
        )
    except PolicyViolation as e:
        await ws.accept()
        await _close(ws, e.code, e.reason)
        return
    except ValueError as e:
        await ws.accept()
        await _close(ws, CLOSE_POLICY, str(e))
        return
    set_context(ws, principal)
    options = type(options)(
        rate_hz=options.rate_hz, vehicles=options.vehicles, max_events=app.settings.ws_max_events,
        audience=audience_of(principal),
    )
    await ws.accept()
    session = StreamSession(app.hub, app.encoder, ws.send_text, options)
    tasks = [
        asyncio.create_task(session.run(), name="ws-sender"),
        asyncio.create_task(_receive(ws, app, session, token, via), name="ws-receiver"),
        asyncio.create_task(_watch(ws, app, session, token, via), name="ws-auth-watch"),
    ]
    try:
        with app.metrics.ws_clients.track_inprogress():
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await _close(ws, 1000, "")


async def _still_valid(app: Runtime, token: str, via: str,
                       session: StreamSession | None = None) -> str | None:
    """None while the session is valid (and then `session` follows the user's current role);
    else why not."""
    try:
        p = await app.auth.authenticate(token, via)
    except AuthFailure as e:
        return e.message
    if session is not None:
        session.audience = audience_of(p)
    return None


async def _watch(ws: WebSocket, app: Runtime, session: StreamSession, token: str,
                 via: str) -> None:
    """Close the socket soon after its session ends (logout, revocation, expiry)."""
    while True:
        await asyncio.sleep(RECHECK_S)
        why = await _still_valid(app, token, via, session)
        if why is not None:
            await _close(ws, CLOSE_UNAUTHENTICATED, f"unauthenticated: {why}")
            return


def _control(text: str, session: StreamSession) -> None:
    """Apply one control message, or PolicyViolation."""
    try:
        msg = jsonsafe.loads(text)
    except ValueError:
        raise PolicyViolation(CLOSE_POLICY, "not JSON") from None
    if not isinstance(msg, dict):
        raise PolicyViolation(CLOSE_POLICY, "a control message is a JSON object")
    unknown = set(msg) - CONTROL_KEYS
    if unknown:
        raise PolicyViolation(CLOSE_POLICY, f"unknown key {sorted(unknown)[0]!r}"[:120])
    if "rate" in msg:
        rate = msg["rate"]
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            raise PolicyViolation(CLOSE_POLICY, "rate: must be a number")
        try:
            session.set_rate(float(rate))
        except (ValueError, OverflowError, ZeroDivisionError) as e:
            raise PolicyViolation(CLOSE_POLICY, str(e)) from None


async def _receive(ws: WebSocket, app: Runtime, session: StreamSession, token: str,
                   via: str) -> None:
    """Control messages: {"rate": hz} changes the per-vehicle rate. Anything else closes the
    socket (module docstring)."""
    limit = app.settings.ws_max_message_bytes
    window_start, count = time.monotonic(), 0
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            now = time.monotonic()
            if now - window_start >= 1.0:
                window_start, count = now, 0
            count += 1
            if count > MAX_MESSAGES_PER_S:
                raise PolicyViolation(CLOSE_POLICY, "too many messages")
            text = msg.get("text")
            if text is None:
                raise PolicyViolation(CLOSE_POLICY, "binary frames are not accepted")
            if len(text) > limit or len(text.encode("utf-8", "surrogatepass")) > limit:
                raise PolicyViolation(CLOSE_TOO_BIG, f"message over {limit} bytes")
            why = await _still_valid(app, token, via, session)
            if why is not None:
                raise PolicyViolation(CLOSE_UNAUTHENTICATED, f"unauthenticated: {why}")
            _control(text, session)
    except PolicyViolation as e:
        log.info("closing a telemetry socket: %s (%s)", e.reason, e.code)
        await _close(ws, e.code, e.reason)
    except WebSocketDisconnect:
        return
