"""Travel times over a road network, from running OSRM servers (one ``osrm-routed`` per mode).

:class:`OsrmTravel` is a :class:`~scheduler.travel.TravelTimeProvider`: it asks each mode's
server for duration and distance tables (``/table/v1``), cut into blocks that stay within the
server's ``--max-table-size`` and fetched by a few threads side by side, and keeps the last
tables by location set. A cell the router cannot answer (no route between the two points, or a
point further than ``max_snap_m`` from any road of the extract) takes the great-circle model's
value instead, and is remembered so that the caller can report which places fell back
(:meth:`OsrmTravel.fallbacks`). A mode without a server uses the great-circle model throughout.

The same servers draw the map's legs along the streets (:meth:`OsrmTravel.route`,
``/route/v1``). Only the standard library speaks HTTP here: the core imports no web framework.

:func:`calibrate` fits the great-circle model's detour factor and speed to the router's answers,
for sites that plan without a router.
"""

from __future__ import annotations

import json
import math
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, TypedDict

import numpy as np
import numpy.typing as npt

from scheduler.model import Location, Problem, TravelMode
from scheduler.travel import GreatCircleTravel, TravelMatrix, haversine_km

__all__ = [
    "OSRM_PROFILE",
    "Calibration",
    "Fallbacks",
    "LegDrawer",
    "OsrmTravel",
    "RoadRouterError",
    "RoadsReport",
    "calibrate",
    "fallback_report",
]

OSRM_PROFILE: Final[dict[TravelMode, str]] = {
    TravelMode.WALK: "foot",
    TravelMode.EBIKE: "bicycle",
    TravelMode.CAR: "car",
}
"""The OSRM profile each travel mode is routed with (e-bikes: bicycle at the e-bike's speed)."""

DEFAULT_MAX_TABLE_SIZE: Final = 100  # osrm-routed's own default for --max-table-size
DEFAULT_MAX_SNAP_M: Final = 500.0  # further from any road than this: the point is off the network
_LRU_TABLES: Final = 16
_LRU_ROUTES: Final = 4096


LegDrawer = Callable[[Location, Location], list[tuple[float, float]]]
"""Draws a leg as ``(lat, lon)`` points (the maps' ``LegGeometry``; empty: no road found)."""


class RoadRouterError(RuntimeError):
    """A road router did not answer, or answered with an error (the message says which and why)."""


@dataclass(frozen=True, slots=True)
class Fallbacks:
    """What the router could not answer, per mode.

    ``cells[mode]`` holds the ``(origin, destination)`` pairs that took the great-circle model's
    value; ``places[mode]`` the places to blame: from or to which most travel had no road (off
    the extract, or on a path the profile may not use), rather than every other end of a cell.
    """

    cells: Mapping[TravelMode, frozenset[tuple[Location, Location]]]
    places: Mapping[TravelMode, frozenset[Location]]

    def count(self, mode: TravelMode) -> int:
        """How many cells of ``mode`` fell back."""
        return len(self.cells.get(mode, frozenset()))


def _coordinate(location: Location) -> str:
    return f"{location.lon:.6f},{location.lat:.6f}"  # OSRM wants lon,lat


def _blocks(count: int, size: int) -> list[range]:
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


