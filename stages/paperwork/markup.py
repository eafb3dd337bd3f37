"""The markup the notice templates produce: one block a line, parsed into a :class:`Doc`; its Markdown preview.

Owns: the blocks and their parser (``parse``), the escaping of template values (``escape``), the :class:`Doc` a
document is written from, and ``to_markdown``. Pure: text in, text out. Does not own: the page (the ``.docx``
writer, ``stages.paperwork.docx_writer``), the title's lines (``stages.paperwork.titles``).

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
in the 文件格式 (its page: ``stages.paperwork.docx_writer``).

Template values are escaped (see ``escape``) so that no user text can start a block or split a table cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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

