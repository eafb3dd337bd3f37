"""The console over HTTP (Starlette's test client): sign-in, roles, CSRF, uploads, JSON twins, errors."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlmodel import Session, select

from .conftest import PASSWORD, make_console_db


@pytest.fixture
def app_url(tmp_path):
    return make_console_db(tmp_path / "api.db")


@pytest.fixture
def make_client(app_url):
    from fastapi.testclient import TestClient

    from app.web.server import create_app

    app = create_app(app_url, as_of="2019-06-05", flows="direct")

    def make(username: str | None = None, password: str = PASSWORD):
        c = TestClient(app, raise_server_exceptions=False)
        if username:
            r = c.post("/login", data={"username": username, "password": password, "csrf_token": _csrf(c, "/login")},
                       follow_redirects=False)
            assert r.status_code == 303, r.text[:300]
        return c

    return make


def _csrf(c, path="/api/me") -> str:
    if path == "/api/me":
        return c.get(path).json()["csrf_token"]
    return re.search(r'name="csrf_token" value="([^"]+)"', c.get(path).text).group(1)


PAGES = ["/", "/inbox", "/items/topic-07", "/review", "/manage", "/documents", "/documents/1", "/timeline", "/audit",
         "/ledger.xlsx", "/calendar.ics", "/files/1/0"]
APIS = ["/api/board", "/api/inbox", "/api/items/topic-07", "/api/review", "/api/documents", "/api/timeline",
        "/api/audit", "/api/me"]


def test_anonymous_pages_go_to_login_and_apis_answer_401(make_client):
    c = make_client()
    for p in PAGES:
        r = c.get(p, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), p
    for p in APIS:
        r = c.get(p)
        assert r.status_code == 401 and r.json() == {"error": "请先登录"}, p
    assert c.get("/healthz").json()["ok"] is True


def test_sign_in_refusals_and_lock_out(make_client):
    c = make_client()
    tok = _csrf(c, "/login")
    r = c.post("/login", data={"username": "hqb", "password": "wrong-password", "csrf_token": tok})
    assert r.status_code == 401 and "用户名或密码不正确" in r.text
    r = c.post("/login", data={"username": "hqb", "password": PASSWORD})  # no CSRF token
    assert r.status_code == 403 and "CSRF" in r.text
    for _ in range(5):
        c.post("/login", data={"username": "swj", "password": "nope-nope", "csrf_token": tok})
    r = c.post("/login", data={"username": "swj", "password": PASSWORD, "csrf_token": tok})
    assert r.status_code == 401 and "锁定" in r.text  # locked even with the right password
    assert "Traceback" not in r.text


def test_every_post_needs_the_csrf_token(make_client):
    c = make_client("coord")
    for path in ("/manage/advance", "/items/topic-07/milestones/plan/review", "/review/bulk", "/logout",
                 "/api/items/topic-07/milestones/plan/submit"):
        r = c.post(path, data={"decision": "accept", "from_stage": "research"})
        assert r.status_code == 403, path
    assert c.get("/api/board").status_code == 200  # still signed in: nothing was done


def test_department_sees_only_its_own_and_cannot_review_its_own(make_client, app_url):
    hqb = make_client("hqb")
    board = hqb.get("/api/board").json()
    assert {i["key"] for i in board["items"]} == {"topic-07"}
    assert hqb.get("/items/topic-01").status_code == 403
    assert hqb.get("/api/items/topic-01").json()["error"].startswith("无权")
    assert hqb.get("/items/no-such-item").status_code == 403  # existence is not revealed either
    tok = _csrf(hqb)
    body = b"PK\x03\x04" + b"plan" * 1000
    r = hqb.post("/api/items/topic-07/milestones/plan/submit", headers={"x-csrf-token": tok},
                 files={"files": ("方案.docx", body)}, data={"note": "初稿"})
    assert r.status_code == 200 and r.json()["changed"], r.text
    r = hqb.post("/api/items/topic-07/milestones/plan/review", headers={"x-csrf-token": tok}, data={"decision": "accept"})
    assert r.status_code == 403 and r.json()["error"] == "无权办理：只有区发改委（规划科）可以审核“课题7 形成方案”，区虹桥办不能审核"
    # a leader reads everything and changes nothing
    boss = make_client("boss")
    assert boss.get("/items/topic-07").status_code == 200
    r = boss.post("/api/items/topic-07/milestones/plan/review", headers={"x-csrf-token": _csrf(boss)},
                  data={"decision": "accept"})
    assert r.status_code == 403 and "只能查看" in r.json()["error"]
    # the coordinator accepts; the audit log names who was signed in
    coord = make_client("coord")
    r = coord.post("/api/items/topic-07/milestones/plan/review", headers={"x-csrf-token": _csrf(coord)},
                   data={"decision": "accept"})
    assert r.status_code == 200, r.text
    events = coord.get("/api/audit?action=deliverable").json()["events"]
    who = {e["action"]: (e["actor"], e["user"]) for e in events}
    assert who["deliverable.submitted"] == ("虹桥办李（区虹桥办）", "hqb")
    assert who["deliverable.accepted"] == ("规划科王科长（区发改委）", "coord")
    # the download is the upload, byte for byte, under its original name
    item = coord.get("/api/items/topic-07").json()
    f = item["submissions"][0]["files"][0]
    assert f["name"] == "方案.docx" and "path" not in f
    r = coord.get(f["url"])
    assert r.content == body and "filename*=UTF-8''" in r.headers["content-disposition"]
    assert hashlib.sha256(r.content).hexdigest() == f["sha256"]
    assert make_client("swj").get(f["url"]).status_code == 403  # another department cannot fetch it


@pytest.mark.parametrize("name,data,expect", [
    ("方案.exe", b"MZ\x90\x00", "不接受此类型"),
    ("方案.pdf", b"not a pdf at all", "不符"),
    ("方案.docx", b"", "为空"),
    ("../../etc/passwd.pdf", b"%PDF-1.4 x", None),  # the name is data: stored as passwd.pdf, no path
])
def test_uploads_are_checked_and_names_are_data(make_client, name, data, expect):
    hqb = make_client("hqb")
    r = hqb.post("/api/items/topic-07/milestones/plan/submit", headers={"x-csrf-token": _csrf(hqb)},
                 files={"files": (name, data)})
    if expect:
        assert r.status_code == 400 and expect in r.json()["error"], r.text
        assert hqb.get("/api/items/topic-07").json()["submissions"] == []  # nothing recorded
    else:
        assert r.status_code == 200
        assert hqb.get("/api/items/topic-07").json()["submissions"][0]["files"][0]["name"] == "passwd.pdf"


def test_upload_size_limit(app_url, monkeypatch):
    from fastapi.testclient import TestClient

    from app.web.server import create_app

    monkeypatch.setenv("PLANCYCLE_MAX_UPLOAD_MB", "0.01")
    hqb = TestClient(create_app(app_url, as_of="2019-06-05", flows="direct"), raise_server_exceptions=False)
    hqb.post("/login", data={"username": "hqb", "password": PASSWORD, "csrf_token": _csrf(hqb, "/login")})
    r = hqb.post("/api/items/topic-07/milestones/plan/submit", headers={"x-csrf-token": _csrf(hqb)},
                 files={"files": ("方案.pdf", b"%PDF-" + b"x" * 20000)})
    assert r.status_code == 400 and "上限" in r.json()["error"]


def test_bad_form_input_is_one_line_and_changes_nothing(make_client):
    coord = make_client("coord")
    tok = _csrf(coord)
    before = coord.get("/api/audit").json()
    for path, data in [("/manage/extend", {"reason": "x", "days": "abc", "csrf_token": tok}),
                       ("/manage/extend", {"reason": "x", "days": "99999999", "confirm": "yes", "csrf_token": tok}),
                       ("/manage/meeting", {"milestone": "kickoff", "at": "yesterday", "csrf_token": tok}),
                       ("/items/topic-07/milestones/plan/review", {"decision": "return", "comments": "坏\x07字符",
                                                                  "csrf_token": tok}),
                       ("/items/topic-07/milestones/plan/review", {"decision": "maybe", "csrf_token": tok})]:
        r = coord.post(path, data=data)
        assert 400 <= r.status_code < 500, (path, r.status_code)
        msg = re.search(r'class="error"[^>]*>([^<]+)', r.text).group(1)
        assert "\n" not in msg and "Traceback" not in r.text
    assert coord.get("/api/audit").json() == before


def test_a_disabled_user_is_signed_out(make_client, app_url):
    from stages.store.models import make_engine
    from stages.store.users import disable_user

    hqb = make_client("hqb")
    assert hqb.get("/api/inbox").status_code == 200
    eng = make_engine(app_url)
    with Session(eng) as s:
        disable_user(s, "hqb")
        s.commit()
    assert hqb.get("/api/inbox").status_code == 401


def test_extend_previews_before_it_moves_anything(make_client):
    coord = make_client("coord")
    tok = _csrf(coord)
    r = coord.get("/manage/extend", params={"item": ["topic-07", "topic-01"], "days": "10", "reason": "疫情影响"})
    assert r.status_code == 200 and "预览" in r.text and "确认调整" in r.text
    assert r.text.count('name="item"') == 2  # every selected item is carried to the confirmation
    assert make_client("hqb").get("/manage/extend", params={"days": "10", "reason": "x"}).status_code == 403
    assert coord.get("/api/items/topic-07").json()["milestones"][0]["due"] == "2019-06-10"  # not yet
    r = coord.post("/manage/extend", data={"item": "topic-07", "days": "10", "reason": "疫情影响", "confirm": "yes",
                                           "csrf_token": tok}, follow_redirects=False)
    assert r.status_code == 303
    assert coord.get("/api/items/topic-07").json()["milestones"][0]["due"] == "2019-06-20"


@pytest.mark.integration
def test_a_web_action_is_a_prefect_flow_run(app_url, tmp_path, monkeypatch):
    """In the default mode the console starts Prefect's API once and every action is a flow run on it; a local
    CLI on the same database is told where that API is."""
    from fastapi.testclient import TestClient

    from app.web.server import create_app
    from flows.runner import advertised

    monkeypatch.setenv("PLANCYCLE_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    app = create_app(app_url, as_of="2019-06-05", flows="prefect")
    assert advertised(app_url) == app.state.pc.api_url
    c = TestClient(app, raise_server_exceptions=False)
    c.post("/login", data={"username": "hqb", "password": PASSWORD, "csrf_token": _csrf(c, "/login")})
    r = c.post("/api/items/topic-07/milestones/plan/submit", headers={"x-csrf-token": _csrf(c)},
               files={"files": ("方案.pdf", b"%PDF-1.4 plan")})
    assert r.status_code == 200, r.text
    from stages.store.models import AuditEvent, make_engine

    with Session(make_engine(app_url)) as s:
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "deliverable.submitted")).one()
    assert ev.flow_run_id and ev.actor_user == "hqb"


@pytest.mark.integration
def test_refusals_keep_their_kind_through_a_prefect_flow_run(app_url, tmp_path, monkeypatch):
    """A leader's attempt is 403 and a bad request 400 even when the action ran as a Prefect flow run."""
    from fastapi.testclient import TestClient

    from app.web.server import create_app

    monkeypatch.setenv("PLANCYCLE_RUN_DIR", str(tmp_path / "run"))
    app = create_app(app_url, as_of="2019-06-05", flows="prefect")
    boss = TestClient(app, raise_server_exceptions=False)
    boss.post("/login", data={"username": "boss", "password": PASSWORD, "csrf_token": _csrf(boss, "/login")})
    r = boss.post("/api/items/topic-07/milestones/plan/review", headers={"x-csrf-token": _csrf(boss)},
                  data={"decision": "accept"})
    assert r.status_code == 403 and "只能查看" in r.json()["error"]
    coord = TestClient(app, raise_server_exceptions=False)
    coord.post("/login", data={"username": "coord", "password": PASSWORD, "csrf_token": _csrf(coord, "/login")})
    r = coord.post("/api/items/topic-07/milestones/plan/review", headers={"x-csrf-token": _csrf(coord)},
                   data={"decision": "accept"})
    assert r.status_code == 409 and "当前" in r.json()["error"], r.text  # not submitted yet: the state refuses


