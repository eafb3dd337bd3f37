"""China's official working-day calendar: holidays and 调休 make-up working days.

Owns: whether a date is a working day, working-day arithmetic (``add_workdays`` and friends) and which years
are known. Does not own: deadline phrases (``stages.definition.phrases``) or the wall clock (``stages.ground.clock``).

The data comes from ``chinesecalendar`` (2004–2026 in 1.11) plus the years listed in a calendar extension file
(``config/calendar.yaml``), each taken from the 国务院办公厅 notice that publishes that year's arrangement.
A date in a year that neither source knows raises :class:`CalendarError`: a guessed holiday would move every
deadline computed from it, silently.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from stages.ground.errors import CalendarError, ConfigError
from stages.ground.i18n import Msg

ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class YearArrangement:
    """One year's official arrangement: the days off on weekdays and the weekend days worked."""

    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    source: str


@dataclass
class WorkCalendar:
    years: dict[int, YearArrangement] = field(default_factory=dict)
    extension: str | None = None  # the extension file the cycle names (where a missing year goes)

    # -- construction -------------------------------------------------------------------------------------------
    @classmethod
    def default(cls, extension: str | Path | None = None) -> "WorkCalendar":
        """chinesecalendar's years, then the extension file's years on top (an extension wins for its year)."""
        import chinese_calendar as cc

        by_year: dict[int, tuple[set, set]] = {}
        for day in cc.holidays:
            by_year.setdefault(day.year, (set(), set()))[0].add(day)
        for day in cc.workdays:
            by_year.setdefault(day.year, (set(), set()))[1].add(day)
        first = min(by_year)
        last = max(by_year)
        cal = cls()
        for year in range(first, last + 1):
            hol, work = by_year.get(year, (set(), set()))
            cal.years[year] = YearArrangement(year, frozenset(hol), frozenset(work), "chinesecalendar")
        if extension is not None:
            for arrangement in load_extension(extension):
                cal.years[arrangement.year] = arrangement
            cal.extension = os.path.normpath(str(extension))
        return cal

    # -- queries ------------------------------------------------------------------------------------------------
    def known_years(self) -> tuple[int, int]:
        return min(self.years), max(self.years)

    def _year(self, day: dt.date) -> YearArrangement:
        try:
            return self.years[day.year]
        except KeyError:
            lo, hi = self.known_years()
            raise CalendarError("definition.outside_calendar", day=day.isoformat(), first=lo, last=hi, year=day.year,
                                where=self.extension or Msg("definition.calendar_extension")) from None

    def is_workday(self, day: dt.date) -> bool:
        year = self._year(day)
        if day in year.workdays:
            return True
        if day in year.holidays:
            return False
        return day.weekday() < 5

    def is_holiday(self, day: dt.date) -> bool:
        return not self.is_workday(day)

    def next_workday(self, day: dt.date, *, include_self: bool = False) -> dt.date:
        """The first working day after ``day`` (or ``day`` itself when it is one and ``include_self``)."""
        if not include_self:
            day += ONE_DAY
        while not self.is_workday(day):
            day += ONE_DAY
        return day

    def previous_workday(self, day: dt.date, *, include_self: bool = False) -> dt.date:
        if not include_self:
            day -= ONE_DAY
        while not self.is_workday(day):
            day -= ONE_DAY
        return day

    def add_workdays(self, day: dt.date, n: int) -> dt.date:
        """``day`` + ``n`` working days. The start day does not count; n may be negative; n=0 is ``day``.

        2026-05-08 (Fri) + 5 = 2026-05-14: Sat 05-09 is a 调休 working day, so it counts.
        """
        step = ONE_DAY if n >= 0 else -ONE_DAY
        remaining = abs(n)
        while remaining:
            day += step
            if self.is_workday(day):
                remaining -= 1
        return day

    def workdays_between(self, start: dt.date, end: dt.date) -> int:
        """How many working days ``end`` lies after ``start``: the inverse of ``add_workdays``.

        Forwards it counts the working days in (start, end]; backwards, minus those in [end, start), so that
        ``workdays_between(d, add_workdays(d, n)) == n`` for every n.
        """
        if end >= start:
            lo, hi, sign = start + ONE_DAY, end, 1
        else:
            lo, hi, sign = end, start - ONE_DAY, -1
        count = 0
        day = lo
        while day <= hi:
            if self.is_workday(day):
                count += 1
            day += ONE_DAY
        return sign * count


    def workdays_ahead(self, start: dt.date, end: dt.date) -> int:
        """As :meth:`workdays_between`, for a look ahead only (how soon a deadline comes: the yellow light, the
        advance reminder): a day of a year the calendar does not know yet counts as a working day from Monday to
        Friday, except the holidays whose dates the law fixes (元旦, 劳动节, 国庆节's first three days): the
        statutory rule before a year's 国务院办公厅 notice moves holidays and make-up days. In late
        December that keeps the sweep and the board working while next year's notice is awaited; anything that
        fixes a deadline or counts lateness still refuses an unknown year (:meth:`workdays_between`)."""
        if end <= start:
            return self.workdays_between(start, end)
        count, day = 0, start + ONE_DAY
        while day <= end:
            if (self.is_workday(day) if day.year in self.years
                    else day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS):
                count += 1
            day += ONE_DAY
        return count


