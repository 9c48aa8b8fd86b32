"""The service's settings, read from the environment (``HOMEVISIT_*``) in one place.

Nothing is read at import time: call :func:`get_settings` (cached; tests clear the cache with
``get_settings.cache_clear()`` after changing the environment).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scheduler.dataset import ReadLimits
from scheduler.params import TIME_LIMIT_DEFAULT_S, TIME_LIMIT_MAX_S, TIME_LIMIT_MIN_S

__all__ = ["EMBEDDED_DATABASE_FILE", "Settings", "embedded_database_url", "get_settings"]

EMBEDDED_DATABASE_FILE = "homevisit.sqlite3"


def embedded_database_url(data_dir: Path | None) -> str:
    """The URL of the embedded SQLite database in ``data_dir`` (default: the user's data folder).

    The default folder is the operating system's per-user data folder (``~/.local/share/homevisit``
    on Linux, ``~/Library/Application Support/homevisit`` on macOS, ``%LOCALAPPDATA%\\homevisit``
    on Windows), so every command finds the same database whatever folder it runs in.
    """
    folder = data_dir if data_dir is not None else Path(user_data_dir("homevisit", appauthor=False))
    return f"sqlite:///{(folder.expanduser() / EMBEDDED_DATABASE_FILE).resolve()}"


class Settings(BaseSettings):
    """What the service needs to know about its surroundings.

    Every field can be set by an environment variable ``HOMEVISIT_<FIELD>`` (upper case), e.g.
    ``HOMEVISIT_DATABASE_URL=postgresql+psycopg://user@host/db``.
    """

    model_config = SettingsConfigDict(env_prefix="HOMEVISIT_", extra="ignore")

    data_dir: Path | None = Field(
        default=None,
        description="Folder of the embedded SQLite database (default: the per-user data folder, "
        "e.g. ~/.local/share/homevisit); not used when database_url is set.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the database, e.g. postgresql+psycopg://user@host/db; "
        "empty: the embedded SQLite file homevisit.sqlite3 in data_dir.",
    )
    import_max_file_mb: float = Field(
        default=32.0,
        gt=0,
        description="Largest dataset file import accepts (the district's largest is about 7 MB).",
    )
    import_max_total_mb: float = Field(
        default=48.0, gt=0, description="Largest dataset (all its files together) import accepts."
    )
    import_max_unpacked_mb: float = Field(
        default=100.0,
        gt=0,
        description="Largest size an .xlsx workbook may unpack to (the district's: 73 MB).",
    )
    import_max_columns: int = Field(
        default=500, gt=0, description="Most columns a register file or sheet may have."
    )
    import_max_rows: int = Field(
        default=1_000_000, gt=0, description="Most rows a register file or sheet may have."
    )
    import_max_cell_chars: int = Field(
        default=2_000, gt=0, description="Most characters one cell of a register may hold."
    )
    import_time_limit_s: float = Field(
        default=600.0,
        gt=0,
        description="Longest reading and checking of a dataset, a backstop behind the limits "
        "above (the district as CSV: about 9 s; as one workbook: 170 s on a busy machine).",
    )
    geocoder: Literal["nominatim", "amap", "baidu", "none"] = Field(
        default="nominatim",
        description="Geocoding service for residents without coordinates; 'none' = no network.",
    )
    geocoder_api_key: str = Field(default="", description="Key for AMap or Baidu.")
    geocoder_base_url: str = Field(
        default="",
        description="Base URL of the AMap service (empty: https://restapi.amap.com); for a proxy.",
    )
    geocoder_domain: str = Field(
        default="nominatim.openstreetmap.org",
        description="Host (and port) of the Nominatim service.",
    )
    geocoder_scheme: Literal["http", "https"] = "https"
    geocoder_user_agent: str = "homevisit-planner"
    geocoder_min_delay_s: float = Field(
        default=1.0, ge=0, description="Seconds between two look-ups (Nominatim asks for 1 s)."
    )
    geocoder_timeout_s: float = Field(default=10.0, gt=0)
    cluster: str = Field(
        default="",
        description="Dask scheduler for `plan --district`, e.g. tcp://host:8786; empty: local.",
    )
    region: str = Field(
        default="",
        description="Where a dataset's points may lie, lat_min,lat_max,lon_min,lon_max in WGS-84; "
        "empty: China. Points outside are refused as input errors.",
    )

    # --- the great-circle travel model (when no road router is set, and for cells it can't answer)
    travel_detour_factor: float = Field(
        default=1.3, ge=1.0, description="Road km per straight-line km (`roads calibrate` fits it)."
    )
    travel_walk_kmh: float = Field(default=4.5, gt=0, description="Walking speed, km/h.")
    travel_ebike_kmh: float = Field(default=15.0, gt=0, description="E-bike speed, km/h.")
    travel_car_kmh: float = Field(default=22.0, gt=0, description="Car speed, km/h.")

    # --- road travel times (OSRM; see `homevisit roads`) ---
    roads_walk_url: str = Field(
        default="", description="osrm-routed (foot profile) for walking, e.g. http://127.0.0.1:5001"
    )
    roads_ebike_url: str = Field(
        default="", description="osrm-routed (bicycle profile at e-bike speed) for e-bikes."
    )
    roads_car_url: str = Field(default="", description="osrm-routed (car profile) for cars.")
    roads_max_table_size: int = Field(
        default=1000,  # what `homevisit roads serve` starts osrm-routed with
        gt=0,
        description="The routers' --max-table-size: the block size of tables (100 for an "
        "osrm-routed started with OSRM's default).",
    )
    osrm_dir: str = Field(
        default="",
        description="Folder with OSRM's bin/ and share/profiles/; empty: <venv>/osrm "
        "(installed by `make setup`).",
    )

    # --- the web service (`homevisit serve`) ---
    secret_key: str = Field(
        default="",
        description="Key that signs access tokens; empty: one is made on first start and kept "
        "in the database (so tokens stay valid across restarts and server processes).",
    )
    sign_in_failures_max: int = Field(
        default=5, gt=0, description="Wrong passwords for one user name before sign-in waits."
    )
    sign_in_failures_per_address_max: int = Field(
        default=20, gt=0, description="Wrong passwords from one client address before it waits."
    )
    sign_in_window_s: float = Field(
        default=900.0,
        gt=0,
        description="The window those failures are counted in; the wait lasts to its end.",
    )
    token_minutes: int = Field(default=600, gt=0, le=7 * 24 * 60, description="Token lifetime.")
    request_max_kb: int = Field(
        default=1024,
        gt=0,
        description="Largest request body (JSON, forms); uploads to /imports may carry "
        "import_max_total_mb (+1 MB for the form's framing).",
    )
    shutdown_grace_s: int = Field(
        default=10, ge=0, description="Seconds running requests get to finish on SIGTERM."
    )
    page_size_max: int = Field(default=200, gt=0, description="Largest page of a list.")
    solve_time_limit_max_s: float = Field(
        default=600.0,
        ge=TIME_LIMIT_MIN_S,
        le=TIME_LIMIT_MAX_S,
        description="Longest time limit a plan job may ask for (within SolveParams' bounds).",
    )
    solve_time_limit_default_s: float = Field(
        default=TIME_LIMIT_DEFAULT_S, ge=TIME_LIMIT_MIN_S, le=TIME_LIMIT_MAX_S
    )
    jobs_per_user_max: int = Field(
        default=3, gt=0, description="Plan jobs one user may have queued or running at once."
    )
    jobs_running_max: int = Field(
        default=1, gt=0, description="Plan jobs solved at the same time (each uses solve_workers)."
    )
    solve_workers: int = Field(default=2, gt=0, description="Processes per plan job.")
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser."
    )
    map_tiles: Literal["none", "osm", "amap"] = Field(
        default="none", description="Tile layer under the maps; 'none' works with no network."
    )
    load_sample_on_first_start: bool = Field(
        default=True, description="Load the bundled sample centre when the database is empty."
    )

    @field_validator("region")
    @classmethod
    def _region_is_a_box(cls, value: str) -> str:
        from scheduler.coords import parse_region

        parse_region(value)  # four numbers in order, or empty (China)
        return value

    @model_validator(mode="after")
    def _embedded_database_by_default(self) -> Settings:
        if not self.database_url.strip():
            self.database_url = embedded_database_url(self.data_dir)
        return self

    @property
    def database_is_embedded(self) -> bool:
        """True when the database is the embedded SQLite file (no URL was given)."""
        return self.database_url == embedded_database_url(self.data_dir)

    def read_limits(self) -> ReadLimits:
        """The bounds every dataset read by the service or the CLI is held to."""
        return ReadLimits(
            max_file_bytes=int(self.import_max_file_mb * _MB),
            max_total_bytes=int(self.import_max_total_mb * _MB),
            max_unpacked_bytes=int(self.import_max_unpacked_mb * _MB),
            max_columns=self.import_max_columns,
            max_rows=self.import_max_rows,
            max_cell_chars=self.import_max_cell_chars,
            time_limit_s=self.import_time_limit_s,
        )


_MB = 1024 * 1024


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once from the environment."""
    return Settings()
