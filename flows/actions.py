"""Action flows: one per move a user makes. Each is load → ``stages`` service → commit → events.

Parameters are pydantic models, so each flow's run form in the Prefect UI has the fields and descriptions.
No rule lives here; a refused move ends the run Failed with the service's one-line message.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, Optional

from prefect import flow
from pydantic import Field

from stages import services
from stages.errors import PlancycleError

from .common import ActionBase, perform, refused


class SubmitRequest(ActionBase):
    item: str = Field(description="item key, e.g. topic-07")
    milestone: str = Field(description="milestone id or name, e.g. kickoff or 开题")
    by: str = Field(description="the submitting department (short name or id)")
    files: list[str] = Field(default_factory=list, description="paths of the attached files")
    note: Optional[str] = None


class ReviewRequest(ActionBase):
    item: str
    milestone: str
    decision: Literal["accept", "return"]
    by: str = "区发改委"
    comments: Optional[str] = Field(None, description="required when returning (退回)")


class WaiveRequest(ActionBase):
    item: str
    milestone: str
    reason: str
    by: str = "区发改委"


class ApproveRequest(ActionBase):
    body: str = Field(description="approval body, e.g. leading_group (区发展规划工作领导小组)")
    subject: str = Field(description="what was approved, e.g. special-plan-list")
    note: Optional[str] = None
    by: str = "区发改委"


class AdvanceRequest(ActionBase):
    from_stage: Optional[str] = Field(None, description="the stage to leave; protects a retried request")
    override_reason: Optional[str] = Field(None, description="force a closed gate, with the reason recorded")
    by: str = "区发改委"


class ExtendRequest(ActionBase):
    reason: str
    items: list[str] = Field(default_factory=list)
    milestone: Optional[str] = None
    due_from: Optional[dt.date] = None
    due_to: Optional[dt.date] = None
    days: Optional[int] = None
    workdays: Optional[int] = None
    new_due: Optional[dt.date] = None
    by: str = "区发改委"


class ProposeRequest(ActionBase):
    dept: str
    title: str
    note: Optional[str] = None


class RegisterRequest(ActionBase):
    confirm: list[str]
    reject: list[str] = Field(default_factory=list)
    reason: Optional[str] = None
    by: str = "区发改委"


class MeetingRequest(ActionBase):
    milestone: Literal["kickoff", "midterm", "final_review"] | str = Field(description="kickoff / midterm / final_review")
    at: dt.datetime = Field(description="meeting time (Asia/Shanghai)")
    topics: list[str] = Field(default_factory=list, description="topic keys; or give dept")
    dept: Optional[str] = Field(None, description="batch every open topic this lead department leads")
    place: Optional[str] = None
    attendees: Optional[str] = None
    by: str = "区发改委"


class ContractorRequest(ActionBase):
    topic: str
    contractor: str
    contact: str
    by: str = "区发改委"


def _run(fn, request: ActionBase, **kwargs):
    try:
        return perform(fn, request, **kwargs)
    except PlancycleError as exc:
        return refused(exc)


@flow(name="submit-deliverable")
def submit_deliverable(request: SubmitRequest) -> dict:
    return _run(services.submit, request, item=request.item, milestone=request.milestone, by=request.by,
                files=request.files, note=request.note)


@flow(name="review-deliverable")
def review_deliverable(request: ReviewRequest) -> dict:
    return _run(services.review, request, item=request.item, milestone=request.milestone, decision=request.decision,
                by=request.by, comments=request.comments)


@flow(name="waive-milestone")
def waive_milestone(request: WaiveRequest) -> dict:
    return _run(services.waive, request, item=request.item, milestone=request.milestone, by=request.by,
                reason=request.reason)


@flow(name="record-approval")
def record_approval(request: ApproveRequest) -> dict:
    return _run(services.approve, request, body=request.body, subject=request.subject, by=request.by, note=request.note)


@flow(name="advance-stage")
def advance_stage(request: AdvanceRequest) -> dict:
    return _run(services.advance, request, by=request.by, override_reason=request.override_reason,
                from_stage=request.from_stage)


@flow(name="extend-deadlines")
def extend_deadlines(request: ExtendRequest) -> dict:
    return _run(services.extend_deadline, request, by=request.by, reason=request.reason, items=request.items or None,
                milestone=request.milestone, due_from=request.due_from, due_to=request.due_to, days=request.days,
                workdays=request.workdays, new_due=request.new_due)


@flow(name="propose-special-plan")
def propose_special_plan(request: ProposeRequest) -> dict:
    return _run(services.propose, request, dept=request.dept, title=request.title, note=request.note)


@flow(name="register-special-plans")
def register_special_plans(request: RegisterRequest) -> dict:
    return _run(services.register, request, confirm=request.confirm, reject=request.reject, by=request.by,
                reason=request.reason)


@flow(name="assign-contractor")
def assign_contractor(request: ContractorRequest) -> dict:
    return _run(services.assign_contractor, request, topic=request.topic, contractor=request.contractor,
                contact=request.contact, by=request.by)


@flow(name="schedule-meeting")
def schedule_meeting(request: MeetingRequest) -> dict:
    return _run(services.schedule_meeting, request, milestone=request.milestone, at=request.at,
                topics=request.topics or None, dept=request.dept, place=request.place, attendees=request.attendees,
                by=request.by)
