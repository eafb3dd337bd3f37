"""The request models at the boundary: free text, numbers and dates refused or normalised, in one line."""

import datetime as dt
import sys

import pytest
from pydantic import ValidationError

from stages.ground.i18n import Msg, using
from stages.rules.identity import Actor
from stages.rules.requests import (AdvanceRequest, ApproveRequest, ContractorRequest, ExtendRequest, MeetingRequest,
                             ProposeRequest, RegisterRequest, ReviewRequest, SubmitRequest, WaiveRequest, first_error)


def refused(cls, **fields) -> str:
    """The refusal's one line in English (what these checks name); ``refused_zh`` gives the reader's Chinese."""
    with using("en"):
        return refused_zh(cls, **fields)


def refused_zh(cls, **fields) -> str:
    with pytest.raises(ValidationError) as info:
        cls(**fields)
    line = str(first_error(info.value))
    assert "\n" not in line
    return line


def submit(**over):
    fields = {"item": "topic-07", "milestone": "kickoff", "by": "区虹桥办"}
    fields.update(over)
    return fields


CONTROL = ["\x00", "\x07", "\x08", "\x1b", "\x1b[31m", "\x7f", "\x80", "\x9b", "\r\x07"]


@pytest.mark.parametrize("ch", CONTROL)
def test_control_characters_in_a_note_are_refused_naming_the_field(ch):
    line = refused(SubmitRequest, **submit(note=f"按要求{ch}报送"))
    assert line.startswith("note: contains a control character (U+")
    assert refused_zh(SubmitRequest, **submit(note=f"按要求{ch}报送")).startswith("备注含有控制字符（U+")


def test_the_message_names_the_character_and_the_field_in_both_languages():
    assert refused_zh(SubmitRequest, **submit(note="a\x07b")) == "备注含有控制字符（U+0007）"
    assert refused(SubmitRequest, **submit(note="a\x07b")) == "note: contains a control character (U+0007)"
    assert refused_zh(ReviewRequest, item="t", milestone="m", decision="return", comments="x\x1by") == \
        "审核意见含有控制字符（U+001B）"
    with pytest.raises(ValidationError) as info:  # the code rides through pydantic, rendered where it is shown
        SubmitRequest(**submit(note="a\x07b"))
    assert first_error(info.value) == Msg("rules.control_character", field=Msg("rules.field.note"), code="0007")


@pytest.mark.parametrize("cls,field,zh,base", [
    (ContractorRequest, "contractor", "承接单位", {"topic": "topic-04", "contact": "张三"}),
    (ContractorRequest, "contact", "联系人及联系方式", {"topic": "topic-04", "contractor": "某研究院"}),
    (ProposeRequest, "title", "标题", {"dept": "区商务委"}),
    (MeetingRequest, "place", "会议地点", {"milestone": "kickoff", "at": "2019-07-12T14:30"}),
    (MeetingRequest, "attendees", "参会人员", {"milestone": "kickoff", "at": "2019-07-12T14:30"}),
    (WaiveRequest, "reason", "理由", {"item": "topic-03", "milestone": "contractor"}),
    (AdvanceRequest, "override_reason", "强制推进理由", {}),
    (ApproveRequest, "note", "备注", {"body": "leading_group", "subject": "special-plan-list"}),
])
def test_every_free_text_field_refuses_bel_and_esc(cls, field, zh, base):
    for ch in ("\x07", "\x1b"):
        line = refused(cls, **base, **{field: f"某{ch}值"})
        assert line.startswith(f"{field}: contains a control character")
        assert refused_zh(cls, **base, **{field: f"某{ch}值"}).startswith(f"{zh}含有控制字符")


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x0b", "\x0c", "\x85", "\r\n", "\r"])
def test_line_and_paragraph_separators_become_line_breaks_in_multi_line_text(sep):
    req = SubmitRequest(**submit(note=f"第一段{sep}第二段"))
    assert req.note == "第一段\n第二段"


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x0b", "\x0c", "\x85", "\n", "\r"])
def test_single_line_fields_refuse_line_breaks(sep):
    line = refused(ProposeRequest, dept="区商务委", title=f"长宁区{sep}规划")
    assert line.startswith("title: must be one line")
    assert refused_zh(ProposeRequest, dept="区商务委", title=f"长宁区{sep}规划").startswith("标题不能换行")
    assert refused(MeetingRequest, milestone="kickoff", at="2019-07-12T14:30", place=f"会议室{sep}B").startswith(
        "place: must be one line")


def test_tabs_newlines_are_kept_and_text_is_stripped():
    req = SubmitRequest(**submit(note="  第一点\t说明  \n  第二点  "))
    assert req.note == "第一点\t说明\n  第二点"
    assert ProposeRequest(dept="区商务委", title="\t长宁区 规划 ").title == "长宁区 规划"
    assert SubmitRequest(**submit(note="   ")).note is None


@pytest.mark.parametrize("cls,field,limit,base", [
    (ProposeRequest, "title", 200, {"dept": "区商务委"}),
    (SubmitRequest, "note", 4000, submit()),
    (ReviewRequest, "comments", 4000, {"item": "t", "milestone": "m", "decision": "return"}),
    (ContractorRequest, "contractor", 200, {"topic": "t", "contact": "c"}),
])
def test_lengths_are_bounded(cls, field, limit, base):
    assert getattr(cls(**base, **{field: "长" * limit}), field) == "长" * limit
    line = refused(cls, **base, **{field: "长" * (limit + 1)})
    assert line.startswith(f"{field}: is {limit + 1} characters long; at most {limit}")
    zh = {"title": "标题", "note": "备注", "comments": "审核意见", "contractor": "承接单位"}[field]
    assert refused_zh(cls, **base, **{field: "长" * (limit + 1)}) == f"{zh}不能超过{limit}字（现为{limit + 1}字）"


