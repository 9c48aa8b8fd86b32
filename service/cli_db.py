"""Database commands of ``homevisit``: ``db upgrade``, ``db where``, ``import``, ``export``,
``record``.

The database is ``--database-url``, else the ``HOMEVISIT_DATABASE_URL`` setting, else the
embedded SQLite file ``homevisit.sqlite3`` in the per-user data folder (``homevisit db where``
prints it), whatever the working directory. Every failure is a message and exit code 2, never a
stack trace; nothing personal is logged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session

from scheduler.dataset import DatasetError, InputProblem
from scheduler.model import HEALTH_CHECK_TESTS, OUTCOME_ALIASES, Place, VisitOutcome, parse_tests
from service.settings import EMBEDDED_DATABASE_FILE, get_settings

__all__ = ["DatabaseUrl", "database_errors", "print_problems", "register"]

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL of the database (default: the HOMEVISIT_DATABASE_URL setting).",
        show_default=False,
    ),
]


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]{message}[/]", markup=True, highlight=False)
    return typer.Exit(2)


def _engine(database_url: str | None) -> Engine:
    from service.db.session import embedded_ready, make_engine

    try:
        engine = make_engine(database_url)  # None: the database_url setting
    except (ArgumentError, ValueError, ImportError) as exc:
        raise _fail(f"Cannot use the database URL: {exc}") from None
    try:
        embedded_ready(engine)  # the embedded default is created by the first command using it
    except (SQLAlchemyError, OSError) as exc:
        engine.dispose()
        raise _fail(f"Cannot create the database {_shown(engine)}: {exc}") from None
    return engine


def _shown(engine: Engine) -> str:
    return make_url(str(engine.url)).render_as_string(hide_password=True)


def print_problems(problems: Sequence[InputProblem], limit: int = 200) -> None:
    """Each problem in Chinese, then in English on the next line (at most ``limit`` of them)."""
    for problem in problems[:limit]:
        err_console.print(f"  - {problem.text_zh}", markup=False, highlight=False)
        if problem.message_zh:
            err_console.print(f"    {problem.text_en}", markup=False, highlight=False)
    if len(problems) > limit:
        err_console.print(f"  ... 另有 / and {len(problems) - limit} more")


@contextmanager
def database_errors(engine: Engine, nothing: str) -> Iterator[None]:
    """Turn an outdated schema or a database failure into ``nothing``: reason (exit 2)."""
    from service.db.session import SchemaNotCurrentError

    try:
        yield
    except SchemaNotCurrentError as exc:
        raise _fail(f"{nothing}: {exc}") from None
    except SQLAlchemyError as exc:
        raise _fail(
            f"{nothing}: the database {_shown(engine)} failed ({getattr(exc, 'orig', exc)})"
        ) from None
    finally:
        engine.dispose()


def _print_problems(dataset: Path, exc: DatasetError) -> None:
    err_console.print(
        f"[bold red]{dataset}: {len(exc.problems)} 个问题，未导入任何数据 / "
        f"{len(exc.problems)} problem(s); nothing was imported:[/]"
    )
    print_problems(exc.problems)


db_app = typer.Typer(help="The database: create or upgrade its schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade_command(database_url: DatabaseUrl = None) -> None:
    """Create the database schema, or upgrade it to this version of homevisit."""
    from service.db.session import current_revision, upgrade

    engine = _engine(database_url)
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    except SQLAlchemyError as exc:
        raise _fail(
            f"Cannot upgrade {_shown(engine)}: {type(exc).__name__}: {getattr(exc, 'orig', exc)}"
        ) from None
    finally:
        engine.dispose()
    if before == after:
        console.print(f"{_shown(engine)} is up to date (revision {after}).")
    else:
        console.print(f"{_shown(engine)} upgraded from {before or 'empty'} to revision {after}.")


@db_app.command("where")
def db_where_command() -> None:
    """Print where the database is (the same for every command, from any folder)."""
    from service.db.session import database_location

    console.print(
        f"Database / 数据库: {database_location()}", markup=False, highlight=False, soft_wrap=True
    )
    settings = get_settings()
    if settings.database_is_embedded:
        console.print(
            "Set HOMEVISIT_DATABASE_URL to use another database (e.g. PostgreSQL), or "
            "HOMEVISIT_DATA_DIR to keep the embedded file in another folder.",
            markup=False,
            highlight=False,
        )
    stray = Path.cwd() / EMBEDDED_DATABASE_FILE
    if stray.exists() and make_url(settings.database_url).database != str(stray.resolve()):
        console.print(
            f"Note: {stray} is not this database (older versions kept it in the working folder);"
            f" to use it: HOMEVISIT_DATABASE_URL=sqlite:///{stray.resolve()}",
            markup=False,
            highlight=False,
        )


def import_command(
    dataset: Annotated[
        Path, typer.Argument(help="Dataset folder (or .xlsx workbook): docs/dataset-format.md.")
    ],
    database_url: DatabaseUrl = None,
) -> None:
    """Import a dataset into the database: all or nothing, updating registers in place by id.

    A resident, clinician or committee of the dataset's centres that is no longer in it is
    marked inactive (never deleted); history already recorded is not added twice.
    """
    from service.db.importer import DatabaseWriteError, import_dataset
    from service.db.session import SchemaNotCurrentError

    engine = _engine(database_url)
    try:
        summary = import_dataset(engine, dataset)
    except DatasetError as exc:
        _print_problems(dataset, exc)
        raise typer.Exit(2) from None
    except (SchemaNotCurrentError, DatabaseWriteError) as exc:
        raise _fail(f"Nothing was imported: {exc}") from None
    except SQLAlchemyError as exc:
        raise _fail(
            f"Nothing was imported: cannot reach {_shown(engine)} ({getattr(exc, 'orig', exc)})"
        ) from None
    finally:
        engine.dispose()
    console.print(f"Imported {dataset} into {_shown(engine)}:")
    for line in summary.lines():
        console.print(f"  {line}", markup=False, highlight=False)


def export_command(
    out: Annotated[Path, typer.Argument(help="Folder to write the dataset to.")],
    centre: Annotated[
        list[str] | None, typer.Option(help="Export only this centre (repeatable).")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Export the active registers, history and requests as a dataset folder.

    The folder is in the layout of docs/dataset-format.md, so it can be imported again.
    """
    from service.db.exporter import export_dataset
    from service.db.session import SchemaNotCurrentError

    engine = _engine(database_url)
    try:
        summary = export_dataset(engine, out, centre)
    except SchemaNotCurrentError as exc:
        raise _fail(f"Nothing was exported: {exc}") from None
    except SQLAlchemyError as exc:
        raise _fail(
            f"Nothing was exported: cannot read {_shown(engine)} ({getattr(exc, 'orig', exc)})"
        ) from None
    except OSError as exc:
        raise _fail(f"Cannot write to {out}: {exc.strerror}") from None
    finally:
        engine.dispose()
    counts = ", ".join(f"{name} {count}" for name, count in summary.items())
    console.print(f"Exported to {out}/: {counts}")


