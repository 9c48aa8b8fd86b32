"""What the plan checker hands back: violations, reasons and the verdict."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

__all__ = ["FINDINGS", "Evaluation", "Reason", "Violation"]

# Rule codes that say how good a plan is, not that it breaks a rule: it can be done as written.
FINDINGS = frozenset({"missed", "inversion", "late_with_room_earlier"})


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule of a plan.

    Attributes
    ----------
    rule
        A short stable code: ``accounting``, ``team``, ``skill``, ``workday``, ``joint``,
        ``sequence``, ``travel``, ``times``, ``window``, ``lunch``, ``shift``, ``totals``,
        ``sample``; or one of the :data:`FINDINGS` ``missed``, ``inversion``,
        ``late_with_room_earlier``.
    message
        An English sentence a team leader understands, naming the visit, clinician, day and times.
    visit_id, clinician_id, day
        What the violation is about, where it applies.
    """

    rule: str
    message: str
    visit_id: str | None = None
    clinician_id: str | None = None
    day: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a visit is unscheduled, in English and Chinese."""

    en: str
    zh: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The verdict on a plan: what is broken, the KPIs and why visits are left out.

    Attributes
    ----------
    violations
        Every broken rule, in a stable order: accounting, who does each visit, then route by
        route, lab samples and missed visits.
    kpis
        The plan's key figures, JSON-serialisable (see :func:`compute_kpis`).
    reasons
        For every visit not on a route (due, optional or not due this week), why (see
        :func:`~scheduler.evaluate.explain_unscheduled`).
    """

    violations: tuple[Violation, ...]
    kpis: dict[str, object]
    reasons: dict[str, Reason] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        """Whether the plan breaks no hard rule (a visit that still fits is a finding only)."""
        return not self.broken

    @property
    def broken(self) -> tuple[Violation, ...]:
        """Violations of the hard rules: times, windows, lunch, shift, who, joint, samples."""
        return tuple(v for v in self.violations if v.rule not in FINDINGS)

    @property
    def missed(self) -> tuple[Violation, ...]:
        """Unscheduled visits that would still fit on some clinician's day."""
        return tuple(v for v in self.violations if v.rule == "missed")
