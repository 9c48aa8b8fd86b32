"""Register uploads, for the JSON API (``POST /imports``) and the registers page alike.

:func:`save_upload` keeps the uploaded files in a folder (names and sizes checked as they are
written); :func:`import_registers` imports them for a user: an admin imports any register, a team
leader his own team's only (:mod:`service.db.team_scope`: a row naming another team is refused
with its file, row and column, and nothing of another team is written). Both run in a worker
thread: the reading of a register takes seconds, never the event loop.
"""

from __future__ import annotations

import dataclasses
import io
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, UploadFile, status
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from scheduler.cells import neutralise_cell
from scheduler.dataset import COLUMN_ALIASES_ZH, TABLE_ALIASES_ZH, InputProblem
from scheduler.dataset.write import dataset_tables
from scheduler.model import Dataset
from service.api.errors import invalid
from service.db.exporter import load_dataset
from service.db.importer import ImportSummary, import_dataset
from service.db.tables import ResidentRow, UserRole
from service.db.team_scope import TeamScope
from service.settings import Settings
from service.users import Principal

__all__ = [
    "IMPORT_ROLES",
    "PROBLEMS_SHOWN",
    "ProblemLine",
    "import_registers",
    "import_upload",
    "problem_lines",
    "save_upload",
    "scope_of",
    "summary_rows",
    "team_register",
    "unplaced_residents",
    "workbook_of",
]

IMPORT_ROLES = (UserRole.ADMIN, UserRole.TEAM_LEADER)
# Any name a computer saves a copy under ("档案 (1).xlsx", "档案（副本）.xlsx"), but none with a
# path, a control character or a character Windows refuses in a file name.
_NAME = re.compile(r'^[^\x00-\x1f\x7f/\\:*?"<>|]{1,100}\.(csv|xlsx|yaml|yml)$', re.IGNORECASE)
_CHUNK = 1024 * 1024
PROBLEMS_SHOWN = 1000  # a file with a bad cell on every row: the first thousand say enough


def scope_of(user: Principal) -> TeamScope | None:
    """What ``user`` may import: everything (an admin, ``None``) or his own team's register.

    Raises
    ------
    HTTPException
        403 for a role that imports nothing (a planner, a clinician), or a team leader whose
        account names no team.
    """
    if user.role is UserRole.ADMIN:
        return None
    if user.role is UserRole.TEAM_LEADER and user.team_id and user.centre_id:
        return TeamScope(user.centre_id, user.team_id)
    raise HTTPException(
        status.HTTP_403_FORBIDDEN,
        detail=f"导入档案需要管理员或团队长 / the {user.role.value} role cannot import registers",
    )


def save_upload(files: list[UploadFile], folder: Path, limit: int) -> Path:
    """Write the uploaded files into ``folder``; the path to read: the workbook or the folder.

    Raises
    ------
    HTTPException
        422 for a file name that is no register's (or a workbook beside other files), 413 for a
        file larger than ``limit`` bytes (written no further).
    """
    saved = [_save(f, folder, limit) for f in files]
    workbooks = [p for p in saved if p.suffix.lower() == ".xlsx"]
    if workbooks and len(saved) > 1:
        raise invalid("body.files", "upload either one .xlsx workbook or the .csv files")
    return workbooks[0] if workbooks else folder


