"""The OSRM programs on this machine: installing them, building a road network, serving it.

OSRM's own PyPI package, ``osrm-bindings``, ships ``osrm-extract``, ``osrm-partition``,
``osrm-customize`` and ``osrm-routed`` with the car, bicycle and foot profiles, but only as a
``cp312-abi3`` wheel (Python 3.12 or later). The project stays on Python 3.11 and uses the wheel
for its programs alone: they are stand-alone executables that need only glibc and libstdc++, and
the planner talks to ``osrm-routed`` over HTTP, the way OSRM is deployed (one server per
profile). :func:`install_programs` downloads the wheel with pip (never its source: no build)
and unpacks the programs and profiles into ``<venv>/osrm/`` (``make setup`` does it).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from scheduler.model import TravelMode
from scheduler.roads import LegDrawer, OsrmTravel
from scheduler.travel import GreatCircleTravel, TravelParams
from service.settings import Settings, get_settings

__all__ = [
    "OSRM_PACKAGE",
    "PROGRAMS",
    "SERVE_MAX_TABLE_SIZE",
    "OsrmError",
    "Router",
    "build_network",
    "install_programs",
    "leg_geometries",
    "osrm_home",
    "parse_roads",
    "program",
    "running_router",
    "travel_with_roads",
]

OSRM_PACKAGE: Final = "osrm-bindings==26.10.0"
PROGRAMS: Final = ("osrm-extract", "osrm-partition", "osrm-customize", "osrm-routed")
NETWORK_NAME: Final = "network"  # DIR/network.osrm.* : what `roads build` writes
INFO_FILE: Final = "homevisit-roads.json"
PROFILES: Final = ("foot", "bicycle", "car")
SERVE_MAX_TABLE_SIZE: Final = 1000
"""``roads serve``'s ``--max-table-size``: a centre's week (about 600 places) in one request. A
500 x 500 table costs the server 2-2.5 times the CPU in 100 x 100 blocks (OSRM's default
limit) than in one request (benchmarks/results/roads.md)."""
INSTALL_HINT: Final = (
    "install them with `make setup` (or `.venv/bin/homevisit roads install`), "
    "or point HOMEVISIT_OSRM_DIR at a folder with bin/ and share/profiles/"
)


class OsrmError(RuntimeError):
    """An OSRM program is missing or failed (the message says what to do)."""


def osrm_home() -> Path:
    """Where the OSRM programs live: ``HOMEVISIT_OSRM_DIR`` or ``<this Python's prefix>/osrm``."""
    configured = get_settings().osrm_dir
    return Path(configured) if configured else Path(sys.prefix) / "osrm"


def program(name: str) -> Path:
    """The path of OSRM program ``name`` (in :func:`osrm_home`, else on ``PATH``).

    Raises
    ------
    OsrmError
        If it is not installed.
    """
    candidate = osrm_home() / "bin" / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise OsrmError(f"{name} is not installed: {INSTALL_HINT}")


def _wheel_platform() -> str:
    machine = platform.machine().lower()
    if sys.platform != "linux" or machine not in ("x86_64", "amd64", "aarch64", "arm64"):
        raise OsrmError(
            f"osrm-bindings has wheels for Linux only ({sys.platform} {machine} here): install "
            "osrm-backend another way and set HOMEVISIT_OSRM_DIR"
        )
    return "manylinux_2_28_" + ("x86_64" if machine in ("x86_64", "amd64") else "aarch64")


