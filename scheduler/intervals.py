"""Start ranges as inclusive integer intervals ``(first, last)`` of minutes.

The routing model and the same-day re-plan both find where a visit can start between the blocks
already on a route: a range ``(a, b)`` holds every start from ``a`` to ``b``, both included.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["intersect", "subtract"]


def subtract(intervals: Iterable[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    """Remove the open range ``(lo, hi)`` from inclusive integer intervals.

    The ends ``lo`` and ``hi`` stay: a visit may end exactly when lunch starts (a start at
    ``lunch.start - duration``) and begin exactly when it ends.
    """
    result = []
    for a, b in intervals:
        if b <= lo or a >= hi:
            result.append((a, b))
            continue
        if a <= lo:
            result.append((a, lo))
        if b >= hi:
            result.append((hi, b))
    return result


def intersect(
    xs: Iterable[tuple[int, int]], ys: Iterable[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The starts in both ``xs`` and ``ys`` (inclusive ranges; a single minute counts), sorted."""
    ys = list(ys)
    result = []
    for a, b in xs:
        for c, d in ys:
            lo, hi = max(a, c), min(b, d)
            if lo <= hi:
                result.append((lo, hi))
    return sorted(result)
