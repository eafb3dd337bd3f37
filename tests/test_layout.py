"""The page of a generated 公文 (GB/T 9704-2012): geometry read from the .docx XML, title line breaking, the files
inside the package (fonts, theme language, the preview's fontconfig aliases), and — where LibreOffice and poppler
are installed — positions measured on the rendered PDF (mm from the page's top edge)."""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import io
import re
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from docx import Document
from hypothesis import given, settings
from hypothesis import strategies as st
from docx.oxml.ns import qn
from docx.shared import Mm

from stages.paperwork import documents as D
from stages.paperwork import pdf
from stages.ground.errors import PlancycleError
from stages.ground.i18n import using

from .conftest import missing_pdf_tools, skipif

ROOT = Path(__file__).resolve().parent.parent
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
TW_MM = 25.4 / 1440  # a twip in mm
ORGAN = "上海市长宁区发展和改革委员会"
TAIL = f"""@sign {ORGAN}
@date 2019年6月26日
@note （联系人：区发改委规划科张某；联系电话：021-12345678）
"""
IMPRINT = f"""@cc 区发展规划工作领导小组成员单位
@issued {ORGAN}办公室|2019年6月26日
"""
HEAD = f"@masthead {ORGAN}文件\n@number 长发改〔2019〕{{n}}号\n"


def _lines(prefix: str, n: int) -> str:
    return "\n".join(f"{i}.{prefix}第{i}项工作：应于2019年7月{i}日前报送相关成果，逾期将予以督办（责任单位：区发改委）。"
                     for i in range(1, n + 1))


# One document of each kind, shaped as the templates shape them (the templates are not this test's subject)
SAMPLES = {
    "stage_notice": HEAD.format(n=25) + "@title 关于启动“十四五”规划前期研究阶段工作的通知\n@to 各有关部门、各街镇：\n"
    "根据《长宁区“十四五”规划研究和编制工作方案》的安排，“十四五”规划研究和编制工作进入前期研究阶段。现将近期工作及完成时限通知如下：\n"
    "@h2 （一）区发改委\n" + _lines("课题", 9) + "\n@h2 （二）区商务委\n" + _lines("专项规划", 4) + "\n" + TAIL + IMPRINT,
    "meeting": HEAD.format(n=26) + "@title 关于召开“十四五”规划前期重大课题启动会的通知\n@to 各课题承担单位、区发改委：\n"
    "根据《长宁区“十四五”规划研究和编制工作方案》的进度安排，6项课题需于2019年7月31日前完成开题。经研究，定于2019年7月12日14:30召开课题启动会。现将有关事项通知如下：\n"
    "@h1 一、会议时间和地点\n时间：2019年7月12日14:30。\n地点：长宁区政府3号会议室。\n@h1 二、会议内容\n"
    + _lines("课题开题报告", 6) + "\n@h1 三、有关要求\n请各课题组于2019年7月9日前将开题报告报送区发改委。\n" + TAIL + IMPRINT,
    "reminder": HEAD.format(n=27) + "@title 关于长宁区“十四五”规划前期研究课题进展情况的督办通知\n@to 区虹桥办：\n"
    "根据《长宁区“十四五”规划研究和编制工作方案》的进度安排，下列事项已逾期5个工作日以上，现予督办。\n"
    + _lines("课题", 3) + "\n如有特殊情况不能按期完成，请书面说明原因及预计完成时间。\n" + TAIL + IMPRINT,
    "request": HEAD.format(n=28) + "@signer 签发人：张某某\n"
    "@title 长宁区发展和改革委员会关于报送《长宁区国民经济和社会发展第十五个五年规划纲要（送审稿）》的请示\n@to 区政府：\n"
    "根据第97次区政府常务会议要求，现将《长宁区国民经济和社会发展第十五个五年规划纲要（送审稿）》报上，请审议。\n特此请示。\n"
    "@attachments 1.《长宁区国民经济和社会发展第十五个五年规划纲要（送审稿）》及其编制说明和有关附表材料\n"
    "@attachments 2.《长宁区“十五五”规划编制前期重大课题研究工作方案》\n" + TAIL
    + f"@issued {ORGAN}办公室|2019年6月26日\n",
    "monthly_report": HEAD.format(n=29) + "@signer 张某某\n"
    "@title 关于“十四五”规划研究和编制工作2019年6月进展情况的报告\n@to 区政府办公室：\n"
    "根据《长宁区“十四五”规划研究和编制工作方案》和每月25日前报送进展情况的要求，现将截至2019年6月25日的工作进展报告如下：\n"
    "@h1 一、总体情况\n本月应完成节点12项，已报送9项；截至报告日逾期未完成3项。\n@h1 二、各单位进展\n@h2 （一）区发改委\n"
    "本月应完成6项，已报送5项，逾期1项。\n@h1 三、下一步工作\n对逾期事项，区发改委将加强跟踪督办。\n特此报告。\n" + TAIL
    + "@cc 区发展规划工作领导小组办公室\n" + f"@issued {ORGAN}办公室|2019年6月26日\n",
    "call_for_tender": f"@title {ORGAN}关于公开遴选“十四五”规划前期重大课题研究承担单位的公告\n"
    "根据《长宁区“十四五”规划研究和编制工作方案》的工作安排，现将有关事项公告如下：\n@h1 一、委托单位\n"
    f"{ORGAN}（会同各课题牵头部门）。\n@h1 二、课题名称及研究内容\n本次公开遴选课题共15项，详见附件。\n"
    "@attachments 长宁区“十四五”规划编制前期重大课题清单（公开遴选）\n"
    f"@sign {ORGAN}\n@date 2019年6月14日\n@annex |长宁区“十四五”规划编制前期重大课题清单（公开遴选）\n"
    "@table 序号|课题名称|研究重点|牵头单位\n"
    + "\n".join(f"@row {i}|长宁区“十四五”时期第{i}项重大问题研究|研究本区“十四五”时期发展的目标、路径和重大举措，"
                f"提出纳入规划纲要的具体建议和政策措施|区发改委" for i in range(1, 16)) + "\n",
    "special_plan_registration": HEAD.format(n=30) + "@title 关于“十四五”专项规划立项确认的通知\n@to 区商务委、区教育局：\n"
    "经综合平衡并报区发展规划工作领导小组同意，现将“十四五”专项规划立项确认情况通知如下：\n@h1 一、确认立项的专项规划\n"
    "1.长宁区商务发展“十四五”规划（编制单位：区商务委）。\n2.长宁区教育改革和发展“十四五”规划（编制单位：区教育局）。\n"
    "@attachments 确认立项的专项规划清单\n" + TAIL + "@annex |确认立项的专项规划清单\n@table 序号|专项规划名称|编制单位\n"
    "@row 1|长宁区商务发展“十四五”规划|区商务委\n@row 2|长宁区教育改革和发展“十四五”规划|区教育局\n" + IMPRINT,
}

