"""The moves: each command checks its request here (``app.cli.acting``) and runs its flow (``flows.actions``):
submit, review, waive, trigger, approve, advance, extend, propose, register, contractor, correct, meeting; and
``sweep``, the daily deadline sweep run now."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from app.cli.acting import _act, _prepare, parse_figure
from app.cli.common import (H, AS_OF, JSON, KEY, PlancycleError, _as_of, _common, _database_url, _date, _engine,
                            _print_json, _request)

commands = typer.Typer()


@commands.command(help=H("cli.help.cmd_submit"))
def submit(item: str, milestone: str, by: str = typer.Option(..., "--by", help=H("cli.help.submit_by")),
           file: list[Path] = typer.Option([], "--file", "-f", help=H("cli.help.submit_file")),
           note: Optional[str] = typer.Option(None, "--note"),
           figure: list[str] = typer.Option([], "--figure", help=H("cli.help.submit_figure")),
           progress: Optional[str] = typer.Option(None, "--progress", help=H("cli.help.submit_progress")),
           problems: Optional[str] = typer.Option(None, "--problems", help=H("cli.help.submit_problems")),
           next_steps: Optional[str] = typer.Option(None, "--next", help=H("cli.help.submit_next")),
           as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """A department submits a milestone's deliverable (again after a return), with figures and a report's parts."""
    from stages.rules.requests import SubmitRequest

    report = {k: v for k, v in (("progress", progress), ("problems", problems), ("next", next_steps)) if v}
    req = _request(SubmitRequest, item=item, milestone=milestone, by=by, files=[str(f) for f in file], note=note,
                   figures=[parse_figure(f) for f in figure], report=report or None, **_common(as_of, key))
    _prepare(req, depts=[req.by], items=[req.item], milestone=(req.item, req.milestone))
    _act("submit_deliverable", req, as_json)


@commands.command(help=H("cli.help.cmd_review"))
def review(item: str, milestone: str,
           accept: bool = typer.Option(False, "--accept"), return_: bool = typer.Option(False, "--return"),
           comments: Optional[str] = typer.Option(None, "--comments", help=H("cli.help.review_comments")),
           by: Optional[str] = typer.Option(None, "--by", help=H("cli.help.acting_dept")), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
           as_json: bool = JSON):
    """Accept a submitted deliverable, or return it (退回) with comments."""
    if accept == return_:
        raise PlancycleError("cli.review_one")
    from stages.rules.requests import ReviewRequest

    req = _request(ReviewRequest, item=item, milestone=milestone, decision="accept" if accept else "return", by=by,
                   comments=comments, **_common(as_of, key))
    _prepare(req, depts=[req.by], items=[req.item], milestone=(req.item, req.milestone))
    _act("review_deliverable", req, as_json)


@commands.command(help=H("cli.help.cmd_waive"))
def waive(item: str, milestone: str, reason: str = typer.Option(..., "--reason"),
          by: Optional[str] = typer.Option(None, "--by", help=H("cli.help.acting_dept")), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
          as_json: bool = JSON):
    """Excuse a milestone (免除), with a reason."""
    from stages.rules.requests import WaiveRequest

    req = _request(WaiveRequest, item=item, milestone=milestone, reason=reason, by=by, **_common(as_of, key))
    _prepare(req, depts=[req.by], items=[req.item], milestone=(req.item, req.milestone))
    _act("waive_milestone", req, as_json)


@commands.command(help=H("cli.help.cmd_trigger"))
def trigger(item: str, milestone: str, reason: str = typer.Option(..., "--reason", help=H("cli.help.trigger_reason")),
            due: Optional[str] = typer.Option(None, "--due", help=H("cli.help.trigger_due")),
            by: Optional[str] = typer.Option(None, "--by", help=H("cli.help.acting_dept")),
            as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """An optional milestone is needed after all (修改调整 when the 中期评估 calls for it)."""
    from stages.rules.requests import TriggerRequest

    req = _request(TriggerRequest, item=item, milestone=milestone, reason=reason, due=due, by=by, **_common(as_of, key))
    _prepare(req, depts=[req.by], items=[req.item], milestone=(req.item, req.milestone))
    _act("trigger_milestone", req, as_json)


@commands.command(help=H("cli.help.cmd_approve"))
def approve(body: str = typer.Argument(..., help=H("cli.help.approve_body")),
            subject: str = typer.Argument(..., help=H("cli.help.approve_subject")),
            note: Optional[str] = typer.Option(None, "--note"), by: Optional[str] = typer.Option(None, "--by", help=H("cli.help.acting_dept")),
            as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """Record an approval (e.g. 领导小组同意专项规划立项清单)."""
    from stages.rules.requests import ApproveRequest

    req = _request(ApproveRequest, body=body, subject=subject, note=note, by=by, **_common(as_of, key))
    _prepare(req, depts=[req.by])
    _act("record_approval", req, as_json)


@commands.command(help=H("cli.help.cmd_advance"))
def advance(override_reason: Optional[str] = typer.Option(None, "--override-reason",
                                                          help=H("cli.help.advance_override_reason")),
            from_stage: Optional[str] = typer.Option(None, "--from", help=H("cli.help.advance_from")),
            by: Optional[str] = typer.Option(None, "--by", help=H("cli.help.acting_dept")), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
            as_json: bool = JSON):
    """Close the current stage and open the next (its gate checked)."""
    from stages.rules.requests import AdvanceRequest

    req = _request(AdvanceRequest, override_reason=override_reason, from_stage=from_stage, by=by,
                   **_common(as_of, key))
    _prepare(req, depts=[req.by])
    _act("advance_stage", req, as_json)


@commands.command(help=H("cli.help.cmd_extend"))
def extend(reason: str = typer.Option(..., "--reason"),
           item: list[str] = typer.Option([], "--item", help=H("cli.help.extend_item")),
           milestone: Optional[str] = typer.Option(None, "--milestone"),
           due_from: Optional[str] = typer.Option(None, "--due-from", help=H("cli.help.a_date")),
           due_to: Optional[str] = typer.Option(None, "--due-to", help=H("cli.help.a_date")),
           days: Optional[int] = typer.Option(None, "--days"), workdays: Optional[int] = typer.Option(None, "--workdays"),
           to: Optional[str] = typer.Option(None, "--to", help=H("cli.help.extend_to")),
           by: Optional[str] = typer.Option(None, "--by", help=H("cli.help.acting_dept")), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
           as_json: bool = JSON):
    """Move deadlines later, one or in bulk (e.g. every 2020 H1 deadline by 30 days)."""
    from stages.rules.requests import ExtendRequest

    req = _request(ExtendRequest, reason=reason, items=item, milestone=milestone, due_from=_date(due_from, "--due-from"),
                   due_to=_date(due_to, "--due-to"), days=days, workdays=workdays, new_due=_date(to, "--to"),
                   by=by, **_common(as_of, key))
    _prepare(req, depts=[req.by], items=req.items)
    _act("extend_deadlines", req, as_json)


@commands.command(help=H("cli.help.cmd_propose"))
def propose(dept: str, title: str, note: Optional[str] = typer.Option(None, "--note"),
            as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """A department proposes a 专项规划 (立项建议)."""
    from stages.rules.requests import ProposeRequest

    req = _request(ProposeRequest, dept=dept, title=title, note=note, **_common(as_of, key))
    _prepare(req, depts=[req.dept])
    _act("propose_special_plan", req, as_json)


@commands.command(help=H("cli.help.cmd_register"))
def register(confirm: list[str] = typer.Option([], "--confirm", help=H("cli.help.register_confirm")),
             reject: list[str] = typer.Option([], "--reject", help=H("cli.help.register_reject")),
             reason: Optional[str] = typer.Option(None, "--reason"), by: Optional[str] = typer.Option(None, "--by", help=H("cli.help.acting_dept")),
             as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """立项确认: confirm the special plans the leading group approved."""
    from stages.rules.requests import RegisterRequest

    req = _request(RegisterRequest, confirm=confirm, reject=reject, reason=reason, by=by, **_common(as_of, key))
    _prepare(req, depts=[req.by], items=[*req.confirm, *req.reject])
    _act("register_special_plans", req, as_json)


@commands.command(help=H("cli.help.cmd_contractor"))
def contractor(topic: str, name: str, contact: str = typer.Option(..., "--contact"),
               by: Optional[str] = typer.Option(None, "--by", help=H("cli.help.acting_dept")), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
               as_json: bool = JSON):
    """Record a topic's 承接单位 and contact."""
    from stages.rules.requests import ContractorRequest

    req = _request(ContractorRequest, topic=topic, contractor=name, contact=contact, by=by, **_common(as_of, key))
    _prepare(req, depts=[req.by], items=[req.topic])
    _act("assign_contractor", req, as_json)


