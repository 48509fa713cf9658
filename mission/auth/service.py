"""Authentication and user administration: login, sessions, integration keys, users.

Tokens (`nzs_...` for sessions, `nzk_...` for integration keys) are 256-bit random strings; the
database keeps only their SHA-256. A successful check is cached in memory for a few seconds so
that every request does not cost a query; anything that ends a session (logout, password or role
change, deactivation, key revocation) clears that cache at once, so revocation is immediate, and
with a bus tells the other replicas to clear theirs (mission/auth/revocation.py: within a
second; while this replica could have missed such a message, `cache_usable` is false and every
check goes to the database). A check that was reading the database while the cache was cleared
is not cached (it may have read the session before it ended).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import anyio.to_thread
from sqlalchemy import func
from sqlmodel import Session, col, select

from mission.audit import service as audit
from mission.auth.models import (
    INTEGRATION,
    AuthSession,
    IntegrationKey,
    KeyCreate,
    KeyCreated,
    KeyPublic,
    Role,
    User,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from mission.auth.passwords import hash_password, needs_rehash, verify_password
from mission.auth.shared_lockout import SharedLockout
from mission.auth.throttle import HashGate, Lockout, PasswordGuard, Throttled
from mission.clock import utcnow
from mission.db import Database
from mission.sharedlimits import Limiter, SharedStore

log = logging.getLogger(__name__)

SESSION_PREFIX = "nzs_"
KEY_PREFIX = "nzk_"
CACHE_TTL_S = 5.0


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who made a request: a signed-in user or an integration key."""

    kind: Literal["user", "key"]
    id: int
    name: str  # the user name; `key:NAME` for a key (the actor in records)
    role: str  # admin | operator | commander | integration
    via: str = "bearer"  # bearer | cookie | query
    session_id: int | None = None
    expires_at: datetime | None = None
    source: str | None = None  # a key's incident source
    rate_per_minute: int | None = None  # a key's intake limit

    def has(self, *roles: str) -> bool:
        return self.role in roles

    @property
    def can_see_contacts(self) -> bool:
        return self.role in (Role.ADMIN, Role.OPERATOR)


