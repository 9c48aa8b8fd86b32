"""Geocoding residents who have an address but no coordinates, through geopy, cached in the DB.

Nominatim (OpenStreetMap, WGS-84) is the default; Baidu is used when configured with a key (its
BD-09 answers are converted to WGS-84). Look-ups go through geopy's ``RateLimiter`` (one per
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

from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from scheduler import coords
from service.db.tables import GeocodeRow, ResidentRow
from service.settings import Settings

__all__ = [
    "GeocodeFailure",
    "GeocodeReport",
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


def make_lookup(settings: Settings) -> tuple[str, Lookup]:
    """The configured geocoder as ``(provider name, rate-limited look-up)``.

    Raises ``ValueError`` for a provider geopy cannot serve with the given settings.
    """
    from geopy.geocoders import BaiduV3, Nominatim

    if settings.geocoder == "nominatim":
        geocoder = Nominatim(
            domain=settings.geocoder_domain,
            scheme=settings.geocoder_scheme,
            user_agent=settings.geocoder_user_agent,
            timeout=settings.geocoder_timeout_s,
        )
        convert: Callable[[float, float], tuple[float, float]] = lambda lat, lon: (lat, lon)  # noqa: E731
    elif settings.geocoder == "baidu":
        if not settings.geocoder_api_key:
            raise ValueError("the Baidu geocoder needs HOMEVISIT_GEOCODER_API_KEY")
        geocoder = BaiduV3(api_key=settings.geocoder_api_key, timeout=settings.geocoder_timeout_s)
        convert = coords.bd09_to_wgs84
    else:
        raise ValueError(
            f"geocoder '{settings.geocoder}' is not available through geopy; use nominatim or baidu"
        )
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
    cache = {
        row.address: row
        for row in session.execute(
            select(GeocodeRow.address, GeocodeRow.lat, GeocodeRow.lon).where(
                GeocodeRow.provider == provider
            )
        )
    }
    answers: dict[str, tuple[float, float] | None] = {
        a: (r.lat, r.lon) if r.lat is not None and r.lon is not None else None
        for a, r in cache.items()
    }
    for resident_id, address in waiting:
        key = normalize_address(address or "")
        if not key:
            report.failures.append(
                GeocodeFailure(resident_id, "", "no coordinates and no address: give lat/lon")
            )
            continue
        if key in answers:
            report.from_cache += 1
        else:
            try:
                answer = lookup(key)
            except GeopyError as exc:
                report.failures.append(
                    GeocodeFailure(
                        resident_id, address, f"the geocoder failed ({type(exc).__name__}); retry"
                    )
                )
                continue
            report.looked_up += 1
            if answer is not None and not coords.in_china(*answer):
                answer = None
            answers[key] = answer
            session.execute(
                insert(GeocodeRow).values(
                    provider=provider,
                    address=key,
                    lat=answer[0] if answer else None,
                    lon=answer[1] if answer else None,
                    looked_up_at=dt.datetime.now(dt.UTC),
                )
            )
        answer = answers[key]
        if answer is None:
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
            .values(lat=answer[0], lon=answer[1])
        )
        report.placed += 1
    log.info(
        "geocoding: %d placed, %d looked up, %d from cache, %d failed",
        report.placed,
        report.looked_up,
        report.from_cache,
        len(report.failures),
    )
    return report