def test_required_text_cannot_be_empty():
    assert refused_zh(ProposeRequest, dept="区商务委", title="   ") == "标题不能为空"
    assert refused_zh(WaiveRequest, item="t", milestone="m", reason="") == "理由不能为空"
    assert refused(WaiveRequest, item="t", milestone="m", reason="") == "reason: is empty"
    assert RegisterRequest(confirm=["sp-01"], reason="").reason is None  # optional: empty is none


@pytest.mark.parametrize("field", ["days", "workdays"])
@pytest.mark.parametrize("value", [0, -1, 3661, 99999999, 10**30])
def test_days_are_bounded(field, value):
    line = refused(ExtendRequest, reason="疫情", **{field: value})
    assert line.startswith(f"{field}: must be between 1 and 3660")


def test_days_inside_the_bounds():
    assert ExtendRequest(reason="疫情", days=30).days == 30
    assert ExtendRequest(reason="疫情", workdays=3660).workdays == 3660
    assert refused(ExtendRequest, reason="疫情", days="thirty").startswith("days: 'thirty' is not a whole number")


@pytest.mark.parametrize("value", ["2019-02-30", "2019-13-01", "yesterday", "2019/06/01", "2019-06-01T25:00", "06-01"])
def test_bad_dates_are_one_line(value):
    line = refused(SubmitRequest, **submit(as_of=value))
    assert line.startswith(f"as_of: cannot read the date {value!r}")
    assert refused_zh(SubmitRequest, **submit(as_of=value)).startswith(f"日期无法识别：“{value}”")


def test_dates_are_read_as_the_cli_means_them():
    assert SubmitRequest(**submit(as_of="2019-07-15")).as_of == dt.datetime(2019, 7, 15, 9, 0)  # a bare date: 09:00
    assert SubmitRequest(**submit(as_of="2019-07-15T14:30")).as_of == dt.datetime(2019, 7, 15, 14, 30)
    assert SubmitRequest(**submit(as_of=dt.datetime(2019, 7, 15, 10))).as_of == dt.datetime(2019, 7, 15, 10)
    assert refused(SubmitRequest, **submit(as_of=1559347200)).startswith("as_of: 1559347200 is not a date")
    assert refused(SubmitRequest, **submit(as_of="1999-12-31")).startswith("as_of: 1999-12-31 is outside 2000–2099")
    assert refused(MeetingRequest, milestone="kickoff", at="2019-07-32T14:30").startswith("at: cannot read the date")
    ext = ExtendRequest(reason="疫情", due_from="2020-01-01", due_to=dt.date(2020, 6, 30), new_due="2020-07-31")
    assert (ext.due_from, ext.due_to, ext.new_due) == (dt.date(2020, 1, 1), dt.date(2020, 6, 30), dt.date(2020, 7, 31))
    assert refused(ExtendRequest, reason="x", due_to="2020-02-30").startswith("due_to: cannot read the date")


def test_identifiers_refuse_control_characters_and_undecodable_bytes():
    bad = b"topic-\xff".decode("utf-8", "surrogateescape")  # what Python makes of a non-UTF-8 argument
    assert refused_zh(SubmitRequest, **submit(item=bad)) == "事项含有无法识别的字节"
    assert refused(SubmitRequest, **submit(item=bad)) == "item: is not valid UTF-8 text"
    assert refused(SubmitRequest, **submit(by="区虹桥办\x1b")).startswith("by: contains a control character")
    assert refused(SubmitRequest, **submit(files=[f"/tmp/{bad}.docx"])).startswith("files: is not valid UTF-8")
    assert refused(SubmitRequest, **submit(files=[f"f{i}.pdf" for i in range(21)])).startswith("files: 21 entries")
    assert SubmitRequest(**submit(item="  topic-07 ")).item == "topic-07"


def test_pydantics_own_errors_are_one_line_with_the_field():
    assert refused(ReviewRequest, item="t", milestone="m", decision="maybe") == \
        "decision: input should be 'accept' or 'return' (got 'maybe')"
    assert refused_zh(SubmitRequest, item="t", milestone="m") == "部门为必填项"
    assert refused(SubmitRequest, item="t", milestone="m") == "by: is required"


def test_an_actor_rides_along():
    actor = Actor(user="zhang", name="张三", role="department", dept="区虹桥办")
    req = SubmitRequest(**submit(actor=actor))
    assert req.actor == actor and req.by == "区虹桥办"
    assert SubmitRequest(**submit()).actor is None
    assert SubmitRequest.model_validate_json(req.model_dump_json()).actor == actor  # a flow parameter survives


def test_flows_actions_re_exports_the_models_without_importing_prefect():
    import subprocess

    code = ("import sys; import flows.actions as a; from flows.actions import SubmitRequest, ActionBase; "
            "from flows.common import ActionBase as B; import stages.rules.requests as r; "
            "assert SubmitRequest is r.SubmitRequest and B is r.ActionBase and ActionBase is B; "
            "print(any(m == 'prefect' or m.startswith('prefect.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
