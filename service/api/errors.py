"""Errors in the one shape of every endpoint: 422 is `{"detail", "errors": [{field, reason}]}`."""

from __future__ import annotations

from fastapi import HTTPException, status

__all__ = ["invalid"]


def invalid(field: str, reason: str) -> HTTPException:
    """A 422 naming the field and the reason, like the request validation errors."""
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail={
            "detail": "the request is not valid",
            "errors": [{"field": field, "reason": reason}],
        },
    )
