"""Geocoding through the real geopy Nominatim client, against a local server that answers alike."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from service.db.geocode import geocode_missing, make_lookup
from service.db.importer import import_dataset
from service.db.tables import GeocodeRow, ResidentRow
from service.settings import Settings
from tests.service.db.conftest import Database


def _without_coordinates(db: Database, addresses: dict[str, str]) -> None:
    with Session(db.engine) as session, session.begin():
        for resident_id, address in addresses.items():
            session.execute(
                update(ResidentRow)
                .where(ResidentRow.resident_id == resident_id)
                .values(lat=None, lon=None, address=address)
            )


def test_addresses_are_geocoded_once_and_failures_listed(
    db: Database, small_dataset: Path, nominatim: Settings, nominatim_queries: list[str]
) -> None:
    """Known addresses get coordinates; unknown or foreign ones are listed; the cache is used."""
    import_dataset(db.engine, small_dataset)
    _without_coordinates(
        db,
        {
            "MH03-R00001": "上海市闵行区平阳路1124弄5号",
            "MH03-R00002": "上海市闵行区平阳路１１２４弄５号",  # full-width digits: same address
            "MH03-R00003": "上海市闵行区古美路100号",
            "MH03-R00004": "火星路1号",
            "MH03-R00005": "Paris",
            "MH03-R00006": "",
        },
    )
    provider, lookup = make_lookup(nominatim)
    started = time.monotonic()
    with Session(db.engine) as session, session.begin():
        report = geocode_missing(session, provider, lookup)
    elapsed = time.monotonic() - started
    assert report.placed == 3
    assert report.looked_up == 4 and report.from_cache == 1
    assert elapsed >= 0.3  # four look-ups at least 0.1 s apart (RateLimiter)
    failed = {f.resident_id: f.reason for f in report.failures}
    assert set(failed) == {"MH03-R00004", "MH03-R00005", "MH03-R00006"}
    assert "does not know this address" in failed["MH03-R00004"]
    assert "no address" in failed["MH03-R00006"]
    with Session(db.engine) as session:
        placed = session.get(ResidentRow, "MH03-R00002")
        assert placed is not None and (placed.lat, placed.lon) == (31.1523, 121.3954)
        assert session.query(GeocodeRow).count() == 4

    nominatim_queries.clear()
    _without_coordinates(db, {"MH03-R00007": "上海市闵行区古美路100号"})
    with Session(db.engine) as session, session.begin():
        again = geocode_missing(session, provider, lookup)
    assert nominatim_queries == []  # every address came from the cache
    assert again.placed == 1 and again.looked_up == 0
