"""Recording visits that took place: who went, what happened, and the follow-up readings.

A completed visit becomes history: :func:`service.db.exporter.load_dataset` hands it to the care
programmes, so it decides what is due next. A planned visit that is not recorded as completed
stays out of the history and is therefore due again.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from scheduler.model import HEALTH_CHECK_TESTS, format_tests
from scheduler.programmes import builtin_programmes, recorded_place_and_tests
from service.db.tables import (
    ClinicianRow,
    Place,
    RecordSource,
    ResidentRow,
    SickbedEpisodeRow,
    VisitOutcome,
    VisitRecordRow,
    VisitRecordVersionRow,
)

__all__ = [
    "RecordError",
    "VisitReport",
    "correct_record",
    "discharge_sickbed",
    "fill_flags",
    "open_sickbed",
    "record_versions",
    "record_visit",
    "resident_records",
    "sickbed_episode",
    "visit_record",
]

_HEALTH_CHECK = "health_check"

_FOLLOW_UPS = frozenset({"chronic_followup"})
_SYSTOLIC = (60, 280)
_DIASTOLIC = (30, 180)
_GLUCOSE = (1.0, 35.0)


class RecordError(Exception):
    """The report cannot be recorded; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(problems))


@dataclass(frozen=True, slots=True)
class VisitReport:
    """What the clinician reports after a visit.

    ``systolic_mmhg``/``diastolic_mmhg`` (both or neither) and ``glucose_mmol_l`` are the
    readings of a chronic-disease follow-up; ``visit_id`` names the planned visit it completes.
    """

    resident_id: str
    programme: str
    date: dt.date
    clinician_ids: tuple[str, ...]
    outcome: VisitOutcome = VisitOutcome.COMPLETED
    note: str = ""
    systolic_mmhg: int | None = None
    diastolic_mmhg: int | None = None
    glucose_mmol_l: float | None = None
    visit_id: str | None = None
    plan_id: int | None = None
    tests: frozenset[str] = frozenset()  # a health check's tests; empty: the programme's
    place: Place | None = None  # where it happened; None: where the programme's visits are
    problems: list[str] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        check = self.problems
        if self.tests and self.programme != _HEALTH_CHECK:
            check.append(
                f"tests ({format_tests(self.tests)}) are recorded for a health check only, "
                f"not for {self.programme}"
            )
        unknown = sorted(self.tests - set(HEALTH_CHECK_TESTS))
        if unknown:
            check.append(
                f"unknown test(s) {', '.join(unknown)}; known: {';'.join(HEALTH_CHECK_TESTS)}"
            )
        if not self.clinician_ids:
            check.append("name at least one clinician who made the visit")
        if (self.systolic_mmhg is None) != (self.diastolic_mmhg is None):
            check.append(
                "血压需填两个数，如 135/85 / give blood pressure as both numbers, e.g. 135/85"
            )
        if (
            self.systolic_mmhg is not None
            and not _SYSTOLIC[0] <= self.systolic_mmhg <= _SYSTOLIC[1]
        ):
            check.append(
                f"收缩压 {self.systolic_mmhg} mmHg 不合理（应为 {_SYSTOLIC[0]}–{_SYSTOLIC[1]}） / "
                f"systolic {self.systolic_mmhg} mmHg is not plausible ({_SYSTOLIC[0]}-"
                f"{_SYSTOLIC[1]})"
            )
        if (
            self.diastolic_mmhg is not None
            and not _DIASTOLIC[0] <= self.diastolic_mmhg <= _DIASTOLIC[1]
        ):
            check.append(
                f"舒张压 {self.diastolic_mmhg} mmHg 不合理（应为 {_DIASTOLIC[0]}–{_DIASTOLIC[1]}）"
                f" / diastolic {self.diastolic_mmhg} mmHg is not plausible ({_DIASTOLIC[0]}-"
                f"{_DIASTOLIC[1]})"
            )
        if (
            self.systolic_mmhg is not None
            and self.diastolic_mmhg is not None
            and self.diastolic_mmhg >= self.systolic_mmhg
        ):
            check.append(
                f"血压 {self.systolic_mmhg}/{self.diastolic_mmhg}：收缩压（第一个数）应大于舒张压，"
                f"是否填反了？ / blood pressure {self.systolic_mmhg}/{self.diastolic_mmhg}: the "
                "first number (systolic) must be the larger; were they swapped?"
            )
        glucose = self.glucose_mmol_l
        if glucose is not None and (
            not math.isfinite(glucose) or not _GLUCOSE[0] <= glucose <= _GLUCOSE[1]
        ):
            check.append(
                f"血糖 {glucose} mmol/L 不合理（应为 {_GLUCOSE[0]}–{_GLUCOSE[1]}；mg/dL 除以 18 "
                f"即 mmol/L） / glucose {glucose} mmol/L is not plausible ({_GLUCOSE[0]}-"
                f"{_GLUCOSE[1]}; mg/dL divided by 18 gives mmol/L)"
            )


