"""The coordinator's console: board JSON, timeline cells, ledger and calendar files, one-line CLI errors."""

import datetime as dt
import json

import pytest
from sqlmodel import select

from stages import engine as sv
from stages.views.board import board
from stages.store.models import AuditEvent, Milestone
from stages.views.reads import LEDGER_COLUMNS, inbox, item_history, ledger_rows, timeline

from .test_cli import run as cli

COORD = "区发改委"


def test_board_counts_by_state_and_light(changning_run, changning):
    s = changning_run
    sv.submit(s, changning, item="topic-07", milestone="plan", by="区虹桥办", as_of="2019-06-05")
    sv.review(s, changning, item="topic-07", milestone="plan", decision="accept", by=COORD, as_of="2019-06-06")
    sv.submit(s, changning, item="topic-04", milestone="plan", by="区商务委", as_of="2019-06-06")
    s.commit()
    data = board(s, changning, "2019-06-12")
    c = data["counts"]
    assert c["by_status"]["accepted"] == 1 and c["by_status"]["submitted"] == 1
    assert c["milestones"] == sum(c["by_status"].values()) == sum(c["by_light"].values())
    lights = {(i["key"], m["id"]): m["light"] for i in data["items"] for m in i["milestones"]}
    assert lights[("topic-07", "plan")] == "done"
    assert lights[("topic-04", "plan")] == "green"     # delivered, waiting on the reviewer
    assert lights[("topic-01", "plan")] == "red"       # due 06-10, nothing in
    assert lights[("leading-group", "formed")] == "green"
    assert board(s, changning, "2019-06-25")["items"][0]["key"] == "topic-01"
    yellow = {(i["key"], m["id"]) for i in board(s, changning, "2019-06-25")["items"] for m in i["milestones"]
              if m["light"] == "yellow"}
    assert ("leading-group", "formed") in yellow       # due 06-30, within 5 working days
    assert c["by_light"]["red"] == sum(1 for v in lights.values() if v == "red")


def test_timeline_cells(changning_run, changning):
    s = changning_run
    t = timeline(s, changning, "2019-06-05")
    assert t["quarters"] == ["2019Q2", "2019Q3", "2019Q4", "2020Q1", "2020Q2", "2020Q3", "2020Q4", "2021Q1", "2021Q2"]
    def row(prefix):
        return next(r for r in t["rows"] if r["text"].startswith(prefix))

    topics = row("开展区“十四五”前期重大课题研究")
    assert topics["span"] == ["2019Q2", "2019Q3"] and topics["cells"]["2019Q4"] == ""
    assert row("三季度，各部门提出专项规划")["span"] == ["2019Q3", "2019Q4"]
    assert row("二季度前形成《纲要》初稿")["span"] == ["2020Q2", "2020Q4"]
    assert row("年初，形成")["span"] == ["2021Q1", "2021Q1"]
    assert row("二季度前，对专项规划进行修改完善")["span"] == ["2021Q2", "2021Q2"]
    assert all(v in ("", "planned") for r in t["rows"] for v in r["cells"].values())
    late = timeline(s, changning, "2019-10-15")  # nothing delivered: the topic reports are late
    assert late["rows"][0]["cells"]["2019Q3"] == "late"
    # leading group formed on time: its cells in 2019Q2 become done once the quarter is over
    sv.submit(s, changning, item="leading-group", milestone="formed", by=COORD, as_of="2019-06-20")
    sv.review(s, changning, item="leading-group", milestone="formed", decision="accept", by=COORD, as_of="2019-06-21")
    s.commit()
    assert [r["text"] for r in timeline(s, changning)["rows"]] == [r.text for r in changning.file.timeline]


