"""The dataset contract (``shared/FORMAT.md``) <-> the domain objects of :mod:`scheduler.model`.

:func:`read_dataset` reads a folder of CSV files, or an ``.xlsx`` workbook with one sheet per
file, into a :class:`~scheduler.model.Dataset`. Every cell is checked, and *all* problems are
collected before a :class:`DatasetError` is raised: a team leader fixing a spreadsheet wants the
whole list at once, each problem with the file, the row (as the spreadsheet shows it: header = row
1), the column and the value. Headers may be English or Chinese (:data:`COLUMN_ALIASES_ZH`).

:func:`write_plan` writes a plan as ``plan.csv``, ``routes.csv``, ``unscheduled.csv`` and
``kpis.json``; :func:`read_plan` reads those files back into the same :class:`Plan`.

This is the only module of the core that uses pandas (for CSV reading and writing).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import math
import re
import time
import unicodedata
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from enum import Enum, StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, TypeVar

import pandas as pd
import yaml

from scheduler import coords
from scheduler.cells import neutralise_cell, restore_cell
from scheduler.evaluation.reasons import LeftOutKind, left_out_kind
from scheduler.evaluation.text import windows_summary
from scheduler.messages_zh import translate
from scheduler.model import (
    MINUTES_PER_DAY,
    WEEKDAYS,
    AvailabilityItem,
    Centre,
    Clinician,
    Committee,
    Dataset,
    Disability,
    HistoryRecord,
    Location,
    Place,
    Plan,
    Problem,
    Resident,
    Role,
    Route,
    ServiceRequest,
    SickbedEpisode,
    Stop,
    TimeWindow,
    TravelMode,
    Unscheduled,
    Visit,
    VisitOutcome,
    format_hhmm,
    parse_tests,
)
from scheduler.programmes import builtin_programmes

__all__ = [
    "COLUMN_ALIASES_ZH",
    "OPTIONAL_COLUMNS",
    "PLAN_COLUMNS",
    "REQUIRED_COLUMNS",
    "ROUTE_COLUMNS",
    "TABLE_ALIASES_ZH",
    "UNSCHEDULED_COLUMNS",
    "VALUE_ALIASES_ZH",
    "DatasetError",
    "InputProblem",
    "ReadLimits",
    "canonical_column",
    "canonical_table",
    "check_dataset_limits",
    "invisible_character",
    "parse_availability",
    "parse_bool",
    "parse_date",
    "parse_time",
    "parse_weekdays",
    "read_dataset",
    "read_plan",
    "read_requests",
    "write_plan",
]

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)

# --- problems --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InputProblem:
    """One thing wrong with the input, located as precisely as possible.

    ``row`` is the row number a spreadsheet shows (the header is row 1, the first data row is
    row 2); ``row``, ``column`` and ``value`` are ``None`` when the problem is about the whole
    file or column. ``column`` is the header as the user wrote it (``下班时间`` in a register with
    Chinese headers, ``shift_end`` in one with English headers). ``message`` is English;
    ``message_zh`` its Chinese (from :mod:`scheduler.messages_zh` unless given; ``""`` when the
    catalogue lacks it).
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    message: str
    message_zh: str = ""

    def __post_init__(self) -> None:
        if not self.message_zh:
            object.__setattr__(self, "message_zh", translate(self.message))

    @property
    def text_en(self) -> str:
        """The problem in English: file, row, column, value, then what is wrong."""
        parts = [self.file]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        if self.value is not None:
            parts.append(f"value '{self.value}'")
        english = self.message.removeprefix(f"{self.message_zh} / ")  # of a "中文 / English" one
        return ", ".join(parts) + ": " + english

    @property
    def text_zh(self) -> str:
        """The problem in Chinese (the English message where no Chinese is known)."""
        parts = [self.file]
        if self.row is not None:
            parts.append(f"第 {self.row} 行")
        if self.column is not None:
            parts.append(f"“{self.column}”列")
        if self.value is not None:
            parts.append(f"值“{self.value}”")
        return "，".join(parts) + "：" + (self.message_zh or self.message)

    def __str__(self) -> str:
        """Chinese first, English beside (one line)."""
        if not self.message_zh:
            return self.text_en
        return f"{self.text_zh} / {self.text_en}"


