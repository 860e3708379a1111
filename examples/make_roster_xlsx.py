"""Regenerate examples/roster.xlsx (and roster.csv) from examples/roster.json.

The three example files hold the same cadres; tests import all three and compare. The workbook
is also the template an agency clerk can start from: row 1 holds the column names the importer
expects (each with a comment giving its meaning in Chinese), enumerated columns offer a
drop-down, ID and phone columns are formatted as text so Excel cannot turn an ID number into a
rounded number, and dates are real date cells.

Run from the repository root::

    python examples/make_roster_xlsx.py
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from workflow.roster import flat_columns, flatten, write_csv
from workflow.roster.readers import BOOL_COLUMNS, DATE_COLUMNS

HERE = Path(__file__).resolve().parent
MERITS = HONOURS = 3
BLANK_ROWS = 200  # rows below the examples that keep the drop-downs, for a clerk's own entries

MEANINGS = {
    "id": "编号（本机构自编，全库唯一）",
    "name": "姓名",
    "gender": "性别：男/女",
    "birth_date": "出生日期",
    "id_card": "身份证号码（18位，可不填；请保持文本格式）",
    "category": "类别：离休干部/退休干部/退休军士/退休警士",
    "branch": "军种：PLA 解放军 / PAP 武警",
    "county": "所属县（市、区）",
    "agency": "军休服务管理机构",
    "placed_on": "移交政府安置日期",
    "class": "立功等级：1/2/3（一/二/三等功）",
    "wartime": "是否战时立功：是/否（空=否）",
    "merit_year": "立功年份",
    "kind": "表彰类别：commendation 党委政府表彰 / advanced_cadre 先进军休干部",
    "level": "级别：county 县级 / city 市级 / province 省级 / national 国家级 / military 军队",
    "honour_year": "表彰年份",
    "recommendation_by": "推荐单位：county_dept 县级退役军人事务部门 / agency 军休服务管理机构",
    "recommendation_reason": "推荐理由",
    "recommendation_date": "推荐日期",
    "health_self_care": "生活能否自理：是/否（空=是）",
    "health_infectious": "是否患传染病：是/否（空=否）",
    "health_mental": "是否患精神疾病：是/否（空=否）",
    "health_critical": "是否患危急重症：是/否（空=否）",
    "phone": "本人电话（手机或 区号-号码）",
    "family_contact_name": "家属联系人姓名",
    "family_contact_relation": "与本人关系",
    "family_contact_phone": "家属电话",
}
CHOICES = {
    "gender": "男,女",
    "category": "离休干部,退休干部,退休军士,退休警士",
    "branch": "PLA,PAP",
    "class": "1,2,3",
    "wartime": "是,否",
    "kind": "commendation,advanced_cadre",
    "level": "county,city,province,national,military",
    "recommendation_by": "county_dept,agency",
    "health": "是,否",
}
TEXT_COLUMNS = ("id_card", "phone", "family_contact_phone")


def meaning(column: str) -> str:
    part = column.split("_", 1)[-1]
    if column.startswith("merit"):
        return MEANINGS["merit_year" if part == "year" else part]
    if column.startswith("honour"):
        return MEANINGS["honour_year" if part == "year" else part]
    return MEANINGS[column]


def choices(column: str) -> str | None:
    if column.startswith("health_"):
        return CHOICES["health"]
    if column.startswith(("merit", "honour")):
        return CHOICES.get(column.split("_", 1)[-1])
    return CHOICES.get(column)


def cell_value(column: str, value: Any) -> Any:
    """What a clerk would type: real dates, 是/否 for yes-no, numbers for classes and years."""
    if value is None:
        return None
    if column in DATE_COLUMNS:
        return date.fromisoformat(value)
    if column in BOOL_COLUMNS or column.endswith("_wartime"):
        return "是" if value else "否"
    return value


def main() -> None:
    records = json.loads((HERE / "roster.json").read_text(encoding="utf-8"))
    columns = flat_columns(MERITS, HONOURS)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "名册"
    sheet.append(columns)
    for index, column in enumerate(columns, 1):
        cell = sheet.cell(row=1, column=index)
        cell.comment = Comment(meaning(column), "convalescence")
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(12, len(column) + 2)
        last = len(records) + 1 + BLANK_ROWS
        if (options := choices(column)) is not None:
            validation = DataValidation(type="list", formula1=f'"{options}"', allow_blank=True)
            validation.error = f"请从下拉列表中选择：{options}"
            sheet.add_data_validation(validation)
            validation.add(f"{letter}2:{letter}{last}")
        for row in range(2, last + 1):
            if column in TEXT_COLUMNS:
                sheet.cell(row=row, column=index).number_format = "@"
            elif column in DATE_COLUMNS:
                sheet.cell(row=row, column=index).number_format = "yyyy-mm-dd"
    for row, record in enumerate(records, 2):
        for index, (column, value) in enumerate(
            zip(columns, flatten(record, columns), strict=True), 1
        ):
            if value is not None:
                sheet.cell(row=row, column=index).value = cell_value(column, value)
    sheet.freeze_panes = "B2"
    workbook.properties.creator = "examples/make_roster_xlsx.py"
    workbook.save(HERE / "roster.xlsx")
    write_csv(HERE / "roster.csv", records, merits=MERITS, honours=HONOURS)
    print(f"wrote {HERE / 'roster.xlsx'} and {HERE / 'roster.csv'}: {len(records)} cadres")


if __name__ == "__main__":
    main()
