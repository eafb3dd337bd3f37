"""A run's rows read with the standard library's sqlite3: what ``stages.views.board.run_rows`` and
``stages.views.reads.returned`` read through SQLAlchemy, as plain records with the same attribute names and the same
Python types, for the CLI's fast read path (``app.fastread``), which must not spend ~0.6 s importing SQLAlchemy.

Strict by design: a value not stored the way SQLAlchemy stores it on SQLite (dates ``YYYY-MM-DD``, times
``YYYY-MM-DD HH:MM:SS.ffffff``, booleans 0/1, JSON text) raises :class:`Unexpected`, and the caller falls back to
the Session path, so this module never has to guess what SQLAlchemy would have made of it. The queries are the
ones the ORM issues (the same tables, filters, orderings and columns), so rows that tie in an ``ORDER BY`` come
back in the same order.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from types import SimpleNamespace

from stages.store.rows import RunRows, standing_figures

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?\Z")


class Unexpected(Exception):
    """The database holds something this reader does not read exactly as SQLAlchemy would: use the Session path."""


def _iso(pattern: re.Pattern, parse):
    """A converter for text stored as ``pattern`` (None stays None)."""
    def convert(v):
        if v is None:
            return None
        if not isinstance(v, str) or not pattern.match(v):
            raise Unexpected(f"{parse.__qualname__} {v!r}")
        return parse(v)
    return convert


_date = _iso(_DATE, dt.date.fromisoformat)
_datetime = _iso(_DATETIME, dt.datetime.fromisoformat)


def _bool(v):
    if v is None:
        return None
    if v not in (0, 1) or isinstance(v, float):
        raise Unexpected(f"boolean {v!r}")
    return bool(v)


def _json(v):
    if v is None:
        return None
    if not isinstance(v, str):
        raise Unexpected(f"JSON {v!r}")
    return json.loads(v)


def _text(v):
    if v is not None and not isinstance(v, str):
        raise Unexpected(f"text {v!r}")
    return v


def _float(v):
    if v is None:
        return None
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        raise Unexpected(f"number {v!r}")
    return float(v)


def _int(v):
    if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
        raise Unexpected(f"integer {v!r}")
    return v


# column → converter, per table: the columns the views read
RUN = {"id": _int, "spec_id": _text, "spec_path": _text, "title": _text, "spec_version": _int,
       "current_stage": _text, "status": _text}
ITEM = {"id": _int, "key": _text, "kind": _text, "title": _text, "stage": _text, "lead": _json, "cooperating": _json,
        "status": _text, "no": _int, "open_call": _bool, "contractor": _text, "contractor_contact": _text}
MILESTONE = {"id": _int, "item_id": _int, "item_key": _text, "ms_id": _text, "name": _text, "stage": _text,
             "owner": _text, "status": _text, "due_date": _date, "original_due": _date, "due_version": _int,
             "submitted_at": _datetime, "returns": _int}
FIGURE = {"subject": _text, "of": _text, "period": _text, "value": _float, "unit": _text, "by": _text,
          "at": _datetime, "source": _text, "submission_id": _int}
STAGE = {"stage_id": _text, "status": _text, "opened_at": _datetime, "closed_at": _datetime,
         "override_reason": _text}


def _records(con: sqlite3.Connection, sql: str, params: tuple, columns: dict) -> list[SimpleNamespace]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    out = []
    for row in cur:
        values = dict(zip(names, row))
        out.append(SimpleNamespace(**{c: conv(values[c]) for c, conv in columns.items()}))
    return out


def runs(con: sqlite3.Connection) -> list[SimpleNamespace]:
    """Every run, by id (as the CLI's ``_open_run`` reads them)."""
    return _records(con, "SELECT * FROM cycle_run ORDER BY cycle_run.id", (), RUN)


def run_rows(con: sqlite3.Connection, spec_id: str) -> RunRows:
    """As ``stages.views.board.run_rows``: the run of ``spec_id`` (exactly one) and its items, milestones, approvals
    and stage states."""
    found = [r for r in runs(con) if r.spec_id == spec_id]
    if len(found) != 1:
        raise Unexpected(f"{len(found)} runs of {spec_id}")
    run = found[0]
    items = _records(con, "SELECT * FROM item WHERE item.run_id = ? ORDER BY item.id", (run.id,), ITEM)
    milestones = _records(con, "SELECT * FROM milestone WHERE milestone.run_id = ? "
                               "ORDER BY milestone.item_id, milestone.seq", (run.id,), MILESTONE)
    approvals = []
    for body, subject in con.execute("SELECT decision.body, decision.subject FROM decision "
                                     "WHERE decision.run_id = ? AND decision.kind = ?", (run.id, "approve")):
        approvals.append((_text(body), _text(subject)))
    stages = _records(con, "SELECT * FROM stage_state WHERE stage_state.run_id = ?", (run.id,), STAGE)
    figures = _records(con, "SELECT * FROM figure WHERE figure.run_id = ? ORDER BY figure.at, figure.id", (run.id,),
                       FIGURE)
    if figures:
        subs = {_int(i): _int(m) for i, m in con.execute(
            "SELECT submission.id, submission.milestone_id FROM submission WHERE submission.run_id = ?", (run.id,))}
        figures = standing_figures(figures, subs, milestones)
    return RunRows(run, items, milestones, approvals, stages, figures)


def returned(con: sqlite3.Connection, run_id: int, owner: str) -> list[tuple]:
    """As ``stages.views.reads.returned``: (item key, milestone id, at, by, comments), ordered by the decision's time."""
    cur = con.execute("SELECT milestone.item_key, milestone.ms_id, decision.at, decision.by, decision.comments, "
                      "decision.*, milestone.* FROM decision JOIN milestone ON milestone.id = decision.milestone_id "
                      "WHERE decision.run_id = ? AND decision.kind = ? AND milestone.owner = ? ORDER BY decision.at",
                      (run_id, "return", owner))
    return [(_text(k), _text(m), _datetime(at), _text(by), _text(c)) for k, m, at, by, c, *_rest in cur]
