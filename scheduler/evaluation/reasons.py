"""Why a visit is not in the plan, in English and Chinese, checked against the registers.

Three kinds of "not in the plan" (:class:`LeftOutKind`): a due or overdue visit left out is an
alarm; an optional visit not placed could have been done early but there was no room; an optional
visit whose days this week nobody who may do it works (e.g. it may start on Saturday and the team
works Monday to Friday) is not due before the week ends.

Each reason quotes the register it rests on: the staffing place nobody fills (a missing role is
not a missing skill), the resident's own availability and the programme's hours (apart, so the
limit that binds is named), the day the rule allows the visit from, hours planned and hours
worked both without lunch and inside the visit's own times. Where a change of the plan's options
would place the visit (cross-team cover, some overtime) the reason says which.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from enum import StrEnum

from scheduler.evaluation.results import Reason
from scheduler.evaluation.search import (
    Context,
    assignments,
    eligible_clinicians,
    insert_start,
    insertions,
)
from scheduler.evaluation.text import (
    ROLE_EN,
    ROLE_ZH,
    availability_text,
    centre_name,
    day_en,
    day_zh,
    hm,
    place_text,
    roles_text,
    skills_text,
    weekday_runs,
    who_text,
    windows_summary,
)
from scheduler.model import Clinician, Problem, Staffing, Urgency, Visit, VisitLink

__all__ = ["OVERTIME_HINT_MIN", "Explainer", "LeftOutKind", "left_out_kind", "rule_days"]

OVERTIME_HINT_MIN = 60  # how much overtime a reason may suggest as the change that places a visit
FULL_SHARE = 0.9  # busy this share of the open time or more: "full"; less: the gaps are too short
PAIR_STEP_MIN = 5  # linked visits: the starts tried for a pair, every this many minutes


class LeftOutKind(StrEnum):
    """Which kind of "not in the plan" a visit is."""

    UNSCHEDULED = "unscheduled"  # due or overdue and left out: an alarm
    OPTIONAL = "optional"  # could have been done early, there was no room: no alarm
    NOT_DUE_THIS_WEEK = "not_due_this_week"  # cannot be done on a working day before the week ends


def rule_days(problem: Problem, visit: Visit) -> list[dt.date]:
    """The days of the week the visit's rule allows (its window days when built by hand)."""
    if visit.basis is not None:
        return [d for d in problem.days if d >= visit.basis.earliest]
    return sorted({w.day for w in visit.windows} & set(problem.days))


def left_out_kind(problem: Problem, visit: Visit) -> LeftOutKind:
    """The kind of a visit that is not on a route."""
    if visit.urgency >= Urgency.DUE:
        return LeftOutKind.UNSCHEDULED
    workers = [
        c
        for c in eligible_clinicians(problem, visit)
        if any(problem.works_on(c, d) for d in problem.days)
    ]
    if not workers:  # nobody may do it at all: that is the reason, not the calendar
        return LeftOutKind.OPTIONAL
    if any(problem.works_on(c, d) for d in rule_days(problem, visit) for c in workers):
        return LeftOutKind.OPTIONAL
    return LeftOutKind.NOT_DUE_THIS_WEEK


def _scope(problem: Problem, visit: Visit) -> tuple[str, str]:
    """Who may do the visit, as 'team X' / 'X团队' or 'centre Y' / 'Y'."""
    if problem.cross_team_cover:
        name = centre_name(problem, visit.centre_id)
        return f"centre {name}", name
    return f"team {visit.team_id}", f"{visit.team_id}团队"


def _free_intervals(clinician: Clinician, overtime: int) -> list[tuple[int, int]]:
    """The clinician's working time of a day: the shift (plus overtime) without lunch."""
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


def _length(intervals: Iterable[tuple[int, int]]) -> int:
    return sum(end - start for start, end in intervals)


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


def _days_text(days: Iterable[dt.date], zh: bool) -> str:
    return weekday_runs((d.weekday() for d in days), zh)


