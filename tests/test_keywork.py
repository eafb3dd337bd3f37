"""Schema 2 and seed 004 as config: the district government's 2019 key work (config/cycles/changning-2019-keywork.yaml)
— 59 targets with their 领域, quarterly milestones with the figures they are to reach, and the monthly report every
主责部门 makes by the 25th — validated, run and reported on with the same engine as a 规划 cycle."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlmodel import select

from stages.paperwork import notices as nt
from stages.paperwork import drafting as pw
from stages import engine as sv
from stages.ground.errors import ConfigError
from stages.definition.loader import load_cycle
from stages.store.models import Notice

from .conftest import MINI, ROOT, cycle, write_cycle

KEYWORK = ROOT / "config" / "cycles" / "changning-2019-keywork.yaml"
COORD = "区府办"


@pytest.fixture(scope="session")
def keywork():
    return cycle(KEYWORK)


def test_the_59_targets_of_seed_004(keywork):
    targets = [i for i in keywork.items if i.kind == "task" and not i.key.startswith("report-")]
    assert [t.key for t in targets] == [f"t{n:02d}" for n in range(1, 60)]
    assert Counter(t.domain for t in targets) == {"经济发展": 17, "城区建设管理": 17, "民生保障与社会建设": 6,
                                                 "公共安全": 5, "社会事业": 6, "政府自身建设": 7, "政府实事": 1}
    t1 = keywork.item("t01")
    assert t1.lead[0] == "区金融办" and "区税务局" in t1.lead and "区发改委" in t1.cooperating  # several 主责部门
    assert [(m.id, str(m.due_date)) for m in t1.milestones] == [
        ("q1", "2019-03-31"), ("q2", "2019-06-30"), ("q3", "2019-09-30"), ("q4", "2019-12-31")]
    assert [m.targets[0].value for m in t1.milestones] == [25, 50, 75, 100]  # 区级一般公共预算收入完成年度目标的…%
    assert t1.milestones[0].targets[0].of == "区级一般公共预算收入"
    t2 = keywork.item("t02")
    assert [(m.targets[0].value, m.targets[0].unit) for m in t2.milestones] == [(78, "家"), (156, "家"), (234, "家"),
                                                                               (310, "家")]
    assert [m.id for m in keywork.item("t51").milestones] == ["q1"]  # “——” in the seed: nothing that quarter
    assert "各街镇" in keywork.item("t08").cooperating  # 各街(镇): a group as a cooperating unit


def test_every_lead_unit_reports_monthly_by_the_25th(keywork):
    reports = [i for i in keywork.items if i.key.startswith("report-")]
    leads = {u for i in keywork.items if i.kind == "task" and not i.key.startswith("report-") for u in i.lead}
    assert {r.lead[0] for r in reports} == leads and len(reports) == len(leads)
    r = keywork.item("report-jrb")
    assert r.title == "区金融办重点工作目标完成情况月报"
    assert [m.id for m in r.milestones] == [f"m2019{m:02d}" for m in range(2, 13)]
    assert {m.due_date.day for m in r.milestones} == {25} and r.milestones[0].name == "2月完成情况"


@pytest.mark.parametrize("key,text", [
    ("domain", "    domain: 经济发展\n"),
    ("reporting", None),
])
def test_schema_2_keys_need_schema_2(tmp_path, key, text):
    base = MINI.read_text(encoding="utf-8")
    if key == "domain":
        base = base.replace("    ref: 三、1\n", "    ref: 三、1\n" + text)
    else:
        base += "reporting: {start: 2019-02, end: 2019-12}\n"
    p = write_cycle(tmp_path, base, "c.yaml")
    with pytest.raises(ConfigError, match=f"{key}: 需要 schema: 2（应为在文件开头写 schema: 2）"):
        load_cycle(p)
    p.write_text(base.replace("version: 1\n", "version: 1\nschema: 2\n"), encoding="utf-8")
    spec = load_cycle(p)
    if key == "reporting":
        assert [i.key for i in spec.items if i.key.startswith("report-")] == ["report-fgw"]


def test_a_month_of_key_work(session, keywork):
    from stages.views.board import board
    from stages.engine import calendar_for
    from stages.engine.sweep import sweep

    cal = calendar_for(keywork)
    out = sv.init_run(session, keywork, as_of="2019-02-03T09:00")
    pw.after(session, keywork, out, as_of="2019-02-03T09:00")
    b = board(session, keywork, "2019-02-20")
    t1 = next(i for i in b["items"] if i["key"] == "t01")
    assert t1["domain"] == "经济发展" and t1["milestones"][0]["targets"][0]["value"] == 25
    rep = next(i for i in b["items"] if i["key"] == "report-jrb")
    assert rep["current"]["id"] == "m201902" and rep["current"]["status"] == "open"
    # 区金融办 reports February on time, with what it did, what is in the way and what comes next
    for dept, item in (("区金融办", "report-jrb"), ("区商务委", "report-swj")):
        o = sv.submit(session, keywork, item=item, milestone="m201902", by=dept, as_of="2019-02-22T10:00",
                      note="进展：稳增长方案已下发；问题：楼宇数据库录入滞后；下步：3月完成校准")
        pw.after(session, keywork, o, as_of="2019-02-22T10:00")
    o = sv.review(session, keywork, item="report-jrb", milestone="m201902", decision="accept", by=COORD,
                  as_of="2019-02-25T15:00")
    pw.after(session, keywork, o, as_of="2019-02-25T15:00")
    opened = {m for m in o.opened}
    assert "report-jrb:m201903" in opened  # the next month's report opens when this one is accepted
    sweep(session, {keywork.id: keywork}, cal, "2019-02-26T09:00")
    report, new = pw.monthly_report(session, keywork, cal, "2019-02")
    session.commit()
    by_dept = {d["dept"]: d for d in report["departments"]}
    assert report["report_day"] == "2019-02-25" and new
    assert by_dept["区金融办"]["due"] == 1 and by_dept["区金融办"]["arrived"] == 1
    assert by_dept["区国资委"]["due"] == 1 and by_dept["区国资委"]["arrived"] == 0  # late: not in by the 25th
    # the documents: the 区政府办公室's numbers, the year's words, nothing of the 十四五 preparation
    for n in session.exec(select(Notice).where(Notice.status == "draft")).all():
        gaps = nt.missing(n.data, n.kind)
        pw.sign_document(session, keywork, notice=n.id, as_of="2019-02-26T17:00", by=COORD,
                         changes={g: "（演示）" + g for g in gaps})
    session.commit()
    issued = session.exec(select(Notice).where(Notice.status == "issued").order_by(Notice.id)).all()
    assert {n.kind for n in issued} == {"stage_notice", "monthly_report"}
    assert any(n.doc_number and n.doc_number.startswith("长府办〔2019〕") for n in issued)
    for n in issued:
        _n, md = nt.render_notice(session, n.id, "md")
        text = md.decode("utf-8")
        assert "十四五" not in text and "发展和改革委员会" not in text
        assert "上海市长宁区人民政府办公室" in text
    brief = next(n for n in issued if n.kind == "monthly_report")
    assert "区金融办" in nt.render_notice(session, brief.id, "md")[1].decode("utf-8")
