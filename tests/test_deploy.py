"""docker-compose.yml and the files it mounts stay true to the code: every NAZORAT_ variable it
sets is one the service reads, the SITL defaults files are what the real-SITL launcher would
write, the link worker and the replicas use commands the CLI has, and `docker compose config`
accepts the file where Docker's compose plugin exists (not on the development machines: the
test says so and checks the rest)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mission.cli import _parser as build_parser
from mission.settings import Settings
from sitl.ardupilot import BASE_DEFAULTS, identity_defaults

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
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


def test_every_nazorat_variable_is_read_by_the_service() -> None:
    known = {f"NAZORAT_{name.upper()}" for name in Settings.__dataclass_fields__}
    for name, svc in compose()["services"].items():
        for var in (svc.get("environment") or {}):
            if var.startswith("NAZORAT_"):
                assert var in known, f"{name}: {var} is not a setting (mission/settings.py)"


def test_commands_exist_in_the_cli() -> None:
    parser = build_parser()
    for name in ("nazorat-a", "nazorat-b", "link-worker"):
        argv = compose()["services"][name]["command"]
        assert argv[0] == "nazorat"
        parser.parse_args(argv[1:])  # SystemExit on an unknown command or option


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


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client on this machine")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("docker has no compose plugin here (`docker compose version` fails)")
    r = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"], capture_output=True,
        text=True, cwd=ROOT, env={"NAZORAT_ADMIN_PASSWORD": "x" * 16, "REDIS_PASSWORD": "r" * 16,
             "NAZORAT_BUS_SECRET": "s" * 32, "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 0, r.stderr
