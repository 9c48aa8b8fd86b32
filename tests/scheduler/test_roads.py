"""Road travel times from a real osrm-routed on the Helsinki extract (see tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
import json
import math
import pickle
import re
import urllib.request
from dataclasses import astuple
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scheduler.coords import parse_region
from scheduler.dataset import read_dataset
from scheduler.evaluate import evaluate
from scheduler.model import Location, Plan, Problem, TravelMode
from scheduler.params import SolveParams
from scheduler.roads import OsrmTravel, RoadRouterError, calibrate, fallback_report
from scheduler.solve import build_problem, solve
from scheduler.travel import GreatCircleTravel
from tests.conftest import HELSINKI_BOX, HELSINKI_REGION, OFF_NETWORK

pytestmark = pytest.mark.slow

WEEK = dt.date(2026, 11, 30)


def _osrm_table(url: str, points: list[Location]) -> tuple[Any, Any]:
    """Seconds and metres straight from the server (one request), for comparison."""
    coords = ";".join(f"{p.lon:.6f},{p.lat:.6f}" for p in points)
    with urllib.request.urlopen(
        f"{url}/table/v1/x/{coords}?annotations=duration,distance", timeout=30
    ) as response:
        answer = json.loads(response.read())
    return answer["durations"], answer["distances"]


@pytest.fixture(scope="module")
def travel(helsinki_routers: dict[str, str]) -> OsrmTravel:
    """Walking on the foot network, cars on the car network; e-bikes by the great-circle model."""
    return OsrmTravel(
        {TravelMode.WALK: helsinki_routers["foot"], TravelMode.CAR: helsinki_routers["car"]}
    )


@pytest.fixture(scope="module")
def week(helsinki_dataset: Path) -> Problem:
    """The tiny Helsinki centre's week, read through the reader with the Helsinki region."""
    return build_problem(read_dataset(helsinki_dataset, region=parse_region(HELSINKI_REGION)), WEEK)


@pytest.fixture(scope="module")
def planned(week: Problem, travel: OsrmTravel) -> Plan:
    """The week planned on road times (short search: a solution limit, not a clock)."""
    plan, evaluation = solve(week, SolveParams(time_limit_s=5, solution_limit=50), travel=travel)
    assert evaluation.feasible, [v.message for v in evaluation.broken]
    return plan


def test_plan_travel_is_the_routers(
    week: Problem, planned: Plan, travel: OsrmTravel, helsinki_routers: dict[str, str]
) -> None:
    """Every leg of a plan made with --roads is the router's time (rounded up, plus the mode's
    parking overhead) and the router's distance, not the straight-line model's; a mode without
    a router keeps the straight-line model."""
    visits = {v.visit_id: v for v in week.visits}
    clinicians = {c.clinician_id: c for c in week.clinicians}
    centre = next(iter(week.centres.values())).location
    urls = {TravelMode.WALK: helsinki_routers["foot"], TravelMode.CAR: helsinki_routers["car"]}
    overhead = GreatCircleTravel().params.overhead_min
    checked = differs = 0
    for route in planned.routes:
        mode = clinicians[route.clinician_id].travel_mode
        here = centre
        for stop in sorted(route.stops, key=lambda s: s.sequence):
            there = visits[stop.visit_id].location
            if stop.via_centre or here == there or (there.lat, there.lon) == OFF_NETWORK:
                here = there
                continue
            if mode not in urls:  # e-bikes have no router here: the straight-line model
                assert (stop.travel_min, stop.travel_km) == GreatCircleTravel().leg(
                    here, there, mode
                )
                here = there
                continue
            seconds, metres = _osrm_table(urls[mode], [here, there])
            if seconds[0][1] is not None:
                assert stop.travel_min == math.ceil(seconds[0][1] / 60 + overhead[mode] - 1e-9)
                assert stop.travel_km == pytest.approx(metres[0][1] / 1000, abs=0.002)
                straight = GreatCircleTravel().leg(here, there, mode)
                differs += straight != (stop.travel_min, stop.travel_km)
                checked += 1
            here = there
    assert checked >= 5
    assert differs >= checked // 2  # the road is not the straight-line model


def test_evaluator_recomputes_from_the_same_provider(
    week: Problem, planned: Plan, travel: OsrmTravel
) -> None:
    """The evaluator checks the road plan against the road router (it passes) and would catch
    it against the great-circle model (the legs then disagree): it recomputes, never trusts."""
    assert evaluate(week, planned, travel).feasible
    straight = evaluate(week, planned, GreatCircleTravel())
    assert any(v.rule in ("travel", "totals") for v in straight.broken)


