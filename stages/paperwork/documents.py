"""Official documents (公文) as bytes: a small markup → GB/T 9704-2012 Word files and Markdown previews.

The door to the document's modules, which callers use as ``documents.parse``, ``documents.to_docx``, …:

- ``stages.paperwork.markup``       the markup the notice templates produce, ``escape``, ``parse`` → :class:`Doc`,
                                    and the Markdown preview (``to_markdown``);
- ``stages.paperwork.titles``       the title's line breaking (``break_title``: a 梯形 or 菱形 at whole words);
- ``stages.paperwork.page``         the page's numbers: fonts, sizes, the text block's grid, the 版头's geometry;
- ``stages.paperwork.ooxml``        the WordprocessingML primitives and the deterministic save;
- ``stages.paperwork.docx_writer``  the ``.docx`` writer (``to_docx``).

Pure: text in, bytes out, no clock, no files. The PDF of a .docx is ``stages.paperwork.pdf``.
Does not own: which notice says what (``templates/notices``), numbering or filing (``stages.paperwork.notices``).
``stages.paperwork.notices`` calls ``documents.to_docx`` through this module, so that a test may replace it here.
"""

from __future__ import annotations

from stages.paperwork.docx_writer import to_docx
from stages.paperwork.markup import BLOCK, LAYOUTS, Doc, escape, parse, to_markdown
from stages.paperwork.page import (BODY_FONT, BODY_PT, CHAR_TW, CHARS_PER_LINE, DESCENT, FONT_TABLE, FOOT_CHAR_TW,
                                   FOOT_DASH_MM, FOOT_PT, HEI_FONT, KAI_FONT, LETTER_FOOT_RULE_MM, LETTER_MASTHEAD_MM,
                                   LETTER_NUMBER_PT, LETTER_RULE_GAP_MM, LETTER_RULE_MM, LETTER_RULE_SZ, LINE_PITCH,
                                   MASTHEAD_DESCENT, MASTHEAD_MM, MM_TW, PAGE_NO_MM, RULE_MM, SMALL4_PT, SONG_FONT,
                                   TEXT_W, TITLE_FONT, TITLE_PT, _width)
from stages.paperwork.titles import TITLE_CHARS, TITLE_WORDS, break_title, place_words, title_width

__all__ = [
    "to_docx", "BLOCK", "LAYOUTS", "Doc", "escape", "parse", "to_markdown",
    "BODY_FONT", "BODY_PT", "CHAR_TW", "CHARS_PER_LINE", "DESCENT", "FONT_TABLE", "FOOT_CHAR_TW", "FOOT_DASH_MM",
    "FOOT_PT", "HEI_FONT", "KAI_FONT", "LETTER_FOOT_RULE_MM", "LETTER_MASTHEAD_MM", "LETTER_NUMBER_PT",
    "LETTER_RULE_GAP_MM", "LETTER_RULE_MM", "LETTER_RULE_SZ", "LINE_PITCH", "MASTHEAD_DESCENT", "MASTHEAD_MM", "MM_TW",
    "PAGE_NO_MM", "RULE_MM", "SMALL4_PT", "SONG_FONT", "TEXT_W", "TITLE_FONT", "TITLE_PT", "_width",
    "TITLE_CHARS", "TITLE_WORDS", "break_title", "place_words", "title_width",
]
