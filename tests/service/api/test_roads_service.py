"""The service on road times: HOMEVISIT_ROADS_*_URL reach the plan jobs and the map pages."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from scheduler.coords import parse_region
from scheduler.dataset import read_dataset
from scheduler.model import Location, TravelMode
from scheduler.roads import OsrmTravel
from scheduler.solve import build_problem
from service.api.app import create_app
from service.api.deps import make_token
from service.db.importer import import_dataset
from service.db.tables import UserRole
from service.users import add_user
from tests.conftest import HELSINKI_REGION
from tests.service.api.conftest import PASSWORD, settings_for
from tests.service.db.conftest import open_database

pytestmark = pytest.mark.slow

WEEK = "2026-11-30"


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
    helsinki_dataset: Path,
    helsinki_routers: dict[str, str],
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The service with the Helsinki centre imported and the two routers in its settings."""
    with open_database("sqlite", tmp_path_factory.mktemp("roads-service")) as database:
        settings = settings_for(
            database.url,
            region=HELSINKI_REGION,
            roads_walk_url=helsinki_routers["foot"],
            roads_car_url=helsinki_routers["car"],
        )
        import_dataset(database.engine, helsinki_dataset, settings)
        with Session(database.engine) as session:
            add_user(session, "admin", PASSWORD, UserRole.ADMIN)
            session.commit()
        with TestClient(create_app(settings)) as client:
            token = make_token("admin", settings.secret_key, 60)
            yield client, {"Authorization": f"Bearer {token}"}


def _wait(client: TestClient, headers: dict[str, str], job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/plan-jobs/{job_id}", headers=headers).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish")


def test_plan_jobs_and_map_pages_use_the_configured_routers(
    service: tuple[TestClient, dict[str, str]],
    helsinki_dataset: Path,
    helsinki_routers: dict[str, str],
) -> None:
    """A plan job of a service with road routers stores legs of the router's length (and passes
    the evaluator on them), reports the resident off the network by id, and its day page draws
    the legs along the router's streets."""
    client, headers = service
    created = client.post(
        "/plans", json={"centre_id": "C1", "week_start": WEEK, "time_limit_s": 2}, headers=headers
    )
    assert created.status_code == 202, created.text
    done = _wait(client, headers, created.json()["job_id"])
    assert done["status"] == "done", done
    assert done["kpis"]["violations"] == 0
    assert "R99" in done["kpis"]["roads"]["walk"]["fallback_residents"]  # the harbour home
    plan = client.get(f"/plans/{done['plan_id']}", headers=headers).json()

    dataset = read_dataset(helsinki_dataset, region=parse_region(HELSINKI_REGION))
    problem = build_problem(dataset, dt.date(2026, 11, 30))
    visits = {v.visit_id: v for v in problem.visits}
    travel = OsrmTravel(
        {TravelMode.WALK: helsinki_routers["foot"], TravelMode.CAR: helsinki_routers["car"]}
    )
    centre = dataset.centres["C1"].location
    day = next(r["date"] for r in plan["routes"] if r["clinician_id"] == "N1" and r["stops"])
    route = client.get(f"/plans/{done['plan_id']}/routes/N1/{day}", headers=headers).json()
    first = min(route["stops"], key=lambda s: s["sequence"])
    home: Location = visits[first["visit_id"]].location
    expected = travel.matrix([centre], [home], TravelMode.WALK)
    assert first["travel_min"] == int(expected.minutes[0, 0])

    page = client.get(
        f"/plans/{done['plan_id']}/maps/day/N1/{day}",
        headers=headers | {"Accept": "text/html"},
    )
    assert page.status_code == 200, page.text
    streets = [list(p) for p in travel.route(centre, home, TravelMode.WALK)]
    lines = [json.loads(x) for x in re.findall(r"L\.polyline\(\s*(\[\[.*?\]\])", page.text, re.S)]
    assert streets in lines
