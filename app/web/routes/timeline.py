"""The timeline (``/timeline``) and what leaves the console as a file: the 台账 (``/ledger.xlsx``) and the deadlines
as a calendar (``/calendar.ics``), a unit's own or, for who reads everything, any unit's."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ..deps import ReadSession, SignedIn, State
from ..helpers import disposition
from ..pages import common, page
from ..state import PageError

router = APIRouter()


@router.get("/timeline", response_class=HTMLResponse)
def timeline_page(request: Request, c: SignedIn, s: ReadSession, st: State):
    from stages.views.reads import timeline

    return page(request, "timeline.html", {**common(request, c, s), "t": timeline(s, c.spec, st.now())})


@router.get("/api/timeline")
def api_timeline(c: SignedIn, s: ReadSession, st: State):
    from stages.views.reads import timeline

    return timeline(s, c.spec, st.now())


@router.get("/ledger.xlsx")
def ledger(c: SignedIn, s: ReadSession, st: State, dept: str = ""):
    from stages.paperwork.exports import write_ledger
    from stages.views.reads import ledger_rows

    actor, spec = c.actor, c.spec
    dept = actor.dept if not actor.reads_all else _known_dept(spec, dept)
    rows = ledger_rows(s, spec, st.now(), dept or None)
    with tempfile.TemporaryDirectory() as tmp:
        p = write_ledger(rows, Path(tmp) / "ledger.xlsx", spec.file.title + "台账")
        data = p.read_bytes()
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": disposition(f"台账{('-' + dept) if dept else ''}.xlsx")})


@router.get("/calendar.ics")
def calendar(c: SignedIn, s: ReadSession, st: State, dept: str = ""):
    from stages.paperwork.exports import write_calendar
    from stages.views.board import board

    actor, spec = c.actor, c.spec
    dept = actor.dept if not actor.reads_all else _known_dept(spec, dept)
    data = board(s, spec, st.now(), dept=dept or None)
    with tempfile.TemporaryDirectory() as tmp:
        p = write_calendar(data, Path(tmp) / "deadlines.ics", st.now())
        body = p.read_bytes()
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": disposition(f"期限{('-' + dept) if dept else ''}.ics")})


def _known_dept(spec, dept: str) -> str:
    if not dept:
        return ""
    try:
        return spec.department(dept).short
    except KeyError:
        raise PageError(400, f"未知部门：{dept}") from None
