"""The one message catalogue: every code has a text in Chinese and in English with the same placeholders, renders
in both, and the reader's language is Chinese unless English is asked for."""

from __future__ import annotations

import pickle
import re

import pytest

from stages.ground import i18n
from stages.ground.catalogue import AREAS, CATALOGUE
from stages.ground.errors import ConfigError, NotFound, PlancycleError
from stages.ground.i18n import Msg, placeholders, using

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_code_renders_in_both_languages(code):
    zh, en = CATALOGUE[code]
    assert i18n.CODE.match(code), f"{code}: a code is area.name in lower case"
    assert code.split(".")[0] in AREAS, f"{code}: its first part names its area"
    assert zh.strip() and en.strip(), f"{code} has no text in one language"
    assert placeholders(zh) == placeholders(en), f"{code}: the two texts take different parameters"
    params = {name: f"<{name}>" for name in placeholders(zh)}
    with using("zh"):
        text_zh = str(Msg(code, **params))
    with using("en"):
        text_en = str(Msg(code, **params))
    assert "{" not in text_zh.replace("{{", "") and "{" not in text_en.replace("{{", "")
    assert "\n" not in text_zh and "\n" not in text_en, f"{code}: a message is one line"
    # Chinese by default: the zh text says something in Chinese (or is pure punctuation around parameters)
    bare = re.sub(r"\{[^}]*\}", "", zh)
    assert CJK.search(bare) or not re.search(r"[A-Za-z]{3,}", bare), f"{code}: the zh text reads English: {zh!r}"


def test_a_code_without_a_text_is_refused():
    with pytest.raises(KeyError, match="no text for message code 'engine.no_such_code'"):
        Msg("engine.no_such_code")
    with pytest.raises(KeyError):
        PlancycleError("engine.no_such_code")


def test_chinese_by_default_english_on_request(monkeypatch):
    monkeypatch.delenv("PLANCYCLE_LANG", raising=False)
    m = Msg("common.expected", what="YYYY-MM-DD")
    assert str(m) == "（应为YYYY-MM-DD）"
    monkeypatch.setenv("PLANCYCLE_LANG", "en_US.UTF-8")
    assert str(m) == " (expected YYYY-MM-DD)"
    with using("zh"):  # an explicit choice (the CLI's --lang) wins over the environment
        assert str(m) == "（应为YYYY-MM-DD）"


def test_nested_messages_and_lists_render_in_the_same_language():
    m = Msg("common.expected", what=[Msg("common.expected", what="a"), "b"])
    assert m.render("zh") == "（应为（应为a）、b）"
    assert m.render("en") == " (expected  (expected a), b)"
    assert m.as_dict() == {"code": "common.expected",
                           "params": {"what": [{"code": "common.expected", "params": {"what": "a"}}, "b"]}}


def test_errors_carry_their_code_render_late_and_survive_pickling():
    e = NotFound("common.expected", what="x")
    assert e.code == "common.expected" and isinstance(e.msg, Msg)
    assert e.msg.render("en") == " (expected x)" and str(e) == str(e.msg)
    back = pickle.loads(pickle.dumps(e))  # a refusal crosses Prefect's process boundary as a pickled exception
    assert type(back) is NotFound and back.code == e.code and str(back) == str(e)
    c = ConfigError("common.expected", what="y", file="a.yaml", line=3, path="stages[0].id", expected="一个日期")
    assert str(c) == "a.yaml:3: stages[0].id: （应为y）（应为一个日期）"
    assert str(pickle.loads(pickle.dumps(c))) == str(c)
    assert str(PlancycleError("a sentence not yet in the catalogue")) == "a sentence not yet in the catalogue"
