"""Corrections: deadlines moved later (``extend_deadline``, previewed by ``extension_plan``) and a recorded
text corrected with a reason (``correct``)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from stages.definition.calendar import WorkCalendar
from stages.definition.spec import CycleSpec
from stages.engine.context import Outcome, _audit, _ctx, _fingerprint, _item, _label, _replayed, _require_coordinator
from stages.engine.propagation import _finish
from stages.ground.errors import NotFound, PlancycleError
from stages.ground.i18n import Msg
from stages.rules.identity import Actor
from stages.store.models import Decision, Milestone


def extend_deadline(session: Session, spec: CycleSpec, *, by: Actor | str | None = None, reason: str, as_of=None,
                    items: list[str] | None = None, milestone: str | None = None,
                    due_from: dt.date | None = None, due_to: dt.date | None = None,
                    days: int | None = None, workdays: int | None = None, new_due: dt.date | None = None,
                    key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """Move deadlines later, one or in bulk (e.g. every 2020 H1 deadline by 30 days, as the epidemic forced).

    Selects unfinished milestones by item keys, milestone id and a due-date range; moves each by ``days``
    calendar days, ``workdays`` working days, or to ``new_due``. Every moved milestone gets a new due version,
    so its reminder ladder starts again. The same request twice (same key) moves nothing the second time.
    """
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "extend", "")
    if sum(x is not None for x in (days, workdays, new_due)) != 1:
        raise PlancycleError("engine.extend_one_of")
    if not (reason and reason.strip()):
        raise PlancycleError("engine.extend_needs_reason")
    request = {"items": sorted(items or []), "milestone": milestone, "due_from": str(due_from) if due_from else None,
               "due_to": str(due_to) if due_to else None, "days": days, "workdays": workdays,
               "new_due": str(new_due) if new_due else None, "reason": reason}
    key = key or f"extend:{_fingerprint(request)}"
    ctx.outcome.target = key
    _require_coordinator(ctx, "engine.coordinator_only.extend")
    if _replayed(ctx, key, request):
        return ctx.outcome
    if items:
        for k in items:
            _item(ctx, k)
    plan = extension_plan(session, ctx.run.id, ctx.cal, items=items, milestone=milestone, due_from=due_from,
                          due_to=due_to, days=days, workdays=workdays, new_due=new_due)
    if not plan:
        raise NotFound("engine.extend_nothing")
    moved = []
    for m, target in plan:
        if target <= m.due_date:
            raise PlancycleError("engine.extend_not_later", milestone=_label(m), due=str(m.due_date), to=str(target))
        moved.append({"milestone": f"{m.item_key}:{m.ms_id}", "from": m.due_date.isoformat(), "to": target.isoformat()})
        m.due_date = target
        m.due_version += 1
        m.ladder = 0  # a new deadline: its reminder ladder starts again
        session.add(m)
        session.add(Decision(run_id=ctx.run.id, milestone_id=m.id, kind="extend", by=ctx.by, at=ctx.as_of,
                             comments=f"{moved[-1]['from']} → {moved[-1]['to']}: {reason}"))
    _audit(ctx, "deadline.extended", key, why=reason, data={"request": request, "moved": moved}, key=key)
    ctx.outcome.data = {"moved": moved}
    ctx.outcome.message = Msg("engine.extended", count=len(moved), reason=reason)
    owners = sorted({m.owner for m, _ in plan})
    ctx.outcome.notices.append({"kind": "deadline_extended", "to": owners, "about": key, "count": len(moved)})
    return _finish(ctx)


def extension_plan(session: Session, run_id: int, cal: WorkCalendar, *, items=None, milestone=None, due_from=None,
                   due_to=None, days=None, workdays=None, new_due=None) -> list[tuple[Milestone, dt.date]]:
    """The unfinished milestones an extension selects, each with the due date it would get (read only).

    ``extend_deadline`` applies it; the console's preview shows it, so what is previewed is what moves.
    """
    q = select(Milestone).where(Milestone.run_id == run_id, Milestone.status.in_(["pending", "open", "submitted", "returned"]))
    if items:
        q = q.where(Milestone.item_key.in_(items))
    if milestone:
        q = q.where((Milestone.ms_id == milestone) | (Milestone.name == milestone))
    if due_from:
        q = q.where(Milestone.due_date >= due_from)
    if due_to:
        q = q.where(Milestone.due_date <= due_to)
    out = []
    for m in session.exec(q.order_by(Milestone.due_date, Milestone.id)).all():
        if new_due is not None:
            target = new_due
        elif workdays is not None:
            target = cal.add_workdays(m.due_date, workdays)
        else:
            target = m.due_date + dt.timedelta(days=days)
        out.append((m, target))
    return out


# -- corrections -------------------------------------------------------------------------------------------------
CORRECTABLE = {"title": "名称", "contractor": "承接单位", "contractor_contact": "承接单位联系人"}


def correct(session: Session, spec: CycleSpec, *, item: str, field: str, value: str, reason: str,
            by: Actor | str | None = None, as_of=None, key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """Correct a recorded text (a proposal's title, a topic's 承接单位 or its contact) with a reason.

    The coordinator's move, audited with the old and the new value; documents rendered later use the correction.
    A request recorded earlier under its idempotency key stays as it was: the correction is a move of its own.
    """
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "correct", item)
    _require_coordinator(ctx, "engine.coordinator_only.correct", item=item)
    if field not in CORRECTABLE:
        raise PlancycleError("engine.correct_unknown_field", field=field, fields=list(CORRECTABLE))
    named = Msg(f"engine.field.{field}")
    value, reason = (value or "").strip(), (reason or "").strip()
    if not value:
        raise PlancycleError("engine.correct_empty", field=named)
    if not reason:
        raise PlancycleError("engine.correct_needs_reason")
    it = _item(ctx, item)
    if field == "title" and it.kind != "special_plan":
        raise PlancycleError("engine.title_from_file", item=item)
    if field != "title" and it.kind != "topic":
        raise PlancycleError("engine.not_topic", item=item, kind=it.kind)
    old = getattr(it, field)
    if old in (None, ""):
        raise PlancycleError("engine.correct_nothing_yet", item=item, field=named)
    request = {"item": item, "field": field, "value": value, "reason": reason}
    key = key or f"correct:{item}:{field}:{_fingerprint(request)}"
    ctx.outcome.target = item
    if _replayed(ctx, key, request):
        return ctx.outcome
    if old == value:
        raise PlancycleError("engine.correct_same", item=item, field=named, value=value)
    setattr(it, field, value)
    session.add(it)
    _audit(ctx, "record.corrected", item, why=reason, data={"request": request, "field": field, "old": old,
                                                             "new": value}, key=key)
    ctx.outcome.message = Msg("engine.corrected", item=item, field=CORRECTABLE[field], old=old, new=value)
    return _finish(ctx)