class DatasetError(Exception):
    """The input cannot be used; ``problems`` lists everything found, not only the first."""

    problems: tuple[InputProblem, ...]

    def __init__(self, problems: Iterable[InputProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = [f"{count} problem{'s' if count != 1 else ''} in the input:"]
        lines += [f"- {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


# --- limits ----------------------------------------------------------------------------------

_MB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """How much a dataset may hold; anything beyond is refused in seconds, before it is parsed.

    The defaults hold a whole district's registers (its largest file is about 7 MB, its history
    183,000 rows) with room to spare, and refuse what would tie up a server: a header of a million
    columns, a workbook that unpacks to gigabytes, a cell holding a book. The service passes its
    settings (``HOMEVISIT_IMPORT_*``); the core never reads the environment.

    ``max_compression_ratio`` applies to workbook members larger than 1 MB unpacked: a real
    sheet packs 5-20 times, a zip bomb hundreds of times. ``time_limit_s`` is a backstop behind
    the others: it bounds the reading and checking of the rows (the district as one workbook
    takes 170 s on a busy machine; parsing a CSV file is bounded by its size).
    """

    max_file_bytes: int = 32 * _MB
    max_total_bytes: int = 48 * _MB
    max_unpacked_bytes: int = 100 * _MB
    max_compression_ratio: float = 100.0
    max_columns: int = 500
    max_rows: int = 1_000_000
    max_cell_chars: int = 2_000
    time_limit_s: float = 600.0

    def __post_init__(self) -> None:
        for limit in fields(self):
            if not getattr(self, limit.name) > 0:
                raise ValueError(f"the read limit {limit.name} must be positive")


def _file_problem(file: str, message: str) -> InputProblem:
    """A problem of a whole file (no row, column or value)."""
    return InputProblem(file, None, None, None, message)


def _mb(size: int) -> str:
    return f"{size / _MB:.1f} MB"


# Characters no register cell holds: C0/C1 control characters (NUL included; tab and line breaks
# are allowed, a multi-line address is real) and the bidirectional overrides that make text show
# in another order than it is stored (ids and names that look like others).
_FORBIDDEN_CHARS: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)
_SHOWN_CHARS: Final = 60


def invisible_character(text: str) -> str | None:
    """Why ``text`` cannot be stored as register text, or ``None`` if it can.

    Names the first control character (NUL, C0/C1; tab and line breaks are allowed) or
    bidirectional override in it, with its position, in Chinese and English.
    """
    found = _FORBIDDEN_CHARS.search(text)
    if found is None:
        return None
    code = f"U+{ord(found[0]):04X}"
    name = unicodedata.name(found[0], "control character")
    return (
        f"含有不可见的控制字符 {code}，请删除 / holds the invisible character {code} ({name}) "
        f"at character {found.start() + 1}: delete it"
    )


def _visible(text: str) -> str:
    """``text`` as a problem may show it: control characters spelled out, long text cut."""
    shown = _FORBIDDEN_CHARS.sub(lambda m: f"\\u{ord(m[0]):04x}", text[:_SHOWN_CHARS])
    return shown + ("…" if len(text) > _SHOWN_CHARS else "")


class _OutOfTimeError(Exception):
    """Reading took longer than :attr:`ReadLimits.time_limit_s`."""


class _CancelledError(Exception):
    """The caller asked the read to stop (e.g. the server is shutting down)."""


class _Deadline:
    """The time budget of one read: :meth:`check` raises :class:`_OutOfTimeError` once spent,
    or :class:`_CancelledError` once ``cancelled()`` says so."""

    __slots__ = ("cancelled", "end")

    def __init__(self, limit_s: float, cancelled: Callable[[], bool] | None = None) -> None:
        self.end = time.monotonic() + limit_s
        self.cancelled = cancelled

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise _OutOfTimeError
        if self.cancelled is not None and self.cancelled():
            raise _CancelledError


def _too_many_columns(file: str, row: int | None, count: int, limits: ReadLimits) -> InputProblem:
    return InputProblem(
        file,
        row,
        None,
        None,
        f"有 {count:,} 列，超过上限 {limits.max_columns:,} 列 / has {count:,} columns, more than "
        f"the {limits.max_columns:,} a register may have: check that it is the right file "
        "(limit: HOMEVISIT_IMPORT_MAX_COLUMNS)",
    )


def _too_many_rows(file: str, limits: ReadLimits) -> InputProblem:
    return _file_problem(
        file,
        f"超过 {limits.max_rows:,} 行 / has more than the {limits.max_rows:,} rows a register may "
        "have: split it by centre (limit: HOMEVISIT_IMPORT_MAX_ROWS)",
    )


def _dataset_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(
            p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _DATASET_SUFFIXES
        )
    return [path] if path.is_file() else []


_DATASET_SUFFIXES: Final = (".csv", ".yaml", ".yml", ".xlsx", ".xlsm")
_WORKBOOK_SUFFIXES: Final = (".xlsx", ".xlsm")


def check_dataset_limits(path: Path, limits: ReadLimits) -> None:
    """Refuse at once what is too large to read, before anything parses it.

    Checks each file's size and their total, a workbook's unpacked size (each member's declared
    size, its compression ratio, then the bytes it really unpacks to) and the width of each CSV
    file's first row. :func:`read_dataset` calls it first; a caller that opens the files itself
    beforehand (the service's geocoding) calls it before that.

    Raises :class:`DatasetError` naming each file, its size and the limit.
    """
    path = Path(path)
    files = _dataset_files(path)
    problems: list[InputProblem] = []
    for file in files:
        size = file.stat().st_size
        if size > limits.max_file_bytes:
            problems.append(
                _file_problem(
                    file.name,
                    f"is {_mb(size)}, more than the {limits.max_file_bytes / _MB:g} MB an import "
                    "accepts (a district register is about 7 MB) / 文件过大: check that it is the "
                    "right file, or split the register by centre (limit: "
                    "HOMEVISIT_IMPORT_MAX_FILE_MB)",
                )
            )
    total = sum(file.stat().st_size for file in files)
    if not problems and total > limits.max_total_bytes:
        problems.append(
            _file_problem(
                path.name,
                f"the files are {_mb(total)} together, more than the "
                f"{limits.max_total_bytes / _MB:g} MB an import accepts / 文件合计过大 "
                "(limit: HOMEVISIT_IMPORT_MAX_TOTAL_MB)",
            )
        )
    if problems:
        raise DatasetError(problems)
    for file in files:
        if file.suffix.lower() in _WORKBOOK_SUFFIXES:
            problems += _check_workbook_archive(file, limits)
        elif file.suffix.lower() == ".csv":
            problems += _check_csv_width(file, limits)
    if problems:
        raise DatasetError(problems)


def _check_csv_width(path: Path, limits: ReadLimits) -> list[InputProblem]:
    """The first row's width: the CSV parser makes every row that wide (a later, wider row is
    refused by the parser at once), so a header of a million columns must stop here."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            width = _first_row_width(handle)
    except OSError:
        return []  # the reader reports an unreadable file
    if width > limits.max_columns:
        return [_too_many_columns(path.name, 1, width, limits)]
    return []


_UNPACK_CHUNK: Final = _MB


def _check_workbook_archive(path: Path, limits: ReadLimits) -> list[InputProblem]:
    """A workbook is a zip archive: refuse one that unpacks to far more than it weighs."""
    budget = limits.max_unpacked_bytes
    too_big = (
        f"more than the {budget / _MB:g} MB a workbook may unpack to / 工作簿解压后过大 "
        "(limit: HOMEVISIT_IMPORT_MAX_UNPACKED_MB)"
    )
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            declared = sum(m.file_size for m in members)
            if declared > budget:
                return [_file_problem(path.name, f"unpacks to {_mb(declared)}, {too_big}")]
            for member in members:
                ratio = member.file_size / max(member.compress_size, 1)
                if member.file_size > _MB and ratio > limits.max_compression_ratio:
                    return [
                        _file_problem(
                            path.name,
                            f"{member.filename} unpacks to {_mb(member.file_size)} from "
                            f"{member.compress_size / 1024:.0f} KB ({ratio:.0f} times its size; "
                            f"a spreadsheet packs at most {limits.max_compression_ratio:g} times) "
                            "/ 压缩比异常，可能是恶意文件: save the workbook again from Excel",
                        )
                    ]
            unpacked = 0
            for member in members:  # the declared sizes may lie: count what really comes out
                with archive.open(member) as stream:
                    while chunk := stream.read(_UNPACK_CHUNK):
                        unpacked += len(chunk)
                        if unpacked > budget:
                            return [
                                _file_problem(
                                    path.name,
                                    f"unpacks to more than {_mb(budget)}, {too_big}",
                                )
                            ]
    # NotImplementedError: a compression method zipfile does not know.
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        return [_file_problem(path.name, f"cannot be read as .xlsx: {exc}")]
    return []


# --- the columns -----------------------------------------------------------------------------

REQUIRED_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "centres": ("centre_id", "name", "lat", "lon"),
    "committees": ("committee_id", "centre_id", "name", "lat", "lon"),
    "clinicians": (
        "clinician_id",
        "name",
        "team_id",
        "centre_id",
        "role",
        "skills",
        "travel_mode",
        "work_days",
        "shift_start",
        "shift_end",
        "lunch_start",
        "lunch_end",
    ),
    "residents": (
        "resident_id",
        "name",
        "birth_date",
        "lat",
        "lon",
        "committee_id",
        "team_id",
        "preferred_clinician_id",
        "disability",
        "hypertension",
        "diabetes",
        "home_sickbed",
        "homebound",
        "availability",
    ),
    "history": ("resident_id", "programme", "date"),
    "sickbeds": ("resident_id", "opened"),
    "requests": (
        "request_id",
        "resident_id",
        "service",
        "earliest_date",
        "latest_date",
        "window_start",
        "window_end",
        "duration_min",
    ),
}
"""The columns each input file must have (``shared/FORMAT.md``)."""

OPTIONAL_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "centres": ("crs", "district"),
    "committees": ("crs",),
    "clinicians": ("phone",),
    "residents": ("crs", "address", "phone", "sex", "conditions", "signed", "signed_since"),
    "history": ("outcome", "tests", "place"),
    "sickbeds": ("discharged",),
    "requests": ("skills",),
}
"""The extra columns read when present; any other column is ignored."""

_REQUIRED_FILES: Final = ("centres", "clinicians", "residents")
_OPTIONAL_FILES: Final = ("committees", "history", "requests", "sickbeds")

PLAN_COLUMNS: Final[tuple[str, ...]] = (
    "visit_id",
    "resident_id",
    "programme",
    "clinician_id",
    "team_id",
    "date",
    "sequence",
    "arrival",
    "start",
    "end",
    "travel_min",
    "travel_km",
    "committee_id",
    "via_centre",
    "urgency",
)
_PLAN_EXTRAS: Final = (
    "clinician_name",
    "role",
    "duration_min",
    "due_by",
    "lat",
    "lon",
    "last_visit",
    "rule",
)

ROUTE_COLUMNS: Final[tuple[str, ...]] = (
    "clinician_id",
    "date",
    "depart",
    "return",
    "visits",
    "travel_min",
    "travel_km",
    "work_min",
    "overtime_min",
)
_ROUTE_EXTRAS: Final = ("team_id", "role", "travel_mode", "clinician_name", "centre_id")

UNSCHEDULED_COLUMNS: Final[tuple[str, ...]] = (
    "visit_id",
    "resident_id",
    "programme",
    "due_by",
    "reason",
)
_UNSCHEDULED_EXTRAS: Final = (
    "reason_zh",
    "committee_id",
    "urgency",
    "team_id",
    "last_visit",
    "rule",
    "kind",  # unscheduled (due/overdue: an alarm) | optional | not_due_this_week
)

# Chinese header -> English column. Several Chinese headers may name the same column; the first
# listed for a column is the one the project uses in Chinese documents. Matching ignores
# surrounding spaces and full-/half-width differences, e.g. "时长（分钟）" = "时长(分钟)".
COLUMN_ALIASES_ZH: Final[dict[str, str]] = {
    # ids and names
    "中心编号": "centre_id",
    "中心ID": "centre_id",
    "所属中心": "centre_id",
    "居委编号": "committee_id",
    "居委会编号": "committee_id",
    "村居委编号": "committee_id",
    "所属居委": "committee_id",
    "医护编号": "clinician_id",
    "医护人员编号": "clinician_id",
    "人员编号": "clinician_id",
    "工号": "clinician_id",
    "团队编号": "team_id",
    "签约团队": "team_id",
    "家庭医生团队": "team_id",
    "居民编号": "resident_id",
    "居民ID": "resident_id",
    "患者编号": "resident_id",
    "名称": "name",
    "姓名": "name",
    "中心名称": "name",
    "居委名称": "name",
    "居委会名称": "name",
    # places
    "纬度": "lat",
    "经度": "lon",
    "坐标系": "crs",
    "区": "district",
    "所属区": "district",
    "区县": "district",
    "地址": "address",
    "住址": "address",
    "家庭住址": "address",
    "电话": "phone",
    "联系电话": "phone",
    "手机": "phone",
    # clinicians
    "角色": "role",
    "岗位": "role",
    "技能": "skills",
    "专长": "skills",
    "出行方式": "travel_mode",
    "交通方式": "travel_mode",
    "工作日": "work_days",
    "上班时间": "shift_start",
    "下班时间": "shift_end",
    "午休开始": "lunch_start",
    "午休结束": "lunch_end",
    # residents
    "出生日期": "birth_date",
    "性别": "sex",
    "首选医生编号": "preferred_clinician_id",
    "首选医护编号": "preferred_clinician_id",
    "签约医生编号": "preferred_clinician_id",
    "失能等级": "disability",
    "失能情况": "disability",
    "高血压": "hypertension",
    "糖尿病": "diabetes",
    "家庭病床": "home_sickbed",
    "行动不便": "homebound",
    "居家不出": "homebound",
    "可上门时间": "availability",
    "可访视时间": "availability",
    "疾病": "conditions",
    "慢病": "conditions",
    "签约": "signed",
    "是否签约": "signed",
    "签约日期": "signed_since",
    "签约时间": "signed_since",
    # history, sick-bed episodes and requests
    "结果": "outcome",
    "访视结果": "outcome",
    "检查项目": "tests",
    "地点": "place",
    "服务地点": "place",
    "建床日期": "opened",
    "撤床日期": "discharged",
    "项目": "programme",
    "服务项目": "programme",
    "日期": "date",
    "服务日期": "date",
    "申请编号": "request_id",
    "需求编号": "request_id",
    "服务": "service",
    "服务内容": "service",
    "最早日期": "earliest_date",
    "最晚日期": "latest_date",
    "时段开始": "window_start",
    "时段结束": "window_end",
    "时长(分钟)": "duration_min",
    "服务时长(分钟)": "duration_min",
    "时长": "duration_min",
    "所需技能": "skills",
    # plan files (read back by read_plan)
    "访视编号": "visit_id",
    "团队": "team_id",
    "序号": "sequence",
    "顺序": "sequence",
    "到达时间": "arrival",
    "开始时间": "start",
    "结束时间": "end",
    "路程时间(分钟)": "travel_min",
    "路程(公里)": "travel_km",
    "途经中心": "via_centre",
    "紧急程度": "urgency",
    "出发时间": "depart",
    "返回时间": "return",
    "访视数": "visits",
    "工作时长(分钟)": "work_min",
    "加班(分钟)": "overtime_min",
    "截止日期": "due_by",
    "原因": "reason",
    "原因(中文)": "reason_zh",
}
"""Chinese column headers accepted for each English column of ``shared/FORMAT.md``."""

TABLE_ALIASES_ZH: Final[dict[str, str]] = {
    "中心": "centres",
    "社区卫生服务中心": "centres",
    "居委": "committees",
    "居委会": "committees",
    "医护人员": "clinicians",
    "医护": "clinicians",
    "居民": "residents",
    "签约居民": "residents",
    "访视记录": "history",
    "历史": "history",
    "家庭病床记录": "sickbeds",
    "建床撤床": "sickbeds",
    "上门申请": "requests",
    "特需申请": "requests",
}
"""Chinese names accepted for the CSV files (without ``.csv``) and the workbook's sheets."""

VALUE_ALIASES_ZH: Final[dict[str, dict[str, str]]] = {
    "role": {
        "医生": "doctor",
        "家庭医生": "doctor",
        "全科医生": "doctor",
        "护士": "nurse",
        "助理": "assistant",
        "医生助理": "assistant",
        "康复": "rehab",
        "康复师": "rehab",
        "康复治疗师": "rehab",
    },
    "travel_mode": {
        "步行": "walk",
        "电动车": "ebike",
        "电瓶车": "ebike",
        "电动自行车": "ebike",
        "汽车": "car",
        "开车": "car",
    },
    "place": {"入户": "home", "居家": "home", "居委": "committee"},
    "disability": {
        "无": "none",
        "正常": "none",
        "半失能": "semi",
        "失能": "full",
        "全失能": "full",
    },
}
"""Chinese values accepted for the columns ``role``, ``travel_mode``, ``place`` and ``disability``
(outcomes take their own Chinese labels, :data:`scheduler.model.OUTCOME_LABELS_ZH`)."""


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text.replace("\ufeff", "")).strip()


_ALIASES: Final[dict[str, str]] = {_nfkc(k): v for k, v in COLUMN_ALIASES_ZH.items()}
_PRIMARY_ZH: Final[dict[str, str]] = {}  # column -> the Chinese header documents use
for _zh, _column in COLUMN_ALIASES_ZH.items():
    _PRIMARY_ZH.setdefault(_column, _zh)
_TABLE_ALIASES: Final[dict[str, str]] = {_nfkc(k): v for k, v in TABLE_ALIASES_ZH.items()}


def canonical_column(header: str) -> str:
    """The English column a header names: Chinese aliases mapped, spaces and case ignored."""
    name = _nfkc(header)
    if name in _ALIASES:
        return _ALIASES[name]
    return re.sub(r"\s+", "_", name.lower())


def canonical_table(stem: str) -> str:
    """The file stem a file or sheet name stands for (``居民.csv`` -> ``residents``)."""
    name = _nfkc(stem)
    if name.lower().endswith(".csv"):
        name = name[:-4]
    return _TABLE_ALIASES.get(name, name.lower())


# --- cell parsers ----------------------------------------------------------------------------

_WEEKDAY_NAMES: Final[dict[str, int]] = {}
for _i, _abbr in enumerate(WEEKDAYS):
    _WEEKDAY_NAMES[_abbr.lower()] = _i
for _i, _full in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
):
    _WEEKDAY_NAMES[_full] = _i
