"""Official documents (公文) as bytes: a small markup → GB/T 9704-2012 Word files and Markdown previews.

Owns: the markup the notice templates produce, its parser, the ``.docx`` writer (page, margins, fonts in all
four ``rFonts`` slots and the font table, sizes, document grid, heading levels, 版头, 主送, 附件说明, 署名,
成文日期, 附注, 附件, 版记, odd/even page numbers), the title's line breaking (``break_title``) and the Markdown
preview. Pure: text in, bytes out, no clock, no files. The PDF of a .docx is ``stages.paperwork.pdf``.
Does not own: which notice says what (``templates/notices``), numbering or filing (``stages.paperwork.notices``).

The markup, one block per line (a line without ``@`` is a body paragraph)::

    @masthead 上海市长宁区发展和改革委员会文件      @number 长发改〔2019〕25号      @signer 张某某
    @title 关于……的通知                            @to 各有关单位：
    @h1 一、……   @h2 （一）……   @h3 1.……             @attachments 1.……（one per attachment）
    @sign 上海市长宁区发展和改革委员会               @date 2019年6月14日            @note （联系人：……）
    @annex 1|课题清单                               @table 序号|课题名称|……        @row 1|……
    @cc 区发展规划工作领导小组成员单位              @issued 上海市长宁区发展和改革委员会办公室|2019年6月14日
    @layout letter

``@signer`` (上行文: 请示, 报告) puts the 签发人 on the 发文字号's line: ``@signer 张某某`` or
``@signer 签发人：张某某`` (the label is written either way: 仿宋 ``签发人：``, the name in 楷体), several names
separated by ``|`` (``@signer 张某某|李某某``). With it, the 发文字号 is 居左空一字 and the 签发人 居右空一字;
without it, the 发文字号 is centred.

``@layout letter`` (anywhere, usually the first line) sets the document in the 信函格式 of GB/T 9704 10.1, the 函's
layout: the 发文机关标志 (the organ's full name, no 文件; ``@masthead`` is required) centred with its top edge 30 mm
from the page's top edge, a red double line (上粗下细) 4 mm under it, 170 mm long and centred on the text block, the
发文字号 顶格居版心右边缘 under that line (3号汉字高度的7/8 below it), the title two lines under the 发文字号; a
second red double line (上细下粗) 20 mm over the page's bottom edge; no page number on the first page; a 版记 of the
抄送 alone, without rules and without 印发机关和印发日期 (``@issued`` is ignored; with no ``@cc`` there is no 版记).
There is no 签发人 in a letter (``@signer`` with ``@layout letter`` is an error). Without ``@layout`` the document is
in the 文件格式 described next.

The page (GB/T 9704): text block 156×225 mm (top 37, left 28), 22 lines of 28 characters, 3号仿宋; the 发文机关标志
35 mm under the block's top, the 发文字号 two lines under it, the red rule 4 mm under that and as wide as the block,
the title two lines under the rule, broken at whole words into a 梯形 or 菱形 (``break_title``), single-spaced;
the 落款 of a sealed document (成文日期 右空四字, 署名 centred over it, two lines of room for the 印章), the 附注
on the line under the date, the 版记 floating at the foot of the last page, page numbers 7 mm under the block.
The 落款 never opens a page: the one paragraph before it (the body's last, or the 附件说明's last entry) stays on
its page, and nothing before that one is tied to it (LibreOffice moves a kept paragraph whole, Word its last
lines); the 附件说明 follows the body's last paragraph and its blank line, its entries free to run onto the next
page.

Template values are escaped (see ``escape``) so that no user text can start a block or split a table cell.
Output is deterministic: fixed core properties and zip timestamps, so the same notice renders to the same bytes.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
import re
import zipfile
from dataclasses import dataclass, field

# Fonts (the names Chinese government offices have installed; a preview maps them with fontconfig aliases)
TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEI_FONT = "黑体"
KAI_FONT = "楷体_GB2312"
SONG_FONT = "宋体"

# Sizes in points: 二号 22, 三号 16, 四号 14
TITLE_PT, BODY_PT, SMALL4_PT, FOOT_PT = 22, 16, 12, 14
LINE_PITCH = 579  # twips: 22 lines in the 225 mm text block
CHAR_TW = 315  # one character of 三号 with −0.25 pt spacing, in twips (16 pt − 0.25 pt) × 20
CHARS_PER_LINE = 28

BLOCK = re.compile(r"^@(masthead|number|signer|title|to|h1|h2|h3|attachments|sign|date|note|annex|table|row|cc|issued"
                   r"|layout)"
                   r"(?:\s(.*))?$")


LAYOUTS = ("letter",)  # @layout values besides the default 文件格式


def escape(value) -> str:
    """Applied to every template value: one line, no block marker, no cell separator."""
    text = "" if value is None else str(value)
    text = " ".join(text.replace("\r", "\n").split("\n"))
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("@", "\\@")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _cells(text: str) -> list[str]:
    return [_unescape(c).strip() for c in re.split(r"(?<!\\)\|", text)]


@dataclass
class Doc:
    masthead: str | None = None
    number: str | None = None
    signer: str | None = None  # 签发人：张某某　李某某 (as the Markdown preview shows it)
    signers: list[str] = field(default_factory=list)  # the names alone
    title: str = ""
    to: str | None = None
    body: list[tuple[str, str]] = field(default_factory=list)  # (kind p|h1|h2|h3, text)
    attachments: list[str] = field(default_factory=list)
    sign: str | None = None
    date: str | None = None
    note: str | None = None
    annexes: list[dict] = field(default_factory=list)  # {no, title, header, rows}
    cc: str | None = None
    issued: tuple[str, str] | None = None
    layout: str | None = None  # None: 文件格式; "letter": 信函格式 (GB/T 9704 10.1)


def parse(markup: str) -> Doc:
    doc = Doc()
    annex = None
    for raw in markup.splitlines():
        line = raw.strip()
        if not line:
            continue
        m = BLOCK.match(line)
        if not m:
            text = _unescape(line)
            (annex["paras"] if annex is not None else doc.body).append(("p", text) if annex is None else text)
            continue
        kind, rest = m.group(1), (m.group(2) or "").strip()
        if kind in ("table", "row"):
            if annex is None:
                raise ValueError(f"@{kind} outside an @annex")
            if kind == "table":
                annex["header"] = _cells(rest)
            else:
                annex["rows"].append(_cells(rest))
            continue
        if kind == "annex":
            no, title = (_cells(rest) + [""])[:2]
            annex = {"no": no, "title": title, "header": [], "rows": [], "paras": []}
            doc.annexes.append(annex)
            continue
        value = _unescape(rest)
        if kind in ("h1", "h2", "h3"):
            doc.body.append((kind, value))
        elif kind == "attachments":
            doc.attachments.append(value)
        elif kind == "signer":
            doc.signers = [re.sub(r"^签发人\s*[：:]\s*", "", c).strip() for c in _cells(rest)]
            doc.signers = [n for n in doc.signers if n]
            doc.signer = "签发人：" + "　".join(doc.signers) if doc.signers else None
        elif kind == "issued":
            org, date = (_cells(rest) + [""])[:2]
            doc.issued = (org, date)
        elif kind == "layout":
            if value not in LAYOUTS:
                raise ValueError(f"@layout {value!r}: the layouts are {', '.join(LAYOUTS)}")
            doc.layout = value
        else:
            setattr(doc, kind, value)
    if not doc.title:
        raise ValueError("a notice needs a @title")
    if doc.layout == "letter":
        if not doc.masthead:
            raise ValueError("@layout letter needs a @masthead (the 发文机关标志)")
        if doc.signer:
            raise ValueError("@layout letter has no 签发人 (@signer)")
    return doc


# -- title line breaking ---------------------------------------------------------------------------------------------
TITLE_CHARS = 20  # 二号 (22 pt) characters on one line of the 156 mm text block: 442 pt / 22 pt

# Words a title line never splits (besides 《…》, “…”, （…）, 〔…〕 and digit runs): the 公文 vocabulary of this office.
TITLE_WORDS = frozenset("""
关于 通知 请示 报告 函 公告 公示 意见 批复 决定 方案 纪要 简报 督办通知 催办通知 会议通知 督办单 通报
启动会 评审会 汇报会 推进会 座谈会 协调会 会议 课题 研究 编制 规划 工作 工作方案 实施方案 督办 催办 评审
前期 重大 重点 专项 专项规划 总体规划 规划纲要 纲要 送审稿 征求意见稿 讨论稿
国民经济 社会发展 五年规划 第十三个 第十四个 第十五个 第十六个 发展 改革 委员会 发展和改革委员会 发改委
区政府 区委 区政府办公室 办公室 领导小组 人民政府 有关 有关单位 各有关单位 承担单位 承接单位
单位 部门 街镇 召开 启动 开展 做好 加强 推进 报送 印发 提请 申请 确认 立项 遴选 公开遴选 承担 进展 情况
进展情况 成果 事项 逾期 事项 阶段 近期 中期 开题 结题 评审结果 结果 名单 清单 确定 组织 调整 衔接
""".split())
_TITLE_CLOSE = {"《": "》", "“": "”", "（": "）", "〔": "〕", "【": "】", "‘": "’", "(": ")", "「": "」", "〈": "〉"}
_NO_LINE_START = set("、，。：；！？）》”〕】’」〉·…%")  # never begins a line
_PARTICLES = {"的": 8, "和": 8, "与": 8, "及": 8, "暨": 8, "并": 8, "等": 8, "之": 8}  # cost of starting a line
_CONJUNCTIONS = {"和": 8, "与": 8, "及": 8, "暨": 8, "并": 8}  # cost of ending a line
_TAIL_WORDS = {"工作": 5, "情况": 5, "事项": 3}  # words that lean on the one before them
_RUN = re.compile(r"〔\d+〕\d+号|(?:\d+(?:\.\d+)?[年月日号个项%]?)+|[A-Za-z][A-Za-z0-9.\-]*"
                  r"|十[一二三四五六七八九]五")  # a plan period (十四五, 十五五) is one word, quoted or not
_PLACE = re.compile(r"[\u4e00-\u9fff]{1,6}?[省市县区州旗]")


def place_words(organ: str) -> frozenset[str]:
    """The issuing organ's own place names, kept whole in its titles: 上海市长宁区发展和改革委员会 → 上海市, 长宁区."""
    out, rest = set(), organ or ""
    while (m := _PLACE.match(rest)) and len(m.group(0)) >= 2:
        out.add(m.group(0))
        rest = rest[m.end():]
    return frozenset(out)


