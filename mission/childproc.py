"""Child processes the service starts (the simulated fleet, the planner worker) must not outlive
it: a service killed with SIGKILL, or leaving through `os._exit` past a stuck MAVSDK thread, runs
no cleanup, and an orphaned planner or simulator would hold memory and ports until someone
notices (seen: eight planner workers left behind by a benchmark)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None = None) -> None:
    """Run in the child: the kernel sends it SIGTERM when its parent dies (Linux only; elsewhere
    the parent's own shutdown is all there is). A child set up after its parent already died
    (a planner worker still importing when the service was killed) would never get that signal:
    given the parent's pid, it leaves at once instead."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(0)
