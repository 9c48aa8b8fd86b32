"""The ``homevisit`` command line: the one app, and every command module added to it the same way.

Each module defines its commands (and its sub-command groups) and adds them with ``register``:

- :mod:`service.cli_plan`: the core's commands, ``plan``, ``check``, ``due``, ``sample``;
- :mod:`service.cli_db`: ``db``, ``import``, ``export``, ``record``, ``sickbed``;
- :mod:`scenarios.cli`: ``scenario run``, ``scenario simulate``;
- :mod:`service.cli_web`: ``serve``, ``user``;
- :mod:`service.cli_replan`: ``replan``;
- :mod:`service.cli_reports`: ``report``;
- :mod:`service.cli_roads`: ``roads``.
"""

from __future__ import annotations

import typer

from scenarios import cli as cli_scenarios
from service import cli_db, cli_plan, cli_replan, cli_reports, cli_roads, cli_web

__all__ = ["app", "main"]

app = typer.Typer(
    help="homevisit: weekly home-visit plans for family-doctor teams (家庭医生上门服务排班).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for _commands in (cli_plan, cli_db, cli_scenarios, cli_web, cli_replan, cli_reports, cli_roads):
    _commands.register(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
