"""The AMap geocoder (a geopy ``Geocoder``) against a local server that answers as AMap does."""

from __future__ import annotations

from pathlib import Path

import pytest
from geopy.exc import GeocoderAuthenticationFailure
from sqlalchemy.orm import Session

from scheduler import coords
from service.db.amap import AMap
from service.db.geocode import make_lookup
from service.db.importer import import_dataset
from service.db.tables import ResidentRow
from service.settings import Settings
from tests.service.db.conftest import AMAP_KNOWN, Database, read_tables, write_tables

GUMEI = "上海市闵行区古美路100号"


def test_amap_answers_are_converted_from_gcj02(amap: Settings, amap_queries: list[str]) -> None:
    """A found address comes back in WGS-84; an unknown one is ``None``; both are sent once."""
    geocoder = AMap(amap.geocoder_api_key, api_base=amap.geocoder_base_url, timeout=5)
    found = geocoder.geocode(GUMEI)
    lon, lat = (float(v) for v in AMAP_KNOWN[GUMEI].split(","))
    assert (found.latitude, found.longitude) == pytest.approx(coords.gcj02_to_wgs84(lat, lon))
    assert abs(found.latitude - lat) > 1e-3  # really converted (GCJ-02 is ~500 m off)
    assert found.address == GUMEI
    assert geocoder.geocode("火星路1号") is None
    assert amap_queries == [GUMEI, "火星路1号"]


def test_amap_refused_key_is_a_geopy_error(amap: Settings) -> None:
    """AMap's status 0 / INVALID_USER_KEY becomes geopy's GeocoderAuthenticationFailure."""
    geocoder = AMap("wrong-key", api_base=amap.geocoder_base_url, timeout=5)
    with pytest.raises(GeocoderAuthenticationFailure, match="INVALID_USER_KEY"):
        geocoder.geocode(GUMEI)
    with pytest.raises(ValueError, match="needs HOMEVISIT_GEOCODER_API_KEY"):
        make_lookup(amap.model_copy(update={"geocoder_api_key": ""}))


def test_import_geocodes_through_amap(amap: Settings, db: Database, dataset_copy: Path) -> None:
    """With geocoder=amap, the import places an address and reports a refused key per row."""
    tables = read_tables(dataset_copy)
    tables["residents"].loc[0, ["lat", "lon", "address"]] = ["", "", GUMEI]
    write_tables({"residents": tables["residents"]}, dataset_copy)
    provider, _ = make_lookup(amap)
    assert provider == "amap"
    summary = import_dataset(db.engine, dataset_copy, amap)
    assert summary.geocoded == 1
    with Session(db.engine) as session:
        row = session.get(ResidentRow, "MH03-R00001")
        assert row is not None
        lon, lat = (float(v) for v in AMAP_KNOWN[GUMEI].split(","))
        assert (row.lat, row.lon) == pytest.approx(coords.gcj02_to_wgs84(lat, lon))

    tables["residents"].loc[1, ["lat", "lon", "address"]] = ["", "", "上海市闵行区古美路200号"]
    write_tables({"residents": tables["residents"]}, dataset_copy)
    bad_key = amap.model_copy(update={"geocoder_api_key": "wrong-key"})
    from scheduler.dataset import DatasetError

    with pytest.raises(DatasetError) as failure:
        import_dataset(db.engine, dataset_copy, bad_key)
    assert [p.text_en for p in failure.value.problems] == [
        "residents.csv, row 3, column address, value '上海市闵行区古美路200号': could not be "
        "geocoded (the geocoder failed (GeocoderAuthenticationFailure); try again later): "
        "give lat/lon or retry"
    ]