for _i, _zh in enumerate("一二三四五六日"):
    for _prefix in ("周", "星期", "礼拜"):
        _WEEKDAY_NAMES[_prefix + _zh] = _i
for _prefix in ("周", "星期", "礼拜"):
    _WEEKDAY_NAMES[_prefix + "天"] = 6

_RANGE_DASH: Final = "-–—~～至到"
_LIST_SEPARATORS: Final = re.compile(r"[;,；，、/\s]+")
_WEEKDAY_HINT: Final = "use Mon..Sun, e.g. Mon;Tue;Wed"
_AVAILABILITY_EXAMPLE: Final = "Mon-Fri 08:00-11:30; Tue,Thu 14:00-17:00"


def _weekday(token: str) -> int:
    key = token.strip().lower()
    if key not in _WEEKDAY_NAMES:
        raise ValueError(f"unknown weekday '{token.strip()}'")
    return _WEEKDAY_NAMES[key]


def _weekday_set(text: str) -> tuple[frozenset[int], list[str]]:
    """Weekdays of ``text`` and the list of its bad parts (empty when all is well)."""
    compact = re.sub(rf"\s*([{_RANGE_DASH}])\s*", r"\1", text.strip())
    days: set[int] = set()
    errors: list[str] = []
    for part in (p for p in _LIST_SEPARATORS.split(compact) if p):
        ends = re.split(rf"[{_RANGE_DASH}]", part)
        try:
            if len(ends) == 1:
                days.add(_weekday(part))
                continue
            if len(ends) != 2 or not ends[0] or not ends[1]:
                raise ValueError(f"'{part}' is not a range like Mon-Fri")
            first, last = _weekday(ends[0]), _weekday(ends[1])
        except ValueError as exc:
            errors.append(str(exc))
            continue
        day = first
        days.add(day)
        while day != last:  # a range may wrap over Sunday, e.g. Fri-Mon
            day = (day + 1) % 7
            days.add(day)
    return frozenset(days), errors


def parse_weekdays(text: str) -> frozenset[int]:
    """Weekdays (0 = Monday) from ``Mon;Tue``, ``Mon-Fri``, ``Tue,Thu`` or ``周一至周五``.

    Case-insensitive; full English names and Chinese 周一..周日 are understood, a range may wrap
    over Sunday. Raises ``ValueError`` naming every bad part.
    """
    days, errors = _weekday_set(text)
    if errors:
        raise ValueError("; ".join(errors) + f"; {_WEEKDAY_HINT}")
    if not days:
        raise ValueError(f"no weekday given; {_WEEKDAY_HINT}")
    return days


_TIME: Final = re.compile(r"(\d{1,2})[:：](\d{2})(?:[:：]00)?")


@lru_cache(maxsize=4096)  # registers repeat the same few values
def parse_time(text: str) -> int:
    """Minutes after midnight of ``HH:MM`` (``8:30`` too; ``24:00`` = 1440); ``ValueError`` else."""
    match = _TIME.fullmatch(text.strip())
    if not match:
        raise ValueError(f"time '{text.strip()}' is not HH:MM, e.g. 08:30")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours * 60 + minutes > MINUTES_PER_DAY:
        raise ValueError(f"time '{text.strip()}' is not between 00:00 and 24:00")
    return hours * 60 + minutes


_TRUE: Final = frozenset({"true", "1", "yes", "y", "t", "是", "有", "✓", "√"})
_FALSE: Final = frozenset({"false", "0", "no", "n", "f", "否", "无", "×"})


def parse_bool(text: str) -> bool:
    """``true/false``, ``1/0``, ``yes/no``, ``是/否`` (case-insensitive); ``ValueError`` else."""
    key = text.strip().lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ValueError("not a yes/no value; use true/false, 1/0, yes/no or 是/否")


_DATE: Final = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00)?)?")


@lru_cache(maxsize=4096)  # registers repeat the same few values
def parse_date(text: str) -> dt.date:
    """A date ``YYYY-MM-DD`` (also ``YYYY/M/D``, as Excel rewrites it); ``ValueError`` else."""
    match = _DATE.fullmatch(text.strip())
    if not match:
        raise ValueError("not a date; use YYYY-MM-DD, e.g. 1941-03-15")
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise ValueError("no such day in the calendar; use YYYY-MM-DD, e.g. 1941-03-15") from None


_TIME_RANGE_AT_END: Final = re.compile(
    rf"(?P<start>[0-9:：.]+)\s*[{_RANGE_DASH}]\s*(?P<end>[0-9:：.]+)$"
)


@lru_cache(maxsize=4096)  # registers repeat the same few values
def parse_availability(text: str) -> tuple[AvailabilityItem, ...]:
    """Availability items from ``Mon-Fri 08:00-11:30; Tue,Thu 14:00-17:00``.

    Items are separated by ``;``; each is ``DAYS HH:MM-HH:MM`` where DAYS is a weekday, a range
    or a comma list (an item with no DAYS means every day). Empty text means any time (``()``).
    Raises ``ValueError`` naming every bad part, with an example.
    """
    items: list[AvailabilityItem] = []
    errors: list[str] = []
    for raw in re.split(r"[;；]", text):
        item = raw.strip()
        if not item:
            continue
        match = _TIME_RANGE_AT_END.search(item)
        if match is None:
            errors.append(f"'{item}' has no time range HH:MM-HH:MM")
            continue
        days_text = item[: match.start()].strip()
        bad: list[str] = []
        if _TIME_RANGE_AT_END.search(days_text) or re.search(r"\d[:：]\d", days_text):
            errors.append(f"'{item}' has more than one time range (separate items with ';')")
            continue
        days: frozenset[int] = frozenset(range(7))
        if days_text:
            days, day_errors = _weekday_set(days_text)
            bad += day_errors
        times: list[int] = []
        for part in (match["start"], match["end"]):
            try:
                times.append(parse_time(part))
            except ValueError as exc:
                bad.append(str(exc).removesuffix(", e.g. 08:30"))
        if len(times) == 2 and times[0] >= times[1]:
            bad.append(f"{match['start']}-{match['end']} does not end after it starts")
        if bad:
            errors.append(f"'{item}': " + ", ".join(bad))
            continue
        if days:
            items.append(AvailabilityItem(days, TimeWindow(times[0], times[1])))
    if errors:
        raise ValueError("; ".join(errors) + f". Write items like '{_AVAILABILITY_EXAMPLE}'")
    return tuple(items)


