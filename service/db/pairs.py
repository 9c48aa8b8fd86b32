"""The pairs of requests stored by earlier imports that a new upload would break.

The reader checks an upload's pairs among themselves (``after_request_id``: a request of the
same resident, in one pair at most, a day in common). The database also keeps the requests of
earlier uploads (a request is never deleted), and one of them may be done after a request that
the upload lists again, e.g. an id used anew a week later. Stored as it is, that pair would take
the upload's request along: out of every plan when the two share no day, or linked to another
resident's visit. So the upload is refused, on its request's row (file, row, the header as
written, the value), naming the stored request and the way on: list it in the file too (its row
then says whether it is still paired) or give the new request an id of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.dataset import InputProblem, ReadLimits
from scheduler.dataset.sources import read_tables
from scheduler.messages import Message
from scheduler.model import ServiceRequest
from service.db import mappers
from service.db.tables import ServiceRequestRow

__all__ = ["broken_pairs", "locate"]

_CHUNK = 500  # ids per IN (...) query

Broken = tuple[str, str, Message]
"""A request of the upload, the column whose cell breaks a stored pair, and what is wrong."""


def broken_pairs(session: Session, requests: Sequence[ServiceRequest]) -> list[Broken]:
    """Each stored pair whose second request the upload does not list and whose first it does,
    which the upload's request no longer fits."""
    listed = {q.request_id: q for q in requests}
    follower = {q.after_request_id: q for q in requests if q.after_request_id is not None}
    ids = sorted(listed)
    stored: list[ServiceRequest] = []
    for start in range(0, len(ids), _CHUNK):
        query = select(ServiceRequestRow.__table__).where(
            ServiceRequestRow.after_request_id.in_(ids[start : start + _CHUNK])
        )
        stored += [mappers.request_from_row(r) for r in session.execute(query).mappings()]
    broken: list[Broken] = []
    for second in sorted(stored, key=lambda q: q.request_id):
        if second.request_id in listed or second.after_request_id is None:
            continue  # the upload says what it is now
        first = listed[second.after_request_id]
        values = {"stored": second.request_id, "value": first.request_id}
        if first.resident_id != second.resident_id:
            values["resident"] = second.resident_id
            broken.append(
                (first.request_id, "resident_id", Message("register.stored_pair_resident", values))
            )
        elif first.after_request_id is not None or first.request_id in follower:
            # This request follows another, or another follows it, in the upload.
            on = first if first.after_request_id is not None else follower[first.request_id]
            broken.append(
                (on.request_id, "after_request_id", Message("register.stored_pair_taken", values))
            )
        elif first.latest_date < second.earliest_date or second.latest_date < first.earliest_date:
            values["days"] = f"{second.earliest_date}..{second.latest_date}"
            broken.append(
                (first.request_id, "earliest_date", Message("register.stored_pair_no_day", values))
            )
    return broken


def locate(
    broken: Sequence[Broken],
    path: Path,
    limits: ReadLimits,
    cancelled: Callable[[], bool] | None = None,
) -> list[InputProblem]:
    """The problems of ``broken`` at their rows of the upload at ``path``, as the reader
    locates its own."""
    tables = read_tables(path, ["requests"], limits, cancelled)
    table = tables.get("requests")
    rows = {} if table is None else {r.cells.get("request_id", ""): r for r in table.rows}
    problems = []
    for request_id, column, message in broken:
        row = rows.get(request_id)
        if table is None or row is None:  # read once already: cannot happen; the file alone
            problems.append(InputProblem.of("requests", None, None, request_id, message))
            continue
        header, value = table.header(column), row.cells.get(column, "")
        problems.append(InputProblem.of(table.file, row.number, header, value, message))
    return problems
