"""``homevisit replan``: same-day changes on a written plan, re-planned in seconds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from scheduler.dataset import DatasetError, read_requests
from scheduler.dataset.plan_files import read_plan
from scheduler.dataset.values import parse_time
from scheduler.model import Dataset, Plan, Problem
from scheduler.params import TIME_LIMIT_MAX_S, TIME_LIMIT_MIN_S, SolveParams
from scheduler.replan import (
    DEFAULT_TIME_LIMIT_S,
    Absence,
    Cancellation,
    Event,
    Postponement,
    Replan,
    ReplanError,
    RunningLate,
    replan,
    where_at,
)
from scheduler.replan_io import write_replan

__all__ = ["register"]


def _date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not a date YYYY-MM-DD", param_hint=option) from None


def _clock(text: str, option: str) -> int:
    try:
        return parse_time(text)
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not a time HH:MM", param_hint=option) from None


def _pair(text: str, option: str, example: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise typer.BadParameter(f"'{text}': write it as {example}", param_hint=option)
    return key.strip(), value.strip()


def _events(
    dataset: Dataset,
    problem: Problem,
    base: Plan,
    day: dt.date,
    at_min: int,
    absent: list[str],
    cancel: list[str],
    postpone: list[str],
    late: list[str],
    requests: Path | None,
) -> list[Event]:
    events: list[Event] = []
    for text in absent:
        clinician_id, _, until = text.partition("=")
        last = _date(until, "--absent") if until else None
        if last is not None and last < day:
            raise typer.BadParameter(
                f"'{text}': {last} is before --date {day}", param_hint="--absent"
            )
        events.append(Absence(clinician_id.strip(), day, last, at_min or None))
    events += [Cancellation(visit_id) for visit_id in cancel]
    for text in postpone:
        visit_id, to = _pair(text, "--postpone", "VISIT_ID=YYYY-MM-DD")
        events.append(Postponement(visit_id, _date(to, "--postpone")))
    for text in late:
        clinician_id, free_at = _pair(text, "--late", "CLINICIAN_ID=HH:MM")
        where = where_at(base, problem, clinician_id, day, at_min)
        events.append(RunningLate(clinician_id, day, _clock(free_at, "--late"), where))
    if requests is not None:
        events += list(read_requests(requests, dataset))
    return events


def replan_command(
    dataset: Annotated[Path, typer.Argument(help="The dataset the plan was made from.")],
    plan_dir: Annotated[Path, typer.Argument(help="Folder of a plan written by 'homevisit plan'.")],
    date: Annotated[str, typer.Option(help="Day of the changes, YYYY-MM-DD (in the plan's week).")],
    out: Annotated[Path, typer.Option(help="Folder for the new plan files and changes.csv.")],
    at: Annotated[
        str,
        typer.Option(
            help="Time of the changes, HH:MM: visits started before it stay as they were."
        ),
    ] = "00:00",
    absent: Annotated[
        list[str] | None,
        typer.Option(
            help="Clinician away from --at for the rest of --date; CLINICIAN_ID=YYYY-MM-DD: "
            "until that day (repeatable)."
        ),
    ] = None,
    cancel: Annotated[list[str] | None, typer.Option(help="Visit cancelled (repeatable).")] = None,
    postpone: Annotated[
        list[str] | None, typer.Option(help="VISIT_ID=YYYY-MM-DD: visit moved to that day.")
    ] = None,
    late: Annotated[
        list[str] | None,
        typer.Option(
            help="CLINICIAN_ID=HH:MM: she is held up where she is (her visit in progress at --at) "
            "until then."
        ),
    ] = None,
    requests: Annotated[
        Path | None,
        typer.Option(help="New urgent requests, a CSV file with the columns of requests.csv."),
    ] = None,
    time_limit: Annotated[
        float,
        typer.Option(
            help="Seconds the re-plan may search.", min=TIME_LIMIT_MIN_S, max=TIME_LIMIT_MAX_S
        ),
    ] = DEFAULT_TIME_LIMIT_S,
    tolerance: Annotated[
        int, typer.Option(help="Minutes a kept visit may shift and still count as kept.", min=0)
    ] = 30,
    centre: Annotated[list[str] | None, typer.Option(help="The centre(s) planned.")] = None,
    cross_team_cover: Annotated[bool, typer.Option()] = False,
    max_overtime: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """Re-plan a written plan after same-day changes, moving as little as possible (当日调整)."""
    from service.cli_plan import _print_summary, _problem, console, err_console

    day = _date(date, "--date")
    at_min = _clock(at, "--at")
    week_start = day - dt.timedelta(days=day.weekday())
    data, problem = _problem(dataset, week_start, centre, cross_team_cover, max_overtime)
    try:
        base = read_plan(plan_dir, problem)
        events = _events(
            data,
            problem,
            base,
            day,
            at_min,
            absent or [],
            cancel or [],
            postpone or [],
            late or [],
            requests,
        )
        params = SolveParams(time_limit_s=time_limit, replan_tolerance_min=tolerance)
        result = replan(data, problem, base, events, day=day, at_min=at_min, params=params)
    except DatasetError as exc:
        err_console.print(f"[bold red]{len(exc.problems)} problem(s):[/]")
        for problem_ in exc.problems[:200]:
            err_console.print(f"  - {problem_}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    except ReplanError as exc:
        err_console.print(str(exc), style="bold red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    _print_summary(result.problem, result.plan, result.evaluation)
    if not result.evaluation.feasible:
        err_console.print(
            f"[bold red]The new plan failed its check ({len(result.evaluation.broken)} "
            "problems); nothing written:[/]"
        )
        for violation in result.evaluation.broken[:20]:
            err_console.print(f"  - [{violation.rule}] {violation.message}", markup=False)
        raise typer.Exit(1)
    write_replan(out, result, data)
    _print_changes(result, data, console)
    console.print(
        f"Written to {out}/: plan.csv, routes.csv, unscheduled.csv, kpis.json, changes.csv"
    )


def _print_changes(result: Replan, data: Dataset, console: Console) -> None:
    summary = result.summary()
    console.print(
        f"Re-plan 重新排班: {summary['seconds']} s; had to move 必须调整 "
        f"{summary['visits_had_to_move']}, moved 已调整 {summary['visits_moved']} "
        f"(without having to 非必要 {summary['moved_without_having_to']}); "
        f"back to the due list 退回待排 {summary['sent_to_due_list']}; "
        f"urgent requests placed 紧急申请已排 "
        f"{summary['requests_placed']}/{summary['requests_new']}"
    )
    table = Table(title="Changes 调整 (residents to tell 需通知的居民)")
    for column in ("change 变动", "visit 上门", "from 原", "to 新", "resident 居民", "phone 电话"):
        table.add_column(column)
    for change in result.changes:
        resident = data.residents.get(change.resident_id)
        table.add_row(
            change.kind.value,
            change.visit_id,
            change.before,
            change.after,
            change.resident_id,
            resident.phone if resident is not None else "",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``replan`` to the ``homevisit`` command line."""
    app.command("replan")(replan_command)