def _number(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError("not a number; use decimal degrees like 31.2304") from None
    if not math.isfinite(value):
        raise ValueError("not a number; use decimal degrees like 31.2304")
    return value


def _positive_int(text: str) -> int:
    key = text.strip()
    if re.fullmatch(r"\d+(\.0+)?", key) is None or int(float(key)) <= 0:
        raise ValueError("not a positive whole number of minutes, e.g. 30")
    return int(float(key))


_NO_WORDS: Final[frozenset[str]] = frozenset()
_ANY_TIME: Final[tuple[AvailabilityItem, ...]] = ()


def _words(text: str) -> frozenset[str]:
    """``;``-separated words (``,``, ``；``, ``，`` and ``、`` too), lower-case."""
    return frozenset(w.strip().lower() for w in re.split(r"[;,；，、]", text) if w.strip())


def _enum_parser(kind: type[E], column: str) -> Callable[[str], E]:
    """A parser of an enumerated column that lists the allowed values (and Chinese ones)."""
    values = [str(m.value) for m in kind]
    zh = VALUE_ALIASES_ZH.get(column, {})
    zh_examples: dict[str, str] = {}
    for name, value in zh.items():
        zh_examples.setdefault(value, name)

    def parse(text: str) -> E:
        key = text.strip()
        key = zh.get(key, key.lower())
        if key in values:
            return kind(key)
        allowed = ", ".join(values)
        if zh_examples:
            allowed += " (or " + ", ".join(zh_examples[v] for v in values if v in zh_examples) + ")"
        raise ValueError(
            f"unknown {column.replace('_', ' ')} '{text.strip()}'; use one of {allowed}"
        )

    return parse


_parse_role = _enum_parser(Role, "role")
_parse_travel_mode = _enum_parser(TravelMode, "travel_mode")
_parse_disability = _enum_parser(Disability, "disability")
_parse_place = _enum_parser(Place, "place")


# --- raw tables ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Row:
    number: int  # as a spreadsheet shows it
    cells: dict[str, str]
    # Columns whose cell was refused (too long, a control character): reported once, and emptied
    # so that no parser sees the text.
    refused: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Table:
    file: str
    columns: frozenset[str]
    rows: list[_Row]
    deadline: _Deadline | None = None
    headers: dict[str, str] = field(default_factory=dict)  # column -> header as written
    chinese: bool = False  # some headers are Chinese: name absent columns in Chinese too

    def header(self, column: str) -> str:
        """How messages name ``column``: as the file's header says it, else in its language."""
        written = self.headers.get(column)
        if written is not None:
            return written
        chinese = _PRIMARY_ZH.get(column) if self.chinese else None
        return f"{chinese} ({column})" if chinese else column


def _cell_text(value: object) -> str:
    """The text of a pandas or openpyxl cell: numbers without a spurious ``.0``, dates ISO."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        if value.date() in (dt.date(1899, 12, 30), dt.date(1899, 12, 31), dt.date(1900, 1, 1)):
            return f"{value:%H:%M}"  # an Excel time-of-day cell
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return f"{value:%H:%M}"
    if isinstance(value, dt.timedelta):
        return format_hhmm(int(value.total_seconds() // 60))
    if value is pd.NA:
        return ""
    return str(value)


def _table_from_grid(
    file: str,
    grid: Iterable[tuple[int, Sequence[object]]],
    problems: list[InputProblem],
    limits: ReadLimits | None = None,
    deadline: _Deadline | None = None,
) -> _Table | None:
    """A table from ``(row number, cells)`` rows: the first non-empty row is the header.

    Cells longer than ``limits.max_cell_chars`` or holding a control character are problems of
    their row and column; more than ``limits.max_rows`` rows or ``max_columns`` columns end the
    reading of the file with one problem.
    """
    limits = limits or ReadLimits()
    rows: list[tuple[int, list[str]]] = []
    for number, cells in grid:
        if len(cells) > limits.max_columns:
            width = max(
                (i + 1 for i, v in enumerate(cells) if v is not None and v != ""), default=0
            )
            if width > limits.max_columns:
                problems.append(_too_many_columns(file, number, width, limits))
                return None
        if number > limits.max_rows + 1:  # blank rows count: a sheet may skip a million
            problems.append(_too_many_rows(file, limits))
            return None
        # A quote our own writers put before a formula-like text is taken away (scheduler.cells).
        texts = [restore_cell(_cell_text(v)).strip() for v in cells[: limits.max_columns]]
        if any(texts):
            rows.append((number, texts))
        if deadline is not None and number % 1024 == 0:
            deadline.check()
    if not rows:
        problems.append(InputProblem(file, None, None, None, "is empty: it needs a header row"))
        return None
    header_number, header = rows[0]
    if len([h for h in header if h]) == 1 and any(sep in header[0] for sep in ";\t"):
        separator = "semicolons" if ";" in header[0] else "tabs"
        problems.append(
            InputProblem(
                file,
                header_number,
                None,
                header[0],
                f"the columns are separated by {separator}: save it as 'CSV UTF-8' "
                "(comma-separated)",
            )
        )
        return None
    names: dict[int, str] = {}
    first_index: dict[str, int] = {}  # column -> its first index: one look-up per header cell
    headers: dict[str, str] = {}  # column -> the header as the user wrote it
    for index, raw in enumerate(header):
        if not raw:
            continue
        if _cell_problem(file, header_number, None, raw, limits, problems):
            continue
        name = canonical_column(raw)
        if name in first_index:
            first = first_index[name]
            problems.append(
                InputProblem(
                    file,
                    header_number,
                    headers[name],
                    raw,
                    f"two columns mean '{name}' (columns {_column_letter(first)} "
                    f"'{headers[name]}' and {_column_letter(index)} '{raw}'): delete or rename one",
                )
            )
            continue
        first_index[name] = index
        names[index] = name
        headers[name] = raw
    table_rows = []
    for number, cells in rows[1:]:
        row = _Row(number, {name: cells[i] if i < len(cells) else "" for i, name in names.items()})
        for name, text in row.cells.items():
            if _cell_problem(file, number, headers[name], text, limits, problems):
                row.cells[name] = ""
                row.refused.add(name)
        table_rows.append(row)
    chinese = any(_nfkc(raw) in _ALIASES for raw in headers.values())
    return _Table(
        file, frozenset(names.values()), table_rows, deadline, headers=headers, chinese=chinese
    )


def _cell_problem(
    file: str,
    row: int,
    column: str | None,
    text: str,
    limits: ReadLimits,
    problems: list[InputProblem],
) -> bool:
    """Record a problem if the cell is longer than the limit or holds a control character."""
    if len(text) > limits.max_cell_chars:
        problems.append(
            InputProblem(
                file,
                row,
                column,
                _visible(text),
                f"单元格有 {len(text):,} 个字符，超过上限 {limits.max_cell_chars:,} / the cell "
                f"has {len(text):,} characters, more than the {limits.max_cell_chars:,} a cell may "
                "hold (limit: HOMEVISIT_IMPORT_MAX_CELL_CHARS)",
            )
        )
        return True
    reason = invisible_character(text)
    if reason is None:
        return False
    problems.append(InputProblem(file, row, column, _visible(text), reason))
    return True


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _decode(data: bytes, file: str, problems: list[InputProblem]) -> str | None:
    """UTF-8 text (BOM or not), or ``None`` with a problem saying what the file looks like."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row: int | None = data[: exc.start].count(b"\n") + 1
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            message = (
                "not UTF-8 text (it is UTF-16, Excel's 'Unicode Text'): save it as 'CSV UTF-8'"
            )
            row = None
        else:
            try:
                data.decode("gb18030")
                message = (
                    "not UTF-8 text (it looks like GBK/GB18030, as Excel saves on Chinese "
                    "Windows): save it as 'CSV UTF-8'"
                )
            except UnicodeDecodeError:
                message = "not UTF-8 text: save it as 'CSV UTF-8'"
        problems.append(InputProblem(file, row, None, None, message))
        return None


def _read_csv_text(
    text: str,
    file: str,
    problems: list[InputProblem],
    limits: ReadLimits | None = None,
    deadline: _Deadline | None = None,
) -> _Table | None:
    limits = limits or ReadLimits()
    width = _first_row_width(io.StringIO(text, newline=""))
    if width > limits.max_columns:
        problems.append(_too_many_columns(file, 1, width, limits))
        return None
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            nrows=limits.max_rows + 2,  # one more than may come: enough to tell it is too long
        )
    except pd.errors.EmptyDataError:
        problems.append(InputProblem(file, None, None, None, "is empty: it needs a header row"))
        return None
    except (pd.errors.ParserError, ValueError) as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found:
            problems.append(
                InputProblem(
                    file,
                    int(found[2]),
                    None,
                    None,
                    f"has {found[3]} cells but the header has {found[1]}: look for a stray comma "
                    "or an unclosed quote",
                )
            )
        else:
            problems.append(InputProblem(file, None, None, None, f"is not a valid CSV file: {exc}"))
        return None
    if len(frame) > limits.max_rows + 1:
        problems.append(_too_many_rows(file, limits))
        return None
    cells: list[list[object]] = frame.fillna("").to_numpy(dtype=object).tolist()
    grid = [(index + 1, values) for index, values in enumerate(cells)]
    return _table_from_grid(file, grid, problems, limits, deadline)


def _first_row_width(stream: io.TextIOBase | io.StringIO) -> int:
    """How many cells the first CSV row has (0 if it cannot be told: the parser reports it)."""
    try:
        return len(next(csv.reader(stream), []))
    except csv.Error:
        return 0


def _read_csv(
    path: Path,
    problems: list[InputProblem],
    limits: ReadLimits | None = None,
    deadline: _Deadline | None = None,
) -> _Table | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(InputProblem(path.name, None, None, None, f"cannot be read: {exc}"))
        return None
    text = _decode(data, path.name, problems)
    return None if text is None else _read_csv_text(text, path.name, problems, limits, deadline)


class _Source:
    """Where the tables come from: a folder of CSV files or a workbook (read as a stream)."""

    def __init__(
        self, path: Path, problems: list[InputProblem], limits: ReadLimits, deadline: _Deadline
    ) -> None:
        self.path = path
        self.problems = problems
        self.limits = limits
        self.deadline = deadline
        self.is_workbook = path.suffix.lower() in _WORKBOOK_SUFFIXES
        self._files: dict[str, Path] = {}
        self._sheets: dict[str, Any] = {}
        self._book: Any = None
        if self.is_workbook:
            self._open_workbook()
        else:
            for child in sorted(path.iterdir()):
                if child.is_file() and child.suffix.lower() == ".csv":
                    self._files.setdefault(canonical_table(child.stem), child)

    def _open_workbook(self) -> None:
        import openpyxl  # only needed for workbooks

        try:
            # Read-only: rows stream from the archive one at a time, so memory stays flat and
            # the limits can stop a sheet part-way.
            self._book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            self.problems.append(
                InputProblem(self.path.name, None, None, None, f"cannot be read as .xlsx: {exc}")
            )
            return
        for sheet in self._book.worksheets:
            self._sheets.setdefault(canonical_table(sheet.title), sheet)

    def close(self) -> None:
        if self._book is not None:
            self._book.close()

    def name(self, stem: str) -> str:
        """How problems name a table."""
        if self.is_workbook:
            sheet = self._sheets.get(stem)
            return f"{self.path.name}, sheet {sheet.title if sheet is not None else stem}"
        path = self._files.get(stem)
        return path.name if path is not None else f"{stem}.csv"

    def has(self, stem: str) -> bool:
        return stem in (self._sheets if self.is_workbook else self._files)

    def missing_message(self, stem: str) -> str:
        if self.is_workbook:
            sheets = ", ".join(str(s.title) for s in self._sheets.values()) or "none"
            return f"has no sheet '{stem}' (its sheets: {sheets})"
        return "is missing: a dataset needs centres.csv, clinicians.csv and residents.csv"

    def table(self, stem: str) -> _Table | None:
        if self.is_workbook:
            sheet = self._sheets[stem]
            sheet.reset_dimensions()  # rows as stored, not padded to a (possibly false) width
            try:
                return _table_from_grid(
                    self.name(stem),
                    enumerate(sheet.iter_rows(values_only=True), start=1),
                    self.problems,
                    self.limits,
                    self.deadline,
                )
            except (_OutOfTimeError, _CancelledError):
                raise
            except Exception as exc:  # a damaged sheet: openpyxl raises many kinds
                self.problems.append(
                    InputProblem(self.name(stem), None, None, None, f"cannot be read: {exc}")
                )
                return None
        return _read_csv(self._files[stem], self.problems, self.limits, self.deadline)


