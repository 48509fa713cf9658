"""The service's one clock for stored times: aware UTC datetimes.

Every row's timestamp (created_at, requested_at, audit `at`, ...) and every "now" a service
compares them with comes from `utcnow()`, so that no naive local time is ever mixed with them
(the database columns store naive UTC and give aware UTC back: `utc_column` in
mission/incidents/models.py). Monotonic durations use `time.monotonic()` instead.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(UTC)
