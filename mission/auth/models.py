"""Users, sessions and integration keys as stored, and their API shapes.

Secrets are never stored: passwords as argon2id hashes (mission.auth.passwords), session
tokens and integration keys as SHA-256 digests of high-entropy random strings (the token itself
is shown once: to the client that logged in, to the admin who created the key).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import pydantic
from pydantic import BaseModel, ConfigDict
from sqlmodel import Field, SQLModel

from mission.clock import utcnow
from mission.ids import NO_REUSED_IDS
from mission.incidents.models import Source, utc_column

MIN_PASSWORD = 10
MAX_PASSWORD = 256
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"


class Role(StrEnum):
    ADMIN = "admin"  # everything, including users, keys and the audit log
    OPERATOR = "operator"  # commands drones, plans and dispatches, edits incidents and zones
    COMMANDER = "commander"  # reads everything an operator sees except reporters' contacts


INTEGRATION = "integration"  # the role of an integration key: creates incidents, nothing else
USER_ROLES = (Role.ADMIN, Role.OPERATOR, Role.COMMANDER)


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    __table_args__ = NO_REUSED_IDS  # mission/ids.py

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    display_name: str = Field(default="", max_length=128)
    role: str = Field(max_length=16)
    password_hash: str = Field(max_length=256)
    active: bool = True
    deleted: bool = False  # deleted users keep their row: the name stays taken (audit log)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    password_changed_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class AuthSession(SQLModel, table=True):
    """A login: valid until `expires_at` unless revoked (logout, password or role change,
    user disabled)."""

    __tablename__ = "auth_session"
    __table_args__ = NO_REUSED_IDS  # mission/ids.py

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column(index=True))
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    revoked_reason: str = Field(default="", max_length=64)
    address: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=256)


class IntegrationKey(SQLModel, table=True):
    """A key for a system that reports incidents (citizen map, cameras). Only creates
    incidents, at most `rate_per_minute` a minute."""

    __tablename__ = "integration_key"
    __table_args__ = NO_REUSED_IDS  # mission/ids.py

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, index=True)
    key_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=16)  # the key's first characters, to recognise it
    source: str = Field(max_length=32)
    rate_per_minute: int = 60
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    created_by: str = Field(max_length=128)
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


# -- API shapes ---------------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_In):
    username: str = pydantic.Field(min_length=1, max_length=64)
    password: str = pydantic.Field(min_length=1, max_length=MAX_PASSWORD)


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    created_at: datetime
    updated_at: datetime


class LoginOut(BaseModel):
    token: str = pydantic.Field(description="send as `Authorization: Bearer TOKEN`; the same "
                                            "value is set as the HttpOnly session cookie")
    token_type: str = "bearer"
    expires_at: datetime
    user: UserPublic


class MeOut(BaseModel):
    user: UserPublic
    session_expires_at: datetime | None
    via: str = pydantic.Field(description="bearer or cookie")
    can_command: bool
    can_see_contacts: bool
    can_administer: bool


class PasswordChangeIn(_In):
    current_password: str = pydantic.Field(min_length=1, max_length=MAX_PASSWORD)
    new_password: str = pydantic.Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)


class UserCreate(_In):
    username: str = pydantic.Field(pattern=USERNAME_PATTERN, min_length=1, max_length=64)
    password: str = pydantic.Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)
    role: Role
    display_name: str = pydantic.Field(default="", max_length=128)


class UserUpdate(_In):
    """Only the fields given change. A new password, a role change or deactivation ends the
    user's sessions."""

    role: Role | None = None
    active: bool | None = None
    password: str | None = pydantic.Field(default=None, min_length=MIN_PASSWORD,
                                          max_length=MAX_PASSWORD)
    display_name: str | None = pydantic.Field(default=None, max_length=128)


class IntakeSource(StrEnum):
    CITIZEN_MAP = Source.CITIZEN_MAP.value
    CAMERA = Source.CAMERA.value
    OTHER = Source.OTHER.value


class KeyCreate(_In):
    name: str = pydantic.Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}$", min_length=1,
                               max_length=64)
    source: IntakeSource = pydantic.Field(description="the `source` of the incidents it creates")
    rate_per_minute: int = pydantic.Field(default=60, ge=1, le=6000)


class KeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    source: IntakeSource
    rate_per_minute: int
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class KeyCreated(KeyPublic):
    key: str = pydantic.Field(description="the secret: shown only in this answer")
