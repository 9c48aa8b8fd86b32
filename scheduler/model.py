"""The domain as plain, immutable data.

Everything the planner knows about a week is in these classes: the registers read from a
dataset (centres, committees, clinicians, residents, history, requests), the visits that are
due (a :class:`Problem`) and the answer (a :class:`Plan`). They hold no solver, web or database
types, and they check their own invariants so that a bad object cannot be built.

Times of day are whole minutes after midnight (``*_min``); dates are :class:`datetime.date`;
coordinates are WGS-84 degrees.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from scheduler.messages import MessageError

WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MINUTES_PER_DAY = 24 * 60


class Role(StrEnum):
    """A clinician's role in a family-doctor team."""

    DOCTOR = "doctor"
    NURSE = "nurse"
    ASSISTANT = "assistant"
    REHAB = "rehab"


class TravelMode(StrEnum):
    """How a clinician travels between homes."""

    WALK = "walk"
    EBIKE = "ebike"
    CAR = "car"


class Disability(StrEnum):
    """Disability grade: none, semi-disabled (半失能) or fully disabled (失能)."""

    NONE = "none"
    SEMI = "semi"
    FULL = "full"


class Urgency(IntEnum):
    """How urgently a visit is needed in the planned week (higher is more urgent)."""

    OPTIONAL = 1  # could be done this week (cheap now, due later)
    DUE = 2  # due this week, or this week's fair share of a period's visits
    OVERDUE = 3  # should already have happened


class Place(StrEnum):
    """Where a visit happens: at the resident's home (入户) or at the residents' committee."""

    HOME = "home"
    COMMITTEE = "committee"


class VisitOutcome(StrEnum):
    """What happened at a visit: the one vocabulary of the CLI, the API, the pages and the
    database. Only ``completed`` counts as done for the care programmes and the reports."""

    COMPLETED = "completed"
    NOT_HOME = "not_home"
    REFUSED = "refused"
    HOSPITALISED = "hospitalised"
    DECEASED = "deceased"

    @property
    def label_zh(self) -> str:
        """The Chinese label shown beside the value."""
        return OUTCOME_LABELS_ZH[self]

    @classmethod
    def parse(cls, text: str) -> VisitOutcome:
        """The outcome named by ``text``: a value, its Chinese label or a deprecated alias.

        Raises ``ValueError`` listing the accepted values.
        """
        key = text.strip().lower()
        for outcome in cls:
            if key in (outcome.value, OUTCOME_LABELS_ZH[outcome]):
                return outcome
        if key in OUTCOME_ALIASES:
            return OUTCOME_ALIASES[key]
        accepted = ", ".join(f"{o.value} ({OUTCOME_LABELS_ZH[o]})" for o in cls)
        raise MessageError("register.outcome", given=text, allowed=accepted)


OUTCOME_LABELS_ZH: dict[VisitOutcome, str] = {
    VisitOutcome.COMPLETED: "已完成",
    VisitOutcome.NOT_HOME: "未在家",
    VisitOutcome.REFUSED: "拒绝",
    VisitOutcome.HOSPITALISED: "住院",
    VisitOutcome.DECEASED: "已故",
}

OUTCOME_ALIASES: dict[str, VisitOutcome] = {
    "done": VisitOutcome.COMPLETED,
    "missed": VisitOutcome.NOT_HOME,
}
"""Words of the CLI before one vocabulary (deprecated; still read, never written)."""

HEALTH_CHECK_TESTS: tuple[str, ...] = (
    "blood_routine",
    "urine_routine",
    "liver",
    "kidney",
    "lipids",
    "ecg",
    "b_ultrasound",
)
"""The tests of a health check that Tianjin's Annex 2 counts, in the annex's column order."""

HEALTH_CHECK_TEST_LABELS_ZH: dict[str, str] = {
    "blood_routine": "血常规",
    "urine_routine": "尿常规",
    "liver": "肝功能",
    "kidney": "肾功能",
    "lipids": "血脂",
    "ecg": "心电图",
    "b_ultrasound": "B超",
}


def parse_tests(text: str) -> frozenset[str]:
    """``blood_routine;ecg`` -> the set of tests; ``ValueError`` naming an unknown one."""
    tests = frozenset(t.strip() for t in text.replace(",", ";").split(";") if t.strip())
    unknown = sorted(tests - set(HEALTH_CHECK_TESTS))
    if unknown:
        raise MessageError(
            "register.tests", tests=", ".join(unknown), known=";".join(HEALTH_CHECK_TESTS)
        )
    return tests


