"""Why an unscheduled visit is not in the plan, in English and Chinese."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

from scheduler.evaluation.results import Reason
from scheduler.evaluation.search import Context, assignments, eligible_clinicians, insertions
from scheduler.evaluation.text import (
    centre_name,
    day_en,
    day_zh,
    place_text,
    roles_text,
    who_text,
    windows_summary,
)
from scheduler.model import Clinician, Problem, Visit


def _scope(problem: Problem, visit: Visit) -> tuple[str, str]:
    """Who may do the visit, as 'team X' / 'X团队' or 'centre Y' / 'Y'."""
    if problem.cross_team_cover:
        name = centre_name(problem, visit.centre_id)
        return f"centre {name}", name
    return f"team {visit.team_id}", f"{visit.team_id}团队"


def _free_intervals(clinician: Clinician, overtime: int) -> list[tuple[int, int]]:
    start, end = clinician.shift.start_min, clinician.shift.end_min + overtime
    lunch = clinician.lunch
    if lunch is None:
        return [(start, end)]
    pieces = [(start, lunch.start_min), (lunch.end_min, end)]
    return [(a, b) for a, b in pieces if a < b]


def _intersect(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    result: list[tuple[int, int]] = []
    for a_start, a_end in a:
        for b_start, b_end in b:
            start, end = max(a_start, b_start), min(a_end, b_end)
            if start < end:
                result.append((start, end))
    return result


def _time_overlaps(ctx: Context, visit: Visit, candidates: Sequence[Clinician]) -> bool:
    """Whether distinct clinicians who fill the places share a long enough free time in a window."""
    problem = ctx.problem
    k = len(visit.staffing)
    for w in visit.windows:
        if w.day not in ctx.week:
            continue
        working = [c for c in candidates if problem.works_on(c, w.day)]
        for people in itertools.combinations(working, k):
            if assignments(visit.staffing, people) is None:
                continue
            common: list[tuple[int, int]] = [(w.start_min, w.end_min)]
            for person in people:
                common = _intersect(common, _free_intervals(person, problem.max_overtime_min))
            if any(end - start >= visit.duration_min for start, end in common):
                return True
    return False


def explain_one(ctx: Context, visit: Visit) -> Reason:
    problem = ctx.problem
    scope_en, scope_zh = _scope(problem, visit)
    candidates = eligible_clinicians(problem, visit)

    # a. a staffing place nobody may fill
    for place in visit.staffing:
        if not any(place.accepts(c) for c in candidates):
            roles_en = roles_text(place.roles, zh=False)
            roles_zh = roles_text(place.roles, zh=True)
            if place.skills:
                skills = sorted(place.skills)
                plural = "s" if len(skills) > 1 else ""
                return Reason(
                    f"no {roles_en} of {scope_en} has skill{plural} {', '.join(skills)}",
                    f"{scope_zh}没有具备 {'、'.join(skills)} 技能的{roles_zh}",
                )
            return Reason(f"{scope_en} has no {roles_en}", f"{scope_zh}没有{roles_zh}")
    k = len(visit.staffing)
    if k > 1 and not any(
        assignments(visit.staffing, people) is not None
        for people in itertools.combinations(candidates, k)
    ):
        needs_en = " and a ".join(place_text(p, zh=False) for p in visit.staffing)
        needs_zh = "和".join(place_text(p, zh=True) for p in visit.staffing)
        return Reason(
            f"{scope_en} has no {k} different clinicians to go together as a {needs_en}",
            f"{scope_zh}没有 {k} 名不同的人员可同时担任{needs_zh}",
        )

    # b. nobody who may do it works while the visit is possible
    is_home = visit.resident_id is not None
    if not _time_overlaps(ctx, visit, candidates):
        summary_en = windows_summary(visit, problem.days, zh=False)
        summary_zh = windows_summary(visit, problem.days, zh=True)
        nobody_en = f"nobody {'in' if not problem.cross_team_cover else 'of'} {scope_en}"
        if not summary_en:
            if is_home:
                return Reason(
                    "the resident has no available time in this week",
                    "居民本周没有可上门的时间",
                )
            return Reason(
                "the session has no possible time in this week", "该活动本周没有可举行的时间"
            )
        if is_home:
            return Reason(
                f"the resident is only available {summary_en} and {nobody_en} who can do it "
                "works then",
                f"居民仅在{summary_zh} 可接受上门，{scope_zh}中能做此项服务的人员这些时间都不上班",
            )
        return Reason(
            f"the session can only be held {summary_en} and {nobody_en} who can do it works then",
            f"该活动只能在{summary_zh} 举行，{scope_zh}中能做此项服务的人员这些时间都不上班",
        )

    # c./d. even an empty day cannot take it
    if not insertions(ctx, visit, empty=True, first_only=True):
        out_min, back_min = _nearest_trip(ctx, visit, candidates)
        if visit.sample_return_min is not None and insertions(
            ctx, visit, empty=True, ignore_sample=True, first_only=True
        ):
            limit = visit.sample_return_min
            return Reason(
                f"the lab sample cannot reach the centre within {limit} min of the start: the "
                f"visit takes {visit.duration_min} min and the way back {back_min} min",
                f"化验样本无法在开始后 {limit} 分钟内送回中心：上门需 {visit.duration_min} 分钟，"
                f"返程 {back_min} 分钟",
            )
        if out_min == back_min:
            trip_en = f"{out_min} min each way from the centre"
            trip_zh = f"离中心单程 {out_min} 分钟"
        else:
            trip_en = f"{out_min} min there from the centre and {back_min} min back"
            trip_zh = f"从中心去程 {out_min} 分钟、返程 {back_min} 分钟"
        return Reason(
            f"too far to fit in a working day: {trip_en}",
            f"路程太远，一个工作日内排不下：{trip_zh}",
        )

    # It still fits somewhere: say so rather than blame capacity.
    option = ctx.first_option(visit)
    if option is not None:
        day = dt.date.fromisoformat(option[-1])
        names_en = " and ".join(who_text(ctx.clinicians.get(c), c) for c in option[:-1])
        names_zh = "和".join(
            (ctx.clinicians[c].name or c) if c in ctx.clinicians else c for c in option[:-1]
        )
        return Reason(
            f"it still fits (for example with {names_en} on {day_en(day)}) but the plan "
            "leaves it out",
            f"仍可排入（例如 {day_zh(day)}由 {names_zh} 上门），但计划未排入",
        )

    # e. capacity
    planned, available = _hours(ctx, visit, candidates)
    owner_en = (
        f"centre {centre_name(problem, visit.centre_id)}'s"
        if problem.cross_team_cover
        else f"team {visit.team_id}'s"
    )
    return Reason(
        f"{owner_en} week is full: {planned:.1f} h planned of {available:.1f} h",
        f"{scope_zh}本周已排满：已排 {planned:.1f} 小时，共 {available:.1f} 小时",
    )


def _nearest_trip(ctx: Context, visit: Visit, candidates: Sequence[Clinician]) -> tuple[int, int]:
    """Minutes out and back of the quickest eligible clinician between centre and visit."""
    best: tuple[int, int] | None = None
    here = ctx.legs.index(visit.location)
    for clinician in candidates:
        centre = ctx.centre_of(clinician)
        if centre is None:
            continue
        c = ctx.legs.index(centre.location)
        minutes = ctx.legs.table(clinician.travel_mode)[0]
        trip = (minutes[c][here], minutes[here][c])
        if best is None or sum(trip) < sum(best):
            best = trip
    return best if best is not None else (0, 0)


def _hours(ctx: Context, visit: Visit, candidates: Sequence[Clinician]) -> tuple[float, float]:
    """Hours planned and available of the eligible clinicians on the visit's days."""
    days = sorted({w.day for w in visit.windows} & ctx.week)
    planned = available = 0
    for clinician in candidates:
        lunch = clinician.lunch.length_min if clinician.lunch is not None else 0
        for day in days:
            if not ctx.problem.works_on(clinician, day):
                continue
            available += clinician.shift.length_min - lunch
            route = ctx.routes.get((clinician.clinician_id, day))
            if route is not None:
                planned += route.return_min - route.depart_min
    return planned / 60.0, available / 60.0