# --- row-by-row checking ---------------------------------------------------------------------


class _RowReader:
    """Reads the cells of one row, recording a problem for each bad cell."""

    def __init__(self, table: _Table, row: _Row, problems: list[InputProblem]) -> None:
        self.table = table
        self.row = row
        self.problems = problems
        self.ok = not row.refused

    def problem(self, column: str | None, message: str, value: str | None = None) -> None:
        if column in self.row.refused:  # that cell's problem is on the list already
            self.ok = False
            return
        if value is None and column is not None:
            value = self.row.cells.get(column, "")
        header = None if column is None else self.table.header(column)
        self.problems.append(InputProblem(self.table.file, self.row.number, header, value, message))
        self.ok = False

    def header(self, column: str) -> str:
        """``column`` as this file's header names it (for messages)."""
        return self.table.header(column)

    def text(self, column: str) -> str:
        """The cell, stripped ("" when the column is absent)."""
        return self.row.cells.get(column, "")

    def need(self, column: str, parse: Callable[[str], T], what: str = "a value") -> T | None:
        """A required cell: empty or bad -> problem; column absent (reported once) -> ``None``.

        ``what`` completes "is empty: every row needs ..."; a text with ':' is the whole message.
        """
        if column not in self.table.columns:
            self.ok = False
            return None
        value = self.text(column)
        if not value:
            self.problem(column, what if ":" in what else f"is empty: every row needs {what}")
            return None
        try:
            return parse(value)
        except ValueError as exc:
            self.problem(column, str(exc))
            return None

    def opt(self, column: str, parse: Callable[[str], T], default: T) -> T | None:
        """An optional cell: empty or absent -> ``default``; bad -> problem and ``None``."""
        value = self.text(column)
        if not value:
            return default
        try:
            return parse(value)
        except ValueError as exc:
            self.problem(column, str(exc))
            return None

    def identifier(self, column: str, seen: dict[str, int], kind: str) -> str:
        """A row's own id: not empty, not seen on an earlier row."""
        value = self.text(column)
        if column not in self.table.columns:
            self.ok = False
        elif not value:
            self.problem(column, f"is empty: every {kind} needs an id")
        elif value in seen:
            self.problem(
                column, f"duplicate {self.header(column)} '{value}': also on row {seen[value]}"
            )
        else:
            seen[value] = self.row.number
        return value

    def reference(
        self, column: str, known: Mapping[str, object] | None, target: str, required: bool = True
    ) -> str:
        """An id naming a row of another file (``known`` is ``None`` when that file is unusable)."""
        value = self.text(column)
        if column not in self.table.columns:
            if required:
                self.ok = False
            return value
        if not value:
            if required:
                self.problem(column, f"is empty: every row needs a {self.header(column)}")
            return value
        if known is not None and value not in known:
            self.problem(
                column,
                f"unknown {self.header(column)} '{value}': not in {target}{_known_list(known)}",
            )
        return value

    def location(self, region: coords.Region = coords.CHINA) -> Location | None:
        """``lat``/``lon`` (in ``crs``), converted to WGS-84 and checked to lie in ``region``."""
        crs = self.opt("crs", coords.normalize_crs, "wgs84")
        lat = self.need("lat", _number, "a latitude")
        lon = self.need("lon", _number, "a longitude")
        if lat is None or lon is None or crs is None:
            return None
        lat_text, lon_text = self.text("lat"), self.text("lon")
        if not region.contains(lat, lon) and region.contains(lon, lat):
            self.problem(
                "lat",
                f"lat and lon look swapped: lat {lat_text}, lon {lon_text} is outside "
                f"{region.name} but lat {lon_text}, lon {lat_text} is inside; swap the two cells",
            )
            return None
        if not -90.0 <= lat <= 90.0:
            self.problem("lat", "latitude must be between -90 and 90")
            return None
        if not -180.0 <= lon <= 180.0:
            self.problem("lon", "longitude must be between -180 and 180")
            return None
        wgs_lat, wgs_lon = coords.to_wgs84(lat, lon, crs)
        if not region.contains(wgs_lat, wgs_lon):
            if lat == 0.0 and lon == 0.0:
                message = "coordinates 0, 0: the address was probably not geocoded"
            else:
                message = (
                    f"lat {lat_text}, lon {lon_text} is outside {region.describe()}: "
                    "check the coordinates"
                )
            self.problem("lat", message)
            return None
        return Location(wgs_lat, wgs_lon)


def _known_list(known: Mapping[str, object], limit: int = 8) -> str:
    ids = sorted(known)
    if not ids:
        return " (it has none)"
    shown = ", ".join(ids[:limit])
    return f" (known: {shown}{', ...' if len(ids) > limit else ''})"


def _value(value: T | None) -> T:
    """A value parsed on a row whose ``ok`` is still true (so it is not ``None``)."""
    assert value is not None
    return value


# --- the files -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Reading:
    """The state of one :func:`read_dataset`: problems so far and the ids of each file."""

    problems: list[InputProblem] = field(default_factory=list)
    centres: dict[str, Centre] = field(default_factory=dict)
    committees: dict[str, Committee] = field(default_factory=dict)
    clinicians: dict[str, Clinician] = field(default_factory=dict)
    residents: dict[str, Resident] = field(default_factory=dict)
    centre_ids: dict[str, int] | None = None
    committee_ids: dict[str, int] | None = None
    clinician_ids: dict[str, int] | None = None
    team_ids: dict[str, str] | None = None  # team -> centre
    resident_ids: dict[str, int] | None = None
    files: dict[str, str] = field(default_factory=dict)  # stem -> how problems name the file
    region: coords.Region = coords.CHINA  # where the points may lie
    # A preferred clinician no longer listed -> the residents whose preference is dropped.
    dropped_preferences: dict[str, list[str]] = field(default_factory=dict)

    def file(self, stem: str) -> str:
        return self.files.get(stem, f"{stem}.csv")


def _rows(table: _Table, problems: list[InputProblem]) -> Iterable[_RowReader]:
    for row in table.rows:
        if table.deadline is not None and row.number % 1024 == 0:
            table.deadline.check()
        yield _RowReader(table, row, problems)


@contextmanager
def _invariants(reader: _RowReader) -> Iterator[None]:
    """Around a domain constructor: an invariant it still rejects becomes a row problem."""
    try:
        yield
    except ValueError as exc:
        reader.problem(None, str(exc), value=None)


def _read_centres(table: _Table, state: _Reading) -> None:
    seen: dict[str, int] = {}
    for r in _rows(table, state.problems):
        centre_id = r.identifier("centre_id", seen, "centre")
        location = r.location(state.region)
        if r.ok:
            with _invariants(r):
                centre = Centre(
                    centre_id, r.text("name") or centre_id, _value(location), r.text("district")
                )
                state.centres[centre_id] = centre
    state.centre_ids = seen


def _read_committees(table: _Table, state: _Reading) -> None:
    seen: dict[str, int] = {}
    for r in _rows(table, state.problems):
        committee_id = r.identifier("committee_id", seen, "committee")
        centre_id = r.reference("centre_id", state.centre_ids, state.file("centres"))
        location = r.location(state.region)
        if r.ok:
            with _invariants(r):
                committee = Committee(
                    committee_id, centre_id, r.text("name") or committee_id, _value(location)
                )
                state.committees[committee_id] = committee
    state.committee_ids = seen


def _read_clinicians(table: _Table, state: _Reading) -> None:
    seen: dict[str, int] = {}
    teams: dict[str, tuple[str, int]] = {}  # team -> (known centre, first row)
    any_team: dict[str, str] = {}  # every team named, even at an unknown centre
    for r in _rows(table, state.problems):
        clinician_id = r.identifier("clinician_id", seen, "clinician")
        team_id = r.reference("team_id", None, "")
        centre_id = r.reference("centre_id", state.centre_ids, state.file("centres"))
        if team_id:
            any_team.setdefault(team_id, centre_id)
        centre_known = state.centre_ids is None or centre_id in state.centre_ids
        if team_id and centre_id and centre_known:
            if team_id not in teams:
                teams[team_id] = (centre_id, r.row.number)
            elif teams[team_id][0] != centre_id:
                other, row = teams[team_id]
                r.problem(
                    "centre_id",
                    f"team '{team_id}' is at centre '{other}' on row {row}: "
                    "a team belongs to one centre",
                )
        role = r.need("role", _parse_role, "a role")
        skills = r.opt("skills", _words, _NO_WORDS)
        mode = r.need("travel_mode", _parse_travel_mode, "a travel mode")
        work_days = r.need(
            "work_days",
            parse_weekdays,
            "is empty: a clinician with no working day can never be planned: give "
            f"{r.header('work_days')} like Mon;Tue;Wed;Thu;Fri",
        )
        shift = _shift(r)
        lunch = _lunch(r, shift)
        if r.ok:
            with _invariants(r):
                clinician = Clinician(
                    clinician_id,
                    r.text("name") or clinician_id,
                    team_id,
                    centre_id,
                    _value(role),
                    _value(skills),
                    _value(mode),
                    _value(work_days),
                    _value(shift),
                    lunch,
                    r.text("phone"),
                )
                state.clinicians[clinician_id] = clinician
    state.clinician_ids = seen
    state.team_ids = any_team | {team: centre for team, (centre, _) in teams.items()}


def _window(r: _RowReader, start_col: str, end_col: str, what: str) -> TimeWindow | None:
    start = r.need(start_col, parse_time, "a time HH:MM")
    end = r.need(end_col, parse_time, "a time HH:MM")
    if start is None or end is None:
        return None
    if start >= end:
        r.problem(
            end_col,
            f"the {what} {format_hhmm(start)}-{format_hhmm(end)} must end after it starts",
        )
        return None
    return TimeWindow(start, end)


def _shift(r: _RowReader) -> TimeWindow | None:
    return _window(r, "shift_start", "shift_end", "shift")


