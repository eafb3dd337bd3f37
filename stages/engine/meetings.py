"""Review meetings: ``schedule_meeting`` (开题 / 中期 / 结题评审), and a change to one already scheduled."""

from __future__ import annotations

from sqlmodel import Session, select

from stages.definition.spec import CycleSpec
from stages.engine.context import (
    Outcome,
    _audit,
    _ctx,
    _dept,
    _fingerprint,
    _item,
    _milestone,
    _replayed,
    _require_coordinator,
    ms_spec,
)
from stages.ground.clock import as_datetime
from stages.ground.errors import NotFound, PlancycleError
from stages.ground.i18n import Msg
from stages.rules.identity import Actor
from stages.store.models import AuditEvent, Item, Milestone


def schedule_meeting(session: Session, spec: CycleSpec, *, milestone: str, at, by: Actor | str | None = None, as_of=None,
                     topics: list[str] | None = None, dept: str | None = None, place: str | None = None,
                     attendees: str | None = None, key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """Schedule a review meeting (开题 / 中期 / 结题评审) for the named topics, for every topic a lead department
    leads, or — naming neither — for every topic whose milestone is still to come (one meeting per round).

    Scheduling the same meeting again with another time, place or attendees is a change: recorded as
    ``meeting.changed`` and drafted as a 变更通知 naming the notice it replaces; what was given before and is not
    given again (the attendees, the place) is kept, never dropped."""
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "meeting", milestone)
    _require_coordinator(ctx, "engine.coordinator_only.meeting")
    when = as_datetime(at)
    all_topics = session.exec(select(Item).where(Item.run_id == ctx.run.id, Item.kind == "topic").order_by(Item.no)).all()
    if topics:
        keys = list(topics)
    else:
        keys = [i.key for i in all_topics]
        if dept:
            lead = _dept(spec, dept)
            keys = [i.key for i in all_topics if lead in i.lead]
        open_ = {m.item_key for m in session.exec(select(Milestone).where(
            Milestone.run_id == ctx.run.id, Milestone.ms_id == milestone, Milestone.item_key.in_(keys),
            Milestone.status.in_(["pending", "open", "submitted", "returned"])))}
        keys = [k for k in keys if k in open_]
        if not keys:
            if dept:
                raise NotFound("engine.meeting_no_topic_of", dept=_dept(spec, dept), milestone=milestone)
            raise NotFound("engine.meeting_no_topic", milestone=milestone)
    for k in keys:
        it = _item(ctx, k)
        if it.kind != "topic":
            raise PlancycleError("engine.not_topic", item=k, kind=it.kind)
        _milestone(ctx, k, milestone)
    mspec = ms_spec(spec, "topic", keys[0], milestone)
    if when <= ctx.as_of:
        raise PlancycleError("engine.meeting_in_past", when=f"{when:%Y-%m-%d %H:%M}", now=f"{ctx.as_of:%Y-%m-%d %H:%M}")
    target = f"{milestone}:{','.join(keys)}"
    ctx.outcome.target = target
    prior = session.exec(select(AuditEvent).where(AuditEvent.run_id == ctx.run.id, AuditEvent.target == target,
                                                  AuditEvent.action.in_(["meeting.scheduled", "meeting.changed"]))
                         .order_by(AuditEvent.id.desc())).first()
    before = (prior.data.get("meeting") or prior.data.get("request")) if prior is not None else None
    if before:  # a change keeps what was given before and is not given again
        place = place or before.get("place")
        attendees = attendees or before.get("attendees")
    request = {"milestone": milestone, "topics": keys, "at": when.isoformat(), "place": place, "attendees": attendees}
    key = key or f"meeting:{milestone}:{_fingerprint(request)}"
    if _replayed(ctx, key, request):
        return ctx.outcome
    if before and all(before.get(k) == request[k] for k in ("at", "place", "attendees")):
        raise PlancycleError("engine.meeting_unchanged", when=f"{when:%Y-%m-%d %H:%M}",
                             place=Msg("engine.meeting_place", place=place) if place else "")
    action = "meeting.changed" if before else "meeting.scheduled"
    _audit(ctx, action, target, data={"request": request, "meeting": request,
                                      **({"before": before} if before else {})}, key=key)
    ctx.outcome.notices.append({"kind": "meeting", "about": target, "milestone": milestone, "topics": keys,
                                "at": when.isoformat(), "place": place, "attendees": attendees,
                                "replaces": bool(before)})
    name = mspec.meeting.name if mspec.meeting else mspec.name
    ctx.outcome.message = Msg("engine.meeting_changed" if before else "engine.meeting_scheduled", name=name,
                              when=f"{when:%Y-%m-%d %H:%M}", topics=len(keys))
    return ctx.outcome
