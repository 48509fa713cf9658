"""`nazorat` console script.

- `nazorat serve [--host H] [--port P] [--sim N]`: the HTTP/WebSocket service. With `--sim N`
  it also runs a simulated fleet of N ArduCopters (`python -m sitl`, owned by the service's runtime
  so it stops with the service on any shutdown), registers its drones and prints the console
  URL. The simulated run uses its own SQLite file (data/sim.db, recreated each time): the
  simulator's ports change between runs and stale drones would claim the same ids. Unless
  NAZORAT_ADMIN_PASSWORD is set, a simulated run makes an `admin` with a random password and
  prints it once to the terminal (not to the log; when stdout is not a terminal, it goes to
  data/initial-admin-password, readable by the owner only).
- Logs: NAZORAT_LOG_FORMAT (json, text, or auto: text on a terminal, json otherwise;
  mission/observability/logs.py). In json, uvicorn's error and access lines use the same
  formatter. The announcements above are plain lines on standard output, the log is on
  standard error.
- `nazorat link-worker [--shard NAME] [--drones URL,...]`: the vehicle link for one shard of the
  fleet in its own process, on the bus (NAZORAT_BUS_URL; mission/linkworker.py).
- `nazorat create-admin USERNAME [--reset]`: the first admin (or, with --reset, a new password
  for an existing user, who becomes an active admin). The password comes from
  NAZORAT_ADMIN_PASSWORD, else a prompt (twice), else one line of standard input.
- `nazorat tiles info|import FILE|seed ...`: base-map archives (mission/tiles/commands.py;
  README "Base maps").
- `nazorat evidence verify BUNDLE`: check a recording bundle offline (every file's SHA-256,
  the hash chain, the manifest; mission/evidence/verify.py): exit 0 with a summary, else 1
  naming the first bad file or link. Reads no settings and no database.
- `nazorat db upgrade`: bring the database (DATABASE_URL, else data/nazorat.db) to the newest
  schema revision; `serve` does the same at every start. `nazorat db current`: the database's
  revision and the newest one this version knows.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

from mission.observability import logs
from mission.settings import Settings, load_settings
from mission.tiles import commands as tiles_commands

# Each command imports what it needs when it runs: the web stack (FastAPI, uvicorn, the app),
# the ORM and Alembic, and argon2 (whose module hashes a dummy password at import) cost most of a
# second at every start, which `tiles info` or `db current` have no use for.

SECRET_VARIABLES = ("NAZORAT_ADMIN_PASSWORD", "NAZORAT_TELEGRAM_SECRET", "NAZORAT_METRICS_TOKEN")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nazorat", description="Nazorat mission control")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the HTTP/WebSocket service")
    s.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=None, help="listen port (default 8000)")
    s.add_argument("--sim", type=int, default=None, metavar="N",
                   help="also run N simulated drones and register them")
    s.add_argument("--sim-speedup", type=float, default=None)
    s.add_argument("--sim-ekf-delay", type=float, default=None,
                   help="vehicle seconds until the simulated EKF has a position (default 40)")
    s.add_argument("--sim-adsb-count", type=int, default=None, metavar="N",
                   help="simulated aircraft around the simulated fleet (SIM_ADSB_COUNT)")
    s.add_argument("--sim-camera", action="store_true", default=None,
                   help="give every simulated copter a camera streaming H.264 (live video)")
    s.add_argument("--sim-remote-id-count", type=int, default=None, metavar="N",
                   help="simulated Remote ID broadcasters around the simulated fleet")
    s.add_argument("--sim-spacing", type=float, default=None, metavar="METRES",
                   help="metres east between the simulated drones' homes (default 5)")
    s.add_argument("--sim-base-port", type=int, default=None,
                   help="first TCP port of the simulated fleet (default 5760 when free)")
    s.add_argument("--log-level", default="info")
    w = sub.add_parser("link-worker", help="link a shard of the fleet and serve it over the bus")
    w.add_argument("--shard", default=None,
                   help="link the stored drones of this shard (default NAZORAT_SHARD, '')")
    w.add_argument("--drones", default="", metavar="URL,...",
                   help="also register (with this shard) and link these drones")
    w.add_argument("--log-level", default="info")
    a = sub.add_parser("create-admin", help="create the first admin (or reset a password)")
    a.add_argument("username")
    a.add_argument("--reset", action="store_true",
                   help="the user exists: set a new password and make them an active admin")
    tiles_commands.add_parser(sub)
    e = sub.add_parser("evidence", help="evidence recordings: verify a bundle offline")
    es = e.add_subparsers(dest="evidence_command", required=True)
    v = es.add_parser("verify", help="check a bundle's files, hashes and chain (exit 0: good)")
    v.add_argument("bundle", type=Path, help="the .zip from GET /api/recordings/{id}/bundle")
    d = sub.add_parser("db", help="database schema migrations (Alembic)")
    d.add_argument("action", choices=["upgrade", "current"],
                   help="upgrade: to the newest revision; current: show the revision")
    return p


def db_command(args: argparse.Namespace, settings: Settings) -> int:
    """`nazorat db upgrade|current`. The URL is never printed (it may hold a password)."""
    from mission import migrations
    from mission.db import make_engine

    engine = make_engine(settings.effective_database_url)
    try:
        head = migrations.head()
        if args.action == "upgrade":
            before, after = migrations.upgrade(engine)
            if before == after:
                print(f"nazorat: database already at revision {after} (head)")
            else:
                print(f"nazorat: database upgraded from {before or 'empty'} to {after}")
            return 0
        current = migrations.current(engine)
        if current is None:
            print(f"nazorat: database not migrated yet (head is {head}; `nazorat db upgrade`, "
                  "or start the service)")
            return 1
        print(f"nazorat: database at revision {current}"
              + (" (head)" if current == head else f" (head is {head}: `nazorat db upgrade`)"))
        return 0 if current == head else 1
    except Exception as e:  # noqa: BLE001 - one line for the operator, not a traceback
        print(f"nazorat: database: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
              file=sys.stderr)
        return 1
    finally:
        engine.dispose()


def _read_password() -> str:
    env = os.environ.get("NAZORAT_ADMIN_PASSWORD")
    if env:
        return env
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ValueError("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def _create_admin(settings: Settings, username: str, password: str, reset: bool) -> str:
    from mission.auth.models import Role, UserCreate
    from mission.auth.service import AuthService
    from mission.db import Database

    db = Database(settings.effective_database_url)
    await db.start()
    try:
        auth = AuthService(db)
        if reset:
            if await auth.set_password(username, password, actor="cli"):
                await _announce_revocation(settings)
                return f"nazorat: new password set for {username!r} (admin; sessions ended)"
            raise ValueError(f"no user {username!r}")
        if username.lower() in {u.username.lower() for u in await auth.list_users()}:
            raise ValueError(f"user {username!r} exists (use --reset to set a new password)")
        await auth.create_user(UserCreate(username=username, password=password,
                                          role=Role.ADMIN), actor="cli")
        return f"nazorat: admin {username!r} created"
    finally:
        await db.stop()


async def _announce_revocation(settings: Settings) -> None:
    """With a bus, tell the running replicas that sessions ended, so that they stop accepting
    them within a second (mission/auth/revocation.py) rather than when their cache expires."""
    if not settings.bus_url:
        return
    from mission.auth.revocation import RevocationChannel
    from mission.runtime.links import bus_node

    bus = bus_node(settings)
    try:
        await bus.start()
        if not await RevocationChannel(bus, lambda: None).send():
            raise OSError("publish failed")
    except Exception as e:  # noqa: BLE001 - the reset itself is done and stored
        print(f"nazorat: the running replicas were not told ({e}); they refuse the ended "
              "sessions within 5 s", file=sys.stderr)
    finally:
        await bus.close()


def create_admin(args: argparse.Namespace, settings: Settings) -> int:
    from mission.auth.models import MIN_PASSWORD, USERNAME_PATTERN

    if not re.match(USERNAME_PATTERN, args.username):
        print("nazorat: a user name is letters, digits and . _ @ - (at most 64)",
              file=sys.stderr)
        return 2
    try:
        password = _read_password()
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")
        print(asyncio.run(_create_admin(settings, args.username, password, args.reset)))
    except (ValueError, KeyboardInterrupt, EOFError) as e:
        print(f"nazorat: {e or 'cancelled'}", file=sys.stderr)
        return 1
    return 0


def _announce_login(base: str, settings: Settings, user: str, password: str) -> None:
    """Tell the person at the terminal how to log in; the secret never reaches a log."""
    from mission.owneronly import private_dir

    body = json.dumps({"username": user, "password": password})
    text = (f"nazorat: log in at {base}/login.html as {user!r} with password {password}\n"
            f"nazorat:   (generated for this simulated run and shown only here; set "
            f"NAZORAT_ADMIN_PASSWORD to choose it)\n"
            f"nazorat: API: curl -s -X POST {base}/api/auth/login -H 'content-type: "
            f"application/json' -d '{body}'  then send 'Authorization: Bearer <token>'")
    if sys.stdout.isatty():
        print(text, flush=True)
        return
    path = Path(settings.data_dir) / "initial-admin-password"
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    print(f"nazorat: log in at {base}/login.html as {user!r}; the generated password is in "
          f"{path} (owner-readable only)", flush=True)


def serve(args: argparse.Namespace, settings: Settings,
          log_config: dict[str, Any] | None) -> int:
    """Run the service; `log_config` goes to uvicorn as is (None: uvicorn's loggers propagate
    to the root handler that `logs.configure` set up)."""
    import uvicorn

    from mission.auth.passwords import generate_password

    overrides: dict[str, object] = {}
    for name in ("host", "port"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.sim is not None:
        overrides["sim_count"] = args.sim
    if args.sim_speedup is not None:
        overrides["sim_speedup"] = args.sim_speedup
    if args.sim_ekf_delay is not None:
        overrides["sim_ekf_delay"] = args.sim_ekf_delay
    if args.sim_adsb_count is not None:
        overrides["sim_adsb_count"] = args.sim_adsb_count
    if args.sim_camera:
        overrides["sim_camera"] = True
    if args.sim_remote_id_count is not None:
        overrides["sim_remote_id_count"] = args.sim_remote_id_count
    if args.sim_base_port is not None:
        overrides["sim_base_port"] = args.sim_base_port
    if args.sim_spacing is not None:
        overrides["sim_spacing_m"] = args.sim_spacing
    settings = settings.with_overrides(**overrides)
    base = f"http://{settings.host}:{settings.port}"
    generated = ""
    if settings.sim_count > 0 and not settings.database_url:
        db_file = Path(settings.data_dir) / "sim.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
        settings = settings.with_overrides(database_url=f"sqlite:///{db_file.as_posix()}")
        if not settings.admin_password:  # a fresh database: nobody could log in otherwise
            generated = generate_password()
            settings = settings.with_overrides(admin_password=generated)
    print(f"nazorat: console at {base}/  (API docs {base}/docs, live "
          f"ws://{settings.host}:{settings.port}/ws/telemetry)", flush=True)
    if settings.sim_count:
        print(f"nazorat: with a simulated fleet of {settings.sim_count} drones", flush=True)
    if generated:
        _announce_login(base, settings, settings.admin_user, generated)
    elif settings.admin_password:
        print(f"nazorat: log in at {base}/login.html (first admin {settings.admin_user!r} from "
              f"NAZORAT_ADMIN_PASSWORD when no user exists yet)", flush=True)
    else:
        print(f"nazorat: log in at {base}/login.html (no user yet? `nazorat create-admin "
              f"NAME`)", flush=True)
    from mission.app import create_app  # the whole service: not needed by `db`, `create-admin`

    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port,
        log_level=args.log_level.lower(), log_config=log_config, ws_per_message_deflate=False,
        ws_max_size=max(65_536, settings.ws_max_message_bytes),
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
    )
    return exit_past_stuck_threads(0)


def link_worker(args: argparse.Namespace, settings: Settings) -> int:
    from mission.linkworker import run_worker

    if not settings.bus_url:
        print("nazorat: link-worker needs NAZORAT_BUS_URL (e.g. redis://127.0.0.1:6379/0)",
              file=sys.stderr)
        return 2
    shard = settings.shard if args.shard is None else args.shard
    drones = tuple(u.strip() for u in args.drones.split(",") if u.strip())
    asyncio.run(run_worker(settings.with_overrides(shard=shard), shard, drones))
    return exit_past_stuck_threads(0)


def exit_past_stuck_threads(code: int, grace_s: float = 2.0) -> int:
    """After the service has stopped: a MAVSDK request that never returns keeps a link executor
    thread alive, and Python joins such threads at exit, so the process would hang with
    everything already closed. Give them `grace_s`, then leave without them."""
    main_thread = threading.main_thread()
    deadline = time.monotonic() + grace_s
    for t in threading.enumerate():
        if t is not main_thread and not t.daemon:
            t.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threading.enumerate()
             if t is not main_thread and not t.daemon and t.is_alive()]
    if not stuck:
        return code
    logging.getLogger(__name__).warning(
        "exiting with %d thread(s) still inside blocking calls: %s", len(stuck), ", ".join(stuck))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def evidence_command(args: argparse.Namespace) -> int:
    """`nazorat evidence verify BUNDLE`: offline, so it needs no settings."""
    from mission.evidence.verify import verify_bundle

    verdict = verify_bundle(args.bundle)
    if verdict.ok:
        print(f"nazorat: {args.bundle}: {verdict.message}")
        return 0
    print(f"nazorat: {args.bundle}: FAILED: {verdict.message}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "evidence":
        return evidence_command(args)
    level = getattr(args, "log_level", "info")
    try:
        settings = load_settings()
    except ValueError as e:
        logging.basicConfig(level=level.upper(), format=logs.TEXT_FORMAT)
        print(f"nazorat: {e}", file=sys.stderr)
        return 2
    log_config = logs.configure(logs.resolve_format(settings.log_format), level)
    if args.command == "create-admin":
        return create_admin(args, settings)
    if args.command == "link-worker":
        return link_worker(args, settings)
    if args.command == "db":
        return db_command(args, settings)
    if args.command == "tiles":
        return tiles_commands.run(args, settings)
    for name in SECRET_VARIABLES:  # read once; not passed on to anything this process starts
        os.environ.pop(name, None)
    return serve(args, settings, log_config)


if __name__ == "__main__":
    sys.exit(main())
