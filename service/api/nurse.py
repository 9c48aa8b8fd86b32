"""The nurse's day on her phone: what the page needs, and recording a stop from it.

- :func:`day_recording`: the record forms of her day (what is stored already, the form token);
- :func:`committee_names`: committee sessions are shown by name;
- :func:`own_stop`: the stop she records, only on her own route of an approved plan;
- :func:`parse_record_form`: the form's fields as a :class:`~service.db.records.VisitReport`,
  or every problem in Chinese and English;
- :func:`save_from_page`: stores it through :func:`service.db.records.record_visit`, the one
  write of the JSON API (``POST /records``) too;
- :func:`correction_refusal`, :func:`save_correction`: she corrects a record (更正) of hers on
  the visit's day, while the week's plan is open; the record says what is true now and what it
  said before is kept (:func:`service.db.records.correct_record`).

Why the visit's day only: she corrects a wrong tap while the visit is fresh, on the page of
that day; from the next morning the record has decided what is due (the due list, the team
leader's re-plans) and counts in the month's tables, so a later change is no longer a nurse's
quiet fix on her phone. A plan marked done (the week closed) takes no corrections at all.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from maps.record_form import (
    OUTCOME_LABELS_EN,
    SICKBED_ROUND,
    RecordedVisit,
    Recording,
    recorded_text,
)
from scheduler.model import HEALTH_CHECK_TESTS, OUTCOME_LABELS_ZH, Place, VisitOutcome
from service.api.access import VISIBLE_PLAN_STATUSES_FOR_CLINICIANS
from service.db.records import (
    RecordError,
    VisitReport,
    correct_record,
    discharge_sickbed,
    record_visit,
)
from service.db.tables import (
    CommitteeRow,
    PlanRow,
    PlanStatus,
    PlanStopRow,
    RecordSource,
    VisitRecordRow,
    VisitRecordVersionRow,
)
from service.users import Principal

__all__ = [
    "CORRECT_ACTION",
    "OUTCOME_WORDS",
    "RECORD_ACTION",
    "RECORD_SCRIPT",
    "FormValues",
    "SaveResult",
    "committee_names",
    "correction_refusal",
    "day_recording",
    "own_stop",
    "parse_record_form",
    "recorded_outcomes",
    "save_correction",
    "save_from_page",
    "stored_record",
]

OUTCOME_WORDS: dict[str, str] = {
    o.value: f"{OUTCOME_LABELS_ZH[o]} {OUTCOME_LABELS_EN[o]}" for o in VisitOutcome
}
"""A recorded visit's outcome in words (已完成 Done, 未在家 Not at home, ...)."""

RECORD_ACTION = "/me/records"
CORRECT_ACTION = "/me/records/correct"
RECORD_SCRIPT = "/static/record.js"


def approved_plan(session: Session, centre_id: str, day: dt.date) -> PlanRow | None:
    """The newest approved (or done) plan of the centre's week holding ``day``."""
    week = day - dt.timedelta(days=day.weekday())
    return session.scalar(
        select(PlanRow)
        .where(
            PlanRow.centre_id == centre_id,
            PlanRow.week_start == week,
            PlanRow.status.in_(VISIBLE_PLAN_STATUSES_FOR_CLINICIANS),
        )
        .order_by(PlanRow.version.desc())
        .limit(1)
    )


def committee_names(session: Session, centre_id: str) -> dict[str, str]:
    """The centre's committees' names by id."""
    rows = session.execute(
        select(CommitteeRow.committee_id, CommitteeRow.name).where(
            CommitteeRow.centre_id == centre_id
        )
    )
    return {committee_id: name for committee_id, name in rows}


def _records_of(
    session: Session, keys: Iterable[tuple[str, str, dt.date]]
) -> dict[tuple[str, str, dt.date], VisitRecordRow]:
    """The stored records of ``(resident, programme, date)`` keys (one each at most)."""
    wanted = list(set(keys))
    if not wanted:
        return {}
    rows = session.scalars(
        select(VisitRecordRow).where(
            tuple_(
                VisitRecordRow.resident_id, VisitRecordRow.programme, VisitRecordRow.visit_date
            ).in_(wanted)
        )
    )
    return {(r.resident_id, r.programme, r.visit_date): r for r in rows}


def recorded_outcomes(
    session: Session, stops: Iterable[PlanStopRow]
) -> dict[tuple[str, str, dt.date], str]:
    """The outcome stored for each stop that has one, by ``(resident, programme, date)``.

    A record counts whoever made it (the page, the API, ``homevisit record``): one record per
    resident, programme and date.
    """
    keys = [(s.resident_id, s.programme, s.visit_date) for s in stops if s.resident_id]
    return {key: row.outcome for key, row in _records_of(session, keys).items()}


