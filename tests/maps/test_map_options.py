"""Tile backgrounds, navigation links, the sample hand-in trip and road geometry on the maps."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from maps.base import LatLon, Leg, baidu_url, route_legs, route_path, straight_leg
from maps.compare import render_plan_comparison
from maps.day import render_clinician_day
from maps.week import render_team_week
from scheduler.coords import wgs84_to_bd09, wgs84_to_gcj02
from scheduler.evaluate import Reason
from scheduler.model import Dataset, Location, Plan, Problem
from tests.maps.conftest import CENTRE, MONDAY

_MARKER = re.compile(r"L\.(?:marker|circleMarker)\(\s*\[([-\d.e]+), ([-\d.e]+)\]")
_POLYLINE = re.compile(r"L\.polyline\(\s*(\[\[.*?\]\])", re.DOTALL)


def _markers(page: str) -> list[LatLon]:
    return [(float(lat), float(lon)) for lat, lon in _MARKER.findall(page)]


def _polylines(page: str) -> list[list[LatLon]]:
    return [[(p[0], p[1]) for p in json.loads(found)] for found in _POLYLINE.findall(page)]


def _close(a: LatLon, b: LatLon) -> bool:
    return abs(a[0] - b[0]) < 1e-9 and abs(a[1] - b[1]) < 1e-9


def _expected_day_markers(problem: Problem, plan: Plan) -> list[LatLon]:
    """The centre, then the stops in visit order, in WGS-84."""
    visits = {v.visit_id: v.location for v in problem.visits}
    stops = sorted(plan.routes[0].stops, key=lambda s: s.sequence)
    return [(CENTRE.lat, CENTRE.lon)] + [
        (visits[s.visit_id].lat, visits[s.visit_id].lon) for s in stops
    ]


@pytest.fixture(scope="module")
def handin_plan(plan: Plan) -> Plan:
    """The fixture plan with V3's leg passing the centre to hand in samples."""
    route = plan.routes[0]
    stops = tuple(
        dataclasses.replace(s, via_centre=True) if s.visit_id == "V3" else s for s in route.stops
    )
    return dataclasses.replace(plan, routes=(dataclasses.replace(route, stops=stops),))


@pytest.mark.parametrize("tiles", ["none", "osm"])
def test_markers_stay_in_wgs84_without_amap(
    tiles: str, problem: Problem, plan: Plan, dataset: Dataset
) -> None:
    """With no tiles or OpenStreetMap (a WGS-84 map) the markers sit on the WGS-84 points."""
    page = render_clinician_day(
        problem,
        plan,
        "N1",
        MONDAY,
        dataset.residents,
        tiles=tiles,  # type: ignore[arg-type]
    )
    found = _markers(page)
    expected = _expected_day_markers(problem, plan)
    assert len(found) == len(expected) == 4
    assert all(_close(f, e) for f, e in zip(found, expected, strict=True))


def test_markers_shift_to_gcj02_on_amap(problem: Problem, plan: Plan, dataset: Dataset) -> None:
    """On AMap tiles every marker and route point is shifted WGS-84 -> GCJ-02."""
    page = render_clinician_day(problem, plan, "N1", MONDAY, dataset.residents, tiles="amap")
    found = _markers(page)
    expected = [wgs84_to_gcj02(lat, lon) for lat, lon in _expected_day_markers(problem, plan)]
    assert len(found) == 4
    assert all(_close(f, e) for f, e in zip(found, expected, strict=True))
    # The shift in Shanghai is some hundreds of metres, not a rounding error.
    assert abs(found[0][1] - CENTRE.lon) > 0.003
    line_points = [p for line in _polylines(page) for p in line]
    assert any(_close(p, expected[0]) for p in line_points)
    assert not any(_close(p, (CENTRE.lat, CENTRE.lon)) for p in line_points)


def test_amap_shift_on_week_and_comparison_pages(
    problem: Problem, plan: Plan, replan: Plan, dataset: Dataset, reasons: dict[str, Reason]
) -> None:
    """The week and comparison pages shift their markers on AMap too, and only there."""
    centre_gcj = wgs84_to_gcj02(CENTRE.lat, CENTRE.lon)
    for tiles in ("none", "amap"):
        week = render_team_week(problem, plan, "T1", reasons, tiles=tiles)  # type: ignore[arg-type]
        compare = render_plan_comparison(
            problem,
            plan,
            replan,
            "A",
            "B",
            tiles=tiles,  # type: ignore[arg-type]
        )
        expected = centre_gcj if tiles == "amap" else (CENTRE.lat, CENTRE.lon)
        for page in (week, compare):
            assert _close(_markers(page)[0], expected), tiles


def test_tile_layers(problem: Problem, plan: Plan, dataset: Dataset) -> None:
    """none: no tile layer but a scale bar; osm and amap: their tile servers; others refused."""
    pages = {
        tiles: render_clinician_day(
            problem,
            plan,
            "N1",
            MONDAY,
            dataset.residents,
            tiles=tiles,  # type: ignore[arg-type]
        )
        for tiles in ("none", "osm", "amap")
    }
    assert "L.tileLayer" not in pages["none"]
    assert "L.control.scale" in pages["none"] and "L.polyline" in pages["none"]
    assert "tile.openstreetmap.org" in pages["osm"]
    assert "is.autonavi.com" in pages["amap"] and '"subdomains": "1234"' in pages["amap"]
    for page in pages.values():
        assert "L.control.scale" in page
    with pytest.raises(ValueError, match="tiles must be one of"):
        render_clinician_day(
            problem,
            plan,
            "N1",
            MONDAY,
            dataset.residents,
            tiles="google",  # type: ignore[arg-type]
        )


