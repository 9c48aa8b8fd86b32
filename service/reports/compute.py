"""The official tables and the programme coverage, computed from the records in the database.

Nothing is entered by hand ("此表不需要手动填报"): every figure is a count of stored rows.

- a visit counts when its record is ``completed``, on its date, for the unit (team, centre,
  district) of the resident's signed team; the total row is the city (every centre asked for);
- Annex 3 counts the disabled and semi-disabled residents aged 60+ on the visit's date, and only
  visits made at home (入户): health checks, chronic follow-ups split by the resident's
  hypertension / diabetes flags, special on-demand services, and home sick-bed discharges; the
  total is the sum of those visit columns (项目9=3+4+5+6+7+8); people served are the residents
  with any completed home visit or a discharge in the period;
- Annex 2 counts signed residents aged 60+ (signed on or before the period's end), their health
  checks in the period (at home or not) and each test the checks did;
- Annex 1 sets the year's progress (1 January to the report's end) against the quotas: done,
  expected at an even pace, shortfall, and the forecast (done + visits in stored plans after
  the report's end, within the year; the signing forecast is what is signed now);
- coverage (Minhang 789) is taken on the report's end day.

Every table is checked before it is written (:func:`check_table`): a total that is not the sum
of its parts, or a total row that is not the sum of the units, is refused.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from scheduler.model import (
    HEALTH_CHECK_TESTS,
    Disability,
    Place,
    Urgency,
    VisitOutcome,
    age_in_years,
)
from scheduler.programmes import Period, builtin_programmes, due_visits
from service.db.tables import (
    CentreRow,
    PlanRow,
    PlanStatus,
    PlanStopRow,
    QuotaRow,
    ResidentRow,
    SickbedEpisodeRow,
    VisitRecordRow,
)
from service.reports import headers as h

__all__ = [
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
    "load_report_data",
    "overdue_residents",
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


@dataclass(frozen=True, slots=True)
class _Resident:
    resident_id: str
    name: str
    team_id: str
    centre_id: str
    committee_id: str
    birth_date: dt.date
    disability: str
    hypertension: bool
    diabetes: bool
    home_sickbed: bool
    signed: bool
    signed_since: dt.date | None
    active: bool
    lat: float | None
    lon: float | None


@dataclass(frozen=True, slots=True)
class _Visit:
    resident_id: str
    programme: str
    day: dt.date
    tests: frozenset[str]
    place: str


@dataclass(slots=True)
class ReportData:
    """The rows a report reads, loaded once for every table and picture of one request."""

    scope: Scope
    centres: dict[str, tuple[str, str]]  # centre_id -> (name, district)
    residents: dict[str, _Resident]
    visits: list[_Visit]  # completed, from 1 January of the start's year to the end
    discharges: list[tuple[str, dt.date]]  # (resident, date) within the same span

    def unit(self, resident: _Resident) -> str:
        """The key of the resident's unit at the scope's level."""
        if self.scope.by is Level.TEAM:
            return resident.team_id
        if self.scope.by is Level.CENTRE:
            return resident.centre_id
        return self.centres[resident.centre_id][1] or _UNKNOWN_DISTRICT

    def label(self, unit: str) -> str:
        """How a unit is named in the 区/机构 column."""
        if self.scope.by is Level.CENTRE and unit in self.centres:
            return f"{self.centres[unit][0]} {unit}"
        return unit

    def units(self) -> list[str]:
        """Every unit of the scope, with or without records, in a stable order."""
        return sorted({self.unit(r) for r in self.residents.values()})

    def in_period(self, day: dt.date) -> bool:
        return self.scope.start <= day <= self.scope.end


_Query = TypeVar("_Query", bound=Select)  # type: ignore[type-arg]


def _scoped(query: _Query, scope: Scope) -> _Query:
    if scope.centre_ids:
        query = query.where(ResidentRow.centre_id.in_(scope.centre_ids))
    if scope.team_id is not None:
        query = query.where(ResidentRow.team_id == scope.team_id)
    return query


def load_report_data(session: Session, scope: Scope) -> ReportData:
    """Read the centres, residents, completed visits and sick-bed discharges of ``scope``.

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
    r = ResidentRow
    residents = {
        row[0]: _Resident(*row)  # type: ignore[call-arg]
        for row in session.execute(
            _scoped(
                select(
                    r.resident_id,
                    r.name,
                    r.team_id,
                    r.centre_id,
                    r.committee_id,
                    r.birth_date,
                    r.disability,
                    r.hypertension,
                    r.diabetes,
                    r.home_sickbed,
                    r.signed,
                    r.signed_since,
                    r.active,
                    r.lat,
                    r.lon,
                ),
                scope,
            )
        )
    }
    first = min(scope.start, dt.date(scope.end.year, 1, 1))
    v = VisitRecordRow
    no_tests: frozenset[str] = frozenset()
    visits = [
        _Visit(row[0], row[1], row[2], frozenset(row[3].split(";")) if row[3] else no_tests, row[4])
        for row in session.execute(
            _scoped(
                select(v.resident_id, v.programme, v.visit_date, v.tests, v.place)
                .join(r, r.resident_id == v.resident_id)
                .where(
                    v.outcome == VisitOutcome.COMPLETED.value,
                    v.visit_date >= first,
                    v.visit_date <= scope.end,
                ),
                scope,
            )
        )
    ]
    e = SickbedEpisodeRow
    discharges = [
        (row[0], row[1])
        for row in session.execute(
            _scoped(
                select(e.resident_id, e.discharged)
                .join(r, r.resident_id == e.resident_id)
                .where(e.discharged >= first, e.discharged <= scope.end),
                scope,
            )
        )
        if row[1] is not None
    ]
    return ReportData(scope, centres, residents, visits, discharges)


