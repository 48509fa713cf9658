"""Run the patrol planner in a separate process.

OR-Tools' search calls back into Python for every arc it evaluates, so in a thread it would hold
the GIL for the whole time limit and stall telemetry, WebSockets and commands on the event loop.
One spawned worker process (not forked: the service has MAVSDK's threads) keeps the service
responsive; it is started lazily and warmed up in the background so the first plan does not pay
for importing OR-Tools.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from mission.childproc import die_with_parent
from mission.planning.model import Plan, PlanRequest
from mission.planning.planner import plan_patrol

log = logging.getLogger(__name__)


def _warm_up() -> bool:
    import mission.planning.routing  # noqa: F401  (imports OR-Tools)

    return True


class PlannerPool:
    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                initializer=die_with_parent, initargs=(os.getpid(),),
            )
        return self._pool

    async def warm_up(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor(), _warm_up)
        except BrokenProcessPool:
            # The worker died while importing (a stop signalled the whole process group, or
            # it was killed): the next plan starts a new one.
            self._pool = None
            log.info("planner worker ended before it was warm; the next plan starts a new one")

    async def plan(self, request: PlanRequest) -> Plan:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor(), plan_patrol, request)
        except BrokenProcessPool:
            self._pool = None  # the worker died (e.g. killed): a new one next time
            return await loop.run_in_executor(self._executor(), plan_patrol, request)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
