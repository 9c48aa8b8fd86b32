"""Ruin and recreate on the week's tours: joint and linked visits move as pairs.

The routing local search checks a pair's tie (same start, or a gap between two clinicians'
starts) only in the constraint solver, after its filters, so most moves that touch a pair are
rejected and the pairs stay where the start put them. Here a pair is removed and reinserted
whole: both halves at once, on two clinicians' routes of one day, at starts that satisfy the
tie, costed with the search's own costs (travel, the soft costs of each arrival, lateness
inside the day, and the drop penalty of what stays out).

Each iteration removes a visit and the visits nearest to it (or, one time in four, visits at
random), reinserts them one after another at their cheapest feasible place (pairs first), and
keeps the result if it costs less than the current one plus a threshold that shrinks to
nothing by the deadline (quadratically: 30 % worse at first, a bold walk, then a long
descent; at 1 % the search stalled on set C and D of the Mankowska benchmark). Tours are the
model's :class:`~scheduler.solvers.ortools_model._Tour` (earliest and latest starts, so a
trial costs a pass over one route); a placed pair is pinned
at its starts, so inserting other visits never moves it. Visits with a lab sample stay where
the start put them (their hand-in deadline moves with them; the routing search handles them).
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # the model module calls this one with its tours
    from scheduler.solvers.ortools_model import Vehicle, _Nodes, _Tour

__all__ = ["LnsParams", "ruin_and_recreate"]

CANDIDATES_PER_HALF = 8  # places of each half of a pair combined when placing the pair
PUSHED_PAIR_HALVES = 3  # places of each half tried when a pair may push what follows
TRIALS_PER_VISIT = 12  # places of a visit costed in full (by least added travel) once one fits
THRESHOLD_FULL_UNITS = 60  # up to this many visits to move, the whole threshold


@dataclass(frozen=True, slots=True)
class LnsParams:
    """How long and how boldly to search."""

    deadline: float  # time.monotonic() by which to stop
    seed: int = 1
    max_removed: int = 30
    threshold: float = 0.3  # accept up to this share worse than the current, falling to 0
    iterations: int | None = None  # stop after this many (tests)


@dataclass(frozen=True, slots=True)
class _Unit:
    """Visits that move together: one node, or a pair ``(a, b)`` with ``b - a`` in lo..hi."""

    nodes: tuple[int, ...]
    lo: int = 0
    hi: int = 0
    penalty: int = 0


class _State:
    def __init__(
        self,
        vehicles: Sequence[Vehicle],
        nodes: _Nodes,
        tours: list[_Tour],
        extra: Sequence[npt.NDArray[np.int64]],
        pinned: dict[int, tuple[int, int]],
        penalty: Sequence[int],
    ) -> None:
        self.vehicles, self.nodes, self.tours, self.extra = vehicles, nodes, tours, extra
        self.pinned = pinned  # shared with the tours' domains
        for tour in tours:
            tour.domain = _cached(tour.domain, pinned, nodes.is_handin)
        self.where: dict[int, int] = {}
        for v, tour in enumerate(tours):
            for node in tour.stops:
                self.where[node] = v
        self.penalty = penalty
        self.cost = [self.tour_cost(v) for v in range(len(tours))]
        # A pair's node -> (its partner, gap min, gap max, whether it is the first).
        self.partner: dict[int, tuple[int, int, int, bool]] = {}

    def set_pairs(self, pairs: Sequence[_Unit]) -> None:
        for unit in pairs:
            a, b = unit.nodes
            self.partner[a] = (b, unit.lo, unit.hi, True)
            self.partner[b] = (a, unit.lo, unit.hi, False)

    def tour_cost(self, v: int) -> int:
        """Travel, arrival costs and lateness of tour ``v`` as it stands (updated)."""
        tour, extra, nodes = self.tours[v], self.extra[v], self.nodes
        total = tour.travel()
        for node, start in zip(tour.stops, tour.earliest[1:-1], strict=True):
            total += int(extra[node])
            late_from = nodes.late_from[node]
            visit = nodes.visit_of[node]
            if late_from is not None and visit is not None and start > late_from:
                total += (start - late_from) * visit.late_cost_per_min
        return total

    def placed(self, unit: _Unit) -> bool:
        return unit.nodes[0] in self.where

    def total(self, units: Sequence[_Unit]) -> int:
        return sum(self.cost) + sum(u.penalty for u in units if not self.placed(u))

    def remove(self, unit: _Unit, changed: set[int]) -> None:
        for node in unit.nodes:
            v = self.where.pop(node, None)
            if v is None:
                continue
            self.tours[v].stops.remove(node)
            self.pinned.pop(node, None)
            changed.add(v)

    def refresh(self, changed: set[int]) -> None:
        for v in changed:
            self.tours[v].update()
            self.cost[v] = self.tour_cost(v)

    # --- placing one node --------------------------------------------------------------

    def _trial(self, v: int, node: int, position: int) -> int | None:
        """The added cost of ``node`` at ``position`` of tour ``v`` (None: infeasible)."""
        tour = self.tours[v]
        tour.stops.insert(position, node)
        feasible = tour.update()
        added = self.tour_cost(v) - self.cost[v] if feasible else None
        del tour.stops[position]
        tour.update()
        return added

    def place_single(self, node: int, changed: set[int]) -> bool:
        """Put ``node`` at its cheapest place; pairs after it may be pushed later."""
        options = []
        for v in self.nodes.allowed[node]:
            tour = self.tours[v]
            path = [tour.depot, *tour.stops, tour.depot]
            minutes = tour.minutes
            for position in range(len(path) - 1):
                a, b = path[position], path[position + 1]
                travel = int(minutes[a, node] + minutes[node, b] - minutes[a, b])
                options.append((travel + int(self.extra[v][node]), v, position))
        options.sort()
        best: tuple[int, int, int] | None = None
        for tried, (bound, v, position) in enumerate(options):
            if best is not None and (bound >= best[0] or tried >= TRIALS_PER_VISIT):
                break  # lateness only adds to the travel and arrival costs
            added = self._pushed_trial(v, node, position)
            if added is not None and (best is None or added < best[0]):
                best = (added, v, position)
        if best is None:
            return False
        _, v, position = best
        self.tours[v].stops.insert(position, node)
        touched = self._push(v, {})
        assert touched is not None
        for u in touched:
            self.tours[u].update()
            self.cost[u] = self.tour_cost(u)
        changed |= touched
        self.where[node] = v
        return True

    def _pushed_trial(self, v: int, node: int, position: int) -> int | None:
        """The added cost of ``node`` at ``position`` of tour ``v``, pushing pairs later."""
        tour = self.tours[v]
        tour.stops.insert(position, node)
        saved: dict[int, tuple[int, int]] = {}
        touched = self._push(v, saved, position)
        added: int | None = None
        if touched is not None:
            added = 0
            for u in touched:
                cost = self._walk_cost(u)
                if cost is None:
                    added = None
                    break
                added += cost - self.cost[u]
        del tour.stops[position]
        self.pinned.update(saved)  # the tours' own times were never changed
        return added

    def _walk_cost(self, u: int) -> int | None:
        """Tour ``u``'s cost with its stops and pins as they stand (None: infeasible),
        without updating its times."""
        from scheduler.solvers.ortools_model import _first_at_or_after

        tour, extra, nodes = self.tours[u], self.extra[u], self.nodes
        minutes = tour.minutes
        t, prev, total = tour.depart_from, tour.depot, 0
        for node in tour.stops:
            found = _first_at_or_after(tour.domain(node), t + tour._leg(prev, node))
            if found is None:
                return None
            t = found
            total += int(minutes[prev, node]) + int(extra[node])
            late_from = nodes.late_from[node]
            if late_from is not None and t > late_from:
                visit = nodes.visit_of[node]
                assert visit is not None
                total += (t - late_from) * visit.late_cost_per_min
            prev = node
        if t + tour._leg(prev, tour.depot) > tour.back_by:
            return None
        return total + int(minutes[prev, tour.depot])

    def _push(
        self, v: int, saved: dict[int, tuple[int, int]], position: int = 0
    ) -> set[int] | None:
        """Re-time tour ``v`` after an insertion: a pinned pair its route now reaches late is
        pushed later (and its partner with it, onto that partner's route, and so on).

        ``saved`` collects the old pins (for undoing); returns the tours touched (their times
        not updated), or None when some tour cannot hold its times any more. ``position``: the
        stops of ``v`` before it are as at its last update (the walk starts there).
        """
        from scheduler.solvers.ortools_model import _first_at_or_after

        work, touched = [v], {v}
        budget = 4 * len(self.partner) + 8
        while work:
            budget -= 1
            if budget < 0:
                return None
            u = work.pop()
            tour = self.tours[u]
            t, prev = tour.depart_from, tour.depot
            if position:  # the first walk only: the prefix's times are the tour's own
                t, prev = tour.earliest[position], tour.stops[position - 1]
            stops = tour.stops[position:] if position else tour.stops
            position = 0
            for node in stops:
                arrive = t + tour._leg(prev, node)
                pin = self.pinned.get(node)
                if pin is None:
                    found = _first_at_or_after(tour.domain(node), arrive)
                    if found is None:
                        return None
                    t = found
                elif arrive <= pin[1]:
                    t = pin[1]
                else:
                    info = self.partner.get(node)
                    if info is None:
                        return None  # pinned for good (a lab sample's visit)
                    del self.pinned[node]
                    new = _first_at_or_after(tour.domain(node), arrive)
                    self.pinned[node] = pin
                    if new is None:
                        return None
                    saved.setdefault(node, pin)
                    self.pinned[node] = (u, new)
                    other, lo, hi, first = info
                    ov, opin = self.pinned[other]
                    shift = self.vehicles[ov].offset_min - self.vehicles[u].offset_min
                    need = new + (lo if first else -hi) + shift
                    if opin < need:
                        bound = new + (hi if first else -lo) + shift
                        partner_tour = self.tours[ov]
                        del self.pinned[other]
                        moved = _first_at_or_after(partner_tour.domain(other), need)
                        self.pinned[other] = (ov, opin)
                        if moved is None or moved > bound:
                            return None
                        saved.setdefault(other, (ov, opin))
                        self.pinned[other] = (ov, moved)
                        touched.add(ov)
                        work.append(ov)
                    t = new
                prev = node
        return touched

    # --- placing a pair ----------------------------------------------------------------

    def _slots(self, node: int) -> list[tuple[int, int, int, list[tuple[int, int]]]]:
        """The cheapest places of ``node`` by added travel: (bound, vehicle, position, starts).

        ``starts`` are the minutes of the vehicle's day at which it may start there.
        """
        from scheduler.solvers.ortools_model import _first_at_or_after, _last_at_or_before

        found = []
        for v in self.nodes.allowed[node]:
            tour = self.tours[v]
            offset = self.vehicles[v].offset_min
            ranges = tour.domain(node)
            path = [tour.depot, *tour.stops, tour.depot]
            for position, travel in tour.insertions(node):
                a, b = path[position], path[position + 1]
                first = _first_at_or_after(ranges, tour.earliest[position] + tour._leg(a, node))
                last = _last_at_or_before(ranges, tour.latest[position + 1] - tour._leg(node, b))
                if first is None or last is None or first > last:
                    continue
                starts = [
                    (max(lo, first) - offset, min(hi, last) - offset)
                    for lo, hi in ranges
                    if max(lo, first) <= min(hi, last)
                ]
                found.append((travel + int(self.extra[v][node]), v, position, starts))
        found.sort(key=lambda item: item[0])
        return found[: CANDIDATES_PER_HALF * 3]

    def place_pair(self, unit: _Unit, changed: set[int]) -> bool:
        a, b = unit.nodes
        vehicles = self.vehicles
        combos = []
        slots_b = self._slots(b)
        for bound_a, va, pa, starts_a in self._slots(a)[:CANDIDATES_PER_HALF]:
            for bound_b, vb, pb, starts_b in slots_b[:CANDIDATES_PER_HALF]:
                if (
                    vehicles[va].day_index != vehicles[vb].day_index
                    or vehicles[va].clinician.clinician_id == vehicles[vb].clinician.clinician_id
                ):
                    continue
                combos.append((bound_a + bound_b, va, pa, starts_a, vb, pb, starts_b))
        combos.sort(key=lambda item: item[0])
        best: tuple[int, int, int, int, int, int, int] | None = None
        for bound, va, pa, starts_a, vb, pb, starts_b in combos:
            if best is not None and bound >= best[0]:
                break
            found = _meet(starts_a, starts_b, unit.lo, unit.hi)
            if found is None:
                continue
            t, u = found
            added = self._trial_pair(a, va, pa, t, b, vb, pb, u)
            if added is not None and (best is None or added < best[0]):
                best = (added, va, pa, t, vb, pb, u)
        pushed = self._pushed_pair(unit, best[0] if best is not None else None)
        if pushed is not None and (best is None or pushed[0] < best[0]):
            _, va, pa, t, vb, pb, u = pushed
            touched = self._push_pair(a, va, pa, t, b, vb, pb, u, {})
            assert touched is not None
            for v in touched:
                self.tours[v].update()
                self.cost[v] = self.tour_cost(v)
            changed |= touched
            self.where[a], self.where[b] = va, vb
            return True
        if best is None:
            return False
        _, va, pa, t, vb, pb, u = best
        self._put_pair(a, va, pa, t, b, vb, pb, u)
        for v in (va, vb):
            self.cost[v] = self.tour_cost(v)
            changed.add(v)
        self.where[a], self.where[b] = va, vb
        return True

    def _pushed_pair(
        self, unit: _Unit, bound: int | None
    ) -> tuple[int, int, int, int, int, int, int] | None:
        """The cheapest of a few places of the pair where the visits after it move later."""
        from scheduler.solvers.ortools_model import _first_at_or_after

        a, b = unit.nodes
        halves = []
        for node in (a, b):
            found = []
            for v in self.nodes.allowed[node]:
                tour = self.tours[v]
                offset = self.vehicles[v].offset_min
                ranges = tour.domain(node)
                path = [tour.depot, *tour.stops, tour.depot]
                minutes = tour.minutes
                for position in range(len(path) - 1):
                    p, q = path[position], path[position + 1]
                    first = _first_at_or_after(ranges, tour.earliest[position] + tour._leg(p, node))
                    if first is None:
                        continue
                    starts = [
                        (max(lo, first) - offset, hi - offset) for lo, hi in ranges if hi >= first
                    ]
                    travel = int(minutes[p, node] + minutes[node, q] - minutes[p, q])
                    found.append((travel + int(self.extra[v][node]), v, position, starts))
            found.sort(key=lambda item: item[0])
            halves.append(found[:PUSHED_PAIR_HALVES])
        best: tuple[int, int, int, int, int, int, int] | None = None
        for bound_a, va, pa, starts_a in halves[0]:
            for bound_b, vb, pb, starts_b in halves[1]:
                if (
                    self.vehicles[va].day_index != self.vehicles[vb].day_index
                    or self.vehicles[va].clinician.clinician_id
                    == self.vehicles[vb].clinician.clinician_id
                ):
                    continue
                limit = best[0] if best is not None else bound
                if limit is not None and bound_a + bound_b >= limit:
                    continue
                found_t = _meet(starts_a, starts_b, unit.lo, unit.hi)
                if found_t is None:
                    continue
                t, u = found_t
                saved: dict[int, tuple[int, int]] = {}
                touched = self._push_pair(a, va, pa, t, b, vb, pb, u, saved)
                added: int | None = None
                if touched is not None:
                    added = 0
                    for v in touched:
                        cost = self._walk_cost(v)
                        if cost is None:
                            added = None
                            break
                        added += cost - self.cost[v]
                self.tours[va].stops.remove(a)
                self.tours[vb].stops.remove(b)
                self.pinned.update(saved)
                del self.pinned[a], self.pinned[b]
                if added is not None and (best is None or added < best[0]):
                    best = (added, va, pa, t, vb, pb, u)
        return best

    def _push_pair(
        self,
        a: int,
        va: int,
        pa: int,
        t: int,
        b: int,
        vb: int,
        pb: int,
        u: int,
        saved: dict[int, tuple[int, int]],
    ) -> set[int] | None:
        """Pin the pair at ``t`` and ``u`` and push what follows; the tours touched, or None."""
        self.pinned[a] = (va, self.vehicles[va].offset_min + t)
        self.pinned[b] = (vb, self.vehicles[vb].offset_min + u)
        self.tours[va].stops.insert(pa, a)
        self.tours[vb].stops.insert(pb, b)
        first = self._push(va, saved, pa)
        second = self._push(vb, saved) if first is not None else None
        if first is None or second is None:
            return None
        return first | second | {va, vb}

    def _put_pair(self, a: int, va: int, pa: int, t: int, b: int, vb: int, pb: int, u: int) -> bool:
        self.pinned[a] = (va, self.vehicles[va].offset_min + t)
        self.pinned[b] = (vb, self.vehicles[vb].offset_min + u)
        self.tours[va].stops.insert(pa, a)
        self.tours[vb].stops.insert(pb, b)
        return self.tours[va].update() & self.tours[vb].update()

    def _trial_pair(
        self, a: int, va: int, pa: int, t: int, b: int, vb: int, pb: int, u: int
    ) -> int | None:
        self.pinned[a] = (va, self.vehicles[va].offset_min + t)
        self.pinned[b] = (vb, self.vehicles[vb].offset_min + u)
        self.tours[va].stops.insert(pa, a)
        self.tours[vb].stops.insert(pb, b)
        cost_a, cost_b = self._walk_cost(va), self._walk_cost(vb)
        self.tours[va].stops.remove(a)
        self.tours[vb].stops.remove(b)
        del self.pinned[a], self.pinned[b]
        if cost_a is None or cost_b is None:
            return None
        return cost_a + cost_b - self.cost[va] - self.cost[vb]


def _earliest_at(state: _State, node: int) -> int | None:
    """The earliest start of a pinned ``node`` where it stands, were it not pinned (axis min)."""
    from scheduler.solvers.ortools_model import _first_at_or_after

    v = state.where[node]
    tour = state.tours[v]
    i = tour.stops.index(node)
    before = tour.stops[i - 1] if i else tour.depot
    pin = state.pinned.pop(node)
    ranges = tour.domain(node)
    state.pinned[node] = pin
    return _first_at_or_after(ranges, tour.earliest[i] + tour._leg(before, node))


def compress(state: _State, pairs: Sequence[_Unit], changed: set[int]) -> None:
    """Move placed pairs to earlier starts where their routes now allow, until none moves.

    A pinned pair does not follow its route when visits before it leave; this pulls it back
    (both halves, keeping the tie), so it is not late for nothing.
    """
    for _ in range(len(pairs) + 1):
        moved = False
        for unit in pairs:
            if not state.placed(unit):
                continue
            a, b = unit.nodes
            va, vb = state.where[a], state.where[b]
            oa, ob = state.vehicles[va].offset_min, state.vehicles[vb].offset_min
            ea, eb = _earliest_at(state, a), _earliest_at(state, b)
            if ea is None or eb is None:
                continue
            t = max(ea - oa, eb - ob - unit.hi)
            u = max(eb - ob, t + unit.lo)
            old_t, old_u = state.pinned[a][1] - oa, state.pinned[b][1] - ob
            if (t, u) >= (old_t, old_u) or t > old_t or u > old_u:
                continue
            state.pinned[a], state.pinned[b] = (va, oa + t), (vb, ob + u)
            if state.tours[va].update() & state.tours[vb].update():
                moved = True
                changed |= {va, vb}
                continue
            state.pinned[a], state.pinned[b] = (va, oa + old_t), (vb, ob + old_u)
            state.tours[va].update()
            state.tours[vb].update()
        if not moved:
            break
    for v in changed:
        state.cost[v] = state.tour_cost(v)


def _cached(
    domain: Callable[[int], list[tuple[int, int]]],
    pinned: dict[int, tuple[int, int]],
    is_handin: Sequence[bool],
) -> Callable[[int], list[tuple[int, int]]]:
    """A tour's domain function that remembers each node's own (unpinned) ranges."""
    cache: dict[int, list[tuple[int, int]]] = {}

    def lookup(node: int) -> list[tuple[int, int]]:
        pin = pinned.get(node)
        if pin is not None:
            return [(pin[1], pin[1])]
        if is_handin[node]:
            return domain(node)
        found = cache.get(node)
        if found is None:
            found = cache[node] = domain(node)
        return found

    return lookup


def _meet(
    first: Sequence[tuple[int, int]], second: Sequence[tuple[int, int]], lo: int, hi: int
) -> tuple[int, int] | None:
    """The earliest ``(t, u)`` with ``t`` in ``first``, ``u`` in ``second``, ``u - t`` in lo..hi."""
    best: tuple[int, int] | None = None
    for (a1, a2), (b1, b2) in itertools.product(first, second):
        t = max(a1, b1 - hi)
        if t > min(a2, b2 - lo):
            continue
        u = max(b1, t + lo)
        if best is None or (t, u) < best:
            best = (t, u)
    return best


def _units(nodes: _Nodes, penalty_of: Sequence[int]) -> list[_Unit]:
    """The visits that may move: single nodes and pairs, none with a lab sample."""
    sampled = {nodes.pickup_of[n] for n, h in enumerate(nodes.is_handin) if h}
    paired = nodes.paired()
    partners: dict[int, int] = {}
    for a, b, _, _ in nodes.pairs:
        partners[a] = partners.get(a, 0) + 1
        partners[b] = partners.get(b, 0) + 1
    units = []
    for a, b, lo, hi in nodes.pairs:
        if partners[a] > 1 or partners[b] > 1 or {a, b} & sampled:
            continue  # a joint visit of three: it stays where the start put it
        units.append(_Unit((a, b), lo, hi, penalty_of[a] + penalty_of[b]))
    for node, visit in enumerate(nodes.visit_of):
        if visit is None or nodes.is_handin[node] or node in paired or node in sampled:
            continue
        units.append(_Unit((node,), penalty=penalty_of[node]))
    return units


def ruin_and_recreate(
    vehicles: Sequence[Vehicle],
    nodes: _Nodes,
    tours: list[_Tour],
    extra: Sequence[npt.NDArray[np.int64]],
    pinned: dict[int, tuple[int, int]],
    penalty_of: Sequence[int],
    minutes: npt.NDArray[np.int64],
    params: LnsParams,
) -> tuple[int, int]:
    """Improve the tours in place until the deadline; (start cost, best cost).

    ``tours`` hold the start (pairs pinned in ``pinned``, which their domains read);
    ``extra[v][node]`` is the soft cost of ``node`` on vehicle ``v``; ``penalty_of[node]`` the
    cost of leaving the node's visit out; ``minutes`` a travel matrix for relatedness.
    On return the tours and ``pinned`` hold the best solution found.
    """
    units = _units(nodes, penalty_of)
    if not units:
        return 0, 0
    state = _State(vehicles, nodes, tours, extra, pinned, penalty_of)
    rng = random.Random(params.seed)
    pairs = [u for u in units if len(u.nodes) == 2]
    state.set_pairs(pairs)
    first_of = [u.nodes[0] for u in units]
    near = minutes[np.ix_(first_of, first_of)]
    current = best = start_cost = state.total(units)
    best_routes = [list(t.stops) for t in tours]
    best_pins = dict(pinned)
    started = time.monotonic()
    span = max(1e-6, params.deadline - started)
    # A bold walk needs iterations to come back from: a week of many visits gets fewer of them
    # a second, so its walk is shorter (at 0.3 on Mankowska's 400-visit set G the search had
    # not come back by the deadline).
    threshold = params.threshold * min(1.0, THRESHOLD_FULL_UNITS / len(units))
    iteration = 0
    while time.monotonic() < params.deadline and (
        params.iterations is None or iteration < params.iterations
    ):
        iteration += 1
        saved_routes = [list(t.stops) for t in tours]
        saved_pins = dict(pinned)
        saved_cost = list(state.cost)
        saved_where = dict(state.where)
        count = rng.randint(2, max(2, min(params.max_removed, len(units) // 4)))
        placed = [i for i, u in enumerate(units) if state.placed(u)]
        if not placed:
            break
        if rng.random() < 0.25:
            chosen = rng.sample(placed, min(count, len(placed)))
        else:
            seed = rng.choice(placed)
            chosen = [int(i) for i in np.argsort(near[seed], kind="stable")[:count]]
        changed: set[int] = set()
        for i in chosen:
            state.remove(units[i], changed)
        state.refresh(changed)
        out = [i for i, u in enumerate(units) if not state.placed(u)]
        rng.shuffle(out)
        out.sort(key=lambda i: -len(units[i].nodes))  # pairs first: they are the hardest
        for i in out:
            unit = units[i]
            if len(unit.nodes) == 1:
                state.place_single(unit.nodes[0], changed)
            else:
                state.place_pair(unit, changed)
        compress(state, pairs, changed)
        total = state.total(units)
        left = max(0.0, 1.0 - (time.monotonic() - started) / span)
        if total < best:
            best = total
            best_routes = [list(t.stops) for t in tours]
            best_pins = dict(pinned)
        if total <= current * (1 + threshold * left * left) or total < current:
            current = total
            continue
        for v, tour in enumerate(tours):
            tour.stops = saved_routes[v]
        pinned.clear()
        pinned.update(saved_pins)
        state.cost, state.where = saved_cost, saved_where
        for v in changed:
            tours[v].update()
    for v, tour in enumerate(tours):
        tour.stops = best_routes[v]
    pinned.clear()
    pinned.update(best_pins)
    for tour in tours:
        tour.update()
    if math.isinf(best):  # pragma: no cover - costs are integers
        raise RuntimeError("no solution")
    return start_cost, best