class Explainer:
    """Reasons for a batch of left-out visits of one problem and plan.

    The batch matters for the advice: "4 visits of team T2 this week need a nurse with picc"
    counts the visits of the batch held up by the same missing staffing place.
    """

    def __init__(self, ctx: Context, visit_ids: Iterable[str]) -> None:
        self.ctx = ctx
        self._variants: dict[str, Context] = {}
        self.batch = [ctx.visits[v] for v in visit_ids if v in ctx.visits]
        self._missing: Counter[tuple[str, Staffing]] = Counter()
        # A left-out visit's linked partner is left out too, and its reason may be quoted.
        ids = {v.visit_id for v in self.batch}
        partners = {
            other
            for link in ctx.problem.links
            for one, other in ((link.first_id, link.second_id), (link.second_id, link.first_id))
            if one in ids and other not in ids and other not in ctx.scheduled
        }
        for visit in [*self.batch, *(ctx.visits[p] for p in sorted(partners))]:
            place = self._unfilled_place(visit)
            if place is not None:
                self._missing[(self._owner(visit), place)] += 1

    # --- helpers ------------------------------------------------------------------------

    def _owner(self, visit: Visit) -> str:
        return visit.centre_id if self.ctx.problem.cross_team_cover else visit.team_id

    def _unfilled_place(self, visit: Visit) -> Staffing | None:
        candidates = eligible_clinicians(self.ctx.problem, visit)
        for place in visit.staffing:
            if not any(place.accepts(c) for c in candidates):
                return place
        return None

    def _variant(self, name: str, problem: Problem) -> Context:
        """The plan as it is under other options (the travel tables are shared)."""
        found = self._variants.get(name)
        if found is None:
            found = Context(problem, self.ctx.plan, self.ctx.legs.travel, legs=self.ctx.legs)
            self._variants[name] = found
        return found

    def _names(self, option: Sequence[str], zh: bool) -> str:
        ctx = self.ctx
        if zh:
            return "和".join(
                (ctx.clinicians[c].name or c) if c in ctx.clinicians else c for c in option
            )
        return " and ".join(who_text(ctx.clinicians.get(c), c) for c in option)

    def _change_that_places(self, visit: Visit) -> tuple[str, str]:
        """A change of options that would place the visit, as '; ...' to append, or ''."""
        problem = self.ctx.problem
        if not problem.cross_team_cover:
            cover = self._variant("cover", dataclasses.replace(problem, cross_team_cover=True))
            option = cover.first_option(visit)
            if option is not None:
                day = dt.date.fromisoformat(option[-1])
                helpers = [self.ctx.clinicians[c] for c in option[:-1]]
                other = next((c for c in helpers if c.team_id != visit.team_id), helpers[0])
                # The other team's clinician by role only: a team's pages name its own staff.
                return (
                    f"; cross-team cover would place it: team {other.team_id}'s "
                    f"{ROLE_EN[other.role]} on {day_en(day)}",
                    f"；允许跨团队支援即可排入：{other.team_id}团队的{ROLE_ZH[other.role]}"
                    f"（{day_zh(day)}）",
                )
        overtime = problem.max_overtime_min + OVERTIME_HINT_MIN
        longer = self._variant("overtime", dataclasses.replace(problem, max_overtime_min=overtime))
        option = longer.first_option(visit)
        if option is not None:
            day = dt.date.fromisoformat(option[-1])
            return (
                f"; up to {overtime} min of overtime would place it "
                f"({self._names(option[:-1], zh=False)} on {day_en(day)})",
                f"；允许加班至多 {overtime} 分钟即可排入（{day_zh(day)}由 "
                f"{self._names(option[:-1], zh=True)} 上门）",
            )
        return "", ""

    # --- the reasons --------------------------------------------------------------------

    def explain(self, visit: Visit) -> Reason:
        """Why ``visit`` is not in the plan; an optional visit's reason says it is optional."""
        kind = left_out_kind(self.ctx.problem, visit)
        if kind is LeftOutKind.NOT_DUE_THIS_WEEK:
            return self._not_due_this_week(visit)
        reason = self._why(visit)
        if kind is LeftOutKind.OPTIONAL:
            return Reason(
                f"optional this week (due by {visit.due_by.isoformat()}), not placed: {reason.en}",
                f"本周可选（{visit.due_by.isoformat()} 前完成即可），未排入：{reason.zh}",
            )
        return reason

    def _not_due_this_week(self, visit: Visit) -> Reason:
        problem = self.ctx.problem
        scope_en, scope_zh = _scope(problem, visit)
        days = rule_days(problem, visit)
        rule_en = f" ({visit.basis.rule_en})" if visit.basis else ""
        rule_zh = f"（{visit.basis.rule_zh}）" if visit.basis else ""
        if not days:
            return Reason(
                f"not due this week: its rule allows no day of this week{rule_en}",
                f"本周无需安排：按规则本周没有可做的日子{rule_zh}",
            )
        return Reason(
            f"not due this week: it cannot be done before {day_en(days[0])}{rule_en}, and "
            f"nobody of {scope_en} who may do it works {_days_text(days, zh=False)}",
            f"本周无需安排：最早 {day_zh(days[0])} 才可做{rule_zh}，{scope_zh}能做此项服务的"
            f"人员{_days_text(days, zh=True)}不上班",
        )

    def _own(self, visit: Visit) -> Reason | None:
        """Why the visit cannot be done at all, whatever else the plan holds (or ``None``)."""
        candidates = eligible_clinicians(self.ctx.problem, visit)
        for check in (self._staffing, self._time, self._distance):
            reason = check(visit, candidates)
            if reason is not None:
                return reason
        return None

    def _why(self, visit: Visit) -> Reason:
        ctx = self.ctx
        candidates = eligible_clinicians(ctx.problem, visit)
        reason = self._own(visit)
        if reason is not None:
            return reason
        link = next(
            (k for k in ctx.problem.links if visit.visit_id in (k.first_id, k.second_id)), None
        )
        if link is not None:
            return self._linked(visit, link)
        option = ctx.first_option(visit)
        if option is not None:  # it still fits: say so rather than blame capacity
            day = dt.date.fromisoformat(option[-1])
            return Reason(
                f"it still fits (for example with {self._names(option[:-1], zh=False)} on "
                f"{day_en(day)}) but the plan leaves it out",
                f"仍可排入（例如 {day_zh(day)}由 {self._names(option[:-1], zh=True)} 上门），"
                "但计划未排入",
            )
        return self._capacity(visit, candidates)

    def _linked(self, visit: Visit, link: VisitLink) -> Reason:
        """A linked visit that could be done alone: its partner cannot be, or the two cannot be
        done together (two clinicians, one day, the second within the gap after the first)."""
        ctx = self.ctx
        first, second = ctx.visits[link.first_id], ctx.visits[link.second_id]
        partner = second if visit is first else first
        gap = f"{link.gap_min}-{link.gap_max}"
        order_en = (
            f"{partner.visit_id} starts {gap} min after it"
            if visit is first
            else f"it starts {gap} min after {partner.visit_id}"
        )
        order_zh = (
            f"{partner.visit_id} 须在其开始后 {gap} 分钟开始"
            if visit is first
            else f"须在 {partner.visit_id} 开始后 {gap} 分钟开始"
        )
        head_en = f"linked to visit {partner.visit_id} ({order_en}, the same day, by another "
        head_en += "clinician; both or neither)"
        head_zh = f"与访视 {partner.visit_id} 相连（{order_zh}，同一天、由另一名人员上门；"
        head_zh += "两者都排或都不排）"
        blocked = self._own(partner)
        if blocked is not None:
            return Reason(
                f"{head_en}: the linked visit cannot be placed: {blocked.en}",
                f"{head_zh}：相连的访视无法排入：{blocked.zh}",
            )
        if _pair_option(ctx, link, empty=True) is None:
            days = ctx.problem.days
            times_en = " and ".join(windows_summary(v, days, zh=False) for v in (first, second))
            times_zh = "；".join(windows_summary(v, days, zh=True) for v in (first, second))
            return Reason(
                f"{head_en}: no two clinicians who may do them can fit both on one day within "
                f"the gap of {gap} min, even on otherwise empty days (the visits' times: "
                f"{times_en})",
                f"{head_zh}：即使当天没有其他访视，也没有两名可做的人员能在同一天、"
                f"间隔 {gap} 分钟内完成两次访视（可做的时间：{times_zh}）",
            )
        option = _pair_option(ctx, link, empty=False)
        if option is None:
            scope_en, scope_zh = _scope(ctx.problem, visit)
            hint_en, hint_zh = self._change_that_places(visit)
            return Reason(
                f"{head_en}: full: no two clinicians of {scope_en} have room for both on one day "
                f"within the gap of {gap} min{hint_en}",
                f"{head_zh}：已排满：{scope_zh}没有两名人员能在同一天、间隔 {gap} 分钟内"
                f"都有空完成两次访视{hint_zh}",
            )
        day, (a, start_a), (b, start_b) = option
        return Reason(
            f"{head_en}: the two still fit (for example {self._names([a], zh=False)} at "
            f"{hm(start_a)} and {self._names([b], zh=False)} at {hm(start_b)} on {day_en(day)}) "
            "but the plan leaves them out",
            f"{head_zh}：两次访视仍可排入（例如 {day_zh(day)} {hm(start_a)} 由 "
            f"{self._names([a], zh=True)}、{hm(start_b)} 由 {self._names([b], zh=True)} 上门），"
            "但计划未排入",
        )

    def _staffing(self, visit: Visit, candidates: Sequence[Clinician]) -> Reason | None:
        """a. a staffing place nobody may fill: a missing role, or the role without the skill."""
        problem = self.ctx.problem
        scope_en, scope_zh = _scope(problem, visit)
        place = self._unfilled_place(visit)
        if place is not None:
            roles_en = roles_text(place.roles, zh=False)
            roles_zh = roles_text(place.roles, zh=True)
            count = self._missing[(self._owner(visit), place)]
            need_en = (
                f"{count} visits of {scope_en} this week need one"
                if count > 1
                else f"1 visit of {scope_en} this week needs one"
            )
            need_zh = f"本周{scope_zh}有 {count} 次访视需要"
            members = [c for c in problem.clinicians if problem.may_serve(c, visit)]
            if not any(c.role in place.roles for c in members):
                if place.skills:
                    wanted_en = f" (it needs a {place_text(place, zh=False)}; {need_en})"
                    wanted_zh = f"（需要{place_text(place, zh=True)}；{need_zh}）"
                else:
                    wanted_en, wanted_zh = f" ({need_en})", f"（{need_zh}）"
                en = f"{scope_en} has no {roles_en}{wanted_en}"
                zh = f"{scope_zh}没有{roles_zh}{wanted_zh}"
            else:
                plural = "s" if len(place.skills) > 1 else ""
                en = (
                    f"no {roles_en} of {scope_en} has skill{plural} "
                    f"{skills_text(place.skills, zh=False)} ({need_en})"
                )
                skills_zh = skills_text(place.skills, zh=True)
                zh = f"{scope_zh}没有具备 {skills_zh} 技能的{roles_zh}（{need_zh}）"
            hint_en, hint_zh = self._change_that_places(visit)
            return Reason(en + hint_en, zh + hint_zh)
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
        return None

    def _limits(self, visit: Visit) -> tuple[str, str]:
        """What sets the visit's times: the resident's availability and the programme's hours."""
        basis = visit.basis
        if basis is None:
            return "", ""
        limit_en = f"{basis.time_limit_en} {basis.time_limit}"
        limit_zh = f"{basis.time_limit_zh} {basis.time_limit}"
        if not basis.availability:
            return limit_en, limit_zh
        return (
            f"the resident's availability {availability_text(basis.availability, zh=False)} "
            f"(register) within {limit_en}",
            f"居民登记的可上门时间 {availability_text(basis.availability, zh=True)} 与{limit_zh}",
        )

    def _time(self, visit: Visit, candidates: Sequence[Clinician]) -> Reason | None:
        """b. no time this week when the visit may be done and someone who may do it works."""
        ctx = self.ctx
        problem = ctx.problem
        if _time_overlaps(ctx, visit, candidates):
            return None
        scope_en, scope_zh = _scope(problem, visit)
        nobody_en = f"nobody of {scope_en} who may do it"
        nobody_zh = f"{scope_zh}能做此项服务的人员"
        days = rule_days(problem, visit)
        working = [d for d in days if any(problem.works_on(c, d) for c in candidates)]
        if visit.basis is not None and days and not working:
            rule_en, rule_zh = f" ({visit.basis.rule_en})", f"（{visit.basis.rule_zh}）"
            return Reason(
                f"it cannot be done before {day_en(days[0])}{rule_en}, and {nobody_en} works "
                f"{_days_text(days, zh=False)}",
                f"最早 {day_zh(days[0])} 才可做{rule_zh}，{nobody_zh}{_days_text(days, zh=True)}"
                "不上班",
            )
        summary_en = windows_summary(visit, problem.days, zh=False)
        summary_zh = windows_summary(visit, problem.days, zh=True)
        limits_en, limits_zh = self._limits(visit)
        basis = visit.basis
        if not summary_en:
            if basis is not None and basis.availability:
                return Reason(
                    "the resident's availability "
                    f"{availability_text(basis.availability, zh=False)} (register) leaves no "
                    f"{visit.duration_min} min within {basis.time_limit_en} {basis.time_limit} "
                    "on any day the rule allows this week",
                    "居民登记的可上门时间 "
                    f"{availability_text(basis.availability, zh=True)} 与{basis.time_limit_zh} "
                    f"{basis.time_limit} 在本周可做的日子里没有 {visit.duration_min} "
                    "分钟的共同时间",
                )
            return Reason("no possible time in this week", "本周没有可做的时间")
        source_en = f" ({limits_en})" if limits_en else ""
        source_zh = f"（{limits_zh}）" if limits_zh else ""
        return Reason(
            f"it can only be done {summary_en}{source_en}, and {nobody_en} works then "
            "(shift without lunch)",
            f"只能在{summary_zh} 进行{source_zh}，{nobody_zh}这些时间都不上班（除午休）",
        )

    def _distance(self, visit: Visit, candidates: Sequence[Clinician]) -> Reason | None:
        """c./d. even an otherwise empty day cannot reach it, or bring its sample back."""
        ctx = self.ctx
        if insertions(ctx, visit, empty=True, first_only=True):
            return None
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
        hint_en, hint_zh = self._change_that_places(visit)
        return Reason(
            f"too far to fit in a working day: {trip_en}{hint_en}",
            f"路程太远，一个工作日内排不下：{trip_zh}{hint_zh}",
        )

    def _capacity(self, visit: Visit, candidates: Sequence[Clinician]) -> Reason:
        """e. the eligible clinicians' time inside the visit's windows is taken."""
        ctx = self.ctx
        problem = ctx.problem
        busy = open_ = whole_days = 0
        for clinician in candidates:
            working = _free_intervals(clinician, 0)
            for day in sorted({w.day for w in visit.windows} & ctx.week):
                if not problem.works_on(clinician, day):
                    continue
                here = _intersect(ctx.windows_on(visit, day), working)
                open_ += _length(here)
                whole_days += _length(working)
                route = ctx.routes.get((clinician.clinician_id, day))
                if route is not None:
                    busy += _length(_intersect(here, [(route.depart_min, route.return_min)]))
        scope_en, scope_zh = _scope(problem, visit)
        who_en = f"the clinicians of {scope_en} who may do it"
        who_zh = f"{scope_zh}能做此项服务的人员"
        hours_en = f"{busy / 60:.1f} h of the {open_ / 60:.1f} h they work"
        hours_zh = f"{busy / 60:.1f} 小时（共 {open_ / 60:.1f} 小时）"
        if open_ == whole_days:
            where_en = "on the visit's days (lunch excluded on both sides)"
            where_zh = "（访视可做的日子，均不含午休）"
        else:
            limits_en, limits_zh = self._limits(visit)
            summary_en = windows_summary(visit, problem.days, zh=False)
            summary_zh = windows_summary(visit, problem.days, zh=True)
            where_en = f"within the visit's times {summary_en}" + (
                f" ({limits_en})" if limits_en else ""
            )
            where_zh = f"（访视只能在{summary_zh}" + (f"：{limits_zh}" if limits_zh else "") + "）"
        if open_ and busy >= FULL_SHARE * open_:
            head_en = f"full: {who_en} are busy {hours_en} {where_en}"
            head_zh = f"已排满：{who_zh}{where_zh}已排 {hours_zh}"
        else:
            head_en = (
                f"full for a {visit.duration_min}-min visit plus travel: {who_en} are busy "
                f"{hours_en} {where_en}, and the time left lies in pieces too short for it"
            )
            head_zh = (
                f"已排满（容不下 {visit.duration_min} 分钟加路程）：{who_zh}{where_zh}"
                f"已排 {hours_zh}，余下时间零散，不够一次"
            )
        hint_en, hint_zh = self._change_that_places(visit)
        return Reason(head_en + hint_en, head_zh + hint_zh)


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


