"""Notices: every generated .docx opened with python-docx and checked against NOTICE-FORMAT.md's checklist."""

import datetime as dt
import hashlib
import io
import re
import zipfile

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm
from sqlmodel import func, select

from stages.paperwork import documents
from stages.paperwork import notices as nt
from stages import engine as sv
from stages.store.models import DocSequence, Notice
from stages.paperwork import drafting as pw
from stages.ground.errors import PlancycleError
from stages.rules.identity import Forbidden
from stages.store.models import AuditEvent, Item
from stages.engine.sweep import sweep

COORD = "区发改委"
NUMBER = re.compile(r"^\S+〔\d{4}〕[1-9]\d*号$")
DATE = re.compile(r"^\d{4}年[1-9]\d?月[1-9]\d?日$")


def east_asia(run) -> str:
    return run._r.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia"))


def fonts4(run) -> set:
    rf = run._r.rPr.find(qn("w:rFonts"))
    return {rf.get(qn(f"w:{s}")) for s in ("ascii", "hAnsi", "eastAsia", "cs")}


def paras(d):
    return [p for p in d.paragraphs if p.text.strip()]


def check_layout(data: bytes, *, numbered: bool = True, has_imprint: bool = True):
    d = Document(io.BytesIO(data))
    sec = d.sections[0]
    assert (round(sec.page_width.mm), round(sec.page_height.mm)) == (210, 297)
    assert abs(sec.top_margin - Mm(37)) < Mm(1) and abs(sec.left_margin - Mm(28)) < Mm(1)
    assert abs(sec.right_margin - Mm(26)) < Mm(1) and abs(sec.bottom_margin - Mm(35)) < Mm(1)
    grid = sec._sectPr.find(qn("w:docGrid"))
    assert grid.get(qn("w:type")) == "lines" and grid.get(qn("w:linePitch")) == "579"
    # no theme fonts anywhere; defaults in zh-CN
    styles_xml = d.styles.element.xml
    assert "Theme=" not in styles_xml.replace("w:cstheme", "w:csTheme") and "cstheme" not in styles_xml
    assert 'w:eastAsia="zh-CN"' in styles_xml
    ps = paras(d)
    texts = [p.text for p in ps]
    # every run names its font in all four slots
    for p in ps:
        for r in p.runs:
            if r.text.strip():
                assert len(fonts4(r)) == 1 and None not in fonts4(r), (p.text, fonts4(r))
    title = next(p for p in ps if p.runs and east_asia(p.runs[0]) == documents.TITLE_FONT and p.runs[0].font.color.rgb is None)
    assert title.runs[0].font.size.pt == 22 and title.alignment == 1  # centred
    ti = texts.index(title.text)
    if numbered:
        number = next(t for t in texts[:ti] if "〔" in t)
        assert NUMBER.match(number.split("\t")[0].strip()), number
    body = [p for p in ps[ti + 1:] if p.runs and east_asia(p.runs[0]) == documents.BODY_FONT
            and p.runs[0].font.size and p.runs[0].font.size.pt == 16]
    assert body, "no 三号仿宋 body"
    to = ps[ti + 1]
    if numbered:  # 主送: flush left, full-width colon
        assert to.text.endswith("：") and to.paragraph_format.first_line_indent in (None, 0)
    for p in ps:
        if p.text.startswith(("一、", "二、", "三、")) and p.runs and east_asia(p.runs[0]) != documents.BODY_FONT:
            assert east_asia(p.runs[0]) == documents.HEI_FONT
        if p.text.startswith("（一）") and p.runs and p.runs[0].font.size and p.runs[0].font.size.pt == 16:
            assert east_asia(p.runs[0]) == documents.KAI_FONT
    date_i = next(i for i, t in enumerate(texts) if DATE.match(t))
    assert texts[date_i - 1] == "上海市长宁区发展和改革委员会"  # 署名 right above 成文日期
    assert date_i > ti
    att = [i for i, t in enumerate(texts) if t.startswith("附件：")]
    if att:
        assert ti < att[0] < date_i - 1  # 附件说明 between body and 署名
    annex = [i for i, t in enumerate(texts) if re.fullmatch(r"附件\d*", t)]
    if annex:
        assert annex[0] > date_i
    if has_imprint:  # 版记: the last paragraphs, or a table anchored at the foot of the last page
        tail = [p for t in d.tables for row in t.rows for c in row.cells for p in c.paragraphs if p.text.strip()]
        imprint = tail if any(p.text.endswith("印发") for p in tail) else ps
        itexts = [p.text for p in imprint]
        cc = [i for i, t in enumerate(itexts) if t.startswith("抄送：")]
        issued = [i for i, t in enumerate(itexts) if t.endswith("印发")]
        assert issued and (imprint is tail or issued[-1] == len(texts) - 1)  # 版记 last
        if cc:
            assert cc[0] == issued[-1] - 1 and itexts[cc[0]].endswith("。")
            assert imprint[cc[0]].runs[0].font.size.pt == 14
    # page numbers: odd right, even left, 宋体 四号, "— PAGE —"
    assert d.settings.odd_and_even_pages_header_footer
    for footer, align in ((sec.footer, 2), (sec.even_page_footer, 0)):
        p = footer.paragraphs[0]
        assert p.alignment == align
        assert "PAGE" in p._p.xml and p.text.startswith("—") and p.text.rstrip().endswith("—")
        assert {east_asia(r) for r in p.runs} == {documents.SONG_FONT}
        assert {r.font.size.pt for r in p.runs} == {14}
    return d, texts


