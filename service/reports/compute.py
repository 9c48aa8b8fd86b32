"""The official tables and the programme coverage, computed from the records in the database.

Nothing is entered by hand ("此表不需要手动填报"): every figure is a count of stored rows.

- a visit counts when its record is ``completed``, on its date, for the unit (team, centre,
  district) of the resident's signed team; the total row is the city (every centre asked for);
- Annex 3 counts the disabled and semi-disabled residents aged 60+ on the visit's date, and only
  visits made at home (入户): health checks, chronic follow-ups split by the resident's
  hypertension / diabetes flags, special on-demand services, and home sick-bed discharges; the
  flags are those recorded with the visit (the discharge): a report over a past period counts
  people as they were then, whatever the register says today; the
  total is the sum of those visit columns (项目9=3+4+5+6+7+8); people served are the residents
  with any completed home visit or a discharge in the period;
- Annex 2 counts signed residents aged 60+ (signed on or before the period's end), their health
  checks in the period (at home or not) and each test the checks did;
- Annex 1 sets the year's progress (1 January to the report's end) against the quotas: done,
  expected at an even pace, shortfall, and the forecast (done + visits in stored plans after
  the report's end, within the year; the signing forecast is what is signed now);
- coverage (Minhang 789) is taken on the report's end day, but for the centenarians on a home
  sick-bed: those who were so on some day of the period (from the sick-bed episodes and the
  birth dates, not today's flag), and whether their rounds while on the bed were twice a month,
  pro rata to the days on it (:func:`rounds_due`).

Every table is checked before it is written (:func:`check_table`): a total that is not the sum
of its parts, or a total row that is not the sum of the units, is refused.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, TypeVar

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from scheduler.model import HEALTH_CHECK_TESTS, Disability, Place, Resident, VisitOutcome
from scheduler.programmes import (
    Period,
    apply_overrides,
    builtin_programmes,
    overdue_home_visits,
    overdue_horizon,
)
from service.db import mappers
from service.db.tables import (
    CentreRow,
    ClinicianRow,
    PlanRow,
    PlanStatus,
    PlanStopRow,
    ProgrammeOverrideRow,
    QuotaRow,
    ResidentRow,
    SickbedEpisodeRow,
    VisitRecordRow,
)
from service.reports import headers as h

__all__ = [
    "NO_RESIDENTS",
    "Level",
    "OverdueResident",
    "ReportData",
    "ReportError",
    "Scope",
    "SumMismatchError",
    "Table",
    "annex1",
    "annex2",
    "annex3",
    "check_table",
    "coverage",
    "data_notice",
    "day_number",
    "hundredth_birthday",
    "load_report_data",
    "no_records_notice",
    "overdue_residents",
    "rounds_due",
    "weekly_visits",
]

_DISABLED: Final = frozenset({Disability.SEMI.value, Disability.FULL.value})
_ELDER_AGE: Final = 60
_UNKNOWN_DISTRICT: Final = "未填区 (no district)"
DELIVERY_DAYS: Final = 14
"""A committee is covered when it had a medicine delivery within this many days (789 item 9)."""


_FIRST_DAY: Final = dt.date(2000, 1, 1)
_LAST_DAY: Final = dt.date(2099, 12, 31)


class Level(StrEnum):
    """The level of a table's rows; the total row is the level above all of them (the city)."""

    TEAM = "team"
    CENTRE = "centre"
    DISTRICT = "district"


class ReportError(ValueError):
    """The report cannot be made as asked (the message says why and what would be right)."""


class SumMismatchError(ReportError):
    """A table does not add up; it is never written."""


@dataclass(frozen=True, slots=True)
class Scope:
    """What a report covers: the period, the level of its rows, and whose records."""

    start: dt.date
    end: dt.date
    by: Level = Level.DISTRICT
    centre_ids: tuple[str, ...] = ()  # empty: every centre
    team_id: str | None = None  # a team leader's own team only

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ReportError(
                f"the period ends ({self.end}) before it starts ({self.start}): swap --from/--to"
            )
        for day in (self.start, self.end):
            if not _FIRST_DAY <= day <= _LAST_DAY:
                raise ReportError(
                    f"{day} is outside the years a report covers ({_FIRST_DAY.year}-"
                    f"{_LAST_DAY.year}): check the date"
                )


