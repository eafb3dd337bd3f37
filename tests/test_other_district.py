"""Another district's 十五五 cycle (config/cycles/jingan-15th.yaml), end to end, in-process: every move through
``flows.actions`` (``flows.common.perform``: the service, then the paperwork its outcome calls for, in one
transaction), the sweep and the monthly report through the domain functions the scheduled flows call, and every
document signed off and rendered. Nothing of Changning's may show: not its name, its coordinator, its period, its
ids."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlmodel import Session, select

from stages.paperwork import notices as nt
from stages.paperwork import drafting as pw
from stages.store.models import Item, Milestone, Notice

from .conftest import ROOT, cycle

JINGAN = ROOT / "config" / "cycles" / "jingan-15th.yaml"
COORD = "区发展改革委"
FILL = {"contact_person": "王敏（发展规划科）", "contact_phone": "021-33372000", "contact_email": "fzgh@jafgw.example.cn",
        "contact_address": "静安区某路100号", "signer": "陈刚", "place": "区发展改革委第二会议室"}
CHANGNING_WORDS = ("长宁", "十四五", "区发改委", "长发改", "leading_group", "topic-0", "sp-0")


@pytest.fixture(scope="session")
def jingan():
    return cycle(JINGAN)


@pytest.fixture
def db(tmp_path, jingan):
    """A SQLite file with the run created as `plancycle init` makes it (the service, then its paperwork)."""
    from flows.common import engine_for
    from stages.engine import init_run

    url = f"sqlite:///{tmp_path / 'jingan.db'}"
    with Session(engine_for(url)) as s:
        pw.after(s, jingan, init_run(s, jingan, as_of="2024-06-03T09:00"), as_of="2024-06-03T09:00")
        s.commit()
    return url


def act(name: str, url: str, when: str, **fields):
    """One move as the adapters make it: its request model, its action function, perform → service → paperwork."""
    from flows import actions
    from stages.rules import requests as rq

    request_of = {"submit_deliverable": rq.SubmitRequest, "review_deliverable": rq.ReviewRequest,
                  "assign_contractor": rq.ContractorRequest, "propose_special_plan": rq.ProposeRequest,
                  "record_approval": rq.ApproveRequest, "register_special_plans": rq.RegisterRequest,
                  "schedule_meeting": rq.MeetingRequest, "sign_document": rq.SignDocumentRequest,
                  "advance_stage": rq.AdvanceRequest}
    return actions.ACTIONS[name](request_of[name](db=url, as_of=when, **fields))


def open_rows(url: str) -> list[tuple[str, str, str]]:
    from flows.common import engine_for

    with Session(engine_for(url)) as s:
        return [(m.item_key, m.ms_id, m.owner) for m in s.exec(
            select(Milestone).where(Milestone.status == "open").order_by(Milestone.due_date, Milestone.id))]


def sign_all(url: str, spec, when: str) -> list[int]:
    from flows.common import engine_for

    with Session(engine_for(url)) as s:
        drafts = [(n.id, nt.missing(n.data, n.kind)) for n in pw.drafts(s, 1)]
    for nid, gaps in drafts:
        act("sign_document", url, when, notice=nid, changes={g: FILL[g] for g in gaps if g in FILL})
    return [nid for nid, _ in drafts]


def test_it_validates_with_its_own_words(jingan):
    assert jingan.period == "十五五" and jingan.coordinator.short == COORD
    assert [s.id for s in jingan.stages] == ["prep", "compose", "approve"]
    assert jingan.stages[0].start_date == dt.date(2024, 6, 1)  # an explicit window, not a phrase
    assert sum(1 for i in jingan.items if i.kind == "topic") == 8
    assert jingan.item("kt-01").milestone("bidder").role == "contractor_choice"
    assert jingan.task_role("special_plan_confirmation") == ("plan-registration", "settle")
    assert jingan.approvers(jingan.role_milestone("special_plan", "registration").accept_requires) == \
        ["区“十五五”规划编制工作领导小组"]
    assert all(w not in JINGAN.read_text(encoding="utf-8") for w in ("长宁", "十四五", "区发改委"))


def test_the_cycle_runs_and_its_documents_say_shiwuwu_and_jingan(db, jingan):
    from flows.common import engine_for
    from stages.views.board import board
    from stages.engine import calendar_for
    from stages.engine.sweep import sweep
    from stages.views.reads import timeline

    cal = calendar_for(jingan)
    # status: the first stage open, its tasks and topics' first steps open
    with Session(engine_for(db)) as s:
        b = board(s, jingan, "2024-06-05")
        assert b["cycle"]["id"] == "jingan-15th" and b["stages"][0]["status"] == "open"
        assert b["counts"]["items_by_track"]["topics"] == 8
        assert timeline(s, jingan, "2024-06-05")["rows"]
    work = {(k, m): o for k, m, o in open_rows(db)}
    assert ("research-plan", "issue") in work and ("kt-02", "scheme") in work
    # departments hand in their first steps; one is returned and handed in again
    act("submit_deliverable", db, "2024-06-12T10:00", item="research-plan", milestone="issue", by=COORD)
    act("review_deliverable", db, "2024-06-12T15:00", item="research-plan", milestone="issue", decision="accept")
    for k in ("kt-02", "kt-03"):
        act("submit_deliverable", db, "2024-06-20T10:00", item=k, milestone="scheme", by=work[(k, "scheme")],
            note="分管领导和联络人已明确")
    act("review_deliverable", db, "2024-06-21T15:00", item="kt-02", milestone="scheme", decision="accept")
    act("review_deliverable", db, "2024-06-21T15:00", item="kt-03", milestone="scheme", decision="return",
        comments="请补充联络人联系方式")
    act("submit_deliverable", db, "2024-06-24T10:00", item="kt-03", milestone="scheme", by="区科委", note="已补充")
    act("review_deliverable", db, "2024-06-24T15:00", item="kt-03", milestone="scheme", decision="accept")
    # the call for tender: its 公告 drafted when the call opens; a contractor recorded for a tendered topic
    act("submit_deliverable", db, "2024-06-25T10:00", item="open-call", milestone="announce", by=COORD)
    act("review_deliverable", db, "2024-06-25T11:00", item="open-call", milestone="announce", decision="accept")
    assert ("kt-02", "bidder") in {(k, m) for k, m, _ in open_rows(db)}
    out = act("assign_contractor", db, "2024-07-10T10:00", topic="kt-02", contractor="复旦大学课题组",
              contact="课题负责人 13800000000")
    assert "kt-02:bidder" not in out["opened"]
    with Session(engine_for(db)) as s:
        bidder = s.exec(select(Milestone).where(Milestone.item_key == "kt-02", Milestone.ms_id == "bidder")).one()
        assert bidder.status == "accepted"
    # a review meeting for every topic still to hold its 开题
    act("schedule_meeting", db, "2024-07-15T10:00", milestone="opening", at="2024-08-08T14:30")
    # a special plan proposed, the list approved by the steering group, the plan confirmed under the file's prefix
    out = act("propose_special_plan", db, "2024-09-02T10:00", dept="区商务委", title="静安区商务发展“十五五”规划",
              note="结合前期研究提出")
    assert out["target"] == "zx-01"
    act("record_approval", db, "2024-11-12T10:00", body="steering_group", subject="sp-catalogue")
    act("register_special_plans", db, "2024-11-19T10:00", confirm=["zx-01"], reject=[])
    # the daily sweep and the monthly report (简报 to the 领导小组办公室, per its notice settings)
    with Session(engine_for(db)) as s:
        result = sweep(s, {jingan.id: jingan}, cal, "2024-11-25T09:00")
        pw.supervision(s, {jingan.id: jingan}, cal, "2024-11-25T09:00")
        report, new = pw.monthly_report(s, jingan, cal, "2024-11")
        s.commit()
    assert result["lights"]["red"] > 0 and new and report["departments"]
    signed = sign_all(db, jingan, "2024-11-25T17:00")
    assert len(signed) >= 6
    # every document: 十五五, the district's issuer and its 发文机关代字; nothing of Changning
    with Session(engine_for(db)) as s:
        issued = s.exec(select(Notice).where(Notice.status == "issued").order_by(Notice.id)).all()
        kinds = {n.kind for n in issued}
        assert {"request", "stage_notice", "call_for_tender", "meeting", "special_plan_registration",
                "monthly_report"} <= kinds, kinds
        numbers = [n.doc_number for n in issued if n.doc_number]
        assert numbers and all(re.match(r"^静发改(函)?〔2024〕\d+号$", x) for x in numbers), numbers
        assert "静发改〔2024〕31号" in numbers  # the register continues after the numbers issued by hand
        texts = {}
        for n in issued:
            _n, md = nt.render_notice(s, n.id, "md")
            _n, docx = nt.render_notice(s, n.id, "docx")
            texts[n.kind] = md.decode("utf-8")
            assert docx[:2] == b"PK"
        reg = s.exec(select(Notice).where(Notice.kind == "special_plan_registration")).one()
    body = "\n".join(texts.values())
    for word in CHANGNING_WORDS:
        assert word not in body, (word, [k for k, t in texts.items() if word in t])
    assert "十五五" in texts["stage_notice"] and "十五五" in texts["call_for_tender"]
    assert "上海市静安区发展和改革委员会" in texts["request"] and "区政府" in texts["request"]
    assert "静安区" in texts["call_for_tender"]
    # the list was approved by the body the registration's gate names (not merely the first body of the file)
    assert reg.data["approved_by"] == "区“十五五”规划编制工作领导小组", reg.data["approved_by"]
    assert "并报区“十五五”规划编制工作领导小组同意" in texts["special_plan_registration"]
