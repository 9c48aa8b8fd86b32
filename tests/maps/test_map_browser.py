"""The written pages in a real headless chromium: offline, no console error, screenshots."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from maps.assets import write_assets
from maps.day import render_clinician_day
from maps.write import write_plan_comparison, write_plan_maps
from scheduler.evaluate import Reason
from scheduler.model import Dataset, Location, Plan, Problem
from tests.maps.conftest import MONDAY

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


def watch(page: Any, requests: list[str], errors: list[str]) -> None:
    """Collect every URL ``page`` asks for, and every console error and uncaught exception."""
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))


def _stops_now(page: Any) -> int:
    alone: int = page.locator(".hv-icon-stop").count()
    gathered = page.locator(".hv-cluster span").all_inner_texts()
    return alone + sum(int(text.split()[0]) for text in gathered)


def map_settled(page: Any, timeout_s: float = 10.0) -> None:
    """Wait until the map neither zooms nor gathers/splits clusters (Leaflet and markercluster
    mark their panes while they animate; markers mid-animation overlap and are counted twice)."""
    wait_until(
        page,
        "document.querySelector('.leaflet-cluster-anim, .leaflet-zoom-anim') === null",
        timeout_s,
    )


def stops_on_map(page: Any, timeout_s: float = 10.0) -> int:
    """The stops a day map shows once it has settled: each marker alone, plus those a cluster
    gathers ("3 站").

    While the cluster layer animates (after the first fit, a zoom), the markers it is gathering
    and the cluster that gathers them are both in the page for a moment, so a count taken then
    is too high. Wait until no animation runs and two counts 250 ms apart agree.
    """
    deadline = time.monotonic() + timeout_s
    last = -1
    while True:
        animating = page.evaluate(
            "document.querySelector('.leaflet-cluster-anim, .leaflet-zoom-anim') !== null"
        )
        now = _stops_now(page)
        if not animating and now == last:
            return now
        assert time.monotonic() < deadline, f"the map never settled (last count {now})"
        last = now
        page.wait_for_timeout(250)


def wait_until(page: Any, expression: str, timeout_s: float = 10.0) -> None:
    """Poll ``expression`` until it is true.

    Not ``page.wait_for_function``: it evaluates its predicate with ``eval`` inside the page,
    which the pages' Content-Security-Policy forbids (no ``'unsafe-eval'``), as it should;
    ``page.evaluate`` goes through the DevTools protocol, which the policy does not govern.
    """
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout_s} s: {expression}"
        page.wait_for_timeout(100)


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
                watch(page, requests, errors)
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
                        # Stops close together may gather into a cluster: count both.
                        assert stops_on_map(page) == len(plan.routes[0].stops)
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


def test_comparison_page_in_browser(
    tmp_path: Path, problem: Problem, plan: Plan, replan: Plan, dataset: Dataset
) -> None:
    """The comparison page loads from file:// offline, its layer switches and "show" work.

    At phone (360x740) and desktop (1280x800) sizes: no console error, no request off the
    machine, one marker per stop of each plan and per change, switch A off and on again, tap
    targets at least 44 px, no sideways scrolling on the phone; screenshots written to
    ``tests/maps/artifacts/compare-*.png`` (the whole page, and the map after "show on map").
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    page_path = write_plan_comparison(
        tmp_path,
        problem,
        plan,
        replan,
        "原方案 Approved",
        "重排 Re-plan",
        residents=dataset.residents,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=QUIET_FLAGS)
        try:
            for width, height in ((360, 740), (1280, 800)):
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                watch(page, requests, errors)
                page.goto(page_path.as_uri(), wait_until="load")
                page.wait_for_selector(".leaflet-container")
                assert page.evaluate("typeof L") == "object"
                assert page.locator(".hv-stop-a").count() == len(plan.stops())
                assert page.locator(".hv-stop-b").count() == len(replan.stops())
                assert page.locator(".hv-change-icon").count() == 3
                assert page.locator(".leaflet-control-scale").count() == 1
                page.screenshot(
                    path=str(ARTIFACTS / f"compare-{width}x{height}.png"), full_page=True
                )

                switch_a = page.locator('button.hv-toggle[data-layer="a"]')
                switch_a.click()
                assert switch_a.get_attribute("aria-pressed") == "false"
                assert page.locator(".hv-stop-a").count() == 0
                assert page.locator(".hv-stop-b").count() == len(replan.stops())
                switch_a.click()
                assert switch_a.get_attribute("aria-pressed") == "true"
                assert page.locator(".hv-stop-a").count() == len(plan.stops())

                map_zoom = "window[document.querySelector('.folium-map').id].getZoom()"
                week_zoom = page.evaluate(map_zoom)
                page.select_option("select.hv-day", "2026-12-01")  # Tuesday alone
                wait_until(page, f"{map_zoom} > {week_zoom}")  # Tuesday
                assert page.locator(".hv-stop-a").count() == 0
                assert page.locator(".hv-stop-b").count() == 1  # D1's V1
                assert page.locator(".hv-change-icon").count() == 1  # V1 moved to Tuesday
                assert page.locator("tr.hv-change:visible").count() == 1
                page.select_option("select.hv-day", "all")
                assert page.locator(".hv-stop-b").count() == len(replan.stops())
                assert page.locator("tr.hv-change:visible").count() == 3

                for button in page.locator(
                    "button.hv-toggle, button.hv-locate, select.hv-day"
                ).all():
                    box = button.bounding_box()
                    assert box is not None and box["height"] >= 44, "tap target under 44 px"
                page.locator("button.hv-locate").first.click()
                wait_until(page, f"{map_zoom} === 17")
                page.screenshot(path=str(ARTIFACTS / f"compare-located-{width}x{height}.png"))
                if width == 360:
                    doc_width = page.evaluate("document.documentElement.scrollWidth")
                    assert doc_width <= 360, "the comparison page scrolls sideways on a phone"
                context.close()
        finally:
            browser.close()
    leaving = [url for url in requests if not url.startswith("file://")]
    assert leaving == []
    assert errors == []


def test_hand_in_day_in_browser(
    tmp_path: Path, problem: Problem, plan: Plan, dataset: Dataset
) -> None:
    """A day with a sample hand-in trip and road-shaped legs renders with no error.

    V3's leg passes the centre (dashed, marked in the list); a fake router turns every leg
    into two street-like segments. Screenshot: ``tests/maps/artifacts/day-handin-360x740.png``.
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    route = plan.routes[0]
    stops = tuple(
        dataclasses.replace(s, via_centre=True) if s.visit_id == "V3" else s for s in route.stops
    )
    handin = dataclasses.replace(plan, routes=(dataclasses.replace(route, stops=stops),))

    def along_streets(origin: Location, destination: Location) -> list[tuple[float, float]]:
        return [
            (origin.lat, origin.lon),
            (destination.lat, origin.lon),
            (destination.lat, destination.lon),
        ]

    write_assets(tmp_path)
    page_path = tmp_path / "day.html"
    page_path.write_text(
        render_clinician_day(
            problem, handin, "N1", MONDAY, dataset.residents, leg_geometry=along_streets
        ),
        encoding="utf-8",
    )
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=QUIET_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 360, "height": 740})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(page_path.as_uri(), wait_until="load")
            page.wait_for_selector(".leaflet-container")
            assert page.locator(".hv-leg-handin").count() == 2
            assert page.locator("li.hv-handin").count() == 1
            page.screenshot(path=str(ARTIFACTS / "day-handin-360x740.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
