"""The console on schema-2 work: figures against targets, a report's three parts, optional milestones.

A liaison (联络员) of 区金融办 hands in 2019 key work (config/cycles/changning-2019-keywork.yaml) through the item
page's form — one number field per target, 本期进展 / 存在问题 / 下步安排 and the figures a monthly report may carry —
and the board shows 欠/达/超进度; a bad number is refused in one Chinese line with nothing changed. A small cycle with
an optional 修改调整 (tests/web/fixtures/optional.yaml) is woken by the coordinator, and only by the coordinator.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlmodel import Session, create_engine, select

from .conftest import PASSWORD, make_console_db

ROOT = Path(__file__).resolve().parents[2]
KEYWORK = ROOT / "config" / "cycles" / "changning-2019-keywork.yaml"
OPTIONAL = Path(__file__).resolve().parent / "fixtures" / "optional.yaml"
KW_USERS = (("coord", "coordinator", None, "督查科王科长"), ("jrb", "department", "区金融办", "金融办李"),
            ("swj", "department", "区商务委", "商务委赵"))
OPT_USERS = (("coord", "coordinator", None, "规划科王科长"), ("swj", "department", "区商务委", "商务委赵"))


@pytest.fixture(scope="module")
def keywork_db(tmp_path_factory):
    """One run of the key-work cycle made on 2019-02-11 (its 59 tasks and monthly reports open); each test copies it."""
    return Path(make_console_db(tmp_path_factory.mktemp("kw") / "kw.db", "2019-02-11", KEYWORK,
                                users=KW_USERS)[len("sqlite:///"):])


def _clients(url: str, as_of: str):
    from fastapi.testclient import TestClient

    from app.web.server import create_app

    app = create_app(url, as_of=as_of, flows="direct")

    def make(username: str):
        c = TestClient(app, raise_server_exceptions=False)
        tok = _csrf(c.get("/login").text)
        r = c.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": tok},
                   follow_redirects=False)
        assert r.status_code == 303, r.text[:300]
        c.tok = _csrf(c.get("/inbox").text)
        return c

    return make


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def kw(keywork_db, tmp_path):
    """Clients of a console on a copy of the key-work run, its clock at 2019-02-20; and the database URL."""
    db = tmp_path / "kw.db"
    shutil.copy(keywork_db, db)
    url = f"sqlite:///{db}"
    return _clients(url, "2019-02-20"), url


def _text(html: str) -> str:
    """A page's visible text, one space between tags."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _figures(url: str) -> int:
    eng = create_engine(url)
    try:
        with Session(eng) as s:
            from stages.store.models import Figure

            return len(s.exec(select(Figure)).all())
    finally:
        eng.dispose()


def test_a_liaison_reports_figures_through_the_form_and_the_board_shows_progress(kw):
    make, url = kw
    jrb = make("jrb")
    page = _text(jrb.get("/items/t02").text)
    assert "重点项目落地（目标 78家）" in page and "全年目标（目标 25%）" in page  # one field per target
    assert "区级一般公共预算收入（目标 25%）" in _text(jrb.get("/items/t01").text)
    # 76 of 78 projects (full-width digits and the unit typed too), 25% of the year's target
    r = jrb.post("/items/t02/milestones/q1/submit", follow_redirects=False,
                 data={"csrf_token": jrb.tok, "fig:重点项目落地": "７６家", "fig:全年目标": "25"})
    assert r.status_code == 303, _text(r.text)[:300]
    assert "已报送" in _text(jrb.get(r.headers["location"]).text)
    r = jrb.post("/items/t01/milestones/q1/submit", follow_redirects=False,
                 data={"csrf_token": jrb.tok, "fig:区级一般公共预算收入": "25", "note": "财政局口径"})
    assert r.status_code == 303

    board = jrb.get("/api/board").json()
    progress = {it["key"]: it.get("progress_zh") for it in board["items"]}
    assert progress["t02"] == "欠进度" and progress["t01"] == "达进度"
    assert board["counts"]["by_progress"] == {"behind": 1, "on": 1, "ahead": 0}
    html = jrb.get("/").text
    row = re.search(r'<a href="/items/t02">.*?</tr>', html, re.S).group(0)
    assert '<span class="pg behind">欠进度</span>' in row and "经济发展" in html  # the 进度 badge, the 领域
    assert '<span class="pg on">达进度</span>' in re.search(r'<a href="/items/t01">.*?</tr>', html, re.S).group(0)
    assert "目标进度" in _text(html)
    # the item page: target, actual, unit, who reported when, the badge
    page = _text(jrb.get("/items/t02").text)
    assert re.search(r"重点项目落地 ：目标 78家 · 实际 76家 欠进度 区金融办 2019-02-20 报送", page), page[:2000]
    assert re.search(r"全年目标 ：目标 25% · 实际 25% 达进度", page)
    # the coordinator filters the board by 领域
    coord = make("coord")
    eco = coord.get("/api/board?domain=经济发展").json()
    assert eco["items"] and {it["domain"] for it in eco["items"]} == {"经济发展"}
    assert eco["counts"]["items"] == len(eco["items"]) and eco["counts"]["by_progress"]["behind"] == 1
    assert "t02" in coord.get("/?domain=经济发展").text and "/items/t30" not in coord.get("/?domain=经济发展").text
    assert coord.get("/?domain=不存在").status_code == 400
    assert _figures(url) == 3