class AuthFailure(Exception):
    """No usable credentials: `reason` is missing, invalid, expired, revoked or disabled."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Refused(Exception):
    """A request the service will not carry out: maps 1:1 to an HTTP error."""

    def __init__(self, status: int, error: str, message: str, *, field: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.field = field
        self.retry_after = retry_after

    def detail(self) -> dict[str, Any]:
        d: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.field:
            d["field"] = self.field
        return d


def _user_public(u: User) -> UserPublic:
    return UserPublic.model_validate(u)


def _active_admins(s: Session) -> int:
    return int(s.exec(select(func.count()).select_from(User).where(
        User.role == Role.ADMIN.value, col(User.active).is_(True),
        col(User.deleted).is_(False))).one())


def _find_user(s: Session, username: str) -> User | None:
    return s.exec(select(User).where(func.lower(User.username) == username.lower())).first()


def _revoke_sessions(s: Session, user_id: int, reason: str, keep: int | None = None) -> int:
    now = utcnow()
    rows = s.exec(select(AuthSession).where(AuthSession.user_id == user_id,
                                            col(AuthSession.revoked_at).is_(None),
                                            col(AuthSession.expires_at) > now))
    n = 0
    for row in rows:
        if keep is not None and row.id == keep:
            continue
        row.revoked_at, row.revoked_reason = now, reason[:64]
        s.add(row)
        n += 1
    return n


def _throttled(e: Throttled) -> Refused:
    if e.reason == "busy":
        return Refused(429, "busy", "too many sign-ins at once; try again in a moment",
                       retry_after=e.retry_after)
    return Refused(429, "too_many_attempts", "too many failed attempts; try again later",
                   retry_after=e.retry_after)


class AuthService:
    def __init__(
        self, db: Database, *, session_ttl_s: float = 12 * 3600,
        login_failures: int = 10, login_window_s: float = 900.0, max_hashes: int = 4,
        shared: SharedStore | None = None,
    ) -> None:
        """`shared`: Redis for the sign-in lockout and address budget of every replica (with
        a bus); None: this process's memory."""
        self.db = db
        self.session_ttl_s = session_ttl_s
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._generation = 0  # bumped by every clear: a read begun before it is not cached
        # With a bus (mission/auth/revocation.py): whether the cache may answer now, and how
        # to tell the other replicas that sessions ended.
        self.cache_usable: Callable[[], bool] = lambda: True
        self.announce_revocation: Callable[[], None] | None = None
        # Password checks (sign-in, own password change): failures per user name and address
        # with growing delays, a budget per address across user names, and a bound on the
        # hashes in memory at once (mission/auth/throttle.py).
        self.hashes = HashGate(max_hashes)
        self.guard = PasswordGuard(
            SharedLockout(Lockout(login_failures, forget_after_s=login_window_s), shared),
            Limiter("login", login_failures * 5, login_window_s, shared), self.hashes)

    async def _hash(self, password: str) -> str:
        """Hash a new password (administrative paths: they wait for a slot at the gate)."""
        await self.hashes.enter()
        try:
            return await anyio.to_thread.run_sync(hash_password, password)
        finally:
            self.hashes.leave()

    def invalidate(self) -> None:
        """Sessions or keys ended here (after the commit): clear the cache, tell the others."""
        self.drop_cache()
        if self.announce_revocation is not None:
            self.announce_revocation()

    def drop_cache(self) -> None:
        """Forget every checked token (another replica ended a session)."""
        self._generation += 1
        self._cache.clear()

    # -- checking credentials -------------------------------------------------------------------

    async def authenticate(self, token: str, via: str) -> Principal:
        """The principal a token belongs to, or AuthFailure."""
        if not token or len(token) > 200:
            raise AuthFailure("invalid", "unknown or malformed token")
        h = token_hash(token)
        now_m = time.monotonic()
        hit = self._cache.get(h)
        if hit is not None and now_m - hit[0] < CACHE_TTL_S and self.cache_usable():
            p = hit[1]
            if p.expires_at is None or p.expires_at > utcnow():
                return p if p.via == via else _with_via(p, via)
        generation = self._generation
        if token.startswith(KEY_PREFIX):
            principal = await self.db.run(lambda s: _key_principal(s, h))
        else:
            principal = await self.db.run(lambda s: _session_principal(s, h, via))
        if generation == self._generation:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[h] = (now_m, principal)
        return principal

    # -- login / logout ---------------------------------------------------------------------------

    async def login(self, username: str, password: str, *, address: str,
                    user_agent: str = "") -> tuple[str, datetime, UserPublic]:
        """A new session for good credentials; Refused 401 (bad credentials, the same answer
        whatever was wrong) or 429 before any hashing: `too_many_attempts` (failures for this
        user name from this address, or from this address at all) or `busy` (the hash gate is
        full); mission/auth/throttle.py."""
        try:
            async with self.guard.attempt(f"user:{username.lower()}", address) as attempt:
                user = await self.db.run(lambda s: _find_user(s, username))
                ok = await anyio.to_thread.run_sync(
                    verify_password, user.password_hash if user is not None else None, password)
                why = ("unknown user" if user is None else "wrong password" if not ok
                       else "user disabled" if not user.active or user.deleted else "")
                if why:
                    attempt.failed()
                else:
                    attempt.succeeded()
                    assert user is not None
                    rehash = needs_rehash(user.password_hash)
                    new_hash = (await anyio.to_thread.run_sync(hash_password, password)
                                if rehash else None)
        except Throttled as e:
            raise _throttled(e) from None
        if why:
            await self.db.run(lambda s: audit.add(
                s, "auth.login_failed", actor=username[:64], address=address,
                outcome="refused", result={"reason": why}))
            raise Refused(401, "invalid_credentials", "wrong user name or password")
        assert user is not None and user.id is not None
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        expires = utcnow() + timedelta(seconds=self.session_ttl_s)
        uid = user.id

        def tx(s: Session) -> UserPublic:
            row = s.get(User, uid)
            assert row is not None
            if new_hash is not None:
                row.password_hash = new_hash
                s.add(row)
            sess = AuthSession(token_hash=token_hash(token), user_id=uid, expires_at=expires,
                               address=address[:64], user_agent=user_agent[:256])
            s.add(sess)
            s.flush()
            audit.add(s, "auth.login", actor=row.username, role=row.role, address=address,
                      target=f"user:{uid}", result={"session": sess.id,
                                                    "expires_at": expires.isoformat()})
            return _user_public(row)

        return token, expires, await self.db.run(tx)

    async def logout(self, p: Principal) -> None:
        if p.session_id is None:
            return
        sid = p.session_id

        def tx(s: Session) -> None:
            row = s.get(AuthSession, sid)
            if row is not None and row.revoked_at is None:
                row.revoked_at, row.revoked_reason = utcnow(), "logout"
                s.add(row)
            audit.add(s, "auth.logout", target=f"user:{p.id}", result={"session": sid})

        await self.db.run(tx)
        self.invalidate()

    async def change_password(self, p: Principal, current: str, new: str, *,
                              address: str = "") -> None:
        """Throttled like sign-in (a stolen session must not become a password oracle): 429
        after repeated wrong current passwords from this address."""
        user = await self.db.run(lambda s: s.get(User, p.id))
        if user is None or p.kind != "user":
            raise Refused(404, "not_found", "no such user")
        try:
            async with self.guard.attempt(f"password:{p.id}", address) as attempt:
                if not await anyio.to_thread.run_sync(verify_password, user.password_hash,
                                                      current):
                    attempt.failed()
                    raise Refused(403, "wrong_password", "the current password is wrong",
                                  field="current_password")
                attempt.succeeded()
                new_hash = await anyio.to_thread.run_sync(hash_password, new)
        except Throttled as e:
            raise _throttled(e) from None

        def tx(s: Session) -> None:
            row = s.get(User, p.id)
            assert row is not None
            row.password_hash, row.password_changed_at = new_hash, utcnow()
            row.updated_at = utcnow()
            s.add(row)
            n = _revoke_sessions(s, p.id, "password changed", keep=p.session_id)
            audit.add(s, "auth.password_change", target=f"user:{p.id}",
                      result={"other_sessions_ended": n})

        await self.db.run(tx)
        self.invalidate()

    # -- users ------------------------------------------------------------------------------------

    async def has_users(self) -> bool:
        return await self.db.run(lambda s: s.exec(select(User.id).limit(1)).first() is not None)

    async def list_users(self) -> list[UserPublic]:
        def q(s: Session) -> list[UserPublic]:
            rows = s.exec(select(User).where(col(User.deleted).is_(False))
                          .order_by(col(User.id)))
            return [_user_public(u) for u in rows]

        return await self.db.run(q)

    async def get_user(self, user_id: int) -> UserPublic:
        def q(s: Session) -> UserPublic:
            row = s.get(User, user_id)
            if row is None or row.deleted:
                raise Refused(404, "not_found", f"no user {user_id}")
            return _user_public(row)

        return await self.db.run(q)

    async def create_user(self, data: UserCreate, *, actor: str | None = None) -> UserPublic:
        pw_hash = await self._hash(data.password)

        def tx(s: Session) -> UserPublic:
            if _find_user(s, data.username) is not None:
                raise Refused(409, "user_exists", f"user name {data.username!r} is taken",
                              field="username")
            row = User(username=data.username, display_name=data.display_name,
                       role=data.role.value, password_hash=pw_hash)
            s.add(row)
            s.flush()
            audit.add(s, "user.create", actor=actor, target=f"user:{row.id}",
                      params={"username": row.username, "role": row.role,
                              "display_name": row.display_name})
            return _user_public(row)

        return await self.db.run(tx)

    async def update_user(self, user_id: int, patch: UserUpdate, by: Principal) -> UserPublic:
        pw_hash = (await self._hash(patch.password)
                   if patch.password is not None else None)

        def tx(s: Session) -> UserPublic:
            row = s.get(User, user_id)
            if row is None or row.deleted:
                raise Refused(404, "not_found", f"no user {user_id}")
            changes: dict[str, Any] = {}
            end_sessions = ""
            if patch.role is not None and patch.role.value != row.role:
                if by.kind == "user" and by.id == user_id:
                    raise Refused(409, "own_role", "you cannot change your own role",
                                  field="role")
                if row.role == Role.ADMIN and row.active and _active_admins(s) <= 1:
                    raise Refused(409, "last_admin", "the last active admin keeps the role",
                                  field="role")
                changes["role"] = {"from": row.role, "to": patch.role.value}
                row.role = patch.role.value
                end_sessions = "role changed"
            if patch.active is not None and patch.active != row.active:
                if not patch.active and by.kind == "user" and by.id == user_id:
                    raise Refused(409, "own_account", "you cannot deactivate yourself",
                                  field="active")
                if not patch.active and row.role == Role.ADMIN and _active_admins(s) <= 1:
                    raise Refused(409, "last_admin", "the last active admin stays active",
                                  field="active")
                changes["active"] = {"from": row.active, "to": patch.active}
                row.active = patch.active
                if not patch.active:
                    end_sessions = "deactivated"
            if patch.display_name is not None and patch.display_name != row.display_name:
                changes["display_name"] = {"from": row.display_name, "to": patch.display_name}
                row.display_name = patch.display_name
            if pw_hash is not None:
                changes["password"] = "reset"
                row.password_hash, row.password_changed_at = pw_hash, utcnow()
                end_sessions = end_sessions or "password reset"
            if changes:
                row.updated_at = utcnow()
                s.add(row)
                ended = 0
                if end_sessions:
                    keep = by.session_id if by.kind == "user" and by.id == user_id else None
                    ended = _revoke_sessions(s, user_id, end_sessions, keep=keep)
                action = "user.role_change" if "role" in changes else "user.update"
                audit.add(s, action, target=f"user:{user_id}",
                          params={"username": row.username, "changes": changes},
                          result={"sessions_ended": ended})
            return _user_public(row)

        out = await self.db.run(tx)
        self.invalidate()
        return out

    async def delete_user(self, user_id: int, by: Principal) -> None:
        """Deactivate for good: the row stays (the name stays taken, the audit log refers to
        it), the user is gone from the list and every session ends."""
        def tx(s: Session) -> None:
            row = s.get(User, user_id)
            if row is None or row.deleted:
                raise Refused(404, "not_found", f"no user {user_id}")
            if by.kind == "user" and by.id == user_id:
                raise Refused(409, "own_account", "you cannot delete yourself")
            if row.role == Role.ADMIN and row.active and _active_admins(s) <= 1:
                raise Refused(409, "last_admin", "the last active admin cannot be deleted")
            row.deleted, row.active, row.updated_at = True, False, utcnow()
            s.add(row)
            ended = _revoke_sessions(s, user_id, "deleted")
            audit.add(s, "user.delete", target=f"user:{user_id}",
                      params={"username": row.username, "role": row.role},
                      result={"sessions_ended": ended})

        await self.db.run(tx)
        self.invalidate()

    async def ensure_admin(self, username: str, password: str, *, actor: str) -> bool:
        """Create the first admin unless any user exists; True when created."""
        if await self.has_users():
            return False
        await self.create_user(UserCreate(username=username, password=password,
                                          role=Role.ADMIN), actor=actor)
        return True

    async def set_password(self, username: str, password: str, *, actor: str) -> bool:
        """(CLI recovery) set a user's password and make them an active admin."""
        pw_hash = await anyio.to_thread.run_sync(hash_password, password)

        def tx(s: Session) -> bool:
            row = _find_user(s, username)
            if row is None:
                return False
            assert row.id is not None
            before = {"role": row.role, "active": row.active, "deleted": row.deleted}
            row.password_hash, row.password_changed_at = pw_hash, utcnow()
            row.role, row.active, row.deleted = Role.ADMIN.value, True, False
            row.updated_at = utcnow()
            s.add(row)
            ended = _revoke_sessions(s, row.id, "password reset")
            audit.add(s, "user.role_change" if before["role"] != row.role else "user.update",
                      actor=actor, target=f"user:{row.id}",
                      params={"username": row.username, "changes": {
                          "password": "reset", "before": before, "role": row.role}},
                      result={"sessions_ended": ended})
            return True

        out = await self.db.run(tx)
        self.invalidate()
        return out

    # -- integration keys -------------------------------------------------------------------------

    async def list_keys(self) -> list[KeyPublic]:
        def q(s: Session) -> list[KeyPublic]:
            rows = s.exec(select(IntegrationKey).order_by(col(IntegrationKey.id)))
            return [KeyPublic.model_validate(r) for r in rows]

        return await self.db.run(q)

    async def create_key(self, data: KeyCreate, *, actor: str) -> KeyCreated:
        key = KEY_PREFIX + secrets.token_urlsafe(32)

        def tx(s: Session) -> KeyCreated:
            taken = s.exec(select(IntegrationKey).where(
                func.lower(IntegrationKey.name) == data.name.lower())).first()
            if taken is not None:
                raise Refused(409, "key_exists", f"a key named {data.name!r} exists",
                              field="name")
            row = IntegrationKey(name=data.name, key_hash=token_hash(key), prefix=key[:10],
                                 source=data.source.value, rate_per_minute=data.rate_per_minute,
                                 created_by=actor)
            s.add(row)
            s.flush()
            audit.add(s, "key.create", target=f"key:{row.id}",
                      params={"name": row.name, "source": row.source,
                              "rate_per_minute": row.rate_per_minute, "prefix": row.prefix})
            return KeyCreated(**KeyPublic.model_validate(row).model_dump(), key=key)

        return await self.db.run(tx)

    async def revoke_key(self, key_id: int) -> None:
        def tx(s: Session) -> None:
            row = s.get(IntegrationKey, key_id)
            if row is None:
                raise Refused(404, "not_found", f"no integration key {key_id}")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                s.add(row)
                audit.add(s, "key.revoke", target=f"key:{key_id}",
                          params={"name": row.name, "prefix": row.prefix})

        await self.db.run(tx)
        self.invalidate()