@pytest.fixture
def run_(changning_run, changning):
    return changning_run, changning, sv.find_run(changning_run, changning.id)


FILL = {"contact_person": "陈明（规划科）", "contact_phone": "021-22050000", "contact_email": "ghk@cnfgw.example.cn",
        "contact_address": "长宁区长宁路599号", "signer": "李伟", "place": "区发改委第一会议室"}


def act(fn, s, spec, **kw):
    """A move as the adapters make it: the service, then the paperwork its outcome calls for."""
    out = fn(s, spec, **kw)
    pw.after(s, spec, out, as_of=kw.get("as_of"))
    return out


def sign(s, spec, notice_id, as_of, **kw):
    n = s.get(Notice, notice_id)
    gaps = nt.missing(n.data, n.kind)
    return pw.sign_document(s, spec, notice=notice_id, as_of=as_of, by=COORD,
                            changes={g: FILL[g] for g in gaps if g in FILL}, **kw)


def test_init_drafts_the_opening_request_and_the_stage_notice(run_):
    s, spec, run = run_
    drafts = s.exec(select(Notice).where(Notice.status == "draft").order_by(Notice.id)).all()
    assert [n.kind for n in drafts] == ["request", "stage_notice"]
    assert all(n.doc_number is None for n in drafts)  # a draft has no number
    sign(s, spec, drafts[0].id, "2019-06-26T17:00")
    sign(s, spec, drafts[1].id, "2019-06-27T10:00")
    s.commit()
    req, st = (s.get(Notice, n.id) for n in drafts)
    assert req.doc_number == "长发改〔2019〕24号"  # seed 000's opening 请示 continues the configured register
    assert st.doc_number == "长发改〔2019〕25号"
    _n, data = nt.render_notice(s, req.id)
    d, texts = check_layout(data)
    assert hashlib.sha256(data).hexdigest() == req.checksum
    head = next(t for t in texts if "〔2019〕" in t)
    assert "签发人：李伟" in head and "特此请示。" in texts and texts[texts.index(req.title) + 1] == "区政府："
    d, texts = check_layout(nt.render_notice(s, st.id)[1])
    rows = [[c.text for c in r.cells] for r in d.tables[0].rows]
    assert rows[0] == ["序号", "责任单位", "工作事项", "成果要求", "完成时限"]
    assert ["区虹桥办", "课题7“‘十四五’期间深入实施城市更新战略的目标、思路和举措研究”：形成方案"] == rows[-1][1:3] or \
        any(r[1] == "区虹桥办" and r[2].startswith("课题7“") for r in rows)


