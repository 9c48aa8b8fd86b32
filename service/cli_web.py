"""``homevisit serve`` (the web service) and ``homevisit user add`` (no default users exist)."""

from __future__ import annotations

import errno
import getpass
import os
import socket
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from service.db.tables import UserRole

__all__ = ["register"]

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

# Seconds a new web process has to answer uvicorn's first health check. Importing the solver,
# pandas and the app takes a few seconds, and on a busy two-core machine more than uvicorn's 5 s
# default, which then kills every new web process as "died" and starts another, forever.
WEB_PROCESS_START_S = 120

user_app = typer.Typer(help="People who sign in to the service.", no_args_is_help=True)


def _port_free(host: str, port: int) -> str | None:
    """``None`` when ``host:port`` can be listened on, else why not (in words).

    Tried with the options uvicorn binds with (``SO_REUSEADDR``), so a port only in TIME_WAIT
    after a stop is not refused; the socket is closed again at once.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"the address {host} is unknown ({exc.strerror})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use / 端口 {port} 已被占用"
            if exc.errno == errno.EACCES:
                return f"port {port} on {host} needs more rights (ports below 1024 do)"
            return f"cannot listen on {host}:{port}: {exc.strerror}"
    return None


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

    On the embedded default (a SQLite file in the per-user data folder, printed on start and by
    `homevisit db where`) the first start creates the database and loads the bundled sample
    centre; other databases need `homevisit db upgrade` first. A port already in use is refused
    before anything starts.
    """
    import uvicorn

    from service.api.app import prepare_database
    from service.db.session import SchemaNotCurrentError, database_location, make_engine
    from service.settings import get_settings

    refused = _port_free(host, port)
    if refused is not None:
        err_console.print(f"[bold red]Not started: {refused}.[/]", highlight=False)
        err_console.print(
            f"Another `homevisit serve` (or another program) may be listening there: stop it, "
            f"or start on another port, e.g. `homevisit serve --port {port + 1}`.",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(2)
    settings = get_settings()
    console.print(
        f"Database / 数据库: {database_location()}", markup=False, highlight=False, soft_wrap=True
    )
    database_file = make_url(settings.database_url).database
    if settings.database_is_embedded and database_file and not Path(database_file).exists():
        console.print(
            "First start: creating the database and loading the sample centre (a few seconds) / "
            "首次启动：创建数据库并载入示例中心"
        )
    try:
        engine = make_engine(concurrent=True)
        try:
            prepare_database(engine, settings)
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
            timeout_worker_healthcheck=WEB_PROCESS_START_S,
            # On SIGTERM, requests still running get this long, then the server stops anyway
            # (an import still reading is cancelled by the app's shutdown).
            timeout_graceful_shutdown=settings.shutdown_grace_s,
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
    from service.db.session import (
        SchemaNotCurrentError,
        database_location,
        embedded_ready,
        make_engine,
        require_current_schema,
    )
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
        embedded_ready(engine)  # the embedded default needs no `db upgrade`
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
    console.print(
        f"in the database {database_location()}", markup=False, highlight=False, soft_wrap=True
    )


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``user`` to the ``homevisit`` app."""
    app.command("serve")(serve_command)
    app.add_typer(user_app, name="user")
