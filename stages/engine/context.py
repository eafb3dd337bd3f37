"""What every move shares: the acting context, the audit and idempotency, lookups, a milestone's status.

Every move takes a ``Session`` and an explicit ``as_of``; none reads the clock, none commits: the adapter (CLI or
flow) commits once, so a refused move changes nothing. Does not own: the status machine (``stages.rules.status``),
gate logic (``stages.rules.gates``), reading the board (``stages.views.board``), what a move sets in motion
(``stages.engine.propagation``).

Idempotent by key: every move writes one audit event carrying an idempotency key and the request. Repeating the
same request with the same key changes nothing and answers ``changed=False``; the same key with a different
request is refused. Default keys are natural ones ("submit:topic-07:kickoff:round1:<files>"), so a double
click or a retried flow run is harmless, while a resubmission after a return is a new round.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from sqlmodel import Session, select

from stages.definition.calendar import WorkCalendar, calendar_for
from stages.definition.spec import CycleSpec, MilestoneSpec
from stages.ground.clock import as_datetime, now
from stages.ground.errors import IdempotencyConflict, NotFound, PlancycleError
from stages.ground.i18n import Msg, render
from stages.rules.gates import Facts, facts_from
from stages.rules.identity import SYSTEM, Actor, Forbidden, department_short, resolve_actor
from stages.rules.status import Status, transition
from stages.store.models import AuditEvent, CycleRun, Decision, Item, Milestone, StageState
from stages.store.runs import find_run


@dataclass
class Outcome:
    """What a move did, for the adapter to print, emit as events and turn into notices."""

    action: str
    target: str
    changed: bool = True
    message: "str | Msg" = ""  # a Msg (rendered in the reader's language), or "" for a move that says nothing
    opened: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    gates_ready: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)  # "research→drafting"
    notices: list[dict] = field(default_factory=list)  # notices due: {kind, to, about}
    audit_ids: list[int] = field(default_factory=list)
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """For ``--json`` and the flows: ``message`` as text in the reader's language, ``message_code`` its code."""
        out = {k: getattr(self, k) for k in ("action", "target", "changed", "message", "opened", "completed",
                                              "gates_ready", "stages", "notices", "audit_ids", "data")}
        out["message"] = render(self.message)
        out["message_code"] = self.message.code if isinstance(self.message, Msg) else None
        return out


@dataclass
class Ctx:
    session: Session
    spec: CycleSpec
    run: CycleRun
    as_of: dt.datetime
    by: str
    cal: WorkCalendar
    flow_run_id: str | None
    outcome: Outcome
    actor: Actor = SYSTEM


def _ctx(session: Session, spec: CycleSpec, by, as_of, flow_run_id: str | None, action: str,
         target: str) -> Ctx:
    """Everything a move needs, after three checks that hold for every move: the acting identity is known and may
    change things, the spec is the run's, and ``as_of`` is not before the run began.

    Takes the run's row lock first (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the write transaction began
    with ``BEGIN IMMEDIATE``): moves on one run are serialised, so a gate that two concurrent moves complete is
    seen complete by exactly one of them, and its consequences happen exactly once.
    """
    run = find_run(session, spec.id)
    run = session.exec(select(CycleRun).where(CycleRun.id == run.id).with_for_update()
                       .execution_options(populate_existing=True)).one()
    if not spec.made(run.spec_checksum) and run.spec_version == spec.version:
        raise PlancycleError("engine.spec_changed", path=spec.path, version=run.spec_version)
    actor = resolve_actor(spec, by)
    if actor.role == "leader":
        raise Forbidden("engine.leader_view_only", who=actor.label)
    when = as_datetime(as_of)
    if when < run.created_at.replace(hour=0, minute=0, second=0):
        raise PlancycleError("engine.before_run", when=f"{when:%Y-%m-%d %H:%M}", began=f"{run.created_at:%Y-%m-%d}")
    return Ctx(session, spec, run, when, actor.dept or "system", calendar_for(spec), flow_run_id,
               Outcome(action, target), actor)


def _dept(spec: CycleSpec, name: str) -> str:
    return name if name == "system" else department_short(spec, name)


def _require_coordinator(ctx: Ctx, what: str, /, **params):
    """Refuse anyone but the coordinator. ``what`` is the refusal's code (``engine.coordinator_only.waive``, with
    its ``params``): never English words, which would sit untranslated inside a Chinese sentence."""
    if not ctx.actor.can_coordinate:
        raise Forbidden(what, who=ctx.actor.label, coordinator=ctx.spec.coordinator.short, **params)


# -- audit and idempotency ----------------------------------------------------------------------------------------
def _audit(ctx: Ctx, action: str, target: str, why: str | None = None, data: dict | None = None,
           key: str | None = None) -> AuditEvent:
    data = dict(data or {})
    if ctx.actor.role != "system":
        data.setdefault("actor", ctx.actor.as_record())
    ev = AuditEvent(run_id=ctx.run.id, at=ctx.as_of, recorded_at=now(), actor=ctx.actor.label, action=action,
                    target=target, why=why, data=data, flow_run_id=ctx.flow_run_id, idem_key=key,
                    actor_user=None if ctx.actor.role == "system" else ctx.actor.user)
    ctx.session.add(ev)
    ctx.session.flush()
    ctx.outcome.audit_ids.append(ev.id)
    return ev