def _report_problems(
    session: Session, report: VisitReport, today: dt.date
) -> tuple[list[str], ResidentRow | None]:
    """Every problem of ``report`` but a clash with a stored record; the resident."""
    problems = list(report.problems)
    resident = session.get(ResidentRow, report.resident_id)
    if resident is None:
        problems.append(f"unknown resident '{report.resident_id}'")
    known = builtin_programmes()
    if report.programme not in known:
        problems.append(
            f"unknown programme '{report.programme}' (known: {', '.join(sorted(known))})"
        )
    centres: dict[str, str] = {
        clinician_id: centre_id
        for clinician_id, centre_id in session.execute(
            select(ClinicianRow.clinician_id, ClinicianRow.centre_id).where(
                ClinicianRow.clinician_id.in_(report.clinician_ids)
            )
        )
    }
    problems += [f"unknown clinician '{c}'" for c in report.clinician_ids if c not in centres]
    if resident is not None:
        problems += [
            f"clinician '{c}' works at centre {centres[c]}, not at the resident's centre "
            f"{resident.centre_id}: name who made the visit"
            for c in report.clinician_ids
            if c in centres and centres[c] != resident.centre_id
        ]
    if report.date > today:
        problems.append(
            f"{report.date} 尚未到来，上门后再记录 / the date {report.date} is in the future: "
            "record a visit after it"
        )
    if (
        resident is not None
        and report.programme in _FOLLOW_UPS
        and report.outcome is VisitOutcome.COMPLETED
    ):
        if resident.hypertension and report.systolic_mmhg is None:
            problems.append(
                "高血压居民随访需填血压 / a follow-up of a hypertensive resident needs the blood "
                "pressure"
            )
        if resident.diabetes and report.glucose_mmol_l is None:
            problems.append(
                "糖尿病居民随访需填血糖 / a follow-up of a diabetic resident needs the blood "
                "glucose"
            )
    return problems, resident


def _stored_values(report: VisitReport) -> dict[str, Any]:
    """The columns of a record that a report sets (and a correction may change)."""
    place, tests = recorded_place_and_tests(
        builtin_programmes().get(report.programme), report.place, report.tests, report.outcome
    )
    return {
        "outcome": report.outcome.value,
        "clinician_ids": ";".join(report.clinician_ids),
        "note": report.note,
        "systolic_mmhg": report.systolic_mmhg,
        "diastolic_mmhg": report.diastolic_mmhg,
        "glucose_mmol_l": report.glucose_mmol_l,
        "tests": format_tests(tests),
        "place": place.value,
    }


def record_visit(session: Session, report: VisitReport, today: dt.date | None = None) -> int:
    """Store ``report`` (in the caller's transaction) and return the record's id.

    Raises
    ------
    RecordError
        Listing every problem: unknown resident, programme or clinician, a date in the future,
        a follow-up without the reading the resident's condition needs, readings out of range,
        or a record of the same resident, programme and date already stored.
    """
    problems, resident = _report_problems(session, report, today or dt.date.today())
    existing = session.scalar(
        select(VisitRecordRow.record_id).where(
            VisitRecordRow.resident_id == report.resident_id,
            VisitRecordRow.programme == report.programme,
            VisitRecordRow.visit_date == report.date,
        )
    )
    if existing is not None:
        problems.append(
            f"a {report.programme} visit of {report.resident_id} on {report.date} is already "
            f"recorded (record {existing})"
        )
    if problems:
        raise RecordError(problems)
    return session.execute(
        insert(VisitRecordRow)
        .values(
            resident_id=report.resident_id,
            programme=report.programme,
            visit_date=report.date,
            source=RecordSource.RECORDED.value,
            plan_id=report.plan_id,
            visit_id=report.visit_id,
            recorded_at=dt.datetime.now(dt.UTC),
            # the resident as he is on the day of recording: the tables count him so
            disability=resident.disability if resident is not None else None,
            hypertension=resident.hypertension if resident is not None else None,
            diabetes=resident.diabetes if resident is not None else None,
            **_stored_values(report),
        )
        .returning(VisitRecordRow.record_id)
    ).scalar_one()


