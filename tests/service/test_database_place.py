"""One database for every command, whatever folder it runs in; a taken port refused at once."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from platformdirs import user_data_dir
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from service.cli import app
from service.db.session import make_engine
from service.db.tables import UserRow
from service.settings import Settings, get_settings

SAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "minhang-centre"
runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh per-user data folder (HOMEVISIT_DATA_DIR), no database URL set."""
    folder = tmp_path / "user-data"
    monkeypatch.setenv("HOMEVISIT_DATA_DIR", str(folder))
    monkeypatch.delenv("HOMEVISIT_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def test_default_database_is_in_the_per_user_data_folder_not_the_working_folder() -> None:
    """Without any setting the database is homevisit.sqlite3 in the OS's per-user data folder."""
    settings = Settings(_env_file=None, data_dir=None, database_url="")  # type: ignore[call-arg]
    expected = Path(user_data_dir("homevisit", appauthor=False)) / "homevisit.sqlite3"
    assert settings.database_url == f"sqlite:///{expected.resolve()}"
    assert settings.database_is_embedded


def test_an_explicit_database_url_wins(tmp_path: Path) -> None:
    """HOMEVISIT_DATABASE_URL (or Settings.database_url) is used as given, and is not embedded."""
    url = f"sqlite:///{tmp_path / 'mine.sqlite3'}"
    settings = Settings(database_url=url, data_dir=tmp_path / "ignored")
    assert settings.database_url == url
    assert not settings.database_is_embedded


def test_user_add_import_and_db_where_meet_the_same_database_from_any_folder(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user added in one folder is found by commands run in another; nothing in the cwd."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    monkeypatch.setenv("PW", "a-long-password-for-admin1")
    added = runner.invoke(app, ["user", "add", "admin1", "--role", "admin", "--password-env", "PW"])
    assert added.exit_code == 0, added.output
    database = data_dir / "homevisit.sqlite3"
    assert str(database) in added.output
    monkeypatch.chdir(second)
    imported = runner.invoke(app, ["import", str(SAMPLE)])
    assert imported.exit_code == 0, imported.output
    where = runner.invoke(app, ["db", "where"])
    assert where.exit_code == 0
    assert f"Database / 数据库: {database}" in where.output
    assert list(first.iterdir()) == [] and list(second.iterdir()) == []
    engine = make_engine(f"sqlite:///{database}")
    try:
        with Session(engine) as session:
            assert session.scalars(select(UserRow.username)).all() == ["admin1"]
    finally:
        engine.dispose()


def test_db_where_points_at_an_old_database_left_in_the_working_folder(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone upgrading from the working-folder default is told how to keep using that file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "homevisit.sqlite3").write_bytes(b"")
    where = runner.invoke(app, ["db", "where"])
    assert "is not this database" in where.output
    assert f"HOMEVISIT_DATABASE_URL=sqlite:///{tmp_path / 'homevisit.sqlite3'}" in where.output


def test_serve_refuses_a_taken_port_before_saying_anything_started(data_dir: Path) -> None:
    """On a port in use serve exits 2 naming the port and a way out; no database is touched."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port), "--workers", "1"])
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.output
    assert f"homevisit serve --port {port + 1}" in result.output
    assert "started" not in result.output.lower().replace("not started", "")
    assert not (data_dir / "homevisit.sqlite3").exists()


def test_serve_says_where_the_database_is_and_waits_for_slow_web_processes(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """First start: the database and the sample load are announced before uvicorn starts, and
    uvicorn gives web processes time to start on a busy machine (its 5 s killed them in a loop).
    """
    import uvicorn

    started: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.update(options))
    monkeypatch.setenv("HOMEVISIT_GEOCODER", "none")
    get_settings.cache_clear()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = runner.invoke(app, ["serve", "--port", str(port), "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert f"Database / 数据库: {data_dir / 'homevisit.sqlite3'}" in result.output
    assert "First start: creating the database and loading the sample centre" in result.output
    assert started["port"] == port and started["workers"] == 2
    assert int(str(started["timeout_worker_healthcheck"])) >= 60
    again = runner.invoke(app, ["serve", "--port", str(port)])
    assert "First start" not in again.output
