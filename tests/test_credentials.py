"""The one credentials parser (mission/credentials.py) that the API, the telemetry WebSocket
and /metrics share: precedence, the scheme's case, `?token=` only where allowed."""

from __future__ import annotations

import pytest
from starlette.requests import HTTPConnection

from mission.credentials import SESSION_COOKIE, Credentials, bearer_token, credentials

pytestmark = pytest.mark.nopg  # no database, no service


def conn(headers: dict[str, str], query: str = "") -> HTTPConnection:
    return HTTPConnection({
        "type": "http", "method": "GET", "path": "/", "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]})


def test_bearer_header_in_any_case_and_nothing_else() -> None:
    assert bearer_token({"authorization": "Bearer abc"}) == "abc"
    assert bearer_token({"authorization": "bEaReR   abc  "}) == "abc"
    for header in ["Basic dXNlcjpwdw==", "Bearer", "Bearer    ", "Bearerabc", ""]:
        assert bearer_token({"authorization": header}) is None, header
    assert bearer_token({}) is None


def test_precedence_header_then_query_then_cookie() -> None:
    cookie = {"cookie": f"{SESSION_COOKIE}=from-cookie"}
    both = {"authorization": "Bearer from-header", **cookie}
    assert credentials(conn(both, "token=q"), query=True) == Credentials("from-header", "bearer")
    assert credentials(conn(cookie, "token=q"), query=True) == Credentials("q", "query")
    # ?token= is read only where the caller allows it (the WebSocket), never for the API
    assert credentials(conn(cookie, "token=q")) == Credentials("from-cookie", "cookie")
    assert credentials(conn({}, "token=q")) is None
    # another scheme is no credential: the cookie still counts
    assert credentials(conn({"authorization": "Basic x", **cookie})) == Credentials(
        "from-cookie", "cookie")
    assert credentials(conn({"cookie": "other=1"})) is None