def test_inbox_shows_returns_and_why(changning_run, changning):
    s = changning_run
    sv.submit(s, changning, item="topic-07", milestone="plan", by="区虹桥办", as_of="2019-06-05")
    sv.review(s, changning, item="topic-07", milestone="plan", decision="return", by=COORD, as_of="2019-06-06",
              comments="请明确具体负责人联系方式")
    s.commit()
    box = inbox(s, changning, "hqb", "2019-06-12")
    first = box["owes"][0]
    assert (first["item"], first["status"]) == ("topic-07", "returned")
    assert first["returned"]["comments"] == "请明确具体负责人联系方式" and first["workdays_late"] == 2
    hist = item_history(s, changning, "topic-07")
    assert [d["kind"] for d in hist["decisions"]] == ["return"]
    assert any(e["action"] == "deliverable.returned" for e in hist["audit"])


def test_ledger_and_calendar_files(changning_run, changning, tmp_path):
    from icalendar import Calendar
    from openpyxl import load_workbook

    from stages.paperwork.exports import write_calendar, write_ledger

    s = changning_run
    sv.submit(s, changning, item="topic-07", milestone="plan", by="区虹桥办", as_of="2019-06-14")
    s.commit()
    rows = ledger_rows(s, changning, "2019-06-17")
    path = write_ledger(rows, tmp_path / "台账.xlsx", "台账")
    ws = load_workbook(path)["台账"]
    assert [c.value for c in ws[1]] == LEDGER_COLUMNS
    assert ws.max_row == 1 + s.exec(select(Milestone)).all().__len__()
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref
    assert ws.column_dimensions["C"].width >= 30
    t7 = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == "topic-07" and r[5] == "形成方案")
    assert t7[7] == "区虹桥办" and t7[8] == dt.datetime(2019, 6, 10) and t7[10] == dt.datetime(2019, 6, 14)  # dates
    assert t7[12] == 4  # working days late
    data = board(s, changning, "2019-06-17", dept="区虹桥办")
    ics = write_calendar(data, tmp_path / "d.ics", dt.datetime(2019, 6, 17, 9))
    cal = Calendar.from_ical(ics.read_bytes())
    events = [e for e in cal.walk("VEVENT")]
    assert len(events) == sum(len(i["milestones"]) for i in data["items"]) == 8
    plan = next(e for e in events if str(e["uid"]) == "changning-14th.topic-07.plan@plancycle")
    assert plan.decoded("dtstart") == dt.date(2019, 6, 10) and "区虹桥办" in str(plan["summary"])


@pytest.mark.parametrize("args,message", [
    (["show", "topic-99"], "plancycle：错误：未知事项：topic-99（可用 plancycle status 查看）"),
    (["inbox", "区不存在局"], "plancycle：错误：未知部门：区不存在局（请填写部门简称，如区发改委，或部门编号，如fgw）"),
    (["status", "--dept", "区不存在局"], "plancycle：错误：未知部门 '区不存在局'（请用简称如 区发改委，或编号如 fgw）"),
    (["export", "ledger", "--dept", "nope"], "plancycle：错误：未知部门 'nope'（请用简称如 区发改委，或编号如 fgw）"),
])
def test_console_errors_are_one_line(tmp_path, args, message):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    cli("init", "--as-of", "2019-06-01", db=db, check=0)
    p = cli(*args, db=db)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and message in p.stderr


def test_a_refused_cli_action_is_one_line_and_changes_nothing(tmp_path):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    cli("init", "--as-of", "2019-06-01", db=db, check=0)
    before = cli("audit", "--json", db=db, check=0).stdout
    p = cli("submit", "topic-01", "kickoff", "--by", "区发改委", "--as-of", "2019-07-01", db=db)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines()[-1] == \
        "plancycle：错误：“topic-01 开题”当前尚未开始（须先完成：contractor），不能报送"
    p = cli("submit", "topic-07", "plan", "--by", "区商务委", db=db)
    assert p.returncode == 2 and p.stderr.strip().splitlines()[-1] == \
        "plancycle：错误：区商务委不能报送“topic-07 形成方案”：该节点由区虹桥办负责"
    assert cli("audit", "--json", db=db, check=0).stdout == before