def test_baidu_link_uses_bd09() -> None:
    """The Baidu link carries BD-09 lat,lon and says so (coord_type=bd09ll)."""
    point = Location(31.15, 121.40)
    lat, lon = wgs84_to_bd09(point.lat, point.lon)
    url = baidu_url(point, "古美路1号")
    assert url.startswith(f"https://api.map.baidu.com/marker?location={lat:.6f},{lon:.6f}&")
    assert "coord_type=bd09ll" in url and "output=html" in url and "src=" in url
    assert f"{point.lat:.6f}" not in url


def test_day_page_has_both_navigation_links(problem: Problem, plan: Plan, dataset: Dataset) -> None:
    """Each stop in the list has an AMap and a Baidu link, 44 px tall like every action."""
    page = render_clinician_day(problem, plan, "N1", MONDAY, dataset.residents)
    assert page.count('href="https://uri.amap.com/marker?position=') == 3
    assert page.count('href="https://api.map.baidu.com/marker?location=') == 3
    assert page.count("百度导航 Baidu") == 3


def test_route_legs_through_the_centre() -> None:
    """A via-centre stop adds a leg to the centre; none when the route is already there."""
    home_a, home_b = Location(31.16, 121.41), Location(31.17, 121.42)
    legs = route_legs(CENTRE, [(home_a, False), (home_b, True)])
    assert legs == [
        Leg(CENTRE, home_a),
        Leg(home_a, CENTRE, hand_in=True),
        Leg(CENTRE, home_b, hand_in=True),
        Leg(home_b, CENTRE),
    ]
    assert route_legs(CENTRE, [(home_a, True)]) == [
        Leg(CENTRE, home_a, hand_in=True),
        Leg(home_a, CENTRE),
    ]
    assert route_legs(CENTRE, []) == []


def test_day_page_draws_and_lists_the_hand_in_trip(
    problem: Problem, handin_plan: Plan, dataset: Dataset
) -> None:
    """The leg to V3 passes the centre (dashed) and the list says so just before V3."""
    page = render_clinician_day(problem, handin_plan, "N1", MONDAY, dataset.residents)
    handin_lines = re.findall(r'"className": "hv-leg hv-leg-handin"', page)
    assert len(handin_lines) == 2  # V1 -> centre, centre -> V3
    assert page.count('"className": "hv-leg"') == 3  # centre->V2->V1, V3->centre
    lines = _polylines(page)
    assert sum((CENTRE.lat, CENTRE.lon) in line for line in lines) == 4
    items = re.findall(r'<li class="(hv-stop|hv-handin)"(?: data-visit="(V\d)")?', page)
    assert items == [
        ("hv-stop", "V2"),
        ("hv-stop", "V1"),
        ("hv-handin", ""),
        ("hv-stop", "V3"),
    ]
    assert "送检 hand in samples" in page
    assert "含送检 incl. sample hand-in" in page


def test_day_page_without_hand_in_has_no_mark(
    problem: Problem, plan: Plan, dataset: Dataset
) -> None:
    """A route without via-centre stops has no hand-in leg or list item."""
    page = render_clinician_day(problem, plan, "N1", MONDAY, dataset.residents)
    assert "hv-handin" not in page.split("</style>", 1)[1]
    assert page.count('"className": "hv-leg"') == 4


def test_leg_geometry_hook(problem: Problem, plan: Plan, dataset: Dataset) -> None:
    """A road router's points are drawn for every leg (shifted on AMap); none given: straight."""
    calls: list[tuple[Location, Location]] = []

    def fake_router(origin: Location, destination: Location) -> list[LatLon]:
        calls.append((origin, destination))
        corner = (origin.lat, destination.lon)  # a right-angle turn, as streets go
        return [(origin.lat, origin.lon), corner, (destination.lat, destination.lon)]

    page = render_clinician_day(
        problem, plan, "N1", MONDAY, dataset.residents, leg_geometry=fake_router
    )
    assert len(calls) == 4  # centre -> V2 -> V1 -> V3 -> centre
    points = [p for line in _polylines(page) for p in line]
    for origin, destination in calls:
        assert (origin.lat, destination.lon) in points
    straight = render_clinician_day(problem, plan, "N1", MONDAY, dataset.residents)
    assert all(len(line) == 2 for line in _polylines(straight))
    calls.clear()
    amap = render_clinician_day(
        problem, plan, "N1", MONDAY, dataset.residents, tiles="amap", leg_geometry=fake_router
    )
    origin, destination = calls[0]
    corner = wgs84_to_gcj02(origin.lat, destination.lon)
    assert any(_close(p, corner) for line in _polylines(amap) for p in line)


def test_leg_geometry_on_week_and_comparison_pages(
    problem: Problem, plan: Plan, replan: Plan, reasons: dict[str, Reason]
) -> None:
    """The week and comparison pages ask the router for every leg of every route drawn."""
    calls: list[Leg] = []

    def counting_router(origin: Location, destination: Location) -> list[LatLon]:
        calls.append(Leg(origin, destination))
        return straight_leg(origin, destination)

    render_team_week(problem, plan, "T1", reasons, leg_geometry=counting_router)
    assert len(calls) == 4
    calls.clear()
    render_plan_comparison(problem, plan, replan, "A", "B", leg_geometry=counting_router)
    assert len(calls) == 4 + 3 + 2  # A: N1 Monday; B: N1 Monday, D1 Tuesday


def test_route_path_falls_back_to_straight_when_the_router_finds_no_road() -> None:
    """A router answering with fewer than two points leaves the leg straight, never missing."""
    home = Location(31.16, 121.41)
    path = route_path([Leg(CENTRE, home), Leg(home, CENTRE)], lambda o, d: [], "none")
    assert path == [(CENTRE.lat, CENTRE.lon), (home.lat, home.lon), (CENTRE.lat, CENTRE.lon)]
