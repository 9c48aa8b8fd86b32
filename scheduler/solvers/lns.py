"""Ruin and recreate on the week's tours: joint and linked visits move as pairs.

The routing local search checks a pair's tie (same start, or a gap between two clinicians'
starts) only in the constraint solver, after its filters, so most moves that touch a pair are
rejected and the pairs stay where the start put them. Here a pair is removed and reinserted
whole: both halves at once, on two clinicians' routes of one day, at starts that satisfy the
tie, costed with the search's own costs (travel, the soft costs of each arrival, lateness
inside the day, and the drop penalty of what stays out).

The search works on plain lists (routes of node numbers, one start minute per node, per-vehicle
rows of the travel matrix), not on the model's tours: a trial place is costed by walking the
route from that place only as far as the visits after it are pushed later (and the partners of
the pairs pushed, one step), so most trials cost a few list reads. A chosen place is then
pushed exactly (route order and ties, to every route they reach); a push that cycles
(two clinicians waiting for each other) or leaves a visit's window is undone. Start times are
the earliest ones: every rule on them is "later than" (route order, window opening, a tie's
bounds), so the least schedule of fixed routes, found by relaxing the rules until none
changes (:meth:`_Search.schedule`), minimises every lateness at once.

Each iteration removes 2-15 visits (a seed and the visits nearest to it, or visits at random;
a pair as one), puts them back one by one at their cheapest place (by the close of their
windows, or in random order), and keeps the result by simulated annealing on the true cost.
The search also builds starts of its own and keeps the cheapest of them and the given one:
every visit appended to a route end by the close of its window, each pair on two clinicians
together (the construction of the HHCRSP literature, as in Mankowska et al. 2014; it cannot
make clinicians wait for each other in a cycle), and every visit inserted at its cheapest
place in the same order. On Mankowska's set G the first costs a fifth of the slots reserved by
:func:`~scheduler.solvers.ortools_model.place_joint_visits` and the regret insertion after it.

Visits with a lab sample, their hand-ins, and the parts of a joint visit of three stay where
the start put them, at their start times (the routing search moves those).
"""

from __future__ import annotations

import bisect
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # the model module calls this one with its tours
    from scheduler.solvers.ortools_model import Vehicle, _Nodes, _Tour

__all__ = ["LnsParams", "ruin_and_recreate"]

SINGLE_PLACES = 3  # cheapest places of a single visit tried in full (pushed) before giving up
PAIR_HALF_PLACES = 6  # cheapest places of each half of a pair combined when placing the pair
PAIR_TRIES = 12  # cheapest combinations of a pair tried in full (a push may cycle)
FALLBACK_PLACES = 12  # places of a single visit tried when its cheapest ones all fail
RELATED_SHARE = 0.7  # of ruins, the nearest visits to a seed (else visits at random)
NO_LIMIT = 1 << 40
Ranges = tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class LnsParams:
    """How long and how boldly to search.

    ``temperature``: the annealing's starting temperature as a share of the start's cost
    (falling linearly to 0 by the deadline); ``construct``: also build a start of its own.
    """

    deadline: float  # time.monotonic() by which to stop
    seed: int = 1
    # Measured on Mankowska F1, F2, G1, G2 at 60 s on the quiet machine (mean gap, one run each):
    # 40 removed and 0.3 % gave 6.2 %; 20 and 1 %: 3.0; 20 and 3 %: 2.6; 15 and 3 %: 1.5 and 2.3
    # (two runs); 12 and 5 %: 3.1. Smaller ruins run more iterations, a warmer start leaves the
    # first local optimum; B-E unchanged within the noise.
    max_removed: int = 15
    temperature: float = 0.03
    construct: bool = True
    iterations: int | None = None  # stop after this many (tests)


@dataclass(frozen=True, slots=True)
class _Unit:
    """Visits that move together: one node, or a pair ``(a, b)`` with ``b - a`` in lo..hi."""

    nodes: tuple[int, ...]
    lo: int = 0
    hi: int = 0
    penalty: int = 0


