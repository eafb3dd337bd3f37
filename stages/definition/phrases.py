"""Deadline phrases as the seed writes them, turned into concrete dates by stated rules.

Owns: parsing "2019年6月上旬", "9月底前", "2019年三季度", "2020年一季度至二季度", "年底前", "2021年初",
ISO dates, and offsets such as "开题 + 10 个工作日". Does not own: resolving an offset's reference (the loader
knows the milestones) or working-day arithmetic (``stages.definition.calendar``).

The rules (each phrase becomes a period; the deadline is the period's last day, its start the period's first):

=====================  ===========================================================================
上旬 / 中旬 / 下旬        by the 10th / by the 20th / by the month's last day
M月底, M月末              the month's last day; "前" (before) adds nothing: 9月底前 = 09-30
M月D日                    that day
X季度 (末, 底, 前)        the quarter's last day. "二季度前" is read as "by the end of Q2" because seed 000's
                          own 主要工作节点 table places "二季度前形成《纲要》初稿" in the 2020Q2 column
二、三季度 / 一季度至二季度  a span: starts with the first quarter, due at the last one's end
上半年 / 下半年            06-30 / 12-31
年底, 年末                12-31
年初                      01-31 (the district 人代会 meets in January)
YYYY年                    the whole year: due 12-31
=====================  ===========================================================================

A phrase without a year takes the year of its context (the stage window it sits in); with neither, it is an
error. Offsets count working days on China's official calendar ("个工作日") or calendar days ("天"/"日").
"""

from __future__ import annotations

import calendar as _cal
import datetime as dt
import re
from dataclasses import dataclass

from stages.ground.errors import DeadlinePhraseError

CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
             "十一": 11, "十二": 12}


@dataclass(frozen=True)
class Period:
    """A concrete period: a deadline is its ``end`` (optionally at ``time``), its earliest start ``start``."""

    start: dt.date
    end: dt.date
    time: dt.time | None = None


@dataclass(frozen=True)
class Offset:
    """``ref ± n`` working days (``workdays=True``) or calendar days, counted from ref's deadline."""

    ref: str
    n: int
    workdays: bool


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, _cal.monthrange(year, month)[1])


def _quarter(year: int, q: int) -> Period:
    if not 1 <= q <= 4:
        raise ValueError(q)
    first = 3 * (q - 1) + 1
    return Period(dt.date(year, first, 1), _month_end(year, first + 2))


def _num(text: str) -> int:
    text = text.strip()
    if text.isdigit():
        return int(text)
    if text in CN_DIGITS:
        return CN_DIGITS[text]
    raise ValueError(text)


_OFFSET = re.compile(r"^\s*(?P<ref>.+?)\s*(?P<sign>[+\-−])\s*(?P<n>\d+)\s*(?P<unit>个工作日|工作日|天|日|个自然日|自然日)\s*$")
_YEAR = re.compile(r"^(?P<y>\d{4})\s*年")
_Q = r"[一二三四1-4]"


def parse_offset(text: str) -> Offset | None:
    """``开题 + 10 个工作日`` → Offset('开题', 10, workdays=True); None if the text is no offset."""
    m = _OFFSET.match(str(text))
    if not m:
        return None
    n = int(m["n"]) * (-1 if m["sign"] in "-−" else 1)
    return Offset(ref=m["ref"].strip(), n=n, workdays="工作日" in m["unit"])


def parse_period(text, default_year: int | None = None) -> Period:
    """Parse an absolute phrase (or an ISO date / datetime) into a :class:`Period`."""
    if isinstance(text, dt.datetime):
        return Period(text.date(), text.date(), text.time())
    if isinstance(text, dt.date):
        return Period(text, text)
    raw = str(text).strip()
    if not raw:
        raise DeadlinePhraseError("definition.empty_phrase")
    # ISO forms first: 2019-06-14, 2019-06-28 17:00
    iso = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:[ T](\d{1,2}:\d{2}))?", raw)
    if iso:
        try:
            day = dt.date.fromisoformat(iso[1])
            time = dt.time.fromisoformat(iso[2].zfill(5)) if iso[2] else None
        except ValueError:
            raise DeadlinePhraseError("definition.not_a_real_date", phrase=raw) from None
        return Period(day, day, time)

    s = raw.replace(" ", "").replace("年度", "年")
    s = re.sub(r"(以前|之前|前|为止)$", "", s)  # "9月底前" = "9月底": by the end of September
    year = default_year
    m = _YEAR.match(s)
    if m:
        year = int(m["y"])
        s = s[m.end():]
    if year is None:
        raise DeadlinePhraseError("definition.phrase_no_year", phrase=raw)
    try:
        return _parse_rest(s, year, raw)
    except ValueError:
        raise DeadlinePhraseError("definition.unknown_phrase", phrase=raw) from None


def _parse_rest(s: str, year: int, raw: str) -> Period:
    if s in ("", "全年", "内"):
        return Period(dt.date(year, 1, 1), dt.date(year, 12, 31))
    if s in ("底", "末", "年底", "年末"):
        return Period(dt.date(year, 1, 1), dt.date(year, 12, 31))
    if s in ("初", "年初"):
        return Period(dt.date(year, 1, 1), dt.date(year, 1, 31))
    if s == "上半年":
        return Period(dt.date(year, 1, 1), dt.date(year, 6, 30))
    if s == "下半年":
        return Period(dt.date(year, 7, 1), dt.date(year, 12, 31))
    # quarters: 三季度, 二季度末, 二、三季度, 一季度至二季度, 第三季度
    m = re.fullmatch(rf"第?(?P<a>{_Q})(?:季度)?(?:(?:、|和|至|到|-|—|~)第?(?P<b>{_Q}))?季度(?:末|底|内)?", s)
    if m:
        a = _quarter(year, _num(m["a"]))
        b = _quarter(year, _num(m["b"])) if m["b"] else a
        if b.end < a.end:
            raise ValueError(raw)
        return Period(a.start, b.end)
    # months: 6月上旬, 7月中旬, 9月底, 10月末, 6月, 6月28日, 六月
    m = re.fullmatch(r"(?P<m>\d{1,2}|十[一二]?|[一二三四五六七八九])月(?P<rest>.*)", s)
    if m:
        month = _num(m["m"])
        if not 1 <= month <= 12:
            raise ValueError(raw)
        first = dt.date(year, month, 1)
        rest = m["rest"]
        if rest in ("", "底", "末", "份", "内"):
            return Period(first, _month_end(year, month))
        if rest == "上旬":
            return Period(first, dt.date(year, month, 10))
        if rest == "中旬":
            return Period(dt.date(year, month, 11), dt.date(year, month, 20))
        if rest == "下旬":
            return Period(dt.date(year, month, 21), _month_end(year, month))
        d = re.fullmatch(r"(\d{1,2})[日号](?:(\d{1,2})[:：](\d{2}))?", rest)
        if d:
            day = dt.date(year, month, int(d[1]))
            time = dt.time(int(d[2]), int(d[3])) if d[2] else None
            return Period(day, day, time)
    raise ValueError(raw)
