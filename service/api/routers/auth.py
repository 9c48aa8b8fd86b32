"""Sign in: the OAuth2 password flow, and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from service.api import throttle
from service.api.deps import CurrentUser, DbSession, ServiceSettings, make_token
from service.api.models import Me, Token
from service.api.throttle import SignInThrottledError, wait_in_words

router = APIRouter(tags=["auth"])


@router.post(
    "/auth/token",
    response_model=Token,
    responses={
        401: {"description": "Wrong user name or password"},
        429: {"description": "Too many wrong passwords: wait Retry-After seconds"},
    },
)
def sign_in(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: DbSession,
    settings: ServiceSettings,
) -> Token:
    """Exchange a user name and password for a signed token (用户名与密码登录)."""
    try:
        user = throttle.sign_in(request, session, form.username, form.password)
    except SignInThrottledError as exc:
        zh, en = wait_in_words(exc.retry_after_s)
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"登录失败次数过多，请 {zh}后再试 / too many wrong passwords for this user "
            f"name or from this address: try again in {en}",
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from None
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="wrong user name or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = make_token(user.username, request.app.state.signing_key, settings.token_minutes)
    return Token(access_token=token, expires_in=settings.token_minutes * 60)


@router.get("/me", response_model=Me)
def who_am_i(user: CurrentUser) -> Me:
    """The signed-in user (当前用户)."""
    return Me(
        username=user.username,
        role=user.role.value,
        centre_id=user.centre_id,
        team_id=user.team_id,
        clinician_id=user.clinician_id,
    )