def _fixed_starts(
    ctx: Context, visit: Visit, clinician: Clinician, day: dt.date, empty: bool
) -> list[int]:
    """The starts (every :data:`PAIR_STEP_MIN` minutes, and each window's last) at which the
    clinician's day has room for the visit."""
    sim = ctx.day_of(clinician, day, empty=empty)
    if sim is None:
        return []
    entry = ctx.entry(visit, day)
    found = []
    for w_start, w_end in entry.windows:
        last = w_end - visit.duration_min
        tried = sorted({*range(w_start, last + 1, PAIR_STEP_MIN), last})
        for start in tried:
            if any(
                insert_start(sim, entry, pos, start) is not None
                for pos in range(len(sim.entries) + 1)
            ):
                found.append(start)
    return found


def _pair_option(
    ctx: Context, link: VisitLink, *, empty: bool
) -> tuple[dt.date, tuple[str, int], tuple[str, int]] | None:
    """A day and two clinicians with their starts that fit both linked visits, or ``None``
    (``empty``: on days without their other visits)."""
    problem = ctx.problem
    first, second = ctx.visits[link.first_id], ctx.visits[link.second_id]
    days = sorted({w.day for w in first.windows} & {w.day for w in second.windows} & ctx.week)
    for day in days:
        ones = [c for c in eligible_clinicians(problem, first) if problem.works_on(c, day)]
        twos = [c for c in eligible_clinicians(problem, second) if problem.works_on(c, day)]
        later_of = {b.clinician_id: _fixed_starts(ctx, second, b, day, empty) for b in twos}
        for a in ones:
            earlier = _fixed_starts(ctx, first, a, day, empty)
            for b in twos:
                if b.clinician_id == a.clinician_id:
                    continue
                for start_a in earlier:
                    start_b = next(
                        (
                            t
                            for t in later_of[b.clinician_id]
                            if link.gap_min <= t - start_a <= link.gap_max
                        ),
                        None,
                    )
                    if start_b is not None:
                        return day, (a.clinician_id, start_a), (b.clinician_id, start_b)
    return None
