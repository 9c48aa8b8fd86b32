"""The workspace pages in Debian's chromium, as people use them.

Each role signs in on the sign-in form and lands on its page (1280x800 and 360x740, tap targets
at least 44 px, no console error, no request leaving the machine); the team leader filters his
week; /docs and /redoc render offline; the team leader plans a week from the form, watches the
progress page and lands on the draft's week. Screenshots go to tests/maps/artifacts.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.maps.test_map_browser import ARTIFACTS, CHROMIUM, QUIET_FLAGS, watch
from tests.service.api.conftest import PASSWORD, WEEK, World, sample_service, serve_app

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
    pytest.mark.usefixtures("on_the_plans_week"),
]

SIZES = ((1280, 800), (360, 740))
TAPPABLE = (
    "header a, header button, main a, main button, main select, main input:not([type=hidden])"
)


@contextmanager
def chromium() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=QUIET_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Any, base: str, user: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#u", user)
    page.fill("#p", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")


def until(condition: Callable[[], bool], limit_s: float = 120) -> None:
    """Wait for ``condition`` (polled from here: the pages' policy forbids eval'd scripts)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def shown_status(page: Any) -> str:
    """The progress page's status now ("" while the page changes or on another page)."""
    try:
        return " ".join(page.locator("#hv-status").all_inner_texts())
    except Exception:  # the page is navigating: ask again
        return ""


def small_targets(page: Any, targets: str = TAPPABLE) -> list[str]:
    """Visible links, buttons and fields (``targets``) less than 44 px high."""
    found: list[str] = page.eval_on_selector_all(
        targets,
        """els => els.filter(e => e.offsetParent !== null)
              .filter(e => e.getBoundingClientRect().height < 44)
              .map(e => e.outerHTML.slice(0, 80))""",
    )
    return found


