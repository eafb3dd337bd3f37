"""A :class:`~stages.paperwork.markup.Doc` as a GB/T 9704-2012 Word file (``to_docx``).

Owns: the ``.docx`` writer — page, margins, fonts in all four ``rFonts`` slots and the font table, sizes, document
grid, heading levels, 版头, 主送, 附件说明, 署名, 成文日期, 附注, 附件, 版记, odd/even page numbers, and the
信函格式 (``@layout letter``). Pure: a ``Doc`` in, bytes out, no clock, no files. The numbers of the page are
``stages.paperwork.page``, the XML primitives ``stages.paperwork.ooxml``, the title's lines
``stages.paperwork.titles``; the PDF of a .docx is ``stages.paperwork.pdf``.

The page (GB/T 9704): text block 156×225 mm (top 37, left 28), 22 lines of 28 characters, 3号仿宋; the 发文机关标志
35 mm under the block's top, the 发文字号 two lines under it, the red rule 4 mm under that and as wide as the block,
the title two lines under the rule, broken at whole words into a 梯形 or 菱形 (``break_title``), single-spaced;
the 落款 of a sealed document (成文日期 右空四字, 署名 centred over it, two lines of room for the 印章), the 附注
on the line under the date, the 版记 floating at the foot of the last page, page numbers 7 mm under the block.
The 落款 never opens a page: the one paragraph before it (the body's last, or the 附件说明's last entry) stays on
its page, and nothing before that one is tied to it (LibreOffice moves a kept paragraph whole, Word its last
lines); the 附件说明 follows the body's last paragraph and its blank line, its entries free to run onto the next
page.

Output is deterministic: fixed core properties and zip timestamps, so the same notice renders to the same bytes.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re

from stages.paperwork.markup import Doc
from stages.paperwork.ooxml import (_STYLE_ORDER, _border, _child, _el, _font_table_xml, _rpr, _save_deterministic,
                                    _schema_order, _set_fonts)
from stages.paperwork.page import (BODY_FONT, BODY_PT, CHAR_TW, CHARS_PER_LINE, DESCENT, FOOT_CHAR_TW, FOOT_DASH_MM,
                                   FOOT_PT, HEI_FONT, KAI_FONT, LETTER_FOOT_RULE_MM, LETTER_MASTHEAD_MM,
                                   LETTER_NUMBER_PT, LETTER_RULE_GAP_MM, LETTER_RULE_MM, LETTER_RULE_SZ, LINE_PITCH,
                                   MASTHEAD_DESCENT, MASTHEAD_MM, MM_TW, PAGE_NO_MM, RULE_MM, SMALL4_PT, SONG_FONT,
                                   TEXT_W, TITLE_FONT, TITLE_PT, _width)
from stages.paperwork.titles import break_title, place_words

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


def to_docx(doc: Doc, *, author: str, created: dt.datetime) -> bytes:
    return _Writer(doc, author=author, created=created).write()
