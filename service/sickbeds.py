"""Home sick-beds (家庭病床) for the team leader's page: the open episodes and the rounds due.

The writes are :func:`service.db.records.open_sickbed` and
:func:`service.db.records.discharge_sickbed` (as ``homevisit sickbed`` writes), through
:func:`change_sickbed`, the one path of the page and of ``POST /records/sickbeds/...``. Whose
episodes a user sees is :func:`service.api.access.resident_scope` (a team leader: his team's;
an admin, a planner: every centre's).

The rounds due follow the programmes' own rules (:mod:`scheduler.programmes`, with the
centre's ``programmes.yaml`` overrides): a resident under 100 has a sick-bed round every
``interval_days`` (due by the tolerance after); a centenarian on a sick-bed has his rounds per
month (``centenarian_round``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler.model import age_in_years
from scheduler.programmes import (
    FrequencyKind,
    Programme,
    apply_overrides,
    builtin_programmes,
    interval_due,
)
from service.api.access import resident_scope, resident_visible
from service.db.records import discharge_sickbed, open_sickbed
from service.db.tables import (
    ProgrammeOverrideRow,
    ResidentRow,
    SickbedEpisodeRow,
    VisitOutcome,
    VisitRecordRow,
)
from service.users import Principal

__all__ = [
    "ROUND_PROGRAMMES",
    "OpenEpisode",
    "RoundsDue",
    "change_sickbed",
    "open_episodes",
    "residents_without_bed",
    "rounds_due",
]

ROUND_PROGRAMMES = ("sickbed_round", "centenarian_round")
"""The programmes that visit a resident on a home sick-bed."""


@dataclass(frozen=True, slots=True)
class RoundsDue:
    """Where a sick-bed's rounds stand on ``today``, in words (Chinese, English beside)."""

    programme_zh: str
    programme_en: str
    last_round: dt.date | None
    zh: str
    en: str
    overdue: bool


@dataclass(frozen=True, slots=True)
class OpenEpisode:
    """An open home sick-bed: whose, since when, its rounds."""

    episode_id: int
    resident_id: str
    name: str
    team_id: str
    opened: dt.date
    rounds: RoundsDue | None  # None: no round programme admits the resident (switched off)


def _programmes(session: Session) -> dict[str, Programme]:
    overrides: dict[str, dict[str, object]] = dict(
        session.execute(select(ProgrammeOverrideRow.programme, ProgrammeOverrideRow.settings)).all()
    )
    return apply_overrides(builtin_programmes(), overrides)


def _round_programme(
    programmes: dict[str, Programme], birth_date: dt.date, today: dt.date
) -> Programme | None:
    age = age_in_years(birth_date, today)
    for programme_id in ROUND_PROGRAMMES:
        programme = programmes.get(programme_id)
        if programme is None or not programme.enabled:
            continue
        rule = programme.eligibility
        if rule.min_age <= age and (rule.max_age is None or age <= rule.max_age):
            return programme
    return None


def rounds_due(
    programme: Programme, opened: dt.date, rounds: list[dt.date], today: dt.date
) -> RoundsDue:
    """Where the rounds of a sick-bed opened on ``opened`` stand, given the days of its completed
    rounds (``rounds``, since the opening)."""
    last = max(rounds, default=None)
    freq = programme.frequency
    names = programme.name_zh, programme.name_en
    if freq.kind is FrequencyKind.INTERVAL:
        if last is None:
            zh, en = "尚未查床，本周应查", "no round yet: due this week"
            return RoundsDue(*names, None, zh, en, overdue=(today - opened).days > 7)
        due, latest = interval_due(freq, last)
        if today > latest:
            late = (today - latest).days
            return RoundsDue(
                *names, last, f"已逾期 {late} 天（最迟应于 {latest}）",
                f"overdue by {late} day(s) (due by {latest})", overdue=True,
            )  # fmt: skip
        return RoundsDue(
            *names, last, f"下次 {due}（最迟 {latest}）", f"next {due} (at the latest {latest})",
            overdue=False,
        )  # fmt: skip
    if freq.kind is FrequencyKind.PER_PERIOD and freq.period is not None:
        start, end = freq.period.bounds(today)
        done = sum(start <= d <= end for d in rounds)
        left = max(0, freq.per_period - done)
        return RoundsDue(
            *names, last, f"本期已查 {done}/{freq.per_period} 次，{end} 前还需 {left} 次",
            f"{done} of {freq.per_period} this period; {left} more by {end}", overdue=False,
        )  # fmt: skip
    return RoundsDue(*names, last, "按需", "on request", overdue=False)


