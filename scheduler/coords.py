"""Conversion between the three coordinate systems met in China.

- **WGS-84**: GPS, OpenStreetMap; what the planner uses inside.
- **GCJ-02** ("Mars coordinates"): AMap/Gaode, Tencent; WGS-84 shifted by a published, obfuscating
  formula, typically by 300-600 m in eastern China.
- **BD-09**: Baidu; GCJ-02 shifted once more.

The forward formulas (WGS-84 -> GCJ-02 -> BD-09) are the standard published ones. Their inverses
have no closed form, so GCJ-02 -> WGS-84 and BD-09 -> GCJ-02 are solved by fixed-point iteration
until the step is below 1e-7 degrees (about 1 cm), which makes every round trip better than 1 m.

GCJ-02 is only defined inside China: outside :func:`in_china`'s box every conversion returns the
point unchanged, as the published formulas do. All functions take and return ``(lat, lon)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from scheduler.messages import MessageError

__all__ = [
    "CHINA",
    "CRS_NAMES",
    "Region",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china",
    "normalize_crs",
    "parse_region",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

CRS_NAMES: Final[tuple[str, ...]] = ("wgs84", "gcj02", "bd09")
"""The coordinate systems a dataset may name in its ``crs`` column."""

# Other names users write for the same systems (compared after lower-casing and removing '-',
# '_' and spaces): the map or app a coordinate was copied from.
_CRS_ALIASES: Final[dict[str, str]] = {
    "wgs84": "wgs84",
    "wgs": "wgs84",
    "gps": "wgs84",
    "epsg4326": "wgs84",
    "osm": "wgs84",
    "openstreetmap": "wgs84",
    "gcj02": "gcj02",
    "gcj": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "高德": "gcj02",
    "tencent": "gcj02",
    "腾讯": "gcj02",
    "火星坐标": "gcj02",
    "bd09": "bd09",
    "bd09ll": "bd09",
    "baidu": "bd09",
    "百度": "bd09",
}

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
_A: Final = 6378245.0
_EE: Final = 0.00669342162296594323
_X_PI: Final = math.pi * 3000.0 / 180.0

_TOLERANCE_DEG: Final = 1e-7
_MAX_ITERATIONS: Final = 100


@dataclass(frozen=True, slots=True)
class Region:
    """Where a dataset's points may lie: a bounding box in WGS-84 degrees, with a name for messages.

    The reader refuses points outside it (swapped, zeroed or foreign coordinates). The default is
    :data:`CHINA`; a site or a test elsewhere (a road network of another city) names its own box.
    """

    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float
    name: str = "the region"

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat_min < self.lat_max <= 90.0:
            raise ValueError(
                f"region latitudes {self.lat_min}-{self.lat_max}: need -90 <= min < max <= 90"
            )
        if not -180.0 <= self.lon_min < self.lon_max <= 180.0:
            raise ValueError(
                f"region longitudes {self.lon_min}-{self.lon_max}: need -180 <= min < max <= 180"
            )

    def contains(self, lat: float, lon: float) -> bool:
        """Whether ``(lat, lon)`` lies in the box (edges included)."""
        return self.lat_min <= lat <= self.lat_max and self.lon_min <= lon <= self.lon_max

    def describe(self) -> str:
        """The box as messages show it: ``China (lat 3.8-53.6, lon 73.5-135.1)``."""
        return (
            f"{self.name} (lat {self.lat_min:g}-{self.lat_max:g}, "
            f"lon {self.lon_min:g}-{self.lon_max:g})"
        )


CHINA: Final = Region(3.8, 53.6, 73.5, 135.1, name="China")
"""A generous box around China: the default region of a dataset."""


def parse_region(text: str) -> Region:
    """A region from ``"lat_min,lat_max,lon_min,lon_max"`` (the ``HOMEVISIT_REGION`` setting).

    Empty text is :data:`CHINA`.

    Raises
    ------
    ValueError
        If the text is not four numbers in that order.
    """
    if not text.strip():
        return CHINA
    parts = [p.strip() for p in text.split(",")]
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 4:
        raise ValueError(
            f"region '{text}': give four numbers lat_min,lat_max,lon_min,lon_max "
            "(e.g. 60.1,60.3,24.8,25.1)"
        )
    lat_min, lat_max, lon_min, lon_max = numbers
    return Region(lat_min, lat_max, lon_min, lon_max, name="the region")


def in_china(lat: float, lon: float) -> bool:
    """Whether a point lies in a generous bounding box around China (lat 3.8-53.6, lon 73.5-135.1).

    The box also holds some neighbouring land; it catches swapped, zeroed or foreign coordinates,
    not every border.
    """
    return CHINA.contains(lat, lon)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _gcj_offset(lat: float, lon: float) -> tuple[float, float]:
    """The published WGS-84 -> GCJ-02 shift at a WGS-84 point, in degrees (no China check)."""
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = 1.0 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return dlat, dlon


def _gcj_to_bd_raw(lat: float, lon: float) -> tuple[float, float]:
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def _bd_to_gcj_approx(lat: float, lon: float) -> tuple[float, float]:
    x, y = lon - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """WGS-84 -> GCJ-02 (AMap/Gaode, Tencent); unchanged outside China."""
    if not in_china(lat, lon):
        return lat, lon
    dlat, dlon = _gcj_offset(lat, lon)
    return lat + dlat, lon + dlon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 -> WGS-84 by fixed-point iteration (to < 1e-7 degrees); unchanged outside China."""
    if not in_china(lat, lon):
        return lat, lon
    w_lat, w_lon = lat, lon
    for _ in range(_MAX_ITERATIONS):
        dlat, dlon = _gcj_offset(w_lat, w_lon)
        new_lat, new_lon = lat - dlat, lon - dlon
        step = max(abs(new_lat - w_lat), abs(new_lon - w_lon))
        w_lat, w_lon = new_lat, new_lon
        if step < _TOLERANCE_DEG:
            break
    return w_lat, w_lon