def _lunch(r: _RowReader, shift: TimeWindow | None) -> TimeWindow | None:
    start_text, end_text = r.text("lunch_start"), r.text("lunch_end")
    if not start_text and not end_text:
        return None  # no lunch break
    if not start_text or not end_text:
        empty, given, other = (
            ("lunch_start", "lunch_end", end_text)
            if not start_text
            else ("lunch_end", "lunch_start", start_text)
        )
        r.problem(
            empty,
            f"is empty but {r.header(given)} is {other}: give both lunch times or neither",
        )
        return None
    lunch = _window(r, "lunch_start", "lunch_end", "lunch break")
    if lunch is not None and shift is not None and lunch.intersect(shift) != lunch:
        r.problem("lunch_start", f"lunch {lunch} is not inside the shift {shift}")
        return None
    return lunch


_MAX_AGE_YEARS: Final = 125


def _birth_date(text: str) -> dt.date:
    day = parse_date(text)
    today = dt.date.today()
    if day > today:
        raise ValueError("birth date is in the future")
    if day.year < today.year - _MAX_AGE_YEARS:
        raise ValueError(f"birth date is more than {_MAX_AGE_YEARS} years ago: check the year")
    return day


def _read_residents(table: _Table, state: _Reading) -> None:
    seen: dict[str, int] = {}
    for r in _rows(table, state.problems):
        resident_id = r.identifier("resident_id", seen, "resident")
        birth = r.need("birth_date", _birth_date, "a birth date")
        location = r.location(state.region)
        committee_id = r.reference("committee_id", state.committee_ids, state.file("committees"))
        team_id = r.text("team_id")
        if "team_id" not in table.columns:
            r.ok = False
        elif not team_id:
            r.problem("team_id", "is empty: every resident signs with a team")
        elif state.team_ids is not None and team_id not in state.team_ids:
            r.problem(
                "team_id",
                f"team '{team_id}' has no clinician in {state.file('clinicians')}"
                f"{_known_list(state.team_ids)}",
            )
        preferred: str | None = r.text("preferred_clinician_id")
        if preferred and state.clinician_ids is not None and preferred not in state.clinician_ids:
            # A clinician who has left: the preference goes, the resident stays (a warning).
            state.dropped_preferences.setdefault(preferred, []).append(resident_id)
            preferred = None
        disability = r.opt("disability", _parse_disability, Disability.NONE)
        flags = {
            name: r.opt(name, parse_bool, False)
            for name in ("hypertension", "diabetes", "home_sickbed", "homebound")
        }
        availability = r.opt("availability", parse_availability, _ANY_TIME)
        signed = r.opt("signed", parse_bool, True)
        signed_since = r.opt("signed_since", parse_date, None)
        if r.ok:
            with _invariants(r):
                resident = Resident(
                    resident_id=resident_id,
                    name=r.text("name"),
                    birth_date=_value(birth),
                    location=_value(location),
                    committee_id=committee_id,
                    team_id=team_id,
                    preferred_clinician_id=preferred or None,
                    disability=_value(disability),
                    hypertension=_value(flags["hypertension"]),
                    diabetes=_value(flags["diabetes"]),
                    home_sickbed=_value(flags["home_sickbed"]),
                    homebound=_value(flags["homebound"]),
                    availability=_value(availability),
                    conditions=_words(r.text("conditions")),
                    address=r.text("address"),
                    phone=r.text("phone"),
                    sex=r.text("sex"),
                    signed=_value(signed),
                    signed_since=signed_since,
                )
                state.residents[resident_id] = resident
    state.resident_ids = seen


def _read_history(table: _Table, state: _Reading) -> tuple[HistoryRecord, ...]:
    records: list[HistoryRecord] = []
    for r in _rows(table, state.problems):
        resident_id = r.reference("resident_id", state.resident_ids, state.file("residents"))
        programme = r.need("programme", str.strip, "a programme")
        day = r.need("date", parse_date, "a date")
        outcome = r.opt("outcome", VisitOutcome.parse, VisitOutcome.COMPLETED)
        tests = r.opt("tests", parse_tests, frozenset[str]())
        place = r.opt("place", _parse_place, None)
        if r.ok:
            with _invariants(r):
                records.append(
                    HistoryRecord(
                        resident_id,
                        _value(programme),
                        _value(day),
                        outcome=_value(outcome),
                        tests=_value(tests),
                        place=place,
                    )
                )
    return tuple(records)


def _read_sickbeds(table: _Table, state: _Reading) -> tuple[SickbedEpisode, ...]:
    episodes: list[SickbedEpisode] = []
    for r in _rows(table, state.problems):
        resident_id = r.reference("resident_id", state.resident_ids, state.file("residents"))
        opened = r.need("opened", parse_date, "the date the sick-bed was opened (建床日期)")
        discharged = r.opt("discharged", parse_date, None)
        if r.ok and discharged is not None and opened is not None and discharged < opened:
            r.problem("discharged", f"is before the opening date {opened}: swapped?")
        if r.ok:
            with _invariants(r):
                episodes.append(SickbedEpisode(resident_id, _value(opened), discharged))
    return tuple(episodes)


def _read_requests(table: _Table, state: _Reading) -> tuple[ServiceRequest, ...]:
    seen: dict[str, int] = {}
    requests: list[ServiceRequest] = []
    for r in _rows(table, state.problems):
        request_id = r.identifier("request_id", seen, "request")
        resident_id = r.reference("resident_id", state.resident_ids, state.file("residents"))
        service = r.need("service", str.strip, "a service")
        earliest = r.need("earliest_date", parse_date, "a date")
        latest = r.need("latest_date", parse_date, "a date")
        if earliest is not None and latest is not None and latest < earliest:
            r.problem(
                "latest_date", f"is before {r.header('earliest_date')} {earliest.isoformat()}"
            )
        window = _window(r, "window_start", "window_end", "window")
        duration = r.need("duration_min", _positive_int, "a duration in minutes")
        if window is not None and duration is not None and duration > window.length_min:
            r.problem("duration_min", f"a {duration}-minute visit does not fit in {window}")
        skills = r.opt("skills", _words, _NO_WORDS)
        if r.ok:
            with _invariants(r):
                request = ServiceRequest(
                    request_id,
                    resident_id,
                    _value(service),
                    _value(earliest),
                    _value(latest),
                    _value(window),
                    _value(duration),
                    _value(skills),
                )
                requests.append(request)
    return tuple(requests)


def _committees_from_residents(state: _Reading) -> dict[str, Committee]:
    """Committees when ``committees.csv`` is absent: at the mean of their residents' homes."""
    members: dict[str, list[Resident]] = defaultdict(list)
    for resident in state.residents.values():
        members[resident.committee_id].append(resident)
    team_centre = state.team_ids or {}
    committees: dict[str, Committee] = {}
    for committee_id, residents in members.items():
        centres = Counter(
            team_centre[r.team_id] for r in residents if r.team_id in team_centre
        ).most_common()
        if not centres:
            continue
        best = max(count for _, count in centres)
        centre_id = min(centre for centre, count in centres if count == best)
        location = Location(
            sum(r.location.lat for r in residents) / len(residents),
            sum(r.location.lon for r in residents) / len(residents),
        )
        committees[committee_id] = Committee(committee_id, centre_id, committee_id, location)
    return committees


def _read_programmes(path: Path, problems: list[InputProblem]) -> dict[str, Mapping[str, object]]:
    file = path.name
    try:
        text = _decode(path.read_bytes(), file, problems)
    except OSError as exc:
        problems.append(InputProblem(file, None, None, None, f"cannot be read: {exc}"))
        return {}
    if text is None:
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        problems.append(InputProblem(file, line, None, None, f"is not valid YAML: {reason}"))
        return {}
    if data is None:
        return {}
    example = "e.g.\nfollowup_80:\n  duration_min: 40"
    if not isinstance(data, dict):
        problems.append(
            InputProblem(
                file,
                None,
                None,
                None,
                "must map programme ids to their settings, " + example,
            )
        )
        return {}
    overrides: dict[str, Mapping[str, object]] = {}
    for key, value in data.items():
        if not isinstance(value, dict):
            problems.append(
                InputProblem(
                    file,
                    None,
                    None,
                    str(key),
                    f"programme '{key}' must be a mapping of settings, " + example,
                )
            )
            continue
        overrides[str(key)] = {str(k): v for k, v in value.items()}
    _check_overrides(file, overrides, problems)
    return overrides


def _check_overrides(
    file: str, overrides: Mapping[str, Mapping[str, object]], problems: list[InputProblem]
) -> None:
    """Let the programme rules reject an unknown programme or key now, with the file's name."""
    from scheduler import programmes  # the rules live there; imported late to keep io light

    builtin = programmes.builtin_programmes()
    for programme_id, changes in overrides.items():
        try:
            programmes.apply_overrides(builtin, {programme_id: changes})
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            message = str(exc)
            for prefix in (f"{file}, ", f"{file}: ", "programmes.yaml, ", "programmes.yaml: "):
                message = message.removeprefix(prefix)
            problems.append(InputProblem(file, None, None, programme_id, message))


def _with_defaults(
    history: tuple[HistoryRecord, ...], overrides: Mapping[str, Mapping[str, object]]
) -> tuple[HistoryRecord, ...]:
    """Each record with the place and tests it omits filled in from its programme's rules."""
    from scheduler import programmes

    rules = programmes.apply_overrides(programmes.builtin_programmes(), overrides)
    filled = []
    for record in history:
        place, tests = programmes.recorded_place_and_tests(
            rules.get(record.programme), record.place, record.tests, record.outcome
        )
        filled.append(dataclasses.replace(record, place=place, tests=tests))
    return tuple(filled)


def read_dataset(
    path: Path,
    limits: ReadLimits | None = None,
    *,
    cancelled: Callable[[], bool] | None = None,
    region: coords.Region = coords.CHINA,
) -> Dataset:
    """Read a dataset: a folder of CSV files, or an ``.xlsx`` workbook with one sheet per file.

    ``limits`` bound what the files may hold (default :class:`ReadLimits`): a file beyond them
    is refused in seconds, before or while it is parsed. ``cancelled`` is asked every thousand
    rows or so; when it answers true the read stops (a server shutting down). Every point must
    lie in ``region`` (China by default; the ``HOMEVISIT_REGION`` setting of the commands).
    Raises :class:`DatasetError` listing every problem found. A workbook carries no
    ``programmes.yaml``; use a folder for programme overrides.
    """
    path = Path(path)
    limits = limits or ReadLimits()
    state = _Reading(region=region)
    problems = state.problems
    if not path.exists():
        raise DatasetError([InputProblem(str(path), None, None, None, "does not exist")])
    if not path.is_dir() and path.suffix.lower() not in _WORKBOOK_SUFFIXES:
        raise DatasetError(
            [InputProblem(path.name, None, None, None, "is neither a folder nor an .xlsx workbook")]
        )
    check_dataset_limits(path, limits)
    deadline = _Deadline(limits.time_limit_s, cancelled)
    source = _Source(path, problems, limits, deadline)
    try:
        if problems:  # an unreadable workbook
            raise DatasetError(problems)
        return _read_sources(path, source, state)
    except _OutOfTimeError:
        problems.append(
            _file_problem(
                path.name,
                f"读取超过 {limits.time_limit_s:g} 秒，已停止 / reading took more than "
                f"{limits.time_limit_s:g} s and was stopped: split the register by centre "
                "(limit: HOMEVISIT_IMPORT_TIME_LIMIT_S)",
            )
        )
        raise DatasetError(problems) from None
    except _CancelledError:
        problems.append(_file_problem(path.name, "读取已取消 / the reading was cancelled"))
        raise DatasetError(problems) from None
    finally:
        source.close()