def _first_at_or_after(ranges: Ranges, minute: int) -> int | None:
    for lo, hi in ranges:
        if minute <= hi:
            return lo if minute < lo else minute
    return None


class _Search:
    """The week as lists: routes, start minutes (of each vehicle's own day), costs."""

    def __init__(
        self,
        vehicles: Sequence[Vehicle],
        nodes: _Nodes,
        tours: Sequence[_Tour],
        extra: Sequence[npt.NDArray[np.int64]],
        units: Sequence[_Unit],
    ) -> None:
        n = len(nodes.locations)
        self.units = units
        self.offset = [veh.offset_min for veh in vehicles]
        self.day = [veh.day_index for veh in vehicles]
        self.clinician = [veh.clinician.clinician_id for veh in vehicles]
        self.depot = [tour.depot for tour in tours]
        self.depart = [tour.depart_from - o for tour, o in zip(tours, self.offset, strict=True)]
        self.back_by = [tour.back_by - o for tour, o in zip(tours, self.offset, strict=True)]
        rows: dict[int, list[list[int]]] = {}
        self.dist = [rows.setdefault(id(t.minutes), t.minutes.tolist()) for t in tours]
        self.service = list(nodes.service_min)
        self.extra = [e.tolist() for e in extra]
        self.partner = [-1] * n
        self.is_first = [False] * n
        self.lo = [0] * n
        self.hi = [0] * n
        for unit in units:
            if len(unit.nodes) == 2:
                a, b = unit.nodes
                self.partner[a], self.partner[b] = b, a
                self.is_first[a] = True
                self.lo[a] = self.lo[b] = unit.lo
                self.hi[a] = self.hi[b] = unit.hi
        self.late_cost = [
            visit.late_cost_per_min if visit is not None and late is not None else 0
            for visit, late in zip(nodes.visit_of, nodes.late_from, strict=True)
        ]
        # Per vehicle: each node's start ranges and latest on-time start in the vehicle's day.
        by_offset: dict[int, tuple[list[Ranges], list[int]]] = {}
        for offset in sorted(set(self.offset)):
            end = offset + 24 * 60
            by_offset[offset] = (
                [
                    tuple(
                        (lo - offset, hi - offset) for lo, hi in starts if offset <= lo and hi < end
                    )
                    for starts in nodes.starts
                ],
                [NO_LIMIT if late is None else late - offset for late in nodes.late_from],
            )
        self.domain = [list(by_offset[o][0]) for o in self.offset]
        self.late_from = [by_offset[o][1] for o in self.offset]
        self.allowed = [list(a) for a in nodes.allowed]
        self.days_of = [{self.day[v] for v in a} for a in self.allowed]
        # Nodes that stay where the start put them, at their start's times.
        moving = {node for unit in units for node in unit.nodes}
        self.routes: list[list[int]] = []
        self.start = [0] * n
        for v, tour in enumerate(tours):
            self.routes.append(list(tour.stops))
            for node, at in zip(tour.stops, tour.earliest[1:-1], strict=True):
                if node not in moving:
                    local = at - self.offset[v]
                    self.domain[v][node] = ((local, local),)
        self.route_of = [-1] * n
        for v, route in enumerate(self.routes):
            for node in route:
                self.route_of[node] = v

    # --- times and costs ---------------------------------------------------------------

    def schedule(self, routes: Sequence[Sequence[int]]) -> list[int] | None:
        """The earliest start of every routed node, or None (a cycle of waiting, a window
        passed, a clinician back too late)."""
        start = [-NO_LIMIT] * len(self.service)
        dist, service, domain, depot = self.dist, self.service, self.domain, self.depot
        partner, is_first, lo, hi = self.partner, self.is_first, self.lo, self.hi
        where = {node: v for v, route in enumerate(routes) for node in route}
        paired = [
            (a, partner[a], where[a], where[partner[a]])
            for a in where
            if is_first[a] and partner[a] in where
        ]
        for _ in range(len(start) + 2):
            changed = False
            for v, route in enumerate(routes):
                d, dom = dist[v], domain[v]
                prev, ready = depot[v], self.depart[v]
                for node in route:
                    arrive = ready + d[prev][node]
                    if arrive > start[node]:
                        found = _first_at_or_after(dom[node], arrive)
                        if found is None:
                            return None
                        if found != start[node]:
                            start[node] = found
                            changed = True
                    prev, ready = node, start[node] + service[node]
                if ready + d[prev][depot[v]] > self.back_by[v]:
                    return None
            for a, b, va, vb in paired:
                if start[a] + lo[a] > start[b]:
                    found = _first_at_or_after(domain[vb][b], start[a] + lo[a])
                    if found is None:
                        return None
                    start[b], changed = found, True
                if start[b] - hi[a] > start[a]:
                    found = _first_at_or_after(domain[va][a], start[b] - hi[a])
                    if found is None:
                        return None
                    start[a], changed = found, True
            if not changed:
                return start
        return None

    def _late(self, v: int, node: int, at: int) -> int:
        late = at - self.late_from[v][node]
        return late * self.late_cost[node] if late > 0 else 0

    def cost(
        self, routes: Sequence[Sequence[int]], start: Sequence[int], penalties: bool = True
    ) -> int:
        """Travel, arrival costs and lateness of the routes, and the penalty of what is out."""
        total = 0
        for v, route in enumerate(routes):
            d, extra, late_from = self.dist[v], self.extra[v], self.late_from[v]
            prev = self.depot[v]
            for node in route:
                total += d[prev][node] + extra[node]
                late = start[node] - late_from[node]
                if late > 0:
                    total += late * self.late_cost[node]
                prev = node
            if route:
                total += d[prev][self.depot[v]]
        if not penalties:
            return total
        route_of = self.route_of
        return total + sum(u.penalty for u in self.units if route_of[u.nodes[0]] < 0)

    # --- placing -----------------------------------------------------------------------

    def _insertion_cost(
        self, v: int, position: int, node: int, earliest: int, bound: int = NO_LIMIT
    ) -> tuple[int, int]:
        """(added cost, start) of ``node`` at ``position`` of route ``v``, starting no
        earlier than ``earliest``; the cost is ``NO_LIMIT`` when infeasible or ``>= bound``.

        The visits after it are pushed as far as they must (each pushed pair's partner one
        step, without following it further: the exact push decides).
        """
        route, d, dom = self.routes[v], self.dist[v], self.domain[v]
        start, service = self.start, self.service
        if position == 0:
            prev, ready = self.depot[v], self.depart[v]
        else:
            prev = route[position - 1]
            ready = start[prev] + service[prev]
        arrive = ready + d[prev][node]
        begin = _first_at_or_after(dom[node], arrive if arrive > earliest else earliest)
        if begin is None:
            return NO_LIMIT, 0
        after = route[position] if position < len(route) else self.depot[v]
        added = d[prev][node] + d[node][after] - d[prev][after] + self.extra[v][node]
        added += self._late(v, node, begin)
        if added >= bound:
            return NO_LIMIT, begin
        prev, ready = node, begin + service[node]
        partner, late_from, late_cost = self.partner, self.late_from[v], self.late_cost
        for following in route[position:]:
            arrive = ready + d[prev][following]
            old = start[following]
            if arrive <= old:
                return added, begin
            moved = _first_at_or_after(dom[following], arrive)
            if moved is None:
                return NO_LIMIT, begin
            due = late_from[following]
            if moved > due:  # lateness added: the new minus the old
                added += (moved - (old if old > due else due)) * late_cost[following]
            if added >= bound:
                return NO_LIMIT, begin
            other = partner[following]
            if other >= 0:
                pushed = (
                    moved + self.lo[other] if self.is_first[following] else moved - self.hi[other]
                )
                if pushed > start[other]:
                    vo = self.route_of[other]
                    there = _first_at_or_after(self.domain[vo][other], pushed)
                    if there is None:
                        return NO_LIMIT, begin
                    added += self._late(vo, other, there) - self._late(vo, other, start[other])
            prev, ready = following, moved + service[following]
        if ready + d[prev][self.depot[v]] > self.back_by[v]:
            return NO_LIMIT, begin
        return added, begin

    def _places(
        self, node: int, keep: int, day: int | None = None
    ) -> list[tuple[int, int, int, int]]:
        """The ``keep`` cheapest (cost, vehicle, position, start) places of ``node`` (on
        vehicles of ``day`` only, when given).

        Added travel, arrival cost and the lateness of arriving there bound a place's cost from
        below (waiting for the window and pushing the visits after it only add), so places are
        costed in that order until the bound passes the ``keep``-th best.
        """
        by_travel: list[tuple[int, int, int]] = []
        start, service, late_cost = self.start, self.service, self.late_cost[node]
        for v in self.allowed[node]:
            dom = self.domain[v][node]
            if not dom or (day is not None and self.day[v] != day):
                continue
            last_start, late_from = dom[-1][1], self.late_from[v][node]
            d, route, depot = self.dist[v], self.routes[v], self.depot[v]
            extra = self.extra[v][node]
            from_node = d[node]
            prev, ready = depot, self.depart[v]
            for position in range(len(route) + 1):
                following = route[position] if position < len(route) else depot
                to_node = d[prev][node]
                arrive = ready + to_node
                if arrive <= last_start:
                    bound = to_node + from_node[following] - d[prev][following] + extra
                    if arrive > late_from:
                        bound += (arrive - late_from) * late_cost
                    by_travel.append((bound, v, position))
                prev = following
                ready = start[following] + service[following]
        by_travel.sort()
        found: list[tuple[int, int, int, int]] = []
        for bound, v, position in by_travel:
            if len(found) >= keep and bound >= found[-1][0]:
                break
            limit = found[-1][0] if len(found) >= keep else NO_LIMIT
            cost, begin = self._insertion_cost(v, position, node, -NO_LIMIT, limit)
            if cost >= NO_LIMIT:
                continue
            bisect.insort(found, (cost, v, position, begin))
            del found[keep:]
        return found

    def _push(self, seeds: list[int]) -> bool:
        """Push start times later from ``seeds`` until every rule holds; False if none can."""
        work = seeds
        budget = 4 * len(self.service) + 16
        start, routes, route_of, service = self.start, self.routes, self.route_of, self.service
        partner = self.partner
        while work:
            budget -= 1
            if budget < 0:
                return False  # a cycle of waiting
            node = work.pop()
            v = route_of[node]
            route = routes[v]
            i = route.index(node)
            ready = start[node] + service[node]
            if i + 1 < len(route):
                following = route[i + 1]
                arrive = ready + self.dist[v][node][following]
                if arrive > start[following]:
                    moved = _first_at_or_after(self.domain[v][following], arrive)
                    if moved is None:
                        return False
                    start[following] = moved
                    work.append(following)
            elif ready + self.dist[v][node][self.depot[v]] > self.back_by[v]:
                return False
            other = partner[node]
            if other >= 0:
                least = (
                    start[node] + self.lo[node]
                    if self.is_first[node]
                    else start[node] - self.hi[node]
                )
                if least > start[other]:
                    moved = _first_at_or_after(self.domain[route_of[other]][other], least)
                    if moved is None:
                        return False
                    start[other] = moved
                    work.append(other)
        return True

    def _insert(self, placements: Sequence[tuple[int, int, int, int]]) -> bool:
        """Put (node, vehicle, position, start) placements in and push; undone if it fails."""
        saved = self.start.copy()
        seeds = []
        for node, v, position, begin in placements:
            self.routes[v].insert(position, node)
            self.route_of[node] = v
            self.start[node] = begin
            seeds.append(node)
        for node, v, _, _ in placements:
            i = self.routes[v].index(node)
            if i > 0:
                seeds.append(self.routes[v][i - 1])
        if self._push(seeds):
            return True
        for node, v, _, _ in placements:
            self.routes[v].remove(node)
            self.route_of[node] = -1
        self.start = saved
        return False

    def _meet(self, a: int, va: int, t: int, b: int, vb: int, u: int) -> tuple[int, int] | None:
        """The earliest starts from ``t`` and ``u`` on, in the two domains, ``lo..hi`` apart."""
        lo, hi = self.lo[a], self.hi[a]
        dom_a, dom_b = self.domain[va][a], self.domain[vb][b]
        for _ in range(8):
            found_t = _first_at_or_after(dom_a, max(t, u - hi))
            if found_t is None:
                return None
            t = found_t
            found_u = _first_at_or_after(dom_b, max(u, t + lo))
            if found_u is None:
                return None
            u = found_u
            if u - t <= hi:
                return t, u
        return None

    def place(self, unit: _Unit) -> bool:
        """Put the unit in at its cheapest feasible place; False if it found none."""
        if len(unit.nodes) == 1:
            node = unit.nodes[0]
            tried = 0
            for keep in (SINGLE_PLACES, FALLBACK_PLACES):
                for _, v, position, begin in self._places(node, keep)[tried:]:
                    if self._insert([(node, v, position, begin)]):
                        return True
                tried = keep
            return False
        a, b = unit.nodes
        options = []
        # Both halves on one day: the cheapest places of each half, day by day.
        days = self.days_of[a] & self.days_of[b]
        for day in days:
            places_b = self._places(b, PAIR_HALF_PLACES, day if len(days) > 1 else None)
            if places_b:
                options += self._pair_options(unit, day if len(days) > 1 else None, places_b)
        options.sort()
        for _, va, pa, t, vb, pb, u in options[:PAIR_TRIES]:
            if self._insert([(a, va, pa, t), (b, vb, pb, u)]):
                return True
        return False

    def _pair_options(
        self, unit: _Unit, day: int | None, places_b: list[tuple[int, int, int, int]]
    ) -> list[tuple[int, int, int, int, int, int, int]]:
        """(cost, vehicle, position, start of each half) of the pair's combined places."""
        a, b = unit.nodes
        options = []
        for ca, va, pa, sa in self._places(a, PAIR_HALF_PLACES, day):
            for cb, vb, pb, sb in places_b:
                if self.clinician[va] == self.clinician[vb] or self.day[va] != self.day[vb]:
                    continue
                met = self._meet(a, va, sa, b, vb, sb)
                if met is None:
                    continue
                t, u = met
                # A half not delayed by the other costs what its place was costed at.
                cost = ca if t == sa else self._insertion_cost(va, pa, a, t)[0]
                cost += cb if u == sb else self._insertion_cost(vb, pb, b, u)[0]
                if cost < NO_LIMIT:
                    options.append((cost, va, pa, t, vb, pb, u))
        return options

    def remove(self, unit: _Unit) -> None:
        for node in unit.nodes:
            v = self.route_of[node]
            if v >= 0:
                self.routes[v].remove(node)
                self.route_of[node] = -1

    def closes(self, unit: _Unit) -> int:
        """The last minute of the week (whatever the lunch frame) at which the unit's first
        node may start on time: the order of construction and recreate."""
        node = unit.nodes[0]
        day = 24 * 60
        v = self.allowed[node][0]
        late = self.late_from[v][node]
        if late < NO_LIMIT:
            return late + self.day[v] * day
        ends = [
            self.day[v] * day + hi for v in self.allowed[node] for _, hi in self.domain[v][node]
        ]
        return max(ends, default=NO_LIMIT)

    def set_routes(self, routes: list[list[int]], start: list[int]) -> None:
        self.routes, self.start = routes, start
        self.route_of = [-1] * len(self.service)
        for v, route in enumerate(routes):
            for node in route:
                self.route_of[node] = v


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