def test_each_role_lands_on_its_page_at_both_sizes(world: World) -> None:
    """A team leader lands on his team's week, a planner on the centres, an admin on centres and
    users, a nurse on today's route; every link and button is a 44 px target, at 1280 and 360 px."""
    requests: list[str] = []
    errors: list[str] = []
    lands = {
        "lead1": (rf"/plans/{world.plan_id}/week$", "本周计划"),
        "planner": (r"/overview$", "各中心概况"),
        "admin": (r"/admin$", "中心与用户"),
        "nurse1": (rf"/me/routes/{(WEEK + dt.timedelta(days=2)).isoformat()}$", None),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_app(world.client.app) as base, chromium() as browser:
        for width, height in SIZES:
            for user, (url, heading) in lands.items():
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                watch(page, requests, errors)
                sign_in(page, base, user)
                assert re.search(url, page.url), (user, page.url)
                if heading is not None:
                    assert heading in page.inner_text("h1")
                    assert user in page.inner_text("header")
                    assert small_targets(page) == [], (user, width)
                    page_width = page.evaluate("document.documentElement.scrollWidth")
                    assert page_width <= width, (user, width, page_width)  # wide parts scroll
                    page.screenshot(
                        path=str(ARTIFACTS / f"workspace-{user}-{width}x{height}.png"),
                        full_page=True,
                    )
                context.close()
    # The nurse's page has no approved plan on that day in this world: its 404 is expected.
    errors = [e for e in errors if "404" not in e]
    assert errors == [], errors
    assert [u for u in requests if not u.startswith(base)] == []


def overlapping_blocks(page: Any) -> list[str]:
    """Pairs of blocks of one lane whose boxes overlap on the screen (by more than a rounding
    pixel): a click there could open the wrong visit."""
    found: list[str] = page.eval_on_selector_all(
        ".hv-lane[data-clinician] .hv-track",
        """tracks => tracks.flatMap(track => {
             const boxes = [...track.querySelectorAll('.hv-block')]
               .map(b => [b.getBoundingClientRect(), b.className + ' ' + b.title]);
             const pairs = [];
             boxes.forEach(([a, an], i) => boxes.slice(i + 1).forEach(([b, bn]) => {
               const wide = Math.min(a.right, b.right) - Math.max(a.left, b.left);
               const high = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
               if (wide > 0.5 && high > 0) pairs.push(an + ' / ' + bn);
             }));
             return pairs;
           })""",
    )
    return found


def test_week_blocks_do_not_overlap_and_open_their_own_visit(world: World) -> None:
    """At 1280 and 360 px no two blocks of a lane overlap, and a click on the centre of a visit's
    block opens that visit."""
    with serve_app(world.client.app) as base, chromium() as browser:
        for width, height in SIZES:
            page = browser.new_page(viewport={"width": width, "height": height})
            sign_in(page, base, "lead1")
            assert page.locator(".hv-lane .hv-visit").count() > 10
            assert overlapping_blocks(page) == [], width
            page.locator(".hv-timeline").screenshot(
                path=str(ARTIFACTS / f"week-lanes-{width}x{height}.png")
            )
            block = page.locator(".hv-lane a.hv-visit").nth(3)
            visit = block.get_attribute("data-visit")
            block.scroll_into_view_if_needed()
            box = block.bounding_box()
            assert box is not None
            with page.expect_navigation():
                page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            assert page.url.endswith(f"/visits/{visit}"), (page.url, visit)
            page.close()


def test_the_team_leader_filters_his_week(world: World) -> None:
    """Choosing a clinician and a day and pressing Filter leaves that one day's timeline; its
    route sheet prints on A4 without the site's header."""
    with serve_app(world.client.app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        sign_in(page, base, "lead1")
        assert page.locator(".hv-lane[data-clinician]").count() > 1
        page.select_option("select[name=clinician]", "MH03-T1-N")
        page.select_option("select[name=day]", world.nurse1_day.isoformat())
        page.click(".hv-filters button[type=submit]")
        page.wait_for_load_state("load")
        lanes = page.locator(".hv-lane[data-clinician]")
        assert lanes.count() == 1
        assert lanes.first.get_attribute("data-clinician") == "MH03-T1-N"
        assert page.locator(".hv-lane .hv-visit").count() >= 1
        # The lane opens that day's route on the map.
        with page.expect_navigation():
            lanes.first.locator("a.hv-lane-label").click()
        assert f"/maps/day/MH03-T1-N/{world.nurse1_day.isoformat()}" in page.url
        page.wait_for_selector(".leaflet-container")
        page.go_back()
        # The route sheet of that day, printed: one A4 page, without the site's header.
        page.click("a[href*='/print?']")
        page.wait_for_load_state("load")
        assert page.locator(".hv-sheet").count() == 1
        page.emulate_media(media="print")
        assert not page.locator("header").is_visible()
        page.screenshot(path=str(ARTIFACTS / "workspace-route-sheet-print.png"), full_page=True)
        pdf = page.pdf(format="A4")
        # One day's sheet: one A4 page, or two when a long day's stops run over.
        assert 1 <= len(re.findall(rb"/Type\s*/Page[^s]", pdf)) <= 2


def test_api_docs_render_offline(world: World) -> None:
    """/docs lists the operations with nothing fetched from elsewhere and no console error;
    /redoc renders from local files too."""
    requests: list[str] = []
    errors: list[str] = []
    with serve_app(world.client.app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        watch(page, requests, errors)
        page.goto(f"{base}/docs")
        page.wait_for_selector(".opblock", timeout=30_000)
        assert page.locator(".opblock").count() > 20
        page.screenshot(path=str(ARTIFACTS / "docs-1280x800.png"))
        assert [u for u in requests if not u.startswith(base)] == []
        assert errors == [], errors
        blocked: list[tuple[str, str]] = []
        page.on("requestfailed", lambda r: blocked.append((r.url, r.failure or "")))
        page.goto(f"{base}/redoc")
        page.wait_for_selector(".api-content", timeout=60_000)
        assert "homevisit" in page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "redoc-1280x800.png"))
    # ReDoc's standalone build hard-codes its sidebar logo on cdn.redoc.ly: the service serves
    # it without that address, so nothing is asked of the CDN, nothing blocked, nothing logged.
    assert [u for u in requests if not u.startswith(base)] == []
    assert blocked == [], blocked
    assert errors == [], errors


@pytest.fixture(scope="module")
def planning_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A service that runs plan jobs (worker processes), the sample centre and a team leader."""
    with sample_service(tmp_path_factory.mktemp("workspace"), "lead1") as (base, _):
        yield base


def test_the_team_leader_plans_a_week_watches_it_and_opens_the_draft(
    planning_service: str,
) -> None:
    """Plan a week from the form: the progress page shows the job, then the draft's week opens
    with its timelines (no console error, nothing fetched from elsewhere)."""
    base = planning_service
    requests: list[str] = []
    errors: list[str] = []
    with chromium() as browser:
        for width, height in SIZES:
            page = browser.new_page(viewport={"width": width, "height": height})
            watch(page, requests, errors)
            sign_in(page, base, "lead1")
            if width == SIZES[0][0]:
                assert "/week" in page.url and "还没有计划" in page.inner_text("main")
            page.goto(f"{base}/plan-week")
            assert small_targets(page) == []
            page.screenshot(path=str(ARTIFACTS / f"workspace-plan-form-{width}x{height}.png"))
            page.select_option("#week_start", WEEK.isoformat())
            page.fill("#time_limit_s", "3")
            page.click("form.hv-form button[type=submit]")
            page.wait_for_url(re.compile(r"/plan-jobs/\d+/progress$"))
            assert page.locator("#hv-bar").count() == 1
            page.screenshot(path=str(ARTIFACTS / f"workspace-progress-{width}x{height}.png"))
            page.wait_for_url(re.compile(r"/plans/\d+/week$"), timeout=180_000)
            assert "草稿" in page.inner_text(".hv-plan-line")
            assert page.locator(".hv-lane[data-clinician] .hv-visit").count() > 0
            page.screenshot(
                path=str(ARTIFACTS / f"workspace-draft-week-{width}x{height}.png"), full_page=True
            )
            page.close()
    assert errors == [], errors
    assert [u for u in requests if not u.startswith(base)] == []


def test_the_team_leader_cancels_a_running_solve(planning_service: str) -> None:
    """The progress page's cancel button (a CSRF-checked form) stops the solve long before its
    time limit: it ends with the best plan so far opened, or as cancelled."""
    base = planning_service
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        sign_in(page, base, "lead1")
        page.goto(f"{base}/plan-week")
        page.select_option("#week_start", WEEK.isoformat())
        page.fill("#time_limit_s", "600")
        started = time.monotonic()
        page.click("form.hv-form button[type=submit]")
        page.wait_for_url(re.compile(r"/plan-jobs/\d+/progress$"))
        until(lambda: "running" in shown_status(page))
        job_url = page.url.removesuffix("/progress")
        page.click("#hv-cancel button")
        until(lambda: page.url.endswith("/week") or "cancelled" in shown_status(page))
        assert time.monotonic() - started < 300  # stopped, not run to its 600 s limit
        job = page.request.get(job_url).json()
        assert job["status"] == "cancelled" or job["message"].startswith("cancelled"), job
        page.close()
