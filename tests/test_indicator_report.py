"""The yearly 《纲要》主要指标监测情况 (stages.paperwork.drafting.indicator_report, `plancycle report indicators`): seed 003's
将《纲要》提出的主要指标纳入年度计划指标体系…加强中期评估 as one drafted document a year — every indicator with the
figure recorded on or before the report's day (暂无数据 where there is none, never a guess), the 预警 ones named, the
illustrative note shown. Services on an in-memory SQLite, the CLI in this process on a temporary SQLite file; no
Prefect."""

from __future__ import annotations

import io
import json
import re

import pytest
from docx import Document
from sqlmodel import select

from stages.engine import indicators as ix
from stages.paperwork import notices as nt
from stages.paperwork import drafting as pw
from stages.ground.errors import PlancycleError
from stages.store.models import AuditEvent, Notice

from .conftest import PUTUO, run_main
from .test_notices import check_layout, document_problems, geometry

COORD = "区发改委"
# 2022's figures: PM2.5 (约束性) behind its path (33 → 30 over 2020–2025: 31.8 expected in 2022), 区级一般公共预算收入
# (预期性) behind, 户籍人口平均预期寿命 without a 2022 value
VALUES_2022 = {"gdp-growth": 6.3, "fiscal-revenue": 4.2, "retail-sales": 5.1, "rd-ratio": 2.8, "energy-intensity": 3.1,
               "pm25": 32.5, "water-quality": 50, "new-jobs": 2.6, "unemployment": 4.6}
FILL = {"contact_person": "陈某（发展规划科）", "contact_phone": "021-52560000", "contact_email": "ghk@example.cn",
        "contact_address": "普陀区大渡河路1668号", "signer": "王某某"}