def _construct(search: _Search, frozen: list[list[int]]) -> tuple[list[list[int]], int] | None:
    """Every unit put in by the close of its window from routes of only the frozen nodes."""
    start = search.schedule(frozen)
    if start is None:
        return None
    search.set_routes([list(r) for r in frozen], start)
    for unit in sorted(search.units, key=search.closes):
        search.place(unit)
    timed = search.schedule(search.routes)
    if timed is None:  # pragma: no cover - every placement was pushed feasibly
        return None
    return search.routes, search.cost(search.routes, timed)


def _append(search: _Search) -> tuple[list[list[int]], int] | None:
    """Every unit appended to a route end, by the close of its window: each at the cheapest
    end (travel, arrival cost, lateness), a pair on two clinicians at once. Appending never
    makes a clinician wait for a visit placed later, so no cycle of waiting arises (used
    when no node is frozen in place)."""
    routes: list[list[int]] = [[] for _ in search.routes]
    last, ready = list(search.depot), list(search.depart)
    dist, domain, service = search.dist, search.domain, search.service

    def end(v: int, node: int) -> int | None:
        """The start of ``node`` appended to route ``v``."""
        return _first_at_or_after(domain[v][node], ready[v] + dist[v][last[v]][node])

    def fits(v: int, node: int, at: int) -> bool:
        return at + service[node] + dist[v][node][search.depot[v]] <= search.back_by[v]

    def cost(v: int, node: int, at: int) -> int:
        return int(dist[v][last[v]][node] + search.extra[v][node]) + search._late(v, node, at)

    def put(v: int, node: int, at: int) -> None:
        routes[v].append(node)
        last[v], ready[v] = node, at + service[node]

    for unit in sorted(search.units, key=search.closes):
        if len(unit.nodes) == 1:
            node = unit.nodes[0]
            best: tuple[int, int, int] | None = None
            for v in search.allowed[node]:
                at = end(v, node)
                if at is not None and fits(v, node, at):
                    option = (cost(v, node, at), v, at)
                    best = option if best is None or option < best else best
            if best is not None:
                put(best[1], node, best[2])
            continue
        a, b = unit.nodes
        pair: tuple[int, int, int, int, int] | None = None
        for va in search.allowed[a]:
            ta = end(va, a)
            if ta is None:
                continue
            for vb in search.allowed[b]:
                if search.clinician[va] == search.clinician[vb] or search.day[va] != search.day[vb]:
                    continue
                tb = end(vb, b)
                met = None if tb is None else search._meet(a, va, ta, b, vb, tb)
                if met is None or not (fits(va, a, met[0]) and fits(vb, b, met[1])):
                    continue
                total = cost(va, a, met[0]) + cost(vb, b, met[1])
                if pair is None or total < pair[0]:
                    pair = (total, va, met[0], vb, met[1])
        if pair is not None:
            put(pair[1], a, pair[2])
            put(pair[3], b, pair[4])
    timed = search.schedule(routes)
    if timed is None:  # pragma: no cover - appended starts are a feasible schedule
        return None
    search.set_routes(routes, timed)
    for unit in search.units:  # what found no route end goes in wherever it fits
        if search.route_of[unit.nodes[0]] < 0:
            search.place(unit)
    timed = search.schedule(search.routes)
    if timed is None:  # pragma: no cover - every placement was pushed feasibly
        return None
    return search.routes, search.cost(search.routes, timed)


