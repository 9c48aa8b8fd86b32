"""The year's quotas (Tianjin Annex 1): read from a CSV file, kept in the database.

The file has the annex's own headers (or English ones): ``行政区`` (``unit``: a district, or a
centre or team id when a site sets quotas lower down), ``老年人家医签约`` (``signed_elders``)
and ``入户医疗护理服务`` (``home_visits``). A total row (``合  计`` / ``合计``) is checked against
the sum of the others and not stored. Tianjin's 2021 figures ship as
:data:`TIANJIN_2021` (a test compares them with the seed).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Final

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from service.db.tables import QuotaRow
from service.reports.compute import ReportError

__all__ = ["TIANJIN_2021", "read_quota_file", "store_quotas"]

TIANJIN_2021: Final = Path(__file__).with_name("data") / "tianjin-2021-annex1.csv"
"""Tianjin's 2021 quotas per district, as the seed's Annex 1 prints them (total row included)."""

_COLUMNS: Final = {
    "行政区": "unit",
    "unit": "unit",
    "老年人家医签约": "signed_elders",
    "signed_elders": "signed_elders",
    "入户医疗护理服务": "home_visits",
    "home_visits": "home_visits",
}
_NUMBERS: Final = (("signed_elders", "老年人家医签约"), ("home_visits", "入户医疗护理服务"))
_TOTALS: Final = frozenset({"合  计", "合计", "total"})


def read_quota_file(path: Path) -> dict[str, tuple[int, int]]:
    """unit -> (signed elders, home visits); :class:`ReportError` lists every problem by file,
    row, column and value."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ReportError(f"{path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path}: is not UTF-8 text; save it as CSV UTF-8") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    names = {i: _COLUMNS.get(h.strip()) for i, h in enumerate(header)}
    missing = [
        f"{zh} ({en})"
        for zh, en in (
            ("行政区", "unit"),
            ("老年人家医签约", "signed_elders"),
            ("入户医疗护理服务", "home_visits"),
        )
        if en not in names.values()
    ]
    if missing:
        raise ReportError(f"{path.name}: column(s) missing: {', '.join(missing)}")
    problems: list[str] = []
    quotas: dict[str, tuple[int, int]] = {}
    total: tuple[int, int] | None = None
    for number, cells in enumerate(reader, start=2):
        row = {names[i]: c.strip() for i, c in enumerate(cells) if names.get(i)}
        if not any(row.values()):
            continue
        values = []
        for column, zh in (
            ("signed_elders", "老年人家医签约"),
            ("home_visits", "入户医疗护理服务"),
        ):
            text_value = row.get(column, "").replace(",", "")
            if not text_value.isdigit():
                problems.append(
                    f"{path.name}, row {number}, column {zh}: '{row.get(column, '')}' is not a "
                    "whole number (不是整数)"
                )
            values.append(int(text_value) if text_value.isdigit() else 0)
        unit = row.get("unit", "")
        if unit in _TOTALS:
            total = (values[0], values[1])
        elif not unit:
            problems.append(f"{path.name}, row {number}, column 行政区: is empty (名称为空)")
        elif unit in quotas:
            problems.append(f"{path.name}, row {number}, column 行政区: '{unit}' is listed twice")
        else:
            quotas[unit] = (values[0], values[1])
    if total is not None and not problems:
        sums = (sum(q[0] for q in quotas.values()), sum(q[1] for q in quotas.values()))
        if sums != total:
            problems.append(
                f"{path.name}: the total row says {total[0]} / {total[1]}, the rows add up to "
                f"{sums[0]} / {sums[1]} (合计与各行之和不符)"
            )
    if problems:
        raise ReportError("; ".join(problems))
    if not quotas:
        raise ReportError(f"{path.name}: no quota rows")
    return quotas


def store_quotas(session: Session, year: int, quotas: dict[str, tuple[int, int]]) -> None:
    """Replace the stored quotas of ``year`` (in the caller's transaction)."""
    session.execute(delete(QuotaRow).where(QuotaRow.year == year))
    session.execute(
        insert(QuotaRow),
        [
            {"year": year, "unit": unit, "signed_elders": s, "home_visits": v}
            for unit, (s, v) in quotas.items()
        ],
    )
