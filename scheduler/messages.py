"""Messages to users as a stable code and its values; the English and the Chinese made from them.

A check that finds something wrong says *what kind* of thing with a code
(``programmes.window_time``, ``register.time_of_day``) and the values to show (the programme,
the key and the value as the user wrote them); the words live here, once per code, in both
languages. The Chinese is chosen by the code, never by matching the English wording, so
rewording the English cannot lose the Chinese, and ``tests/scheduler/test_messages.py`` fails
on any code without both.

Values are shown as the user wrote them, the same in both languages; a word that differs between
the languages (the name of a kind of value) is passed twice, ``what`` and ``what_zh``. A parser
raises :class:`MessageError` (a ``ValueError``), and the readers put its code and both languages
on the :class:`scheduler.dataset.InputProblem`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = ["CATALOGUE", "Joined", "Message", "MessageError", "Wording", "message_of"]


@dataclass(frozen=True, slots=True)
class Wording:
    """One code's words: ``str.format`` templates over the message's values."""

    en: str
    zh: str


CATALOGUE: Final[dict[str, Wording]] = {
    # --- registers, whole files (scheduler.dataset) ---
    "register.does_not_exist": Wording("does not exist", "不存在"),
    "register.not_a_dataset": Wording(
        "is neither a folder nor an .xlsx workbook", "既不是文件夹，也不是 .xlsx 工作簿"
    ),
    "register.not_xlsx": Wording(
        "cannot be read as .xlsx: {error}", "无法作为 .xlsx 工作簿读取：{error}"
    ),
    "register.unreadable": Wording("cannot be read: {error}", "无法读取：{error}"),
    "register.no_header": Wording("is empty: it needs a header row", "是空的：第一行应是表头"),
    "register.separator": Wording(
        "the columns are separated by {separator}: save it as 'CSV UTF-8' (comma-separated)",
        "各列用{separator_zh}分隔：请另存为“CSV UTF-8（逗号分隔）”",
    ),
    "register.two_headers": Wording(
        "two columns mean '{name}' (columns {first} '{first_header}' and {second} "
        "'{second_header}'): delete or rename one",
        "有两列都表示“{name}”（{first} 列“{first_header}”和 {second} 列“{second_header}”）："
        "请删除或改名其中一列",
    ),
    "register.utf16": Wording(
        "not UTF-8 text (it is UTF-16, Excel's 'Unicode Text'): save it as 'CSV UTF-8'",
        "不是 UTF-8 文本（是 UTF-16，即 Excel 的“Unicode 文本”）：请另存为“CSV UTF-8”",
    ),
    "register.gbk": Wording(
        "not UTF-8 text (it looks like GBK/GB18030, as Excel saves on Chinese Windows): "
        "save it as 'CSV UTF-8'",
        "不是 UTF-8 文本（看起来是 GBK/GB18030，中文 Windows 上 Excel 默认的编码）："
        "请另存为“CSV UTF-8”",
    ),
    "register.not_utf8": Wording(
        "not UTF-8 text: save it as 'CSV UTF-8'", "不是 UTF-8 文本：请另存为“CSV UTF-8”"
    ),
    "register.row_width": Wording(
        "has {cells} cells but the header has {columns}: look for a stray comma or an "
        "unclosed quote",
        "这一行有 {cells} 个单元格，但表头只有 {columns} 列：请查找多余的逗号或没有配对的引号",
    ),
    "register.bad_csv": Wording("is not a valid CSV file: {error}", "不是有效的 CSV 文件：{error}"),
    "register.no_sheet": Wording(
        "has no sheet '{sheet}' (its sheets: {sheets})",
        "没有工作表“{sheet}”（现有工作表：{sheets}）",
    ),
    "register.required_file": Wording(
        "is missing: a dataset needs centres.csv, clinicians.csv and residents.csv",
        "缺失：数据集需要 centres.csv（中心）、clinicians.csv（医护人员）和 residents.csv（居民）",
    ),
    "register.missing_column": Wording(
        "column is missing (needed: {needed})", "缺少这一列（需要的列：{needed}）"
    ),
    "register.no_rows": Wording("has no data rows", "没有数据行"),
    "register.yaml": Wording("is not valid YAML: {reason}", "不是有效的 YAML：{reason}"),
    "register.programmes_mapping": Wording(
        "must map programme ids to their settings, e.g.{example}",
        "应把服务项目编号对应到各自的设置，例如{example}",
    ),
    "register.programme_mapping": Wording(
        "programme '{programme}' must be a mapping of settings, e.g.{example}",
        "服务项目“{programme}”的设置应是键值对，例如{example}",
    ),
    "register.too_slow": Wording(
        "reading took more than {seconds} s and was stopped: split the register by centre "
        "(limit: HOMEVISIT_IMPORT_TIME_LIMIT_S)",
        "读取超过 {seconds} 秒，已停止：请按中心拆分档案"
        "（上限为设置 HOMEVISIT_IMPORT_TIME_LIMIT_S）",
    ),
    "register.cancelled": Wording("the reading was cancelled", "读取已取消"),
    "register.too_many_columns": Wording(
        "has {count} columns, more than the {limit} a register may have: check that it is "
        "the right file (limit: HOMEVISIT_IMPORT_MAX_COLUMNS)",
        "有 {count} 列，超过上限 {limit} 列：请确认文件无误"
        "（上限为设置 HOMEVISIT_IMPORT_MAX_COLUMNS）",
    ),
    "register.too_many_rows": Wording(
        "has more than the {limit} rows a register may have: split it by centre "
        "(limit: HOMEVISIT_IMPORT_MAX_ROWS)",
        "超过 {limit} 行的上限：请按中心拆分档案（上限为设置 HOMEVISIT_IMPORT_MAX_ROWS）",
    ),
    "register.file_too_big": Wording(
        "is {size}, more than the {limit} MB an import accepts (a district register is about "
        "7 MB): check that it is the right file, or split the register by centre "
        "(limit: HOMEVISIT_IMPORT_MAX_FILE_MB)",
        "有 {size}，超过导入上限 {limit} MB（一个区的档案约 7 MB）：请确认文件无误，"
        "或按中心拆分档案（上限为设置 HOMEVISIT_IMPORT_MAX_FILE_MB）",
    ),
    "register.files_too_big": Wording(
        "the files are {size} together, more than the {limit} MB an import accepts "
        "(limit: HOMEVISIT_IMPORT_MAX_TOTAL_MB)",
        "文件合计 {size}，超过导入上限 {limit} MB（上限为设置 HOMEVISIT_IMPORT_MAX_TOTAL_MB）",
    ),
    "register.unpacks_too_big": Wording(
        "unpacks to {size}, more than the {limit} MB a workbook may unpack to "
        "(limit: HOMEVISIT_IMPORT_MAX_UNPACKED_MB)",
        "解压后有 {size}，超过工作簿解压上限 {limit} MB"
        "（上限为设置 HOMEVISIT_IMPORT_MAX_UNPACKED_MB）",
    ),
    "register.unpacks_beyond": Wording(
        "unpacks to more than the {limit} MB a workbook may unpack to "
        "(limit: HOMEVISIT_IMPORT_MAX_UNPACKED_MB)",
        "解压后超过工作簿解压上限 {limit} MB（上限为设置 HOMEVISIT_IMPORT_MAX_UNPACKED_MB）",
    ),
    "register.zip_ratio": Wording(
        "{member} unpacks to {size} from {packed} KB ({ratio} times its size; a spreadsheet "
        "packs at most {limit} times): save the workbook again from Excel",
        "{member} 从 {packed} KB 解压为 {size}（{ratio} 倍；电子表格最多压缩 {limit} 倍），"
        "可能是恶意文件：请用 Excel 重新保存工作簿",
    ),
    "register.cell_too_long": Wording(
        "the cell has {count} characters, more than the {limit} a cell may hold "
        "(limit: HOMEVISIT_IMPORT_MAX_CELL_CHARS)",
        "单元格有 {count} 个字符，超过上限 {limit}（上限为设置 HOMEVISIT_IMPORT_MAX_CELL_CHARS）",
    ),
    "register.invisible_character": Wording(
        "holds the invisible character {char} ({name}) at character {at}: delete it",
        "第 {at} 个字符是不可见的控制字符 {char}（{name}），请删除",
    ),
    # --- registers, cells ---
    "register.no_work_days": Wording(
        "is empty: a clinician with no working day can never be planned: give {column} "
        "like Mon;Tue;Wed;Thu;Fri",
        "为空：没有工作日的医护人员永远排不进计划：请填写{column}，如 Mon;Tue;Wed;Thu;Fri",
    ),
    "register.empty_id": Wording(
        "is empty: every {kind} needs an id", "为空：每个{kind_zh}都需要编号"
    ),
    "register.empty_team": Wording(
        "is empty: every resident signs with a team", "为空：每位居民都签约一个团队"
    ),
    "register.empty": Wording("is empty: every row needs {what}", "为空：每一行都需要{what_zh}"),
    "register.half_lunch": Wording(
        "is empty but {other} is {given}: give both lunch times or neither",
        "为空，但{other}是 {given}：午休开始和结束两个时间要么都填，要么都不填",
    ),
    "register.time_format": Wording(
        "time '{text}' is not HH:MM, e.g. 08:30", "时间“{text}”不是 HH:MM 格式，例如 08:30"
    ),
    "register.time_format_in_item": Wording(
        "time '{text}' is not HH:MM", "时间“{text}”不是 HH:MM 格式，例如 08:30"
    ),
    "register.time_of_day": Wording(
        "time '{text}' is not between 00:00 and 24:00", "时间“{text}”不在 00:00 到 24:00 之间"
    ),
    "register.yes_no": Wording(
        "not a yes/no value; use true/false, 1/0, yes/no or 是/否",
        "不是“是/否”：请填 是/否、true/false、1/0 或 yes/no",
    ),
    "register.date": Wording(
        "not a date; use YYYY-MM-DD, e.g. {example}",
        "不是日期：请按 YYYY-MM-DD 填写，例如 {example}",
    ),
    "register.no_such_day": Wording(
        "no such day in the calendar; use YYYY-MM-DD, e.g. {example}",
        "日历上没有这一天：请按 YYYY-MM-DD 填写，例如 {example}",
    ),
    "register.weekday": Wording("unknown weekday '{day}'", "不认识的星期“{day}”"),
    "register.weekday_range": Wording(
        "'{part}' is not a range like Mon-Fri", "“{part}”不是 Mon-Fri 这样的范围"
    ),
    "register.weekdays": Wording(
        "{errors}; use Mon..Sun, e.g. Mon;Tue;Wed",
        "{errors}；请用 Mon..Sun 或 周一..周日，例如 Mon;Tue;Wed",
    ),
    "register.no_weekday": Wording(
        "no weekday given; use Mon..Sun, e.g. Mon;Tue;Wed",
        "没有填写星期；请用 Mon..Sun 或 周一..周日，例如 Mon;Tue;Wed",
    ),
    "register.availability": Wording(
        "{errors}. Write items like '{example}'", "{errors}。请按“{example}”这样填写"
    ),
    "register.item_no_range": Wording(
        "'{item}' has no time range HH:MM-HH:MM", "“{item}”没有时间段 HH:MM-HH:MM"
    ),
    "register.item_two_ranges": Wording(
        "'{item}' has more than one time range (separate items with ';')",
        "“{item}”有不止一个时间段（条目之间用“;”分开）",
    ),
    "register.item_order": Wording(
        "{start}-{end} does not end after it starts", "{start}-{end} 的结束不晚于开始"
    ),
    "register.item": Wording("'{item}': {problems}", "“{item}”：{problems}"),
    "register.degrees": Wording(
        "not a number; use decimal degrees like {example}",
        "不是数字：请用十进制的度数，如 {example}",
    ),
    "register.minutes": Wording(
        "not a positive whole number of minutes, e.g. {example}",
        "不是正整数的分钟数，例如 {example}",
    ),
    "register.choice": Wording(
        "unknown {what} '{given}'; use one of {allowed}",
        "不认识的{what_zh}“{given}”：请用其中之一：{allowed_zh}",
    ),
    "register.birth_in_future": Wording("birth date is in the future", "出生日期在将来"),
    "register.birth_too_early": Wording(
        "birth date is more than {years} years ago: check the year",
        "出生日期早于 {years} 年前：请检查年份",
    ),
    "register.discharged_before_opened": Wording(
        "is before the opening date {opened}: swapped?", "早于建床日期 {opened}：是不是填反了？"
    ),
    "register.duplicate": Wording(
        "duplicate {column} '{value}': also on row {row}",
        "{column}“{value}”重复：第 {row} 行也是它",
    ),
    "register.unknown_reference": Wording(
        "unknown {column} '{value}': not in {file}{known}",
        "{column}“{value}”不存在：{file} 中没有它{known_zh}",
    ),
    "register.team_without_clinician": Wording(
        "team '{team}' has no clinician in {file}{known}",
        "团队“{team}”在 {file} 中没有任何医护人员{known_zh}",
    ),
    "register.team_in_two_centres": Wording(
        "team '{team}' is at centre '{centre}' on row {row}: a team belongs to one centre",
        "团队“{team}”在第 {row} 行属于中心“{centre}”：一个团队只属于一个中心",
    ),
    "register.lat_lon_swapped": Wording(
        "lat and lon look swapped: lat {lat}, lon {lon} is outside {region} but lat {lon}, "
        "lon {lat} is inside; swap the two cells",
        "纬度和经度像是填反了：纬度 {lat}、经度 {lon} 在{region_zh}境外，对调后在境内："
        "请交换这两个单元格",
    ),
    "register.latitude": Wording(
        "latitude must be between -90 and 90", "纬度必须在 -90 到 90 之间"
    ),
    "register.longitude": Wording(
        "longitude must be between -180 and 180", "经度必须在 -180 到 180 之间"
    ),
    "register.zero_zero": Wording(
        "coordinates 0, 0: the address was probably not geocoded",
        "坐标是 0, 0：地址可能没有转换成坐标",
    ),
    "register.outside_region": Wording(
        "lat {lat}, lon {lon} is outside {region} ({bounds}): check the coordinates",
        "纬度 {lat}、经度 {lon} 在{region_zh}境外（{bounds_zh}）：请检查坐标",
    ),
    "register.span_order": Wording(
        "the {what} {start}-{end} must end after it starts",
        "{what_zh} {start}-{end} 的结束时间必须晚于开始时间",
    ),
    "register.lunch_outside_shift": Wording(
        "lunch {lunch} is not inside the shift {shift}", "午休 {lunch} 不在班次 {shift} 之内"
    ),
    "register.before": Wording("is before {other} {date}", "早于{other} {date}"),
    "register.visit_too_long": Wording(
        "a {minutes}-minute visit does not fit in {window}",
        "{minutes} 分钟的服务放不进时段 {window}",
    ),
    "register.request_id_taken": Wording(
        "the dataset already has a request with this id: give the new request an id of its own",
        "数据集中已有这个编号的申请：请给新申请一个自己的编号",
    ),
    "register.gap_minutes": Wording(
        "not a whole number of minutes from 0 to 1439, e.g. {example}",
        "不是 0 到 1439 之间的整数分钟数，例如 {example}",
    ),
    "register.gap_order": Wording(
        "is less than {other} {least}: the most minutes between the two starts must not be "
        "fewer than the least; swapped?",
        "小于{other} {least}：两次开始之间的最长间隔不能短于最短间隔：是不是填反了？",
    ),
    "register.gap_without_after": Wording(
        "gives a gap but {column} is empty: name the request this one follows, or leave the "
        "gap empty",
        "填了间隔，但{column}为空：请填写本申请接在哪个申请之后，或者不填间隔",
    ),
    "register.gap_missing": Wording(
        "is empty but {column} is {value}: give the most minutes from that request's start to "
        "this one's, e.g. 120",
        "为空，但{column}是 {value}：请填写从那次服务开始到本次开始最多相隔多少分钟，例如 120",
    ),
    "register.after_itself": Wording(
        "a request cannot follow itself: name the request of the same resident done before it",
        "申请不能接在自己之后：请填写同一位居民在它之前完成的那个申请",
    ),
    "register.after_other_resident": Wording(
        "request '{value}' is for resident {other}, this one for {resident}: a request follows "
        "a request of the same resident",
        "申请“{value}”是居民 {other} 的，本申请是居民 {resident} 的：只能接在同一位居民的申请之后",
    ),
    "register.after_taken": Wording(
        "request '{value}' is already paired with request {other}: a request is in one pair "
        "at most; pair each request once",
        "申请“{value}”已经与申请 {other} 成对：一个申请最多只能在一对之中；每个申请只能配对一次",
    ),
    "register.after_no_common_day": Wording(
        "request '{value}' may be done {first}, this one {second}: the two are done the same "
        "day but share no day; make their dates overlap",
        "申请“{value}”可在 {first} 进行，本申请在 {second}：两次服务须在同一天，但日期没有重叠；"
        "请让两者的日期有交集",
    ),
    # A pair stored by an earlier import that the upload would break (service.db.pairs).
    "register.stored_pair_resident": Wording(
        "the database holds request {stored} of resident {resident}, from an earlier upload, "
        "done after request '{value}': a request follows a request of the same resident; list "
        "{stored} in this file too (its row says whether it is still paired), or give this "
        "request an id of its own",
        "数据库中有此前导入的居民 {resident} 的申请 {stored}，接在申请“{value}”之后：只能接在"
        "同一位居民的申请之后；请把 {stored} 也列入本文件（由它那一行说明是否仍然配对），"
        "或给本申请另起编号",
    ),
    "register.stored_pair_taken": Wording(
        "the database holds request {stored}, from an earlier upload, done after request "
        "'{value}': a request is in one pair at most; list {stored} in this file too (its row "
        "says whether it is still paired), or give request '{value}' an id of its own",
        "数据库中有此前导入的申请 {stored}，接在申请“{value}”之后：一个申请最多只能在一对之中；"
        "请把 {stored} 也列入本文件（由它那一行说明是否仍然配对），或给申请“{value}”另起编号",
    ),
    "register.stored_pair_no_day": Wording(
        "the database holds request {stored}, from an earlier upload, done after request "
        "'{value}' on a day of {days}: the two are done the same day but would share no day; "
        "list {stored} in this file too (its row says whether it is still paired), or give this "
        "request an id of its own",
        "数据库中有此前导入的申请 {stored}，接在申请“{value}”之后，在 {days} 中的一天进行：两次服务"
        "须在同一天，但日期没有重叠；请把 {stored} 也列入本文件（由它那一行说明是否仍然配对），"
        "或给本申请另起编号",
    ),
    "register.outcome": Wording(
        "'{given}' is not an outcome; expected one of {allowed}",
        "“{given}”不是访视结果：请用其中之一：{allowed}",
    ),
    "register.tests": Wording(
        "unknown test(s) {tests}; known: {known}", "不认识的检查项目 {tests}：可用的有 {known}"
    ),
    # --- plan files read back (scheduler.dataset.plan_files) ---
    "plan_file.time": Wording("not a time HH:MM", "不是 HH:MM 格式的时间"),
    "plan_file.whole_number": Wording("not a whole number", "不是整数"),
    "plan_file.negative": Wording("must not be negative", "不能为负数"),
    "plan_file.kilometres": Wording("not a number of kilometres", "不是公里数"),
    "plan_file.missing_file": Wording("is missing from {folder}", "{folder} 中没有这个文件"),
    "plan_file.missing_column": Wording("column '{column}' is missing", "缺少“{column}”列"),
    "plan_file.second_route": Wording(
        "a second route of {clinician}: also on row {row}",
        "{clinician} 的第二条路线：第 {row} 行也是它",
    ),
    "plan_file.repeated_sequence": Wording(
        "plan.csv repeats a sequence number of {clinician} on {day}",
        "plan.csv 中 {clinician} 在 {day} 的顺序号重复",
    ),
    "plan_file.visit_count": Wording(
        "says {count} visits but plan.csv has {rows} rows for {clinician} on {day}",
        "写的是 {count} 次访视，但 plan.csv 中 {clinician} 在 {day} 有 {rows} 行",
    ),
    "plan_file.no_route": Wording(
        "routes.csv has no route of {clinician} on this date",
        "routes.csv 中没有 {clinician} 在这一天的路线",
    ),
    "plan_file.json": Wording("is not valid JSON: {error}", "不是有效的 JSON：{error}"),
    "plan_file.json_object": Wording("must be a JSON object", "应是一个 JSON 对象"),
    # --- addresses placed by the service's geocoder (service.db.geofill) ---
    "geocode.not_placed": Wording(
        "could not be geocoded ({why}): {fix}", "无法由地址得到坐标（{why}）：{fix}"
    ),
    "geocode.no_place": Wording(
        "{provider} knows no place in China by this address", "{provider} 在中国找不到这个地址"
    ),
    "geocode.off": Wording("geocoding is switched off by {setting}", "地理编码已被 {setting} 关闭"),
    "geocode.setup": Wording("{error}", "地理编码服务设置有误：{error}"),
    "geocode.failed": Wording("{error}", "地理编码服务出错：{error}"),
    "geocode.fix_address": Wording(
        "give lat/lon or a fuller address", "请填写纬度/经度（lat/lon），或写更完整的地址"
    ),
    "geocode.fix_retry": Wording("give lat/lon or retry", "请填写纬度/经度（lat/lon），或稍后重试"),
    "geocode.fix_configure": Wording(
        "give lat/lon or configure it", "请填写纬度/经度（lat/lon），或配置地理编码服务"
    ),
    "geocode.fix_switch_on": Wording(
        "give lat/lon, or set HOMEVISIT_GEOCODER to nominatim, amap or baidu",
        "请填写纬度/经度（lat/lon），或把 HOMEVISIT_GEOCODER 设为 nominatim、amap 或 baidu",
    ),
    # --- a team leader's upload, his own team's register only (service.db.team_scope) ---
    "team.other_team": Wording(
        "this row is of team '{found}': you may import your own team '{team}' only; "
        "take the row out (another team's register is its leader's or an admin's)",
        "这一行属于团队“{found}”：您只能导入本团队“{team}”的档案，请删去这一行"
        "（其他团队的档案由其团队长或管理员导入）",
    ),
    "team.other_centre": Wording(
        "this row is of centre '{found}': your team is at centre '{centre}'; "
        "take the row out or write your centre",
        "这一行属于中心“{found}”：本团队属于中心“{centre}”，请删去这一行或改为本中心",
    ),
    "team.clinician_taken": Wording(
        "this clinician id is in another team's register: a clinician of your team needs an id "
        "of his own (the id names one person)",
        "该医护人员编号属于其他团队的档案：本团队的医护人员需使用自己的编号",
    ),
    "team.resident_taken": Wording(
        "this resident is signed with another team: his team's leader or an admin moves him; "
        "take the row out",
        "该居民已与其他团队签约：由其团队长或管理员调整，请删去这一行",
    ),
    "team.committee_taken": Wording(
        "this committee id is of another centre: your centre is '{centre}'",
        "该居委会编号属于其他中心：本中心为“{centre}”",
    ),
    "team.request_taken": Wording(
        "this request id is of another team's resident: give the request an id of its own",
        "该服务申请编号属于其他团队的居民：请为这条申请另起编号",
    ),
    "team.programmes": Wording(
        "the programme rules hold for every team: only an admin changes them; upload the "
        "register without programmes.yaml",
        "服务项目规则适用于所有团队，只有管理员可以修改：请不带 programmes.yaml 上传",
    ),
    # --- programmes.yaml (scheduler.programmes.override_problems) ---
    "programmes.at": Wording(
        "programme '{programme}', {key} '{value}': {problem}",
        "服务项目“{programme}”的 {key}“{value}”：{problem}",
    ),
    "programmes.unknown_programme": Wording(
        "unknown programme '{programme}' (known: {known})",
        "没有服务项目“{programme}”（已有：{known}）",
    ),
    "programmes.unknown_key": Wording(
        "programme '{programme}': unknown key '{key}'; use one of {keys}",
        "服务项目“{programme}”：不认识的设置“{key}”：请用其中之一：{keys}",
    ),
    "programmes.yes_no": Wording(
        "not true or false; write true or false",
        "不是 true/false：请填 true 或 false",
    ),
    "programmes.whole_number": Wording(
        "not a whole number from {least} to {most}; write e.g. {example}",
        "不是 {least} 到 {most} 之间的整数：请填写如 {example}",
    ),
    "programmes.whole_number_or_none": Wording(
        "not a whole number from {least} to {most}; write e.g. {example}, or null for no limit",
        "不是 {least} 到 {most} 之间的整数：请填写如 {example}，不设上限请填 null",
    ),
    "programmes.window_format": Wording(
        "not a window HH:MM-HH:MM; write the start and the end, e.g. {example}",
        "不是 HH:MM-HH:MM 格式的时段：请写开始和结束时间，例如 {example}",
    ),
    "programmes.window_time": Wording(
        "{time} is not a time of day between 00:00 and 24:00; write HH:MM-HH:MM, e.g. {example}",
        "{time} 不是 00:00 到 24:00 之间的时间：请按 HH:MM-HH:MM 填写，例如 {example}",
    ),
    "programmes.window_order": Wording(
        "the window ends at {end}, not after it starts at {start}; write the start first, "
        "e.g. {example}",
        "时段的结束 {end} 不晚于开始 {start}：请先写开始时间，例如 {example}",
    ),
    "programmes.visit_too_long": Wording(
        "a {minutes}-minute visit does not fit in the day window {window}; "
        "widen day_window or shorten duration_min",
        "{minutes} 分钟的服务放不进时段 {window}：请放宽 day_window 或缩短 duration_min",
    ),
    "programmes.choice": Wording(
        "unknown {what} '{given}'; use one of {choices}",
        "不认识的{what_zh}“{given}”：请用其中之一：{choices}",
    ),
    "programmes.list": Wording(
        "not a list; write e.g. {example}",
        "不是列表：请写成如 {example}",
    ),
    "programmes.mapping": Wording(
        "not a mapping of settings; write e.g. {example}",
        "不是键值对形式的设置：请写成如 {example}",
    ),
    "programmes.staffing_roles": Wording(
        "a staffing entry needs at least one role; write e.g. {example}",
        "每个人员配置至少需要一个角色：请写成如 {example}",
    ),
    "programmes.tests": Wording(
        "unknown test(s) {tests}; use some of {known}",
        "不认识的检查项目 {tests}：可用的有 {known}",
    ),
    "programmes.interval_days": Wording(
        "a frequency of kind interval needs interval_days of at least 1, e.g. 14",
        "按间隔（interval）的频次需要不小于 1 的 interval_days，例如 14",
    ),
    "programmes.period": Wording(
        "a frequency of kind per_period needs a period (month, quarter or year) and "
        "per_period of at least 1",
        "按周期（per_period）的频次需要周期 period（month、quarter 或 year）和不小于 1 的 "
        "per_period",
    ),
    "programmes.age_order": Wording(
        "min_age {least} is above max_age {most}; swapped?",
        "min_age {least} 大于 max_age {most}：是不是填反了？",
    ),
}


@dataclass(frozen=True, slots=True)
class Joined:
    """Several messages shown as one value: ``a; b`` in English, ``a；b`` in Chinese."""

    parts: tuple[Message, ...]
    en_separator: str = "; "
    zh_separator: str = "；"


@dataclass(frozen=True, slots=True)
class Message:
    """What is wrong, as a code of :data:`CATALOGUE` and the values it shows.

    A value that is itself a :class:`Message` (or :class:`Joined` messages) is shown in the
    same language as the message around it.
    """

    code: str
    values: Mapping[str, object] = field(default_factory=dict)

    @property
    def en(self) -> str:
        """The message in English."""
        return CATALOGUE[self.code].en.format_map(_shown(self.values, zh=False))

    @property
    def zh(self) -> str:
        """The message in Chinese."""
        return CATALOGUE[self.code].zh.format_map(_shown(self.values, zh=True))

    def __str__(self) -> str:
        """Chinese first, English beside."""
        return f"{self.zh} / {self.en}"


def _shown(values: Mapping[str, object], *, zh: bool) -> dict[str, object]:
    shown: dict[str, object] = {}
    for key, value in values.items():
        if isinstance(value, Message):
            shown[key] = value.zh if zh else value.en
        elif isinstance(value, Joined):
            separator = value.zh_separator if zh else value.en_separator
            shown[key] = separator.join(p.zh if zh else p.en for p in value.parts)
        else:
            shown[key] = value
    return shown


class MessageError(ValueError):
    """A ``ValueError`` that carries its :class:`Message` (``str()`` is the English), so a
    reader that catches it keeps the code and the Chinese."""

    def __init__(self, code: str, **values: object) -> None:
        self.message = Message(code, values)
        super().__init__(self.message.en)

    def __reduce__(self) -> tuple[object, ...]:
        # raised in a worker process, it comes back pickled: rebuild it from its code and values
        return _message_error, (self.message.code, dict(self.message.values))


def _message_error(code: str, values: dict[str, object]) -> MessageError:
    return MessageError(code, **values)


def message_of(exc: ValueError) -> Message | str:
    """The message a ``ValueError`` carries: its :class:`Message`, else its English text."""
    return exc.message if isinstance(exc, MessageError) else str(exc)
