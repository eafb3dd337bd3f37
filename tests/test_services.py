"""Services on a run: moves, refusals (that change nothing), idempotency, gates, stages, audit."""

import datetime as dt

import pytest
from freezegun import freeze_time
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from stages import engine as sv
from stages.rules.identity import Actor, Forbidden
from stages.views.board import board
from stages.ground.errors import IdempotencyConflict, NotFound, PlancycleError, TransitionError
from stages.store.models import AuditEvent, AuditLogIsAppendOnly, Decision, Item, Milestone, Submission, create_schema, make_engine

COORD = "区发改委"


def ms(session, item, mid):
    return session.exec(select(Milestone).where(Milestone.item_key == item, Milestone.ms_id == mid)).one()


def snapshot(session):
    """Everything a refused move must leave untouched."""
    rows = []
    for model in (Item, Milestone, Submission, Decision, AuditEvent):
        rows.append([r.model_dump() for r in session.exec(select(model).order_by(model.id))])
    return rows


def done(session, spec, item, mid, when, by=None):
    sv.submit(session, spec, item=item, milestone=mid, by=by or ms(session, item, mid).owner, as_of=when)
    sv.review(session, spec, item=item, milestone=mid, decision="accept", by=COORD, as_of=when)
    session.commit()


def test_init_opens_the_first_steps(mini_run, mini):
    s = mini_run
    assert ms(s, "topic-01", "contractor").status == "open"
    assert ms(s, "topic-01", "kickoff").status == "pending"
    assert ms(s, "topic-03", "kickoff").status == "open"       # not tendered: no contractor step
    assert ms(s, "outline", "first_draft").status == "pending"  # its stage has not opened
    assert ms(s, "wrap-up", "seminar").status == "pending"      # waits for two midterms
    again = sv.init_run(s, mini, as_of="2019-06-02")
    assert again.changed is False
    assert s.exec(select(func.count()).select_from(Item)).one() == 5


def test_submit_review_return_resubmit(mini_run, mini):
    s = mini_run
    out = sv.submit(s, mini, item="topic-03", milestone="开题", by="区教育局", as_of="2019-07-10", note="开题报告")
    assert out.changed and ms(s, "topic-03", "kickoff").status == "submitted"
    sv.review(s, mini, item="topic-03", milestone="kickoff", decision="return", by=COORD, as_of="2019-07-12",
              comments="研究框架需细化")
    s.commit()
    m = ms(s, "topic-03", "kickoff")
    assert m.status == "returned" and m.returns == 1
    with pytest.raises(TransitionError, match="^“topic-03 开题”当前已退回待修改，不能通过$"):
        sv.review(s, mini, item="topic-03", milestone="kickoff", decision="accept", by=COORD, as_of="2019-07-13")
    s.rollback()
    out = sv.submit(s, mini, item="topic-03", milestone="kickoff", by="jyj", as_of="2019-07-15", note="开题报告（修改稿）")
    assert out.data["round"] == 2
    sv.review(s, mini, item="topic-03", milestone="kickoff", decision="accept", by=COORD, as_of="2019-07-16")
    s.commit()
    assert ms(s, "topic-03", "kickoff").status == "accepted"
    assert ms(s, "topic-03", "midterm").status == "open"  # accepting one step opens the next
    assert len(s.exec(select(Submission).where(Submission.milestone_id == m.id)).all()) == 2


def test_late_submission_counts_working_days(mini_run, mini):
    out = sv.submit(mini_run, mini, item="topic-03", milestone="kickoff", by="区教育局", as_of="2019-07-26")
    assert out.data["workdays_late"] == 5  # due Sat 07-20; Mon 22 … Fri 26


