"""A run's progression: approvals gates wait for (``approve``), leaving a stage (``advance``), opening a
milestone ahead of its turn (``open_milestone``), calling for an optional one (``trigger``)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from stages.definition.spec import CycleSpec
from stages.engine.context import (
    Outcome,
    _audit,
    _ctx,
    _gate,
    _item,
    _label,
    _milestone,
    _replayed,
    _require_coordinator,
    _set_status,
    _state,
    facts_for,
    ms_spec,
)
from stages.engine.propagation import _advance_stage, _finish, _open
from stages.ground.errors import IdempotencyConflict, NotFound, PlancycleError, TransitionError
from stages.ground.i18n import Msg
from stages.rules.gates import evaluate, predicates
from stages.rules.identity import Actor
from stages.rules.status import Status
from stages.store.models import Decision


def approve(session: Session, spec: CycleSpec, *, body: str, subject: str, by: Actor | str | None = None, as_of=None,
            note: str | None = None, key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """Record an approval (e.g. 领导小组同意 the special-plan list); gates waiting on it may open."""
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "approve", f"{body}:{subject}")
    bodies = spec.file.approval_bodies
    body_id = body if body in bodies else next((k for k, v in bodies.items() if v == body), None)
    if body_id is None:
        raise NotFound("engine.unknown_body", body=body, bodies=list(bodies))
    wanted = _approval_subjects(spec)
    if (body_id, subject) not in wanted:
        raise PlancycleError("engine.no_gate_waits", subject=subject, body=body_id,
                             options=[f"{b} {s}" for b, s in sorted(wanted)])
    ctx.outcome.target = f"{body_id}:{subject}"
    request = {"body": body_id, "subject": subject, "note": note}
    key = key or f"approve:{body_id}:{subject}"
    _require_coordinator(ctx, "engine.coordinator_only.approve")
    if _replayed(ctx, key, request):
        return ctx.outcome
    session.add(Decision(run_id=ctx.run.id, kind="approve", by=ctx.by, at=ctx.as_of, body=body_id, subject=subject,
                         comments=note))
    session.flush()
    _audit(ctx, "approval.recorded", ctx.outcome.target, why=note, data={"request": request}, key=key)
    ctx.outcome.message = Msg("engine.approval_recorded", body=bodies[body_id], subject=subject)
    return _finish(ctx)


def _approval_subjects(spec: CycleSpec) -> set[tuple[str, str]]:
    out = set()
    for g in spec.file.gates:
        for p in predicates(g):
            if p.approval:
                out.add((p.approval.body, p.approval.subject))
    return out


def advance(session: Session, spec: CycleSpec, *, by: Actor | str | None = None, as_of=None, override_reason: str | None = None,
            from_stage: str | None = None, key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """Leave the current stage for the next one: its exit gate must be met, or overridden with a reason.

    ``from_stage`` names the stage the caller means to leave; a retried request then finds its earlier success
    and changes nothing, instead of skipping a second stage.
    """
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "advance", "")
    run = ctx.run
    leaving = from_stage or run.current_stage
    ctx.outcome.target = leaving
    request = {"from": leaving, "override_reason": override_reason}
    key = key or f"advance:{leaving}"
    _require_coordinator(ctx, "engine.coordinator_only.advance")
    if _replayed(ctx, key, request):
        return ctx.outcome
    if run.status != "active":
        raise TransitionError("engine.cycle_complete", cycle=spec.id)
    if leaving != run.current_stage:
        raise TransitionError("engine.not_current_stage", stage=leaving, current=run.current_stage)
    st = spec.stage(run.current_stage)
    if st.exit_gate:
        res = evaluate(spec, st.exit_gate, facts_for(session, run))
        if not res.ok:
            if not (override_reason and override_reason.strip()):
                raise TransitionError("engine.exit_gate_not_met", stage=st.name, gate=_gate(spec, st.exit_gate),
                                      why=res.why())
            session.add(Decision(run_id=run.id, kind="override", by=ctx.by, at=ctx.as_of, subject=st.exit_gate,
                                 comments=override_reason))
            _audit(ctx, "gate.overridden", st.exit_gate, why=override_reason, data={"missing": list(res.missing)})
        else:
            override_reason = None
    _audit(ctx, "stage.advance.requested", st.id, why=override_reason, data={"request": request}, key=key)
    _advance_stage(ctx, reason=override_reason)
    ctx.outcome.message = Msg("engine.stage_advanced", stages=list(ctx.outcome.stages))
    return _finish(ctx)


def open_milestone(session: Session, spec: CycleSpec, *, item: str, milestone: str, by: Actor | str | None = None, reason: str,
                   as_of=None, key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """Open a pending milestone now, ahead of what it waits for (a coordinator's override, with a reason)."""
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "open", f"{item}:{milestone}")
    m = _milestone(ctx, item, milestone)
    it = _item(ctx, item)
    ctx.outcome.target = f"{item}:{m.ms_id}"
    request = {"item": item, "milestone": m.ms_id, "reason": reason}
    key = key or f"open:{item}:{m.ms_id}"
    _require_coordinator(ctx, "engine.coordinator_only.open", milestone=_label(m))
    if _replayed(ctx, key, request):
        return ctx.outcome
    if not (reason and reason.strip()):
        raise PlancycleError("engine.open_needs_reason", milestone=_label(m))
    session.add(Decision(run_id=ctx.run.id, milestone_id=m.id, kind="override", by=ctx.by, at=ctx.as_of,
                         comments=reason, subject="open"))
    _audit(ctx, "milestone.open.override", ctx.outcome.target, why=reason, data={"request": request}, key=key)
    _open(ctx, m, it)
    return _finish(ctx)


