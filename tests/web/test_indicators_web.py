"""The 纲要's 主要指标 in the console (/indicators, /api/indicators): seed 003's monitoring of Putuo's 十四五 纲要.

Leaders and the planning office read the ten indicators with their 属性, base and target, each year's actual and
the judgement; a 约束性 indicator off its path is marked 预警 in words. The coordinator records any indicator's
yearly actual and a unit only those it leads; a bad year or number, or a unit that does not lead the indicator,
is one Chinese line on the page with nothing stored.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlmodel import Session, create_engine, select

from .conftest import PASSWORD, make_console_db

ROOT = Path(__file__).resolve().parents[2]
PUTUO = ROOT / "config" / "cycles" / "putuo-14th-monitoring.yaml"
USERS = (("coord", "coordinator", None, "规划科王科长"), ("tjj", "department", "区统计局", "统计局李"),
         ("swj", "department", "区商务委", "商务委赵"), ("boss", "leader", None, "分管副区长"))
# (id, name, 属性, 目标值) as the cycle file gives them
TEN = (("gdp-growth", "地区生产总值年均增长", "预期性", "6"), ("fiscal-revenue", "区级一般公共预算收入年均增长", "预期性", "5"),
       ("retail-sales", "社会消费品零售总额年均增长", "预期性", "5"),
       ("rd-ratio", "全社会研发经费支出占地区生产总值比重", "预期性", "3.2"),
       ("energy-intensity", "单位地区生产总值能耗下降", "约束性", "3"), ("pm25", "细颗粒物（PM2.5）年均浓度", "约束性", "30"),
       ("water-quality", "地表水优Ⅲ类水体比例", "约束性", "60"), ("new-jobs", "新增就业岗位", "预期性", "2.5"),
       ("unemployment", "城镇调查失业率", "预期性", "5"), ("life-expectancy", "户籍人口平均预期寿命", "预期性", "84.5"))


@pytest.fixture(scope="module")
def putuo_db(tmp_path_factory):
    """One run of the monitoring cycle made on 2021-03-01; each test copies it."""
    return Path(make_console_db(tmp_path_factory.mktemp("pt") / "pt.db", "2021-03-01", PUTUO,
                                users=USERS)[len("sqlite:///"):])


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def pt(putuo_db, tmp_path):
    """(sign-in, database URL) for a console on a copy of the run, its clock at 2022-03-01."""
    from fastapi.testclient import TestClient

    from app.web.server import create_app

    db = tmp_path / "pt.db"
    shutil.copy(putuo_db, db)
    url = f"sqlite:///{db}"
    app = create_app(url, as_of="2022-03-01", flows="direct")

    def sign_in(username: str):
        c = TestClient(app, raise_server_exceptions=False)
        r = c.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": _csrf(c.get("/login").text)},
                   follow_redirects=False)
        assert r.status_code == 303, r.text[:300]
        c.tok = _csrf(c.get("/inbox").text)
        return c

    return sign_in, url


def _record(c, indicator, year, value, source=""):
    return c.post("/indicators/record", data={"csrf_token": c.tok, "indicator": indicator, "year": str(year),
                                              "value": value, "source": source}, follow_redirects=False)


def _figures(url: str) -> list:
    eng = create_engine(url)
    try:
        with Session(eng) as s:
            from stages.store.models import Figure

            return [(f.subject, f.period, f.value, f.by) for f in s.exec(select(Figure)).all()]
    finally:
        eng.dispose()


def _row(html: str, iid: str) -> str:
    """The visible text of one indicator's row."""
    m = re.search(rf'<tr id="ind-{re.escape(iid)}"[^>]*>(.*?)</tr>', html, re.S)
    assert m, iid
    return _text(m.group(1))


def test_page_lists_the_ten_indicators_with_kind_base_and_target(pt):
    sign_in, _url = pt
    boss = sign_in("boss")
    home = boss.get("/").text
    assert 'href="/indicators"' in home and "主要指标" in home  # the nav links it: this cycle has indicators
    r = boss.get("/indicators")
    assert r.status_code == 200
    for iid, name, kind, target in TEN:
        row = _row(r.text, iid)
        assert name in row and kind in row, row
        assert f" {target} " in row, (target, row)
    assert "基期值" in r.text and "目标值" in r.text and "判断" in r.text and "预警" in r.text
    assert _row(r.text, "pm25").count("33") == 1  # PM2.5's base value, 2020
    text = _text(r.text)
    assert "10项指标：暂无数据10；预警0项" in text.replace(" ", "")  # nothing reported yet
    # the illustrative-values note, once, as a footnote; what one indicator adds to it, at its row
    assert text.count("示例值：本文件的指标数值为演示用，正式使用前按《纲要》主要指标表填写") == 1
    assert "完成市下达目标" in _row(r.text, "energy-intensity")
    assert 'action="/indicators/record"' not in r.text  # a leader reads, records nothing


