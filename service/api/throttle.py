"""Sign-in throttling, shared by ``POST /auth/token`` and ``POST /login``.

After ``sign_in_failures_max`` wrong passwords for one user name, or
``sign_in_failures_per_address_max`` from one client address, within ``sign_in_window_s``
seconds of the first, every sign-in for that name or from that address is answered 429 with
``Retry-After`` until the window ends, the right password included (an attacker learns nothing
from a try). A successful sign-in clears its user name's count; the address keeps its own, so
one account that works cannot be used to reset the guessing of others.

The counts live in the database (``sign_in_failure``), one atomic upsert per failure, so the two
web processes of ``homevisit serve`` (and any number behind a load balancer on one database)
count the same failures. The client address is uvicorn's ``request.client``: behind a reverse
proxy on the same machine it is the forwarded address (uvicorn trusts ``X-Forwarded-For`` from
127.0.0.1); behind another proxy, set uvicorn's ``--forwarded-allow-ips``, or every client
shares the proxy's address and its count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.db.tables import SignInFailureRow
from service.users import Principal, authenticate

__all__ = ["SignInThrottle", "SignInThrottledError", "sign_in", "wait_in_words"]


class SignInThrottledError(Exception):
    """Too many failed sign-ins: ``retry_after_s`` until the next try."""

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"too many failed sign-ins; retry after {retry_after_s} s")


def wait_in_words(seconds: int) -> tuple[str, str]:
    """The wait in Chinese and in English, e.g. ("15 分钟", "15 minutes")."""
    if seconds < 120:
        return f"{seconds} 秒", f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} 分钟", f"{minutes} minutes"


@dataclass(frozen=True, slots=True)
class SignInThrottle:
    """The limits; the counts are rows of ``sign_in_failure``.

    ``clock`` is the wall clock (every process must agree on when a window ends); tests pass
    their own.
    """

    max_per_user: int
    max_per_address: int
    window_s: float
    clock: Callable[[], float] = time.time

    def _limits(self, username: str, address: str) -> dict[str, int]:
        # Keys are bounded (a user name is at most 64 characters; longer ones exist nowhere).
        return {
            f"user:{username[:100]}": self.max_per_user,
            f"ip:{address[:50]}": self.max_per_address,
        }

    def retry_after_s(
        self, session: Session, username: str, address: str, now: float
    ) -> int | None:
        """Seconds until this name and address may try again, or ``None`` if they may now."""
        limits = self._limits(username, address)
        rows = session.scalars(select(SignInFailureRow).where(SignInFailureRow.key.in_(limits)))
        waits = [
            math.ceil(row.window_start_s + self.window_s - now)
            for row in rows
            if row.failures >= limits[row.key] and now < row.window_start_s + self.window_s
        ]
        return max(waits) if waits else None

    def failed(self, session: Session, username: str, address: str, now: float) -> None:
        """Count a failure for the name and the address (a new window if theirs has ended)."""
        row = SignInFailureRow
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        fresh = row.window_start_s > now - self.window_s
        for key in self._limits(username, address):
            statement = dialect.insert(row).values(key=key, failures=1, window_start_s=now)
            # One statement, atomic in both databases: two processes never lose a count.
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=[row.key],
                    set_={
                        "failures": case((fresh, row.failures + 1), else_=1),
                        "window_start_s": case((fresh, row.window_start_s), else_=now),
                    },
                )
            )
        session.execute(
            delete(SignInFailureRow).where(SignInFailureRow.window_start_s < now - self.window_s)
        )
        session.commit()

    def succeeded(self, session: Session, username: str) -> None:
        """The right password (and not throttled): the name's count starts again."""
        session.execute(
            delete(SignInFailureRow).where(SignInFailureRow.key == f"user:{username[:100]}")
        )
        session.commit()


def sign_in(request: Request, session: Session, username: str, password: str) -> Principal | None:
    """:func:`service.users.authenticate` behind the throttle of ``request.app``.

    Raises :class:`SignInThrottledError` (before the password is even checked) while the name
    or the address has used up its tries.
    """
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    address = request.client.host if request.client is not None else "unknown"
    now = throttle.clock()
    wait = throttle.retry_after_s(session, username, address, now)
    if wait is not None:
        raise SignInThrottledError(wait)
    user = authenticate(session, username, password)
    if user is None:
        throttle.failed(session, username, address, now)
    else:
        throttle.succeeded(session, user.username)
    return user
