"""Read the registers back out of the database: as a domain :class:`Dataset`, or as a folder.

:func:`export_dataset` writes the FORMAT.md layout that :func:`scheduler.io.read_dataset` reads,
so import -> export -> import gives the same database. Coordinates are written as stored
(WGS-84, ``crs`` = ``wgs84``) with every digit (``repr``), so they read back bit for bit.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import yaml
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from scheduler.cells import neutralise_cell
from scheduler.io import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from scheduler.model import WEEKDAYS, Dataset, format_hhmm, format_tests
from service.db import mappers
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
    VisitOutcome,
    VisitRecordRow,
)

__all__ = ["ExportSummary", "export_dataset", "load_dataset", "write_dataset"]

ExportSummary = dict[str, int]
"""Rows written per file."""


def load_dataset(session: Session, centre_ids: Iterable[str] | None = None) -> Dataset:
    """The active registers (of ``centre_ids``, default all) with their history and requests.

    Residents without coordinates (waiting to be geocoded) are left out.
    """
    wanted = set(centre_ids) if centre_ids is not None else None

    def rows(table: type[Base], order: str) -> list[dict[str, Any]]:
        c = table.__table__.c
        query = select(table.__table__).where(c.active.is_(True)).order_by(c[order])
        if wanted is not None:
            query = query.where(c.centre_id.in_(wanted))
        return [dict(r) for r in session.execute(query).mappings()]

    centres = {r["centre_id"]: mappers.centre_from_row(r) for r in rows(CentreRow, "centre_id")}
    committees = {
        r["committee_id"]: mappers.committee_from_row(r) for r in rows(CommitteeRow, "committee_id")
    }
    clinicians = {
        r["clinician_id"]: mappers.clinician_from_row(r) for r in rows(ClinicianRow, "clinician_id")
    }
    residents = {
        r["resident_id"]: mappers.resident_from_row(r)
        for r in rows(ResidentRow, "resident_id")
        if r["lat"] is not None and r["lon"] is not None
    }
    v = VisitRecordRow.__table__.c
    # Plain tuples, not mappings: a district's year is 200,000 rows.
    history = tuple(
        mappers.history_from_values(*r)
        for r in session.execute(
            select(v.resident_id, v.programme, v.visit_date, v.outcome, v.tests, v.place)
            .where(v.outcome == VisitOutcome.COMPLETED.value)
            .order_by(v.resident_id, v.visit_date, v.programme)
        )
        if r[0] in residents
    )
    q = ServiceRequestRow.__table__.c
    requests = tuple(
        mappers.request_from_row(r)
        for r in session.execute(
            select(ServiceRequestRow.__table__).order_by(q.request_id)
        ).mappings()
        if r["resident_id"] in residents
    )
    e = SickbedEpisodeRow.__table__.c
    sickbeds = tuple(
        mappers.sickbed_from_row(r)
        for r in session.execute(
            select(SickbedEpisodeRow.__table__).order_by(e.resident_id, e.opened)
        ).mappings()
        if r["resident_id"] in residents
    )
    o = ProgrammeOverrideRow.__table__.c
    overrides = {
        r["programme"]: r["settings"]
        for r in session.execute(
            select(ProgrammeOverrideRow.__table__).order_by(o.programme)
        ).mappings()
    }
    return Dataset(
        centres=centres,
        committees=committees,
        clinicians=clinicians,
        residents=residents,
        history=history,
        requests=requests,
        programme_overrides=overrides,
        sickbeds=sickbeds,
    )


def _coordinate(value: float) -> str:
    return repr(float(value))


def _date(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


def _flag(value: bool) -> str:
    return "true" if value else "false"


_COORDINATES: Final = frozenset({"lat", "lon"})
"""Columns written as numbers (degrees, possibly negative), not text."""


def write_dataset(dataset: Dataset, out_dir: Path) -> ExportSummary:
    """Write ``dataset`` as a FORMAT.md folder (UTF-8 CSV, FORMAT.md columns first)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables: dict[str, tuple[tuple[str, ...], list[list[str]]]] = {
        "centres": (
            (*REQUIRED_COLUMNS["centres"], "crs", "district"),
            [
                [
                    c.centre_id,
                    c.name,
                    _coordinate(c.location.lat),
                    _coordinate(c.location.lon),
                    "wgs84",
                    c.district,
                ]
                for c in dataset.centres.values()
            ],
        ),
        "committees": (
            (*REQUIRED_COLUMNS["committees"], "crs"),
            [
                [
                    c.committee_id,
                    c.centre_id,
                    c.name,
                    _coordinate(c.location.lat),
                    _coordinate(c.location.lon),
                    "wgs84",
                ]
                for c in dataset.committees.values()
            ],
        ),
        "clinicians": (
            (*REQUIRED_COLUMNS["clinicians"], "phone"),
            [
                [
                    c.clinician_id,
                    c.name,
                    c.team_id,
                    c.centre_id,
                    c.role.value,
                    mappers.format_words(c.skills),
                    c.travel_mode.value,
                    ";".join(WEEKDAYS[d] for d in sorted(c.work_days)),
                    format_hhmm(c.shift.start_min),
                    format_hhmm(c.shift.end_min),
                    format_hhmm(c.lunch.start_min) if c.lunch else "",
                    format_hhmm(c.lunch.end_min) if c.lunch else "",
                    c.phone,
                ]
                for c in dataset.clinicians.values()
            ],
        ),
        "residents": (
            (
                *REQUIRED_COLUMNS["residents"],
                *("crs", "address", "phone", "sex", "conditions", "signed", "signed_since"),
            ),
            [
                [
                    r.resident_id,
                    r.name,
                    r.birth_date.isoformat(),
                    _coordinate(r.location.lat),
                    _coordinate(r.location.lon),
                    r.committee_id,
                    r.team_id,
                    r.preferred_clinician_id or "",
                    r.disability.value,
                    _flag(r.hypertension),
                    _flag(r.diabetes),
                    _flag(r.home_sickbed),
                    _flag(r.homebound),
                    mappers.format_availability(r.availability),
                    "wgs84",
                    r.address,
                    r.phone,
                    r.sex,
                    mappers.format_words(r.conditions),
                    _flag(r.signed),
                    _date(r.signed_since),
                ]
                for r in dataset.residents.values()
            ],
        ),
        "history": (
            (*REQUIRED_COLUMNS["history"], *OPTIONAL_COLUMNS["history"]),
            [
                [
                    h.resident_id,
                    h.programme,
                    h.date.isoformat(),
                    h.outcome.value,
                    format_tests(h.tests),
                    h.place.value if h.place else "",
                ]
                for h in dataset.history
            ],
        ),
        "sickbeds": (
            (*REQUIRED_COLUMNS["sickbeds"], *OPTIONAL_COLUMNS["sickbeds"]),
            [
                [
                    e.resident_id,
                    e.opened.isoformat(),
                    e.discharged.isoformat() if e.discharged else "",
                ]
                for e in dataset.sickbeds
            ],
        ),
        "requests": (
            (*REQUIRED_COLUMNS["requests"], "skills"),
            [
                [
                    q.request_id,
                    q.resident_id,
                    q.service,
                    q.earliest_date.isoformat(),
                    q.latest_date.isoformat(),
                    format_hhmm(q.window.start_min),
                    format_hhmm(q.window.end_min),
                    str(q.duration_min),
                    mappers.format_words(q.skills),
                ]
                for q in dataset.requests
            ],
        ),
    }
    summary: ExportSummary = {}
    for stem, (columns, body) in tables.items():
        with (out_dir / f"{stem}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            # Registers open in Excel too: no text cell may start a formula (scheduler.cells);
            # the reader takes the quote away, so import -> export -> import changes nothing.
            writer.writerows(
                [
                    c if name in _COORDINATES else neutralise_cell(c)
                    for name, c in zip(columns, row, strict=True)
                ]
                for row in body
            )
        summary[f"{stem}.csv"] = len(body)
    if dataset.programme_overrides:
        overrides = {k: dict(v) for k, v in dataset.programme_overrides.items()}
        (out_dir / "programmes.yaml").write_text(
            yaml.safe_dump(overrides, allow_unicode=True, sort_keys=True), encoding="utf-8"
        )
        summary["programmes.yaml"] = len(overrides)
    return summary


def export_dataset(
    engine: Engine, out_dir: Path, centre_ids: Iterable[str] | None = None
) -> ExportSummary:
    """Write the active registers of the database (or of ``centre_ids``) to ``out_dir``."""
    require_current_schema(engine)
    with Session(engine) as session:
        dataset = load_dataset(session, centre_ids)
    return write_dataset(dataset, out_dir)
