"""Action flows: one per move a user makes. Each is load → ``stages`` service → commit → events.

Parameters are pydantic models (``stages.rules.requests``, re-exported here), so each flow's run form in the Prefect UI
has the fields and descriptions. No rule lives here; a refused move ends the run Failed with the service's
one-line message.

Prefect is imported only when a flow object is asked for. The functions are written plain and registered in
:data:`ACTIONS`; ``flows.actions.submit_deliverable`` (what ``prefect.yaml``'s entrypoints, ``serve()``, the demo
and the tests name) is made by the module's ``__getattr__`` on first access as ``flow(name=…)(fn)`` — the very
object a ``@flow`` decorator would have made. ``flows.runner`` calls ``ACTIONS[name]`` directly when no Prefect
API is running, which saves the ~1.8 s that ``import prefect`` costs on this machine.
"""

from __future__ import annotations

from typing import Any, Callable

from stages.paperwork import drafting as paperwork
from stages import engine as services
from stages.ground.errors import PlancycleError
from stages.rules.requests import (ActionBase, AdvanceRequest, ApproveRequest, ContractorRequest,  # noqa: F401
                             CorrectRequest, EditDocumentRequest, SignDocumentRequest,
                             ExtendRequest, MeetingRequest, ProposeRequest, RegisterRequest, ReviewRequest,
                             IndicatorRequest, SubmitRequest, TriggerRequest, WaiveRequest, first_error)

from .common import perform, refused

ACTIONS: dict[str, Callable[..., Any]] = {}  # public name → the plain function (its flow's name in .flow_name)
_FLOWS: dict[str, Any] = {}


def _action(flow_name: str):
    """Register a plain action function under its flow's name; the Flow is made on first access."""
    def register(fn):
        fn.flow_name = flow_name
        ACTIONS[fn.__name__] = fn
        return fn
    return register


def __getattr__(name: str):
    """``flows.actions.submit_deliverable`` and the others: the Prefect Flow, made once, on first access."""
    fn = ACTIONS.get(name)
    if fn is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _FLOWS:
        from prefect import flow

        _FLOWS[name] = flow(name=fn.flow_name)(fn)
        globals()[name] = _FLOWS[name]
    return _FLOWS[name]


def _by(request: ActionBase):
    """Who acts: the signed-in identity the web console sets, else the department the CLI names with --by."""
    return request.actor or request.by


def _run(fn, request: ActionBase, **kwargs):
    try:
        return perform(fn, request, **kwargs)
    except PlancycleError as exc:
        return refused(exc)


@_action("submit-deliverable")
def submit_deliverable(request: SubmitRequest) -> dict:
    return _run(services.submit, request, item=request.item, milestone=request.milestone, by=_by(request),
                files=request.files, note=request.note, figures=[f.model_dump() for f in request.figures] or None,
                report=request.report.model_dump(exclude_none=True) if request.report else None)


@_action("record-indicator")
def record_indicator(request: IndicatorRequest) -> dict:
    from stages.engine.indicators import record

    return _run(record, request, indicator=request.indicator, year=request.year, value=request.value,
                by=_by(request), source=request.source)


@_action("trigger-milestone")
def trigger_milestone(request: TriggerRequest) -> dict:
    return _run(services.trigger, request, item=request.item, milestone=request.milestone, by=_by(request),
                reason=request.reason, due=request.due)


@_action("review-deliverable")
def review_deliverable(request: ReviewRequest) -> dict:
    return _run(services.review, request, item=request.item, milestone=request.milestone, decision=request.decision,
                by=_by(request), comments=request.comments)


@_action("waive-milestone")
def waive_milestone(request: WaiveRequest) -> dict:
    return _run(services.waive, request, item=request.item, milestone=request.milestone, by=_by(request),
                reason=request.reason)


@_action("record-approval")
def record_approval(request: ApproveRequest) -> dict:
    return _run(services.approve, request, body=request.body, subject=request.subject, by=_by(request),
                note=request.note)


@_action("advance-stage")
def advance_stage(request: AdvanceRequest) -> dict:
    return _run(services.advance, request, by=_by(request), override_reason=request.override_reason,
                from_stage=request.from_stage)


@_action("extend-deadlines")
def extend_deadlines(request: ExtendRequest) -> dict:
    return _run(services.extend_deadline, request, by=_by(request), reason=request.reason,
                items=request.items or None, milestone=request.milestone, due_from=request.due_from,
                due_to=request.due_to, days=request.days, workdays=request.workdays, new_due=request.new_due)


@_action("propose-special-plan")
def propose_special_plan(request: ProposeRequest) -> dict:
    acting = {"by": request.actor} if request.actor is not None else {}
    return _run(services.propose, request, dept=request.dept, title=request.title, note=request.note, **acting)


@_action("register-special-plans")
def register_special_plans(request: RegisterRequest) -> dict:
    return _run(services.register, request, confirm=request.confirm, reject=request.reject, by=_by(request),
                reason=request.reason)


@_action("assign-contractor")
def assign_contractor(request: ContractorRequest) -> dict:
    return _run(services.assign_contractor, request, topic=request.topic, contractor=request.contractor,
                contact=request.contact, by=_by(request))


@_action("schedule-meeting")
def schedule_meeting(request: MeetingRequest) -> dict:
    return _run(services.schedule_meeting, request, milestone=request.milestone, at=request.at,
                topics=request.topics or None, dept=request.dept, place=request.place, attendees=request.attendees,
                by=_by(request))


@_action("correct-record")
def correct_record(request: CorrectRequest) -> dict:
    return _run(services.correct, request, item=request.item, field=request.field, value=request.value,
                reason=request.reason, by=_by(request))


@_action("edit-document")
def edit_document(request: EditDocumentRequest) -> dict:
    return _run(paperwork.edit_document, request, notice=request.notice, changes=request.changes, by=_by(request))


@_action("sign-document")
def sign_document(request: SignDocumentRequest) -> dict:
    return _run(paperwork.sign_document, request, notice=request.notice, number=request.number,
                changes=request.changes or None, by=_by(request))


# Those names are served by __getattr__ as Prefect Flows; the plain functions stay in ACTIONS.
for _name in ACTIONS:
    del globals()[_name]
del _name