@commands.command(help=H("cli.help.cmd_correct"))
def correct(item: str, field: str = typer.Option(..., "--field", help=H("cli.help.correct_field")),
            value: str = typer.Option(..., "--value", help=H("cli.help.correct_value")),
            reason: str = typer.Option(..., "--reason", help=H("cli.help.correct_reason")),
            by: Optional[str] = typer.Option(None, "--by", help=H("cli.help.acting_dept")),
            as_of: Optional[str] = AS_OF, key: Optional[str] = KEY, as_json: bool = JSON):
    """Correct a recorded text — a proposal's title, a topic's 承接单位 or its contact — with a reason (audited)."""
    from stages.rules.requests import CorrectRequest

    req = _request(CorrectRequest, item=item, field=field, value=value, reason=reason, by=by, **_common(as_of, key))
    _prepare(req, depts=[req.by], items=[req.item])
    _act("correct_record", req, as_json)


@commands.command(help=H("cli.help.cmd_sweep"))
def sweep(as_of: Optional[str] = typer.Option(None, "--as-of", help=H("cli.help.sweep_as_of")),
          force: bool = typer.Option(False, "--force", help=H("cli.help.sweep_force")), as_json: bool = JSON):
    """Run the daily deadline sweep now (the schedule runs it at 09:00 on working days)."""
    from stages.ground.clock import as_datetime

    _as_of(as_of)
    _engine(write=True).dispose()
    from flows.runner import run_action
    from flows.schedules import sweep_deadlines

    out = run_action(sweep_deadlines, as_of=as_datetime(as_of), db=_database_url(), force=force)
    if as_json:
        _print_json(out)
    elif out.get("skipped"):
        typer.echo(f"{out['day']}: skipped ({out['skipped']}); --force to sweep anyway")
    else:
        f = out["fired"]
        typer.echo(f"{out['day']}: {out['open']} open milestones — green {out['lights']['green']}, yellow "
                   f"{out['lights']['yellow']}, red {out['lights']['red']}; reminders: advance {f['advance']}, "
                   f"催办 {f['urge']}, 督办 {f['escalate']}; {out.get('messages', 0)} messages queued, "
                   f"{len(out.get('drafts') or [])} 督办通知 drafted"
                   + (f"; caught up {out['missed_workdays_caught_up']} missed working days"
                      if out["missed_workdays_caught_up"] else ""))


@commands.command(help=H("cli.help.cmd_meeting"))
def meeting(milestone: str = typer.Argument(..., help=H("cli.help.meeting_arg")),
            at: str = typer.Option(..., "--at", help=H("cli.help.meeting_at")),
            topic: list[str] = typer.Option([], "--topic", help=H("cli.help.meeting_topic")),
            dept: Optional[str] = typer.Option(None, "--dept", help=H("cli.help.meeting_dept")),
            place: Optional[str] = typer.Option(None, "--place"), attendees: Optional[str] = typer.Option(None, "--attendees"),
            by: Optional[str] = typer.Option(None, "--by", help=H("cli.help.acting_dept")), as_of: Optional[str] = AS_OF, key: Optional[str] = KEY,
            as_json: bool = JSON):
    """Schedule a 开题 / 中期 / 结题评审 meeting and issue its 通知."""
    from stages.rules.requests import MeetingRequest

    req = _request(MeetingRequest, milestone=milestone, at=at, topics=topic, dept=dept, place=place,
                   attendees=attendees, by=by, **_common(as_of, key))
    _prepare(req, depts=[req.by, req.dept], items=req.topics)
    _act("schedule_meeting", req, as_json)
