"""The database tables, as SQLAlchemy 2 typed declarative classes.

These are storage, not the domain: :mod:`service.db.mappers` converts between these rows and the
frozen dataclasses of :mod:`scheduler.model`. Times of day are stored as whole minutes after
midnight (``*_min``), coordinates as WGS-84 degrees in double precision (so an exported value
reads back bit for bit), ``;``-separated sets as canonical text (sorted, as the dataset writes
them).

Registers are never deleted from: a resident, clinician or committee no longer in an imported
register is marked ``active = False`` and keeps its history. The schema is created and upgraded
by Alembic (``homevisit db upgrade``); :data:`Base.metadata` is what the migrations are checked
against.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from scheduler import model

__all__ = [
    "AuditRow",
    "Base",
    "CentreRow",
    "ClinicianRow",
    "CommitteeRow",
    "GeocodeRow",
    "JobStatus",
    "PinKind",
    "Place",
    "PlanJobRow",
    "PlanPinRow",
    "PlanRouteRow",
    "PlanRow",
    "PlanStatus",
    "PlanStopRow",
    "PlanUnscheduledRow",
    "ProgrammeOverrideRow",
    "QuotaRow",
    "RecordSource",
    "ResidentRow",
    "ServiceRequestRow",
    "ServiceSecretRow",
    "SickbedEpisodeRow",
    "UserRole",
    "UserRow",
    "VisitOutcome",
    "VisitRecordRow",
    "VisitRecordVersionRow",
]

ID = String(64)
"""Ids from the registers (``MH03-R00001``); long enough for any id a spreadsheet holds."""

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with named constraints (so migrations can refer to them)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012 (SQLAlchemy's documented spelling)
        str: String(),
        float: Double(),
        int: Integer(),
        bool: Boolean(),
        dt.date: Date(),
        dt.datetime: DateTime(timezone=True),
    }


class PlanStatus(StrEnum):
    """Where a stored plan stands. Approved and done plans are never overwritten."""

    DRAFT = "draft"
    APPROVED = "approved"
    DONE = "done"
    SUPERSEDED = "superseded"  # an approved plan replaced by a later approved version


class RecordSource(StrEnum):
    """Where a visit record came from."""

    IMPORT = "import"  # a row of history.csv
    RECORDED = "recorded"  # recorded in the service after the visit


# The one vocabulary of outcomes (and of places) is the domain's; the tables store its values.
VisitOutcome = model.VisitOutcome
Place = model.Place


# --- registers -------------------------------------------------------------------------------


class CentreRow(Base):
    """A community health service centre."""

    __tablename__ = "centre"

    centre_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str]
    lat: Mapped[float]
    lon: Mapped[float]
    district: Mapped[str] = mapped_column(default="")
    active: Mapped[bool] = mapped_column(default=True)


class CommitteeRow(Base):
    """A residents' committee (居委会)."""

    __tablename__ = "committee"

    committee_id: Mapped[str] = mapped_column(ID, primary_key=True)
    centre_id: Mapped[str] = mapped_column(ID, ForeignKey("centre.centre_id"), index=True)
    name: Mapped[str]
    lat: Mapped[float]
    lon: Mapped[float]
    active: Mapped[bool] = mapped_column(default=True)


class ClinicianRow(Base):
    """A member of a family-doctor team; the team is the set of clinicians with its id."""

    __tablename__ = "clinician"

    clinician_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str]
    team_id: Mapped[str] = mapped_column(ID, index=True)
    centre_id: Mapped[str] = mapped_column(ID, ForeignKey("centre.centre_id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    skills: Mapped[str] = mapped_column(default="")  # ';'-separated, sorted
    travel_mode: Mapped[str] = mapped_column(String(16))
    work_days: Mapped[str]  # 'Mon;Tue;...' in weekday order
    shift_start_min: Mapped[int]
    shift_end_min: Mapped[int]
    lunch_start_min: Mapped[int | None]
    lunch_end_min: Mapped[int | None]
    phone: Mapped[str] = mapped_column(default="")
    active: Mapped[bool] = mapped_column(default=True)


class ResidentRow(Base):
    """A signed resident. ``lat``/``lon`` are empty until an address is geocoded."""

    __tablename__ = "resident"

    resident_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str]
    birth_date: Mapped[dt.date]
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    committee_id: Mapped[str] = mapped_column(ID, ForeignKey("committee.committee_id"))
    team_id: Mapped[str] = mapped_column(ID, index=True)
    centre_id: Mapped[str] = mapped_column(ID, ForeignKey("centre.centre_id"), index=True)
    preferred_clinician_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("clinician.clinician_id")
    )
    disability: Mapped[str] = mapped_column(String(8), default="none")
    hypertension: Mapped[bool] = mapped_column(default=False)
    diabetes: Mapped[bool] = mapped_column(default=False)
    home_sickbed: Mapped[bool] = mapped_column(default=False)
    homebound: Mapped[bool] = mapped_column(default=False)
    availability: Mapped[str] = mapped_column(default="")  # canonical 'Mon-Fri 08:00-11:30; ...'
    conditions: Mapped[str] = mapped_column(default="")  # ';'-separated, sorted
    address: Mapped[str] = mapped_column(default="")
    phone: Mapped[str] = mapped_column(default="")
    sex: Mapped[str] = mapped_column(default="")
    active: Mapped[bool] = mapped_column(default=True)
    signed: Mapped[bool] = mapped_column(default=True, server_default="1")  # "1": SQLite and PG
    signed_since: Mapped[dt.date | None]