def gcj02_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 -> BD-09 (Baidu); unchanged outside China."""
    if not in_china(lat, lon):
        return lat, lon
    return _gcj_to_bd_raw(lat, lon)


def bd09_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """BD-09 -> GCJ-02: the published approximate inverse, refined by fixed-point iteration."""
    if not in_china(lat, lon):
        return lat, lon
    g_lat, g_lon = _bd_to_gcj_approx(lat, lon)
    for _ in range(_MAX_ITERATIONS):
        b_lat, b_lon = _gcj_to_bd_raw(g_lat, g_lon)
        new_lat, new_lon = g_lat + (lat - b_lat), g_lon + (lon - b_lon)
        step = max(abs(new_lat - g_lat), abs(new_lon - g_lon))
        g_lat, g_lon = new_lat, new_lon
        if step < _TOLERANCE_DEG:
            break
    return g_lat, g_lon


def wgs84_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    """WGS-84 -> BD-09 (via GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


def bd09_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """BD-09 -> WGS-84 (via GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))


def normalize_crs(name: str) -> str:
    """The canonical name (``wgs84``, ``gcj02`` or ``bd09``) of a coordinate system.

    Case, spaces, ``-`` and ``_`` are ignored and a few common aliases are understood (``gps``,
    ``amap``/``gaode``/``高德``, ``baidu``/``百度``, ...); empty means ``wgs84``. Raises
    ``ValueError`` naming the allowed systems for anything else.
    """
    key = "".join(ch for ch in name.strip().lower() if ch not in " -_")
    if not key:
        return "wgs84"
    if key in _CRS_ALIASES:
        return _CRS_ALIASES[key]
    names = ", ".join(CRS_NAMES)
    raise MessageError(
        "register.choice",
        what="coordinate system",
        what_zh="坐标系",
        given=name,
        allowed=f"{names} (GPS/OpenStreetMap = wgs84, AMap/Gaode/Tencent = gcj02, Baidu = bd09)",
        allowed_zh=f"{names}（GPS/OpenStreetMap 为 wgs84，高德/腾讯为 gcj02，百度为 bd09）",
    )


def to_wgs84(lat: float, lon: float, crs: str) -> tuple[float, float]:
    """Convert a point given in ``crs`` (see :func:`normalize_crs`) to WGS-84."""
    system = normalize_crs(crs)
    if system == "gcj02":
        return gcj02_to_wgs84(lat, lon)
    if system == "bd09":
        return bd09_to_wgs84(lat, lon)
    return lat, lon


def from_wgs84(lat: float, lon: float, crs: str) -> tuple[float, float]:
    """Convert a WGS-84 point to ``crs``, e.g. to draw it on an AMap (gcj02) or Baidu (bd09) map."""
    system = normalize_crs(crs)
    if system == "gcj02":
        return wgs84_to_gcj02(lat, lon)
    if system == "bd09":
        return wgs84_to_bd09(lat, lon)
    return lat, lon
