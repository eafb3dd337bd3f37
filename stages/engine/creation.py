"""Creating a run: ``init_run``."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from stages.definition.calendar import calendar_for
from stages.definition.spec import CycleSpec
from stages.engine.context import Ctx, Outcome, _add_milestones, _audit, _everyone
from stages.engine.plans import _new_special_plan
from stages.engine.propagation import _finish
from stages.ground.clock import as_datetime
from stages.ground.errors import PlancycleError
from stages.ground.i18n import Msg
from stages.rules.identity import Actor, Forbidden, resolve_actor
from stages.store.models import CycleRun, Item, StageState


def init_run(session: Session, spec: CycleSpec, *, as_of=None, by: Actor | str | None = None) -> Outcome:
    """Create the run for ``spec``: stages, every static item and milestone; open the first stage.

    Running it again with the same spec changes nothing. A different version of the same cycle is refused: a
    run's spec does not change under it.
    """
    existing = session.exec(select(CycleRun).where(CycleRun.spec_id == spec.id)).first()
    if existing is not None:
        if not spec.made(existing.spec_checksum):
            raise PlancycleError("engine.run_differs", cycle=spec.id, version=existing.spec_version, path=spec.path)
        out = Outcome("init", spec.id, changed=False, message=Msg("engine.run_exists", cycle=spec.id))
        return out
    when = as_datetime(as_of)
    run = CycleRun(spec_id=spec.id, spec_version=spec.version, spec_path=str(Path(spec.path).resolve()),
                   spec_checksum=spec.checksum, title=spec.file.title, current_stage=spec.stages[0].id,
                   created_at=when)
    session.add(run)
    session.flush()
    actor = resolve_actor(spec, by)
    if not actor.can_coordinate:
        raise Forbidden("engine.coordinator_only.create_run", who=actor.label, coordinator=spec.coordinator.short)
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
    ctx.outcome.message = Msg("engine.run_created", cycle=spec.id, version=spec.version, items=len(spec.items))
    return _finish(ctx)
