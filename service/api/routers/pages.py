"""Pages for browsers: sign-in (sets the token cookie) and the map pages of stored plans.

The map pages obey the same access rules as the JSON: a clinician cannot open another
clinician's map by changing the URL (404), a team leader opens his own team's.
"""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from service.api.access import audit, not_found, plan_clinician, plan_visible
from service.api.deps import (
    TOKEN_COOKIE,
    DbSession,
    PlanningDate,
    RowId,
    ServiceSettings,
    make_token,
    require_roles,
)
from service.api.pages import comparison_page, day_page, team_week_page
from service.api.security import page_response
from service.api.throttle import SignInThrottledError, sign_in, wait_in_words
from service.api.views import day_route_residents, residents_on_maps, team_in_centre
from service.db.tables import (
    UserRole,
)
from service.users import Principal
from service.week_edits import old_to_new

router = APIRouter(tags=["pages"])

Staff = Annotated[
    Principal, require_roles(UserRole.ADMIN, UserRole.TEAM_LEADER, UserRole.CLINICIAN)
]
# Not planners: these maps are homes (addresses, real ids, coordinates), and a planner works with
# figures and pseudonyms; his plan figures are in GET /plans/{id}. A role-level refusal is 403,
# like the day map's (service.api.access): it says nothing about which plans or teams exist.
Leaders = Annotated[Principal, require_roles(UserRole.ADMIN, UserRole.TEAM_LEADER)]

_LOGIN = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 Sign in · homevisit</title>
<style>body{{font-family:sans-serif;max-width:420px;margin:40px auto;padding:0 16px}}
label{{display:block;margin:14px 0 4px}}
input{{width:100%;font-size:18px;padding:10px;box-sizing:border-box}}
button{{margin-top:18px;width:100%;min-height:48px;font-size:18px}}.err{{color:#b00}}</style></head>
<body><h1>家庭医生上门服务 · homevisit</h1>{error}
<form method="post" action="/login"><input type="hidden" name="next" value="{next}">
<label for="u">用户名 User name</label>
<input id="u" name="username" autocomplete="username" required>
<label for="p">密码 Password</label><input id="p" name="password" type="password"
 autocomplete="current-password" required>
<button type="submit">登录 Sign in</button></form></body></html>"""


def _safe_next(target: str) -> str:
    """Only a path on this site (no open redirect to another host)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """No icon: answered so browsers do not log a missing file on every page."""
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(next: str = "/") -> HTMLResponse:
    """The sign-in form (for phones and browsers)."""
    return HTMLResponse(_LOGIN.format(error="", next=html.escape(_safe_next(next))))


@router.post("/login", response_model=None, include_in_schema=False)
def login(
    request: Request,
    session: DbSession,
    settings: ServiceSettings,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=512)] = "/",
) -> HTMLResponse | RedirectResponse:
    """Check the password, set the token cookie and go on to the page asked for."""
    try:
        user = sign_in(request, session, username, password)
    except SignInThrottledError as exc:
        zh, en = wait_in_words(exc.retry_after_s)
        page = _LOGIN.format(
            error=f'<p class="err">登录失败次数过多，请 {zh}后再试 Too many wrong passwords: '
            f"try again in {en}</p>",
            next=html.escape(_safe_next(next)),
        )
        return HTMLResponse(
            page,
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(exc.retry_after_s)},
        )
    if user is None:
        page = _LOGIN.format(
            error='<p class="err">用户名或密码错误 Wrong user name or password</p>',
            next=html.escape(_safe_next(next)),
        )
        return HTMLResponse(page, status_code=status.HTTP_401_UNAUTHORIZED)
    token = make_token(user.username, request.app.state.signing_key, settings.token_minutes)
    target = _safe_next(next)  # "/" takes each role to its own page (routers.workspace)
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        TOKEN_COOKIE,
        token,
        max_age=settings.token_minutes * 60,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get(
    "/plans/{plan_id}/maps/day/{clinician_id:path}/{date}",
    response_class=HTMLResponse,
    responses={404: {"description": "Not found"}},
)
def day_map(
    request: Request,
    plan_id: RowId,
    clinician_id: str,
    date: PlanningDate,
    user: Staff,
    session: DbSession,
    settings: ServiceSettings,
) -> HTMLResponse:
    """A clinician's day on a map (her own, or a team leader's team member's) (当日路线地图)."""
    plan = plan_visible(session, user, plan_id)
    plan_clinician(session, user, plan, clinician_id)
    residents = day_route_residents(session, plan_id, clinician_id, date)
    audit(request, user, "read route map", [r or "" for r in residents], f"plan {plan_id} {date}")
    return page_response(day_page(request, settings, plan, clinician_id, date), settings.map_tiles)


@router.get(
    "/plans/{plan_id}/maps/team/{team_id}",
    response_class=HTMLResponse,
    responses={404: {"description": "Not found"}},
)
def team_map(
    request: Request,
    plan_id: RowId,
    team_id: str,
    user: Leaders,
    session: DbSession,
    settings: ServiceSettings,
) -> HTMLResponse:
    """A team's week on a map: a colour per clinician, a layer per day (团队周计划地图)."""
    plan = plan_visible(session, user, plan_id)
    if user.role is UserRole.TEAM_LEADER and team_id != user.team_id:
        raise not_found("team", team_id)
    if not team_in_centre(session, team_id, plan.centre_id):
        raise not_found("team", team_id)
    residents = residents_on_maps(session, [plan_id], team_id)
    audit(request, user, "read team map", residents, f"plan {plan_id} team {team_id}")
    return page_response(team_week_page(request, settings, plan, team_id), settings.map_tiles)


@router.get(
    "/plans/{plan_id}/maps/compare/{other_plan_id}",
    response_class=HTMLResponse,
    responses={404: {"description": "Not found"}},
)
def compare_map(
    request: Request,
    plan_id: RowId,
    other_plan_id: RowId,
    user: Leaders,
    session: DbSession,
    settings: ServiceSettings,
) -> HTMLResponse:
    """Two versions of a centre's week side by side: what was dropped, moved, added (方案对比)."""
    plan_a = plan_visible(session, user, plan_id)
    plan_b = plan_visible(session, user, other_plan_id)
    if plan_b.centre_id != plan_a.centre_id:
        raise not_found("plan of the same centre", other_plan_id)
    # Always from the older version to the newer, whichever order the URL gives them in.
    plan_a, plan_b = old_to_new(plan_a, plan_b)
    team = user.team_id if user.role is UserRole.TEAM_LEADER else None
    residents = residents_on_maps(session, [plan_id, other_plan_id], team)
    audit(request, user, "read comparison map", residents, f"plans {plan_id} {other_plan_id}")
    return page_response(
        comparison_page(request, settings, plan_a, plan_b, team), settings.map_tiles
    )
