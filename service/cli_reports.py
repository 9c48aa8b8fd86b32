"""``homevisit report``: the official tables, the programme coverage and their pictures.

``homevisit report annex1|annex2|annex3|coverage|all --from D --to D [--centre ID]...
[--by team|centre|district] --out FILE.csv|FILE.xlsx|FILE.html`` computes from the records in
the database; ``homevisit report quotas FILE --year Y`` loads the year's quotas (Annex 1).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from maps.base import mask_name
from service.cli_db import DatabaseUrl, _engine, _fail, database_errors
from service.reports.build import ReportKind, default_start, make_report, report_page
from service.reports.compute import Level, ReportError, Scope
from service.reports.export import write_file
from service.reports.quotas import TIANJIN_2021, read_quota_file, store_quotas

__all__ = ["register"]

console = Console(soft_wrap=True)
report_app = typer.Typer(
    help="Statistics tables (天津附件1-3), coverage (闵行789) and charts, from the records.",
    no_args_is_help=True,
)


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _fail(
            f"未写出 Nothing was written: {option} '{text}' is not a date; give YYYY-MM-DD"
        ) from None


def _run(
    kind: ReportKind,
    start: str | None,
    end: str | None,
    centre: list[str] | None,
    by: Level,
    out: Path,
    quotas: Path | None,
    database_url: str | None,
) -> None:
    from service.db.session import require_current_schema

    last = _date(end, "--to") or dt.date.today()
    first = _date(start, "--from") or default_start(kind, last)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".html", ".htm"):
        raise _fail(f"未写出 Nothing was written: --out {out.name}: write .csv, .xlsx or .html")
    if suffix == ".csv" and kind in (ReportKind.ALL, ReportKind.COVERAGE):
        raise _fail(
            f"未写出 Nothing was written: '{kind.value}' has several tables; write .xlsx or .html "
            "(a CSV file holds one table)"
        )
    try:
        scope = Scope(first, last, by, tuple(centre or ()))
        given = read_quota_file(quotas) if quotas is not None else None
    except ReportError as exc:
        raise _fail(f"未写出 Nothing was written: {exc}") from None
    engine = _engine(database_url)
    with database_errors(engine, "未写出 Nothing was written"):
        try:
            require_current_schema(engine)
            with Session(engine) as session:
                report = make_report(
                    session,
                    kind,
                    scope,
                    lambda rid, name: f"{rid} {mask_name(name)}",
                    quotas=given,
                    with_charts=suffix != ".csv",
                )
            write_file(out, report.tables, report.charts, lambda: report_page(report, scope))
        except ReportError as exc:
            raise _fail(f"未写出 Nothing was written: {exc}") from None
        except OSError as exc:
            raise _fail(
                f"未写出 Nothing was written: cannot write {out} ({exc.strerror})"
            ) from None
    for problem in (*report.notices, *report.problems):
        console.print(problem, style="yellow", markup=False, highlight=False)
    names = ", ".join(t.title for t in report.tables)
    console.print(
        f"Written {out} ({first} ~ {last}, by {by.value}): {names}; "
        f"{len(report.charts)} chart(s); computed in {report.seconds:.2f} s.",
        markup=False,
        highlight=False,
    )


Start = Annotated[
    str | None,
    typer.Option(
        "--from",
        help="First day, YYYY-MM-DD (default: 1 January for annex1, else the quarter's start).",
        show_default=False,
    ),
]
End = Annotated[
    str | None,
    typer.Option("--to", help="Last day, YYYY-MM-DD (default: today).", show_default=False),
]
Centres = Annotated[
    list[str] | None, typer.Option("--centre", help="Only this centre (repeatable).")
]
By = Annotated[Level, typer.Option("--by", help="The level of the rows; the total is the city.")]
Out = Annotated[Path, typer.Option("--out", help="FILE.csv, FILE.xlsx (with charts) or .html.")]
Quotas = Annotated[
    Path | None,
    typer.Option(
        "--quotas",
        help="A quota file to use instead of the quotas loaded (annex1, all).",
        show_default=False,
    ),
]


def _command(kind: ReportKind, doc: str) -> None:
    def command(
        out: Out,
        start: Start = None,
        end: End = None,
        centre: Centres = None,
        by: By = Level.DISTRICT,
        quotas: Quotas = None,
        database_url: DatabaseUrl = None,
    ) -> None:
        _run(kind, start, end, centre, by, out, quotas, database_url)

    command.__doc__ = doc
    report_app.command(kind.value)(command)


_command(
    ReportKind.ANNEX1,
    "Annex 1 (附件1): per unit the year's quotas, done, expected by now, shortfall, forecast.",
)
_command(ReportKind.ANNEX2, "Annex 2 (附件2): signed elders, health checks, each test done.")
_command(
    ReportKind.ANNEX3,
    "Annex 3 (附件3): home care of the disabled and semi-disabled 60+; total = 3+...+8.",
)
_command(
    ReportKind.COVERAGE,
    "Minhang 789 coverage (闵行789): 80+ this quarter, centenarian rounds, deliveries, overdue.",
)
_command(ReportKind.ALL, "Every table and chart in one .xlsx or .html report (报告).")


@report_app.command("quotas")
def quotas_command(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="CSV: 行政区, 老年人家医签约, 入户医疗护理服务 (default: Tianjin 2021)."
        ),
    ] = None,
    year: Annotated[int, typer.Option(help="The year the quotas are for.")] = 2021,
    database_url: DatabaseUrl = None,
) -> None:
    """Load a year's quotas (附件1任务量) into the database, replacing that year's."""
    from service.db.session import require_current_schema

    path = file or TIANJIN_2021
    try:
        quotas = read_quota_file(path)
    except ReportError as exc:
        raise _fail(f"未载入 Nothing was loaded: {exc}") from None
    engine = _engine(database_url)
    with database_errors(engine, "未载入 Nothing was loaded"):
        require_current_schema(engine)
        with Session(engine) as session, session.begin():
            store_quotas(session, year, quotas)
    console.print(f"Loaded {len(quotas)} quota(s) for {year} from {path.name}.", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``homevisit report`` to the app."""
    app.add_typer(report_app, name="report")
