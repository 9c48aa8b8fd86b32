"""Register uploads: the dataset's CSV files (or one XLSX workbook) in one multipart request.

The same checks as ``homevisit import``: every problem is reported at once with its file, row,
column and value, and nothing is written unless everything is right. An admin imports any
register; a team leader his own team's only (:mod:`service.db.team_scope`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Request, UploadFile, status

from scheduler.dataset import DatasetError
from service.api.deps import DbSession, ServiceSettings, require_roles
from service.api.models import ImportProblem, ImportResult
from service.api.registers import IMPORT_ROLES, PROBLEMS_SHOWN, import_upload
from service.db.importer import DatabaseWriteError
from service.users import Principal

router = APIRouter(prefix="/imports", tags=["imports"])

Importer = Annotated[Principal, require_roles(*IMPORT_ROLES)]


@router.post(
    "",
    response_model=ImportResult,
    responses={
        422: {"description": "The upload has problems; nothing was written"},
        413: {"description": "A file is too large"},
    },
)
def upload_dataset(
    request: Request,
    user: Importer,
    session: DbSession,
    settings: ServiceSettings,
    files: Annotated[
        list[UploadFile], File(description="residents.csv, clinicians.csv, ... or one .xlsx")
    ],
) -> ImportResult:
    """Import the registers from CSV files or an XLSX workbook, all or nothing (导入档案).

    An admin imports any register; a team leader his own team's only: a row naming another
    team is one of the problems (file, row, column), and nothing of another team is written.
    """
    stopping = request.app.state.stopping
    try:
        # A sync route: this runs in a worker thread, never on the event loop, and the read
        # limits bound it; a server shutting down stops it (``stopping``).
        summary = import_upload(
            request.app.state.engine, files, settings, user, cancelled=stopping.is_set
        )
    except DatasetError as exc:
        problems = [
            ImportProblem(
                file=p.file,
                row=p.row,
                column=p.column,
                value=p.value,
                message=p.message,
                message_zh=p.message_zh,
                code=p.code,
            ).model_dump()
            for p in exc.problems[:PROBLEMS_SHOWN]
        ]
        more = len(exc.problems) - len(problems)
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail={
                "detail": "上传的文件有问题，未写入任何数据 / the upload has problems; "
                "nothing was written"
                + (f" ({more} more problems not shown: fix these first)" if more else ""),
                "problems": problems,
            },
        ) from None
    except DatabaseWriteError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from None
    request.app.state.read_cache.clear()
    return ImportResult(lines=summary.lines(), warnings=summary.warnings)
