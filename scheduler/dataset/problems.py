"""What is wrong with an input: :class:`InputProblem` (file, row, column, value, message) and
:class:`DatasetError`, which carries every problem found, not only the first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from scheduler.messages import Message
from scheduler.messages_zh import translate

__all__ = ["DatasetError", "InputProblem"]


@dataclass(frozen=True, slots=True)
class InputProblem:
    """One thing wrong with the input, located as precisely as possible.

    ``row`` is the row number a spreadsheet shows (the header is row 1, the first data row is
    row 2); ``row``, ``column`` and ``value`` are ``None`` when the problem is about the whole
    file or column. ``column`` is the header as the user wrote it (``下班时间`` in a register with
    Chinese headers, ``shift_end`` in one with English headers). ``message`` is English,
    ``message_zh`` its Chinese and ``code`` the stable code of the kind of problem
    (:data:`scheduler.messages.CATALOGUE`): made with :meth:`of`, the Chinese is the code's.
    A message made as plain English text (a caller outside the readers) gets its Chinese from
    :mod:`scheduler.messages_zh` and no code; ``""`` when that has none either.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    message: str
    message_zh: str = ""
    code: str = ""

    def __post_init__(self) -> None:
        if not self.message_zh:
            object.__setattr__(self, "message_zh", translate(self.message))

    @classmethod
    def of(
        cls,
        file: str,
        row: int | None,
        column: str | None,
        value: str | None,
        message: Message | str,
    ) -> InputProblem:
        """The problem with ``message``'s code, English and Chinese (a plain text: as above)."""
        if isinstance(message, str):
            return cls(file, row, column, value, message)
        return cls(file, row, column, value, message.en, message.zh, message.code)

    @property
    def text_en(self) -> str:
        """The problem in English: file, row, column, value, then what is wrong."""
        parts = [self.file]
        if self.row is not None:  # a YAML file has lines, a register rows
            parts.append(f"{'line' if self.file.endswith('.yaml') else 'row'} {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        if self.value is not None:
            parts.append(f"value '{self.value}'")
        english = self.message.removeprefix(f"{self.message_zh} / ")  # of a "中文 / English" one
        return ", ".join(parts) + ": " + english

    @property
    def text_zh(self) -> str:
        """The problem in Chinese (the English message where no Chinese is known)."""
        # A workbook's problems name the sheet as "档案.xlsx, sheet 医护人员": said in Chinese here.
        workbook, _, sheet = self.file.partition(", sheet ")
        parts = [f"{workbook} 工作表“{sheet}”" if sheet else self.file]
        if self.row is not None:
            parts.append(f"第 {self.row} 行")
        if self.column is not None:
            parts.append(f"“{self.column}”列")
        if self.value is not None:
            parts.append(f"值“{self.value}”")
        return "，".join(parts) + "：" + (self.message_zh or self.message)

    def __str__(self) -> str:
        """Chinese first, English beside (one line)."""
        if not self.message_zh:
            return self.text_en
        return f"{self.text_zh} / {self.text_en}"


class DatasetError(Exception):
    """The input cannot be used; ``problems`` lists everything found, not only the first."""

    problems: tuple[InputProblem, ...]

    def __init__(self, problems: Iterable[InputProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = [f"{count} problem{'s' if count != 1 else ''} in the input:"]
        lines += [f"- {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


def _file_problem(file: str, message: Message | str) -> InputProblem:
    """A problem of a whole file (no row, column or value)."""
    return InputProblem.of(file, None, None, None, message)
