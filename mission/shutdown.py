"""Bounded shutdown steps of the runtime (mission/runtime/: the service and the link worker):
a stop must never hang on a drone in the air (a supervisor would kill the process mid-cleanup),
and a step that overruns is named in the log, a stuck task with where it is stuck."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger(__name__)


async def stop_tasks(tasks: list[asyncio.Task[Any]], timeout_s: float) -> None:
    """Cancel the lifespan's background tasks and wait for them; one that does not honour the
    cancellation in time is named in the log with where it is stuck (its coroutine's stack)."""
    for task in tasks:
        task.cancel()
    _, pending = await asyncio.wait(tasks, timeout=timeout_s) if tasks else (set(), set())
    for task in pending:
        where = " -> ".join(awaiting(task.get_coro()))
        log.warning("shutdown: task %r did not stop within %g s (at %s); going on without it",
                    task.get_name(), timeout_s, where or "?")
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("shutdown: task %r had failed: %r", task.get_name(), task.exception())


def awaiting(coro: Any) -> list[str]:
    """Where a suspended coroutine is, outermost first, following what each frame awaits
    (`Task.get_stack()` shows only the outermost frame of a coroutine)."""
    out: list[str] = []
    while coro is not None and len(out) < 20:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            out.append(f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return out


async def bounded(what: str, aw: Awaitable[Any], timeout_s: float) -> None:
    """Await a shutdown step for at most `timeout_s`; log (not raise) when it overruns or fails."""
    t0 = time.monotonic()
    try:
        async with asyncio.timeout(timeout_s):
            await aw
        if time.monotonic() - t0 > 1.0:
            log.info("shutdown: stopping %s took %.1f s", what, time.monotonic() - t0)
    except TimeoutError:
        log.warning("shutdown: %s did not stop within %g s; going on without it", what, timeout_s)
    except Exception:
        log.exception("shutdown: stopping %s failed", what)