def test_a_placeholder_refuses_sign_off_naming_the_field(run_):
    s, spec, run = run_
    n = s.exec(select(Notice).where(Notice.kind == "request")).one()
    with pytest.raises(PlancycleError, match=r"cannot be signed: contact_person \(联系人\)"):
        pw.sign_document(s, spec, notice=n.id, as_of="2019-06-26", by=COORD)
    s.rollback()
    n = s.exec(select(Notice).where(Notice.kind == "request")).one()
    assert n.status == "draft" and n.doc_number is None
    assert s.exec(select(func.count()).select_from(DocSequence)).one() == 0  # no number taken
    # edited, the 签发人 is still missing on a 请示
    pw.edit_document(s, spec, notice=n.id, changes={k: FILL[k] for k in ("contact_person", "contact_phone")},
                     as_of="2019-06-26", by=COORD)
    with pytest.raises(PlancycleError, match="signer"):
        pw.sign_document(s, spec, notice=n.id, as_of="2019-06-26", by=COORD)


def test_only_the_coordinator_signs(run_):
    s, spec, run = run_
    n = s.exec(select(Notice).where(Notice.kind == "stage_notice")).one()
    with pytest.raises(PlancycleError, match="无权|cannot|only"):
        pw.sign_document(s, spec, notice=n.id, as_of="2019-06-26", by="区虹桥办", changes=FILL)


def test_signing_users_restrict_who_signs_off(run_, monkeypatch):
    """``signing.users`` names who may 签发: the coordinator not among them is refused, and nothing is signed."""
    s, spec, run = run_
    n = s.exec(select(Notice).where(Notice.kind == "stage_notice")).one()
    cfg = nt.load_config(spec.notices_path)
    monkeypatch.setattr(pw.nt, "load_config", lambda path=None: {**cfg, "signing": {"users": ["王某某"]}})
    with pytest.raises(Forbidden, match="签发 is for 王某某"):
        pw.sign_document(s, spec, notice=n.id, as_of="2019-06-26", by=COORD, changes=FILL)
    assert n.status == "draft" and n.doc_number is None


def test_a_number_given_by_the_oa_is_kept_and_the_register_continues_after_it(run_):
    s, spec, run = run_
    req, st = s.exec(select(Notice).where(Notice.status == "draft").order_by(Notice.id)).all()
    sign(s, spec, req.id, "2019-06-26", number="长发改〔2019〕30号")
    sign(s, spec, st.id, "2019-06-27")
    assert (req.doc_number, st.doc_number) == ("长发改〔2019〕30号", "长发改〔2019〕31号")
    with pytest.raises(PlancycleError, match="already used"):
        nt.take_given_number(s, "长发改", 2019, "长发改〔2019〕31号", nt.load_config(spec.notices_path))
    with pytest.raises(PlancycleError, match="must look like"):
        nt.take_given_number(s, "长发改", 2019, "长发改2019-32", nt.load_config(spec.notices_path))


def test_call_for_tender_is_an_unnumbered_public_notice_with_the_application_form(run_):
    s, spec, run = run_
    act(sv.submit, s, spec, item="work-plan", milestone="issued", by=COORD, as_of="2019-06-06")
    act(sv.review, s, spec, item="work-plan", milestone="issued", decision="accept", by=COORD, as_of="2019-06-14T10:00")
    n = s.exec(select(Notice).where(Notice.kind == "call_for_tender")).one()
    sign(s, spec, n.id, "2019-06-14T16:00")
    s.commit()
    assert n.doc_number is None and n.title.endswith("的公告") and n.recipients == ["社会"]
    d, texts = check_layout(nt.render_notice(s, n.id)[1], numbered=False, has_imprint=False)
    rows = [[c.text for c in r.cells] for r in d.tables[0].rows]
    assert rows[0] == ["课题序号", "课题名称", "研究重点", "牵头单位", "研究经费"]
    assert {r[0] for r in rows[1:]} == {str(i) for i in range(1, 19)} - {"3", "10", "17"}  # the source's numbers
    text = "\n".join(texts)
    assert "申报截止时间为2019年6月21日17:00" in text or "申报截止时间为2019年6月25日17:00" in text
    assert "课题申报书格式见附件2" in text and "评审主要考虑以下因素" in text
    assert [[c.text for c in r.cells] for r in d.tables[1].rows][0] == ["项目", "填写内容"]