REAL_TITLES = [
    "关于召开“十四五”规划前期重大课题启动会的通知",
    "关于长宁区“十四五”规划前期研究课题进展情况的督办通知",
    "长宁区发展和改革委员会关于报送《长宁区国民经济和社会发展第十五个五年规划纲要（送审稿）》的请示",
    "关于“十四五”规划研究和编制工作2019年6月进展情况的报告",
    "关于提请区政府办公室印发《长宁区“十四五”规划研究和编制工作方案》的请示",
    "上海市长宁区发展和改革委员会关于公开遴选“十四五”规划前期重大课题研究承担单位的公告",
    "关于召开“十四五”规划前期重大课题中期成果汇报会的通知",
    "关于报送“十四五”规划研究和编制有关成果的催办通知",
    "关于“十四五”规划研究和编制逾期事项的督办通知",
    "关于做好“十四五”规划研究和编制近期工作的通知",
    "关于启动“十四五”规划前期研究阶段工作的通知",
    "关于“十四五”专项规划立项确认的通知",
    "长宁区“十四五”规划编制前期重大课题清单（公开遴选）",
    "关于印发《长宁区“十五五”规划编制工作方案》的通知",
]
# never split: 公文 words, and what the office saw split (启/动会, 督/办通知, 十四/五)
WORDS = ["关于", "通知", "请示", "报告", "公告", "启动会", "督办", "会议", "规划", "工作", "编制", "研究", "课题",
         "评审会", "汇报会", "十四五", "十五五", "长宁区", "发展和改革委员会", "2019年6月", "送审稿", "承担单位"]


def docx(kind: str) -> bytes:
    return D.to_docx(D.parse(SAMPLES[kind]), author=ORGAN, created=dt.datetime(2019, 6, 26, 10))


def body_paras(data: bytes):
    d = Document(io.BytesIO(data))
    return d, list(d.element.body.iter(qn("w:p")))


def ppr_spacing(p) -> dict:
    sp = p.find(f"{W}pPr/{W}spacing")
    return {k.split("}")[1]: v for k, v in sp.attrib.items()} if sp is not None else {}


def ind(p) -> dict:
    el = p.find(f"{W}pPr/{W}ind")
    return {k.split("}")[1]: int(v) for k, v in el.attrib.items()} if el is not None else {}


def text(p) -> str:
    return "".join(t.text or "" for t in p.iter(f"{W}t"))


# -- title line breaking -------------------------------------------------------------------------------------------
def protected_spans(title: str) -> list[tuple[int, int]]:
    """(start, end) of every word of WORDS and every bracketed group that fits on a line."""
    spans = []
    for w in WORDS:
        spans += [(m.start(), m.end()) for m in re.finditer(re.escape(w), title)]
    for m in re.finditer(r"“[^”]*”|《[^》]*》|（[^）]*）|〔[^〕]*〕|\d+", title):
        if D.title_width(m.group(0)) <= D.TITLE_CHARS:
            spans.append((m.start(), m.end()))
    return spans


def shape_ok(widths: list[float]) -> bool:
    if len(widths) < 2:
        return True
    trapezoid = all(a >= b for a, b in zip(widths, widths[1:]))
    top = widths.index(max(widths))
    diamond = 0 < top < len(widths) - 1 and widths == sorted(widths[:top + 1]) + sorted(widths[top + 1:], reverse=True)
    return trapezoid or diamond


@pytest.mark.parametrize("title", REAL_TITLES)
def test_break_title_never_splits_a_word_and_makes_a_trapezoid_or_diamond(title):
    lines = D.break_title(title)
    assert "".join(lines) == title
    widths = [D.title_width(x) for x in lines]
    assert all(w <= D.TITLE_CHARS for w in widths), lines
    cuts, pos = [], 0
    for line in lines[:-1]:
        pos += len(line)
        cuts.append(pos)
    for cut in cuts:
        for a, b in protected_spans(title):
            assert not a < cut < b, f"{lines}: splits {title[a:b]!r}"
        assert title[cut] not in "、，。：；）》”〕", lines  # no line starts with a closing mark
        assert title[cut - 1] not in "（《“〔", lines  # none ends with an opening one
    assert shape_ok(widths), (lines, widths)


def test_break_title_known_answers():
    assert D.break_title("关于“十四五”专项规划立项确认的通知") == ["关于“十四五”专项规划立项确认的通知"]
    assert D.break_title("关于召开“十四五”规划前期重大课题启动会的通知") == ["关于召开“十四五”规划前期", "重大课题启动会的通知"]
    # a 《…》 longer than a line is broken between its words, into a 菱形
    assert D.break_title("长宁区发展和改革委员会关于报送《长宁区国民经济和社会发展第十五个五年规划纲要（送审稿）》的请示") == [
        "长宁区发展和改革委员会关于报送", "《长宁区国民经济和社会发展第十五个", "五年规划纲要（送审稿）》的请示"]
    # a narrower line gives more lines, still whole words
    assert D.break_title("关于召开“十四五”规划前期重大课题启动会的通知", 12) == ["关于召开“十四五”", "规划前期重大课题", "启动会的通知"]
    # an unbreakable run longer than a line is cut where it must be, nothing lost
    assert "".join(D.break_title("关于" + "1" * 50 + "的通知")) == "关于" + "1" * 50 + "的通知"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["关于", "召开", "“十四五”", "《", "》", "（", "）", "2019年", "6月", "规划", "的", "和",
                                 "通知", "、", "，", "国", "长宁区发展和改革委员会", "〔2019〕25号", "12345678901234567890123"]),
                min_size=1, max_size=40),
       st.sampled_from([8, 12, 20, 22]))
def test_break_title_keeps_every_character_and_the_width(pieces, width):
    title = "".join(pieces)
    lines = D.break_title(title, width)
    assert "".join(lines) == title.strip()
    assert all(D.title_width(line) <= width for line in lines) or any(D.title_width(c) > width for c in title)
    assert all(lines)


