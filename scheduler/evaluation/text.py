"""Small text helpers shared by the rule messages and the reasons (English and Chinese)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

from scheduler.model import (
    WEEKDAYS,
    AvailabilityItem,
    Clinician,
    Problem,
    Role,
    Staffing,
    Visit,
    format_hhmm,
)
from scheduler.programmes import skill_label

ROLE_EN: dict[Role, str] = {
    Role.DOCTOR: "doctor",
    Role.NURSE: "nurse",
    Role.ASSISTANT: "assistant",
    Role.REHAB: "rehabilitation therapist",
}
ROLE_ZH: dict[Role, str] = {
    Role.DOCTOR: "医生",
    Role.NURSE: "护士",
    Role.ASSISTANT: "助理",
    Role.REHAB: "康复师",
}
WEEKDAYS_ZH: tuple[str, ...] = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def hm(minutes: int) -> str:
    return format_hhmm(minutes)


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def day_en(day: dt.date) -> str:
    return f"{WEEKDAYS[day.weekday()]} {day.isoformat()}"


def day_zh(day: dt.date) -> str:
    return f"{day.isoformat()}（{WEEKDAYS_ZH[day.weekday()]}）"


def who_text(clinician: Clinician | None, clinician_id: str) -> str:
    if clinician is None or not clinician.name:
        return clinician_id
    return f"{clinician.name} ({clinician_id})"


def visit_label(visit: Visit | None, visit_id: str) -> str:
    if visit is None:
        return f"visit {visit_id}"
    if visit.resident_id is not None:
        return f"visit {visit_id} ({visit.programme}, resident {visit.resident_id})"
    return f"visit {visit_id} ({visit.programme} session at committee {visit.committee_id})"


def roles_text(roles: Iterable[Role], zh: bool) -> str:
    ordered = [r for r in Role if r in set(roles)]
    if zh:
        return "或".join(ROLE_ZH[r] for r in ordered)
    return " or ".join(ROLE_EN[r] for r in ordered)


def skills_text(skills: Iterable[str], zh: bool) -> str:
    """Skills as people read them, e.g. ``PICC 维护 picc`` / ``picc (PICC care)``."""
    return ("、" if zh else ", ").join(skill_label(s, zh=zh) for s in sorted(skills))


def place_text(place: Staffing, zh: bool) -> str:
    roles = roles_text(place.roles, zh)
    if not place.skills:
        return roles
    skills = skills_text(place.skills, zh)
    if zh:
        return f"具备 {skills} 技能的{roles}"
    return f"{roles} with skill{'s' if len(place.skills) > 1 else ''} {skills}"


def availability_text(items: Iterable[AvailabilityItem], zh: bool) -> str:
    """A resident's availability as the register means it, e.g. ``Mon-Fri 14:00-16:30``."""
    parts = [f"{weekday_runs(item.weekdays, zh)} {item.window}" for item in items]
    return ("；" if zh else "; ").join(parts)


def weekday_runs(weekdays: Iterable[int], zh: bool) -> str:
    days = sorted(set(weekdays))
    names = WEEKDAYS_ZH if zh else WEEKDAYS
    runs: list[list[int]] = []
    for d in days:
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{names[run[0]]}{'至' if zh else '-'}{names[run[-1]]}")
        else:
            parts.extend(names[d] for d in run)
    return ("、" if zh else ", ").join(parts)


def windows_summary(visit: Visit, days: Sequence[dt.date], zh: bool) -> str:
    groups: dict[tuple[int, int], set[int]] = defaultdict(set)
    week = set(days)
    for w in visit.windows:
        if w.day in week:
            groups[(w.start_min, w.end_min)].add(w.day.weekday())
    ordered = sorted(groups.items(), key=lambda item: (min(item[1]), item[0]))
    parts = [f"{weekday_runs(wds, zh)} {hm(start)}-{hm(end)}" for (start, end), wds in ordered]
    return ("；" if zh else "; ").join(parts)


def centre_name(problem: Problem, centre_id: str) -> str:
    centre = problem.centres.get(centre_id)
    return centre.name if centre is not None and centre.name else centre_id
