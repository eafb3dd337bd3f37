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
from jinja2.exceptions import UndefinedError
from sqlmodel import func, select

from stages.paperwork import documents
from stages.paperwork import notices as nt
from stages import engine as sv
from stages.store.models import DocSequence, Notice
from stages.paperwork import drafting as pw
from stages.ground.errors import PlancycleError, TransitionError
from stages.ground.i18n import using
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
    # the 22 units' tasks are all due 6月10日, so the rows run in unit order: 区虹桥办's 课题7 is the 21st of 22
    assert len(rows) == 1 + 22
    assert [r for r in rows if r[1] == "区虹桥办"] == [
        ["21", "区虹桥办", "课题7“‘十四五’期间深入实施城市更新战略的目标、思路和举措研究”：形成方案",
         "课题研究分管领导和具体负责人名单", "2019年6月10日前"]]


def test_a_placeholder_refuses_sign_off_naming_the_field(run_):
    s, spec, run = run_
    n = s.exec(select(Notice).where(Notice.kind == "request")).one()
    with pytest.raises(PlancycleError) as exc:
        pw.sign_document(s, spec, notice=n.id, as_of="2019-06-26", by=COORD)
    assert exc.value.code == "paperwork.cannot_sign.many"
    assert str(exc.value) == f"文件暂不能签发：“联系人”、“联系电话”、“签发人”尚未填写或仍为占位内容，请先补充（文件 {n.id}）"
    with using("en"):
        assert str(exc.value) == (f"document {n.id} cannot be signed: contact_person (联系人), contact_phone (联系电话), "
                                  "signer (签发人) are empty or a placeholder; edit it first")
    s.rollback()
    n = s.exec(select(Notice).where(Notice.kind == "request")).one()
    assert n.status == "draft" and n.doc_number is None
    assert s.exec(select(func.count()).select_from(DocSequence)).one() == 0  # no number taken
    # edited, the 签发人 is still missing on a 请示
    pw.edit_document(s, spec, notice=n.id, changes={k: FILL[k] for k in ("contact_person", "contact_phone")},
                     as_of="2019-06-26", by=COORD)
    with pytest.raises(PlancycleError) as exc:
        pw.sign_document(s, spec, notice=n.id, as_of="2019-06-26", by=COORD)
    assert str(exc.value) == f"文件暂不能签发：“签发人”尚未填写或仍为占位内容，请先补充（文件 {n.id}）"
    with using("en"):
        assert str(exc.value) == (f"document {n.id} cannot be signed: signer (签发人) is empty or a placeholder; "
                                  "edit it first")


def test_editing_and_signing_say_what_they_did_in_chinese_and_in_english(run_):
    """The one-line results of the moves on a document are catalogue messages: Chinese by default (the console's
    words), English on request; a draft no longer a draft is refused in both."""
    s, spec, run = run_
    n = s.exec(select(Notice).where(Notice.kind == "request")).one()
    out = pw.edit_document(s, spec, notice=n.id, changes={"signer": "李伟", "contact_person": "陈明"},
                           as_of="2019-06-26", by=COORD)
    assert out.message.code == "paperwork.edited"
    assert str(out.message) == f"文件 {n.id} 已修改：签发人、联系人"
    with using("en"):
        assert str(out.message) == f"document {n.id} edited: signer, contact_person"
    with pytest.raises(PlancycleError) as exc:
        pw.edit_document(s, spec, notice=n.id, changes={"signer": "李伟"}, as_of="2019-06-26", by=COORD)
    assert str(exc.value) == "没有需要保存的修改"
    with using("en"):
        assert str(exc.value) == "nothing to change: the values are the draft's already"
    out = sign(s, spec, n.id, "2019-06-26")
    assert str(out.message) == f"已签发（请示）：{n.doc_number} {n.title}"
    with using("en"):
        assert str(out.message) == f"请示 signed: {n.doc_number} {n.title}"
    with pytest.raises(TransitionError) as exc:
        nt.sign(s, n, as_of="2019-06-27", signed_by=COORD)
    assert str(exc.value) == f"该文件已签发，不能再修改或签发（文件 {n.id}）"
    with using("en"):
        assert str(exc.value) == f"document {n.id} is issued; only a draft can be signed"


def test_only_the_coordinator_signs(run_):
    s, spec, run = run_
    n = s.exec(select(Notice).where(Notice.kind == "stage_notice")).one()
    with pytest.raises(Forbidden) as exc:
        pw.sign_document(s, spec, notice=n.id, as_of="2019-06-26", by="区虹桥办", changes=FILL)
    assert str(exc.value) == "只有区发改委（规划科）可以办理此事项，cli 代 区虹桥办无权办理"
    with using("en"):
        assert str(exc.value) == "cli 代 区虹桥办 cannot sign a document off: only the coordinator (区发改委) can"