def _title_units(text: str, extra: frozenset[str] = frozenset()) -> list[tuple[str, int, bool]]:
    """The title as unbreakable units (text, bracket depth after the unit, is a known word or run)."""
    units: list[list] = []  # [text, depth, word]
    stack: list[str] = []
    words = TITLE_WORDS | extra
    longest = max(len(w) for w in words)
    i, glue_next = 0, False
    while i < len(text):
        c = text[i]
        if c in _TITLE_CLOSE:  # an opening bracket: glued to what follows
            stack.append(_TITLE_CLOSE[c])
            piece, word = c, False
            i += 1
            if units and glue_next:
                units[-1][0] += piece
            else:
                units.append([piece, len(stack), False])
            glue_next = True
            continue
        if stack and c == stack[-1] or c in _NO_LINE_START:  # a closing bracket or punctuation: glued to what precedes
            if stack and c == stack[-1]:
                stack.pop()
            if units:
                units[-1][0] += c
                units[-1][1] = len(stack)
            else:
                units.append([c, len(stack), False])
            i += 1
            glue_next = False
            continue
        m = _RUN.match(text, i)
        if m:
            piece, word = m.group(0), True
        else:
            piece, word = c, False
            for n in range(min(longest, len(text) - i), 1, -1):
                if text[i:i + n] in words:
                    piece, word = text[i:i + n], True
                    break
            if piece in words:
                word = True
        i += len(piece)
        if units and glue_next:
            units[-1][0] += piece
            units[-1][1] = len(stack)
            units[-1][2] = units[-1][2] or word
        else:
            units.append([piece, len(stack), word])
        glue_next = False
    return [(u[0], u[1], u[2]) for u in units]


def title_width(text: str) -> float:
    """Width in characters of the title's size: ASCII letters and digits are half a character."""
    return sum(0.5 if ord(c) < 0x80 else 1 for c in text)


def _break_cost(units, k: int) -> float:
    """What breaking between units[k-1] and units[k] costs: inside brackets a lot, between two single
    characters (perhaps a word this module does not know) some, before a particle or a leaning word a little."""
    prev, nxt = units[k - 1], units[k]
    cost = 100.0 * prev[1]  # depth of brackets still open after the previous unit
    if not prev[2] and not nxt[2] and len(prev[0].rstrip("、，。：；")) == 1 and len(nxt[0]) == 1 \
            and nxt[0] not in _PARTICLES and prev[0] not in _PARTICLES:
        cost += 30
    core = nxt[0].lstrip("《“（〔【‘(「〈")
    cost += _PARTICLES.get(core[:1], 0) if len(core) == 1 or core[:1] == "的" else 0
    cost += _TAIL_WORDS.get(nxt[0], 0) + _CONJUNCTIONS.get(prev[0], 0)
    return cost