def test_a_binding_indicator_behind_its_path_shows_a_warning(pt):
    sign_in, url = pt
    coord, tjj = sign_in("coord"), sign_in("tjj")
    r = _record(coord, "energy-intensity", 2021, "2.1%", "区统计局能源统计")  # 约束性, 3% a year: behind
    assert r.status_code == 303
    flash = _text(coord.get(r.headers["location"]).text)
    assert "已录入：单位地区生产总值能耗下降 2021 年 2.1%（滞后于预期，约束性指标预警）" in flash
    assert _record(tjj, "gdp-growth", 2021, "6.8").status_code == 303  # its lead unit: 好于预期
    assert _record(coord, "pm25", 2021, "32.2").status_code == 303  # on the path from 33 to 30
    page = coord.get("/indicators").text
    row = _row(page, "energy-intensity")
    assert "2.1" in row and "滞后于预期" in row and "⚠ 预警" in row
    assert "⚠ 预警" not in _row(page, "gdp-growth") and "好于预期" in _row(page, "gdp-growth")
    assert "符合预期" in _row(page, "pm25") and "⚠ 预警" not in _row(page, "pm25")
    assert "统计局李" not in page and "区统计局" in _row(page, "gdp-growth")
    text = _text(page)
    assert "10项指标：符合预期1、滞后于预期1、好于预期1、暂无数据7；预警1项" in text.replace(" ", "")
    # 只看预警 and 类别
    only = coord.get("/indicators?warn=true").text
    assert re.findall(r'<tr id="ind-([\w-]+)"', only) == ["energy-intensity"]
    green = coord.get("/indicators?category=绿色生态").text
    assert re.findall(r'<tr id="ind-([\w-]+)"', green) == ["energy-intensity", "pm25", "water-quality"]
    assert coord.get("/indicators?category=不存在").status_code == 400
    assert ("indicator:energy-intensity", "2021", 2.1, "区发改委") in _figures(url)


def test_a_unit_records_only_what_it_leads_and_bad_input_changes_nothing(pt):
    sign_in, url = pt
    swj = sign_in("swj")
    page = swj.get("/indicators").text
    options = re.findall(r'<option value="([\w-]+)"', page.split('action="/indicators/record"')[1].split("</form>")[0])
    assert options == ["retail-sales"]  # the form offers only what 区商务委 leads
    before = _figures(url)
    r = _record(swj, "energy-intensity", 2021, "2.5")  # led by 区发改委
    assert r.status_code == 403
    assert "“单位地区生产总值能耗下降”由区发改委报送，商务委赵（区商务委）无权录入" in _text(r.text)
    assert swj.post("/api/indicators/record", data={"csrf_token": swj.tok, "indicator": "energy-intensity",
                                                    "year": "2021", "value": "2.5"}).status_code == 403
    for year, value, said, status in (
            (2021, "abc", "“社会消费品零售总额年均增长”2021 年填写的“abc”不是有效数字", 400),
            (2031, "4.5", "“社会消费品零售总额年均增长”只能录入 2020—2026 年的数值，2031 年不在此范围内", 400),
            ("二〇二一", "4.5", "“社会消费品零售总额年均增长”的年份“二〇二一”不是有效年份", 400),
            (2021, "", "请填写“社会消费品零售总额年均增长”2021 年的数值", 400)):
        r = _record(swj, "retail-sales", year, value)
        assert r.status_code == status, (year, value, r.status_code)
        errors = re.findall(r'<p class="error"[^>]*>([^<]+)</p>', r.text)
        assert len(errors) == 1 and said in errors[0], (errors, said)
        assert "Traceback" not in r.text and "is not" not in r.text
    assert _record(swj, "no-such", 2021, "1").status_code == 400
    assert _figures(url) == before  # nothing stored
    leader = sign_in("boss")
    r = leader.post("/indicators/record", data={"csrf_token": leader.tok, "indicator": "retail-sales", "year": "2021",
                                                "value": "4"})
    assert r.status_code == 403 and _figures(url) == before
    r = _record(swj, "retail-sales", 2021, "４.６％")  # full-width, with its unit: read as 4.6
    assert r.status_code == 303
    assert ("indicator:retail-sales", "2021", 4.6, "区商务委") in _figures(url)


