"""Services: every move a user can make on a run, with its rules.

Owns: ``init_run``, ``submit``, ``review``, ``waive``, ``approve``, ``advance``, ``open_milestone``,
``extend_deadline``, ``propose``, ``register``, ``assign_contractor``, and what each sets in motion
(``_propagate``: milestones that open, milestones a gate completes, stages an automatic gate advances, notices
that fall due). Each takes a ``Session`` and an explicit ``as_of``; none reads the clock, none commits: the
adapter (CLI or flow) commits once, so a refused move changes nothing. Does not own: the status machine
(``stages.rules.status``), gate logic (``stages.rules.gates``), reading the board (``stages.views.board``).

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
from pathlib import Path

from sqlmodel import Session, select

from stages.definition.calendar import WorkCalendar, calendar_for  # noqa: F401  (services.calendar_for: the adapters' lookup)
from stages.ground.clock import as_datetime, now
from stages.ground.errors import IdempotencyConflict, NotFound, PlancycleError, TransitionError
from stages.rules.gates import Facts, evaluate, facts_from
from stages.rules.identity import SYSTEM, Actor, Forbidden, department_short, resolve_actor
from stages.store.models import AuditEvent, CycleRun, Decision, Figure, Item, Milestone, StageState, Submission
from stages.definition.spec import CycleSpec, MilestoneSpec
from stages.rules.status import DONE, SETTLED, Status, describe, transition
from stages.store.runs import find_run  # noqa: F401  (services.find_run: the adapters' lookup)


@dataclass
class Outcome:
    """What a move did, for the adapter to print, emit as events and turn into notices."""

    action: str
    target: str
    changed: bool = True
    message: str = ""
    opened: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    gates_ready: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)  # "research→drafting"
    notices: list[dict] = field(default_factory=list)  # notices due: {kind, to, about}
    audit_ids: list[int] = field(default_factory=list)
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("action", "target", "changed", "message", "opened", "completed",
                                               "gates_ready", "stages", "notices", "audit_ids", "data")}


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
        raise PlancycleError(f"{spec.path} changed since this run was created from version {run.spec_version}; "
                             "bump its version (and migrate the run) or restore the file")
    actor = resolve_actor(spec, by)
    if actor.role == "leader":
        raise Forbidden(f"{actor.label} 为领导账号，只能查看，不能办理（{action}）")
    when = as_datetime(as_of)
    if when < run.created_at.replace(hour=0, minute=0, second=0):
        raise PlancycleError(f"as_of {when:%Y-%m-%d %H:%M} is before this run began ({run.created_at:%Y-%m-%d}); "
                             "nothing changed")
    return Ctx(session, spec, run, when, actor.dept or "system", calendar_for(spec), flow_run_id,
               Outcome(action, target), actor)


def _dept(spec: CycleSpec, name: str) -> str:
    return name if name == "system" else department_short(spec, name)


def _require_coordinator(ctx: Ctx, what: str):
    if not ctx.actor.can_coordinate:
        coord = ctx.spec.coordinator.short
        raise Forbidden(f"{ctx.actor.label} cannot {what}: only the coordinator ({coord}) can")


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
        raise IdempotencyConflict(f"{key} was already recorded with a different request "
                                  f"({json.dumps(prior.data.get('request'), ensure_ascii=False)})")
    ctx.outcome.changed = False
    ctx.outcome.message = f"already recorded on {prior.at:%Y-%m-%d %H:%M} by {prior.actor}; nothing changed"
    ctx.outcome.audit_ids.append(prior.id)
    return True


def _fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:16]


# -- lookups -----------------------------------------------------------------------------------------------------
def _item(ctx: Ctx, key: str) -> Item:
    it = ctx.session.exec(select(Item).where(Item.run_id == ctx.run.id, Item.key == key)).first()
    if it is None:
        raise NotFound(f"unknown item {key!r} (see `plancycle status` for the items of this cycle)")
    return it


def _milestone(ctx: Ctx, item_key: str, ms: str) -> Milestone:
    item = _item(ctx, item_key)
    rows = ctx.session.exec(select(Milestone).where(Milestone.item_id == item.id)).all()
    for m in rows:
        if ms in (m.ms_id, m.name):
            return m
    raise NotFound(f"{item_key} has no milestone {ms!r} (it has: " + ", ".join(f"{m.ms_id} {m.name}" for m in rows) + ")")


def ms_spec(spec: CycleSpec, kind: str, item_key: str, ms_id: str) -> MilestoneSpec:
    return spec.milestone_spec(kind, item_key, ms_id)


def _label(m: Milestone) -> str:
    return f"{m.item_key} {m.name}"


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


# -- facts and propagation ---------------------------------------------------------------------------------------
def facts_for(session: Session, run: CycleRun) -> Facts:
    items = session.exec(select(Item.key, Item.kind, Item.status).where(Item.run_id == run.id)).all()
    rows = session.exec(select(Milestone.item_key, Milestone.ms_id, Milestone.status)
                        .where(Milestone.run_id == run.id)).all()
    approvals = session.exec(select(Decision.body, Decision.subject)
                             .where(Decision.run_id == run.id, Decision.kind == "approve")).all()
    return facts_from(items, rows, approvals)


def _dep_key(item_key: str, dep: str) -> tuple[str, str]:
    return tuple(dep.split(":", 1)) if ":" in dep else (item_key, dep)


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


def notices_config_path(spec: CycleSpec) -> str:
    return spec.notices_path


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


def _everyone(spec: CycleSpec) -> list[str]:
    """Who a stage's opening concerns: every department, and the cycle's groups by their names (各街镇)."""
    return ["各有关部门", *spec.groups]


# -- init ----------------------------------------------------------------------------------------------------------
def init_run(session: Session, spec: CycleSpec, *, as_of=None, by: Actor | str | None = None) -> Outcome:
    """Create the run for ``spec``: stages, every static item and milestone; open the first stage.

    Running it again with the same spec changes nothing. A different version of the same cycle is refused: a
    run's spec does not change under it.
    """
    existing = session.exec(select(CycleRun).where(CycleRun.spec_id == spec.id)).first()
    if existing is not None:
        if not spec.made(existing.spec_checksum):
            raise PlancycleError(f"a run of {spec.id} (version {existing.spec_version}) already exists and "
                                 f"{spec.path} differs from the file it was created from; nothing changed")
        out = Outcome("init", spec.id, changed=False, message=f"run {spec.id} already exists; nothing changed")
        return out
    when = as_datetime(as_of)
    run = CycleRun(spec_id=spec.id, spec_version=spec.version, spec_path=str(Path(spec.path).resolve()),
                   spec_checksum=spec.checksum, title=spec.file.title, current_stage=spec.stages[0].id,
                   created_at=when)
    session.add(run)
    session.flush()
    actor = resolve_actor(spec, by)
    if not actor.can_coordinate:
        raise Forbidden(f"{actor.label} cannot create a run: only the coordinator ({spec.coordinator.short}) can")
    ctx = Ctx(session, spec, run, when, actor.dept or spec.coordinator.short, calendar_for(spec), None,
              Outcome("init", spec.id), actor)
    for i, st in enumerate(spec.stages):
        session.add(StageState(run_id=run.id, stage_id=st.id, seq=i, status="open" if i == 0 else "pending",
                               opened_at=when if i == 0 else None))
    for spec_item in spec.items:
        item = Item(run_id=run.id, key=spec_item.key, kind=spec_item.kind, title=spec_item.title, stage=spec_item.stage,
                    lead=list(spec_item.lead), cooperating=list(spec_item.cooperating), no=spec_item.no,
                    open_call=spec_item.open_call, created_at=when,
                    contractor_how=None if spec_item.open_call is None else
                    ("open_call" if spec_item.open_call else "direct_commission"))
        session.add(item)
        session.flush()
        _add_milestones(ctx, item, spec_item.milestones)
    _audit(ctx, "cycle.created", spec.id, data={"request": {"spec": spec.id, "version": spec.version},
                                                "checksum": spec.checksum}, key=f"init:{spec.id}")
    for sp in spec.file.special_plans:  # listed in the file: as if proposed by the first lead unit, at the start
        lead = [spec.department(d).short for d in sp.lead]
        coop = [spec.department(d).short if d not in spec.groups else d for d in sp.cooperating]
        item = _new_special_plan(ctx, lead, coop, sp.title.strip(), sp.note)
        _audit(ctx, "special_plan.listed", item.key, why=sp.ref,
               data={"request": {"title": sp.title, "lead": lead}, "title": sp.title})
    ctx.outcome.notices.append({"kind": "cycle_created", "about": spec.id})
    ctx.outcome.notices.append({"kind": "stage_opened", "to": _everyone(spec), "about": spec.stages[0].id})
    ctx.outcome.message = f"created run {spec.id} v{spec.version}: {len(spec.items)} items"
    return _finish(ctx)


def _add_milestones(ctx: Ctx, item: Item, milestones) -> None:
    for seq, ms in enumerate(milestones):
        ctx.session.add(Milestone(run_id=ctx.run.id, item_id=item.id, item_key=item.key, ms_id=ms.id, name=ms.name,
                                  stage=ms.stage, seq=seq, owner=_owner(ctx.spec, ms.owner, item.lead),
                                  due_date=ms.due_date, original_due=ms.due_date,
                                  status="dormant" if ms.optional else "pending"))
    ctx.session.flush()


# -- moves ---------------------------------------------------------------------------------------------------------
def _files(session: Session, entries) -> list[dict]:
    """Attachments as ``{name, sha256, size, type}``, every one in the attachment store.

    An entry already stored by the adapter (a dict with its digest: the web's upload, the CLI's ``--file``) is
    checked to be there; a path (a direct call from Python) is copied into the store first.
    """
    from stages.store.files import FileStore

    store = FileStore.for_url(str(session.get_bind().url))
    out = []
    for e in entries or ():
        if hasattr(e, "model_dump"):
            e = e.model_dump()
        if isinstance(e, dict):
            if not store.has(e.get("sha256", "")):
                raise PlancycleError(f"attachment {e.get('name')!r} is not in the store at {store.root}; upload it again")
            out.append({"name": str(e.get("name")), "sha256": e["sha256"], "size": int(e.get("size") or 0),
                        "type": str(e.get("type") or "")})
        else:
            out.append(store.put_path(e))
    return out


REPORT_PARTS = ("progress", "problems", "next")  # 进展, 存在问题, 下步安排


def figure_subjects(spec: CycleSpec, it: Item, mspec: MilestoneSpec) -> dict[str, dict]:
    """What a submission of ``mspec`` may carry figures for, by the names a user types: the milestone's own
    targets (by ``of``; a lone target also as ""), the targets of every task its lead unit leads (a periodic
    report carries the year-to-date figures: ``task:of``, or ``of`` alone where one task of the unit has it), and,
    in a yearly report, the cycle's indicators the unit reports (by id and name). Each → {kind, of, unit};
    kind ``ambiguous`` (with ``tasks``) for a name several of the unit's tasks share."""
    out: dict[str, dict] = {}
    for t in mspec.targets:
        out[t.of or ""] = {"kind": "target", "of": t.of or "", "unit": t.unit}
    if len(mspec.targets) == 1:
        out[""] = out[mspec.targets[0].of or ""]
    units = set(it.lead)
    own = set(out)
    tasks_of: dict[str, set[str]] = {}
    for other in spec.items:
        if other.kind == "task" and units & set(other.lead):
            for m in other.milestones:
                for t in m.targets:
                    if t.of:  # by task:name, and by the name alone where only one task of the unit uses it
                        tasks_of.setdefault(t.of, set()).add(other.key)
                        out.setdefault(t.of, {"kind": "target", "of": t.of, "unit": t.unit})
                        out.setdefault(f"{other.key}:{t.of}", {"kind": "target", "of": f"{other.key}:{t.of}",
                                                                "unit": t.unit})
    for name, keys in tasks_of.items():
        if len(keys) > 1 and name not in own:  # 全年目标 of two tasks: which one is meant must be said
            out[name] = {"kind": "ambiguous", "of": name, "unit": "", "tasks": sorted(keys)}
    if mspec.period and mspec.period.isdigit():  # a yearly report: the indicators the unit reports
        for ind in spec.file.indicators:
            if not ind.lead or units & {spec.department(d).short for d in ind.lead}:
                entry = {"kind": "indicator", "of": ind.id, "unit": ind.unit}
                out.setdefault(ind.id, entry)
                out.setdefault(ind.name, entry)
    return out


