"""The bad-input campaign over HTTP (the WebSocket and MAVLink halves: test_bad_input.py): what a
hostile or broken client sends must never take the service down or make it answer outside its
own contract.

schemathesis over the whole OpenAPI schema of the service, signed in (an admin; a fresh
integration key for the intake route, the webhook's secret for Telegram): zero 5xx, every
status, content type, header and body as the schema documents. Its own file so that the
suite's workers run it beside the rest (it is the longest test: Hypothesis generating cases).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis import checks as st_checks
from schemathesis.core.parameters import ParameterLocation
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi import checks as oa_checks

pytest.register_assert_rewrite("service_fixture")


from asgi_service import AsgiService, asgi_service  # noqa: E402
from service_fixture import TEST_ENV  # noqa: E402
from tile_archives import png_tile, write_mbtiles  # noqa: E402

pytest_plugins = ["service_fixture"]

TELEGRAM_SECRET = "campaign-" + secrets.token_hex(8)
# per operation and generation mode: the whole campaign stays under a minute. Deterministic in
# the suite; CAMPAIGN_EXAMPLES=200 CAMPAIGN_RANDOM=1 for a longer, different search by hand.
EXAMPLES = int(os.environ.get("CAMPAIGN_EXAMPLES", "15"))
RANDOM = os.environ.get("CAMPAIGN_RANDOM") == "1"
# each of these costs an argon2 hash or two (about 0.1 s of CPU on purpose)
FEWER = {("POST", "/api/auth/logout"): 3, ("POST", "/api/auth/login"): 8,
         ("POST", "/api/auth/password"): 8, ("POST", "/api/users"): 8,
         ("PATCH", "/api/users/{user_id}"): 8}
# Not fuzzed: adding a drone makes the service open a MAVLink connection to whatever URL it is
# given, and a generated URL must never send traffic off this machine (tested by hand in
# test_service_api.py).
NOT_FUZZED = {("POST", "/api/drones")}
def negative_data_rejection(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schemathesis' check, with 413 counted as the rejection it is: an invalid body that is
    also over the body limit (16 KiB on the intake) is refused before it is read, and
    schemathesis lists no 413 among the statuses that reject (seen with the default seed)."""
    if response.status_code == 413:
        return None
    result: bool | None = oa_checks.negative_data_rejection(ctx, response, case)
    return result


@schemathesis.serializer("application/sdp")
def sdp_body(_ctx: Any, value: Any) -> bytes:
    """A WHEP offer (mission/video/routes.py) is SDP text: the generated string as is."""
    return value.encode() if isinstance(value, str) else str(value).encode()


CHECKS = [
    st_checks.not_a_server_error,
    oa_checks.status_code_conformance,
    oa_checks.content_type_conformance,
    oa_checks.response_headers_conformance,
    oa_checks.response_schema_conformance,
    negative_data_rejection,
    oa_checks.ignored_auth,
]