def _with_via(p: Principal, via: str) -> Principal:
    return Principal(p.kind, p.id, p.name, p.role, via, p.session_id, p.expires_at, p.source,
                     p.rate_per_minute)


def _session_principal(s: Session, h: str, via: str) -> Principal:
    row = s.exec(select(AuthSession, User).where(AuthSession.token_hash == h)
                 .join(User, col(User.id) == AuthSession.user_id)).first()
    if row is None:
        raise AuthFailure("invalid", "unknown or malformed token")
    sess, user = row
    if sess.revoked_at is not None:
        raise AuthFailure("revoked", f"session ended ({sess.revoked_reason or 'revoked'})")
    if sess.expires_at <= utcnow():
        raise AuthFailure("expired", "session expired; log in again")
    if not user.active or user.deleted:
        raise AuthFailure("disabled", "user is disabled")
    assert user.id is not None and sess.id is not None
    return Principal("user", user.id, user.username, user.role, via, sess.id, sess.expires_at)


def _key_principal(s: Session, h: str) -> Principal:
    row = s.exec(select(IntegrationKey).where(IntegrationKey.key_hash == h)).first()
    if row is None:
        raise AuthFailure("invalid", "unknown integration key")
    if row.revoked_at is not None:
        raise AuthFailure("revoked", "integration key revoked")
    assert row.id is not None
    return Principal("key", row.id, f"key:{row.name}", INTEGRATION, "bearer",
                     source=row.source, rate_per_minute=row.rate_per_minute)