def _figures(ctx: Ctx, it: Item, m: Milestone, mspec: MilestoneSpec, figures) -> list[dict]:
    """The figures of a submission, checked: each names something this milestone may report, with a number."""
    if not figures:
        return []
    known = figure_subjects(ctx.spec, it, mspec)
    out = []
    for f in figures:
        of = str(f.get("of") or "").strip()
        entry = known.get(of)
        if entry is None:
            names = "、".join(k for k in known if k) or "none (no targets here, no indicators for this unit)"
            said = f"has no figure {of!r} to report" if of else "needs the figure's name (NAME=VALUE)"
            raise PlancycleError(f"{_label(m)} {said}; it may report: {names[:300]}")
        if entry["kind"] == "ambiguous":
            raise PlancycleError(f"figure {of!r} is a target of several tasks ({', '.join(entry['tasks'])}): "
                                 f"name the task, e.g. {entry['tasks'][0]}:{of}")
        try:
            value = float(f["value"])
        except (TypeError, ValueError, KeyError):
            raise PlancycleError(f"figure {of or entry['of']!r}: {f.get('value')!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise PlancycleError(f"figure {of or entry['of']!r}: {f.get('value')!r} is not a number")
        given = (f.get("unit") or "").strip()
        if given and given != (entry["unit"] or ""):  # 21.4家 against a % target would be compared as if it were %
            raise PlancycleError(f"figure {of or entry['of']!r}: the unit is {entry['unit'] or 'none'}, not {given}")
        out.append({"kind": entry["kind"], "of": entry["of"], "value": value, "unit": entry["unit"] or "",
                    "source": f.get("source")})
    return out


def submit(session: Session, spec: CycleSpec, *, item: str, milestone: str, by: Actor | str, as_of=None, files=(),
           note: str | None = None, key: str | None = None, flow_run_id: str | None = None,
           figures: list[dict] | None = None, report: dict | None = None) -> Outcome:
    """A department hands in a milestone's deliverable (first time, or again after a return).

    ``figures``: actual figures, ``[{of, value, unit?, source?}]``, against the milestone's targets, the targets
    of the tasks its unit leads, or the indicators it reports (schema 2); ``report``: a report's parts,
    ``{progress, problems, next}`` (进展, 存在问题, 下步安排)."""
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "submit", f"{item}:{milestone}")
    m = _milestone(ctx, item, milestone)
    it = _item(ctx, item)
    mspec = ms_spec(spec, it.kind, item, m.ms_id)
    attached = _files(session, files)
    checked = _figures(ctx, it, m, mspec, figures)
    parts = None
    if report:
        unknown = [k for k in report if k not in REPORT_PARTS]
        if unknown:
            raise PlancycleError(f"unknown report part {unknown[0]!r}: a report has progress, problems, next")
        parts = {k: str(report[k]).strip() for k in REPORT_PARTS if report.get(k) and str(report[k]).strip()} or None
    request = {"item": item, "milestone": m.ms_id, "files": [f["sha256"] for f in attached], "note": note, "by": ctx.by}
    if checked:
        request["figures"] = [{k: f[k] for k in ("of", "value", "unit", "source")} for f in checked]
    if parts:
        request["report"] = parts
    fp = _fingerprint(request)
    key = key or f"submit:{item}:{m.ms_id}:round{m.returns + 1}:{fp}"
    ctx.outcome.target = f"{item}:{m.ms_id}"
    if not ctx.actor.can_coordinate and not (ctx.by == m.owner or (m.owner in it.lead and ctx.by in it.lead)):
        raise Forbidden(f"{ctx.by} cannot submit {_label(m)}: it is owed by {m.owner}")
    _no_generic_move(ctx, it, m, "submit")
    if _replayed(ctx, key, request):
        return ctx.outcome
    waiting = _waiting_for(ctx, m, it) if m.status == "pending" else None
    _set_status(ctx, m, "submit", waiting)
    sub = Submission(run_id=ctx.run.id, milestone_id=m.id, round=m.returns + 1, submitted_by=ctx.by,
                     submitted_at=ctx.as_of, note=note, files=attached, fingerprint=fp, report=parts)
    session.add(sub)
    if checked:
        session.flush()
        period = mspec.period or m.due_date.isoformat()
        for f in checked:
            session.add(Figure(run_id=ctx.run.id, subject=f"indicator:{f['of']}" if f["kind"] == "indicator"
                               else f"{item}:{m.ms_id}", of=f["of"], period=period, value=f["value"], unit=f["unit"],
                               source=f.get("source"), submission_id=sub.id, by=ctx.by, at=ctx.as_of))
            if f["kind"] == "indicator" and period.isdigit():  # a yearly report's value: a 约束性 one off track → 预警
                from stages.engine.indicators import warning_notice

                warn = warning_notice(spec, spec.indicator(f["of"]), int(period), f["value"])
                if warn:
                    ctx.outcome.notices.append(warn)
    late = ctx.cal.workdays_between(m.due_date, ctx.as_of.date()) if ctx.as_of.date() > m.due_date else 0
    _audit(ctx, "deliverable.submitted", ctx.outcome.target, why=note,
           data={"request": request, "round": sub.round, "files": attached, "workdays_late": late}, key=key)
    ctx.outcome.data = {"round": sub.round, "workdays_late": late, "status": m.status}
    ctx.outcome.message = f"{_label(m)} submitted by {ctx.by}" + (f", {late} working days late" if late else "")
    return _finish(ctx)


