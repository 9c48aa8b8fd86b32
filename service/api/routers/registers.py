"""The registers page: upload a workbook or the CSV files from a browser (导入档案).

The form posts with the sign-in cookie and its CSRF token (:data:`service.api.web.CookieFormUser`);
the body-size limit of ``/imports`` applies (:mod:`service.api.body_limit`), and so do the read
limits. The import is the JSON API's (:func:`service.api.registers.import_upload`): an admin
imports any register, a team leader his own team's only; all or nothing. The problems come back
as a table: the file or sheet, the row, the header as the user wrote it, the value, and what is
wrong and what would be right, in Chinese and English.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Request, UploadFile, status
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from scheduler.dataset import DatasetError
from service.api.access import audit
from service.api.deps import DbSession, ServiceSettings
from service.api.registers import (
    PROBLEMS_SHOWN,
    import_upload,
    problem_lines,
    scope_of,
    summary_rows,
    team_register,
    unplaced_residents,
    workbook_of,
)
from service.api.routers.workspace import PageUser
from service.api.web import CookieFormUser, render
from service.db.importer import DatabaseWriteError, ImportSummary
from service.users import Principal

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/registers", response_class=HTMLResponse)
def registers_page(
    request: Request, user: PageUser, settings: ServiceSettings, session: DbSession
) -> HTMLResponse:
    """The upload form, saying what the user's role may import (a team leader: with his
    team's register to download, edit and upload again)."""
    scope = scope_of(user)  # 403 for a role that imports nothing
    unplaced = 0 if scope is None else unplaced_residents(session, scope)
    return _page(request, user, settings, {"unplaced": unplaced})


@router.get("/registers/team.xlsx", response_class=Response)
def team_register_download(request: Request, user: PageUser, session: DbSession) -> Response:
    """The team leader's register as stored, one workbook with Chinese sheets and headers: to
    edit and upload again (an upload of it unchanged changes nothing)."""
    scope = scope_of(user)
    if scope is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail="一个团队的档案由团队长下载；管理员用 homevisit export 导出全中心 / a team's "
            "register is its leader's download; an admin exports centres with homevisit export",
        )
    dataset = team_register(session, scope)
    audit(request, user, "download register", list(dataset.residents), f"team {scope.team_id}")
    name = f"register-{scope.team_id}.xlsx"
    return Response(
        workbook_of(dataset),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/registers", response_class=HTMLResponse)
async def upload_registers(
    request: Request,
    user: CookieFormUser,
    settings: ServiceSettings,
    files: Annotated[list[UploadFile], File()],
) -> HTMLResponse:
    """Import the uploaded registers; the page again with what changed, or the problems."""
    scope_of(user)
    stopping = request.app.state.stopping
    try:
        # Reading a register takes seconds: in a worker thread, never on the event loop.
        summary: ImportSummary = await run_in_threadpool(
            import_upload,
            request.app.state.engine,
            files,
            settings,
            user,
            stopping.is_set,
        )
    except DatasetError as exc:
        context = {
            "problems": problem_lines(exc.problems),
            "more": max(0, len(exc.problems) - PROBLEMS_SHOWN),
        }
        return _page(request, user, settings, context, status.HTTP_422_UNPROCESSABLE_CONTENT)
    except DatabaseWriteError as exc:
        return _page(
            request, user, settings, {"error": str(exc)}, status.HTTP_503_SERVICE_UNAVAILABLE
        )
    except HTTPException as exc:
        if exc.status_code == status.HTTP_403_FORBIDDEN:
            raise
        return _page(request, user, settings, {"error": _in_words(exc.detail)}, exc.status_code)
    request.app.state.read_cache.clear()
    return _page(
        request, user, settings, {"summary": summary, "summary_rows": summary_rows(summary)}
    )


def _in_words(detail: object) -> str:
    """A refusal of the upload (a file name, a size) as the page shows it."""
    if isinstance(detail, dict):
        reasons = [str(e.get("reason", "")) for e in detail.get("errors", [])]
        return "; ".join(r for r in reasons if r) or str(detail.get("detail", ""))
    return str(detail)


def _page(
    request: Request,
    user: Principal,
    settings: ServiceSettings,
    context: dict[str, object],
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    return render(
        request,
        user,
        "registers.html",
        {
            "scope": scope_of(user),
            "max_file_mb": f"{settings.import_max_file_mb:g}",
            "max_total_mb": f"{settings.import_max_total_mb:g}",
            **context,
        },
        status_code=status_code,
    )
