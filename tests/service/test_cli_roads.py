"""``homevisit roads ...`` and ``plan/check --roads`` as a site runs them, on real OSRM servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scheduler.model import TravelMode
from scheduler.roads import OsrmTravel
from scheduler.travel import GreatCircleTravel
from service.cli import app
from service.roads import free_port, parse_roads, travel_with_roads
from service.settings import Settings, get_settings
from tests.conftest import HELSINKI_REGION

runner = CliRunner()
WEEK = "2026-11-30"


@pytest.fixture
def in_helsinki(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """HOMEVISIT_REGION set to the Helsinki box for the command (settings re-read)."""
    monkeypatch.setenv("HOMEVISIT_REGION", HELSINKI_REGION)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _roads(urls: dict[str, str]) -> list[str]:
    return ["--roads", f"walk={urls['foot']}", "--roads", f"car={urls['car']}"]


@pytest.mark.slow
def test_plan_with_roads_writes_a_checked_plan_and_reports_fallbacks(
    in_helsinki: None, helsinki_dataset: Path, helsinki_routers: dict[str, str], tmp_path: Path
) -> None:
    """`plan --roads walk=URL --roads car=URL --maps` writes a plan that `check --roads` passes
    and that `check` on the straight-line model refuses; kpis.json names the resident whose home
    is off the network (by id), and the map pages are written."""
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "plan",
            str(helsinki_dataset),
            "--week",
            WEEK,
            "--out",
            str(out),
            "--time-limit",
            "2",
            "--maps",
            *_roads(helsinki_routers),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "R99" in result.output
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8-sig"))
    assert kpis["roads"]["walk"]["url"] == helsinki_routers["foot"]
    assert "R99" in kpis["roads"]["walk"]["fallback_residents"]
    assert "Resident" not in json.dumps(kpis["roads"])  # ids only, never names
    assert (out / "maps" / "index.html").is_file()

    checked = runner.invoke(
        app, ["check", str(helsinki_dataset), str(out), "--week", WEEK, *_roads(helsinki_routers)]
    )
    assert checked.exit_code == 0, checked.output
    straight = runner.invoke(app, ["check", str(helsinki_dataset), str(out), "--week", WEEK])
    assert straight.exit_code == 1
    assert "travel" in straight.output


def test_points_outside_the_region_are_input_errors(helsinki_dataset: Path, tmp_path: Path) -> None:
    """Without HOMEVISIT_REGION a Helsinki dataset is refused like any foreign coordinates:
    file, row, column and value, and what would be right (exit 2, nothing planned)."""
    get_settings.cache_clear()
    result = runner.invoke(
        app, ["plan", str(helsinki_dataset), "--week", WEEK, "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "centres.csv, row 2, column lat" in result.output
    assert "outside China" in result.output


def test_bad_roads_option_is_a_clear_error(helsinki_dataset: Path, tmp_path: Path) -> None:
    """A --roads value that is not MODE=URL names itself and shows the right form."""
    result = runner.invoke(
        app,
        ["plan", str(helsinki_dataset), "--week", WEEK, "--out", str(tmp_path), "--roads", "bus"],
    )
    assert result.exit_code == 2
    assert "walk=http://127.0.0.1:5001" in result.output
    with pytest.raises(ValueError, match="'bike=http://x'"):
        parse_roads(["bike=http://x"])


def test_a_router_that_is_down_stops_the_plan_with_a_message(
    in_helsinki: None, helsinki_dataset: Path, tmp_path: Path
) -> None:
    """--roads naming a port where nothing listens: exit 2 and how to start the server."""
    url = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(
        app,
        [
            "plan",
            str(helsinki_dataset),
            "--week",
            WEEK,
            "--out",
            str(tmp_path),
            "--time-limit",
            "1",
            "--roads",
            f"walk={url}",
        ],
    )
    assert result.exit_code == 2
    assert "does not answer" in " ".join(result.output.split())
    assert not (tmp_path / "plan.csv").exists()


def test_settings_name_the_routers_and_roads_options_win(monkeypatch: pytest.MonkeyPatch) -> None:
    """HOMEVISIT_ROADS_*_URL give the service's plan jobs and pages their routers; --roads
    overrides a setting; with none the great-circle model stays the default."""
    monkeypatch.setenv("HOMEVISIT_ROADS_WALK_URL", "http://walk:5001")
    monkeypatch.setenv("HOMEVISIT_ROADS_CAR_URL", "http://car:5003")
    settings = Settings()
    travel = travel_with_roads(settings, {TravelMode.CAR: "http://other:9"})
    assert isinstance(travel, OsrmTravel)
    assert travel.urls == {TravelMode.WALK: "http://walk:5001", TravelMode.CAR: "http://other:9"}
    assert isinstance(
        travel_with_roads(Settings(roads_walk_url="", roads_car_url="")), GreatCircleTravel
    )
    with pytest.raises(ValueError, match="four numbers"):
        Settings(region="60,24")


@pytest.mark.slow
def test_calibrate_prints_the_fit_per_mode(
    in_helsinki: None, helsinki_dataset: Path, helsinki_routers: dict[str, str]
) -> None:
    """`roads calibrate` prints, for each routed mode, the best detour factor and speed with the
    median and 90th percentile of the road/model ratios, and the settings that make the
    great-circle model match these roads."""
    result = runner.invoke(
        app, ["roads", "calibrate", str(helsinki_dataset), *_roads(helsinki_routers)]
    )
    assert result.exit_code == 0, result.output
    assert "walk" in result.output and "car" in result.output
    assert "best detour factor" in result.output and "p90" in result.output
    fitted = dict(
        line.split("=") for line in result.output.splitlines() if line.startswith("HOMEVISIT_")
    )
    assert set(fitted) == {
        "HOMEVISIT_TRAVEL_DETOUR_FACTOR",
        "HOMEVISIT_TRAVEL_WALK_KMH",
        "HOMEVISIT_TRAVEL_CAR_KMH",
    }
    assert Settings(**{k[10:].lower(): float(v) for k, v in fitted.items()})  # valid settings


def test_build_refuses_a_speed_for_cars(helsinki_pbf: Path, tmp_path: Path) -> None:
    """--speed-kmh is for foot and bicycle; for car, and for a missing extract, a clear error."""
    result = runner.invoke(
        app,
        [
            "roads",
            "build",
            str(helsinki_pbf),
            "--profile",
            "car",
            "--speed-kmh",
            "30",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 2
    assert "speed per road" in " ".join(result.output.split())
    missing = runner.invoke(
        app, ["roads", "build", str(tmp_path / "x.osm.pbf"), "--profile", "foot", "--out", "o"]
    )
    assert missing.exit_code == 2
    assert "does not exist" in " ".join(missing.output.split())


@pytest.mark.slow
def test_ebike_network_runs_at_the_given_speed(
    osrm_installed: None, helsinki_pbf: Path, tmp_path: Path
) -> None:
    """`roads build --profile bicycle --speed-kmh 24` makes e-bikes faster than the bicycle
    profile's own 15 km/h on the same streets."""
    from service.roads import build_network, running_router

    fast = build_network(helsinki_pbf, "bicycle", tmp_path / "ebike", speed_kmh=24).parent
    slow = build_network(helsinki_pbf, "bicycle", tmp_path / "bike").parent
    a, b = "24.9400,60.1680", "24.9500,60.1760"
    seconds = []
    for network in (fast, slow):
        with (
            running_router(network, port=free_port()) as router,
            urllib.request.urlopen(f"{router.url}/route/v1/x/{a};{b}") as response,
        ):
            seconds.append(json.loads(response.read())["routes"][0]["duration"])
    assert seconds[0] < seconds[1] * 0.8


