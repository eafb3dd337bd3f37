"""Gates are pure functions of (spec, facts)."""

import pytest

from stages.rules.gates import Facts, evaluate
from stages.rules.status import Status

S = Status


def facts(ms=None, approvals=(), topics=("topic-01", "topic-02", "topic-03"), plans=()):
    return Facts(milestones={k: S(v) for k, v in (ms or {}).items()},
                 tracks={"topics": list(topics), "special_plans": list(plans), "outline": ["outline"],
                         "tasks": ["wrap-up"]},
                 approvals=set(approvals))


ALL_CLOSED = {("topic-01", "closure"): "accepted", ("topic-02", "closure"): "waived", ("topic-03", "closure"): "accepted"}


@pytest.mark.parametrize("gate,ms,approvals,plans,ok", [
    ("topics-closed", ALL_CLOSED, (), (), True),
    ("topics-closed", {**ALL_CLOSED, ("topic-03", "closure"): "submitted"}, (), (), False),
    ("two-midterms", {("topic-01", "midterm"): "accepted", ("topic-03", "midterm"): "accepted"}, (), (), True),
    ("two-midterms", {("topic-01", "midterm"): "accepted", ("topic-03", "midterm"): "returned"}, (), (), False),
    ("list-approved", {}, [("leading_group", "special-plan-list")], (), True),
    ("list-approved", {}, [("leading_group", "basic-approach")], (), False),
    ("research-complete", {**ALL_CLOSED, ("wrap-up", "report"): "accepted"}, (), (), True),
    ("research-complete", {**ALL_CLOSED, ("wrap-up", "report"): "open"}, (), (), False),
    ("drafting-complete", {}, (), (), False),  # "all" of an empty track never holds
    ("drafting-complete", {("sp-01", "draft"): "accepted"}, (), ["sp-01"], True),
    ("drafting-complete", {("sp-01", "draft"): "accepted", ("sp-02", "draft"): "open"}, (), ["sp-01", "sp-02"], False),
    ("cycle-complete", {("outline", "congress"): "accepted"}, (), (), True),
])
def test_gate_table(mini, gate, ms, approvals, plans, ok):
    assert evaluate(mini, gate, facts(ms, approvals, plans=plans)).ok is ok


def test_closed_gate_says_why(mini):
    res = evaluate(mini, "research-complete", facts({("topic-01", "closure"): "accepted"}))
    assert not res.ok
    assert "topic-02:closure not done" in res.missing and "wrap-up:report not done" in res.missing
    res = evaluate(mini, "two-midterms", facts({("topic-01", "midterm"): "accepted"}))
    assert res.why() == "1 of 2 topics have midterm done"