# the public holidays whose dates the 全国年节及纪念日放假办法 fixes (the lunar ones move: 春节, 清明, 端午, 中秋)
FIXED_HOLIDAYS = frozenset({(1, 1), (5, 1), (10, 1), (10, 2), (10, 3)})
_FOR_SPEC: dict[str, WorkCalendar] = {}


def calendar_for(spec) -> WorkCalendar:
    """A cycle spec's calendar (chinesecalendar + the extension file it names), built once per process."""
    ext = None
    if spec.file.calendar:
        ext = str(Path(spec.path).parent / spec.file.calendar)
    key = ext or ""
    if key not in _FOR_SPEC:
        _FOR_SPEC[key] = WorkCalendar.default(ext)
    return _FOR_SPEC[key]


def _dates(value, where: str, file: str) -> set[dt.date]:
    """Dates from a list of ISO dates or ``YYYY-MM-DD..YYYY-MM-DD`` ranges (both ends included)."""
    out: set[dt.date] = set()
    if value is None:
        return out
    if not isinstance(value, list):
        raise ConfigError("definition.not_a_date_list", file=file, path=where,
                          expected="[YYYY-MM-DD, YYYY-MM-DD..YYYY-MM-DD]")
    for i, entry in enumerate(value):
        text = str(entry).strip()
        try:
            if ".." in text:
                a, b = (dt.date.fromisoformat(p.strip()) for p in text.split("..", 1))
                if b < a:
                    raise ValueError
                while a <= b:
                    out.add(a)
                    a += ONE_DAY
            else:
                out.add(dt.date.fromisoformat(text))
        except ValueError:
            raise ConfigError("definition.not_a_date_or_range", text=text, file=file, path=f"{where}[{i}]",
                              expected=Msg("definition.date_or_range")) from None
    return out


def load_extension(path: str | Path) -> list[YearArrangement]:
    """Read ``config/calendar.yaml``: ``years: {2027: {notice, holidays, workdays}}``.

    ``holidays`` lists every day off (weekends inside a holiday block may be listed or not: a weekend is off
    anyway); ``workdays`` lists the weekend days that are worked (调休). ``notice`` is the 国务院办公厅 notice
    number the dates were copied from, so a reviewer can check them.
    """
    from stages.definition.yamlio import load_yaml

    doc = load_yaml(path)
    file = str(path)
    data = doc.data or {}
    if not isinstance(data, dict):
        raise ConfigError("definition.calendar_not_mapping", file=file, line=1)
    years = data.get("years") or {}
    if not isinstance(years, dict):
        raise ConfigError("definition.years_not_mapping", file=file, line=doc.line("years"), path="years")
    out = []
    for year, body in years.items():
        where = f"years.{year}"
        if not isinstance(year, int) or not 1900 < year < 2200:
            raise ConfigError("definition.not_a_year", year=year, file=file, line=doc.line("years", year), path=where)
        if not isinstance(body, dict):
            raise ConfigError("definition.year_not_mapping", file=file, line=doc.line("years", year), path=where,
                              expected="notice, holidays, workdays")
        notice = body.get("notice")
        if not notice:
            raise ConfigError("definition.no_notice", file=file, line=doc.line("years", year), path=f"{where}.notice",
                              expected=Msg("definition.notice_example"))
        hol = _dates(body.get("holidays"), f"{where}.holidays", file)
        work = _dates(body.get("workdays"), f"{where}.workdays", file)
        for day in hol | work:
            if day.year != year:
                raise ConfigError("definition.day_not_in_year", day=str(day), year=year, file=file,
                                  line=doc.line("years", year), path=where)
        both = hol & work
        if both:
            raise ConfigError("definition.holiday_and_workday", day=str(min(both)), file=file,
                              line=doc.line("years", year), path=where)
        out.append(YearArrangement(year, frozenset(hol), frozenset(work), str(notice)))
    return out
