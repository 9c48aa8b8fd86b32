"""The API's wire models: what requests carry in and answers carry out, in one place.

Pydantic models only (``...In``/``...Out``, requests and views): no SQLAlchemy rows and no
domain objects here; the routers map between them (:mod:`service.db.mappers` between the tables
and the domain). A field's bounds (lengths, ranges, patterns) are the API's input limits.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from scheduler.model import HEALTH_CHECK_TESTS, OUTCOME_LABELS_ZH
from service.api.deps import ROW_ID_MAX, PlainText, PlanningDate, TimeLimit
from service.db.tables import Place, VisitOutcome

# --- sign-in -------------------------------------------------------------------------------------


class Token(BaseModel):
    """A bearer token to send as ``Authorization: Bearer <access_token>``."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    """The signed-in user and what the access rules tie her to."""

    username: str
    role: str
    centre_id: str | None
    team_id: str | None
    clinician_id: str | None


# --- centres -------------------------------------------------------------------------------------


class Centre(BaseModel):
    """A community health service centre (社区卫生服务中心)."""

    centre_id: str
    name: str
    district: str
    lat: float
    lon: float


# --- teams ---------------------------------------------------------------------------------------


class Team(BaseModel):
    """A family-doctor team (家庭医生团队) with its size."""

    team_id: str
    centre_id: str
    clinicians: int
    residents: int


# --- clinicians ----------------------------------------------------------------------------------


class Clinician(BaseModel):
    """A team member (团队成员)."""

    clinician_id: str
    name: str
    team_id: str
    centre_id: str
    role: str
    skills: list[str]
    travel_mode: str
    work_days: str
    phone: str


# --- residents -----------------------------------------------------------------------------------


class Resident(BaseModel):
    """A signed resident (签约居民). Fields a role may not see are null."""

    resident_id: str = Field(description="The register id; a pseudonym (P-...) for planners")
    name: str | None = Field(
        None, description="Full for team leaders, masked (王*英) for clinicians"
    )
    sex: str | None = None
    birth_date: dt.date | None = None
    age: int | None = None
    age_band: str = Field(description="80-89, 90-99, 100+, 65-79 or <65")
    centre_id: str
    team_id: str
    committee_id: str
    address: str | None = None
    phone: str | None = None
    lat: float | None = None
    lon: float | None = None
    conditions: list[str]
    hypertension: bool
    diabetes: bool
    disability: str
    home_sickbed: bool
    homebound: bool
    availability: str | None = None


class ResidentPage(BaseModel):
    """One page of residents."""

    items: list[Resident]
    total: int
    page: int
    page_size: int


# --- register uploads ----------------------------------------------------------------------------


class ImportResult(BaseModel):
    """What the import changed, per table, and what it let pass with a warning."""

    lines: list[str]
    warnings: list[str] = []  # e.g. a preferred clinician no longer listed, naming the residents


class ImportProblem(BaseModel):
    """One problem of the upload, located."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    message: str
    message_zh: str = ""
    code: str = ""  # the kind of problem (scheduler.messages.CATALOGUE); "" for an uncoded one


# --- plan jobs -----------------------------------------------------------------------------------


class PlanRequest(BaseModel):
    """What to plan. Team leaders plan their own team; the other teams' routes are kept."""

    centre_id: PlainText = Field(max_length=64, examples=["MH03"])
    week_start: PlanningDate = Field(description="A Monday", examples=["2026-11-30"])
    team_id: PlainText | None = Field(
        None, max_length=64, description="Only this team (default: all)"
    )
    time_limit_s: TimeLimit = None
    cross_team_cover: bool = False
    max_overtime_min: int = Field(0, ge=0, le=240, strict=True)


class JobView(BaseModel):
    """A plan job: where it stands, how far it got, and its plan when done."""

    job_id: int
    kind: Literal["plan", "scenario", "replan"]
    centre_id: str
    team_id: str | None
    week_start: dt.date
    base_plan_id: int | None
    status: str
    requested_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    elapsed_s: float
    visits_placed: int
    visits_total: int
    best_cost: int | None
    plan_id: int | None
    kpis: dict[str, Any] | None
    message: str