def _recorded_visit(
    row: VisitRecordRow, *, correctable: bool = False, corrected: bool = False
) -> RecordedVisit:
    return RecordedVisit(
        outcome=VisitOutcome(row.outcome),
        systolic_mmhg=row.systolic_mmhg,
        diastolic_mmhg=row.diastolic_mmhg,
        glucose_mmol_l=row.glucose_mmol_l,
        tests=frozenset(t for t in row.tests.split(";") if t),
        place=row.place,
        note=row.note,
        correctable=correctable,
        corrected=corrected,
    )


def _day_refusal(plan: PlanRow, day: dt.date, today: dt.date) -> str | None:
    if plan.status != PlanStatus.APPROVED.value:
        return (
            "本周计划已结束，记录不能再更正 / the week's plan is closed: its records can no "
            "longer be corrected"
        )
    if day != today:
        return (
            f"只能在上门当天（{day}）更正记录 / a record is corrected on the visit's day "
            f"({day}) only"
        )
    return None


def correction_refusal(
    row: VisitRecordRow, clinician_id: str, plan: PlanRow, today: dt.date
) -> str | None:
    """Why she may not correct ``row`` (zh / en), or ``None``: only a record she made herself
    from the service (not an imported one, not a colleague's), on the visit's day, while the
    week's plan is approved and not yet done."""
    own = row.source == RecordSource.RECORDED.value and clinician_id in row.clinician_ids.split(";")
    if not own:
        return "只能更正自己记录的上门 / you can correct only the records you made yourself"
    return _day_refusal(plan, row.visit_date, today)


def _corrected_ids(session: Session, record_ids: Iterable[int]) -> set[int]:
    wanted = list(record_ids)
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(VisitRecordVersionRow.record_id)
            .where(VisitRecordVersionRow.record_id.in_(wanted))
            .distinct()
        )
    )


def day_recording(
    session: Session,
    plan: PlanRow,
    clinician_id: str,
    day: dt.date,
    csrf_token: str,
    today: dt.date,
) -> Recording:
    """The record forms of a clinician's day: what is stored for her stops, the form token."""
    stops = session.scalars(
        select(PlanStopRow).where(
            PlanStopRow.plan_id == plan.plan_id,
            PlanStopRow.clinician_id == clinician_id,
            PlanStopRow.visit_date == day,
        )
    ).all()
    rows = _records_of(
        session, [(s.resident_id, s.programme, s.visit_date) for s in stops if s.resident_id]
    )
    corrected = _corrected_ids(session, (r.record_id for r in rows.values()))
    recorded = {
        s.visit_id: _recorded_visit(
            row,
            correctable=correction_refusal(row, clinician_id, plan, today) is None,
            corrected=row.record_id in corrected,
        )
        for s in stops
        if s.resident_id
        and (row := rows.get((s.resident_id, s.programme, s.visit_date))) is not None
    }
    return Recording(
        action=RECORD_ACTION,
        csrf_token=csrf_token,
        plan_id=plan.plan_id,
        script_url=RECORD_SCRIPT,
        recorded=recorded,
        open=day <= today,
        correct_action=CORRECT_ACTION if _day_refusal(plan, day, today) is None else "",
    )


def own_stop(session: Session, user: Principal, plan_id: int, visit_id: str) -> PlanStopRow | None:
    """The stop ``visit_id`` of ``plan_id`` if it is on ``user``'s own route of an approved plan
    of her centre (a home visit); else ``None``."""
    return session.scalar(
        select(PlanStopRow)
        .join(PlanRow, PlanRow.plan_id == PlanStopRow.plan_id)
        .where(
            PlanStopRow.plan_id == plan_id,
            PlanStopRow.visit_id == visit_id,
            PlanStopRow.clinician_id == str(user.clinician_id),
            PlanStopRow.resident_id.is_not(None),
            PlanRow.centre_id == str(user.centre_id),
            PlanRow.status.in_(VISIBLE_PLAN_STATUSES_FOR_CLINICIANS),
        )
    )


@dataclass(frozen=True, slots=True)
class FormValues:
    """The record form's fields, as posted (text)."""

    outcome: str = VisitOutcome.COMPLETED.value
    systolic_mmhg: str = ""
    diastolic_mmhg: str = ""
    glucose_mmol_l: str = ""
    tests: tuple[str, ...] = ()
    place: str = ""
    note: str = ""
    discharge_sickbed: bool = False  # 撤床 today, at a sick-bed round


def _whole(text: str, zh: str, en: str, problems: list[str]) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        problems.append(f"{zh}应为整数，收到 '{text}' / {en} must be a whole number, got '{text}'")
        return None


def _decimal(text: str, zh: str, en: str, problems: list[str]) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.append(f"{zh}应为数字，收到 '{text}' / {en} must be a number, got '{text}'")
        return None
    return value


