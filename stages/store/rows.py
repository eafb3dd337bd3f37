"""A run's rows, read in a handful of queries: what the board, the views, the indicators and the paperwork count.

Owns: :class:`RunRows` (ORM objects, or plain records with the same names from ``stages.store.sqlite_rows``),
:func:`run_rows` (read through a Session, any database) and :func:`standing_figures` (which recorded figures still
count). Reading a run is the store's job; computing a board from the rows is ``stages.views.board``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stages.definition.spec import CycleSpec


@dataclass
class RunRows:
    """A run's rows as the views read them: ORM objects, or plain records with the same attribute names and
    Python types (``stages.store.sqlite_rows``).

    ``run``: id, spec_id, title, spec_version, current_stage, status. ``items`` by id: id, key, kind, title,
    stage, lead, cooperating, status, no, open_call, contractor, contractor_contact. ``milestones`` by item id and
    seq: item_id, item_key, ms_id, name, stage, owner, status, due_date, original_due, due_version, submitted_at,
    returns. ``approvals``: (body, subject) pairs. ``stages``: stage_id, status, opened_at, closed_at,
    override_reason. ``figures``: subject, of, period, value, unit, by, at, in the order they were recorded.
    """

    run: Any
    items: list
    milestones: list
    approvals: list
    stages: list
    figures: list = field(default_factory=list)


def run_rows(session, spec: CycleSpec) -> RunRows:
    """The rows of ``spec``'s run, read through a Session. SQLModel is imported here, not above: the CLI's fast
    read path (``app.fastread``) uses :class:`RunRows` without loading SQLAlchemy."""
    from sqlmodel import select

    from stages.store.models import Decision, Figure, Item, Milestone, StageState, Submission
    from stages.store.runs import find_run

    run = find_run(session, spec.id)
    items = session.exec(select(Item).where(Item.run_id == run.id).order_by(Item.id)).all()
    rows = session.exec(select(Milestone).where(Milestone.run_id == run.id)
                        .order_by(Milestone.item_id, Milestone.seq)).all()
    approvals = session.exec(select(Decision.body, Decision.subject)
                             .where(Decision.run_id == run.id, Decision.kind == "approve")).all()
    stages = session.exec(select(StageState).where(StageState.run_id == run.id)).all()
    figures = session.exec(select(Figure).where(Figure.run_id == run.id).order_by(Figure.at, Figure.id)).all()
    if figures:
        subs = session.exec(select(Submission.id, Submission.milestone_id).where(Submission.run_id == run.id)).all()
        figures = standing_figures(figures, dict(subs), rows)
    return RunRows(run, list(items), list(rows), [tuple(a) for a in approvals], list(stages), list(figures))


def standing_figures(figures, milestone_of: dict, milestones) -> list:
    """The figures someone stands by: one typed in directly (``indicator record``), or one handed in with its
    milestone's latest submission while that milestone is not returned (退回). A returned report's figures, and
    those of a submission handed in again since, no longer count — on the board, the indicator board and the
    documents alike. ``milestone_of``: submission id → milestone id."""
    latest: dict[int, int] = {}
    for sub_id, ms_id in milestone_of.items():
        latest[ms_id] = max(latest.get(ms_id, 0), sub_id)
    returned = {m.id for m in milestones if m.status == "returned"}
    out = []
    for f in figures:
        if f.submission_id is not None:
            ms_id = milestone_of.get(f.submission_id)
            if ms_id is None or latest.get(ms_id) != f.submission_id or ms_id in returned:
                continue
        out.append(f)
    return out
