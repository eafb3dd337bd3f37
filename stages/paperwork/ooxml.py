"""WordprocessingML primitives the ``.docx`` writer builds with: elements, borders, fonts in all four ``rFonts``
slots, children in the schema's order, the font table, and a deterministic save (fixed zip timestamps, so the
same notice is the same bytes).
"""

from __future__ import annotations

import io
import zipfile

from stages.paperwork.page import FONT_TABLE



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
