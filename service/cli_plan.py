"""The core's commands: ``plan`` a week, ``check`` a plan, list what is ``due``, write the
``sample`` data; each runs :func:`scheduler.solve.build_problem` / :func:`scheduler.solve.solve`
and the evaluator, and adds nothing to them but the reading, the printing and the exit codes.

:mod:`service.cli` adds them to the one ``homevisit`` app with :func:`register`.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from scheduler.coords import parse_region
from scheduler.dataset import DatasetError, read_dataset
from scheduler.dataset.plan_files import due_rows, read_plan, write_due_list, write_plan
from scheduler.evaluate import Evaluation, LeftOutKind, evaluate, left_out_kind
from scheduler.executor import make_executor
from scheduler.model import Dataset, Plan, Problem, monday_of
from scheduler.params import (
    TIME_LIMIT_DEFAULT_S,
    TIME_LIMIT_MAX_S,
    TIME_LIMIT_MIN_S,
    SolveParams,
)
from scheduler.programmes import builtin_programmes
from scheduler.roads import OsrmTravel, RoadRouterError, RoadsReport
from scheduler.solve import Cut, PartProgress, PlanningOptions, build_problem, solve
from scheduler.solvers.ortools_model import Progress as SolveProgress
from scheduler.travel import TravelTimeProvider
from service.cli_roads import roads_option
from service.settings import Settings

console = Console()
err_console = Console(stderr=True)


def _parse_week(text: str) -> dt.date:
    try:
        week = dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not a date; give the Monday as YYYY-MM-DD") from None
    if week != monday_of(week):
        raise typer.BadParameter(f"{text} is a {week:%A}; give the Monday, e.g. {monday_of(week)}")
    return week


def settings_or_exit() -> Settings:
    """The settings, or each bad ``HOMEVISIT_*`` variable named with what is wrong (exit 2)."""
    from pydantic import ValidationError

    from service.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "HOMEVISIT_" + "_".join(str(part) for part in error["loc"]).upper()
            message = str(error["msg"]).removeprefix("Value error, ")
            err_console.print(f"[bold red]{name}: {message}[/]", highlight=False)
        raise typer.Exit(2) from None


def load_dataset_or_exit(dataset: Path) -> Dataset:
    """The dataset (or the database's registers for ``db``), or its problems and exit code 2.

    Points must lie in the ``HOMEVISIT_REGION`` box (China unless set).
    """
    if str(dataset) == "db":  # the registers and visit history kept in the database
        return _load_database()
    settings = settings_or_exit()  # its region was checked: four numbers, or empty (China)
    try:
        data = read_dataset(dataset, settings.read_limits(), region=parse_region(settings.region))
    except DatasetError as exc:
        from service.cli_db import print_problems

        err_console.print(
            f"[bold red]数据集 {dataset} 有 {len(exc.problems)} 个问题 / "
            f"The dataset {dataset} has {len(exc.problems)} problem(s):[/]"
        )
        print_problems(exc.problems)
        raise typer.Exit(2) from None
    _print_warnings(data)
    return data


def _print_warnings(data: Dataset) -> None:
    """What the reader let pass but the user must hear about (e.g. a preference dropped)."""
    for warning in data.warnings:
        err_console.print(f"[yellow]Warning 注意:[/] {escape(warning)}", highlight=False)


def _problem(
    dataset: Path,
    week_start: dt.date,
    centre: list[str] | None,
    cross_team_cover: bool,
    max_overtime: int,
) -> tuple[Dataset, Problem]:
    """The registers and the week's problem, or a clear message and exit code 2."""
    data = load_dataset_or_exit(dataset)
    options = PlanningOptions(cross_team_cover=cross_team_cover, max_overtime_min=max_overtime)
    try:
        return data, build_problem(data, week_start, centre_ids=centre, options=options)
    except ValueError as exc:
        err_console.print(f"[bold red]{exc}[/]")
        raise typer.Exit(2) from None


def _load_database() -> Dataset:
    """The active registers, history and requests of the configured database."""
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from service.db.exporter import load_dataset
    from service.db.session import (
        SchemaNotCurrentError,
        embedded_ready,
        make_engine,
        require_current_schema,
    )

    engine = make_engine()
    try:
        embedded_ready(engine)
        require_current_schema(engine)
        with Session(engine) as session:
            return load_dataset(session)
    except SchemaNotCurrentError as exc:
        err_console.print(f"[bold red]{exc}[/]")
        raise typer.Exit(2) from None
    except SQLAlchemyError:
        err_console.print(
            "[bold red]The database could not be read; check HOMEVISIT_DATABASE_URL[/]"
        )
        raise typer.Exit(2) from None
    finally:
        engine.dispose()


class _StopOnInterrupt:
    """Turns the first Ctrl-C into a polite stop (keep the best plan); a second one aborts."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self._previous: object = None

    def __enter__(self) -> _StopOnInterrupt:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested.is_set():
            raise KeyboardInterrupt
        self.requested.set()
        err_console.print(
            "[yellow]Stopping: keeping the best plan found so far (Ctrl-C again to abort)[/]"
        )

    def __call__(self) -> bool:
        return self.requested.is_set()


def plan_command(
    dataset: Annotated[
        Path,
        typer.Argument(
            help="Dataset folder (or .xlsx) as in docs/dataset-format.md, or 'db' for the database."
        ),
    ],
    week: Annotated[str, typer.Option(help="Monday of the week to plan, YYYY-MM-DD.")],
    out: Annotated[
        Path, typer.Option(help="Folder to write plan.csv, routes.csv, unscheduled.csv, kpis.json.")
    ],
    time_limit: Annotated[
        float,
        typer.Option(
            help="Seconds of the whole solve (what it covers: SolveParams).",
            min=TIME_LIMIT_MIN_S,
            max=TIME_LIMIT_MAX_S,
        ),
    ] = TIME_LIMIT_DEFAULT_S,
    centre: Annotated[
        list[str] | None, typer.Option(help="Plan only this centre (repeatable).")
    ] = None,
    cross_team_cover: Annotated[
        bool, typer.Option(help="Let another team of the centre cover.")
    ] = False,
    max_overtime: Annotated[
        int, typer.Option(help="Minutes a day may run over the shift.", min=0)
    ] = 0,
    workers: Annotated[int, typer.Option(help="Processes for independent teams.", min=1)] = 2,
    maps: Annotated[
        bool, typer.Option(help="Also write map pages (OUT/maps/index.html), offline.")
    ] = False,
    district: Annotated[
        bool,
        typer.Option(
            help="Plan the centres side by side (--workers processes or --cluster); "
            "--time-limit is then each centre's."
        ),
    ] = False,
    cluster: Annotated[
        str | None,
        typer.Option(help="With --district: Dask scheduler tcp://host:8786 (HOMEVISIT_CLUSTER)."),
    ] = None,
    roads: Annotated[list[str] | None, roads_option] = None,
) -> None:
    """Plan a week: visits due, routes per clinician and day, reasons for what is left out."""
    week_start = _parse_week(week)
    travel = _travel(roads)
    if district and isinstance(travel, OsrmTravel):
        raise typer.BadParameter("--district plans with the great-circle model only (no --roads)")
    data, problem = _problem(dataset, week_start, centre, cross_team_cover, max_overtime)
    console.print(
        f"Week of {week_start}: {len(problem.visits)} visits due for "
        f"{len(problem.clinicians)} clinicians of {', '.join(problem.centres)} "
        f"(本周应访 {len(problem.visits)} 次)"
    )
    params = SolveParams(time_limit_s=time_limit)
    if district:
        from service.settings import get_settings

        cluster = cluster or get_settings().cluster or None
        plan, evaluation = _solve_district_with_progress(problem, params, workers, cluster)
    else:
        try:
            plan, evaluation = _solve_with_progress(problem, params, workers, travel)
        except RoadRouterError as exc:
            err_console.print(f"[bold red]{exc}[/]", highlight=False)
            raise typer.Exit(2) from None
    _print_summary(problem, plan, evaluation)
    roads_report = _roads_report(problem, travel)
    if not evaluation.feasible:
        err_console.print(
            f"[bold red]The plan failed its check ({len(evaluation.broken)} problems); "
            "nothing written:[/]"
        )
        for violation in evaluation.broken[:20]:
            err_console.print(f"  - [{violation.rule}] {violation.message}", markup=False)
        raise typer.Exit(1)
    _print_alarms(problem, plan, evaluation)
    if evaluation.missed:
        console.print(
            f"[yellow]{len(evaluation.missed)} unscheduled visit(s) would still fit; a longer "
            "--time-limit may place them (仍可排入的未排访视):[/]"
        )
        for violation in evaluation.missed[:10]:
            console.print(f"  - {violation.message}", markup=False)
    findings = [
        v for v in evaluation.violations if v.rule in ("inversion", "late_with_room_earlier")
    ]
    if findings:
        console.print(
            f"[yellow]{len(findings)} visit(s) left out for a less urgent one or planned late "
            "with room earlier (紧急度倒置或可提前未提前):[/]"
        )
        for violation in findings[:10]:
            console.print(f"  - {violation.message}", markup=False)
    kpis = dict(evaluation.kpis)
    if roads_report is not None:
        kpis["roads"] = roads_report
    write_plan(
        out,
        problem,
        plan,
        kpis,
        {k: (r.en, r.zh) for k, r in evaluation.reasons.items()},
    )
    console.print(f"Written to {out}/: plan.csv, routes.csv, unscheduled.csv, kpis.json")
    if maps:
        from maps.write import write_plan_maps

        geometry = travel.leg_geometries() if isinstance(travel, OsrmTravel) else {}
        pages = write_plan_maps(
            out, problem, plan, data, evaluation.reasons, leg_geometry_by_mode=geometry
        )
        console.print(f"Maps 地图: {pages[0]} ({len(pages)} pages, open from disk, no internet)")


def _travel(roads: list[str] | None) -> TravelTimeProvider:
    """The plan's travel model: ``--roads`` over the ``HOMEVISIT_ROADS_*_URL`` settings."""
    from service.roads import parse_roads, travel_with_roads

    settings = settings_or_exit()
    try:
        return travel_with_roads(settings, parse_roads(roads))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _roads_report(problem: Problem, travel: TravelTimeProvider) -> dict[str, RoadsReport] | None:
    """Print and return which modes were routed and which cells fell back (residents by id)."""
    if not isinstance(travel, OsrmTravel):
        return None
    from scheduler.roads import fallback_report

    report = fallback_report(problem, travel)
    for mode, entry in report.items():
        cells = entry["fallback_cells"]
        line = f"Road times 路网时间 {mode}: {entry['url']}"
        if cells:
            residents = entry["fallback_residents"]
            shown = ", ".join(residents[:10]) + (" ..." if len(residents) > 10 else "")
            line += (
                f"; {cells} cell(s) off the network used the straight-line model "
                f"(路网外, residents {shown or '-'})"
            )
        console.print(line, markup=False, highlight=False)
    return report


ALARMS_SHOWN = 20  # the rest are in unscheduled.csv


def _print_alarms(problem: Problem, plan: Plan, evaluation: Evaluation) -> None:
    """The due or overdue visits left out, with their reasons (the optional ones are no alarm)."""
    visits = {v.visit_id: v for v in problem.visits}
    alarms = [
        u
        for u in plan.unscheduled
        if u.visit_id in visits
        and left_out_kind(problem, visits[u.visit_id]) is LeftOutKind.UNSCHEDULED
    ]
    if not alarms:
        return
    console.print(
        f"[bold red]{len(alarms)} due or overdue visit(s) left out 未排的应访/逾期访视:[/]"
    )
    for left in alarms[:ALARMS_SHOWN]:
        reason = evaluation.reasons.get(left.visit_id)
        zh, en = (reason.zh, reason.en) if reason else (left.reason_zh, left.reason)
        console.print(f"  - {left.visit_id}: {zh}\n    {en}", markup=False, highlight=False)
    if len(alarms) > ALARMS_SHOWN:
        console.print(f"  ... and {len(alarms) - ALARMS_SHOWN} more in unscheduled.csv")


def _solve_with_progress(
    problem: Problem, params: SolveParams, workers: int, travel: TravelTimeProvider
) -> tuple[Plan, Evaluation]:
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]Solving 求解中"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("placed {task.fields[placed]}/{task.fields[visits]}"),
        TextColumn("best cost {task.fields[cost]}"),
    )
    with Progress(*columns, console=console, transient=False) as bar, _StopOnInterrupt() as stop:
        task = bar.add_task(
            "solve", total=params.time_limit_s, placed=0, visits=len(problem.visits), cost="-"
        )
        started = time.monotonic()

        def on_progress(p: SolveProgress) -> None:
            bar.update(
                task,
                completed=min(p.elapsed_s, params.time_limit_s),
                placed=p.visits_placed,
                cost=f"{p.best_cost:,}",
            )

        result = solve(
            problem,
            params,
            travel=travel,
            progress=on_progress,
            should_stop=stop,
            workers=workers,
        )
        bar.update(
            task, completed=params.time_limit_s if not stop() else time.monotonic() - started
        )
    return result