@pytest.mark.parametrize("call,message", [
    (dict(item="topic-01", milestone="kickoff", by="区发改委"), "“topic-01 开题”当前尚未开始（须先完成：contractor），不能报送"),
    (dict(item="topic-02", milestone="contractor", by="区教育局"), "区教育局不能报送“topic-02 确定承接单位”：该节点由区商务委负责"),
    (dict(item="topic-99", milestone="kickoff", by="区发改委"), "未知事项：topic-99"),
    (dict(item="topic-01", milestone="开会", by="区发改委"), "topic-01没有节点“开会”（现有节点：contractor 确定承接单位、kickoff 开题、midterm 中期、closure 结题）"),
    (dict(item="topic-01", milestone="contractor", by="区财政局"), "未知部门：区财政局（请填写部门简称，如区发改委，或部门编号，如fgw）"),
    (dict(item="topic-01", milestone="contractor", by="区发改委", files=["/no/such/file.pdf"]), "没有可附上的文件：/no/such/file.pdf"),
])
def test_refused_submit_changes_nothing(mini_run, mini, call, message):
    before = snapshot(mini_run)
    with pytest.raises(PlancycleError) as err:
        sv.submit(mini_run, mini, as_of="2019-06-10", **call)
    assert message in str(err.value)
    mini_run.rollback()
    assert snapshot(mini_run) == before


def test_resubmission_is_idempotent(mini_run, mini, tmp_path):
    f = tmp_path / "开题报告.docx"
    f.write_bytes(b"PK\x03\x04report v1")
    a = sv.submit(mini_run, mini, item="topic-03", milestone="kickoff", by="区教育局", as_of="2019-07-10", files=[f])
    mini_run.commit()
    n_audit = mini_run.exec(select(func.count()).select_from(AuditEvent)).one()
    b = sv.submit(mini_run, mini, item="topic-03", milestone="kickoff", by="区教育局", as_of="2019-07-11", files=[f])
    mini_run.commit()
    assert a.changed and not b.changed
    assert str(b.message) == "此前（2019-07-10 09:00，cli 代 区教育局）已办理过同一事项，本次未重复办理"
    assert mini_run.exec(select(func.count()).select_from(Submission)).one() == 1
    assert mini_run.exec(select(func.count()).select_from(AuditEvent)).one() == n_audit
    sub = mini_run.exec(select(Submission)).one()
    assert sub.files[0]["sha256"] == __import__("hashlib").sha256(b"PK\x03\x04report v1").hexdigest()
    assert sub.files[0]["name"] == "开题报告.docx" and "path" not in sub.files[0]  # the name is data, never a path
    from stages.store.files import FileStore

    assert FileStore.for_url("sqlite://").read(sub.files[0]["sha256"]) == b"PK\x03\x04report v1"  # archived


def test_same_key_different_request_is_refused(mini_run, mini):
    sv.submit(mini_run, mini, item="topic-03", milestone="kickoff", by="区教育局", as_of="2019-07-10", key="upload-1")
    with pytest.raises(IdempotencyConflict):
        sv.submit(mini_run, mini, item="topic-03", milestone="kickoff", by="区教育局", as_of="2019-07-10",
                  note="other", key="upload-1")


def test_automatic_gates_open_and_complete(mini_run, mini):
    s = mini_run
    for t, lead in (("topic-01", "区发改委"), ("topic-02", "区商务委")):
        sv.assign_contractor(s, mini, topic=t, contractor=f"{t} 研究院", contact="张三 021-00000000", by=COORD,
                             as_of="2019-06-25")
    assert ms(s, "topic-01", "contractor").status == "accepted"
    assert s.get(Item, s.exec(select(Item.id).where(Item.key == "topic-01")).one()).contractor == "topic-01 研究院"
    for t in ("topic-01", "topic-02", "topic-03"):
        done(s, mini, t, "kickoff", "2019-07-15")
    done(s, mini, "topic-01", "midterm", "2019-08-20")
    assert ms(s, "wrap-up", "seminar").status == "pending"
    done(s, mini, "topic-02", "midterm", "2019-08-21")
    assert ms(s, "wrap-up", "seminar").status == "open"  # N of M: 2 midterms opened it in that same move
    assert ms(s, "wrap-up", "report").status == "open"   # after topic-01:midterm