_OUTCOME_HELP = (
    "What happened: "
    + ", ".join(f"{o.value} ({o.label_zh})" for o in VisitOutcome)
    + ". The old words done/missed are still read (deprecated)."
)


def _outcome(text: str) -> VisitOutcome:
    """The outcome, noting on stderr when the user wrote an old word of the CLI."""
    try:
        outcome = VisitOutcome.parse(text)
    except ValueError as exc:
        raise _fail(f"Nothing was recorded: {exc}") from None
    if text.strip().lower() in OUTCOME_ALIASES:
        err_console.print(
            f"[yellow]--outcome {text} is deprecated: write --outcome {outcome.value} "
            f"({outcome.label_zh}); the CLI, the API and the pages share one vocabulary.[/]",
            highlight=False,
        )
    return outcome


def _day(text: str | None, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text) if text else dt.date.today()
    except ValueError:
        raise _fail(
            f"Nothing was recorded: '{text}' is not a date; give {what} as YYYY-MM-DD"
        ) from None


def _blood_pressure(text: str) -> tuple[int, int]:
    parts = text.replace(" ", "").split("/")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise typer.BadParameter(f"'{text}' is not a blood pressure: give it as 135/85")
    return int(parts[0]), int(parts[1])


def record_command(
    resident: Annotated[str, typer.Option(help="Resident id, e.g. MH03-R00001.")],
    programme: Annotated[str, typer.Option(help="Care programme, e.g. chronic_followup.")],
    clinician: Annotated[
        list[str], typer.Option(help="Clinician who made the visit (repeatable).")
    ],
    date: Annotated[
        str | None,
        typer.Option(help="Date of the visit, YYYY-MM-DD (default: today).", show_default=False),
    ] = None,
    outcome: Annotated[str, typer.Option(help=_OUTCOME_HELP)] = VisitOutcome.COMPLETED.value,
    note: Annotated[str, typer.Option(help="Free-text note.")] = "",
    bp: Annotated[
        str | None, typer.Option(help="Blood pressure, systolic/diastolic mmHg, e.g. 135/85.")
    ] = None,
    glucose: Annotated[
        float | None, typer.Option(help="Blood glucose in mmol/L, e.g. 6.1.")
    ] = None,
    tests: Annotated[
        str | None,
        typer.Option(
            help="A health check's tests, ';'-separated: "
            + ";".join(HEALTH_CHECK_TESTS)
            + " (default: those the programme includes).",
            show_default=False,
        ),
    ] = None,
    place: Annotated[
        Place | None,
        typer.Option(help="Where it happened (default: where the programme's visits are)."),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Record a visit that took place (or was missed or refused), with its readings.

    Only a visit recorded as done counts for the care programmes; a missed one stays due.
    """
    from service.db.records import VisitReport, record_visit

    day = _day(date, "the date")
    what = _outcome(outcome)
    try:
        test_set = parse_tests(tests) if tests else frozenset[str]()
    except ValueError as exc:
        raise _fail(f"Nothing was recorded: --tests {exc}") from None
    try:
        systolic, diastolic = _blood_pressure(bp) if bp else (None, None)
    except typer.BadParameter as exc:
        raise _fail(f"Nothing was recorded: {exc}") from None
    report = VisitReport(
        resident,
        programme,
        day,
        tuple(clinician),
        outcome=what,
        note=note,
        systolic_mmhg=systolic,
        diastolic_mmhg=diastolic,
        glucose_mmol_l=glucose,
        tests=test_set,
        place=place,
    )
    record_id = _write_record(database_url, lambda session: record_visit(session, report))
    console.print(
        f"Recorded {programme} of {resident} on {day} ({what.value} {what.label_zh}) as record "
        f"{record_id}.",
        markup=False,
        highlight=False,
    )


def _write_record(database_url: str | None, write: Callable[[Session], int]) -> int:
    """Run ``write`` in one transaction; every refusal is a message and exit code 2."""
    from service.db.records import RecordError
    from service.db.session import require_current_schema

    engine = _engine(database_url)
    with database_errors(engine, "Nothing was recorded"):
        try:
            require_current_schema(engine)
            with Session(engine) as session, session.begin():
                return write(session)
        except RecordError as exc:
            err_console.print("[bold red]Nothing was recorded:[/]")
            for problem in exc.problems:
                err_console.print(f"  - {problem}", markup=False, highlight=False)
            raise typer.Exit(2) from None


sickbed_app = typer.Typer(
    help="Home sick-beds (家庭病床): open (建床) and discharge (撤床).", no_args_is_help=True
)


@sickbed_app.command("open")
def sickbed_open_command(
    resident: Annotated[str, typer.Option(help="Resident id, e.g. MH03-R00001.")],
    date: Annotated[
        str | None, typer.Option(help="Opening date, YYYY-MM-DD (default: today).")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Open a home sick-bed (建床): the resident is then planned for sick-bed rounds."""
    from service.db.records import open_sickbed

    day = _day(date, "the opening date")
    episode = _write_record(database_url, lambda session: open_sickbed(session, resident, day))
    console.print(f"Sick-bed of {resident} opened on {day} (建床), episode {episode}.")


@sickbed_app.command("discharge")
def sickbed_discharge_command(
    resident: Annotated[str, typer.Option(help="Resident id, e.g. MH03-R00001.")],
    date: Annotated[
        str | None, typer.Option(help="Discharge date, YYYY-MM-DD (default: today).")
    ] = None,
    reason: Annotated[
        str, typer.Option(help="Why (撤床原因), e.g. 病情好转 recovered; kept with the episode.")
    ] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Discharge the resident's home sick-bed (撤床); Annex 3 counts the discharges."""
    from service.db.records import discharge_sickbed

    day = _day(date, "the discharge date")
    episode = _write_record(
        database_url,
        lambda session: discharge_sickbed(session, resident, day, reason=reason.strip()),
    )
    console.print(f"Sick-bed of {resident} discharged on {day} (撤床), episode {episode}.")


def register(app: typer.Typer) -> None:
    """Add the database commands to the ``homevisit`` app."""
    app.add_typer(db_app, name="db")
    app.command("import")(import_command)
    app.command("export")(export_command)
    app.command("record")(record_command)
    app.add_typer(sickbed_app, name="sickbed")
