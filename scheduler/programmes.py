"""Care programmes as rule data, and the visits they make due in a week.

Each :class:`Programme` says who is eligible, how often, where, how long, who may do it and at
what time of day. The built-in rules follow ``shared/DOMAIN.md`` (Minhang "789" items 8-13 and
Tianjin's home-care services); a dataset's ``programmes.yaml`` overrides any field.

:func:`due_visits` turns the registers, the visit history and the requests into the week's
:class:`~scheduler.model.Visit` list. Period programmes (quarterly, yearly) are spread over their
period: each week takes its fair share of the residents still waiting, the most overdue first,
plus cheap extras (a neighbour within a short walk is visited anyway); in the last week of a
period everyone still waiting is due.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, TypeVar

import numpy as np

from scheduler.messages import Message
from scheduler.model import (
    HEALTH_CHECK_TESTS,
    MINUTES_PER_DAY,
    Dataset,
    DayWindow,
    Disability,
    DueBasis,
    Location,
    Place,
    Resident,
    Role,
    ServiceRequest,
    Staffing,
    TimeWindow,
    Urgency,
    Visit,
    VisitOutcome,
)
from scheduler.travel import haversine_km

E = TypeVar("E", bound=StrEnum)


class Period(StrEnum):
    """A calendar period for ``n per period`` programmes."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"

    def bounds(self, day: dt.date) -> tuple[dt.date, dt.date]:
        """First and last date of the period containing ``day``."""
        if self is Period.YEAR:
            return dt.date(day.year, 1, 1), dt.date(day.year, 12, 31)
        months = 1 if self is Period.MONTH else 3
        first_month = (day.month - 1) // months * months + 1
        start = dt.date(day.year, first_month, 1)
        next_month = first_month + months
        nxt = dt.date(day.year + (next_month > 12), (next_month - 1) % 12 + 1, 1)
        return start, nxt - dt.timedelta(days=1)


class FrequencyKind(StrEnum):
    """How a programme's visits recur."""

    INTERVAL = "interval"  # every N days, with a tolerance either side
    PER_PERIOD = "per_period"  # K times per calendar period, at least G days apart
    ON_REQUEST = "on_request"  # from requests.csv


RESIDENT_FLAGS = ("hypertension", "diabetes", "home_sickbed", "homebound")

# The skills the programmes ask for, in Chinese and English, for everything people read.
SKILL_NAMES: dict[str, tuple[str, str]] = {
    "picc": ("PICC 维护", "PICC care"),
    "wound": ("伤口护理", "wound care"),
    "catheter": ("导管护理", "catheter care"),
    "infusion": ("输液", "infusion"),
    "tcm": ("中医", "TCM"),
    "ecg": ("心电图", "ECG"),
    "blood_draw": ("采血", "blood draw"),
}


def skill_label(skill: str, *, zh: bool) -> str:
    """A skill as people read it: ``PICC 维护 picc`` in Chinese, ``picc (PICC care)`` in English.

    The code stays in both, as the registers write it; an unknown skill is its code alone.
    """
    names = SKILL_NAMES.get(skill)
    if names is None:
        return skill
    if zh:
        return f"{names[0]} {skill}"
    return skill if names[1] == skill else f"{skill} ({names[1]})"


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Who a programme is for.

    ``any_of``/``all_of``/``none_of`` name resident flags (``hypertension``, ``diabetes``,
    ``home_sickbed``, ``homebound``) or entries of the resident's ``conditions``.
    """

    min_age: int = 0
    max_age: int | None = None
    disability: frozenset[Disability] | None = None
    any_of: frozenset[str] = frozenset()
    all_of: frozenset[str] = frozenset()
    none_of: frozenset[str] = frozenset()

    def admits(self, resident: Resident, day: dt.date) -> bool:
        """Whether ``resident`` is eligible on ``day``."""
        age = resident.age_on(day)
        if age < self.min_age or (self.max_age is not None and age > self.max_age):
            return False
        if self.disability is not None and resident.disability not in self.disability:
            return False
        traits = set(resident.conditions)
        traits.update(flag for flag in RESIDENT_FLAGS if getattr(resident, flag))
        if self.any_of and not (self.any_of & traits):
            return False
        return self.all_of <= traits and not (self.none_of & traits)


@dataclass(frozen=True, slots=True)
class Frequency:
    """How often a programme's visits are needed."""

    kind: FrequencyKind
    interval_days: int = 0
    tolerance_days: int = 0
    per_period: int = 1
    period: Period | None = None
    min_gap_days: int = 0

    def __post_init__(self) -> None:
        if self.kind is FrequencyKind.INTERVAL and self.interval_days <= 0:
            raise ValueError("an interval frequency needs interval_days > 0")
        if self.kind is FrequencyKind.PER_PERIOD and (self.period is None or self.per_period < 1):
            raise ValueError("a per-period frequency needs a period and per_period >= 1")


@dataclass(frozen=True, slots=True)
class ServiceRule:
    """One on-demand service: who can do it and how long it usually takes."""

    staffing: Staffing
    duration_min: int


@dataclass(frozen=True, slots=True)
class Programme:
    """A care programme's rules."""

    programme_id: str
    name_en: str
    name_zh: str
    eligibility: Eligibility
    frequency: Frequency
    place: Place
    duration_min: int
    staffing: tuple[Staffing, ...]
    day_window: TimeWindow = field(default_factory=lambda: TimeWindow(8 * 60, 17 * 60))
    per_resident_min: int = 0  # committee sessions grow with the residents they serve
    max_duration_min: int | None = None
    sample_return_min: int | None = None
    bring_en: str = ""
    bring_zh: str = ""
    services: Mapping[str, ServiceRule] = field(default_factory=dict)
    enabled: bool = True
    tests: frozenset[str] = frozenset()  # a health check's tests, when the record names none
    # What is at stake when a visit is late (1 = a follow-up that can wait a day; 3 = a
    # resident without medicine or a sick bed unseen): multiplies the planner's cost of each
    # day late, so among visits of one urgency these go on time first.
    stakes: int = 1

    def __post_init__(self) -> None:
        if self.stakes < 1:
            raise ValueError(f"stakes must be a whole number of at least 1, got {self.stakes}")

    def session_minutes(self, residents: int) -> int:
        """Length of a committee session serving ``residents`` people."""
        minutes = self.duration_min + self.per_resident_min * residents
        return min(minutes, self.max_duration_min) if self.max_duration_min else minutes


def _staff(*roles: Role, skills: Iterable[str] = ()) -> Staffing:
    return Staffing(frozenset(roles), frozenset(skills))


