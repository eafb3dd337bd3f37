"""The board (``/``): every item and milestone with its light, filtered by unit, stage, 领域 or lateness, and each
stage's exit gate as a checklist."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from .. import words
from ..deps import ReadSession, SignedIn
from ..helpers import checklist
from ..pages import common, page
from ..state import PageError

router = APIRouter()


def board_data(st, s, actor, run, spec, dept, stage, late, domain=""):
    from stages.views.board import board

    if not actor.reads_all:
        dept = actor.dept  # a department sees its own items
    elif dept:
        try:
            dept = spec.department(dept).short
        except KeyError:
            raise PageError(400, f"未知部门：{dept}") from None
    if stage and stage not in [x.id for x in spec.stages]:
        raise PageError(400, f"未知阶段：{stage}")
    data = board(s, spec, st.now(), dept=dept or None, stage=stage or None, late_only=late)
    domains = _domains(spec)
    if domain:
        if domain not in domains:
            raise PageError(400, f"未知领域：{domain}")
        data["items"] = [it for it in data["items"] if it.get("domain") == domain]
        data["counts"] = _recount(data["items"], data["counts"])
        data["filters"]["domain"] = domain
    data["domains"] = domains
    if not actor.reads_all:  # the run-wide gate progress is the planning office's
        for sd in data["stages"]:
            sd["gate_missing"] = []
    return data


@router.get("/", response_class=HTMLResponse)
def index(request: Request, c: SignedIn, s: ReadSession, dept: str = "", stage: str = "", late: bool = False,
          domain: str = ""):
    from stages.engine import facts_for

    _user, actor, run, spec = c
    data = board_data(request.app.state.pc, s, actor, run, spec, dept, stage, late, domain)
    facts = facts_for(s, run)
    gates = []
    for sd in data["stages"]:
        if sd["exit_gate"]:
            g = spec.gate(sd["exit_gate"])
            gates.append({"stage": sd["name"], "gate": g.name, "checks": checklist(spec, g, facts)})
    return page(request, "board.html", {**common(request, c, s), "b": data,
                                        "labels": words.labels_for(s, run, spec),
                                        "gates": gates, "depts": spec.departments,
                                        "has_optional": _has_optional(spec),
                                        "f": {"dept": dept, "stage": stage, "late": late, "domain": domain}})


@router.get("/api/board")
def api_board(request: Request, c: SignedIn, s: ReadSession, dept: str = "", stage: str = "", late: bool = False,
              domain: str = ""):
    return board_data(request.app.state.pc, s, c.actor, c.run, c.spec, dept, stage, late, domain)


def _has_optional(spec) -> bool:
    return any(m.optional for it in spec.items for m in it.milestones)


def _domains(spec) -> list[str]:
    """The cycle's 领域, in the file's order (schema 2; empty when its tasks name none)."""
    return list(dict.fromkeys(it.domain for it in spec.items if it.domain))


def _recount(items: list[dict], counts: dict) -> dict:
    """The board's counts over the items left after a filter the board itself does not know (领域)."""
    by_status = {k: 0 for k in counts["by_status"]}
    by_light = {k: 0 for k in counts["by_light"]}
    by_progress = {k: 0 for k in counts.get("by_progress", {})}
    by_track: dict[str, int] = {k: 0 for k in counts.get("items_by_track", {})}
    for it in items:
        by_track[it["track"]] = by_track.get(it["track"], 0) + 1
        for m in it["milestones"]:
            by_status[m["status"]] = by_status.get(m["status"], 0) + 1
            by_light[m["light"]] = by_light.get(m["light"], 0) + 1
            if m.get("progress") and "by_progress" in counts:
                by_progress[m["progress"]] += 1
    out = {**counts, "items": len(items), "items_by_track": by_track, "milestones": sum(by_status.values()),
           "by_status": by_status, "by_light": by_light}
    if "by_progress" in counts:
        out["by_progress"] = by_progress
    return out
