"""Planning a week straight from the registers and history kept in the database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.settings import get_settings

SAMPLE = Path(__file__).resolve().parents[3] / "scenarios" / "data" / "minhang-centre"
runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An SQLite database file named by the setting, as a team leader's machine has it."""
    url = f"sqlite:///{tmp_path / 'homevisit.sqlite3'}"
    monkeypatch.setenv("HOMEVISIT_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_plan_db_plans_what_the_imported_registers_make_due(database: str, tmp_path: Path) -> None:
    """`homevisit plan db` after an import plans the same visits as the dataset folder."""
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["import", str(SAMPLE)]).exit_code == 0
    out = tmp_path / "out"
    args = ["--week", "2026-11-30", "--out", str(out), "--time-limit", "3"]
    result = runner.invoke(app, ["plan", "db", *args])
    assert result.exit_code == 0, result.output
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    folder = tmp_path / "folder"
    runner.invoke(app, ["plan", str(SAMPLE), *args[:2], "--out", str(folder), *args[4:]])
    from_folder = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["visits_due"] == from_folder["visits_due"] == 572


def test_plan_db_without_a_schema_says_what_to_run(database: str, tmp_path: Path) -> None:
    """Before `db upgrade`, planning from the database names the command to run."""
    result = runner.invoke(
        app, ["plan", "db", "--week", "2026-11-30", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "homevisit db upgrade" in result.output
