"""The home sick-bed page (家庭病床): a team leader's open episodes, opening and discharging one.

``GET /sickbeds`` lists the open sick-beds the user may see (:func:`service.sickbeds.open_episodes`:
a team leader his team's, an admin every centre's, a planner every centre's under pseudonyms and
without the forms; a clinician has no such page), with when each was opened and where its
rounds stand. The forms post with the sign-in cookie and its CSRF token; the change is
:func:`service.sickbeds.change_sickbed`, the JSON API's too. A refusal comes back on the page,
every reason in Chinese and English, with what was typed; reads and changes are audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from scheduler.dataset.values import invisible_character
from service.api.access import audit, mask_name, pseudonym
from service.api.deps import PLANNING_DATE_MAX, PLANNING_DATE_MIN, DbSession
from service.api.routers import workspace as workspace_pages
from service.api.routers.workspace import PageUser
from service.api.web import CookieFormUser, render
from service.db.records import RecordError
from service.db.tables import UserRole
from service.sickbeds import change_sickbed, open_episodes, residents_without_bed
from service.users import Principal

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_READERS = (UserRole.TEAM_LEADER, UserRole.ADMIN, UserRole.PLANNER)
_WRITERS = (UserRole.TEAM_LEADER, UserRole.ADMIN)
_DONE = {
    "opened": ("已建床。", "The sick-bed is open."),
    "discharged": ("已撤床。", "The sick-bed is discharged."),
}
REASONS = (
    ("病情好转", "recovered"),
    ("转入医院", "admitted to hospital"),
    ("转入养老机构", "moved to a care home"),
    ("居民要求撤床", "at the resident's request"),
    ("死亡", "deceased"),
)
"""Reasons offered for a discharge (any other may be typed)."""


def _refuse_role(user: Principal, roles: tuple[UserRole, ...]) -> None:
    if user.role not in roles:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"家庭病床页面不对此角色开放 / the {user.role.value} role cannot use the "
            "home sick-bed page",
        )


def _page(
    request: Request,
    user: Principal,
    session: DbSession,
    context: dict[str, object],
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    today = workspace_pages.today()
    episodes = open_episodes(session, user, today)
    writer = user.role in _WRITERS
    planner = user.role is UserRole.PLANNER
    key = request.app.state.signing_key
    rows = [
        {
            "episode": e,
            "who": pseudonym(e.resident_id, key) if planner else mask_name(e.name),
            "resident_id": "" if planner else e.resident_id,
        }
        for e in episodes
    ]
    # A team's residents fit a list to choose from; an admin's district does not: he types the id.
    listed = user.role is UserRole.TEAM_LEADER
    candidates = residents_without_bed(session, user) if listed else []
    audit(
        request,
        user,
        "read sickbed page",
        [e.resident_id for e in episodes] + [rid for rid, _ in candidates],
        f"{len(episodes)} open",
    )
    return render(
        request,
        user,
        "sickbeds.html",
        {
            "rows": rows,
            "writer": writer,
            "planner": planner,
            "listed": listed,
            "candidates": [(rid, mask_name(name)) for rid, name in candidates],
            "today": today,
            "reasons": REASONS,
            "errors": [],
            "form": {},
            **context,
        },
        status_code,
    )


@router.get("/sickbeds", response_class=HTMLResponse)
def sickbeds_page(
    request: Request,
    user: PageUser,
    session: DbSession,
    done: Annotated[str, Query(max_length=16)] = "",
) -> HTMLResponse:
    """The open home sick-beds in the user's sight, their rounds, and (a team leader, an
    admin) the forms to open and discharge one."""
    _refuse_role(user, _READERS)
    return _page(request, user, session, {"done": _DONE.get(done)})


def _day(text: str, problems: list[str]) -> dt.date | None:
    text = text.strip()
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        problems.append(
            f"日期 '{text}' 无法识别，请写成 2026-12-01 / the date '{text}' is not a date: write "
            "it as 2026-12-01"
        )
        return None
    if not PLANNING_DATE_MIN <= day <= PLANNING_DATE_MAX:
        problems.append(
            f"日期须在 {PLANNING_DATE_MIN} 至 {PLANNING_DATE_MAX} 之间 / {day} is not a date the "
            f"service records: give one from {PLANNING_DATE_MIN} to {PLANNING_DATE_MAX}"
        )
        return None
    return day


def _text(text: str, zh: str, en: str, problems: list[str]) -> str:
    text = text.strip()
    reason = invisible_character(text)
    if reason is not None:
        problems.append(f"{zh}含有不可见字符 / the {en} holds an invisible character: {reason}")
    return text


def _change(
    request: Request,
    user: Principal,
    session: DbSession,
    resident_id: str,
    date: str,
    reason: str,
    *,
    discharge: bool,
) -> Response:
    _refuse_role(user, _WRITERS)
    form = {"action": "discharge" if discharge else "open", "resident_id": resident_id}
    form |= {"date": date, "reason": reason}
    problems: list[str] = []
    resident_id = _text(resident_id, "居民编号", "resident id", problems)
    reason = _text(reason, "撤床原因", "reason", problems)
    if not resident_id:
        problems.append("请选择居民 / choose a resident")
    if discharge and not reason:
        problems.append("请填写撤床原因 / give the reason for the discharge")
    day = _day(date, problems)
    episode_id = None
    if not problems and day is not None:
        try:
            episode_id = change_sickbed(
                session,
                user,
                resident_id,
                day,
                discharge=discharge,
                reason=reason,
                today=workspace_pages.today(),
            )
        except HTTPException as exc:
            if exc.status_code != status.HTTP_404_NOT_FOUND:
                raise
            problems.append(
                f"您可查看的居民中没有 '{resident_id}' / no resident '{resident_id}' in your "
                "sight (your own team's)"
            )
        except RecordError as exc:
            problems.extend(exc.problems)
    if episode_id is None:
        context: dict[str, object] = {"errors": problems, "form": form, "done": None}
        return _page(request, user, session, context, status.HTTP_422_UNPROCESSABLE_CONTENT)
    action = "record sickbed discharge" if discharge else "record sickbed open"
    audit(request, user, action, [resident_id], f"episode {episode_id}")
    done = "discharged" if discharge else "opened"
    return RedirectResponse(f"/sickbeds?done={done}", status.HTTP_303_SEE_OTHER)


@router.post("/sickbeds/open", response_model=None)
def open_from_page(
    request: Request,
    user: CookieFormUser,
    session: DbSession,
    resident_id: Annotated[str, Form(max_length=64)] = "",
    date: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Open a home sick-bed (建床) for a resident of my team."""
    return _change(request, user, session, resident_id, date, "", discharge=False)


@router.post("/sickbeds/discharge", response_model=None)
def discharge_from_page(
    request: Request,
    user: CookieFormUser,
    session: DbSession,
    resident_id: Annotated[str, Form(max_length=64)] = "",
    date: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Discharge a resident's open home sick-bed (撤床), with the reason."""
    return _change(request, user, session, resident_id, date, reason, discharge=True)