def install_programs(target: Path | None = None) -> Path:
    """Download OSRM's wheel for Python 3.12 and unpack its programs and profiles into ``target``.

    Only the binary wheel is ever taken (``--only-binary=:all:``): pip never builds OSRM.
    Returns the folder (``target`` or :func:`osrm_home`).
    """
    target = target or osrm_home()
    with tempfile.TemporaryDirectory() as download:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.12",
            "--platform",
            _wheel_platform(),
            OSRM_PACKAGE,
            "-d",
            download,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = list(Path(download).glob("osrm_bindings-*.whl"))
        if done.returncode != 0 or not wheels:
            raise OsrmError(f"pip could not download {OSRM_PACKAGE}: {done.stderr.strip()[-500:]}")
        staging = target.with_name(target.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        with zipfile.ZipFile(wheels[0]) as wheel:
            for member in wheel.infolist():
                name = member.filename
                if not (name.startswith("osrm/bin/") or name.startswith("osrm/share/profiles/")):
                    continue
                relative = Path(name).relative_to("osrm")
                destination = staging / relative
                if member.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(wheel.read(member))
                mode = (member.external_attr >> 16) & 0o777
                destination.chmod(mode or 0o644)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    for name in PROGRAMS:
        if not (target / "bin" / name).is_file():
            raise OsrmError(f"{OSRM_PACKAGE} has no {name}: the wheel's layout changed")
    return target


# --- building a network --------------------------------------------------------------------


def _patch_speed(profile_file: Path, profile: str, speed_kmh: float) -> None:
    """Set the profile's cruising speed (an e-bike is a bicycle at the e-bike's speed)."""
    text = profile_file.read_text(encoding="utf-8")
    variable = {"bicycle": "default_speed", "foot": "walking_speed"}[profile]
    pattern = rf"(local\s+{variable}\s*=\s*)[0-9.]+"
    if not re.search(pattern, text):
        raise OsrmError(
            f"{profile_file.name} has no `local {variable} = ...` line to set the speed"
        )
    text = re.sub(pattern, rf"\g<1>{speed_kmh:g}", text, count=1)
    if profile == "bicycle":  # the profile caps speeds at a recreational cyclist's
        text = re.sub(
            r"(vehicle_max_speed\s*=\s*)[0-9.]+",
            rf"\g<1>{max(speed_kmh, 21.0):g}",
            text,
            count=1,
        )
    profile_file.write_text(text, encoding="utf-8")


def _run(step: list[str], log: Path) -> None:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(step)}\n")
        out.flush()
        done = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
        raise OsrmError(
            f"{Path(step[0]).name} failed (exit {done.returncode}); the end of {log}:\n"
            + "\n".join(tail)
        )


