"""New instances of the Mankowska family (issue 17): the generator, and ``--files`` that runs
instance files outside index.csv through the same adapter. No benchmark data needed."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import mankowska
from benchmarks.mankowska import (
    MankowskaInstance,
    evaluate,
    planner_routes,
    read_instance,
    solve_with_engine,
    to_planner_problem,
)
from benchmarks.mankowska_generate import generate, instance_text, write_instance

HELD_OUT = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "heldout"


def _assert_same(read: MankowskaInstance, made: MankowskaInstance) -> None:
    for part in dataclasses.fields(MankowskaInstance):
        ours, theirs = getattr(read, part.name), getattr(made, part.name)
        if isinstance(ours, np.ndarray):
            assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs), part.name
        else:
            assert ours == theirs, part.name


def test_a_generated_file_reads_back_as_the_instance_it_was_made_from(tmp_path: Path) -> None:
    """Every section the reader keeps comes back equal, the name being the file's stem."""
    made = generate(60, seed=7)
    path = write_instance(made, tmp_path)
    assert path.name == "HHCRSP_60_s7.txt"
    _assert_same(read_instance(path), made.instance)


def test_the_generator_follows_the_family_rules() -> None:
    """400 patients as set G would have them: 50 caregivers, a third double (half of those
    simultaneous, on services 3-5), windows e..e+120, maxd = 2 mind, the last patient at
    (0, 0), caregivers of two skill groups; the same seed writes the same file."""
    made = generate(400, seed=1)
    instance = made.instance
    assert (len(instance.patients), instance.caregivers) == (400, 50)
    doubles = instance.double_service_nodes
    assert doubles == tuple(range(268, 401))
    simultaneous = [n for n in doubles if instance.gap_max[n] == 0]
    assert simultaneous[:66] == list(range(268, 334))
    assert all(min(instance.services_of(n)) >= 3 for n in range(268, 334))
    for node in range(334, 401):
        first, second = instance.services_of(node)
        assert first <= 2 < second
        assert (
            0 <= instance.gap_min[node] <= 60
            and instance.gap_max[node] == 2 * instance.gap_min[node]
        )
    assert all(len(instance.services_of(n)) == 1 for n in range(1, 268))
    patients = list(instance.patients)
    assert np.all(instance.window_close[patients] == instance.window_open[patients] + 120)
    assert instance.window_open[patients].min() >= 0 and instance.window_open.max() <= 479
    assert (made.x[400], made.y[400]) == (0, 0)
    assert made.x.max() <= 99 and made.y.max() <= 49
    first_group = instance.qualified[:, :3].any(axis=1)
    assert not np.any(first_group & instance.qualified[:, 3:].any(axis=1))
    assert first_group.sum() == 22  # 45 % of the caregivers, as in set G
    service_time = instance.duration[1, 0, 0]
    assert 10 <= service_time <= 19 and np.all(instance.duration[patients] == service_time)
    assert instance_text(made) == instance_text(generate(400, seed=1))
    assert instance_text(made) != instance_text(generate(400, seed=2))


def test_the_held_out_instances_are_made_again_byte_for_byte() -> None:
    """The commands in the generator's docstring make the files whose sums are committed."""
    sums = dict(
        reversed(line.split()) for line in (HELD_OUT / "SHA256SUMS").read_text().splitlines()
    )
    made = {
        f"{g.instance.name}.txt": hashlib.sha256(instance_text(g).encode()).hexdigest()
        for g in (generate(400, seed=1), generate(500, seed=2))
    }
    assert made == sums


@pytest.mark.slow
def test_a_400_patient_instance_goes_through_the_adapter_and_the_engine(tmp_path: Path) -> None:
    """Larger than set G, read from its file: the engine plans every visit in a 3 s limit and
    the benchmark's evaluator finds the routes feasible, timed either way."""
    instance = read_instance(write_instance(generate(400, seed=1), tmp_path))
    problem = to_planner_problem(instance)
    assert len(problem.clinicians) == 50
    assert sum(len(v.staffing) for v in problem.visits) == 400 + 133
    plan, checked = solve_with_engine(instance, 3.0)
    assert checked.feasible, checked.violations[:5]
    assert not plan.unscheduled
    routes = planner_routes(instance, plan)
    in_minutes = evaluate(instance, routes)
    earliest = evaluate(instance, [[(n, s, None) for n, s, _ in route] for route in routes])
    assert in_minutes.feasible, in_minutes.violations[:5]
    assert earliest.feasible, earliest.violations[:5]
    assert earliest.objective <= in_minutes.objective


def test_the_adapter_names_a_patient_past_the_planners_day() -> None:
    """A window opening at 1430 for a 14-minute service cannot be a visit of one day."""
    instance = generate(10, seed=3).instance
    late = instance.window_open.copy()
    late[4] = 1430.0
    with pytest.raises(ValueError, match="patient 4 opens at e = 1430"):
        to_planner_problem(dataclasses.replace(instance, window_open=late))


def _run_mankowska(arguments: list[str], monkeypatch: pytest.MonkeyPatch, results: Path) -> None:
    from benchmarks.__main__ import main

    monkeypatch.setattr(mankowska, "RESULTS", results)
    monkeypatch.setattr(sys, "argv", ["benchmarks", "mankowska", *arguments])
    main()


@pytest.mark.parametrize("best_known", [None, 500.0])
def test_files_runs_an_instance_outside_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, best_known: float | None
) -> None:
    """Only the file given is run, named by its stem, in the set "other"; without a best
    known value its gap is empty (and so are the per-set verdicts), with one it is computed."""
    path = write_instance(generate(10, seed=3), tmp_path / "instances")
    arguments = ["--files", str(path), "--solvers", "engine", "--time-limit", "1"]
    if best_known:
        arguments += ["--best-known", f"HHCRSP_10_s3={best_known}"]
    _run_mankowska([*arguments, "--label", "heldout"], monkeypatch, tmp_path)

    table = pd.read_csv(tmp_path / "heldout.csv", keep_default_na=False)
    assert table[["instance", "set"]].values.tolist() == [["HHCRSP_10_s3", "other"]]
    row = table.iloc[0]
    assert str(row["engine_feasible"]) == "True"
    if best_known is None:
        assert row["engine_gap_pct"] == "" and row["best_known"] == ""
    else:
        objective = float(row["engine_objective"])
        expected = round(100 * (objective - best_known) / best_known, 2)
        assert float(row["engine_gap_pct"]) == pytest.approx(expected)
    markdown = (tmp_path / "heldout.md").read_text()
    per_set = markdown.split("## Per instance")[0]
    assert "| other " in per_set
    if best_known is None:
        assert "True" not in per_set and "False" not in per_set


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["--files", "nowhere/X1.txt"], "no such file: nowhere/X1.txt"),
        (["--files", "{file}", "--best-known", "HHCRSP_10_s3=abc"], "'HHCRSP_10_s3=abc' is not"),
        (["--files", "{file}", "--best-known", "Z9=100"], "'Z9' is not the name of a file"),
        (["--files", "{junk}"], "junk.txt: not an instance file"),
    ],
)
def test_files_refuses_what_it_cannot_run_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str], says: str
) -> None:
    """A missing file, a malformed or unknown --best-known, a file that is no instance:
    the command stops before solving and says which."""
    file = write_instance(generate(10, seed=3), tmp_path)
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n1 2 3\n")
    filled = [a.format(file=file, junk=junk) for a in arguments]
    with pytest.raises(SystemExit, match=says):
        _run_mankowska(filled, monkeypatch, tmp_path)
    assert not list(tmp_path.glob("*.csv"))