def test_advance_needs_the_gate_or_a_reason(mini_run, mini):
    s = mini_run
    before = snapshot(s)
    with pytest.raises(TransitionError, match="^“前期研究”的阶段门“前期研究完成”（research-complete）尚未满足：.* not done；"
                                              "如确需推进，请填写强制推进理由$"):
        sv.advance(s, mini, by=COORD, as_of="2019-12-20")
    s.rollback()
    assert snapshot(s) == before
    with pytest.raises(Forbidden, match="^只有区发改委（规划科）可以推进阶段，cli 代 区商务委无权办理$"):
        sv.advance(s, mini, by="区商务委", as_of="2019-12-20", override_reason="x")
    s.rollback()
    out = sv.advance(s, mini, by=COORD, as_of="2019-12-20", override_reason="市里要求提前启动编制", from_stage="research")
    s.commit()
    assert out.stages == ["research→drafting"]
    assert ms(s, "outline", "first_draft").status == "open"
    ov = s.exec(select(Decision).where(Decision.kind == "override")).one()
    assert ov.comments == "市里要求提前启动编制" and ov.subject == "research-complete"
    again = sv.advance(s, mini, by=COORD, as_of="2019-12-21", override_reason="市里要求提前启动编制", from_stage="research")
    assert not again.changed  # a retried request: same key, nothing skipped
    s.commit()
    assert s.exec(select(Milestone.stage).where(Milestone.status == "open", Milestone.stage == "adoption")).all() == []
    with pytest.raises(IdempotencyConflict, match="^该事项此前已按不同内容办理过，不能直接修改；如需更正，请联系规划科"
                                                "（advance:research，原内容："):
        sv.advance(s, mini, by=COORD, as_of="2019-12-21", override_reason="另一个理由", from_stage="research")
    s.rollback()
    with pytest.raises(TransitionError, match="^不能结束“research”阶段：本周期当前处于“drafting”阶段$"):
        sv.advance(s, mini, by=COORD, as_of="2019-12-21", override_reason="x", from_stage="research", key="k2")


def test_special_plans_appear_and_are_confirmed(mini_run, mini):
    s = mini_run
    a = sv.propose(s, mini, dept="区商务委", title="长宁区商务发展“十四五”规划", as_of="2019-08-15")
    b = sv.propose(s, mini, dept="区教育局", title="长宁区教育改革和发展“十四五”规划", as_of="2019-08-20")
    c = sv.propose(s, mini, dept="甲街道", title="甲街道社区发展规划", as_of="2019-08-21")
    s.commit()
    assert (a.target, b.target, c.target) == ("sp-01", "sp-02", "sp-03")
    assert ms(s, "sp-01", "proposal").status == "submitted"
    with pytest.raises(TransitionError, match="^暂不能办理立项确认，尚未满足“领导小组同意立项清单”（list-approved）："
                                              "no approval by 领导小组"):
        sv.register(s, mini, confirm=["sp-01", "sp-02"], reject=["sp-03"], by=COORD, as_of="2019-11-01", reason="x")
    s.rollback()
    with pytest.raises(PlancycleError, match="^没有等待该审议结果的阶段门：leading_group审议“special-plans”"):
        sv.approve(s, mini, body="leading_group", subject="special-plans", by=COORD, as_of="2019-11-01")
    s.rollback()
    sv.approve(s, mini, body="领导小组", subject="special-plan-list", by=COORD, as_of="2019-11-05")
    out = sv.register(s, mini, confirm=["sp-01", "sp-02"], reject=["sp-03"], by=COORD, as_of="2019-11-10",
                      reason="街道规划纳入区级专项规划统筹")
    s.commit()
    assert ms(s, "sp-01", "registration").status == "accepted" and ms(s, "sp-01", "proposal").status == "accepted"
    assert ms(s, "sp-03", "draft").status == "waived"
    assert s.exec(select(Item).where(Item.key == "sp-03")).one().status == "rejected"
    assert ms(s, "sp-01", "draft").status == "pending"  # drafting stage not open yet
    assert out.notices and out.notices[-1]["kind"] == "special_plan_registration"
    # the reason is the rejected plan's, shown on its own page; the confirmed plans carry none
    dec = {(d.kind, d.milestone_id): d.comments for d in s.exec(select(Decision))}
    assert dec[("reject", ms(s, "sp-03", "registration").id)] == "街道规划纳入区级专项规划统筹"
    assert dec[("register", ms(s, "sp-01", "registration").id)] == "确认立项"
    whys = {e.target: e.why for e in s.exec(select(AuditEvent).where(AuditEvent.action.like("special_plan.%ed")))
            if e.action != "special_plan.proposed"}
    assert whys["sp-01"] is None and whys["sp-03"] == "街道规划纳入区级专项规划统筹"
    with pytest.raises(PlancycleError, match="^请至少选择一项专项规划确认或不予确认；未生成任何文件$"):
        sv.register(s, mini, confirm=[], reject=[], by=COORD, as_of="2019-11-11")
    s.rollback()


