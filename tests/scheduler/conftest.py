"""Small hand-built registers shared by the scheduler tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

import pytest

from scheduler.model import (
    AvailabilityItem,
    Centre,
    Clinician,
    Committee,
    Dataset,
    Disability,
    HistoryRecord,
    Location,
    Resident,
    Role,
    ServiceRequest,
    TimeWindow,
    TravelMode,
)

WEEK = dt.date(2026, 11, 30)  # a Monday: the reference week
CENTRE = Location(31.1500, 121.4000)


def clinician(
    clinician_id: str,
    role: Role,
    skills: Iterable[str] = (),
    team_id: str = "T1",
    work_days: Iterable[int] = range(5),
    mode: TravelMode = TravelMode.EBIKE,
    shift: tuple[int, int] = (8 * 60, 16 * 60 + 30),
    lunch: tuple[int, int] | None = (11 * 60 + 30, 12 * 60 + 30),
) -> Clinician:
    """A clinician of centre C1 with the usual hours."""
    return Clinician(
        clinician_id,
        clinician_id,
        team_id,
        "C1",
        role,
        frozenset(skills),
        mode,
        frozenset(work_days),
        TimeWindow(*shift),
        TimeWindow(*lunch) if lunch else None,
    )


def resident(
    resident_id: str,
    age: int,
    *,
    north_m: float = 300.0,
    east_m: float = 0.0,
    team_id: str = "T1",
    committee_id: str = "K1",
    availability: tuple[AvailabilityItem, ...] = (),
    **flags: object,
) -> Resident:
    """A resident ``age`` years old at the reference week, placed relative to the centre."""
    return Resident(
        resident_id=resident_id,
        name=resident_id,
        birth_date=dt.date(WEEK.year - age, 6, 1),
        location=Location(CENTRE.lat + north_m / 111_000, CENTRE.lon + east_m / 95_000),
        committee_id=committee_id,
        team_id=team_id,
        availability=availability,
        **flags,  # type: ignore[arg-type]
    )


DatasetFactory = Callable[..., Dataset]


@pytest.fixture
def make_dataset() -> DatasetFactory:
    """Build a one-centre dataset from residents, clinicians, history and requests."""

    def build(
        residents: Iterable[Resident],
        clinicians: Iterable[Clinician] | None = None,
        history: Iterable[tuple[str, str, dt.date]] = (),
        requests: Iterable[ServiceRequest] = (),
        overrides: dict[str, dict[str, object]] | None = None,
    ) -> Dataset:
        staff = (
            list(clinicians)
            if clinicians is not None
            else [
                clinician("D1", Role.DOCTOR, ["ecg"]),
                clinician("N1", Role.NURSE, ["blood_draw", "wound"]),
                clinician("A1", Role.ASSISTANT),
                clinician("R1", Role.REHAB, ["rehab"]),
            ]
        )
        return Dataset(
            centres={"C1": Centre("C1", "Centre", CENTRE)},
            committees={
                "K1": Committee("K1", "C1", "Committee", Location(CENTRE.lat + 0.004, CENTRE.lon))
            },
            clinicians={c.clinician_id: c for c in staff},
            residents={r.resident_id: r for r in residents},
            history=tuple(HistoryRecord(rid, prog, day) for rid, prog, day in history),
            requests=tuple(requests),
            programme_overrides=overrides or {},
        )

    return build


__all__ = ["WEEK", "DatasetFactory", "Disability", "clinician", "resident"]