def test_signing_out_ends_a_copied_cookie_too(make_client):
    c = make_client("hqb")
    stolen = dict(c.cookies)
    assert c.post("/logout", data={"csrf_token": _csrf(c)}, follow_redirects=False).status_code == 303
    other = make_client()
    for k, v in stolen.items():
        other.cookies.set(k, v)
    assert other.get("/api/me").status_code == 401


def test_uploads_to_an_item_one_cannot_see_are_not_stored(make_client, web_files_dir=None):
    import os

    swj = make_client("swj")
    root = os.environ["PLANCYCLE_FILES"]
    before = sum(len(f) for _, _, f in os.walk(root)) if os.path.isdir(root) else 0
    r = swj.post("/api/items/topic-07/milestones/plan/submit", headers={"x-csrf-token": _csrf(swj)},
                 files={"files": ("x.pdf", b"%PDF-1.4 nope")})
    assert r.status_code == 403
    after = sum(len(f) for _, _, f in os.walk(root)) if os.path.isdir(root) else 0
    assert after == before
    assert "topic" not in r.json()["error"] and "课题" not in r.json()["error"]  # no titles of others' items


def test_the_coordinator_corrects_a_contractor_name(make_client):
    coord = make_client("coord")
    tok = _csrf(coord)
    r = coord.post("/items/topic-07/correct", data={"field": "contractor", "value": "复旦大学课题组", "reason": "笔误",
                                                     "csrf_token": tok})
    assert r.status_code == 400 and "尚未登记" in r.text  # nothing recorded yet: nothing to correct
    hqb = make_client("hqb")
    r = hqb.post("/items/topic-07/correct", data={"field": "contractor", "value": "x", "reason": "y",
                                                   "csrf_token": _csrf(hqb)})
    assert r.status_code == 403


