"""Deadline phrases as the seed writes them → concrete dates, by the rules stated in stages/phrases.py."""

import datetime as dt
import re

import pytest

from stages.ground.errors import DeadlinePhraseError
from stages.ground.i18n import using
from stages.definition.phrases import Offset, parse_offset, parse_period

D = dt.date


@pytest.mark.parametrize("phrase,year,start,end", [
    ("2019年6月上旬", None, D(2019, 6, 1), D(2019, 6, 10)),
    ("6月中旬", 2019, D(2019, 6, 11), D(2019, 6, 20)),
    ("2019年6月下旬", None, D(2019, 6, 21), D(2019, 6, 30)),
    ("7月中旬前", 2019, D(2019, 7, 11), D(2019, 7, 20)),
    ("8月底前", 2019, D(2019, 8, 1), D(2019, 8, 31)),
    ("9月底前", 2019, D(2019, 9, 1), D(2019, 9, 30)),
    ("2019年10月底前", None, D(2019, 10, 1), D(2019, 10, 31)),
    ("2020年2月底", None, D(2020, 2, 1), D(2020, 2, 29)),          # leap year
    ("2019年三季度", None, D(2019, 7, 1), D(2019, 9, 30)),
    ("2019年四季度", None, D(2019, 10, 1), D(2019, 12, 31)),
    ("2019年二、三季度", None, D(2019, 4, 1), D(2019, 9, 30)),
    ("2020年一季度至二季度", None, D(2020, 1, 1), D(2020, 6, 30)),
    ("2020年二季度末", None, D(2020, 4, 1), D(2020, 6, 30)),
    ("二季度前", 2020, D(2020, 4, 1), D(2020, 6, 30)),
    ("三季度前", 2020, D(2020, 7, 1), D(2020, 9, 30)),
    ("2020年上半年", None, D(2020, 1, 1), D(2020, 6, 30)),
    ("2020年下半年", None, D(2020, 7, 1), D(2020, 12, 31)),
    ("年底前", 2020, D(2020, 1, 1), D(2020, 12, 31)),
    ("2020年底前", None, D(2020, 1, 1), D(2020, 12, 31)),
    ("2021年初", None, D(2021, 1, 1), D(2021, 1, 31)),
    ("2021年上半年", None, D(2021, 1, 1), D(2021, 6, 30)),
    ("2019年", None, D(2019, 1, 1), D(2019, 12, 31)),
    ("2019年6月28日", None, D(2019, 6, 28), D(2019, 6, 28)),
    ("2019-06-14", None, D(2019, 6, 14), D(2019, 6, 14)),
    ("2021年二季度前", None, D(2021, 4, 1), D(2021, 6, 30)),
])
def test_periods(phrase, year, start, end):
    p = parse_period(phrase, default_year=year)
    assert (p.start, p.end) == (start, end)


def test_deadline_to_the_minute():
    p = parse_period("2019-06-28 17:00")
    assert p.end == D(2019, 6, 28) and p.time == dt.time(17, 0)
    p = parse_period("2019年6月28日17:30")
    assert p.time == dt.time(17, 30)


@pytest.mark.parametrize("text,expected", [
    ("开题 + 10 个工作日", Offset("开题", 10, True)),
    ("结题评审+10个工作日", Offset("结题评审", 10, True)),
    ("call-for-tender:publish + 10 个工作日", Offset("call-for-tender:publish", 10, True)),
    ("人代会审议 + 20 天", Offset("人代会审议", 20, False)),
    ("发布 - 5 个工作日", Offset("发布", -5, True)),
    ("2019年6月上旬", None),
])
def test_offsets(text, expected):
    assert parse_offset(text) == expected


@pytest.mark.parametrize("phrase,year,message", [
    ("9月底前", None, "has no year"),
    ("下个月", 2019, "is not a deadline phrase"),
    ("2019年13月", None, "is not a deadline phrase"),
    ("2019年五季度", None, "is not a deadline phrase"),
    ("2019-02-30", None, "is not a real date"),
    ("2019年三季度至二季度", None, "is not a deadline phrase"),
    ("", 2019, "empty"),
])
def test_bad_phrases(phrase, year, message):
    with pytest.raises(DeadlinePhraseError) as err:
        parse_period(phrase, default_year=year)
    with using("en"):
        assert re.search(message, str(err.value))


def test_a_bad_phrase_in_chinese():
    with pytest.raises(DeadlinePhraseError) as err:
        parse_period("9月底前")
    assert str(err.value) == "“9月底前”未写年份，也没有可取年份的阶段"
    with pytest.raises(DeadlinePhraseError) as err:
        parse_period("2019-02-30")
    assert str(err.value) == "“2019-02-30”不是真实存在的日期"
