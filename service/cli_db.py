"""Database commands of ``homevisit``: ``db upgrade``, ``import``, ``export``, ``record``.

The database is the ``HOMEVISIT_DATABASE_URL`` setting (default: the SQLite file
``homevisit.sqlite3`` in the working directory), or ``--database-url``. Every failure is a
message and exit code 2, never a stack trace; nothing personal is logged.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from scheduler.io import DatasetError
from service.settings import get_settings

__all__ = ["register"]

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
    from service.db.session import make_engine

    try:
        return make_engine(database_url or get_settings().database_url)
    except (ArgumentError, ValueError, ImportError) as exc:
        raise _fail(f"Cannot use the database URL: {exc}") from None


def _shown(engine: Engine) -> str:
    return make_url(str(engine.url)).render_as_string(hide_password=True)


def _print_problems(dataset: Path, exc: DatasetError) -> None:
    err_console.print(
        f"[bold red]{dataset}: {len(exc.problems)} problem(s); nothing was imported:[/]"
    )
    for problem in exc.problems[:200]:
        err_console.print(f"  - {problem}", markup=False, highlight=False)
    if len(exc.problems) > 200:
        err_console.print(f"  ... and {len(exc.problems) - 200} more")


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


def import_command(
    dataset: Annotated[
        Path, typer.Argument(help="Dataset folder (or .xlsx workbook) in the FORMAT.md layout.")
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
    """Export the active registers, history and requests as a FORMAT.md dataset folder."""
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


class Outcome(StrEnum):
    """What happened, as a clinician says it (mapped to the stored outcomes)."""

    DONE = "done"
    MISSED = "missed"
    REFUSED = "refused"


_OUTCOMES = {"done": "completed", "missed": "not_home", "refused": "refused"}


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
    outcome: Annotated[Outcome, typer.Option(help="What happened.")] = Outcome.DONE,
    note: Annotated[str, typer.Option(help="Free-text note.")] = "",
    bp: Annotated[
        str | None, typer.Option(help="Blood pressure, systolic/diastolic mmHg, e.g. 135/85.")
    ] = None,
    glucose: Annotated[
        float | None, typer.Option(help="Blood glucose in mmol/L, e.g. 6.1.")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Record a visit that took place (or was missed or refused), with its readings.

    Only a visit recorded as done counts for the care programmes; a missed one stays due.
    """
    import datetime as dt

    from sqlalchemy.orm import Session

    from service.db.records import RecordError, VisitReport, record_visit
    from service.db.session import SchemaNotCurrentError, require_current_schema
    from service.db.tables import VisitOutcome

    try:
        day = dt.date.fromisoformat(date) if date else dt.date.today()
    except ValueError:
        raise _fail(f"Nothing was recorded: '{date}' is not a date; give YYYY-MM-DD") from None
    try:
        systolic, diastolic = _blood_pressure(bp) if bp else (None, None)
    except typer.BadParameter as exc:
        raise _fail(f"Nothing was recorded: {exc}") from None
    report = VisitReport(
        resident,
        programme,
        day,
        tuple(clinician),
        outcome=VisitOutcome(_OUTCOMES[outcome.value]),
        note=note,
        systolic_mmhg=systolic,
        diastolic_mmhg=diastolic,
        glucose_mmol_l=glucose,
    )
    engine = _engine(database_url)
    try:
        require_current_schema(engine)
        with Session(engine) as session, session.begin():
            record_id = record_visit(session, report)
    except RecordError as exc:
        err_console.print("[bold red]Nothing was recorded:[/]")
        for problem in exc.problems:
            err_console.print(f"  - {problem}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    except SchemaNotCurrentError as exc:
        raise _fail(f"Nothing was recorded: {exc}") from None
    except SQLAlchemyError as exc:
        raise _fail(
            f"Nothing was recorded: cannot write to {_shown(engine)} ({getattr(exc, 'orig', exc)})"
        ) from None
    finally:
        engine.dispose()
    console.print(
        f"Recorded {programme} of {resident} on {day} ({outcome.value}) as record {record_id}.",
        markup=False,
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add the database commands to the ``homevisit`` app."""
    app.add_typer(db_app, name="db")
    app.command("import")(import_command)
    app.command("export")(export_command)
    app.command("record")(record_command)