@pytest.fixture(scope="module")
def campaign(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[AsgiService]:
    """The service as `nazorat serve` runs it, in this process (tests/asgi_service.py)."""
    data_dir = tmp_path_factory.mktemp("campaign-service")
    env = {**TEST_ENV, "NAZORAT_DATA_DIR": str(data_dir),
           "NAZORAT_TELEGRAM_SECRET": TELEGRAM_SECRET, "NAZORAT_COMMAND_TIMEOUT_S": "5",
           "NAZORAT_UI_DIR": str(data_dir / "no-ui")}
    (data_dir / "tiles").mkdir()  # an installed base map: /tiles/base/... answers tiles too
    write_mbtiles(data_dir / "tiles" / "base.mbtiles",
                  {(0, 0, 0): png_tile((9, 9, 9), 8), (1, 1, 1): png_tile((9, 9, 9), 8)})
    failed_before = request.session.testsfailed
    with asgi_service(env) as service:
        yield service
    if request.session.testsfailed > failed_before:
        print(f"--- service log ---\n{service.log_text()[-20000:]}")


def _headers(svc: AsgiService, method: str, path: str) -> dict[str, str]:
    if path == "/api/intake/incidents":  # a fresh key each time: its own rate budget
        return {"Authorization": f"Bearer {svc.integration_key(rate_per_minute=6000)}"}
    if path == "/api/intake/telegram":
        return {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    if path == "/api/auth/logout":  # a throwaway user: the campaign's own session stays
        return svc.auth_headers("commander", f"lo-{secrets.token_hex(4)}")
    return svc.auth_headers()


def _array_parameters(schema: Any, op: Any) -> set[str]:
    params = schema.raw_schema["paths"][op.path][op.method.lower()].get("parameters", [])
    return {p["name"] for p in params if p.get("in") == "query" and "array" in json.dumps(p)}


def _negatable(schema: Any, op: Any) -> bool:
    """Whether the operation has anything to make invalid that `_invalid_part_is_sent` lets
    through: a path, query or cookie parameter, or a body. Without one, the only invalid part
    is the credentials (replaced by real ones), so every negative case would be generated only
    to be discarded: a few hundred draws and about two seconds per such operation before
    Hypothesis gives up (Unsatisfiable), with nothing sent."""
    item = schema.raw_schema["paths"][op.path]
    definition = item[op.method.lower()]
    params = [*item.get("parameters", []), *definition.get("parameters", [])]
    return "requestBody" in definition or any(p.get("in") != "header" for p in params)


def _invalid_part_is_sent(case: Any, arrays: set[str]) -> bool:
    """Whether a negative case still carries its invalid part once sent, so that accepting it
    would be a fault. Not so when the invalid part is the credentials header (the campaign sends
    real ones), or a list or mapping given to a scalar query parameter: requests leaves out an
    empty one and sends the items of another as repeated parameters, of which the server reads
    the last, often valid. Schemathesis reported such cases as ST201 in about one
    full run in three, depending on what it generated."""
    negative = {loc for loc, c in case.meta.components.items() if c.mode.is_negative}
    if any(v is None or (isinstance(v, list | dict) and k not in arrays)
           for k, v in (case.query or {}).items()):
        return False
    return bool(negative - {ParameterLocation.HEADER})


def _run_operation(svc: AsgiService, op: Any, mode: GenerationMode,
                   session: requests.Session, arrays: set[str]) -> None:
    method, path = op.method.upper(), op.path

    @settings(max_examples=FEWER.get((method, path), EXAMPLES), deadline=None,
              derandomize=not RANDOM, database=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])
    @given(op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        if mode == GenerationMode.NEGATIVE:
            assume(_invalid_part_is_sent(case, arrays))
        headers = {**(case.headers or {}), **_headers(svc, method, path)}
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=30, session=session)

    run()


@pytest.mark.timeout(300 if EXAMPLES <= 15 else 3600)
def test_openapi_campaign(campaign: AsgiService) -> None:
    """Every operation of the schema, valid and invalid inputs: no 5xx, no answer outside the
    documented statuses, content types, headers and body schemas, no invalid input accepted,
    no secured operation answering without credentials."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", campaign.app)
    failures: list[str] = []
    ran = 0
    session = ASGIClient(campaign.app)  # its own cookie jar, as the requests.Session it replaces
    for result in schema.get_all_operations():
        op = result.ok()  # type: ignore[union-attr]  # Err has no ok(); the schema is ours
        if (op.method.upper(), op.path) in NOT_FUZZED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            ran += 1
            if mode == GenerationMode.NEGATIVE and not _negatable(schema, op):
                continue  # nothing to make invalid that would be sent
            try:
                _run_operation(campaign, op, mode, session, _array_parameters(schema, op))
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                continue
            except (Exception, BaseExceptionGroup) as e:  # noqa: BLE001 - reported below
                failures.append(f"{op.method.upper()} {op.path} [{mode.value}]:\n{e}")
    assert ran > 80
    assert not failures, f"{len(failures)} failing:\n\n" + "\n\n".join(failures)


def test_service_survived_the_campaign(campaign: AsgiService) -> None:
    c = campaign.client
    assert c.get("/api/health").json()["status"] == "ok"
    assert c.get("/api/auth/me", headers=campaign.auth_headers()).status_code == 200
    log = campaign.log_text()
    assert "created the first admin" in log  # the service's log is captured
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-5000:]
