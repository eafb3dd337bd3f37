"""Notices: every generated .docx opened with python-docx and checked against NOTICE-FORMAT.md's checklist."""

import datetime as dt
import hashlib
import io
import re

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm
from sqlmodel import func, select

from stages import documents, notices as nt
from stages import services as sv
from stages.models import DocSequence, Notice
from stages.sweep import issue_due_notices, record_monthly_report, sweep

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
    if has_imprint:
        cc = [i for i, t in enumerate(texts) if t.startswith("抄送：")]
        issued = [i for i, t in enumerate(texts) if t.endswith("印发")]
        assert issued and issued[-1] == len(texts) - 1  # 版记 last
        if cc:
            assert cc[0] == issued[-1] - 1 and texts[cc[0]].endswith("。")
            assert ps[cc[0]].runs[0].font.size.pt == 14
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


def test_init_issues_a_stage_notice(run_):
    s, spec, run = run_
    n = s.exec(select(Notice).where(Notice.kind == "stage_notice")).one()
    assert n.doc_number == "长发改〔2019〕25号"  # continues the office's register after seed 000's 24号
    _n, data = nt.render_notice(s, n.id)
    d, texts = check_layout(data)
    assert hashlib.sha256(data).hexdigest() == n.checksum
    assert "（四）区虹桥办" in texts and any("课题7——形成方案：2019年6月10日前" in t for t in texts)


def test_call_for_tender_excludes_the_star_topics(run_):
    s, spec, run = run_
    sv.submit(s, spec, item="work-plan", milestone="issued", by=COORD, as_of="2019-06-06")
    sv.review(s, spec, item="work-plan", milestone="issued", decision="accept", by=COORD, as_of="2019-06-14T10:00")
    s.commit()
    n = s.exec(select(Notice).where(Notice.kind == "call_for_tender")).one()
    assert n.doc_number is None and n.title.endswith("的公告")
    _n, data = nt.render_notice(s, n.id)
    d, texts = check_layout(data, numbered=False, has_imprint=False)
    table = d.tables[0]
    rows = [[c.text for c in r.cells] for r in table.rows]
    assert rows[0] == ["序号", "课题名称", "研究重点", "牵头单位"]
    listed = {r[1] for r in rows[1:]}
    assert len(listed) == 15
    for no in (3, 10, 17):
        assert spec.item(f"topic-{no:02d}").title not in listed
    assert spec.item("topic-04").title in listed
    text = "\n".join(texts)
    for part in ("一、委托单位", "二、课题名称及研究内容", "三、申报条件", "四、申报材料", "五、申报时间和方式",
                 "六、评审方式", "七、管理要求", "八、联系方式"):
        assert part in text
    assert "申报截止时间为2019年6月25日17:00" in text  # 7 working days after 06-14, to the minute
    assert "现将有关事项公告如下" in text and "附件：" in text


def test_reminders_and_escalations_are_issued_per_department(run_):
    s, spec, run = run_
    sweep(s, {spec.id: spec}, sv.calendar_for(spec), "2019-06-19")
    ids = issue_due_notices(s, {spec.id: spec})
    s.commit()
    assert ids
    notices = s.exec(select(Notice).where(Notice.id.in_(ids))).all()
    assert {n.kind for n in notices} == {"reminder", "escalation"}
    esc = next(n for n in notices if n.kind == "escalation")
    assert esc.recipients == ["区发改委"] and "督办" in esc.title
    rem = next(n for n in notices if n.kind == "reminder" and n.about == "区虹桥办")
    _n, data = nt.render_notice(s, rem.id)
    d, texts = check_layout(data)
    assert texts[texts.index(rem.title) + 1] == "区虹桥办："
    assert any("课题7——形成方案：应于2019年6月10日前报送，已逾期9天" in t for t in texts)
    numbers = [n.doc_number for n in notices]
    assert len(set(numbers)) == len(numbers) and all(NUMBER.match(x) for x in numbers)


def test_meeting_notice_batched_per_lead_department(run_):
    s, spec, run = run_
    out = sv.schedule_meeting(s, spec, milestone="kickoff", dept="区发改委", at="2019-07-12T14:30", by=COORD,
                              as_of="2019-07-01", place="长宁区政府3号会议室")
    s.commit()
    n = s.get(Notice, out.data["notices_issued"][0]["id"])
    d, texts = check_layout(nt.render_notice(s, n.id)[1])
    text = "\n".join(texts)
    assert "关于召开“十四五”规划前期重大课题课题启动会的通知" == n.title
    assert "时间：2019年7月12日14:30。" in text and "地点：长宁区政府3号会议室。" in text
    # 区发改委 leads topics 1, 2, 3, 5, 8, 9
    assert sum(1 for t in texts if "（牵头单位：区发改委" in t) == 6
    assert "请各课题组于2019年7月9日前将开题报告报送区发改委" in text


def test_monthly_report_is_a_numbered_report(run_):
    s, spec, run = run_
    report, new = record_monthly_report(s, spec, sv.calendar_for(spec), "2019-06")
    s.commit()
    n = s.exec(select(Notice).where(Notice.kind == "monthly_report")).one()
    d, texts = check_layout(nt.render_notice(s, n.id)[1])
    assert n.title == "关于“十四五”规划研究和编制工作2019年6月进展情况的报告"
    assert texts[texts.index(n.title) + 1] == "区政府办公室："
    assert any(t.startswith("本月应完成节点") for t in texts) and "特此报告。" in texts