def build_network(
    extract: Path,
    profile: str,
    out: Path,
    *,
    speed_kmh: float | None = None,
    threads: int = 2,
) -> Path:
    """Extract, partition and customize (OSRM's MLD pipeline) ``extract`` for ``profile``.

    Writes ``out/network.osrm.*``, the profile used (``out/profiles/``), a log of the three
    steps (``out/build.log``) and ``out/homevisit-roads.json``. Returns ``out/network.osrm``.

    Raises
    ------
    OsrmError
        If a program is missing or fails, or the arguments are wrong.
    """
    if profile not in PROFILES:
        raise OsrmError(f"profile '{profile}': choose one of {', '.join(PROFILES)}")
    if not extract.is_file():
        raise OsrmError(f"{extract} does not exist (an OpenStreetMap extract, .osm.pbf)")
    if speed_kmh is not None and profile == "car":
        raise OsrmError("--speed-kmh is for foot and bicycle; the car profile has a speed per road")
    if speed_kmh is not None and not 1.0 <= speed_kmh <= 60.0:
        raise OsrmError(f"--speed-kmh {speed_kmh:g}: give a speed between 1 and 60 km/h")
    extract_program, partition, customize = (program(p) for p in PROGRAMS[:3])
    profiles = osrm_home() / "share" / "profiles"
    if not (profiles / f"{profile}.lua").is_file():
        raise OsrmError(f"the OSRM profiles are not in {profiles}: {INSTALL_HINT}")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob(f"{NETWORK_NAME}.osrm*"):
        old.unlink()
    shutil.rmtree(out / "profiles", ignore_errors=True)
    shutil.copytree(profiles, out / "profiles")  # the profile's lib/ comes along
    profile_file = out / "profiles" / f"{profile}.lua"
    if speed_kmh is not None:
        _patch_speed(profile_file, profile, speed_kmh)
    log = out / "build.log"
    log.write_text("", encoding="utf-8")
    # osrm-extract writes its files beside its input: a link in OUT puts them there.
    link = out / f"{NETWORK_NAME}.osm.pbf"
    link.unlink(missing_ok=True)
    link.symlink_to(extract.resolve())
    base = out / f"{NETWORK_NAME}.osrm"
    try:
        _run([str(extract_program), "-p", str(profile_file), "-t", str(threads), str(link)], log)
    finally:
        link.unlink(missing_ok=True)
    _run([str(partition), "-t", str(threads), str(base)], log)
    _run([str(customize), "-t", str(threads), str(base)], log)
    info = {
        "profile": profile,
        "speed_kmh": speed_kmh,
        "extract": extract.name,
        "extract_bytes": extract.stat().st_size,
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out / INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
    return base


# --- serving it ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Router:
    """A running ``osrm-routed``: its URL and process."""

    url: str
    process: subprocess.Popen[bytes]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/nearest/v1/any/0,0", timeout=1.0):
            return True
    except urllib.error.HTTPError:
        return True  # an OSRM error is an answer: the server is up
    except (urllib.error.URLError, OSError):
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (for a router started right after)."""
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_router(
    network: Path,
    *,
    port: int = 5000,
    host: str = "127.0.0.1",
    max_table_size: int = SERVE_MAX_TABLE_SIZE,
    threads: int = 2,
    start_timeout_s: float = 60.0,
    log: Path | None = None,
) -> Iterator[Router]:
    """``osrm-routed`` serving ``network`` (a ``roads build`` folder), stopped on leaving.

    Waits until the server answers; the server is stopped with SIGTERM (then killed after 10 s).

    Raises
    ------
    OsrmError
        If the folder holds no network, or the server exits or stays silent on start.
    """
    base = network / f"{NETWORK_NAME}.osrm" if network.is_dir() else network
    if not base.with_name(base.name + ".mldgr").is_file():
        raise OsrmError(
            f"{network} holds no customised road network: build one with "
            "`homevisit roads build EXTRACT.osm.pbf --profile foot --out DIR`"
        )
    routed = program("osrm-routed")
    command = [
        str(routed),
        "--algorithm",
        "mld",
        "--ip",
        host,
        "--port",
        str(port),
        "--threads",
        str(threads),
        "--max-table-size",
        str(max_table_size),
        str(base),
    ]
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while not _answers(url):
            if process.poll() is not None:
                raise OsrmError(
                    f"osrm-routed exited with code {process.returncode} on start (port {port} "
                    "taken? the network built by another OSRM version?)"
                )
            if time.monotonic() > deadline:
                raise OsrmError(f"osrm-routed did not answer on {url} within {start_timeout_s:g} s")
            time.sleep(0.1)
        yield Router(url, process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if log is not None and not isinstance(out, int):
            out.close()


# --- the provider a plan uses --------------------------------------------------------------

_MODE_NAMES: Final[dict[str, TravelMode]] = {
    "walk": TravelMode.WALK,
    "ebike": TravelMode.EBIKE,
    "car": TravelMode.CAR,
}


def parse_roads(values: list[str] | None) -> dict[TravelMode, str]:
    """``["walk=http://...", ...]`` (the ``--roads`` options) as a URL per travel mode.

    Raises
    ------
    ValueError
        Naming the value that is not ``MODE=URL`` with a known mode and an http(s) URL.
    """
    urls: dict[TravelMode, str] = {}
    for value in values or []:
        mode_name, _, url = value.partition("=")
        mode = _MODE_NAMES.get(mode_name.strip().lower())
        if mode is None or not url.strip().startswith(("http://", "https://")):
            raise ValueError(
                f"--roads '{value}': give MODE=URL with MODE walk, ebike or car and an http URL, "
                "e.g. --roads walk=http://127.0.0.1:5001"
            )
        urls[mode] = url.strip()
    return urls


def travel_with_roads(
    settings: Settings, overrides: Mapping[TravelMode, str] | None = None
) -> GreatCircleTravel | OsrmTravel:
    """The travel model of a plan: the road routers of ``settings`` (``HOMEVISIT_ROADS_*_URL``)
    with ``overrides`` (``--roads``) on top; the great-circle model of the settings
    (``HOMEVISIT_TRAVEL_*``) when there are none, and for the cells a router cannot answer."""
    urls = {
        TravelMode.WALK: settings.roads_walk_url,
        TravelMode.EBIKE: settings.roads_ebike_url,
        TravelMode.CAR: settings.roads_car_url,
    }
    urls.update(overrides or {})
    urls = {mode: url for mode, url in urls.items() if url}
    straight = GreatCircleTravel(
        dataclasses.replace(
            TravelParams(),
            detour_factor=settings.travel_detour_factor,
            speed_kmh={
                TravelMode.WALK: settings.travel_walk_kmh,
                TravelMode.EBIKE: settings.travel_ebike_kmh,
                TravelMode.CAR: settings.travel_car_kmh,
            },
        )
    )
    if not urls:
        return straight
    return OsrmTravel(urls, straight, max_table_size=settings.roads_max_table_size)


def leg_geometries(settings: Settings) -> dict[TravelMode, LegDrawer]:
    """The map pages' legs along the roads of each mode with a router in ``settings``."""
    travel = travel_with_roads(settings)
    return travel.leg_geometries() if isinstance(travel, OsrmTravel) else {}