def test_blocks_equal_the_one_shot_table(helsinki_routers: dict[str, str]) -> None:
    """A matrix fetched in many small blocks (in parallel) equals the one-request table, for a
    square and a rectangular matrix, on both networks."""
    rng = np.random.default_rng(3)
    lat_min, lat_max, lon_min, lon_max = HELSINKI_BOX
    points = [
        Location(float(rng.uniform(lat_min, lat_max)), float(rng.uniform(lon_min, lon_max)))
        for _ in range(23)
    ]
    urls = {TravelMode.WALK: helsinki_routers["foot"], TravelMode.CAR: helsinki_routers["car"]}
    requests: list[str] = []

    class Counting(OsrmTravel):
        def _get(self, url: str, mode: TravelMode, path: str, query: Any) -> Any:
            requests.append(path)
            return super()._get(url, mode, path, query)

    one_shot = OsrmTravel(urls)
    blocked = Counting(urls, max_table_size=4, threads=3)
    for mode in urls:
        for origins, destinations in ((points, points), (points[:9], points[5:])):
            whole = one_shot.matrix(origins, destinations, mode)
            parts = blocked.matrix(origins, destinations, mode)
            np.testing.assert_array_equal(parts.minutes, whole.minutes)
            np.testing.assert_allclose(parts.km, whole.km, atol=1e-9)
    # 23 x 23 in blocks of 4: 6 x 6 requests; 9 x 18: 3 x 5 (per mode).
    assert len(requests) == 2 * (36 + 15)


def test_tables_are_cached_by_location_set(travel: OsrmTravel) -> None:
    """Asking again for the same places costs no request; other places do."""
    points = [Location(60.170, 24.941), Location(60.172, 24.947), Location(60.175, 24.944)]
    first = travel.matrix(points, points, TravelMode.WALK)
    assert travel.matrix(points, points, TravelMode.WALK) is first
    assert travel.matrix(points[:2], points[:2], TravelMode.WALK) is not first


def test_off_network_cells_fall_back_and_are_reported(
    week: Problem, travel: OsrmTravel, helsinki_routers: dict[str, str]
) -> None:
    """A home far from every road of the extract takes the straight-line model's times, and the
    report names that resident (by id) and no resident on the network."""
    local = OsrmTravel(dict(travel.urls))
    places = [next(iter(week.centres.values())).location] + [v.location for v in week.visits]
    off = Location(*OFF_NETWORK)
    assert off in places
    roads = local.matrix(places, places, TravelMode.WALK)
    model = GreatCircleTravel().matrix(places, places, TravelMode.WALK)
    i = places.index(off)
    assert (roads.minutes[i, :] == model.minutes[i, :]).all()
    assert (roads.minutes[:, i] == model.minutes[:, i]).all()
    report = fallback_report(week, local)["walk"]
    assert "R99" in report["fallback_residents"]
    assert report["fallback_cells"] >= 2 * (len(set(places)) - 1)
    assert report["fallback_residents"] == ["R99"]  # the others walk on the streets
    assert report["fallback_centres"] == []


def test_a_router_that_does_not_answer_is_a_clear_error() -> None:
    """No server at the URL: an error naming the mode, the URL and the command that starts one."""
    from service.roads import free_port

    url = f"http://127.0.0.1:{free_port()}"
    travel = OsrmTravel({TravelMode.CAR: url}, timeout_s=2)
    with pytest.raises(
        RoadRouterError, match=r"car road router at .* does not answer.*roads serve"
    ):
        travel.matrix([Location(60.17, 24.94)], [Location(60.171, 24.945)], TravelMode.CAR)


def test_provider_pickles_for_worker_processes(travel: OsrmTravel) -> None:
    """Solves run in worker processes: the provider travels there with its servers and gives
    the same answers (its caches stay behind)."""
    copy = pickle.loads(pickle.dumps(travel))
    points = [Location(60.170, 24.941), Location(60.174, 24.949)]
    np.testing.assert_array_equal(
        copy.matrix(points, points, TravelMode.CAR).minutes,
        travel.matrix(points, points, TravelMode.CAR).minutes,
    )


