"""What-if scenarios as files: a base dataset, a question and named changes.

A scenario YAML file reads::

    name: flu-season
    question: What if a fifth of nurse-days are lost to flu?
    base: sample:centre          # the bundled Gumei sample, or a dataset folder
    week: 2026-11-30             # optional, the sample's reference week by default
    teams: [MH03-T6]             # optional, keep only these teams (small runs)
    changes:
      - staff_absence: {rate: 0.2, role: nurse, seed: 7}

Every change is pure: it maps a :class:`Setup` (dataset, planning options, travel parameters)
to a new one and never mutates its input. :func:`load_scenario` checks the whole file and raises
:class:`ScenarioError` naming the file and the key; :func:`run_scenario` plans the week.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from scenarios.sample import REFERENCE_WEEK
from scheduler.dataset import DatasetError, read_dataset
from scheduler.evaluate import Evaluation
from scheduler.model import (
    Clinician,
    Dataset,
    HistoryRecord,
    Plan,
    Problem,
    Resident,
    Role,
    TimeWindow,
    TravelMode,
)
from scheduler.params import SolveParams
from scheduler.programmes import apply_overrides, builtin_programmes
from scheduler.solve import PlanningOptions, build_problem, solve
from scheduler.travel import GreatCircleTravel, TravelParams

SAMPLE_CENTRE_DIR = Path(__file__).resolve().parent / "data" / "minhang-centre"
SCENARIO_DIR = Path(__file__).resolve().parent
_TOP_KEYS = {"name", "question", "base", "week", "teams", "changes"}


class ScenarioError(ValueError):
    """A scenario file that cannot be used: which file, which key, what is wrong."""

    def __init__(self, file: str, key: str, message: str) -> None:
        super().__init__(f"{file}: {key}: {message}")
        self.file, self.key, self.message = file, key, message

    def __reduce__(self) -> tuple[type[ScenarioError], tuple[str, str, str]]:
        # raised in a worker process, it comes back pickled: rebuild it from its three parts
        return ScenarioError, (self.file, self.key, self.message)


@dataclass(frozen=True, slots=True)
class Setup:
    """Everything a change may alter: the registers, the planning policy, the travel model."""

    dataset: Dataset
    options: PlanningOptions = field(default_factory=PlanningOptions)
    travel: TravelParams = field(default_factory=TravelParams)


# --- the changes ------------------------------------------------------------------------------


def _roles_match(clinician: Clinician, role: Role | None, teams: frozenset[str]) -> bool:
    return (role is None or clinician.role is role) and (not teams or clinician.team_id in teams)


def _teams_of(dataset: Dataset, teams: frozenset[str]) -> list[str]:
    known = sorted({c.team_id for c in dataset.clinicians.values()})
    return [t for t in known if not teams or t in teams]


@dataclass(frozen=True, slots=True)
class AddClinicians:
    """``count`` more clinicians of ``role`` in each team (all teams by default).

    Each copies the hours, skills and travel mode of the team's first clinician of that role.
    """

    role: Role
    count: int = 1
    teams: frozenset[str] = frozenset()

    def apply(self, setup: Setup) -> Setup:
        clinicians = dict(setup.dataset.clinicians)
        for team in _teams_of(setup.dataset, self.teams):
            models = sorted(
                (c for c in clinicians.values() if c.team_id == team and c.role is self.role),
                key=lambda c: c.clinician_id,
            )
            if not models:
                raise ValueError(f"team {team} has no {self.role.value} to copy hours from")
            model, number = models[0], 1
            for _ in range(self.count):
                while f"{model.clinician_id}+{number}" in clinicians:
                    number += 1
                new_id = f"{model.clinician_id}+{number}"
                clinicians[new_id] = dataclasses.replace(
                    model, clinician_id=new_id, name=f"{model.name}+{number}", phone=""
                )
        return dataclasses.replace(
            setup, dataset=dataclasses.replace(setup.dataset, clinicians=clinicians)
        )


@dataclass(frozen=True, slots=True)
class RemoveClinicians:
    """``count`` fewer clinicians of ``role`` in each team (the last by id go first)."""

    role: Role
    count: int = 1
    teams: frozenset[str] = frozenset()

    def apply(self, setup: Setup) -> Setup:
        clinicians = dict(setup.dataset.clinicians)
        for team in _teams_of(setup.dataset, self.teams):
            members = sorted(
                (c.clinician_id for c in clinicians.values() if c.team_id == team),
            )
            of_role = [i for i in members if clinicians[i].role is self.role]
            for clinician_id in of_role[::-1][: self.count]:
                del clinicians[clinician_id]
        residents = {
            k: r
            if r.preferred_clinician_id in clinicians or r.preferred_clinician_id is None
            # the preferred clinician has left: nobody is preferred any more
            else dataclasses.replace(r, preferred_clinician_id=None)
            for k, r in setup.dataset.residents.items()
        }
        dataset = dataclasses.replace(setup.dataset, clinicians=clinicians, residents=residents)
        return dataclasses.replace(setup, dataset=dataset)


@dataclass(frozen=True, slots=True)
class ChangeTravelMode:
    """Everyone travelling ``from_mode`` (of ``role``, if given) travels ``to_mode`` instead."""

    from_mode: TravelMode
    to_mode: TravelMode
    role: Role | None = None

    def apply(self, setup: Setup) -> Setup:
        clinicians = {
            k: dataclasses.replace(c, travel_mode=self.to_mode)
            if c.travel_mode is self.from_mode and _roles_match(c, self.role, frozenset())
            else c
            for k, c in setup.dataset.clinicians.items()
        }
        return dataclasses.replace(
            setup, dataset=dataclasses.replace(setup.dataset, clinicians=clinicians)
        )


@dataclass(frozen=True, slots=True)
class ShiftHours:
    """Move every matching shift by ``shift_min`` minutes and stretch its end by ``extend_min``."""

    shift_min: int = 0
    extend_min: int = 0
    role: Role | None = None
    teams: frozenset[str] = frozenset()

    def apply(self, setup: Setup) -> Setup:
        def moved(c: Clinician) -> Clinician:
            shift = TimeWindow(
                c.shift.start_min + self.shift_min,
                c.shift.end_min + self.shift_min + self.extend_min,
            )
            lunch = c.lunch and TimeWindow(
                c.lunch.start_min + self.shift_min, c.lunch.end_min + self.shift_min
            )
            return dataclasses.replace(c, shift=shift, lunch=lunch)

        clinicians = {
            k: moved(c) if _roles_match(c, self.role, self.teams) else c
            for k, c in setup.dataset.clinicians.items()
        }
        return dataclasses.replace(
            setup, dataset=dataclasses.replace(setup.dataset, clinicians=clinicians)
        )


@dataclass(frozen=True, slots=True)
class DemandGrowth:
    """``share`` more residents: a seeded draw of the matching ones, copied with new ids.

    Matching residents are those aged ``min_age``..``max_age`` on the reference day with (when
    ``programme`` is given) a history of that programme. A copy lives at the same address, keeps
    the team and the preferred clinician, and inherits the history, so it falls due alike.
    """

    share: float
    min_age: int = 0
    max_age: int = 200
    programmes: frozenset[str] = frozenset()
    seed: int = 0
    on: dt.date = REFERENCE_WEEK

    def apply(self, setup: Setup) -> Setup:
        data = setup.dataset
        in_programme = {h.resident_id for h in data.history if h.programme in self.programmes}
        pool = sorted(
            r.resident_id
            for r in data.residents.values()
            if self.min_age <= r.age_on(self.on) <= self.max_age
            and (not self.programmes or r.resident_id in in_programme)
        )
        n = round(self.share * len(pool))
        rng = np.random.default_rng(self.seed)
        chosen = sorted(rng.choice(pool, size=n, replace=False).tolist()) if n else []
        residents: dict[str, Resident] = dict(data.residents)
        new_ids: dict[str, str] = {}
        for rid in chosen:
            new_id = f"{rid}-G1"
            while new_id in residents:
                new_id += "1"
            new_ids[rid] = new_id
            residents[new_id] = dataclasses.replace(data.residents[rid], resident_id=new_id)
        history = data.history + tuple(
            HistoryRecord(new_ids[h.resident_id], h.programme, h.date)
            for h in data.history
            if h.resident_id in new_ids
        )
        dataset = dataclasses.replace(data, residents=residents, history=history)
        return dataclasses.replace(setup, dataset=dataset)


@dataclass(frozen=True, slots=True)
class ProgrammeOverrides:
    """Programme rule changes, with the keys of ``programmes.yaml``."""

    overrides: Mapping[str, Mapping[str, object]]

    def apply(self, setup: Setup) -> Setup:
        merged: dict[str, dict[str, object]] = {
            k: dict(v) for k, v in setup.dataset.programme_overrides.items()
        }
        for programme_id, changes in self.overrides.items():
            merged.setdefault(programme_id, {}).update(changes)
        apply_overrides(builtin_programmes(), merged)  # raises on a bad key
        return dataclasses.replace(
            setup, dataset=dataclasses.replace(setup.dataset, programme_overrides=merged)
        )


@dataclass(frozen=True, slots=True)
class StaffAbsence:
    """A seeded ``rate`` of the matching clinician-days lost: the days leave ``work_days``."""

    rate: float
    role: Role | None = None
    teams: frozenset[str] = frozenset()
    seed: int = 0

    def apply(self, setup: Setup) -> Setup:
        clinicians = dict(setup.dataset.clinicians)
        days = [
            (cid, day)
            for cid in sorted(clinicians)
            if _roles_match(clinicians[cid], self.role, self.teams)
            for day in sorted(clinicians[cid].work_days)
        ]
        n = round(self.rate * len(days))
        rng = np.random.default_rng(self.seed)
        lost = [days[i] for i in rng.choice(len(days), size=n, replace=False)] if n else []
        for cid, day in lost:
            clinicians[cid] = dataclasses.replace(
                clinicians[cid], work_days=clinicians[cid].work_days - {day}
            )
        return dataclasses.replace(
            setup, dataset=dataclasses.replace(setup.dataset, clinicians=clinicians)
        )


@dataclass(frozen=True, slots=True)
class Policy:
    """Planning policy: cross-team cover and overtime allowed (``None`` keeps the current)."""

    cross_team_cover: bool | None = None
    max_overtime_min: int | None = None

    def apply(self, setup: Setup) -> Setup:
        options = setup.options
        if self.cross_team_cover is not None:
            options = dataclasses.replace(options, cross_team_cover=self.cross_team_cover)
        if self.max_overtime_min is not None:
            options = dataclasses.replace(options, max_overtime_min=self.max_overtime_min)
        return dataclasses.replace(setup, options=options)


Change = (
    AddClinicians
    | RemoveClinicians
    | ChangeTravelMode
    | ShiftHours
    | DemandGrowth
    | ProgrammeOverrides
    | StaffAbsence
    | Policy
)


# --- the scenario -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scenario:
    """A what-if: a base dataset, the question it answers and the changes, applied in order."""

    name: str
    question: str
    base: str = "sample:centre"
    week: dt.date = REFERENCE_WEEK
    teams: frozenset[str] = frozenset()
    changes: tuple[Change, ...] = ()
    source: str = "<scenario>"

    def apply(self, dataset: Dataset) -> Setup:
        """The changed setup for ``dataset`` (pure: ``dataset`` is left as it was)."""
        setup = Setup(restrict_teams(dataset, self.teams) if self.teams else dataset)
        for number, change in enumerate(self.changes):
            try:
                setup = change.apply(setup)
            except ValueError as exc:
                raise ScenarioError(self.source, f"changes[{number}]", str(exc)) from exc
        return setup

    def base_dataset(self) -> Dataset:
        """The base dataset, read once per process; its problems, every one, as a
        :class:`ScenarioError` of the ``base`` key."""
        try:
            return _read_base(self.base)
        except DatasetError as exc:
            problems = "".join(f"\n- {problem}" for problem in exc.problems)
            raise ScenarioError(
                self.source, "base", f"{len(exc.problems)} problem(s) in {self.base}:{problems}"
            ) from None


@functools.lru_cache(maxsize=4)
def _read_base(base: str) -> Dataset:
    if base == "sample:centre":
        return read_dataset(SAMPLE_CENTRE_DIR)
    return read_dataset(Path(base))


def restrict_teams(dataset: Dataset, teams: frozenset[str] | Sequence[str]) -> Dataset:
    """Only the given teams: their clinicians, residents, history and requests."""
    keep = frozenset(teams)
    residents = {k: r for k, r in dataset.residents.items() if r.team_id in keep}
    return dataclasses.replace(
        dataset,
        clinicians={k: c for k, c in dataset.clinicians.items() if c.team_id in keep},
        residents=residents,
        committees={
            k: c
            for k, c in dataset.committees.items()
            if any(r.committee_id == k for r in residents.values())
        },
        history=tuple(h for h in dataset.history if h.resident_id in residents),
        requests=tuple(q for q in dataset.requests if q.resident_id in residents),
        sickbeds=tuple(e for e in dataset.sickbeds if e.resident_id in residents),
    )


# --- reading scenario files -------------------------------------------------------------------


class _Reader:
    """Typed access to one mapping of a scenario file, with errors naming file and key."""

    def __init__(self, file: str, key: str, value: object) -> None:
        if not isinstance(value, dict):
            raise ScenarioError(file, key, f"expected a mapping, got {value!r}")
        self.file, self.key, self.value = file, key, value

    def error(self, name: str, message: str) -> ScenarioError:
        return ScenarioError(self.file, f"{self.key}.{name}" if self.key else name, message)

    def check_keys(self, allowed: set[str]) -> None:
        for name in self.value:
            if name not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.error(str(name), f"unknown key (known: {known})")

    def get(self, name: str, convert: Callable[[Any], Any], default: Any = ...) -> Any:
        if name not in self.value:
            if default is ...:
                raise self.error(name, "is required")
            return default
        try:
            return convert(self.value[name])
        except (ValueError, TypeError) as exc:
            raise self.error(name, f"{exc}") from None


def _share(value: object) -> float:
    number = float(value)  # type: ignore[arg-type]
    if not 0.0 <= number <= 1.0 or math.isnan(number):
        raise ValueError(f"must be a share between 0 and 1, got {value!r}")
    return number


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"must be a whole number >= 0, got {value!r}")
    return value


def _enum(kind: type[Role] | type[TravelMode]) -> Callable[[object], Any]:
    def convert(value: object) -> Any:
        try:
            return kind(str(value))
        except ValueError:
            known = ", ".join(m.value for m in kind)
            raise ValueError(f"unknown {kind.__name__} {value!r} (known: {known})") from None

    return convert


def _names(value: object) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset({value})
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a name or a list of names, got {value!r}")
    return frozenset(value)


def _date(value: object) -> dt.date:
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    if day.weekday() != 0:
        raise ValueError(f"{day} is a {day:%A}; give a Monday")
    return day


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"expected a whole number, got {value!r}")
    return value


def _overrides(value: object) -> Mapping[str, Mapping[str, object]]:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ValueError("expected programme ids mapping to the keys of programmes.yaml")
    apply_overrides(builtin_programmes(), value)
    return value


def _parse_change(file: str, key: str, item: object) -> Change:
    if not isinstance(item, dict) or len(item) != 1:
        raise ScenarioError(file, key, "each change is a mapping with one key, its kind")
    ((kind, body),) = item.items()
    r = _Reader(file, f"{key}.{kind}", body if body is not None else {})
    role, teams = _enum(Role), _names
    if kind in ("add_clinicians", "remove_clinicians"):
        r.check_keys({"role", "count", "teams"})
        cls = AddClinicians if kind == "add_clinicians" else RemoveClinicians
        return cls(
            r.get("role", role), r.get("count", _count, 1), r.get("teams", teams, frozenset())
        )
    if kind == "travel_mode":
        r.check_keys({"from", "to", "role"})
        mode = _enum(TravelMode)
        return ChangeTravelMode(r.get("from", mode), r.get("to", mode), r.get("role", role, None))
    if kind == "shift_hours":
        r.check_keys({"shift_min", "extend_min", "role", "teams"})
        return ShiftHours(
            r.get("shift_min", _int, 0),
            r.get("extend_min", _int, 0),
            r.get("role", role, None),
            r.get("teams", teams, frozenset()),
        )
    if kind == "demand_growth":
        r.check_keys({"share", "min_age", "max_age", "programmes", "seed"})
        return DemandGrowth(
            r.get("share", _share),
            r.get("min_age", _count, 0),
            r.get("max_age", _count, 200),
            r.get("programmes", _names, frozenset()),
            r.get("seed", _count, 0),
        )
    if kind == "programmes":
        return ProgrammeOverrides(_Reader(file, key, {kind: body}).get(kind, _overrides))
    if kind == "staff_absence":
        r.check_keys({"rate", "role", "teams", "seed"})
        return StaffAbsence(
            r.get("rate", _share),
            r.get("role", role, None),
            r.get("teams", teams, frozenset()),
            r.get("seed", _count, 0),
        )
    if kind == "policy":
        r.check_keys({"cross_team_cover", "max_overtime_min"})
        return Policy(
            r.get("cross_team_cover", _bool, None), r.get("max_overtime_min", _count, None)
        )
    known = "add_clinicians, remove_clinicians, travel_mode, shift_hours, demand_growth, "
    known += "programmes, staff_absence, policy"
    raise ScenarioError(file, key, f"unknown change '{kind}' (known: {known})")


def parse_scenario(data: object, source: str = "<scenario>") -> Scenario:
    """A scenario from the parsed YAML of a scenario file; raises :class:`ScenarioError`."""
    r = _Reader(source, "", data)
    r.check_keys(_TOP_KEYS)
    question = r.get("question", str)
    if not question.strip():
        raise r.error("question", "must be a sentence")
    base = r.get("base", str, "sample:centre")
    if base != "sample:centre" and not Path(base).is_dir():
        raise r.error("base", f"'{base}' is neither sample:centre nor a dataset folder")
    changes = r.get("changes", lambda v: v if isinstance(v, list) else _fail("a list"), [])
    return Scenario(
        name=r.get("name", str, Path(source).stem),
        question=question.strip(),
        base=base,
        week=r.get("week", _date, REFERENCE_WEEK),
        teams=r.get("teams", _names, frozenset()),
        changes=tuple(_parse_change(source, f"changes[{i}]", c) for i, c in enumerate(changes)),
        source=source,
    )


def _fail(what: str) -> Any:
    raise ValueError(f"expected {what}")


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file; a relative ``base`` folder is taken from the file's folder.

    Raises
    ------
    ScenarioError
        Naming the file and the key, when anything in the file is wrong.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(str(path), "", f"cannot read: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("base"), str):
        base = data["base"]
        if base != "sample:centre" and not Path(base).is_absolute():
            data = {**data, "base": str((path.parent / base).resolve())}
    return parse_scenario(data, str(path))


def bundled_scenarios() -> list[Path]:
    """The scenario files shipped with homevisit, baseline first."""
    return sorted(SCENARIO_DIR.glob("*.yaml"), key=lambda p: (p.stem != "baseline", p.stem))


# --- running and comparing ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """One scenario's planned week."""

    scenario: Scenario
    problem: Problem
    plan: Plan
    evaluation: Evaluation

    def row(self) -> dict[str, object]:
        """The comparison figures of this scenario (one row of ``comparison.csv``)."""
        k = self.evaluation.kpis
        scheduled = int(k["visits_scheduled"])  # type: ignore[call-overload]
        travel = int(k["travel_min_total"])  # type: ignore[call-overload]
        clinicians = self.problem.clinicians
        return {
            "scenario": self.scenario.name,
            "question": self.scenario.question,
            "clinicians": len(clinicians),
            "clinician_days": sum(len(c.work_days) for c in clinicians),
            "visits_due": k["visits_due"],
            "scheduled": scheduled,
            "unscheduled": k["visits_unscheduled"],
            "travel_h": round(travel / 60, 1),
            "travel_min_per_visit": round(travel / scheduled, 1) if scheduled else None,
            "overtime_min": k["overtime_min_total"],
            "continuity": k["continuity_rate"],
            "utilisation": k["utilisation"],
            "feasible": self.evaluation.feasible,
            "solve_s": self.plan.solve_seconds,
        }


def run_scenario(
    scenario: Scenario,
    params: SolveParams | None = None,
    *,
    dataset: Dataset | None = None,
    workers: int = 1,
) -> ScenarioResult:
    """Plan the scenario's week with :func:`scheduler.solve.solve` and check it.

    ``dataset`` replaces the scenario's base (tests pass small ones).
    """
    setup = scenario.apply(dataset if dataset is not None else scenario.base_dataset())
    problem = build_problem(setup.dataset, scenario.week, options=setup.options)
    plan, evaluation = solve(
        problem, params, travel=GreatCircleTravel(setup.travel), workers=workers
    )
    return ScenarioResult(scenario, problem, plan, evaluation)
