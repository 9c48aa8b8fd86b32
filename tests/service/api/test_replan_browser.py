"""Same-day changes in Debian's chromium, as a team leader does them on a Tuesday at 10:00.

From his week's button: the form (a nurse absent from 10:00, a visit cancelled, an urgent
request), the job's progress page (a real worker process), the changes to check with the phones
to call, and the approval; at 1280x800 and at 360x740, with no console error, no request leaving
the machine and every control a 44 px target. Screenshots: tests/maps/artifacts/replan-*.png.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest

from service.api.routers import replan_pages, workspace
from tests.maps.test_map_browser import ARTIFACTS, CHROMIUM, watch
from tests.service.api.conftest import WEEK, team_week_service
from tests.service.api.test_workspace_browser import SIZES, chromium, sign_in, small_targets

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
    with team_week_service(tmp_path_factory.mktemp("replan"), time_limit_s=5.0) as (base, _, _):
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
