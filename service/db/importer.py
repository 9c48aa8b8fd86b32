"""Import a dataset (folder or ``.xlsx``) into the database: all or nothing, updated in place.

Residents given by address only are geocoded first, into a temporary copy of the dataset
(:mod:`service.db.geofill`). The whole dataset is then read and checked by
:func:`scheduler.dataset.read_dataset`, which reports *every* problem at once (file, row, column,
value and what would be right); an address that cannot be placed is one of them. Only a dataset
with no problem is written, in one transaction: a failure half-way (a lost connection, a full disk)
rolls everything back, so the database is as it was.

Re-importing a register updates it in place by id. A centre's resident, clinician or committee
missing from the new register is marked inactive (never deleted, so its history stays); one
that comes back is active again. History rows already recorded are not added twice. A pair of
requests stored by an earlier import that the upload would break (its first request listed anew,
its second not) is a problem too (:mod:`service.db.pairs`).

A team leader imports his own team's register only (``scope``, :mod:`service.db.team_scope`):
rows naming another team are problems like any other, and the write touches his team alone.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, RowMapping, insert, select, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from scheduler.coords import parse_region
from scheduler.dataset import DatasetError, check_dataset_limits, read_dataset
from scheduler.model import Dataset
from scheduler.programmes import apply_overrides, builtin_programmes
from service.db import mappers
from service.db.geofill import GeocodeFill, find_pending, merge_problems, prepare
from service.db.pairs import broken_pairs, locate
from service.db.records import fill_flags
from service.db.session import require_current_schema
from service.db.tables import (
    Base,
    CentreRow,
    ClinicianRow,
    CommitteeRow,
    ProgrammeOverrideRow,
    ResidentRow,
    ServiceRequestRow,
    SickbedEpisodeRow,
    VisitRecordRow,
)
from service.db.team_scope import TeamRegister, TeamScope, foreign_ids, read_team_rows
from service.settings import Settings, get_settings

__all__ = [
    "DatabaseWriteError",
    "ImportSummary",
    "TableChanges",
    "import_dataset",
    "store_dataset",
]

log = logging.getLogger(__name__)


class DatabaseWriteError(Exception):
    """The database failed during a write; the transaction was rolled back."""


@dataclass(slots=True)
class TableChanges:
    """What an import did to one table."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0

    def __str__(self) -> str:
        text = f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged"
        return text + (f", {self.deactivated} marked inactive" if self.deactivated else "")


