"""Geocoding residents who have an address but no coordinates, through geopy, cached in the DB.

Nominatim (OpenStreetMap, WGS-84) is the default; AMap (:mod:`service.db.amap`, GCJ-02) and Baidu
(BD-09) are used when configured with a key, their answers converted to WGS-84; ``none`` switches
network geocoding off. Look-ups go through geopy's ``RateLimiter`` (one per
``geocoder_min_delay_s``), and every definite answer, found or not, is cached in
``geocode_cache`` so that an address is sent once. Addresses that cannot be geocoded are listed
in the report, never dropped silently; transient errors are reported and not cached.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scheduler import coords
from service.db.tables import GeocodeRow, ResidentRow
from service.settings import Settings

__all__ = [
    "AddressResolver",
    "Answer",
    "GeocodeFailure",
    "GeocodeReport",
    "GeocodingOffError",
    "Lookup",
    "geocode_missing",
    "make_lookup",
    "normalize_address",
]

log = logging.getLogger(__name__)

Lookup = Callable[[str], tuple[float, float] | None]
"""An address -> WGS-84 ``(lat, lon)``, or ``None`` when the service does not know it."""


@dataclass(frozen=True, slots=True)
class GeocodeFailure:
    """A resident whose address could not be placed, and why."""

    resident_id: str
    address: str
    reason: str


@dataclass(slots=True)
class GeocodeReport:
    """What one geocoding run did (counts and the failures to show the user)."""

    placed: int = 0
    looked_up: int = 0
    from_cache: int = 0
    failures: list[GeocodeFailure] = field(default_factory=list)


def normalize_address(address: str) -> str:
    """The cache key of an address: NFKC (full-width -> half-width), spaces collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", address)).strip()


class GeocodingOffError(ValueError):
    """Network geocoding is switched off (``HOMEVISIT_GEOCODER=none``)."""


def make_lookup(settings: Settings) -> tuple[str, Lookup]:
    """The configured geocoder as ``(provider name, rate-limited look-up)``.

    Raises :class:`GeocodingOffError` when geocoding is switched off, and ``ValueError`` for a
    provider that cannot be used with the given settings (AMap or Baidu without a key).
    """
    from geopy.geocoders import BaiduV3, Nominatim

    from service.db.amap import DEFAULT_API_BASE, AMap

    geocoder: Any
    if settings.geocoder == "none":
        raise GeocodingOffError("geocoding is switched off by HOMEVISIT_GEOCODER=none")
    if settings.geocoder == "nominatim":
        geocoder = Nominatim(
            domain=settings.geocoder_domain,
            scheme=settings.geocoder_scheme,
            user_agent=settings.geocoder_user_agent,
            timeout=settings.geocoder_timeout_s,
        )
        convert: Callable[[float, float], tuple[float, float]] = lambda lat, lon: (lat, lon)  # noqa: E731
    elif settings.geocoder == "amap":
        if not settings.geocoder_api_key:
            raise ValueError("the AMap geocoder needs HOMEVISIT_GEOCODER_API_KEY")
        geocoder = AMap(
            settings.geocoder_api_key,
            api_base=settings.geocoder_base_url or DEFAULT_API_BASE,
            timeout=settings.geocoder_timeout_s,
            user_agent=settings.geocoder_user_agent,
        )
        convert = lambda lat, lon: (lat, lon)  # noqa: E731 (AMap converts GCJ-02 itself)
    else:
        if not settings.geocoder_api_key:
            raise ValueError("the Baidu geocoder needs HOMEVISIT_GEOCODER_API_KEY")
        geocoder = BaiduV3(api_key=settings.geocoder_api_key, timeout=settings.geocoder_timeout_s)
        convert = coords.bd09_to_wgs84
    limited = RateLimiter(
        geocoder.geocode,
        min_delay_seconds=settings.geocoder_min_delay_s,
        max_retries=2,
        error_wait_seconds=max(2.0, settings.geocoder_min_delay_s),
        swallow_exceptions=False,
    )

    def lookup(address: str) -> tuple[float, float] | None:
        found = limited(address)
        if found is None:
            return None
        return convert(float(found.latitude), float(found.longitude))

    return settings.geocoder, lookup


