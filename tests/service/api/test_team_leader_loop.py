"""Issue 13's check, end to end in Debian's chromium, on a fresh database with the sample centre.

The team leader at 1280x800: sign in -> upload his team's register with a mistake (refused, the
error in the table naming the header as written) -> the right one -> plan the week and watch the
progress page open the draft -> open a visit, move it to another day and see the verdict ->
re-plan around it (a job) -> approve -> print the route sheets (one per clinician-day). The nurse
at 360x740: sign in -> today's route -> a visit done with a blood pressure and a glucose reading
-> the record in the database -> her team leader's week shows it done. On every page: no console
error, no request leaving 127.0.0.1, tap targets of 44 px, nothing wider than the screen; the
team leader's pages also at 360x740 and the nurse's at 1280x800. Screenshots:
tests/maps/artifacts/loop-*.png.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.api.routers import workspace
from service.db.tables import PlanPinRow, PlanRow, PlanStopRow, ResidentRow, VisitRecordRow
from tests.maps.test_map_browser import ARTIFACTS, CHROMIUM, watch
from tests.service.api.conftest import WEEK, sample_service
from tests.service.api.test_nurse_browser import small_targets as nurse_small_targets
from tests.service.api.test_registers_page import team_register, workbook
from tests.service.api.test_week_edits_browser import _single_visit
from tests.service.api.test_workspace_browser import chromium, sign_in, small_targets, until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]

TEAM = "MH03-T1"
NURSE = "MH03-T1-N"


@pytest.fixture
def fresh_service(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """The sample centre on a fresh database, the team leader of team 1 and its nurse."""
    with sample_service(tmp_path, "lead1", "nurse1") as service:
        yield service


def phone_of(engine: Any, resident_id: str) -> str | None:
    with Session(engine) as session:
        return session.scalar(
            select(ResidentRow.phone).where(ResidentRow.resident_id == resident_id)
        )


def watch_progress(page: Any, look: Callable[[], None]) -> None:
    """Watch the progress page until it counts the visits to place (then ``look`` at it), or
    until it has opened what the job made by itself."""

    def counted() -> bool:
        try:
            total = page.locator("#hv-total").all_inner_texts()
        except Exception:  # the page is navigating
            return False
        return total != [] and total[0].strip() not in ("", "0")

    until(lambda: counted() or not page.url.endswith("/progress"), 60)
    if page.url.endswith("/progress"):
        look()


def room_elsewhere(page: Any, stop: PlanStopRow) -> tuple[str, dt.date]:
    """Another clinician with room for the visit on another day, as the visit's page says."""
    for row in page.locator(".hv-options tr[data-clinician]").all():
        clinician = str(row.get_attribute("data-clinician"))
        cells = row.locator("td")
        for i in range(cells.count()):
            day = WEEK + dt.timedelta(days=i)
            room = "hv-room" in (cells.nth(i).get_attribute("class") or "")
            if room and clinician != stop.clinician_id and day != stop.visit_date:
                return clinician, day
    raise AssertionError("no other clinician has room on another day")


