"""People who sign in to the service: creating them and checking their passwords.

Passwords are kept only as Argon2 hashes (pwdlib, the hasher FastAPI's documentation uses).
There are no default users or passwords: ``homevisit user add`` creates each one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pwdlib import PasswordHash
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.tables import ClinicianRow, UserRole, UserRow

__all__ = [
    "PASSWORD_MIN_LENGTH",
    "Principal",
    "UserError",
    "add_user",
    "authenticate",
    "principal_of",
]

PASSWORD_MIN_LENGTH = 10
_hasher = PasswordHash.recommended()
# Checking an unknown name costs the same as a wrong password, so timing does not reveal names.
_DUMMY_HASH = _hasher.hash("not a real password, only equalises timing")


class UserError(Exception):
    """A user cannot be created as asked; the message says what would be right."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking, with what the access rules need: role and own centre, team, clinician."""

    username: str
    role: UserRole
    centre_id: str | None = None
    team_id: str | None = None
    clinician_id: str | None = None


def principal_of(row: UserRow) -> Principal:
    """The access-relevant part of a stored user."""
    return Principal(row.username, UserRole(row.role), row.centre_id, row.team_id, row.clinician_id)


def add_user(
    session: Session,
    username: str,
    password: str,
    role: UserRole,
    *,
    team_id: str | None = None,
    clinician_id: str | None = None,
    centre_id: str | None = None,
) -> Principal:
    """Create a user; team leaders need ``team_id``, clinicians ``clinician_id``.

    The centre (and a clinician's team) come from the registers, so they cannot disagree.
    """
    username = username.strip()
    if not username or len(username) > 64 or any(ch.isspace() for ch in username):
        raise UserError("a user name is 1-64 characters without spaces")
    if len(password) < PASSWORD_MIN_LENGTH:
        raise UserError(f"the password needs at least {PASSWORD_MIN_LENGTH} characters")
    if session.scalar(select(UserRow.user_id).where(UserRow.username == username)) is not None:
        raise UserError(f"the user {username!r} exists already")
    if role is UserRole.CLINICIAN:
        if not clinician_id:
            raise UserError("a clinician user needs --clinician (her id in clinicians.csv)")
        clinician = session.get(ClinicianRow, clinician_id)
        if clinician is None:
            raise UserError(f"no clinician {clinician_id!r} in the database (import it first)")
        team_id, centre_id = clinician.team_id, clinician.centre_id
    elif role is UserRole.TEAM_LEADER:
        if not team_id:
            raise UserError("a team leader needs --team (the team id in clinicians.csv)")
        centre_id = session.scalar(
            select(ClinicianRow.centre_id).where(ClinicianRow.team_id == team_id).limit(1)
        )
        if centre_id is None:
            raise UserError(f"no clinician of team {team_id!r} in the database (import it first)")
        clinician_id = None
    else:
        team_id = clinician_id = None
        centre_id = None  # admins and planners see the whole district
    row = UserRow(
        username=username,
        password_hash=_hasher.hash(password),
        role=role.value,
        centre_id=centre_id,
        team_id=team_id,
        clinician_id=clinician_id,
        active=True,
        created_at=dt.datetime.now(dt.UTC),
    )
    session.add(row)
    session.flush()
    return principal_of(row)


def authenticate(session: Session, username: str, password: str) -> Principal | None:
    """The user if the password is right and the account active, else ``None``."""
    row = session.scalar(select(UserRow).where(UserRow.username == username))
    if row is None:
        _hasher.verify(password, _DUMMY_HASH)
        return None
    if not _hasher.verify(password, row.password_hash) or not row.active:
        return None
    return principal_of(row)
