"""Exports: the 台账 ledger as .xlsx and the deadlines as an .ics calendar. File writing lives here, the rows
come from ``stages.views.reads`` and ``stages.views.board``.

The ledger is opened by people in Excel or WPS, so no cell is ever a formula: text that a spreadsheet would
read as one (it starts with = + - @, a tab or a carriage return, or their full-width forms) is stored as a
string with Excel's quote prefix, exactly as typed. Dates are real dates (yyyy-mm-dd), so they sort and filter.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from stages.views.reads import LEDGER_COLUMNS

WIDTHS = {"事项": 18, "类别": 12, "名称": 44, "牵头单位": 16, "配合单位": 30, "节点": 22, "阶段": 10, "责任单位": 14,
          "计划完成": 12, "调整后完成": 12, "报送日期": 12, "审核结果": 11, "逾期工作日": 11, "状态灯": 8,
          "领域": 14, "目标": 30, "实际": 30, "进度": 9}
FILL = {"红": "F4B6B6", "黄": "FFE699", "绿": "C6E0B4", "完成": "D9D9D9", "未触发": "EDEDED",
        "欠进度": "F8CBAD", "达进度": "DDEBF7", "超进度": "BDD7EE"}
DATE_COLUMNS = ("计划完成", "调整后完成", "报送日期")
DATE_FORMAT = "yyyy-mm-dd"
# what makes a spreadsheet (Excel, WPS, LibreOffice) read typed text as a formula or a DDE call
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def formula_like(value) -> bool:
    return isinstance(value, str) and value.lstrip(" ").startswith(FORMULA_START)


def _as_date(value):
    """A ledger date as a date: ISO text ('2019-07-31', '2019-07-31T10:00') or a date/datetime; else unchanged."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    return value


def _put(ws, row: int, col: int, value, date: bool = False):
    """Write one cell: a date as a date, formula-like text as text (never a formula), anything else as is."""
    if date:
        value = _as_date(value)
        if value == "":
            value = None
    cell = ws.cell(row=row, column=col)
    if isinstance(value, str):
        cell.value = value
        if formula_like(value) or cell.data_type != "s":
            cell.data_type = "s"  # openpyxl made '=…' a formula: make it text again
            cell.quotePrefix = True  # and Excel keeps it text when someone edits the cell
    else:
        cell.value = value
        if isinstance(value, dt.date):
            cell.number_format = DATE_FORMAT
    return cell


def write_ledger(rows: list[list], path: Path, title: str) -> Path:
    """One row per item and milestone; frozen header, filters, readable widths, the light as a fill."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    columns = list(getattr(rows, "columns", LEDGER_COLUMNS))
    wb = Workbook()
    ws = wb.active
    ws.title = "台账"
    ws.append(columns)
    dates = {columns.index(c) for c in DATE_COLUMNS if c in columns}
    for n, r in enumerate(rows, start=2):
        for i, value in enumerate(r):
            _put(ws, n, i + 1, value, date=i in dates)
    bold = Font(bold=True, name="宋体")
    for c in ws[1]:
        c.font = bold
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    coloured = [columns.index(c) for c in ("状态灯", "进度") if c in columns]
    wrapped = {columns.index(c) for c in ("名称", "配合单位", "目标", "实际") if c in columns}
    for row in ws.iter_rows(min_row=2):
        for c in row:
            c.alignment = Alignment(vertical="top", wrap_text=c.column - 1 in wrapped)
        for i in coloured:
            colour = FILL.get(row[i].value)
            if colour:
                row[i].fill = PatternFill("solid", start_color=colour, end_color=colour)
    for i, name in enumerate(columns, start=1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = WIDTHS.get(name, 12)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    wb.properties.title = title
    wb.properties.creator = "plancycle"
    fixed = dt.datetime(2000, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def write_calendar(data: dict, path: Path, stamp: dt.datetime) -> Path:
    """One all-day event per milestone on its (current) due date, UID stable across exports, so a subscribed
    Outlook or phone calendar updates an event instead of adding a copy."""
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//plancycle//deadlines//ZH")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"{data['cycle']['title']} 节点" + (f"（{data['filters']['dept']}）" if data["filters"]["dept"] else ""))
    cal.add("x-wr-timezone", "Asia/Shanghai")
    for it in data["items"]:
        for m in it["milestones"]:
            ev = Event()
            ev.add("uid", f"{data['cycle']['id']}.{it['key']}.{m['id']}@plancycle")
            ev.add("summary", f"【{m['owner']}】{it['title'][:30]}——{m['name']}截止")
            ev.add("dtstart", dt.date.fromisoformat(m["due"]))
            ev.add("dtend", dt.date.fromisoformat(m["due"]) + dt.timedelta(days=1))
            ev.add("dtstamp", stamp)
            ev.add("sequence", m["due_version"] - 1)  # an extension is a new version of the same event
            ev.add("status", "CONFIRMED")
            ev.add("description", f"{it['key']} {m['name']}｜责任单位：{m['owner']}｜状态：{m['status_zh']}"
                                  + (f"｜原定 {m['original_due']}" if m["original_due"] != m["due"] else ""))
            ev.add("categories", [it["track"]])
            cal.add_component(ev)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cal.to_ical())
    return path
