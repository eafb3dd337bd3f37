"""Exports: the 台账 ledger as .xlsx and the deadlines as an .ics calendar. File writing lives here, the rows
come from ``stages.views`` and ``stages.board``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from stages.views import LEDGER_COLUMNS

WIDTHS = {"事项": 18, "类别": 12, "名称": 44, "牵头单位": 16, "配合单位": 30, "节点": 22, "阶段": 10, "责任单位": 14,
          "计划完成": 12, "调整后完成": 12, "报送日期": 12, "审核结果": 11, "逾期工作日": 11, "状态灯": 8}
FILL = {"红": "F4B6B6", "黄": "FFE699", "绿": "C6E0B4", "完成": "D9D9D9"}


def write_ledger(rows: list[list], path: Path, title: str) -> Path:
    """One row per item and milestone; frozen header, filters, readable widths, the light as a fill."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = "台账"
    ws.append(LEDGER_COLUMNS)
    for r in rows:
        ws.append(r)
    bold = Font(bold=True, name="宋体")
    for c in ws[1]:
        c.font = bold
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    light_col = LEDGER_COLUMNS.index("状态灯") + 1
    for row in ws.iter_rows(min_row=2):
        for c in row:
            c.alignment = Alignment(vertical="top", wrap_text=c.column_letter in ("C", "E"))
        colour = FILL.get(row[light_col - 1].value)
        if colour:
            row[light_col - 1].fill = PatternFill("solid", start_color=colour, end_color=colour)
    for i, name in enumerate(LEDGER_COLUMNS, start=1):
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
