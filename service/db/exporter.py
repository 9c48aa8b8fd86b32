"""Read the registers back out of the database: as a domain :class:`Dataset`, or as a folder.

:func:`export_dataset` writes them with :func:`scheduler.dataset.write_dataset`, in the FORMAT.md
layout that :func:`scheduler.dataset.read_dataset` reads, so import -> export -> import gives the
same database. Coordinates are written as stored (WGS-84, ``crs`` = ``wgs84``) with every digit
(``repr``), so they read back bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from scheduler.dataset import WriteSummary, write_dataset
from scheduler.model import Dataset
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

__all__ = ["ExportSummary", "export_dataset", "load_dataset"]

ExportSummary = WriteSummary
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
            select(
                v.resident_id,
                v.programme,
                v.visit_date,
                v.outcome,
                v.tests,
                v.place,
                v.disability,
                v.hypertension,
                v.diabetes,
            )
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


def export_dataset(
    engine: Engine, out_dir: Path, centre_ids: Iterable[str] | None = None
) -> ExportSummary:
    """Write the active registers of the database (or of ``centre_ids``) to ``out_dir``."""
    require_current_schema(engine)
    with Session(engine) as session:
        dataset = load_dataset(session, centre_ids)
    return write_dataset(dataset, out_dir)
