"""The map pages as the service serves them, in a real headless chromium (Debian's).

A nurse signs in on the sign-in page (360 px wide), lands on her day's map served with the
service's own Leaflet: no request leaves the machine, no console error, one marker per stop of
her stored route, the times in order; changing the URL to a colleague's map gives 404.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.maps.test_map_browser import ARTIFACTS, CHROMIUM, QUIET_FLAGS, stops_on_map, watch
from tests.service.api.conftest import PASSWORD, World, serve_app

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)",
)


@pytest.fixture
def served(world: World) -> Iterator[str]:
    """The world's app on a real port (uvicorn in a thread), for the browser."""
    with serve_app(world.client.app) as url:
        yield url


def test_a_nurse_signs_in_and_finds_her_day_on_the_map(world: World, served: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    route = world.client.get(
        f"/me/routes/{world.nurse1_day}",
        headers=world.headers("nurse1") | {"Accept": "application/json"},
    ).json()
    requests: list[str] = []
    errors: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=QUIET_FLAGS)
        try:
            context = browser.new_context(viewport={"width": 360, "height": 740})
            page = context.new_page()
            watch(page, requests, errors)
            page.on(
                "response",
                lambda response: (
                    errors.append(f"{response.status} {response.url}")
                    if response.status >= 400 and "/maps/day/MH03-T2-N/" not in response.url
                    else None
                ),
            )
            page.goto(f"{served}/login?next=/me/routes/{world.nurse1_day}")
            page.fill("#u", "nurse1")
            page.fill("#p", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector(".leaflet-container")
            assert page.evaluate("typeof L") == "object"
            assert stops_on_map(page) == len(route["stops"])  # alone or in a cluster
            shown = page.locator(".hv-stop .hv-time").all_inner_texts()
            starts = [s["arrival"] for s in route["stops"]] + [s["start"] for s in route["stops"]]
            assert shown and all(any(t in text for t in starts) for text in shown)
            assert shown == sorted(shown)
            page.screenshot(path=str(ARTIFACTS / "served-day-360x740.png"), full_page=True)
            assert errors == [], errors
            # The 404 below logs "Failed to load resource" on purpose: checked above, not after.
            other = page.goto(
                f"{served}/plans/{world.plan_id}/maps/day/MH03-T2-N/{world.nurse1_day}"
            )
            assert other is not None and other.status == 404
            context.close()
        finally:
            browser.close()
    off_machine = [u for u in requests if not u.startswith(served)]
    assert off_machine == [], off_machine