def test_meeting_round_to_the_lead_units_and_a_letter_to_contractors(run_):
    s, spec, run = run_
    s.exec(select(Notice)).all()
    for t in s.exec(select(Item).where(Item.kind == "topic")).all():
        t.contractor = "复旦大学课题组" if t.no % 2 else None
        s.add(t)
    out = act(sv.schedule_meeting, s, spec, milestone="kickoff", at="2019-07-12T14:30", by=COORD, as_of="2019-07-01",
              place="长宁区政府3号会议室")
    kinds = [d["kind"] for d in out.data["drafts"]]
    assert kinds == ["meeting", "meeting_letter"]
    n = s.get(Notice, out.data["drafts"][0]["id"])
    assert "区发改委" not in n.recipients and "区发改委" not in n.data["to"]  # never to its issuer
    sign(s, spec, n.id, "2019-07-01T16:00")
    d, texts = check_layout(nt.render_notice(s, n.id)[1])
    text = "\n".join(texts)
    assert n.title == "关于召开“十四五”规划前期重大课题启动会的通知"
    assert "时间：2019年7月12日14:30（星期五）。" in text and "地点：长宁区政府3号会议室。" in text
    assert "附件：参会回执" in text and [c.text for c in d.tables[0].rows[0].cells] == ["单位", "姓名", "职务", "联系电话"]
    letter = s.get(Notice, out.data["drafts"][1]["id"])
    assert letter.data["genre"] == "函" and letter.recipients == ["复旦大学课题组"]
    sign(s, spec, letter.id, "2019-07-01T16:00")
    assert letter.doc_number == "长发改函〔2019〕1号"  # its own register


def test_a_changed_meeting_is_a_change_notice_that_names_the_one_it_replaces(run_):
    s, spec, run = run_
    first = act(sv.schedule_meeting, s, spec, milestone="kickoff", at="2019-07-12T14:30", by=COORD,
                as_of="2019-07-01", place="长宁区政府3号会议室", attendees="各课题牵头部门分管领导")
    n1 = s.get(Notice, first.data["drafts"][0]["id"])
    sign(s, spec, n1.id, "2019-07-01T16:00")
    again = act(sv.schedule_meeting, s, spec, milestone="kickoff", at="2019-07-15T09:30", by=COORD,
                as_of="2019-07-03", place="长宁区政府5号会议室")
    assert again.changed
    n2 = s.get(Notice, again.data["drafts"][0]["id"])
    assert n2.corrects_id == n1.id and n2.data["attendees"] == "各课题牵头部门分管领导"  # kept, not dropped
    sign(s, spec, n2.id, "2019-07-03T16:00")
    texts = check_layout(nt.render_notice(s, n2.id)[1])[1]
    text = "\n".join(texts)
    assert n2.title.startswith("关于调整") and n1.doc_number in text and n1.title in text
    assert "地点：长宁区政府5号会议室。" in text and "原通知同时废止" in text
    audit = s.exec(select(AuditEvent.action).where(AuditEvent.action.like("meeting.%")).order_by(AuditEvent.id)).all()
    assert audit == ["meeting.scheduled", "meeting.changed"]
    with pytest.raises(PlancycleError, match="^该会议已安排在2019-07-15 09:30，地点：长宁区政府5号会议室，未作更改$"):
        sv.schedule_meeting(s, spec, milestone="kickoff", at="2019-07-15T09:30", by=COORD, as_of="2019-07-04",
                            place="长宁区政府5号会议室", key="again")
    # changed again before the 变更通知 was signed: that draft is withdrawn, never sent; the new one replaces n2
    third = act(sv.schedule_meeting, s, spec, milestone="kickoff", at="2019-07-16T09:30", by=COORD,
                as_of="2019-07-04", place="长宁区政府5号会议室")
    n3 = s.get(Notice, third.data["drafts"][0]["id"])
    assert n3.corrects_id == n2.id and s.get(Notice, n2.id).status == "issued"
    fourth = act(sv.schedule_meeting, s, spec, milestone="kickoff", at="2019-07-17T09:30", by=COORD,
                 as_of="2019-07-05", place="长宁区政府5号会议室")
    n4 = s.get(Notice, fourth.data["drafts"][0]["id"])
    assert s.get(Notice, n3.id).status == "withdrawn" and n4.corrects_id == n2.id