def test_registration_is_not_a_deliverable(mini_run, mini):
    """立项确认 belongs to the coordinator's register move: the proposing department cannot submit it, and it is
    not accepted through review (which would skip its 立项确认通知)."""
    s = mini_run
    sv.propose(s, mini, dept="区商务委", title="商务规划", as_of="2019-08-15")
    sv.approve(s, mini, body="领导小组", subject="special-plan-list", by=COORD, as_of="2019-11-05")
    s.commit()
    with pytest.raises(Forbidden, match="^区商务委不能报送“sp-01 立项确认”：该节点由区发改委负责$"):
        sv.submit(s, mini, item="sp-01", milestone="registration", by="区商务委", as_of="2019-11-06")
    s.rollback()
    with pytest.raises(TransitionError, match="^“sp-01 立项确认”须在协调工具“专项规划立项确认”中办理，不能报送$"):
        sv.submit(s, mini, item="sp-01", milestone="registration", by=COORD, as_of="2019-11-06")
    s.rollback()


def test_bulk_extension_moves_deadlines_once(mini_run, mini):
    s = mini_run
    sv.advance(s, mini, by=COORD, as_of="2019-12-20", override_reason="test")
    out = sv.extend_deadline(s, mini, by=COORD, reason="新冠肺炎疫情影响", as_of="2020-02-10",
                             due_from=dt.date(2020, 1, 1), due_to=dt.date(2020, 6, 30), days=30)
    s.commit()
    moved = {m["milestone"]: (m["from"], m["to"]) for m in out.data["moved"]}
    assert moved["outline:first_draft"] == ("2020-06-30", "2020-07-30")
    m = ms(s, "outline", "first_draft")
    assert (m.due_date, m.original_due, m.due_version) == (dt.date(2020, 7, 30), dt.date(2020, 6, 30), 2)
    again = sv.extend_deadline(s, mini, by=COORD, reason="新冠肺炎疫情影响", as_of="2020-02-11",
                               due_from=dt.date(2020, 1, 1), due_to=dt.date(2020, 6, 30), days=30)
    assert not again.changed and ms(s, "outline", "first_draft").due_date == dt.date(2020, 7, 30)
    with pytest.raises(PlancycleError, match="^请在顺延天数、顺延工作日、新期限中填写且只填写一项$"):
        sv.extend_deadline(s, mini, by=COORD, reason="x", as_of="2020-02-11", items=["outline"], days=3, workdays=3)


def test_waive_needs_a_reason_and_counts_as_done(mini_run, mini):
    s = mini_run
    with pytest.raises(PlancycleError, match="^免除“topic-03 开题”须填写理由$"):
        sv.waive(s, mini, item="topic-03", milestone="kickoff", by=COORD, reason=" ", as_of="2019-07-01")
    s.rollback()
    sv.waive(s, mini, item="topic-03", milestone="kickoff", by=COORD, reason="并入区委重点调研课题", as_of="2019-07-01")
    assert ms(s, "topic-03", "midterm").status == "open"


def test_audit_log_is_append_only(mini_run):
    ev = mini_run.exec(select(AuditEvent)).first()
    ev.why = "rewritten"
    mini_run.add(ev)
    with pytest.raises(AuditLogIsAppendOnly):
        mini_run.flush()
    mini_run.rollback()
    # past the ORM, SQLite's trigger aborts the statement: RAISE(ABORT, …) is an IntegrityError with its words
    with pytest.raises(IntegrityError, match=r"^\(sqlite3\.IntegrityError\) the audit log is append-only\n"):
        mini_run.connection().execute(text("DELETE FROM audit_event"))
    mini_run.rollback()
    assert mini_run.exec(select(func.count()).select_from(AuditEvent)).one() > 0


def test_audit_records_who_when_what_why(mini_run, mini):
    sv.review  # noqa: B018 - documentation of intent
    sv.submit(mini_run, mini, item="topic-03", milestone="kickoff", by="jyj", as_of="2019-07-10T15:30",
              note="开题报告", flow_run_id="flow-123")
    ev = mini_run.exec(select(AuditEvent).where(AuditEvent.action == "deliverable.submitted")).one()
    assert (ev.actor, ev.at, ev.target, ev.why, ev.flow_run_id) == \
        ("cli 代 区教育局", dt.datetime(2019, 7, 10, 15, 30), "topic-03:kickoff", "开题报告", "flow-123")
    assert ev.actor_user == "cli" and ev.data["actor"]["dept"] == "区教育局" and ev.data["actor"]["role"] == "department"


