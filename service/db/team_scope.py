"""What a team leader may import: his own team's register, and nothing of other teams.

A team leader's upload is a dataset in the usual files (``docs/dataset-format.md``); it is his
team's register when

- ``clinicians``: every row is of his team (``team_id``) at his centre (``centre_id``);
- ``residents``: every row signs with his team (``team_id``);
- ``centres``: the one row is his centre; it is read (the others refer to it), never written:
  the centre's name and place are the admin's;
- ``committees`` (optional): his centre's; a new one is added, a known one is kept as stored
  (other teams' residents belong to it too) and none is marked inactive;
- ``history``, ``requests``, ``sickbeds``: of his residents (the reader ties every row to
  ``residents``, so nothing else can be named there);
- ``programmes.yaml``: the programme rules hold for every team: it is refused unless it says
  what is stored already;
- no clinician, resident, request or committee id that the database holds for another team (or
  centre): an id names one person or place, and taking it over would change another team's
  register.

Every row that breaks this is a problem of its own, located like the reader's (file or sheet,
row, the header as the user wrote it, the value) and saying what would be right, in Chinese and
English; one such problem refuses the whole upload (nothing is written).

What is then written (:func:`service.db.importer.store_dataset` with a scope): his team's
clinicians and residents, added and updated, those of his team the upload no longer lists marked
inactive; new committees of his centre; requests, history and sick-bed episodes of his residents.
Nothing of another team is added, changed, marked inactive or deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

# The raw rows, with their numbers and headers as written: a row is located exactly as the
# reader locates it.
from scheduler.dataset import InputProblem, ReadLimits
from scheduler.dataset.sources import Table, read_tables
from scheduler.messages import Message
from scheduler.model import Dataset
from service.db.tables import (
    ClinicianRow,
    CommitteeRow,
    ProgrammeOverrideRow,
    ResidentRow,
    ServiceRequestRow,
)

__all__ = ["TeamRegister", "TeamScope", "foreign_ids", "read_team_rows"]

# table -> the id column of its rows
_ID_COLUMNS = {
    "centres": "centre_id",
    "committees": "committee_id",
    "clinicians": "clinician_id",
    "residents": "resident_id",
    "requests": "request_id",
}
_CENTRE_TABLES = ("centres", "committees", "clinicians")  # tables whose rows name a centre
_CHUNK = 500  # ids per IN (...) query


@dataclass(frozen=True, slots=True)
class TeamScope:
    """The register a team leader may import: his team at his centre."""

    centre_id: str
    team_id: str


@dataclass(frozen=True, slots=True)
class RowAt:
    """Where a row of the upload is: as the reader names the file, the row, the id's header."""

    file: str
    row: int
    header: str


@dataclass(slots=True)
class TeamRegister:
    """The upload read for its team: rows naming another team or centre, and where each id is."""

    scope: TeamScope
    problems: list[InputProblem] = field(default_factory=list)
    where: dict[tuple[str, str], RowAt] = field(default_factory=dict)  # (table, id) -> row

    def problem(self, table: str, row_id: str, message: Message) -> InputProblem:
        """A problem of the row holding ``row_id`` of ``table`` (at its id column)."""
        at = self.where.get((table, row_id))
        if at is None:  # not in the raw rows (cannot happen once read): the file alone
            return InputProblem.of(f"{table}", None, None, row_id, message)
        return InputProblem.of(at.file, at.row, at.header, row_id, message)


def read_team_rows(
    path: Path,
    scope: TeamScope,
    limits: ReadLimits,
    cancelled: Callable[[], bool] | None = None,
) -> TeamRegister:
    """Read the upload's rows for ``scope``: every row naming another team or centre.

    Only the ids, teams and centres are looked at; whatever else is wrong is the reader's to
    report (:func:`scheduler.dataset.read_dataset`), so a file that cannot be read here adds
    nothing.
    """
    register = TeamRegister(scope)
    for stem, table in read_tables(path, _ID_COLUMNS, limits, cancelled).items():
        _check_table(stem, _ID_COLUMNS[stem], table, register)
    return register