def parse_record_form(
    form: FormValues, stop: PlanStopRow, clinician_id: str
) -> tuple[VisitReport | None, list[str]]:
    """The report of a posted form for ``stop``, or ``None`` and every problem (zh / en).

    A visit that did not take place keeps no readings and no tests (the fields may still hold
    what was typed before the outcome was changed).
    """
    problems: list[str] = []
    try:
        outcome = VisitOutcome(form.outcome)
    except ValueError:
        outcome = VisitOutcome.COMPLETED
        accepted = ", ".join(f"{o.value} {OUTCOME_LABELS_ZH[o]}" for o in VisitOutcome)
        problems.append(f"结果 '{form.outcome}' 不明 / unknown outcome; one of {accepted}")
    try:
        place = Place(form.place) if form.place else None
    except ValueError:
        place = None
        problems.append(f"地点 '{form.place}' 不明 / unknown place; home 入户 or committee 居委会")
    unknown = sorted(set(form.tests) - set(HEALTH_CHECK_TESTS))
    if unknown:
        problems.append(f"检查项目不明 / unknown test(s): {', '.join(unknown)}")
    systolic = _whole(form.systolic_mmhg, "收缩压", "systolic", problems)
    diastolic = _whole(form.diastolic_mmhg, "舒张压", "diastolic", problems)
    glucose = _decimal(form.glucose_mmol_l, "血糖", "glucose", problems)
    if form.discharge_sickbed and stop.programme != SICKBED_ROUND:
        problems.append(
            "撤床在家庭病床查房时记录 / a sick-bed discharge is recorded at a sick-bed round"
        )
    if problems:
        return None, problems
    done = outcome is VisitOutcome.COMPLETED
    report = VisitReport(
        resident_id=str(stop.resident_id),
        programme=stop.programme,
        date=stop.visit_date,
        clinician_ids=(clinician_id,),
        outcome=outcome,
        note=form.note.strip(),
        systolic_mmhg=systolic if done else None,
        diastolic_mmhg=diastolic if done else None,
        glucose_mmol_l=glucose if done else None,
        visit_id=stop.visit_id,
        plan_id=stop.plan_id,
        tests=frozenset(form.tests) if done else frozenset(),
        place=place,
    )
    return (None, list(report.problems)) if report.problems else (report, [])


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What a save from the page came to: the record (``record_id``) or why not."""

    record_id: int | None
    summary: str  # the stored record in words (zh / en), or the existing one's
    problems: tuple[str, ...] = ()
    already: bool = False  # a record of this visit was stored before


def save_from_page(
    session: Session, stop: PlanStopRow, report: VisitReport, *, discharge: bool = False
) -> SaveResult:
    """Store ``report`` for ``stop`` and commit; an earlier record of the visit is kept as it is
    (a retry after a lost answer finds its own record there). ``discharge``: the visit, done,
    also ends the resident's home sick-bed that day (:func:`service.db.records.discharge_sickbed`,
    in the same transaction: both or neither)."""
    discharge = discharge and report.outcome is VisitOutcome.COMPLETED
    existing = _records_of(session, [(report.resident_id, report.programme, report.date)])
    row = next(iter(existing.values()), None)
    if row is not None:
        return SaveResult(row.record_id, recorded_text(_recorded_visit(row)), already=True)
    try:
        record_id = record_visit(session, report)
        if discharge:
            discharge_sickbed(session, report.resident_id, report.date)
        session.commit()
    except RecordError as exc:
        session.rollback()
        return SaveResult(None, "", exc.problems)
    stored = session.get(VisitRecordRow, record_id)
    assert stored is not None
    said = recorded_text(_recorded_visit(stored))
    return SaveResult(record_id, said + (" · 已撤床 sick-bed discharged" if discharge else ""))


def stored_record(session: Session, stop: PlanStopRow) -> VisitRecordRow | None:
    """The record stored for ``stop`` (its resident, programme and day), or ``None``."""
    key = (str(stop.resident_id), stop.programme, stop.visit_date)
    return _records_of(session, [key]).get(key)


def save_correction(
    session: Session, row: VisitRecordRow, report: VisitReport, *, by: str, reason: str = ""
) -> SaveResult:
    """Correct ``row`` to ``report`` and commit (:func:`service.db.records.correct_record`:
    the version it replaces is kept); ``already``: it said so already (a retry), nothing
    changed."""
    try:
        changed = correct_record(session, row.record_id, report, by=by, reason=reason.strip())
        session.commit()
    except RecordError as exc:
        session.rollback()
        return SaveResult(None, "", exc.problems)
    stored = session.get(VisitRecordRow, row.record_id)
    assert stored is not None
    return SaveResult(row.record_id, recorded_text(_recorded_visit(stored)), already=not changed)
