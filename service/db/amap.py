"""A geopy geocoder for AMap (高德地图) web-service geocoding, which geopy does not ship.

AMap answers in GCJ-02; :class:`AMap` converts every place to WGS-84 with
:mod:`scheduler.coords`, so its :class:`geopy.location.Location` objects are like any other
geocoder's. Requests go through geopy's own machinery (``_call_geocoder``: adapters, timeouts,
HTTP errors mapped to geopy exceptions), so ``RateLimiter`` and the callers' error handling work
unchanged.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any
from urllib.parse import urlencode

from geopy.exc import (
    GeocoderAuthenticationFailure,
    GeocoderQueryError,
    GeocoderQuotaExceeded,
    GeocoderRateLimited,
    GeocoderServiceError,
)
from geopy.geocoders.base import DEFAULT_SENTINEL, Geocoder
from geopy.location import Location

from scheduler import coords

__all__ = ["AMap"]

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://restapi.amap.com"

# AMap's ``infocode`` values (https://lbs.amap.com/api/webservice/guide/tools/info).
_AUTH = frozenset({"10001", "10002", "10005", "10006", "10007", "10008", "10009", "10010"})
_QUOTA = frozenset({"10003", "10044", "10045"})
_TOO_FAST = frozenset({"10004", "10014", "10015", "10019", "10020", "10021"})


class AMap(Geocoder):  # type: ignore[misc]  # geopy has no type information
    """AMap's ``/v3/geocode/geo``: an address -> places, converted from GCJ-02 to WGS-84.

    Parameters
    ----------
    api_key
        The web-service key (Web服务 Key) of an AMap console application.
    api_base
        Scheme and host of the service, e.g. ``http://127.0.0.1:8080`` for a test server.
    city
        Optional city (name, citycode or adcode) to narrow the search, e.g. ``上海``.
    timeout, user_agent, adapter_factory
        As for every geopy geocoder.
    """

    api_path = "/v3/geocode/geo"

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str = DEFAULT_API_BASE,
        city: str = "",
        timeout: Any = DEFAULT_SENTINEL,
        user_agent: str | None = None,
        adapter_factory: Any = None,
    ) -> None:
        if not api_key:
            raise ValueError("the AMap geocoder needs a key (HOMEVISIT_GEOCODER_API_KEY)")
        scheme = api_base.split("://", 1)[0] if "://" in api_base else "https"
        super().__init__(
            scheme=scheme, timeout=timeout, user_agent=user_agent, adapter_factory=adapter_factory
        )
        self.api_key = api_key
        self.city = city
        self.api = api_base.rstrip("/") + self.api_path

    def geocode(
        self, query: str, *, exactly_one: bool = True, timeout: Any = DEFAULT_SENTINEL
    ) -> Location | list[Location] | None:
        """The place(s) AMap finds for ``query`` (WGS-84), or ``None`` when it finds none.

        Raises geopy's exceptions for a refused key, a used-up quota, too many requests or a
        failing service.
        """
        params = {"key": self.api_key, "address": query, "output": "JSON"}
        if self.city:
            params["city"] = self.city
        url = f"{self.api}?{urlencode(params)}"
        log.debug("AMap.geocode: %s", url.replace(self.api_key, "***"))
        callback = partial(self._parse_json, exactly_one=exactly_one)
        return self._call_geocoder(url, callback, timeout=timeout)

    def _parse_json(
        self, page: dict[str, Any], exactly_one: bool = True
    ) -> Location | list[Location] | None:
        if str(page.get("status")) != "1":
            self._raise_for(page)
        places = [p for p in page.get("geocodes") or [] if self._point(p) is not None]
        if not places:
            return None
        found = [self._location(p) for p in places]
        return found[0] if exactly_one else found

    @staticmethod
    def _point(place: dict[str, Any]) -> tuple[float, float] | None:
        """``"lon,lat"`` (GCJ-02) -> WGS-84 ``(lat, lon)``; ``None`` for an empty or bad one."""
        text = place.get("location")
        if not isinstance(text, str) or "," not in text:
            return None
        try:
            lon, lat = (float(v) for v in text.split(",", 1))
        except ValueError:
            return None
        return coords.gcj02_to_wgs84(lat, lon)

    def _location(self, place: dict[str, Any]) -> Location:
        point = self._point(place)
        assert point is not None
        return Location(str(place.get("formatted_address") or ""), point, place)

    @staticmethod
    def _raise_for(page: dict[str, Any]) -> None:
        code = str(page.get("infocode", ""))
        message = f"AMap: {page.get('info', 'error')} (infocode {code or '?'})"
        if code in _AUTH:
            raise GeocoderAuthenticationFailure(message)
        if code in _QUOTA:
            raise GeocoderQuotaExceeded(message)
        if code in _TOO_FAST:
            raise GeocoderRateLimited(message)
        if code.startswith("200"):
            raise GeocoderQueryError(message)
        raise GeocoderServiceError(message)
