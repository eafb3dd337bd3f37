"""The milestone status machine and what is derived from it (overdue, traffic light).

Owns: the one status enum, its allowed transitions, and the messages for refused moves. Does not own: who may
make a move or when a milestone opens (``stages.engine``), or gates (``stages.rules.gates``).

    pending ──open──▶ open ──submit──▶ submitted ──accept──▶ accepted
                         ▲                 │
                         └──── returned ◀──┘ return (退回, with comments); submit again from returned
    pending / open / submitted / returned / dormant ──waive (with a reason)──▶ waived
    any unfinished ──complete──▶ accepted   (the system, when a milestone's completes_when gate turns true)
    dormant ──trigger──▶ pending             (an optional milestone, once the office says it is needed)

An optional milestone (修改调整 if the 中期评估 calls for it) starts *dormant*: it owes nothing, is never late,
and counts as settled for what waits on it, until ``trigger``. A cycle may end with it still dormant.

*Overdue* is never stored: it is ``due < as_of`` for a milestone that still owes a deliverable.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from stages.ground.errors import TransitionError


class Status(StrEnum):
    PENDING = "pending"
    OPEN = "open"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    ACCEPTED = "accepted"
    WAIVED = "waived"
    DORMANT = "dormant"


S = Status
DONE = frozenset({S.ACCEPTED, S.WAIVED})
SETTLED = DONE | {S.DORMANT}  # nothing owed: what waits on it may go on
OWES = frozenset({S.PENDING, S.OPEN, S.RETURNED})  # the owner still has to deliver

LABEL_ZH = {S.PENDING: "未开始", S.OPEN: "进行中", S.SUBMITTED: "已报送待审", S.RETURNED: "退回修改",
            S.ACCEPTED: "已通过", S.WAIVED: "已免除", S.DORMANT: "未触发"}

_DESCRIBE = {
    S.PENDING: "not yet open",
    S.OPEN: "open, nothing submitted yet",
    S.SUBMITTED: "submitted, waiting for review",
    S.RETURNED: "returned, waiting for resubmission",
    S.ACCEPTED: "already accepted",
    S.WAIVED: "waived",
    S.DORMANT: "optional and not triggered",
}

TRANSITIONS: dict[str, dict[Status, Status]] = {
    "open": {S.PENDING: S.OPEN},
    "trigger": {S.DORMANT: S.PENDING},
    "submit": {S.OPEN: S.SUBMITTED, S.RETURNED: S.SUBMITTED},
    "accept": {S.SUBMITTED: S.ACCEPTED},
    "return": {S.SUBMITTED: S.RETURNED},
    "waive": {S.PENDING: S.WAIVED, S.OPEN: S.WAIVED, S.SUBMITTED: S.WAIVED, S.RETURNED: S.WAIVED, S.DORMANT: S.WAIVED},
    "complete": {S.PENDING: S.ACCEPTED, S.OPEN: S.ACCEPTED, S.SUBMITTED: S.ACCEPTED, S.RETURNED: S.ACCEPTED},
}


def describe(status: Status | str, waiting_for: str | None = None) -> str:
    text = _DESCRIBE[Status(status)]
    if Status(status) is S.PENDING and waiting_for:
        text += f" (waiting for {waiting_for})"
    return text


def allowed(status: Status | str, event: str) -> bool:
    return Status(status) in TRANSITIONS[event]


def transition(status: Status | str, event: str, label: str, waiting_for: str | None = None) -> Status:
    """The status after ``event``, or a TransitionError such as
    "cannot accept topic-07 开题: it is returned, waiting for resubmission"."""
    status = Status(status)
    try:
        return TRANSITIONS[event][status]
    except KeyError:
        raise TransitionError(f"cannot {event} {label}: it is {describe(status, waiting_for)}") from None


def is_overdue(status: Status | str, due: dt.date, as_of: dt.date | dt.datetime) -> bool:
    day = as_of.date() if isinstance(as_of, dt.datetime) else as_of
    return Status(status) in OWES and due < day


def traffic_light(status: Status | str, due: dt.date, as_of: dt.date, workdays_left: int | None,
                  yellow_within: int) -> str:
    """done / red (overdue) / yellow (due within ``yellow_within`` working days) / green; dormant (an optional
    milestone not triggered: never late).

    ``workdays_left`` is the working days from ``as_of`` to ``due`` (the caller counts them on the calendar). A
    submitted deliverable waits on the coordinator, not the owner: it is green while it waits.
    """
    status = Status(status)
    if status in DONE:
        return "done"
    if status is S.DORMANT:
        return "dormant"
    if status is S.SUBMITTED:
        return "green"
    if is_overdue(status, due, as_of):
        return "red"
    if workdays_left is not None and workdays_left <= yellow_within:
        return "yellow"
    return "green"
