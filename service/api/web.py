"""What every server-rendered page shares: the Jinja2 templates, the header's links per role,
and the one CSRF check of every form posted with the sign-in cookie.

The templates autoescape every value (Jinja2's ``autoescape`` for ``.html``), and no page has an
inline script: the few scripts are static files under ``/static`` (the security headers allow
scripts from the service itself only).

CSRF: the sign-in cookie is HttpOnly and SameSite=Strict; on top of that, a form posted with it
carries ``csrf_token``, an HMAC of that very cookie under the service's signing key (a signed
double-submit token tied to the session). Another site can neither read the cookie nor compute
the token, and a token taken from one session does not work with another.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Form, HTTPException, Request, status
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from service.api.deps import TOKEN_COOKIE, principal_from_token
from service.db.tables import UserRole
from service.users import Principal

__all__ = [
    "STATIC_DIR",
    "CookieFormUser",
    "NavLink",
    "csrf_token",
    "render",
    "role_home",
]

STATIC_DIR = Path(__file__).resolve().parent / "static"
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")

ROLE_NAMES = {
    UserRole.ADMIN: ("管理员", "Admin"),
    UserRole.TEAM_LEADER: ("团队长", "Team leader"),
    UserRole.CLINICIAN: ("医护人员", "Clinician"),
    UserRole.PLANNER: ("规划人员", "Planner"),
}


@dataclass(frozen=True, slots=True)
class NavLink:
    """A link of the page header: Chinese first, English beside."""

    href: str
    zh: str
    en: str


def role_home(user: Principal, today: str) -> str:
    """The page a role lands on after signing in."""
    if user.role is UserRole.CLINICIAN:
        return f"/me/routes/{today}"
    if user.role is UserRole.TEAM_LEADER:
        return "/week"
    if user.role is UserRole.PLANNER:
        return "/overview"
    return "/admin"


def nav_links(user: Principal) -> list[NavLink]:
    """What the header offers each role (only pages the role may open)."""
    registers = NavLink("/registers", "导入档案", "Registers")
    if user.role is UserRole.TEAM_LEADER:
        return [
            NavLink("/week", "本周计划", "Week"),
            NavLink("/plan-week", "排班", "Plan a week"),
            NavLink("/sickbeds", "家庭病床", "Sick-beds"),
            registers,
        ]
    reports = NavLink("/reports/page", "统计报告", "Reports")
    sickbeds = NavLink("/sickbeds", "家庭病床", "Sick-beds")
    if user.role is UserRole.PLANNER:
        return [NavLink("/overview", "各中心概况", "Centres"), sickbeds, reports]
    if user.role is UserRole.ADMIN:
        return [
            NavLink("/admin", "中心与用户", "Centres & users"),
            NavLink("/overview", "各中心概况", "Centres"),
            registers,
            sickbeds,
            reports,
        ]
    return []


def csrf_token(request: Request) -> str:
    """The form token of this browser's session (empty without a sign-in cookie)."""
    cookie = request.cookies.get(TOKEN_COOKIE, "")
    if not cookie:
        return ""
    key: str = request.app.state.signing_key
    return hmac.new(key.encode(), b"csrf:" + cookie.encode(), hashlib.sha256).hexdigest()


_CSRF_REFUSED = HTTPException(
    status.HTTP_403_FORBIDDEN,
    detail="表单已失效，请刷新页面后重试 / the form's security token is missing or stale: "
    "reload the page and send it again",
)


async def cookie_form_user(
    request: Request, csrf: Annotated[str, Form(alias="csrf_token", max_length=128)] = ""
) -> Principal:
    """The signed-in user of a form posted with the cookie, after its CSRF token is checked."""
    expected = csrf_token(request)
    if not expected or not hmac.compare_digest(expected, csrf):
        raise _CSRF_REFUSED
    return await principal_from_token(request, request.cookies[TOKEN_COOKIE])


CookieFormUser = Annotated[Principal, Depends(cookie_form_user)]


def render(
    request: Request,
    user: Principal | None,
    template: str,
    context: dict[str, Any],
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    """A page in the shared layout: who is signed in, the role's links, the form token."""
    role = ROLE_NAMES.get(user.role) if user else None
    page = {
        "user": user,
        "role_zh": role[0] if role else "",
        "role_en": role[1] if role else "",
        "nav": nav_links(user) if user else [],
        "csrf_token": csrf_token(request),
        "path": request.url.path,
        **context,
    }
    return templates.TemplateResponse(request, template, page, status_code=status_code)