class OsrmTravel:
    """Travel times and distances from one running ``osrm-routed`` per travel mode.

    Parameters
    ----------
    urls
        The server of each mode, e.g. ``{TravelMode.WALK: "http://127.0.0.1:5001"}``. A mode
        without one is planned with ``fallback`` throughout.
    fallback
        The model for cells the router cannot answer and modes without a server; its per-leg
        overhead (parking the car, locking the e-bike) is added to the router's times too,
        since the road time does not include it.
    max_table_size
        The servers' ``--max-table-size``: a block asks for at most this many origins times
        this many destinations.
    threads
        Blocks fetched at the same time.
    max_snap_m
        A point further than this from the nearest road of the extract is off the network:
        its cells fall back (an extract that does not cover the whole district snaps far-away
        homes to its edge otherwise).
    timeout_s
        How long one request may take.
    """

    def __init__(
        self,
        urls: Mapping[TravelMode, str],
        fallback: GreatCircleTravel | None = None,
        *,
        max_table_size: int = DEFAULT_MAX_TABLE_SIZE,
        threads: int = 4,
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
        timeout_s: float = 60.0,
    ) -> None:
        if max_table_size < 1:
            raise ValueError("max_table_size must be at least 1")
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self.urls = {mode: url.rstrip("/") for mode, url in urls.items() if url}
        self.fallback = fallback or GreatCircleTravel()
        self.max_table_size = max_table_size
        self.threads = threads
        self.max_snap_m = max_snap_m
        self.timeout_s = timeout_s
        self._start()

    def _start(self) -> None:
        self._lock = threading.Lock()
        self._tables: OrderedDict[tuple[object, ...], TravelMatrix] = OrderedDict()
        self._routes: OrderedDict[tuple[object, ...], list[tuple[float, float]]] = OrderedDict()
        self._fallback_cells: dict[TravelMode, set[tuple[Location, Location]]] = {}
        self._fallback_places: dict[TravelMode, set[Location]] = {}

    # Solves run in worker processes: the settings travel, the caches and the lock do not.
    def __getstate__(self) -> dict[str, Any]:
        return {
            "urls": self.urls,
            "fallback": self.fallback,
            "max_table_size": self.max_table_size,
            "threads": self.threads,
            "max_snap_m": self.max_snap_m,
            "timeout_s": self.timeout_s,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._start()

    def __repr__(self) -> str:
        servers = ", ".join(f"{m.value}={u}" for m, u in self.urls.items())
        return f"OsrmTravel({servers})"

    # --- tables ---------------------------------------------------------------------------

    def matrix(
        self, origins: Sequence[Location], destinations: Sequence[Location], mode: TravelMode
    ) -> TravelMatrix:
        """Travel from every origin to every destination by ``mode``, in whole minutes and km.

        Raises
        ------
        RoadRouterError
            If the mode's server does not answer or refuses the request.
        """
        if mode not in self.urls:
            return self.fallback.matrix(origins, destinations, mode)
        key = (mode, tuple(origins), tuple(destinations))
        with self._lock:
            cached = self._tables.get(key)
            if cached is not None:
                self._tables.move_to_end(key)
                return cached
        seconds, metres = self.road_table(origins, destinations, mode)
        result = self._to_travel(origins, destinations, mode, seconds, metres)
        # Cached and shared between callers: read-only, so no caller can change another's table.
        result.minutes.setflags(write=False)
        result.km.setflags(write=False)
        with self._lock:
            self._tables[key] = result
            while len(self._tables) > _LRU_TABLES:
                self._tables.popitem(last=False)
        return result

    def road_table(
        self, origins: Sequence[Location], destinations: Sequence[Location], mode: TravelMode
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The router's own seconds and metres; NaN where it has no answer (or the point is off
        the network). Fetched in blocks of at most ``max_table_size`` squared, in parallel."""
        url = self.urls.get(mode)
        if url is None:
            raise RoadRouterError(f"no road router is set for {mode.value}")
        seconds = np.full((len(origins), len(destinations)), np.nan)
        metres = np.full((len(origins), len(destinations)), np.nan)
        if not origins or not destinations:
            return seconds, metres
        size = self.max_table_size
        tasks = [
            (rows, cols)
            for rows in _blocks(len(origins), size)
            for cols in _blocks(len(destinations), size)
        ]

        def fetch(task: tuple[range, range]) -> tuple[range, range, Any, Any]:
            rows, cols = task
            block_s, block_m = self._table_block(
                url, mode, [origins[i] for i in rows], [destinations[j] for j in cols]
            )
            return rows, cols, block_s, block_m

        if len(tasks) == 1:
            answers = [fetch(tasks[0])]
        else:
            with ThreadPoolExecutor(min(self.threads, len(tasks))) as pool:
                answers = list(pool.map(fetch, tasks))
        for rows, cols, block_s, block_m in answers:
            seconds[rows.start : rows.stop, cols.start : cols.stop] = block_s
            metres[rows.start : rows.stop, cols.start : cols.stop] = block_m
        return seconds, metres

    def _table_block(
        self, url: str, mode: TravelMode, origins: list[Location], destinations: list[Location]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        same = origins == destinations
        points = origins if same else origins + destinations
        query = {"annotations": "duration,distance"}
        if not same:
            query["sources"] = ";".join(str(i) for i in range(len(origins)))
            query["destinations"] = ";".join(
                str(len(origins) + j) for j in range(len(destinations))
            )
        path = f"/table/v1/{OSRM_PROFILE[mode]}/" + ";".join(_coordinate(p) for p in points)
        answer = self._get(url, mode, path, query)
        seconds = np.array(
            [[np.nan if v is None else float(v) for v in row] for row in answer["durations"]],
            dtype=np.float64,
        ).reshape(len(origins), len(destinations))
        metres = np.array(
            [[np.nan if v is None else float(v) for v in row] for row in answer["distances"]],
            dtype=np.float64,
        ).reshape(len(origins), len(destinations))
        # A point snapped from far away is not on the network: its row or column is unknown.
        source_snap = [float(w.get("distance") or 0.0) for w in answer["sources"]]
        target_snap = [float(w.get("distance") or 0.0) for w in answer["destinations"]]
        off_rows = np.array(source_snap) > self.max_snap_m
        off_cols = np.array(target_snap) > self.max_snap_m
        seconds[off_rows, :] = np.nan
        seconds[:, off_cols] = np.nan
        metres[np.isnan(seconds)] = np.nan
        return seconds, metres

    def _get(self, url: str, mode: TravelMode, path: str, query: Mapping[str, str]) -> Any:
        full = f"{url}{path}?{urllib.parse.urlencode(query, safe=';,')}"
        try:
            with urllib.request.urlopen(full, timeout=self.timeout_s) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:  # OSRM answers 400 with a JSON code and message
            try:
                body = json.loads(exc.read())
            except (ValueError, OSError):
                body = {}
            code = body.get("code", exc.code)
            message = body.get("message", exc.reason)
            if code == "NoRoute":
                return body
            hint = (
                f"; the table blocks ({self.max_table_size}) must not exceed the server's "
                "--max-table-size (HOMEVISIT_ROADS_MAX_TABLE_SIZE)"
                if code == "TooBig"
                else ""
            )
            raise RoadRouterError(
                f"the {mode.value} road router at {url} refused the request: {code} {message}"
                + hint
            ) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RoadRouterError(
                f"the {mode.value} road router at {url} does not answer ({reason}); start it "
                "with `homevisit roads serve DIR --port N`, or plan without --roads"
            ) from None
        if answer.get("code") not in ("Ok", "NoRoute"):
            raise RoadRouterError(
                f"the {mode.value} road router at {url} answered {answer.get('code')}: "
                f"{answer.get('message', '')}"
            )
        return answer

    def _to_travel(
        self,
        origins: Sequence[Location],
        destinations: Sequence[Location],
        mode: TravelMode,
        seconds: npt.NDArray[np.float64],
        metres: npt.NDArray[np.float64],
    ) -> TravelMatrix:
        overhead = self.fallback.params.overhead_min[mode]
        # Rounded up, like the great-circle model, so no plan travels faster than the router.
        with np.errstate(invalid="ignore"):
            road_min = np.ceil(seconds / 60.0 + overhead - 1e-9)
        minutes = np.where(np.isnan(road_min), 0, np.nan_to_num(road_min)).astype(np.int64)
        km = np.round(np.nan_to_num(metres) / 1000.0, 3)
        here = np.array([(p.lat, p.lon) for p in origins], dtype=np.float64).reshape(-1, 2)
        there = np.array([(p.lat, p.lon) for p in destinations], dtype=np.float64).reshape(-1, 2)
        same = (here[:, None, 0] == there[None, :, 0]) & (here[:, None, 1] == there[None, :, 1])
        missing = np.isnan(seconds) & ~same
        if missing.any():
            model = self.fallback.matrix(origins, destinations, mode)
            minutes = np.where(missing, model.minutes, minutes)
            km = np.where(missing, model.km, km)
            cells = {
                (origins[i], destinations[j]) for i, j in zip(*np.nonzero(missing), strict=True)
            }
            # The place to blame: one from (or to) which most of its travel had no road.
            routed_rows = np.maximum((~same).sum(axis=1), 1)
            routed_cols = np.maximum((~same).sum(axis=0), 1)
            blamed = {origins[int(i)] for i in np.nonzero(missing.sum(axis=1) * 2 > routed_rows)[0]}
            blamed |= {
                destinations[int(j)] for j in np.nonzero(missing.sum(axis=0) * 2 > routed_cols)[0]
            }
            with self._lock:
                self._fallback_cells.setdefault(mode, set()).update(cells)
                self._fallback_places.setdefault(mode, set()).update(blamed)
        minutes = np.where(same, 0, minutes)
        km = np.where(same, 0.0, km)
        return TravelMatrix(minutes=minutes.astype(np.int64), km=km.astype(np.float64))

    def fallbacks(self) -> Fallbacks:
        """The cells answered by the great-circle model instead of the router, so far."""
        with self._lock:
            return Fallbacks(
                {m: frozenset(c) for m, c in self._fallback_cells.items()},
                {m: frozenset(p) for m, p in self._fallback_places.items()},
            )

    # --- route geometry for the maps --------------------------------------------------------

    def route(
        self, origin: Location, destination: Location, mode: TravelMode
    ) -> list[tuple[float, float]]:
        """The road from ``origin`` to ``destination`` as ``(lat, lon)`` points, door to door.

        Empty when the mode has no server, the router finds no road or an end is off the
        network (further than ``max_snap_m`` from a road): the map then draws a straight leg.
        Raises :class:`RoadRouterError` if the server does not answer.
        """
        url = self.urls.get(mode)
        if url is None or origin == destination:
            return []
        key = (mode, origin, destination)
        with self._lock:
            cached = self._routes.get(key)
        if cached is not None:
            return cached
        path = f"/route/v1/{OSRM_PROFILE[mode]}/{_coordinate(origin)};{_coordinate(destination)}"
        answer = self._get(
            url, mode, path, {"overview": "full", "geometries": "geojson", "steps": "false"}
        )
        routes = answer.get("routes") or []
        snaps = [float(w.get("distance") or 0.0) for w in answer.get("waypoints") or []]
        points: list[tuple[float, float]] = []
        # Off the network (as for the tables): a straight leg, not a road to the extract's edge.
        if routes and max(snaps, default=0.0) <= self.max_snap_m:
            line = routes[0]["geometry"]["coordinates"]
            # From the door to the street and from the street to the next door.
            points = [(origin.lat, origin.lon)]
            points += [(float(lat), float(lon)) for lon, lat in line]
            points.append((destination.lat, destination.lon))
        with self._lock:
            self._routes[key] = points
            while len(self._routes) > _LRU_ROUTES:
                self._routes.popitem(last=False)
        return points

    def leg_geometries(self) -> dict[TravelMode, LegDrawer]:
        """:meth:`leg_geometry` of every mode that has a server."""
        return {mode: self.leg_geometry(mode) for mode in self.urls}

    def leg_geometry(self, mode: TravelMode) -> LegDrawer:
        """A map hook drawing each leg along ``mode``'s roads (see ``maps.base.LegGeometry``)."""

        def draw(origin: Location, destination: Location) -> list[tuple[float, float]]:
            try:
                return self.route(origin, destination, mode)
            except RoadRouterError:
                return []  # the page still draws: a straight leg rather than none

        return draw


class RoadsReport(TypedDict):
    """One routed mode in a plan's ``kpis.json`` (``roads``): its server and what fell back."""

    url: str
    fallback_cells: int
    fallback_residents: list[str]
    fallback_committees: list[str]
    fallback_centres: list[str]


def fallback_report(problem: Problem, travel: OsrmTravel) -> dict[str, RoadsReport]:
    """Per routed mode: its server, and the problem's places whose travel fell back, by id.

    Residents and committees are named by their ids only (never names), centres by centre id.
    Call it after the plan was evaluated, so that every table of the week has been asked for.
    """
    found = travel.fallbacks()
    modes: dict[str, RoadsReport] = {}
    for mode, url in travel.urls.items():
        places = found.places.get(mode, frozenset())
        modes[mode.value] = {
            "url": url,
            "fallback_cells": found.count(mode),
            "fallback_residents": sorted(
                {v.resident_id for v in problem.visits if v.resident_id and v.location in places}
            ),
            "fallback_committees": sorted(
                {v.committee_id for v in problem.visits if v.committee_id and v.location in places}
            ),
            "fallback_centres": sorted(
                c.centre_id for c in problem.centres.values() if c.location in places
            ),
        }
    return modes


# --- calibration of the great-circle model -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Calibration:
    """The great-circle model fitted to a router's answers for one mode.

    Attributes
    ----------
    pairs
        Pairs of places compared (both ends on the network, at least ``min_km`` apart).
    detour_factor
        Road km per great-circle km, least-squares fit.
    speed_kmh
        The speed that, with ``detour_factor``, gives the least-squares fit of the road
        minutes from the great-circle km.
    distance_ratio
        Median and 90th percentile of road km / great-circle km.
    time_ratio
        Median and 90th percentile of road minutes / the current model's minutes (without the
        per-leg overhead, which both add alike).
    """

    mode: TravelMode
    pairs: int
    detour_factor: float
    speed_kmh: float
    distance_ratio: tuple[float, float]
    time_ratio: tuple[float, float]
    fallback_cells: int = 0


def calibrate(
    travel: OsrmTravel,
    places: Sequence[Location],
    mode: TravelMode,
    *,
    min_km: float = 0.1,
) -> Calibration:
    """Compare the great-circle model with ``travel``'s router on every pair of ``places``.

    Raises
    ------
    ValueError
        If fewer than two pairs of places are routed.
    """
    seconds, metres = travel.road_table(places, places, mode)
    points = np.array([(p.lat, p.lon) for p in places], dtype=np.float64).reshape(-1, 2)
    straight_km = haversine_km(points, points)
    off_diagonal = ~np.eye(len(places), dtype=bool)
    usable = off_diagonal & ~np.isnan(seconds) & (straight_km >= min_km) & (metres > 0)
    if int(usable.sum()) < 2:
        raise ValueError(
            f"only {int(usable.sum())} pair(s) of places could be routed by {mode.value}: "
            "are the places inside the router's extract?"
        )
    gc = straight_km[usable]
    road_km = metres[usable] / 1000.0
    road_min = seconds[usable] / 60.0
    params = travel.fallback.params
    model_min = gc * params.detour_factor / params.speed_kmh[mode] * 60.0
    detour = float(np.dot(gc, road_km) / np.dot(gc, gc))
    min_per_gc_km = float(np.dot(gc, road_min) / np.dot(gc, gc))
    distance_ratio = road_km / gc
    time_ratio = road_min / model_min
    return Calibration(
        mode=mode,
        pairs=int(usable.sum()),
        detour_factor=round(detour, 3),
        speed_kmh=round(detour * 60.0 / min_per_gc_km, 2) if min_per_gc_km > 0 else math.inf,
        distance_ratio=(
            round(float(np.median(distance_ratio)), 3),
            round(float(np.percentile(distance_ratio, 90)), 3),
        ),
        time_ratio=(
            round(float(np.median(time_ratio)), 3),
            round(float(np.percentile(time_ratio, 90)), 3),
        ),
        fallback_cells=int((off_diagonal & np.isnan(seconds)).sum()),
    )
