"""The nurse's day page as drawn: lunch at its time, a committee session by its committee's name,
the days around, stops gathered in clusters from the local package, and the record forms of a
served page (health check tests ticked by default, values escaped, stored records shown, none
for a day still to come)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from maps.day import render_clinician_day
from maps.record_form import RecordedVisit, Recording
from scheduler.model import Dataset, Location, Plan, Problem, Route, Stop, VisitOutcome
from tests.maps.conftest import MONDAY

HOSTILE = '"><script>alert(1)</script>'


@pytest.fixture
def committee_day(problem: Problem, plan: Plan) -> tuple[Problem, Plan]:
    """N1's Monday: V2 at 08:10, a medicine delivery at committee K1 at 10:00, then V1 (a
    health check) at 13:00, after her lunch (11:30-12:30)."""
    base = problem.visits[0]
    session = dataclasses.replace(
        base,
        visit_id="VK",
        programme="medicine_delivery",
        resident_id=None,
        committee_id="K1",
        location=Location(base.location.lat + 0.003, base.location.lon),
    )
    check = dataclasses.replace(base, programme="health_check")
    visits = (check, session, *problem.visits[1:])
    stops = (
        Stop("V2", "N1", MONDAY, 0, 490, 490, 505, 6, 0.8),
        Stop("VK", "N1", MONDAY, 1, 600, 600, 640, 6, 0.8),
        Stop("V1", "N1", MONDAY, 2, 780, 780, 810, 6, 0.8),
    )
    route = Route("N1", MONDAY, 480, 840, stops, 30, 3.2, 360, 0)
    return dataclasses.replace(problem, visits=visits), dataclasses.replace(plan, routes=(route,))


def _recording(**changes: object) -> Recording:
    values: dict[str, object] = {
        "action": "/me/records",
        "csrf_token": "tok" + HOSTILE,
        "plan_id": 7,
        "script_url": "/static/record.js",
    }
    values.update(changes)
    return Recording(**values)  # type: ignore[arg-type]


def test_lunch_sits_between_the_stops_at_its_time_and_the_committee_has_its_name(
    committee_day: tuple[Problem, Plan], dataset: Dataset
) -> None:
    problem, plan = committee_day
    page = render_clinician_day(
        problem, plan, "N1", MONDAY, dataset.residents, committees={"K1": "古美一村"}
    )
    order = re.findall(r'data-visit="(\w+)"|class="hv-lunch">([\d:–]+)', page)
    assert [v or lunch for v, lunch in order] == ["V2", "VK", "11:30–12:30", "V1"]
    session = page.split('data-visit="VK"', 1)[1].split("</li>", 1)[0]
    assert "居委会活动 Committee session · 古美一村" in session
    assert "古美一村 居委会" in session
    assert not re.search(r"\d+\.\d{5}, \d+\.\d{5}", session)  # no bare coordinates
    assert "name=%E5%8F%A4%E7%BE%8E%E4%B8%80%E6%9D%91" in session  # navigation names it


def test_stops_gather_in_clusters_from_the_local_package(
    committee_day: tuple[Problem, Plan], dataset: Dataset
) -> None:
    """Leaflet.markercluster from the page's assets (never a CDN), each stop's number on its
    marker for the cluster's label, and the map's last zoom set (the clusters need it)."""
    problem, plan = committee_day
    page = render_clinician_day(problem, plan, "N1", MONDAY, dataset.residents)
    assert 'src="assets/leaflet.markercluster.js"' in page
    assert 'href="assets/MarkerCluster.css"' in page
    assert "cdnjs" not in page and "L.markerClusterGroup" in page
    assert re.findall(r'"hvNumber": (\d+)', page) == ["1", "2", "3"]
    assert '"maxZoom": 19' in page


def test_day_links_only_when_given(committee_day: tuple[Problem, Plan], dataset: Dataset) -> None:
    problem, plan = committee_day
    bare = render_clinician_day(problem, plan, "N1", MONDAY, dataset.residents)
    assert 'rel="prev"' not in bare and "hv-record" not in bare
    linked = render_clinician_day(
        problem, plan, "N1", MONDAY, dataset.residents, day_links=("/d/1" + HOSTILE, "/d/3")
    )
    assert 'href="/d/1&quot;&gt;&lt;script&gt;' in linked and 'href="/d/3" rel="next"' in linked
    assert "<script>alert" not in linked


def test_record_forms_escape_their_values_and_tick_the_programmes_tests(
    committee_day: tuple[Problem, Plan], dataset: Dataset
) -> None:
    """A form per home visit (none for the committee session), the token escaped, a health
    check's tests ticked as the programme includes them (B-ultrasound not), home by default."""
    problem, plan = committee_day
    page = render_clinician_day(
        problem, plan, "N1", MONDAY, dataset.residents, recording=_recording()
    )
    assert page.count('<form class="hv-record"') == 2
    assert 'data-key="7/VK"' not in page
    assert 'value="tok&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    assert "<script>alert" not in page
    check = page.split('data-key="7/V1"', 1)[1].split("</form>", 1)[0]
    ticked = re.findall(r'name="tests" value="(\w+)" checked', check)
    assert sorted(ticked) == ["blood_routine", "ecg", "kidney", "lipids", "liver", "urine_routine"]
    assert 'name="tests" value="b_ultrasound">' in check
    assert 'name="place" value="home" checked' in check
    assert 'name="outcome" value="completed" checked' in check
    assert page.count('<script src="/static/record.js" defer></script>') == 1
    assert "discharge_sickbed" not in page  # 撤床 only at a sick-bed round


def test_a_stored_record_replaces_its_form_and_a_future_day_has_none(
    committee_day: tuple[Problem, Plan], dataset: Dataset
) -> None:
    problem, plan = committee_day
    stored = {"V2": RecordedVisit(VisitOutcome.NOT_HOME)}
    page = render_clinician_day(
        problem, plan, "N1", MONDAY, dataset.residents, recording=_recording(recorded=stored)
    )
    assert 'data-key="7/V2"' not in page
    assert 'class="hv-recorded hv-missed"' in page and "未在家 Not at home" in page
    ahead = render_clinician_day(
        problem, plan, "N1", MONDAY, dataset.residents, recording=_recording(open=False)
    )
    assert '<form class="hv-record"' not in ahead
    assert ahead.count("当天上门后再记录") == 2
