"""A team leader adjusts his week in Debian's chromium: open the week, make a new draft of the
approved plan, open a visit, check a move (fine, then a time that breaks a rule), move it, re-plan
around it (a job with its progress page), compare the versions, approve. At 1280x800 and
360x740: tap targets at least 44 px, no console error, no request leaving the machine.
Screenshots: tests/maps/artifacts/workspace-adjust-*.png.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.tables import PlanPinRow, PlanRow, PlanStopRow
from tests.maps.test_map_browser import ARTIFACTS, CHROMIUM
from tests.service.api.conftest import WEEK, team_week_service
from tests.service.api.test_workspace_browser import (
    chromium,
    sign_in,
    small_targets,
    watch,
)

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
    pytest.mark.usefixtures("on_the_plans_week"),
]

TEAM = "MH03-T1"
NURSE = "MH03-T1-N"


@dataclasses.dataclass
class Service:
    base: str
    engine: Any
    plan_id: int


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A service that runs plan jobs, the sample centre, team 1's approved week, lead1."""
    with team_week_service(tmp_path_factory.mktemp("adjust"), time_limit_s=4.0) as found:
        yield Service(*found)


def _single_visit(engine: Any, plan_id: int) -> PlanStopRow:
    """A one-clinician visit on the nurse's route (a joint visit moves as a whole) that no
    other visit of her day starts with (their blocks would lie on top of each other)."""
    with Session(engine) as session:
        counts = dict(
            session.execute(
                select(PlanStopRow.visit_id, func.count())
                .where(PlanStopRow.plan_id == plan_id)
                .group_by(PlanStopRow.visit_id)
            ).all()
        )
        mine = session.scalars(
            select(PlanStopRow)
            .where(PlanStopRow.plan_id == plan_id, PlanStopRow.clinician_id == NURSE)
            .order_by(PlanStopRow.visit_date, PlanStopRow.sequence)
        ).all()
        starts = [(s.visit_date, s.start_min) for s in mine]
        stop = next(
            s
            for s in mine
            if counts[s.visit_id] == 1 and starts.count((s.visit_date, s.start_min)) == 1
        )
        session.expunge(stop)
        return stop


def _stop(engine: Any, plan_id: int, visit_id: str) -> PlanStopRow:
    with Session(engine) as session:
        stop = session.scalars(
            select(PlanStopRow).where(
                PlanStopRow.plan_id == plan_id, PlanStopRow.visit_id == visit_id
            )
        ).one()
        session.expunge(stop)
        return stop


def submit(page: Any, selector: str) -> None:
    """Press a form's button and wait for the page it answers with."""
    with page.expect_navigation():
        page.click(selector)


def _shot(page: Any, name: str, width: int, height: int) -> None:
    page.screenshot(
        path=str(ARTIFACTS / f"workspace-adjust-{name}-{width}x{height}.png"), full_page=True
    )


def _room_day(page: Any, skip: dt.date) -> dt.date:
    """A day on which the page says the nurse has room for the visit (not ``skip``)."""
    row = page.locator(f'.hv-options tr[data-clinician="{NURSE}"]')
    cells = row.locator("td")
    for i in range(cells.count()):
        day = WEEK + dt.timedelta(days=i)
        if "hv-room" in (cells.nth(i).get_attribute("class") or "") and day != skip:
            return day
    raise AssertionError("the nurse has room on no other day")