def _registration_id(spec: CycleSpec) -> str | None:
    """The special-plan milestone that ``register`` (立项确认) completes: the one with ``role: registration``."""
    m = spec.role_milestone("special_plan", "registration")
    return m.id if m is not None else None


def _no_generic_move(ctx: Ctx, it: Item, m: Milestone, what: str) -> None:
    """立项确认 is a decision with its own move (``register``: the 立项确认通知, the rejections and their reasons);
    it is never submitted or accepted like a deliverable."""
    if it.kind == "special_plan" and m.ms_id == _registration_id(ctx.spec):
        raise TransitionError(f"{_label(m)} is decided by 立项确认 (`plancycle register`, or 协调工具 → 专项规划立项确认), "
                              f"not by {what}")


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


def review(session: Session, spec: CycleSpec, *, item: str, milestone: str, decision: str, by: Actor | str | None = None, as_of=None,
           comments: str | None = None, key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """Accept a submitted deliverable, or return it (退回) with comments for resubmission."""
    if decision not in ("accept", "return"):
        raise PlancycleError(f"decision must be accept or return, not {decision!r}")
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "review", f"{item}:{milestone}")
    m = _milestone(ctx, item, milestone)
    it = _item(ctx, item)
    ctx.outcome.target = f"{item}:{m.ms_id}"
    rounds = len(session.exec(select(Submission.id).where(Submission.milestone_id == m.id)).all())
    request = {"item": item, "milestone": m.ms_id, "decision": decision, "comments": comments, "by": ctx.by}
    key = key or f"review:{item}:{m.ms_id}:round{rounds}:{decision}"
    if not ctx.actor.can_coordinate:
        if not (spec.file.lead_may_review and ctx.by in it.lead):
            raise Forbidden(f"{ctx.by} cannot review {_label(m)}: only the coordinator ({spec.coordinator.short}) "
                            "reviews deliverables")
    _no_generic_move(ctx, it, m, "review")
    if _replayed(ctx, key, request):
        return ctx.outcome
    if decision == "return" and not (comments and comments.strip()):
        raise PlancycleError(f"returning {_label(m)} needs comments saying what to change")
    if decision == "accept":
        mspec = ms_spec(spec, it.kind, m.item_key, m.ms_id)
        if m.status == "submitted" and mspec.accept_requires:
            res = evaluate(spec, mspec.accept_requires, facts_for(session, ctx.run))
            if not res.ok:
                raise TransitionError(f"cannot accept {_label(m)}: gate {mspec.accept_requires} "
                                      f"({spec.gate(mspec.accept_requires).name}) is not met: {res.why()}")
    _set_status(ctx, m, decision)
    if decision == "return":
        m.returns += 1
    session.add(Decision(run_id=ctx.run.id, milestone_id=m.id, kind=decision, by=ctx.by, at=ctx.as_of, comments=comments))
    _audit(ctx, "deliverable.accepted" if decision == "accept" else "deliverable.returned", ctx.outcome.target,
           why=comments, data={"request": request, "round": rounds}, key=key)
    if decision == "return":
        ctx.outcome.notices.append({"kind": "returned", "to": [m.owner], "about": ctx.outcome.target,
                                    "comments": comments})
    ctx.outcome.message = f"{_label(m)} {'accepted' if decision == 'accept' else 'returned: ' + comments}"
    return _finish(ctx)