def correct_record(
    session: Session,
    record_id: int,
    report: VisitReport,
    *,
    by: str,
    reason: str = "",
    today: dt.date | None = None,
) -> bool:
    """Correct stored record ``record_id`` to say what ``report`` says (更正), in the caller's
    transaction; whether anything changed.

    The record keeps its id, visit, plan, who made the visit and the resident's flags of the
    day; what it said before is kept as a :class:`~service.db.tables.VisitRecordVersionRow`
    (who replaced it: ``by``, a user name; when; ``reason``). A report equal to the record
    changes nothing and keeps no version (a retry of a correction already stored). Who may
    correct what, and until when, is the caller's rule; this checks the report as
    :func:`record_visit` does.

    Raises
    ------
    RecordError
        No such record, a report of another resident, programme or date, or any problem
        :func:`record_visit` would name.
    """
    row = session.get(VisitRecordRow, record_id)
    if row is None:
        raise RecordError([f"no record {record_id}"])
    problems, _resident = _report_problems(session, report, today or dt.date.today())
    if (report.resident_id, report.programme, report.date) != (
        row.resident_id,
        row.programme,
        row.visit_date,
    ):
        problems.append(
            f"record {record_id} is of {row.resident_id}, {row.programme} on {row.visit_date}: "
            "a correction changes what happened, not which visit it was"
        )
    if problems:
        raise RecordError(problems)
    values = _stored_values(report)
    del values["clinician_ids"]  # who made the visit stays; who corrected it is ``by``
    if all(getattr(row, column) == value for column, value in values.items()):
        return False
    now = dt.datetime.now(dt.UTC)
    session.execute(
        insert(VisitRecordVersionRow).values(
            record_id=record_id,
            recorded_at=row.recorded_at,
            superseded_at=now,
            superseded_by=by,
            reason=reason,
            clinician_ids=row.clinician_ids,
            **{column: getattr(row, column) for column in values},
        )
    )
    for column, value in values.items():
        setattr(row, column, value)
    row.recorded_at = now
    session.flush()
    return True


def record_versions(session: Session, record_id: int) -> list[VisitRecordVersionRow]:
    """What a record said before each correction, oldest first."""
    return list(
        session.scalars(
            select(VisitRecordVersionRow)
            .where(VisitRecordVersionRow.record_id == record_id)
            .order_by(VisitRecordVersionRow.version_id)
        )
    )


def _open_episode(session: Session, resident_id: str) -> SickbedEpisodeRow | None:
    return session.scalar(
        select(SickbedEpisodeRow)
        .where(
            SickbedEpisodeRow.resident_id == resident_id,
            SickbedEpisodeRow.discharged.is_(None),
        )
        .order_by(SickbedEpisodeRow.opened.desc())
        .limit(1)
    )


def _sickbed_state(
    session: Session, resident_id: str, day: dt.date, what: str, today: dt.date | None
) -> tuple[list[str], ResidentRow | None, SickbedEpisodeRow | None]:
    """The problems common to opening and discharging, the resident and the open episode."""
    today = today or dt.date.today()
    problems = []
    resident = session.get(ResidentRow, resident_id)
    if resident is None:
        problems.append(f"没有居民 '{resident_id}' / unknown resident '{resident_id}'")
    if day > today:
        problems.append(
            f"{day} 尚未到来，请当天再记录 / the date {day} is in the future: record the {what} "
            "on the day"
        )
    return problems, resident, _open_episode(session, resident_id)


