"""The comparison of two plans: what moved, the key figures, and the page that shows them."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from maps.compare import (
    ChangeKind,
    PlanFigures,
    plan_changes,
    plan_figures,
    render_plan_comparison,
)
from maps.write import write_plan_comparison
from scheduler.model import Dataset, Plan, Problem, Route, Stop
from tests.maps.conftest import MONDAY, TUESDAY
from tests.maps.test_map_pages import _external_references


def _page(problem: Problem, plan: Plan, replan: Plan, dataset: Dataset) -> str:
    return render_plan_comparison(
        problem, plan, replan, "原方案 Approved", "重排 Re-plan", residents=dataset.residents
    )


def test_plan_changes_kinds_and_order(plan: Plan, replan: Plan) -> None:
    """V3 dropped, V1 moved (other clinician and day), V4 added; V2 kept is no change."""
    changes = plan_changes(plan, replan)
    assert [(c.visit_id, c.kind) for c in changes] == [
        ("V3", ChangeKind.DROPPED),
        ("V1", ChangeKind.MOVED),
        ("V4", ChangeKind.ADDED),
    ]
    dropped, moved, added = changes
    assert dropped.after == () and added.before == ()
    assert moved.before[0].clinician_id == "N1" and moved.before[0].day == MONDAY
    assert moved.after[0].clinician_id == "D1" and moved.after[0].day == TUESDAY
    assert moved.other_clinician and moved.other_day


def test_plan_changes_ignores_a_new_time_on_the_same_day(plan: Plan) -> None:
    """Same clinician, same day, another time: not a change; a plan against itself has none."""
    assert plan_changes(plan, plan) == []
    route = plan.routes[0]
    later = tuple(dataclasses.replace(s, start_min=s.start_min + 20) for s in route.stops)
    retimed = dataclasses.replace(plan, routes=(dataclasses.replace(route, stops=later),))
    assert plan_changes(plan, retimed) == []


def test_plan_changes_same_day_other_clinician(plan: Plan) -> None:
    """Handing a visit to a colleague on the same day is a move by another clinician only."""
    route = plan.routes[0]
    handed = Route("D1", MONDAY, 9 * 60, 10 * 60, (_stop_of(route, "V3", "D1"),), 10, 1.0, 60, 0)
    kept = tuple(s for s in route.stops if s.visit_id != "V3")
    other = dataclasses.replace(plan, routes=(dataclasses.replace(route, stops=kept), handed))
    [change] = plan_changes(plan, other)
    assert change.visit_id == "V3" and change.kind is ChangeKind.MOVED
    assert change.other_clinician and not change.other_day


def _stop_of(route: Route, visit_id: str, clinician_id: str) -> Stop:
    stop = next(s for s in route.stops if s.visit_id == visit_id)
    return dataclasses.replace(stop, clinician_id=clinician_id, sequence=0)


def test_plan_figures_counts_a_joint_visit_once(plan: Plan, replan: Plan) -> None:
    """Visits, not stops, are counted; travel and clinician-days are summed over routes."""
    assert plan_figures(plan) == PlanFigures(
        scheduled=3, unscheduled=1, travel_min=30, travel_km=3.2, overtime_min=0, clinician_days=1
    )
    assert plan_figures(replan) == PlanFigures(
        scheduled=3,
        unscheduled=1,
        travel_min=44,
        travel_km=2.9 + 1.4,
        overtime_min=0,
        clinician_days=2,
    )
    route = plan.routes[0]
    partner = Route("D1", MONDAY, 8 * 60, 10 * 60, (_stop_of(route, "V1", "D1"),), 30, 3.0, 120, 0)
    joint = dataclasses.replace(plan, routes=(route, partner))
    assert plan_figures(joint).scheduled == 3
    assert plan_figures(joint).clinician_days == 2


def test_comparison_page_layers_and_markers(
    problem: Problem, plan: Plan, replan: Plan, dataset: Dataset
) -> None:
    """One stop marker per stop of each plan, one change marker per change, offline."""
    page = _page(problem, plan, replan, dataset)
    assert _external_references(page) == []
    assert 'src="assets/leaflet.js"' in page
    assert page.count('"className": "hv-stop-a"') == len(plan.stops()) == 3
    assert page.count('"className": "hv-stop-b"') == len(replan.stops()) == 3
    assert page.count('"className": "hv-route-a"') == 1
    assert page.count('"className": "hv-route-b"') == 2
    for kind in ("dropped", "moved", "added"):
        assert page.count(f"hv-change-icon hv-change-{kind}") == 1
    # A and B by day, changes by the days they touch: A Mon, B Mon, B Tue, changes Mon,
    # changes Mon+Tue (V1 moved from Monday to Tuesday).
    assert page.count("L.featureGroup") == 5
    assert "L.control.scale" in page
    # Large switches above the map instead of Leaflet's small layer control.
    assert "L.control.layers" not in page
    assert len(re.findall(r'<button type="button" class="hv-toggle" data-layer="', page)) == 3


def test_comparison_page_day_picker(
    problem: Problem, plan: Plan, replan: Plan, dataset: Dataset
) -> None:
    """Plans over several days get a day picker; each change row says the days it touches."""
    page = _page(problem, plan, replan, dataset)
    assert '<select class="hv-day">' in page
    assert re.findall(r'<option value="([^"]+)">', page) == ["all", "2026-11-30", "2026-12-01"]
    assert 'data-visit="V1" data-days="2026-11-30 2026-12-01"' in page
    assert 'data-visit="V4" data-days="2026-11-30"' in page
    one_day = render_plan_comparison(problem, plan, plan, "A", "B")
    assert '<select class="hv-day">' not in one_day


def test_comparison_page_table_of_changes(
    problem: Problem, plan: Plan, replan: Plan, dataset: Dataset
) -> None:
    """The table lists the changes with Chinese and English labels, who and when on each side."""
    page = _page(problem, plan, replan, dataset)
    assert re.findall(r'<tr class="hv-change [^"]*" data-visit="(V\d)"', page) == [
        "V3",
        "V1",
        "V4",
    ]
    assert "取消 Dropped" in page and "调整 Moved" in page and "新增 Added" in page
    assert "换人 other clinician" in page and "换日 other day" in page
    assert "刘护士 · 周一 Mon 11-30 · 08:35" in page  # V1 before
    assert "陈医生 · 周二 Tue 12-01 · 09:00" in page  # V1 after
    assert "no clinician free on Mon-Fri" in page  # why V3 is left out of B
    assert "欧**花 · 古美路3号" in page and "欧阳春花" not in page
    assert page.count('class="hv-locate"') == 3


def test_comparison_page_key_figures(
    problem: Problem, plan: Plan, replan: Plan, dataset: Dataset
) -> None:
    """Scheduled, travel hours and km of both plans, with the difference."""
    page = _page(problem, plan, replan, dataset)
    assert "<th>已排上门 Visits scheduled</th><td>3</td><td>3</td>" in page
    assert "<th>路上时间 Travel (h)</th><td>0.5</td><td>0.7</td>" in page
    assert '<th>路程 Distance (km)</th><td>3.2</td><td>4.3</td><td class="hv-delta">+1.1' in page
    assert "<th>出诊人日 Clinician-days out</th><td>1</td><td>2</td>" in page


def test_comparison_page_escapes_labels(problem: Problem, plan: Plan, replan: Plan) -> None:
    """Labels come from users (scenario names): they are escaped everywhere."""
    page = render_plan_comparison(problem, plan, replan, "<b>A</b>", 'say "B"')
    assert "<b>A</b>" not in page
    assert "&lt;b&gt;A&lt;/b&gt;" in page
    assert "say &quot;B&quot;" in page


def test_comparison_of_identical_plans(problem: Problem, plan: Plan) -> None:
    """No changes: no change markers and a sentence saying so."""
    page = render_plan_comparison(problem, plan, plan, "A", "B")
    assert "hv-icon hv-change-icon" not in page
    assert "Both plans schedule the same visits" in page


def test_comparison_with_a_scenario_problem(problem: Problem, plan: Plan, replan: Plan) -> None:
    """Plan B may answer another problem (a scenario): its visits and clinicians are known."""
    extra = dataclasses.replace(problem.visits[0], visit_id="V9")
    scenario = dataclasses.replace(problem, visits=(*problem.visits, extra))
    stop = Stop("V9", "D1", TUESDAY, 1, 10 * 60, 10 * 60, 10 * 60 + 30, 5, 0.5)
    tuesday = dataclasses.replace(replan.routes[1], stops=(*replan.routes[1].stops, stop))
    plan_b = dataclasses.replace(replan, routes=(replan.routes[0], tuesday))
    page = render_plan_comparison(problem, plan, plan_b, "A", "B", problem_b=scenario)
    assert 'data-visit="V9"' in page
    assert page.count("hv-change-icon hv-change-added") == 2


def test_write_plan_comparison(
    tmp_path: Path, problem: Problem, plan: Plan, replan: Plan, dataset: Dataset
) -> None:
    """The page is written with the assets beside it; a file name with a folder is refused."""
    page = write_plan_comparison(
        tmp_path / "out", problem, plan, replan, "A", "B", residents=dataset.residents
    )
    assert page == tmp_path / "out" / "compare.html"
    assert "hv-stop-b" in page.read_text(encoding="utf-8")
    assert (tmp_path / "out" / "assets" / "leaflet.js").stat().st_size > 1000
    with pytest.raises(ValueError, match="plain"):
        write_plan_comparison(tmp_path, problem, plan, replan, "A", "B", file_name="../x.html")
