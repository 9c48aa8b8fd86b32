"""New instances of the Mankowska et al. (2014) HHCRSP family, larger than set G.

``python -m benchmarks mankowska-generate --patients 400 --seed 1 --out DIR`` writes
``DIR/HHCRSP_400_s1.txt`` in the text format of the 70 instance files (the one
:func:`benchmarks.mankowska.read_instance` reads, described in ``mankowska/README.md`` of the
benchmark data), to be run like the others: ``python -m benchmarks mankowska --files
DIR/HHCRSP_400_s1.txt``. Issue 17: instances of the same family that the project has not seen
are to go through the same adapter.

The held-out instances (not committed: each file is over 2 MB; these commands make them again,
byte for byte, on any machine and Python version, see "Randomness" below)::

    python -m benchmarks mankowska-generate --patients 400 --seed 1 --out benchmarks/data/heldout
    python -m benchmarks mankowska-generate --patients 500 --seed 2 --out benchmarks/data/heldout

(400 patients and 50 caregivers, 133 double services; 500 patients and 60 caregivers, 167;
their SHA-256 sums are in ``benchmarks/data/heldout/SHA256SUMS``.)

The family's rules, as read from all 70 files of ``instances/`` (``InstanzCPLEX_HCSRP_{10,25,
50,75}_k.txt``, sets A-D; ``InstanzVNS_HCSRP_{100,200,300}_k.txt``, sets E-G) and from the
data's README; what each file shows held in every one of them unless a share is given:

* Sizes: patients / caregivers A 10/3, B 25/5, C 50/10, D 75/15, E 100/20, F 200/30,
  G 300/40, i.e. one caregiver per 5 patients up to 100, then 10 more per 100 patients
  (:func:`caregivers_for`: 400/50, 500/60). 6 services.
* Coordinates: integers, x in 0..99, y in 0..49 (every file reaches both bounds); the depot
  (node 0, copied as node n+1) is drawn like a patient. The last patient (node n) is at (0, 0)
  in all 70 files, apparently a quirk of the original generator; kept. ``d`` is the Euclidean
  distance, written with 5 decimals as in the files of sets E-G.
* Service times: one value for the whole instance, 10..19 (one per k: 14, 11, 16, 17, 10, 19,
  12, 13, 17, 15 for k = 1..10), in every row of ``p`` of a patient, for every caregiver and
  every service, required or not; depot rows 0.
* Windows: ``e`` of a patient is an integer in 0..479 (about uniform; 0 and 479 occur),
  ``l = e + 120``; the depot's ``e`` is 0 and its ``l`` 600 at both ends (sets E-G; A-D have
  1000 at the end node).
* Double services: the last patients, nodes n - D + 1..n, D = 3, 8, 15, 23, 30, 60, 100 (30 %
  of the patients in sets A-F, a third in set G; :data:`DOUBLE_SHARE` takes G's). The first
  half of them (rounded down: 1 of 3, 7 of 15, 11 of 23, 50 of 100) are simultaneous (``mind``
  = ``maxd`` = 0) and need two of services 3, 4, 5; the rest are precedence, first one of
  services 0, 1, 2 then one of 3, 4, 5 (each pair about as frequent as the others), with
  ``mind`` in 0..60 and ``maxd = 2 * mind`` (13 of the 1,210 drew ``mind`` = 0, which makes
  them simultaneous too). ``mind``/``maxd`` of the other nodes, depots included, are drawn the
  same way and mean nothing. ``DS`` lists the double-service nodes ascending, 1-based (E-G).
* Single services: one of the 6, uniform (886, 872, 888, 823, 955, 786 patients over the 70).
* Qualifications: the caregivers form two groups, the first qualified for a non-empty subset of
  services 0, 1, 2 and the rest for a non-empty subset of 3, 4, 5 (no caregiver crosses). The
  first group is 1, 2, 3, 5, 7, 10, 18 caregivers in sets A-G (a third of them up to F, 45 % in
  G; :data:`FIRST_GROUP_SHARE` takes G's). In the first group each service is held with
  probability about 1/2 (all 7 subsets about equally frequent: 52..89 each over the 70); in
  the second about 5/6 ({3, 4, 5}: 443, a pair: 76..112, one service: 16..22). Every service a
  patient requires has a qualified caregiver in every file; here every service of the first
  group has one and every service of the second two (a simultaneous pair needs two people),
  drawn again until it holds.

Randomness: Python's :class:`random.Random` seeded with ``--seed``, and only its ``random()``
method, the one whose sequence Python promises to keep across versions; integers come from it
by :func:`_integer`, never from ``randrange`` or numpy.
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.mankowska import FloatArray, IntArray, MankowskaInstance

SERVICES = 6
FIRST_GROUP_SERVICES = (0, 1, 2)  # a precedence pair's first service; one group's skills
SECOND_GROUP_SERVICES = (3, 4, 5)  # simultaneous pairs, a precedence pair's second service
SIMULTANEOUS_PAIRS = ((3, 4), (3, 5), (4, 5))
X_MAX, Y_MAX = 99, 49
SERVICE_TIME_RANGE = (10, 19)
WINDOW_OPEN_MAX = 479
WINDOW_LENGTH = 120
DEPOT_CLOSE = 600
GAP_MIN_MAX = 60  # mind in 0..60, maxd = 2 * mind
DOUBLE_SHARE = 100 / 300  # set G; sets A-F have 30 %
FIRST_GROUP_SHARE = 18 / 40  # set G; sets A-F about a third
FIRST_GROUP_SKILL_CHANCE = 1 / 2
SECOND_GROUP_SKILL_CHANCE = 5 / 6


@dataclass(frozen=True)
class GeneratedInstance:
    """A new instance and the coordinates its file carries (the reader keeps only ``d``)."""

    instance: MankowskaInstance
    x: IntArray
    y: IntArray


def caregivers_for(patients: int) -> int:
    """Caregivers for ``patients`` as in sets A-G: one per 5 patients up to 100 (at least 3),
    then 10 more per 100 patients (200: 30, 300: 40, 400: 50, 500: 60)."""
    if patients <= 100:
        return max(3, round(patients / 5))
    return round(10 + patients / 10)


def _integer(rng: random.Random, low: int, high: int) -> int:
    """An integer in ``low..high``, uniform, from ``rng.random()`` only."""
    return low + int(rng.random() * (high - low + 1))


def _choice(rng: random.Random, options: Sequence[Any]) -> Any:
    return options[_integer(rng, 0, len(options) - 1)]


def _skills(rng: random.Random, services: Sequence[int], chance: float) -> list[int]:
    """A non-empty subset of ``services``, each held with probability ``chance``."""
    while True:
        held = [s for s in services if rng.random() < chance]
        if held:
            return held


def _qualifications(rng: random.Random, caregivers: int) -> IntArray:
    """The caregivers x services matrix: two groups, drawn until every service of the first
    group has a caregiver and every service of the second two."""
    first_group = min(max(1, round(FIRST_GROUP_SHARE * caregivers)), caregivers - 2)
    while True:
        qualified = np.zeros((caregivers, SERVICES), dtype=np.int64)
        for v in range(caregivers):
            if v < first_group:
                held = _skills(rng, FIRST_GROUP_SERVICES, FIRST_GROUP_SKILL_CHANCE)
            else:
                held = _skills(rng, SECOND_GROUP_SERVICES, SECOND_GROUP_SKILL_CHANCE)
            qualified[v, held] = 1
        counts = qualified.sum(axis=0)
        if all(counts[s] >= 1 for s in FIRST_GROUP_SERVICES) and all(
            counts[s] >= 2 for s in SECOND_GROUP_SERVICES
        ):
            return qualified


def default_name(patients: int, seed: int) -> str:
    return f"HHCRSP_{patients}_s{seed}"


def generate(
    patients: int, seed: int, caregivers: int | None = None, name: str | None = None
) -> GeneratedInstance:
    """A new instance of the family with ``patients`` patients (see the module's rules)."""
    caregivers = caregivers_for(patients) if caregivers is None else caregivers
    if patients < 2:
        raise ValueError(f"--patients {patients}: give at least 2 patients")
    if caregivers < 3:
        raise ValueError(f"--caregivers {caregivers}: give at least 3 (two groups, a pair)")
    rng = random.Random(seed)
    nodes = patients + 2
    end = nodes - 1
    doubles = min(patients, math.floor(DOUBLE_SHARE * patients + 0.5))
    simultaneous = doubles // 2
    first_double = patients - doubles + 1

    qualified = _qualifications(rng, caregivers)
    requires = np.zeros((nodes, SERVICES), dtype=np.int64)
    requires[0] = requires[end] = 1  # depot rows: all 1, meaning nothing (as in the files)
    for node in range(1, patients + 1):
        if node < first_double:
            services = [_integer(rng, 0, SERVICES - 1)]
        elif node < first_double + simultaneous:
            services = list(_choice(rng, SIMULTANEOUS_PAIRS))
        else:
            services = [_choice(rng, FIRST_GROUP_SERVICES), _choice(rng, SECOND_GROUP_SERVICES)]
        requires[node, services] = 1

    x = np.array([_integer(rng, 0, X_MAX) for _ in range(nodes)], dtype=np.int64)
    y = np.array([_integer(rng, 0, Y_MAX) for _ in range(nodes)], dtype=np.int64)
    x[patients], y[patients] = 0, 0  # the last patient, as in all 70 files
    x[end], y[end] = x[0], y[0]
    exact = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    # Held as the file says it (5 decimals), so that reading the file gives the same numbers.
    distance = np.array([float(f"{v:.5f}") for v in exact.ravel()]).reshape(nodes, nodes)

    service_time = float(_integer(rng, *SERVICE_TIME_RANGE))
    duration: FloatArray = np.full((nodes, caregivers, SERVICES), service_time)
    duration[0] = duration[end] = 0.0

    gap_min = np.array([float(_integer(rng, 0, GAP_MIN_MAX)) for _ in range(nodes)])
    gap_min[first_double : first_double + simultaneous] = 0.0
    gap_max = 2 * gap_min

    window_open = np.array([float(_integer(rng, 0, WINDOW_OPEN_MAX)) for _ in range(nodes)])
    window_open[0] = window_open[end] = 0.0
    window_close = window_open + WINDOW_LENGTH
    window_close[0] = window_close[end] = DEPOT_CLOSE

    instance = MankowskaInstance(
        name=name or default_name(patients, seed),
        requires=requires,
        double_service_nodes=tuple(range(first_double, patients + 1)),
        qualified=qualified,
        distance=distance,
        duration=duration,
        gap_min=gap_min,
        gap_max=gap_max,
        window_open=window_open,
        window_close=window_close,
    )
    return GeneratedInstance(instance, x, y)


def _row(values: Any, number: str = "{:.0f}") -> str:
    """One line of blank-separated numbers (whole ones by default), with the trailing blank
    the files have."""
    return "".join(number.format(v) + " " for v in values)


def instance_text(generated: GeneratedInstance) -> str:
    """The instance in the files' format (that of sets E-G: 5-decimal ``d``, ``p`` as 14.0)."""
    instance = generated.instance
    nodes = instance.requires.shape[0]
    lines = ["nbNodes", str(nodes), "nbVehi", str(instance.caregivers), "nbServi", str(SERVICES)]
    lines += ["r", *(_row(row) for row in instance.requires)]
    lines += ["DS", _row(node + 1 for node in instance.double_service_nodes)]  # 1-based
    lines += ["a", *(_row(row) for row in instance.qualified)]
    lines += ["x", _row(generated.x), "y", _row(generated.y)]
    lines += ["d", *(_row(row, "{:.5f}") for row in instance.distance)]
    lines += ["p", *(_row(row, "{:.1f}") for row in instance.duration.reshape(-1, SERVICES))]
    lines += ["mind", _row(instance.gap_min), "maxd", _row(instance.gap_max)]
    lines += ["e", _row(instance.window_open), "l", _row(instance.window_close)]
    return "\n".join(lines) + "\n"


def write_instance(generated: GeneratedInstance, directory: Path) -> Path:
    """Write ``<directory>/<name>.txt`` (the file's stem is the instance's name)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{generated.instance.name}.txt"
    path.write_text(instance_text(generated))
    return path


def add_parser(sub: Any) -> None:
    """Add the ``mankowska-generate`` sub-command to the parsers of ``python -m benchmarks``."""
    parser = sub.add_parser(
        "mankowska-generate", help="write a new instance of the Mankowska et al. (2014) family"
    )
    parser.add_argument("--patients", type=int, required=True, help="e.g. 400")
    parser.add_argument("--seed", type=int, required=True, help="the same seed, the same file")
    parser.add_argument(
        "--caregivers", type=int, default=None, help="default: as the sets grow (400: 50)"
    )
    parser.add_argument(
        "--name", default=None, help="file stem (default HHCRSP_<patients>_s<seed>)"
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write to")


def run(args: argparse.Namespace) -> None:
    """The ``mankowska-generate`` sub-command."""
    try:
        generated = generate(args.patients, args.seed, args.caregivers, args.name)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    path = write_instance(generated, args.out)
    instance = generated.instance
    print(
        f"{path}: {len(instance.patients)} patients, {instance.caregivers} caregivers, "
        f"{len(instance.double_service_nodes)} double services"
    )


__all__ = ["GeneratedInstance", "add_parser", "caregivers_for", "generate", "run", "write_instance"]
