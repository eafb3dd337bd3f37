"""专项规划 and topics' arrangements: a department proposes a special plan (``propose``), the coordinator confirms
or rejects proposals (``register``, 立项确认), records a topic's 承接单位 (``assign_contractor``); what a topic's
accepted milestones have made payable (``funding_due``)."""

from __future__ import annotations

from sqlmodel import Session, select

from stages.definition.spec import CycleSpec
from stages.engine.context import (
    Ctx,
    Outcome,
    _add_milestones,
    _audit,
    _ctx,
    _dept,
    _fingerprint,
    _gate,
    _item,
    _label,
    _milestone,
    _replayed,
    _require_coordinator,
    _set_status,
    _state,
    _waiting_for,
    facts_for,
)
from stages.engine.propagation import _finish
from stages.ground.errors import PlancycleError, TransitionError
from stages.ground.i18n import Msg
from stages.rules.gates import evaluate
from stages.rules.identity import Actor, Forbidden
from stages.rules.status import DONE, SETTLED
from stages.store.models import Decision, Item, Milestone, Submission
from stages.store.runs import find_run


def propose(session: Session, spec: CycleSpec, *, dept: str, title: str, as_of=None, note: str | None = None,
            by: str | None = None, key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """A department proposes a 专项规划 (立项建议): a new item following the special-plan lifecycle."""
    ctx = _ctx(session, spec, by or dept, as_of, flow_run_id, "propose", "")
    lead = _dept(spec, dept)
    title = (title or "").strip()
    if not title:
        raise PlancycleError("engine.proposal_needs_title")
    request = {"dept": lead, "title": title, "note": note}
    key = key or f"propose:{lead}:{title}"
    if not ctx.actor.can_coordinate and ctx.by != lead:
        raise Forbidden("engine.propose_for_other", by=ctx.by, lead=lead)
    if _replayed(ctx, key, request):
        return ctx.outcome
    _special_plans(spec)  # refuses a cycle without the track
    closing = spec.task_role("special_plan_confirmation")
    if closing is not None:
        confirm = session.exec(select(Milestone).where(Milestone.run_id == ctx.run.id,
                                                       Milestone.item_key == closing[0],
                                                       Milestone.ms_id == closing[1])).first()
        if confirm is not None and confirm.status in DONE:
            raise TransitionError("engine.proposals_closed", name=confirm.name)
    item = _new_special_plan(ctx, [lead], [], title, note)
    ctx.outcome.target = item.key
    _audit(ctx, "special_plan.proposed", item.key, why=note, data={"request": request, "title": title}, key=key)
    ctx.outcome.message = Msg("engine.proposed", item=item.key, lead=lead, title=title)
    return _finish(ctx)


def _new_special_plan(ctx: Ctx, lead: list[str], cooperating: list[str], title: str, note: str | None) -> Item:
    """A 专项规划 item, its proposal handed in now (by its first lead unit): proposed at run time, or listed."""
    session, spec = ctx.session, ctx.spec
    lc = _special_plans(spec)
    n = len(session.exec(select(Item.id).where(Item.run_id == ctx.run.id, Item.kind == "special_plan")).all()) + 1
    item = Item(run_id=ctx.run.id, key=f"{spec.key_prefix('special_plan')}{n:02d}", kind="special_plan", title=title,
                stage=lc.stage, lead=lead, cooperating=cooperating, created_at=ctx.as_of)
    session.add(item)
    session.flush()
    _add_milestones(ctx, item, lc.milestones)
    first = session.exec(select(Milestone).where(Milestone.item_id == item.id, Milestone.seq == 0)).one()
    first.status, first.opened_at, first.submitted_at = "submitted", ctx.as_of, ctx.as_of
    session.add(first)
    session.add(Submission(run_id=ctx.run.id, milestone_id=first.id, round=1, submitted_by=lead[0],
                           submitted_at=ctx.as_of, note=note or title, files=[],
                           fingerprint=_fingerprint({"dept": lead[0], "title": title, "note": note})))
    return item


def _special_plans(spec: CycleSpec):
    """The special-plan lifecycle, or a refusal saying this cycle has no such track."""
    lc = spec.lifecycles.get("special_plan")
    if lc is None:
        raise PlancycleError("engine.no_special_plans", cycle=spec.id)
    return lc


def register(session: Session, spec: CycleSpec, *, confirm: list[str], reject: list[str] | None = None, by: Actor | str | None = None,
             as_of=None, reason: str | None = None, key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """立项确认: confirm the listed proposals (they follow the lifecycle) and reject the others named."""
    reject = list(reject or [])
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "register", "special_plans")
    request = {"confirm": sorted(confirm), "reject": sorted(reject), "reason": reason}
    key = key or f"register:{_fingerprint(request)}"
    _require_coordinator(ctx, "engine.coordinator_only.register")
    if _replayed(ctx, key, request):
        return ctx.outcome
    if not confirm and not reject:
        raise PlancycleError("engine.register_nothing")
    both = set(confirm) & set(reject)
    if both:
        raise PlancycleError("engine.register_both", item=sorted(both)[0])
    if reject and not (reason and reason.strip()):
        raise PlancycleError("engine.reject_needs_reason")
    _special_plans(spec)
    reg_spec = spec.role_milestone("special_plan", "registration")
    if reg_spec is None:
        raise PlancycleError("engine.no_registration_role")
    if reg_spec.accept_requires:
        res = evaluate(spec, reg_spec.accept_requires, facts_for(session, ctx.run))
        if not res.ok:
            raise TransitionError("engine.register_gate_not_met", gate=_gate(spec, reg_spec.accept_requires),
                                  why=res.why())
    for key_ in confirm + reject:
        it = _item(ctx, key_)
        if it.kind != "special_plan":
            raise PlancycleError("engine.not_special_plan", item=key_, kind=it.kind)
        if it.status != "active":
            raise TransitionError("engine.already_rejected", item=key_)
        reg = _milestone(ctx, key_, reg_spec.id)
        if reg.status in DONE:
            raise TransitionError("engine.already_decided", item=key_, name=reg.name, state=_state(reg.status))
    for key_ in confirm:
        it = _item(ctx, key_)
        for m in session.exec(select(Milestone).where(Milestone.item_id == it.id).order_by(Milestone.seq)):
            if m.ms_id == reg_spec.id:
                _set_status(ctx, m, "complete")
                session.add(Decision(run_id=ctx.run.id, milestone_id=m.id, kind="register", by=ctx.by, at=ctx.as_of,
                                     comments="确认立项"))
                break
            if m.status not in SETTLED:  # the proposal is accepted by its confirmation (an untriggered step stays)
                _set_status(ctx, m, "complete")
                _audit(ctx, "milestone.completed", f"{m.item_key}:{m.ms_id}", why="立项确认")
        _audit(ctx, "special_plan.registered", key_)
    for key_ in reject:
        it = _item(ctx, key_)
        it.status = "rejected"
        session.add(it)
        for m in session.exec(select(Milestone).where(Milestone.item_id == it.id)):
            if m.status not in DONE:  # every step still to come, optional ones included, is excused
                _set_status(ctx, m, "waive")
            if m.ms_id == reg_spec.id:  # shown on the plan's own page: why it was not confirmed
                session.add(Decision(run_id=ctx.run.id, milestone_id=m.id, kind="reject", by=ctx.by, at=ctx.as_of,
                                     subject=key_, comments=reason))
        _audit(ctx, "special_plan.rejected", key_, why=reason)
    _audit(ctx, "special_plans.decided", "special_plans", why=reason, data={"request": request}, key=key)
    ctx.outcome.message = Msg("engine.registered", confirmed=len(confirm), rejected=len(reject))
    ctx.outcome.notices.append({"kind": "special_plan_registration", "to": sorted({*_leads(ctx, confirm + reject)}),
                                "about": "special_plans", "confirmed": confirm, "rejected": reject, "reason": reason})
    return _finish(ctx)


def _leads(ctx: Ctx, keys):
    for k in keys:
        yield from _item(ctx, k).lead


def assign_contractor(session: Session, spec: CycleSpec, *, topic: str, contractor: str, contact: str, by: Actor | str | None = None,
                      as_of=None, key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """Record a topic's 承接单位 and its contact; for a tendered topic this completes 确定承接单位."""
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "assign_contractor", topic)
    it = _item(ctx, topic)
    if it.kind != "topic":
        raise PlancycleError("engine.not_topic", item=topic, kind=it.kind)
    contractor, contact = (contractor or "").strip(), (contact or "").strip()
    if not contractor or not contact:
        raise PlancycleError("engine.contractor_incomplete", topic=topic)
    request = {"topic": topic, "contractor": contractor, "contact": contact}
    key = key or f"contractor:{topic}"
    _require_coordinator(ctx, "engine.coordinator_only.contractor", topic=topic)
    if _replayed(ctx, key, request):
        return ctx.outcome
    it.contractor, it.contractor_contact = contractor, contact
    session.add(it)
    choice = spec.role_milestone("topic", "contractor_choice")
    if it.open_call and choice is not None:
        m = _milestone(ctx, topic, choice.id)
        if m.status not in ("open", "submitted", "returned"):
            raise TransitionError("engine.contractor_not_now", topic=topic, milestone=_label(m),
                                  state=_state(m.status, _waiting_for(ctx, m, it) if m.status == "pending" else None))
        _set_status(ctx, m, "complete")
        session.add(Decision(run_id=ctx.run.id, milestone_id=m.id, kind="accept", by=ctx.by, at=ctx.as_of,
                             comments=f"承接单位：{contractor}（{contact}）"))
    _audit(ctx, "contractor.assigned", topic, data={"request": request}, key=key)
    ctx.outcome.notices.append({"kind": "contractor_assigned", "about": topic})
    ctx.outcome.message = Msg("engine.contractor_assigned", topic=topic, contractor=contractor)
    return _finish(ctx)


# -- what a run owes, for gates and funding -----------------------------------------------------------------------
def funding_due(session: Session, spec: CycleSpec, topic: str) -> list[dict]:
    """分期拨付: the tranches of a topic's fee that its accepted milestones have made payable."""
    run = find_run(session, spec.id)
    done = {m.ms_id for m in session.exec(select(Milestone).where(Milestone.run_id == run.id, Milestone.item_key == topic))
            if m.status in DONE}
    return [{"name": f.name, "share": f.share, "milestone": f.milestone, "payable": f.milestone in done}
            for f in spec.file.funding]
