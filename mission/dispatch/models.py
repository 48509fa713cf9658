"""Dispatch rules and proposals: tables (migration 0006) and API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict
from sqlmodel import JSON, Column, Field, SQLModel

from mission.clock import utcnow
from mission.dispatch.domain import Action, OnTimeout, ProposalStatus, Rule
from mission.ids import NO_REUSED_IDS
from mission.incidents.models import Category, Source, utc_column
from mission.numbers import Integer, Number


class DispatchRule(SQLModel, table=True):
    __tablename__ = "dispatch_rule"
    __table_args__ = NO_REUSED_IDS  # mission/ids.py

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128)
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    min_severity: int = 1
    sources: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    zone_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON))
    action: str = Field(default=Action.AUTO.value, max_length=16)
    confirm_s: float = 60.0
    on_timeout: str = Field(default=OnTimeout.DROP.value, max_length=16)
    enabled: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())

    def spec(self) -> Rule:
        assert self.id is not None
        return Rule(self.id, self.name, tuple(self.categories), self.min_severity,
                    tuple(self.sources), tuple(self.zone_ids), Action(self.action),
                    self.confirm_s, OnTimeout(self.on_timeout), self.enabled)


class DispatchProposal(SQLModel, table=True):
    """A drone proposed for an incident by a `propose` rule: the planned mission waits for the
    operator's confirmation, or for the countdown to end (`expires_at`)."""

    __tablename__ = "dispatch_proposal"
    __table_args__ = NO_REUSED_IDS  # mission/ids.py

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(index=True)
    incident_id: int = Field(index=True)
    mission_id: int
    drone_id: int
    eta_s: float | None = None
    status: str = Field(default=ProposalStatus.PENDING.value, max_length=16, index=True)
    on_timeout: str = Field(default=OnTimeout.DROP.value, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column(index=True))
    decided_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    decided_by: str | None = Field(default=None, max_length=128)
    reason: str = Field(default="", max_length=1000)


class RuleIn(BaseModel):
    """POST /api/dispatch-rules body (PATCH: the same fields, each optional)."""

    model_config = ConfigDict(extra="forbid")

    name: str = pydantic.Field(min_length=1, max_length=128)
    categories: list[Category] = pydantic.Field(default_factory=list, max_length=20,
                                                description="empty: any category")
    min_severity: Integer = pydantic.Field(default=1, ge=1, le=5)
    sources: list[Source] = pydantic.Field(default_factory=list, max_length=20,
                                           description="empty: any source")
    zone_ids: list[Integer] = pydantic.Field(default_factory=list, max_length=100,
                                             description="empty: anywhere")
    action: Action = Action.AUTO
    confirm_s: Number = pydantic.Field(default=60.0, gt=0, le=3600,
                                       description="propose: the countdown, seconds")
    on_timeout: OnTimeout = OnTimeout.DROP
    enabled: bool = True


class RulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = pydantic.Field(default=None, min_length=1, max_length=128)
    categories: list[Category] | None = pydantic.Field(default=None, max_length=20)
    min_severity: Integer | None = pydantic.Field(default=None, ge=1, le=5)
    sources: list[Source] | None = pydantic.Field(default=None, max_length=20)
    zone_ids: list[Integer] | None = pydantic.Field(default=None, max_length=100)
    action: Action | None = None
    confirm_s: Number | None = pydantic.Field(default=None, gt=0, le=3600)
    on_timeout: OnTimeout | None = None
    enabled: bool | None = None


class RulePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    categories: list[str]
    min_severity: int
    sources: list[str]
    zone_ids: list[int]
    action: Action
    confirm_s: float
    on_timeout: OnTimeout
    enabled: bool
    created_at: datetime
    updated_at: datetime


class ProposalPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    rule_id: int
    incident_id: int
    mission_id: int
    drone_id: int
    eta_s: float | None
    status: ProposalStatus
    on_timeout: OnTimeout
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    reason: str


def rule_values(body: RuleIn | RulePatch) -> dict[str, Any]:
    """The given fields as stored (enums by value)."""
    out: dict[str, Any] = {}
    for k, v in body.model_dump(exclude_unset=isinstance(body, RulePatch)).items():
        if v is None and isinstance(body, RulePatch):
            continue
        if isinstance(v, list):
            v = [getattr(x, "value", x) for x in v]
        out[k] = getattr(v, "value", v)
    return out
