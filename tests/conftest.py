"""Shared fixtures: simulated (and, when a binary is found, real ArduPilot SITL) fleets, and
the database the store tests use (`database_url`: a temporary SQLite file, or a fresh PostgreSQL
database in the PostgreSQL lane, NAZORAT_TEST_DATABASE=postgresql; see tests/pg_database.py)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import mission.audit.models  # noqa: F401  (the tables `db` creates)
import mission.incidents.models  # noqa: F401
import mission.missions.models  # noqa: F401
import mission.zones.models  # noqa: F401
import pg_database
from mission.auth.passwords import FAST_HASHING_ENV
from mission.db import Database
from sitl.ardupilot import find_arducopter
from sitl_fleet import NO_BINARY_REASON, FleetFactory, fleet_factory

# argon2id at 1 pass over 1 MiB (mission/auth/passwords.py): read at each process's first hash,
# so it holds here and in every service process a test starts (they inherit the environment).
os.environ[FAST_HASHING_ENV] = "1"


@pytest.fixture(params=["sim", pytest.param("ardupilot", marks=pytest.mark.ardupilot)])
def engine(request: pytest.FixtureRequest) -> str:
    """``sim`` always; ``ardupilot`` only when an arducopter binary is found, else skipped."""
    name: str = request.param
    if name == "ardupilot" and find_arducopter() is None:
        pytest.skip(NO_BINARY_REASON)
    return name


@pytest.fixture
def sitl_fleet(engine: str) -> Iterator[FleetFactory]:
    """``sitl_fleet(count=3, speedup=5.0, ekf_delay=2.0) -> SitlFleet``, on every engine."""
    with fleet_factory(engine) as start:
        yield start


@pytest.fixture
def sim_fleet() -> Iterator[FleetFactory]:
    """Like ``sitl_fleet`` but on our simulator only (fault injection through ``control``)."""
    with fleet_factory("sim") as start:
        yield start


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database for one test: SQLite by default, PostgreSQL in the PostgreSQL lane
    (created for the test, dropped after it)."""
    if not pg_database.enabled():
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    with pg_database.database() as url:
        yield url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """`database_url`'s database, started (schema created) and stopped after the test."""
    database = Database(database_url)
    await database.start()
    yield database
    await database.stop()


@pytest.fixture
def prefix() -> Iterator[str]:
    """A bus key prefix of this test's own on the local Redis (skipped without one), its keys
    deleted afterwards."""
    import redis

    from test_bus import REDIS_URL, _redis_reason

    reason = _redis_reason()
    if reason:
        pytest.skip(reason)
    p = f"nazorat-test-{secrets.token_hex(4)}"
    yield p
    r = redis.Redis.from_url(REDIS_URL)
    keys = list(r.scan_iter(match=f"{p}:*", count=500))
    if keys:
        r.delete(*keys)
    r.close()


# The longest test files (by `--durations` of `make test`), started first: pytest-xdist's
# loadfile hands each free worker the next file in collection order, so with the long ones at the
# front the suite ends on short files instead of one worker finishing a long file alone.
LONG_FIRST = (
    "test_openapi_campaign.py", "test_trace_fidelity.py", "test_missions_e2e.py",
    "test_sim_behaviour.py", "test_chaos.py", "test_bad_input.py", "test_console.py",
    "test_console_traffic.py", "test_sim_patrol_trace.py", "test_bus.py", "test_ws_telemetry.py",
    "test_conformance_pymavlink.py", "test_missions_import_transit.py", "test_console_pushed.py",
    "test_console_missions.py", "test_console_map_aids.py", "test_auth.py", "test_intake.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files stay whole