def _save(upload: UploadFile, folder: Path, limit: int) -> Path:
    name = Path(upload.filename or "").name
    if not _NAME.match(name):
        raise invalid(
            "body.files",
            f"文件“{name}”不能导入：请上传按 docs/dataset-format.md 命名的 .csv 文件，"
            f'或一个 .xlsx 工作簿（文件名中不能有 \\ / : * ? " < > |） / {name!r}: upload .csv '
            "files named as in docs/dataset-format.md, or one .xlsx "
            '(a name without \\ / : * ? " < > |)',
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


def import_registers(
    engine: Engine,
    source: Path,
    settings: Settings,
    user: Principal,
    cancelled: Callable[[], bool] | None = None,
) -> ImportSummary:
    """Import the registers at ``source`` as ``user`` may: all or nothing.

    Raises
    ------
    HTTPException
        403 for a role that imports nothing.
    DatasetError
        The upload has problems (rows of another team among them); nothing was written.
    DatabaseWriteError
        The database failed; nothing was written.
    """
    scope = scope_of(user)
    return import_dataset(engine, source, settings, cancelled=cancelled, scope=scope)


def import_upload(
    engine: Engine,
    files: list[UploadFile],
    settings: Settings,
    user: Principal,
    cancelled: Callable[[], bool] | None = None,
) -> ImportSummary:
    """Save the uploaded files in a temporary folder and import them as ``user`` may (the
    folder is gone afterwards). Blocking: call it from a worker thread.

    Raises what :func:`save_upload` and :func:`import_registers` raise.
    """
    scope_of(user)  # a role that imports nothing is refused before a byte is written
    limit = int(settings.import_max_file_mb * _CHUNK)
    with tempfile.TemporaryDirectory(prefix="homevisit-upload-") as folder:
        source = save_upload(files, Path(folder), limit)
        return import_registers(engine, source, settings, user, cancelled)


@dataclass(frozen=True, slots=True)
class ProblemLine:
    """One problem as the registers page shows it: where, the value, what is wrong in Chinese
    and in English (each saying what would be right)."""

    file: str  # the file, or the workbook and its sheet
    row: int | None
    column: str | None  # the header as the user wrote it
    value: str | None
    zh: str
    en: str


def problem_lines(problems: tuple[InputProblem, ...]) -> list[ProblemLine]:
    """The first :data:`PROBLEMS_SHOWN` problems as table lines."""
    return [
        ProblemLine(
            p.file,
            p.row,
            p.column,
            p.value,
            p.message_zh,
            p.message.removeprefix(f"{p.message_zh} / ") if p.message_zh else p.message,
        )
        for p in problems[:PROBLEMS_SHOWN]
    ]


_TABLE_NAMES = {
    "centres": "中心",
    "committees": "居委会",
    "clinicians": "医护人员",
    "residents": "居民",
    "requests": "服务申请",
    "programme overrides": "服务项目规则",
}


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """What an import did to one register, as the page's table shows it."""

    zh: str
    en: str
    added: int
    updated: int
    unchanged: int
    deactivated: int | None  # None: the register has no "inactive" (history, sick-beds)


def summary_rows(summary: ImportSummary) -> list[SummaryRow]:
    """One row per register: added, updated, unchanged, marked inactive."""
    rows = [
        SummaryRow(
            _TABLE_NAMES.get(name, name), name, c.added, c.updated, c.unchanged, c.deactivated
        )
        for name, c in summary.tables.items()
    ]
    rows.append(
        SummaryRow("服务记录", "history", summary.history_added, 0, summary.history_known, None)
    )
    bed = summary.sickbeds
    rows.append(
        SummaryRow("家庭病床", "sick-bed episodes", bed.added, bed.updated, bed.unchanged, None)
    )
    return rows


def team_register(session: Session, scope: TeamScope) -> Dataset:
    """The team's register as stored (active rows): his centre, its committees, his team's
    clinicians and residents with their history, requests and sick-bed episodes (no programme
    rules: they are every team's). What :func:`import_registers` takes back unchanged."""
    dataset = load_dataset(session, [scope.centre_id])
    residents = {k: r for k, r in dataset.residents.items() if r.team_id == scope.team_id}
    team: Dataset = dataclasses.replace(
        dataset,
        clinicians={k: c for k, c in dataset.clinicians.items() if c.team_id == scope.team_id},
        residents=residents,
        history=tuple(h for h in dataset.history if h.resident_id in residents),
        requests=tuple(r for r in dataset.requests if r.resident_id in residents),
        sickbeds=tuple(e for e in dataset.sickbeds if e.resident_id in residents),
        programme_overrides={},
        warnings=(),
    )
    return team


def unplaced_residents(session: Session, scope: TeamScope) -> int:
    """How many active residents of the team wait for a place (geocoding): not in the download."""
    count = session.scalar(
        select(func.count()).where(
            ResidentRow.team_id == scope.team_id,
            ResidentRow.active.is_(True),
            ResidentRow.lat.is_(None),
        )
    )
    return int(count or 0)


_SHEETS = {stem: zh for zh, stem in reversed(list(TABLE_ALIASES_ZH.items()))}
_HEADERS: dict[str, str] = {}
for _zh, _column in COLUMN_ALIASES_ZH.items():
    _HEADERS.setdefault(_column, _zh)
_NUMBERS = frozenset({"lat", "lon"})  # written as the reader reads them, never quoted


def workbook_of(dataset: Dataset) -> bytes:
    """``dataset`` as one ``.xlsx``: a sheet per file, sheet names and headers in Chinese (the
    reader maps them back), every cell text and none a formula (:mod:`scheduler.cells`)."""
    book = Workbook(write_only=True)
    for stem, frame in dataset_tables(dataset).items():
        if stem == "programmes":
            continue
        sheet = book.create_sheet(_SHEETS.get(stem, stem))
        sheet.append([_HEADERS.get(str(c), str(c)) for c in frame.columns])
        for values in frame.itertuples(index=False):
            cells = []
            for column, value in zip(frame.columns, values, strict=True):
                text = "" if value is None else str(value)
                cell = WriteOnlyCell(
                    sheet, value=text if column in _NUMBERS else neutralise_cell(text)
                )
                cell.data_type = "s"
                cells.append(cell)
            sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
