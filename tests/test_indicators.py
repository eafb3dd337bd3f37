"""The 纲要's indicators after adoption (stages.engine.indicators): each year's actual judged against the path from base to
target, 约束性 ones flagged (预警) when off it; actuals recorded directly (record) or reported with a yearly report
(submit --figure), shown by indicator_board and `plancycle indicators`. Services are called directly on an
in-memory database, the CLI in this process on a temporary SQLite file; no Prefect."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from stages.engine import indicators as ix
from stages.paperwork import drafting as pw
from stages import engine as sv
from stages.store.rows import run_rows
from stages.ground.errors import NotFound, PlancycleError
from stages.rules.identity import Forbidden
from stages.store.models import AuditEvent, Figure, Notice
from stages.definition.spec import IndicatorSpec

from .conftest import PUTUO, run_main

COORD = "区发改委"


def ind(**kw) -> IndicatorSpec:
    base = dict(id="x", name="示例指标", kind="预期性", unit="%")
    return IndicatorSpec(**{**base, **kw})


RD = ind(measure="level", base=2.5, base_year=2020, target=3.0, target_year=2025)  # +0.1 a year
RD_TOL = ind(measure="level", base=2.5, base_year=2020, target=3.0, target_year=2025, tolerance=0.1)
PM = ind(kind="约束性", unit="微克/立方米", measure="level", base=33, base_year=2020, target=28, target_year=2025,
         direction="down")  # −1 a year
GDP = ind(measure="yearly", target=6, target_year=2025, tolerance=0.5)
ENERGY = ind(kind="约束性", measure="yearly", target=3, target_year=2025)
JOBLESS = ind(measure="yearly", target=5, target_year=2025, direction="down")


@pytest.mark.parametrize("spec,year,actual,expected,status,warning", [
    # a level on the straight path from base to target
    (RD, 2021, 2.6, 2.6, "on_track", False),
    (RD, 2021, 2.5, 2.6, "behind", False),           # 预期性: tracked, no 预警
    (RD, 2023, 2.9, 2.8, "ahead", False),
    (RD_TOL, 2021, 2.55, 2.6, "on_track", False),     # within the tolerance
    (RD_TOL, 2021, 2.45, 2.6, "behind", False),
    (RD, 2025, 3.0, 3.0, "met", False),               # the target year: met or not
    (RD, 2025, 2.95, 3.0, "not_met", False),
    (RD, 2026, 3.1, 3.0, "met", False),               # after it: held against the target
    # down: less is better
    (PM, 2022, 31, 31, "on_track", False),
    (PM, 2022, 30, 31, "ahead", False),
    (PM, 2022, 32, 31, "behind", True),               # 约束性 behind its path: 预警
    (PM, 2025, 28, 28, "met", False),
    (PM, 2025, 29, 28, "not_met", True),              # 约束性 not met at the end: 预警
    # yearly: each year's own figure against the target
    (GDP, 2021, 5.6, 6, "on_track", False),           # 6%左右
    (GDP, 2021, 5.4, 6, "behind", False),
    (GDP, 2022, 6.6, 6, "ahead", False),
    (GDP, 2025, 5.6, 6, "met", False),
    (GDP, 2025, 5.4, 6, "not_met", False),
    (ENERGY, 2021, 2.9, 3, "behind", True),
    (ENERGY, 2021, 3.0, 3, "on_track", False),
    (JOBLESS, 2023, 4.5, 5, "ahead", False),
    (JOBLESS, 2023, 5.2, 5, "behind", False),
    (JOBLESS, 2025, 5.0, 5, "met", False),
    # nothing to judge
    (PM, 2021, None, 32, "no_data", False),
    (ind(measure="yearly"), 2021, 4.0, None, "no_target", False),
])
def test_judge(spec, year, actual, expected, status, warning):
    j = ix.judge(spec, year, actual)
    assert j["expected"] == pytest.approx(expected) if expected is not None else j["expected"] is None
    assert (j["status"], j["warning"]) == (status, warning)
    assert j["label"] == ix.STATUS_ZH[status]
    assert j["year"] == year and j["actual"] == actual


def test_labels_are_the_glossarys():
    assert ix.STATUS_ZH == {"on_track": "符合预期", "behind": "滞后于预期", "ahead": "好于预期", "met": "已完成",
                            "not_met": "未完成", "no_data": "暂无数据", "no_target": "无目标值"}
    assert ix.judge(RD, 2021, 2.5)["gap"] == pytest.approx(-0.1)  # negative: worse than expected
    assert ix.judge(PM, 2022, 30)["gap"] == pytest.approx(1)      # down: below the path is better


# -- the monitoring cycle's run ------------------------------------------------------------------------------------
@pytest.fixture
def run(putuo_run):  # seed 003's run, made on 2021-03-01 (conftest)
    return putuo_run


def figures(session):
    return session.exec(select(Figure)).all()


def test_record_writes_a_figure_and_an_audit_event(run, putuo):
    out = ix.record(run, putuo, indicator="gdp-growth", year=2021, value=7.2, by=COORD, as_of="2022-01-20",
                    source="区统计局统计公报")
    run.commit()
    assert out.changed and out.target == "indicator:gdp-growth"
    assert out.data["judgement"]["status"] == "ahead" and out.notices == []
    [f] = figures(run)
    assert (f.subject, f.of, f.period, f.value, f.unit, f.by, f.source) == (
        "indicator:gdp-growth", "gdp-growth", "2021", 7.2, "%", COORD, "区统计局统计公报")
    ev = run.exec(select(AuditEvent).where(AuditEvent.action == "indicator.recorded")).one()
    assert ev.target == "indicator:gdp-growth" and ev.data["request"]["value"] == 7.2
    assert ev.data["judgement"]["status"] == "ahead" and out.audit_ids == [ev.id]
    # the same request again: nothing changes
    again = ix.record(run, putuo, indicator="地区生产总值年均增长", year=2021, value=7.2, by=COORD,
                      as_of="2022-01-21", source="区统计局统计公报")
    assert not again.changed and len(figures(run)) == 1
    # a corrected value is a new row, and wins
    fixed = ix.record(run, putuo, indicator="gdp-growth", year=2021, value=6.9, by=COORD, as_of="2022-03-01")
    run.commit()
    assert fixed.data["previous"]["value"] == 7.2 and len(figures(run)) == 2
    b = ix.indicator_board(putuo, run_rows(run, putuo).figures, "2022-03-02")
    gdp = next(i for i in b["indicators"] if i["id"] == "gdp-growth")
    assert [(a["year"], a["value"]) for a in gdp["actuals"]] == [(2021, 6.9)]
    early = ix.indicator_board(putuo, run_rows(run, putuo).figures, "2022-02-01")  # before the correction
    assert next(i for i in early["indicators"] if i["id"] == "gdp-growth")["actuals"][0]["value"] == 7.2


def test_who_may_record(run, putuo):
    ix.record(run, putuo, indicator="pm25", year=2021, value=32, by="区生态环境局", as_of="2022-01-20")  # its lead
    with pytest.raises(Forbidden, match="^“细颗粒物（PM2.5）年均浓度”由区生态环境局报送，cli 代 区统计局无权录入$"):
        ix.record(run, putuo, indicator="pm25", year=2021, value=32, by="区统计局", as_of="2022-01-20")
    with pytest.raises(Forbidden):
        ix.record(run, putuo, indicator="gdp-growth", year=2021, value=6, by="长风新村街道", as_of="2022-01-20")
    assert [f.by for f in figures(run)] == ["区生态环境局"]


@pytest.mark.parametrize("kw,error,message", [
    ({"indicator": "gdp"}, NotFound, "未知指标：“gdp”（本周期指标：gdp-growth、fiscal-revenue、retail-sales、rd-ratio、"
                                       "energy-intensity、pm25、water-quality、new-jobs、unemployment、life-expectancy）"),
    ({"year": 2019}, PlancycleError, "“细颗粒物（PM2.5）年均浓度”只能录入 2020—2026 年的数值，2019 年不在此范围内"),
    ({"year": 2027}, PlancycleError, "“细颗粒物（PM2.5）年均浓度”只能录入 2020—2026 年的数值，2027 年不在此范围内"),
    ({"year": "二〇二一"}, PlancycleError, "“细颗粒物（PM2.5）年均浓度”的年份“二〇二一”不是有效年份，请填写四位数年份（如 2021）"),
    ({"year": ""}, PlancycleError, "请填写“细颗粒物（PM2.5）年均浓度”数值所属的年份（如 2021）"),
    ({"value": float("nan")}, PlancycleError, "“细颗粒物（PM2.5）年均浓度”2021 年填写的“nan”不是有效数字，请只填写数字（如 6.5）"),
    ({"value": float("inf")}, PlancycleError, "“细颗粒物（PM2.5）年均浓度”2021 年填写的“inf”不是有效数字，请只填写数字（如 6.5）"),
    ({"value": "七"}, PlancycleError, "“细颗粒物（PM2.5）年均浓度”2021 年填写的“七”不是有效数字，请只填写数字（如 6.5）"),
    ({"value": ""}, PlancycleError, "请填写“细颗粒物（PM2.5）年均浓度”2021 年的数值"),
])
def test_record_refuses(run, putuo, kw, error, message):
    args = {"indicator": "pm25", "year": 2021, "value": 30.0, "by": COORD, "as_of": "2022-01-20", **kw}
    with pytest.raises(error) as refused:
        ix.record(run, putuo, **args)
    assert str(refused.value) == message
    assert figures(run) == []
    assert run.exec(select(AuditEvent).where(AuditEvent.action == "indicator.recorded")).all() == []


def test_a_binding_indicator_off_its_path_warns_the_coordinator(run, putuo):
    out = ix.record(run, putuo, indicator="pm25", year=2021, value=33, by=COORD, as_of="2022-01-20")
    [n] = out.notices
    assert n["kind"] == "indicator_warning" and n["to"] == [COORD] and n["about"] == "indicator:pm25"
    assert n["status"] == "behind" and n["expected"] == pytest.approx(32.4)
    pw.after(run, putuo, out, as_of="2022-01-20")  # the paperwork keeps it as a record, drafts nothing
    run.commit()
    rec = run.exec(select(Notice).where(Notice.kind == "indicator_warning")).one()
    assert rec.status == "record" and rec.recipients == [COORD]
    # an indicative one off its path is tracked, not warned about
    assert ix.record(run, putuo, indicator="gdp-growth", year=2021, value=4, by=COORD,
                     as_of="2022-01-20").notices == []
    b = ix.indicator_board(putuo, run_rows(run, putuo).figures, "2022-01-21")
    assert [w["indicator"] for w in b["warnings"]] == ["pm25"]
    gdp = next(i for i in b["indicators"] if i["id"] == "gdp-growth")
    assert gdp["judgement"]["status"] == "behind" and not gdp["warning"]


def test_a_yearly_report_with_figures_shows_on_the_board(run, putuo):
    out = sv.submit(run, putuo, item="monitor-sthjj", milestone="y2021", by="区生态环境局", as_of="2022-01-25T10:00",
                    figures=[{"of": "pm25", "value": 31.8}, {"of": "地表水优Ⅲ类水体比例", "value": 45, "unit": "%"}],
                    report={"progress": "PM2.5年均浓度下降", "problems": "臭氧污染上升", "next": "加强移动源治理"})
    run.commit()
    assert out.changed
    rows = run_rows(run, putuo).figures
    b = ix.indicator_board(putuo, rows, "2022-02-01")
    by_id = {i["id"]: i for i in b["indicators"]}
    pm = by_id["pm25"]
    assert pm["actuals"] == [{"year": 2021, "value": 31.8, "unit": "微克/立方米", "source": pm["source"],
                              "by": "区生态环境局", "at": "2022-01-25T10:00:00", "expected": pytest.approx(32.4),
                              "status": "ahead", "label": "好于预期", "warning": False}]
    assert pm["judgement"]["year"] == 2021 and pm["judgement"]["status"] == "ahead"
    assert by_id["water-quality"]["actuals"][0]["value"] == 45
    assert by_id["gdp-growth"]["judgement"]["status"] == "no_data" and by_id["gdp-growth"]["actuals"] == []
    assert b["years"] == [2021, 2022, 2023, 2024, 2025]
    assert b["counts"]["by_status"]["ahead"] == 2 and b["counts"]["by_status"]["no_data"] == 8
    # plain rows (dicts) give the same board; figures recorded after as_of do not count
    plain = [{k: getattr(f, k) for k in ("subject", "of", "period", "value", "unit", "source", "by", "at")}
             for f in rows]
    assert ix.indicator_board(putuo, plain, "2022-02-01") == b
    assert ix.indicator_board(putuo, rows, "2022-01-24")["indicators"][5]["actuals"] == []


def test_a_figure_for_no_year_is_listed_not_judged(putuo):
    import datetime as dt

    rows = [{"subject": "indicator:pm25", "of": "pm25", "period": "2021-06", "value": 35.0, "unit": "",
             "by": "区生态环境局", "at": dt.datetime(2021, 7, 1, 9)}]
    pm = next(i for i in ix.indicator_board(putuo, rows, "2021-08-01")["indicators"] if i["id"] == "pm25")
    assert pm["actuals"] == [] and pm["other_figures"][0]["period"] == "2021-06"
    assert pm["judgement"]["status"] == "no_data" and pm["judgement"]["year"] == 2021


# -- the command line ----------------------------------------------------------------------------------------------
def cli(capsys, *args) -> tuple[int, str, str]:
    return run_main(args, capsys)


def test_plancycle_indicators_json(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PLANCYCLE_SPEC_CACHE", "0")
    db = f"sqlite:///{tmp_path / 'm.db'}"
    assert cli(capsys, "--db", db, "init", PUTUO, "--as-of", "2021-03-01")[0] == 0
    code, out, _ = cli(capsys, "--db", db, "indicator", "record", "pm25", 2021, 33, "--by", "区生态环境局",
                       "--as-of", "2022-01-21", "--source", "环境质量公报", "--json")
    rec = json.loads(out)
    assert code == 0 and rec["changed"] and rec["data"]["judgement"]["status"] == "behind"
    assert set(rec) == {"action", "target", "changed", "message", "message_code", "opened", "completed",
                        "gates_ready", "stages", "notices", "audit_ids", "data"}
    assert rec["message_code"] == "engine.indicator_recorded"
    assert rec["message"] == "区生态环境局已录入：细颗粒物（PM2.5）年均浓度 2021 年 33微克/立方米（滞后于预期，约束性指标预警）"
    assert {"indicator", "name", "year", "value", "unit", "source", "judgement", "previous"} <= set(rec["data"])
    assert cli(capsys, "--db", db, "indicator", "record", "gdp-growth", 2021, "7.2%", "--as-of", "2022-01-21")[0] == 0
    code, out, _ = cli(capsys, "--db", db, "indicator", "record", "gdp-growth", 2020, "-0.8", "--as-of", "2022-01-21")
    assert code == 0 and "-0.8%" in out  # a negative VALUE is a value, not an option
    code, out, _ = cli(capsys, "--db", db, "indicators", "--json", "--as-of", "2022-02-01")
    data = json.loads(out)
    assert code == 0
    assert set(data) == {"cycle", "as_of", "years", "indicators", "warnings", "counts"}
    assert set(data["counts"]) == {"indicators", "by_status", "warnings"}
    first = data["indicators"][0]
    assert set(first) == {"id", "name", "category", "kind", "unit", "measure", "direction", "tolerance", "base",
                          "base_year", "target", "target_year", "lead", "source", "note", "actuals",
                          "other_figures", "judgement", "warning"}
    assert set(first["actuals"][0]) == {"year", "value", "unit", "source", "by", "at", "expected", "status",
                                        "label", "warning"}
    assert set(first["judgement"]) == {"indicator", "name", "kind", "unit", "year", "actual", "expected", "gap",
                                       "status", "label", "warning"}
    assert [w["indicator"] for w in data["warnings"]] == ["pm25"]
    code, out, _ = cli(capsys, "--db", db, "indicators", "--json", "--warnings", "--as-of", "2022-02-01")
    assert [i["id"] for i in json.loads(out)["indicators"]] == ["pm25"]
    code, out, _ = cli(capsys, "--db", db, "indicators", "--as-of", "2022-02-01")
    assert code == 0 and "预警" in out and "滞后于预期" in out and "示例值" in out
    # refusals are one line, exit 2, nothing written
    for args, said in ((("nope", 2021, 1), "unknown indicator"), (("pm25", 2021, "nan"), "is not a number"),
                       (("pm25", 2031, 30), "“细颗粒物（PM2.5）年均浓度”只能录入 2020—2026 年的数值，2031 年不在此范围内")):
        # the first two are the CLI's own checks (its words, not the engine's), the third the engine's refusal
        code, out, err = cli(capsys, "--db", db, "indicator", "record", *args, "--as-of", "2022-01-22")
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and said in err
