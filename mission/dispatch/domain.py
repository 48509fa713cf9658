"""Which rule an incident matches and what to do about it: pure, no database, no network.

A rule matches an incident when every criterion it sets holds: its category is one of
`categories`, its severity at least `min_severity`, its source one of `sources`, and it lies
in one of `zone_ids` (an empty list puts no condition). Of the rules an incident matches, the
one with the lowest id decides (rules are applied in the order they were made); a disabled rule
matches nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Action(StrEnum):
    AUTO = "auto"
    PROPOSE = "propose"


class OnTimeout(StrEnum):
    DISPATCH = "dispatch"
    DROP = "drop"


class ProposalStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    EXPIRED = "expired"  # timed out and dropped
    DISPATCHED = "dispatched"  # timed out and dispatched by its rule
    FAILED = "failed"  # the dispatch it led to was refused


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    categories: tuple[str, ...] = ()
    min_severity: int = 1
    sources: tuple[str, ...] = ()
    zone_ids: tuple[int, ...] = ()
    action: Action = Action.AUTO
    confirm_s: float = 60.0
    on_timeout: OnTimeout = OnTimeout.DROP
    enabled: bool = True

    @property
    def actor(self) -> str:
        """Who the audit log and the command record say acted."""
        return f"system:rule:{self.id}"


@dataclass(frozen=True)
class IncidentFacts:
    """What a rule looks at: the incident and the ids of the active zones it lies in."""

    id: int
    category: str
    severity: int
    source: str
    zone_ids: frozenset[int] = frozenset()


def matches(rule: Rule, inc: IncidentFacts) -> bool:
    return (rule.enabled
            and (not rule.categories or inc.category in rule.categories)
            and inc.severity >= rule.min_severity
            and (not rule.sources or inc.source in rule.sources)
            and (not rule.zone_ids or bool(inc.zone_ids.intersection(rule.zone_ids))))


def decide(inc: IncidentFacts, rules: Iterable[Rule]) -> Rule | None:
    """The rule that decides for `inc` (lowest id among those it matches), or None."""
    for rule in sorted(rules, key=lambda r: r.id):
        if matches(rule, inc):
            return rule
    return None


def needs_zones(rules: Sequence[Rule]) -> bool:
    """Whether any enabled rule looks at zones (only then is the incident located in them)."""
    return any(r.enabled and r.zone_ids for r in rules)


def on_expiry(rule_on_timeout: OnTimeout) -> ProposalStatus:
    """What an unanswered proposal becomes when its countdown ends."""
    return (ProposalStatus.DISPATCHED if rule_on_timeout == OnTimeout.DISPATCH
            else ProposalStatus.EXPIRED)


def due(expires_at: datetime, now: datetime) -> bool:
    return now >= expires_at
