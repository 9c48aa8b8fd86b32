"""Databases for the persistence tests: every test runs on SQLite and on PostgreSQL.

The PostgreSQL variant uses the server named by ``HOMEVISIT_TEST_POSTGRES_URL`` (CI sets it to the
local server). When that variable is set the variant always runs, and fails if the server cannot
be reached; when it is unset (a laptop without PostgreSQL) the variant is skipped, saying why.
Each PostgreSQL test gets a schema of its own (dropped afterwards), so tests can run again and
side by side.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from service.db.session import make_engine, upgrade
from service.settings import Settings, get_settings

POSTGRES_ENV = "HOMEVISIT_TEST_POSTGRES_URL"
SAMPLE = Path(__file__).resolve().parents[3] / "scenarios" / "data" / "minhang-centre"
BACKENDS = ("sqlite", "postgresql")


@dataclass
class Database:
    """A test database: its URL, an engine, and a way to fingerprint everything in it."""

    backend: str
    url: str
    engine: Engine
    path: Path | None = None  # the SQLite file

    def snapshot(self) -> object:
        """SQLite: the file's bytes (hash) and no journal left behind; PostgreSQL: every row."""
        if self.path is not None:
            leftovers = sorted(p.name for p in self.path.parent.glob(self.path.name + "-*"))
            digest = (
                hashlib.sha256(self.path.read_bytes()).hexdigest() if self.path.exists() else ""
            )
            return digest, leftovers
        return dump_rows(self.engine)


def dump_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (the Alembic version included), sorted."""
    dump: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for table in sorted(inspect(connection).get_table_names()):
            rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()
            dump[table] = sorted((tuple(r) for r in rows), key=repr)
    return dump


def _postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        pytest.skip(
            f"{POSTGRES_ENV} is not set: the PostgreSQL variant needs a server (CI sets it)"
        )
    return url


@contextmanager
def open_database(backend: str, workdir: Path, migrate: bool = True) -> Iterator[Database]:
    """A fresh, empty database of ``backend`` (with the schema when ``migrate``)."""
    if backend == "sqlite":
        path = workdir / "homevisit.sqlite3"
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        try:
            if migrate:
                upgrade(engine)
            yield Database(backend, url, engine, path)
        finally:
            engine.dispose()
        return
    base = _postgres_base_url()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    try:
        with admin.begin() as connection:  # fails (never skips) when the server is unreachable
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = (
            make_url(base)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
        engine = make_engine(url)
        try:
            if migrate:
                upgrade(engine)
            yield Database(backend, url, engine)
        finally:
            engine.dispose()
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh database with the current schema, on SQLite and on PostgreSQL."""
    with open_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture(params=BACKENDS)
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh database without any schema, on SQLite and on PostgreSQL."""
    with open_database(request.param, tmp_path, migrate=False) as database:
        yield database


@pytest.fixture
def use_database(monkeypatch: pytest.MonkeyPatch) -> Callable[[Database], None]:
    """Point the settings (``HOMEVISIT_DATABASE_URL``) at a test database."""

    def point(database: Database) -> None:
        monkeypatch.setenv("HOMEVISIT_DATABASE_URL", database.url)
        get_settings.cache_clear()

    yield point  # type: ignore[misc]
    get_settings.cache_clear()


# --- small datasets ---------------------------------------------------------------------------


def read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """The CSV files of a dataset folder as string frames, keyed by stem."""
    return {
        p.stem: pd.read_csv(p, dtype=str, keep_default_na=False)
        for p in sorted(folder.glob("*.csv"))
    }


def write_tables(tables: dict[str, pd.DataFrame], folder: Path) -> Path:
    """Write string frames as a dataset folder (UTF-8, no index)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, frame in tables.items():
        frame.to_csv(folder / f"{stem}.csv", index=False, encoding="utf-8", lineterminator="\n")
    return folder


def small_tables(residents: int = 60) -> dict[str, pd.DataFrame]:
    """The sample centre cut to its first ``residents`` residents (history and requests too)."""
    tables = read_tables(SAMPLE)
    kept = tables["residents"].head(residents)
    ids = set(kept["resident_id"])
    tables["residents"] = kept
    tables["history"] = tables["history"][tables["history"]["resident_id"].isin(ids)]
    tables["requests"] = tables["requests"][tables["requests"]["resident_id"].isin(ids)]
    tables["sickbeds"] = tables["sickbeds"][tables["sickbeds"]["resident_id"].isin(ids)]
    return tables


PAIR_COLUMNS = ["after_request_id", "min_gap_min", "max_gap_min"]
PAIR_WEEK = dt.date(2026, 11, 30)  # the Monday of the sample centre's requests