@dataclass(slots=True)
class ImportSummary:
    """Counts only (no personal data), for the user and the log."""

    tables: dict[str, TableChanges] = field(default_factory=dict)
    history_added: int = 0
    history_known: int = 0
    sickbeds: TableChanges = field(default_factory=TableChanges)
    geocoded: int = 0
    geocode_looked_up: int = 0
    geocode_from_cache: int = 0
    # For the user only, never the log: they name residents (e.g. a preference dropped).
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per table, e.g. ``residents: 12 added, 3 updated, ...``, then the warnings."""
        return self.count_lines() + [f"warning 注意: {w}" for w in self.warnings]

    def count_lines(self) -> list[str]:
        """The counts alone (what the log may hold)."""
        lines = [f"{name}: {changes}" for name, changes in self.tables.items()]
        lines.append(f"history: {self.history_added} added, {self.history_known} already recorded")
        if self.sickbeds.added or self.sickbeds.updated or self.sickbeds.unchanged:
            lines.append(f"sick-bed episodes: {self.sickbeds}")
        if self.geocoded:
            lines.append(
                f"geocoded: {self.geocoded} resident(s) placed by address "
                f"({self.geocode_looked_up} looked up, {self.geocode_from_cache} from the cache)"
            )
        return lines


def import_dataset(
    engine: Engine,
    path: Path,
    settings: Settings | None = None,
    *,
    cancelled: Callable[[], bool] | None = None,
    scope: TeamScope | None = None,
) -> ImportSummary:
    """Read, check and store the dataset at ``path`` in one transaction.

    With ``scope`` (a team leader's import) the dataset must be that team's register
    (:mod:`service.db.team_scope`): a row naming another team is a problem, and nothing of
    another team is written.

    The files are held to the settings' read limits (``HOMEVISIT_IMPORT_*``); ``cancelled``
    stops the reading when it answers true (the server shutting down).

    Residents with an address but neither ``lat`` nor ``lon`` are geocoded first (see
    :mod:`service.db.geofill`); an address that cannot be placed is a problem like any other.

    Raises
    ------
    DatasetError
        The dataset has problems (all of them listed); nothing was written.
    SchemaNotCurrentError
        The database needs ``homevisit db upgrade``; nothing was written.
    DatabaseWriteError
        The database failed during the write (e.g. the connection was lost); the transaction
        was rolled back, nothing was written.
    """
    settings = settings or get_settings()
    limits = settings.read_limits()
    check_dataset_limits(path, limits)  # before geocoding opens the files
    register = None if scope is None else read_team_rows(path, scope, limits, cancelled)
    outside = [] if register is None else register.problems
    pending = find_pending(path)
    fill: GeocodeFill | None = None
    if pending is None:
        try:
            dataset = read_dataset(
                path, limits, cancelled=cancelled, region=parse_region(settings.region)
            )
        except DatasetError as exc:
            raise DatasetError([*exc.problems, *outside]) from None
        if outside:
            raise DatasetError(outside)
        require_current_schema(engine)
    elif outside:
        raise DatasetError(outside)  # no address of another team's resident is looked up
    else:
        require_current_schema(engine)  # the geocode cache is in the database
        with tempfile.TemporaryDirectory(prefix="homevisit-import-") as workdir:
            fill = prepare(pending, engine, settings, Path(workdir))
            try:
                dataset = read_dataset(
                    fill.path, limits, cancelled=cancelled, region=parse_region(settings.region)
                )
                error = merge_problems(fill, None)
            except DatasetError as exc:
                error = merge_problems(fill, exc)
            if error is not None:
                raise error
    try:
        with Session(engine) as session, session.begin():
            broken = broken_pairs(session, dataset.requests)
            if broken:  # a pair stored earlier that this upload would break
                problems = locate(broken, path, limits, cancelled)
                if register is not None:
                    problems = [*foreign_ids(session, dataset, register), *problems]
                raise DatasetError(problems)
            summary = store_dataset(session, dataset, register)
    except DBAPIError as exc:
        reason = (
            str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
        )
        raise DatabaseWriteError(
            f"the database failed during the import ({reason}); the transaction was rolled "
            "back and nothing was written: try again"
        ) from None
    except SQLAlchemyError as exc:
        raise DatabaseWriteError(
            f"the database failed during the import ({type(exc).__name__}); nothing was written"
        ) from None
    if fill is not None:
        summary.geocoded = len(fill.placed)
        summary.geocode_looked_up = fill.looked_up
        summary.geocode_from_cache = fill.from_cache
    summary.warnings = [*dataset.warnings, *summary.warnings]
    log.info(
        "import done: %s; %d warning(s)", "; ".join(summary.count_lines()), len(summary.warnings)
    )
    return summary


def store_dataset(
    session: Session, dataset: Dataset, team: TeamRegister | None = None
) -> ImportSummary:
    """Write ``dataset`` into the registers, in the caller's transaction.

    Rows of the dataset's centres that the dataset no longer lists are marked inactive. With
    ``team`` (a team leader's import, read by :func:`service.db.team_scope.read_team_rows`),
    the dataset is first checked against the database (no id of another team's) and only that
    team's register is written: his clinicians and residents (those no longer listed marked
    inactive), new committees, requests, history and sick-bed episodes.

    Raises
    ------
    DatasetError
        With ``team``: the dataset names rows the database holds for another team.
    """
    if team is not None:
        problems = foreign_ids(session, dataset, team)
        if problems:
            raise DatasetError(problems)
        return _store_team(session, dataset, team.scope)
    summary = ImportSummary()
    centres = set(dataset.centres)

    def in_scope(old: RowMapping) -> bool:
        return bool(old["centre_id"] in centres)

    team_centre = {c.team_id: c.centre_id for c in dataset.clinicians.values()}

    summary.tables["centres"] = _upsert(
        session, CentreRow, "centre_id", [mappers.centre_row(c) for c in dataset.centres.values()]
    )
    summary.tables["committees"] = _upsert(
        session,
        CommitteeRow,
        "committee_id",
        [mappers.committee_row(c) for c in dataset.committees.values()],
        in_scope,
    )
    _store_people(session, dataset, summary, team_centre, in_scope)
    summary.tables["programme overrides"] = _upsert(
        session,
        ProgrammeOverrideRow,
        "programme",
        [{"programme": k, "settings": dict(v)} for k, v in dataset.programme_overrides.items()],
    )
    _add_history(session, dataset, summary)
    _store_sickbeds(session, dataset, summary)
    fill_flags(session)  # the flags of the visits and discharges just added: the register's
    return summary


def _store_people(
    session: Session,
    dataset: Dataset,
    summary: ImportSummary,
    team_centre: Mapping[str, str],
    in_scope: Callable[[RowMapping], bool],
) -> None:
    """Clinicians, residents and requests: added or updated; those ``in_scope`` left out of
    the dataset marked inactive."""
    summary.tables["clinicians"] = _upsert(
        session,
        ClinicianRow,
        "clinician_id",
        [mappers.clinician_row(c) for c in dataset.clinicians.values()],
        in_scope,
    )
    summary.tables["residents"] = _upsert(
        session,
        ResidentRow,
        "resident_id",
        [mappers.resident_row(r, team_centre[r.team_id]) for r in dataset.residents.values()],
        in_scope,
    )
    summary.tables["requests"] = _upsert(
        session,
        ServiceRequestRow,
        "request_id",
        [mappers.request_row(r) for r in dataset.requests],
    )


def _store_team(session: Session, dataset: Dataset, scope: TeamScope) -> ImportSummary:
    """One team's register: the centre as stored, new committees only, the team's people."""
    summary = ImportSummary()
    summary.tables["centres"] = _keep_stored(
        session, CentreRow, "centre_id", [mappers.centre_row(c) for c in dataset.centres.values()]
    )
    committees = _keep_stored(
        session,
        CommitteeRow,
        "committee_id",
        [mappers.committee_row(c) for c in dataset.committees.values()],
        add_new=True,
    )
    summary.tables["committees"] = committees
    if summary.tables["centres"].updated or committees.updated:
        summary.warnings.append(
            "中心和已有居委会的名称、位置保持不变，由管理员修改 / the centre's and the known "
            "committees' names and places are kept as stored (an admin changes them)"
        )
        summary.tables["centres"].unchanged += summary.tables["centres"].updated
        committees.unchanged += committees.updated
        summary.tables["centres"].updated = committees.updated = 0

    def in_scope(old: RowMapping) -> bool:
        return bool(old["team_id"] == scope.team_id)

    _store_people(session, dataset, summary, {scope.team_id: scope.centre_id}, in_scope)
    _add_history(session, dataset, summary)
    _store_sickbeds(session, dataset, summary)
    fill_flags(session)  # the flags of his residents' visits and discharges just added
    return summary


def _keep_stored(
    session: Session,
    table: type[Base],
    key: str,
    rows: list[dict[str, Any]],
    *,
    add_new: bool = False,
) -> TableChanges:
    """Rows kept as stored: counted (``updated``: would differ), added only if ``add_new``."""
    ids = [row[key] for row in rows]
    column = table.__table__.c[key]
    existing = {
        row[key]: row
        for row in session.execute(select(table.__table__).where(column.in_(ids))).mappings()
    }
    changes = TableChanges()
    inserts = []
    for row in rows:
        old = existing.get(row[key])
        if old is None:
            inserts.append(row)
        elif any(old[name] != value for name, value in row.items()):
            changes.updated += 1
        else:
            changes.unchanged += 1
    if inserts and add_new:
        session.execute(insert(table), inserts)
        changes.added = len(inserts)
    return changes


def _upsert(
    session: Session,
    table: type[Base],
    key: str,
    rows: list[dict[str, Any]],
    in_scope: Callable[[RowMapping], bool] | None = None,
) -> TableChanges:
    """Insert new rows, update changed ones; with ``in_scope``, deactivate the missing stored
    rows it accepts (the dataset's centres', or a team's).

    The existing rows are read once; only changed rows are written (a re-import of the same
    register writes nothing).
    """
    existing = {row[key]: row for row in session.execute(select(table.__table__)).mappings()}
    changes = TableChanges()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in rows:
        old = existing.get(row[key])
        if old is None:
            inserts.append(row)
        elif any(old[name] != value for name, value in row.items()):
            updates.append(row)
        else:
            changes.unchanged += 1
    new_ids = {row[key] for row in rows}
    deactivate = (
        [
            {key: old[key], "active": False}
            for old in existing.values()
            if old[key] not in new_ids and old["active"] and in_scope(old)
        ]
        if in_scope is not None
        else []
    )
    if inserts:
        session.execute(insert(table), inserts)
    if updates:
        session.execute(update(table), updates)
    if deactivate:
        session.execute(update(table), deactivate)
    changes.added, changes.updated, changes.deactivated = (
        len(inserts),
        len(updates),
        len(deactivate),
    )
    return changes


def _add_history(session: Session, dataset: Dataset, summary: ImportSummary) -> None:
    t = VisitRecordRow.__table__.c
    known = {
        (r.resident_id, r.programme, r.visit_date)
        for r in session.execute(select(t.resident_id, t.programme, t.visit_date))
    }
    programmes = apply_overrides(builtin_programmes(), dataset.programme_overrides)
    new: list[dict[str, Any]] = []
    for record in dataset.history:
        key = (record.resident_id, record.programme, record.date)
        if key in known:
            summary.history_known += 1
            continue
        known.add(key)
        new.append(mappers.history_row(record, programmes.get(record.programme)))
    if new:
        session.execute(insert(VisitRecordRow), new)
    summary.history_added = len(new)


def _store_sickbeds(session: Session, dataset: Dataset, summary: ImportSummary) -> None:
    """Add new sick-bed episodes; an episode already stored takes the file's discharge date (and
    the disability the file gives with it; none given: the register's, by fill_flags)."""
    t = SickbedEpisodeRow.__table__.c
    stored = {
        (r.resident_id, r.opened): (r.episode_id, r.discharged)
        for r in session.execute(select(t.episode_id, t.resident_id, t.opened, t.discharged))
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for episode in dataset.sickbeds:
        old = stored.get((episode.resident_id, episode.opened))
        if old is None:
            inserts.append(mappers.sickbed_row(episode))
            stored[(episode.resident_id, episode.opened)] = (-1, episode.discharged)
        elif old[1] != episode.discharged:
            disability = episode.disability.value if episode.disability else None
            updates.append(
                {"episode_id": old[0], "discharged": episode.discharged, "disability": disability}
            )
        else:
            summary.sickbeds.unchanged += 1
    if inserts:
        session.execute(insert(SickbedEpisodeRow), inserts)
    if updates:
        session.execute(update(SickbedEpisodeRow), updates)
    summary.sickbeds.added, summary.sickbeds.updated = len(inserts), len(updates)