_DOCTOR_OR_NURSE = _staff(Role.DOCTOR, Role.NURSE)
_NURSE_OR_ASSISTANT = _staff(Role.NURSE, Role.ASSISTANT)
_DISABLED = frozenset({Disability.SEMI, Disability.FULL})
_CHRONIC = frozenset({"hypertension", "diabetes"})


def builtin_programmes() -> dict[str, Programme]:
    """The built-in programmes of ``shared/DOMAIN.md``, keyed by id."""
    programmes = [
        Programme(
            "followup_80",
            "80+ quarterly follow-up",
            "80岁以上老人季度随访",
            Eligibility(min_age=80),
            Frequency(FrequencyKind.PER_PERIOD, per_period=1, period=Period.QUARTER),
            Place.HOME,
            30,
            (_DOCTOR_OR_NURSE,),
            bring_en="blood-pressure monitor, glucometer, follow-up form",
            bring_zh="血压计、血糖仪、随访表",
        ),
        Programme(
            "medicine_delivery",
            "medicine delivery at the committee",
            "居委配送药品",
            Eligibility(min_age=70, any_of=_CHRONIC, none_of=frozenset({"homebound"})),
            Frequency(FrequencyKind.INTERVAL, interval_days=7, tolerance_days=2),
            Place.COMMITTEE,
            20,
            (_NURSE_OR_ASSISTANT,),
            day_window=TimeWindow(8 * 60 + 30, 11 * 60 + 30),
            per_resident_min=2,
            max_duration_min=150,
            bring_en="prescribed medicines, dispensing list",
            bring_zh="处方药品、配送清单",
            stakes=3,
        ),
        Programme(
            "medicine_home",
            "medicine delivered home",
            "上门送药",
            Eligibility(min_age=70, any_of=_CHRONIC, all_of=frozenset({"homebound"})),
            Frequency(FrequencyKind.INTERVAL, interval_days=14, tolerance_days=3),
            Place.HOME,
            15,
            (_NURSE_OR_ASSISTANT,),
            bring_en="prescribed medicines",
            bring_zh="处方药品",
            stakes=3,
        ),
        Programme(
            "medication_guidance",
            "medication guidance at the committee",
            "居委用药指导",
            Eligibility(min_age=70, none_of=frozenset({"homebound"})),
            Frequency(FrequencyKind.PER_PERIOD, per_period=1, period=Period.MONTH),
            Place.COMMITTEE,
            30,
            (_DOCTOR_OR_NURSE,),
            day_window=TimeWindow(8 * 60 + 30, 16 * 60 + 30),
            per_resident_min=1,
            max_duration_min=120,
            bring_en="leaflets, pill organisers",
            bring_zh="用药宣传单、分药盒",
        ),
        Programme(
            "centenarian_round",
            "centenarian home round",
            "百岁老人上门巡诊",
            Eligibility(min_age=100, all_of=frozenset({"home_sickbed"})),
            Frequency(FrequencyKind.PER_PERIOD, per_period=2, period=Period.MONTH, min_gap_days=10),
            Place.HOME,
            40,
            (_staff(Role.DOCTOR),),
            day_window=TimeWindow(9 * 60, 16 * 60 + 30),
            bring_en="visit bag, psychological-support card",
            bring_zh="出诊包、心理慰藉卡",
            stakes=3,
        ),
        Programme(
            "sickbed_round",
            "home sick-bed round",
            "家庭病床查床",
            Eligibility(max_age=99, all_of=frozenset({"home_sickbed"})),
            Frequency(FrequencyKind.INTERVAL, interval_days=7, tolerance_days=2),
            Place.HOME,
            30,
            (_staff(Role.DOCTOR),),
            bring_en="visit bag, sick-bed record",
            bring_zh="出诊包、家庭病床病历",
            stakes=3,
        ),
        Programme(
            "chronic_followup",
            "hypertension / diabetes follow-up",
            "高血压/糖尿病随访",
            Eligibility(min_age=60, disability=_DISABLED, any_of=_CHRONIC),
            Frequency(FrequencyKind.PER_PERIOD, per_period=1, period=Period.QUARTER),
            Place.HOME,
            20,
            (_DOCTOR_OR_NURSE,),
            bring_en="blood-pressure monitor, glucometer",
            bring_zh="血压计、血糖仪",
        ),
        Programme(
            "health_check",
            "annual health check (fasting blood)",
            "年度健康体检（空腹采血）",
            Eligibility(min_age=60, disability=_DISABLED),
            Frequency(FrequencyKind.PER_PERIOD, per_period=1, period=Period.YEAR),
            Place.HOME,
            45,
            (_staff(Role.DOCTOR, skills=("ecg",)), _staff(Role.NURSE, skills=("blood_draw",))),
            # Fasting blood is drawn early; the sample must reach the centre's lab in time.
            day_window=TimeWindow(7 * 60 + 30, 10 * 60 + 30),
            sample_return_min=150,
            # Tianjin 三.(一): blood and urine routine, liver, kidney, glucose, lipids, ECG.
            tests=frozenset(HEALTH_CHECK_TESTS) - {"b_ultrasound"},
            bring_en="ECG machine, blood-draw kit, sample cool box, urine cups",
            bring_zh="心电图机、采血包、样本冷藏箱、尿杯",
        ),
        Programme(
            "rehab_guidance",
            "rehabilitation guidance",
            "康复指导",
            Eligibility(all_of=frozenset({"rehab"})),
            Frequency(FrequencyKind.INTERVAL, interval_days=14, tolerance_days=3),
            Place.HOME,
            45,
            (_staff(Role.REHAB),),
            bring_en="rehabilitation plan, exercise bands",
            bring_zh="康复计划、弹力带",
            stakes=2,
        ),
        Programme(
            "special_service",
            "special on-demand home service",
            "特需上门服务",
            Eligibility(min_age=60),
            Frequency(FrequencyKind.ON_REQUEST),
            Place.HOME,
            30,
            (_staff(Role.NURSE),),
            bring_en="service kit",
            bring_zh="服务包",
            services={
                "catheter_care": ServiceRule(_staff(Role.NURSE, skills=("catheter",)), 30),
                "pressure_sore_care": ServiceRule(_staff(Role.NURSE, skills=("wound",)), 40),
                "infusion": ServiceRule(_staff(Role.NURSE, skills=("infusion",)), 60),
                "picc_maintenance": ServiceRule(_staff(Role.NURSE, skills=("picc",)), 40),
                "tcm": ServiceRule(_staff(Role.DOCTOR, Role.REHAB, skills=("tcm",)), 45),
            },
            stakes=2,
        ),
    ]
    return {p.programme_id: p for p in programmes}