def format_tests(tests: frozenset[str]) -> str:
    """The tests in the annex's order, ``;``-separated."""
    return ";".join(t for t in HEALTH_CHECK_TESTS if t in tests)


def age_in_years(birth_date: dt.date, day: dt.date) -> int:
    """Age in whole years on ``day`` of someone born on ``birth_date``."""
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - int(before_birthday)


def monday_of(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week (a planned week runs Monday to Sunday)."""
    return day - dt.timedelta(days=day.weekday())


def format_hhmm(minutes: int) -> str:
    """Format minutes after midnight as ``HH:MM``."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class Location:
    """A point in WGS-84 degrees."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"not a coordinate: lat={self.lat}, lon={self.lon}")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A half-open interval of the day, ``[start_min, end_min)``, in minutes after midnight."""

    start_min: int
    end_min: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_min < self.end_min <= MINUTES_PER_DAY:
            raise ValueError(
                f"time window {self.start_min}-{self.end_min} must satisfy 0 <= start < end <= 1440"
            )

    @property
    def length_min(self) -> int:
        """Length of the window in minutes."""
        return self.end_min - self.start_min

    def intersect(self, other: TimeWindow) -> TimeWindow | None:
        """The overlap of two windows, or ``None`` when they do not overlap."""
        start, end = max(self.start_min, other.start_min), min(self.end_min, other.end_min)
        return TimeWindow(start, end) if start < end else None

    def __str__(self) -> str:
        return f"{format_hhmm(self.start_min)}-{format_hhmm(self.end_min)}"


@dataclass(frozen=True, slots=True)
class AvailabilityItem:
    """One availability item: a set of weekdays (0 = Monday) and a window on each of them."""

    weekdays: frozenset[int]
    window: TimeWindow

    def __post_init__(self) -> None:
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ValueError(f"weekdays must be a non-empty subset of 0..6, got {self.weekdays}")


@dataclass(frozen=True, slots=True)
class Centre:
    """A community health service centre: where routes start and end and samples go."""

    centre_id: str
    name: str
    location: Location
    district: str = ""


@dataclass(frozen=True, slots=True)
class Committee:
    """A residents' committee: the place of group sessions."""

    committee_id: str
    centre_id: str
    name: str
    location: Location


@dataclass(frozen=True, slots=True)
class Clinician:
    """One member of a family-doctor team, with the hours she works."""

    clinician_id: str
    name: str
    team_id: str
    centre_id: str
    role: Role
    skills: frozenset[str]
    travel_mode: TravelMode
    work_days: frozenset[int]
    shift: TimeWindow
    lunch: TimeWindow | None = None
    phone: str = ""

    def __post_init__(self) -> None:
        if not self.work_days <= frozenset(range(7)):
            raise ValueError(f"{self.clinician_id}: work days must be within 0..6")
        if self.lunch is not None and (
            self.lunch.start_min < self.shift.start_min or self.lunch.end_min > self.shift.end_min
        ):
            raise ValueError(
                f"{self.clinician_id}: lunch {self.lunch} lies outside shift {self.shift}"
            )


@dataclass(frozen=True, slots=True)
class Resident:
    """A signed resident (签约居民) and what the care programmes need to know about her."""

    resident_id: str
    name: str
    birth_date: dt.date
    location: Location
    committee_id: str
    team_id: str
    preferred_clinician_id: str | None = None
    disability: Disability = Disability.NONE
    hypertension: bool = False
    diabetes: bool = False
    home_sickbed: bool = False
    homebound: bool = False
    availability: tuple[AvailabilityItem, ...] = ()
    conditions: frozenset[str] = frozenset()
    address: str = ""
    phone: str = ""
    sex: str = ""  # as the register gives it (M/F, 男/女); kept for reports, never used to plan
    signed: bool = True  # signed with the team (签约); the register is of signed residents
    signed_since: dt.date | None = None

    def age_on(self, day: dt.date) -> int:
        """Age in whole years on ``day``."""
        return age_in_years(self.birth_date, day)


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """A visit of a programme to a resident; only a completed one counts as done.

    ``tests`` are the tests of a health check (:data:`HEALTH_CHECK_TESTS`); ``place`` is where
    the visit happened, ``None`` when the record does not say (the programme's place).
    ``disability``, ``hypertension`` and ``diabetes`` are the resident's as they were on the
    visit's day (the official tables count people as they were then), ``None`` when the record
    does not say (the register's are taken when it is stored).
    """

    resident_id: str
    programme: str
    date: dt.date
    outcome: VisitOutcome = VisitOutcome.COMPLETED
    tests: frozenset[str] = frozenset()
    place: Place | None = None
    disability: Disability | None = None
    hypertension: bool | None = None
    diabetes: bool | None = None


@dataclass(frozen=True, slots=True)
class SickbedEpisode:
    """A home sick-bed (家庭病床) from its opening (建床) to its discharge (撤床), if any.

    ``disability`` is the resident's on the day of the discharge (Annex 3 counts the discharges
    of the disabled as they were then), ``None`` when not known or not discharged.
    """

    resident_id: str
    opened: dt.date
    discharged: dt.date | None = None
    disability: Disability | None = None

    def __post_init__(self) -> None:
        if self.discharged is not None and self.discharged < self.opened:
            raise ValueError(
                f"{self.resident_id}: sick-bed discharged {self.discharged} before it was "
                f"opened {self.opened}"
            )


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """A request for an on-demand home service (特需上门)."""

    request_id: str
    resident_id: str
    service: str
    earliest_date: dt.date
    latest_date: dt.date
    window: TimeWindow
    duration_min: int
    skills: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.latest_date < self.earliest_date:
            raise ValueError(f"{self.request_id}: latest_date is before earliest_date")
        if self.duration_min <= 0:
            raise ValueError(f"{self.request_id}: duration must be positive")


@dataclass(frozen=True, slots=True)
class Dataset:
    """The registers of one or more centres, as read from a dataset folder."""

    centres: Mapping[str, Centre]
    committees: Mapping[str, Committee]
    clinicians: Mapping[str, Clinician]
    residents: Mapping[str, Resident]
    history: tuple[HistoryRecord, ...] = ()
    requests: tuple[ServiceRequest, ...] = ()
    programme_overrides: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    sickbeds: tuple[SickbedEpisode, ...] = ()
    warnings: tuple[str, ...] = ()  # what the reader let pass but the user must hear about

    def team_centre(self, team_id: str) -> str | None:
        """The centre a team belongs to (from its clinicians), or ``None`` for an unknown team."""
        for clinician in self.clinicians.values():
            if clinician.team_id == team_id:
                return clinician.centre_id
        return None


@dataclass(frozen=True, slots=True)
class Staffing:
    """One clinician a visit needs: any of ``roles``, with all of ``skills``."""

    roles: frozenset[Role]
    skills: frozenset[str] = frozenset()

    def accepts(self, clinician: Clinician) -> bool:
        """Whether ``clinician`` can fill this place."""
        return clinician.role in self.roles and self.skills <= clinician.skills

    def describe(self) -> str:
        """A short English description, e.g. ``doctor or nurse with skill picc``."""
        text = " or ".join(sorted(r.value for r in self.roles))
        if self.skills:
            text += " with skill " + ", ".join(sorted(self.skills))
        return text


@dataclass(frozen=True, slots=True)
class DayWindow:
    """A window on one date: the whole visit must lie in ``[start_min, end_min)`` of ``day``."""

    day: dt.date
    start_min: int
    end_min: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_min < self.end_min <= MINUTES_PER_DAY:
            raise ValueError(f"bad window {self.start_min}-{self.end_min} on {self.day}")


@dataclass(frozen=True, slots=True)
class DueBasis:
    """Why a visit is due in the planned week, and what limits its days and times.

    Filled from the registers by :func:`scheduler.programmes.due_visits`, so a team leader can
    check the due list and the reasons of left-out visits against the rule and the dates.

    Attributes
    ----------
    rule_en, rule_zh
        The programme's rule with the dates behind it, e.g. ``last visit 2026-08-14 ·
        quarterly · quarter ends 12-31`` / ``上次服务 2026-08-14 · 每季度一次 · 本季度截止 12-31``.
    last_visit
        The last completed visit of the same programme (for a committee session, of any of its
        residents); ``None`` if there is none on record.
    earliest
        The first day of the planned week the rule allows.
    time_limit
        The time of day the visit must lie in: the programme's hours, or a request's window.
    time_limit_en, time_limit_zh
        What sets ``time_limit``, e.g. ``the health check's hours`` / ``体检时段``.
    availability
        The resident's own availability as the register gives it (empty: any time).
    """

    rule_en: str
    rule_zh: str
    earliest: dt.date
    time_limit: TimeWindow
    time_limit_en: str
    time_limit_zh: str
    last_visit: dt.date | None = None
    availability: tuple[AvailabilityItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Visit:
    """A visit due in the planned week, ready for the solver.

    A home visit has a ``resident_id``; a session at a residents' committee has a
    ``committee_id`` instead. ``staffing`` has one entry per clinician needed: two entries make
    a joint visit (same day, same start, one plan row per clinician).
    """

    visit_id: str
    programme: str
    team_id: str
    centre_id: str
    location: Location
    duration_min: int
    staffing: tuple[Staffing, ...]
    windows: tuple[DayWindow, ...]
    urgency: Urgency
    due_by: dt.date
    resident_id: str | None = None
    committee_id: str | None = None
    preferred_clinician_id: str | None = None
    sample_return_min: int | None = (
        None  # lab sample must reach the centre within this many minutes of the start
    )
    residents_served: int = 1
    stakes: int = 1  # what is at stake if it is late (the programme's): weighs each day late
    basis: DueBasis | None = None  # why it is due and what limits it (None: built by hand)
    # Lateness inside the day: the visit may still start up to ``late_allowed_min`` after the
    # latest on-time start of its window (the window's end less the duration), at
    # ``late_cost_per_min`` (in minutes of travel) per minute late. 0: on time or not at all.
    late_allowed_min: int = 0
    late_cost_per_min: int = 0

    def __post_init__(self) -> None:
        if (self.resident_id is None) == (self.committee_id is None):
            raise ValueError(f"{self.visit_id}: needs exactly one of resident_id and committee_id")
        if self.duration_min <= 0:
            raise ValueError(f"{self.visit_id}: duration must be positive")
        if self.stakes < 1:
            raise ValueError(f"{self.visit_id}: stakes must be at least 1")
        if not self.staffing:
            raise ValueError(f"{self.visit_id}: needs at least one clinician")
        if self.late_allowed_min < 0 or self.late_cost_per_min < 0:
            raise ValueError(f"{self.visit_id}: lateness allowance and cost must not be negative")
        for window in self.windows:
            if window.end_min - window.start_min < self.duration_min:
                raise ValueError(f"{self.visit_id}: window on {window.day} shorter than the visit")

    @property
    def is_joint(self) -> bool:
        """Whether the visit needs more than one clinician at once."""
        return len(self.staffing) > 1

    def late_by(self, start_min: int, window_end_min: int) -> int:
        """Minutes a start is past the latest on-time start of a window ending then."""
        return max(0, start_min - (window_end_min - self.duration_min))


@dataclass(frozen=True, slots=True)
class VisitLink:
    """Two visits by two different clinicians, the second a set time after the first.

    A nurse's wound dressing before the therapist's exercises: the exercises start between
    ``gap_min`` and ``gap_max`` minutes after the dressing starts, the same day. Both are
    planned or neither (``gap_min == gap_max == 0``: they start together).
    """

    first_id: str
    second_id: str
    gap_min: int
    gap_max: int

    def __post_init__(self) -> None:
        if self.first_id == self.second_id:
            raise ValueError(f"{self.first_id}: a visit cannot be linked to itself")
        if not 0 <= self.gap_min <= self.gap_max < MINUTES_PER_DAY:
            raise ValueError(
                f"link {self.first_id} -> {self.second_id}: gap {self.gap_min}-{self.gap_max} "
                f"must satisfy 0 <= min <= max < 1440"
            )


@dataclass(frozen=True, slots=True)
class Away:
    """A clinician who leaves on ``day`` at ``from_min`` (a sick call at 10:00): no visit of
    hers starts at or after it that day (one begun before it is finished). A whole day away is
    a day off her ``work_days`` instead."""

    clinician_id: str
    day: dt.date
    from_min: int


@dataclass(frozen=True, slots=True)
class Problem:
    """One week to plan: the clinicians who work it and the visits due in it.

    ``away``: clinicians who leave during a day of the week (same-day changes).
    """

    week_start: dt.date
    centres: Mapping[str, Centre]
    clinicians: tuple[Clinician, ...]
    visits: tuple[Visit, ...]
    cross_team_cover: bool = False  # may a team of the same centre stand in for the signed team?
    max_overtime_min: int = 0
    sample_handover_min: int = 5  # minutes at the centre to hand lab samples in
    away: tuple[Away, ...] = ()
    links: tuple[VisitLink, ...] = ()  # visits done one after the other by two clinicians

    def __post_init__(self) -> None:
        # The one check of the core; the commands and the API check the user's input first.
        if self.week_start.weekday() != 0:
            raise ValueError(
                f"a planned week starts on a Monday: week_start {self.week_start} is a "
                f"{self.week_start:%A} (the Monday of its week is {monday_of(self.week_start)})"
            )
        ids = [v.visit_id for v in self.visits]
        if len(set(ids)) != len(ids):
            raise ValueError("visit ids are not unique")
        by_id = {v.visit_id: v for v in self.visits}
        linked: set[str] = set()
        for link in self.links:
            pair = (by_id.get(link.first_id), by_id.get(link.second_id))
            first, second = pair
            if first is None or second is None:
                raise ValueError(f"link {link.first_id} -> {link.second_id}: unknown visit")
            if first.is_joint or second.is_joint:
                raise ValueError(f"link {link.first_id} -> {link.second_id}: a joint visit")
            if (first.team_id, first.centre_id) != (second.team_id, second.centre_id):
                raise ValueError(
                    f"link {link.first_id} -> {link.second_id}: visits of different teams"
                )
            if linked & {link.first_id, link.second_id}:
                raise ValueError(
                    f"link {link.first_id} -> {link.second_id}: a visit is in one link at most"
                )
            linked |= {link.first_id, link.second_id}

    def links_among(self, visits: tuple[Visit, ...]) -> tuple[VisitLink, ...]:
        """The links both of whose visits are in ``visits`` (for a part of the week)."""
        ids = {v.visit_id for v in visits}
        return tuple(k for k in self.links if k.first_id in ids and k.second_id in ids)

    @property
    def days(self) -> tuple[dt.date, ...]:
        """The seven dates of the week, Monday first."""
        return tuple(self.week_start + dt.timedelta(days=i) for i in range(7))

    def works_on(self, clinician: Clinician, day: dt.date) -> bool:
        """Whether ``clinician`` works on ``day``."""
        return day.weekday() in clinician.work_days

    def away_from(self, clinician_id: str, day: dt.date) -> int | None:
        """The minute ``clinician_id`` leaves on ``day`` (see :class:`Away`), or ``None``."""
        return min(
            (a.from_min for a in self.away if a.clinician_id == clinician_id and a.day == day),
            default=None,
        )

    def may_serve(self, clinician: Clinician, visit: Visit) -> bool:
        """Whether ``clinician``'s team may do ``visit`` (signed team, or cover if allowed)."""
        if clinician.team_id == visit.team_id:
            return True
        return self.cross_team_cover and clinician.centre_id == visit.centre_id


@dataclass(frozen=True, slots=True)
class Stop:
    """A visit on a clinician's route on one day, with its times in minutes after midnight.

    ``travel_min``/``travel_km`` are for the leg arriving here; ``via_centre`` says the leg
    passed the centre first (to hand in lab samples).
    """

    visit_id: str
    clinician_id: str
    day: dt.date
    sequence: int
    arrival_min: int
    start_min: int
    end_min: int
    travel_min: int
    travel_km: float
    via_centre: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    """One clinician's day: leaves the centre, visits the stops in order, returns."""

    clinician_id: str
    day: dt.date
    depart_min: int
    return_min: int
    stops: tuple[Stop, ...]
    travel_min: int  # including the way back to the centre
    travel_km: float
    work_min: int  # time away from the centre, return - depart
    overtime_min: int


@dataclass(frozen=True, slots=True)
class Unscheduled:
    """A visit the plan leaves out, and why, in words a team leader understands."""

    visit_id: str
    reason: str  # English
    reason_zh: str = ""  # the same in Chinese


@dataclass(frozen=True, slots=True)
class Plan:
    """The answer for one week."""

    routes: tuple[Route, ...]
    unscheduled: tuple[Unscheduled, ...]
    solve_seconds: float = 0.0
    objective: int | None = None
    status: str = ""

    def stops(self) -> list[Stop]:
        """Every stop of every route, route by route."""
        return [stop for route in self.routes for stop in route.stops]