def ruin_and_recreate(
    vehicles: Sequence[Vehicle],
    nodes: _Nodes,
    tours: list[_Tour],
    extra: Sequence[npt.NDArray[np.int64]],
    pinned: dict[int, tuple[int, int]],
    penalty_of: Sequence[int],
    minutes: npt.NDArray[np.int64],
    params: LnsParams,
) -> tuple[int, int, int]:
    """Improve the tours in place until the deadline; (start cost, best cost, iterations).

    ``tours`` hold the start (pairs pinned in ``pinned``, which their domains read);
    ``extra[v][node]`` is the soft cost of ``node`` on vehicle ``v``; ``penalty_of[node]`` the
    cost of leaving the node's visit out; ``minutes`` a travel matrix for relatedness.
    On return the tours and ``pinned`` hold the best solution found (each pair pinned at its
    starts); they are left as they were if the start is not one the search can time.
    """
    units = _units(nodes, penalty_of)
    if not units:
        return 0, 0, 0
    search = _Search(vehicles, nodes, tours, extra, units)
    given = [list(route) for route in search.routes]
    start = search.schedule(given)
    if start is None:
        return 0, 0, 0  # not a start the search can time: the routing search alone
    search.set_routes(given, start)
    start_cost = search.cost(given, start)
    current, current_cost = given, start_cost
    if params.construct:
        moving = {node for unit in units for node in unit.nodes}
        frozen = [[node for node in route if node not in moving] for route in given]
        builds = [_construct(search, frozen)]
        if not any(frozen):
            builds.append(_append(search))
        for built in builds:
            if built is not None and built[1] < current_cost:
                current, current_cost = built
    best, best_cost = [list(r) for r in current], current_cost
    rng = random.Random(params.seed)
    firsts = [unit.nodes[0] for unit in units]
    nearest = np.argsort(minutes[np.ix_(firsts, firsts)], axis=1, kind="stable").tolist()
    largest = max(2, min(params.max_removed, len(units) // 4))
    started = time.monotonic()
    span = max(1e-6, params.deadline - started)
    search.set_routes([list(r) for r in current], search.schedule(current) or start)
    temperature_start = params.temperature * search.cost(current, search.start, penalties=False)
    iteration = 0
    while time.monotonic() < params.deadline and (
        params.iterations is None or iteration < params.iterations
    ):
        iteration += 1
        routes = [list(route) for route in current]
        count = rng.randint(2, largest)
        if rng.random() < RELATED_SHARE:
            chosen = nearest[rng.randrange(len(units))][:count]
        else:
            chosen = rng.sample(range(len(units)), min(count, len(units)))
        search.route_of = [-1] * len(search.service)
        for v, route in enumerate(routes):
            for node in route:
                search.route_of[node] = v
        search.routes = routes
        for i in chosen:
            search.remove(units[i])
        timed = search.schedule(routes)
        if timed is None:  # pragma: no cover - removing visits only frees time
            continue
        search.start = timed
        out = [unit for unit in units if search.route_of[unit.nodes[0]] < 0]
        if rng.random() < 0.5:
            out.sort(key=search.closes)
        else:
            rng.shuffle(out)
        for unit in out:
            search.place(unit)
        cost = search.cost(search.routes, search.start)
        progress = (time.monotonic() - started) / span
        temperature = temperature_start * max(0.0, 1.0 - progress)
        if cost < current_cost or (
            temperature > 0 and rng.random() < math.exp((current_cost - cost) / temperature)
        ):
            current, current_cost = search.routes, cost
            if cost < best_cost:
                best, best_cost = [list(r) for r in current], cost
    _write_back(search, best, tours, pinned, units)
    return start_cost, best_cost, iteration


def _write_back(
    search: _Search,
    routes: list[list[int]],
    tours: list[_Tour],
    pinned: dict[int, tuple[int, int]],
    units: Sequence[_Unit],
) -> None:
    """Put ``routes`` into the tours, each pair pinned at its earliest starts."""
    start = search.schedule(routes)
    if start is None:  # pragma: no cover - the best routes were timed when found
        raise RuntimeError("the best routes cannot be timed")
    search.set_routes(routes, start)
    for unit in units:
        if len(unit.nodes) != 2:
            continue
        for node in unit.nodes:
            v = search.route_of[node]
            if v < 0:
                pinned.pop(node, None)
            else:
                pinned[node] = (v, search.offset[v] + start[node])
    for tour, route in zip(tours, routes, strict=True):
        tour.stops = list(route)
        if not tour.update():  # pragma: no cover - the same rules, timed the same way
            raise RuntimeError("a route of the search is not feasible on its tour")
