"""`/api/auth` (login, logout, me, own password), `/api/users` and `/api/integration-keys`
(admins). The 401/403 contract is in mission/deps.py and README "Users and roles"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from mission.auth.models import (
    KeyCreate,
    KeyCreated,
    KeyPublic,
    LoginIn,
    LoginOut,
    MeOut,
    PasswordChangeIn,
    Role,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from mission.credentials import SESSION_COOKIE
from mission.deps import (
    COMMON,
    AdminDep,
    StateDep,
    ViewerDep,
    admin,
    client_address,
    error_responses,
)

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=COMMON)
users = APIRouter(prefix="/api/users", tags=["users"], responses=COMMON,
                  dependencies=[Depends(admin)])
keys = APIRouter(prefix="/api/integration-keys", tags=["users"], responses=COMMON,
                 dependencies=[Depends(admin)])

IdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _secure(request: Request, app: StateDep) -> bool:
    return app.settings.cookie_secure or request.url.scheme == "https"


@router.post("/login", response_model=LoginOut, responses=error_responses(429))
async def login(body: LoginIn, request: Request, response: Response,
                app: StateDep) -> LoginOut:
    """Check a user name and password: the answer carries a bearer token, and sets the same
    token as an HttpOnly, SameSite=Strict session cookie (the console's). Wrong credentials:
    401 `invalid_credentials` whatever was wrong; repeated failures for this user name from
    this address: 429 `too_many_attempts` with Retry-After (growing); too many checks at once:
    429 `busy`."""
    token, expires, user = await app.auth.login(
        body.username, body.password, address=client_address(request),
        user_agent=request.headers.get("user-agent", ""))
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(app.auth.session_ttl_s), path="/", httponly=True,
        samesite="strict", secure=_secure(request, app))
    return LoginOut(token=token, expires_at=expires, user=user)


@router.post("/logout", status_code=204, response_class=Response)
async def logout(request: Request, p: ViewerDep, app: StateDep) -> Response:
    """End this session (the token stops working at once) and clear the cookie."""
    await app.auth.logout(p)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=_secure(request, app))
    return response


@router.get("/me", response_model=MeOut)
async def me(p: ViewerDep, app: StateDep) -> MeOut:
    """The signed-in user and what the role allows (the console shows its view from this)."""
    user = await app.auth.get_user(p.id)
    return MeOut(user=user, session_expires_at=p.expires_at, via=p.via,
                 can_command=p.role in (Role.ADMIN, Role.OPERATOR),
                 can_see_contacts=p.can_see_contacts, can_administer=p.role == Role.ADMIN)


@router.post("/password", status_code=204, response_class=Response,
             responses=error_responses(404, 429))
async def change_password(body: PasswordChangeIn, request: Request, p: ViewerDep,
                          app: StateDep) -> Response:
    """Change your own password; your other sessions end, this one goes on. Wrong current
    passwords are throttled like sign-in (429 with Retry-After)."""
    await app.auth.change_password(p, body.current_password, body.new_password,
                                   address=client_address(request))
    return Response(status_code=204)


# -- users (admins) ----------------------------------------------------------------------------


@users.get("", response_model=list[UserPublic])
async def list_users(app: StateDep) -> list[UserPublic]:
    return await app.auth.list_users()


@users.post("", status_code=201, response_model=UserPublic, responses=error_responses(409))
async def create_user(body: UserCreate, app: StateDep, p: AdminDep) -> UserPublic:
    """A new user with a role (admin, operator, commander) and an initial password."""
    return await app.auth.create_user(body, actor=p.name)


@users.get("/{user_id}", response_model=UserPublic, responses=error_responses(404))
async def get_user(user_id: IdPath, app: StateDep) -> UserPublic:
    return await app.auth.get_user(user_id)


@users.patch("/{user_id}", response_model=UserPublic, responses=error_responses(404, 409))
async def update_user(user_id: IdPath, body: UserUpdate, app: StateDep,
                      p: AdminDep) -> UserPublic:
    """Change role, active, display name or reset the password. A role change, deactivation
    or password reset ends the user's sessions. Nobody changes their own role or deactivates
    themselves, and the last active admin stays one (409)."""
    return await app.auth.update_user(user_id, body, p)


@users.delete("/{user_id}", status_code=204, response_class=Response,
              responses=error_responses(404, 409))
async def delete_user(user_id: IdPath, app: StateDep, p: AdminDep) -> Response:
    """Remove a user for good (the name stays reserved; their sessions end)."""
    await app.auth.delete_user(user_id, p)
    return Response(status_code=204)


# -- integration keys (admins) -----------------------------------------------------------------


@keys.get("", response_model=list[KeyPublic])
async def list_keys(app: StateDep) -> list[KeyPublic]:
    return await app.auth.list_keys()


@keys.post("", status_code=201, response_model=KeyCreated, responses=error_responses(409))
async def create_key(body: KeyCreate, app: StateDep, p: AdminDep) -> KeyCreated:
    """A key for a system that reports incidents (POST /api/intake/incidents with
    `Authorization: Bearer KEY`). The secret is in this answer only."""
    return await app.auth.create_key(body, actor=p.name)


@keys.delete("/{key_id}", status_code=204, response_class=Response,
             responses=error_responses(404))
async def revoke_key(key_id: IdPath, app: StateDep) -> Response:
    """Revoke a key: it stops working at once (the record stays)."""
    await app.auth.revoke_key(key_id)
    return Response(status_code=204)
