"""WGS-84 / GCJ-02 / BD-09 conversion: what a dataset with AMap or Baidu pins relies on."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    normalize_crs,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


# Points inside the China box, a little away from its edges (where the shift would carry a
# point across the border and the conversion becomes the identity on one side only).
china_points = st.tuples(
    st.floats(min_value=4.0, max_value=53.4, allow_nan=False),
    st.floats(min_value=73.7, max_value=134.9, allow_nan=False),
)

# Published test vectors of the reference implementation (eviltransform): WGS-84 -> GCJ-02.
VECTORS = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),  # Shanghai
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),  # Shenzhen
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),  # Beijing
]


@pytest.mark.parametrize(("wgs", "gcj"), VECTORS)
def test_wgs84_to_gcj02_matches_the_published_formula(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    """An AMap pin computed elsewhere with the standard formula lands on the same point here."""
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), VECTORS)
def test_gcj02_to_wgs84_inverts_the_published_vectors(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    """A GCJ-02 coordinate copied from AMap comes back to within centimetres of the GPS point."""
    assert metres(gcj02_to_wgs84(*gcj), wgs) < 0.05


def test_gcj02_offset_near_shanghai_is_a_few_hundred_metres() -> None:
    """Mixing GCJ-02 and WGS-84 near Shanghai puts a pin some 300-600 m off, as users see."""
    wgs = (31.2304, 121.4737)  # People's Square
    assert 300 < metres(wgs, wgs84_to_gcj02(*wgs)) < 600


def test_bd09_is_gcj02_shifted_by_about_six_thousandths_of_a_degree() -> None:
    """Baidu coordinates sit a further ~0.006 degrees north-east of AMap's."""
    gcj = (31.2304, 121.4737)
    bd = gcj02_to_bd09(*gcj)
    assert bd[0] - gcj[0] == pytest.approx(0.006, abs=3e-4)
    assert bd[1] - gcj[1] == pytest.approx(0.0065, abs=3e-4)


@given(china_points)
def test_wgs84_gcj02_round_trip_is_better_than_one_metre(point: tuple[float, float]) -> None:
    """Converting a GPS point to GCJ-02 and back loses less than a metre anywhere in China."""
    assert metres(gcj02_to_wgs84(*wgs84_to_gcj02(*point)), point) < 1.0


@given(china_points)
def test_gcj02_wgs84_round_trip_is_better_than_one_metre(point: tuple[float, float]) -> None:
    """Converting an AMap point to WGS-84 and back returns the same pin."""
    assert metres(wgs84_to_gcj02(*gcj02_to_wgs84(*point)), point) < 1.0


@given(china_points)
def test_gcj02_bd09_round_trip_is_better_than_one_metre(point: tuple[float, float]) -> None:
    """Baidu <-> AMap conversion is reversible to better than a metre."""
    assert metres(bd09_to_gcj02(*gcj02_to_bd09(*point)), point) < 1.0


@given(china_points)
def test_wgs84_bd09_round_trip_is_better_than_one_metre(point: tuple[float, float]) -> None:
    """A GPS point drawn on a Baidu map and read back is still the same home."""
    assert metres(bd09_to_wgs84(*wgs84_to_bd09(*point)), point) < 1.0


@given(china_points, st.sampled_from(["wgs84", "gcj02", "bd09"]))
def test_to_wgs84_inverts_from_wgs84(point: tuple[float, float], crs: str) -> None:
    """The dispatcher converts in both directions consistently for every named system."""
    assert metres(to_wgs84(*from_wgs84(*point, crs), crs), point) < 1.0


def test_to_wgs84_dispatches_by_name() -> None:
    """``crs`` names select the right conversion; wgs84 (and empty) is the identity."""
    gcj = VECTORS[0][1]
    assert to_wgs84(*gcj, "gcj02") == gcj02_to_wgs84(*gcj)
    assert to_wgs84(*gcj, "BD-09") == bd09_to_wgs84(*gcj)
    assert to_wgs84(*gcj, "wgs84") == gcj
    assert to_wgs84(*gcj, "") == gcj


def test_crs_aliases_and_unknown_names() -> None:
    """Users may name the map they copied from; a typo gets the list of allowed systems."""
    assert normalize_crs("AMap") == "gcj02"
    assert normalize_crs("高德") == "gcj02"
    assert normalize_crs("baidu") == "bd09"
    assert normalize_crs(" GPS ") == "wgs84"
    with pytest.raises(ValueError, match="wgs84, gcj02, bd09"):
        normalize_crs("gcj2")


def test_in_china_box() -> None:
    """The box holds Shanghai, Urumqi and Harbin but not swapped or zero coordinates."""
    assert in_china(31.23, 121.47)
    assert in_china(43.8, 87.6)
    assert in_china(45.8, 126.5)
    assert not in_china(121.47, 31.23)
    assert not in_china(0.0, 0.0)
    assert not in_china(51.5, -0.1)


def test_outside_china_is_left_unchanged() -> None:
    """GCJ-02 is not defined abroad: foreign points pass through untouched."""
    london = (51.5, -0.1)
    assert wgs84_to_gcj02(*london) == london
    assert gcj02_to_wgs84(*london) == london
    assert wgs84_to_bd09(*london) == london
    assert bd09_to_wgs84(*london) == london
