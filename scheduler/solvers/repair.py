"""The last pass over a solved week: strict urgency, and no late visit that had room earlier.

The search weighs urgency through drop penalties and days late through costs, but a local
search stops where no single move helps, and two kinds of defect can remain that a team
leader would not sign (:mod:`scheduler.evaluation.inversions` finds them in a written plan):

* a visit left out while a less urgent one sits where it could go: the more urgent one takes
  that place, and the displaced one is placed again wherever it fits best (or, if nowhere,
  left out: it is the less urgent);
* a visit planned late while an earlier day of someone who may do it has room: it moves to
  the earliest such day.

Both work on the solver's tours (:class:`~scheduler.solvers.ortools_model._Tour`: earliest and
latest starts, so a trial costs a pass over one route), in rounds until nothing changes; each
move places a more urgent visit or makes one less late, so the rounds end. Joint visits keep
their pinned slots and routes holding a lab sample the search placed are left as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from scheduler.model import Problem, Urgency, Visit

if TYPE_CHECKING:  # the model module calls this one with its tours
    from scheduler.solvers.ortools_model import Vehicle, _Nodes, _Tour

__all__ = ["repair_urgency"]

MAX_ROUNDS = 20  # each round moves something; a week settles in two or three


class _Week:
    """The tours being repaired and where each visit node is."""

    def __init__(
        self,
        problem: Problem,
        vehicles: Sequence[Vehicle],
        nodes: _Nodes,
        tours: list[_Tour],
        cost: Sequence[npt.NDArray[np.int64]],
        pinned: dict[int, tuple[int, int]],
        sequences: Sequence[Sequence[tuple[int, int]]],
    ) -> None:
        self.problem = problem
        self.vehicles = vehicles
        self.nodes = nodes
        self.cost = cost
        self.tours = tours
        self.changed: set[int] = set()
        self.frozen: set[int] = set()
        self.where: dict[int, int] = {}
        samples = {nodes.pickup_of[n] for n, h in enumerate(nodes.is_handin) if h}
        unpinned_samples = {n for n in samples if n not in pinned}
        self.movable = [
            visit is not None
            and not visit.is_joint
            and node not in pinned  # a linked visit: moves only with its partner
            and not nodes.is_handin[node]
            and node not in samples
            for node, visit in enumerate(nodes.visit_of)
        ]
        for v, seq in enumerate(sequences):
            tour = self.tours[v]
            tour.stops = [node for node, _ in seq]
            unmodelled = any(
                n in unpinned_samples or nodes.pickup_of[n] in unpinned_samples for n in tour.stops
            )
            if unmodelled or not tour.update():
                # A lab sample the search placed (its deadline moves with it): hands off.
                self.frozen.add(v)
            for node in tour.stops:
                self.where[node] = v

    def visit(self, node: int) -> Visit:
        found = self.nodes.visit_of[node]
        assert found is not None
        return found

    def day(self, v: int) -> int:
        return self.vehicles[v].day_index

    def orders(self, v: int) -> list[list[int]]:
        """The tour's stops, and the same with a sample hand-in moved elsewhere after its visit.

        The evaluator lets a leg pass the centre to hand a sample in wherever the deadline
        allows; a hand-in node placed once by the search would otherwise pin that choice.
        """
        stops = self.tours[v].stops
        found = [stops]
        for handin in stops:
            if not self.nodes.is_handin[handin]:
                continue
            rest = [n for n in stops if n != handin]
            if self.nodes.pickup_of[handin] not in rest:
                continue
            after = rest.index(self.nodes.pickup_of[handin]) + 1
            found += [
                order
                for q in range(after, len(rest) + 1)
                if (order := [*rest[:q], handin, *rest[q:]]) != stops
            ]
        return found

    def best_insertion(self, node: int, v: int) -> tuple[int, int, list[int]] | None:
        """``(cost, position, order)`` of the cheapest way to put ``node`` on tour ``v``.

        ``order`` is the tour's stops it goes into (hand-ins perhaps moved); the cost is the
        travel added, the travel a moved hand-in adds and the soft cost of ``node`` there.
        """
        tour = self.tours[v]
        kept = tour.stops
        base = tour.travel()
        best: tuple[int, int, list[int]] | None = None
        for order in self.orders(v):
            tour.stops = order
            if not tour.update():
                continue
            moved = tour.travel() - base
            for position, added in tour.insertions(node):
                option = (added + moved + int(self.cost[v][node]), position, order)
                if best is None or option[:2] < best[:2]:
                    best = option
        tour.stops = kept
        tour.update()
        return best

    def put(self, node: int, v: int, position: int, order: list[int]) -> None:
        """Put ``node`` at ``position`` of tour ``v`` with its stops in ``order``."""
        self.tours[v].stops = list(order)
        self.insert(node, v, position)

    def best_place(
        self, node: int, vehicles: Sequence[int]
    ) -> tuple[int, int, int, list[int]] | None:
        """``(cost, vehicle, position, order)`` of the cheapest feasible insertion, or ``None``."""
        best: tuple[int, int, int, list[int]] | None = None
        for v in vehicles:
            if v in self.frozen:
                continue
            found = self.best_insertion(node, v)
            if found is not None and (best is None or (found[0], v) < best[:2]):
                best = (found[0], v, found[1], found[2])
        return best

    def insert(self, node: int, v: int, position: int) -> None:
        self.tours[v].insert(node, position)
        self.where[node] = v
        self.changed.add(v)

    def remove(self, node: int) -> None:
        v = self.where.pop(node)
        self.tours[v].stops.remove(node)
        self.tours[v].update()
        self.changed.add(v)

    def place(self, node: int) -> bool:
        """Put ``node`` where it costs least, if it fits anywhere."""
        best = self.best_place(node, self.nodes.allowed[node])
        if best is None:
            return False
        _, v, position, order = best
        self.put(node, v, position, order)
        return True

    def displaceable(self, node: int, urgency: Urgency) -> bool:
        """Whether a visit of ``urgency`` may take the place of ``node``."""
        visit = self.nodes.visit_of[node]
        if visit is None or self.nodes.is_handin[node] or visit.urgency >= urgency:
            return False
        if not visit.is_joint:
            return self.movable[node]
        return not any(self.where[n] in self.frozen for n in self.belonging(node))

    def belonging(self, node: int) -> list[int]:
        """The placed nodes that go with ``node``: a joint visit's parts and sample hand-ins."""
        visit = self.nodes.visit_of[node]
        if visit is None or not visit.is_joint:
            return [node]
        return [n for n in self.where if self.nodes.visit_of[n] is visit]

    def urgency_order(self, nodes: Sequence[int]) -> list[int]:
        return sorted(nodes, key=lambda n: (-self.visit(n).urgency, -self.visit(n).stakes, n))