class ServiceRequestRow(Base):
    """A request for an on-demand home service (特需上门)."""

    __tablename__ = "service_request"

    request_id: Mapped[str] = mapped_column(ID, primary_key=True)
    resident_id: Mapped[str] = mapped_column(ID, ForeignKey("resident.resident_id"), index=True)
    service: Mapped[str]
    earliest_date: Mapped[dt.date]
    latest_date: Mapped[dt.date]
    window_start_min: Mapped[int]
    window_end_min: Mapped[int]
    duration_min: Mapped[int]
    skills: Mapped[str] = mapped_column(default="")
    # The second visit of a pair: starts min-max minutes after ``after_request_id``'s visit
    # starts, the same day (:class:`scheduler.model.ServiceRequest`). No foreign key: both of a
    # pair arrive in one bulk insert, in no set order; the reader checks the pair first.
    after_request_id: Mapped[str | None] = mapped_column(ID)
    min_gap_min: Mapped[int] = mapped_column(default=0, server_default="0")
    max_gap_min: Mapped[int] = mapped_column(default=0, server_default="0")


class ProgrammeOverrideRow(Base):
    """One programme's entry of ``programmes.yaml``."""

    __tablename__ = "programme_override"

    programme: Mapped[str] = mapped_column(ID, primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)


# --- what happened ---------------------------------------------------------------------------


class VisitRecordRow(Base):
    """A visit that took place (or was attempted): imported history or recorded after the visit.

    One record per resident, programme and date. Completed records are the history that
    decides what is due next.
    """

    __tablename__ = "visit_record"
    __table_args__ = (
        UniqueConstraint("resident_id", "programme", "visit_date"),
        CheckConstraint(
            "outcome IN (" + ", ".join(f"'{o.value}'" for o in VisitOutcome) + ")", name="outcome"
        ),
        CheckConstraint(
            "place IN (" + ", ".join(f"'{p.value}'" for p in Place) + ")", name="place"
        ),
        # a programme's completed visits, per resident and day, read without the table (reports)
        Index("ix_visit_record_programme", "programme", "outcome", "resident_id", "visit_date"),
    )

    record_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(ID, ForeignKey("resident.resident_id"), index=True)
    programme: Mapped[str] = mapped_column(ID)
    visit_date: Mapped[dt.date]
    outcome: Mapped[str] = mapped_column(String(16), default=VisitOutcome.COMPLETED.value)
    source: Mapped[str] = mapped_column(String(16), default=RecordSource.IMPORT.value)
    clinician_ids: Mapped[str] = mapped_column(default="")  # ';'-separated
    note: Mapped[str] = mapped_column(Text, default="")
    systolic_mmhg: Mapped[int | None]
    diastolic_mmhg: Mapped[int | None]
    glucose_mmol_l: Mapped[float | None]
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plan.plan_id"))
    visit_id: Mapped[str | None] = mapped_column(String(128))
    recorded_at: Mapped[dt.datetime | None]
    tests: Mapped[str] = mapped_column(default="", server_default="")  # ';'-separated, annex order
    place: Mapped[str] = mapped_column(String(16), default=Place.HOME.value, server_default="home")
    # The resident's flags on the day the visit was recorded (the official tables count people
    # as they were then); None on a record written without them: the resident's current flags.
    disability: Mapped[str | None] = mapped_column(String(8))
    hypertension: Mapped[bool | None]
    diabetes: Mapped[bool | None]


