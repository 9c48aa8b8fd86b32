"""A running service for the API tests: the sample centre, a user per role, an approved plan.

The world is built once per module and backend (SQLite, and PostgreSQL when
``HOMEVISIT_TEST_POSTGRES_URL`` is set, as in CI): importing the sample and solving its week take
seconds, and the tests only read it (or change what they create themselves).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import socket
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.params import SolveParams
from scheduler.solve import build_problem, solve
from service.api.app import create_app
from service.api.deps import make_token
from service.api.routers import workspace
from service.db.exporter import load_dataset
from service.db.importer import import_dataset
from service.db.plans import PlanHandle, save_plan, set_status
from service.db.tables import PlanStatus, PlanStopRow, ResidentRow, UserRole
from service.settings import Settings
from service.users import add_user
from tests.service.db.conftest import BACKENDS, SAMPLE, open_database

WEEK = dt.date(2026, 11, 30)
TEAMS = ("MH03-T1", "MH03-T2")  # the plan covers two teams: enough to test, quick to solve
PASSWORD = "a-long-test-password"
USERS = {
    "admin": (UserRole.ADMIN, None, None),
    "lead1": (UserRole.TEAM_LEADER, "MH03-T1", None),
    "lead2": (UserRole.TEAM_LEADER, "MH03-T2", None),
    "nurse1": (UserRole.CLINICIAN, None, "MH03-T1-N"),
    "nurse2": (UserRole.CLINICIAN, None, "MH03-T2-N"),
    "planner": (UserRole.PLANNER, None, None),
}


@dataclass
class World:
    """What the tests know about the service they call."""

    client: TestClient
    settings: Settings
    plan_id: int
    tokens: dict[str, str]
    nurse1_day: dt.date  # a day with stops on nurse1's route
    nurse1_resident: str  # a resident on nurse1's route
    team1_resident: str  # a resident of team 1 not on nurse1's routes
    team2_resident: str
    extra: dict[str, object] = field(default_factory=dict)

    def headers(self, user: str | None) -> dict[str, str]:
        """The Authorization header of ``user`` (none for ``None``)."""
        return {} if user is None else {"Authorization": f"Bearer {self.tokens[user]}"}


class Served(Protocol):
    """A service the tests call (:class:`World` or a module's own)."""

    client: TestClient


def signed_in(served: Served, name: str) -> TestClient:
    """A browser of ``name`` on ``served``'s app: the sign-in cookie, no redirects followed."""
    client = TestClient(served.client.app, follow_redirects=False)
    answer = client.post("/login", data={"username": name, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return client


def csrf(page: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found, "the page has no CSRF token"
    return found.group(1)


@pytest.fixture
def on_the_plans_week(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pages open on a day of the world's planned week, whatever the date the tests run
    (a module asks for it with ``pytest.mark.usefixtures``)."""
    monkeypatch.setattr(workspace, "today", lambda: WEEK + dt.timedelta(days=2))


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """``app`` on a real port (uvicorn in a thread), for a browser; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def settings_for(url: str, **overrides: object) -> Settings:
    """Service settings on a test database: no network, no sample loading."""
    values: dict[str, object] = {
        "database_url": url,
        "geocoder": "none",
        "load_sample_on_first_start": False,
        "secret_key": "test-signing-key-that-is-long-enough-for-hs256",
        "solve_workers": 1,
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def sample_service(folder: Path, *users: str) -> Iterator[tuple[str, Any]]:
    """``homevisit serve`` on a fresh SQLite database in ``folder`` with the sample centre, plan
    jobs run by worker processes, and ``users`` (names of ``USERS``); yields the service's base
    URL on 127.0.0.1 and the database's engine."""
    with open_database("sqlite", folder) as database:
        settings = settings_for(database.url)
        import_dataset(database.engine, SAMPLE, settings)
        with Session(database.engine) as session:
            for name in users:
                role, team, clinician = USERS[name]
                add_user(session, name, PASSWORD, role, team_id=team, clinician_id=clinician)
            session.commit()
        with TestClient(create_app(settings)) as client, serve_app(client.app) as base:
            yield base, database.engine


def approved_week(
    session: Session, teams: Collection[str], saved_by: str, time_limit_s: float, workers: int = 1
) -> PlanHandle:
    """The sample centre's week of ``WEEK`` planned for ``teams`` (their clinicians and visits:
    quick to solve), saved as the centre's plan and approved; committed."""
    problem = build_problem(load_dataset(session, ["MH03"]), WEEK, centre_ids=["MH03"])
    mine = dataclasses.replace(
        problem,
        clinicians=tuple(c for c in problem.clinicians if c.team_id in teams),
        visits=tuple(v for v in problem.visits if v.team_id in teams),
    )
    plan, _ = solve(mine, SolveParams(time_limit_s=time_limit_s), workers=workers)
    handle = save_plan(session, problem, plan, "MH03", base=None, saved_by=saved_by)
    approved = set_status(session, handle, PlanStatus.APPROVED)
    session.commit()
    return approved


@contextmanager
def team_week_service(folder: Path, time_limit_s: float) -> Iterator[tuple[str, Any, int]]:
    """``homevisit serve`` (plan jobs run by worker processes) on a fresh SQLite database in
    ``folder``: the sample centre, team 1's week approved, lead1 its leader. Yields the base URL
    on 127.0.0.1, the service's engine and the approved plan's id."""
    with open_database("sqlite", folder) as database:
        settings = settings_for(database.url)
        import_dataset(database.engine, SAMPLE, settings)
        with Session(database.engine) as session:
            role, team, clinician = USERS["lead1"]
            add_user(session, "lead1", PASSWORD, role, team_id=team, clinician_id=clinician)
            assert team is not None
            handle = approved_week(session, (team,), "lead1", time_limit_s)
        database.engine.dispose()  # the service's own engine reads and writes from here on
        with TestClient(create_app(settings)) as client, serve_app(client.app) as base:
            yield base, client.app.state.engine, handle.plan_id


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The sample centre, one user per role and an approved plan of the reference week."""
    workdir: Path = tmp_path_factory.mktemp("api")
    with open_database(request.param, workdir) as database:
        settings = settings_for(database.url)
        import_dataset(database.engine, SAMPLE, settings)
        with Session(database.engine) as session:
            for name, (role, team, clinician) in USERS.items():
                add_user(session, name, PASSWORD, role, team_id=team, clinician_id=clinician)
            handle = approved_week(session, TEAMS, "admin", 8.0, workers=2)
            stops = session.scalars(
                select(PlanStopRow).where(PlanStopRow.plan_id == handle.plan_id)
            ).all()
            nurse1_stops = [s for s in stops if s.clinician_id == "MH03-T1-N" and s.resident_id]
            on_route = {s.resident_id for s in nurse1_stops}
            team1 = session.scalar(
                select(ResidentRow.resident_id).where(
                    ResidentRow.team_id == "MH03-T1", ResidentRow.resident_id.not_in(on_route)
                )
            )
            team2 = session.scalar(
                select(ResidentRow.resident_id).where(ResidentRow.team_id == "MH03-T2")
            )
        assert nurse1_stops and team1 and team2
        app = create_app(settings, start_jobs=False)
        with TestClient(app) as client:
            tokens = {name: make_token(name, settings.secret_key, 60) for name in USERS}
            yield World(
                client=client,
                settings=settings,
                plan_id=handle.plan_id,
                tokens=tokens,
                nurse1_day=nurse1_stops[0].visit_date,
                nurse1_resident=str(nurse1_stops[0].resident_id),
                team1_resident=team1,
                team2_resident=team2,
            )