def _solve_district_with_progress(
    problem: Problem, params: SolveParams, workers: int, cluster: str | None
) -> tuple[Plan, Evaluation]:
    """:func:`solve` cut by centre, with a progress bar of the centres done and running.

    The centres are solved in ``workers`` local processes, or on the Dask scheduler at
    ``cluster`` (``tcp://host:8786``) when given; ``params.time_limit_s`` is each centre's.
    """
    where = cluster or f"{workers} process(es)"
    console.print(
        f"Planning {len(problem.centres)} centre(s) on {where}, {params.time_limit_s:g} s each "
        "(各中心并行求解)",
        highlight=False,
    )
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]Centres 中心"),
        BarColumn(),
        TextColumn("done 完成 {task.completed:.0f}/{task.total:.0f}"),
        TextColumn("running 进行中 {task.fields[running]}"),
        TimeElapsedColumn(),
    )
    with (
        Progress(*columns, console=console, transient=False) as bar,
        make_executor(cluster, workers) as executor,
    ):
        task = bar.add_task("district", total=len(problem.centres), running=0)

        def on_part(p: PartProgress) -> None:
            bar.update(task, completed=p.done, total=p.total, running=p.running)
            if p.centre_id is not None:
                bar.console.print(f"  {p.centre_id} planned ({p.seconds} s)")

        return solve(problem, params, executor=executor, cut=Cut.CENTRE, on_part=on_part)


