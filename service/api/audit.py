"""The audit log of reads of residents' records, written off the request path.

Every read is recorded (who, when, which resident ids, never names), but not in the request's
own transaction: requests put their rows on a queue and one writer thread inserts them in
batches, a transaction every ``interval_s``. At 50 concurrent readers a commit per read made
every request wait for SQLite's write lock (the load benchmark's profile: 60-70 % of request
time). The trade-off, accepted and documented: if the process is killed, the rows of the last
interval may be lost; a normal stop flushes them.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, insert

from service.db.tables import AuditRow
from service.users import Principal

__all__ = ["AuditWriter"]

log = logging.getLogger("homevisit.audit")


class AuditWriter:
    """Queues audit rows and writes them in batches from one thread."""

    def __init__(self, engine: Engine, interval_s: float = 0.2) -> None:
        self._engine = engine
        self._interval_s = interval_s
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one flush at a time (the thread, or flush() from a test)
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def record(
        self, user: Principal, action: str, resident_ids: Iterable[str], detail: str = ""
    ) -> None:
        """Queue one read: ``user`` did ``action`` on ``resident_ids`` (ids only)."""
        ids = sorted({r for r in resident_ids if r})
        self._queue.put(
            {
                "at": dt.datetime.now(dt.UTC),
                "username": user.username,
                "action": action,
                "resident_ids": ";".join(ids),
                "detail": detail,
            }
        )

    def flush(self) -> int:
        """Write what is queued now; returns the rows written."""
        with self._lock:
            rows = []
            while True:
                try:
                    rows.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if rows:
                with self._engine.begin() as connection:
                    connection.execute(insert(AuditRow), rows)
            return len(rows)

    def close(self) -> None:
        """Stop the thread after writing everything queued."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.flush()
            except Exception:  # keep the rows' thread alive; the rows wait for the next round
                log.exception("writing the audit log failed; will retry")
