"""Same-day changes in Debian's chromium, as a team leader does them on a Tuesday at 10:00.

From his week's button: the form (a nurse absent from 10:00, a visit cancelled, an urgent
request), the job's progress page (a real worker process), the changes to check with the phones
to call, and the approval; at 1280x800 and at 360x740, with no console error, no request leaving
the machine and every control a 44 px target. Screenshots: tests/maps/artifacts/replan-*.png.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from scheduler.params import SolveParams
from scheduler.solve import build_problem, solve
from service.api.app import create_app
from service.api.routers import replan_pages, workspace
from service.db.exporter import load_dataset
from service.db.importer import import_dataset
from service.db.plans import save_plan, set_status
from service.db.tables import PlanStatus, UserRole
from service.users import add_user
from tests.maps.test_map_browser import ARTIFACTS, CHROMIUM, watch
from tests.service.api.conftest import PASSWORD, WEEK, serve_app, settings_for
from tests.service.api.test_workspace_browser import SIZES, chromium, sign_in, small_targets
from tests.service.db.conftest import SAMPLE, open_database

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]

TUESDAY = WEEK + dt.timedelta(days=1)
NURSE = "MH03-T1-N"


@pytest.fixture(autouse=True)
def on_tuesday_at_ten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workspace, "today", lambda: TUESDAY)
    monkeypatch.setattr(replan_pages, "now", lambda: dt.datetime.combine(TUESDAY, dt.time(10, 0)))


@pytest.fixture(scope="module")
def replanning_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The sample centre with team 1's week planned and approved, and a dispatcher running."""
    with open_database("sqlite", tmp_path_factory.mktemp("replan")) as database:
        settings = settings_for(database.url)
        import_dataset(database.engine, SAMPLE, settings)
        with Session(database.engine) as session:
            add_user(session, "lead1", PASSWORD, UserRole.TEAM_LEADER, team_id="MH03-T1")
            dataset = load_dataset(session, ["MH03"])
            problem = build_problem(dataset, WEEK, centre_ids=["MH03"])
            team = dataclasses.replace(
                problem,
                clinicians=tuple(c for c in problem.clinicians if c.team_id == "MH03-T1"),
                visits=tuple(v for v in problem.visits if v.team_id == "MH03-T1"),
            )
            plan, _ = solve(team, SolveParams(time_limit_s=5.0), workers=1)
            handle = save_plan(session, team, plan, "MH03", base=None, saved_by="lead1")
            set_status(session, handle, PlanStatus.APPROVED)
            session.commit()
        with TestClient(create_app(settings)) as client, serve_app(client.app) as base:
            yield base


def test_the_team_leader_replans_a_sick_call_checks_the_changes_and_approves(
    replanning_service: str,
) -> None:
    """Week -> Same-day changes -> progress -> the changes (with phones) -> approved week."""
    base = replanning_service
    requests: list[str] = []
    errors: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        for width, height in SIZES:
            size = f"{width}x{height}"
            page = browser.new_page(viewport={"width": width, "height": height})
            watch(page, requests, errors)
            sign_in(page, base, "lead1")
            assert re.search(r"/plans/\d+/week$", page.url), page.url
            assert "已审核" in page.inner_text(".hv-plan-line")
            page.click("#hv-same-day-link")
            page.wait_for_url(re.compile(r"/plans/\d+/same-day$"))
            assert small_targets(page) == [], size
            assert page.evaluate("document.documentElement.scrollWidth") <= width, page.evaluate(
                "[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect()"
                ".right > window.innerWidth + 1 && !e.closest('.hv-scroll'))"
                ".map(e => e.tagName + '.' + e.className).slice(0, 8)"
            )
            assert page.input_value("#hv-date") == TUESDAY.isoformat()
            assert page.input_value("#hv-at") == "10:00"
            row = page.locator("tr", has=page.locator(f"input[value='{NURSE}']"))
            row.locator("select[name=absent_mode]").select_option("from")
            wednesday = page.locator("select[name=visit]").first.locator("option", has_text="周三")
            page.locator("select[name=visit]").first.select_option(
                wednesday.first.get_attribute("value")
            )
            resident = page.locator("select[name=req_resident_0] option").nth(1)
            page.select_option("select[name=req_resident_0]", resident.get_attribute("value"))
            page.select_option("select[name=req_service_0]", "catheter_care")
            page.fill("input[name=req_start_0]", "10:30")
            page.fill("input[name=req_end_0]", "16:00")
            page.screenshot(path=str(ARTIFACTS / f"replan-form-{size}.png"), full_page=True)
            page.click("#hv-replan-start")
            page.wait_for_url(re.compile(r"/plan-jobs/\d+/progress$"))
            assert "Review the changes" in page.content()
            page.screenshot(path=str(ARTIFACTS / f"replan-progress-{size}.png"))
            page.wait_for_url(re.compile(r"/plan-jobs/\d+/review$"), timeout=180_000)
            assert "变更清单" in page.inner_text("h1")
            changes = page.locator("#hv-changes tbody tr")
            assert changes.count() >= 2  # the cancelled visit, and what the absence moved
            assert page.locator(".hv-change-cancelled").count() == 1
            phones = page.locator(".hv-phone").all_inner_texts()
            assert phones and not any("*" in p for p in phones)
            assert small_targets(page) == [], size
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=str(ARTIFACTS / f"replan-review-{size}.png"), full_page=True)
            page.click("#hv-approve button")
            page.wait_for_url(re.compile(r"/plans/\d+/week$"))
            assert "已审核" in page.inner_text(".hv-plan-line")
            assert page.locator("a[href$='/changes']").count() == 1
            page.screenshot(path=str(ARTIFACTS / f"replan-approved-week-{size}.png"))
            page.close()
    assert errors == [], errors
    assert [u for u in requests if not u.startswith(base)] == []
