"""The team leader's home sick-bed page in Debian's chromium, at 360x740 and 1280x800: from his
header to the page, a sick-bed opened for a resident of his team, a discharge refused (a date
before the opening) with the reason in Chinese and English, then discharged with a reason.
Every tap target at least 44 px, no sideways scrolling on a phone, no console error, no request
leaving the machine. Screenshots: tests/maps/artifacts/sickbeds-*.png.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.maps.test_map_browser import ARTIFACTS, CHROMIUM, watch
from tests.service.api.conftest import World, serve_app
from tests.service.api.test_sickbed_pages import _bedless, _episode
from tests.service.api.test_workspace_browser import chromium, sign_in

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)",
)

TAP_TARGETS = "header a, main a, main button, main input, main select, main summary"


def small_targets(page: Any) -> list[str]:
    found: list[str] = page.eval_on_selector_all(
        TAP_TARGETS,
        """els => els.filter(e => e.offsetParent !== null && e.type !== "hidden")
              .filter(e => e.getBoundingClientRect().height < 44)
              .map(e => e.outerHTML.slice(0, 80))""",
    )
    return found


@pytest.mark.parametrize(("width", "height"), [(360, 740), (1280, 800)])
def test_the_leader_opens_and_discharges_a_sick_bed_in_a_browser(
    world: World, width: int, height: int
) -> None:
    """Header link -> the list -> 建床 for a resident of his team -> listed, no round yet ->
    a discharge dated before the opening is refused on the page (zh / en, what he typed kept)
    -> discharged with a reason -> gone from the list."""
    resident = _bedless(world, "MH03-T1")
    today = dt.date.today()
    requests: list[str] = []
    errors: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    size = f"{width}x{height}"
    with serve_app(world.client.app) as base, chromium() as browser:
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        watch(page, requests, errors)
        sign_in(page, base, "lead1")
        page.click("header a[href='/sickbeds']")
        page.wait_for_url(f"{base}/sickbeds")
        assert page.locator("h1").inner_text().startswith("家庭病床")
        rows = page.locator("tr[data-episode]").count()
        assert rows >= 1
        assert small_targets(page) == []
        if width == 360:
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(ARTIFACTS / f"sickbeds-list-{size}.png"), full_page=True)

        page.select_option("#bo-resident", resident)
        assert page.locator("#bo-date").input_value() == str(today)
        page.click("#hv-bed-open button[type=submit]")
        page.locator("#hv-bed-done").wait_for()
        assert "已建床" in page.locator("#hv-bed-done").inner_text()
        assert page.locator("tr[data-episode]").count() == rows + 1
        episode = _episode(world, resident)
        assert episode is not None and episode.discharged is None
        row = page.locator(f"tr[data-episode='{episode.episode_id}']")
        assert "尚未查床" in row.inner_text() and "no round yet" in row.inner_text()

        row.locator("summary").click()
        row.locator("input[name=date]").fill(str(today - dt.timedelta(days=1)))
        row.locator("input[name=reason]").fill("病情好转")
        assert small_targets(page) == []
        row.locator("button[type=submit]").click()
        page.locator("#hv-bed-errors").wait_for()
        said = page.locator("#hv-bed-errors").inner_text()
        assert "早于建床日期" in said and "before the opening date" in said
        row = page.locator(f"tr[data-episode='{episode.episode_id}']")
        assert row.locator("input[name=reason]").input_value() == "病情好转"  # kept to correct
        if width == 360:
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(ARTIFACTS / f"sickbeds-refused-{size}.png"), full_page=True)
        errors[:] = [e for e in errors if "422" not in e]  # the refusal's status, logged

        row.locator("input[name=date]").fill(str(today))
        row.locator("button[type=submit]").click()
        page.locator("#hv-bed-done").wait_for()
        assert "已撤床" in page.locator("#hv-bed-done").inner_text()
        assert page.locator(f"tr[data-episode='{episode.episode_id}']").count() == 0
        episode = _episode(world, resident)
        assert episode is not None
        assert (episode.discharged, episode.discharge_reason) == (today, "病情好转")
        page.screenshot(path=str(ARTIFACTS / f"sickbeds-discharged-{size}.png"), full_page=True)
        context.close()
    assert [url for url in requests if not url.startswith(base)] == []
    assert errors == []
