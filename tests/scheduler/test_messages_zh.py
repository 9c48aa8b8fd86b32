"""Messages about a register in the user's words: the header as written, Chinese and English."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from scheduler.dataset import COLUMN_ALIASES_ZH, TABLE_ALIASES_ZH, InputProblem
from scheduler.messages import CATALOGUE
from tests.scheduler.test_io import (
    BAD_INPUT,
    Edit,
    Tables,
    only_problem,
    problems_of,
    valid_tables,
    write_tables,
)

ZH_HEADER = {column: zh for zh, column in reversed(COLUMN_ALIASES_ZH.items())}  # first alias
ZH_SHEET = {stem: zh for zh, stem in reversed(TABLE_ALIASES_ZH.items())}


def chinese_workbook(path: Path, tables: Tables, drop: str | None = None) -> Path:
    """``tables`` as a workbook with Chinese sheet names and Chinese headers (less ``drop``)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for stem, rows in tables.items():
        sheet = book.create_sheet(ZH_SHEET[stem])
        columns = [c for c in rows[0] if c != drop]
        sheet.append([ZH_HEADER.get(c, c) for c in columns])
        for row in rows:
            sheet.append([row[c] for c in columns])
    book.save(path)
    return path


@pytest.mark.parametrize("edit", [pytest.param(edit, id=case) for case, edit, _, _ in BAD_INPUT])
def test_every_kind_of_bad_cell_is_explained_in_chinese(tmp_path: Path, edit: Edit) -> None:
    """Each kind of mistake the reader finds has a Chinese message, shown before the English."""
    tables = valid_tables()
    edit(tables)
    problem = only_problem(write_tables(tmp_path, tables))
    assert problem.message_zh, f"no Chinese for: {problem.message}"
    assert str(problem) == f"{problem.text_zh} / {problem.text_en}"
    # The Chinese is the code's, not found by matching the English wording.
    assert problem.code in CATALOGUE, f"no code for: {problem.message}"


def test_a_chinese_workbook_names_the_header_the_user_wrote(tmp_path: Path) -> None:
    """下班时间 25:00 in the sheet 医护人员 is reported as 下班时间 (not shift_end), zh and en."""
    tables = valid_tables()
    tables["clinicians"][1]["shift_end"] = "25:00"
    problem = only_problem(chinese_workbook(tmp_path / "档案.xlsx", tables))
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "档案.xlsx, sheet 医护人员",
        3,
        "下班时间",
        "25:00",
    )
    assert str(problem) == (
        "档案.xlsx 工作表“医护人员”，第 3 行，“下班时间”列，值“25:00”："
        "时间“25:00”不在 00:00 到 24:00 之间 / "
        "档案.xlsx, sheet 医护人员, row 3, column 下班时间, value '25:00': "
        "time '25:00' is not between 00:00 and 24:00"
    )


def test_messages_that_name_another_column_use_its_written_header(tmp_path: Path) -> None:
    """A lunch break given by half names the other half as the sheet's header says it."""
    tables = valid_tables()
    tables["clinicians"][0]["lunch_start"] = ""
    problem = only_problem(chinese_workbook(tmp_path / "档案.xlsx", tables))
    assert problem.column == "午休开始"
    assert problem.message.startswith("is empty but 午休结束 is ")
    assert problem.message_zh.startswith("为空，但午休结束是 ")


def test_a_missing_column_is_named_in_the_sheets_language(tmp_path: Path) -> None:
    """A Chinese sheet without 下班时间 is told the Chinese header to add (and the English)."""
    problems = problems_of(chinese_workbook(tmp_path / "档案.xlsx", valid_tables(), "shift_end"))
    missing = [p for p in problems if p.row is None]
    assert len(missing) == 1
    assert missing[0].column == "下班时间 (shift_end)"
    assert "needed: 医护编号, 名称, 团队编号" in missing[0].message
    assert missing[0].message_zh.startswith("缺少这一列（需要的列：医护编号, 名称, 团队编号")


def test_an_english_register_keeps_english_headers(tmp_path: Path) -> None:
    """With English headers the column is the English header, as before."""
    tables = valid_tables()
    tables["clinicians"][1]["shift_end"] = "25:00"
    problem = only_problem(write_tables(tmp_path, tables))
    assert problem.column == "shift_end"
    assert "“shift_end”列" in problem.text_zh


def test_a_message_outside_the_catalogue_stays_readable_in_english() -> None:
    """No Chinese is made up: an unknown message is shown in English alone."""
    problem = InputProblem("residents.csv", 2, "name", "x", "something new went wrong")
    assert problem.message_zh == ""
    assert str(problem) == "residents.csv, row 2, column name, value 'x': something new went wrong"


def test_two_headers_for_one_column_are_both_named(tmp_path: Path) -> None:
    """名称 and 姓名 in one sheet: the problem names both headers as written, in both languages."""
    (tmp_path / "centres.csv").write_text(
        "中心编号,名称,纬度,经度,姓名\nC1,古美,31.15,121.40,古美\n", encoding="utf-8"
    )
    problem = next(p for p in problems_of(tmp_path) if p.row == 1)
    assert (problem.column, problem.value) == ("名称", "姓名")
    assert problem.message == (
        "two columns mean 'name' (columns B '名称' and E '姓名'): delete or rename one"
    )
    assert (
        problem.message_zh == "有两列都表示“name”（B 列“名称”和 E 列“姓名”）：请删除或改名其中一列"
    )


def test_an_unknown_chinese_role_lists_the_chinese_roles_in_chinese(tmp_path: Path) -> None:
    """角色 医师 (not a word the reader knows) is answered with the roles it does know."""
    tables = valid_tables()
    tables["clinicians"][0]["role"] = "医师"
    problem = only_problem(chinese_workbook(tmp_path / "档案.xlsx", tables))
    assert (problem.column, problem.value) == ("角色", "医师")
    assert problem.message_zh == (
        "不认识的角色“医师”：请用其中之一："
        "doctor, nurse, assistant, rehab（或 医生, 护士, 助理, 康复）"
    )


def test_a_message_made_in_both_languages_is_shown_once_in_each() -> None:
    """'中文 / English' messages (the read limits) give a Chinese line and an English line."""
    problem = InputProblem(
        "residents.csv",
        1,
        None,
        None,
        "有 600 列，超过上限 500 列 / has 600 columns, more than 500",
    )
    assert problem.message_zh == "有 600 列，超过上限 500 列"
    assert problem.text_zh == "residents.csv，第 1 行：有 600 列，超过上限 500 列"
    assert problem.text_en == "residents.csv, row 1: has 600 columns, more than 500"
