"""Writing a dataset: the registers as the FORMAT.md folder that :func:`read_dataset` reads.

:func:`write_dataset` is the one writer of the format. It takes a :class:`~scheduler.model.Dataset`
(the database's export, a test's hostile registers) or tables keyed by file stem (the sample of
:func:`scenarios.sample.generate`), and writes one UTF-8 CSV file per table (no BOM, ``\\n``
line ends, no index). Registers open in Excel too, so no text cell may start a formula
(:mod:`scheduler.cells`); the reader takes the quote away again, so write -> read changes
nothing. Coordinates are numbers and written as they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import pandas as pd
import yaml

from scheduler.cells import neutralise_cell
from scheduler.dataset.schema import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from scheduler.dataset.values import format_availability, format_weekdays, format_words
from scheduler.model import Dataset, format_hhmm, format_tests

__all__ = ["WriteSummary", "dataset_tables", "write_dataset"]

WriteSummary = dict[str, int]
"""Rows written per file (``residents.csv`` -> 1203; ``programmes.yaml`` -> its programmes)."""

_COORDINATES: Final = frozenset({"lat", "lon"})
"""Columns written as numbers (degrees, possibly negative), not text."""


def _coordinate(value: float) -> str:
    """Every digit (``repr``), so a coordinate reads back bit for bit."""
    return repr(float(value))


def _date(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _known(value: bool | None) -> str:
    return "" if value is None else _flag(value)


def _frame(columns: tuple[str, ...], rows: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns), dtype=object)


def dataset_tables(dataset: Dataset) -> dict[str, pd.DataFrame]:
    """The tables of ``dataset`` as text, FORMAT.md's columns first (coordinates in WGS-84,
    ``crs`` = ``wgs84``), keyed by file stem."""
    return {
        "centres": _frame(
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
        "committees": _frame(
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
        "clinicians": _frame(
            (*REQUIRED_COLUMNS["clinicians"], "phone"),
            [
                [
                    c.clinician_id,
                    c.name,
                    c.team_id,
                    c.centre_id,
                    c.role.value,
                    format_words(c.skills),
                    c.travel_mode.value,
                    format_weekdays(c.work_days),
                    format_hhmm(c.shift.start_min),
                    format_hhmm(c.shift.end_min),
                    format_hhmm(c.lunch.start_min) if c.lunch else "",
                    format_hhmm(c.lunch.end_min) if c.lunch else "",
                    c.phone,
                ]
                for c in dataset.clinicians.values()
            ],
        ),
        "residents": _frame(
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
                    format_availability(r.availability),
                    "wgs84",
                    r.address,
                    r.phone,
                    r.sex,
                    format_words(r.conditions),
                    _flag(r.signed),
                    _date(r.signed_since),
                ]
                for r in dataset.residents.values()
            ],
        ),
        "history": _frame(
            (*REQUIRED_COLUMNS["history"], *OPTIONAL_COLUMNS["history"]),
            [
                [
                    h.resident_id,
                    h.programme,
                    h.date.isoformat(),
                    h.outcome.value,
                    format_tests(h.tests),
                    h.place.value if h.place else "",
                    h.disability.value if h.disability else "",
                    _known(h.hypertension),
                    _known(h.diabetes),
                ]
                for h in dataset.history
            ],
        ),
        "sickbeds": _frame(
            (*REQUIRED_COLUMNS["sickbeds"], *OPTIONAL_COLUMNS["sickbeds"]),
            [
                [
                    e.resident_id,
                    e.opened.isoformat(),
                    _date(e.discharged),
                    e.disability.value if e.disability else "",
                ]
                for e in dataset.sickbeds
            ],
        ),
        "requests": _frame(
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
                    format_words(q.skills),
                ]
                for q in dataset.requests
            ],
        ),
    }


def _neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with no text cell that could start a formula (coordinates left alone)."""
    safe = frame.copy()
    for column in safe.columns:
        if column not in _COORDINATES and not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise_cell)
    return safe


def write_dataset(registers: Dataset | Mapping[str, pd.DataFrame], out_dir: Path) -> WriteSummary:
    """Write ``registers`` to ``out_dir`` (created with its parents) as ``<stem>.csv`` files.

    A :class:`~scheduler.model.Dataset` is written as :func:`dataset_tables` lays it out, with
    its programme overrides as ``programmes.yaml``; tables are written with their columns as
    given. Files of the same names are overwritten. Returns the rows written per file.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = dataset_tables(registers) if isinstance(registers, Dataset) else registers
    summary: WriteSummary = {}
    for stem, frame in tables.items():
        _neutralised(frame).to_csv(
            out_dir / f"{stem}.csv", index=False, encoding="utf-8", lineterminator="\n"
        )
        summary[f"{stem}.csv"] = len(frame)
    if isinstance(registers, Dataset) and registers.programme_overrides:
        overrides = {k: dict(v) for k, v in registers.programme_overrides.items()}
        (out_dir / "programmes.yaml").write_text(
            yaml.safe_dump(overrides, allow_unicode=True, sort_keys=True), encoding="utf-8"
        )
        summary["programmes.yaml"] = len(overrides)
    return summary