def open_episodes(session: Session, user: Principal, today: dt.date) -> list[OpenEpisode]:
    """The open sick-beds of the residents ``user`` may see, oldest first, with their rounds."""
    query = resident_scope(
        user,
        select(SickbedEpisodeRow, ResidentRow.name, ResidentRow.team_id, ResidentRow.birth_date)
        .join(ResidentRow, ResidentRow.resident_id == SickbedEpisodeRow.resident_id)
        .where(SickbedEpisodeRow.discharged.is_(None)),
    ).order_by(SickbedEpisodeRow.opened, SickbedEpisodeRow.resident_id)
    rows = session.execute(query).all()
    rounds: dict[tuple[str, str], list[dt.date]] = defaultdict(list)
    if rows:
        v = VisitRecordRow
        first = min(episode.opened for episode, *_ in rows)
        for resident_id, programme_id, day in session.execute(
            select(v.resident_id, v.programme, v.visit_date).where(
                v.resident_id.in_([episode.resident_id for episode, *_ in rows]),
                v.programme.in_(ROUND_PROGRAMMES),
                v.outcome == VisitOutcome.COMPLETED.value,
                v.visit_date >= first,
            )
        ):
            rounds[(resident_id, programme_id)].append(day)
    programmes = _programmes(session)
    result = []
    for episode, name, team_id, birth_date in rows:
        programme = _round_programme(programmes, birth_date, today)
        key = (episode.resident_id, programme.programme_id if programme else "")
        since = [d for d in rounds[key] if d >= episode.opened]
        result.append(
            OpenEpisode(
                episode_id=episode.episode_id,
                resident_id=episode.resident_id,
                name=name,
                team_id=team_id,
                opened=episode.opened,
                rounds=rounds_due(programme, episode.opened, since, today) if programme else None,
            )
        )
    return result


def residents_without_bed(session: Session, user: Principal) -> list[tuple[str, str]]:
    """(id, name) of the active residents ``user`` may see with no sick-bed open: those a bed
    may be opened for, by name."""
    open_bed = select(SickbedEpisodeRow.resident_id).where(SickbedEpisodeRow.discharged.is_(None))
    query = resident_scope(
        user,
        select(ResidentRow.resident_id, ResidentRow.name).where(
            ResidentRow.active.is_(True), ResidentRow.resident_id.not_in(open_bed)
        ),
    ).order_by(func.lower(ResidentRow.name), ResidentRow.resident_id)
    return [(resident_id, name) for resident_id, name in session.execute(query)]


def change_sickbed(
    session: Session,
    user: Principal,
    resident_id: str,
    day: dt.date,
    *,
    discharge: bool,
    reason: str = "",
    today: dt.date | None = None,
) -> int:
    """Open (建床) or discharge (撤床, with ``reason``) the home sick-bed of a resident ``user``
    may see, and commit; the episode's id.

    Raises
    ------
    fastapi.HTTPException
        404 for a resident out of the user's sight (:func:`service.api.access.resident_visible`).
    service.db.records.RecordError
        Every reason the change is refused (nothing is stored).
    """
    resident_visible(session, user, resident_id)
    try:
        if discharge:
            episode_id = discharge_sickbed(session, resident_id, day, today, reason=reason)
        else:
            episode_id = open_sickbed(session, resident_id, day, today)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return episode_id