class VisitRecordVersionRow(Base):
    """A version of a visit record that a correction superseded (更正前的记录): the audit trail.

    The record itself (``visit_record``, same ``record_id``) always holds what is true now, so
    every reader (the due list, the official tables) counts the corrected visit only; each
    correction first copies what the record said here, with who replaced it, when and why.
    """

    __tablename__ = "visit_record_version"

    version_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("visit_record.record_id", ondelete="CASCADE"), index=True
    )
    outcome: Mapped[str] = mapped_column(String(16))
    clinician_ids: Mapped[str] = mapped_column(default="")
    note: Mapped[str] = mapped_column(Text, default="")
    systolic_mmhg: Mapped[int | None]
    diastolic_mmhg: Mapped[int | None]
    glucose_mmol_l: Mapped[float | None]
    tests: Mapped[str] = mapped_column(default="")
    place: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[dt.datetime | None]  # when the superseded version was written
    superseded_at: Mapped[dt.datetime]
    superseded_by: Mapped[str] = mapped_column(String(64))  # the user name, never a person's
    reason: Mapped[str] = mapped_column(Text, default="")


class SickbedEpisodeRow(Base):
    """A home sick-bed (家庭病床) episode: opened (建床), and discharged (撤床) once it ends."""

    __tablename__ = "sickbed_episode"
    __table_args__ = (UniqueConstraint("resident_id", "opened"),)

    episode_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(ID, ForeignKey("resident.resident_id"), index=True)
    opened: Mapped[dt.date]
    discharged: Mapped[dt.date | None]
    source: Mapped[str] = mapped_column(String(16), default=RecordSource.IMPORT.value)
    disability: Mapped[str | None] = mapped_column(String(8))  # the resident's, when discharged
    recorded_at: Mapped[dt.datetime | None]
    discharge_reason: Mapped[str] = mapped_column(Text, default="", server_default="")


class QuotaRow(Base):
    """A year's quota of one unit (a district, or a centre or team a site sets), Tianjin Annex 1."""

    __tablename__ = "report_quota"

    year: Mapped[int] = mapped_column(primary_key=True)
    unit: Mapped[str] = mapped_column(String(128), primary_key=True)
    signed_elders: Mapped[int]
    home_visits: Mapped[int]


class PlanRow(Base):
    """One version of the plan of a centre's week.

    ``revision`` is the optimistic lock: every change of the row checks and bumps it, so a save
    based on an old revision changes nothing and is refused.
    """

    __tablename__ = "plan"
    __table_args__ = (UniqueConstraint("centre_id", "week_start", "version"),)

    plan_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    centre_id: Mapped[str] = mapped_column(ID, ForeignKey("centre.centre_id"))
    week_start: Mapped[dt.date]
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default=PlanStatus.DRAFT.value)
    revision: Mapped[int] = mapped_column(default=1)
    saved_by: Mapped[str] = mapped_column(default="")
    solver_status: Mapped[str] = mapped_column(default="")
    objective: Mapped[int | None] = mapped_column(BigInteger)
    solve_seconds: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    kpis: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the evaluator's, when saved

    __mapper_args__ = {"version_id_col": revision}  # noqa: RUF012


class PlanRouteRow(Base):
    """One row of ``routes.csv``: a clinician's day."""

    __tablename__ = "plan_route"

    route_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.plan_id", ondelete="CASCADE"), index=True)
    clinician_id: Mapped[str] = mapped_column(ID)
    route_date: Mapped[dt.date]
    depart_min: Mapped[int]
    return_min: Mapped[int]
    travel_min: Mapped[int]
    travel_km: Mapped[float]
    work_min: Mapped[int]
    overtime_min: Mapped[int]


class PlanStopRow(Base):
    """One row of ``plan.csv``: a visit on a clinician's route."""

    __tablename__ = "plan_stop"

    stop_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.plan_id", ondelete="CASCADE"), index=True)
    visit_id: Mapped[str] = mapped_column(String(128))
    resident_id: Mapped[str | None] = mapped_column(ID)
    committee_id: Mapped[str | None] = mapped_column(ID)
    programme: Mapped[str] = mapped_column(ID)
    clinician_id: Mapped[str] = mapped_column(ID)
    visit_date: Mapped[dt.date]
    sequence: Mapped[int]
    arrival_min: Mapped[int]
    start_min: Mapped[int]
    end_min: Mapped[int]
    travel_min: Mapped[int]
    travel_km: Mapped[float]
    via_centre: Mapped[bool] = mapped_column(default=False)
    # Why the visit is due (the rule with its dates), kept as planned.
    urgency: Mapped[str] = mapped_column(String(16), default="")
    due_by: Mapped[dt.date | None]
    last_visit: Mapped[dt.date | None]
    rule_zh: Mapped[str] = mapped_column(Text, default="")
    rule_en: Mapped[str] = mapped_column(Text, default="")


