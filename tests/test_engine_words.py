"""What the engine says, through its real moves: a refusal or an outcome is a catalogue code, rendered in Chinese
by default and in English on request (``--lang en``), and ``--json`` keeps ``message`` as text beside its code."""

import pytest

from stages import engine as sv
from stages.ground.errors import NotFound, PlancycleError, TransitionError
from stages.ground.i18n import Msg, using
from stages.rules.identity import Forbidden

COORD = "区发改委"


def refusal(call, **kw):
    with pytest.raises(PlancycleError) as err:
        call(**kw)
    return err.value


def test_refusals_carry_their_code_and_render_in_both_languages(mini_run, mini):
    s = mini_run
    e = refusal(sv.submit, session=s, spec=mini, item="topic-99", milestone="kickoff", by=COORD, as_of="2019-06-10")
    assert isinstance(e, NotFound) and e.code == "engine.unknown_item"
    assert str(e) == "未知事项：topic-99"
    with using("en"):
        assert str(e) == "unknown item 'topic-99' (see `plancycle status` for the items of this cycle)"
    s.rollback()

    e = refusal(sv.waive, session=s, spec=mini, item="topic-03", milestone="kickoff", by="区教育局", reason="x",
                as_of="2019-07-01")
    assert isinstance(e, Forbidden) and e.code == "engine.coordinator_only.waive"
    assert str(e) == "只有区发改委（规划科）可以免除“topic-03 开题”，cli 代 区教育局无权办理"
    assert e.msg.render("en") == "cli 代 区教育局 cannot waive topic-03 开题: only the coordinator (区发改委) can"
    s.rollback()

    e = refusal(sv.advance, session=s, spec=mini, by=COORD, as_of="2019-12-20")
    assert isinstance(e, TransitionError) and e.code == "engine.exit_gate_not_met"
    assert str(e).startswith("“前期研究”的阶段门“前期研究完成”（research-complete）尚未满足：")
    assert str(e).endswith("；如确需推进，请填写强制推进理由")
    with using("en"):
        assert str(e).startswith("cannot leave 前期研究: gate research-complete (前期研究完成) is not met: ")
        assert str(e).endswith("; give --override-reason to force it")
    s.rollback()

    e = refusal(sv.extend_deadline, session=s, spec=mini, by=COORD, reason="疫情", as_of="2019-07-01", days=3,
                workdays=3)
    assert (str(e), e.msg.render("en")) == ("请在顺延天数、顺延工作日、新期限中填写且只填写一项",
                                           "extend needs exactly one of --days, --workdays or --to")
    s.rollback()


def test_the_english_of_the_environment_is_honoured(mini_run, mini, monkeypatch):
    monkeypatch.setenv("PLANCYCLE_LANG", "en")
    e = refusal(sv.review, session=mini_run, spec=mini, item="topic-03", milestone="kickoff", decision="maybe",
                by=COORD, as_of="2019-07-11")
    assert str(e) == "decision must be accept or return, not 'maybe'"
    monkeypatch.delenv("PLANCYCLE_LANG")
    assert str(e) == "审核结论须为 accept（通过）或 return（退回），不能是“maybe”"


def test_outcomes_are_messages_rendered_late(mini_run, mini):
    s = mini_run
    out = sv.submit(s, mini, item="topic-03", milestone="kickoff", by="区教育局", as_of="2019-07-26")
    assert out.message == Msg("engine.submitted_late", milestone="topic-03 开题", by="区教育局", days=5)
    assert str(out.message) == "topic-03 开题：区教育局已报送（逾期5个工作日）"
    with using("en"):
        assert str(out.message) == "topic-03 开题 submitted by 区教育局, 5 working days late"
    back = sv.review(s, mini, item="topic-03", milestone="kickoff", decision="return", comments="补充数据",
                     by=COORD, as_of="2019-07-29")
    assert str(back.message) == "topic-03 开题：已退回，意见：补充数据"
    assert back.message.render("en") == "topic-03 开题 returned: 补充数据"
    moved = sv.extend_deadline(s, mini, by=COORD, reason="疫情", as_of="2019-07-29", items=["topic-03"], days=7)
    assert (str(moved.message), moved.message.render("en")) == ("已调整 3 个节点的期限（疫情）",
                                                                "3 deadline(s) extended: 疫情")
    again = sv.extend_deadline(s, mini, by=COORD, reason="疫情", as_of="2019-07-30", items=["topic-03"], days=7)
    assert not again.changed and again.message.code == "engine.already_recorded"
    assert str(again.message) == "此前（2019-07-29 09:00，cli（区发改委））已办理过同一事项，本次未重复办理"
    with using("en"):
        assert str(again.message) == "already recorded on 2019-07-29 09:00 by cli（区发改委）; nothing changed"


def test_as_dict_gives_the_text_and_its_code(mini_run, mini):
    out = sv.waive(mini_run, mini, item="topic-03", milestone="kickoff", by=COORD, reason="并入区委重点调研课题",
                   as_of="2019-07-01")
    d = out.as_dict()
    assert d["message"] == "topic-03 开题：已免除（并入区委重点调研课题）" and d["message_code"] == "engine.waived"
    with using("en"):
        assert out.as_dict()["message"] == "topic-03 开题 waived: 并入区委重点调研课题"
    assert sv.Outcome("x", "y").as_dict()["message_code"] is None  # a move that says nothing has no code
