"""The report page as the service serves it, in Debian's headless chromium: a planner signs in
and sees the key figures, the charts and the tables of the sample centre, residents only as
pseudonyms, nothing fetched from off the machine; a missing quota is said on the page."""

from __future__ import annotations

import pytest

from tests.maps.test_map_browser import ARTIFACTS, CHROMIUM, QUIET_FLAGS, watch
from tests.service.api.conftest import PASSWORD, World
from tests.service.api.test_served_maps import served  # noqa: F401 (the fixture)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)",
)

QUERY = "from=2026-10-01&to=2026-11-29&centre_id=MH03&by=team"


def test_a_planner_signs_in_and_reads_the_report(world: World, served: str) -> None:  # noqa: F811
    sync_api = pytest.importorskip("playwright.sync_api")
    requests: list[str] = []
    errors: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=QUIET_FLAGS)
        try:
            for width, height in ((1280, 800), (360, 740)):
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                watch(page, requests, errors)
                page.goto(f"{served}/login?next=/reports/page?{QUERY.replace('&', '%26')}")
                page.fill("#u", "planner")
                page.fill("#p", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_selector("h1")
                assert "统计报告" in page.inner_text("h1")
                assert page.locator(".card").count() >= 3
                assert "quota" in page.inner_text(".problem")  # no quota loaded for 闵行区
                decoded = page.evaluate(
                    "[...document.images].map(i => i.complete && i.naturalWidth > 0)"
                )
                assert decoded == [True, True]  # weekly trend and overdue map
                assert page.locator("table").count() == 4  # annexes 2, 3, coverage, overdue
                overdue = page.locator("#overdue tbody tr td:nth-child(2)").all_inner_texts()
                assert overdue and all(t.startswith("P-") for t in overdue[:-1])
                # the way back, the question to ask again, and the same report as files
                assert page.locator(".bar a").first.get_attribute("href") == "/overview"
                assert page.input_value("input[name=from]") == "2026-10-01"
                assert page.input_value("select[name=by]") == "team"
                xlsx = page.locator("a[download]").first.get_attribute("href")
                assert xlsx is not None and "format=xlsx" in xlsx and "centre_id=MH03" in xlsx
                answer = page.request.get(f"{served}{xlsx}")
                assert answer.status == 200 and answer.body()[:2] == b"PK"  # a workbook
                doc_width = page.evaluate("document.documentElement.scrollWidth")
                assert doc_width <= width, "the report page scrolls sideways"
                page.screenshot(path=str(ARTIFACTS / f"served-report-{width}x{height}.png"))
                context.close()
        finally:
            browser.close()
    assert errors == [], errors
    off_machine = [u for u in requests if not u.startswith((served, "data:"))]
    assert off_machine == [], off_machine