@dataclass(frozen=True, slots=True)
class Table:
    """One table as it is written: header rows, then a row per unit, then the total row.

    ``sum_columns`` are the columns whose total row is the sum of the unit rows;
    ``row_totals`` maps a column to the columns it is the sum of, in every row;
    ``at_most`` maps a column to the column it cannot exceed (a test without a check).
    """

    name: str
    title: str
    header_rows: tuple[tuple[str, ...], ...]
    rows: tuple[tuple[object, ...], ...]
    sum_columns: tuple[int, ...]
    row_totals: dict[int, tuple[int, ...]] = field(default_factory=dict)
    at_most: dict[int, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    merges: tuple[tuple[int, int, int, int], ...] = ()  # header cells merged: r1, c1, r2, c2
    english: tuple[str, ...] = ()  # per column, shown beside the headers on pages


def check_table(table: Table) -> None:
    """Refuse a table that does not add up (raise :class:`SumMismatchError` saying where)."""
    problems: list[str] = []
    *units, total = table.rows
    for row in table.rows:
        for column, parts in table.row_totals.items():
            expected = sum(int(row[p]) for p in parts)  # type: ignore[call-overload]
            if int(row[column]) != expected:  # type: ignore[call-overload]
                problems.append(
                    f"row '{row[1] if len(row) > 1 else row[0]}': column {column + 1} is "
                    f"{row[column]}, the sum of columns {'+'.join(str(p + 1) for p in parts)} "
                    f"is {expected}"
                )
        for column, bound in table.at_most.items():
            if int(row[column]) > int(row[bound]):  # type: ignore[call-overload]
                problems.append(
                    f"row '{row[1]}': column {column + 1} ({row[column]}) exceeds column "
                    f"{bound + 1} ({row[bound]})"
                )
    for column in table.sum_columns:
        expected = sum(int(row[column]) for row in units)  # type: ignore[call-overload]
        if int(total[column]) != expected:  # type: ignore[call-overload]
            problems.append(
                f"total row: column {column + 1} is {total[column]}, the units add up to {expected}"
            )
    if problems:
        raise SumMismatchError(
            f"{table.name} does not add up and was not written: " + "; ".join(problems)
        )


# --- the records ------------------------------------------------------------------------------
#
# A district's year is about 200,000 visit records and 40,000 residents. Every figure is a count,
# and the database counts: each table asks for its counts grouped by team or centre (a district
# is the sum of its centres: a resident belongs to one), so no visit row is carried into Python.
# Ages are compared as whole numbers YYYYMMDD, in SQL as in Python: aged N or more on a day
# exactly when day - birth >= N * 10000 (:func:`scheduler.model.age_in_years`).


_DateColumn = ColumnElement[Any] | InstrumentedAttribute[Any]


def day_number(day: dt.date) -> int:
    """``day`` as the whole number YYYYMMDD (ordered like the dates)."""
    return day.year * 10_000 + day.month * 100 + day.day


def _day_sql(column: _DateColumn) -> ColumnElement[int]:
    """The database's YYYYMMDD of a date column (SQLite and PostgreSQL alike)."""
    return (
        cast(extract("year", column), Integer) * 10_000
        + cast(extract("month", column), Integer) * 100
        + cast(extract("day", column), Integer)
    )


def _born_by(day: dt.date, years: int) -> dt.date:
    """The last birth date of someone aged ``years`` or more on ``day``."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February: born on the 28th at the latest
        return day.replace(year=day.year - years, day=28)


def _aged_on(
    day: _DateColumn | dt.date, years: int, span: tuple[dt.date, dt.date] | None = None
) -> ColumnElement[bool]:
    """The resident is aged ``years`` or more on ``day`` (a date, or a date column whose dates
    fall within ``span``: the day's number is then computed only for those born within it)."""
    if isinstance(day, dt.date):
        return ResidentRow.birth_date <= _born_by(day, years)
    exact = _day_sql(day) - _day_sql(ResidentRow.birth_date) >= years * 10_000
    if span is None:
        return exact
    first, last = (_born_by(d, years) for d in span)
    birth = ResidentRow.birth_date
    return or_(birth <= first, and_(birth <= last, exact))


def _signed_on(day: _DateColumn | dt.date) -> ColumnElement[bool]:
    r = ResidentRow
    return and_(r.signed.is_(True), or_(r.signed_since.is_(None), r.signed_since <= day))


def _completed(first: dt.date, last: dt.date, *programmes: str) -> ColumnElement[bool]:
    v = VisitRecordRow
    return and_(
        v.outcome == VisitOutcome.COMPLETED.value,
        v.visit_date >= first,
        v.visit_date <= last,
        v.programme.in_(programmes) if programmes else true(),
    )


@dataclass(slots=True)
class ReportData:
    """What one request's tables count: the scope, the centres, and the database to ask."""

    scope: Scope
    session: Session
    centres: dict[str, tuple[str, str]]  # centre_id -> (name, district)
    keys: list[str]  # the teams or centres of the scope's residents
    centre_ids: list[str] = field(default_factory=list)  # the centres of the scope's residents
    counted: dict[tuple[dt.date, dt.date], dict[str, Counter[str]]] = field(default_factory=dict)
    """Annex 3's counts per span, made once (Annex 1 counts the same visits for the year)."""

    @property
    def key(self) -> Any:  # a column: mypy reads the mapped attribute as its value
        """The column the database groups by: a team, or a centre (a district's parts)."""
        return ResidentRow.team_id if self.scope.by is Level.TEAM else ResidentRow.centre_id

    def unit_of(self, key: str) -> str:
        """The unit of a team or centre at the scope's level."""
        if self.scope.by is Level.DISTRICT:
            return self.centres[key][1] or _UNKNOWN_DISTRICT
        return key

    def label(self, unit: str) -> str:
        """How a unit is named in the 区/机构 column."""
        if self.scope.by is Level.CENTRE and unit in self.centres:
            return f"{self.centres[unit][0]} {unit}"
        return unit

    def units(self) -> list[str]:
        """Every unit of the scope, with or without records, in a stable order."""
        return sorted({self.unit_of(k) for k in self.keys})

    def tally(self, query: Select[Any], *, scoped: bool = True) -> Counter[str]:
        """Per unit, the sum of a query's ``(team or centre, count)`` rows (kept to the scope's
        residents unless the query already is)."""
        counts: Counter[str] = Counter()
        for key, count in self.session.execute(_scoped(query, self.scope) if scoped else query):
            counts[self.unit_of(key)] += int(count or 0)
        return counts

    def count(self, *where: ColumnElement[bool], visits: bool = False) -> Counter[str]:
        """Per unit, the residents (or, with ``visits``, their visit records) matching."""
        query = select(self.key, func.count()).group_by(self.key).where(*where)
        if visits:
            query = query.select_from(VisitRecordRow).join(
                ResidentRow, ResidentRow.resident_id == VisitRecordRow.resident_id
            )
        return self.tally(query)


_Query = TypeVar("_Query", bound=Select)  # type: ignore[type-arg]


def _scoped(query: _Query, scope: Scope) -> _Query:
    if scope.centre_ids:
        query = query.where(ResidentRow.centre_id.in_(scope.centre_ids))
    if scope.team_id is not None:
        query = query.where(ResidentRow.team_id == scope.team_id)
    return query


def load_report_data(session: Session, scope: Scope) -> ReportData:
    """The centres and the teams or centres of ``scope``; the tables count as they need.

    Raises :class:`ReportError` naming centres that do not exist.
    """
    centres = {
        row.centre_id: (row.name, row.district)
        for row in session.execute(select(CentreRow.centre_id, CentreRow.name, CentreRow.district))
    }
    unknown = [c for c in scope.centre_ids if c not in centres]
    if unknown:
        raise ReportError(
            f"unknown centre(s) {', '.join(unknown)}; known: {', '.join(sorted(centres)) or 'none'}"
        )
    data = ReportData(scope, session, centres, [])
    data.keys = list(session.scalars(_scoped(select(data.key).distinct(), scope)))
    data.centre_ids = sorted(
        session.scalars(_scoped(select(ResidentRow.centre_id).distinct(), scope))
    )
    return data


NO_RESIDENTS: Final = (
    "本期没有记录：所选范围内没有居民（居民名册为空）。请先导入居民名册（“导入档案”页面，或 "
    "homevisit import 文件夹），再导入访视记录。 / No records for this period: there are no "
    "residents in this scope (the register is empty). Import the register first (the Registers "
    "page, or homevisit import FOLDER), then the visit records."
)
"""The notice of a report with no resident to count."""


def no_records_notice(first: dt.date, last: dt.date) -> str:
    """The notice of a report whose period has no visit record."""
    return (
        f"本期没有记录：{first} ~ {last} 没有任何访视记录，表中的 0 和 0.0% 表示没有数据，"
        "不是没有完成。请导入访视记录（history.csv：“导入档案”页面，或 homevisit import 文件夹）"
        f"或录入访视（护士页面，或 homevisit record）。 / No records for this period: there is no "
        f"visit record from {first} to {last}, so the zeros and 0.0% mean no data, not no work "
        "done. Import the past visits (history.csv: the Registers page, or homevisit import "
        "FOLDER) or record visits (the nurse's page, or homevisit record)."
    )


def data_notice(data: ReportData) -> str | None:
    """Why the report's figures are empty, when they are: no resident in the scope (the
    register was never imported), or no visit record in the period (of any outcome); else
    None. Said above the figures, never a bare 0 %."""
    if not data.keys:
        return NO_RESIDENTS
    v, r = VisitRecordRow, ResidentRow
    first, last = data.scope.start, data.scope.end
    query = (
        select(v.record_id)
        .join(r, r.resident_id == v.resident_id)
        .where(v.visit_date >= first, v.visit_date <= last)
        .limit(1)
    )
    if data.session.scalar(_scoped(query, data.scope)) is None:
        return no_records_notice(first, last)
    return None


def _serial(rows: Iterable[list[object]]) -> list[tuple[object, ...]]:
    return [(str(i), *row) for i, row in enumerate(rows, start=1)]


def _total_row(label: str, body: Sequence[tuple[object, ...]], width: int) -> tuple[object, ...]:
    sums = [sum(int(row[c]) for row in body) for c in range(2, width)]  # type: ignore[call-overload]
    return ("", label, *sums)


# --- Annex 3 ----------------------------------------------------------------------------------

_ANNEX3_VISIT_COLUMNS: Final = (3, 4, 5, 6, 7, 8)
_ANNEX3_COUNTS: Final = ("people", "checks", "ht", "dm", "both", "discharges", "special", "total")


def _annex3_counts(data: ReportData, first: dt.date, last: dt.date) -> dict[str, Counter[str]]:
    """Per count of Annex 3's columns 1-8 (:data:`_ANNEX3_COUNTS`), per unit, from ``first`` to
    ``last``: the disabled and semi-disabled residents aged 60+ on the day, visits at home."""
    if (first, last) in data.counted:
        return data.counted[(first, last)]
    v, r, e = VisitRecordRow, ResidentRow, SickbedEpisodeRow
    # The resident as recorded with the visit (or the discharge): as he was then; a record
    # written without the flags counts by today's.
    disability = func.coalesce(v.disability, r.disability)
    ht, dm = func.coalesce(v.hypertension, r.hypertension), func.coalesce(v.diabetes, r.diabetes)
    at_home = (
        _completed(first, last),
        v.place == Place.HOME.value,
        disability.in_(_DISABLED),
        _aged_on(v.visit_date, _ELDER_AGE, (first, last)),
    )
    discharged = (
        e.discharged.is_not(None),
        e.discharged >= first,
        e.discharged <= last,
        func.coalesce(e.disability, r.disability).in_(_DISABLED),
        _aged_on(e.discharged, _ELDER_AGE, (first, last)),
    )
    joined = v.__table__.join(r.__table__, r.resident_id == v.resident_id)
    counts: dict[str, Counter[str]] = {name: Counter() for name in _ANNEX3_COUNTS}
    kinds = select(data.key, v.programme, ht, dm, func.count())
    for key, programme, has_ht, has_dm, n in data.session.execute(
        _scoped(
            kinds.select_from(joined)
            .where(*at_home, v.programme.in_(_ANNEX3_PROGRAMMES))
            .group_by(data.key, v.programme, ht, dm),
            data.scope,
        )
    ):
        followup = "both" if has_ht and has_dm else "ht" if has_ht else "dm" if has_dm else None
        column = {"health_check": "checks", "special_service": "special"}.get(programme, followup)
        if column is not None:
            counts[column][data.unit_of(key)] += n
    counts["discharges"] = data.tally(
        select(data.key, func.count())
        .select_from(e.__table__.join(r.__table__, r.resident_id == e.resident_id))
        .where(*discharged)
        .group_by(data.key)
    )
    # People served: any completed home visit or a discharge in the span, each person once.
    served = union(
        _scoped(select(r.resident_id, data.key).select_from(joined).where(*at_home), data.scope),
        _scoped(
            select(r.resident_id, data.key)
            .select_from(e.__table__.join(r.__table__, r.resident_id == e.resident_id))
            .where(*discharged),
            data.scope,
        ),
    ).subquery()
    key = served.c[data.key.key]
    counts["people"] = data.tally(select(key, func.count()).group_by(key), scoped=False)
    for unit in data.units():
        counts["total"][unit] = sum(counts[c][unit] for c in _ANNEX3_COUNTS[1:7])
    data.counted[(first, last)] = counts
    return counts


_ANNEX3_PROGRAMMES: Final = ("health_check", "chronic_followup", "special_service")


def annex3(data: ReportData) -> Table:
    """Tianjin Annex 3: home medical and nursing care of the disabled and semi-disabled 60+."""
    counts = _annex3_counts(data, data.scope.start, data.scope.end)
    body = _serial([data.label(u), *(counts[c][u] for c in _ANNEX3_COUNTS)] for u in data.units())
    width = len(h.ANNEX3_COLUMNS)
    rows = (*body, _total_row(h.ANNEX1_TOTAL, body, width))
    first = tuple(
        h.ANNEX3_GROUP if i == h.ANNEX3_GROUPED[0] else "" if i in h.ANNEX3_GROUPED else name
        for i, name in enumerate(h.ANNEX3_COLUMNS)
    )
    second = tuple(name if i in h.ANNEX3_GROUPED else "" for i, name in enumerate(h.ANNEX3_COLUMNS))
    lo, hi = h.ANNEX3_GROUPED[0], h.ANNEX3_GROUPED[-1]
    merges = ((0, lo, 0, hi), *((0, c, 1, c) for c in range(width) if c not in h.ANNEX3_GROUPED))
    return Table(
        name="annex3",
        title=h.ANNEX3_TITLE,
        header_rows=(first, second, h.ANNEX3_NUMBERS),
        rows=rows,
        sum_columns=tuple(range(2, width)),
        row_totals={width - 1: _ANNEX3_VISIT_COLUMNS},
        notes=(*h.ANNEX3_NOTES, _period_note(data.scope)),
        merges=merges,
        english=tuple(h.ENGLISH.get(c, "") for c in h.ANNEX3_COLUMNS),
    )


def _period_note(scope: Scope) -> str:
    level = {Level.TEAM: "团队 team", Level.CENTRE: "机构 centre", Level.DISTRICT: "区 district"}
    return (
        f"统计期间 period {scope.start} ~ {scope.end}; 按{level[scope.by]}; "
        f"合计 = 全部所选 total = every unit shown"
    )


# --- Annex 2 ----------------------------------------------------------------------------------


def _signed_elders(data: ReportData, day: dt.date) -> Counter[str]:
    """Per unit, the active residents aged 60+ and signed on ``day``."""
    return data.count(ResidentRow.active.is_(True), _signed_on(day), _aged_on(day, _ELDER_AGE))


def annex2(data: ReportData) -> Table:
    """Tianjin Annex 2: signed elders, their health checks and each test done."""
    v, r = VisitRecordRow, ResidentRow
    tests = literal(";") + v.tests + literal(";")
    per_test = [
        func.sum(case((tests.contains(f";{test};", autoescape=True), 1), else_=0))
        for test in HEALTH_CHECK_TESTS
    ]
    columns: list[Counter[str]] = [_signed_elders(data, data.scope.end)]
    columns += [Counter() for _ in range(1 + len(HEALTH_CHECK_TESTS))]
    for key, *sums in data.session.execute(
        _scoped(
            select(data.key, func.count(), *per_test)
            .select_from(v)
            .join(r, r.resident_id == v.resident_id)
            .where(
                _completed(data.scope.start, data.scope.end, "health_check"),
                _signed_on(v.visit_date),
                _aged_on(v.visit_date, _ELDER_AGE, (data.scope.start, data.scope.end)),
            )
            .group_by(data.key),
            data.scope,
        )
    ):
        for column, n in zip(columns[1:], sums, strict=True):
            column[data.unit_of(key)] += int(n or 0)
    body = _serial([data.label(u), *(c[u] for c in columns)] for u in data.units())
    width = len(h.ANNEX2_COLUMNS)
    return Table(
        name="annex2",
        title=h.ANNEX2_TITLE,
        header_rows=(h.ANNEX2_COLUMNS,),
        rows=(*body, _total_row(h.ANNEX1_TOTAL, body, width)),
        sum_columns=tuple(range(2, width)),
        at_most={c: 3 for c in range(4, width)},
        notes=(*h.ANNEX2_NOTES, _period_note(data.scope)),
        english=tuple(h.ENGLISH.get(c, "") for c in h.ANNEX2_COLUMNS),
    )


# --- Annex 1: quota progress ------------------------------------------------------------------


def _planned_home_visits(session: Session, data: ReportData) -> Counter[str]:
    """Per unit: Annex 3 visits in stored plans after the report's end, within its year.

    Of each centre's week, the latest plan version that is a draft or approved counts.
    """
    end = data.scope.end
    year_end = dt.date(end.year, 12, 31)
    latest = (
        select(PlanRow.centre_id, PlanRow.week_start, func.max(PlanRow.version).label("version"))
        .where(
            PlanRow.status.in_((PlanStatus.DRAFT.value, PlanStatus.APPROVED.value)),
            PlanRow.week_start <= year_end,
            PlanRow.week_start >= end - dt.timedelta(days=6),
        )
        .group_by(PlanRow.centre_id, PlanRow.week_start)
        .subquery()
    )
    planned = (
        select(PlanStopRow.visit_id, PlanStopRow.resident_id, PlanStopRow.programme)
        .join(PlanRow, PlanRow.plan_id == PlanStopRow.plan_id)
        .join(
            latest,
            (latest.c.centre_id == PlanRow.centre_id)
            & (latest.c.week_start == PlanRow.week_start)
            & (latest.c.version == PlanRow.version),
        )
        .where(
            PlanStopRow.visit_date > end,
            PlanStopRow.visit_date <= year_end,
            PlanStopRow.programme.in_(_ANNEX3_PROGRAMMES),
            PlanStopRow.resident_id.is_not(None),
        )
        .distinct()
        .subquery()
    )
    r = ResidentRow
    # The plan's future visits count by the residents' flags now (they are today's).
    return data.tally(
        select(data.key, func.count())
        .select_from(planned.join(r.__table__, r.resident_id == planned.c.resident_id))
        .where(
            r.disability.in_(_DISABLED),
            _aged_on(end, _ELDER_AGE),
            or_(
                planned.c.programme != "chronic_followup",
                r.hypertension.is_(True),
                r.diabetes.is_(True),
            ),
        )
        .group_by(data.key)
    )


def read_quotas(session: Session, year: int) -> dict[str, tuple[int, int]]:
    """The stored quotas of ``year``: unit -> (signed elders, home visits)."""
    return {
        row.unit: (row.signed_elders, row.home_visits)
        for row in session.scalars(select(QuotaRow).where(QuotaRow.year == year))
    }


def annex1(
    session: Session, data: ReportData, quotas: dict[str, tuple[int, int]] | None = None
) -> Table:
    """Tianjin Annex 1 as progress: per unit the year's quotas, done, expected, shortfall, forecast.

    ``quotas`` (unit -> (signed elders, home visits)) default to those stored for the report's
    year. Raises :class:`ReportError` naming every unit without a quota.
    """
    end = data.scope.end
    year = end.year
    quotas = quotas if quotas is not None else read_quotas(session, year)
    units = data.units()
    missing = [u for u in units if u not in quotas]
    if missing:
        raise ReportError(
            f"附件1 未做：{', '.join(missing)} 没有 {year} 年任务量，请先导入 "
            f"homevisit report quotas FILE.csv --year {year}（列：行政区, 老年人家医签约, "
            f"入户医疗护理服务） / Annex 1 not made: no {year} quota for {', '.join(missing)} "
            f"(level {data.scope.by.value}); load the quotas with: homevisit report quotas "
            f"FILE.csv --year {year} (columns: unit, signed elders, home visits)"
        )
    year_start = dt.date(year, 1, 1)
    fraction = ((end - year_start).days + 1) / ((dt.date(year, 12, 31) - year_start).days + 1)
    visits = _annex3_counts(data, year_start, end)["total"]
    signed = _signed_elders(data, end)
    planned = _planned_home_visits(session, data)
    body = []
    for unit in units:
        row: list[object] = [data.label(unit)]
        for quota, done, ahead in (
            (quotas[unit][0], int(signed[unit]), 0),
            (quotas[unit][1], int(visits[unit]), int(planned[unit])),
        ):
            expected = math.floor(quota * fraction + 0.5)
            row += [quota, done, expected, max(0, expected - done), done + ahead]
        body.append(tuple(row))
    total = (h.ANNEX1_TOTAL, *(sum(int(r[c]) for r in body) for c in range(1, 11)))  # type: ignore[call-overload]
    columns = (h.ANNEX1_COLUMNS[0], *h.ANNEX1_PROGRESS, *h.ANNEX1_PROGRESS)
    first: tuple[str, ...] = (h.ANNEX1_COLUMNS[0], h.ANNEX1_COLUMNS[1], "", "", "", "")
    first += (h.ANNEX1_COLUMNS[2], "", "", "", "")
    english = (h.ENGLISH[h.ANNEX1_COLUMNS[0]], *(h.ENGLISH[p] for p in columns[1:]))
    return Table(
        name="annex1",
        title=f"{year}年{h.ANNEX1_TITLE}（完成进度 progress）",
        header_rows=(first, ("", *h.ANNEX1_PROGRESS, *h.ANNEX1_PROGRESS)),
        rows=(*body, total),
        sum_columns=tuple(range(1, 11)),
        notes=(
            f"已完成 done: 1 January ~ {end}; 按进度应完成 expected = quota x "
            f"{(end - year_start).days + 1}/{(dt.date(year, 12, 31) - year_start).days + 1} "
            "days; 差额 shortfall = max(0, expected - done); 年底预计 forecast = done + "
            f"planned after {end} (stored plans; signing: as signed now).",
            "入户医疗护理服务 = 附件3 入户服务总次数 (Annex 3's total home visits).",
        ),
        merges=((0, 0, 1, 0), (0, 1, 0, 5), (0, 6, 0, 10)),
        english=english,
    )


# --- coverage (Minhang 789) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OverdueResident:
    """A resident with a care-programme visit overdue on the report's day."""

    unit: str
    team_id: str
    resident_id: str
    name: str
    programme: str
    last_done: dt.date | None
    due_by: dt.date
    lat: float | None
    lon: float | None

    def days_since(self, day: dt.date) -> int | None:
        return (day - self.last_done).days if self.last_done else None


_CHUNK: Final = 500
"""Ids per ``IN (...)`` (well under every database's limit of bound values)."""


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    return (ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK))


def overdue_residents(session: Session, data: ReportData) -> list[OverdueResident]:
    """Residents whose visit is overdue on the report's end day: overdue in the week of the
    end as the planner sees it (the overdue part of :func:`scheduler.programmes.due_visits`)
    and not visited since the week began; per team, the longest since the last visit first.

    The planner's rules decide, on the few residents they can concern: the database first
    leaves out everyone whose last visit of a programme is recent enough that it cannot be
    overdue (:func:`scheduler.programmes.overdue_horizon`), and whoever the due list would not
    plan (inactive, not placed on the map, a team with no active clinician).
    """
    end = data.scope.end
    week_start = end - dt.timedelta(days=end.weekday())
    overrides: dict[str, dict[str, object]] = dict(
        session.execute(select(ProgrammeOverrideRow.programme, ProgrammeOverrideRow.settings)).all()
    )
    programmes = apply_overrides(builtin_programmes(), overrides)
    horizons = {
        pid: day
        for pid, programme in programmes.items()
        if (day := overdue_horizon(programme, week_start)) is not None
    }
    centres = data.centre_ids
    if not horizons or not centres:
        return []
    teams = select(ClinicianRow.team_id).where(
        ClinicianRow.active.is_(True), ClinicianRow.centre_id.in_(centres)
    )
    v, r = VisitRecordRow, ResidentRow
    planned = (r.active.is_(True), r.lat.is_not(None), r.lon.is_not(None), r.team_id.in_(teams))
    horizon = case(
        *((v.programme == pid, literal(day, Date)) for pid, day in horizons.items()),
    )
    behind = session.execute(
        _scoped(
            select(v.resident_id)
            .join(r, r.resident_id == v.resident_id)
            .where(
                v.outcome == VisitOutcome.COMPLETED.value,
                v.programme.in_(horizons),
                v.visit_date < week_start,
                *planned,
            )
            .group_by(v.programme, v.resident_id)
            .having(func.max(v.visit_date) < horizon),
            data.scope,
        )
    ).scalars()
    candidates = sorted(set(behind))
    residents: dict[str, Resident] = {}
    units: dict[str, str] = {}
    history: dict[tuple[str, str], list[dt.date]] = defaultdict(list)
    last: dict[tuple[str, str], dt.date] = {}
    for ids in _chunks(candidates):
        for row in session.execute(select(ResidentRow.__table__).where(r.resident_id.in_(ids))):
            residents[row.resident_id] = mappers.resident_from_row(row._mapping)
            units[row.resident_id] = data.unit_of(
                row.team_id if data.scope.by is Level.TEAM else row.centre_id
            )
        for resident_id, programme, day in session.execute(
            select(v.resident_id, v.programme, v.visit_date).where(
                v.resident_id.in_(ids),
                v.outcome == VisitOutcome.COMPLETED.value,
                v.visit_date <= end,
            )
        ):
            if day < week_start:
                history[(programme, resident_id)].append(day)
            if day <= end:
                last[(resident_id, programme)] = max(last.get((resident_id, programme), day), day)
    result = [
        OverdueResident(
            unit=units[resident_id],
            team_id=residents[resident_id].team_id,
            resident_id=resident_id,
            name=residents[resident_id].name,
            programme=programme,
            last_done=last.get((resident_id, programme)),
            due_by=due_by,
            lat=residents[resident_id].location.lat,
            lon=residents[resident_id].location.lon,
        )
        for resident_id, programme, _last, due_by in overdue_home_visits(
            residents.values(), history, week_start, programmes
        )
        # still overdue on the report's day: not visited since the week began
        if last.get((resident_id, programme), dt.date.min) < week_start
    ]
    result.sort(key=lambda o: (o.team_id, o.last_done or dt.date.min, o.resident_id, o.programme))
    return result


def coverage(
    data: ReportData, overdue: Sequence[OverdueResident], name_of: Callable[[str, str], str]
) -> tuple[Table, Table]:
    """The 789 programme's coverage per unit on the report's end day, and the overdue list.

    ``name_of(resident_id, name)`` says how a resident is shown (masked, or a pseudonym).
    """
    end = data.scope.end
    quarter_start = Period.QUARTER.bounds(end)[0]
    delivery_from = end - dt.timedelta(days=DELIVERY_DAYS - 1)
    v, r = VisitRecordRow, ResidentRow
    active = r.active.is_(True)
    followed = select(v.resident_id).where(_completed(quarter_start, end, "followup_80"))
    on_bed, rounds_kept = _centenarian_rounds(data)
    counts = [
        data.count(active, _aged_on(end, 80)),
        data.count(active, _aged_on(end, 80), r.resident_id.in_(followed)),
        on_bed,
        rounds_kept,
    ]
    delivered = set(
        data.session.scalars(
            _scoped(
                select(r.committee_id)
                .select_from(v)
                .join(r, r.resident_id == v.resident_id)
                .where(_completed(delivery_from, end, "medicine_delivery"))
                .distinct(),
                data.scope,
            )
        )
    )
    # A committee counts once, for the unit most of its residents belong to (ties: the first).
    members: dict[str, Counter[str]] = defaultdict(Counter)
    for committee_id, key, n in data.session.execute(
        _scoped(
            select(r.committee_id, data.key, func.count())
            .where(active)
            .group_by(r.committee_id, data.key),
            data.scope,
        )
    ):
        members[committee_id][data.unit_of(key)] += n
    committees: Counter[str] = Counter()
    covered: Counter[str] = Counter()
    for committee_id, units in members.items():
        unit = min(units, key=lambda u: (-units[u], u))
        committees[unit] += 1
        covered[unit] += committee_id in delivered
    behind = Counter(unit for unit, _ in {(o.unit, o.resident_id) for o in overdue})
    counts += [committees, covered, behind]
    body = []
    for unit in data.units():
        row = [c[unit] for c in counts]
        body.append((data.label(unit), row[0], row[1], _share(row[1], row[0]), *row[2:]))
    sums = [sum(int(r[c]) for r in body) for c in (1, 2, 4, 5, 6, 7, 8)]  # type: ignore[call-overload]
    total = (h.ANNEX1_TOTAL, sums[0], sums[1], _share(sums[1], sums[0]), *sums[2:])
    names = builtin_programmes()
    table = Table(
        name="coverage",
        title=f"闵行区“789”工程覆盖情况 Minhang 789 programme coverage on {end}",
        header_rows=(h.COVERAGE_COLUMNS,),
        rows=(*body, total),
        sum_columns=(1, 2, 4, 5, 6, 7, 8),
        at_most={2: 1, 5: 4, 7: 6},
        notes=(
            f"百岁家床 centenarians: aged 100+ with a home sick-bed open (建床 ~ 撤床, both days "
            f"included) on some day of {data.scope.start} ~ {end}; 巡诊 rounds: completed "
            f"centenarian rounds made while so, {ROUNDS_A_MONTH} due in each month pro rata "
            "to its days on the bed (half a round rounds up); kept = every month as due. "
            "A resident with no sick-bed episode stored counts by today's flag (on the bed "
            "all the period).",
            f"季度 quarter from {quarter_start}; 送药 delivery "
            f"{delivery_from} ~ {end}; 逾期 overdue: as the planner sees the week of "
            f"{end - dt.timedelta(days=end.weekday())}, less those visited since (本周已访除外).",
        ),
    )
    overdue_table = Table(
        name="overdue",
        title=f"逾期居民（按团队，最久未访在前）Residents overdue on {end}, by team, worst first",
        header_rows=(h.OVERDUE_COLUMNS,),
        rows=(
            *(
                (
                    o.team_id,
                    name_of(o.resident_id, o.name),
                    f"{names[o.programme].name_zh} {o.programme}"
                    if o.programme in names
                    else o.programme,
                    o.last_done.isoformat() if o.last_done else "从未 never",
                    str(o.days_since(end)) if o.last_done else "",
                    o.due_by.isoformat(),
                )
                for o in overdue
            ),
            ("合计 total", str(len({o.resident_id for o in overdue})), "", "", "", ""),
        ),
        sum_columns=(),
    )
    return table, overdue_table


ROUNDS_A_MONTH: Final = 2
"""Centenarian rounds due in a month on the bed (789 item 13: twice a month)."""


def rounds_due(days_on_bed: int, month_days: int) -> int:
    """The centenarian rounds due in a month of ``month_days`` days for ``days_on_bed`` of them
    spent on a home sick-bed aged 100 or more: :data:`ROUNDS_A_MONTH` pro rata, rounded half up
    (a whole month: 2; from 8 days of 30: 1; a week: 0)."""
    return (2 * ROUNDS_A_MONTH * days_on_bed + month_days) // (2 * month_days)


def hundredth_birthday(birth: dt.date) -> dt.date:
    """The first day aged 100 (born on 29 February: 1 March when the year has no 29th)."""
    try:
        return birth.replace(year=birth.year + 100)
    except ValueError:
        return dt.date(birth.year + 100, 3, 1)


def _months(first: dt.date, last: dt.date) -> Iterator[tuple[dt.date, dt.date, int]]:
    """The calendar months from ``first`` to ``last``: (first day, last day) of each within the
    span, and the month's length."""
    day = first
    while day <= last:
        following = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        length = (following - day.replace(day=1)).days
        yield day, min(last, following - dt.timedelta(days=1)), length
        day = following


def _merged(spans: Iterable[tuple[dt.date, dt.date]]) -> list[tuple[dt.date, dt.date]]:
    """Spans of days (both ends included), overlapping or touching ones made one."""
    merged: list[tuple[dt.date, dt.date]] = []
    for first, last in sorted(s for s in spans if s[0] <= s[1]):
        if merged and first <= merged[-1][1] + dt.timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _centenarian_rounds(data: ReportData) -> tuple[Counter[str], Counter[str]]:
    """Per unit, the residents who were centenarians on a home sick-bed on some day of the
    period, and those of them whose rounds while so were as due in every month of it.

    On the bed means within a stored episode (opened ~ discharged, both included; still open:
    to the period's end, unless the resident has left the register, when the end is not known
    and only discharged episodes count); a resident with no episode stored counts by today's
    flag, on the bed all the period if he is on it now. Rounds are the completed
    ``centenarian_round`` records of days so spent; each month needs :func:`rounds_due`.
    Centenarians are few (tens in a district): they are read and counted in Python.
    """
    start, end = data.scope.start, data.scope.end
    r, e, v = ResidentRow, SickbedEpisodeRow, VisitRecordRow
    people = data.session.execute(
        _scoped(
            select(
                r.resident_id, data.key.label("unit_key"), r.birth_date, r.active, r.home_sickbed
            ).where(r.birth_date <= _born_by(end, 100)),
            data.scope,
        )
    ).all()
    beds: dict[str, list[tuple[dt.date, dt.date | None]]] = defaultdict(list)
    rounds: dict[str, list[dt.date]] = defaultdict(list)
    for ids in _chunks([p.resident_id for p in people]):
        for resident_id, opened, discharged in data.session.execute(
            select(e.resident_id, e.opened, e.discharged).where(e.resident_id.in_(ids))
        ):
            beds[resident_id].append((opened, discharged))
        for resident_id, day in data.session.execute(
            select(v.resident_id, v.visit_date).where(
                v.resident_id.in_(ids), _completed(start, end, "centenarian_round")
            )
        ):
            rounds[resident_id].append(day)
    on_bed: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    for person in people:
        first = max(start, hundredth_birthday(person.birth_date))
        if person.resident_id in beds:
            spans = [
                (max(first, opened), min(end, discharged or end))
                for opened, discharged in beds[person.resident_id]
                if discharged is not None or person.active
            ]
        else:
            spans = [(first, end)] if person.active and person.home_sickbed else []
        spans = _merged(spans)
        if not spans:
            continue
        unit = data.unit_of(person.unit_key)
        on_bed[unit] += 1
        days = [d for d in rounds[person.resident_id] if any(a <= d <= b for a, b in spans)]
        kept[unit] += all(
            sum(m_first <= d <= m_last for d in days)
            >= rounds_due(
                sum(max(0, (min(b, m_last) - max(a, m_first)).days + 1) for a, b in spans),
                length,
            )
            for m_first, m_last, length in _months(start, end)
        )
    return on_bed, kept


def _share(done: int, of: int) -> str:
    return f"{done / of:.1%}" if of else "-"


def weekly_visits(data: ReportData) -> dict[str, Counter[dt.date]]:
    """Completed visits in the period per programme and week (the week's Monday), counted by
    the database per day."""
    v = VisitRecordRow
    query = (
        select(v.programme, v.visit_date, func.count())
        .where(_completed(data.scope.start, data.scope.end))
        .group_by(v.programme, v.visit_date)
    )
    if data.scope.centre_ids or data.scope.team_id is not None:  # else every resident's
        query = _scoped(
            query.join(ResidentRow, ResidentRow.resident_id == v.resident_id), data.scope
        )
    per_day = data.session.execute(query).all()
    trend: dict[str, Counter[dt.date]] = defaultdict(Counter)
    for programme, day, count in per_day:
        trend[programme][day - dt.timedelta(days=day.weekday())] += count
    return trend