@pytest.fixture
def run(putuo_run, putuo):
    session = putuo_run
    for iid, value in VALUES_2022.items():
        ix.record(session, putuo, indicator=iid, year=2022, value=value, by=COORD, as_of="2023-01-20")
    # a 2021 value does not stand for 2022, and a 2022 value recorded after the report's day does not count
    ix.record(session, putuo, indicator="life-expectancy", year=2021, value=84.1, by=COORD, as_of="2022-01-20")
    ix.record(session, putuo, indicator="life-expectancy", year=2022, value=84.3, by=COORD, as_of="2023-03-01")
    session.commit()
    return session


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (一、总体情况 …) up to the next heading of its level."""
    start = text.index(f"## {heading}")
    nxt = text.find("\n## ", start + 1)
    return text[start: nxt if nxt >= 0 else len(text)]


def md(session, notice_id: int) -> str:
    return nt.render_notice(session, notice_id, "md")[1].decode()


def test_the_report_states_every_indicator_from_the_recorded_figures(run, putuo):
    n, made = pw.indicator_report(run, putuo, 2022, as_of="2023-02-10T10:00")
    run.commit()
    assert made and n.kind == "indicator_report" and n.status == "draft" and n.doc_number is None
    assert n.title == "关于《纲要》主要指标2022年度监测情况的报告"
    assert n.data["genre"] == "报告" and n.recipients == ["区政府"] and n.about == "2022"
    text = md(run, n.id)
    assert "区政府：" in text and "签发人" in text
    # 一、总体情况: how many in each judgement, the 约束性 ones by name
    one = section(text, "一、总体情况")
    assert "主要指标共10项，其中约束性指标3项、预期性指标7项" in one and "已取得2022年度数据的指标9项" in one
    assert "好于预期5项、符合预期2项、滞后于预期2项、暂无数据1项" in one
    for name in ("单位地区生产总值能耗下降", "细颗粒物（PM2.5）年均浓度", "地表水优Ⅲ类水体比例"):
        assert name in one
    assert "细颗粒物（PM2.5）年均浓度滞后于预期（预警）" in one
    # 二、 and the 附件 table: every indicator, in the cycle file's order, 暂无数据 for the one without a 2022 value
    two = section(text, "二、主要指标监测情况")
    assert "暂无数据的指标：户籍人口平均预期寿命。" in two and "见附件" in two
    assert "注：示例值：本文件的指标数值为演示用，正式使用前按《纲要》主要指标表填写。" in two  # the illustrative note, visible
    assert "单位地区生产总值能耗下降：完成市下达目标" in two
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[0] == "| 指标 | 属性 | 单位 | 基期值 | 实际值 | 目标值 | 判断 |"
    rows = {cells[0]: cells for cells in ([c.strip() for c in r.strip("|").split("|")] for r in table[1:])}
    assert list(rows) == [i.name for i in putuo.file.indicators]
    assert rows["户籍人口平均预期寿命"] == ["户籍人口平均预期寿命", "预期性", "岁", "84", "暂无数据", "84.5", "暂无数据"]
    assert rows["细颗粒物（PM2.5）年均浓度"] == ["细颗粒物（PM2.5）年均浓度", "约束性", "微克/立方米", "33", "32.5", "30",
                                         "滞后于预期（预警）"]
    assert rows["单位地区生产总值能耗下降"][3] == "—"  # no base in the file: none printed
    assert "实际值为2022年数值，基期值为2020年数值，目标值为2025年目标" in text
    # 三、需要关注的问题: the 预警 one with its actual, its expected value on the path and its lead unit
    three = section(text, "三、需要关注的问题")
    assert re.search(r"1\.细颗粒物（PM2\.5）年均浓度（约束性指标，预警）。2022年实际32\.5微克/立方米，.*预期为31\.8微克/立方米，"
                     r"滞后于预期。牵头单位：区生态环境局。", three)
    assert "区级一般公共预算收入年均增长2022年实际4.2%，预期为5%（牵头单位：区财政局）" in three
    assert "3.暂无2022年度数据的指标1项：户籍人口平均预期寿命，请区卫健委及时报送。" in three
    four = section(text, "四、下一步工作")
    assert "区发改委将会同各指标牵头单位" in four and "督促区生态环境局" in four and "“十四五”规划" in four
    assert "附件：《纲要》主要指标2022年度监测情况表" in text
    ev = run.exec(select(AuditEvent).where(AuditEvent.action == "report.indicators")).one()
    assert ev.target == "2022" and ev.data["notice"] == n.id and ev.data["warnings"] == ["细颗粒物（PM2.5）年均浓度"]


def test_signed_it_reads_right_and_keeps_the_layout(run, putuo):
    n, _ = pw.indicator_report(run, putuo, 2022, as_of="2023-02-10T10:00")
    with pytest.raises(PlancycleError) as exc:  # the settings' 签发人 is a placeholder
        pw.sign_document(run, putuo, notice=n.id, as_of="2023-02-12T10:00", by=COORD)
    assert str(exc.value) == f"文件暂不能签发：“联系人”、“联系电话”、“签发人”尚未填写或仍为占位内容，请先补充（文件 {n.id}）"
    run.rollback()
    n, _ = pw.indicator_report(run, putuo, 2022, as_of="2023-02-10T10:00")
    pw.sign_document(run, putuo, notice=n.id, as_of="2023-02-12T10:00", by=COORD, changes=FILL)
    run.commit()
    n = run.get(Notice, n.id)
    assert n.status == "issued" and n.doc_number == "普发改〔2023〕1号"  # from the register, at 签发
    text = md(run, n.id)
    assert document_problems({"indicator_report": text}, issuer=COORD) == []
    data = nt.render_notice(run, n.id)[1]
    geometry(data, masthead=True, imprint=True)
    # the checklist of test_every_kind_reads_right names the shipped 长宁 organ as the 署名; the page is the same
    # whatever the organ's name, so it is applied to this document signed under that name
    organ = {**n.data["organ"], "name": "上海市长宁区发展和改革委员会"}
    d, texts = check_layout(nt.render("indicator_report", {**n.data, "organ": organ}), numbered=True)
    assert "普发改〔2023〕1号\t签发人：王某某" in texts[:4]
    paras = [p.text for p in Document(io.BytesIO(data)).paragraphs if p.text.strip()]
    date = paras.index("2023年2月12日")
    assert paras[date - 1] == "上海市普陀区发展和改革委员会" and paras[date + 1].startswith("（联系人：陈某")
    table = Document(io.BytesIO(data)).tables[0]
    assert len(table.rows) == 1 + len(putuo.file.indicators)


def test_the_same_report_twice_drafts_once(run, putuo):
    first, made = pw.indicator_report(run, putuo, 2022, as_of="2023-02-10")
    again, made_again = pw.indicator_report(run, putuo, 2022, as_of="2023-02-20")
    run.commit()
    assert made and not made_again and again.id == first.id
    assert len(run.exec(select(Notice).where(Notice.kind == "indicator_report")).all()) == 1
    assert len(run.exec(select(AuditEvent).where(AuditEvent.action == "report.indicators")).all()) == 1
    # another year is another report
    other, made_other = pw.indicator_report(run, putuo, 2021, as_of="2023-02-20")
    assert made_other and other.id != first.id and other.title == "关于《纲要》主要指标2021年度监测情况的报告"
    assert "暂无数据的指标：" in md(run, other.id)


@pytest.mark.parametrize("year,as_of,said", [
    (2019, "2023-02-10", "2019年不在指标监测期内（“十四五”规划纲要实施和监测评估工作的监测年份：2021—2025年）"),
    (2027, "2028-02-10", "2027年不在指标监测期内（“十四五”规划纲要实施和监测评估工作的监测年份：2021—2025年）"),
    (2022, "2022-12-31", "2022年至 2022-12-31 尚未结束：该年度指标监测情况报告自 2023-01-01 起方可起草"),
])
def test_a_year_without_monitoring_is_refused(run, putuo, year, as_of, said):
    with pytest.raises(PlancycleError) as exc:
        pw.indicator_report(run, putuo, year, as_of=as_of)
    assert str(exc.value) == said
    assert run.exec(select(Notice).where(Notice.kind == "indicator_report")).all() == []


def test_a_briefing_and_the_offices_own_next_steps_by_setting(run, putuo, monkeypatch):
    cfg = nt.load_config(putuo.notices_path)
    docs = {**cfg["documents"], "indicator_report": {"genre": "简报", "next": "下一步，将结合年度计划编制抓好落实。"}}
    monkeypatch.setattr(pw.nt, "load_config", lambda path=None: {**cfg, "documents": docs})
    n, made = pw.indicator_report(run, putuo, 2022, as_of="2023-02-10")
    assert made and n.data["genre"] == "简报" and not n.data["numbered"]
    text = md(run, n.id)
    assert n.title == "《纲要》主要指标2022年度监测情况" and "签发人" not in text and "特此报告" not in text
    assert section(text, "四、下一步工作").split("\n\n")[1] == "下一步，将结合年度计划编制抓好落实。"
    assert document_problems({"briefing": text}, issuer=COORD) == []


# -- the command line ----------------------------------------------------------------------------------------------
def cli(capsys, *args) -> tuple[int, str, str]:
    return run_main(args, capsys)


def test_plancycle_report_indicators(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PLANCYCLE_SPEC_CACHE", "0")
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert cli(capsys, "--db", db, "init", PUTUO, "--as-of", "2021-03-01")[0] == 0
    assert cli(capsys, "--db", db, "indicator", "record", "pm25", 2022, "32.5", "--as-of", "2023-01-20")[0] == 0
    code, out, _ = cli(capsys, "--db", db, "report", "indicators", "--year", 2022, "--as-of", "2023-02-10", "--json")
    data = json.loads(out)
    assert code == 0 and data["drafted"] and data["kind"] == "indicator_report" and data["genre"] == "报告"
    assert set(data) == {"id", "kind", "genre", "status", "number", "title", "year", "drafted", "counts", "warnings"}
    assert data["counts"] == {"滞后于预期": 1, "暂无数据": 9} and data["warnings"] == ["细颗粒物（PM2.5）年均浓度"]
    code, out, _ = cli(capsys, "--db", db, "report", "indicators", "--year", 2022, "--as-of", "2023-02-11")
    assert code == 0 and out.startswith(f"已起草过：报告 #{data['id']}（草稿）：关于《纲要》主要指标2022年度监测情况的报告\n")
    code, out, err = cli(capsys, "--db", db, "report", "indicators", "--year", 2019, "--as-of", "2023-02-11")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err == "plancycle：错误：2019年不在指标监测期内（“十四五”规划纲要实施和监测评估工作的监测年份：2021—2025年）\n"
    sets = [a for k, v in FILL.items() for a in ("--set", f"{k}={v}")]
    code, out, _ = cli(capsys, "--db", db, "notice", "sign", data["id"], *sets, "--as-of", "2023-02-12T10:00")
    assert code == 0 and "普发改〔2023〕1号" in out
