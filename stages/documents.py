"""Official documents (公文) as bytes: a small markup → GB/T 9704-2012 Word files and Markdown previews.

Owns: the markup the notice templates produce, its parser, the ``.docx`` writer (page, margins, fonts in all
four ``rFonts`` slots, sizes, document grid, heading levels, 版头, 主送, 附件说明, 署名, 成文日期, 附注, 附件,
版记, odd/even page numbers) and the Markdown preview. Pure: text in, bytes out, no clock, no files.
Does not own: which notice says what (``templates/notices``), numbering or filing (``stages.notices``).

The markup, one block per line (a line without ``@`` is a body paragraph)::

    @masthead 上海市长宁区发展和改革委员会文件      @number 长发改〔2019〕25号      @signer 签发人：张某某
    @title 关于……的通知                            @to 各有关单位：
    @h1 一、……   @h2 （一）……   @h3 1.……             @attachments 1.……（one per attachment）
    @sign 上海市长宁区发展和改革委员会               @date 2019年6月14日            @note （联系人：……）
    @annex 1|课题清单                               @table 序号|课题名称|……        @row 1|……
    @cc 区发展规划工作领导小组成员单位              @issued 上海市长宁区发展和改革委员会办公室|2019年6月14日

Template values are escaped (see ``escape``) so that no user text can start a block or split a table cell.
Output is deterministic: fixed core properties and zip timestamps, so the same notice renders to the same bytes.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
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

BLOCK = re.compile(r"^@(masthead|number|signer|title|to|h1|h2|h3|attachments|sign|date|note|annex|table|row|cc|issued)"
                   r"(?:\s(.*))?$")


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
    signer: str | None = None
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
        elif kind == "issued":
            org, date = (_cells(rest) + [""])[:2]
            doc.issued = (org, date)
        else:
            setattr(doc, kind, value)
    if not doc.title:
        raise ValueError("a notice needs a @title")
    return doc


# -- Markdown preview ------------------------------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#+!|])")


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def to_markdown(doc: Doc) -> str:
    out: list[str] = []
    if doc.masthead:
        out.append(f"**{_md(doc.masthead)}**\n")
    if doc.number:
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
    if doc.cc or doc.issued:
        out.append("---\n")
        if doc.cc:
            out.append(f"抄送：{_md(doc.cc)}。\n")
        if doc.issued:
            out.append(f"{_md(doc.issued[0])}　　{_md(doc.issued[1])}印发\n")
    return "\n".join(out).rstrip() + "\n"


# -- .docx ---------------------------------------------------------------------------------------------------------------
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


@functools.lru_cache(maxsize=1)
def _base_document() -> bytes:
    """The styled empty document (page, grid, fonts in every style, footers), built once per process."""
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
        sec.header_distance, sec.footer_distance = Mm(15), Mm(28)  # the page number sits 7 mm under the text block
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
        lang.set(qn("w:val"), "zh-CN")
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
        d.settings.odd_and_even_pages_header_footer = True
        self._footers(sec)

    def _footers(self, sec):
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        for footer, align, side in ((sec.footer, WD_ALIGN_PARAGRAPH.RIGHT, "right"),
                                    (sec.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT, "left")):
            footer.is_linked_to_previous = False
            p = footer.paragraphs[0]
            p.alignment = align
            pf = p.paragraph_format
            ppr = p._p.get_or_add_pPr()
            _child(ppr, "w:ind", **{f"w:{side}": 280})  # 一字 of 四号
            self._run(p, "— ", SONG_FONT, FOOT_PT)
            self._field(p, "PAGE", SONG_FONT, FOOT_PT)
            self._run(p, " —", SONG_FONT, FOOT_PT)
            pf.space_before = pf.space_after = 0

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

    def _para(self, text="", *, font=BODY_FONT, size=BODY_PT, align=None, first_line_chars=0, left_tw=0, right_tw=0,
              color=None, exact=True, border=None, keep_next=False, spacing=-5, page_break_before=False):
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.oxml.ns import qn

        p = self.d.add_paragraph()
        if align:
            p.alignment = {"center": WD_ALIGN_PARAGRAPH.CENTER, "right": WD_ALIGN_PARAGRAPH.RIGHT,
                           "left": WD_ALIGN_PARAGRAPH.LEFT, "justify": WD_ALIGN_PARAGRAPH.JUSTIFY}[align]
        ppr = p._p.get_or_add_pPr()
        if page_break_before:
            _child(ppr, "w:pageBreakBefore")
        if keep_next:
            _child(ppr, "w:keepNext")
        if border:
            bdr = _child(ppr, "w:pBdr")
            for side, (sz, colour) in border.items():
                el = bdr.makeelement(qn(f"w:{side}"), {})
                el.set(qn("w:val"), "single")
                el.set(qn("w:sz"), str(sz))
                el.set(qn("w:space"), "1")
                el.set(qn("w:color"), colour)
                bdr.append(el)
        sp = _child(ppr, "w:spacing", **{"w:before": 0, "w:after": 0})
        if exact:
            sp.set(qn("w:line"), str(LINE_PITCH))
            sp.set(qn("w:lineRule"), "exact")
        ind = {}
        if first_line_chars:
            ind["w:firstLineChars"] = first_line_chars * 100
            ind["w:firstLine"] = first_line_chars * CHAR_TW
        if left_tw:
            ind["w:left"] = left_tw
        if right_tw:
            ind["w:right"] = right_tw
        if ind:
            _child(ppr, "w:ind", **ind)
        if text:
            self._run(p, text, font, size, color=color, spacing=spacing)
        return p

    def _blank(self):
        return self._para("")

    # parts, in GB/T 9704 order ------------------------------------------------------------------------------------
    def write(self) -> bytes:
        doc = self.doc
        if doc.masthead:
            size = min(36, int(440 / max(len(doc.masthead), 1)))
            self._para(doc.masthead, font=TITLE_FONT, size=size, align="center", color="FF0000", exact=False,
                       spacing=0)
            self._blank()
        if doc.number:
            red_line = {"bottom": (12, "FF0000")}
            if doc.signer:  # 请示: 发文字号 左空一字, 签发人 右空一字, on one line
                from docx.enum.text import WD_TAB_ALIGNMENT
                from docx.shared import Twips

                p = self._para(doc.number, left_tw=CHAR_TW, right_tw=CHAR_TW, border=red_line)
                p.paragraph_format.tab_stops.add_tab_stop(Twips(CHARS_PER_LINE * CHAR_TW - 2 * CHAR_TW),
                                                          WD_TAB_ALIGNMENT.RIGHT)
                self._run(p, "\t" + doc.signer, BODY_FONT, BODY_PT, spacing=-5)
            else:
                self._para(doc.number, align="center", border=red_line)
            self._blank()
        self._para(doc.title, font=TITLE_FONT, size=TITLE_PT, align="center", exact=False, spacing=0)
        self._blank()
        if doc.to:
            self._para(doc.to)
        for kind, text in doc.body:
            font = {"p": BODY_FONT, "h1": HEI_FONT, "h2": KAI_FONT, "h3": BODY_FONT}[kind]
            self._para(text, font=font, first_line_chars=2, align="justify", keep_next=kind != "p")
        if doc.attachments:
            self._blank()
            for i, a in enumerate(doc.attachments):
                if i == 0:
                    self._para("附件：" + a, first_line_chars=2)
                else:  # aligned under the first attachment's number
                    self._para(a, left_tw=5 * CHAR_TW)
        if doc.sign or doc.date:
            self._blank()
            sign_len = _width(doc.sign or "")
            if doc.sign:
                self._para(doc.sign, align="right", right_tw=2 * CHAR_TW, keep_next=True)
            if doc.date:
                # 首字比署名首字右移二字: start two characters to the right of the signature's first character
                start = CHARS_PER_LINE - 2 - sign_len + 2 if doc.sign else CHARS_PER_LINE - 4 - _width(doc.date)
                self._para(doc.date, left_tw=max(0, int(start * CHAR_TW)))
        if doc.note:
            self._blank()
            self._para(doc.note, first_line_chars=2)
        for a in doc.annexes:
            self._para(f"附件{a['no']}", font=HEI_FONT, page_break_before=True)
            self._blank()
            self._para(a["title"], font=TITLE_FONT, size=TITLE_PT, align="center", exact=False, spacing=0)
            self._blank()
            for text in a["paras"]:
                self._para(text, first_line_chars=2, align="justify")
            if a["header"]:
                self._table(a["header"], a["rows"])
        if doc.cc or doc.issued:
            self._imprint()
        self._core()
        return _save_deterministic(self.d)

    def _table(self, header, rows):
        """An annex table: 小四, single-spaced (not on the body's 22-line grid), columns sized to their content."""
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.oxml.ns import qn
        from docx.shared import Pt, Twips

        total = CHARS_PER_LINE * CHAR_TW
        # every column fits up to 8 characters on one line (序号, 牵头单位 stay readable); what is left of the
        # text block goes to the long columns in proportion to how much longer they are
        char = SMALL4_PT * 20
        longest = [max([_width(h)] + [_width(r[i]) if i < len(r) else 0 for r in rows]) for i, h in enumerate(header)]
        need = [int(min(x, 8) * char + 220) for x in longest]
        extra = [max(x - 8, 0) for x in longest]
        spare = max(total - sum(need), 0)
        widths = [n + (int(spare * e / sum(extra)) if sum(extra) else spare // len(need)) for n, e in zip(need, extra)]
        t = self.d.add_table(rows=1 + len(rows), cols=len(header))
        t.style = "Table Grid"
        t.autofit = False
        for r_i, values in enumerate([header] + rows):
            row = t.rows[r_i]
            if r_i == 0:
                trpr = row._tr.get_or_add_trPr()
                trpr.append(trpr.makeelement(qn("w:tblHeader"), {}))  # repeat the header on every page
            for c_i, value in enumerate(values[: len(header)]):
                cell = t.cell(r_i, c_i)
                cell.width = Twips(widths[c_i])
                p = cell.paragraphs[0]
                if r_i == 0 or c_i == 0:
                    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
                ppr = p._p.get_or_add_pPr()
                _child(ppr, "w:snapToGrid", **{"w:val": 0})
                _child(ppr, "w:spacing", **{"w:before": 0, "w:after": 0, "w:line": 320, "w:lineRule": "exact"})
                self._run(p, value, HEI_FONT if r_i == 0 else BODY_FONT, SMALL4_PT)
        for c_i, w in enumerate(widths):
            t.columns[c_i].width = Twips(w)
        self._blank()

    def _imprint(self):
        """版记: 四号仿宋 between a thick rule, a thin one under 抄送, and a thick one under 印发机关 and 印发日期.

        It follows the body, kept together, rather than sitting at the foot of the last even page as GB/T 9704
        places it: a frame anchored to the bottom margin lost its rules in LibreOffice (seen in a PDF preview).
        """
        from docx.enum.text import WD_TAB_ALIGNMENT
        from docx.shared import Twips

        doc = self.doc
        width = CHARS_PER_LINE * CHAR_TW
        self._blank()
        if doc.cc:
            self._para(f"抄送：{doc.cc}。", size=FOOT_PT, left_tw=280, right_tw=280, keep_next=True,
                       border={"top": (8, "000000"), "bottom": (4, "000000")}, spacing=0)
        if doc.issued:
            p = self._para(doc.issued[0], size=FOOT_PT, left_tw=280, right_tw=280, spacing=0,
                           border={"bottom": (8, "000000")} | ({} if doc.cc else {"top": (8, "000000")}))
            p.paragraph_format.tab_stops.add_tab_stop(Twips(width - 560), WD_TAB_ALIGNMENT.RIGHT)
            self._run(p, f"\t{doc.issued[1]}印发", BODY_FONT, FOOT_PT)

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


def _width(text: str) -> float:
    """Width in 三号 characters: CJK and full-width count 1, ASCII (digits) half."""
    return sum(0.5 if ord(c) < 0x2E80 else 1 for c in text)


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