def test_a_team_leaders_week_and_a_nurses_day_end_to_end(
    fresh_service: tuple[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, engine = fresh_service
    monkeypatch.setattr(workspace, "today", lambda: WEEK + dt.timedelta(days=2))
    tables = team_register(TEAM)
    # The right register brings one change: a resident's new phone number.
    moved_house = str(tables["residents"].loc[5, "resident_id"])
    tables["residents"].loc[5, "phone"] = "13900001234"
    right = tmp_path / "团队档案.xlsx"
    right.write_bytes(workbook(tables))
    tables["residents"].loc[2, "birth_date"] = "1949-13-45"
    wrong = tmp_path / "团队档案-有错.xlsx"
    wrong.write_bytes(workbook(tables))
    requests: list[str] = []
    errors: list[str] = []
    visited: list[str] = []  # the team leader's pages, to see again on a phone
    ARTIFACTS.mkdir(exist_ok=True)

    def looked_at(
        page: Any, name: str, targets: Callable[[Any], list[str]] = small_targets
    ) -> None:
        """Every page of the loop: 44 px targets, no sideways scroll, a screenshot."""
        width = page.viewport_size["width"]
        assert targets(page) == [], (name, width)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        size = f"{width}x{page.viewport_size['height']}"
        page.screenshot(path=str(ARTIFACTS / f"loop-{name}-{size}.png"), full_page=True)

    with chromium() as browser:
        desk = browser.new_context(viewport={"width": 1280, "height": 800})
        page = desk.new_page()
        watch(page, requests, errors)
        sign_in(page, base, "lead1")
        assert "还没有计划" in page.inner_text("main")  # a fresh database: no plan yet
        looked_at(page, "lead-signed-in")

        # His team's register: first with a mistake, refused and named as written.
        page.click("header a[href='/registers']")
        page.wait_for_load_state("load")
        visited.append(page.url)
        page.set_input_files("#files", str(wrong))
        with page.expect_navigation():
            page.click("form.hv-upload button[type=submit]")
        cells = page.locator(".hv-problem-table tbody tr").first.locator("td").all_inner_texts()
        assert cells[:4] == ["团队档案-有错.xlsx, sheet 居民", "4", "出生日期", "1949-13-45"]
        assert "no such day in the calendar" in cells[4]
        looked_at(page, "upload-refused")
        assert phone_of(engine, moved_house) != "13900001234"  # nothing was imported
        # The browser logs the 422 of the refused form: that one, and nothing else.
        assert all("422" in e for e in errors), errors
        errors.clear()
        page.set_input_files("#files", str(right))
        with page.expect_navigation():
            page.click("form.hv-upload button[type=submit]")
        assert "已导入" in page.inner_text(".hv-done h2")
        residents = page.locator(".hv-done tr", has_text="residents").locator("td")
        assert residents.all_inner_texts()[1:3] == ["0", "1"]  # added none, updated one
        assert phone_of(engine, moved_house) == "13900001234"
        looked_at(page, "upload-done")

        # Plan the week; the progress page opens the draft by itself.
        page.goto(f"{base}/plan-week")
        visited.append(page.url)
        page.select_option("#week_start", WEEK.isoformat())
        page.fill("#time_limit_s", "3")
        looked_at(page, "plan-form")
        page.click("form.hv-form button[type=submit]")
        page.wait_for_url(re.compile(r"/plan-jobs/\d+/progress$"))
        assert page.locator("#hv-bar").count() == 1
        watch_progress(page, lambda: looked_at(page, "plan-progress"))
        page.wait_for_url(re.compile(r"/plans/\d+/week$"), timeout=120_000)
        draft = int(re.findall(r"/plans/(\d+)/week", page.url)[0])
        assert "草稿" in page.inner_text(".hv-plan-line")
        assert page.locator(f'.hv-lane[data-clinician="{NURSE}"] .hv-visit').count() > 0
        visited.append(page.url)
        looked_at(page, "draft-week")

        # Open one of the nurse's visits, move it to another day: the verdict, then the move.
        stop = _single_visit(engine, draft)
        page.click(f'a.hv-block[data-visit="{stop.visit_id}"]')
        page.wait_for_url(re.compile(r"/visits/"))
        visited.append(page.url)
        assert "为何应访" in page.inner_text("main")
        other, day = room_elsewhere(page, stop)
        page.select_option("#mv-clinician", other)
        page.select_option("#mv-day", day.isoformat())
        page.click("#hv-move button[value=check]")
        page.wait_for_load_state("load")
        assert "不违反任何规则" in page.inner_text("#hv-verdict")
        looked_at(page, "move-verdict")
        page.click("#hv-move button[value=apply]")
        page.wait_for_load_state("load")
        assert "已移动并固定" in page.inner_text("main")
        assert day.isoformat() in page.inner_text("#hv-placed")
        looked_at(page, "moved")

        # Re-plan around it: a job, its progress page, the draft again with the move held.
        page.goto(f"{base}/plans/{draft}/week")
        page.fill("#hv-replan-around input[name=time_limit_s]", "3")
        page.click("#hv-replan-around button")
        page.wait_for_url(re.compile(r"/plan-jobs/\d+/progress$"))
        watch_progress(page, lambda: looked_at(page, "replan-progress"))
        page.wait_for_url(re.compile(rf"/plans/{draft}/week$"), timeout=120_000)
        with Session(engine) as session:
            kept = session.scalars(
                select(PlanStopRow).where(
                    PlanStopRow.plan_id == draft, PlanStopRow.visit_id == stop.visit_id
                )
            ).all()
            pins = session.scalar(select(func.count()).where(PlanPinRow.plan_id == draft))
        assert [(s.clinician_id, s.visit_date) for s in kept] == [(other, day)]
        assert pins == 1

        # Approve from the week page.
        page.click("#hv-week-approve button")
        page.wait_for_url(re.compile(rf"/plans/{draft}/week$"))
        assert "已审核" in page.inner_text(".hv-plan-line")
        looked_at(page, "approved-week")

        # Print the route sheets from the week: one sheet per clinician-day of the plan.
        page.click("a[href*='/print?']")
        page.wait_for_load_state("load")
        visited.append(page.url)
        with Session(engine) as session:
            days = session.execute(
                select(PlanStopRow.clinician_id, PlanStopRow.visit_date)
                .where(PlanStopRow.plan_id == draft)
                .distinct()
            ).all()
        assert page.locator(".hv-sheet").count() == len(days) > 5
        looked_at(page, "print")
        page.emulate_media(media="print")
        assert not page.locator("header").is_visible()
        page.close()
        desk.close()

        # The team leader's pages on a phone.
        phone = browser.new_context(viewport={"width": 360, "height": 740})
        page = phone.new_page()
        watch(page, requests, errors)
        sign_in(page, base, "lead1")
        for url, name in zip(
            visited, ("upload-form", "plan-form", "week", "visit", "print"), strict=True
        ):
            page.goto(url)
            looked_at(page, f"lead-{name}")
        phone.close()

        # The nurse on her phone, on a day of the approved week she has visits (and past).
        with Session(engine) as session:
            assert session.scalar(select(PlanRow.status).where(PlanRow.plan_id == draft)) == (
                "approved"
            )
            first = session.scalars(
                select(PlanStopRow)
                .where(
                    PlanStopRow.plan_id == draft,
                    PlanStopRow.clinician_id == NURSE,
                    PlanStopRow.resident_id.is_not(None),
                    PlanStopRow.visit_date <= dt.date.today(),
                )
                .order_by(PlanStopRow.visit_date, PlanStopRow.sequence)
            ).first()
            assert first is not None
            session.expunge(first)
        today = first.visit_date
        monkeypatch.setattr(workspace, "today", lambda: today)
        phone = browser.new_context(viewport={"width": 360, "height": 740})
        page = phone.new_page()
        watch(page, requests, errors)
        sign_in(page, base, "nurse1")
        assert page.url == f"{base}/me/routes/{today}"
        page.wait_for_selector(".leaflet-container")
        looked_at(page, "nurse-route", nurse_small_targets)
        key = f"{draft}/{first.visit_id}"
        page.locator(f'li[data-visit="{first.visit_id}"] summary').click()
        form = page.locator(f'form.hv-record[data-key="{key}"]')
        form.locator("input[name=systolic_mmhg]").fill("132")
        form.locator("input[name=diastolic_mmhg]").fill("84")
        form.locator("input[name=glucose_mmol_l]").fill("6.4")
        looked_at(page, "nurse-record-form", nurse_small_targets)
        visit = page.locator(f'li[data-visit="{first.visit_id}"]')
        visit.screenshot(path=str(ARTIFACTS / "loop-nurse-record-form-visit-360x740.png"))
        form.locator("button[type=submit]").click()
        saved = page.locator(f'li[data-visit="{first.visit_id}"] .hv-recorded')
        saved.wait_for()
        assert "已保存 Saved" in saved.inner_text() and "132/84" in saved.inner_text()
        looked_at(page, "nurse-saved", nurse_small_targets)
        visit.screenshot(path=str(ARTIFACTS / "loop-nurse-saved-visit-360x740.png"))
        phone.close()
        with Session(engine) as session:
            records = session.execute(
                select(
                    VisitRecordRow.outcome,
                    VisitRecordRow.systolic_mmhg,
                    VisitRecordRow.diastolic_mmhg,
                    VisitRecordRow.glucose_mmol_l,
                ).where(
                    VisitRecordRow.resident_id == first.resident_id,
                    VisitRecordRow.visit_date == today,
                )
            ).all()
        assert [tuple(r) for r in records] == [("completed", 132, 84, 6.4)]

        # Her day at 1280x800, then her team leader's week at both sizes: the visit done.
        for width, height in ((1280, 800), (360, 740)):
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            watch(page, requests, errors)
            if width == 1280:
                sign_in(page, base, "nurse1")
                page.wait_for_selector(".leaflet-container")
                assert page.locator(".hv-recorded").count() == 1
                looked_at(page, "nurse-route", nurse_small_targets)
                context.close()
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                watch(page, requests, errors)
            sign_in(page, base, "lead1")
            page.goto(f"{base}/plans/{draft}/week?clinician={quote(NURSE)}&day={today}")
            lane = page.locator(f'.hv-lane[data-clinician="{NURSE}"][data-day="{today}"]')
            done = lane.locator(f'.hv-rec-completed[data-visit="{first.visit_id}"]')
            assert done.count() == 1, lane.inner_html()
            assert lane.locator(".hv-rec-completed").count() == 1
            looked_at(page, "lead-week-done")
            context.close()
    assert errors == [], errors
    assert [u for u in requests if not u.startswith(base)] == []