def test_the_coordinator_signs_a_draft_off_in_the_console(make_client):
    coord, hqb = make_client("coord"), make_client("hqb")
    page = coord.get("/documents").text
    assert "待签发" in page and "关于做好“十四五”规划前期研究阶段工作的通知" in page and "联系人" in page
    assert "待签发" not in hqb.get("/documents").text  # drafts are the planning office's
    assert hqb.get("/documents/2").status_code == 404
    draft = coord.get("/documents/2").text
    assert "签发前核对" in draft and "（签发时编号）" in draft
    token = _csrf(coord, "/documents/2")
    # a placeholder left: refused in one Chinese line, nothing numbered
    r = coord.post("/documents/2/sign", data={"csrf_token": token, "action": "sign"})
    assert r.status_code == 400 and "“联系人”、“联系电话”尚未填写或仍为占位内容" in r.text
    assert coord.get("/api/documents").json()["documents"] == []
    r = hqb.post("/documents/2/sign", data={"csrf_token": _csrf(hqb), "action": "sign"})
    assert r.status_code == 403
    r = coord.post("/documents/2/sign", data={"csrf_token": token, "action": "sign", "contact_person": "陈明（规划科）",
                                              "contact_phone": "021-22050000"}, follow_redirects=True)
    assert r.status_code == 200 and "已签发" in r.text and "长发改〔2019〕24号" in r.text
    docs = coord.get("/api/documents").json()
    assert [d["number"] for d in docs["documents"]] == ["长发改〔2019〕24号"] and len(docs["drafts"]) == 1
    assert "长发改〔2019〕24号" in hqb.get("/documents").text  # 各有关部门 receive it once it is signed
    r = coord.get("/documents/2/download?format=docx")
    assert r.status_code == 200 and r.content[:2] == b"PK"