def _read_sources(path: Path, source: _Source, state: _Reading) -> Dataset:
    problems = state.problems
    tables: dict[str, _Table] = {}
    for stem in (*_REQUIRED_FILES, *_OPTIONAL_FILES):
        if not source.has(stem):
            if stem in _REQUIRED_FILES:
                problems.append(
                    InputProblem(source.name(stem), None, None, None, source.missing_message(stem))
                )
            continue
        table = source.table(stem)
        if table is None:
            continue  # the problem is recorded
        for column in REQUIRED_COLUMNS[stem]:
            if column not in table.columns:
                needed = ", ".join(table.header(c) for c in REQUIRED_COLUMNS[stem])
                problems.append(
                    InputProblem(
                        table.file,
                        None,
                        table.header(column),
                        None,
                        f"column is missing (needed: {needed})",
                    )
                )
        if not table.rows and stem in _REQUIRED_FILES:
            problems.append(InputProblem(table.file, None, None, None, "has no data rows"))
        tables[stem] = table
        state.files[stem] = table.file

    # Files are read in the order of their references, so each can check ids of the earlier.
    if "centres" in tables:
        _read_centres(tables["centres"], state)
    if "committees" in tables and tables["committees"].rows:
        _read_committees(tables["committees"], state)  # an empty one counts as absent
    if "clinicians" in tables:
        _read_clinicians(tables["clinicians"], state)
    if "residents" in tables:
        _read_residents(tables["residents"], state)
    history = _read_history(tables["history"], state) if "history" in tables else ()
    requests = _read_requests(tables["requests"], state) if "requests" in tables else ()
    sickbeds = _read_sickbeds(tables["sickbeds"], state) if "sickbeds" in tables else ()
    overrides: dict[str, Mapping[str, object]] = {}
    yaml_path = path / "programmes.yaml" if path.is_dir() else None
    if yaml_path is not None and yaml_path.is_file():
        overrides = _read_programmes(yaml_path, problems)
    if problems:
        raise DatasetError(problems)
    committees = (
        state.committees if state.committee_ids is not None else _committees_from_residents(state)
    )
    history = _with_defaults(history, overrides)
    return Dataset(
        centres=state.centres,
        committees=committees,
        clinicians=state.clinicians,
        residents=state.residents,
        history=history,
        requests=requests,
        programme_overrides=overrides,
        sickbeds=sickbeds,
        warnings=_preference_warnings(state),
    )


def _preference_warnings(state: _Reading) -> tuple[str, ...]:
    """One warning per preferred clinician no longer listed, naming the residents."""
    residents, clinicians = state.file("residents"), state.file("clinicians")
    warnings = []
    for clinician_id, resident_ids in sorted(state.dropped_preferences.items()):
        count = len(resident_ids)
        ids = ", ".join(resident_ids)
        warnings.append(
            f"{residents}: 首选医护 {clinician_id} 不在 {clinicians} 中，已取消 {count} 位居民的"
            f"首选，导入继续 / preferred_clinician_id '{clinician_id}' is not in {clinicians} "
            f"(any more): the preference of {count} resident{'s' if count > 1 else ''} is "
            f"dropped and the import goes on: {ids}"
        )
    return tuple(warnings)


def read_requests(path: Path, dataset: Dataset) -> tuple[ServiceRequest, ...]:
    """Read a file of new on-demand requests (``requests.csv`` columns) for ``dataset``.

    Raises :class:`DatasetError` for a missing or malformed file, a missing column, a resident
    the dataset does not know, or a request id the dataset already has.
    """
    path = Path(path)
    state = _Reading(
        residents=dict(dataset.residents),
        resident_ids={rid: 0 for rid in dataset.residents},
    )
    state.files["residents"] = "the dataset's residents"
    table = _read_csv(path, state.problems) if path.is_file() else None
    if not path.is_file():
        state.problems.append(InputProblem(str(path), None, None, None, "does not exist"))
    if table is not None:
        missing = [c for c in REQUIRED_COLUMNS["requests"] if c not in table.columns]
        for column in missing:
            needed = ", ".join(REQUIRED_COLUMNS["requests"])
            state.problems.append(
                InputProblem(
                    table.file, None, column, None, f"column is missing (needed: {needed})"
                )
            )
        if not missing:
            requests = _read_requests(table, state)
            known = {r.request_id for r in dataset.requests}
            for row in table.rows:
                value = row.cells.get("request_id", "")
                if value in known:
                    state.problems.append(
                        InputProblem(
                            table.file,
                            row.number,
                            "request_id",
                            value,
                            "the dataset already has a request with this id: give the new "
                            "request an id of its own",
                        )
                    )
            if not state.problems:
                return requests
    raise DatasetError(state.problems)


# --- writing a plan --------------------------------------------------------------------------

# The plan files are written as UTF-8 *with* a BOM ("utf-8-sig"): Excel on Chinese Windows opens
# a CSV without BOM as GBK and shows the Chinese reasons as mojibake; with the BOM it shows them
# correctly, and every other reader (pandas, Python's csv with utf-8-sig, LibreOffice) copes.
_PLAN_ENCODING: Final = "utf-8-sig"


def _format_km(km: float) -> str:
    """Kilometres to 3 decimals (metres) when that is exact, else the shortest exact form."""
    text = f"{km:.3f}"
    return text if float(text) == km else repr(km)


def _format_bool(value: bool) -> str:
    return "true" if value else "false"


def _json_default(value: object) -> object:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Mapping):
        return dict(value)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    return str(value)


def _why_due(visit: Visit | None) -> dict[str, object]:
    """The ``last_visit`` and ``rule`` (Chinese / English) columns of a visit's row."""
    basis = visit.basis if visit is not None else None
    if basis is None:
        return {"last_visit": "", "rule": ""}
    return {
        "last_visit": basis.last_visit.isoformat() if basis.last_visit else "",
        "rule": f"{basis.rule_zh} / {basis.rule_en}",
    }


_FORMATTED_NUMBERS: Final = frozenset({"lat", "lon", "travel_km"})
"""Plan columns written as formatted numbers: numbers, not text, for the formula rule."""


def _write_csv(path: Path, columns: Sequence[str], rows: list[dict[str, object]]) -> None:
    # The plan files open in Excel (UTF-8 with BOM for that): no text cell may start a formula.
    safe = [
        {k: v if k in _FORMATTED_NUMBERS else neutralise_cell(v) for k, v in row.items()}
        for row in rows
    ]
    frame = pd.DataFrame(safe, columns=list(columns))
    frame.to_csv(path, index=False, encoding=_PLAN_ENCODING, lineterminator="\n")