def test_supervision_is_periodic_to_the_late_units_never_the_issuer(run_):
    s, spec, run = run_
    cal = sv.calendar_for(spec)
    sweep(s, {spec.id: spec}, cal, "2019-06-19")
    made = pw.supervision(s, {spec.id: spec}, cal, "2019-06-19")
    assert len(made) == 1 and pw.supervision(s, {spec.id: spec}, cal, "2019-06-20") == []  # once a month
    n = made[0]
    assert "区发改委" not in n.recipients and "区虹桥办" in n.recipients
    sign(s, spec, n.id, "2019-06-19T17:00")
    texts = check_layout(nt.render_notice(s, n.id)[1])[1]
    text = "\n".join(texts)
    assert "个工作日" in text and "天" not in text.replace("工作日", "")
    assert "逾期事项较多的单位依次为" not in text  # one item each: no ranking to give
    assert not re.search(r"topic-\d|sp-\d", text)
    # reminders that are not the 督办 rung make no document
    assert s.exec(select(func.count()).select_from(Notice).where(Notice.kind.in_(["reminder", "escalation"]))).one() == 0


def test_monthly_report_has_substance_and_a_signer(run_):
    s, spec, run = run_
    act(sv.submit, s, spec, item="topic-07", milestone="plan", by="区虹桥办", as_of="2019-06-06",
        note="已确定分管领导，问题：课题组人员尚需充实")
    report, new = pw.monthly_report(s, spec, sv.calendar_for(spec), "2019-06")
    n = s.exec(select(Notice).where(Notice.kind == "monthly_report")).one()
    assert n.status == "draft" and n.data["genre"] == "报告"
    sign(s, spec, n.id, "2019-06-25T17:00")
    d, texts = check_layout(nt.render_notice(s, n.id)[1])
    text = "\n".join(texts)
    assert n.title == "关于“十四五”规划研究和编制工作2019年6月进展情况的报告"
    assert texts[texts.index(n.title) + 1] == "区政府："
    assert "签发人：李伟" in next(t for t in texts if "〔2019〕" in t)
    assert "课题组人员尚需充实" in text and "逾期" in text and "特此报告。" in texts
    assert pw.monthly_report(s, spec, sv.calendar_for(spec), "2019-06")[1] is False


def test_special_plan_registration_notice(run_):
    s, spec, run = run_
    keys = [act(sv.propose, s, spec, dept=dept, title=title, as_of="2019-08-20").target
            for dept, title in (("区商务委", "长宁区商务发展“十四五”规划"), ("区教育局", "长宁区教育改革和发展“十四五”规划"),
                                ("区体育局", "长宁区体育发展“十四五”规划"))]
    act(sv.approve, s, spec, body="leading_group", subject="special-plan-list", by=COORD, as_of="2019-11-20")
    out = act(sv.register, s, spec, confirm=keys[:2], reject=keys[2:], by=COORD, as_of="2019-11-25",
              reason="纳入区文化和旅游专项规划统筹编制")
    n = s.get(Notice, next(x["id"] for x in out.data["drafts"] if x["kind"] == "special_plan_registration"))
    sign(s, spec, n.id, "2019-11-25T17:00")
    d, texts = check_layout(nt.render_notice(s, n.id)[1])
    assert [[c.text for c in r.cells] for r in d.tables[0].rows][1] == ["1", "《长宁区商务发展“十四五”规划》", "区商务委"]
    assert any("《长宁区体育发展“十四五”规划》（区体育局）" in t for t in texts)
    assert n.title == "关于“十四五”专项规划立项确认的通知"