@dataclass(frozen=True, slots=True)
class Answer:
    """What is known about one address.

    ``location`` is WGS-84 ``(lat, lon)`` or ``None``; then ``error`` is the geocoder's failure
    (transient, not cached) or empty when the service knows no place in China by that address.
    ``cached`` says no look-up was needed.
    """

    location: tuple[float, float] | None
    cached: bool = False
    error: str = ""


class AddressResolver:
    """Answers addresses from the cache of ``provider``, else through ``lookup``.

    New answers (found or not) are added to the cache in ``session``; with ``commit_each`` each
    is committed at once, so an interrupted run keeps what it learnt. After a transient failure
    of the geocoder (unreachable, timed out, quota) no further address is sent in this run.
    """

    def __init__(
        self, session: Session, provider: str, lookup: Lookup, *, commit_each: bool = False
    ) -> None:
        self.session = session
        self.provider = provider
        self.lookup = lookup
        self.commit_each = commit_each
        self.looked_up = 0
        self.broken = ""
        rows = session.execute(
            select(GeocodeRow.address, GeocodeRow.lat, GeocodeRow.lon).where(
                GeocodeRow.provider == provider
            )
        )
        self.answers: dict[str, tuple[float, float] | None] = {
            r.address: (r.lat, r.lon) if r.lat is not None and r.lon is not None else None
            for r in rows
        }

    def resolve(self, address: str) -> Answer:
        """The answer for ``address`` (normalised here; must not be empty)."""
        key = normalize_address(address)
        if key in self.answers:
            return Answer(self.answers[key], cached=True)
        if self.broken:
            return Answer(None, error=f"not sent: the geocoder failed before ({self.broken})")
        try:
            answer = self.lookup(key)
        except GeopyError as exc:
            self.broken = type(exc).__name__
            return Answer(None, error=f"the geocoder failed ({self.broken}); try again later")
        self.looked_up += 1
        if answer is not None and not coords.in_china(*answer):
            answer = None
        self.answers[key] = answer
        self._store(key, answer)
        return Answer(answer)

    def _store(self, key: str, answer: tuple[float, float] | None) -> None:
        values = {
            "provider": self.provider,
            "address": key,
            "lat": answer[0] if answer else None,
            "lon": answer[1] if answer else None,
            "looked_up_at": dt.datetime.now(dt.UTC),
        }
        try:
            with self.session.begin_nested():
                self.session.execute(insert(GeocodeRow).values(**values))
        except IntegrityError:  # another run cached it meanwhile: its answer is as good
            pass
        if self.commit_each:
            self.session.commit()


def geocode_missing(session: Session, provider: str, lookup: Lookup) -> GeocodeReport:
    """Give coordinates to active residents that have an address but none (caller commits).

    Each distinct address is looked up at most once, ever: answers are cached per provider.
    """
    report = GeocodeReport()
    waiting = session.execute(
        select(ResidentRow.resident_id, ResidentRow.address)
        .where(ResidentRow.active.is_(True), ResidentRow.lat.is_(None))
        .order_by(ResidentRow.resident_id)
    ).all()
    resolver = AddressResolver(session, provider, lookup)
    for resident_id, address in waiting:
        if not normalize_address(address or ""):
            report.failures.append(
                GeocodeFailure(resident_id, "", "no coordinates and no address: give lat/lon")
            )
            continue
        answer = resolver.resolve(address)
        report.from_cache += answer.cached
        if answer.error:
            report.failures.append(GeocodeFailure(resident_id, address, answer.error))
            continue
        if answer.location is None:
            report.failures.append(
                GeocodeFailure(
                    resident_id,
                    address,
                    f"{provider} does not know this address (or places it outside China): "
                    "correct the address or give lat/lon",
                )
            )
            continue
        session.execute(
            update(ResidentRow)
            .where(ResidentRow.resident_id == resident_id)
            .values(lat=answer.location[0], lon=answer.location[1])
        )
        report.placed += 1
    report.looked_up = resolver.looked_up
    log.info(
        "geocoding: %d placed, %d looked up, %d from cache, %d failed",
        report.placed,
        report.looked_up,
        report.from_cache,
        len(report.failures),
    )
    return report
