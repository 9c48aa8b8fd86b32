"""The written pages in a real headless chromium: offline, no console error, screenshots."""

from __future__ import annotations

from pathlib import Path

import pytest

from maps.write import write_plan_maps
from scheduler.evaluate import Reason
from scheduler.model import Dataset, Plan, Problem

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
QUIET_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)",
)


def test_pages_in_browser(
    tmp_path: Path, problem: Problem, plan: Plan, dataset: Dataset, reasons: dict[str, Reason]
) -> None:
    """Every page loads from file:// with no request off the machine and no console error.

    Screenshots of the day and week pages at phone (360x740) and desktop (1280x800) sizes are
    written to ``tests/maps/artifacts/``.
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    pages = write_plan_maps(tmp_path, problem, plan, dataset, reasons)
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=QUIET_FLAGS)
        try:
            for width, height in ((360, 740), (1280, 800)):
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                page.on("request", lambda request: requests.append(request.url))
                page.on(
                    "console",
                    lambda msg: errors.append(msg.text) if msg.type == "error" else None,
                )
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                for path in pages:
                    page.goto(path.as_uri(), wait_until="load")
                    if path.name == "index.html":
                        continue
                    page.wait_for_selector(".leaflet-container")
                    assert page.evaluate("typeof L") == "object", f"Leaflet missing on {path.name}"
                    kind = path.name.split("-")[0]
                    page.screenshot(
                        path=str(ARTIFACTS / f"{kind}-{width}x{height}.png"), full_page=True
                    )
                    if path.name.startswith("day-"):
                        assert page.locator(".hv-icon-stop").count() == len(plan.routes[0].stops)
                        assert page.locator(".leaflet-control-scale").count() == 1
                        if width == 360:
                            doc_width = page.evaluate("document.documentElement.scrollWidth")
                            assert doc_width <= 360, "the day page scrolls sideways on a phone"
                    else:
                        assert page.locator(".leaflet-control-layers").count() == 1
                context.close()
        finally:
            browser.close()
    leaving = [url for url in requests if not url.startswith("file://")]
    assert leaving == []
    assert errors == []
    assert len(requests) > len(pages)  # the assets were really loaded
