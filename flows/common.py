"""Plumbing shared by the flows: a database session, the run's spec, and events emitted after each commit.

Owns: ``perform`` (load → call a ``stages`` service → commit → emit events), engine and spec caches, the
event names. Does not own any rule: a flow that needs a decision asks ``stages``.

A refused action (bad input, illegal move) ends its flow run in a Failed state carrying the one-line message,
not a traceback: nothing was written, and the run's page in the Prefect UI says why. Called directly, outside
any flow run (``flows.runner``'s in-process path), the same code imports no Prefect at all: a refusal is raised
as the PlancycleError it is, and no events are emitted (there is no API to receive them).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import sys
from pathlib import Path
from typing import Any, Callable

from sqlmodel import Session, select

from stages.paperwork import drafting as paperwork
from stages import engine as services
from stages.ground.errors import PlancycleError
from stages.definition.loader import load_cycle
from stages.store.models import AuditEvent, CycleRun, create_schema, make_engine
from stages.rules.requests import ActionBase  # noqa: F401  (re-exported: flows.common.ActionBase is still imported)

log = logging.getLogger("plancycle.flows")

_ENGINES: dict[str, Any] = {}
_ENGINES_GUARD = threading.Lock()
_SPECS: dict[tuple[str, float], Any] = {}


def engine_for(db: str | None):
    from stages.store.models import database_url

    url = database_url(db)
    eng = _ENGINES.get(url)
    if eng is not None:
        return eng
    with _ENGINES_GUARD:  # threads of one process (the web console) make it once
        if url not in _ENGINES:
            probe = make_engine(url, write=False)  # a read: no write lock taken just to look
            try:
                complete = schema_complete(probe)
            finally:
                probe.dispose()
            eng = make_engine(url)
            if not complete:  # DDL only when something is missing, never on every process
                create_schema(eng)
            _ENGINES[url] = eng
    return _ENGINES[url]


def schema_complete(engine) -> bool:
    """Every table and column this version needs is there (read-only: an inspection, no DDL)."""
    from sqlalchemy import inspect
    from sqlmodel import SQLModel

    insp = inspect(engine)
    tables = set(insp.get_table_names())
    for table in SQLModel.metadata.sorted_tables:
        if table.name not in tables:
            return False
        have = {c["name"] for c in insp.get_columns(table.name)}
        if any(c.name not in have for c in table.columns):
            return False
    return True


def spec_for(path: str):
    p = Path(path)
    key = (str(p), p.stat().st_mtime if p.exists() else 0.0)
    if key not in _SPECS:
        _SPECS[key] = load_cycle(p)
    return _SPECS[key]


def remember_spec(path: str, spec) -> None:
    """Hand this process's cache a spec already loaded from ``path`` (the CLI loads it to check a request)."""
    p = Path(path)
    _SPECS[(str(p), p.stat().st_mtime if p.exists() else 0.0)] = spec


def current_flow_run_id() -> str | None:
    if "prefect" not in sys.modules:  # called directly, not by Prefect: no flow run, and no import of Prefect
        return None
    try:
        from prefect.runtime import flow_run

        return str(flow_run.id) if flow_run.id else None
    except Exception:  # outside a flow run
        return None


_WRITERS: dict[str, threading.Lock] = {}
_WRITERS_GUARD = threading.Lock()


def _writer(url: str):
    """One writer at a time per SQLite file in this process: moves queue here in order instead of spinning in
    SQLite's busy handler (which gives up after its timeout when fifty people click at once). PostgreSQL needs no
    such lock: the run's row lock orders moves there, across processes too."""
    if not url.startswith("sqlite"):
        return contextlib.nullcontext()
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(url, threading.Lock())


def perform(action: Callable, request: ActionBase, **kwargs) -> dict:
    """Call a ``stages`` service in one transaction, commit, then emit one event per audit entry it wrote."""
    from stages.store.models import database_url

    eng = engine_for(request.db)
    with _writer(database_url(request.db)), Session(eng, expire_on_commit=False) as session:
        run = services.find_run(session, request.cycle)
        spec = spec_for(run.spec_path)
        outcome = action(session, spec, as_of=request.as_of, key=request.key, flow_run_id=current_flow_run_id(),
                         **kwargs)
        # what the move calls for on paper, decided from its outcome, in the same transaction
        paperwork.after(session, spec, outcome, as_of=request.as_of, flow_run_id=current_flow_run_id())
        events = session.exec(select(AuditEvent).where(AuditEvent.id.in_(outcome.audit_ids))
                              .order_by(AuditEvent.id)).all() if outcome.changed else []
        session.commit()  # the events were read inside the transaction: no second one (and no second lock)
        spec_id = run.spec_id
    if current_flow_run_id() is not None:
        emit_events(spec_id, events)
    return outcome.as_dict()


def emit_events(spec_id: str, events: list[AuditEvent]) -> int:
    """``plancycle.<action>`` for each audit entry (plancycle.deliverable.submitted, plancycle.stage.advanced …).

    Emitted after the commit, so an event never announces something the database does not hold. A failure to
    emit is logged, not raised: the action has happened.
    """
    try:
        from prefect.events import emit_event
    except Exception:  # pragma: no cover
        return 0
    sent = 0
    for ev in events:
        try:
            emit_event(event=f"plancycle.{ev.action}",
                       resource={"prefect.resource.id": f"plancycle.{spec_id}.{ev.target}",
                                 "prefect.resource.name": ev.target, "plancycle.cycle": spec_id},
                       payload={"actor": ev.actor, "at": ev.at.isoformat(), "why": ev.why, "audit_id": ev.id,
                                "data": {k: v for k, v in ev.data.items() if k != "request"}})
            sent += 1
        except Exception as exc:  # pragma: no cover - depends on the API being reachable
            log.warning("could not emit plancycle.%s: %s", ev.action, exc)
    return sent


def refused(exc: PlancycleError):
    """The Failed state a refused action ends in: the one-line reason, no traceback.

    Outside a flow run (the function called directly) the error is raised as it is.
    """
    if current_flow_run_id() is None:
        raise exc
    from prefect.states import Failed

    return Failed(message=str(exc), data=exc)  # the exception itself, so a caller in this process keeps its kind


def all_runs(session: Session):
    runs = session.exec(select(CycleRun)).all()
    return runs, {r.spec_id: spec_for(r.spec_path) for r in runs}
