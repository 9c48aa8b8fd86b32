"""One report as asked: its tables and pictures from one read of the records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
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
    data_notice,
    load_report_data,
    overdue_residents,
    weekly_visits,
)
from service.reports.export import PageForm

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
    """The tables (checked when written), the charts as PNG, what could not be made, and why
    the figures are empty when they are (``notices``: no register, no records in the period)."""

    tables: list[Table] = field(default_factory=list)
    charts: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
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
    for one table it raises :class:`ReportError`. With nothing to count (no resident in the
    scope, no record in the period) the notice saying so and what to import is the report's
    ``notices`` and the first note of every table (so the files say it too).
    """
    import time

    from service.reports import charts  # matplotlib: loaded only when a report is made

    started = time.perf_counter()
    data = load_report_data(session, scope)
    with_charts = with_charts and bool(data.keys)  # no resident: empty axes would say nothing
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
                    centres = _centre_points(session, set(data.centre_ids))
                    report.charts[CHART_OVERDUE] = charts.overdue_map(report.overdue, centres)
        except ReportError as exc:
            if kind is not ReportKind.ALL:
                raise
            report.problems.append(str(exc))
    if with_charts and kind in (ReportKind.ALL, ReportKind.ANNEX2, ReportKind.ANNEX3):
        report.charts[CHART_TREND] = charts.weekly_trend(weekly_visits(data))
    notice = data_notice(data)
    if notice is not None:
        report.notices.append(notice)
        report.tables = [replace(t, notes=(notice, *t.notes)) for t in report.tables]
    report.seconds = time.perf_counter() - started
    return report


SHORT_NAMES = {
    "annex1": "附件1 任务进度 Annex 1",
    "annex2": "附件2 签约老年人 Annex 2",
    "annex3": "附件3 失能半失能入户 Annex 3",
    "coverage": "789 覆盖 coverage",
    "overdue": "逾期居民 overdue",
}
"""Short names of the tables, for a page's navigation."""


def headline(report: Report) -> list[tuple[str, str, str]]:
    """The few figures a planner looks for first: (label, value, detail), from the tables."""
    tables = {t.name: t for t in report.tables}
    cards: list[tuple[str, str, str]] = []
    if "annex1" in tables:
        total = tables["annex1"].rows[-1]
        quota, done, expected, shortfall, forecast = (int(v) for v in total[6:11])  # type: ignore[call-overload]
        cards.append(
            (
                "入户医疗护理服务 home visits",
                f"{done:,} / {quota:,}",
                f"应完成 expected {expected:,}; 差额 shortfall {shortfall:,}; "
                f"年底预计 forecast {forecast:,}",
            )
        )
        signed_quota, signed = int(total[1]), int(total[2])  # type: ignore[call-overload]
        cards.append(
            ("老年人家医签约 signed elders", f"{signed:,} / {signed_quota:,}", "年度任务 quota")
        )
    if "annex3" in tables:
        total = tables["annex3"].rows[-1]
        cards.append(
            (
                "失能半失能入户 disabled 60+ at home",
                f"{int(total[9]):,}",  # type: ignore[call-overload]
                f"服务对象 people served {int(total[2]):,}",  # type: ignore[call-overload]
            )
        )
    if "coverage" in tables:
        total = tables["coverage"].rows[-1]
        cards.append(
            (
                "80岁以上本季度随访 80+ visited this quarter",
                str(total[3]),
                f"{int(total[2]):,} / {int(total[1]):,}",  # type: ignore[call-overload]
            )
        )
        cards.append(
            (
                "逾期居民 residents overdue",
                f"{int(total[8]):,}",  # type: ignore[call-overload]
                f"百岁家床老人每月巡诊两次 centenarians on a sick-bed with their rounds "
                f"{total[5]} / {total[4]}",
            )
        )
    return cards


def _centre_points(session: Session, wanted: set[str]) -> list[tuple[str, float, float]]:
    from sqlalchemy import select

    from service.db.tables import CentreRow

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


def report_page(report: Report, scope: Scope, form: PageForm | None = None) -> str:
    """The report as the planner's HTML page: title, key figures, charts, tables (and, served,
    ``form``: the way back, the question to ask again, the files)."""
    from service.reports.export import html_page

    title = f"统计报告 Report {scope.start} ~ {scope.end}"
    intro = (
        "数据全部来自系统记录，无需手动填报 Every figure comes from the records; "
        f"按 by {scope.by.value}; 计算 computed in {report.seconds:.2f} s"
    )
    return html_page(
        title,
        report.tables,
        report.charts,
        intro,
        report.problems,
        cards=headline(report),
        notices=report.notices,
        short_names=SHORT_NAMES,
        form=form,
    )
