"""Formula neutralisation: plan files open in Excel safely, and read back as written."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest

from scheduler.cells import neutralise_cell, restore_cell
from scheduler.dataset.plan_files import read_plan, write_plan
from scheduler.model import Plan, Problem
from tests.hostile import HOSTILE_IDS, HOSTILE_TEXTS, starts_formula
from tests.scheduler.test_io import REASONS, small_plan, small_problem

PLAIN = ("", "王秀英", "MH03-R00001", "'quoted'", "a=b", "1-2", "'", "''", "x'=y")


@pytest.mark.parametrize("text", (*HOSTILE_TEXTS, *HOSTILE_IDS, *PLAIN, "'=x", "''+1", "\t=1"))
def test_neutralised_text_starts_no_formula_and_restores_exactly(text: str) -> None:
    """Every text a register may hold: written so a spreadsheet runs nothing, read back as is."""
    written = neutralise_cell(text)
    assert isinstance(written, str)
    assert not starts_formula(written)
    assert restore_cell(written) == text
    if not starts_formula(text) and not text.startswith("'"):
        assert written == text  # ordinary text is written unchanged


def test_numbers_are_not_text() -> None:
    """A negative number stays a number: only text is neutralised."""
    assert neutralise_cell(-3) == -3
    assert neutralise_cell(-1.5) == -1.5
    assert neutralise_cell(None) is None


RENAMED = {"D1": "=D1", "N1": "@N1", "followup_80-R1": HOSTILE_IDS[0], "health_check-R2": "+R2"}


def _hostile_ids(problem: Problem, plan: Plan) -> tuple[Problem, Plan]:
    """The small problem and plan with clinician and visit ids a spreadsheet would run."""

    def rid(value: str) -> str:
        return RENAMED.get(value, value)

    problem = dataclasses.replace(
        problem,
        clinicians=tuple(
            dataclasses.replace(c, clinician_id=rid(c.clinician_id), name=HOSTILE_TEXTS[4])
            for c in problem.clinicians
        ),
        visits=tuple(dataclasses.replace(v, visit_id=rid(v.visit_id)) for v in problem.visits),
    )
    routes = tuple(
        dataclasses.replace(
            r,
            clinician_id=rid(r.clinician_id),
            stops=tuple(
                dataclasses.replace(s, visit_id=rid(s.visit_id), clinician_id=rid(s.clinician_id))
                for s in r.stops
            ),
        )
        for r in plan.routes
    )
    return problem, dataclasses.replace(plan, routes=routes)


def test_plan_files_hold_no_formula_and_read_back_the_same_plan(tmp_path: Path) -> None:
    """plan.csv, routes.csv and unscheduled.csv (opened in Excel) start no formula in any text
    cell, and ``homevisit check`` (read_plan) still reads back exactly the plan written."""
    problem, plan = _hostile_ids(small_problem(), small_plan())
    write_plan(tmp_path, problem, plan, {}, REASONS)
    for name in ("plan.csv", "routes.csv", "unscheduled.csv"):
        with (tmp_path / name).open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
        cells = [v for row in rows for k, v in row.items() if k not in ("lat", "lon")]
        assert rows and not [c for c in cells if starts_formula(c)], name
    with (tmp_path / "plan.csv").open(encoding="utf-8-sig", newline="") as handle:
        ids = {row["clinician_id"] for row in csv.DictReader(handle)}
    assert ids == {"'=D1", "'@N1"}  # readable: the quote, then the id as typed
    assert read_plan(tmp_path, problem) == plan