def _print_summary(problem: Problem, plan: Plan, evaluation: Evaluation) -> None:
    k = evaluation.kpis
    on_time = k.get("on_time")
    if not isinstance(on_time, dict):
        on_time = {}
    table = Table(title="Plan summary 排班摘要", show_header=True)
    table.add_column("measure 指标")
    table.add_column("value 数值", justify="right")
    rows = [
        ("visits due 应访", k.get("visits_due")),
        ("scheduled 已排", k.get("visits_scheduled")),
        ("unscheduled, due/overdue 未排（应访/逾期）", k.get("visits_unscheduled")),
        ("optional, not placed 可选未排", k.get("visits_optional_not_placed")),
        ("not due this week 本周无需", k.get("visits_not_due_this_week")),
        ("travel h 路途小时", round(float(k.get("travel_min_total", 0)) / 60, 1)),  # type: ignore[arg-type]
        ("travel km 路途公里", k.get("travel_km_total")),
        ("overtime min 加班分钟", k.get("overtime_min_total")),
        ("continuity 同一医护率", k.get("continuity_rate")),
        ("routes 路线数", len(plan.routes)),
        ("solve s 求解秒", plan.solve_seconds),
        (
            "check 校验",
            "passed 通过" if evaluation.feasible else f"{len(evaluation.broken)} problems",
        ),
        ("still fit 仍可排入", len(evaluation.missed)),
        ("late, after due date 晚于应访日期", on_time.get("visits_late")),
        ("visit-days late 延误人天", on_time.get("visit_days_late")),
        (
            "overdue on first feasible day 逾期访视首个可行日完成",
            f"{on_time.get('overdue_on_first_feasible_day')} / {on_time.get('overdue_scheduled')}",
        ),
        ("urgency inversions 紧急度倒置", k.get("inversions")),
        ("late with room earlier 可提前未提前", k.get("late_with_room_earlier")),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    by_programme = k.get("by_programme")
    if isinstance(by_programme, dict):
        t2 = Table(title="By programme 按服务项目")
        t2.add_column("programme 项目")
        t2.add_column("due 应访", justify="right")
        t2.add_column("scheduled 已排", justify="right")
        names = builtin_programmes()
        for name, counts in sorted(by_programme.items()):
            label = f"{names[name].name_zh} {name}" if name in names else name
            t2.add_row(label, str(counts.get("due")), str(counts.get("scheduled")))
        console.print(t2)


def check_command(
    dataset: Annotated[Path, typer.Argument(help="The dataset the plan was made from.")],
    plan_dir: Annotated[
        Path, typer.Argument(help="Folder with plan.csv, routes.csv, unscheduled.csv.")
    ],
    week: Annotated[str, typer.Option(help="Monday of the planned week, YYYY-MM-DD.")],
    centre: Annotated[list[str] | None, typer.Option(help="The centre(s) planned.")] = None,
    cross_team_cover: Annotated[bool, typer.Option()] = False,
    max_overtime: Annotated[int, typer.Option(min=0)] = 0,
    roads: Annotated[list[str] | None, roads_option] = None,
) -> None:
    """Re-check a written plan against the dataset with the independent evaluator."""
    week_start = _parse_week(week)
    travel = _travel(roads)
    _, problem = _problem(dataset, week_start, centre, cross_team_cover, max_overtime)
    try:
        plan = read_plan(plan_dir, problem)
    except DatasetError as exc:
        for problem_ in exc.problems:
            err_console.print(f"  - {problem_}", markup=False)
        raise typer.Exit(2) from None
    try:
        evaluation = evaluate(problem, plan, travel)
    except RoadRouterError as exc:
        err_console.print(f"[bold red]{exc}[/]", highlight=False)
        raise typer.Exit(2) from None
    _print_summary(problem, plan, evaluation)
    for violation in evaluation.violations:
        console.print(f"  - [{violation.rule}] {violation.message}", markup=False)
    raise typer.Exit(0 if evaluation.feasible else 1)


def due_command(
    dataset: Annotated[
        Path, typer.Argument(help="Dataset folder (or .xlsx), or 'db' for the database.")
    ],
    week: Annotated[str, typer.Option(help="Monday of the week, YYYY-MM-DD.")],
    centre: Annotated[list[str] | None, typer.Option(help="Only this centre (repeatable).")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Also write the list as a CSV file (UTF-8 with BOM).")
    ] = None,
) -> None:
    """List the week's visits before any solve: who, what, how urgent, why, when (本周应访清单)."""
    week_start = _parse_week(week)
    _, problem = _problem(dataset, week_start, centre, False, 0)
    rows = due_rows(problem)
    table = Table(title=f"Visits of the week {week_start} 本周应访 ({len(rows)})")
    for header in (
        "resident 居民",
        "programme 项目",
        "urgency 紧急度",
        "last visit 上次",
        "due by 截止",
        "days and times 可做时间",
    ):
        table.add_column(header)
    for row in rows:
        table.add_row(
            *(
                escape(str(value))
                for value in (
                    row["resident_id"] or f"{row['committee_id']} (居委 committee)",
                    f"{row['programme_zh']} {row['programme']}".strip(),
                    _URGENCY_LABELS.get(str(row["urgency"]), str(row["urgency"])),
                    row["last_visit"] or "-",
                    row["due_by"],
                    row["windows"] or "none 无",
                )
            )
        )
    console.print(table)
    if out is not None:
        write_due_list(out, problem)
        console.print(f"Written to {out} (with the rule of each visit 含规则说明)")


_URGENCY_LABELS = {"overdue": "逾期 overdue", "due": "应访 due", "optional": "可选 optional"}


def sample_command(
    out: Annotated[Path, typer.Argument(help="Folder to write the sample dataset to.")],
    scope: Annotated[
        str,
        typer.Option(help="'centre' (Gumei, ~2,500 residents) or 'district' (Minhang, ~40,000)."),
    ] = "centre",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2026,
) -> None:
    """Write the seeded Minhang sample dataset (reference week 2026-11-30)."""
    from scenarios.sample import generate
    from scheduler.dataset import write_dataset

    if scope not in ("centre", "district"):
        raise typer.BadParameter("scope must be 'centre' or 'district'")
    write_dataset(generate(scope, seed=seed), out)  # type: ignore[arg-type]
    console.print(f"Sample {scope} dataset written to {out}/")


def register(app: typer.Typer) -> None:
    """Add ``plan``, ``check``, ``due`` and ``sample`` to the ``homevisit`` app."""
    app.command("plan")(plan_command)
    app.command("check")(check_command)
    app.command("due")(due_command)
    app.command("sample")(sample_command)