def _left_out(week: _Week) -> list[int]:
    return week.urgency_order(
        [n for n, ok in enumerate(week.movable) if ok and n not in week.where]
    )


def _fill(week: _Week) -> bool:
    """Place every left-out visit that fits as the week stands, most urgent first."""
    return any([week.place(node) for node in _left_out(week)])


def _swap_in(week: _Week) -> bool:
    """A left-out visit takes the place of a less urgent one; that one is placed again.

    A less urgent joint visit gives up its slot on every clinician's day and stays out (its
    common slot is gone); a lab-sample hand-in goes with its visit.
    """
    moved = False
    for node in _left_out(week):
        if node in week.where:
            continue
        urgency = week.visit(node).urgency
        if urgency is Urgency.OPTIONAL:
            continue
        best: tuple[tuple[int, int], int, int] | None = None
        for v in week.nodes.allowed[node]:
            if v in week.frozen:
                continue
            tour = week.tours[v]
            for other in list(tour.stops):
                if not week.displaceable(other, urgency):
                    continue
                kept = tour.stops
                tour.stops = [n for n in kept if n not in week.belonging(other)]
                tour.update()
                found = week.best_insertion(node, v)
                tour.stops = kept
                tour.update()
                if found is None:
                    continue
                # The least urgent displaced first, then the cheapest.
                key = (int(week.visit(other).urgency), found[0])
                if best is None or key < best[0]:
                    best = (key, v, other)
        if best is None:
            continue
        _, v, other = best
        for part in week.belonging(other):
            week.remove(part)
        found = week.best_insertion(node, v)
        assert found is not None  # it fitted with ``other`` taken off, as it now is
        week.put(node, v, found[1], found[2])
        if week.movable[other]:
            week.place(other)
        moved = True
    return moved


def _earlier(week: _Week) -> bool:
    """A visit planned late moves to the earliest earlier day with room for it."""
    moved = False
    for node in week.urgency_order(list(week.where)):
        v = week.where[node]
        if v in week.frozen or not week.movable[node] or not _late(week, node, v):
            continue
        earlier = [u for u in week.nodes.allowed[node] if week.day(u) < week.day(v)]
        best: tuple[tuple[int, int], int, int, list[int]] | None = None
        for u in earlier:
            if u in week.frozen:
                continue
            found = week.best_insertion(node, u)
            if found is None:
                continue
            key = (week.day(u), found[0])
            if best is None or key < best[0]:
                best = (key, u, found[1], found[2])
        if best is None:
            continue
        _, u, position, order = best
        week.remove(node)
        week.put(node, u, position, order)
        moved = True
    return moved


def _late(week: _Week, node: int, v: int) -> bool:
    visit = week.visit(node)
    day = week.problem.days[week.day(v)]
    return visit.urgency is Urgency.OVERDUE or day > visit.due_by


def repair_urgency(
    problem: Problem,
    vehicles: Sequence[Vehicle],
    nodes: _Nodes,
    tours: list[_Tour],
    cost: Sequence[npt.NDArray[np.int64]],
    pinned: dict[int, tuple[int, int]],
    sequences: Sequence[Sequence[tuple[int, int]]],
) -> list[list[tuple[int, int]]]:
    """``sequences`` (per vehicle, ``(node, start minute of the week)``) with the defects mended.

    ``tours`` are empty tours of the vehicles (:func:`~scheduler.solvers.ortools_model.
    make_tours`) and ``cost[vehicle][node]`` the soft cost of a node on a vehicle, as the
    search weighs it. Routes that did not change keep their nodes and times as given; changed
    ones start each stop at its earliest.
    """
    week = _Week(problem, vehicles, nodes, tours, cost, pinned, sequences)
    for _ in range(MAX_ROUNDS):
        changed = _fill(week)
        changed = _swap_in(week) or changed
        changed = _earlier(week) or changed
        if not changed:
            break
    result = [list(seq) for seq in sequences]
    for v in week.changed:
        tour = week.tours[v]
        result[v] = list(zip(tour.stops, tour.earliest[1:-1], strict=True))
    return result