def _shape_cost(widths: list[float]) -> float:
    """梯形 (each line at least as long as the next) or 菱形 (rising to one longest line, then falling) cost
    nothing but their unevenness; any other shape (a short line between longer ones, a top shorter than the
    bottom) costs 40 more."""
    n = len(widths)
    uneven = sum(abs(a - b) for a, b in zip(widths, widths[1:]))
    if n == 1:
        return 0.0
    trapezoid = all(a >= b for a, b in zip(widths, widths[1:]))
    top = widths.index(max(widths))
    diamond = n >= 3 and 0 < top < n - 1 and widths[0] < widths[top] > widths[-1] \
        and all(a <= b for a, b in zip(widths[:top], widths[1:top + 1])) \
        and all(a >= b for a, b in zip(widths[top:], widths[top + 1:]))
    return uneven + (0 if trapezoid or diamond else 40)


def break_title(text: str, max_chars_per_line: float = TITLE_CHARS, words: frozenset[str] = frozenset()) -> list[str]:
    """A title's lines: broken only between whole words (never inside 《…》 “…” （…） 〔…〕 or a digit run
    unless one of them is longer than a line, and then between its words), no line starting with a closing
    mark, and of the lengths that make a 梯形 (upper lines longer or equal) or a 菱形, as even as possible.

    >>> break_title("关于召开“十四五”规划前期重大课题启动会的通知")
    ['关于召开“十四五”规划前期', '重大课题启动会的通知']
    """
    text = text.strip()
    if title_width(text) <= max_chars_per_line:
        return [text]
    units = _title_units(text, words)
    # a unit longer than a line (a very long digit run or word) is split into characters
    fine = []
    for u in units:
        if title_width(u[0]) > max_chars_per_line:
            fine.extend((ch, u[1], False) for ch in u[0])
        else:
            fine.append(u)
    units = fine
    widths = [title_width(u[0]) for u in units]
    costs = [0.0] + [_break_cost(units, k) for k in range(1, len(units))]
    n = len(units)
    lines_min = max(2, math.ceil(sum(widths) / max_chars_per_line))
    best: tuple[float, list[int]] | None = None
    lines, feasible = lines_min, None
    while lines <= n and (feasible is None or lines <= feasible + 1):
        if math.comb(n - 1, lines - 1) > 50_000:  # a title of a page: lines filled one after another
            return _fill(units, widths, max_chars_per_line)
        for cut in _cuts(widths, lines, max_chars_per_line):
            feasible = lines if feasible is None else feasible
            bounds = [0, *cut, n]
            ws = [sum(widths[a:b]) for a, b in zip(bounds, bounds[1:])]
            total = sum(costs[k] for k in cut) + _shape_cost(ws) + 20 * (lines - lines_min)
            if best is None or total < best[0] - 1e-9:
                best = (total, list(cut))
        lines += 1
    bounds = [0, *best[1], n]
    return ["".join(u[0] for u in units[a:b]) for a, b in zip(bounds, bounds[1:])]


def _fill(units, widths, limit: float) -> list[str]:
    lines, line, width = [], "", 0.0
    for u, w in zip(units, widths):
        if line and width + w > limit:
            lines.append(line)
            line, width = "", 0.0
        line += u[0]
        width += w
    return lines + [line] if line else lines


def _cuts(widths: list[float], lines: int, limit: float, start: int = 0):
    """Every way to cut ``widths[start:]`` into ``lines`` consecutive non-empty lines no wider than ``limit``."""
    n = len(widths)
    if lines == 1:
        if sum(widths[start:]) <= limit:
            yield []
        return
    width = 0.0
    for end in range(start + 1, n - lines + 2):
        width += widths[end - 1]
        if width > limit:
            break
        for rest in _cuts(widths, lines - 1, limit, end):
            yield [end, *rest]


# -- Markdown preview ------------------------------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#+!|])")


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def to_markdown(doc: Doc) -> str:
    out: list[str] = []
    if doc.masthead:
        out.append(f"**{_md(doc.masthead)}**\n")
    if doc.layout == "letter":  # the double line under the 发文机关标志, the 发文字号 under it
        out.append("---\n")
        if doc.number:
            out.append(_md(doc.number) + "\n")
    elif doc.number:
        out.append(_md(doc.number) + (f"　　{_md(doc.signer)}" if doc.signer else "") + "\n")
        out.append("---\n")
    out.append(f"# {_md(doc.title)}\n")
    if doc.to:
        out.append(_md(doc.to) + "\n")
    for kind, text in doc.body:
        prefix = {"p": "", "h1": "## ", "h2": "### ", "h3": "#### "}[kind]
        out.append(prefix + _md(text) + "\n")
    if doc.attachments:
        out.append("附件：" + "<br>".join(_md(a) for a in doc.attachments) + "\n")
    for part in (doc.sign, doc.date, doc.note):
        if part:
            out.append(_md(part) + "\n")
    for a in doc.annexes:
        out.append(f"---\n\n**附件{_md(a['no'])}**\n\n## {_md(a['title'])}\n")
        for p in a["paras"]:
            out.append(_md(p) + "\n")
        if a["header"]:
            out.append("| " + " | ".join(_md(h) for h in a["header"]) + " |")
            out.append("|" + "---|" * len(a["header"]))
            for r in a["rows"]:
                out.append("| " + " | ".join(_md(c) for c in r) + " |")
            out.append("")
    issued = doc.issued if doc.layout != "letter" else None  # a letter's 版记 is the 抄送 alone
    if doc.cc or issued:
        out.append("---\n")
        if doc.cc:
            out.append(f"抄送：{_md(doc.cc)}。\n")
        if issued:
            out.append(f"{_md(issued[0])}　　{_md(issued[1])}印发\n")
    return "\n".join(out).rstrip() + "\n"


# -- .docx ---------------------------------------------------------------------------------------------------------------
MM_TW = 1440 / 25.4  # twips in a millimetre
TEXT_W = round(156 * MM_TW)  # the text block is 156 mm wide
MASTHEAD_MM = 35  # the 发文机关标志's top edge under the text block's top edge
RULE_MM = 4  # the red rule under the 发文字号
PAGE_NO_MM = 7  # the page number's dash under the text block's bottom edge
FOOT_CHAR_TW = FOOT_PT * 20  # one 四号 character
# Word and LibreOffice put a line of "exact" height's spare room above the text: a run's ink ends about a fifth
# of its size over the line's bottom (the descent of 〔〕 and of the Song/FangSong faces), and in a line exactly as
# high as the size its ink starts at the line's top (measured on LibreOffice's PDF: tests/test_layout.py).
DESCENT = 0.2
FOOT_DASH_MM = 2.55  # the page number's dash over the bottom of its 16.8 pt line (measured likewise)
# 信函格式 (GB/T 9704 10.1), from the page's edges
LETTER_MASTHEAD_MM = 30  # the 发文机关标志's top edge under the page's top edge
LETTER_RULE_GAP_MM = 4  # the first red double line under the 发文机关标志
LETTER_RULE_MM = 170  # both double lines' length, centred on the text block
LETTER_FOOT_RULE_MM = 20  # the second red double line over the page's bottom edge
LETTER_NUMBER_PT = BODY_PT * 7 / 8  # the 发文字号 under the first double line: 3号汉字高度的7/8
LETTER_RULE_SZ = 18  # eighths of a point: the double line as a whole (2.25 pt)
MASTHEAD_DESCENT = 0.13  # the 发文机关标志's ink ends this much of its size over its exact line's bottom (measured)

