"""New instances of the Mankowska family (issue 17): the generator. No benchmark data needed."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest

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
