"""A 公文 title's lines: broken at whole words into a 梯形 or 菱形 (GB/T 9704: 标题 … 排列应当使用梯形或菱形).

Owns: ``break_title``, the vocabulary a title line never splits (``TITLE_WORDS``, an organ's place names:
``place_words``) and a title's width in characters (``title_width``). Pure: text in, lines out.
"""

from __future__ import annotations

import math
import re

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

