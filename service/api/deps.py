"""What every request needs: a database session, the signed-in user, the settings.

Tokens are JWTs (PyJWT, HS256) naming the user; the user is looked up on every request, so a
deactivated account stops working at once. Browsers opening map pages send the same token in an
HttpOnly, SameSite=Strict cookie (set by the sign-in page); the cookie is accepted for reads
(GET) only, so another site cannot make a signed-in browser change anything.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterator
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import OAuth2PasswordBearer
from pydantic import AfterValidator, BeforeValidator, Field
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from scheduler.dataset.values import invisible_character
from scheduler.params import TIME_LIMIT_MAX_S, TIME_LIMIT_MIN_S
from service.db.tables import ServiceSecretRow, UserRole, UserRow
from service.settings import Settings
from service.users import Principal

__all__ = [
    "PLANNING_DATE_MAX",
    "PLANNING_DATE_MIN",
    "ROW_ID_MAX",
    "TOKEN_COOKIE",
    "CurrentUser",
    "DbSession",
    "PlainText",
    "PlanningDate",
    "RowId",
    "ServiceSettings",
    "WholeNumber",
    "make_token",
    "principal_from_token",
    "require_roles",
    "signing_key",
]

TOKEN_COOKIE = "homevisit_token"
_ALGORITHM = "HS256"

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


def signing_key(engine: Engine, settings: Settings) -> str:
    """The configured key, or the one this database keeps (made on first start)."""
    if settings.secret_key:
        return settings.secret_key
    with Session(engine) as session:
        row = session.get(ServiceSecretRow, "token_signing_key")
        if row is not None:
            return row.value
        session.add(ServiceSecretRow(name="token_signing_key", value=secrets.token_urlsafe(48)))
        try:
            session.commit()
        except IntegrityError:  # another server process made it first: use theirs
            session.rollback()
        row = session.get(ServiceSecretRow, "token_signing_key", populate_existing=True)
        assert row is not None
        return row.value


def make_token(username: str, key: str, minutes: int) -> str:
    """A signed token for ``username`` valid for ``minutes``."""
    now = dt.datetime.now(dt.UTC)
    claims = {"sub": username, "iat": now, "exp": now + dt.timedelta(minutes=minutes)}
    return jwt.encode(claims, key, algorithm=_ALGORITHM)


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ServiceSettings = Annotated[Settings, Depends(get_settings_dep)]


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, closed afterwards (the routes commit what they change)."""
    factory: sessionmaker[Session] = request.app.state.sessions
    with factory() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]

_UNAUTHORISED = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="sign in first: POST /auth/token with your user name and password",
    headers={"WWW-Authenticate": "Bearer"},
)


async def get_principal(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    """The signed-in user, from the bearer token (or, for GET, the sign-in cookie)."""
    if token is None and request.method == "GET":
        token = request.cookies.get(TOKEN_COOKIE)
    if not token:
        raise _UNAUTHORISED
    return await principal_from_token(request, token)


async def principal_from_token(request: Request, token: str) -> Principal:
    """The active user a signed token names; 401 for a bad, expired or unknown one.

    Callers decide where the token may come from (the header; the cookie only for reads, or
    for a form whose CSRF token was checked: :mod:`service.api.web`).
    """
    try:
        # Every token this service signs carries sub, iat and exp: one without (signed with a
        # leaked key, or by hand) would never expire, so it is refused.
        claims = jwt.decode(
            token,
            request.app.state.signing_key,
            algorithms=[_ALGORITHM],
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.PyJWTError:
        raise _UNAUTHORISED from None
    username = str(claims.get("sub"))
    # Looked up again at most every few seconds (service.api.cache): a deactivated account stops
    # within USER_TTL_S, and 50 readers do not query the user table 50 times a second.
    # Async with no session of its own: a cached user costs no thread hop and no connection.
    cache = request.app.state.user_cache
    principal: Principal | None = cache.peek(username)
    if principal is None:
        principal = await run_in_threadpool(
            cache.get, username, lambda: _lookup_user(request, username)
        )
    if principal is None:
        raise _UNAUTHORISED
    request.state.username = principal.username  # for the access log (never a resident's data)
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]


def _lookup_user(request: Request, username: str) -> Principal | None:
    """The active user of that name, as one Core row."""
    columns = UserRow.__table__.c
    with request.app.state.engine.connect() as connection:
        row = connection.execute(
            select(
                columns.username,
                columns.role,
                columns.centre_id,
                columns.team_id,
                columns.clinician_id,
            ).where(columns.username == username, columns.active.is_(True))
        ).first()
    return None if row is None else Principal(row[0], UserRole(row[1]), row[2], row[3], row[4])


def require_roles(*roles: UserRole) -> object:
    """A dependency refusing (403) every role but ``roles``; object checks come after it."""

    async def check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"the {user.role.value} role cannot do this",
            )
        return user

    return Depends(check)


_DIGITS = re.compile(r"[0-9]{1,20}")  # up to 20 digits reach the range check (ge/le)


def _whole_number(value: object) -> object:
    """Path and query values arrive as text: only plain digits are a number (not ``1.0``,
    ``+1``, `` 1`` or a full-width ``１``, which the lax int parsing would take for 1)."""
    if isinstance(value, str) and _DIGITS.fullmatch(value) is None:
        raise ValueError("不是整数 / not a whole number: write digits only, e.g. 12")
    return value


WholeNumber = BeforeValidator(_whole_number)
"""Put in the ``Annotated`` of an int path or query parameter: digits only."""

ROW_ID_MAX = 2_147_483_647  # the largest id a 32-bit INTEGER column holds (SQLite, PostgreSQL)
RowId = Annotated[int, WholeNumber, Path(ge=1, le=ROW_ID_MAX, description="A stored row's id")]


def _plain_text(text: str) -> str:
    reason = invisible_character(text)
    if reason is not None:
        raise ValueError(str(reason))
    return text


PlainText = Annotated[str, AfterValidator(_plain_text)]
"""Text a request stores or sends on (a note, an id): no NUL, control or bidi-override
character, the same rule as the registers' cells
(:func:`scheduler.dataset.values.invisible_character`)."""

PLANNING_DATE_MIN = dt.date(2000, 1, 1)
PLANNING_DATE_MAX = dt.date(2099, 12, 31)


def _planning_date(day: dt.date) -> dt.date:
    if not PLANNING_DATE_MIN <= day <= PLANNING_DATE_MAX:
        raise ValueError(
            f"日期须在 {PLANNING_DATE_MIN} 至 {PLANNING_DATE_MAX} 之间 / {day} is not a date the "
            f"service plans or records: give one from {PLANNING_DATE_MIN} to {PLANNING_DATE_MAX}"
        )
    return day


TimeLimit = Annotated[
    float | None,
    Field(
        ge=TIME_LIMIT_MIN_S,
        le=TIME_LIMIT_MAX_S,
        allow_inf_nan=False,
        description="Seconds of the whole solve (default 30; at most the server's "
        "HOMEVISIT_SOLVE_TIME_LIMIT_MAX_S)",
    ),
]
"""A solve's time limit as a request gives it: the bounds of
:class:`scheduler.params.SolveParams`; ``None`` takes the server's default."""

PlanningDate = Annotated[dt.date, AfterValidator(_planning_date)]
"""Every date the API accepts (weeks, days, visits, reports): within sane years, so that no
date arithmetic further on overflows (9999-12-31 + a day) or plans the year 1."""