# The fonts a document names, for Word's and WPS's substitution when one is missing (w:altName: one name, the
# one a Windows PC without the GB2312 fonts has, or the font's English name) and for the preview's fontconfig
# aliases (config/fonts/fonts.conf): name, alternative name, panose, family.
FONT_TABLE = (
    (TITLE_FONT, "FZXiaoBiaoSong-B05S", "02000000000000000000", "auto"),
    (BODY_FONT, "仿宋", "02010609060101010101", "modern"),
    (HEI_FONT, "SimHei", "02010609060101010101", "modern"),
    (KAI_FONT, "楷体", "02010609060101010101", "modern"),
    (SONG_FONT, "SimSun", "02010600030101010101", "auto"),
)


def _font_table_xml() -> bytes:
    """word/fontTable.xml: the five fonts, GB2312 charset (86), each with its alternative name."""
    from xml.sax.saxutils import quoteattr

    fonts = []
    for name, alt, panose, family in FONT_TABLE:
        fonts.append(f'<w:font w:name={quoteattr(name)}><w:altName w:val={quoteattr(alt)}/>'
                     f'<w:panose1 w:val="{panose}"/><w:charset w:val="86"/><w:family w:val="{family}"/>'
                     f'<w:pitch w:val="variable"/><w:sig w:usb0="00000001" w:usb1="080E0000" w:usb2="00000010" '
                     f'w:usb3="00000000" w:csb0="00040000" w:csb1="00000000"/></w:font>')
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<w:fonts xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            + "".join(fonts) + "</w:fonts>").encode("utf-8")


def _set_fonts(rpr, font: str) -> None:
    """All four rFonts slots, and no theme attributes (python-docx's default is a Japanese-theme Mincho)."""
    from docx.oxml.ns import qn

    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, rfonts)
    for attr in list(rfonts.attrib):
        if attr.endswith("Theme") or attr.endswith("theme"):
            del rfonts.attrib[attr]
    for slot in ("ascii", "hAnsi", "eastAsia", "cs"):
        rfonts.set(qn(f"w:{slot}"), font)


def _rpr(run_or_style_element):
    from docx.oxml.ns import qn

    rpr = run_or_style_element.find(qn("w:rPr"))
    if rpr is None:
        rpr = run_or_style_element.makeelement(qn("w:rPr"), {})
        run_or_style_element.insert(0, rpr) if run_or_style_element.tag.endswith("}r") else run_or_style_element.append(rpr)
    return rpr


def _child(parent, tag: str, **attrs):
    from docx.oxml.ns import qn

    el = parent.find(qn(tag))
    if el is None:
        el = parent.makeelement(qn(tag), {})
        parent.append(el)
    for k, v in attrs.items():
        el.set(qn(k), str(v))
    return el


_PPR_ORDER = {name: i for i, name in enumerate(
    "pStyle keepNext keepLines pageBreakBefore framePr widowControl numPr suppressLineNumbers pBdr shd tabs "
    "suppressAutoHyphens kinsoku wordWrap overflowPunct topLinePunct autoSpaceDE autoSpaceDN bidi adjustRightInd "
    "snapToGrid spacing ind contextualSpacing mirrorIndents suppressOverlap jc textDirection textAlignment "
    "textboxTightWrap outlineLvl divId cnfStyle rPr sectPr pPrChange".split())}


_RPR_ORDER = {name: i for i, name in enumerate(
    "rStyle rFonts b bCs i iCs caps smallCaps strike dstrike outline shadow emboss imprint noProof snapToGrid "
    "vanish webHidden color spacing w kern position sz szCs highlight u effect bdr shd fitText vertAlign rtl cs em "
    "lang eastAsianLayout specVanish oMath".split())}


_STYLE_ORDER = {name: i for i, name in enumerate(
    "name aliases basedOn next link autoRedefine hidden uiPriority semiHidden unhideWhenUsed qFormat locked "
    "personal personalCompose personalReply rsid pPr rPr tblPr trPr tcPr tblStylePr".split())}


def _schema_order(root) -> None:
    """Every ``w:pPr`` and ``w:rPr`` under ``root`` with its children in the schema's order (Word may refuse a
    file otherwise)."""
    from docx.oxml.ns import qn

    for tag, order in (("w:pPr", _PPR_ORDER), ("w:rPr", _RPR_ORDER)):
        for pr in root.iter(qn(tag)):
            children = list(pr)
            children.sort(key=lambda el: order.get(el.tag.rsplit("}", 1)[-1], len(order)))
            for el in children:
                pr.append(el)