def test_the_team_leader_moves_a_visit_replans_compares_and_approves(service: Service) -> None:
    """The whole loop at 1280x800 (move, verdict, compare, re-plan, approve), then the same
    pages at 360x740."""
    base = service.base
    requests: list[str] = []
    errors: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        watch(page, requests, errors)
        sign_in(page, base, "lead1")
        assert page.url.endswith(f"/plans/{service.plan_id}/week")
        assert "已审核" in page.inner_text(".hv-plan-line")
        # An approved plan does not change: make a new draft of it.
        page.click("#hv-new-draft button")
        page.wait_for_url(re.compile(r"/plans/\d+/week$"))
        draft = int(re.findall(r"/plans/(\d+)/week", page.url)[0])
        assert draft != service.plan_id and "草稿" in page.inner_text(".hv-plan-line")
        assert small_targets(page) == []
        _shot(page, "week", 1280, 800)

        # Open a visit from the timeline.
        stop = _single_visit(service.engine, draft)
        page.locator(f'a.hv-block[data-visit="{stop.visit_id}"]').click(position={"x": 3, "y": 10})
        page.wait_for_url(re.compile(r"/visits/"))
        stop = _stop(service.engine, draft, unquote(page.url.rsplit("/", 1)[1]))  # the one opened
        main = page.inner_text("main")
        assert "为何应访" in main and "谁还能做" in main and stop.rule_zh in main
        assert small_targets(page) == []
        _shot(page, "visit", 1280, 800)

        day = _room_day(page, stop.visit_date)
        # Drag the visit onto the nurse's lane of that day: its page opens with the verdict of
        # that move (nothing saved); the form holds the clinician, day and time it was dropped on.
        # Check a move to that day (no time: the first room): fine, nothing saved.
        page.fill("#mv-start", "")
        page.select_option("#mv-clinician", NURSE)
        page.select_option("#mv-day", day.isoformat())
        submit(page, "#hv-move button[value=check]")
        assert "不违反任何规则" in page.inner_text("#hv-verdict")
        # At 06:00 it breaks the window rule: said in words, Chinese first.
        page.fill("#mv-start", "06:00")
        submit(page, "#hv-move button[value=check]")
        verdict = page.inner_text("#hv-verdict")
        assert "不在可上门时段" in verdict and "outside" in verdict
        _shot(page, "verdict-broken", 1280, 800)
        # Move it (no time: the first room that day), and see the verdict at once.
        page.fill("#mv-start", "")
        submit(page, "#hv-move button[value=apply]")
        assert "已移动并固定" in page.inner_text("main")
        assert "不违反任何规则" in page.inner_text("#hv-verdict")
        assert f"{day}" in page.inner_text("#hv-placed")
        _shot(page, "moved", 1280, 800)

        # Compare the versions (the form compares with this one: old to new either way).
        page.goto(f"{base}/plans/{draft}/week")
        page.click("a[href$='/versions']")
        page.wait_for_url(re.compile(r"/versions$"))
        assert small_targets(page) == []
        _shot(page, "versions", 1280, 800)
        page.click("#hv-compare-form button")
        page.wait_for_url(re.compile(r"/compare\?other="))
        assert "v1 → v2" in page.inner_text("h1")
        assert page.locator(f'tr[data-visit="{stop.visit_id}"][data-kind="moved"]').count() == 1
        assert small_targets(page) == []
        _shot(page, "compare", 1280, 800)

        # Re-plan around it: a job with its progress page, then the draft again.
        page.goto(f"{base}/plans/{draft}/week")
        page.fill("#hv-replan-around input[name=time_limit_s]", "3")
        page.click("#hv-replan-around button")
        page.wait_for_url(re.compile(r"/plan-jobs/\d+/progress$"))
        assert page.locator("#hv-bar").count() == 1
        _shot(page, "progress", 1280, 800)
        page.wait_for_url(re.compile(rf"/plans/{draft}/week$"), timeout=180_000)
        # The re-plan kept the visit where the team leader pinned it.
        with Session(service.engine) as session:
            pins = session.scalar(select(func.count()).where(PlanPinRow.plan_id == draft))
        assert pins == 1
        kept = _stop(service.engine, draft, stop.visit_id)
        assert (kept.clinician_id, kept.visit_date) == (NURSE, day)

        # Approve (publish) from the week page.
        page.goto(f"{base}/plans/{draft}/week")
        page.click("#hv-week-approve button")
        page.wait_for_url(re.compile(rf"/plans/{draft}/week$"))
        assert "已审核" in page.inner_text(".hv-plan-line")
        _shot(page, "approved", 1280, 800)
        page.close()

        # The same pages on a phone: readable, every target 44 px, the wide parts scroll.
        phone = browser.new_page(viewport={"width": 360, "height": 740})
        watch(phone, requests, errors)
        sign_in(phone, base, "lead1")
        visit_url = f"{base}/plans/{draft}/visits/{quote(stop.visit_id, safe='')}"
        for name, url in (
            ("week", f"{base}/plans/{draft}/week"),
            ("visit", visit_url),
            ("versions", f"{base}/plans/{draft}/versions"),
            ("compare", f"{base}/plans/{draft}/compare?other={service.plan_id}"),
        ):
            phone.goto(url)
            assert small_targets(phone) == [], name
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, (name, width)
            _shot(phone, name, 360, 740)
        phone.close()
    assert errors == [], errors
    assert [u for u in requests if not u.startswith(base)] == []
    with Session(service.engine) as session:
        statuses = dict(session.execute(select(PlanRow.version, PlanRow.status)).all())
    assert statuses == {1: "superseded", 2: "approved"}
