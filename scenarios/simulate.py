"""A quarter simulated: plan a week, take the plan as done, advance a week, repeat.

Each week's scheduled visits join the history, as the official reports need them: completed,
with the place and a health check's tests, less a seeded share that is missed on the day (kept
as ``not_home``, which counts as done for nothing); home sick-beds are discharged and opened at
seeded rates; new on-demand requests arrive for the next week, and the next week's due list is
built from the grown history. The report gives, per week and at the end, the programme
coverage (80+ residents followed up this quarter, centenarian rounds kept, medicine on time,
residents overdue), the utilisation and the overtime.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scenarios.scenario import Setup
from scheduler.model import (
    Dataset,
    Disability,
    HistoryRecord,
    Problem,
    ServiceRequest,
    SickbedEpisode,
    Urgency,
    Visit,
    VisitOutcome,
)
from scheduler.params import SolveParams
from scheduler.programmes import (
    Period,
    apply_overrides,
    builtin_programmes,
    recorded_place_and_tests,
)
from scheduler.solve import build_problem, solve
from scheduler.travel import GreatCircleTravel

_MEDICINE = frozenset({"medicine_home", "medicine_delivery"})
SICKBED_DISCHARGE_PER_WEEK = 1 / 26  # a home sick-bed stays open about half a year
SICKBED_OPENING_PER_WEEK = 0.002  # of the disabled residents without one
_SICKBED_STREAM = 15  # their own random stream: the visits' draws are the same as before
# The sample generator's rate: 25 requests a week for the Gumei centre's 2,514 residents.
REQUESTS_PER_1000_RESIDENTS = 10.0


@dataclass(frozen=True, slots=True)
class SimulationParams:
    """How the weeks unfold.

    Attributes
    ----------
    weeks
        Weeks to simulate.
    missed_share
        Share of scheduled visits not done on the day (seeded): recorded as ``not_home``, so
        they count as done for nothing and stay due.
    requests_per_1000_residents
        New on-demand requests a week per 1,000 residents (modelled on the dataset's): the
        same rate serves a team, a centre and a district (default: the sample's rate).
    seed
        Seed of the missed visits and the new requests.
    """

    weeks: int = 13
    missed_share: float = 0.05
    requests_per_1000_residents: float = REQUESTS_PER_1000_RESIDENTS
    seed: int = 0

    def __post_init__(self) -> None:
        if self.weeks < 1:
            raise ValueError("weeks must be at least 1")
        if not 0.0 <= self.missed_share <= 1.0:
            raise ValueError("missed_share must be between 0 and 1")
        if not self.requests_per_1000_residents >= 0:  # also refuses NaN
            raise ValueError("requests_per_1000_residents must be >= 0")

    def requests_per_week(self, residents: int) -> int:
        """The new requests a week for ``residents`` residents."""
        return round(self.requests_per_1000_residents * residents / 1000)


@dataclass(frozen=True, slots=True)
class WeekReport:
    """One simulated week."""

    week: dt.date
    visits_due: int
    scheduled: int
    done: int
    new_requests: int
    followup80_coverage: float | None  # share of 80+ followed up this quarter, so far
    centenarian_kept: tuple[int, int]  # (done, needed) rounds this week
    medicine_on_time: tuple[int, int]  # (done, needed) deliveries this week
    overdue_residents: int  # residents with an overdue visit in the next week's due list
    utilisation: float | None
    overtime_min: int
    travel_min: int
    feasible: bool

    def row(self) -> dict[str, object]:
        """Plain figures for a table or a CSV row."""
        return {
            "week": self.week.isoformat(),
            "visits_due": self.visits_due,
            "scheduled": self.scheduled,
            "done": self.done,
            "new_requests": self.new_requests,
            "followup80_coverage": self.followup80_coverage,
            "centenarian_kept": _share(*self.centenarian_kept),
            "medicine_on_time": _share(*self.medicine_on_time),
            "overdue_residents": self.overdue_residents,
            "utilisation": self.utilisation,
            "overtime_min": self.overtime_min,
            "travel_h": round(self.travel_min / 60, 1),
            "feasible": self.feasible,
        }


def _share(done: int, needed: int) -> float | None:
    return round(done / needed, 3) if needed else None


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """Every simulated week and the registers at the end."""

    weeks: tuple[WeekReport, ...]
    final: Dataset

    def summary(self) -> dict[str, object]:
        """The figures at the end of the simulation."""
        last = self.weeks[-1]
        util = [w.utilisation for w in self.weeks if w.utilisation is not None]
        return {
            "weeks": len(self.weeks),
            "followup80_coverage": last.followup80_coverage,
            "centenarian_kept": _share(
                sum(w.centenarian_kept[0] for w in self.weeks),
                sum(w.centenarian_kept[1] for w in self.weeks),
            ),
            "medicine_on_time": _share(
                sum(w.medicine_on_time[0] for w in self.weeks),
                sum(w.medicine_on_time[1] for w in self.weeks),
            ),
            "overdue_residents_at_end": last.overdue_residents,
            "mean_utilisation": round(sum(util) / len(util), 3) if util else None,
            "overtime_min_total": sum(w.overtime_min for w in self.weeks),
            "all_plans_checked": all(w.feasible for w in self.weeks),
        }


def _done_records(
    visits: list[Visit],
    dataset: Dataset,
    day_of: dict[str, dt.date],
    outcome: VisitOutcome = VisitOutcome.COMPLETED,
) -> list[HistoryRecord]:
    """History rows for visits made: one per resident served (sessions: every eligible member),
    with the place and (completed health checks) the tests the programme includes."""
    programmes = apply_overrides(builtin_programmes(), dataset.programme_overrides)
    records: list[HistoryRecord] = []
    for visit in visits:
        day = day_of[visit.visit_id]
        programme = programmes[visit.programme]
        place, tests = recorded_place_and_tests(programme, None, frozenset(), outcome)
        if visit.resident_id is not None:
            served = [visit.resident_id]
        else:
            served = [
                r.resident_id
                for r in dataset.residents.values()
                if r.committee_id == visit.committee_id and programme.eligibility.admits(r, day)
            ]
        records.extend(
            HistoryRecord(rid, visit.programme, day, outcome=outcome, tests=tests, place=place)
            for rid in served
        )
    return records


def _sickbed_changes(dataset: Dataset, week: dt.date, rng: np.random.Generator) -> Dataset:
    """Discharge (撤床) and open (建床) home sick-beds during ``week`` at the seeded rates."""
    episodes = list(dataset.sickbeds)
    residents = dict(dataset.residents)
    open_ids = {e.resident_id for e in episodes if e.discharged is None}
    for i, episode in enumerate(episodes):
        if episode.discharged is None and rng.random() < SICKBED_DISCHARGE_PER_WEEK:
            day = week + dt.timedelta(days=int(rng.integers(0, 5)))
            episodes[i] = dataclasses.replace(episode, discharged=max(day, episode.opened))
            resident = residents.get(episode.resident_id)
            if resident is not None:
                residents[resident.resident_id] = dataclasses.replace(resident, home_sickbed=False)
    for resident in dataset.residents.values():
        if (
            resident.disability is not Disability.NONE
            and not resident.home_sickbed
            and resident.resident_id not in open_ids
            and rng.random() < SICKBED_OPENING_PER_WEEK
        ):
            day = week + dt.timedelta(days=int(rng.integers(0, 5)))
            episodes.append(SickbedEpisode(resident.resident_id, day))
            residents[resident.resident_id] = dataclasses.replace(resident, home_sickbed=True)
    return dataclasses.replace(dataset, sickbeds=tuple(episodes), residents=residents)


def _new_requests(
    dataset: Dataset, week: dt.date, count: int, rng: np.random.Generator
) -> tuple[ServiceRequest, ...]:
    """``count`` requests for ``week``, each a seeded copy of an existing request's service."""
    templates = sorted(dataset.requests, key=lambda q: q.request_id)
    residents = sorted(dataset.residents)
    if not templates or not residents or count == 0:
        return ()
    result = []
    for n in range(count):
        template = templates[int(rng.integers(len(templates)))]
        earliest = week + dt.timedelta(days=int(rng.integers(0, 5)))
        result.append(
            dataclasses.replace(
                template,
                request_id=f"SIM-{week:%Y%m%d}-{n:03d}",
                resident_id=residents[int(rng.integers(len(residents)))],
                earliest_date=earliest,
                latest_date=earliest + dt.timedelta(days=2),
            )
        )
    return tuple(result)


def _followup80_coverage(dataset: Dataset, week_end: dt.date) -> float | None:
    quarter_start = Period.QUARTER.bounds(week_end)[0]
    old = {r.resident_id for r in dataset.residents.values() if r.age_on(week_end) >= 80}
    seen = {
        h.resident_id
        for h in dataset.history
        if h.programme == "followup_80"
        and h.outcome is VisitOutcome.COMPLETED
        and quarter_start <= h.date <= week_end
    }
    return round(len(old & seen) / len(old), 3) if old else None


def _overdue_residents(problem: Problem) -> int:
    return len(
        {v.resident_id for v in problem.visits if v.urgency is Urgency.OVERDUE and v.resident_id}
    )


def simulate(
    setup: Setup,
    start_week: dt.date,
    params: SimulationParams | None = None,
    solve_params: SolveParams | None = None,
    *,
    on_week: Callable[[dict[str, object]], None] | None = None,
) -> SimulationReport:
    """Simulate ``params.weeks`` weeks from ``start_week``.

    Parameters
    ----------
    setup
        Dataset, planning options and travel parameters (a scenario's :meth:`Scenario.apply`).
    start_week
        The Monday of the first week (the history must run up to the day before).
    params
        Weeks, missed share, new requests a week per 1,000 residents, seed.
    solve_params
        Search limits for each week's solve.
    on_week
        Called with each week's figures (:meth:`WeekReport.row`) as soon as it is planned.

    Returns
    -------
    The week-by-week reports and the dataset at the end (history grown by the weeks done).
    """
    params = params or SimulationParams()
    rng = np.random.default_rng(params.seed)
    sickbed_rng = np.random.default_rng([params.seed, _SICKBED_STREAM])
    travel = GreatCircleTravel(setup.travel)
    dataset = setup.dataset
    week = start_week
    problem = build_problem(dataset, week, options=setup.options)
    reports = []
    for _ in range(params.weeks):
        plan, evaluation = solve(problem, solve_params, travel=travel)
        day_of: dict[str, dt.date] = {}
        for stop in plan.stops():
            day_of.setdefault(stop.visit_id, stop.day)
        scheduled = [v for v in problem.visits if v.visit_id in day_of]
        keep = rng.random(len(scheduled)) >= params.missed_share
        done = [v for v, k in zip(scheduled, keep, strict=True) if k]
        missed = [v for v, k in zip(scheduled, keep, strict=True) if not k]
        done_ids = {v.visit_id for v in done}
        needed = [v for v in problem.visits if v.urgency >= Urgency.DUE]

        def kept(
            programmes: frozenset[str], needed: list[Visit] = needed, done_ids: set[str] = done_ids
        ) -> tuple[int, int]:
            mine = [v for v in needed if v.programme in programmes]
            return sum(v.visit_id in done_ids for v in mine), len(mine)

        next_week = week + dt.timedelta(days=7)
        count = params.requests_per_week(len(dataset.residents))
        requests = _new_requests(dataset, next_week, count, rng)
        fulfilled = {v.visit_id for v in done if v.programme == "special_service"}  # request-<id>
        dataset = dataclasses.replace(
            dataset,
            history=dataset.history
            + tuple(_done_records(done, dataset, day_of))
            + tuple(_done_records(missed, dataset, day_of, VisitOutcome.NOT_HOME)),
            requests=tuple(
                q
                for q in dataset.requests
                if q.latest_date >= next_week and f"request-{q.request_id}" not in fulfilled
            )
            + requests,
        )
        dataset = _sickbed_changes(dataset, week, sickbed_rng)
        week_end = week + dt.timedelta(days=6)
        next_problem = build_problem(dataset, next_week, options=setup.options)
        k = evaluation.kpis
        report = WeekReport(
            week=week,
            visits_due=len(problem.visits),
            scheduled=len(scheduled),
            done=len(done),
            new_requests=len(requests),
            followup80_coverage=_followup80_coverage(dataset, week_end),
            centenarian_kept=kept(frozenset({"centenarian_round"})),
            medicine_on_time=kept(_MEDICINE),
            overdue_residents=_overdue_residents(next_problem),
            utilisation=k["utilisation"],  # type: ignore[arg-type]
            overtime_min=int(k["overtime_min_total"]),  # type: ignore[call-overload]
            travel_min=int(k["travel_min_total"]),  # type: ignore[call-overload]
            feasible=evaluation.feasible,
        )
        reports.append(report)
        if on_week is not None:
            on_week(report.row())
        week, problem = next_week, next_problem
    return SimulationReport(tuple(reports), dataset)