def trigger(session: Session, spec: CycleSpec, *, item: str, milestone: str, by: Actor | str | None = None,
            reason: str, as_of=None, due=None, key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """An optional milestone is needed after all (修改调整, the 中期评估 having called for it): from now on it owes
    its deliverable like any other, and opens once what it waits for is done. The coordinator's move, with a
    reason."""
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "trigger", f"{item}:{milestone}")
    m = _milestone(ctx, item, milestone)
    ctx.outcome.target = f"{item}:{m.ms_id}"
    request = {"item": item, "milestone": m.ms_id, "reason": reason, "due": str(due) if due else None}
    key = key or f"trigger:{item}:{m.ms_id}"
    _require_coordinator(ctx, "engine.coordinator_only.trigger", milestone=_label(m))
    try:
        if _replayed(ctx, key, request):
            return ctx.outcome
    except IdempotencyConflict:  # triggered before, with another reason or deadline
        first = session.exec(select(Decision).where(Decision.milestone_id == m.id, Decision.kind == "trigger")
                             .order_by(Decision.at)).first()
        if first is not None:
            raise TransitionError("engine.already_triggered_on", milestone=_label(m), date=f"{first.at:%Y-%m-%d}",
                                  by=first.by, state=_state(m.status)) from None
        raise TransitionError("engine.already_triggered", milestone=_label(m), state=_state(m.status)) from None
    if not (reason and reason.strip()):
        raise PlancycleError("engine.trigger_needs_reason", milestone=_label(m))
    if m.status != Status.DORMANT:
        mspec = ms_spec(spec, _item(ctx, item).kind, item, m.ms_id)
        if not mspec.optional:
            raise TransitionError("engine.not_optional", milestone=_label(m))
    if due is not None:
        due = dt.date.fromisoformat(due) if isinstance(due, str) else due
        if due < ctx.as_of.date():
            raise PlancycleError("engine.new_due_passed", due=due.isoformat(), milestone=_label(m))
        if spec.last_day and due > spec.last_day:
            raise PlancycleError("engine.new_due_after_cycle", due=due.isoformat(), milestone=_label(m),
                                 last=spec.last_day.isoformat())
    elif m.due_date < ctx.as_of.date():
        raise PlancycleError("engine.planned_due_passed", milestone=_label(m), due=m.due_date.isoformat())
    _set_status(ctx, m, "trigger")
    if due is not None and due != m.due_date:
        m.due_date = due
        m.due_version += 1
    session.add(Decision(run_id=ctx.run.id, milestone_id=m.id, kind="trigger", by=ctx.by, at=ctx.as_of,
                         comments=reason))
    _audit(ctx, "milestone.triggered", ctx.outcome.target, why=reason,
           data={"request": request, "due": m.due_date.isoformat()}, key=key)
    ctx.outcome.message = Msg("engine.triggered", milestone=_label(m), due=m.due_date.isoformat())
    return _finish(ctx)