def test_a_signed_in_liaison_is_recorded_by_name_and_department(mini_run, mini):
    who = Actor(user="li", name="李四", role="department", dept="jyj")
    sv.submit(mini_run, mini, item="topic-03", milestone="kickoff", by=who, as_of="2019-07-10T15:30")
    ev = mini_run.exec(select(AuditEvent).where(AuditEvent.action == "deliverable.submitted")).one()
    assert (ev.actor, ev.actor_user) == ("李四（区教育局）", "li")


def test_roles_are_enforced_in_the_service(mini_run, mini):
    """A lead unit no longer accepts its own deliverable; a leader changes nothing; a department acts only on its own."""
    lead = Actor(user="li", name="李四", role="department", dept="区教育局")
    sv.submit(mini_run, mini, item="topic-03", milestone="kickoff", by=lead, as_of="2019-07-10")
    mini_run.commit()
    before = snapshot(mini_run)
    with pytest.raises(Forbidden, match="^只有区发改委（规划科）可以审核“topic-03 开题”，区教育局不能审核$"):
        sv.review(mini_run, mini, item="topic-03", milestone="kickoff", decision="accept", by=lead, as_of="2019-07-11")
    mini_run.rollback()
    with pytest.raises(Forbidden, match="只能查看"):
        sv.review(mini_run, mini, item="topic-03", milestone="kickoff", decision="accept",
                  by=Actor(user="boss", name="王", role="leader"), as_of="2019-07-11")
    mini_run.rollback()
    other = Actor(user="x", name="赵", role="department", dept="区商务委")
    with pytest.raises(Forbidden, match="^区商务委不能报送“topic-03 开题”：该节点由区教育局负责$"):
        sv.submit(mini_run, mini, item="topic-03", milestone="kickoff", by=other, as_of="2019-07-11")
    mini_run.rollback()
    assert snapshot(mini_run) == before
    out = sv.review(mini_run, mini, item="topic-03", milestone="kickoff", decision="accept",
                    by=Actor(user="coord", name="规划科", role="coordinator"), as_of="2019-07-11")
    assert out.changed


def test_an_action_dated_before_the_run_began_is_refused(mini_run, mini):
    with pytest.raises(PlancycleError, match="^办理时间 2018-01-01 09:00 早于本周期建立之日（2019-06-01），未作任何更改$"):
        sv.submit(mini_run, mini, item="topic-03", milestone="kickoff", by="jyj", as_of="2018-01-01")


def test_save_reload_round_trip(tmp_path, mini):
    url = f"sqlite:///{tmp_path / 'run.db'}"
    eng = make_engine(url)
    create_schema(eng)
    with Session(eng) as s:
        sv.init_run(s, mini, as_of="2019-06-01")
        sv.submit(s, mini, item="topic-03", milestone="kickoff", by="区教育局", as_of="2019-07-10")
        sv.review(s, mini, item="topic-03", milestone="kickoff", decision="return", by=COORD, as_of="2019-07-11",
                  comments="补充数据")
        sv.propose(s, mini, dept="区商务委", title="商务规划", as_of="2019-08-01")
        s.commit()
        first = board(s, mini, "2019-08-02")
    eng.dispose()
    eng2 = make_engine(url)
    with Session(eng2) as s:
        second = board(s, mini, "2019-08-02")
        sv.submit(s, mini, item="topic-03", milestone="kickoff", by="区教育局", as_of="2019-08-03")
        s.commit()
        assert ms(s, "topic-03", "kickoff").status == "submitted"
    eng2.dispose()
    assert first == second


@freeze_time("2019-07-25 10:00:00")
def test_default_as_of_is_the_one_clock(mini_run, mini):
    out = sv.submit(mini_run, mini, item="topic-03", milestone="kickoff", by="区教育局")
    assert out.data["workdays_late"] == 4
    ev = mini_run.exec(select(AuditEvent).where(AuditEvent.action == "deliverable.submitted")).one()
    assert ev.at == dt.datetime(2019, 7, 25, 18, 0)  # Asia/Shanghai wall clock