def waive(session: Session, spec: CycleSpec, *, item: str, milestone: str, by: Actor | str | None = None, reason: str, as_of=None,
          key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """Excuse a milestone (免除) with a reason; it counts as done for every gate."""
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "waive", f"{item}:{milestone}")
    m = _milestone(ctx, item, milestone)
    ctx.outcome.target = f"{item}:{m.ms_id}"
    request = {"item": item, "milestone": m.ms_id, "reason": reason}
    key = key or f"waive:{item}:{m.ms_id}"
    _require_coordinator(ctx, f"waive {_label(m)}")
    if _replayed(ctx, key, request):
        return ctx.outcome
    if not (reason and reason.strip()):
        raise PlancycleError(f"waiving {_label(m)} needs a reason")
    _set_status(ctx, m, "waive")
    session.add(Decision(run_id=ctx.run.id, milestone_id=m.id, kind="waive", by=ctx.by, at=ctx.as_of, comments=reason))
    _audit(ctx, "milestone.waived", ctx.outcome.target, why=reason, data={"request": request}, key=key)
    ctx.outcome.message = f"{_label(m)} waived: {reason}"
    return _finish(ctx)


def approve(session: Session, spec: CycleSpec, *, body: str, subject: str, by: Actor | str | None = None, as_of=None,
            note: str | None = None, key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """Record an approval (e.g. 领导小组同意 the special-plan list); gates waiting on it may open."""
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "approve", f"{body}:{subject}")
    bodies = spec.file.approval_bodies
    body_id = body if body in bodies else next((k for k, v in bodies.items() if v == body), None)
    if body_id is None:
        raise NotFound(f"unknown approval body {body!r} (expected one of {', '.join(bodies)})")
    wanted = _approval_subjects(spec)
    if (body_id, subject) not in wanted:
        options = ", ".join(f"{b} {s}" for b, s in sorted(wanted))
        raise PlancycleError(f"no gate waits for an approval of {subject!r} by {body_id} (gates wait for: {options})")
    ctx.outcome.target = f"{body_id}:{subject}"
    request = {"body": body_id, "subject": subject, "note": note}
    key = key or f"approve:{body_id}:{subject}"
    _require_coordinator(ctx, "record an approval")
    if _replayed(ctx, key, request):
        return ctx.outcome
    session.add(Decision(run_id=ctx.run.id, kind="approve", by=ctx.by, at=ctx.as_of, body=body_id, subject=subject,
                         comments=note))
    session.flush()
    _audit(ctx, "approval.recorded", ctx.outcome.target, why=note, data={"request": request}, key=key)
    ctx.outcome.message = f"{bodies[body_id]} approval of {subject} recorded"
    return _finish(ctx)