def paired_register(folder: Path) -> Path:
    """The small register with a pair: PAIR-2's exercises 30-120 min after PAIR-1's dressing
    starts, and lateness allowed to on-demand services (programmes.yaml)."""
    tables = small_tables()
    resident_id = tables["residents"]["resident_id"].iloc[0]
    requests = tables["requests"].assign(**dict.fromkeys(PAIR_COLUMNS, ""))
    day = ("2026-12-01", "2026-12-01", "09:00", "16:00")
    pair = pd.DataFrame(
        [
            ["PAIR-1", resident_id, "pressure_sore_care", *day, "40", "", "", "", ""],
            ["PAIR-2", resident_id, "rehab_exercises", *day, "45", "", "PAIR-1", "30", "120"],
        ],
        columns=requests.columns,
    )
    tables["requests"] = pd.concat([requests, pair], ignore_index=True)
    write_tables(tables, folder)
    (folder / "programmes.yaml").write_text(
        "special_service:\n  late_allowed_min: 30\n  late_cost_per_min: 2\n"
    )
    return folder


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid dataset of 60 residents of the sample centre (do not modify: copy it)."""
    return write_tables(small_tables(), tmp_path_factory.mktemp("small") / "small")


@pytest.fixture
def dataset_copy(small_dataset: Path, tmp_path: Path) -> Path:
    """A copy of the small dataset that the test may change."""
    return Path(shutil.copytree(small_dataset, tmp_path / "dataset"))


# --- fake geocoding services ------------------------------------------------------------------

KNOWN = {
    "上海市闵行区平阳路1124弄5号": ("31.1523", "121.3954"),
    "上海市闵行区古美路100号": ("31.1490", "121.3960"),
    "Paris": ("48.8566", "2.3522"),  # found, but not in China
}


class FakeNominatim(BaseHTTPRequestHandler):
    """Answers ``/search?q=...&format=json`` as Nominatim does (a JSON list of places)."""

    queries: list[str] = []  # noqa: RUF012 (shared by the server's handler instances)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query).get("q", [""])[0]
        FakeNominatim.queries.append(query)
        places = []
        if url.path == "/search" and query in KNOWN:
            lat, lon = KNOWN[query]
            places = [
                {
                    "place_id": 1,
                    "lat": lat,
                    "lon": lon,
                    "display_name": query,
                    "boundingbox": [lat, lat, lon, lon],
                    "class": "building",
                    "type": "yes",
                    "importance": 0.5,
                }
            ]
        body = json.dumps(places).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep addresses out of the test log
        return


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[tuple[str, int]]:
    """Run ``handler`` on a local port for the duration of the block: ``(host, port)``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield str(host), int(port)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def nominatim() -> Iterator[Settings]:
    """Settings pointing geopy's Nominatim client at a local fake server."""
    FakeNominatim.queries = []
    with serve(FakeNominatim) as (host, port):
        yield Settings(
            geocoder="nominatim",
            geocoder_domain=f"{host}:{port}",
            geocoder_scheme="http",
            geocoder_min_delay_s=0.1,
            geocoder_timeout_s=5,
        )


AMAP_KEY = "test-amap-key"
AMAP_KNOWN = {  # GCJ-02 "lon,lat", as AMap answers
    "上海市闵行区古美路100号": "121.400524,31.147044",
}


class FakeAMap(BaseHTTPRequestHandler):
    """Answers ``/v3/geocode/geo?key=...&address=...`` as AMap's web service does."""

    queries: list[str] = []  # noqa: RUF012 (shared by the server's handler instances)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        params = parse_qs(url.query)
        address = params.get("address", [""])[0]
        FakeAMap.queries.append(address)
        answer: dict[str, Any]
        if url.path != "/v3/geocode/geo" or params.get("key", [""])[0] != AMAP_KEY:
            answer = {"status": "0", "info": "INVALID_USER_KEY", "infocode": "10001"}
        elif address in AMAP_KNOWN:
            answer = {
                "status": "1",
                "info": "OK",
                "infocode": "10000",
                "count": "1",
                "geocodes": [
                    {
                        "formatted_address": address,
                        "province": "上海市",
                        "city": "上海市",
                        "district": "闵行区",
                        "location": AMAP_KNOWN[address],
                        "level": "门牌号",
                    }
                ],
            }
        else:
            answer = {
                "status": "1",
                "info": "OK",
                "infocode": "10000",
                "count": "0",
                "geocodes": [],
            }
        body = json.dumps(answer, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def amap() -> Iterator[Settings]:
    """Settings selecting the AMap geocoder, pointed at a local fake AMap server."""
    FakeAMap.queries = []
    with serve(FakeAMap) as (host, port):
        yield Settings(
            geocoder="amap",
            geocoder_api_key=AMAP_KEY,
            geocoder_base_url=f"http://{host}:{port}",
            geocoder_min_delay_s=0,
            geocoder_timeout_s=5,
        )


@pytest.fixture
def nominatim_queries(nominatim: Settings) -> list[str]:
    """The addresses the fake Nominatim received (fixtures see the server's own module)."""
    return FakeNominatim.queries


@pytest.fixture
def amap_queries(amap: Settings) -> list[str]:
    """The addresses the fake AMap received."""
    return FakeAMap.queries
