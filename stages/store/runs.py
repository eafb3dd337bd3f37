"""Small store helpers shared by the engine, the sweep and the paperwork: finding a run, dialect-neutral inserts.

Owns nothing of the rules; exists so that ``services``, ``sweep``, ``notices`` and ``paperwork`` need not import
each other for a lookup.
"""

from __future__ import annotations

from sqlmodel import Session, select

from stages.ground.errors import NotFound, PlancycleError
from stages.store.models import CycleRun


def find_run(session: Session, cycle_id: str | None = None) -> CycleRun:
    runs = session.exec(select(CycleRun).order_by(CycleRun.id)).all()
    if cycle_id:
        runs = [r for r in runs if r.spec_id == cycle_id]
    if not runs:
        if cycle_id:
            raise NotFound("store.no_such_run", cycle=cycle_id)
        raise NotFound("store.no_run")
    if len(runs) > 1:
        raise PlancycleError("store.several_runs", cycles=[r.spec_id for r in runs])
    return runs[0]


def insert_ignore(session: Session):
    """The dialect's INSERT with ``on_conflict_do_nothing`` (SQLite and PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert
