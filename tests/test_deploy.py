"""docker-compose.yml, the two-host files (deploy/two-hosts/) and the files they mount stay true
to the code: every NAZORAT_ variable they set is one the service reads, the SITL defaults files
are what the real-SITL launcher would write, the link workers and the replicas use commands the
CLI has, and `docker compose config` accepts every file where Docker's compose plugin exists
(not on the development machines: the skip says why, with docker's own words, and the rest is
checked)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mission.cli import _parser as build_parser
from mission.fleet.models import Drone
from mission.fleet.reach import LinkReach
from mission.settings import Settings
from sitl.ardupilot import BASE_DEFAULTS, identity_defaults

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
TWO_HOSTS = [ROOT / "deploy" / "two-hosts" / "host-a.yml",
             ROOT / "deploy" / "two-hosts" / "host-b.yml"]
ALL_FILES = [COMPOSE, *TWO_HOSTS]
SECRETS = {"NAZORAT_ADMIN_PASSWORD": "x" * 16, "REDIS_PASSWORD": "r" * 16,
           "NAZORAT_BUS_SECRET": "s" * 32, "POSTGRES_PASSWORD": "p" * 16,
           "NAZORAT_PRIVATE_IP": "10.20.0.1", "NAZORAT_DB_HOST": "10.20.0.1"}


def compose(path: Path = COMPOSE) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def test_services_and_their_wiring() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "link-worker", "nazorat-a", "nazorat-b",
            "sitl-1", "sitl-2", "sitl-3"} <= set(services)
    replicas = [services["nazorat-a"], services["nazorat-b"]]
    assert {r["ports"][0] for r in replicas} == {"8000:8000", "8001:8000"}
    for svc in [*replicas, services["link-worker"]]:
        env = svc["environment"]
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["NAZORAT_BUS_URL"].startswith("redis://redis:")
        assert env["NAZORAT_LINK_MODE"] == "workers"
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy"
    worker = services["link-worker"]["command"]
    urls = worker[worker.index("--drones") + 1].split(",")
    assert urls == [f"tcpout://sitl-{i}:5760" for i in (1, 2, 3)]
    reach = LinkReach.parse((services["link-worker"]["environment"]["NAZORAT_LINK_REACH"],))
    assert all(reach.covers(Drone(url=u, shard="elsewhere")) for u in urls)


def test_bus_accepts_commands_from_anyone_who_can_reach_redis_compose() -> None:
    """Issue 10 (bus): Redis asks for a password, every Nazorat process has it and the bus
    secret, both from the environment (no default that would be the same everywhere)."""
    services = compose()["services"]
    redis_cmd = services["redis"]["command"]
    assert redis_cmd[redis_cmd.index("--requirepass") + 1].startswith("${REDIS_PASSWORD:?")
    assert "ports" not in services["redis"]
    for name in ("nazorat-a", "nazorat-b", "link-worker"):
        env = services[name]["environment"]
        assert env["NAZORAT_BUS_PASSWORD"].startswith("${REDIS_PASSWORD:?"), name
        assert env["NAZORAT_BUS_SECRET"].startswith("${NAZORAT_BUS_SECRET:?"), name


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_every_nazorat_variable_is_read_by_the_service(path: Path) -> None:
    known = {f"NAZORAT_{name.upper()}" for name in Settings.__dataclass_fields__}
    for name, svc in compose(path)["services"].items():
        for var in (svc.get("environment") or {}):
            if var.startswith("NAZORAT_"):
                assert var in known, f"{name}: {var} is not a setting (mission/settings.py)"


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_commands_exist_in_the_cli(path: Path) -> None:
    parser = build_parser()
    for name, svc in compose(path)["services"].items():
        argv = svc.get("command") or []
        if argv and argv[0] == "nazorat":
            parser.parse_args(argv[1:])  # SystemExit on an unknown command or option
        elif svc.get("image") == "nazorat:local":
            raise AssertionError(f"{name}: a Nazorat service without a nazorat command")


def test_two_hosts_one_database_one_bus_a_worker_and_a_replica_each() -> None:
    """deploy/two-hosts: host A has PostgreSQL and Redis on its private address (no public
    port), each host a replica and a link worker of its own shard on the host's network (UDP
    MAVLink and video arrive on the host's ports), all on one database and one bus."""
    a, b = (compose(p)["services"] for p in TWO_HOSTS)
    assert {"postgres", "redis"} <= set(a) and not {"postgres", "redis"} & set(b)
    for port in ("5432", "6379"):
        svc = a["postgres" if port == "5432" else "redis"]
        assert svc["ports"] == [f"${{NAZORAT_PRIVATE_IP:?set NAZORAT_PRIVATE_IP}}:{port}:{port}"]
    redis_cmd = a["redis"]["command"]
    assert redis_cmd[redis_cmd.index("--requirepass") + 1].startswith("${REDIS_PASSWORD:?")
    for host, services, shard in (("A", a, "host-a"), ("B", b, "host-b")):
        worker, replica = services["link-worker"], services["nazorat"]
        assert worker["network_mode"] == "host", host
        argv = worker["command"]
        assert argv[argv.index("--shard") + 1] == shard, host
        for svc in (worker, replica):
            env = svc["environment"]
            assert env["NAZORAT_LINK_MODE"] == "workers" and env["NAZORAT_SHARD"] == shard
            assert env["DATABASE_URL"].startswith("postgresql+psycopg://nazorat:${POSTGRES_")
            assert env["NAZORAT_BUS_SECRET"].startswith("${NAZORAT_BUS_SECRET:?")
            assert env["NAZORAT_BUS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
        assert replica["ports"] == ["8000:8000"]
        # issue 13: each worker takes over the other host's drones it can reach (its tcpout://
        # ones); the replicas link nothing, so they take nothing over
        reach = LinkReach.parse((worker["environment"]["NAZORAT_LINK_REACH"],))
        assert reach.covers(Drone(url="tcpout://10.20.0.9:5760", shard="host-x")), host
        assert not reach.covers(Drone(url="udpin://0.0.0.0:14550", shard="host-x")), host
        assert "NAZORAT_LINK_REACH" not in replica["environment"], host


def test_sitl_containers_get_their_own_identity_from_the_launchers_defaults() -> None:
    services = compose()["services"]
    for i in (1, 2, 3):
        svc = services[f"sitl-{i}"]
        assert "build" not in svc and svc["image"]  # a public image, nothing of ArduPilot here
        cmd = svc["command"]
        (mount,) = svc["volumes"]
        host, inside, _ = mount.split(":")
        assert cmd[cmd.index("--defaults") + 1] == inside
        text = (ROOT / host).read_text()
        body = "".join(line + "\n" for line in text.splitlines() if not line.startswith(
            "# Nazorat docker-compose") and not line.startswith("# Generated from"))
        assert body == BASE_DEFAULTS + identity_defaults(i), f"{host} is out of date"
        assert re.search(rf"^SYSID_THISMAV {i}$", text, re.M)


def _compose_reason() -> str | None:
    """None when `docker compose` (the plugin; it needs no engine for `config`) runs here,
    else why not in docker's own words."""
    docker = shutil.which("docker")
    if docker is None:
        return "no docker client on this machine: `docker compose config` not run"
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True,
                           timeout=30)
    if probe.returncode != 0:
        said = (probe.stderr or probe.stdout).strip().splitlines()
        return ("docker has no compose plugin here (`docker compose version`: "
                f"{said[0] if said else f'exit {probe.returncode}'}): "
                "`docker compose config` not run")
    return None


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_docker_compose_config_accepts_the_file(path: Path) -> None:
    reason = _compose_reason()
    if reason is not None:
        pytest.skip(reason)
    # the caller's environment (HOME and DOCKER_CONFIG find a plugin installed per user), the
    # variables the files require, and no .env of the developer's
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NAZORAT_", "POSTGRES_", "REDIS_", "COMPOSE_"))}
    r = subprocess.run(
        ["docker", "compose", "-f", str(path), "--env-file", os.devnull, "config", "--quiet"],
        capture_output=True, text=True, cwd=path.parent, env={**env, **SECRETS}, timeout=60,
    )
    assert r.returncode == 0, r.stderr
