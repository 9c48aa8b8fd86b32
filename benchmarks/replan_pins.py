"""Re-plan around a team leader's pin on the sample centre's week: from scratch, or least-moves.

``python -m benchmarks.replan_pins [--team MH03-T1] [--seconds 20]``: one team's week of the
sample is planned; one visit is then pinned to another clinician on another day where her day
has no room for it (the week workspace's "who could" says "full"), and the week is re-planned
around the pin twice:

1. as the re-plan job did before: the whole team's week solved again from scratch with the
   pin (:func:`scheduler.solve.solve` on :func:`scheduler.pins.apply_pins`);
2. least-disruptive (:func:`scheduler.replan.replan_around_pins`), as the job does now.

Each is checked by the evaluator; the figures (other visits moved, placed, travel) are printed
and written to ``benchmarks/results/replan_pins.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from scenarios.sample import REFERENCE_WEEK
from scheduler.dataset import read_dataset
from scheduler.edits import who_could
from scheduler.evaluate import evaluate
from scheduler.model import Plan, Problem
from scheduler.params import SolveParams
from scheduler.pins import Pin, apply_pins
from scheduler.replan import replan_around_pins
from scheduler.solve import build_problem, solve
from scheduler.travel import GreatCircleTravel

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "scenarios" / "data" / "minhang-centre"
RESULTS = Path(__file__).resolve().parent / "results"


def team_week(team_id: str) -> Problem:
    """One team's part of the sample centre's reference week."""
    problem = build_problem(read_dataset(SAMPLE), REFERENCE_WEEK)
    return dataclasses.replace(
        problem,
        clinicians=tuple(c for c in problem.clinicians if c.team_id == team_id),
        visits=tuple(v for v in problem.visits if v.team_id == team_id),
        cross_team_cover=False,
    )


def full_day_pin(problem: Problem, plan: Plan) -> Pin:
    """The first visit (by id) of a single clinician that another clinician of the team could
    do on another day but whose day has no room for it: a pin that forces others to move."""
    travel = GreatCircleTravel()
    for stop in sorted(plan.stops(), key=lambda s: s.visit_id):
        visit = next(v for v in problem.visits if v.visit_id == stop.visit_id)
        if visit.is_joint or visit.sample_return_min is not None:
            continue
        for option in who_could(problem, plan, travel, stop.visit_id):
            if (
                option.why == "full"
                and option.clinician_id != stop.clinician_id
                and option.day != stop.day
            ):
                return Pin(stop.visit_id, option.clinician_id, option.day)
    raise LookupError("no visit could be pinned onto a full day")


def moved_others(base: Plan, plan: Plan, pinned: set[str]) -> int:
    """Visits other than the pinned ones that changed clinician or day, or left the routes."""

    def where(p: Plan) -> dict[str, tuple[tuple[str, ...], object]]:
        found: dict[str, list[tuple[str, object]]] = {}
        for s in p.stops():
            found.setdefault(s.visit_id, []).append((s.clinician_id, s.day))
        return {k: (tuple(sorted(c for c, _ in v)), v[0][1]) for k, v in found.items()}

    before, after = where(base), where(plan)
    return sum(after.get(k) != w for k, w in before.items() if k not in pinned)


def figures(
    problem: Problem, base: Plan, plan: Plan, pin: Pin, seconds: float
) -> dict[str, object]:
    checked = evaluate(problem, plan, GreatCircleTravel())
    pinned_ok = any(
        (s.visit_id, s.clinician_id, s.day) == (pin.visit_id, pin.clinician_id, pin.day)
        for s in plan.stops()
    )
    return {
        "evaluator passes": checked.feasible,
        "pin kept": pinned_ok,
        "other visits moved": moved_others(base, plan, {pin.visit_id}),
        "visits placed": len({s.visit_id for s in plan.stops()}),
        "travel min": sum(r.travel_min for r in plan.routes),
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--team", default="MH03-T1")
    parser.add_argument("--seconds", type=float, default=20.0, help="time limit of each solve")
    args = parser.parse_args()
    problem = team_week(args.team)
    params = SolveParams(time_limit_s=args.seconds)
    base, _ = solve(problem, params)
    pin = full_day_pin(problem, base)
    rows = {"draft": figures(problem, base, base, pin, 0.0)}
    started = time.monotonic()
    scratch, _ = solve(apply_pins(problem, [pin]), params)
    rows["from scratch (before)"] = figures(problem, base, scratch, pin, time.monotonic() - started)
    dataset = read_dataset(SAMPLE)
    started = time.monotonic()
    least = replan_around_pins(dataset, problem, base, [pin], params=params)
    rows["least moves (now)"] = figures(problem, base, least.plan, pin, time.monotonic() - started)
    summary = least.summary()
    head = list(next(iter(rows.values())))
    lines = [
        f"# Re-plan around one pin: team {args.team}, week {REFERENCE_WEEK}",
        "",
        f"Pin: visit {pin.visit_id} to {pin.clinician_id} on {pin.day} (no room there); "
        f"time limit {args.seconds:g} s per solve, great-circle travel.",
        f"Least moves: had to move {summary['visits_had_to_move']}, moved "
        f"{summary['visits_moved']}, moved without having to {summary['moved_without_having_to']}.",
        "",
        "| | " + " | ".join(head) + " |",
        "|---" * (len(head) + 1) + "|",
    ]
    lines += [
        f"| {name} | " + " | ".join(str(r[k]) for k in head) + " |" for name, r in rows.items()
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "replan_pins.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