def test_a_monthly_report_shows_its_three_parts_and_figures(kw):
    make, _url = kw
    jrb = make("jrb")
    page = _text(jrb.get("/items/report-jrb").text)
    for label in ("本期进展", "存在问题", "下步安排"):
        assert label in page
    assert "招留增工作 重点项目落地（一季度目标 78家）" in page  # a figure the unit's report may carry
    r = jrb.post("/items/report-jrb/milestones/m201902/submit", follow_redirects=False,
                 data={"csrf_token": jrb.tok, "report_progress": "召开全区稳增长工作会议；走访重点企业12家",
                       "report_problems": "楼宇信息动态数据库建设进度偏慢", "report_next": "3月底前完成数据库建设",
                       "fig:t02:重点项目落地": "30"})
    assert r.status_code == 303, _text(r.text)[:300]
    for who in (jrb, make("coord")):
        html = who.get("/items/report-jrb").text
        parts = re.findall(r'<section class="part"><h4>(.+?)</h4><p>(.+?)</p></section>', html)
        assert parts == [("本期进展", "召开全区稳增长工作会议；走访重点企业12家"),
                         ("存在问题", "楼宇信息动态数据库建设进度偏慢"), ("下步安排", "3月底前完成数据库建设")]
        assert "招留增工作·重点项目落地：<b>30家</b>" in html
    sub = jrb.get("/api/items/report-jrb").json()["submissions"][0]
    assert sub["report"] == {"progress": "召开全区稳增长工作会议；走访重点企业12家",
                             "problems": "楼宇信息动态数据库建设进度偏慢", "next": "3月底前完成数据库建设"}
    assert sub["figures"][0]["value"] == 30


@pytest.mark.parametrize("fields,said", [
    ({"fig:重点项目落地": "七十六"}, "“重点项目落地”填写的“七十六”不是有效数字"),
    ({"fig:重点项目落地": "76亿元"}, "“重点项目落地”填写的“76亿元”不是有效数字"),
    ({"fig:重点项目落地": "1e999"}, "不是有效数字"),
    ({"fig:不存在的指标": "5"}, "没有可报送的数据项“不存在的指标”；可报送：重点项目落地、全年目标"),
], ids=["words", "wrong-unit", "overflow", "unknown-name"])
def test_a_bad_figure_is_refused_in_chinese_and_changes_nothing(kw, fields, said):
    make, url = kw
    jrb = make("jrb")
    r = jrb.post("/items/t02/milestones/q1/submit", follow_redirects=False,
                 data={"csrf_token": jrb.tok, "fig:全年目标": "25", "note": "一季度完成情况", **fields})
    assert r.status_code == 400
    alert = re.search(r'<p class="error" role="alert">(.+?)</p>', r.text).group(1)
    assert said in _text(alert) and not re.search(r"[A-Za-z]{3,}", _text(alert).replace("class", "")), alert
    assert "Traceback" not in r.text
    # what was typed is kept in the form, and nothing was stored
    assert 'value="25"' in r.text and "一季度完成情况</textarea>" in r.text
    if "不是有效数字" in said:  # the field that was wrong is marked, and the cursor put in it
        assert re.search(r'name="fig:重点项目落地"[^>]*aria-invalid="true"[^>]*autofocus', r.text)
    item = jrb.get("/api/items/t02").json()
    assert item["submissions"] == [] and next(m for m in item["milestones"] if m["id"] == "q1")["status"] == "open"
    assert _figures(url) == 0
    # the JSON twin says the same in one line
    r = jrb.post("/api/items/t02/milestones/q1/submit", headers={"x-csrf-token": jrb.tok}, data=fields)
    assert r.status_code == 400 and said in r.json()["error"]


@pytest.fixture
def optional(tmp_path):
    url = make_console_db(tmp_path / "opt.db", "2019-05-06", OPTIONAL, users=OPT_USERS)
    return _clients(url, "2019-05-10"), url


def test_a_department_cannot_trigger_an_optional_milestone(optional):
    make, _url = optional
    swj = make("swj")
    page = swj.get("/items/midterm").text
    assert "未触发" in _text(page) and "启动条件：根据中期评估结果确有必要时" in _text(page)
    assert "/milestones/revise/trigger" not in page  # no button for a department
    assert '<span class="l dormant"' in page
    assert "视情况启动的节点（未触发，1 项）" in _text(swj.get("/inbox").text)
    r = swj.post("/items/midterm/milestones/revise/trigger", data={"csrf_token": swj.tok, "reason": "我们想改"})
    assert r.status_code == 403
    alert = _text(re.search(r'<p class="error" role="alert">(.+?)</p>', r.text).group(1))
    assert alert == "无权办理：只有区发改委可以触发“规划实施中期评估 规划修改调整”，商务委赵（区商务委）无权办理", alert
    r = swj.post("/api/items/midterm/milestones/revise/trigger", headers={"x-csrf-token": swj.tok},
                 data={"reason": "我们想改"})
    assert r.status_code == 403 and r.json()["error"].startswith("无权办理：只有区发改委可以触发")
    ms = {m["id"]: m for m in swj.get("/api/items/midterm").json()["milestones"]}
    assert ms["revise"]["status"] == "dormant" and ms["revise"]["light"] == "dormant"


