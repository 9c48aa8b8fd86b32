"""What the plan checker hands back: violations, reasons and the verdict."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

__all__ = ["FINDINGS", "RULE_NAMES", "Evaluation", "Reason", "Violation"]

# Rule codes that say how good a plan is, not that it breaks a rule: it can be done as written.
FINDINGS = frozenset({"missed", "inversion", "late_with_room_earlier"})


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule of a plan.

    Attributes
    ----------
    rule
        A short stable code: ``accounting``, ``team``, ``skill``, ``workday``, ``joint``,
        ``sequence``, ``travel``, ``times``, ``window``, ``lunch``, ``shift``, ``totals``,
        ``sample``; or one of the :data:`FINDINGS` ``missed``, ``inversion``,
        ``late_with_room_earlier``.
    message
        An English sentence a team leader understands, naming the visit, clinician, day and times.
    visit_id, clinician_id, day
        What the violation is about, where it applies.
    """

    rule: str
    message: str
    visit_id: str | None = None
    clinician_id: str | None = None
    day: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a visit is unscheduled, in English and Chinese."""

    en: str
    zh: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The verdict on a plan: what is broken, the KPIs and why visits are left out.

    Attributes
    ----------
    violations
        Every broken rule, in a stable order: accounting, who does each visit, then route by
        route, lab samples and missed visits.
    kpis
        The plan's key figures, JSON-serialisable (see :func:`compute_kpis`).
    reasons
        For every visit not on a route (due, optional or not due this week), why (see
        :func:`~scheduler.evaluate.explain_unscheduled`).
    """

    violations: tuple[Violation, ...]
    kpis: dict[str, object]
    reasons: dict[str, Reason] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        """Whether the plan breaks no hard rule (a visit that still fits is a finding only)."""
        return not self.broken

    @property
    def broken(self) -> tuple[Violation, ...]:
        """Violations of the hard rules: times, windows, lunch, shift, who, joint, samples."""
        return tuple(v for v in self.violations if v.rule not in FINDINGS)

    @property
    def missed(self) -> tuple[Violation, ...]:
        """Unscheduled visits that would still fit on some clinician's day."""
        return tuple(v for v in self.violations if v.rule == "missed")


# What each rule code means, Chinese first and English beside, for people who read a verdict
# (the evaluator's messages say the details in English: who, which visit, day and times).
RULE_NAMES: dict[str, tuple[str, str]] = {
    "accounting": (
        "上门数目不符：每次应访上门须恰好排进路线或列入未安排，且只出现一次",
        "accounting: every due visit is on a route or left out, exactly once",
    ),
    "team": ("团队不符：须由签约团队上门", "team: the visit's own team must do it"),
    "skill": (
        "资质不符：上门人员缺少所需的岗位或技能",
        "skill: the clinician lacks the role or skill the visit needs",
    ),
    "workday": ("非工作日：该医护人员当天不上班", "workday: the clinician does not work that day"),
    "joint": (
        "联合上门：各医护人员须同一天、同一时间开始",
        "joint: a joint visit's clinicians start together on one day",
    ),
    "sequence": ("路线顺序编号不连续", "sequence: the stops are not numbered 1 to n"),
    "travel": (
        "路程不符：时间或距离与出行模型不一致",
        "travel: a leg's time or distance is not the travel model's",
    ),
    "times": (
        "时间冲突：到达前就开始、时长不对或返回时间不对",
        "times: a visit starts before the arrival, or its length or the return is wrong",
    ),
    "window": (
        "不在可上门时段：超出居民可接受的时间或服务项目时段",
        "window: outside the resident's or the programme's hours",
    ),
    "lunch": ("占用午休时间", "lunch: it runs into the lunch break"),
    "shift": (
        "超出班次：早于上班或晚于下班（含允许的加班）",
        "shift: before the shift or after it (with the overtime allowed)",
    ),
    "totals": ("路线合计不符", "totals: the route's totals do not add up"),
    "sample": ("样本不能按时送回中心", "sample: the lab sample does not reach the centre in time"),
}
