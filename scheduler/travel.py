"""Travel times and distances between places, per travel mode.

The planner asks a :class:`TravelTimeProvider` for whole matrices, once per solve. The default,
:class:`GreatCircleTravel`, multiplies the great-circle distance by a detour factor (streets are
not straight) and divides by a named speed per mode, plus a fixed overhead per leg (parking the
car, locking the e-bike). A road-network router can replace it behind the same protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt
from geopy.distance import great_circle

from scheduler.model import Location, TravelMode

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


@dataclass(frozen=True, slots=True)
class TravelMatrix:
    """Travel between every origin and destination: whole minutes and kilometres."""

    minutes: npt.NDArray[np.int64]
    km: npt.NDArray[np.float64]


class TravelTimeProvider(Protocol):
    """Anything that can tell how long travel takes between places by a given mode."""

    def matrix(
        self, origins: Sequence[Location], destinations: Sequence[Location], mode: TravelMode
    ) -> TravelMatrix:
        """Travel from every origin to every destination."""
        ...


def _default_speeds() -> dict[TravelMode, float]:
    # Urban door-to-door speeds: an older nurse walking with a kit, an e-bike in Shanghai
    # side streets, a car in district traffic.
    return {TravelMode.WALK: 4.5, TravelMode.EBIKE: 15.0, TravelMode.CAR: 22.0}


def _default_overheads() -> dict[TravelMode, float]:
    # Minutes per leg spent parking, locking and walking to the door.
    return {TravelMode.WALK: 0.0, TravelMode.EBIKE: 2.0, TravelMode.CAR: 5.0}


@dataclass(frozen=True, slots=True)
class TravelParams:
    """The named numbers of the great-circle travel model."""

    detour_factor: float = 1.3
    speed_kmh: Mapping[TravelMode, float] = field(default_factory=_default_speeds)
    overhead_min: Mapping[TravelMode, float] = field(default_factory=_default_overheads)

    def __post_init__(self) -> None:
        if self.detour_factor < 1.0:
            raise ValueError("detour_factor must be at least 1 (roads are never shorter)")
        for mode in TravelMode:
            if self.speed_kmh.get(mode, 0.0) <= 0.0:
                raise ValueError(f"speed for {mode} must be positive")


def haversine_km(
    origins: npt.NDArray[np.float64], destinations: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Great-circle distances in km between rows of ``(lat, lon)`` degree arrays (all pairs)."""
    lat1 = np.radians(origins[:, 0])[:, None]
    lon1 = np.radians(origins[:, 1])[:, None]
    lat2 = np.radians(destinations[:, 0])[None, :]
    lon2 = np.radians(destinations[:, 1])[None, :]
    a = (
        np.sin((lat2 - lat1) / 2.0) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2.0) ** 2
    )
    result: npt.NDArray[np.float64] = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    return result


def _as_array(points: Sequence[Location]) -> npt.NDArray[np.float64]:
    return np.array([(p.lat, p.lon) for p in points], dtype=np.float64).reshape(-1, 2)


@dataclass(frozen=True, slots=True)
class GreatCircleTravel:
    """Great-circle distance x detour factor, at a named speed per mode, rounded up to minutes."""

    params: TravelParams = field(default_factory=TravelParams)

    def matrix(
        self, origins: Sequence[Location], destinations: Sequence[Location], mode: TravelMode
    ) -> TravelMatrix:
        """Travel from every origin to every destination by ``mode``."""
        km = haversine_km(_as_array(origins), _as_array(destinations)) * self.params.detour_factor
        raw_min = km / self.params.speed_kmh[mode] * 60.0 + self.params.overhead_min[mode]
        # Same place (a neighbour in the same building): no travel at all.
        raw_min = np.where(km > 1e-6, raw_min, 0.0)
        # Rounded up, so that a plan in whole minutes never travels faster than the model.
        minutes = np.ceil(raw_min - 1e-9).astype(np.int64)
        return TravelMatrix(minutes=minutes, km=np.round(km, 3))

    def leg(self, origin: Location, destination: Location, mode: TravelMode) -> tuple[int, float]:
        """Minutes and km of one leg."""
        m = self.matrix([origin], [destination], mode)
        return int(m.minutes[0, 0]), float(m.km[0, 0])


def straight_line_km(a: Location, b: Location) -> float:
    """Great-circle distance in km between two points (no detour), by geopy."""
    return float(great_circle((a.lat, a.lon), (b.lat, b.lon)).km)
