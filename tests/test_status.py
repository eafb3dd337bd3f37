"""The status machine: every (status, event) pair is either an allowed move or a refusal with a clear message."""

import datetime as dt

import pytest

from stages.ground.errors import TransitionError
from stages.ground.i18n import using
from stages.rules.status import TRANSITIONS, Status, is_overdue, traffic_light, transition

S = Status
ALLOWED = {
    ("pending", "open"): "open",
    ("open", "submit"): "submitted",
    ("returned", "submit"): "submitted",
    ("submitted", "accept"): "accepted",
    ("submitted", "return"): "returned",
    ("pending", "waive"): "waived", ("open", "waive"): "waived",
    ("submitted", "waive"): "waived", ("returned", "waive"): "waived",
    ("pending", "complete"): "accepted", ("open", "complete"): "accepted",
    ("submitted", "complete"): "accepted", ("returned", "complete"): "accepted",
    ("dormant", "trigger"): "pending",  # an optional milestone: only the trigger wakes it
    ("dormant", "waive"): "waived",  # … or a rejected special plan's optional step is excused with the rest
}
ALL = [(s.value, e) for s in Status for e in TRANSITIONS]


@pytest.mark.parametrize("status,event", ALL)
def test_every_move(status, event):
    if (status, event) in ALLOWED:
        assert transition(status, event, "topic-07 开题") == S(ALLOWED[(status, event)])
    else:
        with pytest.raises(TransitionError) as err:
            transition(status, event, "topic-07 开题")
        with using("en"):  # the English names the move; the Chinese (below) says it as the office does
            assert str(err.value).startswith(f"cannot {event} topic-07 开题: it is ")
        assert str(err.value).startswith("“topic-07 开题”")


def test_the_issue_message():
    with pytest.raises(TransitionError) as err:
        transition("returned", "accept", "topic-07 开题")
    assert str(err.value) == "“topic-07 开题”当前已退回待修改，不能通过" and err.value.code == "rules.cannot"
    with using("en"):
        assert str(err.value) == "cannot accept topic-07 开题: it is returned, waiting for resubmission"
    with pytest.raises(TransitionError) as err:
        transition("pending", "submit", "topic-07 中期", waiting_for="kickoff")
    assert str(err.value) == "“topic-07 中期”当前尚未开始（须先完成：kickoff），不能报送"
    with using("en"):
        assert str(err.value) == "cannot submit topic-07 中期: it is not yet open (waiting for kickoff)"
    with pytest.raises(TransitionError) as err:
        transition("accepted", "trigger", "topic-07 修改调整")
    assert str(err.value) == "“topic-07 修改调整”已触发或已办理（当前已完成），无需再次触发"


def test_status_and_light_names_in_both_languages():
    from stages.rules.status import LABEL_ZH, LIGHT_ZH, light_label, status_label

    assert LABEL_ZH[S.RETURNED] == "退回修改" and LIGHT_ZH["red"] == "红"
    assert status_label("submitted").render("zh") == "已报送待审" and status_label("submitted").render("en") == "submitted"
    assert light_label("yellow").render("zh") == "黄" and light_label("yellow").render("en") == "yellow"


def test_done_states_are_final():
    for done in ("accepted", "waived"):
        for event in TRANSITIONS:
            with pytest.raises(TransitionError):
                transition(done, event, "x")


D = dt.date


@pytest.mark.parametrize("status,due,as_of,overdue", [
    ("open", D(2019, 7, 20), D(2019, 7, 20), False),   # due today is not late
    ("open", D(2019, 7, 20), D(2019, 7, 21), True),
    ("returned", D(2019, 7, 20), D(2019, 8, 1), True),
    ("pending", D(2019, 7, 20), D(2019, 8, 1), True),   # its predecessor is late, so it is too
    ("submitted", D(2019, 7, 20), D(2019, 8, 1), False),  # delivered: waits on the reviewer
    ("accepted", D(2019, 7, 20), D(2019, 8, 1), False),
    ("waived", D(2019, 7, 20), D(2019, 8, 1), False),
])
def test_overdue_is_derived(status, due, as_of, overdue):
    assert is_overdue(status, due, as_of) is overdue


@pytest.mark.parametrize("status,as_of,left,light", [
    ("accepted", D(2019, 9, 1), None, "done"),
    ("open", D(2019, 9, 1), None, "red"),
    ("open", D(2019, 8, 26), 4, "yellow"),
    ("open", D(2019, 8, 1), 22, "green"),
    ("submitted", D(2019, 9, 5), None, "green"),
])
def test_traffic_light(status, as_of, left, light):
    assert traffic_light(status, D(2019, 8, 31), as_of, left, 5) == light


def test_a_dormant_milestone_is_never_late_and_has_its_own_light():
    import datetime as dt

    from stages.rules.status import is_overdue, traffic_light

    long_ago, today = dt.date(2019, 1, 1), dt.date(2020, 1, 1)
    assert not is_overdue("dormant", long_ago, today)
    assert traffic_light("dormant", long_ago, today, None, 5) == "dormant"
