"""``homevisit roads``: road networks for travel times (install, build, serve, calibrate)."""

from __future__ import annotations

import random
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from scheduler.model import Location, TravelMode
from scheduler.roads import OsrmTravel, RoadRouterError, calibrate
from service.roads import (
    SERVE_MAX_TABLE_SIZE,
    OsrmError,
    build_network,
    install_programs,
    parse_roads,
    running_router,
    travel_with_roads,
)

__all__ = ["register", "roads_option"]

console = Console()
err_console = Console(stderr=True)

roads_app = typer.Typer(
    help="Road travel times from OSRM (路网通行时间): install, build, serve, calibrate.",
    no_args_is_help=True,
)

roads_option = typer.Option(
    help="A road router per travel mode, MODE=URL (walk, ebike, car), e.g. "
    "walk=http://127.0.0.1:5001; repeatable. Default: HOMEVISIT_ROADS_WALK_URL, "
    "HOMEVISIT_ROADS_EBIKE_URL, HOMEVISIT_ROADS_CAR_URL; none: the great-circle model.",
)


@roads_app.command("install")
def install_command() -> None:
    """Install OSRM's programs and profiles (from PyPI's osrm-bindings wheel) into the venv."""
    try:
        where = install_programs()
    except OsrmError as exc:
        err_console.print(f"[bold red]{exc}[/]", highlight=False)
        raise typer.Exit(1) from None
    console.print(f"OSRM programs installed in {where}/bin")


@roads_app.command("build")
def build_command(
    extract: Annotated[Path, typer.Argument(help="OpenStreetMap extract of the city, .osm.pbf.")],
    profile: Annotated[
        str, typer.Option(help="foot (walking), bicycle (e-bikes, with --speed-kmh) or car.")
    ],
    out: Annotated[Path, typer.Option(help="Folder for the road network.")],
    speed_kmh: Annotated[
        float | None,
        typer.Option(help="Cruising speed for foot or bicycle, e.g. 20 for e-bikes."),
    ] = None,
    threads: Annotated[int, typer.Option(min=1, help="Threads for the three steps.")] = 2,
) -> None:
    """Build a road network for one profile: extract, partition, customize (OSRM's MLD)."""
    try:
        with console.status(f"Building the {profile} network of {extract.name} ..."):
            base = build_network(extract, profile, out, speed_kmh=speed_kmh, threads=threads)
    except OsrmError as exc:
        err_console.print(f"[bold red]{exc}[/]", highlight=False)
        raise typer.Exit(2) from None
    console.print(f"Road network written: {base} (serve it with `homevisit roads serve {out}`)")


@roads_app.command("serve")
def serve_command(
    network: Annotated[Path, typer.Argument(help="A folder written by `homevisit roads build`.")],
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5000,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    max_table_size: Annotated[
        int, typer.Option(min=1, help="Largest table side (HOMEVISIT_ROADS_MAX_TABLE_SIZE).")
    ] = SERVE_MAX_TABLE_SIZE,
    threads: Annotated[int, typer.Option(min=1, help="Server threads.")] = 2,
) -> None:
    """Serve a road network with osrm-routed until Ctrl-C or SIGTERM (then stop it cleanly)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with running_router(
            network, port=port, host=host, max_table_size=max_table_size, threads=threads
        ) as router:
            console.print(f"Road router for {network} answers on {router.url} (Ctrl-C stops it)")
            while not stop.wait(0.5):
                if router.process.poll() is not None:
                    err_console.print(
                        f"[bold red]osrm-routed stopped by itself (exit "
                        f"{router.process.returncode})[/]"
                    )
                    raise typer.Exit(1)
        console.print("Road router stopped.")
    except OsrmError as exc:
        err_console.print(f"[bold red]{exc}[/]", highlight=False)
        raise typer.Exit(2) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@roads_app.command("calibrate")
def calibrate_command(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder (or .xlsx).")],
    roads: Annotated[list[str] | None, roads_option] = None,
    places: Annotated[
        int, typer.Option(min=3, help="Homes sampled (all pairs between them are compared).")
    ] = 200,
    seed: Annotated[int, typer.Option(help="Random seed of the sample.")] = 1,
) -> None:
    """Compare the great-circle model with the road routers; print the best-fit detour and speed."""
    from service.cli_plan import load_dataset_or_exit, settings_or_exit

    settings = settings_or_exit()
    try:
        travel = travel_with_roads(settings, parse_roads(roads))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if not isinstance(travel, OsrmTravel):
        raise typer.BadParameter("give at least one --roads MODE=URL (or HOMEVISIT_ROADS_*_URL)")
    data = load_dataset_or_exit(dataset)
    homes = sorted({r.location for r in data.residents.values()}, key=lambda p: (p.lat, p.lon))
    sample: list[Location] = random.Random(seed).sample(homes, min(places, len(homes)))
    sample += [c.location for c in data.centres.values()]
    params = travel.fallback.params
    fits = []
    for mode in TravelMode:
        if mode not in travel.urls:
            continue
        try:
            fits.append(calibrate(travel, sample, mode))
        except (RoadRouterError, ValueError) as exc:
            err_console.print(f"[bold red]{mode.value}: {exc}[/]", highlight=False)
            raise typer.Exit(1) from None
    # One column per mode: the table stays narrow enough for a terminal.
    table = Table(title="Straight-line model against the road router 直线模型与路网对比")
    table.add_column("measure 指标")
    for fit in fits:
        table.add_column(fit.mode.value, justify="right")
    rows = [
        ("pairs compared 对数", [f"{f.pairs:,}" for f in fits]),
        ("road km / straight km, median", [f"{f.distance_ratio[0]:.2f}" for f in fits]),
        ("road km / straight km, p90", [f"{f.distance_ratio[1]:.2f}" for f in fits]),
        ("road min / model min, median", [f"{f.time_ratio[0]:.2f}" for f in fits]),
        ("road min / model min, p90", [f"{f.time_ratio[1]:.2f}" for f in fits]),
        ("best detour factor 绕行系数", [f"{f.detour_factor:.2f}" for f in fits]),
        ("best speed km/h 速度", [f"{f.speed_kmh:.1f}" for f in fits]),
        (
            "model now: detour, km/h 当前",
            [f"{params.detour_factor:.2f}, {params.speed_kmh[f.mode]:.1f}" for f in fits],
        ),
        ("cells without a road 无路网", [f"{f.fallback_cells:,}" for f in fits]),
    ]
    for name, values in rows:
        table.add_row(name, *values)
    console.print(table)
    # One detour factor serves every mode (the walking fit, the most like door-to-door); each
    # speed is then set so that the model's minutes per straight km are the fitted ones.
    detour = next(
        (f.detour_factor for f in fits if f.mode is TravelMode.WALK), fits[0].detour_factor
    )
    lines = [f"HOMEVISIT_TRAVEL_DETOUR_FACTOR={detour:.2f}"] + [
        f"HOMEVISIT_TRAVEL_{f.mode.value.upper()}_KMH={detour * f.speed_kmh / f.detour_factor:.1f}"
        for f in fits
    ]
    console.print(
        "Without a router, plan with the model fitted to these roads "
        "(无路网时可用以下拟合参数):\n" + "\n".join(lines),
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add the ``roads`` sub-command group to ``app``."""
    app.add_typer(roads_app, name="roads")
