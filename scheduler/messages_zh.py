"""The Chinese of a message given as plain text, for callers that make one without a code.

Every message of the readers, the programme rules and the geocoder is made from a code of
:data:`scheduler.messages.CATALOGUE`, which holds its Chinese; nothing here matches English
wording any more. What is left is a message written in both languages where it is made
(``中文 / English``): :func:`translate` answers its Chinese part, and ``""`` for any other text,
which is then shown in English only.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["translate"]

# A message written in both languages where it is made: "中文 / English".
_BOTH: Final = re.compile(r"(?P<zh>[^/]*[\u4e00-\u9fff][^/]*?) / (?P<en>[A-Za-z].*)", re.DOTALL)


def translate(message: str) -> str:
    """The Chinese part of a ``中文 / English`` message; ``""`` for anything else."""
    both = _BOTH.fullmatch(message)
    return both["zh"] if both is not None else ""
