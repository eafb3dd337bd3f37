"""Working days on China's official calendar, 调休 make-up days included."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stages.definition.calendar import WorkCalendar, load_extension
from stages.ground.errors import CalendarError, ConfigError
from stages.ground.i18n import using

D = dt.date
CAL = WorkCalendar.default()


@pytest.mark.parametrize("day,n,expected", [
    (D(2026, 5, 8), 5, D(2026, 5, 14)),     # the example: Sat 05-09 is a make-up working day
    (D(2019, 9, 30), 1, D(2019, 10, 8)),    # 国庆 2019: 10-01..10-07 off
    (D(2019, 9, 27), 2, D(2019, 9, 30)),    # Sun 09-29 is a make-up working day: Fri + 2 = Mon 09-30
    (D(2019, 10, 8), -1, D(2019, 9, 30)),   # counting back over 国庆 (09-29 Sun worked, 09-30 Mon)
    (D(2020, 1, 23), 1, D(2020, 2, 3)),     # 春节 2020, extended for the epidemic to 02-02
    (D(2021, 2, 5), 1, D(2021, 2, 7)),      # 春节 2021: Sun 02-07 is a make-up working day
    (D(2021, 2, 10), 1, D(2021, 2, 18)),    # 02-11..02-17 off
    (D(2021, 2, 18), 1, D(2021, 2, 19)),
    (D(2019, 6, 20), 10, D(2019, 7, 4)),    # the call for tender + 10 working days
    (D(2019, 6, 6), 1, D(2019, 6, 10)),     # 端午 2019-06-07 (Fri) off
    (D(2024, 2, 9), 1, D(2024, 2, 18)),     # 春节 2024: 02-10..02-17 off, Sun 02-18 worked
    (D(2026, 5, 14), 0, D(2026, 5, 14)),
])
def test_add_workdays(day, n, expected):
    assert CAL.add_workdays(day, n) == expected


@pytest.mark.parametrize("day,workday", [
    (D(2019, 9, 29), True),   # Sunday, 调休
    (D(2019, 10, 12), True),  # Saturday, 调休
    (D(2019, 10, 1), False),
    (D(2020, 1, 31), False),  # 春节 extended
    (D(2021, 2, 20), True),   # Saturday, 调休
    (D(2026, 5, 9), True),
    (D(2026, 5, 10), False),
])
def test_is_workday(day, workday):
    assert CAL.is_workday(day) is workday


def test_workdays_between_counts_make_up_days():
    assert CAL.workdays_between(D(2026, 5, 8), D(2026, 5, 14)) == 5
    assert CAL.workdays_between(D(2026, 5, 14), D(2026, 5, 8)) == -5
    assert CAL.workdays_between(D(2019, 9, 30), D(2019, 10, 8)) == 1


def test_next_and_previous_workday():
    assert CAL.next_workday(D(2019, 10, 1)) == D(2019, 10, 8)
    assert CAL.next_workday(D(2019, 10, 8), include_self=True) == D(2019, 10, 8)
    assert CAL.previous_workday(D(2019, 10, 7)) == D(2019, 9, 30)


def test_unknown_year_is_an_error_not_a_guess():
    with pytest.raises(CalendarError) as err:
        CAL.is_workday(D(2027, 1, 4))
    assert str(err.value).startswith("2027-01-04 超出已知的工作日历（")
    with using("en"):
        assert str(err.value).startswith("2027-01-04 is outside the known working-day calendar")
    with pytest.raises(CalendarError):
        CAL.add_workdays(D(2026, 12, 30), 5)
    with pytest.raises(CalendarError):
        CAL.is_workday(D(2003, 6, 2))


def test_extension_adds_a_year(tmp_path):
    ext = tmp_path / "cal.yaml"
    ext.write_text("years:\n  2027:\n    notice: 国办发明电〔2026〕99号（test data）\n"
                   "    holidays: [2027-01-01, 2027-02-05..2027-02-12]\n    workdays: [2027-02-14]\n", encoding="utf-8")
    cal = WorkCalendar.default(ext)
    assert cal.known_years() == (2004, 2027)
    assert cal.is_workday(D(2027, 2, 14))          # Sunday, make-up
    assert not cal.is_workday(D(2027, 2, 8))       # Monday in the holiday block
    assert cal.add_workdays(D(2027, 2, 4), 1) == D(2027, 2, 14)
    assert cal.years[2027].source.startswith("国办发明电")


@pytest.mark.parametrize("body,message", [
    ("years:\n  2027:\n    holidays: [2027-01-01]\n", "names no 国务院办公厅 notice"),
    ("years:\n  2027:\n    notice: x\n    holidays: [2027-13-01]\n", "month must be in 1..12"),
    ("years:\n  2027:\n    notice: x\n    holidays: [2028-01-01]\n", "2028-01-01 is not in 2027"),
    ("years:\n  2027:\n    notice: x\n    holidays: [2027-02-14]\n    workdays: [2027-02-14]\n", "both as a holiday and"),
    ("years:\n  2027:\n    notice: x\n    holidays: 2027-01-01\n", "must be a list of dates"),
])
def test_bad_extension_is_one_line(tmp_path, body, message):
    ext = tmp_path / "cal.yaml"
    ext.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_extension(ext)
    with using("en"):
        assert message in str(err.value)
    assert "\n" not in str(err.value)


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=D(2005, 1, 1), max_value=D(2025, 12, 31)), st.integers(min_value=-40, max_value=40))
def test_add_then_count_round_trips(day, n):
    end = CAL.add_workdays(day, n)
    assert CAL.workdays_between(day, end) == n
    if n:
        assert CAL.is_workday(end)
