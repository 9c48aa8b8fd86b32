"""Solver parameters, apart from the data: every weight and limit has a name here.

The time limit, its default and its bounds live here for every entry point (the ``plan`` and
``scenario`` commands, the API's jobs, the benchmarks): see :class:`SolveParams` and
:class:`Deadline`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from scheduler.model import Urgency

TIME_LIMIT_DEFAULT_S: Final = 30.0
TIME_LIMIT_MIN_S: Final = 0.1
TIME_LIMIT_MAX_S: Final = 3600.0


@dataclass(frozen=True, slots=True)
class Deadline:
    """When a solve must hand back its plan: an instant of the monotonic clock.

    Made once per solve (:meth:`SolveParams.deadline`) and handed down: the parts of a week,
    the rounds of a search and OR-Tools' own limit all read the time *left* from it, so no
    level recomputes the limit from its own start. It crosses into a worker process as the
    seconds left (:meth:`left_s`), since two processes' clocks need not agree.
    """

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """The deadline ``seconds`` from now."""
        return cls(time.monotonic() + seconds)

    def left_s(self, floor_s: float = 0.0) -> float:
        """Seconds left, and never less than ``floor_s`` (the least a step needs to be useful:
        a step given its floor after the deadline ends that much late, by design)."""
        return max(floor_s, self.at - time.monotonic())

    def share(self, fraction: float, floor_s: float = 0.0) -> Deadline:
        """An earlier deadline for a step that may use ``fraction`` of the time left."""
        return Deadline.after(max(floor_s, self.left_s() * fraction))

    def at_least(self, seconds: float) -> Deadline:
        """This deadline, or ``seconds`` from now if that is later."""
        return Deadline(max(self.at, time.monotonic() + seconds))


def _default_penalties() -> dict[Urgency, int]:
    # Far above any travel a single visit can add (a few hundred minutes at most), so the
    # solver leaves a visit out only when it cannot fit; the most urgent go in first.
    return {Urgency.OVERDUE: 200_000, Urgency.DUE: 100_000, Urgency.OPTIONAL: 40_000}


def _default_late_costs() -> dict[Urgency, int]:
    # Per day waited and per unit of the programme's stakes, in minutes of travel: an overdue
    # medicine delivery (stakes 3) is worth a 30-minute detour per day earlier; a follow-up
    # past its due date (stakes 1) 5 minutes. Far below any drop penalty (a week is 6 days).
    return {Urgency.OVERDUE: 10, Urgency.DUE: 5, Urgency.OPTIONAL: 0}


@dataclass(frozen=True, slots=True)
class SolveParams:
    """How hard and how to search, and how to weigh the soft goals (in minutes of travel).

    Attributes
    ----------
    time_limit_s
        Wall-clock seconds of one solve, from the call to the plan handed back: building the
        models and their starts count against it, the evaluation of the plan afterwards does
        not. The best plan found by then is returned. Default ``TIME_LIMIT_DEFAULT_S`` (30 s),
        between ``TIME_LIMIT_MIN_S`` (0.1 s) and ``TIME_LIMIT_MAX_S`` (1 h) at every entry
        point; the service may cap it lower (``HOMEVISIT_SOLVE_TIME_LIMIT_MAX_S``).

        *One solve* is one call of :func:`scheduler.solve.solve`, which makes one
        :class:`Deadline` of it and hands that down: the independent parts of the week share
        it in proportion to their visits (side by side in ``workers`` processes, or one after
        another, each taking its share of the time still left), and with
        cross-team cover the team-by-team start takes ``COVER_WARM_START_SHARE`` of it. So
        the limit is for the whole problem given: ``homevisit plan`` and a plan job, the week
        of the centre (or team) planned; ``plan --district`` and ``scenario run`` solve each
        centre or scenario on its own, so there it is each centre's or scenario's (``scenario
        simulate``: each simulated week's); a re-plan
        (:mod:`scheduler.replan`) is one solve, both rounds, and answers in seconds (its
        default is ``scheduler.replan.DEFAULT_TIME_LIMIT_S``, 2 s). A few steps get a floor of
        search even past the deadline (``MIN_PART_SEARCH_S``, OR-Tools' ``MIN_SEARCH_S``), so a
        solve may end a fraction of a second late rather than without a plan.
    solution_limit
        Stop after this many improving solutions (for tests: deterministic, not timed).
    drop_penalty
        Cost of leaving a visit out, by urgency.
    late_cost_per_day
        Cost of each day a visit waits, by urgency, times its programme's ``stakes``: an
        overdue visit pays for every day after its first feasible day, a due one for every day
        after its ``due_by`` (see :mod:`scheduler.timeliness`).
    continuity_cost_min
        Cost of a visit done by someone other than the resident's preferred clinician.
    cross_team_cost_min
        Cost of a visit done by another team of the centre (only when cover is allowed).
    balance_cost_per_min
        Cost per minute a clinician's day exceeds the even share of the week's work.
    balance_slack
        How far above the even share a day may go before it costs anything (a factor). 4.0:
        only a day loaded far beyond the even share costs. Since days late are costed, the
        first days of the week carry the overdue work and a tighter bound fights that:
        measured on the sample centre at 30 s (travel hours / workload CV, load ~10 on 2
        cores): 2.0 -> 53.5 / -; 3.0 -> 50.8 / 0.599; 4.0 -> 50.0 / 0.600; no balance ->
        50.0 / 0.597. (Before days late were costed: 2.0 -> 48.8 h / 0.643.)
    greedy_start
        Start the search from the planner's own regret-insertion plan (built in a fraction of
        a second, so even a short time limit returns a plan, and a better start than OR-Tools'
        insertion on the sample week); OR-Tools' ``first_solution`` is used only without it.
    repair
        After the search, let a left-out visit take the place of a less urgent one and move
        late visits to the earliest day with room (:mod:`scheduler.solvers.repair`); off only
        to measure what it changes.
    lns_share
        Share of the time limit given to ruin and recreate (:mod:`scheduler.solvers.lns`),
        which moves joint and linked visits as pairs, before the routing search, in a week
        where at least a fifth of the visit nodes are in pairs (not the sample centre's week,
        28 of 590 nodes: there the routing search, which moves the pairs too, does better).
        There it also builds the start, except on a small week (up to 150 visit nodes:
        Mankowska's sets B-E), which starts from the pairs' reserved slots and the regret
        insertion (from its own start the search settled 2.6 % above the best known on B1,
        10.2 % on D2, against 0.2 % and 1.9 %).
        Mankowska sets D-G at 30 s, 0.5 against 0.85: within the noise of one run each (the
        routing search after it still gains 3-5 %).
    first_solution
        OR-Tools first-solution strategy name.
    metaheuristic
        OR-Tools local-search metaheuristic name.
    operators
        Local-search operators to switch on or off, by OR-Tools name without ``use_``.
    replan_tolerance_min
        A re-plan (:mod:`scheduler.replan`) keeps a visit with the same clinician on the same
        day within this many minutes of its start; beyond it the visit counts as moved.
    replan_keep_penalty
        A re-plan's cost of not keeping a visit within the tolerance of where it was (and of
        dropping a visit already done): far above the drop penalties, so the search gives up
        a kept visit only when it cannot stay.
    """

    time_limit_s: float = TIME_LIMIT_DEFAULT_S
    solution_limit: int | None = None
    drop_penalty: Mapping[Urgency, int] = field(default_factory=_default_penalties)
    late_cost_per_day: Mapping[Urgency, int] = field(default_factory=_default_late_costs)
    continuity_cost_min: int = 20
    cross_team_cost_min: int = 40
    balance_cost_per_min: int = 1
    balance_slack: float = 4.0
    greedy_start: bool = True
    repair: bool = True
    lns_share: float = 0.5
    first_solution: str = "LOCAL_CHEAPEST_COST_INSERTION"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    log_search: bool = False
    operators: Mapping[str, bool] = field(default_factory=dict)  # OR-Tools use_* switches
    replan_tolerance_min: int = 30
    replan_keep_penalty: int = 2_000_000

    def __post_init__(self) -> None:
        if not TIME_LIMIT_MIN_S <= self.time_limit_s <= TIME_LIMIT_MAX_S:
            raise ValueError(
                f"time_limit_s must be between {TIME_LIMIT_MIN_S:g} and {TIME_LIMIT_MAX_S:g} s "
                f"(a solve always has a time limit), got {self.time_limit_s:g}"
            )
        if self.solution_limit is not None and self.solution_limit < 1:
            raise ValueError("solution_limit must be at least 1")
        if any(cost < 0 for cost in self.late_cost_per_day.values()):
            raise ValueError("late_cost_per_day must not be negative")
        if not 0.0 <= self.lns_share <= 1.0:
            raise ValueError("lns_share must lie in 0..1")
        if self.replan_tolerance_min < 0:
            raise ValueError("replan_tolerance_min must not be negative")

    def deadline(self) -> Deadline:
        """The solve's deadline, ``time_limit_s`` from now: made once, at the solve's start."""
        return Deadline.after(self.time_limit_s)