def test_not_found_run(session, mini):
    with pytest.raises(NotFound, match="plancycle init"):
        sv.submit(session, mini, item="topic-03", milestone="kickoff", by="区教育局", as_of="2019-07-10")


def test_changning_run_opens_the_seed_first_steps(changning_run, changning):
    s = changning_run
    assert ms(s, "leading-group", "formed").status == "open"
    assert ms(s, "work-plan", "issued").status == "open"
    assert ms(s, "call-for-tender", "publish").status == "pending"
    assert ms(s, "topic-07", "plan").status == "open" and ms(s, "topic-07", "plan").owner == "区虹桥办"
    assert ms(s, "topic-10", "plan").owner == "区委组织部"
    done(s, changning, "work-plan", "issued", "2019-06-06")
    assert ms(s, "call-for-tender", "publish").status == "open"


def test_a_recorded_text_is_corrected_with_a_reason(mini_run, mini):
    s = mini_run
    sv.assign_contractor(s, mini, topic="topic-01", contractor="某大学\u8bfe题组", contact="张三", by=COORD,
                         as_of="2019-06-25")
    s.commit()
    with pytest.raises(PlancycleError, match="^更正须填写理由$"):
        sv.correct(s, mini, item="topic-01", field="contractor", value="复旦大学课题组", reason=" ", by=COORD)
    s.rollback()
    with pytest.raises(Forbidden):
        sv.correct(s, mini, item="topic-01", field="contractor", value="复旦大学课题组", reason="笔误", by="区商务委",
                   as_of="2019-06-26")
    s.rollback()
    out = sv.correct(s, mini, item="topic-01", field="contractor", value="复旦大学课题组", reason="名称笔误",
                     by=COORD, as_of="2019-06-26")
    s.commit()
    assert out.changed and s.exec(select(Item).where(Item.key == "topic-01")).one().contractor == "复旦大学课题组"
    ev = s.exec(select(AuditEvent).where(AuditEvent.action == "record.corrected")).one()
    assert (ev.why, ev.data["old"], ev.data["new"]) == ("名称笔误", "某大学课题组", "复旦大学课题组")


def test_lead_may_review_lets_the_items_own_lead_unit_review_and_no_other(session, tmp_path):
    """``lead_may_review: true``: a topic's lead unit may accept or return its own topic's deliverables; a unit
    that leads another topic may not review this one, and without the setting the lead unit may not either."""
    from stages.definition.loader import load_cycle

    from .conftest import MINI, write_cycle

    text_ = MINI.read_text(encoding="utf-8")
    assert text_.count("coordinator: 区发改委\n") == 1
    spec = load_cycle(write_cycle(tmp_path, text_.replace("coordinator: 区发改委\n",
                                                          "coordinator: 区发改委\nlead_may_review: true\n")))
    assert spec.file.lead_may_review is True
    sv.init_run(session, spec, as_of="2019-06-01")
    sv.submit(session, spec, item="topic-03", milestone="kickoff", by="区教育局", as_of="2019-07-10")
    session.commit()
    before = snapshot(session)
    # 区商务委 leads topic-02, not topic-03 (lead: [区教育局]): the setting does not make it a reviewer here
    with pytest.raises(Forbidden, match=r"^只有区发改委（规划科）可以审核“topic-03 开题”，区商务委不能审核$"):
        sv.review(session, spec, item="topic-03", milestone="kickoff", decision="accept", by="区商务委",
                  as_of="2019-07-11")
    session.rollback()
    assert snapshot(session) == before
    out = sv.review(session, spec, item="topic-03", milestone="kickoff", decision="accept", by="区教育局",
                    as_of="2019-07-11")
    session.commit()
    assert out.changed and ms(session, "topic-03", "kickoff").status == "accepted"
    assert session.exec(select(Decision.by).where(Decision.kind == "accept")).all() == ["区教育局"]


def test_without_lead_may_review_the_lead_unit_cannot_review_its_own_topic(mini_run, mini):
    s = mini_run
    assert mini.file.lead_may_review is False
    sv.submit(s, mini, item="topic-03", milestone="kickoff", by="区教育局", as_of="2019-07-10")
    s.commit()
    with pytest.raises(Forbidden, match=r"^只有区发改委（规划科）可以审核“topic-03 开题”，区教育局不能审核$"):
        sv.review(s, mini, item="topic-03", milestone="kickoff", decision="accept", by="区教育局", as_of="2019-07-11")