def _is_elder(resident: _Resident, day: dt.date) -> bool:
    return age_in_years(resident.birth_date, day) >= _ELDER_AGE


def _signed_on(resident: _Resident, day: dt.date) -> bool:
    return resident.signed and (resident.signed_since is None or resident.signed_since <= day)


def _serial(rows: Iterable[list[object]]) -> list[tuple[object, ...]]:
    return [(str(i), *row) for i, row in enumerate(rows, start=1)]


def _total_row(label: str, body: Sequence[tuple[object, ...]], width: int) -> tuple[object, ...]:
    sums = [sum(int(row[c]) for row in body) for c in range(2, width)]  # type: ignore[call-overload]
    return ("", label, *sums)


# --- Annex 3 ----------------------------------------------------------------------------------

_ANNEX3_VISIT_COLUMNS: Final = (3, 4, 5, 6, 7, 8)


def _annex3_counts(data: ReportData, in_span: Callable[[dt.date], bool]) -> dict[str, list[int]]:
    """Per unit: [people, health checks, HT only, DM only, both, discharges, special, total]."""
    counts: dict[str, list[int]] = {u: [0] * 8 for u in data.units()}
    served: dict[str, set[str]] = defaultdict(set)

    def subject(resident_id: str, day: dt.date) -> _Resident | None:
        resident = data.residents.get(resident_id)
        if resident is None or resident.disability not in _DISABLED:
            return None
        return resident if _is_elder(resident, day) else None

    for visit in data.visits:
        if visit.place != Place.HOME.value or not in_span(visit.day):
            continue
        resident = subject(visit.resident_id, visit.day)
        if resident is None:
            continue
        unit = data.unit(resident)
        served[unit].add(resident.resident_id)
        row = counts[unit]
        if visit.programme == "health_check":
            row[1] += 1
        elif visit.programme == "chronic_followup":
            if resident.hypertension and resident.diabetes:
                row[4] += 1
            elif resident.hypertension:
                row[2] += 1
            elif resident.diabetes:
                row[3] += 1
        elif visit.programme == "special_service":
            row[6] += 1
    for resident_id, day in data.discharges:
        discharged = subject(resident_id, day)
        if discharged is None or not in_span(day):
            continue
        unit = data.unit(discharged)
        served[unit].add(resident_id)
        counts[unit][5] += 1
    for unit, row in counts.items():
        row[0] = len(served[unit])
        row[7] = sum(row[1:7])
    return counts


def annex3(data: ReportData) -> Table:
    """Tianjin Annex 3: home medical and nursing care of the disabled and semi-disabled 60+."""
    counts = _annex3_counts(data, data.in_period)
    body = _serial([data.label(u), *counts[u]] for u in data.units())
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


