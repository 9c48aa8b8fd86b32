"""Register uploads: the dataset's CSV files (or one XLSX workbook) in one multipart request.

The same checks as ``homevisit import``: every problem is reported at once with its file, row,
column and value, and nothing is written unless everything is right.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Request, UploadFile, status
from pydantic import BaseModel

from scheduler.dataset import DatasetError
from service.api.deps import DbSession, ServiceSettings, require_roles
from service.api.errors import invalid
from service.db.importer import DatabaseWriteError, import_dataset
from service.db.tables import UserRole
from service.users import Principal

router = APIRouter(prefix="/imports", tags=["imports"])

Admin = Annotated[Principal, require_roles(UserRole.ADMIN)]
_NAME = re.compile(r"^[\w\-. ]{1,100}\.(csv|xlsx|yaml|yml)$", re.IGNORECASE | re.UNICODE)
_CHUNK = 1024 * 1024
_PROBLEMS_SHOWN = 1000  # a file with a bad cell on every row: the first thousand say enough


class ImportResult(BaseModel):
    """What the import changed, per table, and what it let pass with a warning."""

    lines: list[str]
    warnings: list[str] = []  # e.g. a preferred clinician no longer listed, naming the residents


class ImportProblem(BaseModel):
    """One problem of the upload, located."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    message: str
    message_zh: str = ""
    code: str = ""  # the kind of problem (scheduler.messages.CATALOGUE); "" for an uncoded one


def _save(upload: UploadFile, folder: Path, limit: int) -> Path:
    name = Path(upload.filename or "").name
    if not _NAME.match(name):
        raise invalid(
            "body.files",
            f"{name!r}: upload .csv files named as in docs/dataset-format.md, or one .xlsx",
        )
    target = folder / name
    written = 0
    with target.open("wb") as out:
        while chunk := upload.file.read(_CHUNK):
            written += len(chunk)
            if written > limit:
                raise HTTPException(
                    status.HTTP_413_CONTENT_TOO_LARGE,
                    detail=f"{name} 文件过大 / {name} is larger than the {limit / _CHUNK:g} MB "
                    "an import accepts per file",
                )
            out.write(chunk)
    return target


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
    user: Admin,
    session: DbSession,
    settings: ServiceSettings,
    files: Annotated[
        list[UploadFile], File(description="residents.csv, clinicians.csv, ... or one .xlsx")
    ],
) -> ImportResult:
    """Import the registers from CSV files or an XLSX workbook, all or nothing (导入档案)."""
    limit = int(settings.import_max_file_mb * _CHUNK)
    stopping = request.app.state.stopping
    with tempfile.TemporaryDirectory(prefix="homevisit-upload-") as folder:
        saved = [_save(f, Path(folder), limit) for f in files]
        workbooks = [p for p in saved if p.suffix.lower() == ".xlsx"]
        if workbooks and len(saved) > 1:
            raise invalid("body.files", "upload either one .xlsx workbook or the .csv files")
        source = workbooks[0] if workbooks else Path(folder)
        try:
            # A sync route: this runs in a worker thread, never on the event loop, and the read
            # limits bound it; a server shutting down stops it (``stopping``).
            summary = import_dataset(
                request.app.state.engine, source, settings, cancelled=stopping.is_set
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
                for p in exc.problems[:_PROBLEMS_SHOWN]
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