def test_signing_users_restrict_who_signs_off(run_, monkeypatch):
    """``signing.users`` names who may 签发: the coordinator not among them is refused, and nothing is signed."""
    s, spec, run = run_
    n = s.exec(select(Notice).where(Notice.kind == "stage_notice")).one()
    cfg = nt.load_config(spec.notices_path)
    monkeypatch.setattr(pw.nt, "load_config", lambda path=None: {**cfg, "signing": {"users": ["王某某"]}})
    with pytest.raises(Forbidden) as exc:
        pw.sign_document(s, spec, notice=n.id, as_of="2019-06-26", by=COORD, changes=FILL)
    assert str(exc.value) == "cli（区发改委）无权签发文件：签发人为王某某"
    with using("en"):
        assert str(exc.value) == "cli（区发改委） cannot sign documents off: 签发 is for 王某某"
    assert n.status == "draft" and n.doc_number is None


def test_a_number_given_by_the_oa_is_kept_and_the_register_continues_after_it(run_):
    s, spec, run = run_
    req, st = s.exec(select(Notice).where(Notice.status == "draft").order_by(Notice.id)).all()
    sign(s, spec, req.id, "2019-06-26", number="长发改〔2019〕30号")
    sign(s, spec, st.id, "2019-06-27")
    assert (req.doc_number, st.doc_number) == ("长发改〔2019〕30号", "长发改〔2019〕31号")
    with pytest.raises(PlancycleError) as exc:
        nt.take_given_number(s, "长发改", 2019, "长发改〔2019〕31号", nt.load_config(spec.notices_path))
    assert str(exc.value) == "发文字号长发改〔2019〕31号已被使用"
    with using("en"):
        assert str(exc.value) == "长发改〔2019〕31号 is already used by another document"
    with pytest.raises(PlancycleError) as exc:
        nt.take_given_number(s, "长发改", 2019, "长发改2019-32", nt.load_config(spec.notices_path))
    assert str(exc.value) == "发文字号格式应为长发改〔2019〕N号（填写的是“长发改2019-32”）"
    with using("en"):
        assert str(exc.value) == "number must look like 长发改〔2019〕N号, not '长发改2019-32'"


def test_manual_numbering_takes_only_the_number_the_office_gives(session, tmp_path):
    """``numbering.mode: manual``: the office's OA keeps the register, so a numbered document is signed only with the
    number typed at sign-off — none is allocated; the number must be the organ's prefix and the signing year, and
    one already used is refused. A refusal changes nothing."""
    from stages.definition.loader import load_cycle

    from .conftest import write_cycle

    path = write_cycle(tmp_path)
    settings = tmp_path / "mini-notices.yaml"
    text = settings.read_text(encoding="utf-8")
    assert text.count("  mode: sequence\n") == 1
    settings.write_text(text.replace("  mode: sequence\n", "  mode: manual\n"), encoding="utf-8")
    spec = load_cycle(path)
    assert nt.load_config(spec.notices_path)["numbering"]["mode"] == "manual"
    pw.after(session, spec, sv.init_run(session, spec, as_of="2019-06-01"), as_of="2019-06-01")
    run = sv.find_run(session, spec.id)
    st = session.exec(select(Notice).where(Notice.kind == "stage_notice")).one()
    req = nt.draft(session, run.id, "request", {**pw.words(spec), "to": "区政府", "title": "关于测试事项的请示",
                                                 "paragraphs": ["测试。"], "attachments": []},
                   recipients=["区政府"], about="t", as_of="2019-06-01", cfg=nt.load_config(spec.notices_path))
    fill = {g: FILL[g] for g in nt.missing(req.data, req.kind)}
    session.commit()

    def refused(exc, message, notice, number):
        with pytest.raises(exc, match=message):
            pw.sign_document(session, spec, notice=notice, number=number, changes=fill, as_of="2019-06-26", by=COORD)
        session.rollback()
        assert session.get(Notice, notice).status == "draft" and session.get(Notice, notice).doc_number is None

    # no number given: nothing is allocated, the coordinator is told to give the OA's
    refused(PlancycleError, r"^发文字号由办公室 OA 统一编排（numbering\.mode: manual）：请用 --number 填写发文字号$",
            st.id, None)
    assert session.exec(select(func.count()).select_from(DocSequence)).one() == 0
    # the organ's prefix (测发改), the year it is signed in (2019), 〔〕 and 号: anything else is refused as it is
    for wrong in ("测发改2019-7", "长发改〔2019〕7号", "测发改〔2018〕7号", "测发改〔2019〕号"):
        refused(PlancycleError, rf"^发文字号格式应为测发改〔2019〕N号（填写的是“{re.escape(wrong)}”）$", st.id, wrong)
    # square brackets typed for 〔〕 are read as 〔〕; the number is the one given, not the register's seed (24)
    pw.sign_document(session, spec, notice=st.id, number="测发改[2019]7号", changes=fill, as_of="2019-06-26", by=COORD)
    session.commit()
    st = session.get(Notice, st.id)
    assert (st.status, st.doc_number, st.seq) == ("issued", "测发改〔2019〕7号", 7)
    # a number already on another document is refused; the next one typed is taken
    refused(TransitionError, r"^发文字号测发改〔2019〕7号已被使用$", req.id, "测发改〔2019〕7号")
    refused(PlancycleError, r"^发文字号由办公室 OA 统一编排（numbering\.mode: manual）：请用 --number 填写发文字号$", req.id, None)
    pw.sign_document(session, spec, notice=req.id, number="测发改〔2019〕8号", changes=fill, as_of="2019-06-27",
                     by=COORD)
    session.commit()
    assert session.get(Notice, req.id).doc_number == "测发改〔2019〕8号"


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
    # the 公告 is drafted on Friday 2019-06-14; apply_within_workdays: 7 counts 17–21 June and 24, 25 June (the weekend
    # of 22–23 June is not a working day): 6月25日, where seven calendar days would have said 6月21日
    assert "申报截止时间为2019年6月25日17:00" in text and "6月21日" not in text
    assert "课题申报书格式见附件2" in text and "评审主要考虑以下因素" in text
    assert [[c.text for c in r.cells] for r in d.tables[1].rows][0] == ["项目", "填写内容"]


