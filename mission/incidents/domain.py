"""Incident rules that do not depend on HTTP or the database: the status flow, time checks,
list filters and how a PATCH applies.

Status flow::

    new -> triaged -> assigned -> observed -> closed | false_alarm

Each open status (new, triaged, assigned, observed) may also go straight to closed or
false_alarm; those two are final. Anything else (skipping ahead, going back, reopening) is an
`IllegalTransition` (HTTP 409) whose message names both statuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mission.incidents.models import IncidentUpdate, Status
from mission.zones.geo import BBox, InvalidInput

MAX_FUTURE_SKEW = timedelta(minutes=5)
"""How far in the future `reported_at` may lie (clock skew of the reporting device)."""

OPEN_STATUSES: tuple[Status, ...] = (
    Status.NEW, Status.TRIAGED, Status.ASSIGNED, Status.OBSERVED,
)
FINAL_STATUSES: tuple[Status, ...] = (Status.CLOSED, Status.FALSE_ALARM)

_ENDINGS = {Status.CLOSED, Status.FALSE_ALARM}
NEXT_STATUSES: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.TRIAGED, *_ENDINGS}),
    Status.TRIAGED: frozenset({Status.ASSIGNED, *_ENDINGS}),
    Status.ASSIGNED: frozenset({Status.OBSERVED, *_ENDINGS}),
    Status.OBSERVED: frozenset(_ENDINGS),
    Status.CLOSED: frozenset(),
    Status.FALSE_ALARM: frozenset(),
}


class IllegalTransition(Exception):
    def __init__(self, from_status: Status, to_status: Status, message: str) -> None:
        super().__init__(message)
        self.from_status = from_status
        self.to_status = to_status
        self.message = message


class IncidentFinal(Exception):
    """An edit of an incident that is already closed or a false alarm."""

    def __init__(self, incident_id: int, status: Status) -> None:
        self.message = (f"incident {incident_id} is {status.value}; a closed incident cannot be "
                        "edited")
        super().__init__(self.message)
        self.status = status


def _names(statuses: frozenset[Status]) -> str:
    order = list(Status)
    names = [s.value for s in sorted(statuses, key=order.index)]
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


def check_transition(current: Status, target: Status) -> None:
    """Raise IllegalTransition unless `current -> target` is a step of the status flow."""
    allowed = NEXT_STATUSES[current]
    if target in allowed:
        return
    if current == target:
        why = f"the incident is already {current.value}"
    elif not allowed:
        why = f"{current.value} is final"
    else:
        why = f"from {current.value} the next status is {_names(allowed)}"
    raise IllegalTransition(
        current, target, f"cannot change status from {current.value} to {target.value}: {why}"
    )


def check_reported_at(
    reported_at: datetime, now: datetime, field: str = "reported_at"
) -> datetime:
    """`reported_at` in UTC; InvalidInput if it is naive or further ahead of `now` than
    MAX_FUTURE_SKEW."""
    if reported_at.tzinfo is None or reported_at.utcoffset() is None:
        raise InvalidInput(field, "must include a timezone offset (e.g. 2024-05-01T10:00:00Z)")
    if reported_at - now > MAX_FUTURE_SKEW:
        ahead = reported_at - now
        raise InvalidInput(
            field, f"{reported_at.isoformat()} is {_duration(ahead)} in the future; at most "
                   f"{_duration(MAX_FUTURE_SKEW)} of clock skew is accepted",
        )
    return reported_at.astimezone(UTC)


def _duration(d: timedelta) -> str:
    s = d.total_seconds()
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172_800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.0f} days"


def parse_time(value: str | None, field: str) -> datetime | None:
    """A query time: Unix seconds or ISO 8601 (naive means UTC, as in mission.recording)."""
    if value is None or value.strip() == "":
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(field, f"expected Unix seconds or ISO 8601, got {value!r}",
                           error="invalid_parameter") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


@dataclass(frozen=True)
class IncidentFilter:
    """List/export filters. Empty tuples mean "any"; times bound `reported_at` (inclusive)."""

    statuses: tuple[Status, ...] = ()
    categories: tuple[str, ...] = ()
    reported_from: datetime | None = None
    reported_to: datetime | None = None
    bbox: BBox | None = None

    def __post_init__(self) -> None:
        if self.reported_from and self.reported_to and self.reported_from > self.reported_to:
            raise InvalidInput("from", f"from ({self.reported_from.isoformat()}) is after to "
                                       f"({self.reported_to.isoformat()})",
                               error="invalid_parameter")


_NOT_NULL = ("lat", "lon", "category", "severity", "source", "reported_at", "description",
             "status")


def plan_update(
    incident_id: int, current_status: Status, patch: IncidentUpdate, now: datetime
) -> tuple[dict[str, Any], Status | None]:
    """The column changes a PATCH makes and the new status (None: unchanged). Raises
    IncidentFinal for a closed incident, InvalidInput for a null where a value is required or a
    bad time, IllegalTransition for a status outside the flow. A status equal to the current
    one is no change (PATCH is idempotent)."""
    if current_status in FINAL_STATUSES:
        raise IncidentFinal(incident_id, current_status)
    given = patch.model_fields_set - {"note"}
    changes: dict[str, Any] = {}
    for name in sorted(given):
        value = getattr(patch, name)
        if value is None and name in _NOT_NULL:
            raise InvalidInput(name, "may not be null")
        changes[name] = value
    if changes.get("reported_at") is not None:
        changes["reported_at"] = check_reported_at(changes["reported_at"], now)
    if "reporter_contact" in changes and isinstance(changes["reporter_contact"], str) \
            and not changes["reporter_contact"].strip():
        changes["reporter_contact"] = None
    target = changes.pop("status", None)
    if target is not None and target != current_status:
        check_transition(current_status, target)
        return changes, target
    return changes, None