def _approval_subjects(spec: CycleSpec) -> set[tuple[str, str]]:
    from stages.rules.gates import predicates

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
    _require_coordinator(ctx, "advance a stage")
    if _replayed(ctx, key, request):
        return ctx.outcome
    if run.status != "active":
        raise TransitionError(f"cannot advance {spec.id}: the cycle is complete")
    if leaving != run.current_stage:
        raise TransitionError(f"cannot leave {leaving}: the cycle is in {run.current_stage}")
    st = spec.stage(run.current_stage)
    if st.exit_gate:
        res = evaluate(spec, st.exit_gate, facts_for(session, run))
        if not res.ok:
            if not (override_reason and override_reason.strip()):
                raise TransitionError(f"cannot leave {st.name}: gate {st.exit_gate} ({spec.gate(st.exit_gate).name}) "
                                      f"is not met: {res.why()}; give --override-reason to force it")
            session.add(Decision(run_id=run.id, kind="override", by=ctx.by, at=ctx.as_of, subject=st.exit_gate,
                                 comments=override_reason))
            _audit(ctx, "gate.overridden", st.exit_gate, why=override_reason, data={"missing": list(res.missing)})
        else:
            override_reason = None
    _audit(ctx, "stage.advance.requested", st.id, why=override_reason, data={"request": request}, key=key)
    _advance_stage(ctx, reason=override_reason)
    ctx.outcome.message = "stage " + ", ".join(ctx.outcome.stages)
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
    _require_coordinator(ctx, f"open {_label(m)}")
    if _replayed(ctx, key, request):
        return ctx.outcome
    if not (reason and reason.strip()):
        raise PlancycleError(f"opening {_label(m)} ahead of its turn needs a reason")
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
    _require_coordinator(ctx, f"trigger {_label(m)}")
    try:
        if _replayed(ctx, key, request):
            return ctx.outcome
    except IdempotencyConflict:  # triggered before, with another reason or deadline
        first = session.exec(select(Decision).where(Decision.milestone_id == m.id, Decision.kind == "trigger")
                             .order_by(Decision.at)).first()
        when = f" on {first.at:%Y-%m-%d} by {first.by}" if first is not None else ""
        raise TransitionError(f"{_label(m)} was already triggered{when}; it is {describe(m.status)}") from None
    if not (reason and reason.strip()):
        raise PlancycleError(f"triggering {_label(m)} needs a reason (what calls for it)")
    if m.status != Status.DORMANT:
        mspec = ms_spec(spec, _item(ctx, item).kind, item, m.ms_id)
        if not mspec.optional:
            raise TransitionError(f"cannot trigger {_label(m)}: it is not optional")
    if due is not None:
        due = dt.date.fromisoformat(due) if isinstance(due, str) else due
        if due < ctx.as_of.date():
            raise PlancycleError(f"the new deadline {due.isoformat()} of {_label(m)} has already passed")
        if spec.last_day and due > spec.last_day:
            raise PlancycleError(f"the new deadline {due.isoformat()} of {_label(m)} is after the cycle's last day "
                                 f"({spec.last_day.isoformat()})")
    elif m.due_date < ctx.as_of.date():
        raise PlancycleError(f"the planned deadline of {_label(m)}, {m.due_date.isoformat()}, has passed: give the "
                             "deadline it now has (--due YYYY-MM-DD)")
    _set_status(ctx, m, "trigger")
    if due is not None and due != m.due_date:
        m.due_date = due
        m.due_version += 1
    session.add(Decision(run_id=ctx.run.id, milestone_id=m.id, kind="trigger", by=ctx.by, at=ctx.as_of,
                         comments=reason))
    _audit(ctx, "milestone.triggered", ctx.outcome.target, why=reason,
           data={"request": request, "due": m.due_date.isoformat()}, key=key)
    ctx.outcome.message = f"{_label(m)} triggered: due {m.due_date.isoformat()}"
    return _finish(ctx)


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
        raise PlancycleError("extend needs exactly one of --days, --workdays or --to")
    if not (reason and reason.strip()):
        raise PlancycleError("extending deadlines needs a reason")
    request = {"items": sorted(items or []), "milestone": milestone, "due_from": str(due_from) if due_from else None,
               "due_to": str(due_to) if due_to else None, "days": days, "workdays": workdays,
               "new_due": str(new_due) if new_due else None, "reason": reason}
    key = key or f"extend:{_fingerprint(request)}"
    ctx.outcome.target = key
    _require_coordinator(ctx, "extend deadlines")
    if _replayed(ctx, key, request):
        return ctx.outcome
    if items:
        for k in items:
            _item(ctx, k)
    plan = extension_plan(session, ctx.run.id, ctx.cal, items=items, milestone=milestone, due_from=due_from,
                          due_to=due_to, days=days, workdays=workdays, new_due=new_due)
    if not plan:
        raise NotFound("no unfinished milestone matches that selection; nothing changed")
    moved = []
    for m, target in plan:
        if target <= m.due_date:
            raise PlancycleError(f"cannot move {_label(m)} from {m.due_date} to {target}: an extension must be later")
        moved.append({"milestone": f"{m.item_key}:{m.ms_id}", "from": m.due_date.isoformat(), "to": target.isoformat()})
        m.due_date = target
        m.due_version += 1
        m.ladder = 0  # a new deadline: its reminder ladder starts again
        session.add(m)
        session.add(Decision(run_id=ctx.run.id, milestone_id=m.id, kind="extend", by=ctx.by, at=ctx.as_of,
                             comments=f"{moved[-1]['from']} → {moved[-1]['to']}: {reason}"))
    _audit(ctx, "deadline.extended", key, why=reason, data={"request": request, "moved": moved}, key=key)
    ctx.outcome.data = {"moved": moved}
    ctx.outcome.message = f"{len(moved)} deadline(s) extended: {reason}"
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