@pytest.mark.slow
def test_serve_answers_and_stops_cleanly_on_sigterm(helsinki_networks: dict[str, Path]) -> None:
    """`homevisit roads serve DIR --port N` answers on the port and, on SIGTERM, stops
    osrm-routed and exits 0 (the port is free again)."""
    port = free_port()
    homevisit = Path(sys.executable).with_name("homevisit")
    process = subprocess.Popen(
        [str(homevisit), "roads", "serve", str(helsinki_networks["foot"]), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},
    )
    url = f"http://127.0.0.1:{port}/nearest/v1/x/24.944,60.171"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    assert json.loads(response.read())["code"] == "Ok"
                break
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "the router did not answer in 60 s"
                time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        output = process.stdout.read().decode() if process.stdout else ""
        assert "stopped" in output
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=1)
    finally:
        if process.poll() is None:
            process.kill()


def test_the_great_circle_model_takes_its_numbers_from_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """By default the settings are the model's own numbers (plans do not change); a site sets
    the calibrated HOMEVISIT_TRAVEL_* and both the plain model and a router's fallback use them."""
    default = travel_with_roads(Settings())
    assert isinstance(default, GreatCircleTravel)
    assert default.params.detour_factor == GreatCircleTravel().params.detour_factor
    assert dict(default.params.speed_kmh) == dict(GreatCircleTravel().params.speed_kmh)
    monkeypatch.setenv("HOMEVISIT_TRAVEL_DETOUR_FACTOR", "1.34")
    monkeypatch.setenv("HOMEVISIT_TRAVEL_WALK_KMH", "5.0")
    calibrated = travel_with_roads(Settings())
    assert isinstance(calibrated, GreatCircleTravel)
    assert calibrated.params.detour_factor == 1.34
    assert calibrated.params.speed_kmh[TravelMode.WALK] == 5.0
    routed = travel_with_roads(Settings(), {TravelMode.CAR: "http://car:5003"})
    assert isinstance(routed, OsrmTravel)
    assert routed.fallback.params.speed_kmh[TravelMode.WALK] == 5.0


def test_district_planning_refuses_roads_and_a_bad_region_is_named(
    helsinki_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`plan --district` has no road routers yet: it says so rather than plan on straight lines
    silently; a HOMEVISIT_REGION that is not four numbers is named with the right form."""
    result = runner.invoke(
        app,
        [
            "plan",
            str(helsinki_dataset),
            "--week",
            WEEK,
            "--out",
            str(tmp_path),
            "--district",
            "--roads",
            "walk=http://127.0.0.1:5001",
        ],
    )
    assert result.exit_code == 2
    assert "--district" in result.output and "--roads" in result.output
    monkeypatch.setenv("HOMEVISIT_REGION", "60.1,60.3")
    get_settings.cache_clear()
    try:
        bad = runner.invoke(
            app, ["plan", str(helsinki_dataset), "--week", WEEK, "--out", str(tmp_path)]
        )
    finally:
        get_settings.cache_clear()
    assert bad.exit_code == 2
    assert "HOMEVISIT_REGION: region '60.1,60.3': give four numbers" in " ".join(bad.output.split())
