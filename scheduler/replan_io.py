"""Writing a re-plan: the plan files (:func:`scheduler.dataset.plan_files.write_plan`) plus
``changes.csv``."""

from __future__ import annotations

import csv
from pathlib import Path

from scheduler.cells import neutralise_cell
from scheduler.dataset.plan_files import write_plan
from scheduler.model import Dataset
from scheduler.replan import Replan

__all__ = ["CHANGES_COLUMNS", "write_replan"]

# FORMAT.md's columns first, then: whether the event left the visit no place, why it changed
# (English / Chinese) and, for the team leader who tells the resident, the phone number.
CHANGES_COLUMNS = ("visit_id", "change", "from", "to", "resident_id")
_CHANGES_EXTRAS = ("had_to_move", "why", "phone")


def write_replan(out_dir: Path, result: Replan, dataset: Dataset) -> None:
    """Write ``plan.csv``, ``routes.csv``, ``unscheduled.csv``, ``kpis.json`` and ``changes.csv``.

    ``kpis.json`` gets a ``replan`` object with :meth:`Replan.summary`.
    """
    out_dir = Path(out_dir)
    reasons = {k: (r.en, r.zh) for k, r in result.evaluation.reasons.items()}
    for left in result.plan.unscheduled:
        english, _, chinese = left.reason.partition(" / ")
        if left.visit_id not in reasons or chinese:
            reasons[left.visit_id] = (english, chinese)
    kpis = dict(result.evaluation.kpis)
    kpis["replan"] = result.summary()
    write_plan(out_dir, result.problem, result.plan, kpis, reasons)
    with (out_dir / "changes.csv").open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow((*CHANGES_COLUMNS, *_CHANGES_EXTRAS))
        for change in result.changes:
            resident = dataset.residents.get(change.resident_id)
            writer.writerow(
                neutralise_cell(str(value))
                for value in (
                    change.visit_id,
                    change.kind.value,
                    change.before,
                    change.after,
                    change.resident_id,
                    "true" if change.had_to_move else "false",
                    change.why,
                    resident.phone if resident is not None else "",
                )
            )