def test_the_coordinator_triggers_a_dormant_milestone(optional):
    make, url = optional
    coord = make("coord")
    html = coord.get("/").text
    assert '<i class="l dormant"></i>未触发' in html and "未触发 1" in _text(html)  # the legend and its count
    assert "规划实施" in html  # the 领域 column
    page = coord.get("/items/midterm").text
    assert 'action="/items/midterm/milestones/revise/trigger"' in page
    r = coord.post("/items/midterm/milestones/revise/trigger", data={"csrf_token": coord.tok, "reason": " "})
    assert r.status_code == 400 and "无法办理：理由不能为空" in _text(r.text)  # the request's own check
    assert coord.get("/api/items/midterm").json()["milestones"][1]["status"] == "dormant"
    r = coord.post("/items/midterm/milestones/revise/trigger", follow_redirects=False,
                   data={"csrf_token": coord.tok, "reason": "中期评估认为需要修改调整"})
    assert r.status_code == 303
    flash = _text(coord.get("/items/midterm").text)
    assert "“规划实施中期评估 规划修改调整”已触发，期限 2019-09-30" in flash
    item = coord.get("/api/items/midterm").json()
    assert item["milestones"][1]["status"] == "pending" and item["milestones"][1]["light"] != "dormant"
    assert any(d["kind"] == "trigger" and d["comments"] == "中期评估认为需要修改调整" for d in item["decisions"])
    assert re.search(r"触发 规划修改调整：\s?中期评估认为需要修改调整", flash)  # 审核与决定
    # the department now owes it
    assert "规划修改调整" in _text(make("swj").get("/inbox").text.split("视情况启动")[0])
    # triggering again is refused, in Chinese
    r = coord.post("/items/midterm/milestones/revise/trigger", data={"csrf_token": coord.tok, "reason": "再次"})
    assert r.status_code in (400, 409) and ("无需再次触发" in _text(r.text) or "已按不同内容办理过" in _text(r.text)), _text(r.text)


def test_a_trigger_after_the_planned_deadline_asks_for_a_new_one(optional):
    _make, url = optional
    make = _clients(url, "2019-10-08")
    coord = make("coord")
    assert 'name="due"' in coord.get("/items/midterm").text
    r = coord.post("/items/midterm/milestones/revise/trigger", data={"csrf_token": coord.tok, "reason": "需要调整"})
    assert r.status_code == 400 and "原定期限 2019-09-30 已过，请填写新的期限" in _text(r.text)
    r = coord.post("/items/midterm/milestones/revise/trigger", data={"csrf_token": coord.tok, "reason": "需要调整",
                                                                    "due": "2019-10-01"})
    assert r.status_code == 400 and "新期限 2019-10-01 早于今天" in _text(r.text)
    r = coord.post("/items/midterm/milestones/revise/trigger", follow_redirects=False,
                   data={"csrf_token": coord.tok, "reason": "需要调整", "due": "2019-11-29"})
    assert r.status_code == 303
    assert coord.get("/api/items/midterm").json()["milestones"][1]["due"] == "2019-11-29"


def test_the_new_messages_read_in_chinese():
    from app.web import words

    cases = {
        "t02 一季度目标 has no figure 'x' to report; it may report: 重点项目落地、全年目标、t02:全年目标":
            "“t02 一季度目标”没有可报送的数据项“x”；可报送：重点项目落地、全年目标",
        "t02 一季度目标 needs the figure's name (NAME=VALUE); it may report: 重点项目落地":
            "“t02 一季度目标”报送的数据须写明数据项名称；可报送：重点项目落地",
        "figure 't02:全年目标': 'abc' is not a number": "“全年目标”填写的“abc”不是有效数字，请只填写数字（如 26.3）",
        "unknown report part 'risk': a report has progress, problems, next":
            "未知的报告部分“risk”：报告只有本期进展、存在问题、下步安排三部分",
        "triggering m1 修改 needs a reason (what calls for it)": "触发“m1 修改”须填写理由（为何需要启动）",
        "the planned deadline of m1 修改, 2019-09-30, has passed: give the deadline it now has (--due YYYY-MM-DD)":
            "“m1 修改”原定期限 2019-09-30 已过，请填写新的期限",
        "王（区商务委） cannot trigger m1 修改: only the coordinator (区发改委) can":
            "只有区发改委可以触发“m1 修改”，王（区商务委）无权办理",
        "cannot trigger m1 评估: it is not optional": "“m1 评估”不是视情况启动的节点，无需触发",
    }
    for english, chinese in cases.items():
        assert words.translate(english) == chinese
    assert words.translate("t02 一季度目标 submitted by 区金融办", {"t02": "招留增工作"}) == "招留增工作 一季度目标：区金融办已报送"