def recorded_place_and_tests(
    programme: Programme | None,
    place: Place | None,
    tests: frozenset[str],
    outcome: VisitOutcome = VisitOutcome.COMPLETED,
) -> tuple[Place, frozenset[str]]:
    """Where a recorded visit happened and which tests it did, filling what the record omits.

    A record that names no place took place where its programme's visits do (home for an
    unknown programme); a completed health check that names no tests did those the programme
    includes. A visit that did not take place did no tests.
    """
    where = place or (programme.place if programme is not None else Place.HOME)
    if outcome is not VisitOutcome.COMPLETED:
        return where, frozenset()
    return where, tests or (programme.tests if programme is not None else frozenset())


# --- programmes.yaml overrides -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProgrammeProblem:
    """One thing wrong in ``programmes.yaml``: the programme, the key and the value as written.

    ``key`` is ``None`` for a programme id nobody knows; a nested key is written as the user
    nests it (``frequency: interval_days``). ``message`` names all three, in both languages.
    """

    programme: str
    key: str | None
    value: str | None
    message: Message

    def __str__(self) -> str:
        """Chinese first, English beside."""
        return str(self.message)


class ProgrammesError(ValueError):
    """Programme settings (``programmes.yaml``, a scenario's ``programmes``) that cannot be
    used; ``problems`` lists every one found, not only the first."""

    def __init__(self, problems: Sequence[ProgrammeProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = [f"{count} problem{'s' if count != 1 else ''} in the programme settings:"]
        lines += [f"- {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


_KEYS: Final = (
    "enabled",
    "duration_min",
    "per_resident_min",
    "max_duration_min",
    "sample_return_min",
    "stakes",
    "day_window",
    "place",
    "tests",
    "staffing",
    "frequency",
    "eligibility",
)
# Whole-number keys: the least and the most allowed (minutes in a day, days in ten years, a
# life's years), an example, and whether null (no limit) is allowed.
_DAY_MIN: Final = MINUTES_PER_DAY
_TEN_YEARS: Final = 3660
_WHOLE: Final[dict[str, tuple[int, int, str, bool]]] = {
    "duration_min": (1, _DAY_MIN, "30", False),
    "per_resident_min": (0, _DAY_MIN, "2", False),
    "max_duration_min": (1, _DAY_MIN, "120", True),
    "sample_return_min": (1, _DAY_MIN, "150", True),
    "stakes": (1, 100, "2", False),
    "frequency: interval_days": (1, _TEN_YEARS, "14", False),
    "frequency: tolerance_days": (0, _TEN_YEARS, "2", False),
    "frequency: per_period": (1, 366, "1", False),
    "frequency: min_gap_days": (0, _TEN_YEARS, "10", False),
    "eligibility: min_age": (0, 150, "60", False),
    "eligibility: max_age": (0, 150, "99", True),
}
_FREQUENCY_KEYS: Final = ("kind", "interval_days", "tolerance_days", "per_period", "period")
_FREQUENCY_KEYS_ALL: Final = (*_FREQUENCY_KEYS, "min_gap_days")
_ELIGIBILITY_KEYS: Final = ("min_age", "max_age", "disability", "any_of", "all_of", "none_of")
_STAFFING_EXAMPLE: Final = "[{roles: [doctor, nurse], skills: [ecg]}]"
_WINDOW_EXAMPLE: Final = "07:30-10:30"
_HHMM: Final = re.compile(r"\s*(\d{1,2})[:：](\d{2})\s*")
_NAMES_ZH: Final = {
    "place": "服务地点",
    "role": "角色",
    "disability": "失能等级",
    "frequency kind": "频次类型",
    "period": "周期",
}


def written(value: object) -> str:
    """A YAML value as the user wrote it: ``true``, ``null``, ``[a, b]``, ``25:00-10:00``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(written(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {written(v)}" for k, v in value.items()) + "}"
    return str(value)


class _Checker:
    """Reads one programme's settings key by key, noting every problem and going on."""

    def __init__(self, programme_id: str) -> None:
        self.programme_id = programme_id
        self.problems: list[ProgrammeProblem] = []

    def note(self, key: str, value: object, code: str, **values: object) -> None:
        """A problem with ``key`` (as written) holding ``value``."""
        shown = written(value)
        where = {"programme": self.programme_id, "key": key, "value": shown}
        located = Message("programmes.at", where | {"problem": Message(code, values)})
        self.problems.append(ProgrammeProblem(self.programme_id, key, shown, located))

    def unknown_key(self, key: str, value: object, keys: Sequence[str]) -> None:
        message = Message(
            "programmes.unknown_key",
            {"programme": self.programme_id, "key": key, "keys": ", ".join(keys)},
        )
        self.problems.append(ProgrammeProblem(self.programme_id, key, written(value), message))

    def whole(self, key: str, value: object) -> int | None:
        """A whole number of at least the key's least; ``None`` (noted unless null is allowed)."""
        least, most, example, nullable = _WHOLE[key]
        if value is None and nullable:
            return None
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif (isinstance(value, float) and value.is_integer()) or (
            isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value)
        ):
            number = int(value)
        if number is None or not least <= number <= most:
            code = "programmes.whole_number_or_none" if nullable else "programmes.whole_number"
            self.note(key, value, code, least=least, most=most, example=example)
            return None
        return number

    def choice(self, key: str, value: object, kind: type[E], what: str) -> E | None:
        try:
            return kind(str(value).strip())
        except ValueError:
            choices = ", ".join(member.value for member in kind)
            self.note(
                key,
                value,
                "programmes.choice",
                what=what,
                what_zh=_NAMES_ZH[what],
                given=written(value),
                choices=choices,
            )
            return None

    def listed(self, key: str, value: object, example: str) -> list[object] | None:
        if isinstance(value, list):
            return value
        self.note(key, value, "programmes.list", example=example)
        return None

    def mapping(self, key: str, value: object, example: str) -> dict[str, object] | None:
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        self.note(key, value, "programmes.mapping", example=example)
        return None

    def window(self, key: str, value: object) -> TimeWindow | None:
        """``HH:MM-HH:MM``, both times of the day, the end after the start."""
        parts = str(value).split("-") if isinstance(value, str) else []
        matches = [_HHMM.fullmatch(part) for part in parts]
        if len(parts) != 2 or not all(matches):
            self.note(key, value, "programmes.window_format", example=_WINDOW_EXAMPLE)
            return None
        minutes = []
        for part, match in zip(parts, matches, strict=True):
            assert match is not None
            hours, mins = int(match[1]), int(match[2])
            if mins >= 60 or hours * 60 + mins > MINUTES_PER_DAY:
                self.note(
                    key, value, "programmes.window_time", time=part.strip(), example=_WINDOW_EXAMPLE
                )
                return None
            minutes.append(hours * 60 + mins)
        start, end = minutes
        if start >= end:
            self.note(
                key,
                value,
                "programmes.window_order",
                start=parts[0].strip(),
                end=parts[1].strip(),
                example=_WINDOW_EXAMPLE,
            )
            return None
        return TimeWindow(start, end)

    def tests(self, key: str, value: object) -> frozenset[str] | None:
        listed = value if isinstance(value, list) else str(value).replace(",", ";").split(";")
        names = {str(t).strip() for t in listed if str(t).strip()}
        unknown = sorted(names - set(HEALTH_CHECK_TESTS))
        if unknown:
            self.note(
                key,
                value,
                "programmes.tests",
                tests=", ".join(unknown),
                known=", ".join(HEALTH_CHECK_TESTS),
            )
            return None
        return frozenset(names)

    def staffing(self, key: str, value: object) -> tuple[Staffing, ...] | None:
        entries = self.listed(key, value, _STAFFING_EXAMPLE)
        if entries is None:
            return None
        if not entries:
            self.note(key, value, "programmes.staffing_roles", example=_STAFFING_EXAMPLE)
            return None
        result: list[Staffing] | None = []
        for entry in entries:
            item = self.mapping(key, entry, "{roles: [doctor, nurse], skills: [ecg]}")
            if item is None:
                result = None
                continue
            for sub in item:
                if sub not in ("roles", "skills"):
                    self.unknown_key(f"{key}: {sub}", item[sub], ("roles", "skills"))
                    result = None
            roles_given = self.listed(f"{key}: roles", item.get("roles", []), "[doctor, nurse]")
            roles = [self.choice(f"{key}: roles", r, Role, "role") for r in roles_given or []]
            skills = self.listed(f"{key}: skills", item.get("skills") or [], "[ecg]")
            if roles_given is not None and not roles_given:
                self.note(key, entry, "programmes.staffing_roles", example=_STAFFING_EXAMPLE)
            if roles_given and skills is not None and all(roles) and result is not None:
                chosen = frozenset(r for r in roles if r is not None)
                result.append(Staffing(chosen, frozenset(str(s) for s in skills)))
            else:
                result = None
        return tuple(result) if result is not None else None

    def frequency(self, key: str, value: object, base: Frequency) -> Frequency | None:
        fields = self.mapping(key, value, "{kind: interval, interval_days: 14, tolerance_days: 3}")
        if fields is None:
            return None
        updates: dict[str, object] = {}
        ok = True
        for sub, given in fields.items():
            path = f"{key}: {sub}"
            parsed: object
            if sub == "kind":
                parsed = self.choice(path, given, FrequencyKind, "frequency kind")
            elif sub == "period":
                parsed = self.choice(path, given, Period, "period")
            elif sub in _FREQUENCY_KEYS_ALL:
                parsed = self.whole(path, given)
            else:
                self.unknown_key(path, given, _FREQUENCY_KEYS_ALL)
                parsed = None
            ok = ok and parsed is not None
            updates[sub] = parsed
        if not ok:
            return None
        try:
            return dataclasses.replace(base, **updates)  # type: ignore[arg-type]
        except ValueError:
            kind = updates.get("kind", base.kind)
            code = (
                "programmes.interval_days"
                if kind is FrequencyKind.INTERVAL
                else "programmes.period"
            )
            self.note(key, value, code)
            return None

    def eligibility(self, key: str, value: object, base: Eligibility) -> Eligibility | None:
        fields = self.mapping(key, value, "{min_age: 65, any_of: [hypertension, diabetes]}")
        if fields is None:
            return None
        updates: dict[str, object] = {}
        ok = True
        for sub, given in fields.items():
            path = f"{key}: {sub}"
            parsed: object
            if sub in ("min_age", "max_age"):
                parsed = self.whole(path, given)
                ok = ok and (parsed is not None or (sub == "max_age" and given is None))
            elif sub == "disability":
                if given is None:
                    parsed = None  # any grade
                else:
                    grades = self.listed(path, given, "[semi, full]")
                    chosen = [self.choice(path, g, Disability, "disability") for g in grades or []]
                    ok = ok and grades is not None and all(chosen)
                    parsed = frozenset(g for g in chosen if g is not None)
            elif sub in ("any_of", "all_of", "none_of"):
                names = self.listed(path, given, "[hypertension, diabetes]")
                ok = ok and names is not None
                parsed = frozenset(str(n) for n in names or [])
            else:
                self.unknown_key(path, given, _ELIGIBILITY_KEYS)
                ok, parsed = False, None
            updates[sub] = parsed
        if not ok:
            return None
        result = dataclasses.replace(base, **updates)  # type: ignore[arg-type]
        if result.max_age is not None and result.min_age > result.max_age:
            self.note(key, value, "programmes.age_order", least=result.min_age, most=result.max_age)
            return None
        return result


def _override_one(
    programme: Programme, changes: Mapping[str, object], check: _Checker
) -> Programme | None:
    """``programme`` with ``changes``; ``None`` when any is wrong (each noted in ``check``)."""
    updates: dict[str, object] = {}
    ok = True
    for key, value in changes.items():
        parsed: object
        if key == "enabled":
            parsed = value if isinstance(value, bool) else None
            if parsed is None:
                check.note(key, value, "programmes.yes_no")
        elif key in _WHOLE:
            parsed = check.whole(key, value)
            if parsed is None and value is None and _WHOLE[key][3]:
                updates[key] = None
                continue
        elif key == "day_window":
            parsed = check.window(key, value)
        elif key == "place":
            parsed = check.choice(key, value, Place, "place")
        elif key == "tests":
            parsed = check.tests(key, value)
        elif key == "staffing":
            parsed = check.staffing(key, value)
        elif key == "frequency":
            parsed = check.frequency(key, value, programme.frequency)
        elif key == "eligibility":
            parsed = check.eligibility(key, value, programme.eligibility)
        else:
            check.unknown_key(key, value, _KEYS)
            parsed = None
        ok = ok and parsed is not None
        updates[key] = parsed
    if not ok:
        return None
    result = dataclasses.replace(programme, **updates)  # type: ignore[arg-type]
    if result.duration_min > result.day_window.length_min:
        key = "day_window" if "day_window" in changes else "duration_min"
        check.note(
            key,
            changes[key],
            "programmes.visit_too_long",
            minutes=result.duration_min,
            window=str(result.day_window),
        )
        return None
    return result


def override_problems(
    programmes: Mapping[str, Programme], overrides: Mapping[str, Mapping[str, object]]
) -> tuple[dict[str, Programme], list[ProgrammeProblem]]:
    """The programmes with ``programmes.yaml``'s overrides, and every problem found in them.

    Each programme and each key is checked on its own, so one mistake hides no other; a problem
    names the programme, the key and the value as the user wrote them and what would be right.
    A programme with a problem keeps its rules unchanged in the result.
    """
    result = dict(programmes)
    problems: list[ProgrammeProblem] = []
    for programme_id, changes in overrides.items():
        if programme_id not in result:
            known = ", ".join(sorted(programmes))
            message = Message(
                "programmes.unknown_programme", {"programme": programme_id, "known": known}
            )
            problems.append(ProgrammeProblem(programme_id, None, None, message))
            continue
        check = _Checker(programme_id)
        changed = _override_one(result[programme_id], changes, check)
        problems += check.problems
        if changed is not None:
            result[programme_id] = changed
    return result, problems


def apply_overrides(
    programmes: Mapping[str, Programme], overrides: Mapping[str, Mapping[str, object]]
) -> dict[str, Programme]:
    """Apply ``programmes.yaml`` overrides; raise :class:`ProgrammesError` listing every problem.

    Keys: ``enabled``, ``duration_min``, ``per_resident_min``, ``max_duration_min``,
    ``sample_return_min``, ``stakes`` (1, 2, 3...: the weight of each day late),
    ``day_window`` ("07:30-10:30"), ``place``, ``staffing``,
    ``frequency`` (``kind, interval_days, tolerance_days, per_period, period, min_gap_days``),
    ``eligibility`` (``min_age, max_age, disability, any_of, all_of, none_of``), ``tests`` (a
    health check's tests when a record names none, e.g. ``[blood_routine, ecg]``).
    """
    result, problems = override_problems(programmes, overrides)
    if problems:
        raise ProgrammesError(problems)
    return result


# --- what is due this week -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DueRules:
    """The named numbers of the due-list rules."""

    cheap_radius_km: float = 0.25  # a neighbour this close is visited "for free"
    extra_share: float = 0.5  # cheap extras: at most this share of the week's fair share


@dataclass(slots=True)
class _Candidate:
    """A possible visit before selection."""

    programme: Programme
    subject_id: str  # resident or committee id
    location: Location
    days: list[dt.date]
    urgency: Urgency
    due_by: dt.date
    priority: tuple[int, int]  # smaller is more pressing
    residents_served: int = 1
    last_visit: dt.date | None = None
    fair_share: bool = False  # due this week as its share of the period, not by its own date


def _week_days(week_start: dt.date) -> list[dt.date]:
    return [week_start + dt.timedelta(days=i) for i in range(7)]


def _weeks_left(week_start: dt.date, period_end: dt.date) -> int:
    return (period_end - week_start).days // 7 + 1


def interval_due(frequency: Frequency, last: dt.date) -> tuple[dt.date, dt.date]:
    """When the next visit of an interval programme is due after ``last``, and the latest day
    it is still on time (due + tolerance); the due list's own rule."""
    due = last + dt.timedelta(days=frequency.interval_days)
    return due, due + dt.timedelta(days=frequency.tolerance_days)


def _interval_candidate(
    programme: Programme,
    subject_id: str,
    location: Location,
    last: dt.date | None,
    week: list[dt.date],
) -> _Candidate | None:
    freq = programme.frequency
    week_start, week_end = week[0], week[-1]
    if last is None:
        return _Candidate(programme, subject_id, location, week, Urgency.DUE, week_end, (0, 0))
    due, latest = interval_due(freq, last)
    earliest = due - dt.timedelta(days=freq.tolerance_days)
    if earliest > week_end:
        return None
    days = [d for d in week if d >= earliest]
    if latest < week_start:
        urgency = Urgency.OVERDUE
    elif due <= week_end:
        urgency = Urgency.DUE
    else:
        urgency = Urgency.OPTIONAL
    return _Candidate(
        programme,
        subject_id,
        location,
        days,
        urgency,
        latest,
        (-urgency, (due - week_start).days),
        last_visit=last,
    )


def _period_candidates(
    programme: Programme,
    subject_id: str,
    location: Location,
    dates: Sequence[dt.date],
    week: list[dt.date],
) -> list[_Candidate]:
    """Candidates for each period that overlaps the week (a week may straddle two months)."""
    freq = programme.frequency
    assert freq.period is not None
    result = []
    segments: dict[tuple[dt.date, dt.date], list[dt.date]] = defaultdict(list)
    for day in week:
        segments[freq.period.bounds(day)].append(day)
    last = max(dates) if dates else None
    for (start, end), days in segments.items():
        done = sum(start <= d <= end for d in dates)
        remaining = freq.per_period - done
        if remaining <= 0:
            continue
        if last is not None and freq.min_gap_days:
            days = [d for d in days if (d - last).days >= freq.min_gap_days]
            if not days:
                continue
        previous_start = freq.period.bounds(start - dt.timedelta(days=1))[0]
        overdue = last is not None and last < previous_start
        last_week = _weeks_left(week[0], end) <= 1
        # With several visits per period, keep each resident on pace; with one, the week's fair
        # share is chosen across residents in due_visits().
        elapsed = (days[-1] - start).days + 1
        behind = done < math.ceil(freq.per_period * elapsed / ((end - start).days + 1))
        if overdue:
            urgency = Urgency.OVERDUE
        elif last_week or (freq.per_period > 1 and behind):
            urgency = Urgency.DUE
        else:
            urgency = Urgency.OPTIONAL
        since = (week[0] - last).days if last else 10_000
        result.append(
            _Candidate(
                programme,
                subject_id,
                location,
                days,
                urgency,
                end,
                (-urgency, -since),
                last_visit=last,
            )
        )
        break  # one visit of a programme a week: the next period's can wait for next week
    return result


def _day_windows(
    time_limit: TimeWindow, resident: Resident | None, days: Iterable[dt.date], duration: int
) -> tuple[DayWindow, ...]:
    """The visit's windows: ``time_limit`` on each day, cut to the resident's availability."""
    windows: list[DayWindow] = []
    for day in days:
        if resident is None or not resident.availability:
            pieces: list[TimeWindow] = [time_limit]
        else:
            pieces = [
                overlap
                for item in resident.availability
                if day.weekday() in item.weekdays
                and (overlap := item.window.intersect(time_limit)) is not None
            ]
        windows.extend(
            DayWindow(day, w.start_min, w.end_min)
            for w in sorted(pieces, key=lambda w: w.start_min)
            if w.length_min >= duration
        )
    return tuple(windows)


_PERIOD_WORDS: dict[Period, tuple[str, str, str, str]] = {
    # the period in English, its adverb; in Chinese, for "every ..." and for "this ... ends"
    Period.MONTH: ("month", "monthly", "月", "月"),
    Period.QUARTER: ("quarter", "quarterly", "季度", "季度"),
    Period.YEAR: ("year", "yearly", "年", "年度"),
}
_TIMES_EN = {1: "once", 2: "twice"}


def _rule_text(programme: Programme, cand: _Candidate) -> tuple[str, str]:
    """The rule that makes ``cand`` due, with its dates, in English and Chinese."""
    freq = programme.frequency
    if cand.last_visit is None:
        parts_en, parts_zh = ["no visit on record"], ["无服务记录"]
    else:
        parts_en = [f"last visit {cand.last_visit.isoformat()}"]
        parts_zh = [f"上次服务 {cand.last_visit.isoformat()}"]
    if freq.kind is FrequencyKind.INTERVAL:
        parts_en.append(f"every {freq.interval_days} days (±{freq.tolerance_days})")
        parts_zh.append(f"每 {freq.interval_days} 天一次（前后 {freq.tolerance_days} 天）")
        if cand.last_visit is not None:
            due = cand.last_visit + dt.timedelta(days=freq.interval_days)
            parts_en.append(f"due {due:%m-%d}, at the latest {cand.due_by:%m-%d}")
            parts_zh.append(f"应于 {due:%m-%d}，最迟 {cand.due_by:%m-%d}")
        else:
            parts_en.append("due now")
            parts_zh.append("本周应访")
    elif freq.period is not None:
        period_en, adverb, every_zh, end_zh = _PERIOD_WORDS[freq.period]
        if freq.per_period == 1:
            parts_en.append(adverb)
            parts_zh.append(f"每{every_zh}一次")
        else:
            times = _TIMES_EN.get(freq.per_period, f"{freq.per_period} times")
            parts_en.append(f"{times} a {period_en}")
            parts_zh.append(f"每{every_zh} {freq.per_period} 次")
        if freq.min_gap_days:
            parts_en[-1] += f", at least {freq.min_gap_days} days apart"
            parts_zh[-1] += f"，间隔至少 {freq.min_gap_days} 天"
        parts_en.append(f"{period_en} ends {cand.due_by:%m-%d}")
        parts_zh.append(f"本{end_zh}截止 {cand.due_by:%m-%d}")
        if cand.urgency is Urgency.OVERDUE:
            parts_en.append(f"none in the previous {period_en}")
            parts_zh.append(f"上{end_zh}未做")
        elif cand.fair_share:
            parts_en.append(f"this week's share of the {period_en}'s visits")
            parts_zh.append("本周按进度分摊")
    return " · ".join(parts_en), " · ".join(parts_zh)


def _basis(programme: Programme, cand: _Candidate, resident: Resident | None) -> DueBasis:
    rule_en, rule_zh = _rule_text(programme, cand)
    return DueBasis(
        rule_en=rule_en,
        rule_zh=rule_zh,
        earliest=cand.days[0],
        time_limit=programme.day_window,
        time_limit_en=f"{programme.name_en} hours",
        time_limit_zh=f"{programme.name_zh}时段",
        last_visit=cand.last_visit,
        availability=resident.availability if resident is not None else (),
    )


def _select_fair_share(
    candidates: list[_Candidate], week_start: dt.date, centre_of: Mapping[str, str]
) -> tuple[list[_Candidate], list[_Candidate]]:
    """Split one-per-period candidates into this week's share and the rest.

    The share is taken per centre (``centre_of`` maps a candidate's subject to its centre): a
    centre's week must not depend on which other centres are planned with it.
    """
    chosen: list[_Candidate] = []
    rest: list[_Candidate] = []
    by_period: dict[tuple[str, str, dt.date], list[_Candidate]] = defaultdict(list)
    for cand in candidates:
        key = (centre_of[cand.subject_id], cand.programme.programme_id, cand.due_by)
        by_period[key].append(cand)
    for (_, _, period_end), group in sorted(by_period.items()):
        group.sort(key=lambda c: (c.priority, c.subject_id))
        quota = math.ceil(len(group) / _weeks_left(week_start, period_end))
        for i, cand in enumerate(group):
            if cand.urgency >= Urgency.DUE or i < quota:
                cand.fair_share = cand.urgency < Urgency.DUE
                cand.urgency = max(cand.urgency, Urgency.DUE)
                chosen.append(cand)
            else:
                rest.append(cand)
    return chosen, rest


def due_visits(
    dataset: Dataset,
    week_start: dt.date,
    *,
    centre_ids: Iterable[str] | None = None,
    programmes: Mapping[str, Programme] | None = None,
    rules: DueRules | None = None,
) -> tuple[Visit, ...]:
    """The visits due in the week starting ``week_start`` (a Monday).

    Parameters
    ----------
    dataset
        The registers, history and requests.
    week_start
        Monday of the planned week.
    centre_ids
        Only visits of these centres (all when ``None``).
    programmes
        The programme rules; the built-ins with the dataset's overrides when ``None``.
    rules
        The due-list's named numbers.
    """
    rules = rules or DueRules()
    if programmes is None:
        programmes = apply_overrides(builtin_programmes(), dataset.programme_overrides)
    week = _week_days(week_start)
    wanted = set(centre_ids) if centre_ids is not None else set(dataset.centres)
    team_centre = {c.team_id: c.centre_id for c in dataset.clinicians.values()}
    residents = {
        rid: r for rid, r in dataset.residents.items() if team_centre.get(r.team_id) in wanted
    }
    history: dict[tuple[str, str], list[dt.date]] = defaultdict(list)
    for record in dataset.history:
        if record.date < week_start and record.outcome is VisitOutcome.COMPLETED:
            history[(record.programme, record.resident_id)].append(record.date)

    home: list[_Candidate] = []
    sessions: list[_Candidate] = []
    for programme in programmes.values():
        if not programme.enabled or programme.frequency.kind is FrequencyKind.ON_REQUEST:
            continue
        eligible = [r for r in residents.values() if programme.eligibility.admits(r, week_start)]
        if programme.place is Place.HOME:
            for resident in eligible:
                dates = history.get((programme.programme_id, resident.resident_id), [])
                home.extend(
                    _candidates(programme, resident.resident_id, resident.location, dates, week)
                )
        else:
            sessions.extend(_session_candidates(programme, eligible, dataset, history, week))

    period_one = [
        c
        for c in home
        if c.programme.frequency.per_period == 1
        and c.programme.frequency.kind is FrequencyKind.PER_PERIOD
    ]
    in_period_one = {id(c) for c in period_one}
    others = [c for c in home if id(c) not in in_period_one]
    centre_of = {rid: team_centre[r.team_id] for rid, r in residents.items()}
    centre_of |= {cid: c.centre_id for cid, c in dataset.committees.items()}
    chosen, spare = _select_fair_share(period_one, week_start, centre_of)
    chosen += [c for c in others if c.urgency >= Urgency.DUE]
    spare += [c for c in others if c.urgency < Urgency.DUE]
    # Extras are capped per programme and centre, like the fair share, for the same reason.
    for centre_id in sorted({centre_of[c.subject_id] for c in chosen}):
        chosen += _cheap_extras(
            [c for c in chosen if centre_of[c.subject_id] == centre_id],
            [c for c in spare if centre_of[c.subject_id] == centre_id],
            rules,
        )
    session_chosen, session_spare = _select_fair_share(
        [c for c in sessions if c.programme.frequency.kind is FrequencyKind.PER_PERIOD],
        week_start,
        centre_of,
    )
    session_chosen += [
        c for c in sessions if c.programme.frequency.kind is not FrequencyKind.PER_PERIOD
    ]
    del session_spare  # committee sessions are not squeezed in early

    visits = [_home_visit(c, residents[c.subject_id], team_centre) for c in chosen]
    # Each committee's teams counted once (not once per session: that was committees x residents).
    committee_teams: dict[str, Counter[str]] = defaultdict(Counter)
    for resident in residents.values():
        committee_teams[resident.committee_id][resident.team_id] += 1
    visits += [_session_visit(c, dataset, committee_teams) for c in session_chosen]
    visits += _request_visits(dataset, programmes, residents, team_centre, week)
    visits.sort(key=lambda v: (v.centre_id, v.programme, v.visit_id))
    return tuple(visits)


def overdue_horizon(programme: Programme, week_start: dt.date) -> dt.date | None:
    """A home visit of ``programme`` can be overdue in the week of ``week_start`` only if its
    last completed visit is before this day (``None``: it is never overdue at home).

    A necessary condition, not the rule (:func:`overdue_home_visits` applies the rule): it lets
    a report leave out, before any resident is read, everyone visited recently enough.
    """
    if programme.place is not Place.HOME or not programme.enabled:
        return None
    freq = programme.frequency
    if freq.kind is FrequencyKind.INTERVAL:
        # overdue when last + interval + tolerance < week_start
        return week_start - dt.timedelta(days=freq.interval_days + freq.tolerance_days)
    if freq.kind is FrequencyKind.PER_PERIOD and freq.period is not None:
        # overdue when nothing was done since the period before the week's began; a week that
        # reaches into the next period may be overdue there when nothing was done in its own
        start = freq.period.bounds(week_start)[0]
        if freq.period.bounds(week_start + dt.timedelta(days=6))[0] != start:
            return start
        return freq.period.bounds(start - dt.timedelta(days=1))[0]
    return None


def overdue_home_visits(
    residents: Iterable[Resident],
    history: Mapping[tuple[str, str], list[dt.date]],
    week_start: dt.date,
    programmes: Mapping[str, Programme],
) -> list[tuple[str, str, dt.date | None, dt.date]]:
    """The home visits :func:`due_visits` marks overdue in the week of ``week_start``, for
    ``residents`` only, without the rest of the due list: (resident, programme, last visit,
    due by). ``history`` maps (programme, resident) to the completed visits' dates before
    ``week_start``, as in :func:`due_visits`.

    The same candidates by the same rules: the due list's selection (fair share, extras) never
    makes a visit overdue nor leaves an overdue one out, so this is its overdue part exactly.
    """
    week = _week_days(week_start)
    result = []
    for programme in programmes.values():
        if (
            not programme.enabled
            or programme.place is not Place.HOME
            or programme.frequency.kind is FrequencyKind.ON_REQUEST
        ):
            continue
        for resident in residents:
            if not programme.eligibility.admits(resident, week_start):
                continue
            dates = history.get((programme.programme_id, resident.resident_id), [])
            result += [
                (resident.resident_id, programme.programme_id, cand.last_visit, cand.due_by)
                for cand in _candidates(
                    programme, resident.resident_id, resident.location, dates, week
                )
                if cand.urgency is Urgency.OVERDUE
            ]
    return result


def _candidates(
    programme: Programme,
    subject_id: str,
    location: Location,
    dates: list[dt.date],
    week: list[dt.date],
) -> list[_Candidate]:
    if programme.frequency.kind is FrequencyKind.INTERVAL:
        cand = _interval_candidate(programme, subject_id, location, max(dates, default=None), week)
        return [cand] if cand else []
    return _period_candidates(programme, subject_id, location, dates, week)


def _cheap_extras(
    chosen: list[_Candidate], spare: list[_Candidate], rules: DueRules
) -> list[_Candidate]:
    """Optional visits next door to a chosen one: nearly free to add this week."""
    if not chosen or not spare:
        return []
    ordered = sorted(spare, key=lambda c: (c.priority, c.subject_id))
    near = _near_any(ordered, chosen, rules.cheap_radius_km)
    taken = {(c.programme.programme_id, c.subject_id) for c in chosen}
    per_programme = Counter(c.programme.programme_id for c in chosen)
    cap: Counter[str] = Counter()
    extras = []
    for cand, is_near in zip(ordered, near, strict=True):
        pid = cand.programme.programme_id
        if not is_near or (pid, cand.subject_id) in taken:
            continue
        if cap[pid] >= max(1, int(per_programme[pid] * rules.extra_share)):
            continue
        cand.urgency = Urgency.OPTIONAL
        extras.append(cand)
        cap[pid] += 1
    return extras


def _near_any(
    candidates: Sequence[_Candidate], places: Sequence[_Candidate], radius_km: float
) -> list[bool]:
    """For each candidate, whether one of ``places`` lies within ``radius_km``.

    Places are bucketed in a grid of cells at least ``radius_km`` wide, so each candidate is
    measured only against the places in its own and the eight neighbouring cells.
    """
    cell_deg = max(radius_km / 90.0, 1e-4)  # >= radius at Chinese latitudes (1 deg lon >= 90 km)
    cells: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    for place in places:
        loc = place.location
        cells[(int(loc.lat // cell_deg), int(loc.lon // cell_deg))].append((loc.lat, loc.lon))
    result = []
    for cand in candidates:
        row, col = int(cand.location.lat // cell_deg), int(cand.location.lon // cell_deg)
        nearby = [
            p for dr in (-1, 0, 1) for dc in (-1, 0, 1) for p in cells.get((row + dr, col + dc), ())
        ]
        if not nearby:
            result.append(False)
            continue
        here = np.array([[cand.location.lat, cand.location.lon]])
        result.append(bool(haversine_km(here, np.array(nearby)).min() <= radius_km))
    return result


def _session_candidates(
    programme: Programme,
    eligible: list[Resident],
    dataset: Dataset,
    history: Mapping[tuple[str, str], list[dt.date]],
    week: list[dt.date],
) -> list[_Candidate]:
    """One candidate session per committee, with the number of residents it serves."""
    by_committee: dict[str, list[Resident]] = defaultdict(list)
    for resident in eligible:
        by_committee[resident.committee_id].append(resident)
    result = []
    freq = programme.frequency
    for committee_id, members in sorted(by_committee.items()):
        committee = dataset.committees.get(committee_id)
        if committee is None:
            continue
        dates = sorted(
            {d for r in members for d in history.get((programme.programme_id, r.resident_id), [])}
        )
        if freq.kind is FrequencyKind.INTERVAL:
            horizon = week[0] - dt.timedelta(days=freq.interval_days)
            served = sum(
                max(history.get((programme.programme_id, r.resident_id), [dt.date.min])) <= horizon
                for r in members
            )
        else:
            assert freq.period is not None
            start = freq.period.bounds(week[-1])[0]
            served = sum(
                not any(
                    d >= start for d in history.get((programme.programme_id, r.resident_id), [])
                )
                for r in members
            )
        if served == 0:
            continue
        for cand in _candidates(programme, committee_id, committee.location, dates, week):
            cand.residents_served = served
            result.append(cand)
    return result


def _home_visit(cand: _Candidate, resident: Resident, team_centre: Mapping[str, str]) -> Visit:
    programme = cand.programme
    duration = programme.duration_min
    preferred = resident.preferred_clinician_id
    return Visit(
        visit_id=f"{programme.programme_id}-{resident.resident_id}-{cand.days[0]:%m%d}",
        programme=programme.programme_id,
        team_id=resident.team_id,
        centre_id=team_centre[resident.team_id],
        location=resident.location,
        duration_min=duration,
        staffing=programme.staffing,
        windows=_day_windows(programme.day_window, resident, cand.days, duration),
        urgency=cand.urgency,
        due_by=cand.due_by,
        resident_id=resident.resident_id,
        preferred_clinician_id=preferred,
        sample_return_min=programme.sample_return_min,
        stakes=programme.stakes,
        basis=_basis(programme, cand, resident),
    )


def _session_visit(
    cand: _Candidate, dataset: Dataset, committee_teams: Mapping[str, Counter[str]]
) -> Visit:
    programme = cand.programme
    committee = dataset.committees[cand.subject_id]
    teams = committee_teams[committee.committee_id]
    duration = programme.session_minutes(cand.residents_served)
    return Visit(
        visit_id=f"{programme.programme_id}-{committee.committee_id}-{cand.days[0]:%m%d}",
        programme=programme.programme_id,
        team_id=teams.most_common(1)[0][0],
        centre_id=committee.centre_id,
        location=committee.location,
        duration_min=duration,
        staffing=programme.staffing,
        windows=_day_windows(programme.day_window, None, cand.days, duration),
        urgency=cand.urgency,
        due_by=cand.due_by,
        committee_id=committee.committee_id,
        residents_served=cand.residents_served,
        stakes=programme.stakes,
        basis=_basis(programme, cand, None),
    )


def request_visits(
    dataset: Dataset, requests: Iterable[ServiceRequest], week_start: dt.date
) -> tuple[Visit, ...]:
    """The visits of on-demand ``requests`` in the week starting ``week_start``.

    The same visits :func:`due_visits` makes of ``dataset.requests`` (ids ``request-<id>``):
    the programme's staffing for the service plus the request's skills, a window on every day
    of the request that falls in the week.
    """
    programmes = apply_overrides(builtin_programmes(), dataset.programme_overrides)
    team_centre = {c.team_id: c.centre_id for c in dataset.clinicians.values()}
    residents = {rid: r for rid, r in dataset.residents.items() if r.team_id in team_centre}
    only = dataclasses.replace(dataset, requests=tuple(requests))
    return tuple(_request_visits(only, programmes, residents, team_centre, _week_days(week_start)))


def _request_visits(
    dataset: Dataset,
    programmes: Mapping[str, Programme],
    residents: Mapping[str, Resident],
    team_centre: Mapping[str, str],
    week: list[dt.date],
) -> list[Visit]:
    programme = programmes.get("special_service")
    if programme is None or not programme.enabled:
        return []
    visits = []
    for request in dataset.requests:
        resident = residents.get(request.resident_id)
        if resident is None or request.latest_date < week[0] or request.earliest_date > week[-1]:
            continue
        rule = programme.services.get(request.service)
        base = rule.staffing if rule else programme.staffing[0]
        staffing = Staffing(base.roles, base.skills | request.skills)
        days = [d for d in week if request.earliest_date <= d <= request.latest_date]
        window = str(request.window)
        visits.append(
            Visit(
                visit_id=f"request-{request.request_id}",
                programme=programme.programme_id,
                team_id=resident.team_id,
                centre_id=team_centre[resident.team_id],
                location=resident.location,
                duration_min=request.duration_min,
                staffing=(staffing,),
                # The requested window, cut to when the register says the resident can be seen.
                windows=_day_windows(request.window, resident, days, request.duration_min),
                urgency=Urgency.DUE,
                due_by=request.latest_date,
                resident_id=resident.resident_id,
                preferred_clinician_id=resident.preferred_clinician_id,
                stakes=programme.stakes,
                basis=DueBasis(
                    rule_en=f"request {request.request_id} · {request.service} · "
                    f"{request.earliest_date:%m-%d} to {request.latest_date:%m-%d} · {window}",
                    rule_zh=f"申请 {request.request_id} · {request.service} · "
                    f"{request.earliest_date:%m-%d} 至 {request.latest_date:%m-%d} · {window}",
                    earliest=days[0],
                    time_limit=request.window,
                    time_limit_en="the requested window",
                    time_limit_zh="申请时段",
                    availability=resident.availability,
                ),
            )
        )
    return visits
