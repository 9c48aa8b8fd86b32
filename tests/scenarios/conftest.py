"""Fixtures shared by the scenario tests: a real Dask cluster and a small two-centre district."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scenarios.sample import generate
from scheduler.dataset import write_dataset

# The smallest centres of the district sample, one team each: two solves of a few seconds.
TWO_CENTRE_TEAMS = ("MH04-T1", "MH05-T1")


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


@pytest.fixture(scope="session")
def two_centre_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset folder of two centres of the district sample, one team each."""
    tables = generate("district")
    teams = set(TWO_CENTRE_TEAMS)
    centres = {t.split("-")[0] for t in teams}
    residents = tables["residents"][tables["residents"]["team_id"].isin(teams)]
    kept = set(residents["resident_id"])
    small = {
        "centres": tables["centres"][tables["centres"]["centre_id"].isin(centres)],
        "committees": tables["committees"][
            tables["committees"]["committee_id"].isin(set(residents["committee_id"]))
        ],
        "clinicians": tables["clinicians"][tables["clinicians"]["team_id"].isin(teams)],
        "residents": residents,
        "history": tables["history"][tables["history"]["resident_id"].isin(kept)],
        "requests": tables["requests"][tables["requests"]["resident_id"].isin(kept)],
        "sickbeds": tables["sickbeds"][tables["sickbeds"]["resident_id"].isin(kept)],
    }
    folder = tmp_path_factory.mktemp("two-centres")
    write_dataset(small, folder)
    return folder
