"""What a move sets in motion (``_propagate``): milestones that open, milestones a gate completes, stages an
automatic gate advances, notices that fall due; ``_finish`` settles it at the end of every move.
"""

from __future__ import annotations

from sqlmodel import select

from stages.engine.context import Ctx, Outcome, _audit, _dep_key, _everyone, _set_status, facts_for, ms_spec
from stages.rules.gates import evaluate
from stages.rules.status import Status
from stages.store.models import AuditEvent, Decision, Item, Milestone, StageState


def _propagate(ctx: Ctx) -> None:
    """Run to a fixed point: completes_when gates, milestones that can open, automatic stage exits."""
    session, spec, run = ctx.session, ctx.spec, ctx.run
    for _round in range(50):
        changed = False
        facts = facts_for(session, run)
        stage_status = {s.stage_id: s.status for s in session.exec(select(StageState).where(StageState.run_id == run.id))}
        items = {i.key: i for i in session.exec(select(Item).where(Item.run_id == run.id))}
        unfinished = session.exec(select(Milestone).where(Milestone.run_id == run.id,
                                                          Milestone.status.in_(["pending", "open", "submitted", "returned"]))
                                  .order_by(Milestone.due_date, Milestone.id)).all()
        for m in unfinished:
            item = items[m.item_key]
            if item.status != "active":
                continue
            mspec = ms_spec(spec, item.kind, m.item_key, m.ms_id)
            if mspec.completes_when and evaluate(spec, mspec.completes_when, facts).ok:
                _set_status(ctx, m, "complete")
                session.add(Decision(run_id=run.id, milestone_id=m.id, kind="complete", by="system", at=ctx.as_of,
                                     comments=f"gate {mspec.completes_when} met"))
                _audit(ctx, "milestone.completed", f"{m.item_key}:{m.ms_id}", why=f"gate {mspec.completes_when} met")
                ctx.outcome.completed.append(f"{m.item_key}:{m.ms_id}")
                facts.milestones[(m.item_key, m.ms_id)] = Status.ACCEPTED
                changed = True
                continue
            if m.status != "pending" or stage_status.get(m.stage) not in ("open", "closed"):
                continue
            if not all(facts.done(*_dep_key(m.item_key, d)) for d in mspec.deps):
                continue
            if mspec.opens_when:
                res = evaluate(spec, mspec.opens_when, facts)
                if not res.ok:
                    continue
                if not spec.gate(mspec.opens_when).automatic:
                    _gate_ready(ctx, mspec.opens_when, f"{m.item_key}:{m.ms_id} can be opened")
                    continue
            _open(ctx, m, item)
            facts.milestones[(m.item_key, m.ms_id)] = Status.OPEN
            changed = True
        # the current stage's exit gate
        if run.status == "active":
            st = spec.stage(run.current_stage)
            if st.exit_gate and evaluate(spec, st.exit_gate, facts).ok:
                if spec.gate(st.exit_gate).automatic:
                    _advance_stage(ctx, reason=None, automatic=True)
                    changed = True
                else:
                    _gate_ready(ctx, st.exit_gate, f"{st.name} can be closed: `plancycle advance`")
        if not changed:
            return
    raise RuntimeError("propagation did not settle in 50 rounds")  # a spec the loader should have refused


def _finish(ctx: Ctx) -> Outcome:
    """Settle what the move set in motion. What it calls for on paper (drafts of 公文, records, messages) is
    decided from the outcome by ``stages.paperwork.drafting``, which the adapters call in the same transaction."""
    _propagate(ctx)
    return ctx.outcome


def _gate_ready(ctx: Ctx, gate_id: str, what: str) -> None:
    key = f"gate-ready:{gate_id}"
    exists = ctx.session.exec(select(AuditEvent.id).where(AuditEvent.run_id == ctx.run.id,
                                                          AuditEvent.idem_key == key)).first()
    if exists is None:
        gate = ctx.spec.gate(gate_id)
        _audit(ctx, "gate.ready", gate_id, why=what, data={"request": {"gate": gate_id}}, key=key)
        ctx.outcome.gates_ready.append(gate_id)
        ctx.outcome.notices.append({"kind": "gate_ready", "to": [ctx.spec.coordinator.short],
                                    "about": f"{gate.name}：{what}"})


def _open(ctx: Ctx, m: Milestone, item: Item) -> None:
    _set_status(ctx, m, "open")
    _audit(ctx, "milestone.opened", f"{m.item_key}:{m.ms_id}", data={"due": m.due_date.isoformat(), "owner": m.owner})
    ctx.outcome.opened.append(f"{m.item_key}:{m.ms_id}")
    mspec = ms_spec(ctx.spec, item.kind, m.item_key, m.ms_id)
    ctx.outcome.notices.append({"kind": "milestone_opened", "to": [m.owner], "about": f"{m.item_key}:{m.ms_id}",
                                "due": m.due_date.isoformat()})
    for kind in mspec.notices:
        ctx.outcome.notices.append({"kind": kind, "to": [m.owner, *item.cooperating], "about": f"{m.item_key}:{m.ms_id}",
                                    "due": m.due_date.isoformat()})


def _advance_stage(ctx: Ctx, reason: str | None, automatic: bool = False) -> None:
    spec, run, session = ctx.spec, ctx.run, ctx.session
    states = {s.stage_id: s for s in session.exec(select(StageState).where(StageState.run_id == run.id))}
    cur = states[run.current_stage]
    cur.status, cur.closed_at, cur.override_reason = "closed", ctx.as_of, reason
    session.add(cur)
    idx = spec.stage_index(run.current_stage)
    if idx + 1 < len(spec.stages):
        nxt = spec.stages[idx + 1]
        st = states[nxt.id]
        st.status, st.opened_at = "open", ctx.as_of
        session.add(st)
        transition_text = f"{run.current_stage}→{nxt.id}"
        run.current_stage = nxt.id
        ctx.outcome.notices.append({"kind": "stage_opened", "to": _everyone(spec), "about": nxt.id})
    else:
        transition_text = f"{run.current_stage}→complete"
        run.status = "complete"
    session.add(run)
    _audit(ctx, "stage.advanced", transition_text, why=reason,
           data={"automatic": automatic, "override": reason is not None})
    ctx.outcome.stages.append(transition_text)