def test_a_failed_render_takes_no_number(run_, monkeypatch):
    s, spec, run = run_
    req = s.exec(select(Notice).where(Notice.kind == "request")).one()

    def boom(*a, **k):
        raise RuntimeError("disk full while rendering")

    monkeypatch.setattr(documents, "to_docx", boom)
    with pytest.raises(RuntimeError):
        sign(s, spec, req.id, "2019-06-26")
    s.rollback()
    monkeypatch.undo()
    req = s.exec(select(Notice).where(Notice.kind == "request")).one()
    assert req.status == "draft"
    sign(s, spec, req.id, "2019-06-26")
    assert req.doc_number == "长发改〔2019〕24号"  # the failure skipped nothing


def test_rerender_is_byte_identical(run_):
    s, spec, run = run_
    n = s.exec(select(Notice).where(Notice.kind == "stage_notice")).one()
    sign(s, spec, n.id, "2019-06-03")
    a = nt.render_notice(s, n.id)[1]
    b = nt.render_notice(s, n.id)[1]
    assert a == b and hashlib.sha256(a).hexdigest() == n.checksum


def test_chinese_ordinals_beyond_ten():
    assert [nt.cn_no(i) for i in (1, 10, 11, 12, 19, 20, 21, 35, 99)] == \
        ["一", "十", "十一", "十二", "十九", "二十", "二十一", "三十五", "九十九"]
    assert nt.glue("课题", "课题启动会") == "课题启动会"
    assert nt.glue("“十四五”规划", "规划编制阶段") == "“十四五”规划编制阶段"


def test_user_text_cannot_inject_markup():
    hostile = "标题@h1 一、伪造|第二格\n@cc 伪造抄送"
    doc = documents.parse(f"@title 测试\n{documents.escape(hostile)}\n@annex |表\n@table 甲|乙\n@row {documents.escape('a|b')}|c\n")
    assert doc.body == [("p", "标题@h1 一、伪造|第二格 @cc 伪造抄送")]
    assert doc.cc is None and doc.annexes[0]["rows"] == [["a|b", "c"]]
    md = documents.to_markdown(doc)
    assert "\\|" in md and "\\#" not in md.split("\n")[0]


def test_strict_undefined_refuses_a_missing_value():
    with pytest.raises(Exception, match="undefined|has no attribute"):
        nt.markup("meeting", {"organ": {}})


def test_accepting_a_proposal_opens_registration_without_issuing_its_decision(run_):
    s, spec, run = run_
    key = act(sv.propose, s, spec, dept="区商务委", title="长宁区商务发展“十四五”规划", as_of="2019-08-20").target
    out = act(sv.review, s, spec, item=key, milestone="proposal", decision="accept", by=COORD, as_of="2019-08-22")
    s.commit()
    assert f"{key}:registration" in out.opened
    assert out.data["drafts"] == []  # the 立项确认通知 comes with the decision (register); one opening is a message


# -- what an office reads: checks over any set of issued documents (the demo's, below and in test_flows) ----------
CHECKS = {
    "placeholder": re.compile(r"请填写|待填写|X{3,}|（签发时编号）"),
    "ascii id": re.compile(r"\b(?:topic|sp|task)-\d+\b|\b[a-z]+(?:-[a-z0-9]+)+:[a-z_]+\b|\b[a-z]+_[a-z_]+\b"),
    "doubled word": re.compile(r"([\u4e00-\u9fff]{2})\1"),
    "ordinal beyond ten in digits": re.compile(r"（(?:1\d|[2-9]\d)）"),
}


def document_problems(texts: dict[str, str], issuer: str = "区发改委") -> list[str]:
    out = []
    for name, t in texts.items():
        for what, rx in CHECKS.items():
            m = rx.search(t)
            if m:
                out.append(f"{name}: {what} {m.group(0)!r}")
        if re.search(rf"^(?:.*、)?{issuer}(?:、.*)?：$", t, re.M):
            out.append(f"{name}: addressed to its issuer")
    return out


