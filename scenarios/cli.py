"""The ``homevisit scenario`` commands: run what-if scenarios side by side, simulate weeks.

``service/cli.py`` adds them with :func:`register`.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scenarios.report import write_report
from scenarios.scenario import ScenarioError, ScenarioResult, load_scenario
from scenarios.simulate import REQUESTS_PER_1000_RESIDENTS, SimulationParams, simulate
from scenarios.tasks import plan_scenario
from scheduler.cells import neutralise_cell
from scheduler.executor import make_executor
from scheduler.params import (
    TIME_LIMIT_DEFAULT_S,
    TIME_LIMIT_MAX_S,
    TIME_LIMIT_MIN_S,
    SolveParams,
)

_COLUMNS = (
    ("visits_due", "due"),
    ("scheduled", "scheduled"),
    ("unscheduled", "unscheduled"),
    ("travel_h", "travel h"),
    ("travel_min_per_visit", "travel min/visit"),
    ("overtime_min", "overtime min"),
    ("continuity", "continuity"),
    ("utilisation", "utilisation"),
    ("clinician_days", "clinician-days"),
    ("feasible", "checked"),
)


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "ok" if value else "FAILED"
    return str(value)


def comparison_table(results: list[ScenarioResult]) -> Table:
    """The scenarios side by side: one column per scenario, one row per figure."""
    table = Table(title="What-if scenarios, week of " + str(results[0].scenario.week))
    table.add_column("")
    for result in results:
        table.add_column(result.scenario.name, justify="right")
    rows = [r.row() for r in results]
    for key, label in _COLUMNS:
        table.add_row(label, *(_fmt(row[key]) for row in rows))
    return table


def write_comparison(results: list[ScenarioResult], out: Path) -> Path:
    """Write ``comparison.csv`` (one row per scenario) into ``out``; returns its path."""
    out.mkdir(parents=True, exist_ok=True)
    rows = [r.row() for r in results]
    path = out / "comparison.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        # Opened in Excel: no text cell may start a formula (scheduler.cells).
        writer.writerows({k: neutralise_cell(v) for k, v in row.items()} for row in rows)
    return path


scenario_app = typer.Typer(
    help="What-if scenarios: compare plans, simulate weeks.", no_args_is_help=True
)
console = Console()
err_console = Console(stderr=True)


@scenario_app.command("run")
def run_command(
    files: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")],
    time_limit: Annotated[
        float,
        typer.Option(
            help="Solver seconds per scenario.", min=TIME_LIMIT_MIN_S, max=TIME_LIMIT_MAX_S
        ),
    ] = TIME_LIMIT_DEFAULT_S,
    out: Annotated[
        Path, typer.Option(help="Folder for comparison.csv, comparison.html and the maps.")
    ] = Path("out/scenarios"),
    maps: Annotated[
        bool, typer.Option(help="Write each scenario's maps, linked from comparison.html.")
    ] = True,
    workers: Annotated[
        int, typer.Option(help="Scenarios solved side by side, in processes.", min=1)
    ] = 1,
    cluster: Annotated[
        str | None,
        typer.Option(help="Solve on a Dask scheduler, e.g. tcp://host:8786 (needs dask)."),
    ] = None,
) -> None:
    """Plan each scenario's week, check it and compare the scenarios side by side."""
    try:
        scenarios = [load_scenario(f) for f in files]
    except ScenarioError as exc:
        err_console.print(f"[red]bad scenario[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    params = SolveParams(time_limit_s=time_limit)
    where = cluster or f"{min(workers, len(scenarios))} process(es)"

    def on_done(index: int, result: ScenarioResult) -> None:
        console.print(f"planned {result.scenario.name} ({result.plan.solve_seconds} s)")

    try:
        with (
            console.status(f"planning {len(scenarios)} scenario(s) on {where} ..."),
            make_executor(cluster, workers) as executor,
        ):
            results = executor.map(plan_scenario, [(s, params) for s in scenarios], on_done=on_done)
    except ScenarioError as exc:
        err_console.print(f"[red]bad scenario[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    for result in results:
        console.print(f"[bold]{result.scenario.name}[/bold]: {result.scenario.question}")
    console.print(comparison_table(results))
    console.print(f"wrote {write_comparison(results, out)}")
    # The workers keep the changed datasets; the changes are pure and seeded, so applying
    # them again here gives the same residents for the maps.
    datasets = [s.apply(s.base_dataset()).dataset for s in scenarios] if maps else []
    with console.status("writing comparison.html" + (" and the maps" if maps else "")):
        page = write_report(results, datasets, out, maps=maps)
    console.print(f"wrote {page} (open it from disk, no internet needed)")
    if not all(r.evaluation.feasible for r in results):
        raise typer.Exit(1)


@scenario_app.command("simulate")
def simulate_command(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    weeks: Annotated[int, typer.Option(help="Weeks to simulate.", min=1)] = 13,
    time_limit: Annotated[
        float,
        typer.Option(help="Solver seconds per week.", min=TIME_LIMIT_MIN_S, max=TIME_LIMIT_MAX_S),
    ] = TIME_LIMIT_DEFAULT_S,
    missed_share: Annotated[float, typer.Option(help="Share of planned visits not done.")] = 0.05,
    requests_per_1000_residents: Annotated[
        float,
        typer.Option(help="New on-demand requests a week per 1,000 residents.", min=0),
    ] = REQUESTS_PER_1000_RESIDENTS,
    requests_per_week: Annotated[
        int | None,
        typer.Option(
            help="New requests a week as a count, for the scenario's residents "
            "(instead of the rate).",
            min=0,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Folder for simulation.csv.")] = None,
) -> None:
    """Plan a week, take it as done, advance a week, repeat; report programme coverage."""
    try:
        scenario = load_scenario(file)
        setup = scenario.apply(scenario.base_dataset())
    except ScenarioError as exc:
        err_console.print(f"[red]bad scenario[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    if requests_per_week is not None:  # a count for these residents, as the rate
        residents = max(1, len(setup.dataset.residents))
        requests_per_1000_residents = requests_per_week * 1000 / residents
    sim = SimulationParams(weeks, missed_share, requests_per_1000_residents, seed)
    table = Table(title=f"{scenario.name}: {weeks} weeks from {scenario.week}")
    keys = None
    rows = []

    def on_week(row: dict[str, object]) -> None:
        console.print(
            f"week {row['week']}: {row['scheduled']}/{row['visits_due']} scheduled, "
            f"80+ coverage {row['followup80_coverage']}"
        )

    report = simulate(
        setup, scenario.week, sim, SolveParams(time_limit_s=time_limit), on_week=on_week
    )
    rows = [w.row() for w in report.weeks]
    keys = list(rows[0])
    for key in keys:
        table.add_column(key, justify="right")
    for row in rows:
        table.add_row(*(_fmt(row[k]) for k in keys))
    console.print(table)
    for key, value in report.summary().items():
        console.print(f"{key}: {_fmt(value)}")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        with (out / "simulation.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows({k: neutralise_cell(v) for k, v in row.items()} for row in rows)
        console.print(f"wrote {out / 'simulation.csv'}")


def register(app: typer.Typer) -> None:
    """Add the ``scenario`` sub-command group to ``app``."""
    app.add_typer(scenario_app, name="scenario")


def main() -> None:
    """Run the scenario commands alone: ``python -m scenarios.cli scenario run ...``."""
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    register(app)
    app()


if __name__ == "__main__":
    main()