def test_request_follows_seed_000s_cover_letter(run_):
    s, spec, run = run_
    ctx = nt.request_context(spec, "关于提请区政府办公室印发《长宁区“十四五”规划研究和编制工作方案》的请示",
                             ["根据第97次区政府常务会议要求，现申请以区政府办公室名义下发《长宁区“十四五”规划研究和编制工作方案》"
                              "《长宁区“十四五”规划编制前期重大课题研究工作方案》至各部门及各街镇。"],
                             ["《长宁区“十四五”规划研究和编制工作方案》"])
    n = nt.issue(s, run.id, "request", ctx, recipients=["区政府"], about="work-plan", as_of="2019-06-26")
    d, texts = check_layout(nt.render_notice(s, n.id)[1])
    assert texts[texts.index(n.title) + 1] == "区政府："
    head = next(t for t in texts if "〔2019〕" in t)
    assert "签发人：" in head and "特此请示。" in texts


def test_special_plan_registration_notice(run_):
    s, spec, run = run_
    for dept, title in (("区商务委", "长宁区商务发展“十四五”规划"), ("区教育局", "长宁区教育改革和发展“十四五”规划"),
                        ("区体育局", "长宁区体育发展“十四五”规划")):
        sv.propose(s, spec, dept=dept, title=title, as_of="2019-08-20")
    sv.approve(s, spec, body="leading_group", subject="special-plan-list", by=COORD, as_of="2019-11-20")
    out = sv.register(s, spec, confirm=["sp-01", "sp-02"], reject=["sp-03"], by=COORD, as_of="2019-11-25",
                      reason="纳入区文化和旅游专项规划统筹编制")
    s.commit()
    n = s.get(Notice, next(x["id"] for x in out.data["notices_issued"] if x["kind"] == "special_plan_registration"))
    d, texts = check_layout(nt.render_notice(s, n.id)[1])
    assert [[c.text for c in r.cells] for r in d.tables[0].rows][1] == ["1", "长宁区商务发展“十四五”规划", "区商务委"]
    assert any("长宁区体育发展“十四五”规划（区体育局）" in t for t in texts)


def test_a_failed_render_uses_no_number_and_files_nothing(run_, monkeypatch):
    s, spec, run = run_
    before_seq = s.exec(select(DocSequence.last)).one()
    before_n = s.exec(select(func.count()).select_from(Notice)).one()

    def boom(*a, **k):
        raise RuntimeError("disk full while rendering")

    monkeypatch.setattr(documents, "to_docx", boom)
    with pytest.raises(RuntimeError):
        sv.submit(s, spec, item="work-plan", milestone="issued", by=COORD, as_of="2019-06-06")
        sv.review(s, spec, item="work-plan", milestone="issued", decision="accept", by=COORD, as_of="2019-06-10")
    s.rollback()
    assert s.exec(select(DocSequence.last)).one() == before_seq
    assert s.exec(select(func.count()).select_from(Notice)).one() == before_n
    monkeypatch.undo()
    sv.submit(s, spec, item="work-plan", milestone="issued", by=COORD, as_of="2019-06-06")
    sv.review(s, spec, item="work-plan", milestone="issued", decision="accept", by=COORD, as_of="2019-06-10")
    s.commit()
    numbers = [n for n in s.exec(select(Notice.doc_number).where(Notice.doc_number.is_not(None)).order_by(Notice.id))]
    assert numbers == ["长发改〔2019〕25号", "长发改〔2019〕26号"]  # the failure skipped nothing


def test_rerender_is_byte_identical_and_a_correction_is_a_new_notice(run_):
    s, spec, run = run_
    n = s.exec(select(Notice).where(Notice.kind == "stage_notice")).one()
    a = nt.render_notice(s, n.id)[1]
    b = nt.render_notice(s, n.id)[1]
    assert a == b and hashlib.sha256(a).hexdigest() == n.checksum
    new = nt.correct(s, n.id, reason="抄送单位有误", changes={"cc": "各街镇"}, as_of="2019-06-03")
    s.commit()
    assert new.id != n.id and new.corrects_id == n.id and new.doc_number == "长发改〔2019〕26号"
    assert new.data["corrects"] == "长发改〔2019〕25号"
    assert s.get(Notice, n.id).checksum == n.checksum  # the old one is untouched
    assert "抄送：各街镇。" in check_layout(nt.render_notice(s, new.id)[1])[1]


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
    sv.propose(s, spec, dept="区商务委", title="长宁区商务发展“十四五”规划", as_of="2019-08-20")
    out = sv.review(s, spec, item="sp-01", milestone="proposal", decision="accept", by=COORD, as_of="2019-08-22")
    s.commit()
    assert "sp-01:registration" in out.opened
    kinds = [n["kind"] for n in out.data["notices_issued"]]
    assert kinds == ["stage_notice"]  # the 立项确认通知 comes with the decision (register), not now