# --- plans ---------------------------------------------------------------------------------------

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class PlanSummary(BaseModel):
    """One stored version of a centre's week."""

    plan_id: int
    centre_id: str
    week_start: dt.date
    version: int
    status: str
    revision: int = Field(description="Send it back when approving (optimistic lock)")
    saved_by: str
    solver_status: str
    solve_seconds: float
    created_at: dt.datetime
    updated_at: dt.datetime
    kpis: dict[str, Any] | None


class RouteSummary(BaseModel):
    """A clinician's day in the plan."""

    clinician_id: str
    date: dt.date
    stops: int
    depart: int
    back: int
    travel_min: int
    travel_km: float
    work_min: int
    overtime_min: int


class LeftOut(BaseModel):
    """A visit the plan leaves out, and why (in English and Chinese), and why it is due."""

    visit_id: str = Field(description="The visit's id; a pseudonym (V-...) for planners")
    programme: str
    due_by: dt.date
    resident_id: str | None
    reason: str
    reason_zh: str = ""
    urgency: str = ""  # overdue | due | optional
    kind: str = ""  # unscheduled (due or overdue: an alarm) | optional | not_due_this_week
    last_visit: dt.date | None = None
    rule_zh: str = ""
    rule_en: str = ""


class PlanDetail(PlanSummary):
    """A plan with its routes and what it leaves out (in the user's sight)."""

    routes: list[RouteSummary]
    unscheduled: list[LeftOut]


class PinRequest(BaseModel):
    """Fix a visit before re-solving: ``pin`` (clinician and day, optional time), ``lock``
    (exactly where it is now) or ``remove`` (out of this week)."""

    visit_id: PlainText = Field(max_length=128)
    kind: Literal["pin", "lock", "remove"]
    clinician_id: PlainText | None = Field(None, max_length=64)
    date: PlanningDate | None = None
    start: str | None = Field(None, pattern=HHMM, description="HH:MM, optional for a pin")


class PinView(BaseModel):
    """A fixed decision kept with the plan."""

    visit_id: str
    kind: str
    clinician_id: str | None
    date: dt.date | None
    start: str | None
    set_by: str


class Approval(BaseModel):
    """Approve the version you looked at (its ``revision``)."""

    revision: int = Field(ge=1, le=2_147_483_647, strict=True)


class Resolve(BaseModel):
    """Re-plan around the pins."""

    time_limit_s: TimeLimit = None


# --- same-day re-plans ---------------------------------------------------------------------------


class ChangeOut(BaseModel):
    """One visit that changed; ``phone`` in full for the team leader only."""

    visit_id: str
    change: str
    from_: str = Field(serialization_alias="from")
    to: str
    resident_id: str | None
    phone: str | None
    had_to_move: bool
    why: str


class ReplanOut(BaseModel):
    """What a re-plan job made: the new version (a draft until approved), its figures and the
    changes from the plan it started from."""

    job_id: int
    plan: PlanSummary
    base_plan_id: int
    seconds: float
    summary: dict[str, Any]
    changes: list[ChangeOut]
    plan_changed_since: bool = Field(
        description="The new version was changed after the re-plan (e.g. re-solved): the "
        "changes are those of the re-plan, not of the version as it is now"
    )


# --- visit records -------------------------------------------------------------------------------