def _check_table(stem: str, id_column: str, table: Table, register: TeamRegister) -> None:
    scope = register.scope
    for row in table.rows:
        row_id = row.cells.get(id_column, "")
        if row_id:
            at = RowAt(table.file, row.number, table.header(id_column))
            register.where.setdefault((stem, row_id), at)
        team = row.cells.get("team_id", "")
        centre = row.cells.get("centre_id", "")
        if stem in ("clinicians", "residents") and team and team != scope.team_id:
            column, found = "team_id", team
            message = Message("team.other_team", {"found": team, "team": scope.team_id})
        elif stem in _CENTRE_TABLES and centre not in ("", scope.centre_id):
            column, found = "centre_id", centre
            message = Message("team.other_centre", {"found": centre, "centre": scope.centre_id})
        else:
            continue
        register.problems.append(
            InputProblem.of(table.file, row.number, table.header(column), found, message)
        )


def foreign_ids(session: Session, dataset: Dataset, register: TeamRegister) -> list[InputProblem]:
    """The upload's ids that the database holds for another team or centre, and a
    ``programmes.yaml`` that would change the rules of every team."""
    scope = register.scope
    problems: list[InputProblem] = []
    for clinician_id in _held(
        session, ClinicianRow.clinician_id, ClinicianRow.team_id, dataset.clinicians, scope.team_id
    ):
        problems.append(
            register.problem("clinicians", clinician_id, Message("team.clinician_taken"))
        )
    for resident_id in _held(
        session, ResidentRow.resident_id, ResidentRow.team_id, dataset.residents, scope.team_id
    ):
        problems.append(register.problem("residents", resident_id, Message("team.resident_taken")))
    committee_taken = Message("team.committee_taken", {"centre": scope.centre_id})
    for committee_id in _held(
        session,
        CommitteeRow.committee_id,
        CommitteeRow.centre_id,
        dataset.committees,
        scope.centre_id,
    ):
        problems.append(register.problem("committees", committee_id, committee_taken))
    problems += _foreign_requests(session, dataset, register)
    problems += _changed_programmes(session, dataset)
    return problems


def _held(
    session: Session,
    id_column: InstrumentedAttribute[str],
    owner_column: InstrumentedAttribute[str],
    ids: Iterable[str],
    owner: str,
) -> list[str]:
    """Which of ``ids`` the database holds with another owner (team or centre)."""
    found: list[str] = []
    wanted = sorted(ids)
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        found += session.scalars(
            select(id_column).where(id_column.in_(chunk), owner_column != owner)
        ).all()
    return sorted(found)


def _foreign_requests(
    session: Session, dataset: Dataset, register: TeamRegister
) -> list[InputProblem]:
    ids = sorted({r.request_id for r in dataset.requests})
    problems = []
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(ServiceRequestRow.request_id)
            .join(ResidentRow, ResidentRow.resident_id == ServiceRequestRow.resident_id)
            .where(
                ServiceRequestRow.request_id.in_(ids[start : start + _CHUNK]),
                ResidentRow.team_id != register.scope.team_id,
            )
        ).scalars()
        problems += [
            register.problem("requests", request_id, Message("team.request_taken"))
            for request_id in sorted(rows)
        ]
    return problems


def _changed_programmes(session: Session, dataset: Dataset) -> list[InputProblem]:
    if not dataset.programme_overrides:
        return []
    stored: Mapping[str, object] = {
        row.programme: row.settings for row in session.scalars(select(ProgrammeOverrideRow))
    }
    if {k: dict(v) for k, v in dataset.programme_overrides.items()} == stored:
        return []
    return [InputProblem.of("programmes.yaml", None, None, None, Message("team.programmes"))]
