"""The comparison page of `scenario run` (``scenarios/report.py``): complete and offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scenarios.report import folder_names, render_comparison_page, write_report
from scenarios.scenario import (
    ChangeTravelMode,
    Scenario,
    ScenarioResult,
    restrict_teams,
    run_scenario,
)
from scheduler.model import Dataset, TravelMode
from scheduler.params import SolveParams

FAST = SolveParams(time_limit_s=5.0, solution_limit=30)
# An attribute that loads or links something: src, href (and xlink:href in SVG).
LINK = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
LOADED = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']*)["']""")


@pytest.fixture(scope="module")
def team() -> Dataset:
    return restrict_teams(Scenario("base", "q").base_dataset(), ["MH03-T6"])


@pytest.fixture(scope="module")
def planned(team: Dataset) -> tuple[list[ScenarioResult], list[Dataset]]:
    scenarios = [
        Scenario("baseline", "How is the week today?"),
        Scenario(
            "ebikes <&>",  # a name that needs escaping and a safe folder
            "What if everyone rode an e-bike?",
            changes=(ChangeTravelMode(TravelMode.WALK, TravelMode.EBIKE),),
        ),
    ]
    results = [run_scenario(s, FAST, dataset=team) for s in scenarios]
    return results, [s.apply(team).dataset for s in scenarios]


def test_folder_names_are_safe_and_distinct(
    planned: tuple[list[ScenarioResult], list[Dataset]],
) -> None:
    """Scenario names become file-safe folder names; equal names get a number."""
    results, _ = planned
    assert folder_names(results) == ["baseline", "ebikes"]
    assert folder_names([results[0], results[0]]) == ["baseline", "baseline-2"]


def test_page_has_a_row_per_scenario_and_charts(
    planned: tuple[list[ScenarioResult], list[Dataset]],
) -> None:
    """One table row per scenario in order, names escaped, three SVG charts, no links without
    maps."""
    results, _ = planned
    page = render_comparison_page(results)
    assert re.findall(r'<tr data-scenario="([^"]*)"', page) == ["baseline", "ebikes &lt;&amp;&gt;"]
    assert "ebikes <&>" not in page
    assert page.count('<div class="chart"><svg') == 3
    assert "已排 scheduled" in page and "路途小时 travel h" in page
    assert 'id="programmes"' in page and "80岁以上老人季度随访 followup_80" in page
    assert not LINK.findall(page)


def test_report_links_local_maps_and_loads_nothing_remote(
    planned: tuple[list[ScenarioResult], list[Dataset]], tmp_path: Path
) -> None:
    """comparison.html links each scenario's maps and, but for the baseline, its page against
    the baseline; every link resolves to a file written beside it and none leaves the machine;
    the linked pages load their scripts and styles from disk too."""
    results, datasets = planned
    page_path = write_report(results, datasets, tmp_path)
    assert page_path == tmp_path / "comparison.html"
    page = page_path.read_text(encoding="utf-8")
    assert len(re.findall(r"<tr data-scenario=", page)) == len(results)
    links = LINK.findall(page)
    assert [link for link in links if EXTERNAL.match(link)] == []
    for link in links:
        assert (tmp_path / link).is_file(), link
    assert "baseline/maps/index.html" in links and "ebikes/maps/index.html" in links
    assert "ebikes/maps/week-MH03-T6.html" in links
    assert "ebikes/vs-baseline.html" in links and "baseline/vs-baseline.html" not in links
    for link in links:
        linked = (tmp_path / link).read_text(encoding="utf-8")
        for loaded in LOADED.findall(linked):
            assert not EXTERNAL.match(loaded), (link, loaded)
            assert ((tmp_path / link).parent / loaded).is_file(), (link, loaded)