class PlanUnscheduledRow(Base):
    """One row of ``unscheduled.csv``: a due visit the plan leaves out, and why."""

    __tablename__ = "plan_unscheduled"

    unscheduled_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.plan_id", ondelete="CASCADE"), index=True)
    visit_id: Mapped[str] = mapped_column(String(128))
    resident_id: Mapped[str | None] = mapped_column(ID)
    committee_id: Mapped[str | None] = mapped_column(ID)
    programme: Mapped[str] = mapped_column(ID)
    due_by: Mapped[dt.date]
    reason: Mapped[str] = mapped_column(Text, default="")
    reason_zh: Mapped[str] = mapped_column(Text, default="")
    urgency: Mapped[str] = mapped_column(String(16), default="")
    kind: Mapped[str] = mapped_column(String(24), default="")  # unscheduled|optional|not_due_...
    last_visit: Mapped[dt.date | None]
    rule_zh: Mapped[str] = mapped_column(Text, default="")
    rule_en: Mapped[str] = mapped_column(Text, default="")


class GeocodeRow(Base):
    """A cached look-up: an address is sent to a geocoder once. ``lat`` empty = not found."""

    __tablename__ = "geocode_cache"
    __table_args__ = (UniqueConstraint("provider", "address"),)

    geocode_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(512))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    looked_up_at: Mapped[dt.datetime]


# --- the web service -------------------------------------------------------------------------


class UserRole(StrEnum):
    """What a user of the service may see and do (see :mod:`service.api.access`)."""

    ADMIN = "admin"
    TEAM_LEADER = "team_leader"  # own team: plans, residents, records
    CLINICIAN = "clinician"  # own routes and the residents on them
    PLANNER = "planner"  # the whole district, pseudonymised: scenarios and reports


class UserRow(Base):
    """A person who signs in. The password is stored only as an Argon2 hash."""

    __tablename__ = "app_user"

    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str]
    role: Mapped[str] = mapped_column(String(16))
    centre_id: Mapped[str | None] = mapped_column(ID)
    team_id: Mapped[str | None] = mapped_column(ID)
    clinician_id: Mapped[str | None] = mapped_column(ID)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime]


class AuditRow(Base):
    """One read of residents' records: who, when, what (ids only, never names)."""

    __tablename__ = "audit_log"

    audit_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64))
    resident_ids: Mapped[str] = mapped_column(Text, default="")  # ';'-separated
    detail: Mapped[str] = mapped_column(Text, default="")


class JobStatus(StrEnum):
    """Where a plan job stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the solve raised, or its worker process died
    CANCELLED = "cancelled"  # cancelled before it ran, or stopped with no plan to keep
    INTERRUPTED = "interrupted"  # the server stopped while it ran; can be rerun


class PlanJobRow(Base):
    """A request to plan a centre's week (or one team of it), solved in a worker process.

    ``options["kind"]`` is ``"plan"`` or ``"scenario"`` (a what-if run: ``options["scenario"]``).
    """

    __tablename__ = "plan_job"

    job_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    centre_id: Mapped[str] = mapped_column(ID, index=True)
    team_id: Mapped[str | None] = mapped_column(ID)  # None: every team of the centre
    week_start: Mapped[dt.date]
    base_plan_id: Mapped[int | None]  # re-solve around this plan's pins
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    requested_by: Mapped[str] = mapped_column(String(64), index=True)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    elapsed_s: Mapped[float] = mapped_column(default=0.0)
    visits_placed: Mapped[int] = mapped_column(default=0)
    visits_total: Mapped[int] = mapped_column(default=0)
    best_cost: Mapped[int | None] = mapped_column(BigInteger)
    plan_id: Mapped[int | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # KPIs, or a scenario's figures
    error: Mapped[str] = mapped_column(Text, default="")
    worker_pid: Mapped[int | None]


class PinKind(StrEnum):
    """What a team leader fixed before re-solving."""

    PIN = "pin"  # this clinician and day (and time, if given); the solver routes the rest
    LOCK = "lock"  # exactly where it is now
    REMOVE = "remove"  # leave it out of this week


class PlanPinRow(Base):
    """A team leader's decision about one visit of a stored plan, kept for re-solves."""

    __tablename__ = "plan_pin"
    __table_args__ = (UniqueConstraint("plan_id", "visit_id"),)

    pin_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.plan_id", ondelete="CASCADE"), index=True)
    visit_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(8))
    clinician_id: Mapped[str | None] = mapped_column(ID)
    visit_date: Mapped[dt.date | None]
    start_min: Mapped[int | None]
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[dt.datetime]


class ServiceSecretRow(Base):
    """Secrets the service makes for itself on first start (the token signing key)."""

    __tablename__ = "service_secret"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SignInFailureRow(Base):
    """Failed sign-ins of a window, per user name (``user:...``) and per address (``ip:...``).

    In the database so that every web process counts the same failures (``homevisit serve``
    runs two): an attacker gets the same few tries whichever process answers.
    """

    __tablename__ = "sign_in_failure"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    failures: Mapped[int]
    window_start_s: Mapped[float]  # Unix time of the window's first failure