def test_every_kind_reads_right(run_):
    """One document of every kind the cycle drafts, signed and rendered: none has a placeholder, an id, a doubled
    word, digits for a Chinese ordinal, or its issuer as addressee."""
    s, spec, run = run_
    cal = sv.calendar_for(spec)
    act(sv.submit, s, spec, item="work-plan", milestone="issued", by=COORD, as_of="2019-06-06")
    act(sv.review, s, spec, item="work-plan", milestone="issued", decision="accept", by=COORD, as_of="2019-06-14T10:00")
    for t in s.exec(select(Item).where(Item.kind == "topic")).all():
        t.contractor = f"课题组{t.no}"
        s.add(t)
    act(sv.schedule_meeting, s, spec, milestone="midterm", at="2019-08-20T14:30", by=COORD, as_of="2019-08-01",
        place="区政府3号会议室")
    keys = [act(sv.propose, s, spec, dept=dept, title=title, as_of="2019-08-20").target
            for dept, title in (("区商务委", "长宁区商务发展“十四五”规划"), ("区体育局", "长宁区体育发展“十四五”规划"))]
    act(sv.approve, s, spec, body="leading_group", subject="special-plan-list", by=COORD, as_of="2019-11-20")
    act(sv.register, s, spec, confirm=keys[:1], reject=keys[1:], by=COORD, as_of="2019-11-25", reason="统筹编制")
    sweep(s, {spec.id: spec}, cal, "2019-11-26")
    pw.supervision(s, {spec.id: spec}, cal, "2019-11-26")
    pw.monthly_report(s, spec, cal, "2019-11")
    for n in s.exec(select(Notice).where(Notice.status == "draft").order_by(Notice.id)).all():
        sign(s, spec, n.id, "2019-11-27T10:00")
    issued = s.exec(select(Notice).where(Notice.status == "issued")).all()
    kinds = {n.kind for n in issued}
    assert {"request", "stage_notice", "call_for_tender", "meeting", "meeting_letter", "special_plan_registration",
            "supervision", "monthly_report"} <= kinds
    texts = {f"{n.id}-{n.kind}": nt.render_notice(s, n.id, "md")[1].decode() for n in issued}
    assert document_problems(texts) == []
    assert len({n.doc_number for n in issued if n.doc_number}) == sum(1 for n in issued if n.doc_number)
    for n in issued:  # every issued .docx of every kind: the checklist and the page geometry
        data = nt.render_notice(s, n.id)[1]
        public = n.data["genre"] in ("公告", "公示")
        letter = n.data["genre"] == "函"  # 信函格式 (GB/T 9704 10.1): its own 版头, no 印发 line (tests/test_layout.py)
        check_layout(data, numbered=bool(n.doc_number), has_imprint=not (public or letter))
        geometry(data, masthead=not (public or letter), imprint=not (public or letter))


def geometry(data: bytes, *, masthead: bool, imprint: bool) -> None:
    """GB/T 9704's positions as the .docx states them (tests/test_layout.py measures them on rendered pages)."""
    W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    TW_MM = 25.4 / 1440
    d = Document(io.BytesIO(data))
    body = d.element.body
    ps = body.findall(f"{W}p")
    if masthead:
        first = ps[0].find(f"{W}pPr/{W}spacing")
        assert abs(int(first.get(f"{W}before")) * TW_MM - 35) < 0.1  # 35 mm under the 版心's top
        rule = next(p for p in ps if p.find(f"{W}pPr/{W}pBdr/{W}bottom") is not None)
        bottom = rule.find(f"{W}pPr/{W}pBdr/{W}bottom")
        assert bottom.get(f"{W}color") == "FF0000"
        ind = rule.find(f"{W}pPr/{W}ind")
        assert ind is None or not {k for k in ind.attrib if k.split("}")[1] in ("left", "right", "start", "end")
                                   and ind.get(k) not in ("0", None)}  # the full 版心 width
    sec = d.sections[0]
    assert abs(sec.footer_distance.mm + documents.FOOT_DASH_MM - 28) < 0.05  # page number 7 mm under the 版心
    for tbl in body.findall(f"{W}tbl"):
        assert all(r.find(f"{W}trPr/{W}cantSplit") is not None for r in tbl.findall(f"{W}tr"))  # rows never split
    if imprint:
        pos = body.findall(f"{W}tbl")[-1].find(f"{W}tblPr/{W}tblpPr")
        assert pos is not None and pos.get(f"{W}tblpYSpec") == "bottom"  # 版记 at the foot of the last page
    xml = zipfile.ZipFile(io.BytesIO(data)).read("word/settings.xml").decode()
    assert "ja-JP" not in xml
