"""Start `nazorat serve` processes for the tests by forking one that has already imported it.

Importing the service costs about 2 s of CPU (FastAPI, SQLAlchemy, the ORM models, aiortc, ...)
and the suite starts it about sixty times on two cores: two minutes of CPU spent on the same
imports. Like Android's zygote (or multiprocessing's forkserver), this program imports the service
once, then forks a child per request. The child becomes what `python -m mission.cli serve ...`
would have been: its own session (process group), the log file as stdout and stderr, /dev/null as
stdin, the environment, working directory and argv it was given, `mission.cli` as `__main__` (so
the planner's spawned worker imports what it would have), and the same `sys.exit(main())`, so the
interpreter ends it as usual. The service's code runs unchanged; only the import is shared.

Protocol, one JSON line each way on stdin/stdout, from one client (tests/service_fixture.py):
- `{"op": "spawn", "argv": [...], "env": {...}, "cwd": "...", "log": "..."}` → `{"pid": N}`;
- `{"op": "reap", "pid": N}` → `{"returncode": R}` (Popen's convention: -signal when killed).
  Children are not reaped until asked, so a pid stays valid (a zombie) until its client knows
  how it ended. End of stdin: the zygote exits (its client is gone); running children go on.

`python tests/service_zygote.py` from the repository root; `{"ready": true}` is its first line.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from typing import Any

# Run as a script from tests/: resolve imports as `python -m` from the repository root would.
sys.path[0] = os.getcwd()

import uvicorn  # noqa: E402, F401

import mission.app  # noqa: E402, F401  - the service, as `serve` imports it
import mission.cli  # noqa: E402


def _reply(out: int, message: dict[str, Any]) -> None:
    os.write(out, (json.dumps(message) + "\n").encode())


def _serve_requests() -> dict[str, Any] | None:
    """Answer requests until stdin ends (None); in a forked child, its spawn request."""
    out = os.dup(1)
    requests = os.fdopen(os.dup(0), "r")
    if threading.active_count() != 1:  # fork() copies only this thread: refuse, never half-work
        _reply(out, {"ready": False, "error": f"{threading.active_count()} threads at import"})
        return None
    _reply(out, {"ready": True})
    for line in requests:
        request = json.loads(line)
        try:
            if request["op"] == "reap":
                _, status = os.waitpid(request["pid"], 0)
                _reply(out, {"returncode": os.waitstatus_to_exitcode(status)})
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                requests.close()
                os.close(out)
                return dict(request)
            _reply(out, {"pid": pid})
        except Exception:  # noqa: BLE001 - reported to the client, which fails the test
            _reply(out, {"error": traceback.format_exc()})
    return None


def _become(request: dict[str, Any]) -> None:
    """Turn this fresh fork into the process Popen(argv, start_new_session=True) would start."""
    os.setsid()
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.closerange(3, 1024)  # as Popen's close_fds: nothing of the zygote's leaks in
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = [mission.cli.__file__, *request["argv"]]
    sys.modules["__main__"] = mission.cli


def main() -> int:
    request = _serve_requests()
    if request is None:
        return 0
    _become(request)
    return mission.cli.main(request["argv"])


if __name__ == "__main__":
    sys.exit(main())