def annex2(data: ReportData) -> Table:
    """Tianjin Annex 2: signed elders, their health checks and each test done."""
    counts: dict[str, list[int]] = {u: [0] * (2 + len(HEALTH_CHECK_TESTS)) for u in data.units()}
    end = data.scope.end
    for resident in data.residents.values():
        if resident.active and _signed_on(resident, end) and _is_elder(resident, end):
            counts[data.unit(resident)][0] += 1
    for visit in data.visits:
        if visit.programme != "health_check" or not data.in_period(visit.day):
            continue
        checked = data.residents.get(visit.resident_id)
        if checked is None or not (
            _signed_on(checked, visit.day) and _is_elder(checked, visit.day)
        ):
            continue
        row = counts[data.unit(checked)]
        row[1] += 1
        for i, test in enumerate(HEALTH_CHECK_TESTS):
            row[2 + i] += test in visit.tests
    body = _serial([data.label(u), *counts[u]] for u in data.units())
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
    stops = session.execute(
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
            PlanStopRow.programme.in_(("health_check", "chronic_followup", "special_service")),
            PlanStopRow.resident_id.is_not(None),
        )
        .distinct()
    ).all()
    planned: Counter[str] = Counter()
    for _visit_id, resident_id, programme in stops:
        resident = data.residents.get(resident_id or "")
        if resident is None or resident.disability not in _DISABLED:
            continue
        if not _is_elder(resident, end):
            continue
        if programme == "chronic_followup" and not (resident.hypertension or resident.diabetes):
            continue
        planned[data.unit(resident)] += 1
    return planned


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
            f"no {year} quota for {', '.join(missing)} (level {data.scope.by.value}); load the "
            f"quotas with: homevisit report quotas FILE.csv --year {year} (columns 行政区, "
            "老年人家医签约, 入户医疗护理服务: unit, signed elders, home visits)"
        )
    year_start = dt.date(year, 1, 1)
    fraction = ((end - year_start).days + 1) / ((dt.date(year, 12, 31) - year_start).days + 1)
    visits = _annex3_counts(data, lambda day: year_start <= day <= end)
    signed = Counter(
        data.unit(r)
        for r in data.residents.values()
        if r.active and _signed_on(r, end) and _is_elder(r, end)
    )
    planned = _planned_home_visits(session, data)
    body = []
    for unit in units:
        row: list[object] = [data.label(unit)]
        for quota, done, ahead in (
            (quotas[unit][0], signed[unit], 0),
            (quotas[unit][1], visits[unit][7], planned[unit]),
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


def overdue_residents(session: Session, data: ReportData) -> list[OverdueResident]:
    """Residents whose visit is overdue in the week of the report's end, as the planner sees it
    (:func:`scheduler.programmes.due_visits`): per team, never visited first, then the longest
    since the last visit."""
    from service.db.exporter import load_dataset

    end = data.scope.end
    centres = sorted({r.centre_id for r in data.residents.values()})
    dataset = load_dataset(session, centres)
    week_start = end - dt.timedelta(days=end.weekday())
    visits = due_visits(dataset, week_start, centre_ids=centres)
    last: dict[tuple[str, str], dt.date] = {}
    for record in dataset.history:
        if record.date <= end:
            key = (record.resident_id, record.programme)
            last[key] = max(last.get(key, record.date), record.date)
    result = []
    for visit in visits:
        resident = data.residents.get(visit.resident_id or "")
        if visit.urgency is not Urgency.OVERDUE or resident is None:
            continue
        result.append(
            OverdueResident(
                unit=data.unit(resident),
                team_id=resident.team_id,
                resident_id=resident.resident_id,
                name=resident.name,
                programme=visit.programme,
                last_done=last.get((resident.resident_id, visit.programme)),
                due_by=visit.due_by,
                lat=resident.lat,
                lon=resident.lon,
            )
        )
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
    month_start = Period.MONTH.bounds(end)[0]
    delivery_from = end - dt.timedelta(days=DELIVERY_DAYS - 1)
    followed: set[str] = set()
    rounds: Counter[str] = Counter()
    delivered: set[str] = set()
    for visit in data.visits:
        if visit.programme == "followup_80" and quarter_start <= visit.day <= end:
            followed.add(visit.resident_id)
        elif visit.programme == "centenarian_round" and month_start <= visit.day <= end:
            rounds[visit.resident_id] += 1
        elif visit.programme == "medicine_delivery" and delivery_from <= visit.day <= end:
            resident = data.residents.get(visit.resident_id)
            if resident is not None:
                delivered.add(resident.committee_id)
    counts: dict[str, list[int]] = {u: [0] * 7 for u in data.units()}
    members: dict[str, Counter[str]] = defaultdict(Counter)
    for resident in data.residents.values():
        if not resident.active:
            continue
        row = counts[data.unit(resident)]
        age = age_in_years(resident.birth_date, end)
        members[resident.committee_id][data.unit(resident)] += 1
        if age >= 80:
            row[0] += 1
            row[1] += resident.resident_id in followed
        if age >= 100 and resident.home_sickbed:
            row[2] += 1
            row[3] += rounds[resident.resident_id] >= 2
    for committee_id, units in members.items():
        # A committee counts once, for the unit most of its residents belong to.
        unit = min(units, key=lambda u: (-units[u], u))
        counts[unit][4] += 1
        counts[unit][5] += committee_id in delivered
    behind = defaultdict(set)
    for item in overdue:
        behind[item.unit].add(item.resident_id)
    body = []
    for unit in data.units():
        row = counts[unit]
        row[6] = len(behind[unit])
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
            f"季度 quarter from {quarter_start}; 月 month from {month_start}; 送药 delivery "
            f"{delivery_from} ~ {end}; 逾期 overdue: as the planner sees the week of "
            f"{end - dt.timedelta(days=end.weekday())}.",
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


def _share(done: int, of: int) -> str:
    return f"{done / of:.1%}" if of else "-"


def weekly_visits(data: ReportData) -> dict[str, Counter[dt.date]]:
    """Completed visits in the period per programme and week (the week's Monday)."""
    trend: dict[str, Counter[dt.date]] = defaultdict(Counter)
    for visit in data.visits:
        if data.in_period(visit.day):
            trend[visit.programme][visit.day - dt.timedelta(days=visit.day.weekday())] += 1
    return trend