def test_map_legs_follow_the_routers_geometry(
    week: Problem, planned: Plan, travel: OsrmTravel, helsinki_dataset: Path
) -> None:
    """A day page drawn with the routers has legs along the streets: the route the server
    returns for the first leg, point for point, not a straight line; a home off the network
    keeps a straight leg."""
    from maps.day import render_clinician_day

    dataset = read_dataset(helsinki_dataset, region=parse_region(HELSINKI_REGION))
    modes = {c.clinician_id: c.travel_mode for c in week.clinicians}
    visits = {v.visit_id: v for v in week.visits}
    centre = next(iter(week.centres.values())).location
    route = next(
        r
        for r in planned.routes
        if r.stops
        and modes[r.clinician_id] in travel.urls
        and astuple(visits[min(r.stops, key=lambda s: s.sequence).visit_id].location) != OFF_NETWORK
    )
    first = min(route.stops, key=lambda s: s.sequence)
    streets = travel.route(centre, visits[first.visit_id].location, modes[route.clinician_id])
    assert len(streets) > 4
    page = render_clinician_day(
        week,
        planned,
        route.clinician_id,
        route.day,
        dataset.residents,
        leg_geometry_by_mode=travel.leg_geometries(),
    )
    lines = re.findall(r"L\.polyline\(\s*(\[\[.*?\]\])", page, re.S)
    drawn = [[tuple(p) for p in json.loads(line)] for line in lines]
    assert [tuple(p) for p in streets] in [[tuple(q) for q in d] for d in drawn]
    # The home in the harbour gets a straight leg, as its travel time is the straight model's.
    assert travel.route(centre, Location(*OFF_NETWORK), TravelMode.WALK) == []
    straight = render_clinician_day(week, planned, route.clinician_id, route.day, dataset.residents)
    assert all(
        len(json.loads(line)) == 2
        for line in re.findall(r"L\.polyline\(\s*(\[\[.*?\]\])", straight, re.S)
    )


def test_calibration_fits_the_router(travel: OsrmTravel, week: Problem) -> None:
    """Calibration against the router gives a detour factor and speed that reproduce the road
    times better than the default model, with ratios that describe the sample."""
    places = sorted(
        {v.location for v in week.visits if (v.location.lat, v.location.lon) != OFF_NETWORK},
        key=lambda p: (p.lat, p.lon),
    )
    fit = calibrate(travel, places, TravelMode.WALK)
    assert fit.pairs >= 50
    assert 1.0 <= fit.detour_factor < 3.0
    assert fit.distance_ratio[0] <= fit.distance_ratio[1]
    assert fit.time_ratio[0] <= fit.time_ratio[1]
    # The fitted model's minutes are closer to the road minutes than the default model's.
    seconds, _metres = travel.road_table(places, places, TravelMode.WALK)
    points = np.array([(p.lat, p.lon) for p in places])
    from scheduler.travel import haversine_km

    gc = haversine_km(points, points)
    ok = ~np.isnan(seconds) & (gc > 0.1)
    road = seconds[ok] / 60
    default = gc[ok] * 1.3 / 4.5 * 60
    fitted = gc[ok] * fit.detour_factor / fit.speed_kmh * 60
    assert np.abs(fitted - road).mean() <= np.abs(default - road).mean()


def test_blocks_larger_than_the_server_allows_are_a_clear_error(
    helsinki_routers: dict[str, str],
) -> None:
    """A block size above the server's --max-table-size (roads serve's 1000 here) is refused
    with the setting to change, rather than a bare HTTP 400; within it, one request suffices."""
    from service.roads import SERVE_MAX_TABLE_SIZE

    lat_min, lat_max, lon_min, lon_max = HELSINKI_BOX
    rng = np.random.default_rng(5)
    points = [
        Location(float(rng.uniform(lat_min, lat_max)), float(rng.uniform(lon_min, lon_max)))
        for _ in range(SERVE_MAX_TABLE_SIZE + 1)
    ]
    too_big = OsrmTravel(
        {TravelMode.WALK: helsinki_routers["foot"]}, max_table_size=SERVE_MAX_TABLE_SIZE + 1
    )
    with pytest.raises(RoadRouterError, match="HOMEVISIT_ROADS_MAX_TABLE_SIZE"):
        too_big.road_table(points, points, TravelMode.WALK)  # refused before any search
    fits = OsrmTravel({TravelMode.WALK: helsinki_routers["foot"]}, max_table_size=120)
    assert fits.matrix(points[:120], points[:120], TravelMode.WALK).minutes.shape == (120, 120)