def test_title_is_broken_into_single_spaced_lines():
    for kind in ("meeting", "request"):
        d, ps = body_paras(docx(kind))
        title = D.parse(SAMPLES[kind]).title
        tp = next(p for p in ps if text(p) == title)
        lines = D.break_title(title)
        assert len(lines) > 1
        para = next(p for p in d.paragraphs if p._p is tp)
        assert [r.text for r in para.runs] == lines and para.text == title  # the text reads as one title
        assert len(tp.findall(f".//{W}br")) == len(lines) - 1
        assert ppr_spacing(tp) == {"before": "0", "after": "0", "line": str(D.LINE_PITCH), "lineRule": "exact"}
        assert tp.find(f"{W}pPr/{W}jc").get(f"{W}val") == "center"
        sizes = {el.get(f"{W}val") for el in tp.iter(f"{W}sz")}
        assert sizes == {str(D.TITLE_PT * 2)}


# -- page and 版头 ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_page_text_block_and_grid(kind):
    d = Document(io.BytesIO(docx(kind)))
    sec = d.sections[0]
    assert (round(sec.page_width.mm, 1), round(sec.page_height.mm, 1)) == (210, 297)
    assert abs(sec.top_margin - Mm(37)) < Mm(0.1) and abs(sec.left_margin - Mm(28)) < Mm(0.1)
    block_w = sec.page_width.mm - sec.left_margin.mm - sec.right_margin.mm
    block_h = sec.page_height.mm - sec.top_margin.mm - sec.bottom_margin.mm
    assert (round(block_w, 1), round(block_h, 1)) == (156, 225)
    grid = sec._sectPr.find(qn("w:docGrid"))
    assert grid.get(qn("w:type")) == "lines"
    assert int(block_h / TW_MM // int(grid.get(qn("w:linePitch")))) == 22  # 22 lines …
    assert round(D.CHARS_PER_LINE * D.CHAR_TW * TW_MM) == 156  # … of 28 characters
    body = [p for p in d.paragraphs if p.text.strip() and p.runs and p.runs[0].font.size
            and p.runs[0].font.size.pt == 16]
    assert body and all(ppr_spacing(p._p).get("line") == "579" for p in body)


def test_masthead_35mm_under_the_text_block_top():
    d, ps = body_paras(docx("stage_notice"))
    mast = ps[0]
    assert text(mast) == f"{ORGAN}文件"
    sp = ppr_spacing(mast)
    assert abs(int(sp["before"]) * TW_MM - 35) < 0.1  # it is the first paragraph: its space is from the block's top
    size = int(mast.find(f".//{W}sz").get(f"{W}val")) / 2
    assert sp["lineRule"] == "exact" and int(sp["line"]) == size * 20  # the line is the characters' height
    assert len(text(mast)) * size * 25.4 / 72 <= 156  # fits the text block
    assert mast.find(f".//{W}color").get(f"{W}val") == "FF0000"
    # 发文字号 two lines under it
    assert [text(p) for p in ps[1:4]] == ["", "", "长发改〔2019〕25号"]


@pytest.mark.parametrize("kind", ["stage_notice", "request"])
def test_red_rule_4mm_under_the_number_and_as_wide_as_the_text_block(kind):
    d, ps = body_paras(docx(kind))
    number = next(p for p in ps if "〔2019〕" in text(p))
    bottom = number.find(f"{W}pPr/{W}pBdr/{W}bottom")
    assert bottom.get(f"{W}color") == "FF0000" and bottom.get(f"{W}val") == "single"
    # the rule is drawn at the paragraph's line bottom + space; the text's ink ends DESCENT of its size above
    gap = int(bottom.get(f"{W}space")) * 25.4 / 72 + D.BODY_PT * D.DESCENT * 25.4 / 72
    assert abs(gap - 4) < 0.5
    # a paragraph border spans the paragraph's indents: none, so it is the text block's width
    assert not {k for k in ind(number) if k in ("left", "right", "start", "end")}
    after = ps[ps.index(number) + 1: ps.index(number) + 4]
    assert [text(p) for p in after[:2]] == ["", ""]  # the title two lines under the rule
    assert text(after[2]) == D.parse(SAMPLES[kind]).title


def test_signer_on_the_number_line_of_an_upward_document():
    d, ps = body_paras(docx("request"))
    number = next(p for p in ps if "〔2019〕" in text(p))
    assert ind(number) == {"firstLine": D.CHAR_TW}  # 发文字号 居左空一字
    tab = number.find(f"{W}pPr/{W}tabs/{W}tab")
    assert tab.get(f"{W}val") == "right" and int(tab.get(f"{W}pos")) == D.TEXT_W - D.CHAR_TW  # 签发人 居右空一字
    runs = [("".join("\t" if el.tag == f"{W}tab" else el.text or "" for el in r if el.tag in (f"{W}t", f"{W}tab")),
             r.find(f"{W}rPr/{W}rFonts").get(f"{W}eastAsia")) for r in number.findall(f"{W}r")]
    # "签发人：" in 仿宋, the name in 楷体 (GB/T 9704 7.2.5)
    assert runs == [("长发改〔2019〕28号", D.BODY_FONT), ("\t签发人：", D.BODY_FONT), ("张某某", D.KAI_FONT)]
    # the markup: a name, or the label and a name, or several names
    assert D.parse("@title t\n@signer 张某某").signers == ["张某某"]
    assert D.parse("@title t\n@signer 签发人：张某某").signers == ["张某某"]
    assert D.parse("@title t\n@signer 张某某|李某某").signers == ["张某某", "李某某"]
    assert D.parse("@title t\n@signer 张某某|李某某").signer == "签发人：张某某　李某某"
    assert D.parse(f"@title t\n@signer {D.escape('张|某')}").signers == ["张|某"]


# -- 落款, 附注, 附件说明 -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["stage_notice", "request", "call_for_tender"])
def test_sealed_signature_layout_and_the_note_under_the_date(kind):
    doc = D.parse(SAMPLES[kind])
    d, ps = body_paras(docx(kind))
    date = next(p for p in ps if text(p) == doc.date)
    sign = ps[ps.index(date) - 1]
    assert text(sign) == ORGAN
    # 成文日期 右空四字
    assert date.find(f"{W}pPr/{W}jc").get(f"{W}val") == "right" and ind(date) == {"right": 4 * D.CHAR_TW}
    # 署名 centred over the date: its right edge is half the difference of the widths further right (or in)
    date_w = D._width(doc.date, autospace=True) * D.CHAR_TW
    sign_w = D._width(ORGAN, autospace=True) * D.CHAR_TW
    sign_centre = D.TEXT_W - ind(sign).get("right", 0) - sign_w / 2
    date_centre = D.TEXT_W - 4 * D.CHAR_TW - date_w / 2
    assert abs(sign_centre - date_centre) < D.CHAR_TW / 4
    # room for the 印章: two empty lines between the body (or 附件说明) and the 署名, kept with them
    before = ps[ps.index(sign) - 3: ps.index(sign)]
    assert [text(p) for p in before[1:]] == ["", ""] and text(before[0])
    assert all(p.find(f"{W}pPr/{W}keepNext") is not None for p in before + [sign])
    if doc.note:  # 附注: the next line, 居左空二字
        note = ps[ps.index(date) + 1]
        assert text(note) == doc.note and ind(note).get("firstLine") == 2 * D.CHAR_TW
        assert date.find(f"{W}pPr/{W}keepNext") is not None


def test_attachment_lines_hang_under_the_names():
    d, ps = body_paras(docx("request"))
    first = next(p for p in ps if text(p).startswith("附件："))
    second = ps[ps.index(first) + 1]
    assert text(second).startswith("2.")
    # 附件：1.名称 starts two characters in; a wrapped line starts under 名称; 2. starts under 1.
    label, number = 3 * D.CHAR_TW, 1 * D.CHAR_TW  # "附件：", "1." (two half-width characters)
    f, s = ind(first), ind(second)
    assert f["left"] - f["hanging"] == 2 * D.CHAR_TW
    assert f["left"] == 2 * D.CHAR_TW + label + number
    assert s["left"] == f["left"] and s["left"] - s["hanging"] == 2 * D.CHAR_TW + label


def keeps(p) -> bool:
    return p.find(f"{W}pPr/{W}keepNext") is not None


@pytest.mark.parametrize("kind", [k for k in sorted(SAMPLES) if "@sign" in SAMPLES[k]])
def test_only_the_paragraph_before_the_signature_is_kept_with_it(kind):
    """The 落款 never opens a page: the one paragraph before it stays with it, and no chain of body paragraphs
    (LibreOffice moves a kept paragraph whole: a chain left half a page empty)."""
    doc = D.parse(SAMPLES[kind])
    d, ps = body_paras(docx(kind))
    sign = next(i for i, p in enumerate(ps) if text(p) == doc.sign and i > 3)
    before = ps[sign - 3]
    assert keeps(before) and [text(p) for p in ps[sign - 2:sign]] == ["", ""]
    paras = [text for kind_, text in doc.body if kind_ == "p"]
    body = [p for p in ps[:sign - 3] if text(p) in paras]
    entries = [p for p in ps[:sign - 3] if text(p).startswith("附件：") or text(p)[:2] in ("2.", "3.") and
               ind(p).get("hanging")]
    if doc.attachments:  # the body's last paragraph keeps its blank line; the entries run freely
        assert text(before).endswith(doc.attachments[-1])
        assert keeps(body[-1]) and text(ps[ps.index(body[-1]) + 1]) == "" and not keeps(ps[ps.index(body[-1]) + 1])
        assert not any(keeps(p) for p in entries)
        body = body[:-1]
    else:
        assert text(before) == paras[-1]
    assert not any(keeps(p) for p in body if text(p) != text(before)), [text(p)[:12] for p in body if keeps(p)]
    # headings keep with what follows them
    for kind_, value in doc.body:
        if kind_ != "p":
            assert keeps(next(p for p in ps if text(p) == value))


# -- 版记, page numbers, tables -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["stage_notice", "request", "special_plan_registration"])
def test_imprint_floats_at_the_foot_of_the_last_page(kind):
    d = Document(io.BytesIO(docx(kind)))
    body = d.element.body
    tbl = body.findall(qn("w:tbl"))[-1]
    pos = tbl.find(f"{W}tblPr/{W}tblpPr")
    assert pos.get(f"{W}vertAnchor") == "margin" and pos.get(f"{W}tblpYSpec") == "bottom"  # its bottom: the block's
    assert pos.get(f"{W}horzAnchor") == "page" and abs(int(pos.get(f"{W}tblpX")) * TW_MM - 28) < 0.1
    assert int(tbl.find(f"{W}tblPr/{W}tblW").get(f"{W}w")) == D.TEXT_W
    borders = {el.tag.split("}")[1]: (el.get(f"{W}val"), el.get(f"{W}sz")) for el in tbl.find(f"{W}tblPr/{W}tblBorders")}
    assert borders["top"] == ("single", "8") and borders["bottom"] == ("single", "8")  # 0.35 mm
    assert borders["left"][0] == borders["right"][0] == borders["insideV"][0] == "nil"
    rows = tbl.findall(f"{W}tr")
    texts = ["".join(t.text for t in r.iter(f"{W}t")) for r in rows]
    doc = D.parse(SAMPLES[kind])
    assert texts[-1] == f"{doc.issued[0]}{doc.issued[1]}印发"
    if doc.cc:
        assert texts[0] == f"抄送：{doc.cc}。" and borders["insideH"] == ("single", "6")  # 0.25 mm
        cc = rows[0].find(f".//{W}p")
        assert ind(cc) == {"left": 4 * D.FOOT_CHAR_TW, "hanging": 3 * D.FOOT_CHAR_TW, "right": D.FOOT_CHAR_TW}
    assert all(r.find(f"{W}trPr/{W}cantSplit") is not None for r in rows)
    sizes = {el.get(f"{W}val") for el in tbl.iter(f"{W}sz") if el.getparent().tag == f"{W}rPr"}
    assert sizes == {str(D.FOOT_PT * 2)}  # 四号
    # nothing after it but the body's closing paragraph, a point high (it never makes a page of its own)
    after = list(body)[list(body).index(tbl) + 1:]
    assert [el.tag.split("}")[1] for el in after] == ["p", "sectPr"]
    assert not text(after[0]) and ppr_spacing(after[0])["line"] == "20"
    # the 版记 is the last thing in the document: after the 附件
    annex = [p for p in d.paragraphs if re.fullmatch(r"附件\d*", p.text)]
    if annex:
        assert list(body).index(annex[0]._p) < list(body).index(tbl)


def test_page_numbers_7mm_under_the_text_block():
    d = Document(io.BytesIO(docx("stage_notice")))
    sec = d.sections[0]
    # the footer's line bottom sits FOOT_DASH_MM under the dash, the dash 7 mm under the block (35 mm from the edge)
    assert abs(sec.footer_distance.mm + D.FOOT_DASH_MM - (35 - 7)) < 0.05
    assert d.settings.odd_and_even_pages_header_footer
    for footer, jc, side in ((sec.footer, "right", "right"), (sec.even_page_footer, "left", "left")):
        p = footer.paragraphs[0]._p
        assert p.find(f"{W}pPr/{W}jc").get(f"{W}val") == jc
        assert ind(p) == {side: D.FOOT_CHAR_TW}  # 单页码居右空一字, 双页码居左空一字
        assert ppr_spacing(p)["lineRule"] == "exact"
        assert "PAGE" in "".join(t.text for t in p.iter(f"{W}instrText"))
        fonts = {el.get(f"{W}eastAsia") for el in p.iter(f"{W}rFonts")}
        assert fonts == {D.SONG_FONT} and {el.get(f"{W}val") for el in p.iter(f"{W}sz")} == {"28"}
        assert text(p).startswith("— ") and text(p).endswith(" —")


def test_an_annex_table_of_many_columns_stays_in_the_text_block():
    mk = "@title 附件表\n@annex 1|课题清单\n@table 课题序号|课题名称|研究重点|牵头单位|研究经费\n" + "\n".join(
        f"@row {i}|“十四五”期间第{i}项课题研究|研究本区发展的目标和举措|区发改委|按课题研究工作量核定，原则上每项不超过20万元"
        for i in range(1, 4))
    d = Document(io.BytesIO(D.to_docx(D.parse(mk), author=ORGAN, created=dt.datetime(2019, 6, 26))))
    grid = [int(c.get(qn("w:w"))) for c in d.tables[0]._tbl.tblGrid.findall(qn("w:gridCol"))]
    assert len(grid) == 5 and sum(grid) <= D.CHARS_PER_LINE * D.CHAR_TW
    assert min(grid) >= 4 * D.SMALL4_PT * 20  # 课题序号 still fits on one line of 小四


def test_annex_table_rows_never_split_and_the_header_repeats():
    d = Document(io.BytesIO(docx("call_for_tender")))
    rows = d.tables[0]._tbl.findall(f"{W}tr")
    assert len(rows) == 16
    assert all(r.find(f"{W}trPr/{W}cantSplit") is not None for r in rows)
    assert rows[0].find(f"{W}trPr/{W}tblHeader") is not None
    assert all(r.find(f"{W}trPr/{W}tblHeader") is None for r in rows[1:])


# -- 信函格式 (@layout letter) ------------------------------------------------------------------------------------
LETTER = f"""@layout letter
@masthead {ORGAN}
@number 长发改函〔2019〕1号
@title 关于商请参加“十四五”规划前期重大课题启动会的函
@to 复旦大学课题组：
感谢贵单位承担“十四五”规划前期重大课题研究。根据《长宁区“十四五”规划研究和编制工作方案》的进度安排，我委定于2019年7月12日14:30（星期五）召开课题启动会，商请贵单位课题组负责人及主要成员参加。现将有关事项函告如下：
1.时间：2019年7月12日14:30（星期五）；地点：长宁区政府3号会议室。
2.会议内容：长宁区“十四五”时期第1项重大问题研究（承接单位：复旦大学课题组）。
3.请于2019年7月9日前将开题报告电子版报送我委，并告知参会人员名单。
专此函达。
""" + TAIL + "@cc 区发展规划工作领导小组办公室\n" + f"@issued {ORGAN}办公室|2019年7月1日\n"


def letter_docx(markup: str = LETTER) -> bytes:
    return D.to_docx(D.parse(markup), author=ORGAN, created=dt.datetime(2019, 7, 1, 10))


def float_pos(tbl) -> dict:
    return {k.split("}")[1]: v for k, v in tbl.find(f"{W}tblPr/{W}tblpPr").attrib.items()}


def test_layout_directive_parses_and_refuses_what_a_letter_has_not():
    assert D.parse(LETTER).layout == "letter" and D.parse(SAMPLES["meeting"]).layout is None
    with pytest.raises(ValueError, match="@layout 'fax'"):
        D.parse("@layout fax\n@title t")
    with pytest.raises(ValueError, match="@masthead"):
        D.parse("@layout letter\n@title t")
    with pytest.raises(ValueError, match="签发人"):
        D.parse(LETTER + "@signer 张某某\n")
    md = D.to_markdown(D.parse(LETTER))  # the preview: no 印发 line, the number under the rule
    assert "印发" not in md and "抄送：区发展规划工作领导小组办公室。" in md
    assert md.index("---") < md.index("长发改函〔2019〕1号") < md.index("# 关于")


def test_letter_head_geometry_in_the_xml():
    d = Document(io.BytesIO(letter_docx()))
    body = list(d.element.body)
    tags = [el.tag.split("}")[1] for el in body[:6]]
    assert tags == ["tbl", "p", "tbl", "p", "p", "p"]
    head, number, foot, blank1, blank2, title = body[:6]
    # the 发文机关标志: a table floating 30 mm under the page's top edge, 170 mm wide, centred on the text block
    pos = float_pos(head)
    assert pos["vertAnchor"] == "page" and abs(int(pos["tblpY"]) * TW_MM - 30) < 0.05
    assert pos["horzAnchor"] == "page" and abs(int(pos["tblpX"]) * TW_MM - 21) < 0.05  # (28 + 156 / 2) − 170 / 2
    assert abs(int(head.find(f"{W}tblPr/{W}tblW").get(f"{W}w")) * TW_MM - 170) < 0.05
    mast = head.find(f".//{W}p")
    assert text(mast) == ORGAN and mast.find(f".//{W}color").get(f"{W}val") == "FF0000"
    size = int(mast.find(f".//{W}sz").get(f"{W}val")) / 2
    assert ppr_spacing(mast)["line"] == str(int(size * 20)) and mast.find(f"{W}pPr/{W}jc").get(f"{W}val") == "center"
    # its bottom border: the red double line, 上粗下细 (a bottom border's thick line inside)
    borders = {el.tag.split("}")[1]: el.get(f"{W}val") for el in head.find(f"{W}tblPr/{W}tblBorders")}
    assert borders == {"top": "nil", "left": "nil", "bottom": "thinThickSmallGap", "right": "nil", "insideH": "nil",
                       "insideV": "nil"}
    assert head.find(f"{W}tblPr/{W}tblBorders/{W}bottom").get(f"{W}color") == "FF0000"
    # the 发文字号 顶格居版心右边缘, 7/8 of a 3号 character under the line (the wrap distance; its line is as high
    # as its characters), the title two lines under it
    assert text(number) == "长发改函〔2019〕1号" and number.find(f"{W}pPr/{W}jc").get(f"{W}val") == "right"
    assert not ind(number) and ppr_spacing(number)["line"] == str(D.BODY_PT * 20)
    assert int(pos["bottomFromText"]) == D.BODY_PT * 20 * 7 / 8
    assert [text(blank1), text(blank2)] == ["", ""] and text(title) == D.parse(LETTER).title
    # the second double line, 上细下粗, 20 mm over the page's bottom edge: the top border of a 20 mm row standing
    # on that edge
    pos = float_pos(foot)
    assert pos["vertAnchor"] == "page" and pos["tblpYSpec"] == "bottom" and abs(int(pos["tblpX"]) * TW_MM - 21) < 0.05
    row_h = foot.find(f".//{W}trHeight")
    assert row_h.get(f"{W}hRule") == "exact" and abs(int(row_h.get(f"{W}val")) * TW_MM - 20) < 0.05
    assert foot.find(f"{W}tblPr/{W}tblBorders/{W}top").get(f"{W}val") == "thickThinSmallGap"
    # no page number on the first page; the others keep theirs
    sec = d.sections[0]
    assert sec.different_first_page_header_footer
    assert "PAGE" not in sec.first_page_footer._element.xml
    assert "PAGE" in sec.footer._element.xml and "PAGE" in sec.even_page_footer._element.xml


def test_letter_imprint_is_the_cc_alone():
    d = Document(io.BytesIO(letter_docx()))
    tbl = d.element.body.findall(qn("w:tbl"))[-1]
    assert float_pos(tbl)["tblpYSpec"] == "bottom"  # at the foot of the last page, as a document's
    rows = ["".join(t.text for t in r.iter(f"{W}t")) for r in tbl.findall(f"{W}tr")]
    assert rows == ["抄送：区发展规划工作领导小组办公室。"]
    assert {el.get(f"{W}val") for el in tbl.find(f"{W}tblPr/{W}tblBorders")} == {"nil"}  # no rules
    # without 抄送 there is no 版记 at all, whatever @issued says
    d = Document(io.BytesIO(letter_docx(LETTER.replace("@cc 区发展规划工作领导小组办公室\n", ""))))
    assert not d.element.body.findall(qn("w:tbl"))[2:]
    assert "印发" not in "".join(t.text or "" for t in d.element.body.iter(f"{W}t"))


# -- the files in the package ----------------------------------------------------------------------------------------
def test_package_fonts_and_languages():
    z = zipfile.ZipFile(io.BytesIO(docx("request")))
    names = set(z.namelist())
    for name in names:
        if name.endswith(".xml") or name.endswith(".rels"):
            assert b"ja-JP" not in z.read(name), name
    settings = ET.fromstring(z.read("word/settings.xml"))
    lang = settings.find(f"{W}themeFontLang")
    assert lang.get(f"{W}eastAsia") == "zh-CN"
    assert "word/stylesWithEffects.xml" not in names  # Word 2010's copy of the styles, with theme fonts
    fonts = {f.get(f"{W}name"): f for f in ET.fromstring(z.read("word/fontTable.xml")).findall(f"{W}font")}
    assert set(fonts) >= {D.TITLE_FONT, D.BODY_FONT, D.HEI_FONT, D.KAI_FONT, D.SONG_FONT}
    alt = {name: f.find(f"{W}altName").get(f"{W}val") for name, f in fonts.items()}
    assert alt[D.BODY_FONT] == "仿宋" and alt[D.KAI_FONT] == "楷体" and alt[D.HEI_FONT] == "SimHei"
    assert alt[D.TITLE_FONT] == "FZXiaoBiaoSong-B05S" and alt[D.SONG_FONT] == "SimSun"
    assert all(f.find(f"{W}charset").get(f"{W}val") == "86" for f in fonts.values())  # GB2312
    # every font a run names is in the table
    used = {v for name in ("word/document.xml", "word/styles.xml") if name in names
            for v in re.findall(rb'w:eastAsia="([^"]+)"', z.read(name)) if not v.endswith(b"-CN")}
    assert {u.decode() for u in used} <= set(fonts)
    styles = ET.fromstring(z.read("word/styles.xml"))
    lang = styles.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr/{W}lang")
    assert lang.get(f"{W}eastAsia") == "zh-CN"


def test_fontconfig_aliases_parse_and_cover_every_font():
    tree = ET.parse(ROOT / "config" / "fonts" / "fonts.conf")
    aliases = {a.findtext("family"): [f.text for f in a.findall("prefer/family")] for a in tree.getroot().iter("alias")}
    for name, alt, *_ in D.FONT_TABLE:  # a name and its alternative both map to a free font
        assert name in aliases and alt in aliases, (name, alt)
    assert {"小标宋", "FangSong", "KaiTi"} <= set(aliases)
    assert aliases[D.BODY_FONT][0] == "FandolFang" and "Noto Serif CJK SC" in aliases[D.BODY_FONT]
    assert aliases[D.HEI_FONT][0] == "Noto Sans CJK SC"
    assert aliases[D.TITLE_FONT][0] == aliases[D.SONG_FONT][0] == "Noto Serif CJK SC"


# -- PDF ---------------------------------------------------------------------------------------------------------------
def test_to_pdf_without_libreoffice_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(pdf.shutil, "which", lambda name: None)
    with pytest.raises(PlancycleError) as e:
        pdf.to_pdf(b"not a docx")
    assert str(e.value) == "生成 PDF 需要安装 LibreOffice（soffice）：apt install libreoffice-writer"
    with using("en"):
        assert str(e.value) == "PDF needs LibreOffice (soffice) installed: apt install libreoffice-writer"


def test_to_pdf_times_out_with_one_line(monkeypatch, tmp_path):
    slow = tmp_path / "soffice"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    monkeypatch.setattr(pdf, "soffice", lambda: str(slow))
    with pytest.raises(PlancycleError) as e:
        pdf.to_pdf(b"x", timeout=0.5)
    assert str(e.value) == "LibreOffice 未能在 0.5 秒内生成 PDF"
    with using("en"):
        assert str(e.value) == "LibreOffice did not finish the PDF within 0.5 s"


def test_to_pdf_failure_is_one_line(monkeypatch, tmp_path):
    bad = tmp_path / "soffice"
    bad.write_text("#!/bin/sh\necho 'Error: source file could not be loaded'\nexit 1\n")
    bad.chmod(0o755)
    monkeypatch.setattr(pdf, "soffice", lambda: str(bad))
    with pytest.raises(PlancycleError) as e:
        pdf.to_pdf(b"x")
    assert str(e.value) == "LibreOffice 未能生成 PDF（退出码 1）：Error: source file could not be loaded"
    with using("en"):
        assert str(e.value) == "LibreOffice could not make the PDF (exit 1): Error: source file could not be loaded"


LACKING = missing_pdf_tools()
NEEDS_PDF_TOOLS = skipif(LACKING is not None, missing=LACKING,
                         reason="needs LibreOffice (soffice) and poppler-utils (pdftoppm, pdftotext): "
                                "apt install libreoffice-writer poppler-utils fonts-noto-cjk")
DPI = 150
MM_PX = 25.4 / DPI


def scan(pdf_path: Path, page: int, y0: float, y1: float, x0: float = 0, x1: float = 210):
    """Rows of a region (mm) of a page: for each, the y (mm) and the x (mm) of its red and its dark pixels."""
    px = lambda mm: int(round(mm / MM_PX))  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-r", str(DPI), "-f", str(page), "-l", str(page), "-x", str(px(x0)), "-y",
                        str(px(y0)), "-W", str(px(x1) - px(x0)), "-H", str(px(y1) - px(y0)), str(pdf_path),
                        f"{tmp}/r"], check=True)
        data = next(Path(tmp).glob("r*.ppm")).read_bytes()
    magic, dims, maxval, pixels = data.split(b"\n", 3)
    w, h = map(int, dims.split())
    rows = []
    for y in range(h):
        row = pixels[y * w * 3:(y + 1) * w * 3]
        red, dark = [], []
        for x in range(w):
            r, g, b = row[3 * x], row[3 * x + 1], row[3 * x + 2]
            if r > 180 and g < 110 and b < 110:
                red.append(x0 + x * MM_PX)
            elif r < 110 and g < 110 and b < 110:
                dark.append(x0 + x * MM_PX)
        rows.append((y0 + y * MM_PX, red, dark))
    return rows


