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
from stages.ground.i18n import Msg


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



def status_label(status: Status | str) -> Msg:
    """A status's name as a person reads it (未开始 / pending …), in the reader's language."""
    return Msg(f"rules.status.{Status(status).value}")


# the light of a milestone (traffic_light's value) as a person reads it (绿 / green …)
LIGHTS = ("green", "yellow", "red", "done", "dormant")


def light_label(light: str) -> Msg:
    return Msg(f"rules.light.{light}")


# the Chinese names, for the tables that are Chinese whatever the reader's language (the 台账, the board's status_zh)
LABEL_ZH = {s: status_label(s).render("zh") for s in Status}
LIGHT_ZH = {light: light_label(light).render("zh") for light in LIGHTS}

TRANSITIONS: dict[str, dict[Status, Status]] = {
    "open": {S.PENDING: S.OPEN},
    "trigger": {S.DORMANT: S.PENDING},
    "submit": {S.OPEN: S.SUBMITTED, S.RETURNED: S.SUBMITTED},
    "accept": {S.SUBMITTED: S.ACCEPTED},
    "return": {S.SUBMITTED: S.RETURNED},
    "waive": {S.PENDING: S.WAIVED, S.OPEN: S.WAIVED, S.SUBMITTED: S.WAIVED, S.RETURNED: S.WAIVED, S.DORMANT: S.WAIVED},
    "complete": {S.PENDING: S.ACCEPTED, S.OPEN: S.ACCEPTED, S.SUBMITTED: S.ACCEPTED, S.RETURNED: S.ACCEPTED},
}


def describe(status: Status | str, waiting_for: "str | Msg | None" = None) -> Msg:
    """Where a milestone stands, as a refusal says it ("it is returned, waiting for resubmission")."""
    if Status(status) is S.PENDING and waiting_for:
        return Msg("rules.state.pending_waiting", waiting_for=waiting_for)
    return Msg(f"rules.state.{Status(status).value}")


def allowed(status: Status | str, event: str) -> bool:
    return Status(status) in TRANSITIONS[event]


def transition(status: Status | str, event: str, label: str, waiting_for: str | None = None) -> Status:
    """The status after ``event``, or a TransitionError such as
    "cannot accept topic-07 开题: it is returned, waiting for resubmission" (“topic-07 开题”当前已退回待修改，不能通过)."""
    status = Status(status)
    try:
        return TRANSITIONS[event][status]
    except KeyError:
        state = describe(status, waiting_for)
        if event == "trigger":
            raise TransitionError("rules.cannot_trigger", label=label, state=state) from None
        raise TransitionError("rules.cannot", verb=Msg(f"rules.verb.{event}"), label=label, state=state) from None


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