class RecordRequest(BaseModel):
    """What happened at a visit (上门记录)."""

    resident_id: PlainText = Field(max_length=64)
    programme: PlainText = Field(max_length=64, examples=["followup_80"])
    date: PlanningDate
    outcome: VisitOutcome = Field(
        VisitOutcome.COMPLETED,
        description="; ".join(f"{o.value} {OUTCOME_LABELS_ZH[o]}" for o in VisitOutcome),
    )
    clinician_ids: list[Annotated[PlainText, Field(max_length=64)]] = Field(
        default_factory=list, max_length=4, description="Who went (default: me)"
    )
    note: PlainText = Field("", max_length=2000)
    systolic_mmhg: int | None = Field(None, ge=0, le=400, strict=True)
    diastolic_mmhg: int | None = Field(None, ge=0, le=300, strict=True)
    glucose_mmol_l: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    plan_id: int | None = Field(None, ge=1, le=ROW_ID_MAX, strict=True)
    visit_id: PlainText | None = Field(None, max_length=128)
    tests: list[Annotated[PlainText, Field(max_length=32)]] = Field(
        default_factory=list,
        max_length=len(HEALTH_CHECK_TESTS),
        description="A health check's tests (default: those the programme includes): "
        + ", ".join(HEALTH_CHECK_TESTS),
    )
    place: Place | None = Field(
        None, description="home 入户 | committee 居委 (default: the programme's)"
    )


class Record(BaseModel):
    """A stored visit record."""

    record_id: int
    resident_id: str
    programme: str
    date: dt.date
    outcome: str
    source: str
    clinician_ids: list[str]
    note: str
    systolic_mmhg: int | None
    diastolic_mmhg: int | None
    glucose_mmol_l: float | None
    tests: list[str]
    place: str


class SickbedRequest(BaseModel):
    """A home sick-bed opened (建床) or discharged (撤床) on a day."""

    resident_id: PlainText = Field(max_length=64)
    date: PlanningDate
    reason: PlainText = Field(
        "", max_length=200, description="Why it is discharged (撤床原因); ignored on opening"
    )


class SickbedEpisode(BaseModel):
    """A stored home sick-bed episode."""

    episode_id: int
    resident_id: str
    opened: dt.date
    discharged: dt.date | None
    discharge_reason: str = ""


# --- reports -------------------------------------------------------------------------------------


class TeamCoverage(BaseModel):
    """One team's progress (团队指标进度)."""

    team_id: str
    residents: int
    aged_80_plus: int
    followup_80_this_quarter: int
    followup_80_share: float | None = Field(description="Share of 80+ visited this quarter")
    centenarians: int
    centenarian_rounds_this_month: int
    home_sickbeds: int


class CoverageReport(BaseModel):
    """A centre's progress against the quotas on a day (覆盖率报告)."""

    centre_id: str
    on: dt.date
    quarter_start: dt.date
    month_start: dt.date
    teams: list[TeamCoverage]
    latest_plan_id: int | None
    latest_plan_status: str | None
    latest_plan_kpis: dict[str, Any] | None
    notice: str | None = Field(
        default=None,
        description="Why the figures are empty, when they are (本期没有记录): no resident in the "
        "register, or no visit record this quarter; and what to import. None when there is data.",
    )


# --- scenarios -----------------------------------------------------------------------------------


class ScenarioView(BaseModel):
    """A bundled what-if scenario and the question it answers (情景)."""

    name: str
    question: str
    base: str
    week: dt.date
    changes: list[str]


class RunRequest(BaseModel):
    """How long to search the scenario's week."""

    time_limit_s: TimeLimit = None


# --- routes (a clinician's day) ------------------------------------------------------------------


class RouteStop(BaseModel):
    """One stop of a day's route, with what the visit needs (上门安排)."""

    sequence: int
    visit_id: str
    programme: str
    programme_zh: str
    programme_en: str
    bring_zh: str
    bring_en: str
    arrival: str
    start: str
    end: str
    duration_min: int
    travel_min: int
    travel_km: float
    via_centre: bool
    resident_id: str | None
    committee_id: str | None
    resident_name: str | None
    address: str | None
    phone: str | None
    lat: float | None
    lon: float | None
    urgency: str = ""  # overdue | due | optional
    due_by: dt.date | None = None
    last_visit: dt.date | None = None
    rule_zh: str = ""  # why it is due: the rule with its dates (上次服务 … · 每季度一次 …)
    rule_en: str = ""


class RouteView(BaseModel):
    """A clinician's day (我的路线): stops in order, times and travel."""

    plan_id: int
    plan_status: str
    clinician_id: str
    date: dt.date
    depart: str | None
    back: str | None
    travel_min: int
    travel_km: float
    work_min: int
    stops: list[RouteStop]