def write_plan(
    out_dir: Path,
    problem: Problem,
    plan: Plan,
    kpis: Mapping[str, object],
    reasons: Mapping[str, tuple[str, str]],
) -> None:
    """Write ``plan.csv``, ``routes.csv``, ``unscheduled.csv`` and ``kpis.json`` to ``out_dir``.

    The FORMAT.md columns come first, extras after. ``reasons[visit_id] = (english, chinese)``
    fills ``reason``/``reason_zh`` of unscheduled visits; without it the plan's own reason is
    used. ``kpis.json`` also records the plan's ``status``, ``objective`` and ``solve_seconds``
    unless ``kpis`` already has them (so :func:`read_plan` can restore them).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    visits = {v.visit_id: v for v in problem.visits}
    clinicians = {c.clinician_id: c for c in problem.clinicians}

    stop_rows: list[dict[str, object]] = []
    for stop in sorted(plan.stops(), key=lambda s: (s.clinician_id, s.day, s.sequence)):
        visit = visits.get(stop.visit_id)
        clinician = clinicians.get(stop.clinician_id)
        stop_rows.append(
            {
                "visit_id": stop.visit_id,
                "resident_id": (visit.resident_id or "") if visit else "",
                "programme": visit.programme if visit else "",
                "clinician_id": stop.clinician_id,
                "team_id": clinician.team_id if clinician else "",
                "date": stop.day.isoformat(),
                "sequence": stop.sequence,
                "arrival": format_hhmm(stop.arrival_min),
                "start": format_hhmm(stop.start_min),
                "end": format_hhmm(stop.end_min),
                "travel_min": stop.travel_min,
                "travel_km": _format_km(stop.travel_km),
                "committee_id": (visit.committee_id or "") if visit else "",
                "via_centre": _format_bool(stop.via_centre),
                "urgency": visit.urgency.name.lower() if visit else "",
                "clinician_name": clinician.name if clinician else "",
                "role": clinician.role.value if clinician else "",
                "duration_min": visit.duration_min if visit else "",
                "due_by": visit.due_by.isoformat() if visit else "",
                "lat": f"{visit.location.lat:.6f}" if visit else "",
                "lon": f"{visit.location.lon:.6f}" if visit else "",
                **_why_due(visit),
            }
        )
    _write_csv(out_dir / "plan.csv", (*PLAN_COLUMNS, *_PLAN_EXTRAS), stop_rows)

    route_rows: list[dict[str, object]] = []
    for route in sorted(plan.routes, key=lambda r: (r.clinician_id, r.day)):
        clinician = clinicians.get(route.clinician_id)
        route_rows.append(
            {
                "clinician_id": route.clinician_id,
                "date": route.day.isoformat(),
                "depart": format_hhmm(route.depart_min),
                "return": format_hhmm(route.return_min),
                "visits": len(route.stops),
                "travel_min": route.travel_min,
                "travel_km": _format_km(route.travel_km),
                "work_min": route.work_min,
                "overtime_min": route.overtime_min,
                "team_id": clinician.team_id if clinician else "",
                "role": clinician.role.value if clinician else "",
                "travel_mode": clinician.travel_mode.value if clinician else "",
                "clinician_name": clinician.name if clinician else "",
                "centre_id": clinician.centre_id if clinician else "",
            }
        )
    _write_csv(out_dir / "routes.csv", (*ROUTE_COLUMNS, *_ROUTE_EXTRAS), route_rows)

    left_rows: list[dict[str, object]] = []
    kinds = {
        u.visit_id: left_out_kind(problem, visits[u.visit_id])
        for u in plan.unscheduled
        if u.visit_id in visits
    }
    order = list(LeftOutKind)  # the alarms first, then the optional, then the not yet due
    for left in sorted(
        plan.unscheduled,
        key=lambda u: order.index(kinds.get(u.visit_id, LeftOutKind.UNSCHEDULED)),
    ):
        visit = visits.get(left.visit_id)
        english, chinese = reasons.get(left.visit_id, (left.reason, left.reason_zh))
        kind = kinds.get(left.visit_id)
        left_rows.append(
            {
                "visit_id": left.visit_id,
                "resident_id": (visit.resident_id or "") if visit else "",
                "programme": visit.programme if visit else "",
                "due_by": visit.due_by.isoformat() if visit else "",
                "reason": english,
                "reason_zh": chinese,
                "committee_id": (visit.committee_id or "") if visit else "",
                "urgency": visit.urgency.name.lower() if visit else "",
                "team_id": visit.team_id if visit else "",
                **_why_due(visit),
                "kind": kind.value if kind is not None else "",
            }
        )
    _write_csv(out_dir / "unscheduled.csv", (*UNSCHEDULED_COLUMNS, *_UNSCHEDULED_EXTRAS), left_rows)

    document = dict(kpis)
    document.setdefault("solve_seconds", plan.solve_seconds)
    document.setdefault("status", plan.status)
    document.setdefault("objective", plan.objective)
    (out_dir / "kpis.json").write_text(
        json.dumps(document, ensure_ascii=False, indent=2, default=_json_default) + "\n",
        encoding="utf-8",
    )


DUE_COLUMNS: Final[tuple[str, ...]] = (
    "visit_id",
    "resident_id",
    "committee_id",
    "team_id",
    "programme",
    "programme_zh",
    "urgency",
    "last_visit",
    "due_by",
    "earliest",
    "windows",
    "rule",
)


def due_rows(problem: Problem) -> list[dict[str, object]]:
    """The week's visits before any solve, most urgent first: one row per visit.

    ``windows`` are the days and times the visit may lie in this week (the rule's days, the
    programme's hours or the request's window, cut to the resident's availability); empty when
    nothing is left.
    """
    names = builtin_programmes()
    rows: list[dict[str, object]] = []
    ordered = sorted(problem.visits, key=lambda v: (-v.urgency, v.due_by, v.team_id, v.visit_id))
    for visit in ordered:
        basis = visit.basis
        programme = names.get(visit.programme)
        rows.append(
            {
                "visit_id": visit.visit_id,
                "resident_id": visit.resident_id or "",
                "committee_id": visit.committee_id or "",
                "team_id": visit.team_id,
                "programme": visit.programme,
                "programme_zh": programme.name_zh if programme else "",
                "urgency": visit.urgency.name.lower(),
                "due_by": visit.due_by.isoformat(),
                "earliest": basis.earliest.isoformat() if basis else "",
                "windows": windows_summary(visit, problem.days, zh=False),
                **_why_due(visit),
            }
        )
    return rows


def write_due_list(path: Path, problem: Problem) -> None:
    """Write :func:`due_rows` as a CSV (UTF-8 with BOM, like the plan files)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    _write_csv(Path(path), DUE_COLUMNS, due_rows(problem))


# --- reading a plan back ---------------------------------------------------------------------


def _clock(text: str) -> int:
    """``HH:MM`` of a plan file; hours may pass 24 (a route running past midnight)."""
    match = re.fullmatch(r"(\d{1,3}):(\d{2})", text.strip())
    if not match or int(match[2]) > 59:
        raise ValueError("not a time HH:MM")
    return int(match[1]) * 60 + int(match[2])


def _int(text: str) -> int:
    if re.fullmatch(r"-?\d+", text.strip()) is None:
        raise ValueError("not a whole number")
    return int(text)


def _non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _km(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("not a number of kilometres") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError("not a number of kilometres")
    return value


def _plan_table(out_dir: Path, stem: str, problems: list[InputProblem]) -> _Table | None:
    path = out_dir / f"{stem}.csv"
    if not path.is_file():
        problems.append(InputProblem(path.name, None, None, None, f"is missing from {out_dir}"))
        return None
    table = _read_csv(path, problems)
    if table is None:
        return None
    columns = {
        "plan": PLAN_COLUMNS,
        "routes": ROUTE_COLUMNS,
        "unscheduled": UNSCHEDULED_COLUMNS,
    }
    missing = [c for c in columns[stem] if c not in table.columns]
    for column in missing:
        problems.append(
            InputProblem(table.file, None, column, None, f"column '{column}' is missing")
        )
    return None if missing else table


def read_plan(out_dir: Path, problem: Problem) -> Plan:
    """Read ``plan.csv``, ``routes.csv`` and ``unscheduled.csv`` (and ``kpis.json``) back.

    Routes come sorted by (clinician, date), stops by sequence. Raises :class:`DatasetError`
    for missing or malformed files, unknown visits or clinicians, and plan rows that disagree
    with ``routes.csv``.
    """
    out_dir = Path(out_dir)
    problems: list[InputProblem] = []
    visits: dict[str, Visit] = {v.visit_id: v for v in problem.visits}
    clinicians = {c.clinician_id: c for c in problem.clinicians}

    stops: dict[tuple[str, dt.date], list[tuple[int, Stop]]] = defaultdict(list)
    plan_table = _plan_table(out_dir, "plan", problems)
    if plan_table is not None:
        for r in _rows(plan_table, problems):
            visit_id = r.reference("visit_id", visits, "the week's visits")
            clinician_id = r.reference("clinician_id", clinicians, "the week's clinicians")
            day = r.need("date", parse_date, "a date")
            sequence = r.need("sequence", _non_negative_int, "a sequence number")
            arrival = r.need("arrival", _clock, "a time")
            start = r.need("start", _clock, "a time")
            end = r.need("end", _clock, "a time")
            travel_min = r.need("travel_min", _non_negative_int, "minutes")
            travel_km = r.need("travel_km", _km, "kilometres")
            via_centre = r.opt("via_centre", parse_bool, False)
            if r.ok:
                with _invariants(r):
                    stop = Stop(
                        visit_id,
                        clinician_id,
                        _value(day),
                        _value(sequence),
                        _value(arrival),
                        _value(start),
                        _value(end),
                        _value(travel_min),
                        _value(travel_km),
                        _value(via_centre),
                    )
                    stops[(clinician_id, stop.day)].append((r.row.number, stop))

    routes: list[Route] = []
    route_table = _plan_table(out_dir, "routes", problems)
    if route_table is not None:
        seen: dict[tuple[str, dt.date], int] = {}
        for r in _rows(route_table, problems):
            clinician_id = r.reference("clinician_id", clinicians, "the week's clinicians")
            day = r.need("date", parse_date, "a date")
            depart = r.need("depart", _clock, "a time")
            back = r.need("return", _clock, "a time")
            count = r.need("visits", _non_negative_int, "a number of visits")
            travel_min = r.need("travel_min", _non_negative_int, "minutes")
            travel_km = r.need("travel_km", _km, "kilometres")
            work_min = r.need("work_min", _non_negative_int, "minutes")
            overtime = r.need("overtime_min", _non_negative_int, "minutes")
            if not r.ok or day is None:
                continue
            key = (clinician_id, day)
            if key in seen:
                r.problem("date", f"a second route of {clinician_id}: also on row {seen[key]}")
                continue
            seen[key] = r.row.number
            ordered = sorted(stops.pop(key, []), key=lambda item: item[1].sequence)
            sequences = [stop.sequence for _, stop in ordered]
            if len(set(sequences)) != len(sequences):
                r.problem(None, f"plan.csv repeats a sequence number of {clinician_id} on {day}")
            if count != len(ordered):
                r.problem(
                    "visits",
                    f"says {count} visits but plan.csv has {len(ordered)} rows for "
                    f"{clinician_id} on {day}",
                )
            if r.ok:
                with _invariants(r):
                    route = Route(
                        clinician_id,
                        _value(day),
                        _value(depart),
                        _value(back),
                        tuple(stop for _, stop in ordered),
                        _value(travel_min),
                        _value(travel_km),
                        _value(work_min),
                        _value(overtime),
                    )
                    routes.append(route)
        for (clinician_id, day), orphans in sorted(stops.items()):
            problems.append(
                InputProblem(
                    "plan.csv",
                    orphans[0][0],
                    "date",
                    day.isoformat(),
                    f"routes.csv has no route of {clinician_id} on this date",
                )
            )

    unscheduled: list[Unscheduled] = []
    if (out_dir / "unscheduled.csv").is_file():
        left_table = _plan_table(out_dir, "unscheduled", problems)
        if left_table is not None:
            for r in _rows(left_table, problems):
                visit_id = r.reference("visit_id", visits, "the week's visits")
                if r.ok:
                    unscheduled.append(Unscheduled(visit_id, r.text("reason"), r.text("reason_zh")))

    meta = _read_kpis(out_dir, problems)
    if problems:
        raise DatasetError(problems)
    routes.sort(key=lambda route: (route.clinician_id, route.day))
    objective = meta.get("objective")
    seconds = meta.get("solve_seconds")
    return Plan(
        routes=tuple(routes),
        unscheduled=tuple(unscheduled),
        solve_seconds=float(seconds) if isinstance(seconds, int | float) else 0.0,
        objective=objective
        if isinstance(objective, int) and not isinstance(objective, bool)
        else None,
        status=str(meta.get("status") or ""),
    )


def _read_kpis(out_dir: Path, problems: list[InputProblem]) -> dict[str, object]:
    path = out_dir / "kpis.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(InputProblem(path.name, None, None, None, f"is not valid JSON: {exc}"))
        return {}
    if not isinstance(data, dict):
        problems.append(InputProblem(path.name, None, None, None, "must be a JSON object"))
        return {}
    return data