def words(pdf_path: Path) -> list[list[tuple[float, float, float, float, str]]]:
    """Each page's words with their boxes (mm): xMin, yMin, xMax, yMax, text."""
    out = subprocess.run(["pdftotext", "-bbox", str(pdf_path), "-"], capture_output=True, text=True, check=True).stdout
    pt = 25.4 / 72
    return [[(float(a) * pt, float(b) * pt, float(c) * pt, float(d) * pt, t) for a, b, c, d, t in
             re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', page)]
            for page in re.findall(r"<page .*?</page>", out, re.S)]


def rules(rows, colour: int, min_width: float) -> list[tuple[float, float, float]]:
    """Horizontal rules in scanned rows: (y of its middle, x from, x to) of each band of rows with more than
    ``min_width`` mm of colour (0 red, 1 dark)."""
    bands = []  # [first y, last y, x from, x to]
    for y, red, dark in rows:
        xs = red if colour == 0 else dark
        if len(xs) * MM_PX > min_width:
            if bands and y - bands[-1][1] < 2 * MM_PX:
                bands[-1] = [bands[-1][0], y, min(bands[-1][2], xs[0]), max(bands[-1][3], xs[-1])]
            else:
                bands.append([y, y, xs[0], xs[-1]])
    return [((a + b) / 2, x0, x1) for a, b, x0, x1 in bands]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("pdf")

    def one(kind):
        path = out / f"{kind}.pdf"
        path.write_bytes(pdf.to_pdf(docx(kind)))
        return kind, path

    with cf.ThreadPoolExecutor(2) as ex:  # two LibreOffice at once, each with its own profile
        return dict(ex.map(one, sorted(SAMPLES)))


@NEEDS_PDF_TOOLS
@pytest.mark.slow  # LibreOffice renders the samples
@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_rendered_pages(rendered, kind):
    path = rendered[kind]
    doc = D.parse(SAMPLES[kind])
    pages = words(path)
    if doc.masthead:
        head = scan(path, 1, 60, 125)
        red_rows = [(y, red) for y, red, _ in head if red]
        # the 发文机关标志's top edge ~35 mm under the text block's top (37 mm): 72 mm from the page's top
        assert abs(red_rows[0][0] - 72) < 1.5, red_rows[0][0]
        # the red rule: as wide as the text block (28 … 184 mm), 4 mm under the 发文字号's ink
        (rule_y, rx0, rx1), = rules([r for r in head if r[0] > 90], 0, 100)
        assert abs(rx0 - 28) < 0.8 and abs(rx1 - 184) < 0.8, (rx0, rx1)
        number_bottom = max(y for y, _, dark in head if dark and y < rule_y)
        assert abs(rule_y - number_bottom - 4) < 0.8, (rule_y, number_bottom)
        # and the masthead is nowhere near the rule
        assert red_rows[0][0] < number_bottom - 20
    # the title's lines are the lines break_title chose
    page1 = " ".join(w[4] for w in pages[0])
    for line in D.break_title(doc.title):
        assert line.replace(" ", "") in page1.replace(" ", ""), (line, page1[:200])
    if doc.issued:  # 版记 on the last page, its last rule on the text block's bottom edge (262 mm)
        last = len(pages)
        assert any("印发" in w[4] for w in pages[-1]) and not any("印发" in w[4] for p in pages[:-1] for w in p)
        found = rules(scan(path, last, 150, 264), 1, 140)
        assert found and abs(found[-1][0] - 262) < 1.2, found
        assert abs(found[-1][1] - 28) < 0.8 and abs(found[-1][2] - 184) < 0.8
        # its first rule is the one over its first line, and nothing of the body runs into it
        first = min(w[1] for w in pages[-1] if w[4].startswith("抄送") or w[4].endswith("印发"))
        imprint_top = max(y for y, *_ in found if y < first)
        assert first - imprint_top < 5, (first, imprint_top)
        assert all(w[3] <= imprint_top + 0.3 for w in pages[-1] if w[1] < imprint_top), imprint_top
    # page numbers: the dash 7 mm under the text block (269 mm), odd pages right, even pages left
    for n in range(1, len(pages) + 1):
        foot = scan(path, n, 262.5, 276)
        (dash_y, x0, x1), *_ = rules(foot, 1, 3)
        assert abs(dash_y - 269) < 1.0, (n, dash_y)
        if n % 2:
            assert 170 < x1 < 184 - 3, (n, x1)  # 右空一字
        else:
            assert 28 + 3 < x0 < 45, (n, x0)  # 左空一字
    # the 附注 directly under the date
    if doc.note:
        for page in pages:
            date = [w for w in page if w[4] == "日" or w[4].endswith("日")]
            note = [w for w in page if w[4].startswith("（联系人")]
            if note:
                assert date
                gap = note[0][1] - max(w[1] for w in date if w[1] < note[0][1])
                assert abs(gap - D.LINE_PITCH * TW_MM) < 0.5, gap


@NEEDS_PDF_TOOLS
@pytest.mark.slow  # LibreOffice renders the samples
@pytest.mark.parametrize("kind", ["request", "special_plan_registration", "monthly_report"])
def test_rendered_pages_end_where_the_keeps_allow(rendered, kind):
    """What goes to the 落款's page is the paragraph before it, not a chain: a 请示's first 附件说明 entry stays on
    page 1 (it took the whole 附件说明 and 特此请示 with it, leaving five lines empty); the 通知's body stays whole on
    page 1 and the 附件说明 opens page 2. The 报告's page 1 ends after 一、 and its paragraph because 二、 and （一）
    keep with their first line and only two lines are left."""
    pages = words(rendered[kind])
    page_text = ["".join(w[4] for w in p if w[1] < 262) for p in pages]
    first2 = "".join(w[4] for w in sorted(pages[1], key=lambda w: (round(w[1]), w[0]))[:4])
    if kind == "request":
        assert "特此请示。" in page_text[0] and "附件：1." in page_text[0]
        assert first2.startswith("2.《"), first2
    elif kind == "special_plan_registration":
        assert "（编制单位：区教育局）。" in page_text[0] and first2.startswith("附件："), first2
    else:
        assert page_text[0].endswith("成3项。") and first2.startswith("二、各单位进展（一）"), first2
        last = max(w[3] for w in pages[0] if w[3] < 262)
        assert 262 - last < 3 * D.LINE_PITCH * TW_MM  # fewer than the three lines 二、（一） and a line need


@pytest.fixture(scope="module")
def rendered_letter(tmp_path_factory):
    path = tmp_path_factory.mktemp("pdf") / "letter.pdf"
    path.write_bytes(pdf.to_pdf(letter_docx()))
    return path


def strokes(rows, colour: int, min_width: float) -> list[tuple[float, float]]:
    """(top, bottom) in mm of each run of consecutive scanned rows with more than ``min_width`` mm of colour."""
    out = []
    for y, red, dark in rows:
        if len(red if colour == 0 else dark) * MM_PX > min_width:
            if out and y - out[-1][1] < 1.5 * MM_PX:
                out[-1] = (out[-1][0], y)
            else:
                out.append((y, y))
    return out


@NEEDS_PDF_TOOLS
@pytest.mark.slow  # LibreOffice renders the samples
def test_rendered_letter(rendered_letter):
    path = rendered_letter
    pages = words(path)
    head = scan(path, 1, 20, 100)
    # the 发文机关标志: its top edge 30 mm from the page's top edge
    mast = [y for y, red, _ in head if red and len(red) * MM_PX < 150]
    assert abs(mast[0] - 30) < 1.0, mast[0]
    # the double line 4 mm under it, 170 mm centred on the text block, 上粗下细
    (t1, b1), (t2, b2) = strokes(head, 0, 150)
    mast_bottom = max(y for y in mast if y < t1)
    assert abs(t1 - mast_bottom - 4) < 0.6, (t1, mast_bottom)
    assert b1 - t1 > b2 - t2, ((t1, b1), (t2, b2))
    (_, x0, x1), *_ = rules([r for r in head if t1 <= r[0] <= b2], 0, 150)
    assert abs(x0 - 21) < 0.8 and abs(x1 - 191) < 0.8, (x0, x1)
    # the 发文字号 under it, its characters' top 7/8 of a 3号 character under the line, flush with the text block's
    # right edge; the title two lines under it
    ink = [y for y, _, dark in head if dark and y > b2]
    number_top = ink[0]
    assert abs(number_top - b2 - D.BODY_PT * 7 / 8 * 25.4 / 72) < 0.8, (number_top, b2)
    number = [w for w in pages[0] if abs(w[1] - number_top) < 3]
    assert "".join(w[4] for w in number) == "长发改函〔2019〕1号" and abs(max(w[2] for w in number) - 184) < 0.8
    title = next(w for w in pages[0] if w[4].startswith("关于"))
    number_bottom = max(w[3] for w in number)
    assert abs(title[1] - number_bottom - 2 * D.LINE_PITCH * TW_MM) < 2, (title, number_bottom)
    # the second double line 20 mm over the page's bottom edge, 上细下粗; no page number on the first page
    foot = scan(path, 1, 262.5, 290)
    (t1, b1), (t2, b2) = strokes(foot, 0, 150)
    assert abs(t1 - 277) < 0.6 and b1 - t1 < b2 - t2, ((t1, b1), (t2, b2))
    assert not [y for y, _, dark in foot if dark]
    assert len(pages) >= 2
    dash, = rules(scan(path, 2, 262.5, 276), 1, 3)[:1]  # page 2 keeps its number, on the left
    assert abs(dash[0] - 269) < 1.0 and dash[1] < 45
    # the 版记 of a letter: the 抄送 at the foot of the last page, no 印发机关 and 印发日期, no rules
    last = len(pages)
    assert any(w[4].startswith("抄送") for w in pages[-1]) and not any("印发" in w[4] for p in pages for w in p)
    assert rules(scan(path, last, 150, 264), 1, 140) == []
