"""Fixtures shared by the scenario tests: a small two-centre district (the Dask cluster is in
tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios.sample import generate
from scheduler.dataset import write_dataset

# The smallest centres of the district sample, one team each: two solves of a few seconds.
TWO_CENTRE_TEAMS = ("MH04-T1", "MH05-T1")


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
