"""The service's child processes die with it, however it dies: a SIGKILLed service (or one that
leaves through `os._exit` past a stuck MAVSDK thread) runs no cleanup, and its planner worker was
left running, holding memory (seen: eight orphans after a benchmark)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

pytest.register_assert_rewrite("service_fixture")

from service_fixture import ServiceFactory, wait_until  # noqa: E402

pytest_plugins = ["service_fixture"]
pytestmark = [pytest.mark.timeout(90), pytest.mark.nopg]


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live processes whose parent is `pid`."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append((int(entry.name), cmdline))
    return out


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_the_planner_worker_does_not_outlive_a_killed_service(
    service_factory: ServiceFactory,
) -> None:
    svc = service_factory(env={"NAZORAT_PLANNER_WARM_UP": "1"})
    workers = wait_until(
        lambda: [p for p, cmd in _children(svc.pid) if "spawn_main" in cmd], 30,
        interval_s=0.2, what="the planner worker started (warmed up at startup)")
    os.kill(svc.pid, signal.SIGKILL)  # the service alone, not its process group
    wait_until(lambda: not any(_alive(p) for p in workers), 10, interval_s=0.2,
               what=f"planner worker(s) {workers} gone after the service was killed")