def _el(tag: str, **attrs):
    """A new element ``<w:tag w:k="v" …/>``."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    el = OxmlElement(tag)
    for k, v in attrs.items():
        el.set(qn(k), str(v))
    return el


def _border(tag: str, sz: int | None, colour: str = "000000", space: int = 0, style: str = "single"):
    """A border element: ``sz`` in eighths of a point, ``space`` in points; ``None`` for no border."""
    if sz is None:
        return _el(tag, **{"w:val": "nil"})
    return _el(tag, **{"w:val": style, "w:sz": sz, "w:space": space, "w:color": colour})


@functools.lru_cache(maxsize=1)
def _base_document() -> bytes:
    """The styled empty document (page, grid, fonts in every style, font table, footers), built once per process."""
    w = _Writer.__new__(_Writer)
    from docx import Document

    w.d = Document()
    w._setup()
    buf = io.BytesIO()
    w.d.save(buf)
    return buf.getvalue()


class _Writer:
    def __init__(self, doc: Doc, *, author: str, created: dt.datetime):
        from docx import Document

        self.doc = doc
        self.d = Document(io.BytesIO(_base_document()))
        self.author = author
        self.created = created

    # document-wide settings ---------------------------------------------------------------------------------------
    def _setup(self):
        from docx.oxml.ns import qn
        from docx.shared import Mm

        d = self.d
        sec = d.sections[0]
        sec.page_width, sec.page_height = Mm(210), Mm(297)
        sec.top_margin, sec.bottom_margin = Mm(37), Mm(35)
        sec.left_margin, sec.right_margin = Mm(28), Mm(26)
        sec.header_distance = Mm(15)
        # the footer's bottom edge: the page number's dash is 7 mm under the text block (35 mm over the page's
        # bottom edge), and it sits FOOT_DASH_MM over its line's bottom
        sec.footer_distance = Mm(35 - PAGE_NO_MM - FOOT_DASH_MM)
        grid = _child(sec._sectPr, "w:docGrid")
        for a in list(grid.attrib):
            del grid.attrib[a]
        grid.set(qn("w:type"), "lines")
        grid.set(qn("w:linePitch"), str(LINE_PITCH))
        # defaults and every style: 仿宋 三号, zh-CN, no theme fonts
        styles = d.styles.element
        defaults = styles.find(qn("w:docDefaults"))
        rpr_default = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
        _set_fonts(rpr_default, BODY_FONT)
        _child(rpr_default, "w:sz", **{"w:val": BODY_PT * 2})
        _child(rpr_default, "w:szCs", **{"w:val": BODY_PT * 2})
        lang = _child(rpr_default, "w:lang")
        for a in list(lang.attrib):
            del lang.attrib[a]
        # Chinese for the CJK script, English for Latin letters and digits: LibreOffice breaks a digit run
        # (2019年1|2月) when the Western language is Chinese too
        lang.set(qn("w:val"), "en-US")
        lang.set(qn("w:eastAsia"), "zh-CN")
        lang.set(qn("w:bidi"), "ar-SA")
        for rfonts in styles.iter(qn("w:rFonts")):
            for attr in list(rfonts.attrib):
                if attr.lower().endswith("theme"):
                    del rfonts.attrib[attr]
            for slot in ("ascii", "hAnsi", "eastAsia", "cs"):
                if rfonts.get(qn(f"w:{slot}")) is None:
                    rfonts.set(qn(f"w:{slot}"), BODY_FONT)
        for style in d.styles:
            el = style.element
            if el.get(qn("w:type")) in ("paragraph", "character", "table"):
                _set_fonts(_rpr(el), BODY_FONT)
            # a table style's new rPr goes before its tblPr, as the schema orders a style's parts
            el[:] = sorted(el, key=lambda c: _STYLE_ORDER.get(c.tag.rsplit("}", 1)[-1], len(_STYLE_ORDER)))
        _schema_order(styles)
        d.settings.odd_and_even_pages_header_footer = True
        # the template's settings name a Japanese theme language (Word then picks Japanese fonts for the theme)
        theme_lang = d.settings.element.find(qn("w:themeFontLang"))
        if theme_lang is not None:
            theme_lang.set(qn("w:val"), "en-US")
            theme_lang.set(qn("w:eastAsia"), "zh-CN")
        # Word 2010's copy of the styles (stylesWithEffects.xml) still has the theme fonts: not needed, dropped
        for rid, rel in list(d.part.rels.items()):
            if rel.reltype.endswith("/stylesWithEffects"):
                d.part.drop_rel(rid)
            elif rel.reltype.endswith("/fontTable"):
                rel.target_part._blob = _font_table_xml()
        self._footers(sec)

    def _footers(self, sec):
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        for footer, align, side in ((sec.footer, WD_ALIGN_PARAGRAPH.RIGHT, "right"),
                                    (sec.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT, "left")):
            footer.is_linked_to_previous = False
            p = footer.paragraphs[0]
            p.alignment = align
            ppr = p._p.get_or_add_pPr()
            _child(ppr, "w:snapToGrid", **{"w:val": 0})
            _child(ppr, "w:spacing", **{"w:before": 0, "w:after": 0, "w:line": round(FOOT_PT * 1.2 * 20),
                                        "w:lineRule": "exact"})
            _child(ppr, "w:ind", **{f"w:{side}": FOOT_CHAR_TW})  # 单页码居右空一字, 双页码居左空一字
            self._run(p, "— ", SONG_FONT, FOOT_PT)
            self._field(p, "PAGE", SONG_FONT, FOOT_PT)
            self._run(p, " —", SONG_FONT, FOOT_PT)
            _schema_order(p._p)

    # primitives ---------------------------------------------------------------------------------------------------
    def _run(self, p, text, font, size, *, color=None, bold=False, spacing=None):
        from docx.shared import Pt, RGBColor

        r = p.add_run(text)
        r.font.size = Pt(size)
        r.font.bold = bold
        if color:
            r.font.color.rgb = RGBColor.from_string(color)
        rpr = _rpr(r._r)
        _set_fonts(rpr, font)
        if spacing is not None:
            _child(rpr, "w:spacing", **{"w:val": spacing})
        return r

    def _field(self, p, instr, font, size):
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn

        for kind, text in (("begin", None), ("instr", instr), ("separate", None), ("num", "1"), ("end", None)):
            r = self._run(p, "", font, size)
            if kind in ("begin", "separate", "end"):
                fc = OxmlElement("w:fldChar")
                fc.set(qn("w:fldCharType"), kind)
                r._r.append(fc)
            elif kind == "instr":
                it = OxmlElement("w:instrText")
                it.set(qn("xml:space"), "preserve")
                it.text = f" {text} "
                r._r.append(it)
            else:
                t = OxmlElement("w:t")
                t.text = text
                r._r.append(t)

    def _para(self, text="", *, font=BODY_FONT, size=BODY_PT, align=None, first_line_chars=0, first_line_tw=0,
              hanging_tw=0, left_tw=0, right_tw=0, color=None, line=LINE_PITCH, before=0, border=None,
              keep_next=False, spacing=-5, page_break_before=False, snap=True, container=None):
        """One paragraph: ``line`` its exact height in twips, ``before`` its space before; ``border`` maps a side
        to (size in eighths of a point, colour[, space in points])."""
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        p = (container or self.d).add_paragraph()
        if align:
            p.alignment = {"center": WD_ALIGN_PARAGRAPH.CENTER, "right": WD_ALIGN_PARAGRAPH.RIGHT,
                           "left": WD_ALIGN_PARAGRAPH.LEFT, "justify": WD_ALIGN_PARAGRAPH.JUSTIFY}[align]
        ppr = p._p.get_or_add_pPr()
        # pPr's children in schema order: keepNext, pageBreakBefore, pBdr, snapToGrid, spacing, ind, jc
        if keep_next:
            _child(ppr, "w:keepNext")
        if page_break_before:
            _child(ppr, "w:pageBreakBefore")
        if border:
            bdr = _child(ppr, "w:pBdr")
            for side, spec in border.items():
                sz, colour, space = (*spec, 1)[:3]
                bdr.append(_border(f"w:{side}", sz, colour, space))
        if not snap:
            _child(ppr, "w:snapToGrid", **{"w:val": 0})
        _child(ppr, "w:spacing", **{"w:before": before, "w:after": 0, "w:line": line, "w:lineRule": "exact"})
        ind = {}
        if first_line_chars:
            ind["w:firstLineChars"] = first_line_chars * 100
            ind["w:firstLine"] = first_line_chars * CHAR_TW
        if first_line_tw:
            ind["w:firstLine"] = first_line_tw
        if left_tw:
            ind["w:left"] = left_tw
        if right_tw:
            ind["w:right"] = right_tw
        if hanging_tw:
            ind["w:hanging"] = hanging_tw
        if ind:
            _child(ppr, "w:ind", **ind)
        if text:
            self._run(p, text, font, size, color=color, spacing=spacing)
        return p

    def _blank(self, *, keep_next=False, line=LINE_PITCH):
        return self._para("", keep_next=keep_next, line=line)

    def _title(self, text):
        """The title in 二号小标宋, centred, broken at whole words (``break_title``) into single-spaced lines.

        The line breaks sit in a content control of their own, so that the paragraph's text (what python-docx,
        search and a screen reader read) is the title as one string, while Word, WPS and LibreOffice break it.
        """
        p = self._para(align="center", keep_next=True, snap=False)
        for i, line in enumerate(break_title(text, words=place_words(self.author))):
            if i:
                sdt = _el("w:sdt")
                pr = _el("w:sdtPr")
                pr.append(_el("w:tag", **{"w:val": "title-line-break"}))
                sdt.append(pr)
                content = _el("w:sdtContent")
                r = _el("w:r")
                rpr = _el("w:rPr")
                _set_fonts(rpr, TITLE_FONT)
                rpr.append(_el("w:sz", **{"w:val": TITLE_PT * 2}))
                r.append(rpr)
                r.append(_el("w:br"))
                content.append(r)
                sdt.append(content)
                p._p.append(sdt)
            self._run(p, line, TITLE_FONT, TITLE_PT, spacing=0)
        return p

    # parts, in GB/T 9704 order ------------------------------------------------------------------------------------
    def write(self) -> bytes:
        doc = self.doc
        letter = doc.layout == "letter"
        if letter:
            self._letter_head()
        else:
            if doc.masthead:
                self._masthead()
            if doc.number:
                self._number_line()
        self._title(doc.title)
        self._blank()
        if doc.to:
            self._para(doc.to)
        for kind, text in doc.body:  # a heading stays with what follows it; body paragraphs are free
            font = {"p": BODY_FONT, "h1": HEI_FONT, "h2": KAI_FONT, "h3": BODY_FONT}[kind]
            self._para(text, font=font, first_line_chars=2, align="justify", keep_next=kind != "p")
        if doc.attachments:
            self._keep_with_next()  # the blank line before the 附件说明 never opens a page
            self._blank()
            self._attachments()
        if doc.sign or doc.date:
            self._signature()
        for a in doc.annexes:
            self._para(f"附件{a['no']}", font=HEI_FONT, page_break_before=True)
            self._blank()
            self._title(a["title"])
            self._blank()
            for text in a["paras"]:
                self._para(text, first_line_chars=2, align="justify")
            if a["header"]:
                self._table(a["header"], a["rows"])
        if doc.cc or (doc.issued and not letter):  # a letter's 版记 is its 抄送 alone
            self._imprint()
        self._core()
        _schema_order(self.d.element.body)
        return _save_deterministic(self.d)

    def _masthead(self):
        """版头: the 发文机关标志 in red 小标宋, its top edge 35 mm under the text block's, then two lines down."""
        text = self.doc.masthead
        size = min(36, int(440 / max(len(text), 1)))  # as wide as the text block at most
        # a line exactly as high as the characters: their top is the line's top
        self._para(text, font=TITLE_FONT, size=size, align="center", color="FF0000", spacing=0, snap=False,
                   line=size * 20, before=round(MASTHEAD_MM * MM_TW))
        if self.doc.number:
            self._blank()
            self._blank()  # 发文字号: 发文机关标志下空二行

    def _number_line(self):
        """发文字号 (centred; in an upward document 左空一字, with the 签发人 右空一字 on the same line) and the red
        rule 4 mm under it, as wide as the text block, then two lines to the title."""
        from docx.enum.text import WD_TAB_ALIGNMENT
        from docx.shared import Twips

        doc = self.doc
        # the rule is the paragraph's bottom border: its text ends a descent above the line's bottom
        gap_pt = max(0, round(RULE_MM * 72 / 25.4 - BODY_PT * DESCENT))
        red_rule = {"bottom": (12, "FF0000", gap_pt)}
        if doc.signer:
            p = self._para(doc.number, first_line_tw=CHAR_TW, border=red_rule, snap=False)
            p.paragraph_format.tab_stops.add_tab_stop(Twips(TEXT_W - CHAR_TW), WD_TAB_ALIGNMENT.RIGHT)
            names = doc.signers or [re.sub(r"^签发人\s*[：:]\s*", "", doc.signer)]
            self._run(p, "\t签发人：", BODY_FONT, BODY_PT, spacing=-5)
            self._run(p, "　".join(names), KAI_FONT, BODY_PT, spacing=-5)
        else:
            self._para(doc.number, align="center", border=red_rule, snap=False)
        self._blank()
        self._blank()  # 标题: 红色分隔线下空二行

    def _attachments(self):
        """附件说明: 左空二字 ``附件：1.名称``; a second attachment under the first one's number, a wrapped name
        under its own first character (hanging indents). The entries may run onto the next page (the last one stays
        with the 落款: ``_signature``)."""
        label = "附件："
        for i, a in enumerate(self.doc.attachments):
            m = re.match(r"\d+[.．、]", a)
            number = m.group(0) if m else ""
            left = (2 + _width(label) + _width(number)) * CHAR_TW
            start = 2 * CHAR_TW if i == 0 else (2 + _width(label)) * CHAR_TW
            self._para((label if i == 0 else "") + a, left_tw=round(left), hanging_tw=round(left - start))

    def _keep_with_next(self):
        """The last paragraph so far stays on the page of the next one. LibreOffice never splits such a paragraph
        (``SwTextFrameBreak``: keep-with-next implies keep-together) and moves it whole; Word keeps its last lines."""
        from docx.oxml.ns import qn

        paras = self.d.element.body.findall(qn("w:p"))
        if paras:
            _child(paras[-1].get_or_add_pPr(), "w:keepNext")

    def _signature(self):
        """落款 of a sealed document (GB/T 9704 7.3.5.1): 成文日期 右空四字, 发文机关署名 centred over it, two lines
        above them for the 印章 (its top within a line of the body), the 附注 on the line under the date."""
        doc = self.doc
        # the 落款 never opens a page: the one paragraph before it (the body's last, or the 附件说明's last entry)
        # goes with it, and only that one (GB/T 9704 7.3.5.1: the 印章's top within a line of 正文或附件说明)
        self._keep_with_next()
        self._blank(keep_next=True)
        self._blank(keep_next=True)
        date_right = 4 * CHAR_TW
        if doc.sign:
            shift = (_width(doc.date or "", autospace=True) - _width(doc.sign, autospace=True)) / 2 if doc.date else 0
            self._para(doc.sign, align="right", right_tw=max(0, round(date_right + shift * CHAR_TW)),
                       keep_next=True)
        if doc.date:
            self._para(doc.date, align="right", right_tw=date_right, keep_next=bool(doc.note))
        if doc.note:
            self._para(doc.note, first_line_chars=2)

    def _table(self, header, rows):
        """An annex table: 小四, single-spaced (not on the body's 22-line grid), columns sized to their content;
        rows never split across pages, the header row repeated on every page."""
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.oxml.ns import qn
        from docx.shared import Twips

        total = CHARS_PER_LINE * CHAR_TW
        # columns sized to their content: a short one (≤ 4 characters: 序号, 属性, 暂无数据) keeps it on one line, a
        # long one gets at least its header's width, and what is left of the text block goes to the columns whose content is
        # longer than that, in proportion to how much longer (指标, 工作任务 wrap onto fewer lines)
        char, pad = SMALL4_PT * 20, 220
        longest = [max([_width(h)] + [_width(r[i]) if i < len(r) else 0 for r in rows]) for i, h in enumerate(header)]
        floor = [x if x <= 4.5 else max(_width(h), 2.0) for x, h in zip(longest, header)]
        if sum(x * char + pad for x in longest) <= total:  # everything fits on one line: spread the rest evenly
            base = [int(x * char + pad) for x in longest]
            widths = [b + (total - sum(base)) // len(base) for b in base]
        else:
            base = [int(f * char + pad) for f in floor]
            spare = max(total - sum(base), 0)
            want = [x - f for x, f in zip(longest, floor)]
            widths = [b + (int(spare * w / sum(want)) if sum(want) else spare // len(base)) for b, w in zip(base, want)]
            if sum(widths) > total:  # even the headers do not fit: shrink all alike
                widths = [int(w * total / sum(widths)) for w in widths]
        short = [x <= 4 for x in longest]  # a short column (序号, 属性) is centred
        t = self.d.add_table(rows=1 + len(rows), cols=len(header))
        t.style = "Table Grid"
        t.autofit = False
        for r_i, values in enumerate([header] + rows):
            row = t.rows[r_i]
            trpr = row._tr.get_or_add_trPr()
            trpr.append(trpr.makeelement(qn("w:cantSplit"), {}))  # a row stays on one page
            if r_i == 0:
                trpr.append(trpr.makeelement(qn("w:tblHeader"), {}))  # repeat the header on every page
            cells = row.cells  # once per row: t.cell() rebuilds the table's grid on every call
            for c_i, value in enumerate(values[: len(header)]):
                cell = cells[c_i]
                cell.width = Twips(widths[c_i])
                p = cell.paragraphs[0]
                if r_i == 0 or short[c_i]:
                    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
                ppr = p._p.get_or_add_pPr()
                _child(ppr, "w:snapToGrid", **{"w:val": 0})
                _child(ppr, "w:spacing", **{"w:before": 0, "w:after": 0, "w:line": 320, "w:lineRule": "exact"})
                self._run(p, value, HEI_FONT if r_i == 0 else BODY_FONT, SMALL4_PT)
        for c_i, w in enumerate(widths):
            t.columns[c_i].width = Twips(w)
        self._blank()

    def _float_table(self, rows: int, *, width: int, x: int, y, anchor: str, borders: dict, bottom_from_text=0,
                     cell_bottom=0, row_height=None):
        """A one-column table floating on the page (``w:tblpPr``): ``x`` from the page's left edge, ``y`` from the
        top of ``anchor`` ("page" or "margin": the text block) in twips, or "bottom" to stand on its foot; ``borders``
        maps a side to (size in eighths of a point, colour[, style]), the others have none; no cell margins but
        ``cell_bottom`` under the content; ``bottom_from_text`` between its bottom and the text under it; rows
        ``row_height`` high (twips, exactly) if given."""
        from docx.shared import Twips

        t = self.d.add_table(rows=rows, cols=1)
        pr = t._tbl.tblPr
        for child in list(pr):
            pr.remove(child)
        place = {"w:leftFromText": 0, "w:rightFromText": 0, "w:topFromText": 0, "w:bottomFromText": bottom_from_text,
                 "w:vertAnchor": anchor, "w:horzAnchor": "page", "w:tblpX": x}
        place.update({"w:tblpYSpec": y} if isinstance(y, str) else {"w:tblpY": y})
        pr.append(_el("w:tblpPr", **place))
        pr.append(_el("w:tblOverlap", **{"w:val": "never"}))
        pr.append(_el("w:tblW", **{"w:w": width, "w:type": "dxa"}))
        pr.append(_el("w:jc", **{"w:val": "center"}))
        bdr = _el("w:tblBorders")
        for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
            spec = borders.get(side)
            bdr.append(_border(f"w:{side}", None) if spec is None else
                       _border(f"w:{side}", spec[0], spec[1], 0, *spec[2:]))
        pr.append(bdr)
        pr.append(_el("w:tblLayout", **{"w:type": "fixed"}))
        margins = _el("w:tblCellMar")
        for side in ("top", "left", "bottom", "right"):
            margins.append(_el(f"w:{side}", **{"w:w": cell_bottom if side == "bottom" else 0, "w:type": "dxa"}))
        pr.append(margins)
        pr.append(_el("w:tblLook", **{"w:val": "0000", "w:firstRow": 0, "w:lastRow": 0, "w:firstColumn": 0,
                                       "w:lastColumn": 0, "w:noHBand": 1, "w:noVBand": 1}))
        t.columns[0].width = Twips(width)
        cells = []
        for row in t.rows:
            trpr = row._tr.get_or_add_trPr()
            trpr.append(_el("w:cantSplit"))
            if row_height:
                trpr.append(_el("w:trHeight", **{"w:val": row_height, "w:hRule": "exact"}))
            cell = row.cells[0]
            cell.width = Twips(width)
            p = cell.paragraphs[0]
            p._p.getparent().remove(p._p)
            cells.append(cell)
        return t, cells

    def _letter_head(self):
        """信函格式's 版头 (GB/T 9704 10.1). The 发文机关标志 sits in a table floating on the page, its top edge 30 mm
        from the page's top edge (above the text block: no paragraph can start there), centred, red 小标宋; the
        table's bottom border is the red double line, 上粗下细, 4 mm under the characters, 170 mm long, centred on
        the text block. The text flows under the table: the 发文字号 first, 顶格居版心右边缘, its top the height of
        7/8 of a 3号 character under the line; the title two lines under it. The first page has no page number and
        a second double line, 上细下粗, 20 mm over the page's bottom edge (a table floating there)."""
        doc = self.doc
        text = doc.masthead
        size = min(36, int(440 / max(len(text), 1)))  # as wide as the text block at most
        rule_x = round((28 + 156 / 2 - LETTER_RULE_MM / 2) * MM_TW)
        rule_w = round(LETTER_RULE_MM * MM_TW)
        # the characters end MASTHEAD_DESCENT of their size over the line's bottom; the border is under the cell margin
        under = round((LETTER_RULE_GAP_MM * 72 / 25.4 - size * MASTHEAD_DESCENT) * 20)
        red_double = (LETTER_RULE_SZ, "FF0000", "thinThickSmallGap")  # a bottom border: the thick line inside
        _, (cell,) = self._float_table(1, width=rule_w, x=rule_x, y=round(LETTER_MASTHEAD_MM * MM_TW), anchor="page",
                                       borders={"bottom": red_double}, cell_bottom=under,
                                       bottom_from_text=round(LETTER_NUMBER_PT * 20))
        # a line exactly as high as the characters: their top is the line's top
        self._para(text, font=TITLE_FONT, size=size, align="center", color="FF0000", spacing=0, snap=False,
                   line=size * 20, container=cell)
        # the 发文字号's line is as high as its characters, so its top is the wrap distance under the table
        self._para(doc.number or "", align="right", line=BODY_PT * 20, snap=False)
        # the second double line, on the first page only (anchored to the paragraph after the 发文字号): the top
        # border of a table as high as the line's distance from the page's bottom edge, standing on that edge
        # (LibreOffice leaves a table placed by absolute coordinates in the page's lower left quarter in the text)
        (cell,) = self._float_table(1, width=rule_w, x=rule_x, y="bottom", anchor="page",
                                    borders={"top": (LETTER_RULE_SZ, "FF0000", "thickThinSmallGap")},
                                    row_height=round(LETTER_FOOT_RULE_MM * MM_TW))[1]
        self._para("", line=20, snap=False, container=cell)
        self._blank()
        self._blank()  # 标题: 与其上最后一个要素相距二行
        # no page number on the first page: a first-page footer of its own, empty
        sec = self.d.sections[0]
        sec.different_first_page_header_footer = True
        footer = sec.first_page_footer
        footer.is_linked_to_previous = False
        ppr = footer.paragraphs[0]._p.get_or_add_pPr()
        _child(ppr, "w:snapToGrid", **{"w:val": 0})
        _child(ppr, "w:spacing", **{"w:before": 0, "w:after": 0, "w:line": 20, "w:lineRule": "exact"})

    def _imprint(self):
        """版记 at the foot of the last page: a table floating at the bottom of the text block (``w:tblpPr``,
        ``tblpYSpec="bottom"``), as wide as it, 四号仿宋, a thick rule above 抄送, a thin one between 抄送 and
        印发机关, a thick one under 印发机关和印发日期 (the text block's bottom edge). The text flows around it;
        when the last page has no room for it, it moves to a page of its own. A letter's 版记 (信函格式) is the
        抄送 alone, without rules.

        Horizontally it is placed from the page's edge (28 mm): LibreOffice floats a table as wide as the text
        block only then (otherwise it leaves it in the text, under the 附注). Paragraph frames (``w:framePr``)
        do not work: LibreOffice neither puts them at the bottom nor draws their paragraphs' rules."""
        from docx.enum.text import WD_TAB_ALIGNMENT
        from docx.shared import Twips

        doc = self.doc
        letter = doc.layout == "letter"
        issued = doc.issued if not letter else None
        rows = ([("cc", f"抄送：{doc.cc}。")] if doc.cc else []) + ([("issued", issued)] if issued else [])
        # 0.35 mm thick rules, a 0.25 mm thin one
        rules = {} if letter else {"top": (8, "000000"), "bottom": (8, "000000"), "insideH": (6, "000000")}
        _, cells = self._float_table(len(rows), width=TEXT_W, x=round(28 * MM_TW), y="bottom", anchor="margin",
                                     borders=rules)
        for (kind, value), cell in zip(rows, cells):
            if kind == "cc":  # 左右各空一字; a wrapped line under the first 抄送机关
                self._para(value, size=FOOT_PT, left_tw=4 * FOOT_CHAR_TW, hanging_tw=3 * FOOT_CHAR_TW,
                           right_tw=FOOT_CHAR_TW, spacing=0, snap=False, container=cell)
            else:  # 印发机关 左空一字, 印发日期 右空一字
                p = self._para(value[0], size=FOOT_PT, left_tw=FOOT_CHAR_TW, right_tw=FOOT_CHAR_TW, spacing=0,
                               snap=False, container=cell)
                p.paragraph_format.tab_stops.add_tab_stop(Twips(TEXT_W - 2 * FOOT_CHAR_TW), WD_TAB_ALIGNMENT.RIGHT)
                self._run(p, f"\t{value[1]}印发", BODY_FONT, FOOT_PT, spacing=0)
        # the body ends with a paragraph (Word's rule); this one is a point high so that it never makes a page
        self._para("", line=20, snap=False)

    def _core(self):
        cp = self.d.core_properties
        cp.author = self.author
        cp.last_modified_by = self.author
        cp.title = self.doc.title
        cp.comments = ""
        cp.revision = 1
        cp.created = self.created
        cp.modified = self.created
        cp.language = "zh-CN"


def _width(text: str, *, autospace: bool = False) -> float:
    """Width in 三号 characters: CJK and full-width count 1, ASCII (digits) half; with ``autospace`` the fifth
    of a character Word and LibreOffice put between Chinese and digits or Latin letters (2019年6月26日)."""
    width = sum(0.5 if ord(c) < 0x2E80 else 1 for c in text)
    if autospace:
        latin = [c.isascii() and c.isalnum() for c in text]
        width += 0.2 * sum(1 for a, b in zip(latin, latin[1:]) if a != b)
    return width


class _FixedZip:
    """python-docx's zip writer with fixed timestamps (so the same notice is the same bytes) and fast deflate."""

    def __init__(self, f):
        self._z = zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, compresslevel=1)

    def write(self, pack_uri, blob):
        zi = zipfile.ZipInfo(pack_uri.membername, date_time=(1980, 1, 1, 0, 0, 0))
        zi.compress_type = zipfile.ZIP_DEFLATED
        zi.external_attr = 0o644 << 16
        self._z.writestr(zi, blob, compresslevel=1)

    def close(self):
        self._z.close()


def _save_deterministic(d) -> bytes:
    """What ``Document.save`` does (python-docx 1.x ``OpcPackage.save`` → ``PackageWriter.write``), writing once
    through :class:`_FixedZip` instead of saving and re-zipping."""
    from docx.opc.pkgwriter import PackageWriter

    pkg = d.part.package
    for part in pkg.parts:
        part.before_marshal()
    buf = io.BytesIO()
    w = _FixedZip(buf)
    PackageWriter._write_content_types_stream(w, pkg.parts)
    PackageWriter._write_pkg_rels(w, pkg.rels)
    PackageWriter._write_parts(w, pkg.parts)
    w.close()
    return buf.getvalue()


def to_docx(doc: Doc, *, author: str, created: dt.datetime) -> bytes:
    return _Writer(doc, author=author, created=created).write()
