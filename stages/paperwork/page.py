"""The page of a 公文 (GB/T 9704-2012), as numbers: fonts, sizes, the text block's grid, the 版头's and the
信函格式's geometry, and a line's width in characters.

The page: text block 156×225 mm (top 37, left 28), 22 lines of 28 characters, 3号仿宋; the 发文机关标志
35 mm under the block's top, the 发文字号 two lines under it, the red rule 4 mm under that and as wide as the block,
the title two lines under the rule; page numbers 7 mm under the block. Read by the ``.docx`` writer
(``stages.paperwork.docx_writer``) and by the layout tests that measure its PDF.
"""

from __future__ import annotations

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


def _width(text: str, *, autospace: bool = False) -> float:
    """Width in 三号 characters: CJK and full-width count 1, ASCII (digits) half; with ``autospace`` the fifth
    of a character Word and LibreOffice put between Chinese and digits or Latin letters (2019年6月26日)."""
    width = sum(0.5 if ord(c) < 0x2E80 else 1 for c in text)
    if autospace:
        latin = [c.isascii() and c.isalnum() for c in text]
        width += 0.2 * sum(1 for a, b in zip(latin, latin[1:]) if a != b)
    return width
