"""``homevisit serve`` (the web service) and ``homevisit user add`` (no default users exist)."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from service.db.tables import UserRole

__all__ = ["register"]

console = Console()
err_console = Console(stderr=True)

user_app = typer.Typer(help="People who sign in to the service.", no_args_is_help=True)


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            help="Web processes (2 on 2 cores for the best read throughput; each also runs "
            "up to jobs_running_max plan jobs)."
        ),
    ] = 2,
) -> None:
    """Start the web service (API at /docs, map pages) with uvicorn.

    On the embedded default (a SQLite file) the first start creates the database and loads the
    bundled sample centre; other databases need `homevisit db upgrade` first.
    """
    import uvicorn

    from service.api.app import prepare_database
    from service.db.session import SchemaNotCurrentError, make_engine
    from service.settings import get_settings

    try:
        engine = make_engine(concurrent=True)
        try:
            prepare_database(engine, get_settings())
        finally:
            engine.dispose()
        uvicorn.run(
            "service.api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=os.environ.get("HOMEVISIT_ACCESS_LOG", "1") != "0",
            # On SIGTERM, requests still running get this long, then the server stops anyway
            # (an import still reading is cancelled by the app's shutdown).
            timeout_graceful_shutdown=get_settings().shutdown_grace_s,
        )
    except SchemaNotCurrentError as exc:
        err_console.print(f"[bold red]{exc}[/]")
        raise typer.Exit(2) from None


@user_app.command("add")
def user_add_command(
    username: Annotated[str, typer.Argument(help="The name to sign in with.")],
    role: Annotated[UserRole, typer.Option(help="admin, team_leader, clinician or planner.")],
    team: Annotated[str | None, typer.Option(help="A team leader's team id.")] = None,
    clinician: Annotated[str | None, typer.Option(help="A clinician user's clinician id.")] = None,
    password_env: Annotated[
        str | None,
        typer.Option(help="Read the password from this environment variable (for scripts)."),
    ] = None,
) -> None:
    """Create a user. The password is asked for twice (or read from --password-env)."""
    from service.db.session import SchemaNotCurrentError, make_engine, require_current_schema
    from service.users import UserError, add_user

    if password_env:
        password = os.environ.get(password_env, "")
        if not password:
            err_console.print(f"[bold red]the environment variable {password_env} is empty[/]")
            raise typer.Exit(2)
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            err_console.print("[bold red]the two passwords differ; nothing was saved[/]")
            raise typer.Exit(2)
    engine = make_engine()
    try:
        require_current_schema(engine)
        with Session(engine) as session:
            user = add_user(session, username, password, role, team_id=team, clinician_id=clinician)
            session.commit()
    except (SchemaNotCurrentError, UserError) as exc:
        err_console.print(f"[bold red]{exc}[/]")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    scope = user.team_id or "the whole district"
    console.print(f"user [bold]{user.username}[/] ({user.role.value}, {scope}) created")


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``user`` to the ``homevisit`` app."""
    app.command("serve")(serve_command)
    app.add_typer(user_app, name="user")