def test_api_fields(pt):
    sign_in, _url = pt
    coord = sign_in("coord")
    assert _record(coord, "water-quality", 2021, "41", "区生态环境局环境质量公报").status_code == 303  # path: 44
    j = coord.get("/api/indicators").json()
    assert set(j) >= {"cycle", "as_of", "years", "years_shown", "indicators", "warnings", "counts", "categories",
                      "filters", "note", "recordable"}
    assert j["cycle"]["id"] == "putuo-14th-monitoring" and j["as_of"].startswith("2022-03-01")
    assert j["years"] == [2021, 2022, 2023, 2024, 2025] and j["years_shown"] == [2021]
    assert [i["id"] for i in j["indicators"]] == [t[0] for t in TEN]
    assert j["categories"] == ["经济发展", "创新驱动", "绿色生态", "民生福祉"]
    assert len(j["recordable"]) == 10  # the coordinator records any of them
    w = next(i for i in j["indicators"] if i["id"] == "water-quality")
    assert {k: w[k] for k in ("kind", "unit", "base", "base_year", "target", "target_year", "lead", "warning")} == {
        "kind": "约束性", "unit": "%", "base": 40, "base_year": 2020, "target": 60, "target_year": 2025,
        "lead": ["区生态环境局"], "warning": True}
    a = w["actuals"][0]
    assert {k: a[k] for k in ("year", "value", "source", "by", "expected", "status", "label", "warning")} == {
        "year": 2021, "value": 41.0, "source": "区生态环境局环境质量公报", "by": "区发改委", "expected": 44.0,
        "status": "behind", "label": "滞后于预期", "warning": True}
    assert w["judgement"]["status"] == "behind" and w["can_record"] is True
    assert [x["indicator"] for x in j["warnings"]] == ["water-quality"]
    assert j["counts"]["warnings"] == 1 and j["counts"]["by_status"]["behind"] == 1
    assert j["note"].startswith("示例值")
    only = coord.get("/api/indicators?warn=true").json()
    assert [i["id"] for i in only["indicators"]] == ["water-quality"] and only["counts"]["all"] == 10
    tjj = sign_in("tjj").get("/api/indicators").json()
    assert tjj["recordable"] == ["gdp-growth"] and len(tjj["indicators"]) == 10  # every user reads all ten
    out = sign_in("tjj").post("/api/indicators/record", data={"csrf_token": coord.tok, "indicator": "gdp-growth",
                                                             "year": "2021", "value": "6"})
    assert out.status_code == 403  # another session's token


def test_a_cycle_without_indicators_has_no_page_and_no_link(tmp_path):
    from fastapi.testclient import TestClient

    from app.web.server import create_app

    url = make_console_db(tmp_path / "cn.db")  # Changning's 14th: no indicators
    c = TestClient(create_app(url, as_of="2019-06-05", flows="direct"), raise_server_exceptions=False)
    c.post("/login", data={"username": "coord", "password": PASSWORD, "csrf_token": _csrf(c.get("/login").text)})
    assert 'href="/indicators"' not in c.get("/").text
    r = c.get("/indicators")
    assert r.status_code == 404 and "本周期没有监测指标" in r.text
    assert c.get("/api/indicators").json() == {"error": "本周期没有监测指标"}


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_indicators_page_in_a_browser_fits_the_width(browser, putuo_db, tmp_path, width):
    """No sideways scrolling of the page at 390 px: the wide table scrolls in its own box."""
    import threading
    import time

    import uvicorn

    from app.web.server import create_app

    from .conftest import _free_port, shot

    db = tmp_path / "pt.db"
    shutil.copy(putuo_db, db)
    app = create_app(f"sqlite:///{db}", as_of="2024-03-01", flows="direct")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    ctx = browser.new_context(viewport={"width": width, "height": 844}, locale="zh-CN")
    try:
        page = ctx.new_page()
        page.goto(base + "/login")
        page.fill("input[name=username]", "coord")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        for iid, year, value in (("water-quality", "2021", "41"), ("water-quality", "2022", "43"),
                                 ("water-quality", "2023", "47"), ("gdp-growth", "2021", "6.4")):
            page.goto(base + f"/indicators?record={iid}#record")
            page.fill("input[name=year]", year)
            page.fill("input[name=value]", value)
            page.click("form.ind-record button.primary")
            assert "已录入" in page.inner_text(".flash")
        page.goto(base + "/indicators")
        assert "⚠ 预警" in page.inner_text("#ind-water-quality")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot(page, f"indicators-{width}")
        page.goto(base + "/indicators?record=gdp-growth#record")
        page.fill("input[name=value]", "六点五")
        page.click("form.ind-record button.primary")
        assert "不是有效数字" in page.inner_text("#record-error")
        assert page.evaluate("document.activeElement.name") == "value"  # the page opens at the mistake
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        ctx.close()
        server.should_exit = True