def _replayed(ctx: Ctx, key: str, request: dict) -> bool:
    """True when this exact request was already recorded under ``key``; refuses a different request."""
    prior = ctx.session.exec(select(AuditEvent).where(AuditEvent.run_id == ctx.run.id,
                                                       AuditEvent.idem_key == key)).first()
    if prior is None:
        return False
    if prior.data.get("request") != request:
        raise IdempotencyConflict("engine.idempotency_conflict", key=key,
                                  request=json.dumps(prior.data.get("request"), ensure_ascii=False))
    ctx.outcome.changed = False
    ctx.outcome.message = Msg("engine.already_recorded", at=f"{prior.at:%Y-%m-%d %H:%M}", actor=prior.actor)
    ctx.outcome.audit_ids.append(prior.id)
    return True


def _fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:16]


# -- lookups -----------------------------------------------------------------------------------------------------
def _item(ctx: Ctx, key: str) -> Item:
    it = ctx.session.exec(select(Item).where(Item.run_id == ctx.run.id, Item.key == key)).first()
    if it is None:
        raise NotFound("engine.unknown_item", item=key)
    return it


def _milestone(ctx: Ctx, item_key: str, ms: str) -> Milestone:
    item = _item(ctx, item_key)
    rows = ctx.session.exec(select(Milestone).where(Milestone.item_id == item.id)).all()
    for m in rows:
        if ms in (m.ms_id, m.name):
            return m
    raise NotFound("engine.unknown_milestone", item=item_key, milestone=ms, known=[f"{m.ms_id} {m.name}" for m in rows])


def ms_spec(spec: CycleSpec, kind: str, item_key: str, ms_id: str) -> MilestoneSpec:
    return spec.milestone_spec(kind, item_key, ms_id)


def _label(m: Milestone) -> str:
    return f"{m.item_key} {m.name}"


def _state(status: str, waiting_for: str | None = None) -> Msg:
    """A milestone's state, said in a refusal ("已报送待审" / "submitted, waiting for review")."""
    if status == "pending" and waiting_for:
        return Msg("engine.state.pending_waiting", waiting=waiting_for)
    return Msg(f"engine.state.{status}")


def _gate(spec: CycleSpec, gate_id: str) -> Msg:
    """A gate named in a refusal: its name and id."""
    return Msg("engine.gate", gate=gate_id, name=spec.gate(gate_id).name)


def _owner(spec: CycleSpec, owner: str, lead: tuple[str, ...] | list[str]) -> str:
    if owner == "lead":
        return lead[0]
    if owner == "coordinator":
        return spec.coordinator.short
    return spec.department(owner).short


def _set_status(ctx: Ctx, m: Milestone, event: str, waiting_for: str | None = None) -> None:
    new = transition(m.status, event, _label(m), waiting_for)
    m.status = new.value
    if new is Status.OPEN:
        m.opened_at = ctx.as_of
    elif new is Status.SUBMITTED:
        m.submitted_at = ctx.as_of
    elif new in (Status.ACCEPTED, Status.RETURNED, Status.WAIVED):
        m.decided_at = ctx.as_of
    ctx.session.add(m)
    if m.status == "accepted":  # what an accepted step calls for (a 请示 upward) is the paperwork's
        ctx.outcome.notices.append({"kind": "milestone_accepted", "about": f"{m.item_key}:{m.ms_id}",
                                    "item": m.item_key, "milestone": m.ms_id, "request": True})


# -- facts and what a milestone waits for -----------------------------------------------------------------------
def facts_for(session: Session, run: CycleRun) -> Facts:
    items = session.exec(select(Item.key, Item.kind, Item.status).where(Item.run_id == run.id)).all()
    rows = session.exec(select(Milestone.item_key, Milestone.ms_id, Milestone.status)
                        .where(Milestone.run_id == run.id)).all()
    approvals = session.exec(select(Decision.body, Decision.subject)
                             .where(Decision.run_id == run.id, Decision.kind == "approve")).all()
    return facts_from(items, rows, approvals)


def _dep_key(item_key: str, dep: str) -> tuple[str, str]:
    return tuple(dep.split(":", 1)) if ":" in dep else (item_key, dep)


def _waiting_for(ctx: Ctx, m: Milestone, it: Item) -> str:
    mspec = ms_spec(ctx.spec, it.kind, m.item_key, m.ms_id)
    facts = facts_for(ctx.session, ctx.run)
    missing = [f"{k}:{d}" if k != m.item_key else d for k, d in (_dep_key(m.item_key, d) for d in mspec.deps)
               if not facts.done(k, d)]
    stage = ctx.session.exec(select(StageState).where(StageState.run_id == ctx.run.id,
                                                      StageState.stage_id == m.stage)).one()
    if stage.status == "pending":
        missing.append(f"stage {ctx.spec.stage(m.stage).name}")
    if mspec.opens_when:
        missing.append(f"gate {mspec.opens_when}")
    return ", ".join(missing) or "its turn"


def _add_milestones(ctx: Ctx, item: Item, milestones) -> None:
    for seq, ms in enumerate(milestones):
        ctx.session.add(Milestone(run_id=ctx.run.id, item_id=item.id, item_key=item.key, ms_id=ms.id, name=ms.name,
                                  stage=ms.stage, seq=seq, owner=_owner(ctx.spec, ms.owner, item.lead),
                                  due_date=ms.due_date, original_due=ms.due_date,
                                  status="dormant" if ms.optional else "pending"))
    ctx.session.flush()


def _everyone(spec: CycleSpec) -> list[str]:
    """Who a stage's opening concerns: every department, and the cycle's groups by their names (各街镇)."""
    return ["各有关部门", *spec.groups]


def notices_config_path(spec: CycleSpec) -> str:
    return spec.notices_path