def test_the_application_deadline_skips_a_holiday_and_counts_a_make_up_working_day(run_):
    """The 公告's deadline is seven *working* days after its date, on the official calendar: drafted on Monday
    2019-09-30, 1–7 October are the National Day holiday and Saturday 12 October is a 调休 working day, so the
    seven are 8, 9, 10, 11, 12, 14 and 15 October (seven calendar days would say 10月7日, mid-holiday)."""
    s, spec, run = run_
    act(sv.submit, s, spec, item="work-plan", milestone="issued", by=COORD, as_of="2019-09-27")
    act(sv.review, s, spec, item="work-plan", milestone="issued", decision="accept", by=COORD, as_of="2019-09-30T10:00")
    n = s.exec(select(Notice).where(Notice.kind == "call_for_tender")).one()
    assert n.data["deadline"] == "2019-10-15T17:00:00" and n.data["deadline_cn"] == "2019年10月15日17:00"
    assert "申报截止时间为2019年10月15日17:00" in nt.render_notice(s, n.id, "md")[1].decode()


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


def test_a_failure_after_the_number_is_taken_gives_the_number_back(run_, monkeypatch):
    """The 发文字号 is taken in the signing transaction: when the render fails after the register moved, the
    rollback undoes the register too, and the next sign-off takes the same number (never a gap). The draft is
    edited and committed first, so the failure comes in nt.sign after allocate_number, not in the edit."""
    s, spec, run = run_
    req = s.exec(select(Notice).where(Notice.kind == "request")).one()
    pw.edit_document(s, spec, notice=req.id, changes={g: FILL[g] for g in nt.missing(req.data, req.kind)},
                     as_of="2019-06-26", by=COORD)
    s.commit()
    assert nt.missing(s.get(Notice, req.id).data, "request") == []
    taken = []

    def boom(*a, **k):  # the register as the signing transaction sees it when the render fails
        taken.extend(s.exec(select(DocSequence.organ, DocSequence.year, DocSequence.last)).all())
        raise RuntimeError("disk full while rendering")

    monkeypatch.setattr(documents, "to_docx", boom)
    with pytest.raises(RuntimeError, match="^disk full while rendering$"):
        pw.sign_document(s, spec, notice=req.id, as_of="2019-06-26", by=COORD)
    assert taken == [("长发改", 2019, 24)]  # the number was taken before the render failed
    s.rollback()
    monkeypatch.undo()
    assert s.exec(select(func.count()).select_from(DocSequence)).one() == 0  # the register's row went with it
    req = s.exec(select(Notice).where(Notice.kind == "request")).one()
    assert req.status == "draft" and req.doc_number is None
    pw.sign_document(s, spec, notice=req.id, as_of="2019-06-26", by=COORD)
    s.commit()
    assert req.doc_number == "长发改〔2019〕24号"  # 24 again: the failed sign-off used up nothing


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
    # StrictUndefined: the first value the template reads that the context lacks (the settings' genre) is an error,
    # not an empty string
    with pytest.raises(UndefinedError, match=r"^'genre' is undefined$"):
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
