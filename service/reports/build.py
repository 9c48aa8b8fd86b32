"""One report as asked: its tables and pictures from one read of the records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy.orm import Session

from service.reports.compute import (
    OverdueResident,
    ReportError,
    Scope,
    Table,
    annex1,
    annex2,
    annex3,
    coverage,
    load_report_data,
    overdue_residents,
    weekly_visits,
)

__all__ = ["Report", "ReportKind", "make_report"]


class ReportKind(StrEnum):
    """What to report: one of the seeds' tables, the programme coverage, or all of them."""

    ANNEX1 = "annex1"
    ANNEX2 = "annex2"
    ANNEX3 = "annex3"
    COVERAGE = "coverage"
    ALL = "all"


CHART_QUOTA = "任务进度 Quota progress per unit"
CHART_TREND = "每周完成访视 Weekly visits by programme"
CHART_OVERDUE = "逾期居民分布 Map of residents overdue"


@dataclass(slots=True)
class Report:
    """The tables (checked when written), the charts as PNG, and what could not be made."""

    tables: list[Table] = field(default_factory=list)
    charts: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    overdue: list[OverdueResident] = field(default_factory=list)
    seconds: float = 0.0


def make_report(
    session: Session,
    kind: ReportKind,
    scope: Scope,
    name_of: Callable[[str, str], str],
    *,
    quotas: dict[str, tuple[int, int]] | None = None,
    with_charts: bool = True,
) -> Report:
    """The report ``kind`` of ``scope``.

    For ``all``, a table that cannot be made (no quota loaded) becomes a problem on the page;
    for one table it raises :class:`ReportError`.
    """
    import time

    from service.reports import charts  # matplotlib: loaded only when a report is made

    started = time.perf_counter()
    data = load_report_data(session, scope)
    report = Report()
    wanted = (
        [ReportKind.ANNEX1, ReportKind.ANNEX2, ReportKind.ANNEX3, ReportKind.COVERAGE]
        if kind is ReportKind.ALL
        else [kind]
    )
    for item in wanted:
        try:
            if item is ReportKind.ANNEX1:
                table = annex1(session, data, quotas)
                report.tables.append(table)
                if with_charts:
                    report.charts[CHART_QUOTA] = charts.quota_progress(table)
            elif item is ReportKind.ANNEX2:
                report.tables.append(annex2(data))
            elif item is ReportKind.ANNEX3:
                report.tables.append(annex3(data))
            else:
                report.overdue = overdue_residents(session, data)
                report.tables += coverage(data, report.overdue, name_of)
                if with_charts:
                    centres = _centre_points(session, data.residents)
                    report.charts[CHART_OVERDUE] = charts.overdue_map(report.overdue, centres)
        except ReportError as exc:
            if kind is not ReportKind.ALL:
                raise
            report.problems.append(str(exc))
    if with_charts and kind in (ReportKind.ALL, ReportKind.ANNEX2, ReportKind.ANNEX3):
        report.charts[CHART_TREND] = charts.weekly_trend(weekly_visits(data))
    report.seconds = time.perf_counter() - started
    return report


def _centre_points(session: Session, residents: object) -> list[tuple[str, float, float]]:
    from sqlalchemy import select

    from service.db.tables import CentreRow

    wanted = {r.centre_id for r in residents.values()}  # type: ignore[attr-defined]
    return [
        (row.name, row.lat, row.lon)
        for row in session.execute(
            select(CentreRow.centre_id, CentreRow.name, CentreRow.lat, CentreRow.lon)
        )
        if row.centre_id in wanted
    ]


def default_start(kind: ReportKind, end: dt.date) -> dt.date:
    """Annex 1 counts the year to date; the others default to the quarter of ``end``."""
    if kind is ReportKind.ANNEX1:
        return dt.date(end.year, 1, 1)
    return dt.date(end.year, 3 * ((end.month - 1) // 3) + 1, 1)