def propose(session: Session, spec: CycleSpec, *, dept: str, title: str, as_of=None, note: str | None = None,
            by: str | None = None, key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """A department proposes a 专项规划 (立项建议): a new item following the special-plan lifecycle."""
    ctx = _ctx(session, spec, by or dept, as_of, flow_run_id, "propose", "")
    lead = _dept(spec, dept)
    title = (title or "").strip()
    if not title:
        raise PlancycleError("a 专项规划 proposal needs a title")
    request = {"dept": lead, "title": title, "note": note}
    key = key or f"propose:{lead}:{title}"
    if not ctx.actor.can_coordinate and ctx.by != lead:
        raise Forbidden(f"{ctx.by} cannot propose a plan on behalf of {lead}")
    if _replayed(ctx, key, request):
        return ctx.outcome
    _special_plans(spec)  # refuses a cycle without the track
    closing = spec.task_role("special_plan_confirmation")
    if closing is not None:
        confirm = session.exec(select(Milestone).where(Milestone.run_id == ctx.run.id,
                                                       Milestone.item_key == closing[0],
                                                       Milestone.ms_id == closing[1])).first()
        if confirm is not None and confirm.status in DONE:
            raise TransitionError(f"cannot propose a 专项规划: {confirm.name} is complete for this cycle")
    item = _new_special_plan(ctx, [lead], [], title, note)
    ctx.outcome.target = item.key
    _audit(ctx, "special_plan.proposed", item.key, why=note, data={"request": request, "title": title}, key=key)
    ctx.outcome.message = f"{item.key} proposed by {lead}: {title}"
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
        raise PlancycleError(f"{spec.id} has no 专项规划 track (no lifecycles.special_plan in its cycle file)")
    return lc


def register(session: Session, spec: CycleSpec, *, confirm: list[str], reject: list[str] | None = None, by: Actor | str | None = None,
             as_of=None, reason: str | None = None, key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """立项确认: confirm the listed proposals (they follow the lifecycle) and reject the others named."""
    reject = list(reject or [])
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "register", "special_plans")
    request = {"confirm": sorted(confirm), "reject": sorted(reject), "reason": reason}
    key = key or f"register:{_fingerprint(request)}"
    _require_coordinator(ctx, "confirm special plans")
    if _replayed(ctx, key, request):
        return ctx.outcome
    if not confirm and not reject:
        raise PlancycleError("立项确认 needs at least one 专项规划 to confirm or reject; nothing was issued")
    both = set(confirm) & set(reject)
    if both:
        raise PlancycleError(f"{sorted(both)[0]} is both confirmed and rejected")
    if reject and not (reason and reason.strip()):
        raise PlancycleError("rejecting a proposal needs a reason")
    _special_plans(spec)
    reg_spec = spec.role_milestone("special_plan", "registration")
    if reg_spec is None:
        raise PlancycleError("the special_plan lifecycle has no milestone with role: registration (立项确认)")
    if reg_spec.accept_requires:
        res = evaluate(spec, reg_spec.accept_requires, facts_for(session, ctx.run))
        if not res.ok:
            raise TransitionError(f"cannot confirm special plans: gate {reg_spec.accept_requires} "
                                  f"({spec.gate(reg_spec.accept_requires).name}) is not met: {res.why()}")
    for key_ in confirm + reject:
        it = _item(ctx, key_)
        if it.kind != "special_plan":
            raise PlancycleError(f"{key_} is a {it.kind}, not a 专项规划")
        if it.status != "active":
            raise TransitionError(f"cannot decide {key_}: it was rejected at 立项确认")
        reg = _milestone(ctx, key_, reg_spec.id)
        if reg.status in DONE:
            raise TransitionError(f"cannot decide {key_} {reg.name}: it is {describe(reg.status)}")
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
    ctx.outcome.message = f"{len(confirm)} 专项规划 confirmed, {len(reject)} not"
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
        raise PlancycleError(f"{topic} is a {it.kind}, not a research topic")
    contractor, contact = (contractor or "").strip(), (contact or "").strip()
    if not contractor or not contact:
        raise PlancycleError(f"{topic}: a contractor needs a name and a contact")
    request = {"topic": topic, "contractor": contractor, "contact": contact}
    key = key or f"contractor:{topic}"
    _require_coordinator(ctx, f"record {topic}'s contractor")
    if _replayed(ctx, key, request):
        return ctx.outcome
    it.contractor, it.contractor_contact = contractor, contact
    session.add(it)
    choice = spec.role_milestone("topic", "contractor_choice")
    if it.open_call and choice is not None:
        m = _milestone(ctx, topic, choice.id)
        if m.status not in ("open", "submitted", "returned"):
            raise TransitionError(f"cannot record {topic}'s contractor: {_label(m)} is "
                                  f"{describe(m.status, _waiting_for(ctx, m, it) if m.status == 'pending' else None)}")
        _set_status(ctx, m, "complete")
        session.add(Decision(run_id=ctx.run.id, milestone_id=m.id, kind="accept", by=ctx.by, at=ctx.as_of,
                             comments=f"承接单位：{contractor}（{contact}）"))
    _audit(ctx, "contractor.assigned", topic, data={"request": request}, key=key)
    ctx.outcome.notices.append({"kind": "contractor_assigned", "about": topic})
    ctx.outcome.message = f"{topic} 承接单位：{contractor}"
    return _finish(ctx)


# -- what a run owes, for gates and funding -----------------------------------------------------------------------
def funding_due(session: Session, spec: CycleSpec, topic: str) -> list[dict]:
    """分期拨付: the tranches of a topic's fee that its accepted milestones have made payable."""
    run = find_run(session, spec.id)
    done = {m.ms_id for m in session.exec(select(Milestone).where(Milestone.run_id == run.id, Milestone.item_key == topic))
            if m.status in DONE}
    return [{"name": f.name, "share": f.share, "milestone": f.milestone, "payable": f.milestone in done}
            for f in spec.file.funding]


def schedule_meeting(session: Session, spec: CycleSpec, *, milestone: str, at, by: Actor | str | None = None, as_of=None,
                     topics: list[str] | None = None, dept: str | None = None, place: str | None = None,
                     attendees: str | None = None, key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """Schedule a review meeting (开题 / 中期 / 结题评审) for the named topics, for every topic a lead department
    leads, or — naming neither — for every topic whose milestone is still to come (one meeting per round).

    Scheduling the same meeting again with another time, place or attendees is a change: recorded as
    ``meeting.changed`` and drafted as a 变更通知 naming the notice it replaces; what was given before and is not
    given again (the attendees, the place) is kept, never dropped."""
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "meeting", milestone)
    _require_coordinator(ctx, "schedule a meeting")
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
            raise NotFound(f"{_dept(spec, dept) + ' leads ' if dept else ''}no topic whose {milestone} is still to come")
    for k in keys:
        it = _item(ctx, k)
        if it.kind != "topic":
            raise PlancycleError(f"{k} is a {it.kind}, not a research topic")
        _milestone(ctx, k, milestone)
    mspec = ms_spec(spec, "topic", keys[0], milestone)
    if when <= ctx.as_of:
        raise PlancycleError(f"the meeting time {when:%Y-%m-%d %H:%M} is not after now ({ctx.as_of:%Y-%m-%d %H:%M})")
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
        raise PlancycleError(f"this meeting is already scheduled for {when:%Y-%m-%d %H:%M}"
                             f"{' at ' + place if place else ''}; nothing changed")
    action = "meeting.changed" if before else "meeting.scheduled"
    _audit(ctx, action, target, data={"request": request, "meeting": request,
                                      **({"before": before} if before else {})}, key=key)
    ctx.outcome.notices.append({"kind": "meeting", "about": target, "milestone": milestone, "topics": keys,
                                "at": when.isoformat(), "place": place, "attendees": attendees,
                                "replaces": bool(before)})
    name = mspec.meeting.name if mspec.meeting else mspec.name
    ctx.outcome.message = (f"{name} {'changed to' if before else 'scheduled for'} {when:%Y-%m-%d %H:%M} "
                           f"({len(keys)} topic(s)); the notice is drafted for sign-off")
    return ctx.outcome


# -- corrections -------------------------------------------------------------------------------------------------
CORRECTABLE = {"title": "名称", "contractor": "承接单位", "contractor_contact": "承接单位联系人"}


def correct(session: Session, spec: CycleSpec, *, item: str, field: str, value: str, reason: str,
            by: Actor | str | None = None, as_of=None, key: str | None = None, flow_run_id: str | None = None) -> Outcome:
    """Correct a recorded text (a proposal's title, a topic's 承接单位 or its contact) with a reason.

    The coordinator's move, audited with the old and the new value; documents rendered later use the correction.
    A request recorded earlier under its idempotency key stays as it was: the correction is a move of its own.
    """
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "correct", item)
    _require_coordinator(ctx, f"correct {item}")
    if field not in CORRECTABLE:
        raise PlancycleError(f"cannot correct {field!r} (correctable: {', '.join(CORRECTABLE)})")
    value, reason = (value or "").strip(), (reason or "").strip()
    if not value:
        raise PlancycleError(f"the corrected {field} is empty")
    if not reason:
        raise PlancycleError("a correction needs a reason")
    it = _item(ctx, item)
    if field == "title" and it.kind != "special_plan":
        raise PlancycleError(f"{item}'s title comes from the cycle file; only a proposed 专项规划's title is corrected here")
    if field != "title" and it.kind != "topic":
        raise PlancycleError(f"{item} is a {it.kind}, not a research topic")
    old = getattr(it, field)
    if old in (None, ""):
        raise PlancycleError(f"{item} has no {field} recorded yet: record it first (nothing to correct)")
    request = {"item": item, "field": field, "value": value, "reason": reason}
    key = key or f"correct:{item}:{field}:{_fingerprint(request)}"
    ctx.outcome.target = item
    if _replayed(ctx, key, request):
        return ctx.outcome
    if old == value:
        raise PlancycleError(f"{item} {field} is already {value!r}; nothing changed")
    setattr(it, field, value)
    session.add(it)
    _audit(ctx, "record.corrected", item, why=reason, data={"request": request, "field": field, "old": old,
                                                             "new": value}, key=key)
    ctx.outcome.message = f"{item} {CORRECTABLE[field]} corrected: {old} → {value}"
    return _finish(ctx)