def open_sickbed(
    session: Session, resident_id: str, opened: dt.date, today: dt.date | None = None
) -> int:
    """Open a home sick-bed (建床) for the resident, in the caller's transaction; its id.

    The resident is then planned for sick-bed rounds. Raises :class:`RecordError` for an unknown
    resident, a date in the future, or a sick-bed already open.
    """
    problems, resident, current = _sickbed_state(session, resident_id, opened, "opening", today)
    if current is not None:
        problems.append(
            f"{resident_id} 自 {current.opened} 已有家庭病床，请先撤床 / {resident_id} has a "
            f"sick-bed open since {current.opened}: discharge it first"
        )
    if problems:
        raise RecordError(problems)
    assert resident is not None
    resident.home_sickbed = True
    return session.execute(
        insert(SickbedEpisodeRow)
        .values(
            resident_id=resident_id,
            opened=opened,
            source=RecordSource.RECORDED.value,
            recorded_at=dt.datetime.now(dt.UTC),
        )
        .returning(SickbedEpisodeRow.episode_id)
    ).scalar_one()


def discharge_sickbed(
    session: Session,
    resident_id: str,
    discharged: dt.date,
    today: dt.date | None = None,
    reason: str = "",
) -> int:
    """Discharge the resident's open home sick-bed (撤床); the episode's id. ``reason``: why
    (recovered, admitted to hospital, ...), kept with the episode.

    Raises :class:`RecordError` for an unknown resident, a date in the future or before the
    opening, or no sick-bed open.
    """
    problems, resident, current = _sickbed_state(
        session, resident_id, discharged, "discharge", today
    )
    if resident is not None and current is None:
        problems.append(f"{resident_id} 没有在床的家庭病床 / {resident_id} has no sick-bed open")
    if current is not None and discharged < current.opened:
        problems.append(
            f"撤床日期 {discharged} 早于建床日期 {current.opened} / the discharge date "
            f"{discharged} is before the opening date {current.opened}"
        )
    if problems:
        raise RecordError(problems)
    assert resident is not None and current is not None
    current.discharged = discharged
    current.discharge_reason = reason
    current.disability = resident.disability  # as on the day of the discharge
    resident.home_sickbed = False
    session.flush()
    return current.episode_id


def fill_flags(session: Session) -> None:
    """Give the records written without the resident's flags (an imported history, imported
    discharges) the flags the resident has now: the best known of the day they record. A flag
    the record has (a ``history.csv`` that gives it) is kept; only the missing ones are filled."""

    def now(table: type[VisitRecordRow] | type[SickbedEpisodeRow], column: str) -> Any:
        return (
            select(getattr(ResidentRow, column))
            .where(ResidentRow.resident_id == table.resident_id)
            .scalar_subquery()
        )

    v, e = VisitRecordRow, SickbedEpisodeRow
    session.execute(
        update(v)
        .where(or_(v.disability.is_(None), v.hypertension.is_(None), v.diabetes.is_(None)))
        .values(
            disability=func.coalesce(v.disability, now(v, "disability")),
            hypertension=func.coalesce(v.hypertension, now(v, "hypertension")),
            diabetes=func.coalesce(v.diabetes, now(v, "diabetes")),
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(e)
        .where(e.disability.is_(None), e.discharged.is_not(None))
        .values(disability=now(e, "disability"))
        .execution_options(synchronize_session=False)
    )


def visit_record(session: Session, record_id: int) -> VisitRecordRow | None:
    """One stored visit record, or None."""
    return session.get(VisitRecordRow, record_id)


def resident_records(session: Session, resident_id: str, limit: int = 200) -> list[VisitRecordRow]:
    """A resident's visit records, newest visit first, at most ``limit``."""
    return list(
        session.scalars(
            select(VisitRecordRow)
            .where(VisitRecordRow.resident_id == resident_id)
            .order_by(VisitRecordRow.visit_date.desc())
            .limit(limit)
        )
    )


def sickbed_episode(session: Session, episode_id: int) -> SickbedEpisodeRow | None:
    """One home sick-bed episode, or None."""
    return session.get(SickbedEpisodeRow, episode_id)
