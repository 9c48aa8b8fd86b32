"""The report's figures computed the slow and obvious way, to hold the fast reports to.

Every row is read into Python and every count is a loop over them, in the words of the tables'
rules (``service/reports/compute.py``'s docstring); the overdue list is the overdue part of the
planner's whole due list (:func:`scheduler.programmes.due_visits` on the whole dataset). The
fast reports ask the database for counts instead; a test compares the two on small databases.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections import Counter, defaultdict
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.model import HEALTH_CHECK_TESTS, Urgency, age_in_years
from scheduler.programmes import Period, due_visits
from service.db.exporter import load_dataset
from service.db.tables import (
    CentreRow,
    PlanRow,
    PlanStopRow,
    ResidentRow,
    SickbedEpisodeRow,
    VisitRecordRow,
)
from service.reports.compute import Level, Scope

DISABLED = ("semi", "full")
Figures = dict[str, dict[str, list[object]]]


def reference_figures(session: Session, scope: Scope) -> tuple[Figures, list[tuple[object, ...]]]:
    """Per table (annex1, annex2, annex3, coverage), unit -> its figures, and the overdue list
    as (team, resident, programme, last done, due by)."""
    centres = {c.centre_id: c for c in session.scalars(select(CentreRow))}
    residents = {
        r.resident_id: r
        for r in session.scalars(select(ResidentRow))
        if (not scope.centre_ids or r.centre_id in scope.centre_ids)
        and (scope.team_id is None or r.team_id == scope.team_id)
    }

    def unit(resident: ResidentRow) -> str:
        if scope.by is Level.TEAM:
            return resident.team_id
        if scope.by is Level.CENTRE:
            return f"{centres[resident.centre_id].name} {resident.centre_id}"
        return centres[resident.centre_id].district or "未填区 (no district)"

    def signed_on(resident: ResidentRow, day: dt.date) -> bool:
        return resident.signed and (resident.signed_since is None or resident.signed_since <= day)

    units = sorted({unit(r) for r in residents.values()})
    visits = [
        v
        for v in session.scalars(select(VisitRecordRow))
        if v.outcome == "completed" and v.resident_id in residents
    ]
    episodes = [e for e in session.scalars(select(SickbedEpisodeRow)) if e.resident_id in residents]
    end = scope.end
    figures: Figures = {}

    def annex3(first: dt.date, last: dt.date) -> dict[str, list[int]]:
        counts = {u: [0] * 8 for u in units}
        served: dict[str, set[str]] = defaultdict(set)
        for v in visits:
            person = residents[v.resident_id]
            disability = v.disability if v.disability is not None else person.disability
            if not (first <= v.visit_date <= last and v.place == "home"):
                continue
            if disability not in DISABLED or age_in_years(person.birth_date, v.visit_date) < 60:
                continue
            ht = v.hypertension if v.hypertension is not None else person.hypertension
            dm = v.diabetes if v.diabetes is not None else person.diabetes
            row = counts[unit(person)]
            served[unit(person)].add(person.resident_id)
            if v.programme == "health_check":
                row[1] += 1
            elif v.programme == "chronic_followup" and (ht or dm):
                row[4 if ht and dm else 2 if ht else 3] += 1
            elif v.programme == "special_service":
                row[6] += 1
        for e in episodes:
            person = residents[e.resident_id]
            disability = e.disability if e.disability is not None else person.disability
            if e.discharged is None or not first <= e.discharged <= last:
                continue
            if disability in DISABLED and age_in_years(person.birth_date, e.discharged) >= 60:
                counts[unit(person)][5] += 1
                served[unit(person)].add(person.resident_id)
        for name, row in counts.items():
            row[0] = len(served[name])
            row[7] = sum(row[1:7])
        return counts

    figures["annex3"] = dict(annex3(scope.start, end).items())  # type: ignore[arg-type]

    signed = Counter(
        unit(r)
        for r in residents.values()
        if r.active and signed_on(r, end) and age_in_years(r.birth_date, end) >= 60
    )
    annex2 = {u: [signed[u]] + [0] * (1 + len(HEALTH_CHECK_TESTS)) for u in units}
    for v in visits:
        person = residents[v.resident_id]
        if v.programme != "health_check" or not scope.start <= v.visit_date <= end:
            continue
        elder = age_in_years(person.birth_date, v.visit_date) >= 60
        if not (signed_on(person, v.visit_date) and elder):
            continue
        row = annex2[unit(person)]
        row[1] += 1
        done = set(v.tests.split(";")) if v.tests else set()
        for i, test in enumerate(HEALTH_CHECK_TESTS):
            row[2 + i] += test in done
    figures["annex2"] = dict(annex2.items())  # type: ignore[arg-type]

    year_visits = annex3(dt.date(end.year, 1, 1), end)
    planned: Counter[str] = Counter()
    latest: dict[tuple[str, dt.date], PlanRow] = {}
    for plan in session.scalars(select(PlanRow)):
        if plan.status in ("draft", "approved") and end - dt.timedelta(days=6) <= plan.week_start:
            key = (plan.centre_id, plan.week_start)
            if key not in latest or latest[key].version < plan.version:
                latest[key] = plan
    seen = set()
    for stop in session.scalars(select(PlanStopRow)):
        plans = {p.plan_id for p in latest.values()}
        person = residents.get(stop.resident_id or "")
        key = (stop.plan_id, stop.visit_id, stop.resident_id, stop.programme)
        if stop.plan_id not in plans or person is None or key in seen:
            continue
        seen.add(key)
        if not end < stop.visit_date <= dt.date(end.year, 12, 31):
            continue
        if stop.programme not in ("health_check", "chronic_followup", "special_service"):
            continue
        if person.disability not in DISABLED or age_in_years(person.birth_date, end) < 60:
            continue
        if stop.programme == "chronic_followup" and not (person.hypertension or person.diabetes):
            continue
        planned[unit(person)] += 1
    figures["annex1"] = {
        u: [signed[u], year_visits[u][7], year_visits[u][7] + planned[u]] for u in units
    }

    dataset = load_dataset(session, sorted({r.centre_id for r in residents.values()}))
    week_start = end - dt.timedelta(days=end.weekday())
    last: dict[tuple[str, str], dt.date] = {}
    for record in dataset.history:
        key2 = (record.resident_id, record.programme)
        if record.date <= end:
            last[key2] = max(last.get(key2, record.date), record.date)
    overdue = sorted(
        (
            residents[v.resident_id].team_id,
            v.resident_id,
            v.programme,
            last.get((v.resident_id, v.programme)),
            v.due_by,
        )
        for v in due_visits(dataset, week_start, centre_ids=sorted(dataset.centres))
        if v.urgency is Urgency.OVERDUE
        and v.resident_id in residents
        and not week_start <= last.get((v.resident_id, v.programme), dt.date.min) <= end
    )

    quarter = Period.QUARTER.bounds(end)[0]
    followed = {
        v.resident_id
        for v in visits
        if v.programme == "followup_80" and quarter <= v.visit_date <= end
    }
    on_bed = {
        p: d
        for p, d in ((p, centenarian_bed_days(p, episodes, scope)) for p in residents.values())
        if d
    }
    delivered = {
        residents[v.resident_id].committee_id
        for v in visits
        if v.programme == "medicine_delivery" and end - dt.timedelta(days=13) <= v.visit_date <= end
    }
    coverage = {u: [0] * 7 for u in units}
    members: dict[str, Counter[str]] = defaultdict(Counter)
    for person, days in on_bed.items():
        row = coverage[unit(person)]
        row[2] += 1
        rounds = [
            v.visit_date
            for v in visits
            if v.resident_id == person.resident_id
            and v.programme == "centenarian_round"
            and v.visit_date in days
        ]
        kept = True
        for year, month in sorted({(d.year, d.month) for d in _days(scope.start, end)}):
            length = calendar.monthrange(year, month)[1]
            spent = sum((d.year, d.month) == (year, month) for d in days)
            due = math.floor(Fraction(2 * spent, length) + Fraction(1, 2))
            kept &= sum((d.year, d.month) == (year, month) for d in rounds) >= due
        row[3] += kept
    for person in residents.values():
        if not person.active:
            continue
        row = coverage[unit(person)]
        age = age_in_years(person.birth_date, end)
        members[person.committee_id][unit(person)] += 1
        if age >= 80:
            row[0] += 1
            row[1] += person.resident_id in followed
    for committee, counts in members.items():
        most = min(counts, key=lambda u: (-counts[u], u))
        coverage[most][4] += 1
        coverage[most][5] += committee in delivered
    for name in units:
        coverage[name][6] = len({o[1] for o in overdue if unit(residents[str(o[1])]) == name})
    figures["coverage"] = dict(coverage.items())  # type: ignore[arg-type]
    return figures, overdue


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def centenarian_bed_days(
    person: ResidentRow, episodes: list[SickbedEpisodeRow], scope: Scope
) -> set[dt.date]:
    """The days of the period the resident spent aged 100+ on a home sick-bed, day by day: in
    one of his episodes (a still-open one only while he is in the register), or, with none
    stored, every day if he is on a sick-bed now."""
    mine = [e for e in episodes if e.resident_id == person.resident_id]

    def in_bed(day: dt.date) -> bool:
        if not mine:
            return person.active and person.home_sickbed
        return any(
            e.opened <= day and (day <= e.discharged if e.discharged else person.active)
            for e in mine
        )

    return {
        day
        for day in _days(scope.start, scope.end)
        if age_in_years(person.birth_date, day) >= 100 and in_bed(day)
    }
